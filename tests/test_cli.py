import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dedup.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_every_command_has_help(capsys) -> None:
    for argv in (["--help"], ["cluster", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
        assert "usage:" in capsys.readouterr().out


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
