"""Fault injection on the SQLite index: damaged files are refused or answer exactly as before, and a
writer killed at any moment loses no acknowledged article.

Both suites run the index in child processes: a damaged file could crash SQLite or numpy natively,
and a kill -9 needs a process to kill. ``DEDUP_FAULT_CASES`` and ``DEDUP_KILL_RUNS`` make the runs
bigger by hand (with ``DEDUP_KILL_ARTICLES`` for the writer to add).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

import dedup
from writers import WRITER

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import generate  # noqa: E402

# Child processes damaged and killed in a loop (`pytest -m "not slow"` leaves them out).
pytestmark = pytest.mark.slow

CORRUPTION_CASES = int(os.environ.get("DEDUP_FAULT_CASES", "50"))
KILL_RUNS = int(os.environ.get("DEDUP_KILL_RUNS", "8"))
KILL_ARTICLES = int(os.environ.get("DEDUP_KILL_ARTICLES", "300"))  # 20 added per run on average


def _answers(d: dedup.Deduplicator) -> dict[str, object]:
    """What an index answers: its articles, and each cluster's members and earliest source."""
    return {
        "ids": sorted(d),
        "clusters": sorted([list(c.member_ids), c.earliest] for c in d.clusters()),
    }


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def _child(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
    )


# -- damaged files ----------------------------------------------------------------------------------

OPEN_DAMAGED = textwrap.dedent(
    """
    import json, sys, traceback
    import dedup
    for path in sys.argv[1:]:
        try:
            with dedup.Deduplicator.open(path) as d:
                answers = {"ids": sorted(d), "clusters": sorted([list(c.member_ids), c.earliest] for c in d.clusters())}
            out = {"path": path, "outcome": "opened", "answers": answers}
        except dedup.StoreError as exc:
            out = {"path": path, "outcome": "refused", "error": type(exc).__name__, "message": str(exc)}
        except BaseException as exc:
            out = {"path": path, "outcome": "raw", "error": type(exc).__name__, "message": traceback.format_exc()}
        print(json.dumps(out), flush=True)
    """
)


def _blob_offsets(data: bytes, blobs: list[bytes]) -> list[int]:
    """Where the first bytes of each article's arrays lie in the file."""
    found = []
    for blob in blobs:
        at = data.find(blob[:64])
        if at >= 0:
            found.append(at)
    return found


def _damage(clean: bytes, blob_at: list[int], rng: random.Random, case: int) -> tuple[str, bytes]:
    """One damaged copy of the file: how it was damaged, and its bytes."""
    data = bytearray(clean)
    kind = ["overwrite 4 KB", "overwrite a page", "truncate", "flip a byte", "flip a byte of arrays"][case % 5]
    if case == 0:
        return "empty", b""
    if kind == "overwrite 4 KB":
        start = rng.randrange(0, len(data) - 4096)
        data[start : start + 4096] = rng.randbytes(4096)
    elif kind == "overwrite a page":
        start = rng.randrange(0, len(data) // 4096) * 4096
        data[start : start + 4096] = rng.randbytes(4096)
    elif kind == "truncate":
        data = data[: rng.randrange(1, len(data))]
    else:
        at = rng.randrange(len(data)) if kind == "flip a byte" else rng.choice(blob_at) + rng.randrange(64)
        data[at] ^= 1 << rng.randrange(8)
    return kind, bytes(data)


def test_a_damaged_index_is_refused_or_answers_exactly_as_before(tmp_path: Path) -> None:
    clean = tmp_path / "clean.sqlite"
    records = generate.generate(60, 5)
    with dedup.Deduplicator.open(clean) as d:
        for r in records:
            d.add(dedup.Article(id=r["id"], text=r["text"]))
        expected = _answers(d)
    assert any(len(members) > 1 for members, _ in expected["clusters"])  # type: ignore[union-attr]
    with closing(sqlite3.connect(clean)) as db:
        blobs = [row[0] for row in db.execute("SELECT arrays FROM articles")]
    data = clean.read_bytes()
    blob_at = _blob_offsets(data, blobs)
    assert blob_at
    rng = random.Random(20240601)
    cases: dict[str, str] = {}
    for case in range(CORRUPTION_CASES):
        kind, damaged = _damage(data, blob_at, rng, case)
        folder = tmp_path / f"case{case}"
        folder.mkdir()
        (folder / "index.sqlite").write_bytes(damaged)
        cases[str(folder / "index.sqlite")] = kind
    run = _child(OPEN_DAMAGED, *cases, timeout=300)
    assert run.returncode == 0, f"the child crashed: {run.returncode}\n{run.stderr[-3000:]}"
    outcomes = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(outcomes) == len(cases)
    tally: dict[str, int] = {}
    for out in outcomes:
        kind, outcome = cases[out["path"]], out["outcome"]
        tally[f"{kind}: {outcome}"] = tally.get(f"{kind}: {outcome}", 0) + 1
        assert outcome != "raw", f"{kind}: a raw {out['error']} escaped:\n{out['message']}"
        if outcome == "refused":
            assert out["path"] in out["message"], out["message"]
            assert "left as it is" in out["message"] or "not a dedup index" in out["message"], out["message"]
        else:
            assert out["answers"] == expected, f"{kind}: the damaged index opened and answers differently"
    print("damaged files:", json.dumps(dict(sorted(tally.items()))))
    assert tally.get("empty: refused") == 1
    assert sum(n for k, n in tally.items() if k.endswith("refused")) >= len(cases) // 2


@pytest.mark.parametrize("byte", [18, 19])
def test_a_header_that_sqlite_can_only_read_is_damage_not_permissions(tmp_path: Path, byte: int) -> None:
    """A file format version SQLite does not write or read (a flipped bit of the header; one it
    cannot write makes SQLite open the file read-only): the error says the file is damaged, not
    that it should be made writable."""
    path = tmp_path / "index.sqlite"
    with dedup.Deduplicator.open(path) as d:
        d.add(dedup.Article(id="a", text="Words enough to make an article of its own, and a second sentence."))
    data = bytearray(path.read_bytes())
    data[byte] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(dedup.StoreCorruptError, match="damaged") as caught:
        dedup.Deduplicator.open(path)
    assert "writable" not in str(caught.value)


# -- killed writers ---------------------------------------------------------------------------------


def _run_writer(index: Path, data: Path, kill: tuple[float, int] | None) -> tuple[list[str], bool]:
    """Run the writer and SIGKILL it ``kill[0]`` seconds after it starts or, with ``kill[1]`` > 0,
    after its ``kill[1]``-th acknowledgement; None lets it finish. The ids it acknowledged, and
    whether it finished."""
    acked: list[str] = []
    finished = threading.Event()
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(index), str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    ) as child:
        assert child.stdout is not None

        def read() -> None:
            for line in child.stdout:  # type: ignore[union-attr]
                if line.startswith("ack ") and line.endswith("\n"):  # a line cut by the kill is no ack
                    acked.append(line.split()[1])
                elif line.startswith("done"):
                    finished.set()

        reader = threading.Thread(target=read)
        reader.start()
        if kill is not None:
            delay, after = kill
            while after and len(acked) < after and child.poll() is None:
                time.sleep(0.001)
            time.sleep(delay)
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=120)
        reader.join(timeout=10)
        stderr = child.stderr.read() if child.stderr else ""
    assert child.returncode in (0, -signal.SIGKILL), stderr[-3000:]
    return acked, finished.is_set()


def test_a_writer_killed_at_any_moment_loses_no_acknowledged_article(tmp_path: Path) -> None:
    records = generate.generate(KILL_ARTICLES, 11)
    data = tmp_path / "in.jsonl"
    _write_jsonl(data, records)
    index = tmp_path / "index.sqlite"
    rng = random.Random(7)
    acknowledged: set[str] = set()
    kills = lost = 0
    present = 0
    for run in range(KILL_RUNS):
        # one run in four is killed while it starts (importing, creating or reading the index), the
        # others a few milliseconds after one of their next 40 new articles is acknowledged (the
        # writer first acknowledges again the ones already indexed)
        at_start = run % 4 == 3
        kill = (rng.uniform(0.5, 2.0), 0) if at_start else (rng.uniform(0.0, 0.005), present + rng.randint(1, 40))
        acked, finished = _run_writer(index, data, kill)
        kills += not finished
        acknowledged.update(acked)
        with dedup.Deduplicator.open(index) as d:
            lost += len(acknowledged - set(d))
            present = len(d)
        assert lost == 0
        if finished:
            break
    assert kills >= 1 and acknowledged
    _, finished = _run_writer(index, data, None)
    assert finished
    with dedup.Deduplicator.open(index) as d:
        assert set(d) == {r["id"] for r in records}
        reloaded = _answers(d)
    clean = dedup.Deduplicator()
    for r in records:
        clean.add(dedup.Article(id=r["id"], text=r["text"]))
    assert reloaded == _answers(clean)
    print(f"killed writers: runs={kills} acknowledged={len(acknowledged)} lost={lost}")


def test_a_new_index_is_refused_where_a_deleted_one_left_its_log(tmp_path: Path) -> None:
    """A writer killed leaves its last articles in SQLite's log (``-wal``); a user who then deletes
    the index file to start again would get a new file with that log applied to it (the deleted
    articles back, or a damaged file). Opening there is refused, naming the log, until it is
    deleted too; then a new, empty index opens."""
    index = tmp_path / "crawl.sqlite"
    killed = _child(
        "import os, sys, dedup\n"
        "d = dedup.Deduplicator.open(sys.argv[1])\n"
        "for i in range(20):\n"
        "    d.add(dedup.Article(id=f'a{i}', text=f'Story {i}: the council met on Monday about the bridge. ' * 4))\n"
        "os._exit(0)\n",
        str(index),
    )
    assert killed.returncode == 0, killed.stderr
    log = tmp_path / "crawl.sqlite-wal"
    assert log.stat().st_size > 0
    index.unlink()
    with pytest.raises(dedup.StoreError, match=r"no index file there, but crawl\.sqlite-wal is") as refused:
        dedup.Deduplicator.open(index)
    assert "delete crawl.sqlite-wal" in str(refused.value)
    assert not index.exists() and log.stat().st_size > 0  # nothing created, the log left as it was
    log.unlink()
    (tmp_path / "crawl.sqlite-shm").unlink(missing_ok=True)
    with dedup.Deduplicator.open(index) as d:
        assert len(d) == 0
        d.add(dedup.Article(id="new", text="A new crawl begins with this article about the harbour. " * 4))
    with dedup.Deduplicator.open(index) as d:
        assert sorted(d) == ["new"]


FILE_SIZE_LIMIT = textwrap.dedent(
    """
    import json, resource, sys
    import dedup
    path, lines = sys.argv[1], open(sys.argv[2], encoding="utf-8").read().splitlines()
    articles = [dedup.Article(**json.loads(line)) for line in lines]
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    added, refused = 0, None
    with dedup.Deduplicator.open(path) as d:
        d.add(articles[0])
        resource.setrlimit(resource.RLIMIT_FSIZE, (24 << 20, hard))  # the file may grow to 24 MB
        for a in articles[1:]:
            try:
                d.add(a)
                added += 1
            except dedup.StoreError as exc:
                refused = exc
                break
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # room again: the index goes on
        d.add(a)
        print(json.dumps({"added": added, "error": type(refused).__name__, "message": str(refused), "size": len(d)}))
    """
)


def test_a_file_size_limit_is_reported_as_the_index_being_full(tmp_path: Path) -> None:
    """A write the system refuses past the process's file size limit (SQLite says only "disk I/O
    error") is a StoreFullError naming the limit, and the index goes on once there is room."""
    source = tmp_path / "articles.jsonl"
    with source.open("w", encoding="utf-8") as fh:
        for r in generate.generate(2500, 3):
            fh.write(json.dumps({"id": r["id"], "text": r["text"]}) + "\n")
    run = subprocess.run(
        [sys.executable, "-c", FILE_SIZE_LIMIT, str(tmp_path / "x.sqlite"), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["error"] == "StoreFullError" and "the file size limit of this process is reached" in out["message"]
    assert out["size"] == out["added"] + 2  # the first, those before the refusal, and the one refused then
