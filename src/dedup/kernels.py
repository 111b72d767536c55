"""Compiled kernels for the hot loops, with numpy fallbacks.

MinHash over many sets is the one loop numpy handles badly: it must materialize a (shingles x
permutations) matrix and reduce it. Measured on this project's benchmark machine (400 shingles, 128
permutations, one core): numpy ``signatures`` 380 µs per set, the numba kernel below 6 µs per set,
bit for bit the same. So the kernel is compiled with numba when it is installed (it is a core
dependency) and falls back to numpy otherwise; ``KERNEL`` says which one runs.

The kernel computes exactly datasketch's "affine32" MinHash: ``fmix32(h)`` then ``a*h + b mod 2**32``
and the minimum per permutation, as ``sign.reference_signature`` does through datasketch itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

try:  # pragma: no cover - which branch runs depends on the environment
    import numba as _numba
except ImportError:  # pragma: no cover
    _numba = None  # type: ignore[assignment]

KERNEL = "numpy" if _numba is None else "numba"


def _jit(fn: Any) -> Any:
    return None if _numba is None else _numba.njit(cache=True, nogil=True)(fn)


def _minhash_python(values: U32, offsets: I64, a: U32, b: U32, out: U32) -> None:
    """For each set ``values[offsets[d]:offsets[d+1]]``, the MinHash signature into ``out[d]``."""
    n_perm = a.shape[0]
    mask = np.uint64(0xFFFFFFFF)
    for d in range(offsets.shape[0] - 1):
        row = out[d]
        for p in range(n_perm):
            row[p] = np.uint32(0xFFFFFFFF)
        for i in range(offsets[d], offsets[d + 1]):
            h = np.uint64(values[i])
            h ^= h >> np.uint64(16)
            h = (h * np.uint64(0x85EBCA6B)) & mask
            h ^= h >> np.uint64(13)
            h = (h * np.uint64(0xC2B2AE35)) & mask
            h ^= h >> np.uint64(16)
            h32 = np.uint32(h)
            for p in range(n_perm):
                v = np.uint32(a[p] * h32 + b[p])
                if v < row[p]:
                    row[p] = v


minhash_into = _jit(_minhash_python)


def _fmix64(h: Any) -> Any:
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


def _grams(words: Any, k: int, multipliers: Any) -> Any:
    n = words.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    k = min(k, n)
    m = n - k + 1
    out = np.empty(m, dtype=np.uint64)
    for i in range(m):
        acc = np.uint64(0)
        for j in range(k):
            acc += words[i + j] * multipliers[j]
        out[i] = _fmix64(acc)
    return out


def _shingle_ids(ids: Any, hashes: Any, k: int, pk: int, min_pw: int, max_pw: int, multipliers: Any, salt: Any) -> Any:
    """Everything ``shingle.analyze`` computes from the word ids, in one compiled pass: the words,
    sentence starts and fingerprints, passages, passage shingles and document shingles. Equal, bit
    for bit, to the numpy code in ``shingle`` (a hypothesis test checks it)."""
    n_tok = ids.shape[0]
    words = np.empty(n_tok, dtype=np.uint64)
    starts = np.empty(n_tok + 2, dtype=np.int64)
    starts[0] = 0
    ns, nw = 1, 0
    for t in range(n_tok):
        i = ids[t]
        if i == 0:
            if nw > starts[ns - 1]:
                starts[ns] = nw
                ns += 1
        else:
            words[nw] = hashes[i]
            nw += 1
    if nw > starts[ns - 1]:
        starts[ns] = nw
        ns += 1
    # copies, not views: a view would keep the whole token-sized buffer alive with the article
    words = words[:nw].copy()
    starts = starts[:ns].copy()
    n_sent = ns - 1
    # sentence fingerprints
    fps = np.empty(max(n_sent, 0), dtype=np.uint64)
    for s in range(n_sent):
        total = np.uint64(0)
        for j in range(starts[s], starts[s + 1]):
            total += _fmix64(words[j] + np.uint64(j - starts[s]) * salt)
        fps[s] = _fmix64(total ^ np.uint64(starts[s + 1] - starts[s]))
    grams = _grams(words, k, multipliers)
    # passages: sentences long enough, cut in even pieces of at most max_pw words
    n_pass = 0
    for s in range(n_sent):
        length = starts[s + 1] - starts[s]
        if length >= min_pw:
            n_pass += (length + max_pw - 1) // max_pw
    passages = np.empty((n_pass, 2), dtype=np.int64)
    owners = np.empty(n_pass, dtype=np.int64)
    p = 0
    for s in range(n_sent):
        length = starts[s + 1] - starts[s]
        if length >= min_pw:
            pieces = (length + max_pw - 1) // max_pw
            for j in range(pieces):
                passages[p, 0] = starts[s] + length * j // pieces
                passages[p, 1] = starts[s] + length * (j + 1) // pieces
                owners[p] = s
                p += 1
    pgrams = grams if pk == min(k, nw) else _grams(words, pk, multipliers)
    total_p = 0
    for p in range(n_pass):
        total_p += max(passages[p, 1] - passages[p, 0] - pk + 1, 0)
    values = np.empty(total_p, dtype=np.uint64)
    offsets = np.zeros(n_pass + 1, dtype=np.int64)
    v = 0
    for p in range(n_pass):
        count = max(passages[p, 1] - passages[p, 0] - pk + 1, 0)
        chunk = np.sort(pgrams[passages[p, 0] : passages[p, 0] + count])
        for j in range(count):
            if j == 0 or chunk[j] != chunk[j - 1]:
                values[v] = chunk[j]
                v += 1
        offsets[p + 1] = v
    values = values[:v].copy()
    ordered = np.sort(grams)
    unique = np.empty(ordered.shape[0], dtype=np.uint64)
    u = 0
    for j in range(ordered.shape[0]):
        if j == 0 or ordered[j] != ordered[j - 1]:
            unique[u] = ordered[j]
            u += 1
    return words, starts, fps, passages, owners, values, offsets, unique[:u].copy()


if _numba is not None:
    _fmix64 = _jit(_fmix64)
    _grams = _jit(_grams)
shingle_ids = _jit(_shingle_ids)


def _intersect_count(a: Any, b: Any) -> int:
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


def _passage_overlaps(a_vals: Any, a_off: Any, a_ids: Any, b_vals: Any, b_off: Any, b_ids: Any) -> Any:
    """Shingles in common between every chosen passage of a (``a_ids``) and of b (``b_ids``): each
    passage's values are sorted and unique, so each pair is a merge."""
    out = np.zeros((a_ids.shape[0], b_ids.shape[0]), dtype=np.int64)
    for x in range(a_ids.shape[0]):
        pa = a_ids[x]
        seg_a = a_vals[a_off[pa] : a_off[pa + 1]]
        if seg_a.shape[0] == 0:
            continue
        lo_a, hi_a = seg_a[0], seg_a[seg_a.shape[0] - 1]
        for y in range(b_ids.shape[0]):
            pb = b_ids[y]
            seg_b = b_vals[b_off[pb] : b_off[pb + 1]]
            if seg_b.shape[0] == 0 or seg_b[0] > hi_a or seg_b[seg_b.shape[0] - 1] < lo_a:
                continue
            out[x, y] = _intersect_count(seg_a, seg_b)
    return out


intersect_count = _jit(_intersect_count)
if _numba is not None:
    _intersect_count = intersect_count
passage_overlaps = _jit(_passage_overlaps)


def _table_slot(slots_key: Any, slots_head: Any, key: Any) -> Any:
    """The slot of ``key`` (linear probing), or of the empty slot where it would go."""
    mask = np.int64(slots_key.shape[0] - 1)
    # uint64 mixed with int64 turns into float64 in numba: keep the arithmetic in int64
    i = np.int64(key & np.uint64(mask))
    while slots_head[i] != -1 and slots_key[i] != key:
        i = (i + np.int64(1)) & mask
    return i


def _table_insert(
    slots_key: Any, slots_head: Any, entry_handle: Any, entry_next: Any, n_entries: int, keys: Any, handle: int
) -> int:
    """Add ``handle`` under each of ``keys`` (distinct); returns the new number of entries. The
    caller keeps the slots at most half full and the entry arrays large enough."""
    for key in keys:
        i = _table_slot(slots_key, slots_head, key)
        if slots_head[i] == -1:
            slots_key[i] = key
        entry_handle[n_entries] = handle
        entry_next[n_entries] = slots_head[i]
        slots_head[i] = n_entries
        n_entries += 1
    return n_entries


def _table_remove(slots_key: Any, slots_head: Any, entry_handle: Any, entry_next: Any, keys: Any, handle: int) -> int:
    """Mark ``handle``'s entries under ``keys`` as removed; returns how many were."""
    removed = 0
    for key in keys:
        i = _table_slot(slots_key, slots_head, key)
        e = slots_head[i]
        while e != -1:
            if entry_handle[e] == handle:
                entry_handle[e] = -1
                removed += 1
            e = entry_next[e]
    return removed


def _table_query(slots_key: Any, slots_head: Any, entry_handle: Any, entry_next: Any, rows: Any) -> Any:
    """For each row of band keys, the distinct handles found under any of its keys; all rows'
    handles laid end to end (a handle appears once per row that hits it)."""
    out = np.empty(64, dtype=np.int32)
    n = 0
    found = np.empty(64, dtype=np.int32)
    for r in range(rows.shape[0]):
        m = 0
        for b in range(rows.shape[1]):
            i = _table_slot(slots_key, slots_head, rows[r, b])
            e = slots_head[i]
            while e != -1:
                h = entry_handle[e]
                if h != -1:
                    if m == found.shape[0]:
                        grown = np.empty(2 * m, dtype=np.int32)
                        grown[:m] = found
                        found = grown
                    found[m] = h
                    m += 1
                e = entry_next[e]
        if m == 0:
            continue
        distinct = np.unique(found[:m])
        while n + distinct.shape[0] > out.shape[0]:
            grown = np.empty(2 * out.shape[0], dtype=np.int32)
            grown[:n] = out[:n]
            out = grown
        out[n : n + distinct.shape[0]] = distinct
        n += distinct.shape[0]
    return out[:n].copy()


if _numba is not None:
    _table_slot = _jit(_table_slot)
table_insert = _jit(_table_insert)
table_remove = _jit(_table_remove)
table_query = _jit(_table_query)
