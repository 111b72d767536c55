"""The verifier's kernels: shingles in common between two articles, and their shared passages
from each side's passage shingles, sorted and tagged with their passage once per view."""

from __future__ import annotations

from typing import Any

import numpy as np

from dedup.errors import KernelInputError
from dedup.kernels import jit
from dedup.kernels.arrays import sort_tagged


@jit
def intersect_count(a: Any, b: Any) -> int:
    """Size of the intersection of two sorted arrays of unique values (a merge)."""
    i = j = count = 0
    na, nb = a.shape[0], b.shape[0]
    while i < na and j < nb:
        if a[i] == b[j]:
            count += 1
            i += 1
            j += 1
        elif a[i] < b[j]:
            i += 1
        else:
            j += 1
    return count


@jit
def tagged(vals: Any, off: Any, ids: Any) -> Any:
    """The shingles of the passages ``ids`` laid end to end and sorted, each with the position in
    ``ids`` of its passage, and each passage's size."""
    sizes = np.empty(ids.shape[0], dtype=np.int64)
    total = 0
    for x in range(ids.shape[0]):
        sizes[x] = off[ids[x] + 1] - off[ids[x]]
        total += sizes[x]
    flat = np.empty(total, dtype=vals.dtype)
    owner = np.empty(total, dtype=np.int64)
    n = 0
    for x in range(ids.shape[0]):
        lo = off[ids[x]]
        for k in range(sizes[x]):
            flat[n] = vals[lo + k]
            owner[n] = x
            n += 1
    sort_tagged(flat, owner)
    return flat, owner, sizes


@jit
def view_passages(passages: Any, owner: Any, n_sentences: int, dropped: Any, vals: Any, off: Any) -> Any:
    """A verifier view's passages in one call: the passages whose sentence is not in ``dropped``
    (their positions), their sizes in words, and ``tagged`` of them."""
    drop = np.zeros(n_sentences, dtype=np.bool_)
    for d in dropped:
        if d < 0 or d >= n_sentences:
            raise KernelInputError("view passages: a dropped sentence beyond the article's sentences")
        drop[d] = True
    ids = np.empty(passages.shape[0], dtype=np.int64)
    n = 0
    for p in range(passages.shape[0]):
        if not drop[owner[p]]:
            ids[n] = p
            n += 1
    ids = ids[:n].copy()
    words = np.empty(n, dtype=np.int64)
    for x in range(n):
        words[x] = passages[ids[x], 1] - passages[ids[x], 0]
    flat, tags, sizes = tagged(vals, off, ids)
    return ids, words, flat, tags, sizes


@jit
def shared_tagged(
    a_flat: Any,
    a_of: Any,
    size_a: Any,
    a_words: Any,
    b_flat: Any,
    b_of: Any,
    size_b: Any,
    b_words: Any,
    threshold: float,
) -> Any:
    """The passages of a (positions in its ``tagged`` ids) that share at least ``threshold`` of the
    shorter passage's shingles with some passage of b, each with its best partner (highest
    overlap, the first on ties) and that overlap; the words of a and of b in shared passages; how
    many passages of b are shared. ``verify.compare``'s passage step in one pass, from each side's
    ``tagged`` passage shingles (a view keeps them: an article compared several times is sorted
    once)."""
    na, nb = size_a.shape[0], size_b.shape[0]
    # Shingles in common between every passage of a and of b, from one merge of all of a's
    # passage shingles with all of b's (each tagged with its passage), not one merge per pair of
    # passages.
    counts = np.zeros((na, nb), dtype=np.int64)
    i = j = 0
    while i < a_flat.shape[0] and j < b_flat.shape[0]:
        v = a_flat[i]
        w = b_flat[j]
        if v < w:
            i += 1
        elif v > w:
            j += 1
        else:
            i_end, j_end = i, j
            while i_end < a_flat.shape[0] and a_flat[i_end] == v:
                i_end += 1
            while j_end < b_flat.shape[0] and b_flat[j_end] == v:
                j_end += 1
            for p in range(i, i_end):
                for q in range(j, j_end):
                    counts[a_of[p], b_of[q]] += 1
            i, j = i_end, j_end
    best_b = np.full(na, -1, dtype=np.int64)
    best = np.zeros(na, dtype=np.float64)
    b_shared = np.zeros(nb, dtype=np.bool_)
    for x in range(na):
        if size_a[x] == 0:
            continue
        for y in range(nb):
            count = counts[x, y]
            if count == 0:
                continue
            overlap = count / max(min(size_a[x], size_b[y]), 1)
            if overlap >= threshold:
                b_shared[y] = True
                if best_b[x] < 0 or overlap > best[x]:
                    best_b[x], best[x] = y, overlap
    shared_a = np.flatnonzero(best_b >= 0)
    words_a = 0
    for i in range(shared_a.shape[0]):
        words_a += a_words[shared_a[i]]
    words_b = 0
    n_b = 0
    for y in range(nb):
        if b_shared[y]:
            words_b += b_words[y]
            n_b += 1
    return shared_a, best_b[shared_a], best[shared_a], words_a, words_b, n_b
