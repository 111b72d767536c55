"""Stage 4: candidate copies from MinHash-LSH.

The index only proposes; ``verify`` decides. Two indexes are kept: one of whole-article signatures
(near-identical and largely overlapping copies) and one of passage signatures, which finds articles
that share a few sentences even when their whole-article overlap is low (a rewritten wire story).

Both sit behind :class:`LSHBackend`, a small protocol keyed by article: ``add`` an article's
signatures (one row for the whole article, one row per passage), ask which articles collide with a
query's rows (``hits``), ``remove`` an article. Two implementations:

- :class:`BandIndex` (the default, in memory): the banding of datasketch's ``MinHashLSH`` (bands and
  rows from its optimizer), with the band keys of every row computed in one numpy operation and the
  buckets in flat arrays walked by numba. Written here because ``MinHashLSH`` inserts one key at a
  time through its storage layer, which costs more than all the rest of indexing an article,
  and its dict of sets keeps a Python set per bucket. A bucket proposes at most its ``first``
  articles, those indexed first (see ``BUCKET_FIRST``).
- :class:`DatasketchLSH`: datasketch's ``MinHashLSH`` itself, for its storage backends.
"""

from __future__ import annotations

import mmap
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from dedup.errors import CapacityError
from dedup.kernels import arrays as array_kernels
from dedup.kernels import tables as table_kernels
from dedup.kernels.hashing import BAND_MIX, BAND_MULTIPLIERS, BAND_SALT
from dedup.stages.sign import to_minhash

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
K = TypeVar("K", str, int)  # an article: its id, or its rank in the id order

_SEP = "\x1f"
_MIN_SLOTS = 1024
# the largest handle and number of entries: both are int32 in the compiled table, where -1 marks an
# empty slot or the end of a list
_MAX_HANDLE = 2**31 - 2
# the most slots a table has (the compiled probe scales a key's top 32 bits by their number); the
# slots are counted in pages' worth (``_MIN_SLOTS``) rather than in powers of two
_MAX_SLOTS = 2**31 - 1
# How many articles one bucket of a ``BandIndex`` proposes, those indexed first under its key. A
# bucket holds more only when a story is copied by that many outlets (or a text recurs that often):
# every later copy is then found by the story's first copies, which are the ones an article is
# compared with (``grouping.compared`` keeps the candidates indexed first, and at least
# ``ClusterConfig.max_compared`` of them are in every bucket), and a query costs the same however
# large the story grows.
BUCKET_FIRST = 256
# How much of a ``BandIndex``'s successor table each ``add`` copies while one is begun: this many
# articles and entries (each counts one) per key it adds, at least ``COPY_LEAST``. Copying that
# much more than an add brings (with the thresholds of ``_Table.due`` and ``_Table.fits``)
# finishes the copy before the table is full; the floor bounds how long a successor stays begun
# when the adds are small.
COPY_PER_KEY = 16
COPY_LEAST = 256
# Slots of the successor marked empty for each entry of the budget, before its copy begins (a slot
# is written in a few nanoseconds, an entry copied in some hundred).
SLOTS_PER_ENTRY = 64


@runtime_checkable
class LSHBackend(Protocol):
    """What dedup needs of an LSH index, keyed by article id; signatures are uint32 rows."""

    def add(self, article_id: str, signatures: U32) -> None: ...

    def hits(self, signatures: U32) -> Counter[str]: ...

    def remove(self, article_id: str) -> None: ...

    def __contains__(self, article_id: object) -> bool: ...


def band_keys(signatures: U32, bands: int, rows: int) -> U64:
    """One uint64 key per (row, band): the band's values mixed together, and the band number, so
    that equal values in different bands do not collide (compiled)."""
    out: U64 = table_kernels.band_keys(np.ascontiguousarray(signatures), bands, rows, BAND_MULTIPLIERS)
    return out


def band_keys_numpy(signatures: U32, bands: int, rows: int) -> U64:
    """``band_keys`` with numpy (the reference the kernel is tested against)."""
    sig = signatures[:, : bands * rows].astype(np.uint64).reshape(len(signatures), bands, rows)
    with np.errstate(over="ignore"):
        mixed = (sig * BAND_MULTIPLIERS[:rows]).sum(axis=2, dtype=np.uint64)
        mixed ^= np.arange(bands, dtype=np.uint64) * np.uint64(BAND_SALT)
        mixed ^= mixed >> np.uint64(31)
        mixed *= np.uint64(BAND_MIX)
        mixed ^= mixed >> np.uint64(29)
    out: U64 = mixed
    return out


def _pages(count: int, dtype: type[np.generic]) -> np.ndarray:
    """A zeroed array of ``count`` items in a private anonymous mapping, which the system fills
    with pages as each is first written, of the size it gives by default. numpy asks for
    transparent huge pages for every large array (``madvise(MADV_HUGEPAGE)``), and a system set
    to compact memory for the regions that ask (Linux's default ``defrag`` setting) then makes
    the first write to each 2 MB page wait until it has found one: tens of milliseconds inside
    an ``add``. A table is written a few kilobytes per ``add`` at places spread over arrays of
    hundreds of megabytes, so its arrays are mapped here, without the request (numpy allocates
    through the C heap and offers no per-array choice): a system that gives huge pages to every
    mapping still does where it has them free, without waiting."""
    size = max(count, 1) * np.dtype(dtype).itemsize
    return np.frombuffer(mmap.mmap(-1, size), dtype=dtype, count=max(count, 1))[:count]


class _Table:
    """One generation of a ``BandIndex``'s arrays: an open-addressing table of band keys whose
    slots hold linked lists of article handles in the order they were indexed, each entry with its
    key (a list is a ring whose slot holds its last entry, whose key is the slot's), and each
    handle's entries one span of the entry arrays. Handles count from 0 in the order the articles
    were indexed, so a span ends where the next handle's begins. Removing an article marks its
    handle dead (``alive``), which a query reads as it walks a list: its entries and its keys'
    slots stay until the next generation, which copies only the live articles."""

    def __init__(self, slots: int, entries: int, handles: int, *, emptied: bool = True) -> None:
        """Room for ``slots`` keys, ``entries`` entries and ``handles`` articles (the handles' spans
        grow when needed; the rest is the next generation's to grow). Not ``emptied``: the slots
        are left for ``empty_slots`` to mark."""
        self.slots = _pages(slots, np.int32)
        self.emptied = 0  # the slots below this one are marked empty
        if emptied:
            self.empty_slots(slots)
        self.entry_handle = _pages(entries, np.int32)
        self.entry_next = _pages(entries, np.int32)
        self.entry_key = _pages(entries, np.uint64)
        # each handle's entries, [start, end) (``table_query`` reads a handle's keys there)
        self.handle_span = _pages(2 * max(handles, 1), np.int64).reshape(-1, 2)
        self.alive = _pages(max(handles, 1), np.bool_)  # by handle: whether it is indexed
        # entries written, removed ones included: also an upper bound of the slots in use
        self.n_entries = 0
        self.live_entries = 0  # entries of the articles indexed
        self.handles: dict[str, int] = {}
        self.ids: list[str | None] = []  # by handle; None for a removed article
        self.next = 0  # the next handle

    def empty_slots(self, count: int) -> None:
        """Mark the next ``count`` slots empty."""
        end = min(self.emptied + count, len(self.slots))
        self.slots[self.emptied : end] = -1
        self.emptied = end

    def arrays(self) -> tuple[I32, I32, I32, U64]:
        return self.slots, self.entry_handle, self.entry_next, self.entry_key

    def due(self, extra: int) -> bool:
        """Whether one more article of ``extra`` keys takes the table past the point where its
        successor is begun: three quarters of its slots or of its entries, in keys or in articles
        (articles without keys take no entry, but each takes a step of the copy)."""
        filled = max(self.n_entries + extra, self.next + 1)
        return 4 * filled > 3 * min(len(self.slots), len(self.entry_handle))

    def fits(self, extra: int, articles: int = 1) -> bool:
        """Whether ``extra`` more keys of ``articles`` more articles fit: the slots at most seven
        eighths full (linear probing stays short below), room in the entry arrays, handles and
        entries within the int32 range."""
        return (
            8 * (self.n_entries + extra) <= 7 * len(self.slots)
            and self.n_entries + extra <= min(len(self.entry_handle), _MAX_HANDLE)
            and self.next + articles <= _MAX_HANDLE
        )

    def _spans_for(self, handles: int) -> None:
        if handles > len(self.handle_span):
            grown = _pages(2 * max(handles, 2 * len(self.handle_span)), np.int64).reshape(-1, 2)
            grown[: self.next] = self.handle_span[: self.next]
            self.handle_span = grown
        if handles > len(self.alive):
            alive = _pages(len(self.handle_span), np.bool_)
            alive[: self.next] = self.alive[: self.next]
            self.alive = alive

    def insert(self, ids: Sequence[str], keys: U64, offsets: I64) -> None:
        """Index the articles ``ids`` in turn, the ``i``-th with ``keys[offsets[i]:offsets[i + 1]]``
        (distinct, ascending), under new handles (room checked by ``fits``)."""
        first, start = self.next, self.n_entries
        self._spans_for(first + len(ids))
        self.n_entries = table_kernels.table_insert_all(*self.arrays(), keys, offsets, start, first)
        self.handle_span[first : first + len(ids), 0] = start + offsets[:-1]
        self.handle_span[first : first + len(ids), 1] = start + offsets[1:]
        self.alive[first : first + len(ids)] = True
        self.live_entries += len(keys)
        for h, article_id in enumerate(ids, first):
            self.handles[article_id] = h
        self.ids.extend(ids)
        self.next = first + len(ids)

    def keys_of(self, handle: int) -> U64:
        """The band keys of an indexed article, ascending."""
        start, end = self.handle_span[handle].tolist()
        keys: U64 = self.entry_key[start:end]
        return keys

    def remove(self, article_id: str) -> bool:
        """Take an article out; whether it was indexed."""
        handle = self.handles.pop(article_id, None)
        if handle is None:
            return False
        self.ids[handle] = None
        self.alive[handle] = False
        start, end = self.handle_span[handle].tolist()
        self.live_entries -= end - start
        return True

    def __getstate__(self) -> dict[str, object]:
        """Pickled (a stream's saved state) with the arrays cut to what is in use."""
        state = dict(vars(self))
        for name in ("entry_handle", "entry_next", "entry_key"):
            state[name] = getattr(self, name)[: self.n_entries]
        state["handle_span"] = self.handle_span[: max(self.next, 1)]
        state["alive"] = self.alive[: max(self.next, 1)]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        """Read back with room for as many entries again (and for as many as it has articles), so
        that adding to a reopened index does not have to begin the next generation at once."""
        vars(self).update(state)
        size = max(2 * self.n_entries, 2 * self.next, _MIN_SLOTS // 2)
        for name in ("entry_handle", "entry_next", "entry_key"):
            cut = getattr(self, name)
            room = _pages(size, cut.dtype.type)
            room[: len(cut)] = cut
            setattr(self, name, room)


def _sizes(need: int) -> tuple[int, int]:
    """The slots and entries of a table for ``need`` keys: both at most half full with them."""
    most = min(_MAX_HANDLE, 7 * _MAX_SLOTS // 8)  # (the slots at most seven eighths full)
    if need > most:
        raise CapacityError(
            f"the in-memory LSH index cannot hold {need:,} band keys (at most {most:,}): "
            "index fewer articles per Deduplicator, or fewer passages per article"
        )
    slots = min(max(_MIN_SLOTS, -(-2 * need // _MIN_SLOTS) * _MIN_SLOTS), _MAX_SLOTS)
    return slots, min(max(2 * need, _MIN_SLOTS // 2), _MAX_HANDLE)


class BandIndex:
    """In-memory LSH with ``bands`` x ``rows``. Buckets live in flat arrays (``_Table``) walked by
    numba kernels: per (article, band) an entry of 16 bytes, and per distinct key two to four
    slots of 4 bytes, against about 130 bytes in a Python dict of lists. ``hits`` reads the
    ``first`` live articles of each bucket.

    A table is never rebuilt in one go, which would stall one ``add`` for seconds once millions of
    keys are indexed. When it fills (``_Table.due``: its slots, or its entry arrays, which also
    hold the entries of removed articles), a successor sized for the articles indexed is begun,
    and each later ``add`` marks some of its slots empty, then copies into it the next articles in
    the order they were indexed, many times as many keys as it adds (``COPY_PER_KEY``), so the copy
    is done before the table is full. Queries, adds and removes go to the current table meanwhile
    (removes to the successor too, for the articles it holds already); once the successor holds
    every article, it replaces the table. Nothing of a removed article is copied, and handles are
    numbered from 0 again, so the int32 arrays hold a stream of any length."""

    def __init__(self, *, bands: int, rows: int, first: int = BUCKET_FIRST) -> None:
        if first < 1:
            raise ValueError(f"a bucket must propose at least one article (first={first})")
        self.bands, self.rows, self.first = bands, rows, first
        self._table = _Table(_MIN_SLOTS, _MIN_SLOTS // 2, _MIN_SLOTS)
        self._successor: _Table | None = None
        self._copied = 0  # the handles of ``_table`` below this one are in the successor, or gone

    def __getstate__(self) -> dict[str, object]:
        """Pickled with the successor finished (a stream's saved state holds one table)."""
        self._finish()
        return dict(vars(self))

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._table.handles

    def __len__(self) -> int:
        return len(self._table.handles)

    def keys(self, signatures: U32) -> U64:
        """The band keys ``add`` indexes an article's signatures under: distinct, ascending."""
        return array_kernels.distinct(band_keys(signatures, self.bands, self.rows).ravel())

    def add(self, article_id: str, signatures: U32) -> None:
        keys = self.keys(signatures)
        self._room(len(keys))  # (first: an article refused for its size leaves its earlier version indexed)
        if article_id in self._table.handles:
            self.remove(article_id)
        self._table.insert([article_id], keys, np.array([0, len(keys)], dtype=np.int64))
        self._copy(max(COPY_PER_KEY * len(keys), COPY_LEAST))

    def indexed_keys(self, article_id: str) -> U64 | None:
        """The band keys an indexed article is listed under (its ``keys``); None for an article
        not indexed."""
        handle = self._table.handles.get(article_id)
        return None if handle is None else self._table.keys_of(handle)

    def listed_under(self, ids: Sequence[str], keys: U64) -> list[bool]:
        """For each of ``ids``, whether it is indexed under exactly ``keys`` (distinct, ascending:
        a ``keys`` result), all of them read in one pass over the table's arrays."""
        table = self._table
        handles = np.fromiter((table.handles.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))
        indexed = np.flatnonzero(handles >= 0)
        spans = table.handle_span[handles[indexed]]
        sized = indexed[spans[:, 1] - spans[:, 0] == len(keys)]
        starts = table.handle_span[handles[sized], 0]
        same = (table.entry_key[starts[:, None] + np.arange(len(keys))] == keys).all(axis=1)
        out = np.zeros(len(ids), dtype=np.bool_)
        out[sized[same]] = True
        return out.tolist()

    def fill(self, ids: Sequence[str], keys: U64, offsets: I64) -> None:
        """Index the articles ``ids`` (distinct) into this index, which holds none, the ``i``-th
        under ``keys[offsets[i]:offsets[i + 1]]`` (its ``keys``): the same index as adding them in
        turn, in one table sized for them all as a successor would be, filled in one call, without
        the successors that adding one at a time begins as the table grows."""
        if len(self._table.handles) or self._table.next or self._successor is not None:
            raise ValueError("fill() builds an index that holds no article yet")
        if len(set(ids)) != len(ids) or len(offsets) != len(ids) + 1:
            raise ValueError("fill() takes distinct ids and one span of keys for each")
        need = max(len(keys), len(ids) + 1)
        slots, entries = _sizes(need)
        table = _Table(slots, entries, 2 * (len(ids) + 1))
        table.insert(ids, keys, offsets)
        self._table = table

    def hits(self, signatures: U32) -> Counter[str]:
        """For each indexed article among the ``first`` of some bucket of the query's rows, how many
        of the query rows collide with it in some band (in any bucket, however far down it is listed
        there)."""
        rows = band_keys(signatures, self.bands, self.rows)
        table = self._table
        handles, counts = table_kernels.table_query(*table.arrays(), table.handle_span, table.alive, rows, self.first)
        ids = table.ids
        return Counter({ids[h]: n for h, n in zip(handles.tolist(), counts.tolist(), strict=True)})

    def remove(self, article_id: str) -> None:
        if self._table.remove(article_id) and self._successor is not None:
            self._successor.remove(article_id)

    def _room(self, extra: int) -> None:
        """Room in the current table for an article of ``extra`` keys: a successor begun when the
        table is due one, and finished at once only when the table has no room left (the copy
        outpaces the adds, so only an article far larger than the others gets there)."""
        if self._successor is None and self._table.due(extra):
            self._begin(extra)
        if not self._table.fits(extra):
            self._finish()
            if not self._table.fits(extra):
                self._begin(extra)
                self._finish()

    def _begin(self, extra: int) -> None:
        """A successor for the articles indexed, ``extra`` keys and the keys added while it is
        copied: its slots and its entry arrays at most half full with them, so that the articles
        indexed can grow by half before it is due in turn. Sized by the articles indexed, not by
        the table: after a window shrinks, the slots shrink with it (marking slots empty is part
        of each copy)."""
        table = self._table
        # the keys that can be added while the copy walks the table (articles and entries, removed
        # ones too), at least ``COPY_PER_KEY`` of them per key added
        during = (table.n_entries + table.next) // max(COPY_PER_KEY, 1)
        need = max(table.live_entries + extra + during, len(table.handles) + 1)
        slots, entries = _sizes(need)
        # the slots are marked empty by the adds too (``_copy``): writing them all at once (hundreds
        # of megabytes for millions of keys) would stall this add
        self._successor = _Table(slots, entries, 2 * (len(table.handles) + 1), emptied=False)
        self._copied = 0

    def _copy(self, budget: int) -> None:
        """Copy into the successor the next articles of the table, in the order they were indexed,
        about ``budget`` of them and their entries together (each article and each entry counts
        one, removed articles too: they are skipped, not copied), and let it replace the table
        once it holds them all."""
        successor = self._successor
        if successor is None:
            return
        if successor.emptied < len(successor.slots):
            successor.empty_slots(SLOTS_PER_ENTRY * max(budget, 1))
            return
        table = self._table
        lo = self._copied
        spans = table.handle_span
        # spans follow each other: the handles [lo, hi) hold the entries [spans[lo, 0], spans[hi - 1, 1]),
        # and the step ends within ``budget`` handles
        reach = min(table.next - lo, max(budget, 1))
        counted = spans[lo : lo + reach, 1] - spans[lo, 0] + np.arange(1, reach + 1)
        hi = lo + min(int(np.searchsorted(counted, budget)) + 1, reach)
        moved: list[int] = []  # the handles of the articles still indexed, and their ids
        names: list[str] = []
        for h, article_id in enumerate(table.ids[lo:hi], lo):
            if article_id is not None:
                moved.append(h)
                names.append(article_id)
        if moved:
            chosen = spans[moved]
            sizes = chosen[:, 1] - chosen[:, 0]
            offsets = np.zeros(len(moved) + 1, dtype=np.int64)
            np.cumsum(sizes, out=offsets[1:])
            positions = np.repeat(chosen[:, 0] - offsets[:-1], sizes) + np.arange(int(offsets[-1]), dtype=np.int64)
            if not successor.fits(len(positions), len(moved)):
                self._begin(0)  # the articles outgrew what the successor was sized for: a larger one
                return
            successor.insert(names, table.entry_key[positions], offsets)
        self._copied = hi
        if hi == table.next:
            self._table, self._successor, self._copied = successor, None, 0

    def _finish(self) -> None:
        """Copy the rest into the successor at once, if one is begun."""
        while self._successor is not None:
            self._copy(_MAX_HANDLE)


class DatasketchLSH:
    """datasketch's ``MinHashLSH`` behind the same protocol (one key per signature row)."""

    def __init__(self, *, num_perm: int, bands: int, rows: int, seed: int, storage_config: dict | None = None) -> None:  # type: ignore[type-arg]
        from datasketch import MinHashLSH  # loads much of scipy: only for this backend

        self._lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows), storage_config=storage_config)
        self._seed = seed
        self._rows: dict[str, int] = {}

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._rows

    def add(self, article_id: str, signatures: U32) -> None:
        self.remove(article_id)
        for i, sig in enumerate(signatures):
            self._lsh.insert(f"{article_id}{_SEP}{i}", to_minhash(sig, self._seed), check_duplication=False)
        self._rows[article_id] = len(signatures)

    def hits(self, signatures: U32) -> Counter[str]:
        counts: Counter[str] = Counter()
        for sig in signatures:
            counts.update({key.rsplit(_SEP, 1)[0] for key in self._lsh.query(to_minhash(sig, self._seed))})
        return counts

    def remove(self, article_id: str) -> None:
        for i in range(self._rows.pop(article_id, 0)):
            self._lsh.remove(f"{article_id}{_SEP}{i}")


class CandidateIndex:
    """Both indexes together: add an article's signatures, ask for its candidates. It keeps how many
    evidence passages each indexed article has, which ``choose`` reads."""

    def __init__(self, documents: LSHBackend, passages: LSHBackend) -> None:
        self.documents = documents
        self.passages = passages
        self._passage_counts: dict[str, int] = {}

    def add(self, article_id: str, signature: U32, passage_signatures: U32) -> None:
        """Index one article: its signature and the signatures of its evidence passages."""
        self.documents.add(article_id, signature[None, :])
        self.passages.add(article_id, passage_signatures)
        self._passage_counts[article_id] = len(passage_signatures)

    def remove(self, article_id: str) -> None:
        self.documents.remove(article_id)
        self.passages.remove(article_id)
        self._passage_counts.pop(article_id, None)

    def twins(self, signature: U32) -> Callable[[Sequence[str]], list[bool]] | None:
        """Which of the given ids are indexed articles that are twins of an article of whole-text
        ``signature``: listed under the same document band keys, all of them (the same signature,
        so the same text in all likelihood), for ``grouping.compared``. None when the documents'
        backend keeps no keys (not a ``BandIndex``)."""
        documents = self.documents
        if not isinstance(documents, BandIndex):
            return None
        keys = documents.keys(signature[None, :])
        return lambda ids: documents.listed_under(ids, keys)

    @contextmanager
    def filling(self) -> Iterator[Callable[[str, U32, U32], None]]:
        """Index many articles read back at once (a file reopened): yields the ``add`` to call for
        each, in order. An empty ``BandIndex`` keeps only their keys until the block ends, then is
        built in one go (``BandIndex.fill``); any other backend is added to at each call. Nothing
        may ask for candidates within the block."""
        bulk: dict[int, tuple[BandIndex, dict[str, U64]]] = {
            id(b): (b, {}) for b in (self.documents, self.passages) if isinstance(b, BandIndex) and not len(b)
        }

        def add_to(backend: LSHBackend, article_id: str, signatures: U32) -> None:
            held = bulk.get(id(backend))
            if held is None:
                backend.add(article_id, signatures)
                return
            band_index, keys = held
            keys.pop(article_id, None)  # an id added again goes last, as ``add`` would index it
            keys[article_id] = band_index.keys(signatures)

        def add(article_id: str, signature: U32, passage_signatures: U32) -> None:
            add_to(self.documents, article_id, signature[None, :])
            add_to(self.passages, article_id, passage_signatures)
            self._passage_counts[article_id] = len(passage_signatures)

        yield add
        for band_index, keys in bulk.values():
            offsets = np.zeros(len(keys) + 1, dtype=np.int64)
            np.cumsum([len(k) for k in keys.values()], out=offsets[1:])
            joined = np.concatenate(list(keys.values())) if keys else np.empty(0, dtype=np.uint64)
            band_index.fill(list(keys), joined, offsets)

    def candidates(self, signature: U32, passage_signatures: U32, *, limit: int, min_hits: int, few: int) -> list[str]:
        """The articles ``choose`` proposes for a query (``limit``, ``min_hits`` and ``few`` as
        there). An article found in a shared backend but not added here counts as having as many
        passages as the query."""
        return self.proposed(signature, passage_signatures, limit=limit, min_hits=min_hits, few=few)[0]

    def proposed(
        self, signature: U32, passage_signatures: U32, *, limit: int, min_hits: int, few: int
    ) -> tuple[list[str], set[str]]:
        """``candidates``, and those of them the document index proposed (by their whole text)."""
        hits = self.passages.hits(passage_signatures) if len(passage_signatures) else Counter()
        counts = self._passage_counts
        query = len(passage_signatures)
        whole = set(self.documents.hits(signature[None, :]))
        found = choose(
            whole, hits, query, {a: counts.get(a, query) for a in hits}, limit=limit, min_hits=min_hits, few=few
        )
        return found, whole


def passages_needed(query: int, candidate: int, *, min_hits: int, few: int) -> int:
    """How many of a query's evidence passages must collide with a candidate for the passage index
    to propose it, given how many evidence passages each has: one when either has at most ``few``
    (a passage of so short an article is a large share of it, so one shared passage can make a
    copy, and a second shared passage may miss the LSH), else ``min_hits`` (or all the passages of
    the one with fewer, when that is less), at least one. Symmetric in the pair, so that whichever
    of the two is indexed first, the rule is the same."""
    smaller = min(query, candidate)
    if smaller <= few:
        return 1
    return max(1, min(min_hits, smaller))


def choose(
    document_hits: Iterable[K],
    passage_hits: Mapping[K, int],
    passages: int,
    candidate_passages: Mapping[K, int],
    *,
    limit: int,
    min_hits: int,
    few: int,
) -> list[K]:
    """The candidate rule for one query: every article whose document shares a band with the
    query's, then the articles a hit by at least ``passages_needed`` of the query's ``passages``
    evidence passages (against a's own ``candidate_passages[a]``), most hits first, ties by id,
    at most ``limit`` of them. ``passage_hits[a]``: how many of the query's passages share a band
    with some passage of a. Sorted by id."""
    found = set(document_hits)
    ranked = sorted(
        (
            a
            for a, n in passage_hits.items()
            if a not in found and n >= passages_needed(passages, candidate_passages[a], min_hits=min_hits, few=few)
        ),
        key=lambda a: (-passage_hits[a], a),
    )
    found.update(ranked[:limit])
    return sorted(found)


def candidate_pairs(
    document_keys: Sequence[Sequence[int]],
    passage_keys: Sequence[Sequence[Sequence[int]]],
    *,
    limit: int,
    min_hits: int,
    few: int,
) -> set[tuple[int, int]]:
    """The reference statement of which pairs of a batch are candidates: the pairs (b, a), a < b,
    that ``choose`` proposes when the articles are indexed one after the other in this order (the
    id order), each queried before it is indexed. ``document_keys[x][t]`` is the key of article
    x's document in band t, ``passage_keys[x][j][t]`` that of its evidence passage j; two rows
    collide when they have the same key in the same band (``band_keys`` mixes the band number
    into its keys, so the runners join on the key alone). The batch's compiled join and the Spark
    job's band joins are tested against this."""

    def bands(rows: Iterable[Sequence[int]]) -> set[tuple[int, int]]:
        return {(t, key) for row in rows for t, key in enumerate(row)}

    documents = [bands([row]) for row in document_keys]
    indexed = [bands(rows) for rows in passage_keys]  # what the passage index holds of each article
    counts = {x: len(rows) for x, rows in enumerate(passage_keys)}
    pairs: set[tuple[int, int]] = set()
    for b in range(len(document_keys)):
        doc_hits = [a for a in range(b) if documents[b] & documents[a]]
        queries = [bands([row]) for row in passage_keys[b]]
        passage_hits = Counter({a: sum(1 for q in queries if q & indexed[a]) for a in range(b)})
        chosen = choose(doc_hits, passage_hits, len(queries), counts, limit=limit, min_hits=min_hits, few=few)
        pairs.update((b, a) for a in chosen)
    return pairs
