"""The boilerplate judge (``boilerplate.judge``) compiled, for many sentences at once: over a
sample each (the batch engine) or over a few shared samples (the stream)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dedup.kernels import jit
from dedup.kernels.arrays import contains_sorted


@jit
def _median(values: Any) -> Any:
    """The median of ``values`` (at least one), as ``statistics.median`` gives it."""
    ordered = np.sort(values)
    k = ordered.shape[0]
    return ordered[k // 2] if k % 2 == 1 else (ordered[k // 2 - 1] + ordered[k // 2]) / 2


@jit
def judge_samples(fps: Any, starts: Any, samples: Any, judged: Any, min_unique_fraction: float) -> Any:
    """``boilerplate.judge`` for many sentences at once: sentence ``judged[r]`` over the articles
    ``samples[r]`` (-1 pads), each article's distinct fingerprints sorted in ``fps[starts[a]:
    starts[a + 1]]``. For each sampled article, the share of its other sentences found in no other
    sampled article; the sentence is boilerplate when the median share reaches the threshold."""
    out = np.zeros(samples.shape[0], dtype=np.bool_)
    fractions = np.empty(samples.shape[1], dtype=np.float64)
    for r in range(samples.shape[0]):
        fp = judged[r]
        k = 0
        for i in range(samples.shape[1]):
            a = samples[r, i]
            if a < 0:
                continue
            own = unique = 0
            for p in range(starts[a], starts[a + 1]):
                x = fps[p]
                if x == fp:
                    continue
                own += 1
                elsewhere = False
                for j in range(samples.shape[1]):
                    o = samples[r, j]
                    if o < 0 or j == i:
                        continue
                    if contains_sorted(fps, starts[o], starts[o + 1], x):  # the other article's sorted fingerprints
                        elsewhere = True
                        break
                if not elsewhere:
                    unique += 1
            fractions[k] = 0.0 if own == 0 else unique / own
            k += 1
        out[r] = _median(fractions[:k]) >= min_unique_fraction
    return out


@jit
def judge_rows(fps: Any, starts: Any, rows: Any, row_of: Any, judged: Any, min_unique_fraction: float) -> Any:
    """``boilerplate.judge`` for many sentences judged over a few samples, as ``boilerplate.Sample``
    counts them: what does not depend on the judged sentence (each sampled article's sentences
    that no other sampled article has) is counted once per sample. Sentence ``judged[r]`` is judged
    over the articles ``rows[row_of[r]]`` (-1 pads); article ``a``'s sentence fingerprints are
    ``fps[starts[a]:starts[a + 1]]``, in any order, repeats allowed."""
    n_art = starts.shape[0] - 1
    own_fps = np.empty(fps.shape[0], dtype=fps.dtype)
    lo = np.zeros(n_art, dtype=np.int64)
    hi = np.zeros(n_art, dtype=np.int64)
    n = 0
    for a in range(n_art):  # each article's distinct fingerprints, sorted
        seg = np.sort(fps[starts[a] : starts[a + 1]])
        lo[a] = n
        for k in range(seg.shape[0]):
            if k == 0 or seg[k] != seg[k - 1]:
                own_fps[n] = seg[k]
                n += 1
        hi[a] = n
    width = rows.shape[1]
    own = np.zeros(rows.shape, dtype=np.int64)  # per sample and member: sentences no other member has
    for r in range(rows.shape[0]):
        for i in range(width):
            a = rows[r, i]
            if a < 0:
                continue
            for p in range(lo[a], hi[a]):
                elsewhere = False
                for j in range(width):
                    o = rows[r, j]
                    if o >= 0 and j != i and contains_sorted(own_fps, lo[o], hi[o], own_fps[p]):
                        elsewhere = True
                        break
                if not elsewhere:
                    own[r, i] += 1
    out = np.zeros(judged.shape[0], dtype=np.bool_)
    fractions = np.empty(width, dtype=np.float64)
    carries = np.zeros(width, dtype=np.bool_)
    for q in range(judged.shape[0]):
        r, fp = row_of[q], judged[q]
        carriers = 0
        for i in range(width):
            a = rows[r, i]
            carries[i] = a >= 0 and contains_sorted(own_fps, lo[a], hi[a], fp)
            carriers += carries[i]
        k = 0
        for i in range(width):
            a = rows[r, i]
            if a < 0:
                continue
            size = hi[a] - lo[a] - carries[i]
            mine = own[r, i] - (1 if carries[i] and carriers == 1 else 0)
            fractions[k] = mine / size if size else 0.0
            k += 1
        out[q] = _median(fractions[:k]) >= min_unique_fraction
    return out
