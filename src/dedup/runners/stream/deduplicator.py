"""The stream: one article at a time, answered at once, and the batch built on it.

``Deduplicator.add(article)`` prepares the article (``dedup.stages.prepare``), asks the replica's LSH
indexes for candidates (``replica``), verifies each candidate exactly (``dedup.stages.pairs``),
indexes the article and answers with a ``Verdict``: is it a copy, of which articles, with which
scores, in which cluster, with which earliest source (``groups``: the stream's groups and cluster
records, built by ``dedup.stages.grouping`` and ``dedup.stages.provenance``). ``add_many`` adds a
batch: it prepares every article first (so that boilerplate is learned from the whole batch, in id
order), then adds them one by one through the same code. ``dedup.cluster`` runs the same decisions
in passes (``dedup.runners.batch``) and is tested equal to ``add_many`` + ``clusters()``.

An ``add`` either completes or changes nothing: every change it makes to the deduplicator is
recorded in an ``Undo`` journal as it is made, and put back if anything raises before the article
is written; the write itself is one transaction of the store.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial, wraps
from itertools import islice
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from dedup import _log, kernels
from dedup._undo import Undo
from dedup.config import DedupConfig, OnError, Progress, Window, check_batch_options, check_many
from dedup.errors import (
    ClosedError,
    DedupError,
    DuplicateIdError,
    InputError,
    LeftWindowError,
    StoreCorruptError,
    StoreError,
    UnknownArticleError,
)
from dedup.records import Article, Cluster, Match, Skip, Verdict, _shown, _to_utc
from dedup.runners.pool import Pool
from dedup.runners.stream import state, sync
from dedup.runners.stream.groups import Groups
from dedup.runners.stream.replica import RELEASED, Entry, Replica
from dedup.runners.stream.window import Retention
from dedup.stages import prepare as preparation
from dedup.stages.explain import WordMap, match_with_spans, with_spans, word_map
from dedup.stages.grouping import compared, load_linkage
from dedup.stages.index import LSHBackend
from dedup.stages.pairs import PairCache
from dedup.stages.prepare import Prepared, first_of_id
from dedup.stages.shingle import Vocabulary, analyze
from dedup.stores.base import Passed, Store, is_redis
from dedup.stores.sqlite import SQLiteStore, StoredArticle

P = ParamSpec("P")
R = TypeVar("R")
CHUNK = 256  # articles prepared in one call of prepare_many


def _serialised(method: Callable[Concatenate[Deduplicator, P], R]) -> Callable[Concatenate[Deduplicator, P], R]:
    """Run a method under the deduplicator's lock, refusing a closed deduplicator."""

    @wraps(method)
    def run(self: Deduplicator, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._serving(changes=True):
            return method(self, *args, **kwargs)

    return run


def _serialised_saving(method: Callable[[Deduplicator], R]) -> Callable[[Deduplicator], R]:
    """``_serialised`` for a method that writes the memory out and changes none of it: one
    interrupted leaves the memory in step with the file (``_watching``)."""

    @wraps(method)
    def run(self: Deduplicator, /) -> R:
        with self._serving(changes=False):
            return method(self)

    return run


def _an_id(article_id: object) -> str:
    """An article id a caller passed, refused at once (``InputError``) unless it is a string."""
    if not isinstance(article_id, str):
        raise InputError(
            f"an article id is a string (an Article's id), got {type(article_id).__name__} {_shown(article_id)}"
        )
    return article_id


@dataclass(frozen=True, slots=True)
class Opened:
    """How ``Deduplicator.open`` read the memory: ``source`` is ``"state"`` (the state saved beside
    the SQLite file, then the ``after_state`` articles added after it when it was saved while the
    file was written) or ``"index"`` (the window's articles read from the file or Redis);
    ``seconds`` is how long the opening took."""

    source: str
    after_state: int
    seconds: float


class Deduplicator:
    """Finds copies among articles added one at a time.

    >>> d = Deduplicator()
    >>> verdict = d.add(Article(id="a", text="..."))  # doctest: +SKIP

    ``documents`` and ``passages`` are the LSH backends (in memory by default).

    With a ``window`` (``dedup.config.Window``) only the articles of the last days (or the last
    ones added) stay in memory: older ones are no longer candidates, and ``len``, ``in``,
    iteration, ``cluster_of`` and ``clusters`` see the window only. An index file keeps every
    article: ``get`` still reads one that left, ``remove`` takes it out, ``dedup index get|export``
    read the whole file, and adding an id the file holds again is refused. A cluster keeps its id
    when its first member leaves (the member indexed first among those left inherits it); its
    earliest source is chosen among the members in the window.

    A deduplicator is safe to share between threads; calls are serialised: every method that reads
    or changes the index takes one re-entrant lock (``prepare`` and ``prepare_many`` read only the
    config and run outside it, and so does the preparation of an article given to ``add``).

    ``add`` either completes or changes nothing: if it raises, for whatever reason, the article is
    not indexed, not written, and every answer is as it was before the call.

    After ``close()`` (or the end of a ``with`` block) every method that reads or changes the index
    (``add``, ``add_many``, ``remove``, ``get``, ``compare``, ``cluster_of``, ``clusters``, ``sync``,
    ``len``, ``in``, iteration) raises ``ClosedError``; ``close()`` again does nothing.
    """

    def __init__(
        self,
        config: DedupConfig | None = None,
        *,
        documents: LSHBackend | None = None,
        passages: LSHBackend | None = None,
        window: Window | None = None,
    ) -> None:
        self.config = config or DedupConfig()
        if not isinstance(self.config, DedupConfig):
            raise InputError(f"config must be a DedupConfig, got {type(self.config).__name__}")
        if window is not None and not isinstance(window, Window):
            raise InputError(f"window must be a Window or None, got {type(window).__name__}; e.g. Window(days=7)")
        self.window = window
        self._retention = None if window is None else Retention(window)
        # inside add_many (its token: a shared store's log marks the batch's additions with it):
        # articles leave the window once the batch is done
        self._batch: str | None = None
        self._their_batch = False  # reading another worker's batch from the log: likewise
        self._replica = Replica(self.config, documents, passages)
        replica = self._replica
        load_linkage()  # (a stream's start-up cost, not one addition's)
        self._pairs = PairCache(
            self.config, replica.doc, replica.boilerplate, formula=replica.formula, source_of=replica.source,
            title_of=replica.title, fingerprints_of=replica.fingerprints,
        )  # fmt: skip
        self._groups = Groups(self.config, replica, self._pairs)
        self._written: dict[str, str] = {}  # each article's cluster id as the store last recorded it
        self._vocabulary = Vocabulary()  # the words of the texts analyzed again by compare()
        self.skipped: list[Skip] = []
        self._store: Store | None = None
        self._where: str | None = None  # the path or URL of a persistent index
        self._lock = threading.RLock()
        self._closed = False
        self._read_only = False  # an index opened to be read only (``open``)
        self._undo: Undo | None = None  # the journal of the add in progress
        # what interrupted a call first (``_watching``): the memory is then not saved as the file closes
        self._interrupted: str | None = None
        self._calls = 0  # the calls under way (a callback of one may make another)
        # a state saved while writing (``save_state``) is marked in the file: its articles read after
        # it stand for what the stream did since, which a removal or a batch makes untrue
        self._interim = False
        self._opened: Opened | None = None  # how ``open`` read the memory

    # -- persistence ----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        where: str | Path,
        config: DedupConfig | None = None,
        *,
        durable: bool = False,
        lock_timeout: float = 60.0,
        window: Window | None = None,
        read_only: bool = False,
        progress: Progress | None = None,
    ) -> Deduplicator:
        """A deduplicator kept in a SQLite file (a path; see ``dedup.stores.sqlite``) or shared in Redis (a
        ``redis://host:port/db`` URL, for several workers; see ``dedup.stores.redis``). Every article
        is written before ``add`` returns. Without ``config`` an existing index's own settings are
        used. With a ``window`` only the articles in it are read into memory (a writer records its
        window in the file, for ``dedup index`` to open it with). A file its writer closed is read
        from the memory it saved beside it as it closed (``state``), when that still belongs to the
        file; else from the file itself. A writer keeps the state it read, so that an opening after
        a crash reads it and then the articles added since (as after ``save_state``).
        ``read_only``: an existing index is read and nothing is written to it (``add``,
        ``add_many`` and ``remove`` raise ``StoreError``): a file beside the process that writes
        it, as it was when opened; a Redis index as a worker reads it. ``progress(done, total)``
        is called as articles are read back from the file (or, with a window, from Redis), once an
        article, and as those added after a state saved while writing are read; not for the state
        itself."""
        if not isinstance(where, str | os.PathLike):
            raise InputError(
                f"open() takes the path of an index file or a redis:// URL, got {type(where).__name__}; "
                "e.g. Deduplicator.open('crawl.sqlite')"
            )
        if progress is not None and not callable(progress):
            raise InputError(
                f"progress must be a function called as progress(done, total), got {type(progress).__name__}"
            )
        started = time.perf_counter()
        redis = is_redis(where)
        restored = False
        after = 0
        if redis and isinstance(where, str):
            from dedup.stores.redis import RedisStore

            config = config or RedisStore.stored_config(where) or DedupConfig()
            shared = RedisStore(where, config, lock_timeout=lock_timeout, reader=read_only)
            try:
                dedup = cls(config, window=window)
                before = None if read_only or window is not None else shared.recorded_window(quiet=True)
                if before is not None:
                    _log.window_dropped(where, repr(before), None)
                sync.attach(dedup._replica, shared, shared.url)
                if dedup._retention is not None:
                    left = sync.load_shared(
                        dedup._replica, dedup._pairs, shared, dedup._retention, dedup._answered, progress
                    )
                    dedup._groups.heirs_read(left)
                dedup._store, dedup._where, dedup._read_only = shared, where, read_only
                dedup.sync()
                if not read_only:
                    shared.note_window(window)  # (``dedup index`` opens the index with it)
            except BaseException:  # a failed opening keeps no connection
                shared.close()
                raise
        else:
            config = config or SQLiteStore.stored_config(where) or DedupConfig()
            store = SQLiteStore(where, config, durable=durable, reader=read_only)
            try:
                dedup = cls(config, window=window)
                before = None if read_only or window is not None else store.recorded_window(quiet=True)
                if before is not None:
                    _log.window_dropped(str(where), repr(before), store.count())
                sync.attach(dedup._replica, store, str(where))
                from_state = state.load(dedup, store)
                restored = from_state is not None
                if from_state is None:
                    left = sync.load(dedup._replica, dedup._pairs, store, dedup._retention, dedup._answered, progress)
                    dedup._groups.heirs_read(left)
                elif from_state.interim:
                    after = dedup._after_state(store, from_state.through, progress, read_only)
                    _log.read_after_state(str(where), after)
                if not read_only:  # the state read stays for a restart after a crash: see ``state.keep``
                    dedup._interim = from_state is not None and state.keep(store, from_state)
                    if not dedup._interim:
                        state.forget(store)
                    store.note_window(window)  # (``dedup index`` opens the file with it)
                dedup._store, dedup._where, dedup._read_only = store, str(where), read_only
            except BaseException:  # a failed opening keeps neither the file nor its lock
                store.close()
                raise
        seconds = time.perf_counter() - started
        dedup._opened = Opened("state" if restored else "index", after, seconds)
        _log.opened(str(where), len(dedup._replica.entries), seconds, restored)
        return dedup

    @property
    def opened_from(self) -> Opened | None:
        """How ``open`` read this deduplicator's memory (None for one made in memory): from the
        state saved beside its SQLite file, or from the articles in the index."""
        return self._opened

    def _after_state(self, store: SQLiteStore, through: int | None, progress: Progress | None, read_only: bool) -> int:
        """After a state saved while the file was written: the articles added to the file after
        it (``sync.read_after``). A dedup error there (a damaged row among them, say) is raised
        with a note, and a writer takes the state out first, so that the next opening reads the
        file alone."""
        try:
            return sync.read_after(
                self._replica, self._pairs, self._groups, store, through,
                answered=self._answered, admit=self._admit, written=self._written, progress=progress,
            )  # fmt: skip
        except DedupError as exc:
            saved = state.path_of(store.path)
            if not read_only:
                with suppress(DedupError, OSError):  # (a damaged file may refuse writes now)
                    state.forget(store)
            told = "delete it for the next opening to read the file alone" if saved.exists() else "deleted"
            exc.add_note(f"(reading the articles added after the state saved in {saved}; {told})")
            raise

    @_serialised_saving
    def save_state(self) -> Path:
        """Save the memory beside the SQLite file this deduplicator writes, as ``close`` does, and
        go on writing: an opening after a crash (the process killed, the machine stopped) reads it
        and then only the articles added after it, instead of every article of the window. It
        takes about as long as closing does, during which nothing is added; ``dedup stream
        --save-state MINUTES`` calls it between lines. Returns the state's path. A removal or an
        ``add_many`` after it takes it out (the articles read after it would not say what the
        stream did): until the next ``save_state`` or ``close``, an opening after a crash reads the
        file. Raises ``StoreError`` for an in-memory, read-only or Redis deduplicator, inside
        another call (a callback of ``add_many``), and when the state cannot be saved (the file is
        complete without it)."""
        store = self._store
        if not isinstance(store, SQLiteStore) or self._read_only:
            kind = "read-only" if self._read_only else "shared (Redis)" if store is not None else "in-memory"
            raise StoreError(
                f"save_state() saves the memory of a SQLite file's writer; this deduplicator is {kind} "
                "(open it with Deduplicator.open('crawl.sqlite'))"
            )
        where = store.path.as_posix()
        if self._calls > 1:
            raise StoreError(
                "save_state() cannot run inside another call (a callback of add_many, say): call it between two adds"
            )
        if self._interrupted is not None:
            raise StoreError(
                f"the state of {_log.where(where)} is not saved: {self._out_of_step_why()}; close it and open it again"
            )
        started = time.perf_counter()
        try:
            path = state.save(self, store, interim=True)
        except Exception as exc:
            then = "the state saved before and the articles added after it" if self._kept(store) else "the file"
            raise StoreError(
                f"could not save the state beside {_log.where(where)}: {type(exc).__name__}: {exc}; the index is "
                f"complete without it (an opening after a crash reads {then})"
            ) from exc
        if path is None:  # (only in the middle of an add)
            raise StoreError("save_state() cannot run in the middle of an add")
        self._interim = True
        _log.state_saved(where, len(self._replica.entries), path.stat().st_size, time.perf_counter() - started)
        return path

    def _drop_interim(self) -> None:
        """A removal or a batch is about to change the file: the state saved while writing is not
        to be read (the articles read after it would not say what the stream did)."""
        store = self._store
        if self._interim and isinstance(store, SQLiteStore):
            state.forget(store)
            self._interim = False

    @_serialised
    def sync(self) -> int:
        """Bring a shared (Redis) deduplicator up to date with what the other workers added and
        removed; returns how many log entries were applied. Nothing to do for the others."""
        store = self._store
        if store is None or not store.shared:
            return 0
        try:
            return sync.catch_up(
                self._replica, self._pairs, self._groups, store, self._forget, self._indexed, self._passed, self._theirs
            )
        except BaseException:
            self._groups.regroup()  # some entries may have been applied, not all placed
            self._their_batch = False  # (what it let in leaves with the next add)
            raise

    def close(self) -> None:
        """Close the file or connection of a persistent deduplicator (a SQLite file's writer first
        saves its memory beside the file, for the next opening to read: ``state``); from then on
        the deduplicator refuses every use with ``ClosedError`` (an in-memory one too). Closing
        twice is fine."""
        with self._lock:
            self._closed = True
            if self._calls == 0:  # (else the call under way closes it as it ends: ``_watching``)
                self._close_store()

    def _close_store(self) -> None:
        store, self._store = self._store, None
        if store is None:
            return
        saved = None
        try:
            if isinstance(store, SQLiteStore) and not self._read_only and store.usable:
                saved = store if self._save_state(store) else None
        finally:
            store.close()
        if saved is not None:
            self._seal_state(saved)

    @contextmanager
    def _serving(self, *, changes: bool) -> Iterator[None]:
        """A call under the lock (a closed deduplicator refused), watched (``_watching``)."""
        with self._lock:
            if self._closed:
                raise self._closed_error()
            with self._watching(changes=changes):
                yield

    @contextmanager
    def _watching(self, *, changes: bool = True) -> Iterator[None]:
        """Around every call: note one interrupted by anything but dedup's own errors (Ctrl-C, a
        signal's SystemExit, out of memory, a fault), since an add or a removal stopped after its
        write and before its memory followed leaves the two out of step, which the file, read
        again at the next opening, puts right; a memory that may be out of step is not saved
        (``_save_state``). dedup's errors leave the memory as it was or as the file says (or are
        noted where they do not: ``_out_of_step``); a call that ``changes`` no memory
        (``save_state``) is not noted. A ``close()`` made in the middle of a call (by a callback it
        runs, or a signal handler) closes the store once the call has ended: the call writes what
        it acknowledges."""
        self._calls += 1
        try:
            yield
        except StoreError as exc:
            if self._interrupted is not None and not isinstance(
                exc, ClosedError
            ):  # (a write clashing with one the file kept, say)
                exc.add_note(f"({self._out_of_step_why()}; close the index and open it again)")
            raise
        except DedupError:
            raise
        except BaseException as exc:
            if changes:
                self._out_of_step(type(exc).__name__)
            raise
        finally:
            self._calls -= 1
            if self._calls == 0 and self._closed:
                self._close_store()

    def _out_of_step(self, why: str) -> None:
        """The memory may differ from the file from now on: it is not saved as the file closes."""
        self._interrupted = self._interrupted or why

    def _out_of_step_why(self) -> str:
        """Why the memory is not saved after an interrupted call (``_watching``)."""
        return f"a call was interrupted ({self._interrupted}): the memory may be out of step with the file"

    def _save_state(self, store: SQLiteStore) -> bool:
        """Save the memory beside the file, for the next opening to read instead of the file
        (``state``); a failure is logged, and that opening reads the file. Not after a call was
        interrupted (``_watching``). (It runs between calls only: a close in the middle of one, of
        ``add_many`` say, waits for its end.)"""
        where = store.path.as_posix()
        if self._interrupted is not None:
            _log.state_not_saved(where, self._out_of_step_why(), self._kept(store))
            return False
        started = time.perf_counter()
        try:
            path = state.save(self, store)
        except Exception as exc:  # (the index is complete without it: whatever went wrong, close it)
            _log.state_not_saved(where, f"{type(exc).__name__}: {exc}", self._kept(store))
            return False
        if path is None:
            return False
        size = path.stat().st_size
        _log.state_saved(store.path.as_posix(), len(self._replica.entries), size, time.perf_counter() - started)
        return True

    def _kept(self, store: SQLiteStore) -> bool:
        """Whether a state kept from the opening or saved while writing is still beside the file
        (an opening after a crash reads it and the articles added after it)."""
        return self._interim and state.path_of(store.path).exists()

    @staticmethod
    def _seal_state(store: SQLiteStore) -> None:
        """Seal the state saved beside a file now closed (``state.seal``)."""
        try:
            state.seal(store.path)
        except OSError as exc:
            _log.state_not_saved(store.path.as_posix(), f"{type(exc).__name__}: {exc}")

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    def _refuse_if_read_only(self) -> None:
        if self._read_only:
            where = _log.where(self._where or "")
            if self._store is not None and self._store.shared:
                raise StoreError(f"{where} was opened read-only: open it without read_only to add or remove articles")
            raise StoreError(
                f"{where} was opened read-only: open it with Deduplicator.open({where!r}) to add or remove "
                "articles (one process writes an index at a time)"
            )

    def _closed_error(self) -> ClosedError:
        if self._where is None:
            return ClosedError("this Deduplicator was closed; make a new Deduplicator()")
        return ClosedError(f"this index was closed; open it again with Deduplicator.open({self._where!r})")

    def __enter__(self) -> Deduplicator:
        if self.closed:
            raise self._closed_error()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inspection -------------------------------------------------------------------------
    @_serialised
    def __len__(self) -> int:
        return len(self._replica.entries)

    @_serialised
    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and article_id in self._replica.entries

    @_serialised
    def __iter__(self) -> Iterator[str]:
        """The ids indexed when it is called (a copy: other threads may add meanwhile)."""
        return iter(list(self._replica.entries))

    @_serialised
    def get(self, article_id: str) -> Article:
        """An indexed article (with a window and a file, also one that left the window)."""
        if _an_id(article_id) in self._replica.entries:
            return self._replica.article(article_id)
        left = self._left(article_id)
        if left is None:
            self._entry(article_id)  # raises UnknownArticleError
        assert left is not None
        return left.article

    @_serialised
    def seq_of(self, article_id: str) -> int:
        """The article's ingest number: the order in which articles were added (in a shared index,
        its place in the log, which counts removals too)."""
        return self._entry(article_id).seq

    @_serialised
    def timeline(self) -> list[tuple[int, str, datetime | None]]:
        """(ingest number, id, ``published_at`` in UTC) of the articles in memory, in ingest order;
        with a window and a file or Redis, of every article stored, those that left the window too
        (read from the store, without their texts)."""
        store = self._store
        if self._retention is not None and store is not None:
            return [(seq, art_id, None if t is None else _to_utc(t)) for seq, art_id, t in store.timeline()]
        entries = self._replica.entries
        held = [(e.seq, art_id, e.plain.published) for art_id, e in entries.items()]
        return sorted(held, key=lambda row: row[0])

    def _left(self, article_id: str) -> StoredArticle | None:
        """An article of the file that is not in memory, read from the file (only with a window)."""
        if self._retention is None or self._store is None or article_id in self._replica.entries:
            return None
        return self._store.stored(article_id)

    def _entry(self, article_id: str) -> Entry:
        """An article in memory; ``UnknownArticleError`` otherwise, saying so when it left the window."""
        entry = self._replica.entries.get(_an_id(article_id))
        if entry is not None:
            return entry
        if self._left(article_id) is not None:
            raise UnknownArticleError(
                f"article {article_id!r} has left this deduplicator's window ({self.window}); the index keeps it: "
                f"get() reads it, and dedup index get {self._where} {article_id} reads it with its cluster"
            )
        return self._replica.entry(article_id)

    @property
    def formula_load(self) -> float | None:
        """The observations per counter the formula counts hold (``FormulaCounts.load``); past
        ``FormulaConfig.max_load`` the formula test abstains. None when the rule is off."""
        counts = self._replica.formula
        return None if counts is None else counts.load

    # -- preparing ----------------------------------------------------------------------------
    def prepare(self, article: Article) -> Prepared:
        """Clean, shingle and sign one article; raises an ``InputError`` for unusable input
        (``dedup.stages.prepare.prepare`` with this deduplicator's config)."""
        return preparation.prepare(article, self.config)

    def prepare_many(self, articles: Sequence[Article]) -> list[Prepared | DedupError]:
        """``prepare`` for many articles at once: for each article, in order, its ``Prepared`` or the
        ``InputError`` it would raise (``dedup.stages.prepare.prepare_many``)."""
        return preparation.prepare_many(articles, self.config)

    # -- adding -------------------------------------------------------------------------------
    def add(self, article: Article | Prepared, *, spans: bool = False) -> Verdict:
        """Add one article and say whether it is a copy of something already indexed. If it raises,
        nothing is indexed or written. With ``spans`` the matches' shared passages carry their
        character offsets and original words in both texts (see ``SharedPassage``; the texts are
        analyzed again, so it is off by default)."""
        if self._closed:
            raise self._closed_error()
        self._refuse_if_read_only()
        # prepared outside the locks (the slow part, which reads only the config), then added under
        # them
        ready = article if isinstance(article, Prepared) else self._prepare_or_existing(article)
        with self._serving(changes=True):
            return self._add_one(ready, spans)

    def _prepare_or_existing(self, article: Article) -> Article | Prepared:
        if not isinstance(article, Article) or article.id in self._replica.entries:
            return article  # _add reports the error or the duplicate id (under the lock)
        return self.prepare(article)

    def _add_one(self, article: Article | Prepared, spans: bool = False) -> Verdict:
        """``add`` once the lock is held (a shared index catches up with the other workers first)."""
        store = self._store
        if store is not None and store.shared:
            with store.lock():
                self.sync()
                return self._add(article, spans)
        return self._add(article, spans)

    def _add(self, article: Article | Prepared, spans: bool = False) -> Verdict:
        prepared = article if isinstance(article, Prepared) else None
        art = prepared.article if prepared else article
        if not isinstance(art, Article):
            raise InputError(f"expected an Article, got {type(art).__name__}; build one with Article(id=..., text=...)")
        existing = self._replica.entries.get(art.id)
        if existing is not None:
            if self._replica.article(art.id).text != art.text:
                raise DuplicateIdError(
                    f"article id {art.id!r} is already indexed with a different text; give each article a "
                    "unique id, or remove() the old one first"
                )
            last = self._groups.earliest.get(art.id)
            return self._verdict(art.id, (), already=True, previous=() if last is None else (last,))
        stored = self._left(art.id)
        if stored is not None:
            if stored.article.text == art.text:
                raise LeftWindowError(
                    f"article {art.id!r} is in the index already with this text and has left the window "
                    f"({self.window}): it was answered when first added and is not compared again; "
                    f"dedup index get {self._where} {art.id} reads it with its cluster"
                )
            raise DuplicateIdError(
                f"article id {art.id!r} is in the index already with a different text and has left the window "
                f"({self.window}); it is not added again: give a new id to a new article"
            )
        prepared = prepared or self.prepare(art)
        undo = self._undo = self._pairs.journal = self._groups.journal = Undo()
        try:
            verdict, previous = self._add_new(prepared, undo)
        except BaseException:
            undo.rollback()  # memory must not hold what the file does not, nor half an article
            raise
        finally:
            self._undo = self._pairs.journal = self._groups.journal = None
        try:
            if spans:  # before the window lets the matched articles go
                verdict = self._with_spans(verdict)
        except BaseException as exc:
            exc.add_note(f"article {art.id!r} was indexed and written; compare() gives its matches' spans")
            raise
        finally:
            left = self._admitted(art)
        if left and art.id not in left and not left.isdisjoint(verdict.cluster.member_ids):
            # the article pushed members of its cluster out of the window: the cluster without them
            verdict = replace(
                self._verdict(art.id, verdict.matches, already=False, previous=previous), merged=verdict.merged
            )
        return verdict

    def _admitted(self, article: Article) -> set[str]:
        """``_admit`` for an article just indexed and written: an error while older articles leave
        the window says that the article itself is in (they leave with the next add)."""
        try:
            return self._admit(article, self._replica.entries[article.id].seq)
        except BaseException as exc:
            exc.add_note(
                f"article {article.id!r} was indexed and written; the articles that left the window are taken "
                "out of the counts with the next add"
            )
            raise

    # -- the window -------------------------------------------------------------------------------
    def _answered(self, stored: StoredArticle) -> None:
        """An article read from the store: the cluster id it was last answered in, as if this
        deduplicator had answered it."""
        if stored.cluster is not None:
            self._groups.cluster_ids.setdefault(stored.article.id, stored.cluster)
            self._written[stored.article.id] = stored.cluster

    def _indexed(self, stored: StoredArticle) -> None:
        """An article another worker added, now in memory."""
        self._answered(stored)
        self._admit(stored.article, stored.seq)

    def _passed(self, article_id: str, passed: Passed | None) -> None:
        """An article another worker added and removed before this one read it: it counted in the
        window from its addition (``passed``: its ingest number and time), pushing older articles
        out and moving the clock, until its removal (None) or its leaving, as in one process."""
        if passed is None:
            if self._retention is not None:
                self._retention.discard(article_id)
            return
        self._count_in(article_id, passed.seq, passed.published)

    def _theirs(self, begins: bool) -> None:
        """Another worker's batch (``add_many``) read from the log begins or ends: within it no
        article leaves the window; at its end those it pushed out leave, as they left that
        worker's window."""
        ended, self._their_batch = self._their_batch and not begins, begins
        if ended and not self._batch:
            self._leave(release=None)

    def _admit(self, article: Article, seq: int) -> set[str]:
        """Count an indexed article in the window, and let out those it pushes out; returns them."""
        return self._count_in(article.id, seq, article.published_at)

    def _count_in(self, article_id: str, seq: int, published: datetime | None) -> set[str]:
        """``_admit``: count an article in the window and let out those it pushes out, unless a
        batch (this worker's, or another's read from the log) is under way: it lets them out when
        it is done (its articles' sentences are counted until then); returns them."""
        retention = self._retention
        if retention is None:
            return set()
        retention.admit(article_id, seq, published)
        return set() if self._batch or self._their_batch else self._leave()

    def _leave(self, release: int | None = RELEASED) -> set[str]:
        """Take the articles that left the window out of the index and every cluster; returns
        them. The boilerplate and formula counts of the ``release`` first to have left go too
        (``Replica.release``; all with None), the others' with the next calls. The first member
        of a cluster passes the cluster's id on as it leaves (``Groups.id_of``)."""
        if self._retention is None:
            return set()
        left = [a for a in self._retention.leaving() if a in self._replica.entries]  # (see ``_passed``)
        for article_id in left:
            passed = self._groups.leave(article_id)
            self._replica.detach(article_id)
            self._unlink(article_id)
            if passed is not None:
                self._groups.pass_on(*passed)
        self._replica.release(release)
        return set(left)

    def _in_window(self, prepared: Prepared, candidates: list[str]) -> list[str]:
        """The candidates still in the window once the article has come (its time moves the clock
        before it is compared; the articles it pushes out leave once it is added)."""
        retention = self._retention
        if retention is None:
            return candidates
        cutoff = retention.cutoff(prepared.article.published_at)
        return [c for c in candidates if retention.since(c, cutoff)]

    def _add_new(self, prepared: Prepared, undo: Undo) -> tuple[Verdict, tuple[str, ...]]:
        """Index and write an article that is not indexed, recording every change in ``undo``."""
        kernels.load_for_stream()  # (the first add loads every kernel a later one may call)
        replica, pairs = self._replica, self._pairs
        art = prepared.article
        art_id, doc = art.id, prepared.doc

        def unobserve() -> None:
            replica.unobserve(art_id, prepared)
            pairs.drop_view(art_id)

        undo.call(unobserve)
        replica.observe(art_id, prepared)
        evidence = replica.evidence_passages(prepared)
        candidates, whole = replica.candidates(prepared, evidence)
        found = compared(
            self._in_window(prepared, candidates),
            self._groups.seq,
            self.config.cluster,
            replica.index.twins(prepared.signature),
            whole,
        )
        matches, previous = self._find_matches(prepared, found)
        seq_before = replica.seq
        seq = seq_before if self._store is None else self._store.next_seq(seq_before)
        undo.call(lambda: replica.uninsert(art_id, seq_before))
        pairs.add(art_id)
        replica.insert(art_id, prepared, seq, evidence)
        for m in matches:
            pairs.remember(m)
        # the comparisons that the article's sentences made copies (``PairCache.refresh``) are
        # written with it (``PairCache.unsaved``)
        pairs.refresh()
        self._groups.place(art_id, matches, undo)
        matches.sort(key=lambda m: (-m.score, m.b))
        verdict = self._verdict(art_id, tuple(matches), already=False, previous=previous)
        if self._store is not None:  # the last step: once written, the article is added
            stored = StoredArticle(art, seq, doc, prepared.signature, prepared.passage_signatures)
            cluster, written = verdict.cluster.id, self._written
            # the members whose recorded cluster id changed (a merge, a split, an id passed on): a
            # story copied by thousands rewrites none of its rows as it grows
            moved = [m for m in verdict.cluster.member_ids if written.get(m) != cluster and m != art_id]
            copies = [*matches, *pairs.unsaved(besides=matches)]
            answers = self._groups.answers if self._store.shared else {}  # (for the other workers)
            self._store.save(stored, copies, (cluster, moved), answers, self._batch)
            # undone from here on, the memory would no longer hold what the file does
            undo.call(lambda: self._out_of_step(f"an error after article {art_id!r} was written"))
            written.update(dict.fromkeys((art_id, *moved), cluster))
        pairs.saved()
        replica.written(art_id)
        _log.added(verdict)
        return verdict, previous

    def _find_matches(self, prepared: Prepared, candidates: list[str]) -> tuple[list[Match], tuple[str, ...]]:
        """The verified copies among the candidates, and the earliest sources the article's
        matches had before it came (one per cluster it joins, in the order of the matches)."""
        art_id, doc = prepared.article.id, prepared.doc
        doc_of, compare = self._replica.doc, self._pairs.compare
        matches = []
        previous: dict[str, None] = {}
        answered: set[str] = set()  # the earliest sources last answered, each looked at once
        built: set[str] = set()  # the members of the clusters built here
        for other_id in candidates:
            match = compare(art_id, doc, other_id, doc_of(other_id))
            if not match.is_copy:
                continue
            matches.append(match)
            last = self._groups.earliest.get(other_id)
            if other_id in built or last in answered:
                continue
            if last is None:  # not answered here (another worker's article, a file read again)
                cluster = self._cluster_of(other_id)
                built.update(cluster.member_ids)
                earliest: str | None = cluster.earliest
            else:
                answered.add(last)
                earliest = self._earliest_of(other_id)
            if earliest is not None:
                previous[earliest] = None
        return matches, tuple(previous)

    def _earliest_of(self, member: str) -> str | None:
        """The earliest source of the member's cluster when last answered; when that one has left
        the window, the earliest among those left (the cluster built again)."""
        earliest = self._groups.earliest.get(member)
        if earliest is not None and earliest not in self._replica.entries:
            earliest = self._cluster_of(member).earliest
        return earliest

    @_serialised
    def add_many(
        self,
        articles: Iterable[Article],
        *,
        errors: OnError = "raise",
        progress: Progress | None = None,
        workers: int = 1,
    ) -> list[Verdict]:
        """Add a batch. Every article is prepared first and its sentences counted so that boilerplate
        is learned from the whole batch; then each is added as by ``add``, in id order: a batch has
        no arrival order, so the answers (and the ingest-order tie-break of the earliest source) do
        not depend on the order of the input. Verdicts come back in that id order. With
        ``errors="skip"`` unusable articles are recorded in ``self.skipped`` and the rest go on.
        ``workers`` > 1 prepares the articles (normalize, shingle, sign) in that many processes."""
        check_batch_options(errors, workers)
        check_many(articles, "articles must be Article records", "add_many([Article(id='a', text='...')])")
        self._refuse_if_read_only()
        ready: list[Prepared] = []
        first: dict[str, str] = {}
        for n, (article, outcome) in enumerate(self._prepare_all(articles, workers), 1):
            try:
                if isinstance(outcome, DedupError):
                    raise outcome
                art_id, text = outcome.article.id, outcome.article.text
                if first_of_id(art_id, text, first.get(art_id)):
                    first[art_id] = text
                    ready.append(outcome)
            except DedupError as exc:
                if errors == "raise":
                    raise
                self._skip(Skip(id=getattr(article, "id", None), error=type(exc).__name__, message=str(exc)))
            finally:
                del outcome  # (an error raised holds this frame in its traceback: no cycle through the name)
            if progress is not None:
                progress(n, None)
        ready.sort(key=lambda p: p.article.id)
        replica = self._replica
        store = self._store
        if store is not None and store.shared:
            # the other workers' additions first, outside the batch: the articles they pushed out
            # of the window are out of it for the batch too (within a batch none leaves)
            with store.lock():
                self.sync()
        if ready:  # (a batch moves the window and the counts at its end, even of articles indexed already)
            self._drop_interim()
        self._batch = secrets.token_hex(8)
        verdicts: list[Verdict] = []
        try:
            replica.observe_batch(ready)
            for n, p in enumerate(ready, 1):
                try:
                    verdicts.append(self._add_one(p))
                except DedupError as exc:
                    if errors == "raise":
                        raise
                    self._skip(Skip(id=p.article.id, error=type(exc).__name__, message=str(exc)))
                if progress is not None:
                    progress(n, len(ready))
        except BaseException as exc:
            if verdicts:  # (what was added stays added: the caller is told which)
                exc.add_note(
                    f"add_many had added {len(verdicts)} of its {len(ready)} articles (the first by id, up to "
                    f"{verdicts[-1].article_id!r}); cluster_of() gives their answers, and adding them again is a no-op"
                )
            raise
        finally:
            try:
                replica.end_batch(ready)
            finally:
                self._batch = None
                self._leave(release=None)
        return verdicts

    def _skip(self, skip: Skip) -> None:
        self.skipped.append(skip)
        _log.skipped(skip)

    def _prepare_all(
        self, articles: Iterable[Article], workers: int
    ) -> Iterator[tuple[Article, Prepared | DedupError]]:
        """Each article with its preparation or the error it raised, in input order, prepared
        ``CHUNK`` at a time in ``workers`` processes (or this one)."""
        source = iter(articles)
        sent: deque[list[Article]] = deque()

        def chunks() -> Iterator[list[Article]]:
            while chunk := list(islice(source, CHUNK)):
                sent.append(chunk)
                yield chunk

        with Pool(workers, call="add_many(..., workers=N)") as pool:
            for outcomes in pool.map(partial(preparation.prepare_many, config=self.config), chunks()):
                yield from zip(sent.popleft(), outcomes, strict=True)

    @_serialised
    def remove(self, article_id: str) -> None:
        """Remove an article: from the index, the boilerplate counts, every cluster and the file
        (with a window, one that left it from the file alone)."""
        _an_id(article_id)
        self._refuse_if_read_only()
        store = self._store
        if store is not None and store.shared:
            with store.lock():
                self.sync()
                self._remove(store, article_id)
            return
        self._remove(store, article_id)

    def _remove(self, store: Store | None, article_id: str) -> None:
        """Remove an article, one the store holds damaged too (its shingles stay in the formula
        counts: ``Replica.forget``): removing is how a damaged article is let go."""
        if store is not None and self._left_or_damaged(article_id):
            self._drop_interim()
            if article_id in self._replica.leaving:  # its counts read it back: before it is deleted
                self._replica.forget(article_id)
            store.delete(article_id)  # it left the window: only the store holds it
            return
        self._entry(article_id)
        self._drop_interim()
        if store is not None:
            with suppress(StoreCorruptError):  # damaged: forgetting it lets its counts go
                self._replica.prepared(article_id)  # read before it is deleted: forgetting it reads it
            store.delete(article_id)
        try:
            self._forget(article_id)
        except BaseException as exc:
            if store is not None:  # deleted from the store, still in memory
                self._out_of_step(f"{type(exc).__name__} after article {article_id!r} was deleted")
            raise

    def _left_or_damaged(self, article_id: str) -> bool:
        """Whether the store holds an article that left the window (``_left``), whole or damaged."""
        try:
            return self._left(article_id) is not None
        except StoreCorruptError:
            return True

    def _forget(self, article_id: str) -> None:
        """Take an indexed article out of memory. The replica goes first: it may read the article's
        analysis back from the store, and a failure there leaves everything as it was."""
        self._replica.forget(article_id)
        self._groups.removing(article_id)
        self._unlink(article_id)

    def _unlink(self, article_id: str) -> None:
        """Take an article out of the window, the clusters and the pair cache."""
        if self._retention is not None:
            self._retention.discard(article_id)
        self._groups.forget(article_id)
        self._pairs.forget(article_id)
        self._written.pop(article_id, None)

    # -- comparing ------------------------------------------------------------------------------
    @_serialised
    def compare(self, a_id: str, b_id: str, *, with_text: bool = True) -> Match:
        """Compare two indexed articles exactly (whether or not the index proposed them). With
        ``with_text`` the shared passages carry their text in comparison form (``text``) and as
        spans of the articles as given (``a_start``, ``a_end``, ``a_text``, and the same for b):
        the two articles are analyzed again, since the index keeps no sentence text."""
        self._entry(a_id), self._entry(b_id)  # UnknownArticleError for an id not in memory
        a, b = self._replica.prepared(a_id), self._replica.prepared(b_id)
        if not with_text:
            return self._pairs.compare(a_id, a.doc, b_id, b.doc)
        cfg = self.config
        texts = [analyze(p.article.text, cfg.normalize, cfg.shingle, self._vocabulary, keep_text=True) for p in (a, b)]
        match = self._pairs.compare(a_id, texts[0], b_id, texts[1])
        return match_with_spans(match, a.article.text, b.article.text, cfg)

    def _with_spans(self, verdict: Verdict) -> Verdict:
        """``verdict`` with its matches' passages as spans of the texts (``add(..., spans=True)``)."""
        if not any(m.shared_passages for m in verdict.matches):
            return verdict
        cfg = self.config
        maps: dict[str, WordMap] = {}

        def text(art_id: str) -> str:
            return self._replica.article(art_id).text

        def mapped(art_id: str) -> WordMap:
            if art_id not in maps:
                maps[art_id] = word_map(text(art_id), cfg)
            return maps[art_id]

        matches = tuple(
            replace(
                m,
                shared_passages=with_spans(
                    m.shared_passages, text(m.a), text(m.b), mapped(m.a), mapped(m.b), cfg.shingle.passage_k,
                ),
            )
            if m.shared_passages
            else m
            for m in verdict.matches
        )  # fmt: skip
        return replace(verdict, matches=matches)

    @_serialised
    def boilerplate_spans(self, article_id: str) -> list[tuple[int, int]]:
        """The [start, end) character ranges of the article's sentences that are learned
        boilerplate (left out of every comparison), in the text as given."""
        self._entry(article_id)  # UnknownArticleError for an id not in memory
        prepared = self._replica.prepared(article_id)
        doc = prepared.doc
        learned = self._replica.boilerplate.boilerplate_of(article_id, doc.sentence_fps)
        if not learned:
            return []
        mapped = word_map(prepared.article.text, self.config)
        starts = doc.sentence_starts.tolist()
        return [
            mapped.span((starts[i], starts[i + 1])) for i, fp in enumerate(doc.sentence_fps.tolist()) if fp in learned
        ]

    # -- grouping -----------------------------------------------------------------------------
    def _verdict(
        self, article_id: str, matches: tuple[Match, ...], *, already: bool, previous: tuple[str, ...]
    ) -> Verdict:
        cluster = self._cluster_of(article_id)
        # changed: the earliest sources of before that this cluster holds and no longer has for its
        # earliest (one that left the window is no longer in view; one of a cluster grouped apart
        # from it is not this one's)
        entries = self._replica.entries
        changed = tuple(p for p in previous if p != cluster.earliest and p in entries)
        if changed:
            members = cluster.member_ids
            changed = tuple(p for p in changed if p in members)
        return Verdict(
            article_id=article_id,
            is_copy=any(m.is_copy for m in matches) or (already and self._after_another(article_id, cluster)),
            matches=matches,
            cluster=cluster,
            earliest_changed=bool(changed),
            previous_earliest=changed[0] if changed else None,
            already_indexed=already,
            merged=self._groups.merged,
            previous_earliests=changed,
        )

    def _after_another(self, article_id: str, cluster: Cluster) -> bool:
        """Whether another member of ``cluster`` was indexed before ``article_id``: an article
        added again is a copy as it was when first added, of an article indexed before it."""
        entries = self._replica.entries
        here = entries[article_id].seq
        return any(m.id != article_id and m.id in entries and entries[m.id].seq < here for m in cluster.members)

    @_serialised
    def cluster_of(self, article_id: str) -> Cluster:
        """The cluster that holds ``article_id`` now."""
        return self._cluster_of(article_id)

    def _cluster_of(self, article_id: str) -> Cluster:
        self._entry(article_id)
        return self._groups.cluster_of(article_id)

    @_serialised
    def clusters(self) -> list[Cluster]:
        """Every cluster, singletons included, sorted by cluster id (a shared index catches up
        with the other workers first)."""
        self.sync()
        return sorted(self._groups.clusters(), key=lambda c: c.id)
