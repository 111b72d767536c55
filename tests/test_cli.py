import json
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
