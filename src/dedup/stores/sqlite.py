"""Persistence: the index in a SQLite file that survives restarts and crashes.

``Deduplicator.open(path)`` reads the file back into memory (articles, their shingles and signatures,
the verified copies), or the state its last writer saved beside it as it closed
(``dedup.runners.stream.state``), and writes every added article in its own transaction before ``add`` returns:
an article whose verdict was given is on disk, whatever happens to the process next (WAL mode,
``synchronous=NORMAL``: safe against a killed process; against power loss use ``synchronous=FULL``
with ``SQLiteStore(durable=True)``).

File format (version 3), documented so that other tools can read it; no pickle in it. A checksum
is BLAKE2b with a 16-byte digest.

- ``meta(key TEXT PRIMARY KEY, value TEXT)``: ``format`` = ``dedup-index``, ``version`` = ``3``,
  ``config`` = the ``DedupConfig`` as JSON (an index only answers for the settings it was built with),
  ``config_checksum`` = the hex checksum of that JSON, ``articles`` and ``matches`` = the number
  of rows of each table (kept by triggers), ``window`` = the window its last writer opened it
  with, as JSON ``{"days": ..., "articles": ...}`` or ``null`` for none (``dedup index`` opens the
  file with it, as the stream does; absent from a file no writer opened since it was recorded), and
  while the file is closed with its state saved (or its writer saved one as it went on,
  ``Deduplicator.save_state``), ``state`` = that state's mark (a random token and the CRC-32 of its
  payload, in hex).
- ``articles``: ``id`` TEXT PRIMARY KEY, ``seq`` INTEGER (ingest order), ``text``, ``published_at``
  (ISO 8601 or NULL), ``source``, ``url``, ``title``, ``cluster`` (the article's cluster id when it
  was last given; read back to keep cluster ids when a window's articles are reopened),
  ``arrays``: a 4-byte little-endian header length, a JSON header ``[[name, dtype, shape], ...]``,
  then each array's little-endian bytes in C order: ``words`` (uint64), ``sentence_starts`` (int64), ``sentence_fps``
  (uint64), ``passages`` (int64, n x 2), ``passage_sentence`` (int64), ``passage_shingles`` (uint64),
  ``passage_offsets`` (int64), ``shingles`` (uint64), ``signature`` (uint32) and
  ``passage_signatures`` (uint32, n x passage num_perm); and ``checksum``: the checksum of the JSON
  list ``[id, seq, text, published_at, source, url, title]`` (ASCII), a zero byte, then ``arrays``.
- ``matches(a TEXT, b TEXT, record TEXT, checksum BLOB, PRIMARY KEY (a, b))``: the verified copies,
  ``record`` being ``Match.to_record()`` as JSON and ``checksum`` the checksum of the JSON list
  ``[a, b, record]``.

Opening checks what it reads. A path that does not exist becomes a new index, built beside it and
moved into place, so that a new index is never half written. An existing file must be a dedup index
of this version whose settings match their checksum; every row read back must match its checksum
(and an article read by its id be that article), and each table must hold as many rows as ``meta``
says. Anything else raises a ``StoreFormatError`` (a ``StoreCorruptError`` for a damaged index)
and leaves the file as it is. The whole file is not read at opening (a window reads only its
articles, a small part of a long crawl's file): ``check`` reads all of it, SQLite's
``PRAGMA integrity_check`` and every row against its checksum (``dedup index check``).

One process writes an index at a time: opening takes an exclusive ``flock`` on ``<index>.lock``
beside the file (which holds the pid of the holder), released by ``close`` or when the process ends.
A store opened as a ``reader`` takes no lock and writes nothing, beside the writer, and reads one
snapshot of the file for as long as it is open.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import queue
import resource
import shutil
import sqlite3
import sys
import threading
import weakref
from collections.abc import Callable, Container, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from dedup.config import DedupConfig, Window
from dedup.errors import DedupError, StoreCorruptError, StoreError, StoreFormatError, StoreFullError, StoreLockedError
from dedup.records import Article, Match
from dedup.stages.shingle import Shingled
from dedup.stores.base import Answers, Change

FORMAT = "dedup-index"
VERSION = 3  # 3: row checksums and counts; 2: words hashed with FNV-1a + fmix64
_ARRAYS = (
    "words", "sentence_starts", "sentence_fps", "passages", "passage_sentence",
    "passage_shingles", "passage_offsets", "shingles", "quoted",
)  # fmt: skip

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE articles (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, text TEXT NOT NULL, published_at TEXT,
    source TEXT, url TEXT, title TEXT, cluster TEXT, arrays BLOB NOT NULL, checksum BLOB NOT NULL
);
CREATE TABLE matches (
    a TEXT NOT NULL, b TEXT NOT NULL, record TEXT NOT NULL, checksum BLOB NOT NULL, PRIMARY KEY (a, b)
);
CREATE INDEX matches_b ON matches (b);
CREATE TRIGGER articles_added AFTER INSERT ON articles
    BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'articles'; END;
CREATE TRIGGER articles_removed AFTER DELETE ON articles
    BEGIN UPDATE meta SET value = CAST(value AS INTEGER) - 1 WHERE key = 'articles'; END;
CREATE TRIGGER matches_added AFTER INSERT ON matches
    BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'matches'; END;
CREATE TRIGGER matches_removed AFTER DELETE ON matches
    BEGIN UPDATE meta SET value = CAST(value AS INTEGER) - 1 WHERE key = 'matches'; END;
"""
_TABLES = {"meta", "articles", "matches"}
_SQLITE_HEADER = b"SQLite format 3\x00"
_AFTER_DAMAGE = "restore it from a backup or rebuild the index from your articles; the file is left as it is"
_NOT_AN_INDEX = (
    "if it was an index, restore it from a backup or rebuild it from your articles, otherwise give a new path; "
    "the file is left as it is"
)


def config_to_json(config: DedupConfig) -> str:
    return json.dumps(dataclasses.asdict(config), sort_keys=True, ensure_ascii=False)


def _checksum(*parts: bytes) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part)
    return digest.digest()


def article_checksum(fields: Sequence[object], arrays: bytes) -> bytes:
    """The checksum of an ``articles`` row: ``fields`` are its columns from ``id`` to ``title``."""
    return _checksum(json.dumps(list(fields)).encode("ascii"), b"\0", arrays)


def match_checksum(a: str, b: str, record: str) -> bytes:
    return _checksum(json.dumps([a, b, record]).encode("ascii"))


def config_checksum(config_json: str) -> str:
    return _checksum(config_json.encode("utf-8")).hex()


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """One article as read back from the file (``cluster``: the id of the cluster it was last
    answered in, when read back)."""

    article: Article
    seq: int
    doc: Shingled
    signature: np.ndarray
    passage_signatures: np.ndarray
    cluster: str | None = None


@dataclass(frozen=True, slots=True)
class Counted:
    """What the formula counts take in of an article: its outlet's fields and its document
    shingles, with its ingest number (``SQLiteStore.counted``)."""

    seq: int
    source: str | None
    url: str | None
    shingles: np.ndarray


_DTYPES = {"uint64": np.uint64, "int64": np.int64, "uint32": np.uint32}
_NAMES = {np.dtype(kind): name for name, kind in _DTYPES.items()}  # an array's dtype as a header names it
_STORED_DTYPES = {name: np.dtype(kind).newbyteorder("<") for name, kind in _DTYPES.items()}  # as in a blob
_LITTLE = sys.byteorder == "little"  # native arrays are already in a blob's byte order


def _little_bytes(a: np.ndarray) -> bytes:
    return a.tobytes() if _LITTLE else a.astype(a.dtype.newbyteorder("<")).tobytes()


def pack_arrays(doc: Shingled, signature: np.ndarray, passage_signatures: np.ndarray) -> bytes:
    """An article's arrays in one blob (read back by ``unpack_arrays``): a 4-byte little-endian
    length, a JSON header ``[[name, dtype, shape], ...]``, then each array's little-endian bytes in
    C order. (``numpy.savez`` would do, but its zip container costs more than the whole write.)"""
    arrays = [(name, getattr(doc, name)) for name in _ARRAYS]
    arrays += [("signature", signature), ("passage_signatures", passage_signatures)]
    header = json.dumps([[name, _NAMES[a.dtype], list(a.shape)] for name, a in arrays]).encode("ascii")
    return b"".join([len(header).to_bytes(4, "little"), header, *(_little_bytes(a) for _, a in arrays)])


def _shape(name: str, shape: object) -> tuple[int, ...]:
    if type(shape) is list and len(shape) == 1 and type(shape[0]) is int and shape[0] >= 0:
        return (shape[0],)  # (most arrays: checked without a generator)
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(f"{name}: the shape {shape!r} is no list of sizes")
    return tuple(shape)


def _laid_out(blob: bytes) -> Iterator[tuple[str, str, tuple[int, ...], int, int]]:
    """Each array of a blob: its name, dtype name, shape, offset and number of items (the
    header's word, checked as far as it can be without reading the arrays)."""
    size = int.from_bytes(blob[:4], "little")
    header = json.loads(blob[4 : 4 + size])
    offset = 4 + size
    for name, dtype, shape in header:
        kind = _STORED_DTYPES[dtype]
        dims = _shape(name, shape)
        count = math.prod(dims)
        yield name, dtype, dims, offset, count
        offset += count * kind.itemsize


def _array(blob: bytes, dtype: str, dims: tuple[int, ...], offset: int, count: int) -> np.ndarray:
    # a copy in the native byte order, which the array owns (not a view of the blob)
    out = np.frombuffer(blob, dtype=_STORED_DTYPES[dtype], count=count, offset=offset).astype(_DTYPES[dtype])
    return out.reshape(dims) if len(dims) != 1 else out


_UNPACKING_ERRORS = (ValueError, KeyError, TypeError, OverflowError, UnicodeDecodeError)


def _corrupt_arrays(where: str, exc: Exception) -> StoreCorruptError:
    return StoreCorruptError(f"{where}: the stored arrays are corrupt ({exc}); {_AFTER_DAMAGE}")


def unpack_arrays(blob: bytes, *, where: str) -> tuple[Shingled, np.ndarray, np.ndarray]:
    try:
        found: dict[str, Any] = {
            name: _array(blob, dtype, dims, offset, count) for name, dtype, dims, offset, count in _laid_out(blob)
        }
        # an array added since (``quoted``) is missing from an older index: the record's default
        doc = Shingled(**{name: found[name] for name in _ARRAYS if name in found})
        return doc, found["signature"], found["passage_signatures"]
    except _UNPACKING_ERRORS as exc:
        raise _corrupt_arrays(where, exc) from exc


def unpack_array(blob: bytes, wanted: str, *, where: str) -> np.ndarray:
    """One array of a blob ``pack_arrays`` wrote, the others left unread."""
    try:
        for name, dtype, dims, offset, count in _laid_out(blob):
            if name == wanted:
                return _array(blob, dtype, dims, offset, count)
        raise KeyError(wanted)
    except _UNPACKING_ERRORS as exc:
        raise _corrupt_arrays(where, exc) from exc


class _WriterLock:
    """The exclusive lock of the one process that writes an index: ``flock`` on ``<index>.lock``,
    which the kernel releases when the file is closed or the process ends, however it ends."""

    def __init__(self, index: Path) -> None:
        self.path = index.with_name(index.name + ".lock")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(
                f"{index}: cannot open the index file (its lock file {self.path.name}: {exc.strerror}); check "
                "the folder exists and is writable by this user"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if isinstance(exc, BlockingIOError):
                if holder == str(os.getpid()):
                    raise StoreLockedError(
                        f"{index} is already open for writing in this process; close the other Deduplicator on "
                        "it first (or use that one)"
                    ) from None
                raise StoreLockedError(
                    f"{index} is open for writing in another process (pid {holder}), and one process "
                    "writes an index at a time; close it there (Deduplicator.close()) or wait for that process "
                    "to end, or give another path (several workers share an index in Redis: "
                    "Deduplicator.open('redis://...'))"
                ) from None
            raise StoreError(f"{index}: cannot lock {self.path} ({exc.strerror}); use a local disk") from exc
        with suppress(OSError):  # the pid only helps the message of a refused opener
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_log = logging.getLogger("dedup.index")
CHECKPOINT_BYTES = 1 << 20  # about a fourth of what the log grows by: SQLite's own checkpoints come every 4 MB
_LOG_KEPT = 16 << 20  # bytes of the log file kept when the writer starts it over
_PASSES = 16  # checkpoints in a row at most, each copying what the writer committed during the last


class _Checkpointer:
    """Copies the write-ahead log into the index file from a thread of its own.

    Left to itself, SQLite checkpoints in the connection that commits, once the log holds
    ``wal_autocheckpoint`` pages: that commit copies them and syncs the file, one ``add`` in a few
    hundred taking tens of milliseconds. The writer turns that off (``wal_autocheckpoint=0``) and
    tells this thread how much it wrote (``wrote``); past ``CHECKPOINT_BYTES`` the thread runs a
    passive checkpoint (which neither waits for the writer nor makes it wait) on a connection of
    its own. Python's sqlite3 lets go of the GIL while SQLite works, so adds go on meanwhile.

    The writer starts the log over from its beginning only when a transaction begins with every
    page of the log copied; what it commits during a checkpoint is left for the next one, so the
    thread checkpoints again at once (each time a shorter copy) until one copies everything, else the
    log would grow without end. A log found past ``_LOG_KEPT`` has not started over for a while
    (the writer began a transaction before the copy ended each time): a last checkpoint then makes
    the writer wait while the rest is copied, so that it starts over. A checkpoint is not needed
    for durability (a committed article is in the log): one that fails is logged and tried again
    later, and the log grows meanwhile. The thread stops when the store is closed, or collected
    unclosed, or at the interpreter's exit (then without waiting: an interrupted checkpoint leaves
    the log to be copied by the next connection).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._written = 0
        # wake-ups (True) and the stop (None); a SimpleQueue, whose put may be called from a
        # finalizer that the garbage collector runs in the middle of the thread's own code
        self._asks: queue.SimpleQueue[bool | None] = queue.SimpleQueue()
        self._failed = False
        self._thread = threading.Thread(target=self._run, name=f"dedup checkpoint {path.name}", daemon=True)
        self._thread.start()

    def wrote(self, size: int) -> None:
        self._written += size
        if self._written >= CHECKPOINT_BYTES:
            self._written = 0
            self._asks.put(True)

    def _run(self) -> None:
        db: sqlite3.Connection | None = None
        try:
            while self._asks.get():
                while not self._asks.empty():  # the wake-ups that came meanwhile: one checkpoint
                    if not self._asks.get():
                        return
                try:
                    if db is None:
                        # no busy wait: a checkpoint that would wait for a reader of another
                        # process copies what it can and ends (the writer waits for none)
                        db = sqlite3.connect(self._path, timeout=0, isolation_level=None, check_same_thread=False)
                    self._checkpoint(db)
                    self._failed = False
                except Exception as exc:  # the thread lives on: the next checkpoint may succeed
                    if not self._failed:
                        _log.warning(
                            "%s: the write-ahead log could not be copied into the index file (%s: %s); every "
                            "added article is safe in the log, which grows until a later try succeeds",
                            self._path, type(exc).__name__, exc,
                        )  # fmt: skip
                    self._failed = True
        finally:
            if db is not None:
                db.close()

    @staticmethod
    def _checkpoint(db: sqlite3.Connection) -> None:
        longest = last = -1
        for _ in range(_PASSES):
            _, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            longest = max(longest, frames)
            if copied >= frames == last:  # all copied, and nothing committed since the last pass
                break
            last = frames
        (page,) = db.execute("PRAGMA page_size").fetchone()
        if longest * page > _LOG_KEPT:  # the log did not start over since: the writer waits, once
            db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()

    def stop(self) -> None:
        """Ask the thread to stop after the checkpoint under way (what a finalizer may call)."""
        self._asks.put(None)

    def close(self) -> None:
        """Stop the thread and wait for it (a checkpoint under way ends first)."""
        self.stop()
        if threading.current_thread() is not self._thread:
            self._thread.join()


class SQLiteStore:
    """The SQLite file behind a persistent ``Deduplicator``."""

    shared = False

    def __init__(self, path: str | Path, config: DedupConfig, *, durable: bool = False, reader: bool = False) -> None:
        """Open the index at ``path`` for writing (created when it does not exist), or with
        ``reader`` to read an existing one beside the process that writes it: no lock is taken,
        the file is opened read-only (``_read_only``), and every read sees one snapshot of it, as
        it was when opened (the writer's log is not copied into the file past it meanwhile)."""
        self.path = Path(path)
        self._reader = reader
        self._failed: StoreError | None = None  # the error the file was closed after
        self._lock: _WriterLock | None = None if reader else _WriterLock(self.path)
        try:
            if self.path.exists():
                self._check_file()
            elif reader:
                raise StoreError(f"{self.path}: no index file there; give the path of an index")
            else:
                self._refuse_stray_log()
                self._create(config)
            self._db = (
                _read_only(self.path)
                if reader
                else sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            )
        except BaseException as exc:
            self._release_lock()
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc, "open the index file") from exc
            raise
        self._checkpoints: _Checkpointer | None = None
        try:
            if reader:
                # one read transaction for as long as the store is open: every read sees the file
                # as it was at the first, whatever its writer commits meanwhile
                self._db.execute("BEGIN")
                self._check(config)
                return
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._check(config)
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpoints are the thread's
            self._db.execute(f"PRAGMA journal_size_limit={_LOG_KEPT}")  # a log grown long is cut back
            checkpoints = _Checkpointer(self.path)
            self._checkpoints = checkpoints
            self._stop_checkpoints = weakref.finalize(self, checkpoints.stop)
        except BaseException as exc:
            self.close()
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc, "open the index file") from exc
            raise

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()

    # -- opening ----------------------------------------------------------------------------------
    def _check_file(self) -> None:
        """Refuse, before SQLite sees it, a file that cannot be an index: SQLite would take an empty
        file for a new database and make it one."""
        try:
            # r+ for writing: a read-only file is refused now, not at the first add
            with self.path.open("rb" if self._reader else "r+b") as f:
                header = f.read(len(_SQLITE_HEADER))
        except OSError as exc:
            if not self._reader and (isinstance(exc, PermissionError) or exc.errno == errno.EROFS):
                raise StoreError(
                    f"{self.path}: the index file is read-only ({exc.strerror}); make it and its folder writable "
                    "by this user (an index is opened for writing)"
                ) from exc
            raise StoreError(
                f"{self.path}: cannot read the index file ({exc.strerror}); check it is a file this user can "
                "read and write"
            ) from exc
        if not header:
            raise StoreFormatError(f"{self.path}: the file is empty (0 bytes), so not a dedup index; {_NOT_AN_INDEX}")
        if header != _SQLITE_HEADER:
            raise StoreFormatError(f"{self.path}: not a SQLite file, so not a dedup index; {_NOT_AN_INDEX}")

    def pending_log(self) -> bool:
        """Whether SQLite's log (``-wal``) beside the file holds changes: the file alone then is
        not the whole index (a writer stopped without closing, or a reader kept the log)."""
        log = self.path.with_name(self.path.name + "-wal")
        try:
            return log.stat().st_size > 0
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read {log.name} beside it ({exc.strerror})") from exc

    def _refuse_stray_log(self) -> None:
        """Refuse to create an index where the log of a deleted one is left: SQLite would take it
        for the new file's log and apply it, bringing back or damaging what the deleted index held.
        A writer killed leaves its log (``-wal``) until the file is next opened, and deleting the
        file alone to start again leaves it behind."""
        log = self.path.with_name(self.path.name + "-wal")
        if self.pending_log():
            raise StoreError(
                f"{self.path}: no index file there, but {log.name} is: the log of an index file deleted or moved "
                "after its writer stopped without closing it, which SQLite would apply to a new file here. Put the "
                f"index file back, or delete {log.name} (and {self.path.name}-shm) to start a new index"
            )

    def _create(self, config: DedupConfig) -> None:
        """A new index: built in a file beside the path and moved into place when complete."""
        wanted = config_to_json(config)
        meta = [
            ("format", FORMAT), ("version", str(VERSION)), ("config", wanted),
            ("config_checksum", config_checksum(wanted)), ("articles", "0"), ("matches", "0"),
        ]  # fmt: skip
        building = self.path.with_name(f".{self.path.name}.{os.getpid()}.new")
        try:
            building.unlink(missing_ok=True)
            with closing(sqlite3.connect(building, isolation_level=None)) as db:
                db.executescript(f"BEGIN; {_SCHEMA}")
                db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta)
                db.execute("COMMIT")
            _fsync(building)
            os.replace(building, self.path)
            _fsync(self.path.parent)
        except (OSError, sqlite3.Error) as exc:
            with suppress(OSError):
                building.unlink(missing_ok=True)
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc, "create the index file") from exc
            raise StoreError(
                f"{self.path}: cannot create the index file ({exc}); check the folder is writable and the disk "
                "has space"
            ) from exc

    def _check(self, config: DedupConfig) -> None:
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            raise StoreFormatError(f"{self.path}: a SQLite file, but not a dedup index; {_NOT_AN_INDEX}")
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            raise StoreFormatError(
                f"{self.path}: a SQLite file, but not a dedup index (its format is {meta.get('format')!r}, not "
                f"{FORMAT!r}); {_NOT_AN_INDEX}"
            )
        try:
            version = int(meta.get("version", "0"))
        except ValueError:
            raise self._corrupt(f"its format version {meta.get('version')!r} is not a number") from None
        if version > VERSION:
            raise StoreFormatError(
                f"{self.path}: written by a newer dedup (index format {version}; this version reads "
                f"{VERSION}); upgrade dedup"
            )
        if version < VERSION:
            raise StoreFormatError(f"{self.path}: index format {version} is older than {VERSION}; rebuild the index")
        if not tables >= _TABLES or not {"config", "config_checksum", "articles", "matches"} <= meta.keys():
            raise self._corrupt("tables or settings are missing")
        stored = meta["config"]
        if config_checksum(stored) != meta["config_checksum"]:
            raise self._corrupt("its settings fail their checksum")
        if not same_settings(stored, config):
            raise StoreError(
                f"{self.path} was built with other settings ({settings_differing(stored, config)}); open it "
                "with the settings it was built with: Deduplicator.open(path) with no config, or dedup "
                "stream --index without --config, reads them from the file"
            )

    # -- the stream's saved state (``dedup.runners.stream.state``) ---------------------------------
    def extent(self) -> list[object]:
        """The numbers of articles and copies the file lists, and its last ingest number (None
        when it holds no article)."""
        with self._reading():
            listed = dict(self._db.execute("SELECT key, value FROM meta WHERE key IN ('articles', 'matches')"))
            last = self._db.execute("SELECT max(seq) FROM articles").fetchone()[0]
        return [listed.get("articles"), listed.get("matches"), last]

    def state_mark(self) -> str | None:
        """The mark of the state saved beside the file when it was last closed, if it still has one."""
        with self._reading():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()
        return None if row is None else str(row[0])

    def mark_state(self, mark: str | None) -> None:
        """Record the mark of the state saved beside the file, or (None) that none is to be read."""
        try:
            with self._transaction() as db:
                if mark is None:
                    db.execute("DELETE FROM meta WHERE key = 'state'")
                else:
                    db.execute(
                        "INSERT INTO meta (key, value) VALUES ('state', ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (mark,),
                    )
        except sqlite3.Error as exc:
            raise self._error(exc, "record the state saved beside the file") from exc

    def note_window(self, window: Window | None) -> None:
        """Record the window the writer opened the file with (``stored_window``), unless it is
        recorded already."""
        value = window_to_json(window)
        if self._window_record() == value:
            return
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('window', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (value,),
                )
        except sqlite3.Error as exc:
            raise self._error(exc, "record the window it is opened with") from exc

    def _window_record(self) -> str | None:
        with self._reading():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'window'").fetchone()
        return None if row is None else str(row[0])

    def recorded_window(self, *, quiet: bool = False) -> Window | None:
        """``stored_window`` of the file this store has open, read on its own connection."""
        recorded = self._window_record()
        return None if recorded is None else window_from_json(recorded, str(self.path), quiet=quiet)

    @staticmethod
    def stored_window(path: str | Path, *, quiet: bool = False) -> Window | None:
        """The window the file's last writer opened it with (``note_window``); None when it had
        none, or when the file does not say (a file no writer opened since the window was
        recorded), or cannot be read (opening it says why). A record that is not a window is
        logged (WARNING on ``dedup.index``, unless ``quiet``) and taken for none."""
        try:
            with closing(_read_only(Path(path))) as db:
                row = db.execute("SELECT value FROM meta WHERE key = 'window'").fetchone()
        except sqlite3.Error:
            return None
        return None if row is None else window_from_json(row[0], str(path), quiet=quiet)

    @staticmethod
    def stored_config(path: str | Path) -> DedupConfig | None:
        """The config an existing index was built with (None for a new file, or one whose settings
        cannot be read: the constructor reports what is wrong with it)."""
        p = Path(path)
        if not p.exists():
            return None
        try:
            with closing(_read_only(p)) as db:
                meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('config', 'config_checksum')"))
            stored = meta["config"]
            if config_checksum(stored) != meta["config_checksum"]:
                return None
            return config_from_json(stored)
        except Exception:  # the constructor says what is wrong: damaged, foreign, older, ...
            return None

    # -- writing ----------------------------------------------------------------------------------
    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            if exc_type is None:
                try:
                    self.db.execute("COMMIT")
                    return
                except BaseException:
                    self._rollback()
                    raise
            self._rollback()

        def _rollback(self) -> None:
            # SQLite may have rolled back already (a full disk does), and the error that got here
            # is the one to report
            if self.db.in_transaction:
                with suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")

    def _transaction(self) -> SQLiteStore._Tx:
        self._refuse_if_failed()
        return SQLiteStore._Tx(self._db)

    def save(
        self,
        stored: StoredArticle,
        matches: list[Match],
        cluster: tuple[str, list[str]],
        answers: Answers,
        batch: str | None = None,
    ) -> None:
        """Write one added article, the verified copies given (its own and any found since the
        previous save) and its cluster id (also on the other members named, whose id changed), in
        one transaction. The file has one writer: no other reads ``answers`` or ``batch``."""
        cluster_id, members = cluster
        article = stored.article
        fields = (
            article.id, stored.seq, article.text,
            None if article.published_at is None else article.published_at.isoformat(),
            article.source, article.url, article.title,
        )  # fmt: skip
        arrays = pack_arrays(stored.doc, stored.signature, stored.passage_signatures)
        records = [json.dumps(m.to_record(), ensure_ascii=False) for m in matches if m.is_copy]
        copies = [m for m in matches if m.is_copy]
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO articles (id, seq, text, published_at, source, url, title, cluster, arrays, checksum)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*fields[:7], cluster_id, arrays, article_checksum(fields, arrays)),
                )
                db.executemany(
                    "INSERT INTO matches (a, b, record, checksum) VALUES (?, ?, ?, ?) ON CONFLICT (a, b)"
                    " DO UPDATE SET record = excluded.record, checksum = excluded.checksum",
                    [(m.a, m.b, r, match_checksum(m.a, m.b, r)) for m, r in zip(copies, records, strict=True)],
                )
                db.executemany("UPDATE articles SET cluster = ? WHERE id = ?", [(cluster_id, m) for m in members])
        except sqlite3.Error as exc:
            raise self._error(
                exc, f"add article {article.id!r}", not_done=f"article {article.id!r} is not added"
            ) from exc
        self._wrote(len(article.text) + len(arrays) + sum(map(len, records)) + 256 * (1 + len(members)))

    def lock(self) -> AbstractContextManager[None]:
        """Nothing to hold: the file has one writer (the ``flock`` taken when it was opened)."""
        return nullcontext()

    def pending(self) -> Iterator[Change]:
        """Nothing: no other worker writes this file."""
        return iter(())

    def next_seq(self, current: int) -> int:
        return current

    def delete(self, article_id: str) -> None:
        try:
            with self._transaction() as db:
                db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
                db.execute("DELETE FROM matches WHERE a = ? OR b = ?", (article_id, article_id))
        except sqlite3.Error as exc:
            raise self._error(
                exc, f"remove article {article_id!r}", not_done=f"article {article_id!r} is not removed"
            ) from exc
        self._wrote(4096)

    def _wrote(self, size: int) -> None:
        """About ``size`` bytes were committed to the log (``_Checkpointer``)."""
        if self._checkpoints is not None:
            self._checkpoints.wrote(size)

    # -- reading ----------------------------------------------------------------------------------
    def _order(self) -> list[tuple[int, int, str, str | None]]:
        """(rowid, seq, id, published_at) of every article, in ingest order, the count checked."""
        # the table itself, in its own order, not through an index: a damaged index would skip or
        # repeat rows
        order = self._db.execute("SELECT rowid, seq, id, published_at FROM articles NOT INDEXED").fetchall()
        self._check_count("articles", len(order))
        if not all(isinstance(row[1], int) and isinstance(row[2], str) for row in order):
            raise self._corrupt("an article has no ingest number or no id")
        order.sort(key=lambda row: row[1])
        if len({row[1] for row in order}) != len(order):
            raise self._corrupt("two articles have the same ingest number")
        return order

    def count(self) -> int:
        """The number of articles the file lists (kept by its triggers, checked as the articles
        are read)."""
        with self._reading():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'articles'").fetchone()
        return int(row[0]) if row is not None else 0

    def timeline(self) -> list[tuple[int, str, datetime | None]]:
        """(seq, id, published_at) of every article, in ingest order, read without the texts."""
        with self._reading():
            out = []
            for _, seq, art_id, published in self._order():
                try:
                    when = None if published is None else datetime.fromisoformat(published)
                except (TypeError, ValueError):
                    raise self._corrupt(f"article {art_id!r} has the time {published!r}") from None
                out.append((seq, art_id, when))
            return out

    def articles(self, only: Container[str] | None = None) -> Iterator[StoredArticle]:
        """Every stored article (or those whose ids are in ``only``), in ingest order, each
        checked against its checksum."""
        with self._reading():
            for rowid, *_ in (row for row in self._order() if only is None or row[2] in only):
                yield self._read(rowid)

    def articles_after(self, seq: int | None) -> Iterator[StoredArticle]:
        """The stored articles added after ingest number ``seq`` (all of them for None), in ingest
        order, each checked against its checksum."""
        with self._reading():
            rows = self._db.execute(
                "SELECT rowid FROM articles WHERE seq > ? ORDER BY seq", (-1 if seq is None else seq,)
            ).fetchall()
            for (rowid,) in rows:
                yield self._read(rowid)

    def count_through(self, seq: int | None) -> int:
        """How many stored articles have an ingest number up to ``seq`` (none for None)."""
        if seq is None:
            return 0
        with self._reading():
            return int(self._db.execute("SELECT count(*) FROM articles WHERE seq <= ?", (seq,)).fetchone()[0])

    def cluster_ids(self, ids: Sequence[str]) -> dict[str, str]:
        """The cluster id recorded for each of ``ids`` that the file holds with one."""
        found: dict[str, str] = {}
        with self._reading():
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                marks = ", ".join("?" * len(chunk))
                query = f"SELECT id, cluster FROM articles WHERE id IN ({marks})"  # (placeholders only)
                for art_id, cluster in self._db.execute(query, chunk):
                    if isinstance(art_id, str) and isinstance(cluster, str):
                        found[art_id] = cluster
        return found

    def _read(self, rowid: int) -> StoredArticle:
        return self._unpacked(*self._row(rowid))

    def _row(self, rowid: int) -> tuple[list[Any], bytes, str | None]:
        """A row's columns ``id`` to ``title``, its arrays and its cluster, checked against its
        checksum."""
        row = self._db.execute(
            "SELECT id, seq, text, published_at, source, url, title, arrays, checksum, cluster FROM articles"
            " NOT INDEXED WHERE rowid = ?",
            (rowid,),
        ).fetchone()
        *fields, blob, checksum, cluster = row
        if not isinstance(blob, bytes) or checksum != article_checksum(fields, blob):
            raise self._corrupt(f"article {fields[0]!r} fails its checksum")
        return fields, blob, cluster if isinstance(cluster, str) else None

    def _unpacked(self, fields: list[Any], blob: bytes, cluster: str | None) -> StoredArticle:
        art_id, seq, text, published, source, url, title = fields
        doc, signature, passage_signatures = unpack_arrays(blob, where=f"{self.path} {art_id!r}")
        article = Article(id=art_id, text=text, published_at=published, source=source, url=url, title=title)
        return StoredArticle(article, seq, doc, signature, passage_signatures, cluster)

    def _row_of(self, article_id: str) -> tuple[list[Any], bytes, str | None] | None:
        """``_row`` of the article ``article_id``; None when the file has no such id. An index of
        ids that points at another row closes the file."""
        row = self._db.execute("SELECT rowid FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            return None
        found = self._row(row[0])
        if found[0][0] != article_id:  # the id's index points at another row: the file's damage
            damaged = self._corrupt(f"looking up article {article_id!r} finds {found[0][0]!r}")
            self._fail(damaged)  # (nothing is deleted through that index)
            raise damaged
        return found

    def stored(self, article_id: str) -> StoredArticle | None:
        """One stored article, checked against its checksum; None when the file has no such id.
        A damaged row raises ``StoreCorruptError`` and leaves the file open; an index of ids that
        points at another row closes it."""
        with self._reading(damage_closes=False):
            found = self._row_of(article_id)
            return None if found is None else self._unpacked(*found)

    def counted(self, article_id: str) -> Counted | None:
        """What the formula counts took in of a stored article: its row checked against its
        checksum and its id's index as ``stored`` checks them, but only the ``shingles`` array
        unpacked (the other arrays and the fields are not parsed, so a row whose checksum holds but
        whose other parts ``stored`` cannot read is still counted out). An article leaving a
        window is read back for these alone."""
        with self._reading(damage_closes=False):
            found = self._row_of(article_id)
            if found is None:
                return None
            (art_id, seq, _, _, source, url, _), blob, _ = found
            return Counted(seq, source, url, unpack_array(blob, "shingles", where=f"{self.path} {art_id!r}"))

    def check(self) -> tuple[int, int]:
        """Read the whole file: SQLite's check of its structure (pages, records, free list, and
        each index against its table), then every article and every copy against its checksum and
        the row counts, all in one read transaction (one snapshot of the file, while another
        process may write it). Returns the numbers of articles and copies; raises a
        ``StoreCorruptError`` saying what is damaged."""
        began = not self._db.in_transaction  # (a reader's transaction is open already)
        if began:
            with self._reading():
                self._db.execute("BEGIN")
        try:
            with self._reading():
                problems = [row[0] for row in self._db.execute("PRAGMA integrity_check(5)")]
                if problems != ["ok"]:
                    found = " ".join(str(p) for p in problems).replace("\n", " ")
                    raise self._corrupt(f"SQLite's check finds: {found}")
            articles = sum(1 for _ in self.articles())
            return articles, sum(1 for _ in self.matches())
        finally:
            with suppress(sqlite3.Error):  # (the store is closed when reading it failed)
                if began and self._db.in_transaction:
                    self._db.execute("ROLLBACK")

    def matches(
        self, *, between: Container[str] | None = None, skip: Callable[[str, str], bool] | None = None
    ) -> Iterator[Match]:
        """Every stored verified copy (or those of two articles in ``between``, but those of a and
        b for which ``skip(a, b)``), each checked against its checksum."""
        with self._reading():
            seen = 0
            for a, b, record, checksum in self._db.execute("SELECT a, b, record, checksum FROM matches NOT INDEXED"):
                seen += 1
                if between is not None and (a not in between or b not in between):
                    continue
                if skip is not None and skip(a, b):
                    continue
                yield self._match(a, b, record, checksum)
            self._check_count("matches", seen)

    def matches_of(self, article_id: str) -> list[Match]:
        """The stored verified copies of one article, each checked against its checksum."""
        with self._reading():
            rows = self._db.execute(
                "SELECT a, b, record, checksum FROM matches WHERE a = ? UNION ALL "
                "SELECT a, b, record, checksum FROM matches WHERE b = ?",
                (article_id, article_id),
            ).fetchall()
            return [self._match(*row) for row in rows]

    def _match(self, a: str, b: str, record: object, checksum: object) -> Match:
        """A row of ``matches``, checked against its checksum."""
        if not isinstance(record, str) or checksum != match_checksum(a, b, record):
            raise self._corrupt(f"the copy {a!r} - {b!r} fails its checksum")
        return Match.from_record(json.loads(record))

    def _check_count(self, table: str, found: int) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (table,)).fetchone()
        listed = None if row is None else str(row[0])
        if listed != str(found):
            raise self._corrupt(f"it lists {listed} rows of {table} but holds {found}")

    @contextmanager
    def _reading(self, *, damage_closes: bool = True) -> Iterator[None]:
        """Close the file and raise a ``StoreError`` for whatever goes wrong reading it; a row
        found damaged (``damage_closes=False``) raises a ``StoreCorruptError`` and leaves the file
        open, for the rows that are whole."""
        self._refuse_if_failed()
        try:
            yield
        except StoreCorruptError as exc:
            if damage_closes:
                self._fail(exc)
            raise
        except StoreError as exc:
            self._fail(exc)
            raise
        except sqlite3.Error as exc:
            if "decode" in str(exc):  # SQLite's message quotes the undecodable text: a row's damage
                damaged = self._corrupt("a text in it is not UTF-8")
                if damage_closes:
                    self._fail(damaged)
                raise damaged from exc
            failed = self._error(exc, "read the index file")
            self._fail(failed)
            raise failed from exc
        except MemoryError:  # the machine's, not the file's
            raise
        except Exception as exc:  # a value the checksums vouch for but cannot be read (json, numpy, records)
            damaged = self._corrupt(f"{type(exc).__name__}: {exc}")
            if damage_closes:
                self._fail(damaged)
            raise damaged from exc

    def _fail(self, error: StoreError) -> None:
        """Close the file after ``error``; later calls say why it is closed."""
        self._failed = error
        self.close()

    @property
    def usable(self) -> bool:
        """Whether the file is open for writing and not closed after an error."""
        return not self._reader and self._failed is None

    def _refuse_if_failed(self) -> None:
        failed = self._failed
        if failed is not None:
            raise StoreError(
                f"{self.path}: the index file was closed after an error ({failed}); deal with that, then open the "
                "index again"
            )

    def close(self) -> None:
        stop, checkpoints = getattr(self, "_stop_checkpoints", None), getattr(self, "_checkpoints", None)
        if stop is not None and checkpoints is not None:
            stop.detach()
            checkpoints.close()
            self._checkpoints = None
        if hasattr(self, "_db"):
            self._db.close()  # the last connection: SQLite checkpoints the log and removes it
        self._release_lock()

    # -- errors -----------------------------------------------------------------------------------
    def _full(self) -> str | None:
        """Why a write was refused, when the index has no room left: this process's file size limit
        (``ulimit -f``) reached by the file or its write-ahead log, or the disk full. None when
        neither is so (a failing disk, say)."""
        sizes = [p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists()]
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if sizes and limit != resource.RLIM_INFINITY and max(sizes) + _ROOM >= limit:
            return f"the file size limit of this process is reached (ulimit -f: {limit:,} bytes)"
        with suppress(OSError):
            if shutil.disk_usage(self.path.parent).free < _ROOM:
                return "the disk is full"
        return None

    def _format_versions(self) -> tuple[int, int] | None:
        """The file format versions for writing and reading in the file's header (bytes 18 and 19:
        1 or 2 in a file SQLite writes); None when they cannot be read."""
        try:
            with open(self.path, "rb") as f:
                head = f.read(20)
        except OSError:
            return None
        return (head[18], head[19]) if len(head) == 20 else None

    def _corrupt(self, what: str) -> StoreCorruptError:
        return StoreCorruptError(f"{self.path}: the index file is damaged ({what}); {_AFTER_DAMAGE}")

    def _error(self, exc: sqlite3.Error, doing: str, *, not_done: str = "") -> StoreError:
        """A SQLite error as a ``StoreError`` that says what to do."""
        code = getattr(exc, "sqlite_errorcode", -1) & 0xFF
        then = f"; {not_done} (what was added before is kept)" if not_done else ""
        if code == sqlite3.SQLITE_FULL:
            return StoreFullError(
                f"{self.path}: cannot {doing}: the disk is full ({exc}){then}; free space on the disk that holds "
                "the index (or move the index to a bigger one), then go on"
            )
        full = self._full() if code == sqlite3.SQLITE_IOERR else None
        if full is not None:  # a write the system refused: SQLite says only "disk I/O error"
            return StoreFullError(
                f"{self.path}: cannot {doing}: {full} ({exc}){then}; make room for the index (free space, raise "
                "the limit, or move the index), then go on"
            )
        versions = self._format_versions() if code == sqlite3.SQLITE_READONLY else None
        if versions is not None and not set(versions) <= {1, 2}:  # SQLite reads such a file as read-only
            return self._corrupt(
                f"its header names file format versions {versions[0]} and {versions[1]}; SQLite says: {exc}"
            )
        if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
            return StoreError(
                f"{self.path}: cannot {doing}: the file or its folder is read-only or missing ({exc}){then}; make "
                "both writable by this user (SQLite writes the -wal and -shm files beside the index)"
            )
        if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return self._corrupt(f"SQLite says: {exc}")
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return StoreLockedError(
                f"{self.path}: cannot {doing}: another program holds the file ({exc}){then}; close the other "
                "program that has it open (a SQLite shell, a backup tool), then go on"
            )
        return StoreError(
            f"{self.path}: cannot {doing} ({type(exc).__name__}: {exc}){then}; check the disk and that the file "
            "is a dedup index"
        )


# less room than this left for the index (a write of a long article), and a refused write was for
# want of it
_ROOM = 16 << 20


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that reads the file and never writes it: not even the checkpoint SQLite runs
    when the last connection to a file closes (which ``PRAGMA query_only`` does not prevent), which
    would copy into it the write-ahead log a writer left by ending without closing."""
    return sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )


def window_to_json(window: Window | None) -> str:
    """A window as an index records it (``null`` for none)."""
    return json.dumps(None if window is None else {"days": window.days, "articles": window.articles})


def window_from_json(recorded: str, where: str, *, quiet: bool = False) -> Window | None:
    """The window ``window_to_json`` recorded in the index at ``where``; a record that is not a
    window is logged (WARNING on ``dedup.index``, unless ``quiet``) and taken for none."""
    try:
        said = json.loads(recorded)
    except ValueError:
        why = "not JSON"
    else:
        if said is None:
            return None
        if not isinstance(said, dict) or set(said) != {"days", "articles"}:
            why = 'not null nor an object of "days" and "articles"'
        else:
            try:
                return Window(days=said["days"], articles=said["articles"])
            except DedupError as exc:
                why = str(exc)
    if not quiet:
        _log.warning(
            "%s: the window it was last opened with cannot be read (%r: %s); it is read as if it had none, and "
            "opening it for writing records the window again",
            where,
            recorded,
            why,
        )
    return None


def same_settings(stored: str, config: DedupConfig) -> bool:
    """Whether an index's stored settings (``config_to_json``'s output, maybe written by an earlier
    version) are ``config``: read back first, so that a setting added since takes the value
    ``config_from_json`` gives it (its default, or the value the index was built with)."""
    if stored == config_to_json(config):
        return True
    try:
        return config_to_json(config_from_json(stored)) == config_to_json(config)
    except (ValueError, TypeError, KeyError, DedupError):
        return False


def settings_differing(stored: str, config: DedupConfig, most: int = 3) -> str:
    """The settings in which ``config`` differs from an index's stored ones, for a message:
    ``minhash.threshold 0.4 in the index, 0.6 given`` (the first ``most``, and how many more)."""
    try:
        before = _flat(json.loads(config_to_json(config_from_json(stored))))
    except (ValueError, TypeError, KeyError, DedupError):
        return "settings that cannot be read back"
    now = _flat(json.loads(config_to_json(config)))
    differing = [
        f"{name} {before.get(name)!r} in the index, {now.get(name)!r} given"
        for name in sorted(before.keys() | now.keys())
        if before.get(name) != now.get(name)
    ]
    shown = "; ".join(differing[:most])
    return shown + (f"; and {len(differing) - most} more" if len(differing) > most else "")


def _flat(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as one mapping of dotted names (``minhash.threshold``)."""
    out: dict[str, Any] = {}
    for name, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


# Settings added to a part since the first indexes were written, with the value that an index
# written before them (its stored part without them) was built with, where that is not the default.
_STORED_BEFORE: dict[str, dict[str, Any]] = {
    "formula": {"min_repeated": 0, "max_load": 4.0},
    "verify": {"aside_share": 0.0, "quoted_speech": False, "ties_by_text": False},
}


def config_from_json(text: str) -> DedupConfig:
    """Rebuild a ``DedupConfig`` from ``config_to_json``'s output."""
    from dedup.config import PARTS

    data: dict[str, Any] = json.loads(text)

    def build(kind: type, values: dict[str, Any]) -> Any:
        names = {f.name for f in dataclasses.fields(kind) if f.init}
        fixed = {k: (_tuples(v) if isinstance(v, list) else v) for k, v in values.items() if k in names}
        return kind(**fixed)

    # a part or a setting missing from an index written before it existed takes its default, or
    # the value that keeps the answers the index was built to give (``_STORED_BEFORE``)
    parts = {name: build(kind, {**_STORED_BEFORE.get(name, {}), **data.get(name, {})}) for name, kind in PARTS.items()}
    return DedupConfig(**parts, max_chars=data["max_chars"])


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value
