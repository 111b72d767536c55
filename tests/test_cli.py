import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dedup
from dedup.fronts.cli import build_parser, main, write_table

ROOT = Path(__file__).resolve().parent.parent


COMMANDS = ("cluster", "stream", "spark", "explain", "report", "tune", "index")
INDEX_ACTIONS = ("stats", "get", "remove", "export")


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize(
    "command",
    [(), *((c,) for c in COMMANDS), *(("index", a) for a in INDEX_ACTIONS)],
    ids=lambda c: " ".join(c) or "dedup",
)
def test_every_command_has_help(command, flag, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, flag])
    captured = capsys.readouterr()
    assert exit_info.value.code == 0, captured.err
    assert captured.out.startswith(f"usage: {' '.join(('dedup', *command))} ")


def test_the_top_level_help_names_every_command(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)


def test_spark_help_explains_the_output_folder(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["spark", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "part-*" in help_text and "_SUCCESS" in help_text and "--config" in help_text


def test_spark_options_may_come_before_the_paths(tmp_path) -> None:
    # parsing only: running the job needs Java (tests/test_spark.py)
    config = tmp_path / "c.json"
    args = build_parser().parse_args(
        ["spark", "--master", "local[2]", "--config", str(config), "--errors", "bad", "in.jsonl", "out.jsonl"]
    )
    assert (args.input, args.output, args.master, args.config, args.errors) == (
        "in.jsonl",
        "out.jsonl",
        "local[2]",
        str(config),
        "bad",
    )
    assert args.func.__name__ == "_cmd_spark"


def test_cluster_seed_folder_jsonl_contract(capsys) -> None:
    assert main(["cluster", str(ROOT / "seeds"), "--no-progress"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 4
    for row in rows:
        assert {"cluster", "members", "earliest", "evidence"} <= set(row)
        assert all({"id", "relation"} <= set(m) for m in row["members"])
    pair = next(r for r in rows if len(r["members"]) == 2)
    assert pair["earliest"] == "000_ab6823a46153965b"
    assert {m["id"] for m in pair["members"]} == {"000_ab6823a46153965b", "002_2c2c9388f5a9e12b"}


def test_table_format(capsys) -> None:
    assert main(["cluster", str(ROOT / "seeds"), "--format", "table", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "4 clusters: 1 with copies" in out and "rewritten" in out


def test_bad_lines_are_reported_and_skipped(tmp_path, capsys) -> None:
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    lines = [json.dumps({"id": p.stem, "text": p.read_text()}, ensure_ascii=False).encode() for p in seeds]
    lines.insert(1, b"{not json")
    lines.insert(3, b'{"id": "x"}')
    lines.insert(4, b'{"id": "bytes", "text": "caf\xff"}')
    lines.append(json.dumps({"id": "blank", "text": "  "}).encode())
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["cluster", str(path), "--no-progress"]) == 3  # some lines skipped, the output written
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 4
    assert "line 2: invalid JSON" in captured.err
    assert "line 4: missing field(s) text" in captured.err
    assert "line 5: not valid UTF-8" in captured.err
    assert "EmptyTextError" in captured.err
    assert "4 record(s) skipped" in captured.err


def test_missing_path_is_a_clean_error(capsys) -> None:
    assert main(["cluster", "/no/such/place"]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_python_dash_m_works() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dedup", "cluster", str(ROOT / "seeds"), "--format", "table"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "earliest 000_ab6823a46153965b" in out


def _stream(args, lines, status=0):
    out = subprocess.run(
        [sys.executable, "-m", "dedup", "stream", *args],
        input=b"".join(lines),
        capture_output=True,
    )
    assert out.returncode == status, out.stderr.decode(errors="replace")
    return out


def _seed_lines():
    return [
        (json.dumps({"id": p.stem, "text": p.read_text(encoding="utf-8")}, ensure_ascii=False) + "\n").encode()
        for p in sorted((ROOT / "seeds").glob("*.txt"))
    ]


def test_stream_answers_one_verdict_per_line_and_survives_bad_lines(tmp_path) -> None:
    lines = _seed_lines()
    lines.insert(2, b"{broken\n")
    lines.insert(4, b'{"id": "empty", "text": ""}\n')
    out = _stream([], lines, status=3)
    verdicts = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert [v["id"] for v in verdicts] == [p.stem for p in sorted((ROOT / "seeds").glob("*.txt"))]
    by_id = {v["id"]: v for v in verdicts}
    assert by_id["002_2c2c9388f5a9e12b"]["copy_of"] == ["000_ab6823a46153965b"]
    errors = [json.loads(line) for line in out.stderr.decode().splitlines()]
    assert [(e["line"], e["error"]) for e in errors] == [(3, "InvalidRecordError"), (5, "EmptyTextError")]


@pytest.mark.slow
def test_stream_index_survives_restarts(tmp_path) -> None:
    index = str(tmp_path / "crawl.sqlite")
    lines = _seed_lines()
    _stream(["--index", index], lines[:1])
    out = _stream(["--index", index], lines[1:])
    by_id = {v["id"]: v for v in map(json.loads, out.stdout.decode().splitlines())}
    assert by_id["002_2c2c9388f5a9e12b"]["copy_of"] == ["000_ab6823a46153965b"]
    assert by_id["002_2c2c9388f5a9e12b"]["earliest"] == "000_ab6823a46153965b"


def test_stream_has_help(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["stream", "--help"])
    assert "--index" in capsys.readouterr().out


# -- one bad record must not stop the rest ----------------------------------------------------
SEED_IDS = sorted(p.stem for p in (ROOT / "seeds").glob("*.txt"))


def _run(argv, monkeypatch, capsys, stdin: bytes = b""):
    """``dedup ARGV`` in this process, with ``stdin`` on standard input: (status, stdout, stderr)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _ids(out: str) -> list[str]:
    return sorted(m["id"] for line in out.splitlines() for m in json.loads(line)["members"])


def _with_bad_line(bad: bytes, at: int = 2) -> bytes:
    """The seed articles as JSON Lines with ``bad`` as line ``at``."""
    lines = [line.rstrip(b"\n") for line in _seed_lines()]
    lines.insert(at - 1, bad)
    return b"\n".join(lines) + b"\n"


BAD_LINES = {
    "integer id of 5,000 digits": (b'{"id": ' + b"9" * 5000 + b', "text": "a text"}', "a number in it cannot be read"),
    "published_at that overflows in UTC": (
        b'{"id": "early", "text": "a text", "published_at": "0001-01-01T00:00+05:00"}',
        "published_at 0001-01-01T00:00:00+05:00 cannot be converted to UTC",
    ),
    "published_at past 9999 in UTC": (
        b'{"id": "late", "text": "a text", "published_at": "9999-12-31T23:59-05:00"}',
        "cannot be converted to UTC",
    ),
    "lone surrogate in the id": (b'{"id": "x\\ud800", "text": "a text"}', "id holds a lone surrogate (U+D800"),
    "lone surrogate in the text": (b'{"id": "s", "text": "a \\udfff text"}', "text holds a lone surrogate (U+DFFF"),
    "lone surrogate in the title": (
        b'{"id": "t", "text": "a text", "title": "\\ud83d"}',
        "title holds a lone surrogate (U+D83D",
    ),
    "id too long": (json.dumps({"id": "u" * 5000, "text": "a text"}).encode(), "longer than 4,096 characters"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_cluster_skips_a_bad_line_with_its_number_and_keeps_the_rest(case, tmp_path, monkeypatch, capsys) -> None:
    bad, reason = BAD_LINES[case]
    path = tmp_path / "in.jsonl"
    path.write_bytes(_with_bad_line(bad, at=3))
    status, out, err = _run(["cluster", str(path), "--no-progress"], monkeypatch, capsys)
    assert status == 3
    assert _ids(out) == SEED_IDS
    assert "dedup: skipped line 3: " in err and reason in err
    assert "Traceback" not in err


def test_json_nested_200000_deep_is_a_skipped_line(tmp_path) -> None:
    # in a subprocess: a recursion that is not caught could take the interpreter down
    path = tmp_path / "deep.jsonl"
    path.write_bytes(_with_bad_line(b"[" * 200_000 + b"]" * 200_000, at=2))
    run = subprocess.run(
        [sys.executable, "-m", "dedup", "cluster", str(path), "--no-progress"], capture_output=True, text=True
    )
    assert run.returncode == 3, run.stderr
    assert _ids(run.stdout) == SEED_IDS
    assert "skipped line 2: InvalidRecordError: line 2: JSON nested too deeply" in run.stderr


@pytest.mark.parametrize("where", ["file", "stdin"])
def test_duplicate_id_with_another_text_names_its_line(where, tmp_path, monkeypatch, capsys) -> None:
    first = json.loads(_seed_lines()[0])
    data = _with_bad_line(json.dumps({"id": first["id"], "text": "another text entirely"}).encode(), at=4)
    if where == "file":
        (tmp_path / "in.jsonl").write_bytes(data)
        status, out, err = _run(["cluster", str(tmp_path / "in.jsonl"), "--no-progress"], monkeypatch, capsys)
    else:
        status, out, err = _run(["cluster", "-", "--no-progress"], monkeypatch, capsys, stdin=data)
    assert status == 3
    assert _ids(out) == SEED_IDS
    assert "skipped line 4: DuplicateIdError" in err and "(first on line 1)" in err


def test_a_byte_order_mark_is_accepted_on_a_file_and_on_stdin(tmp_path, monkeypatch, capsys) -> None:
    data = b"\xef\xbb\xbf" + b"".join(_seed_lines())
    (tmp_path / "bom.jsonl").write_bytes(data)
    status, out, err = _run(["cluster", str(tmp_path / "bom.jsonl"), "--no-progress"], monkeypatch, capsys)
    assert (status, _ids(out), err) == (0, SEED_IDS, "")
    status, out, err = _run(["cluster", "-", "--no-progress"], monkeypatch, capsys, stdin=data)
    assert (status, _ids(out), err) == (0, SEED_IDS, "")


@pytest.mark.parametrize("kind", ["empty file", "blank lines", "stdin", "empty folder"])
def test_an_empty_input_says_so(kind, tmp_path, monkeypatch, capsys) -> None:
    path, stdin, name = tmp_path / "in.jsonl", b"", None
    if kind == "empty file":
        path.write_bytes(b"")
    elif kind == "blank lines":
        path.write_bytes(b"\n  \n\n")
    elif kind == "stdin":
        path, name = "-", "standard input"
    else:
        path = tmp_path / "folder"
        path.mkdir()
    status, out, err = _run(["cluster", str(path), "--no-progress"], monkeypatch, capsys, stdin=stdin)
    assert (status, out) == (0, "")
    assert f"dedup: no articles in {name or path}" in err


@pytest.mark.parametrize("kind", ["empty file", "blank lines", "stdin", "all lines bad"])
def test_an_empty_stream_says_so(kind, tmp_path, monkeypatch, capsys) -> None:
    path, stdin = tmp_path / "in.jsonl", b""
    path.write_bytes({"empty file": b"", "blank lines": b"\n  \n\n", "all lines bad": b"{oops\n"}.get(kind, b""))
    given = "-" if kind == "stdin" else str(path)
    status, out, err = _run(["stream", given, "--no-progress"], monkeypatch, capsys, stdin=stdin)
    assert (status, out) == (3 if kind == "all lines bad" else 0, "")
    assert f"dedup: no articles in {'standard input' if kind == 'stdin' else path}" in err
    (tmp_path / "seeds.jsonl").write_bytes(b"".join(_seed_lines()))
    status, out, err = _run(["stream", str(tmp_path / "seeds.jsonl"), "--no-progress"], monkeypatch, capsys)
    assert (status, len(out.splitlines()), err) == (0, len(SEED_IDS), "")


def test_all_lines_bad_says_no_articles_and_exits_3(tmp_path, monkeypatch, capsys) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"{oops\n")
    status, out, err = _run(["cluster", str(path), "--no-progress"], monkeypatch, capsys)
    assert (status, out) == (3, "")
    assert "skipped line 1" in err and "no articles in" in err


def _seed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "pages"
    folder.mkdir()
    for p in (ROOT / "seeds").glob("*.txt"):
        (folder / p.name).write_bytes(p.read_bytes())
    return folder


def test_folder_entries_that_cannot_be_read_are_skipped_by_name(tmp_path, monkeypatch, capsys) -> None:
    folder = _seed_folder(tmp_path)
    (folder / "dangling.txt").symlink_to(folder / "missing")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "dir.txt").mkdir()
    os.mkfifo(folder / "pipe.txt")  # reading it would wait for a writer forever
    (folder / "locked.txt").write_text("some words")
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:  # the tests may run as root, whom chmod does not stop
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    status, out, err = _run(["cluster", str(folder), "--no-progress"], monkeypatch, capsys)
    assert status == 3
    assert _ids(out) == SEED_IDS
    assert "dangling.txt: cannot be read (No such file or directory); it is a symbolic link" in err
    assert "loop.txt: cannot be read (Too many levels of symbolic links)" in err
    assert "dir.txt: not a regular file" in err
    assert "pipe.txt: not a regular file" in err
    assert "locked.txt: cannot be read (Permission denied)" in err
    assert "dedup: 5 record(s) skipped" in err


def test_a_file_name_that_is_not_utf8_is_skipped(tmp_path, monkeypatch, capsys) -> None:
    folder = _seed_folder(tmp_path)
    (folder / os.fsdecode(b"caf\xe9.txt")).write_text("some words here")
    status, out, err = _run(["cluster", str(folder), "--no-progress"], monkeypatch, capsys)
    assert status == 3
    assert _ids(out) == SEED_IDS
    assert "caf\\udce9.txt: the file name is not valid UTF-8" in err


def test_stream_skips_bad_lines_and_failing_adds_and_goes_on(tmp_path, monkeypatch, capsys) -> None:
    seeds = _seed_lines()
    first = json.loads(seeds[0])
    lines = [
        seeds[0],
        b'{"id": "s", "text": "a \\ud800 text"}\n',  # would fail in the SQLite insert
        json.dumps({"id": first["id"], "text": "another text"}).encode() + b"\n",  # a failing add
        b"[" * 200_000 + b"]" * 200_000 + b"\n",
        b'{"id": "early", "text": "a text", "published_at": "0001-01-01T00:00+05:00"}\n',
        *seeds[1:],
    ]
    index = str(tmp_path / "x.sqlite")
    status, out, err = _run(["stream", "--index", index], monkeypatch, capsys, stdin=b"".join(lines))
    assert status == 3
    assert sorted(json.loads(line)["id"] for line in out.splitlines()) == SEED_IDS
    errors = [json.loads(line) for line in err.splitlines()]
    assert [(e["line"], e["error"]) for e in errors] == [
        (2, "InputError"),
        (3, "DuplicateIdError"),
        (4, "InvalidRecordError"),
        (5, "InputError"),
    ]
    assert "lone surrogate" in errors[0]["message"]


@pytest.mark.parametrize("error", [dedup.IndexLostError, dedup.StoreError, dedup.KernelInputError])
def test_stream_stops_when_the_index_fails_instead_of_skipping_every_line(error, tmp_path, monkeypatch, capsys) -> None:
    """A bad line is skipped; an index that fails (reset under the stream, a full disk) stops the
    stream with exit 2 and one message, instead of answering every line after with the error."""
    index = str(tmp_path / "x.sqlite")
    add = dedup.Deduplicator.add
    calls = []

    def failing(self, article, **kwargs):
        calls.append(article.id)
        if len(calls) == 3:
            raise error("the index failed")
        return add(self, article, **kwargs)

    monkeypatch.setattr(dedup.Deduplicator, "add", failing)
    status, out, err = _run(["stream", "--index", index], monkeypatch, capsys, stdin=b"".join(_seed_lines()))
    assert status == 2 and len(calls) == 3
    assert len(out.splitlines()) == 2 and err.strip() == "dedup: error: the index failed"
    monkeypatch.setattr(dedup.Deduplicator, "add", add)
    status, out, _ = _run(["stream", "--index", index], monkeypatch, capsys, stdin=b"".join(_seed_lines()))
    assert status == 0 and sum(json.loads(line)["already_indexed"] for line in out.splitlines()) == 2


def test_nul_characters_are_kept_through_the_sqlite_index(tmp_path, monkeypatch, capsys) -> None:
    seeds = [json.loads(line) for line in _seed_lines()]
    lines = [json.dumps({"id": s["id"] + "\x00", "text": s["text"].replace(" ", " \x00", 3)}) for s in seeds]
    index = str(tmp_path / "x.sqlite")
    assert _run(["stream", "--index", index], monkeypatch, capsys, stdin=lines[0].encode())[0] == 0
    status, out, _ = _run(["stream", "--index", index], monkeypatch, capsys, stdin=lines[2].encode())
    verdict = json.loads(out)
    assert status == 0
    assert (verdict["id"], verdict["copy_of"]) == (seeds[2]["id"] + "\x00", [seeds[0]["id"] + "\x00"])


def test_help_documents_the_exit_status(capsys) -> None:
    for argv in (["--help"], ["cluster", "--help"], ["stream", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        help_text = " ".join(capsys.readouterr().out.split())
        assert "exit status: 0" in help_text and "3 some" in help_text and "2 an error" in help_text


# -- output for people, and the members' source, url and title ------------------------------------
def _seed_text(stem_prefix: str) -> str:
    return next((ROOT / "seeds").glob(f"{stem_prefix}_*.txt")).read_text(encoding="utf-8")


def _story_file(tmp_path: Path) -> Path:
    """Three copies of one story (ids in the reverse of their time order), a pair, two singles."""
    story, other = _seed_text("000"), _seed_text("001")
    records = [
        {"id": "a-rewrite", "text": _seed_text("002"), "published_at": "2017-01-29T09:00:00+00:00"},
        {"id": "m-same", "text": story, "published_at": "2017-01-29T12:00:00+00:00", "source": "Echo"},
        {
            "id": "z-first",
            "text": story,
            "published_at": "2017-01-29T08:00:00+00:00",
            "source": "Wire Daily",
            "url": "https://wire.example/a",
            "title": "Putin and Trump agree",
        },
        {"id": "b-pair", "text": other, "title": "The third call"},
        {"id": "c-pair", "text": other.replace("\n", "\n\n")},
        {"id": "d-single", "text": _seed_text("003")},
        {"id": "e-single", "text": _seed_text("004"), "source": "Gulf Post"},
    ]
    path = tmp_path / "stories.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _blocks(table: str) -> list[list[str]]:
    """The table's clusters: the lines of each, the summary line left out."""
    return [block.splitlines() for block in table.strip().split("\n\n")[1:]]


def test_table_lists_large_clusters_first_and_the_earliest_member_first(tmp_path, monkeypatch, capsys) -> None:
    status, out, _ = _run(["cluster", str(_story_file(tmp_path)), "--format", "table"], monkeypatch, capsys)
    assert status == 0
    assert out.startswith("4 clusters: 2 with copies (5 articles), 2 single articles\n")
    one = [dedup.Article(id="only", text="A single article of its own, with words enough to count.")]
    buffer = io.StringIO()
    write_table(dedup.cluster(one), buffer)
    assert buffer.getvalue().startswith("1 cluster: 0 with copies (0 articles), 1 single article\n")
    blocks = _blocks(out)
    assert [block[0].split("  ")[1] for block in blocks] == ["3 articles", "2 articles", "1 article", "1 article"]
    members = [line.split()[:2] for line in blocks[0][1:] if not line.startswith((" " * 10, "  grouped by"))]
    # the earliest first, then the closest copy (same text, though later), then the rewrite
    assert members == [["earliest", "z-first"], ["same_text", "m-same"], ["rewritten", "a-rewrite"]]
    assert blocks[0][1].endswith("z-first  2017-01-29 08:00 UTC")


def test_table_says_the_evidence_once(tmp_path, monkeypatch, capsys) -> None:
    _, out, _ = _run(["cluster", str(_story_file(tmp_path)), "--format", "table"], monkeypatch, capsys)
    header = _blocks(out)[0][0]
    assert header.endswith(
        "3 articles  earliest z-first: earliest publication time given with the article "
        "(published_at: the caller's, or the page's metadata)"
    )
    assert out.count("published_at") == 1  # the one cluster whose earliest was told by its time


def test_table_shows_sources_titles_urls_and_the_opening_words_of_untitled_texts(tmp_path, monkeypatch, capsys) -> None:
    _, out, _ = _run(["cluster", str(_story_file(tmp_path)), "--format", "table"], monkeypatch, capsys)
    blocks = {block[0].split()[0]: "\n".join(block) for block in _blocks(out)}
    story = next(b for b in blocks.values() if "z-first" in b)
    assert "Wire Daily · Putin and Trump agree" in story and "https://wire.example/a" in story
    opening = " ".join(_seed_text("000").split())[:40]
    assert f'Echo · "{opening}' in story  # no title: the opening words of its text
    single = next(b for b in blocks.values() if "e-single" in b)
    assert "Gulf Post · " in single and " ".join(_seed_text("004").split())[:40] in single


def test_table_of_a_folder_shows_the_opening_words(capsys) -> None:
    assert main(["cluster", str(ROOT / "seeds"), "--format", "table", "--no-progress"]) == 0
    assert " ".join(_seed_text("003").split())[:40] in capsys.readouterr().out


def test_the_table_shows_control_characters_of_ids_and_titles_as_escapes(tmp_path, monkeypatch, capsys) -> None:
    """A crawled title cannot move the terminal's cursor, clear its screen or fake a line."""
    text = _seed_text("000")
    given = tmp_path / "hostile.jsonl"
    rows = [
        {
            "id": "ev\x1b[2J\x1b]0;pwned\x07il",
            "text": text,
            "title": "t\x1b[31mRED\r\nfake line",
            "source": "s\u2028x\u202egnp.exe",
        },
        {"id": "b", "text": text},
    ]
    given.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    status, out, _ = _run(["cluster", str(given), "--format", "table", "--no-progress"], monkeypatch, capsys)
    assert status == 0
    assert not set(out) & {chr(c) for c in [*range(32), *range(127, 160), 0x2028, 0x2029, 0x202E]} - {"\n"}
    assert "ev\\x1b[2J\\x1b]0;pwned\\x07il" in out and "t\\x1b[31mRED\\x0d\\x0afake line" in out
    assert "s\\u2028x\\u202egnp.exe" in out  # (a direction override: the rest would read backwards)


def test_jsonl_members_keep_source_url_and_title_when_given(tmp_path, monkeypatch, capsys) -> None:
    _, out, _ = _run(["cluster", str(_story_file(tmp_path))], monkeypatch, capsys)
    members = {m["id"]: m for line in out.splitlines() for m in json.loads(line)["members"]}
    first = members["z-first"]
    assert (first["source"], first["url"], first["title"]) == (
        "Wire Daily",
        "https://wire.example/a",
        "Putin and Trump agree",
    )
    assert members["m-same"]["source"] == "Echo" and "title" not in members["m-same"]
    assert not {"source", "url", "title"} & set(members["a-rewrite"])


# -- the same options everywhere: FILE, -o, --config, folders, progress -------------------------
def test_stream_reads_a_file_and_writes_to_output(tmp_path, monkeypatch, capsys) -> None:
    data = b"".join(_seed_lines())
    (tmp_path / "in.jsonl").write_bytes(data)
    out_file = tmp_path / "verdicts.jsonl"
    status, out, err = _run(["stream", str(tmp_path / "in.jsonl"), "-o", str(out_file)], monkeypatch, capsys)
    assert (status, out, err) == (0, "", "")
    from_file = out_file.read_text(encoding="utf-8")
    status, from_stdin, _ = _run(["stream", "-"], monkeypatch, capsys, stdin=data)
    assert status == 0 and from_file == from_stdin
    assert [json.loads(line)["id"] for line in from_file.splitlines()] == SEED_IDS


def test_stream_leaves_its_startup_objects_out_of_later_collections(tmp_path, monkeypatch, capsys) -> None:
    """After the first article (which loads the kernels) the objects made so far are frozen, and
    the survivors of each full collection after them (``short_gc_pauses``), so that no later full
    collection walks them in the middle of an answer; they are put back when the command ends."""
    import gc

    seen: list[tuple[str, int]] = []
    freeze, unfreeze = gc.freeze, gc.unfreeze
    monkeypatch.setattr(gc, "freeze", lambda: (seen.append(("freeze", len(out_file.read_text()))), freeze()))
    monkeypatch.setattr(gc, "unfreeze", lambda: (seen.append(("unfreeze", 0)), unfreeze()))
    (tmp_path / "in.jsonl").write_bytes(b"".join(_seed_lines()))
    out_file = tmp_path / "verdicts.jsonl"
    callbacks = list(gc.callbacks)
    status, _, _ = _run(["stream", str(tmp_path / "in.jsonl"), "-o", str(out_file)], monkeypatch, capsys)
    # (a full collection during the stream freezes its survivors too)
    assert status == 0 and {what for what, _ in seen[:-1]} == {"freeze"} and seen[-1][0] == "unfreeze"
    first_verdict = len(out_file.read_text().splitlines()[0]) + 1
    assert seen[0][1] == first_verdict  # frozen once the first verdict is written, not before
    assert gc.get_freeze_count() == 0 and gc.callbacks == callbacks
    seen.clear()  # no article: nothing frozen, nothing put back
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert _run(["stream", str(tmp_path / "empty.jsonl"), "-o", str(out_file)], monkeypatch, capsys)[0] == 0
    assert seen == []
    freeze()  # a caller that froze its own objects keeps them frozen
    try:
        assert _run(["stream", str(tmp_path / "in.jsonl"), "-o", str(out_file)], monkeypatch, capsys)[0] == 0
        assert seen == [] and gc.get_freeze_count() > 0  # (less the frozen objects freed meanwhile)
    finally:
        unfreeze()


def test_stream_of_a_missing_file_or_a_folder_is_a_clean_error(tmp_path, monkeypatch, capsys) -> None:
    status, _, err = _run(["stream", str(tmp_path / "nope.jsonl")], monkeypatch, capsys)
    assert status == 2 and "no such file" in err
    status, _, err = _run(["stream", str(tmp_path)], monkeypatch, capsys)
    assert status == 2 and "is a folder" in err and "dedup cluster" in err


def test_cluster_writes_to_output(tmp_path, monkeypatch, capsys) -> None:
    out_file = tmp_path / "clusters.jsonl"
    status, out, _ = _run(["cluster", str(ROOT / "seeds"), "-o", str(out_file), "--no-progress"], monkeypatch, capsys)
    assert (status, out) == (0, "")
    assert _ids(out_file.read_text(encoding="utf-8")) == SEED_IDS


@pytest.mark.parametrize("command", ["cluster", "stream"])
@pytest.mark.parametrize("form", ["part", "whole"])
def test_config_file_is_read_by_cluster_and_stream(command, form, tmp_path, monkeypatch, capsys) -> None:
    from dedup import DedupConfig
    from dedup.stores.sqlite import config_to_json

    config = tmp_path / "config.json"
    # a limit every seed text is over: each is refused, which the defaults would not do
    if form == "part":
        config.write_text('{"max_chars": 50}')
    else:  # the whole DedupConfig, as dedup spark --config reads it
        config.write_text(config_to_json(DedupConfig(max_chars=50)))
    (tmp_path / "in.jsonl").write_bytes(b"".join(_seed_lines()))
    argv = [command, str(tmp_path / "in.jsonl"), "--config", str(config)]
    status, out, err = _run(argv, monkeypatch, capsys)
    assert status == 3 and out == ""
    assert err.count("ArticleTooLargeError") == len(SEED_IDS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"minhash": {"treshold": 0.6}}', "unknown setting(s) treshold in minhash"),
        ('{"minhsh": {}}', "unknown section 'minhsh'"),
        ('{"minhash": {"threshold": 2}}', "threshold"),
        ("{oops", "invalid JSON"),
    ],
)
def test_a_bad_config_file_is_a_clean_error(text, message, tmp_path, monkeypatch, capsys) -> None:
    config = tmp_path / "config.json"
    config.write_text(text)
    status, out, err = _run(["cluster", str(ROOT / "seeds"), "--config", str(config)], monkeypatch, capsys)
    assert (status, out) == (2, "")
    assert err.startswith(f"dedup: error: --config {config}: ") and message in err
    assert "Traceback" not in err


def test_a_folder_of_jsonl_files_is_read_in_name_order(tmp_path, monkeypatch, capsys) -> None:
    lines = _seed_lines()
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "b.jsonl").write_bytes(
        lines[2] + b"{broken\n" + lines[3] + b'{"id": 1.5, "text": "t"}\n' + lines[4].rstrip(b"\n")
    )
    (folder / "a.jsonl").write_bytes(lines[0] + lines[1])
    (folder / "notes.md").write_text("not an article")
    status, out, err = _run(["cluster", str(folder), "--no-progress"], monkeypatch, capsys)
    assert status == 3
    assert _ids(out) == SEED_IDS
    assert "b.jsonl line 2: invalid JSON" in err
    # a message that does not name its line is given its file and line
    assert "dedup: skipped: InputError: b.jsonl line 4: Article id must be a non-empty string, got 1.5" in err


def test_output_naming_a_file_the_command_reads_is_refused_and_the_file_kept(tmp_path, monkeypatch, capsys) -> None:
    given = tmp_path / "articles.jsonl"
    given.write_bytes(b"".join(_seed_lines()))
    before = given.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(given)
    for argv in (
        ["cluster", str(given), "-o", str(given)],
        ["cluster", str(given), "-o", str(link)],
        ["stream", str(given), "-o", str(link)],
        ["stream", str(given), "--index", str(tmp_path / "new.db"), "-o", str(tmp_path / "new.db")],
    ):
        status, _, err = _run([*argv, "--no-progress"] if argv[0] == "cluster" else argv, monkeypatch, capsys)
        assert status == 2, argv
        assert "this command reads: writing it would erase it; give another -o" in err
        assert given.read_bytes() == before
    assert not (tmp_path / "new.db").exists()


def test_output_that_is_no_file_read_is_written(tmp_path, monkeypatch, capsys) -> None:
    """Ids named like a file, and a device both read and written, are no input file to keep."""
    given = tmp_path / "articles.jsonl"
    lines = _seed_lines()
    given.write_bytes(lines[0] + lines[2])
    a, b = (json.loads(line)["id"] for line in (lines[0], lines[2]))
    monkeypatch.chdir(tmp_path)
    Path(a).write_text("an old report")
    status, _, err = _run(["explain", a, b, "--jsonl", str(given), "-o", a], monkeypatch, capsys)
    assert status == 0, err
    assert Path(a).read_text() != "an old report"
    status, _, err = _run(["cluster", os.devnull, "-o", os.devnull, "--no-progress"], monkeypatch, capsys)
    assert "writing it would erase it" not in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_output_that_cannot_be_written_is_a_clean_error() -> None:
    """-o on a full disk, and standard output on one."""
    command = [sys.executable, "-m", "dedup", "cluster", str(ROOT / "seeds"), "--no-progress"]
    with open("/dev/full", "wb") as full:
        runs = [
            subprocess.run([*command, "-o", "/dev/full"], capture_output=True, text=True, check=False),
            subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True, check=False),
        ]
    for child in runs:
        assert child.returncode == 2, child.stderr
        assert child.stderr.strip() == (
            "dedup: error: the output cannot be written (No space left on device); free some space or write "
            "it elsewhere with -o"
        )


def test_ctrl_c_ends_a_command_with_a_line_not_a_traceback(monkeypatch, capsys) -> None:
    from dedup import api

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "clusters_of", interrupted)
    status, out, err = _run(["cluster", str(ROOT / "seeds"), "--no-progress"], monkeypatch, capsys)
    assert (status, out, err) == (130, "", "dedup: interrupted\n")


def test_a_folder_of_text_files_is_read_whatever_the_case_of_their_suffix(tmp_path, monkeypatch, capsys) -> None:
    folder = tmp_path / "upper"
    folder.mkdir()
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    for path, name in zip(seeds[:3], ("a.TXT", "b.Txt", "c.txt"), strict=True):
        (folder / name).write_bytes(path.read_bytes())
    status, out, _ = _run(["cluster", str(folder), "--no-progress"], monkeypatch, capsys)
    assert status == 0
    assert _ids(out) == ["a", "b", "c"]


def test_a_folder_of_html_pages_is_read(tmp_path, monkeypatch, capsys) -> None:
    pytest.importorskip("trafilatura", reason="the [html] extra is not installed")
    from pages import page

    folder = tmp_path / "pages"
    folder.mkdir()
    story = _seed_text("000")
    (folder / "first.html").write_text(page("Talks", story, date="2017-01-29T08:00:00+00:00"), encoding="utf-8")
    (folder / "copy.html").write_text(page("Talks", story, date="2017-01-30T08:00:00+00:00"), encoding="utf-8")
    (folder / "empty.html").write_text("<html><body></body></html>")
    status, out, err = _run(["cluster", str(folder), "--no-progress"], monkeypatch, capsys)
    assert status == 3 and "empty.html" in err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["earliest"], sorted(m["id"] for m in r["members"])) for r in rows] == [("first", ["copy", "first"])]
    assert rows[0]["members"][0]["title"] == "Talks"


def test_a_folder_of_html_pages_without_the_extra_says_how_to_install_it(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "a.html").write_text("<html><body><p>words</p></body></html>")
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # import trafilatura raises ImportError
    status, out, err = _run(["cluster", str(tmp_path)], monkeypatch, capsys)
    assert (status, out) == (2, "")
    assert "MissingExtraError" not in err and "html extra" in err and "pip install" in err


def test_a_folder_of_other_files_is_an_error_not_zero_clusters(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "a.csv").write_text("id,text\n")
    status, out, err = _run(["cluster", str(tmp_path)], monkeypatch, capsys)
    assert (status, out) == (2, "")
    assert "none of its 1 entries is a .txt, .jsonl or .html file (it holds .csv)" in err


def test_progress_off_a_terminal_writes_no_control_codes(tmp_path) -> None:
    (tmp_path / "in.jsonl").write_bytes(b"".join(_seed_lines()))
    for command in ("cluster", "stream"):
        run = subprocess.run(
            [sys.executable, "-m", "dedup", command, str(tmp_path / "in.jsonl"), "--progress"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "\r" not in run.stderr and "\x1b" not in run.stderr
        last = run.stderr.splitlines()[-1]  # the summary; a slow machine writes a line every few seconds before it
        assert last.startswith("dedup: 5 articles")
    assert "5 articles, 1 copies found, 0 bad lines, " in last and last.endswith(" articles/s")


def test_progress_on_a_terminal_is_rewritten_in_place(monkeypatch) -> None:
    from dedup.fronts.cli import ProgressLines

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = ProgressLines(screen)
    progress.started -= 1.0  # the first update is due
    progress.last -= 1.0
    progress.update("read 10")
    progress.finish("done")
    assert screen.getvalue() == "\rdedup: read 10\x1b[K\rdedup: done\x1b[K\n"


def test_progress_off_a_terminal_is_a_plain_line_every_few_seconds(monkeypatch) -> None:
    from dedup.fronts.cli import ProgressLines

    log = io.StringIO()
    progress = ProgressLines(log, every=10.0)
    progress.update("too soon")
    progress.last -= 10.0
    progress.update("read 10")
    progress.finish("done")
    assert log.getvalue() == "dedup: read 10\ndedup: done\n"


def test_stream_progress_shows_the_index_read_back(tmp_path, monkeypatch, capsys) -> None:
    """``dedup stream --index --progress`` on a file without a saved state (a crawler that was
    killed) says how far reading it back has come, then how long it took."""
    from dedup.fronts.cli import ProgressLines

    (tmp_path / "in.jsonl").write_bytes(b"".join(_seed_lines()))
    index = tmp_path / "crawl.sqlite"
    status, _, err = _run(["stream", str(tmp_path / "in.jsonl"), "--index", str(index)], monkeypatch, capsys)
    assert status == 0, err
    Path(f"{index}.state").unlink()
    monkeypatch.setattr(ProgressLines, "update", ProgressLines._write)  # every update due at once
    status, _, err = _run(["stream", "-", "--index", str(index), "--progress"], monkeypatch, capsys)
    assert status == 0, err
    lines = err.splitlines()
    assert lines[:5] == [f"dedup: reading the index back: {n} of 5 articles" for n in range(1, 6)]
    assert lines[5].startswith("dedup: read the index back: 5 articles in ") and lines[5].endswith(" s")


def test_progress_that_waits_says_nothing_of_quick_work() -> None:
    from dedup.fronts.cli import ProgressLines

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = ProgressLines(screen, quiet_for=2.0)
    progress.update("read 1")
    assert screen.getvalue() == "" and not progress.shown
    progress.last -= 2.0  # two seconds later
    progress.update("read 10")
    assert screen.getvalue() == "\rdedup: read 10\x1b[K" and progress.shown


def test_a_first_run_says_that_it_compiles_the_kernels(tmp_path) -> None:
    """With numba's cache empty the run compiles the kernels, and says so on standard error before
    the wait (the test stops the run there)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    with subprocess.Popen(
        [sys.executable, "-m", "dedup", "cluster", str(ROOT / "seeds"), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as run:
        try:
            assert run.stderr is not None
            first_line = run.stderr.readline()
        finally:
            run.kill()
    assert (
        first_line
        == "dedup: compiling the text kernels once for this installation (up to a minute); later runs start at once\n"
    )


def test_a_run_with_the_kernels_cached_says_nothing_about_compiling() -> None:
    def run() -> str:
        return subprocess.run(
            [sys.executable, "-m", "dedup", "cluster", str(ROOT / "seeds"), "--format", "table", "--no-progress"],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stderr

    run()  # fills numba's cache if it is empty
    assert "compil" not in run()


@pytest.mark.slow
def test_ctrl_c_during_cluster_ends_it_cleanly_wherever_it_comes(tmp_path) -> None:
    """Ctrl-C at any moment of `dedup cluster` ends it with `dedup: interrupted` and exit 130,
    never with a traceback or a crash: raised inside a compiled kernel's call, the interrupt came
    out of numba as a SystemError or brought the process down. The signals fall between the end
    of the start-up (before it, Python's own handling applies) and the end of an uninterrupted run."""
    import random
    import signal
    import time

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import generate

    path = tmp_path / "articles.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for r in generate.generate(6000, 4):
            fh.write(json.dumps({k: r[k] for k in ("id", "text", "published_at", "source") if r.get(k)}) + "\n")
    command = [sys.executable, "-m", "dedup", "cluster", str(path), "-o", str(tmp_path / "out.jsonl")]

    def as_in_a_terminal() -> None:  # (a run started in the background inherits Ctrl-C ignored)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    whole = time.perf_counter() - started
    rng = random.Random(7)
    outcomes = []
    for _ in range(12):
        run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=as_in_a_terminal)
        time.sleep(rng.uniform(0.8, max(0.9, 0.9 * whole)))
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=300)
        outcomes.append((run.returncode, err.decode(errors="replace")[-300:]))
    for status, err in outcomes:
        assert (status == 130 and err.strip().endswith("dedup: interrupted")) or status == 0, (status, err)
    assert sum(status == 130 for status, _ in outcomes) >= 6, (whole, outcomes)


def test_a_parquet_or_compressed_file_is_named_for_what_it_is(tmp_path, monkeypatch, capsys) -> None:
    """Given where JSON Lines are expected, a Parquet, gzip or zip file is refused at once with
    what to do, instead of each of its lines being skipped as a bad record."""
    import gzip
    import zipfile

    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    rows = [json.loads(line) for line in _seed_lines()]
    parquet = tmp_path / "articles.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    packed = tmp_path / "articles.jsonl.gz"
    packed.write_bytes(gzip.compress(b"".join(_seed_lines())))
    archive = tmp_path / "articles.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("articles.jsonl", b"".join(_seed_lines()))
    for path, what in (
        (parquet, "a Parquet file: read it with pyarrow.parquet"),
        (packed, "gzip-compressed"),
        (archive, "a zip archive"),
    ):
        for command in ("cluster", "stream"):
            status, out, err = _run([command, str(path)], monkeypatch, capsys)
            assert status == 2 and out == "" and err.startswith(f"dedup: error: {path}: is {what}"), err
        with pytest.raises(dedup.InputError, match=what):
            dedup.cluster(str(path))
    for command in ("cluster", "stream"):  # given on standard input: named so
        status, out, err = _run([command, "-"], monkeypatch, capsys, stdin=packed.read_bytes())
        assert status == 2 and err.startswith("dedup: error: standard input: is gzip-compressed"), err
    assert len(dedup.cluster(pq.read_table(parquet))) == 4  # what the message says works


def test_stream_save_state_saves_the_memory_between_lines_and_goes_on_when_it_cannot(
    tmp_path, monkeypatch, capsys
) -> None:
    from dedup.runners.stream import state

    saved: list[bool] = []
    real_save = dedup.Deduplicator.save_state

    def counted(self):
        path = real_save(self)
        saved.append(path.read_bytes().endswith(b"dedup-state-interim"))
        return path

    monkeypatch.setattr(dedup.Deduplicator, "save_state", counted)
    index = str(tmp_path / "crawl.sqlite")
    argv = ["stream", "--index", index, "--save-state", "0.00001", "--no-progress"]
    status, out, err = _run(argv, monkeypatch, capsys, stdin=b"".join(_seed_lines()))
    assert status == 0, err
    assert saved == [True] * len(_seed_lines())  # (one after each line: every line takes longer)
    monkeypatch.setattr(dedup.Deduplicator, "save_state", real_save)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state, "save", full)
    status, out, err = _run(argv, monkeypatch, capsys, stdin=b"".join(_seed_lines()))
    assert status == 0
    assert len(out.splitlines()) == len(_seed_lines())
    assert "dedup: warning: could not save the state beside" in err
    assert "No space left on device" in err
    assert f"dedup: could not save the state of the index {index} as it closed" in err  # (the close's too)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--index", "x.sqlite", "--save-state", "0"], "positive number of minutes"),
        (["--index", "x.sqlite", "--save-state", "nan"], "positive number of minutes"),
        (["--index", "x.sqlite", "--save-state", "1e308"], "positive number of minutes"),
        (["--save-state", "5"], "give the index as a SQLite file"),
        (["--index", "redis://127.0.0.1:1/0", "--save-state", "5"], "a Redis worker reads its window"),
    ],
)
def test_stream_save_state_needs_minutes_and_an_index_file(args, message, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    status, _, err = _run(["stream", *args], monkeypatch, capsys, stdin=b"".join(_seed_lines()))
    assert status == 2
    assert message in err
    assert not (tmp_path / "x.sqlite").exists()


def test_state_saving_waits_its_minutes_from_the_last_save_or_failure(tmp_path, monkeypatch) -> None:
    from dedup.fronts.saving import StateSaving

    now = [0.0]
    told: list[str] = []
    saving = StateSaving(
        2,
        str(tmp_path / "crawl.sqlite"),
        told.append,
        setting="--save-state",
        index_example="--index crawl.sqlite",
        clock=lambda: now[0],
    )
    with dedup.Deduplicator.open(tmp_path / "crawl.sqlite") as d:
        assert not saving.due(d)
        now[0] = 119.0
        assert not saving.due(d)
        now[0] = 120.0
        assert saving.due(d)
        now[0] = 200.0
        assert not saving.due(d)  # (two minutes from the save at 120 s)
        now[0] = 240.0
        d._interrupted = "KeyboardInterrupt"  # the memory may be out of step: not saved, and told
        assert not saving.due(d)
        assert told and "a call was interrupted" in told[0]
        now[0] = 300.0
        assert not saving.due(d) and len(told) == 1  # (two minutes from the failure at 240 s)
        d._interrupted = None
        real_save = dedup.Deduplicator.save_state

        def slow_save(self):
            now[0] += 13.0  # (more than a tenth of the two minutes)
            return real_save(self)

        monkeypatch.setattr(dedup.Deduplicator, "save_state", slow_save)
        for at in (360.0, 500.0):
            now[0] = at
            assert saving.due(d)
        assert len(told) == 2 and "took 13.0 s, more than a tenth of the 2 minutes" in told[1]
        assert "give --save-state more minutes" in told[1]  # (told once)
