"""The stream's replica kept in step with its store: loaded from a SQLite file when it is opened
(or, after a state saved while the file was written, the articles added after it), and brought up
to date from the log of a shared (Redis) index, where other workers add and remove
articles, before every change and every full answer (``Deduplicator.sync``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from dedup.config import Progress
from dedup.records import Article, Match
from dedup.runners.stream.groups import Groups
from dedup.runners.stream.replica import Replica
from dedup.runners.stream.window import Retention
from dedup.stages.index import U32
from dedup.stages.pairs import PairCache
from dedup.stages.prepare import Prepared
from dedup.stores.base import Passed, Store
from dedup.stores.sqlite import SQLiteStore, StoredArticle

if TYPE_CHECKING:
    from dedup.stores.redis import RedisStore

# A match read from a store was decided under the boilerplate of its day: remembered under this
# version, it is checked again against today's boilerplate when it is used.
STORED = -1


def _prepared(stored: StoredArticle) -> Prepared:
    """A stored article as the replica holds it."""
    return Prepared(stored.article, stored.doc, stored.signature, stored.passage_signatures)


def reader(store: Store) -> Callable[[str], tuple[Prepared, int] | None]:
    """What ``Replica.read_from`` reads an article back with: its analysis as ``store`` holds it
    and its ingest number, None when it holds no such id."""

    def read(article_id: str) -> tuple[Prepared, int] | None:
        stored = store.stored(article_id)
        return None if stored is None else (_prepared(stored), stored.seq)

    return read


def attach(replica: Replica, store: Store, where: str) -> None:
    """Let ``replica`` read back from ``store`` what it lets go (``Replica.read_from``)."""
    replica.read_from(reader(store), store.counted, where, shared=store.shared)


def replay(
    replica: Replica,
    pairs: PairCache,
    stored: StoredArticle,
    matches: Iterable[Match],
    index: Callable[[str, U32, U32], None] | None = None,
) -> None:
    """Put a stored article (and the copies found when it was added) into the replica (its LSH
    rows with ``index``, the ``add`` of ``CandidateIndex.filling``, when given)."""
    prepared = _prepared(stored)
    art_id = stored.article.id
    replica.observe(art_id, prepared)
    replica.insert(art_id, prepared, stored.seq, replica.evidence_passages(prepared), index)
    pairs.add(art_id)
    replica.written(art_id, keep=False)
    entries = replica.entries
    for match in matches:
        if match.a in entries and match.b in entries:
            pairs.remember(match, version=STORED)


def load(
    replica: Replica,
    pairs: PairCache,
    store: SQLiteStore,
    retention: Retention | None = None,
    indexed: Callable[[StoredArticle], None] | None = None,
    progress: Progress | None = None,
) -> set[str]:
    """Every article of a SQLite file, in the order they were added, and the copies found; with a
    ``retention``, only the articles in its window, found from the file's times and ingest
    numbers alone (as the stream let them leave: one at a time, in ingest order). ``indexed`` is
    told of each article read, ``progress`` of how many of how many are read. Returns the ids of
    the file's articles that are not in the window."""
    only: set[str] | None = None
    last = -1
    left: set[str] = set()
    if retention is not None:
        for seq, art_id, published in store.timeline():
            retention.admit(art_id, seq, published)
            left.update(retention.leaving())
            last = seq
        only = set(retention)
        left -= only
    total = len(only) if only is not None else store.count()
    with replica.index.filling() as index:  # (the LSH tables built in one go at the end)
        for done, stored in enumerate(store.articles(only=only), 1):
            replay(replica, pairs, stored, (), index)
            if indexed is not None:
                indexed(stored)
            if progress is not None:
                progress(done, total)
    entries = replica.entries
    for match in store.matches(between=entries):
        pairs.remember(match, version=STORED)
    # the next ingest number follows the file's last one, in the window or not
    replica.seq = max(replica.seq, last + 1)
    return left


def read_after(
    replica: Replica,
    pairs: PairCache,
    groups: Groups,
    store: SQLiteStore,
    through: int | None,
    *,
    answered: Callable[[StoredArticle], None],
    admit: Callable[[Article, int], object],
    written: dict[str, str],
    progress: Progress | None = None,
) -> int:
    """After a state saved while the file was written (``Deduplicator.save_state``), read into
    memory: the articles added to the file after ingest number ``through``, one at a time as the
    stream added them, each with its copies (``replay``), told to ``answered`` and let into the
    window (``admit``), the clusters it joined given the cluster ids the file records before the
    window lets any article out (``_recorded_ids``); then the copies recorded since among the
    articles the state holds. The clusters are grouped again when next asked for. Returns how
    many articles were read."""
    total = store.count() - store.count_through(through)
    read = 0
    recorded: set[str] = set()  # the articles whose cluster id was read from the file
    for stored in store.articles_after(through):
        replay(replica, pairs, stored, store.matches_of(stored.article.id))
        answered(stored)
        read += 1
        replica.seq = max(replica.seq, stored.seq + 1)
        if stored.article.id in replica.entries:
            _recorded_ids(store, stored.article.id, pairs, groups, written, recorded)
            admit(stored.article, stored.seq)
        if progress is not None:
            progress(read, total)
    if read:
        for match in store.matches(between=replica.entries, skip=pairs.holds_copy):
            pairs.remember(match, version=STORED)
        groups.regroup()
    return read


def _recorded_ids(
    store: SQLiteStore, article_id: str, pairs: PairCache, groups: Groups, written: dict[str, str], recorded: set[str]
) -> None:
    """The cluster ids the file records for the articles joined to ``article_id`` by copies (but
    those in ``recorded``, read before, and the articles beyond them), taken as their last answers
    (and as written, in ``written``); their earliest sources are found again when next asked for."""
    edges = pairs.edges
    reached, todo = [], [article_id]
    while todo:
        node = todo.pop()
        if node in recorded:
            continue
        recorded.add(node)
        reached.append(node)
        todo.extend(other for other in edges.get(node, ()) if other not in recorded)
    for member in reached:
        groups.earliest.pop(member, None)
    for member, cluster in store.cluster_ids(reached).items():
        groups.cluster_ids[member] = written[member] = cluster


def load_shared(
    replica: Replica,
    pairs: PairCache,
    store: RedisStore,
    retention: Retention,
    answered: Callable[[StoredArticle], None],
    progress: Progress | None = None,
) -> set[str]:
    """A worker's first catch-up with a shared index when it has a window: as ``load`` reads a
    file, the log's entries are first gone through with each article's ingest number and time
    alone, and only the articles in the window at the end are read from the store, a chunk at a
    time; ``answered`` is told of each. An id removed and added again is read once, as stored now,
    at its last addition; its earlier additions count at their place in the log with the time
    their entries give (an entry of an older version gives none: the clock's). ``progress`` is
    told how many of the window's articles are read. Returns the ids added that are not in the
    window."""
    base = store.position
    entries = store.peek()
    last_added = {art_id: n for n, (op, art_id, *_) in enumerate(entries) if op == "add"}
    left: set[str] = set()
    for n, (op, art_id, seq, published, batch) in enumerate(entries):
        if op == "remove":
            retention.discard(art_id)
            continue
        retention.admit(art_id, base + n if seq is None else seq, published)
        if batch is None or n + 1 == len(entries) or entries[n + 1][4] != batch:
            left.update(retention.leaving())  # (within a batch none leaves, as with its worker)
    held = set(retention)
    left -= held

    def read(n: int, art_id: str) -> bool:
        return art_id in held and last_added.get(art_id) == n

    done = 0
    for op, _, stored, matches, _ in store.pending(only=read, limit=len(entries)):
        if op == "add" and isinstance(stored, StoredArticle):
            replay(replica, pairs, stored, matches)
            answered(stored)
            done += 1
            if progress is not None:
                progress(done, len(held))
    for art_id in held - replica.entries.keys():  # removed by another worker meanwhile
        retention.discard(art_id)
    return left


def catch_up(
    replica: Replica,
    pairs: PairCache,
    groups: Groups,
    store: Store,
    forget: Callable[[str], None],
    indexed: Callable[[StoredArticle], None],
    passed: Callable[[str, Passed | None], None],
    batch: Callable[[bool], None],
) -> int:
    """Apply what the other workers of a shared index added and removed since the last call, in
    the order they did; returns how many log entries were read. An article added is placed in the
    kept groups with the copies its worker found (``Groups.place``), as an article added here is;
    ``indexed`` is told of it then. ``forget`` takes a removed article out. ``passed`` is told of
    an article added and removed (or added again) before this worker read it: at its addition,
    with its ingest number and time, and at its removal, with None; the answers its addition
    gave are taken as those of an article read. ``batch`` is told when
    another worker's batch (``add_many``) begins (True) and ends (False: at the latest, once
    every entry is read)."""
    applied = 0
    for op, art_id, stored, matches, answers in store.pending():
        if op in ("batch", "batch end"):
            batch(op == "batch")
            continue
        applied += 1
        if op == "add" and isinstance(stored, StoredArticle) and art_id not in replica.entries:
            matches = list(matches)
            replay(replica, pairs, stored, matches)
            entries = replica.entries
            copies = [m for m in matches if m.is_copy and art_id in (m.a, m.b) and m.other(art_id) in entries]
            groups.place(art_id, copies, None)
            groups.answered_elsewhere(answers)
            indexed(stored)
        elif op == "skip":  # (the answers it gave are answers all the same)
            groups.answered_elsewhere(answers)
            if isinstance(stored, Passed) and art_id not in replica.entries:
                passed(art_id, stored)
        elif op == "remove":
            if art_id in replica.entries:
                forget(art_id)
            else:
                passed(art_id, None)
    batch(False)
    return applied
