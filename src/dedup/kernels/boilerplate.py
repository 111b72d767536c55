"""The boilerplate judge (``boilerplate.judge``) compiled, for many sentences at once: over a
sample each (the batch engine) or over a few shared samples (the stream)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dedup.errors import KernelInputError
from dedup.kernels import jit
from dedup.kernels.arrays import contains_sorted


@jit
def _median(values: Any) -> Any:
    """The median of ``values`` (at least one), as ``statistics.median`` gives it."""
    ordered = np.sort(values)
    k = ordered.shape[0]
    return ordered[k // 2] if k % 2 == 1 else (ordered[k // 2 - 1] + ordered[k // 2]) / 2


@jit
def _sorted_segments(values: Any, starts: Any) -> Any:
    """``values`` with each segment ``starts[a]:starts[a + 1]`` sorted."""
    out = values.copy()
    for a in range(starts.shape[0] - 1):
        out[starts[a] : starts[a + 1]] = np.sort(values[starts[a] : starts[a + 1]])
    return out


@jit
def _elsewhere(keys: Any, lo: Any, hi: Any, members: Any, i: int, key: Any) -> bool:
    """Whether a member of ``members`` other than the ``i``-th (-1 pads) has ``key`` among its
    sorted near keys ``keys[lo[m]:hi[m]]``."""
    for j in range(members.shape[0]):
        o = members[j]
        if o >= 0 and j != i and contains_sorted(keys, lo[o], hi[o], key):
            return True
    return False


@jit
def judge_samples(fps: Any, keys: Any, starts: Any, samples: Any, judged: Any, min_unique_fraction: float) -> Any:
    """``boilerplate.judge`` for many sentences at once: sentence ``judged[r]`` over the articles
    ``samples[r]`` (-1 pads), each article's distinct fingerprints sorted in ``fps[starts[a]:
    starts[a + 1]]``, with their near keys in ``keys`` alike. For each sampled article, the share
    of its other sentences of which no other sampled article carries a version (a sentence with
    the same near key); the sentence is boilerplate when the median share reaches the threshold."""
    if keys.shape[0] != fps.shape[0] or starts[-1] > fps.shape[0]:
        raise KernelInputError("judge samples: one near key per fingerprint, and articles within them, are expected")
    sorted_keys = _sorted_segments(keys, starts)
    lo, hi = starts[:-1], starts[1:]
    out = np.zeros(samples.shape[0], dtype=np.bool_)
    fractions = np.empty(samples.shape[1], dtype=np.float64)
    for r in range(samples.shape[0]):
        fp = judged[r]
        members = samples[r]
        k = 0
        for i in range(members.shape[0]):
            a = members[i]
            if a < 0:
                continue
            own = unique = 0
            for p in range(starts[a], starts[a + 1]):
                if fps[p] == fp:
                    continue
                own += 1
                if not _elsewhere(sorted_keys, lo, hi, members, i, keys[p]):
                    unique += 1
            fractions[k] = 0.0 if own == 0 else unique / own
            k += 1
        out[r] = _median(fractions[:k]) >= min_unique_fraction
    return out


@jit
def judge_rows(
    fps: Any, keys: Any, starts: Any, rows: Any, row_of: Any, judged: Any, min_unique_fraction: float
) -> Any:
    """``boilerplate.judge`` for many sentences judged over a few samples, as ``boilerplate.Sample``
    counts them: what does not depend on the judged sentence (each sampled article's sentences
    of which no other sampled article carries a version) is counted once per sample. Sentence
    ``judged[r]`` is judged over the articles ``rows[row_of[r]]`` (-1 pads); article ``a``'s
    sentence fingerprints are ``fps[starts[a]:starts[a + 1]]``, in any order, repeats allowed,
    their near keys in ``keys`` alike."""
    if keys.shape[0] != fps.shape[0] or starts[-1] > fps.shape[0]:
        raise KernelInputError("judge rows: one near key per fingerprint, and articles within them, are expected")
    n_art = starts.shape[0] - 1
    own_fps = np.empty(fps.shape[0], dtype=fps.dtype)
    own_keys = np.empty(fps.shape[0], dtype=keys.dtype)
    lo = np.zeros(n_art, dtype=np.int64)
    hi = np.zeros(n_art, dtype=np.int64)
    n = 0
    for a in range(n_art):  # each article's distinct fingerprints, sorted, with their keys
        order = np.argsort(fps[starts[a] : starts[a + 1]], kind="mergesort") + starts[a]
        lo[a] = n
        for k in range(order.shape[0]):
            if k == 0 or fps[order[k]] != fps[order[k - 1]]:
                own_fps[n] = fps[order[k]]
                own_keys[n] = keys[order[k]]
                n += 1
        hi[a] = n
    bounds = np.empty(n_art + 1, dtype=np.int64)
    bounds[:-1] = lo
    bounds[-1] = n
    sorted_keys = _sorted_segments(own_keys[:n], bounds)
    width = rows.shape[1]
    own = np.zeros(rows.shape, dtype=np.int64)  # per sample and member: sentences it alone has a version of
    for r in range(rows.shape[0]):
        for i in range(width):
            a = rows[r, i]
            if a < 0:
                continue
            for p in range(lo[a], hi[a]):
                if not _elsewhere(sorted_keys, lo, hi, rows[r], i, own_keys[p]):
                    own[r, i] += 1
    out = np.zeros(judged.shape[0], dtype=np.bool_)
    fractions = np.empty(width, dtype=np.float64)
    for q in range(judged.shape[0]):
        r, fp = row_of[q], judged[q]
        k = 0
        for i in range(width):
            a = rows[r, i]
            if a < 0:
                continue
            size = hi[a] - lo[a]
            mine = own[r, i]
            at = lo[a] + np.searchsorted(own_fps[lo[a] : hi[a]], fp)
            if at < hi[a] and own_fps[at] == fp:  # the judged sentence is not one of its others
                size -= 1
                if not _elsewhere(sorted_keys, lo, hi, rows[r], i, own_keys[at]):
                    mine -= 1
            fractions[k] = mine / size if size else 0.0
            k += 1
        out[q] = _median(fractions[:k]) >= min_unique_fraction
    return out
