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

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
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
K = TypeVar("K", str, int)  # an article: its id, or its rank in the id order

_SEP = "\x1f"
_MIN_SLOTS = 1024
# the largest handle and number of entries: both are int32 in the compiled table, where -1 marks a
# removed entry
_MAX_HANDLE = 2**31 - 2
# How many articles one bucket of a ``BandIndex`` proposes, those indexed first under its key. A
# bucket holds more only when a story is copied by that many outlets (or a text recurs that often):
# every later copy is then found by the story's first copies, which are the ones an article is
# compared with (``grouping.compared`` keeps the candidates indexed first, and at least
# ``ClusterConfig.max_compared`` of them are in every bucket), and a query costs the same however
# large the story grows.
BUCKET_FIRST = 256


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


class BandIndex:
    """In-memory LSH with ``bands`` x ``rows``. Buckets live in flat arrays, an open-addressing
    table of band keys whose slots hold linked lists of article handles in the order they were
    indexed, each entry with its key (a slot's key is that of its list's first entry), walked by
    numba kernels: about 36 bytes per (article, band) against about 130 in a Python dict of lists. ``hits`` reads the ``first`` live articles of each bucket."""

    def __init__(self, *, bands: int, rows: int, first: int = BUCKET_FIRST) -> None:
        if first < 1:
            raise ValueError(f"a bucket must propose at least one article (first={first})")
        self.bands, self.rows, self.first = bands, rows, first
        self._handles: dict[str, int] = {}
        self._ids: dict[int, str] = {}
        self._next = 0
        self._reset(_MIN_SLOTS, _MIN_SLOTS // 2)

    def _reset(self, slots: int, entries: int) -> None:
        self._slots_head = np.full(slots, -1, dtype=np.int32)
        self._slots_tail = np.full(slots, -1, dtype=np.int32)
        self._entry_handle = np.empty(entries, dtype=np.int32)
        self._entry_next = np.empty(entries, dtype=np.int32)
        self._entry_key = np.empty(entries, dtype=np.uint64)
        # each handle's entries, [start, end) (``table_query`` reads a handle's keys there)
        self._handle_span = np.zeros((_MIN_SLOTS, 2), dtype=np.int64)
        self._n_entries = 0
        self._n_keys = 0  # slots in use (an upper bound: removals leave their keys)

    def _reserve(self, extra: int) -> None:
        """Room for ``extra`` more keys and entries: afterwards the slots stay at most three quarters
        full (linear probing stays short there) and the entry arrays hold ``extra`` more entries,
        grown by half when they do not. Called before anything of the new article is recorded, so
        that a rebuild inserts only the articles already indexed."""
        full = 4 * (self._n_keys + extra) > 3 * len(self._slots_head)
        if full or self._next > _MAX_HANDLE or self._n_entries + extra > _MAX_HANDLE:
            self._rebuild(extra)
        if self._n_entries + extra > len(self._entry_handle):
            size = max(len(self._entry_handle) * 3 // 2, self._n_entries + extra)
            for name in ("_entry_handle", "_entry_next", "_entry_key"):
                grown = np.empty(size, dtype=getattr(self, name).dtype)
                grown[: self._n_entries] = getattr(self, name)[: self._n_entries]
                setattr(self, name, grown)

    def _rebuild(self, extra: int) -> None:
        """Fresh arrays for the indexed articles plus ``extra`` keys: the entries of removed
        articles are dropped, the handles renumbered from 0 in the order they were indexed (they
        are int32 in the arrays, and a long stream of adds and removes would otherwise run them
        past 2**31), and the slots doubled until those keys fill at most half of them. So at
        least a quarter of the slots fill before the next rebuild (at three quarters), whose cost
        (proportional to the slots) is spread over that many inserts, however many articles were
        removed; growth alone doubles the slots once, from three quarters full to three eighths.
        The articles are inserted again in one compiled call (``table_insert_all``)."""
        ids = list(self._ids.values())
        spans = self._handle_span[np.fromiter(self._ids, dtype=np.int64, count=len(ids))]
        sizes = spans[:, 1] - spans[:, 0]
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        total = int(offsets[-1])
        need = total + extra
        slots = len(self._slots_head)
        while 2 * need > slots:
            slots *= 2
        if max(need, len(ids) + 1) > _MAX_HANDLE:
            raise CapacityError(
                f"the in-memory LSH index cannot hold {need:,} band keys (at most {_MAX_HANDLE:,}): "
                "index fewer articles per Deduplicator, or fewer passages per article"
            )
        # each article's keys, one after the other in the order of their handles
        keys = self._entry_key[np.repeat(spans[:, 0] - offsets[:-1], sizes) + np.arange(total, dtype=np.int64)]
        self._reset(slots, max(len(self._entry_handle), need))
        self._n_entries = table_kernels.table_insert_all(
            self._slots_head, self._slots_tail, self._entry_handle, self._entry_next, self._entry_key, keys, offsets
        )
        self._n_keys = total
        if len(ids) >= len(self._handle_span):
            self._handle_span = np.zeros((2 * len(ids), 2), dtype=np.int64)
        self._handle_span[: len(ids), 0] = offsets[:-1]
        self._handle_span[: len(ids), 1] = offsets[1:]
        self._handles = dict(zip(ids, range(len(ids)), strict=True))
        self._ids = dict(enumerate(ids))
        self._next = len(ids)

    def _record(self, article_id: str, keys: U64) -> None:
        """Index ``keys`` under a new handle for ``article_id`` (room reserved by the caller)."""
        handle = self._next
        self._next += 1
        if handle == len(self._handle_span):
            self._handle_span = np.concatenate([self._handle_span, np.zeros_like(self._handle_span)])
        start = self._n_entries
        self._n_entries = table_kernels.table_insert(
            self._slots_head, self._slots_tail, self._entry_handle, self._entry_next, self._entry_key, start,
            keys, handle,
        )  # fmt: skip
        self._handle_span[handle] = (start, self._n_entries)
        self._n_keys += len(keys)
        self._handles[article_id], self._ids[handle] = handle, article_id

    def __getstate__(self) -> dict[str, object]:
        """Pickled (a stream's saved state) with the entry arrays cut to the entries in use: they
        grow again at the next insert."""
        state = dict(vars(self))
        for name in ("_entry_handle", "_entry_next", "_entry_key"):
            state[name] = getattr(self, name)[: self._n_entries]
        state["_handle_span"] = self._handle_span[: max(self._next, 1)]
        return state

    def _keys_of(self, handle: int) -> U64:
        """The band keys of an indexed article, ascending."""
        start, end = self._handle_span[handle].tolist()
        keys: U64 = self._entry_key[start:end]
        return keys

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._handles

    def __len__(self) -> int:
        return len(self._handles)

    def add(self, article_id: str, signatures: U32) -> None:
        if article_id in self._handles:
            self.remove(article_id)
        keys = array_kernels.distinct(band_keys(signatures, self.bands, self.rows).ravel())
        self._reserve(len(keys))
        self._record(article_id, keys)

    def hits(self, signatures: U32) -> Counter[str]:
        """For each indexed article among the ``first`` of some bucket of the query's rows, how many
        of the query rows collide with it in some band (in any bucket, however far down it is listed
        there)."""
        rows = band_keys(signatures, self.bands, self.rows)
        handles, counts = table_kernels.table_query(
            self._slots_head, self._slots_tail, self._entry_handle, self._entry_next, self._entry_key,
            self._handle_span, rows, self.first,
        )  # fmt: skip
        return Counter({self._ids[h]: n for h, n in zip(handles.tolist(), counts.tolist(), strict=True)})

    def remove(self, article_id: str) -> None:
        handle = self._handles.pop(article_id, None)
        if handle is None:
            return
        del self._ids[handle]
        keys = self._keys_of(handle)
        table_kernels.table_remove(
            self._slots_head, self._slots_tail, self._entry_handle, self._entry_next, self._entry_key, keys, handle
        )


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

    def candidates(self, signature: U32, passage_signatures: U32, *, limit: int, min_hits: int, few: int) -> list[str]:
        """The articles ``choose`` proposes for a query (``limit``, ``min_hits`` and ``few`` as
        there). An article found in a shared backend but not added here counts as having as many
        passages as the query."""
        hits = self.passages.hits(passage_signatures) if len(passage_signatures) else Counter()
        counts = self._passage_counts
        query = len(passage_signatures)
        return choose(
            self.documents.hits(signature[None, :]),
            hits,
            query,
            {a: counts.get(a, query) for a in hits},
            limit=limit,
            min_hits=min_hits,
            few=few,
        )


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
