"""``dedup index stats|get|remove|export`` on an index built by ``dedup stream --index``: a real SQLite
file, and a real redis-server on loopback."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dedup import Article, DedupConfig, Deduplicator, Window
from dedup.config import FormulaConfig, MinHashConfig
from dedup.errors import UnknownArticleError
from dedup.fronts.cli import main
from dedup.stores.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "benchmarks" / "data" / "labelled_example.jsonl"


def _rows() -> list[dict]:
    return sorted(
        (json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()), key=lambda r: r["id"]
    )


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    """The labelled example in id order, as dedup stream reads it."""
    path = tmp_path / "articles.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _rows()), encoding="utf-8")
    return path


def _built(where: str, articles: Path, capsys) -> str:
    status, _, err = _run(["stream", str(articles), "--index", where], capsys)
    assert status == 0, err
    return where


@pytest.fixture
def index(tmp_path: Path, articles: Path, capsys) -> str:
    return _built(str(tmp_path / "crawl.sqlite"), articles, capsys)


def _clusters(jsonl: str) -> list[dict]:
    return [json.loads(line) for line in jsonl.splitlines()]


# -- export -------------------------------------------------------------------------------------


def test_export_of_a_streamed_index_is_what_dedup_cluster_writes(index, articles, tmp_path, capsys) -> None:
    status, batch, _ = _run(["cluster", str(articles), "--no-progress"], capsys)
    assert status == 0
    out = tmp_path / "export.jsonl"
    status, printed, err = _run(["index", "export", index, "--output", str(out)], capsys)
    assert status == 0, err
    assert printed == ""
    exported = out.read_text(encoding="utf-8")
    assert exported == batch
    sizes = sorted(c["size"] for c in _clusters(exported))
    assert sizes == [1, 1, 1, 1, 3, 4]  # the example's two stories and four single articles


# -- stats --------------------------------------------------------------------------------------


def test_stats_as_json_counts_the_index(index, capsys) -> None:
    status, out, err = _run(["index", "stats", "--json", index], capsys)
    assert status == 0, err
    s = json.loads(out)
    rows = _rows()
    dated = sorted(r["published_at"] for r in rows if r.get("published_at"))
    assert (s["articles"], s["clusters"], s["clusters_with_copies"], s["singletons"]) == (11, 6, 2, 4)
    assert (s["articles_in_copies"], s["largest_cluster"], s["last_seq"]) == (7, 4, 10)
    assert s["undated"] == len(rows) - len(dated) == 2
    assert s["oldest_published_at"][:16] == dated[0][:16] and s["newest_published_at"][:16] == dated[-1][:16]
    assert s["file_bytes"] == Path(index).stat().st_size > 0
    with sqlite3.connect(index) as db:
        stored = dict(db.execute("SELECT key, value FROM meta"))
    assert s["config_checksum"] == stored["config_checksum"]
    assert s["settings"]["minhash.threshold"] == MinHashConfig().threshold and s["kind"] == "sqlite"
    with Deduplicator.open(index) as d:
        assert s["formula_load"] == float(f"{d.formula_load:.3g}") > 0  # one observation per (source, shingle)


def test_stats_say_when_the_formula_counts_are_over_their_limit(tmp_path, capsys) -> None:
    path = str(tmp_path / "small.db")
    config = DedupConfig(formula=FormulaConfig(sketch_width_bits=4, sketch_rows=1))
    with Deduplicator.open(path, config) as d:
        d.add_many([Article(id=r["id"], text=r["text"], source=r.get("source")) for r in _rows()])
    status, out, _ = _run(["index", "stats", path], capsys)
    assert status == 0
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["formula"].endswith("over the limit 2: raise formula.sketch_width_bits")


def test_stats_of_times_with_and_without_an_offset(tmp_path, capsys) -> None:
    """A time without an offset is read as UTC, beside times with one."""
    path = str(tmp_path / "times.db")
    rows = _rows()[:3]
    with Deduplicator.open(path) as d:
        for row, published in zip(rows, ("2020-01-02T00:00:00", "2020-01-01T23:00:00-02:00", None), strict=True):
            d.add(Article(id=row["id"], text=row["text"], published_at=published))
    status, out, _ = _run(["index", "stats", path, "--json"], capsys)
    assert status == 0
    stats = json.loads(out)
    assert stats["oldest_published_at"] == "2020-01-02T00:00:00+00:00"
    assert stats["newest_published_at"] == "2020-01-02T01:00:00+00:00"
    assert stats["undated"] == 1


def test_an_output_naming_the_index_is_refused(index, capsys) -> None:
    before = Path(index).read_bytes()
    for command in ("export", "stats", "check"):
        status, _, err = _run(["index", command, index, "-o", index], capsys)
        assert status == 2 and "writing it would erase it" in err
    assert Path(index).read_bytes() == before


def test_stats_for_people(index, capsys) -> None:
    status, out, _ = _run(["index", "stats", index], capsys)
    assert status == 0
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["articles"] == "11 (last sequence number 10)"
    assert lines["clusters"] == "6: 2 with copies (7 articles), 4 single articles; largest 4 articles"
    assert lines["published"].startswith("2024-03-03T09:05:00+00:00 to ")
    assert lines["index"].startswith(f"{index} (SQLite, ")
    assert lines["formula"].endswith("(limit 2): templated stories told apart")


def test_stats_say_what_a_restart_reads(index, tmp_path, capsys) -> None:
    """The opening's source, as a restart reads the index: the state saved as the file closed, the
    state saved while writing and the articles after it (a crash), or the articles themselves."""
    saved = Path(f"{index}.state")
    status, out, err = _run(["index", "stats", "--json", index], capsys)
    assert status == 0, err
    s = json.loads(out)
    assert (s["opened_from"], s["after_state"], s["state_bytes"]) == ("state", 0, saved.stat().st_size)
    assert s["opening_seconds"] >= 0
    status, out, _ = _run(["index", "stats", index], capsys)
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["opening"].startswith("from the state saved beside the file (")
    # a crash after a state saved while writing, and two articles after it
    crawl, crashed = tmp_path / "crawl2.sqlite", tmp_path / "crashed.sqlite"
    rows = _rows()
    d = Deduplicator.open(crawl)
    for r in rows[:9]:
        d.add(Article(id=r["id"], text=r["text"], source=r.get("source"), published_at=r.get("published_at")))
    d.save_state()
    for r in rows[9:]:
        d.add(Article(id=r["id"], text=r["text"], source=r.get("source"), published_at=r.get("published_at")))
    for suffix in ("", "-wal", ".state"):
        shutil.copy2(f"{crawl}{suffix}", f"{crashed}{suffix}")
    d.close()
    status, out, _ = _run(["index", "stats", str(crashed)], capsys)
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["opening"].startswith("from the state saved beside the file (")
    assert " and the 2 articles added after it, in " in lines["opening"]
    saved.unlink()
    status, out, _ = _run(["index", "stats", "--json", index], capsys)
    s = json.loads(out)
    assert (s["opened_from"], s["after_state"], s["state_bytes"]) == ("index", None, None)
    status, out, _ = _run(["index", "stats", index], capsys)
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["opening"].startswith("the articles read from the file (no state saved beside it could be read), in ")


# -- get ----------------------------------------------------------------------------------------


def test_get_gives_the_article_and_its_cluster(index, capsys) -> None:
    rows = _rows()
    wire = next(r for r in rows if r["id"] == "en-wire")
    status, out, err = _run(["index", "get", index, "en-wire"], capsys)
    assert status == 0, err
    found = json.loads(out)
    article = found["article"]
    assert article["id"] == "en-wire" and article["seq"] == [r["id"] for r in rows].index("en-wire")
    assert (article["source"], article["url"], article["title"]) == (
        wire.get("source"),
        wire.get("url"),
        wire.get("title"),
    )
    assert article["published_at"][:16] == wire["published_at"][:16]
    cluster = found["cluster"]
    members = {m["id"]: m["relation"] for m in cluster["members"]}
    assert "en-wire" in members and cluster["size"] == len(members) > 1
    assert cluster["earliest"] == "en-wire" and members["en-wire"] == "earliest"


def test_get_of_an_unknown_id_names_it_and_exits_2(index, capsys) -> None:
    status, out, err = _run(["index", "get", index, "no-such-story"], capsys)
    assert (status, out) == (2, "")
    assert "no article with id 'no-such-story'" in err


# -- remove -------------------------------------------------------------------------------------


def test_remove_refuses_unknown_ids_before_removing_any(index, capsys) -> None:
    status, out, err = _run(["index", "remove", index, "en-wire", "nope-1", "nope-2"], capsys)
    assert (status, out) == (2, "")
    assert "'nope-1', 'nope-2'" in err
    status, out, _ = _run(["index", "get", index, "en-wire"], capsys)
    assert status == 0 and json.loads(out)["article"]["id"] == "en-wire"


def test_removed_articles_are_gone_from_the_export_and_the_clusters(index, capsys) -> None:
    _, out, _ = _run(["index", "get", index, "en-wire"], capsys)
    cluster = json.loads(out)["cluster"]
    status, out, err = _run(["index", "remove", index, "en-wire"], capsys)
    assert status == 0, err
    assert out == f"removed en-wire (from cluster {cluster['cluster']} of {cluster['size']} articles)\n"
    status, out, _ = _run(["index", "export", index], capsys)
    exported = _clusters(out)
    ids = [m["id"] for c in exported for m in c["members"]]
    assert "en-wire" not in ids and len(ids) == 10
    rest = next(c for c in exported if set(m["id"] for m in c["members"]) & {m["id"] for m in cluster["members"]})
    assert rest["size"] == cluster["size"] - 1 and rest["earliest"] != "en-wire"
    status, _, err = _run(["index", "get", index, "en-wire"], capsys)
    assert status == 2 and "'en-wire'" in err


# -- a windowed index ----------------------------------------------------------------------------


@pytest.fixture
def windowed(tmp_path: Path, articles: Path, capsys) -> str:
    """The labelled example streamed into a file with a window of the last 4 articles."""
    where = str(tmp_path / "windowed.sqlite")
    status, _, err = _run(["stream", str(articles), "--index", where, "--window-articles", "4"], capsys)
    assert status == 0, err
    return where


def _opened(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("opened the index")]


def test_stats_of_a_windowed_index_count_the_file_and_cluster_the_window(windowed, capsys, caplog) -> None:
    """The file is opened with its writer's window, from the state that writer saved: the
    articles and times are the whole file's, the clusters those of the 4 articles in the window."""
    caplog.set_level("INFO", logger="dedup")
    status, out, err = _run(["index", "stats", "--json", windowed], capsys)
    assert status == 0, err
    s = json.loads(out)
    assert (s["articles"], s["last_seq"], s["undated"]) == (11, 10, 2)
    assert s["window"] == {"days": None, "articles": 4} and s["in_window"] == 4
    assert s["articles_in_copies"] + s["singletons"] == 4
    opened = _opened(caplog)
    assert len(opened) == 1 and opened[0].startswith(f"opened the index {windowed}: 4 articles in ")
    assert opened[0].endswith("(from the state saved beside it)")
    status, out, _ = _run(["index", "stats", windowed], capsys)
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert (
        lines["articles"]
        == "11 (last sequence number 10); 4 in the window (the last 4 articles), which the clusters are of"
    )


def test_get_of_an_article_that_left_the_window_gives_its_cluster(windowed, index, capsys) -> None:
    """An article no longer in the window is read with its cluster from the whole file, as an
    index streamed without a window gives it."""
    first = _rows()[0]["id"]
    with Deduplicator.open(windowed, window=Window(articles=4), read_only=True) as d:
        assert first not in d and d.get(first).id == first
    status, out, err = _run(["index", "get", windowed, first], capsys)
    assert status == 0, err
    found = json.loads(out)
    _, whole, _ = _run(["index", "get", index, first], capsys)
    assert found["article"]["id"] == first and found["cluster"] == json.loads(whole)["cluster"]


def test_remove_from_a_windowed_index_keeps_the_stream_s_fast_reopening(windowed, capsys, caplog) -> None:
    """``remove`` takes out an article of the window and one that left it, and saves the state
    for the window the stream opens the file with, so that the stream reads it back, not the file."""
    rows = _rows()
    left, held = rows[0]["id"], rows[-1]["id"]
    status, out, err = _run(["index", "remove", windowed, left, held], capsys)
    assert status == 0, err
    assert out.splitlines()[0] == f"removed {left} (it had left the window: from the file)"
    assert out.splitlines()[1].startswith(f"removed {held} (from cluster ")
    caplog.set_level("INFO", logger="dedup")
    with Deduplicator.open(windowed, window=Window(articles=4)) as d:
        assert _opened(caplog)[-1].endswith("(from the state saved beside it)")
        assert held not in d and len(d) == 3
        for gone in (left, held):
            with pytest.raises(UnknownArticleError):
                d.get(gone)


def test_a_long_reading_back_shows_its_progress(windowed, capsys, monkeypatch) -> None:
    """Without the state (a crawler that was killed) the window is read back from the file, and
    a long reading says how far it has come on standard error."""
    from dedup.fronts.cli import ProgressLines

    Path(f"{windowed}.state").unlink()
    monkeypatch.setattr(ProgressLines, "update", ProgressLines._write)  # every update due at once
    status, out, err = _run(["index", "stats", "--json", windowed], capsys)
    assert status == 0, err
    assert json.loads(out)["in_window"] == 4
    lines = err.splitlines()
    assert lines[:4] == [f"dedup: reading the index back: {n} of 4 articles" for n in range(1, 5)]
    assert lines[4].startswith("dedup: read the index back: 4 articles in ")


def test_a_window_record_that_cannot_be_read_is_said_and_the_file_read_whole(windowed, capsys) -> None:
    with sqlite3.connect(windowed) as db:
        db.execute("""UPDATE meta SET value = '{"days": -1, "articles": null}' WHERE key = 'window'""")
    status, out, err = _run(["index", "stats", "--json", windowed], capsys)
    assert status == 0, err
    assert "the window it was last opened with cannot be read" in err and "Window.days must be" in err
    s = json.loads(out)
    assert (s["articles"], s["window"], s["in_window"]) == (11, None, None)
    assert s["articles_in_copies"] + s["singletons"] == 11
    with sqlite3.connect(windowed) as db:
        db.execute("""UPDATE meta SET value = '3' WHERE key = 'window'""")
    status, _, err = _run(["index", "remove", windowed, _rows()[0]["id"]], capsys)
    assert status == 0, err
    assert err.count("the window it was last opened with cannot be read") == 1
    assert """('3': not null nor an object of "days" and "articles")""" in err
    assert SQLiteStore.stored_window(windowed) is None  # the remove's writer recorded no window


def test_a_stream_restarted_without_its_window_is_warned_before_reading_the_whole_history(
    windowed, tmp_path, capsys
) -> None:
    nothing = tmp_path / "nothing.jsonl"
    nothing.write_text("")
    status, _, err = _run(["stream", str(nothing), "--index", windowed, "--window-articles", "4"], capsys)
    assert status == 0 and "was last opened with a window" not in err
    status, _, err = _run(["stream", str(nothing), "--index", windowed], capsys)
    assert status == 0
    assert f"dedup: {windowed} was last opened with a window (Window(days=None, articles=4))" in err
    assert "all 11 of its articles are read into memory" in err and "--window-articles" in err


def test_an_index_last_opened_without_a_window_is_read_whole(windowed, capsys) -> None:
    with Deduplicator.open(windowed) as d:  # a writer without a window: the file says so
        assert len(d) == 11
    assert SQLiteStore.stored_window(windowed) is None
    status, out, err = _run(["index", "stats", "--json", windowed], capsys)
    assert status == 0, err
    s = json.loads(out)
    assert (s["articles"], s["window"], s["in_window"]) == (11, None, None)
    assert s["articles_in_copies"] + s["singletons"] == 11


# -- check --------------------------------------------------------------------------------------


def test_check_reads_the_whole_index(index, capsys) -> None:
    status, out, err = _run(["index", "check", "--json", index], capsys)
    assert status == 0, err
    found = json.loads(out)
    with sqlite3.connect(index) as db:
        copies = db.execute("SELECT COUNT(*) FROM matches").fetchone()[0]
    assert found == {"index": index, "articles": 11, "copies": copies, "structure": "ok"} and copies > 0
    status, out, _ = _run(["index", "check", index], capsys)
    assert status == 0 and out == (
        f"{index}: ok: 11 articles and {copies} copies read, each matching its checksum, and SQLite's check "
        "of the file finds nothing wrong\n"
    )


def test_check_finds_an_index_of_ids_that_misses_rows(tmp_path, capsys) -> None:
    # a page of the index of ids written back as it was before two articles came: well formed, and
    # missing their rows (SQLite's quick_check does not compare an index with its table)
    path = tmp_path / "i.sqlite"

    def id_index_page() -> tuple[int, int, bytes]:
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            (root,) = db.execute(
                "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_articles_1'"
            ).fetchone()
            (size,) = db.execute("PRAGMA page_size").fetchone()
        return root, size, path.read_bytes()[(root - 1) * size : root * size]

    rows = _rows()
    with Deduplicator.open(path) as d:
        d.add(Article(id=rows[0]["id"], text=rows[0]["text"]))
    root, size, before = id_index_page()
    with Deduplicator.open(path) as d:
        for r in rows[1:3]:
            d.add(Article(id=r["id"], text=r["text"]))
    assert id_index_page()[0] == root
    data = bytearray(path.read_bytes())
    data[(root - 1) * size : root * size] = before
    path.write_bytes(bytes(data))
    status, out, err = _run(["index", "check", str(path)], capsys)
    assert (status, out) == (2, "") and "SQLite's check finds" in err and "missing from index" in err


def test_a_link_to_nothing_is_no_index_and_is_left_alone(tmp_path, capsys) -> None:
    link = tmp_path / "crawl.sqlite"
    link.symlink_to(tmp_path / "gone.sqlite")
    for action in ("check", "stats"):
        status, out, err = _run(["index", action, str(link)], capsys)
        assert (status, out) == (2, "") and f"no index at {link}" in err
    assert link.is_symlink() and not (tmp_path / "gone.sqlite").exists()


def test_check_finds_a_damaged_id_index_that_opening_does_not_read(index, capsys) -> None:
    # the index of article ids is not read when the file is opened (the articles are read from
    # their table); a page of it overwritten is found by check, and by the first lookup of an id
    with sqlite3.connect(index) as db:
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_articles_1'").fetchone()
        (page,) = db.execute("PRAGMA page_size").fetchone()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(Path(index).read_bytes())
    start = (root - 1) * page
    data[start + page // 2 : start + page] = bytes(range(256)) * (page // 512)
    Path(index).write_bytes(bytes(data))
    with Deduplicator.open(index) as d:
        assert len(d) == 11
    status, out, err = _run(["index", "check", index], capsys)
    assert (status, out) == (2, "")
    assert "damaged" in err and "SQLite's check finds" in err
    status, out, err = _run(["index", "get", index, "en-wire"], capsys)
    assert status == 2 and "damaged" in err


def test_check_reads_an_index_while_dedup_stream_writes_it(index, capsys) -> None:
    """The crawler keeps running: ``dedup index check``, ``stats``, ``get`` and ``export`` read the
    file beside the ``dedup stream`` process that has it open for writing (``remove`` is refused),
    and that process goes on adding afterwards."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    rows = _rows()
    line = [json.dumps({**r, "id": f"again-{r['id']}"}, ensure_ascii=False) + "\n" for r in rows[:3]]
    with subprocess.Popen(
        [sys.executable, "-m", "dedup", "stream", "--index", index],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    ) as writer:  # fmt: skip
        assert writer.stdin is not None and writer.stdout is not None
        try:
            writer.stdin.write(line[0])
            writer.stdin.flush()
            assert json.loads(writer.stdout.readline())["id"] == "again-" + rows[0]["id"]  # added and written
            status, out, err = _run(["index", "check", "--json", index], capsys)
            assert status == 0, err
            assert json.loads(out)["articles"] == 12
            status, out, err = _run(["index", "stats", "--json", index], capsys)  # read beside the writer too
            assert status == 0 and json.loads(out)["articles"] == 12, err
            status, out, err = _run(["index", "get", index, "again-" + rows[0]["id"]], capsys)
            assert status == 0 and json.loads(out)["article"]["id"] == "again-" + rows[0]["id"], err
            status, out, err = _run(["index", "export", index], capsys)
            assert status == 0 and sum(c["size"] for c in _clusters(out)) == 12, err
            status, _, err = _run(["index", "remove", index, rows[1]["id"]], capsys)  # a writer: refused
            assert status == 2 and "open for writing in another process" in err
            writer.stdin.write("".join(line[1:]))
            writer.stdin.close()
            assert [json.loads(x)["id"] for x in writer.stdout.read().splitlines()] == [
                "again-" + r["id"] for r in rows[1:3]
            ]
        finally:
            if writer.poll() is None:
                writer.kill()
        assert writer.wait(timeout=60) == 0, writer.stderr.read() if writer.stderr else ""
    status, out, err = _run(["index", "check", "--json", index], capsys)
    assert status == 0 and json.loads(out)["articles"] == 14, err


def test_check_leaves_the_file_of_a_writer_that_ended_without_closing_as_it_is(tmp_path, capsys) -> None:
    """A writer killed before it closed leaves its last articles in SQLite's write-ahead log:
    checking the file (and reading its settings) reads them there and writes nothing, not even
    the log into the file, which any other connection closing last would do."""
    index = tmp_path / "crawl.sqlite"
    rows = _rows()[:3]
    script = (
        "import os, sys, dedup\n"
        "d = dedup.Deduplicator.open(sys.argv[1])\n"
        + "".join(f"d.add(dedup.Article(id={r['id']!r}, text={r['text']!r}))\n" for r in rows)
        + "os._exit(0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-c", script, str(index)], env=env, check=True, timeout=300)
    files = sorted(p.name for p in tmp_path.iterdir())
    # (readers mark what they read in the -shm file: SQLite's coordination, not the index)
    before = {name: (tmp_path / name).read_bytes() for name in files if not name.endswith((".lock", "-shm"))}
    assert "crawl.sqlite-wal" in before and len(before["crawl.sqlite-wal"]) > 0
    assert SQLiteStore.stored_config(index) is not None
    status, out, err = _run(["index", "check", "--json", str(index)], capsys)
    assert status == 0 and json.loads(out)["articles"] == 3, err
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    assert {name: (tmp_path / name).read_bytes() for name in before} == before


def test_check_reads_one_snapshot_of_a_file_written_meanwhile(index) -> None:
    """An article removed by the writer while check reads the file is read as it was when check
    began: no row the check listed goes missing under it (a false report of damage)."""
    store = SQLiteStore(index, SQLiteStore.stored_config(index) or DedupConfig(), reader=True)
    read = store._read
    with Deduplicator.open(index) as writer:

        def read_then_remove(rowid: int):
            if "en-wire" in writer:
                writer.remove("en-wire")
            return read(rowid)

        store._read = read_then_remove  # type: ignore[method-assign]
        try:
            assert store.check()[0] == 11
        finally:
            store.close()
        assert "en-wire" not in writer and len(writer) == 10


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action", [["stats"], ["get", "x"], ["remove", "x"], ["export"], ["check"]], ids=lambda a: a[0]
)
def test_a_missing_index_is_an_error_and_is_not_created(action, tmp_path, capsys) -> None:
    where = tmp_path / "none.sqlite"
    status, out, err = _run(["index", action[0], str(where), *action[1:]], capsys)
    assert (status, out) == (2, "")
    assert f"no index at {where}; build one with dedup stream --index {where}" in err
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_an_index_is_refused_and_left_alone(tmp_path, capsys) -> None:
    where = tmp_path / "notes.sqlite"
    where.write_bytes(b"not an index at all\n")
    status, _, err = _run(["index", "stats", str(where)], capsys)
    assert status == 2 and "not a SQLite file" in err
    assert where.read_bytes() == b"not an index at all\n"


def test_a_damaged_index_is_refused(index, capsys) -> None:
    with sqlite3.connect(index) as db:
        db.execute("UPDATE articles SET text = 'tampered' WHERE id = 'en-wire'")
    for action in ("stats", "export", "check"):
        status, out, err = _run(["index", action, index], capsys)
        assert (status, out) == (2, "")
        assert "damaged" in err and "'en-wire' fails its checksum" in err


# -- a shared index in Redis ---------------------------------------------------------------------


def test_the_commands_on_a_redis_index(redis_url, articles, tmp_path, capsys) -> None:
    where = _built(f"{redis_url}?namespace=operate", articles, capsys)
    _, batch, _ = _run(["cluster", str(articles), "--no-progress"], capsys)
    status, out, _ = _run(["index", "export", where], capsys)
    assert status == 0 and out == batch
    status, out, _ = _run(["index", "stats", "--json", where], capsys)
    s = json.loads(out)
    assert (s["kind"], s["articles"], s["clusters"], s["largest_cluster"], s["file_bytes"]) == ("redis", 11, 6, 4, None)
    status, out, _ = _run(["index", "get", where, "en-wire"], capsys)
    assert status == 0 and json.loads(out)["cluster"]["earliest"] == "en-wire"
    status, out, err = _run(["index", "check", "--json", where], capsys)
    assert status == 0, err
    assert json.loads(out) == {"index": where, "articles": 11, "copies": None, "structure": None}
    status, out, _ = _run(["index", "check", where], capsys)
    assert status == 0 and out == f"{where}: ok: 11 articles read\n"
    status, out, err = _run(["index", "remove", "--json", where, "en-wire"], capsys)
    assert status == 0, err
    assert [r["id"] for r in json.loads(out)["removed"]] == ["en-wire"]
    _, out, _ = _run(["index", "export", where], capsys)
    assert "en-wire" not in {m["id"] for c in _clusters(out) for m in c["members"]}
    status, _, err = _run(["index", "get", where, "nope"], capsys)
    assert status == 2 and "'nope'" in err


def test_the_commands_on_a_redis_index_with_a_window(redis_url, articles, capsys, caplog) -> None:
    """A Redis index records the window of the last worker to open it: ``stats`` reads only that
    window from Redis and counts every article of the log; ``check`` and ``export`` read it whole."""
    where = f"{redis_url}?namespace=operate-window"
    status, _, err = _run(["stream", str(articles), "--index", where, "--window-articles", "4"], capsys)
    assert status == 0, err
    caplog.set_level("INFO", logger="dedup")
    status, out, err = _run(["index", "stats", "--json", where], capsys)
    assert status == 0, err
    s = json.loads(out)
    assert (s["articles"], s["last_seq"], s["in_window"], s["window"]) == (11, 10, 4, {"days": None, "articles": 4})
    assert s["articles_in_copies"] + s["singletons"] == 4
    assert _opened(caplog)[-1].startswith(f"opened the index {where}: 4 articles in ")
    status, out, _ = _run(["index", "check", "--json", where], capsys)
    assert status == 0 and json.loads(out)["articles"] == 11
    status, out, _ = _run(["index", "export", where], capsys)
    assert status == 0 and sum(c["size"] for c in _clusters(out)) == 11
    status, out, err = _run(["index", "remove", "--json", where, _rows()[0]["id"]], capsys)  # one that left
    assert status == 0, err
    assert json.loads(out)["removed"] == [{"id": _rows()[0]["id"], "cluster": None, "cluster_size": None}]
    status, out, _ = _run(["index", "stats", "--json", where], capsys)
    assert (json.loads(out)["articles"], json.loads(out)["in_window"]) == (10, 4)


def test_a_redis_namespace_without_an_index_is_an_error_and_stays_empty(redis_url, capsys) -> None:
    import redis

    where = f"{redis_url}?namespace=nothing-here"
    status, _, err = _run(["index", "stats", where], capsys)
    assert status == 2 and f"no index at {where}; build one with dedup stream --index {where}" in err
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.keys("nothing-here:*") == []
    finally:
        client.close()
