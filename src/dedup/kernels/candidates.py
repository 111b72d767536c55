"""The batch engine's kernels: candidate pairs from the sorted band keys of a whole batch, and the
stable two-key sort of those keys."""

from __future__ import annotations

from typing import Any

import numpy as np

from dedup.errors import KernelInputError
from dedup.kernels import jit
from dedup.kernels.arrays import grow


@jit
def _group_start(keys: Any, s: int) -> int:
    """The first position of the run of equal keys that holds position ``s`` (keys sorted)."""
    key = keys[s]
    while s > 0 and keys[s - 1] == key:
        s -= 1
    return s


@jit
def _passages_needed(query: int, candidate: int, min_hits: int, few: int) -> int:
    """``index.passages_needed`` compiled."""
    smaller = min(query, candidate)
    if smaller <= few:
        return 1
    return max(1, min(min_hits, smaller))


@jit
def _shares_doc_key(doc_keys: Any, doc_pos: Any, bands: int, a: int, b: int) -> bool:
    """Whether the documents of a and b have the same key in some band."""
    for t in range(bands):  # noqa: SIM110 (numba compiles no generator into any())
        if doc_keys[doc_pos[a * bands + t]] == doc_keys[doc_pos[b * bands + t]]:
            return True
    return False


@jit
def _check_articles(values: Any, n: int) -> None:
    """Every one of ``values`` is an article, in ``[0, n)``."""
    for x in range(values.shape[0]):
        if values[x] < 0 or values[x] >= n:
            raise KernelInputError("candidate pairs: an owner or rank beyond the articles of the batch")


@jit
def candidate_pairs(
    rank: Any,
    by_rank: Any,
    doc_keys: Any,
    doc_owner: Any,
    doc_pos: Any,
    doc_bands: int,
    pas_off: Any,
    pas_keys: Any,
    pas_owner: Any,
    pas_pos: Any,
    min_hits: int,
    few: int,
    limit: int,
    first: int,
) -> Any:
    """The candidate pairs (b, a) of a batch, a before b in id order (``rank``; -1: not in the
    batch), with whether each came from a document band (b, a, whole), as ``CandidateIndex``
    proposes them when the articles are added in that order: every
    article whose document shares a band key with b's, then the articles a hit by at least
    ``index.passages_needed(b's passages, a's passages, min_hits, few)`` of b's evidence passages (each
    passage counts once per article; an article's passages are its span of ``pas_off``),
    most hits first, ties by rank, at most ``limit``. Keys come sorted by (key, rank of the owner);
    ``*_pos`` says where each article's (or passage's) key went. Written here because no library
    joins sorted LSH buckets with this ranking rule; memory is O(articles) besides the inputs.

    A document band gives b at most its ``first`` articles in id order (0: all of them). Each of
    b's ``first`` document candidates of lowest rank is still given (it is among the first of
    every band it shares with b), and one left out is still no passage candidate, so b's
    ``first - 1`` document candidates of lowest rank are the same, and when b has fewer than
    that, no band was cut and every candidate is given: what a caller that compares each article
    with at most ``first - 1`` of its candidates, the first in id order, those of a document band
    first (``grouping.compared``), reads. A story copied by thousands of outlets then costs a
    bounded walk per article instead of one over every earlier copy."""
    n = rank.shape[0]
    # the owners and ``by_rank`` index the per-article arrays written below
    _check_articles(doc_owner, n)
    _check_articles(pas_owner.ravel(), n)
    _check_articles(by_rank, n)
    out_b = np.empty(1024, dtype=np.int32)
    out_a = np.empty(1024, dtype=np.int32)
    out_d = np.empty(1024, dtype=np.bool_)  # whether the pair came from a document band
    m = 0
    doc_mark = np.full(n, -1, dtype=np.int64)
    last = np.full(n, -1, dtype=np.int64)
    hits = np.zeros(n, dtype=np.int32)
    touched = np.empty(n, dtype=np.int32)
    bands = pas_keys.shape[0]
    for rb in range(by_rank.shape[0]):
        b = by_rank[rb]
        cut = False  # a band gave fewer than all of its articles
        for t in range(doc_bands):
            s = doc_pos[b * doc_bands + t]
            given = 0
            for x in range(_group_start(doc_keys, s), s):
                a = doc_owner[x]
                if rank[a] < 0:
                    continue
                if given == first and first > 0:
                    cut = True
                    break
                given += 1
                if rank[a] < rb and doc_mark[a] != b:
                    doc_mark[a] = b
                    if m == out_b.shape[0]:
                        out_b, out_a, out_d = grow(out_b, m), grow(out_a, m), grow(out_d, m)
                    out_b[m], out_a[m], out_d[m] = b, a, True
                    m += 1
        start, end = pas_off[b], pas_off[b + 1]
        if end == start:
            continue
        nt = 0
        for j in range(start, end):
            for t in range(bands):
                s = pas_pos[t, j]
                for x in range(_group_start(pas_keys[t], s), s):
                    a = pas_owner[t, x]
                    if 0 <= rank[a] < rb and last[a] != j:
                        last[a] = j
                        if hits[a] == 0:
                            touched[nt] = a
                            nt += 1
                        hits[a] += 1
        chosen = np.empty(nt, dtype=np.int64)
        c = 0
        for i in range(nt):
            a = touched[i]
            if (
                hits[a] >= _passages_needed(end - start, pas_off[a + 1] - pas_off[a], min_hits, few)
                and doc_mark[a] != b
                and not (cut and _shares_doc_key(doc_keys, doc_pos, doc_bands, a, b))
            ):
                chosen[c] = (np.int64((1 << 30) - hits[a]) << 32) | rank[a]  # most hits first, then rank
                c += 1
        chosen = np.sort(chosen[:c])
        for i in range(min(c, limit)):
            if m == out_b.shape[0]:
                out_b, out_a, out_d = grow(out_b, m), grow(out_a, m), grow(out_d, m)
            out_b[m], out_a[m], out_d[m] = b, by_rank[chosen[i] & 0xFFFFFFFF], False
            m += 1
        for i in range(nt):
            hits[touched[i]] = 0
    return out_b[:m].copy(), out_a[:m].copy(), out_d[:m].copy()


@jit
def sort_runs(keys: Any, order: Any, secondary: Any) -> None:
    """``order`` sorts ``keys`` (``keys[order]`` ascending); reorder each run of equal keys by
    ``secondary[order[i]]`` ascending, in place, so that the result is the sort by (key, secondary).
    Cheaper than a two-key sort when most keys are distinct."""
    n = order.shape[0]
    i = 0
    while i < n:
        j = i + 1
        key = keys[order[i]]
        while j < n and keys[order[j]] == key:
            j += 1
        if j - i > 1:
            run = order[i:j].copy()
            values = np.empty(j - i, dtype=np.int64)
            for x in range(j - i):
                values[x] = secondary[run[x]]
            by = np.argsort(values, kind="mergesort")
            for x in range(j - i):
                order[i + x] = run[by[x]]
        i = j
