"""The stream's memory saved beside its SQLite file as it closes and read back when it is next
opened (``dedup.runners.stream.state``): the reopened stream answers as one never closed, and a
state that is missing, stale, damaged or hostile is not read (the file is replayed instead)."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import pickle
import re
import shutil
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import dedup
from conftest import ROOT, groups_of
from dedup.runners.stream import state
from dedup.stores.sqlite import SQLiteStore

sys.path.insert(0, str(ROOT / "benchmarks"))
import generate
from window import timed_articles

WINDOW = dedup.Window(days=7)


def _articles(size: int, seed: int = 3) -> list[dedup.Article]:
    return [
        dedup.Article(id=r["id"], text=r["text"], source=r.get("source"), published_at=r.get("published_at"))
        for r in timed_articles(size, seed, days=20)
    ]


def _answers(d: dedup.Deduplicator) -> tuple[set[str], set[frozenset[str]], list[str]]:
    clusters = sorted(d.clusters(), key=lambda c: c.id)
    return set(d), groups_of(clusters), [f"{c.id} {c.earliest}" for c in clusters]


def _opened(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(("opened", "not reading"))]


@pytest.mark.parametrize("story", [False, True], ids=["crawl", "one story copied 300 times"])
def test_a_reopened_stream_answers_as_one_never_closed(tmp_path: Path, caplog, story: bool) -> None:
    if story:
        arts = [
            dedup.Article(id=r["id"], text=r["text"], source=r.get("source"), published_at=r.get("published_at"))
            for r in generate.syndicated(300, 1)
        ]
        cut, window = 220, None
    else:
        arts, cut, window = _articles(900), 600, WINDOW
    path = tmp_path / "crawl.sqlite"
    with dedup.Deduplicator.open(path, window=window) as d:
        for a in arts[:cut]:
            d.add(a)
    assert state.path_of(path).exists()
    caplog.set_level(logging.INFO, logger="dedup")
    reopened = dedup.Deduplicator.open(path, window=window)
    assert _opened(caplog)[-1].endswith("(from the state saved beside it)")
    # a writer keeps the state as one saved while writing: after a crash, the articles it added are
    # read after it
    assert state.path_of(path).read_bytes().endswith(state._INTERIM)
    never_closed = dedup.Deduplicator.open(tmp_path / "other.sqlite", window=window)
    for a in arts[:cut]:
        never_closed.add(a)
    for a in arts[cut:]:
        assert reopened.add(a).to_dict() == never_closed.add(a).to_dict()
    assert _answers(reopened) == _answers(never_closed)
    reopened.close()
    never_closed.close()


def _records(d: dedup.Deduplicator) -> dict[str, tuple]:
    """What the stream holds of each article of its window for provenance: its ingest number, its
    plain record and the one with the evidence read in its text (with the times derived from them,
    which records leave out of their equality), and whether the two are one object."""
    out = {}
    for art_id, e in d._replica.entries.items():
        evidence = e.candidate
        out[art_id] = (
            e.seq, e.plain, e.plain.known_time, evidence, None if evidence is None else evidence.known_time,
            evidence is e.plain,
        )  # fmt: skip
    return out


def test_the_window_s_records_are_read_back_as_they_were_held(tmp_path: Path) -> None:
    path = tmp_path / "crawl.sqlite"
    with dedup.Deduplicator.open(path, window=WINDOW) as d:
        for a in _articles(400):
            d.add(a)
        held = _records(d)
    # both kinds are held: an evidence record that is the plain one, and one of its own
    assert any(r[5] for r in held.values())
    assert any(r[3] is not None and not r[5] for r in held.values())
    reopened = dedup.Deduplicator.open(path, window=WINDOW)
    try:
        assert _records(reopened) == held
    finally:
        reopened.close()


def _saved(tmp_path: Path, window: dedup.Window | None = WINDOW) -> tuple[Path, tuple]:
    path = tmp_path / "crawl.sqlite"
    with dedup.Deduplicator.open(path, window=window) as d:
        for a in _articles(300):
            d.add(a)
        answers = _answers(d)
    assert state.path_of(path).exists()
    return path, answers


def _reseal(path: Path) -> None:
    """Seal the state again for the index file as it is now (as if it had been saved so)."""
    saved = state.path_of(path)
    data = saved.read_bytes()
    cut = data.rindex(state._SEAL)
    saved.write_bytes(data[:cut])
    state.seal(path)


def _flip_a_payload_byte(path: Path) -> None:
    saved = state.path_of(path)
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0x40
    saved.write_bytes(bytes(data))


def _cut_short(path: Path) -> None:
    saved = state.path_of(path)
    saved.write_bytes(saved.read_bytes()[:-1000])


def _changed_by_another_program(path: Path) -> None:
    with sqlite3.connect(path) as db:  # a write that changes nothing dedup reads
        db.execute("INSERT INTO meta (key, value) VALUES ('note', 'kept by the operator')")
    db.close()


def _mark_taken_out(path: Path) -> None:
    # as a writer killed after taking it out (as a removal or a batch does) leaves it: no mark (and
    # its state deleted, here put back)
    kept = state.path_of(path).read_bytes()
    writer = dedup.Deduplicator.open(path, window=WINDOW)
    writer._drop_interim()
    writer._store.close()  # type: ignore[union-attr]
    state.path_of(path).write_bytes(kept)


def _deleted(path: Path) -> None:
    state.path_of(path).unlink()


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (_deleted, None),
        (_mark_taken_out, None),
        (_flip_a_payload_byte, "fails its checksum"),
        (_cut_short, "cut short"),
        (_changed_by_another_program, "changed or replaced|holds changes"),
    ],
    ids=["deleted", "mark taken out", "a byte changed", "cut short", "index changed since"],
)
def test_a_state_that_is_not_the_file_s_own_is_not_read(tmp_path: Path, caplog, damage, why) -> None:
    path, answers = _saved(tmp_path)
    damage(path)
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(path, window=WINDOW) as d:
        opened = _opened(caplog)
        assert opened[-1].endswith("(read from the index)")
        if why is not None:
            assert any(m.startswith("not reading") for m in opened)
            assert re.search(why, " ".join(opened))
        assert _answers(d) == answers


def test_a_payload_damaged_anywhere_fails_its_checksum(tmp_path: Path, caplog) -> None:
    """The payload is checked as it is read: a byte changed in the pickle's own opcodes (near its
    start), in an array or at its very end is told as a checksum failure, never as whatever the
    damaged pickle made the unpickler raise, and the file is read instead."""
    path, answers = _saved(tmp_path)
    saved = state.path_of(path)
    data = saved.read_bytes()
    start = len(state._MAGIC) + 4 + int.from_bytes(data[len(state._MAGIC) : len(state._MAGIC) + 4], "little")
    end = data.rindex(state._SEAL) - 4  # (the payload's CRC-32 follows it)
    caplog.set_level(logging.INFO, logger="dedup")
    for where in (start, start + 1, start + 7, start + 40, (start + end) // 3, (start + end) // 2, end - 2, end - 1):
        damaged = bytearray(data)
        damaged[where] ^= 0x5A
        saved.write_bytes(bytes(damaged))
        caplog.clear()
        with dedup.Deduplicator.open(path, window=WINDOW, read_only=True) as d:
            opened = _opened(caplog)
            assert opened[-1].endswith("(read from the index)"), where
            assert "fails its checksum" in " ".join(opened), (where, opened)
            assert _answers(d) == answers
    saved.write_bytes(data)
    with dedup.Deduplicator.open(path, window=WINDOW, read_only=True) as d:
        assert _opened(caplog)[-1].endswith("(from the state saved beside it)")


def test_a_payload_that_fails_to_unpickle_is_let_go_before_the_file_is_read(tmp_path: Path, caplog) -> None:
    """A damaged class name stops the unpickler half-way: what it had built goes at once (not
    kept alive by the error through the replay of the file, until a full collection)."""
    path, answers = _saved(tmp_path)
    saved = state.path_of(path)
    data = saved.read_bytes()
    where = data.index(b"CandidateIndex")
    saved.write_bytes(data[:where] + b"X" + data[where + 1 :])
    caplog.set_level(logging.INFO, logger="dedup")
    gc.collect()
    gc.disable()  # (only what nothing refers to any more is gone)
    try:
        with dedup.Deduplicator.open(path, window=WINDOW, read_only=True) as d:
            assert "fails its checksum" in " ".join(_opened(caplog))
            assert not [o for o in gc.get_objects() if isinstance(o, state._Unpickler)]
            assert _answers(d) == answers
    finally:
        gc.enable()


def test_reading_a_state_leaves_the_caller_s_frozen_objects_frozen(tmp_path: Path, caplog) -> None:
    """Reading a state moves what it made out of the collector's young generations, but never
    releases objects a caller froze (a server that ``gc.freeze()``s after start-up, as ``dedup
    stream`` does)."""
    path, answers = _saved(tmp_path)
    caplog.set_level(logging.INFO, logger="dedup")
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with dedup.Deduplicator.open(path, window=WINDOW, read_only=True) as d:
            assert _opened(caplog)[-1].endswith("(from the state saved beside it)")
            # (not released: a few frozen objects may be freed meanwhile, by their count of references)
            assert gc.get_freeze_count() > frozen // 2 > 0
            assert _answers(d) == answers
    finally:
        gc.unfreeze()


def test_another_window_reads_the_index(tmp_path: Path, caplog) -> None:
    path, _ = _saved(tmp_path)
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(path, window=dedup.Window(days=2)) as d:
        assert "saved with another window" in " ".join(_opened(caplog))
        with dedup.Deduplicator.open(tmp_path / "fresh.sqlite", window=dedup.Window(days=2)) as fresh:
            for a in _articles(300):
                fresh.add(a)
            assert set(d) == set(fresh)


def test_a_hostile_state_runs_no_code(tmp_path: Path, caplog) -> None:
    """A state file whose pickle calls a function (here one that would write a file) is refused
    by the unpickler, even with its checksum, mark and seal right."""
    path, answers = _saved(tmp_path)
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    payload = pickle.dumps(Payload(), protocol=5)
    saved = state.path_of(path)
    data = saved.read_bytes()
    header_end = len(state._MAGIC) + 4 + int.from_bytes(data[len(state._MAGIC) : len(state._MAGIC) + 4], "little")
    header = json.loads(data[len(state._MAGIC) + 4 : header_end])
    crc = zlib.crc32(payload)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'state'", (f"{header['token']} {crc:08x}",))
    db.close()
    saved.write_bytes(data[:header_end] + payload + crc.to_bytes(4, "little"))
    state.seal(path)
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(path, window=WINDOW) as d:
        assert "names posix.system" in " ".join(_opened(caplog))
        assert _answers(d)[:2] == answers[:2]
    assert not marker.exists()


def test_a_reader_reads_the_state_and_leaves_it_for_the_writer(tmp_path: Path, caplog) -> None:
    path, answers = _saved(tmp_path)
    caplog.set_level(logging.INFO, logger="dedup")
    for _ in range(2):
        with dedup.Deduplicator.open(path, window=WINDOW, read_only=True) as reader:
            assert _answers(reader) == answers
        assert _opened(caplog)[-1].endswith("(from the state saved beside it)")
    with dedup.Deduplicator.open(path, window=WINDOW) as writer:
        assert _answers(writer) == answers
    assert _opened(caplog)[-1].endswith("(from the state saved beside it)")


def test_a_writer_killed_after_reopening_reads_the_state_again_and_what_it_added(tmp_path: Path, caplog) -> None:
    # the state a writer opened its file from stays, as one saved while writing: a crawler that
    # crashes soon after a restart does not read its whole window from the file
    path, _ = _saved(tmp_path)
    alike = tmp_path / "alike.sqlite"
    _crash_image(path, alike)
    late = [
        dedup.Article(id="late", text="A late article about the harbour and its new cranes. " * 6),
        dedup.Article(id="later", text="A later article about the harbour and its new cranes, and ships. " * 6),
    ]
    script = (
        "import os, sys, dedup\n"
        "d = dedup.Deduplicator.open(sys.argv[1], window=dedup.Window(days=7))\n"
        f"d.add(dedup.Article(id='late', text={late[0].text!r}))\n"
        "os._exit(0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-c", script, str(path)], env=env, check=True, timeout=300)
    assert state.path_of(path).read_bytes().endswith(state._INTERIM)
    caplog.set_level(logging.INFO, logger="dedup")
    never_killed = dedup.Deduplicator.open(alike, window=WINDOW)
    never_killed.add(late[0])
    d = dedup.Deduplicator.open(path, window=WINDOW)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("read 1 articles added to the index") for m in messages)
    assert _opened(caplog)[-1].endswith("(from the state saved beside it)")
    assert _answers(d) == _answers(never_killed)
    assert d.add(late[1]).to_dict() == never_killed.add(late[1]).to_dict()
    crashed = tmp_path / "crashed.sqlite"  # killed again: the same state, and both articles after it
    _crash_image(path, crashed)
    d.close()
    with dedup.Deduplicator.open(crashed, window=WINDOW) as again:
        messages = [r.getMessage() for r in caplog.records]
        assert any(m.startswith("read 2 articles added to the index") for m in messages)
        assert _answers(again) == _answers(never_killed)
    never_killed.close()


def test_a_state_that_cannot_be_kept_is_taken_out(tmp_path: Path, caplog, monkeypatch) -> None:
    path, answers = _saved(tmp_path)

    def failing(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state.os, "fsync", failing)
    caplog.set_level(logging.INFO, logger="dedup")
    d = dedup.Deduplicator.open(path, window=WINDOW)
    monkeypatch.undo()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith(f"could not keep the state of the index {path}") for m in warnings)
    assert _answers(d) == answers  # (it was read all the same)
    assert not state.path_of(path).exists()
    d.add(dedup.Article(id="late", text="A late article about the harbour and its new cranes. " * 6))
    crashed = tmp_path / "crashed.sqlite"
    _crash_image(path, crashed)
    d.close()
    with dedup.Deduplicator.open(crashed, window=WINDOW, read_only=True) as again:
        assert "late" in again
    assert _opened(caplog)[-1].endswith("(read from the index)")


def test_a_state_that_cannot_be_saved_is_logged_and_the_file_is_read(tmp_path: Path, caplog) -> None:
    path = tmp_path / "crawl.sqlite"
    state.path_of(path).mkdir()  # where the state would go
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(path, window=WINDOW) as d:
        for a in _articles(50):
            d.add(a)
        answers = _answers(d)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith(f"could not save the state of the index {path}") for m in warnings)
    state.path_of(path).rmdir()
    with dedup.Deduplicator.open(path, window=WINDOW) as d:
        assert _answers(d) == answers
    assert _opened(caplog)[-1].endswith("(read from the index)")


@pytest.mark.parametrize("where", ["pickling", "marking", "sealing"])
def test_ctrl_c_while_the_state_is_saved_closes_the_file_and_leaves_no_state(
    tmp_path: Path, caplog, monkeypatch, where: str
) -> None:
    """A second Ctrl-C while ``close()`` saves the state (a large one takes seconds) stops the
    save, not the close: the file is closed, no state (or mark without its state) is read later,
    and the next opening reads the file and answers as before."""
    path = tmp_path / "crawl.sqlite"
    d = dedup.Deduplicator.open(path, window=WINDOW)
    for a in _articles(120):
        d.add(a)
    answers = _answers(d)

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    target = {
        "pickling": (state._Pickler, "dump"),
        "marking": (SQLiteStore, "mark_state"),
        "sealing": (state, "_stamp"),
    }
    monkeypatch.setattr(*target[where], ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        d.close()
    monkeypatch.undo()
    assert d.closed
    with pytest.raises(dedup.ClosedError):
        d.add(_articles(121)[-1])
    assert not state.path_of(path).exists()
    assert not list(tmp_path.glob(".*.new"))  # (no half-written state left beside the file)
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(path, window=WINDOW) as again:
        assert _opened(caplog)[-1].endswith("(read from the index)")
        assert _answers(again) == answers


@pytest.mark.parametrize("share", [0.0, 0.01, 0.5, 1.0])
def test_the_formula_tables_are_saved_as_they_are(share: float) -> None:
    rng = np.random.default_rng(5)
    table = np.where(rng.random((4, 4096)) < share, rng.integers(1, 255, (4, 4096)), 0).astype(np.uint8)
    saved = pickle.loads(pickle.dumps(state._sparse(table)))
    assert saved[0] == ("sparse" if share < 1 / state._SPARSE else "dense")
    back = state._dense(saved)
    assert back.dtype == table.dtype and back.flags.c_contiguous and np.array_equal(back, table)


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_a_stopped_stream_closes_its_index_and_saves_its_state(signum: str, tmp_path: Path, caplog) -> None:
    """``dedup stream --index`` fed by a pipe that stays open, stopped as a service manager stops
    it (or by Ctrl-C): every article it answered is in the file, its memory is saved for the next
    start, and it says nothing but why it ended."""
    import signal

    number = getattr(signal, signum)

    path = tmp_path / "crawl.sqlite"
    rows = timed_articles(40, 3, days=20)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with subprocess.Popen(
        [sys.executable, "-m", "dedup", "stream", "--index", str(path), "--window-days", "7", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    ) as run:  # fmt: skip
        assert run.stdin is not None and run.stdout is not None
        for r in rows:
            run.stdin.write(json.dumps(r) + "\n")
        run.stdin.flush()
        answered = [json.loads(run.stdout.readline())["id"] for _ in rows]
        run.send_signal(number)
        assert run.wait(timeout=120) == 128 + number, run.stderr.read() if run.stderr else ""
        assert run.stderr is not None and "Traceback" not in run.stderr.read()
    assert answered == [r["id"] for r in rows]
    assert state.path_of(path).exists()
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(path, window=WINDOW) as d:
        assert set(answered) >= set(d) and len(d) > 0
    assert _opened(caplog)[-1].endswith("(from the state saved beside it)")


_SIGNALLED_DURING_AN_ADD = """
import os, signal, sys
import dedup.runners.stream as stream
from dedup.fronts import cli
add = stream.Deduplicator.add
def signalled(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)  # as a service manager stops it, in the middle of an add
    return add(self, *args, **kwargs)
stream.Deduplicator.add = signalled
sys.exit(cli.main(["stream", "--index", sys.argv[1]]))
"""


def test_a_signal_during_an_add_stops_the_stream_once_its_verdict_is_written(tmp_path: Path) -> None:
    """The stream does not wait for another line (its input stays open, as a crawler's pipe)."""
    import signal

    path = tmp_path / "crawl.sqlite"
    row = timed_articles(1, 3, days=1)[0]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with subprocess.Popen(
        [sys.executable, "-c", _SIGNALLED_DURING_AN_ADD, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    ) as run:  # fmt: skip
        assert run.stdin is not None and run.stdout is not None
        run.stdin.write(json.dumps(row) + "\n")
        run.stdin.flush()
        assert json.loads(run.stdout.readline())["id"] == row["id"]
        try:
            status = run.wait(timeout=120)  # (the pipe is still open)
        finally:
            run.kill()
    assert status == 128 + signal.SIGTERM
    assert state.path_of(path).exists()


def test_a_stream_started_ignoring_ctrl_c_goes_on_ignoring_it(tmp_path: Path) -> None:
    """``cmd &`` in a script starts it with SIGINT ignored: it stays ignored."""
    import signal

    rows = timed_articles(2, 3, days=1)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with subprocess.Popen(
        [sys.executable, "-m", "dedup", "stream", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    ) as run:  # fmt: skip
        assert run.stdin is not None and run.stdout is not None
        run.stdin.write(json.dumps(rows[0]) + "\n")
        run.stdin.flush()
        assert json.loads(run.stdout.readline())["id"] == rows[0]["id"]
        run.send_signal(signal.SIGINT)
        run.stdin.write(json.dumps(rows[1]) + "\n")
        run.stdin.close()
        assert json.loads(run.stdout.readline())["id"] == rows[1]["id"]
        assert run.wait(timeout=120) == 0


def _interrupted_after_the_write(monkeypatch, method: str, victim: str) -> None:
    """The store's ``method`` for ``victim`` is interrupted (Ctrl-C) right after it committed."""
    from dedup.stores.sqlite import SQLiteStore

    real = getattr(SQLiteStore, method)

    def interrupted(self, first, *args, **kwargs):
        real(self, first, *args, **kwargs)
        if (first if isinstance(first, str) else first.article.id) == victim:
            raise KeyboardInterrupt

    monkeypatch.setattr(SQLiteStore, method, interrupted)


@pytest.mark.parametrize("method", ["save", "delete"])
def test_memory_an_interruption_may_have_put_out_of_step_is_not_saved(
    tmp_path: Path, caplog, monkeypatch, method: str
) -> None:
    """An add (or a removal) interrupted after its write is undone in memory but not in the file:
    that memory is not saved, and the next opening reads the file, which holds the article (or
    not), and goes on adding."""
    arts = _articles(80)
    path, victim = tmp_path / "crawl.sqlite", arts[59].id
    _interrupted_after_the_write(monkeypatch, method, victim)
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(path, window=WINDOW) as d:
        for a in arts[:59]:
            d.add(a)
        with pytest.raises(KeyboardInterrupt):
            d.add(arts[59]) if method == "save" else (d.add(arts[59]), d.remove(victim))
    monkeypatch.undo()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("a call was interrupted (KeyboardInterrupt)" in m for m in warnings)
    assert not state.path_of(path).exists()
    with dedup.Deduplicator.open(path, window=WINDOW) as d:
        assert (victim in d) == (method == "save")
        for a in arts[60:]:
            d.add(a)
    assert _opened(caplog)[-2].endswith("(read from the index)")
    with dedup.Deduplicator.open(path, window=WINDOW) as d:  # closed whole this time: its state read
        assert len(d) > 0
    assert _opened(caplog)[-1].endswith("(from the state saved beside it)")


def test_an_interruption_after_opening_from_a_state_leaves_that_state_to_read(
    tmp_path: Path, caplog, monkeypatch
) -> None:
    """A writer opened from its state whose add is interrupted after its write: the adds after it
    clash with the article the file kept and say why, its memory is not saved, and the next opening
    reads the state kept from the opening with the articles added after it, the interrupted one
    among them."""
    path, _ = _saved(tmp_path)
    late = [
        dedup.Article(id=f"late-{n}", text=f"Late article {n} on the harbour's new cranes and their crews. " * 6)
        for n in range(7)
    ]
    d = dedup.Deduplicator.open(path, window=WINDOW)
    for a in late[:5]:
        d.add(a)
    _interrupted_after_the_write(monkeypatch, "save", "late-5")
    with pytest.raises(KeyboardInterrupt):
        d.add(late[5])
    monkeypatch.undo()
    with pytest.raises(dedup.StoreError) as clash:
        d.add(late[6])
    assert any("a call was interrupted (KeyboardInterrupt)" in note for note in clash.value.__notes__)
    caplog.set_level(logging.INFO, logger="dedup")
    d.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("the next opening reads the state saved before and the articles added after it" in m for m in warnings)
    with dedup.Deduplicator.open(path, window=WINDOW) as again:
        assert any(r.getMessage().startswith("read 6 articles added to the index") for r in caplog.records)
        assert _opened(caplog)[-1].endswith("(from the state saved beside it)")
        assert "late-5" in again and "late-6" not in again


def test_a_close_inside_a_batch_takes_effect_when_the_batch_ends(tmp_path: Path, caplog) -> None:
    """``close()`` from ``add_many``'s progress callback: the batch goes on and writes every article
    it answers, then the index closes and saves the memory of the finished batch."""
    arts = _articles(120)
    path = tmp_path / "crawl.sqlite"
    d = dedup.Deduplicator.open(path, window=WINDOW)
    for a in arts[:80]:
        d.add(a)

    def progress(n: int, total: int | None) -> None:
        if total is not None and n == 5:
            d.close()

    verdicts = d.add_many(arts[80:], progress=progress)
    assert d.closed and len(verdicts) == 40
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(path, window=WINDOW) as again:
        restored = _answers(again)
        assert all(again.get(v.article_id).id == v.article_id for v in verdicts)
    assert _opened(caplog)[-1].endswith("(from the state saved beside it)")
    state.path_of(path).unlink()
    with dedup.Deduplicator.open(path, window=WINDOW) as replayed:
        assert _answers(replayed)[:2] == restored[:2]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # (the finalizer's, below)
@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_a_signal_during_an_add_ends_the_stream_after_it(signum: str) -> None:
    """SIGTERM (a service manager) or SIGINT (Ctrl-C) while an article is added lets the add
    finish; the stream ends at the next check, also when the exit it raised was swallowed by a
    finalizer, with the status 128 + the signal's number."""
    import signal

    from dedup.fronts.cli import _Stopping

    number = getattr(signal, signum)
    before = {n: signal.getsignal(n) for n in (signal.SIGTERM, signal.SIGINT)}
    with _Stopping() as stopping:
        with stopping.busy():
            os.kill(os.getpid(), number)  # (delivered here, at once: nothing raised)
            done = True
        assert done
        with pytest.raises(SystemExit) as stopped:
            stopping.check()
        assert stopped.value.code == 128 + number

    class Finalized:
        def __del__(self) -> None:
            os.kill(os.getpid(), number)  # its SystemExit is swallowed ("Exception ignored")

    with _Stopping() as stopping:
        Finalized()
        with pytest.raises(SystemExit):
            stopping.check()
    assert {n: signal.getsignal(n) for n in before} == before


def test_a_close_from_a_signal_handler_in_the_middle_of_a_removal(tmp_path: Path, monkeypatch, caplog) -> None:
    """The common handler ``d.close(); raise SystemExit`` landing right after a removal's delete:
    the store is closed once the call has ended, and that memory (the article still in it) is not
    saved."""
    from dedup.stores.sqlite import SQLiteStore

    arts = _articles(40)
    path, victim = tmp_path / "crawl.sqlite", arts[3].id
    d = dedup.Deduplicator.open(path, window=WINDOW)
    for a in arts[:20]:
        d.add(a)
    real = SQLiteStore.delete

    def deleted_then_stopped(self, article_id):
        real(self, article_id)
        d.close()
        raise SystemExit(143)

    monkeypatch.setattr(SQLiteStore, "delete", deleted_then_stopped)
    with pytest.raises(SystemExit):
        d.remove(victim)
    monkeypatch.undo()
    assert d.closed and not state.path_of(path).exists()
    with dedup.Deduplicator.open(path, window=WINDOW) as again:
        assert victim not in again
        for a in arts[20:]:
            again.add(a)


def test_a_dedup_error_after_the_write_saves_no_memory(tmp_path: Path, caplog) -> None:
    """A log filter of the application's that fails (here with a dedup error) as a copy is logged,
    after the article was written: the add is undone in memory, not in the file, and that memory
    is not saved."""
    arts = _articles(120)
    path = tmp_path / "crawl.sqlite"
    d = dedup.Deduplicator.open(path, window=WINDOW)
    logger = logging.getLogger("dedup")
    failed: list[str] = []

    class Failing(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if "is a copy of" in str(record.msg) and not failed:
                failed.append(str(record.args[0]) if record.args else "")
                d.get("no-such-id")
            return True

    failing = Failing()
    logger.addFilter(failing)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with d:
            for a in arts[:80]:
                with contextlib.suppress(dedup.DedupError):
                    d.add(a)
    finally:
        logger.removeFilter(failing)
        logger.setLevel(level)
    assert failed and not state.path_of(path).exists()
    with dedup.Deduplicator.open(path, window=WINDOW) as again:
        assert failed[0] in again
        for a in arts[80:]:
            again.add(a)


# -- a state saved while the file is written (``Deduplicator.save_state``) ----------------------------

_KILLED_AFTER_SAVING = (
    "import os, sys\n"
    "sys.path.insert(0, sys.argv[2])\n"
    "import dedup\n"
    "from window import timed_articles\n"
    "arts = [dedup.Article(id=r['id'], text=r['text'], source=r.get('source'), published_at=r.get('published_at'))\n"
    "        for r in timed_articles(1200, 3, days=20)]\n"
    "d = dedup.Deduplicator.open(sys.argv[1], window=dedup.Window(days=7))\n"
    "for a in arts[:500]:\n"
    "    d.add(a)\n"
    "d.save_state()\n"
    "for a in arts[500:600]:\n"
    "    d.add(a)\n"
    "os._exit(0)\n"  # (killed: no close, the log beside the file not folded into it)
)


def test_a_stream_killed_after_saving_its_state_reopens_from_it_and_the_articles_after(tmp_path: Path, caplog) -> None:
    path = tmp_path / "crawl.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run(
        [sys.executable, "-c", _KILLED_AFTER_SAVING, str(path), str(ROOT / "benchmarks")],
        env=env,
        check=True,
        timeout=600,
    )
    assert state.path_of(path).exists()
    assert Path(f"{path}-wal").stat().st_size > 0
    arts = _articles(1200)
    never_closed = dedup.Deduplicator.open(tmp_path / "other.sqlite", window=WINDOW)
    for a in arts[:600]:
        never_closed.add(a)
    caplog.set_level(logging.INFO, logger="dedup")
    reopened = dedup.Deduplicator.open(path, window=WINDOW)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("read 100 articles added to the index") for m in messages)
    assert _opened(caplog)[-1].endswith("(from the state saved beside it)")
    assert state.path_of(path).read_bytes().endswith(state._INTERIM)  # (kept for another crash)
    assert _answers(reopened) == _answers(never_closed)
    for a in arts[600:1000]:
        assert reopened.add(a).to_dict() == never_closed.add(a).to_dict()
    reopened.save_state()  # (a stream reopened from a state saves and closes as any other)
    for a in arts[1000:]:
        assert reopened.add(a).to_dict() == never_closed.add(a).to_dict()
    assert _answers(reopened) == _answers(never_closed)
    reopened.close()
    never_closed.close()
    assert state.path_of(path).read_bytes()[-16 - len(state._SEAL) : -16] == state._SEAL
    assert not Path(f"{path}-wal").exists()


def _crash_image(path: Path, to: Path) -> None:
    """The file, its log and its state as a process killed now would leave them (with their times
    of last change: a closed file's copy reads its state)."""
    for suffix in ("", "-wal", ".state"):
        if Path(f"{path}{suffix}").exists():
            shutil.copy2(f"{path}{suffix}", f"{to}{suffix}")


@pytest.mark.parametrize("by", ["the stream", "another program"])
def test_a_state_saved_before_a_removal_is_not_read(tmp_path: Path, caplog, by: str) -> None:
    path, crashed = tmp_path / "crawl.sqlite", tmp_path / "crashed.sqlite"
    arts = _articles(300)
    d = dedup.Deduplicator.open(path, window=WINDOW)
    for a in arts[:200]:
        d.add(a)
    d.save_state()
    gone = next(iter(d))
    if by == "the stream":
        d.remove(gone)
    for a in arts[200:]:
        d.add(a)
    _crash_image(path, crashed)
    d_left = list(d) if by == "the stream" else [m for m in d if m != gone]
    d.close()
    if by == "another program":
        with contextlib.closing(sqlite3.connect(crashed)) as db, db:
            db.execute("DELETE FROM articles WHERE id = ?", (gone,))
    # the stream's removal took the state out; another program's leaves it, and the file, which no
    # longer holds every article the state held, is read instead
    assert state.path_of(crashed).exists() == (by == "another program")
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(crashed, window=WINDOW, read_only=True) as again:
        assert _opened(caplog)[-1].endswith("(read from the index)")
        if by == "another program":
            assert any("(removed since, or lost as the machine stopped)" in m for m in _opened(caplog))
        assert gone not in again
        assert len(again) == len(d_left)


def _written_after_a_state(
    tmp_path: Path, before: int, after: int, size: int = 300, window: dedup.Window = WINDOW
) -> tuple[dedup.Deduplicator, Path, list]:
    """A writer (left open) that added ``before`` of ``size`` articles, saved its state, and added
    ``after`` more."""
    path, arts = tmp_path / "crawl.sqlite", _articles(size)
    d = dedup.Deduplicator.open(path, window=window)
    for a in arts[:before]:
        d.add(a)
    d.save_state()
    for a in arts[before : before + after]:
        d.add(a)
    return d, path, arts


def test_a_state_with_more_added_after_it_than_a_third_of_what_it_holds_is_not_read(tmp_path: Path, caplog) -> None:
    # each article after the state is read as the stream added it, slower than the window from the
    # file: past a third of the state's articles, the file is the faster
    window = dedup.Window(articles=300)
    d, path, arts = _written_after_a_state(tmp_path, 400, 0, size=700, window=window)
    crashed = tmp_path / "crashed.sqlite"
    for n, a in enumerate(arts[400:], 1):
        d.add(a)
        if n == 100:
            _crash_image(path, tmp_path / "soon.sqlite")
    _crash_image(path, crashed)
    held = set(d)
    d.close()
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(tmp_path / "soon.sqlite", window=window, read_only=True):
        assert _opened(caplog)[-1].endswith("(from the state saved beside it)")
    with dedup.Deduplicator.open(crashed, window=window, read_only=True) as again:
        assert _opened(caplog)[-1].endswith("(read from the index)")
        assert any("300 articles were added after it, more than a third of the 300" in m for m in _opened(caplog))
        assert set(again) == held


def test_a_state_that_fails_to_save_again_leaves_the_last_one_to_read(tmp_path: Path, caplog, monkeypatch) -> None:
    d, path, arts = _written_after_a_state(tmp_path, 200, 20)
    crashed = tmp_path / "crashed.sqlite"

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state._Pickler, "dump", full)
    with pytest.raises(dedup.StoreError, match="No space left on device") as failed:
        d.save_state()
    assert "(an opening after a crash reads the state saved before and the articles added after it)" in str(
        failed.value
    )
    monkeypatch.undo()
    assert not list(tmp_path.glob(".*.new"))
    for a in arts[220:230]:
        d.add(a)
    _crash_image(path, crashed)
    held = set(d)
    d.close()
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(crashed, window=WINDOW, read_only=True) as again:
        assert any(r.getMessage().startswith("read 30 articles added to the index") for r in caplog.records)
        assert _opened(caplog)[-1].endswith("(from the state saved beside it)")
        assert set(again) == held


def test_ctrl_c_while_saving_the_state_leaves_the_memory_to_save_again(tmp_path: Path, monkeypatch) -> None:
    # saving writes the memory out and changes none of it: stopped, it is saved at the next call
    path = tmp_path / "crawl.sqlite"
    d = dedup.Deduplicator.open(path, window=WINDOW)
    for a in _articles(60):
        d.add(a)

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(state._Pickler, "dump", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        d.save_state()
    monkeypatch.undo()
    assert d.save_state().read_bytes().endswith(state._INTERIM)
    d.close()
    assert state.path_of(path).read_bytes()[-16 - len(state._SEAL) : -16] == state._SEAL


def test_an_article_after_the_state_that_cannot_be_read_takes_the_state_out(tmp_path: Path) -> None:
    d, path, arts = _written_after_a_state(tmp_path, 250, 10)
    crashed = tmp_path / "crashed.sqlite"
    _crash_image(path, crashed)
    d.close()
    with contextlib.closing(sqlite3.connect(crashed)) as db, db:
        db.execute("UPDATE articles SET text = 'tampered' WHERE id = ?", (arts[255].id,))
    for read_only, told in ((True, "delete it for the next opening"), (False, "crashed.sqlite.state; deleted")):
        with pytest.raises(dedup.StoreCorruptError) as raised:
            dedup.Deduplicator.open(crashed, window=WINDOW, read_only=read_only)
        assert any(told in note for note in raised.value.__notes__)
        assert state.path_of(crashed).exists() == read_only
    with pytest.raises(dedup.StoreCorruptError) as raised:  # the file alone (the article is in its window)
        dedup.Deduplicator.open(crashed, window=WINDOW, read_only=True)
    assert not getattr(raised.value, "__notes__", None)


def test_save_state_is_refused_without_a_file_to_write(tmp_path: Path) -> None:
    with pytest.raises(dedup.StoreError, match="in-memory"):
        dedup.Deduplicator().save_state()
    path, _ = _saved(tmp_path)
    with (
        dedup.Deduplicator.open(path, window=WINDOW, read_only=True) as reader,
        pytest.raises(dedup.StoreError, match="read-only"),
    ):
        reader.save_state()


@pytest.mark.parametrize("saved", ["saved while writing", "read as the writer opened"])
@pytest.mark.parametrize("change", ["removal of an article added after it", "add_many"])
def test_a_removal_or_a_batch_after_the_state_was_saved_takes_it_out(
    tmp_path: Path, caplog, change: str, saved: str
) -> None:
    # the articles read after a state stand for what the stream did since: one removed from the file
    # after it moved the window without leaving a trace, and a batch lets articles out at its end
    path, crashed = tmp_path / "crawl.sqlite", tmp_path / "crashed.sqlite"
    arts = _articles(400)
    window = dedup.Window(articles=150)
    d = dedup.Deduplicator.open(path, window=window)
    for a in arts[:200]:
        d.add(a)
    if saved == "saved while writing":
        d.save_state()
    else:
        d.close()
        d = dedup.Deduplicator.open(path, window=window)
    for a in arts[200:300]:
        d.add(a)
    # (what changes nothing keeps it: an unknown id, an empty batch)
    with pytest.raises(dedup.UnknownArticleError):
        d.remove("no-such-article")
    d.add_many([])
    assert state.path_of(path).exists()
    if change == "add_many":
        d.add_many(arts[300:])
    else:
        d.remove(arts[299].id)
    held = set(d)
    _crash_image(path, crashed)
    d.close()
    assert not state.path_of(crashed).exists()
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(crashed, window=window, read_only=True) as again:
        assert _opened(caplog)[-1].endswith("(read from the index)")
        if change == "add_many":
            assert set(again) == held
        else:  # (read from the file, the window is worked out again without the removed article)
            assert arts[299].id not in again and held <= set(again)


def test_save_state_inside_a_batch_is_refused(tmp_path: Path) -> None:
    arts = _articles(60)
    with dedup.Deduplicator.open(tmp_path / "crawl.sqlite") as d:

        def save_at_the_end(done: int, total: int | None) -> None:
            if total is not None and done == total:
                d.save_state()

        with pytest.raises(dedup.StoreError, match="inside another call"):
            d.add_many(arts, progress=save_at_the_end)
        assert len(d) == len(arts)  # (the batch's articles added, as a failing callback leaves them)
    assert not state.path_of(tmp_path / "crawl.sqlite").read_bytes().endswith(b"dedup-state-interim")


def test_a_state_left_half_written_by_a_killed_writer_is_deleted_at_the_next_opening(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    left = tmp_path / ".crawl.sqlite.state.4242.new"
    left.write_bytes(b"dedup-state\n" + b"\0" * 1000)
    other = tmp_path / ".other.sqlite.state.4242.new"  # (another index's)
    other.write_bytes(b"kept")
    named_alike = tmp_path / ".crawl.sqlite.state.x.state.4242.new"  # (that of an index crawl.sqlite.state.x)
    named_alike.write_bytes(b"kept")
    with dedup.Deduplicator.open(path, window=WINDOW, read_only=True):
        assert left.exists()  # (a reader changes nothing)
    with dedup.Deduplicator.open(path, window=WINDOW):
        assert not left.exists()
    assert other.exists() and named_alike.exists()
