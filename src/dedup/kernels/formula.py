"""The formula test's kernels: where a key's counters are (``cell``, the layout of
``stages.formula.Layout``), a key's count (``readings``) and whether it reaches a threshold
(``reaching``, one pass over an article's keys), and the counting itself, one key after the other,
with the pooled counts moved as each count goes (``count_and_pool``). Compiled loops: numpy would
gather each row's counters apart, and ``np.add.at`` (the library way to add at repeated places)
goes through a generic slow path per element, while a batch counts hundreds of thousands of keys
at once and a counter must stop at its largest value instead of wrapping."""

from __future__ import annotations

from typing import Any

import numpy as np

from dedup.errors import KernelInputError
from dedup.kernels import jit


@jit
def cell(key: Any, multiplier: Any, row: Any, geometry: Any) -> Any:
    """The flat counter of ``key`` in ``row``, laid out as ``stages.formula.Layout.cells`` states it
    (``geometry``: the block multiplier, the number of blocks, the counters per block and per row,
    as uint64; uint64 arithmetic, wrapping)."""
    low = np.uint64(32)
    base = ((((key * geometry[0]) >> low) * geometry[1]) >> low) * geometry[2]
    return base + np.uint64(row) * geometry[3] + ((((key * multiplier) >> low) * geometry[3]) >> low)


@jit
def readings(flat: Any, keys: Any, multipliers: Any, geometry: Any) -> Any:
    """Each key's count: the smallest of its counters in ``flat``, one per row (``cell``)."""
    out = np.empty(keys.shape[0], dtype=np.int64)
    for i in range(keys.shape[0]):
        out[i] = _reading(flat, keys[i], multipliers, geometry)
    return out


@jit
def reaching(flat: Any, keys: Any, multipliers: Any, geometry: Any, least: int) -> Any:
    """For each key, whether its count (``readings``) reaches ``least``, in one pass."""
    out = np.empty(keys.shape[0], dtype=np.bool_)
    for i in range(keys.shape[0]):
        reached = True
        for r in range(multipliers.shape[0]):
            if flat[cell(keys[i], multipliers[r], r, geometry)] < least:
                reached = False
                break
        out[i] = reached
    return out


@jit
def count_keys(flat: Any, keys: Any, multipliers: Any, geometry: Any) -> None:
    """Add one to each key's counter in every row (``cell``), once per time the key is listed, a
    counter stopping at the largest value of its type. Every cell is checked before anything is
    written."""
    _check_cells(flat, keys, multipliers, geometry)
    for i in range(keys.shape[0]):
        _add_one(flat, keys[i], multipliers, geometry, 1, 0, 0)


_AHEAD = 8  # how many keys ahead ``count_and_pool`` reads a key's counters before it counts it
STATUS_MOVED = 1  # a key's formula status (its count and its shingle's pooled count) changed
POOLED_CROSSED = 2  # a shingle's pooled count crossed ``repeated_least``
COUNTER_CROSSED = 4  # a counter crossed one of the thresholds it is compared with
REPEATS = 8  # a key counted in reads 2 or more
POOLED_REACHED = 16  # a pooled counter crossed ``repeated_least``


@jit
def count_and_pool(
    flat: Any, keys: Any, shingles: Any, multipliers: Any, geometry: Any, pooled: Any, pooled_geometry: Any,
    step: int, least: int, repeated_least: int, statuses: bool, reached: bool,
) -> int:  # fmt: skip
    """Add ``step`` (1 or -1) to each key's counter in every row (``cell``), one key after the
    other, and move the pooled counts (``pooled``, keyed by ``shingles[i]``; none when
    ``repeated_least`` is 0) as each key's count goes from ``before`` to ``after``: by
    ``repeats(after) - repeats(before)``, where ``repeats(c)`` is c when c is 2 or more, else 0. A
    counter stays at the largest value of its type once there and never goes below 0. Returns the
    flags of what moved: ``COUNTER_CROSSED``, a counter of ``flat`` crossed ``least``, or 2 once a
    pooled counter has reached ``repeated_least`` (``reached``: before this call; below 2 a count
    changes no status while no pooled count can reach it), or one of ``pooled`` crossed
    ``repeated_least`` (``POOLED_REACHED`` too); with ``statuses``, comparing the keys before the first
    step and after the last, ``STATUS_MOVED``, a key's formula status (count at least ``least``, or
    with ``repeated_least`` at least 2 with a pooled count at least ``repeated_least``) changed, and
    ``POOLED_CROSSED``, a key's pooled count crossed ``repeated_least``, and with ``step`` 1,
    ``REPEATS``, a key reads 2 or more after the last step. Every cell is checked before anything is
    written."""
    _check_cells(flat, keys, multipliers, geometry)
    pool = repeated_least > 0
    if pool:
        _check_cells(pooled, shingles, multipliers, pooled_geometry)
    n = keys.shape[0] if statuses else 0
    counts_before = np.empty(n, dtype=np.int64)
    pooled_before = np.zeros(n, dtype=np.int64)
    for i in range(n):
        counts_before[i] = _reading(flat, keys[i], multipliers, geometry)
        if pool:
            pooled_before[i] = _reading(pooled, shingles[i], multipliers, pooled_geometry)
    flags = 0
    second = 2 if pool and reached else least
    ahead = np.int64(0)
    for i in range(keys.shape[0]):
        # A key's counters share one cache line, seldom in the cache (the table is far larger than
        # the caches): the line of the key _AHEAD places on is read now, so that its fetch from
        # memory overlaps this key's work (numba has no prefetch instruction)
        if i + _AHEAD < keys.shape[0]:
            ahead += flat[cell(keys[i + _AHEAD], multipliers[0], 0, geometry)]
        before = _reading(flat, keys[i], multipliers, geometry)
        if _add_one(flat, keys[i], multipliers, geometry, step, least, second):
            flags |= COUNTER_CROSSED
        after = _reading(flat, keys[i], multipliers, geometry)
        delta = (after if after >= 2 else 0) - (before if before >= 2 else 0)
        if (
            pool
            and delta != 0
            and _add_one(pooled, shingles[i], multipliers, pooled_geometry, delta, repeated_least, repeated_least)
        ):
            flags |= COUNTER_CROSSED | POOLED_REACHED
            second = 2
    for i in range(n):
        count = _reading(flat, keys[i], multipliers, geometry)
        if step > 0 and count >= 2:
            flags |= REPEATS
        pooled_after = _reading(pooled, shingles[i], multipliers, pooled_geometry) if pool else 0
        if pool and (pooled_before[i] >= repeated_least) != (pooled_after >= repeated_least):
            flags |= POOLED_CROSSED
        if _status(counts_before[i], pooled_before[i], least, repeated_least) != _status(
            count, pooled_after, least, repeated_least
        ):
            flags |= STATUS_MOVED
    if ahead < 0:  # never true (counts are not negative): it uses the sum, so the reads ahead stay
        flags |= STATUS_MOVED
    return flags


@jit
def _status(count: Any, pooled: Any, least: int, repeated_least: int) -> bool:
    return count >= least or (repeated_least > 0 and count >= 2 and pooled >= repeated_least)


@jit
def _add_one(flat: Any, key: Any, multipliers: Any, geometry: Any, step: Any, first: int, second: int) -> bool:
    """Add ``step`` to ``key``'s counter in every row (kept between 0 and the type's largest value,
    a full counter left full); whether a counter crossed ``first`` or ``second``."""
    largest = np.int64(np.iinfo(flat.dtype).max)
    crossed = False
    for r in range(multipliers.shape[0]):
        c = cell(key, multipliers[r], r, geometry)
        old = np.int64(flat[c])
        if old == largest:
            continue
        new = min(max(old + step, np.int64(0)), largest)
        flat[c] = new
        if (old >= first) != (new >= first) or (old >= second) != (new >= second):
            crossed = True
    return crossed


@jit
def _check_cells(flat: Any, keys: Any, multipliers: Any, geometry: Any) -> None:
    n = np.uint64(flat.shape[0])
    for i in range(keys.shape[0]):
        for r in range(multipliers.shape[0]):
            if cell(keys[i], multipliers[r], r, geometry) >= n:
                raise KernelInputError("formula counts: a cell outside the table")


@jit
def _reading(flat: Any, key: Any, multipliers: Any, geometry: Any) -> Any:
    smallest = np.int64(flat[cell(key, multipliers[0], 0, geometry)])
    for r in range(1, multipliers.shape[0]):
        count = np.int64(flat[cell(key, multipliers[r], r, geometry)])
        if count < smallest:
            smallest = count
    return smallest
