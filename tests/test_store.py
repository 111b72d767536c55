"""The SQLite index: survives restarts and a kill -9 mid-ingest, answers the same after reload."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import closing, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dedup
from conftest import groups_of, load_english, load_seeds
from dedup.stores.redis import RedisStore
from dedup.stores.sqlite import SQLiteStore
from writers import WRITER


def _ids(clusters):
    return {c.id: (c.member_ids, c.earliest) for c in clusters}


def test_reopened_index_answers_the_same(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    articles = load_seeds() + load_english()
    with dedup.Deduplicator.open(path) as d:
        for a in articles[:-3]:
            d.add(a)
        before = _ids(d.clusters())
    with dedup.Deduplicator.open(path) as d:
        assert len(d) == len(articles) - 3
        assert _ids(d.clusters()) == before
        verdicts = [d.add(a) for a in articles[-3:]]
        after = d.clusters()
    memory = dedup.Deduplicator()
    expected = [memory.add(a) for a in articles]
    assert [v.copy_of for v in verdicts] == [v.copy_of for v in expected[-3:]]
    assert groups_of(after) == groups_of(memory.clusters())


def test_readding_is_idempotent_and_remove_is_persistent(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    seeds = load_seeds()
    with dedup.Deduplicator.open(path) as d:
        d.add_many(seeds)
        assert d.add(seeds[0]).already_indexed
        d.remove("002_2c2c9388f5a9e12b")
    with dedup.Deduplicator.open(path) as d:
        assert "002_2c2c9388f5a9e12b" not in d and len(d) == 4
        assert all(len(c) == 1 for c in d.clusters())
        v = d.add(seeds[2])
        assert v.copy_of == ("000_ab6823a46153965b",)


def test_foreign_newer_and_mismatched_files_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(foreign)) as db, db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(dedup.StoreFormatError, match=r"not a dedup index; .* the file is left as it is"):
        dedup.Deduplicator.open(foreign)
    look_alike = tmp_path / "look-alike.sqlite"  # another program's tables of the same names
    with closing(sqlite3.connect(look_alike)) as db, db:
        db.execute("CREATE TABLE meta (key, value)")
        db.execute("CREATE TABLE articles (id)")
    with pytest.raises(dedup.StoreFormatError, match=r"not a dedup index \(its format is None, .* left as it is"):
        dedup.Deduplicator.open(look_alike)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(dedup.StoreFormatError):
        dedup.Deduplicator.open(garbage)
    newer = tmp_path / "newer.sqlite"
    dedup.Deduplicator.open(newer).close()
    with closing(sqlite3.connect(newer)) as db, db:
        db.execute("UPDATE meta SET value='99' WHERE key='version'")
    with pytest.raises(dedup.StoreFormatError, match="newer dedup"):
        dedup.Deduplicator.open(newer)
    built = tmp_path / "built.sqlite"
    dedup.Deduplicator.open(built).close()
    with pytest.raises(dedup.StoreError, match="other settings") as refused:
        dedup.Deduplicator.open(built, dedup.DedupConfig(max_chars=10))
    # the setting that differs, and the fix from the command line too
    assert f"(max_chars {dedup.DedupConfig().max_chars!r} in the index, 10 given)" in str(refused.value)
    assert "dedup stream --index without --config" in str(refused.value)
    changed = dedup.DedupConfig(minhash=dedup.MinHashConfig(threshold=0.6))
    with pytest.raises(dedup.StoreError, match=r"\(minhash\.bands .*minhash\.threshold 0\.4 in the index, 0\.6 given"):
        dedup.Deduplicator.open(built, changed)
    with dedup.Deduplicator.open(built) as d:
        assert d.config == dedup.DedupConfig()


@pytest.mark.slow
def test_kill_9_mid_ingest_loses_no_acknowledged_article(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import json

    import generate

    records = generate.generate(400, 11)
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    path = tmp_path / "index.sqlite"
    acked = []
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(data)], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if not line.startswith("ack "):
                continue
            acked.append(line.split()[1])
            if len(acked) == 150:
                os.kill(child.pid, signal.SIGKILL)
                break
        child.wait(timeout=60)
        # the acknowledgements the writer sent before it was killed, still in the pipe
        acked.extend(line.split()[1] for line in child.stdout if line.startswith("ack ") and line.endswith("\n"))
    assert child.returncode == -signal.SIGKILL
    with dedup.Deduplicator.open(path) as d:
        assert set(acked) <= set(d)
        assert len(d) - len(acked) <= 1  # at most the one being written when killed
        # the index is consistent: the reloaded state equals a fresh in-memory run over the same articles
        present = [r for r in records if r["id"] in d]
        fresh = dedup.Deduplicator()
        for r in present:
            fresh.add(dedup.Article(id=r["id"], text=r["text"]))
        assert groups_of(d.clusters()) == groups_of(fresh.clusters())
        # and it goes on: the rest of the articles can be added
        for r in records[len(present) : len(present) + 20]:
            d.add(dedup.Article(id=r["id"], text=r["text"]))


def test_unopenable_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(dedup.StoreError, match="cannot open"):
        dedup.Deduplicator.open(tmp_path / "no" / "such" / "folder" / "index.sqlite")


ALL = load_seeds() + load_english()


@given(st.lists(st.sampled_from(range(len(ALL))), min_size=1, max_size=len(ALL), unique=True), st.data())
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
def test_saved_and_reloaded_index_answers_the_same(tmp_path: Path, order: list[int], data) -> None:
    # a new folder per example: tmp_path is shared by hypothesis's examples, and a file left by an
    # example with the same order but a later cut would already hold the articles added here
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "index.sqlite"
    cut = data.draw(st.integers(0, len(order)))
    articles = [ALL[i] for i in order]
    with dedup.Deduplicator.open(path) as d:
        for a in articles[:cut]:
            d.add(a)
    with dedup.Deduplicator.open(path) as d:
        later = [d.add(a) for a in articles[cut:]]
        reloaded = _ids(d.clusters())
    memory = dedup.Deduplicator()
    expected = [memory.add(a) for a in articles]
    assert reloaded == _ids(memory.clusters())
    assert [v.copy_of for v in later] == [v.copy_of for v in expected[cut:]]


def test_arrays_round_trip_and_corruption_is_reported() -> None:
    import numpy as np

    from dedup.stores.sqlite import pack_arrays, unpack_array, unpack_arrays

    with dedup.Deduplicator() as d:
        prepared = d.prepare(load_seeds()[0])
    blob = pack_arrays(prepared.doc, prepared.signature, prepared.passage_signatures)
    doc, sig, psig = unpack_arrays(blob, where="test")
    assert np.array_equal(sig, prepared.signature) and np.array_equal(psig, prepared.passage_signatures)
    assert all(np.array_equal(getattr(doc, n), getattr(prepared.doc, n)) for n in ("words", "passages", "shingles"))
    with pytest.raises(dedup.StoreFormatError, match="corrupt"):
        unpack_arrays(blob[: len(blob) // 2], where="test")
    for name in ("words", "passages", "shingles", "quoted"):  # one array read alone is the same array
        alone = unpack_array(blob, name, where="test")
        assert alone.dtype == getattr(doc, name).dtype and np.array_equal(alone, getattr(doc, name))
    with pytest.raises(dedup.StoreFormatError, match="corrupt"):
        unpack_array(blob[: len(blob) // 2], "shingles", where="test")


_SHAPES = st.lists(st.one_of(st.integers(-(2**70), 2**70), st.text(max_size=3), st.none()), max_size=3)


@settings(max_examples=100, deadline=None)
@given(shape=st.one_of(_SHAPES, st.integers(), st.text(max_size=3)), which=st.integers(0, 4), cut=st.integers(0, 64))
def test_a_damaged_array_header_is_reported_as_corrupt(shape: object, which: int, cut: int) -> None:
    # a header that lies about an array's shape (or a blob cut short) is a damaged file: the reader
    # says so, it does not fail some other way
    import json

    import numpy as np

    from dedup.stores.sqlite import pack_arrays, unpack_array, unpack_arrays

    doc = _seed_doc()
    blob = pack_arrays(doc.doc, doc.signature, doc.passage_signatures)
    size = int.from_bytes(blob[:4], "little")
    header = json.loads(blob[4 : 4 + size])
    header[which % len(header)][2] = shape
    text = json.dumps(header).encode("ascii")
    damaged = len(text).to_bytes(4, "little") + text + blob[4 + size :]
    damaged = damaged[: len(damaged) - cut]
    try:
        found = unpack_arrays(damaged, where="test")
    except dedup.StoreFormatError as exc:
        assert "corrupt" in str(exc)
    else:
        assert isinstance(found[1], np.ndarray)
    try:  # the one array an article leaving a window is read back for
        shingles = unpack_array(damaged, "shingles", where="test")
    except dedup.StoreFormatError as exc:
        assert "corrupt" in str(exc)
    else:
        assert isinstance(shingles, np.ndarray)


@lru_cache(maxsize=1)
def _seed_doc() -> Any:
    with dedup.Deduplicator() as d:
        return d.prepare(load_seeds()[0])


def test_an_empty_file_or_an_older_format_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with pytest.raises(dedup.StoreFormatError, match=r"empty.*restore it from a backup") as caught:
        dedup.Deduplicator.open(empty)
    assert str(empty) in str(caught.value)
    assert empty.stat().st_size == 0
    older = tmp_path / "older.sqlite"
    with closing(sqlite3.connect(older)) as db, db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("CREATE TABLE articles (id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, arrays BLOB)")
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("format", "dedup-index"), ("version", "2"), ("config", "{}")],
        )
    with pytest.raises(dedup.StoreFormatError, match="index format 2 is older than 3; rebuild the index"):
        dedup.Deduplicator.open(older)


def test_a_damaged_row_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    with dedup.Deduplicator.open(path) as d:
        d.add_many(load_seeds())
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE articles SET title = 'changed' WHERE id = '002_2c2c9388f5a9e12b'")
    with pytest.raises(dedup.StoreCorruptError, match=r"'002_2c2c9388f5a9e12b' fails its checksum.*left as it is"):
        dedup.Deduplicator.open(path)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE articles SET title = NULL WHERE id = '002_2c2c9388f5a9e12b'")
        db.execute("DROP TRIGGER matches_removed")  # a row lost, as damage loses it: the count stays
        db.execute("DELETE FROM matches WHERE rowid = (SELECT MIN(rowid) FROM matches)")
        (held,) = db.execute("SELECT COUNT(*) FROM matches").fetchone()
    with pytest.raises(dedup.StoreCorruptError, match=f"lists {held + 1} rows of matches but holds {held}"):
        dedup.Deduplicator.open(path)


@contextmanager
def _seeded(path: Path, n: int) -> Iterator[tuple[dedup.Deduplicator, SQLiteStore, list[dedup.Article]]]:
    """An index file with the first ``n`` seeds, open, its store, and the seeds."""
    seeds = load_seeds()
    with dedup.Deduplicator.open(path) as d:
        d.add_many(seeds[:n])
        assert isinstance(d._store, SQLiteStore)
        yield d, d._store, seeds


def test_a_row_damaged_while_the_index_is_open_is_refused_and_the_other_rows_are_read(tmp_path: Path) -> None:
    """A row damaged under a running stream is refused by its checksum each time it is read, and
    the file stays open: the whole rows are read and new articles are written. A failure of the
    file itself closes it, and later calls say after which error."""
    path = tmp_path / "index.sqlite"
    with _seeded(path, 3) as (d, store, seeds):
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("UPDATE articles SET title = 'changed' WHERE id = ?", (seeds[0].id,))
        for _ in range(2):
            with pytest.raises(dedup.StoreCorruptError, match=f"{seeds[0].id!r} fails its checksum"):
                store.stored(seeds[0].id)
            with pytest.raises(dedup.StoreCorruptError, match=f"{seeds[0].id!r} fails its checksum"):
                store.counted(seeds[0].id)  # (what an article leaving a window is read back for)
        whole, counted = store.stored(seeds[1].id), store.counted(seeds[1].id)
        assert whole is not None and counted is not None and store.counted("no such id") is None
        assert (counted.seq, counted.source, counted.url) == (whole.seq, whole.article.source, whole.article.url)
        assert counted.shingles.dtype == whole.doc.shingles.dtype
        assert np.array_equal(counted.shingles, whole.doc.shingles)
        d.add(seeds[3])
        assert store.stored(seeds[3].id) is not None

        def failing(*args: object) -> object:
            raise sqlite3.OperationalError("disk I/O error")

        broken = store._db
        store._db = type("Broken", (), {"execute": failing, "close": broken.close})()  # type: ignore[assignment]
        with pytest.raises(dedup.StoreError, match="disk I/O error"):
            store.stored(seeds[1].id)
        with pytest.raises(dedup.StoreError, match=r"closed after an error \(.*disk I/O error.*\); deal with that"):
            store.stored(seeds[1].id)
        with pytest.raises(dedup.StoreError, match="closed after an error"):
            d.add(seeds[4])
    with closing(sqlite3.connect(path)) as db:  # the article refused was not written
        assert {row[0] for row in db.execute("SELECT id FROM articles")} == {a.id for a in seeds[:4]}


def test_an_index_opened_read_only_answers_and_refuses_to_change(tmp_path: Path, redis_url: str) -> None:
    path = tmp_path / "index.sqlite"
    seeds = load_seeds()
    with dedup.Deduplicator.open(path) as d:
        d.add_many(seeds[:4])
        answers = _ids(d.clusters())
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if not p.name.endswith((".lock", "-shm"))}
    with dedup.Deduplicator.open(path, read_only=True) as reader:
        assert _ids(reader.clusters()) == answers
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in files} == files
    with dedup.Deduplicator.open(path) as writer, dedup.Deduplicator.open(path, read_only=True) as reader:
        assert _ids(reader.clusters()) == answers and reader.get(seeds[0].id) == writer.get(seeds[0].id)
        for change in (
            lambda: reader.add(seeds[4]),
            lambda: reader.add_many(seeds[4:]),
            lambda: reader.remove(seeds[0].id),
        ):
            with pytest.raises(dedup.StoreError, match=r"opened read-only.*to add or remove"):
                change()
        assert seeds[4].id not in reader and seeds[0].id in reader
        writer.add(seeds[4])  # the writer goes on; the reader answers as the file was when it opened
        assert seeds[4].id not in reader
    shared = f"{redis_url}?namespace=read-only"
    with dedup.Deduplicator.open(shared, window=dedup.Window(days=3)) as worker:
        worker.add_many(seeds[:4])
    with dedup.Deduplicator.open(shared, read_only=True) as reader:  # a worker that writes nothing
        assert _ids(reader.clusters()) == answers
        with pytest.raises(dedup.StoreError, match=r"opened read-only: open it without read_only to add or remove"):
            reader.add(seeds[4])
    assert RedisStore.stored_window(shared) == dedup.Window(days=3)  # the reader recorded no window

    def interrupted(done: int, total: int | None) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # an opening that fails records no window
        dedup.Deduplicator.open(shared, window=dedup.Window(days=1), progress=interrupted)
    assert RedisStore.stored_window(shared) == dedup.Window(days=3)
    empty = f"{redis_url}?namespace=read-only-nothing"
    with pytest.raises(dedup.StoreError, match="namespace 'read-only-nothing' holds no index"):
        dedup.Deduplicator.open(empty, read_only=True)
    assert RedisStore.stored_config(empty) is None  # left empty


@pytest.mark.parametrize("window", [2, 5], ids=["left-the-window", "in-the-window"])
def test_an_index_of_ids_pointing_at_another_row_deletes_nothing(tmp_path: Path, window: int, monkeypatch) -> None:
    """Removing an article whose entry in the index of ids points at another article's row finds
    the file damaged and closes it, before anything is deleted through that index (it would delete
    the other article)."""
    from datetime import UTC, datetime, timedelta

    from dedup.runners.stream import replica

    path = tmp_path / "index.sqlite"
    texts = {
        "art-a": "The city council approved a new budget for the harbour bridge on Monday after a long debate.",
        "art-b": "Heavy snow closed mountain roads across the region, and rescue teams reached stranded drivers.",
        "art-c": "A local football club signed a young striker from the academy, the coach said on Friday.",
        "art-d": "Scientists at the university published a study on river pollution and falling fish numbers.",
    }
    start = datetime(2026, 1, 5, 12, tzinfo=UTC)
    monkeypatch.setattr(replica, "KEPT", 0)
    with dedup.Deduplicator.open(path, window=dedup.Window(articles=window)) as d:
        for n, (art_id, text) in enumerate(texts.items()):
            d.add(dedup.Article(id=art_id, text=text, published_at=start + timedelta(hours=n)))
    with closing(sqlite3.connect(path)) as db:
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_articles_1'").fetchone()
        (size,) = db.execute("PRAGMA page_size").fetchone()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    victim, rowid, other = ("art-b", 2, 4) if window == 2 else ("art-d", 4, 3)
    data = bytearray(path.read_bytes())
    entry = b"\x03\x17\x01" + victim.encode() + bytes([rowid])  # (its key and its rowid)
    at = data.find(entry, (root - 1) * size, root * size)
    assert at >= 0
    data[at + len(entry) - 1] = other
    path.write_bytes(bytes(data))
    with (
        dedup.Deduplicator.open(path, window=dedup.Window(articles=window)) as d,
        pytest.raises(dedup.StoreError, match=f"looking up article {victim!r} finds"),
    ):
        d.remove(victim)
    with closing(sqlite3.connect(path)) as db:
        assert sorted(r[0] for r in db.execute("SELECT id FROM articles NOT INDEXED")) == sorted(texts)


def test_a_read_only_index_answers_as_the_file_was_when_it_opened(tmp_path: Path, monkeypatch) -> None:
    """The writer adds and removes articles while a read-only deduplicator reads the file, at
    opening and after: it reads one snapshot (no row counts or rows that moved under it, taken for
    damage) and answers as the file was when it opened."""
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", 0)  # analyses read back from the file when asked for
    path = tmp_path / "index.sqlite"
    seeds = sorted(load_seeds(), key=lambda a: a.id)  # 000 and 002 are copies
    first = [seeds[0], seeds[1], seeds[3]]
    with dedup.Deduplicator.open(path) as writer:
        writer.add_many(first)
        expected = _ids(writer.clusters())
        read, moved = SQLiteStore._read, []

        def read_while_writing(self: SQLiteStore, rowid: int):
            if self._reader and not moved:  # the writer commits as the reader loads
                moved.append(writer.add(seeds[2]).is_copy)
                writer.remove(seeds[1].id)
            return read(self, rowid)

        monkeypatch.setattr(SQLiteStore, "_read", read_while_writing)
        with dedup.Deduplicator.open(path, read_only=True) as reader:
            assert moved == [True] and sorted(reader) == sorted(a.id for a in first)
            assert _ids(reader.clusters()) == expected  # seeds[1]'s text read back after its removal
        assert seeds[1].id not in writer and seeds[2].id in writer


def test_running_out_of_memory_while_reading_is_not_reported_as_damage(tmp_path: Path, monkeypatch) -> None:
    from dedup.stores import sqlite as store_module

    with _seeded(tmp_path / "index.sqlite", 2) as (_, store, seeds):

        def out_of_memory(blob: bytes, *, where: str) -> object:
            raise MemoryError

        unpack = store_module.unpack_arrays
        monkeypatch.setattr(store_module, "unpack_arrays", out_of_memory)
        with pytest.raises(MemoryError):
            store.stored(seeds[0].id)
        monkeypatch.setattr(store_module, "unpack_arrays", unpack)
        assert store.stored(seeds[0].id) is not None  # the file stays open


HOLDER = textwrap.dedent(
    """
    import sys, time
    import dedup
    d = dedup.Deduplicator.open(sys.argv[1])
    print("ready", flush=True)
    time.sleep(120)
    """
)


def test_a_second_writer_is_refused_until_the_first_ends(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    seeds = load_seeds()
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    ) as child:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        with pytest.raises(dedup.StoreLockedError, match=f"another process \\(pid {child.pid}\\)"):
            dedup.Deduplicator.open(path)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    with dedup.Deduplicator.open(path) as d:
        d.add(seeds[0])
        with pytest.raises(dedup.StoreLockedError, match="already open for writing in this process"):
            dedup.Deduplicator.open(path)
    with dedup.Deduplicator.open(path) as d:
        assert list(d) == [seeds[0].id]


READ_ONLY = textwrap.dedent(
    """
    import sys
    import dedup
    for path in sys.argv[1:]:
        try:
            dedup.Deduplicator.open(path).close()
            print("opened")
        except dedup.StoreError as exc:
            print(type(exc).__name__, exc)
    """
)


def test_a_read_only_file_or_folder_is_a_clear_error(tmp_path: Path) -> None:
    command = [sys.executable, "-c", READ_ONLY]
    if os.geteuid() == 0:  # root writes read-only files: the child runs without that privilege
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv (util-linux) is not installed to drop the privilege")
        caps = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *command]
    read_only_file = tmp_path / "file" / "index.sqlite"
    read_only_folder = tmp_path / "folder" / "index.sqlite"
    for path in (read_only_file, read_only_folder):
        path.parent.mkdir()
        dedup.Deduplicator.open(path).close()
    read_only_file.chmod(0o444)
    read_only_folder.parent.chmod(0o555)
    new_in_read_only_folder = read_only_folder.with_name("new.sqlite")
    try:
        run = subprocess.run(
            [*command, str(read_only_file), str(read_only_folder), str(new_in_read_only_folder)],
            capture_output=True,
            text=True,
            timeout=120,
            env=os.environ.copy(),
        )
    finally:
        read_only_folder.parent.chmod(0o755)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert len(lines) == 3, run.stdout
    assert lines[0].startswith(f"StoreError {read_only_file}: the index file is read-only"), lines[0]
    assert "make it and its folder writable" in lines[0]
    assert lines[1].startswith(f"StoreError {read_only_folder}: cannot open the index file"), lines[1]
    assert "read-only" in lines[1] and "writable" in lines[1]
    assert lines[2].startswith(f"StoreError {new_in_read_only_folder}: cannot open"), lines[2]
    assert "writable" in lines[2]


def test_a_full_disk_refuses_the_article_that_does_not_fit_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    articles = load_seeds() + load_english()
    before, after = articles[:10], articles[10]
    memory = dedup.Deduplicator()
    for a in before:
        memory.add(a)
    with dedup.Deduplicator.open(path) as d:
        for a in before:
            d.add(a)
        db = d._store._db  # type: ignore[union-attr]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: a full disk
        with pytest.raises(dedup.StoreFullError, match=f"disk is full.*{after.id!r} is not added.*free space"):
            d.add(after)
        assert after.id not in d and len(d) == len(before)
        assert _ids(d.clusters()) == _ids(memory.clusters())
        db.execute("PRAGMA max_page_count = 1073741823")  # space freed
        verdict = d.add(after)
    assert verdict.copy_of == memory.add(after).copy_of
    with dedup.Deduplicator.open(path) as d:
        assert set(d) == {a.id for a in articles[:11]}
        assert _ids(d.clusters()) == _ids(memory.clusters())


def test_an_index_written_before_a_setting_existed_opens_with_its_settings(tmp_path: Path) -> None:
    # an index whose stored settings lack a setting added since (as one written by an earlier
    # version): opened without a config it takes that setting's default, and a config equal to
    # what it holds opens it too; another value is still refused
    path = tmp_path / "old.sqlite"
    articles = load_seeds()
    with dedup.Deduplicator.open(path) as d:
        d.add_many(articles)
        before = groups_of(d.clusters())
    _forget_stored_settings(path, "cluster", "max_compared", "representatives")
    with dedup.Deduplicator.open(path) as d:
        assert d.config == dedup.DedupConfig()
        assert groups_of(d.clusters()) == before
    with dedup.Deduplicator.open(path, dedup.DedupConfig()) as d:
        assert len(d) == len(articles)
    other = dedup.DedupConfig(cluster=dedup.ClusterConfig(max_compared=5))
    with pytest.raises(dedup.StoreError, match="other settings"):
        dedup.Deduplicator.open(path, other)


def test_an_index_written_before_the_pooled_formula_rule_keeps_the_rule_it_was_built_with(tmp_path: Path) -> None:
    # its stored formula settings lack min_repeated and max_load: it reopens with the rule it gave
    # its answers by (pooled counts off, the limit of its time), not with today's defaults
    from dedup.config import FormulaConfig

    path = tmp_path / "old.sqlite"
    old = dedup.DedupConfig(formula=FormulaConfig(sketch_rows=2, sketch_width_bits=21))
    with dedup.Deduplicator.open(path, old) as d:
        d.add_many(load_seeds())
    _forget_stored_settings(path, "formula", "min_repeated", "max_load")
    with dedup.Deduplicator.open(path) as d:
        assert (d.config.formula.min_repeated, d.config.formula.max_load) == (0, 4.0)
        assert (d.config.formula.sketch_rows, d.config.formula.sketch_width_bits) == (2, 21)


def test_an_index_written_before_the_aside_rule_keeps_the_answers_it_was_built_to_give(tmp_path: Path) -> None:
    # written as dedup wrote it before the rule (a roundup that ends with a statement is a copy of
    # it), then its stored settings without the rule's
    statement = [f"The ministry said item {i} covers ministry{i}a and ministry{i}b today." for i in range(3)]
    own = [f"The harbour story {i} tells of harbour{i}a and harbour{i}b at length." for i in range(16)]
    roundup = dedup.Article(id="roundup", text="\n".join(own + statement))
    short = dedup.Article(id="statement", text="\n".join(statement))
    path = tmp_path / "old.sqlite"
    before = dedup.DedupConfig(verify=dedup.VerifyConfig(aside_share=0.0))
    with dedup.Deduplicator.open(path, before) as d:
        d.add_many([*load_seeds(), roundup, short])
    _forget_stored_settings(path, "verify", "aside_share")
    with dedup.Deduplicator.open(path) as d:
        assert d.config.verify.aside_share == 0.0  # the rule off, as when the index was written
        assert d.compare("statement", "roundup").is_copy
        assert ("roundup", "statement") in {c.member_ids for c in d.clusters()}
    with pytest.raises(dedup.StoreError, match="other settings"):
        dedup.Deduplicator.open(path, dedup.DedupConfig())


def test_an_index_written_before_the_quoted_speech_rule_keeps_the_answers_it_was_built_to_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # written as dedup wrote it before the rule: its articles' arrays without quoted shingles, its
    # settings without the rule's (nor the tie-break by text, which came with it); two reports
    # quoting one statement stay a copy there
    from dedup.stores import sqlite as store_module

    quote = (
        "“We will rebuild every school and every clinic that the floods destroyed in the valley. "
        "Every farmer will be paid for the harvest the water took from the fields.”"
    )
    a_lines = [
        "The minister toured the flooded valley on Tuesday with the regional governor and local engineers.",
        "Residents of three villages had asked the government for help after the river broke its banks.",
        "Roads to the north remain closed and the army has sent boats to reach the farms cut off by the water.",
        f"She said: {quote}",
    ]
    b_lines = [
        "Speaking to reporters at the airport in the capital, the official promised swift action for survivors.",
        "Aid groups say more than two thousand people spent the night in schools on higher ground.",
        "The weather service expects more rain in the coming days across the whole southern province.",
        quote,
    ]
    a = dedup.Article(id="a", text="\n".join(a_lines))
    b = dedup.Article(id="b", text="\n".join(b_lines))
    assert not dedup.Deduplicator().add_many([a, b])[1].is_copy  # today's answer
    path = tmp_path / "old.sqlite"
    old_arrays = tuple(n for n in store_module._ARRAYS if n != "quoted")
    with monkeypatch.context() as m:
        m.setattr(store_module, "_ARRAYS", old_arrays)
        with dedup.Deduplicator.open(path, dedup.DedupConfig(verify=dedup.VerifyConfig(quoted_speech=False))) as d:
            d.add_many([*load_seeds(), a, b])
    _forget_stored_settings(path, "verify", "quoted_speech", "ties_by_text")
    with dedup.Deduplicator.open(path) as d:
        assert d.config.verify.quoted_speech is False  # the rule off, as when the index was written
        assert d.config.verify.ties_by_text is False  # and ties settled by id, as then
        assert len(d._store.stored("a").doc.quoted) == 0  # type: ignore[union-attr]  # none stored
        assert d.compare("a", "b").is_copy
        assert ("a", "b") in {c.member_ids for c in d.clusters()}


def _forget_stored_settings(path: Path, part: str, *names: str) -> None:
    """Take settings out of an index's stored config, as an index written before they existed."""
    import json

    from dedup.stores.sqlite import config_checksum

    with closing(sqlite3.connect(path)) as db, db:
        stored = json.loads(db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
        for name in names:
            del stored[part][name]
        text = json.dumps(stored)
        db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (text,))
        db.execute("UPDATE meta SET value = ? WHERE key = 'config_checksum'", (config_checksum(text),))


def _articles_of_words(n: int, words: int, seed: int = 5) -> list[dedup.Article]:
    import random

    rng = random.Random(seed)
    vocabulary = [f"w{k}" for k in range(20_000)]
    return [
        dedup.Article(
            id=f"a{i:05d}",
            text="\n".join(" ".join(rng.choices(vocabulary, k=12)) + "." for _ in range(words // 12)),
        )
        for i in range(n)
    ]


def test_the_write_ahead_log_is_copied_into_the_file_as_articles_are_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An add never copies the log itself: a thread of the store does, so the log stays short
    however long the crawl (without it, it would hold every article written), and a closed index
    leaves no log behind."""
    from dedup.stores import sqlite as store

    monkeypatch.setattr(store, "CHECKPOINT_BYTES", 64 << 10)
    monkeypatch.setattr(store, "_LOG_KEPT", 256 << 10)
    path = tmp_path / "index.sqlite"
    log = Path(f"{path}-wal")
    longest = 0
    with dedup.Deduplicator.open(path) as d:
        for article in _articles_of_words(1200, 240):
            d.add(article)
            longest = max(longest, log.stat().st_size)
        (autocheckpoint,) = d._store._db.execute("PRAGMA wal_autocheckpoint").fetchone()
    assert autocheckpoint == 0  # the adds leave the copying to the thread
    assert path.stat().st_size > 4 << 20  # what was written went into the file
    # ~37 MB when nothing copies it; the bound leaves room for a thread slowed by a loaded machine
    assert longest < 16 << 20, f"the log grew to {longest:,} bytes"
    assert not log.exists()
    with dedup.Deduplicator.open(path) as d:
        assert len(d) == 1200


def test_a_log_that_cannot_be_copied_is_reported_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    from dedup.stores import sqlite as store

    connect = sqlite3.connect

    def refuse_in_the_thread(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        if threading.current_thread().name.startswith("dedup checkpoint"):
            raise sqlite3.OperationalError("disk I/O error")
        return connect(*args, **kwargs)

    monkeypatch.setattr(store, "CHECKPOINT_BYTES", 16 << 10)
    monkeypatch.setattr(store.sqlite3, "connect", refuse_in_the_thread)
    path = tmp_path / "index.sqlite"
    articles = _articles_of_words(60, 120)
    with caplog.at_level("WARNING", logger="dedup.index"), dedup.Deduplicator.open(path) as d:
        for article in articles:
            d.add(article)
        answered = groups_of(d.clusters())
    warnings = [r.getMessage() for r in caplog.records if "write-ahead log could not be copied" in r.getMessage()]
    assert len(warnings) == 1 and "disk I/O error" in warnings[0]  # said once, not at every try
    monkeypatch.setattr(store.sqlite3, "connect", connect)
    with dedup.Deduplicator.open(path) as d:
        assert len(d) == len(articles) and groups_of(d.clusters()) == answered


def test_a_reader_in_another_process_never_makes_an_add_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report or a backup reading the file holds a snapshot: the log cannot start over while it
    reads, and the checkpoints copy what they can without waiting for it (a checkpoint that waited
    would hold the writer's lock meanwhile, and the adds would wait, or fail as locked)."""
    import time

    from dedup.stores import sqlite as store

    monkeypatch.setattr(store, "CHECKPOINT_BYTES", 8 << 10)
    monkeypatch.setattr(store, "_LOG_KEPT", 32 << 10)  # a checkpoint that makes the writer wait, each time
    path = tmp_path / "index.sqlite"
    articles = _articles_of_words(500, 120)
    with dedup.Deduplicator.open(path) as d:
        for article in articles[:50]:
            d.add(article)
        command = [sys.executable, "-c", READER, str(path), "8"]
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as reader:
            try:
                assert reader.stdout is not None and reader.stdout.readline().strip() == "reading"
                longest = 0.0
                for article in articles[50:]:
                    start = time.perf_counter()
                    d.add(article)  # raises if the file is locked for longer than SQLite waits
                    longest = max(longest, time.perf_counter() - start)
                assert reader.poll() is None  # the reader held its snapshot throughout
            finally:
                reader.kill()
    assert longest < 4.0, f"an add waited {longest:.1f} s"  # a waiting checkpoint holds it ~5 s


READER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN")
db.execute("SELECT count(*) FROM articles").fetchone()
print("reading", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_checkpoint_that_fails_otherwise_is_reported_and_the_thread_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from dedup.stores import sqlite as store

    checkpoint, calls = store._Checkpointer._checkpoint, []

    def fail_first(db: sqlite3.Connection) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError("simulated")
        checkpoint(db)

    monkeypatch.setattr(store, "CHECKPOINT_BYTES", 16 << 10)
    monkeypatch.setattr(store, "_LOG_KEPT", 64 << 10)
    monkeypatch.setattr(store._Checkpointer, "_checkpoint", staticmethod(fail_first))
    path = tmp_path / "index.sqlite"
    with caplog.at_level("WARNING", logger="dedup.index"), dedup.Deduplicator.open(path) as d:
        for article in _articles_of_words(600, 120):
            d.add(article)
        # the adds never copy the log (autocheckpoint off): what the file holds, the thread's later
        # checkpoints copied (whether the log also started over depends on when they found the
        # writer between two adds)
        copied = path.stat().st_size
    assert len(calls) > 2  # the thread lived on
    assert copied > 1 << 20, f"the file holds {copied:,} bytes: the log was not copied after the failure"
    assert [r.getMessage() for r in caplog.records if "MemoryError: simulated" in r.getMessage()]
