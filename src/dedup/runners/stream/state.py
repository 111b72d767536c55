"""The stream's memory saved beside its SQLite file when it is closed (or while it is written,
``Deduplicator.save_state``), and read back when the file is next opened instead of its articles
(``Deduplicator.open``).

Reopening without it reads every article of the window back from the file and counts, indexes and
judges it again, one at a time. The state is the replica, the pair cache and the stream's
bookkeeping as they were at ``close()``, read back in one go, so that the reopened stream answers
exactly as if it had never been closed. A writer that closes its file saves it in
``<index>.state`` (for ``crawl.sqlite``, ``crawl.sqlite.state``): ``dedup-state`` and a newline,
a 4-byte little-endian length, a JSON header (the format, the dedup version and a checksum of its
source, the Python and numpy versions, the settings, the window, the numbers of articles and
copies the file lists and its last ingest number, a random token, and the number of articles in
memory), the payload (a pickle, protocol 5), its CRC-32 (4 bytes, little-endian), then, once the
index is closed, a seal: a newline, ``dedup-state-sealed``, and the index file's size and time of
last change in nanoseconds (8 bytes each, little-endian). The state's mark, the token and the CRC-32 in hex, is
written into the index's ``meta`` table in the same close. A state saved while the file is written
(an interim state) ends after its CRC-32 with a newline and ``dedup-state-interim`` instead of a
seal, and its mark is written into ``meta`` at once.

A state is read only when all of it holds: the index records its mark; the header names what the
opening deduplicator has (same code, settings, window, file extent); the seal names the index
file as it is now, and its write-ahead log holds nothing (so that a file changed by another
program, or another file put in its place, is read from itself); and the payload matches its
CRC-32. A writer that opens the file from its state keeps the state as an interim one (``keep``:
a sealed state's seal is replaced by the interim mark), so that a writer killed later leaves a
state to read with the articles it added; a writer that opens the file otherwise takes the mark
out and deletes the state before it changes anything, and so does a removal or a batch
(``forget``): a sealed state is never read after its file moved on. An interim state is read
with the same checks but those of the file extent, the seal and the log: instead, the file must
still hold every article it held when the state was saved (as many up to its last ingest number
then), and at most a third as many articles added after it as it holds in memory; the opening
then reads those articles (``sync.read_after``). Otherwise the articles are read from the file,
with a line on the ``dedup`` logger (INFO) saying why; a state that cannot be saved is a WARNING
there, and the file is complete without it.

The payload is read by an unpickler that builds only the classes a state is made of (numpy
arrays, containers, times, and dedup's own records and index parts) and calls no other function:
a state file cannot run code. The objects a ``Deduplicator`` wires together (the replica, its
boilerplate model and formula counts, the pair cache, the window's retention) are not pickled
whole: their fields are, save the functions and settings the new deduplicator wires itself.
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import pickle
import secrets
import sys
import threading
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import numpy.typing as npt

import dedup
from dedup import _log
from dedup._collector import age_young_objects
from dedup.runners.stream.replica import Entry
from dedup.stages.provenance import Candidate
from dedup.stores.sqlite import config_to_json

if TYPE_CHECKING:
    from dedup.runners.stream.deduplicator import Deduplicator
    from dedup.stores.sqlite import SQLiteStore

FORMAT = 1
SUFFIX = ".state"
_MAGIC = b"dedup-state\n"
_SEAL = b"\ndedup-state-sealed"
_INTERIM = b"\ndedup-state-interim"
_STAMP_SIZE = 16  # after the seal: the index file's size and time of last change, 8 bytes each
# What the header tells that the opening deduplicator has nothing of its own to agree on: the
# number of articles the state holds in memory (``_check_interim``).
_TOLD = frozenset({"held"})

# The fields of each wired object that are not saved: the functions and settings the new
# deduplicator wires itself, the caches it fills again, and what belongs to the open file.
_NOT_SAVED: dict[str, frozenset[str]] = {
    "dedup": frozenset(
        "config window _retention _replica _pairs _groups _vocabulary skipped _store _where _lock _closed "
        "_read_only _undo _batch _their_batch _calls _interim _opened".split()
    ),
    "groups": frozenset({"config", "_replica", "_pairs", "_journal", "_had", "_records", "_watches"}),
    "replica": frozenset(
        "_passage boilerplate formula _k _read _read_counted _where _shared _kept _recent pending".split()
    ),
    "boilerplate": frozenset({"_config", "_sentences_of"}),
    "formula": frozenset({"_config", "_width", "_layout", "_pooled_layout", "_owned"}),
    "pairs": frozenset(
        "_verify _shingle _doc_of _fingerprints_of _boilerplate _formula _source_of _title_of _views_kept _recent "
        "_views _today journal".split()
    ),
    "retention": frozenset({"window", "_now"}),
}

# What the unpickler may build: (module, name) of the classes (and numpy's array and scalar
# builders) a state is made of, numpy's under their names before and after numpy 2.
_ALLOWED = frozenset({
    ("collections", "OrderedDict"), ("datetime", "datetime"), ("datetime", "date"), ("datetime", "timezone"),
    ("datetime", "timedelta"), ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("dedup.config", "ClusterConfig"), ("dedup.records", "Relation"), ("dedup.records", "Cluster"),
    ("dedup.records", "Evidence"), ("dedup.records", "Member"), ("dedup.records", "Match"),
    ("dedup.records", "SharedPassage"), ("dedup.stages.provenance", "Candidate"),
    ("dedup.stages.provenance", "TextDate"), ("dedup.stages.index", "CandidateIndex"),
    ("dedup.stages.index", "BandIndex"), ("dedup.stages.index", "_Table"), ("dedup.stages.boilerplate", "Sample"),
    ("dedup.stages.grouping", "InOrder"),
    ("dedup.runners.stream.watch", "Watch"),
})  # fmt: skip


def path_of(index: str | Path) -> Path:
    """Where the state of the index at ``index`` is saved."""
    index = Path(index)
    return index.with_name(index.name + SUFFIX)


@cache
def _code() -> str:
    """A checksum of dedup's source: a state is read only by the code that saved it."""
    digest = hashlib.blake2b(digest_size=16)
    root = Path(dedup.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _header(d: Deduplicator, store: SQLiteStore) -> dict[str, Any]:
    """What a state must agree on with the deduplicator that reads it."""
    window = d.window
    return {
        "format": FORMAT,
        "dedup": dedup.__version__,
        "code": _code(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "config": config_to_json(d.config),
        "window": None if window is None else [window.days, window.articles],
        "file": store.extent(),
    }


def _fields(obj: object, skipped: frozenset[str]) -> dict[str, Any]:
    """An object's fields (its ``__dict__`` and slots) but those ``skipped``."""
    names = list(vars(obj)) if hasattr(obj, "__dict__") else []
    for cls in type(obj).__mro__:
        names += [s for s in getattr(cls, "__slots__", ()) if hasattr(obj, s)]
    return {name: getattr(obj, name) for name in names if name not in skipped}


# a ``Candidate`` is saved as the tuple of its slots (``known_time``, which its constructor
# derives from the others, included) and read back by setting them one by one on a new object
# (a frozen dataclass's own unpickling, and even its constructor, cost more, and a window holds
# two of them for most of its articles)
_SLOTS = tuple(getattr(Candidate, name) for name in Candidate.__slots__)
_SETTERS = tuple(slot.__set__ for slot in _SLOTS)


def _slots_of(c: Candidate) -> tuple[Any, ...]:
    return tuple(slot.__get__(c) for slot in _SLOTS)


def _rebuilt(slots: tuple[Any, ...]) -> Candidate:
    c = object.__new__(Candidate)
    for setter, value in zip(_SETTERS, slots, strict=True):
        setter(c, value)
    return c


def _joined(arrays: list[npt.NDArray[np.uint64]]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in arrays], out=offsets[1:])
    return (np.concatenate(arrays) if arrays else np.empty(0, dtype=np.uint64)), offsets


def _columns(entries: Mapping[str, Entry]) -> dict[str, Any]:
    """The replica's entries as columns (one array of all their fingerprints, one list of their
    candidates, ...): a few large objects to pickle rather than several small ones an article."""
    values = list(entries.values())
    if any(e.prepared is not None or e.shingles is not None for e in values):
        raise pickle.PicklingError("an article's analysis is held in memory")
    return {
        "ids": list(entries),
        "seq": np.fromiter((e.seq for e in values), dtype=np.int64, count=len(values)),
        "plain": [_slots_of(e.plain) for e in values],
        # the record with the evidence read in the text: () when it is the plain one (a text
        # that gives neither a date nor a credit), None when not read yet
        "candidate": [
            None if e.candidate is None else () if e.candidate is e.plain else _slots_of(e.candidate) for e in values
        ],
        "sentences": _joined([e.sentences.ravel() for e in values]),
    }


def _entries(columns: dict[str, Any]) -> list[tuple[str, Entry]]:
    """``_columns`` undone, each entry with arrays of its own."""
    sentences, at = columns["sentences"]
    at = at.tolist()
    out = []
    for i, (art_id, seq, plain, evidence) in enumerate(
        zip(columns["ids"], columns["seq"].tolist(), columns["plain"], columns["candidate"], strict=True)
    ):
        first = _rebuilt(plain)
        entry = Entry(
            seq, first, sentences[at[i] : at[i + 1]].reshape(2, -1).copy(), None,
            None if evidence is None else first if not evidence else _rebuilt(evidence),
        )  # fmt: skip
        out.append((art_id, entry))
    return out


# the formula counts' tables (``FormulaCounts``), saved as their cells that are not zero while
# fewer than one in this many are (an index of a few thousand articles holds a few)
_SPARSE = 16
_TABLES = ("table", "repeated")


def _sparse(table: npt.NDArray[np.uint8]) -> tuple[Any, ...]:
    if np.count_nonzero(table) * _SPARSE >= table.size:
        return ("dense", table)
    cells = np.flatnonzero(table)
    return ("sparse", table.shape, table.dtype.str, cells, table.ravel()[cells])


def _dense(saved: tuple[Any, ...]) -> npt.NDArray[np.uint8]:
    if saved[0] == "dense":
        table: npt.NDArray[np.uint8] = saved[1]
        return table
    _, shape, dtype, cells, values = saved
    table = np.zeros(shape, dtype=np.dtype(dtype))
    table.ravel()[cells] = values
    return table


def _wired(d: Deduplicator) -> dict[str, object]:
    replica = d._replica
    found: dict[str, object] = {
        "dedup": d, "replica": replica, "boilerplate": replica.boilerplate, "pairs": d._pairs, "groups": d._groups,
    }  # fmt: skip
    if replica.formula is not None:
        found["formula"] = replica.formula
    if d._retention is not None:
        found["retention"] = d._retention
    return found


class _Summed:
    """A file written through, with the CRC-32 of what was written."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.crc = 0

    def write(self, data: bytes | memoryview) -> int:
        self.crc = zlib.crc32(data, self.crc)
        return self._fh.write(data)


_PLAIN = frozenset({str, int, float, bool, bytes, tuple, list, dict, set, frozenset, type(None)})
_LOCK = type(threading.Lock())


class _Pickler(pickle.Pickler):
    """Refuses what a state must not hold: a function (it would be looked up by name when read), a
    lock, or one of the wired objects (read back, it would be a copy apart from the one wired)."""

    def __init__(self, file: _Summed, wired: dict[str, object]) -> None:
        super().__init__(file, protocol=5)
        self._wired = {id(o): name for name, o in wired.items()}

    def persistent_id(self, obj: Any) -> None:
        if type(obj) in _PLAIN:  # (most of what a state holds: asked first)
            return None
        if id(obj) in self._wired:
            raise pickle.PicklingError(f"the state holds the {self._wired[id(obj)]} object itself")
        if callable(obj) and not isinstance(obj, type) and not _allowed(obj):
            raise pickle.PicklingError(f"the state holds a function ({obj!r})")
        if isinstance(obj, (_LOCK, weakref.ref)):
            raise pickle.PicklingError(f"the state holds {type(obj).__name__}")
        return None


def _allowed(function: Any) -> bool:
    """Whether a function is one the unpickler may call (numpy's array builders)."""
    return (getattr(function, "__module__", None), getattr(function, "__qualname__", None)) in _ALLOWED


class _Unpickler(pickle.Unpickler):
    """Builds only what ``_ALLOWED`` lists."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the state names {module}.{name}, which a state does not hold")


def save(d: Deduplicator, store: SQLiteStore, *, interim: bool = False) -> Path | None:
    """Save the memory of ``d``, about to close ``store`` (its writer), beside the file and mark it
    in the index; returns the state's path, None when there is nothing to save (an article
    half-added). A failure leaves no state behind and is raised. ``interim``: the writer goes on
    (``Deduplicator.save_state``); the state ends with its interim mark instead of waiting for
    the seal."""
    replica = d._replica
    if replica.pending or d._undo is not None:
        return None
    wired = _wired(d)
    state = {name: _fields(obj, _NOT_SAVED[name]) for name, obj in wired.items()}
    state["replica"]["entries"] = _columns(replica.entries)
    state["replica"]["leaving"] = _columns(replica.leaving)
    state["groups"]["_watches"] = list(d._groups._watches.items())
    state["groups"]["_records"] = list(d._groups._records.items())
    for name in _TABLES if "formula" in state else ():
        state["formula"][name] = _sparse(state["formula"][name])
    token = secrets.token_hex(16)
    header = json.dumps({**_header(d, store), "token": token, "held": len(replica.entries)}).encode("utf-8")
    path = path_of(store.path)
    building = _building(path)
    replaced = False
    try:
        with building.open("wb") as fh:
            fh.write(_MAGIC + len(header).to_bytes(4, "little") + header)
            payload = _Summed(fh)
            _Pickler(payload, wired).dump(state)  # (written as it is made: no copy of it in memory)
            fh.write(payload.crc.to_bytes(4, "little"))
            if interim:
                fh.write(_INTERIM)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(building, path)
        replaced = True
        store.mark_state(f"{token} {payload.crc:08x}")
    except BaseException:
        building.unlink(missing_ok=True)
        # a state replaced is not the one the file marks; one not replaced still is (an interim state,
        # read with the articles added after it: the only kind a writer keeps beside its file)
        if replaced:
            path.unlink(missing_ok=True)
        raise
    return path


def _building(path: Path) -> Path:
    """Where ``save`` writes the state ``path`` before it replaces it: a hidden name with the
    process id (``_half_written`` finds those a killed writer left)."""
    return path.with_name(f".{path.name}.{os.getpid()}.new")


def _half_written(path: Path, name: str) -> bool:
    """Whether ``name`` (in the directory of the state ``path``) is one of ``_building``'s."""
    prefix = f".{path.name}."
    return name.startswith(prefix) and name.endswith(".new") and name[len(prefix) : -4].isdigit()


def keep(store: SQLiteStore, restored: Restored) -> bool:
    """A writer has opened ``store`` from the state saved beside it (``restored``): the state stays
    as an interim one, so that an opening after a crash reads it and then the articles added after
    it, as after ``save_state`` (a sealed state's seal is replaced by the interim mark; the mark in
    the file stays). Returns whether it was kept (one that cannot be is logged, for the caller to
    take out: ``forget``). Any state a writer killed while saving it left half written is deleted."""
    path = path_of(store.path)
    _forget_half_written(path)
    if restored.interim:
        return True
    try:
        with path.open("r+b") as fh:
            end = fh.seek(0, os.SEEK_END) - len(_SEAL) - _STAMP_SIZE
            fh.seek(max(end, 0))
            if end < 0 or fh.read(len(_SEAL)) != _SEAL:
                raise OSError("the state does not end with its seal")
            # cut first: a writer killed in between leaves a state with neither ending, never read
            fh.truncate(end)
            fh.seek(end)
            fh.write(_INTERIM)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        _log.state_not_kept(store.path.as_posix(), f"{type(exc).__name__}: {exc}")
        return False
    return True


def forget(store: SQLiteStore) -> None:
    """A writer is about to change ``store`` otherwise than by adding articles one at a time (or
    has opened it without reading a state): the state saved beside it is not to be read again
    (its mark is taken out of the file; the state file is deleted when it can be, and any state a
    writer killed while saving it left half written)."""
    path = path_of(store.path)
    with suppress(OSError):  # (first: a file that refuses writes now keeps a mark without its state)
        path.unlink(missing_ok=True)
    _forget_half_written(path)
    if store.state_mark() is not None:
        store.mark_state(None)


def _forget_half_written(path: Path) -> None:
    """Delete the states a writer killed while saving them left half written beside ``path``."""
    with suppress(OSError):
        for name in os.listdir(path.parent):
            if _half_written(path, name):
                with suppress(OSError):
                    (path.parent / name).unlink()


def seal(index: str | Path) -> None:
    """Append to the state saved beside ``index`` (just closed) the file's size and time of last
    change: a state is read only beside the file as it was left (not one changed since by another
    program, nor a copy put in its place)."""
    path = path_of(index)
    try:
        with path.open("r+b") as fh:
            fh.seek(0, os.SEEK_END)
            fh.write(_SEAL + _stamp(index))
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _stamp(index: str | Path) -> bytes:
    """The seal's figures: the index file's size and time of last change (``_STAMP_SIZE`` bytes)."""
    found = os.stat(index)
    return found.st_size.to_bytes(8, "little") + found.st_mtime_ns.to_bytes(8, "little")


@dataclass(frozen=True)
class Restored:
    """A state read back: ``through`` is the last ingest number of the file when it was saved
    (None for a file without articles); an ``interim`` state is followed by the articles added
    after it, which the opening reads from the file."""

    through: int | None
    interim: bool


def load(d: Deduplicator, store: SQLiteStore) -> Restored | None:
    """Set the memory saved with ``store``'s file on ``d`` (a new deduplicator with the file's
    settings and window, reading from ``store``); None, having changed nothing, when there is
    no state the file still marks as its own, or it cannot be read (logged)."""
    mark = store.state_mark()
    path = path_of(store.path)
    if mark is None:
        return None
    if not path.exists():
        _log.state_not_read(str(path), "the index marks a state that is not there (deleted, or not copied with it)")
        return None
    try:
        with path.open("rb") as fh, _collector_paused():
            state, restored = _read(fh, store, {**_header(d, store), "token": mark.split()[0]}, mark)
            watches, records = state["groups"].pop("_watches"), state["groups"].pop("_records")
            state["replica"]["entries"] = dict(_entries(state["replica"]["entries"]))
            state["replica"]["leaving"] = OrderedDict(_entries(state["replica"]["leaving"]))
            for name in _TABLES if "formula" in state else ():
                state["formula"][name] = _dense(state["formula"][name])
            wired = _wired(d)
            if set(state) != set(wired):
                raise _Unread("it holds other parts")
    except Exception as exc:  # (any error of reading a state means reading the file instead)
        why = str(exc) if isinstance(exc, _Unread) else f"{type(exc).__name__}: {exc}"
        _log.state_not_read(str(path), why)
        return None
    for name, fields in state.items():
        for field, value in fields.items():
            setattr(wired[name], field, value)
    d._groups._watches = weakref.WeakKeyDictionary(watches)
    d._groups._records = weakref.WeakKeyDictionary(records)
    return restored


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's garbage collector off while a state is read: reading makes millions of objects,
    none of them garbage, and every few hundred would otherwise start a collection (the full
    ones walking everything the process holds). They then go to the collector's oldest
    generation unwalked (``age_young_objects``)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        age_young_objects()
        if was:
            gc.enable()


class _Unread(Exception):
    """Why a state is not read."""


def _read(
    fh: io.BufferedReader, store: SQLiteStore, expected: dict[str, Any], mark: str
) -> tuple[dict[str, dict[str, Any]], Restored]:
    """The state in a state file, checked against what the deduplicator expects, the mark and the
    file: a sealed state against the file as it is now, an interim one against the articles the
    file held when it was saved (all still there, none removed: a removal takes the mark out)."""
    if fh.read(len(_MAGIC)) != _MAGIC:
        raise _Unread("it is not a state file")
    header = json.loads(fh.read(int.from_bytes(fh.read(4), "little")))
    start = fh.tell()
    size = fh.seek(0, os.SEEK_END)
    fh.seek(max(size - len(_INTERIM), start))
    interim = fh.read() == _INTERIM
    fh.seek(max(size - _STAMP_SIZE - len(_SEAL), start))
    if not interim and fh.read(len(_SEAL)) != _SEAL:
        raise _Unread("it is cut short (its writer stopped while saving it, or it was copied in part)")
    differs = sorted(
        key
        for key in (expected.keys() | header.keys()) - _TOLD
        if header.get(key) != expected.get(key) and not (interim and key == "file")
    )
    if differs:
        raise _Unread(f"it was saved with another {', '.join(differs)}")
    if interim:
        end = size - len(_INTERIM) - 4
        through = _check_interim(store, header.get("file"), header.get("held"))
    else:
        if store.pending_log():
            raise _Unread(
                f"{store.path.name}-wal holds changes not in the file (written since it was saved, or kept by "
                "a reader that had the file open as its writer closed)"
            )
        stamp = _stamp(store.path)
        end = size - 4 - len(_SEAL) - len(stamp)
        fh.seek(max(end + 4, start))
        if end < start or fh.read() != _SEAL + stamp:
            raise _Unread("the index file was changed or replaced since it was saved (or it was not closed)")
        through = expected["file"][2]
    if end < start:
        raise _Unread("it is cut short")
    fh.seek(end)
    crc = int.from_bytes(fh.read(4), "little")
    fh.seek(start)
    payload = _Checked(fh, end - start)
    try:
        state: dict[str, dict[str, Any]] = _Unpickler(payload).load()
        failed: Exception | None = None if payload.left == 0 else _Unread("its payload ends before its checksum")
    except Exception as exc:  # (a payload that fails its checksum is told as such, not by its symptom)
        # kept as its message alone: the error's traceback holds the unpickler and what it had built
        failed = _Unread(f"{type(exc).__name__}: {exc}")
    payload.finish()
    if f"{payload.crc:08x}" != mark.split()[1] or payload.crc != crc:
        raise _Unread("it fails its checksum")
    if failed is not None:
        raise failed
    return state, Restored(through, interim)


def _check_interim(store: SQLiteStore, saved: Any, held: Any) -> int | None:
    """The last ingest number of the file when an interim state was saved, checked: the file
    holds as many articles up to it as it did then, and at most a third as many after it as
    the state holds in memory (each article after it is read one at a time, as the stream
    added it: with more, reading the window from the file is the faster)."""
    if not (isinstance(saved, list) and len(saved) == 3 and type(held) is int):
        raise _Unread("it does not say what the file held")
    articles, _, through = saved
    if through is not None and not isinstance(through, int):
        raise _Unread("it does not say what the file held")
    up_to = store.count_through(through)
    if up_to != int(articles or 0):
        raise _Unread(
            f"the file holds {up_to} articles up to ingest number {through} where it held {articles} "
            "(removed since, or lost as the machine stopped)"
        )
    after = store.count() - up_to
    if 3 * after > held:
        raise _Unread(
            f"{after} articles were added after it, more than a third of the {held} it holds: reading the "
            "window from the file is faster"
        )
    return through


class _Checked:
    """The payload of a state file, read once by the unpickler as its CRC-32 is summed: the
    payload is checked after it is read instead of in a pass of its own (the unpickler builds
    only allowed classes, so reading a damaged payload is safe, and it is then thrown away)."""

    def __init__(self, fh: io.BufferedReader, size: int) -> None:
        self._fh = fh
        self.left = size
        self.crc = 0

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(self.left if n < 0 else min(n, self.left))
        self.crc, self.left = zlib.crc32(data, self.crc), self.left - len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        view = memoryview(buffer).cast("B")[: self.left]
        n = self._fh.readinto(view)
        self.crc, self.left = zlib.crc32(view[:n], self.crc), self.left - n
        return n

    def readline(self) -> bytes:
        data = self._fh.readline(self.left)
        self.crc, self.left = zlib.crc32(data, self.crc), self.left - len(data)
        return data

    def finish(self) -> None:
        """Sum what the unpickler left unread."""
        while self.left:
            if not self.read(1 << 24):
                raise _Unread("it is cut short")
