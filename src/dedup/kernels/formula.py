"""The formula test's kernels: where a key's counters are (``block`` and ``offset``, the layout
of ``stages.formula.Layout``), a key's count (``readings``) and whether it is formula
(``formula``), and the counting itself, one key after the other, with the pooled counts moved as
each count goes (``count_and_pool``). Compiled loops: numpy would gather each row's counters
apart, and ``np.add.at`` (the library way to add at repeated places) goes through a generic slow
path per element, while a batch counts hundreds of thousands of keys at once and a counter must
stop at its largest value instead of wrapping.

A key's counters share one block of the table, seldom in the caches (the tables are far larger):
each pass over keys asks for the block of the key ``AHEAD`` places on before it works on the
present one (``arrays.prefetch``), so that the fetches from memory overlap. Every kernel checks
the layout against its table before it reads or writes (``_layout``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dedup.errors import KernelInputError
from dedup.kernels import jit
from dedup.kernels.arrays import prefetch, prefetch_to_write


@jit
def block(key: Any, geometry: Any) -> Any:
    """The first counter of ``key``'s block, laid out as ``stages.formula.Layout.cells`` states it
    (``geometry``: the block multiplier, the number of blocks, the counters per block and per row,
    uint64, as ``_layout`` gives it; uint64 arithmetic, wrapping)."""
    low = np.uint64(32)
    return ((((key * geometry[0]) >> low) * geometry[1]) >> low) * geometry[2]


@jit
def offset(key: Any, multiplier: Any, row: int, geometry: Any) -> Any:
    """Where ``key``'s counter of ``row`` lies in its block: among the row's ``per_row`` slots."""
    low = np.uint64(32)
    return np.uint64(row) * geometry[3] + ((((key * multiplier) >> low) * geometry[3]) >> low)


AHEAD = 8  # how many keys ahead a pass asks for a key's block


@jit
def readings(flat: Any, keys: Any, multipliers: Any, geometry: Any) -> Any:
    """Each key's count: the smallest of its counters in ``flat``, one per row."""
    g = _layout(flat, keys, multipliers, geometry)
    n = keys.shape[0]
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        if i + AHEAD < n:
            prefetch(flat, block(keys[i + AHEAD], g))
        out[i] = _reading(flat, keys[i], multipliers, g)
    return out


@jit
def formula(
    flat: Any, keys: Any, shingles: Any, multipliers: Any, geometry: Any, pooled: Any, pooled_geometry: Any,
    least: int, repeated_least: int,
) -> Any:  # fmt: skip
    """For each key, whether it is formula: its count (``readings``) reaches ``least``, or with
    ``repeated_least`` above 0, its count is 2 or more and the pooled count of ``shingles[i]`` (in
    ``pooled``) reaches ``repeated_least``: one pass over the keys' counts, then one over the pooled
    counts of the keys whose count is 2 or more and under ``least`` (the only ones they decide)."""
    pool = repeated_least > 0
    g, pooled_g = _layouts(flat, keys, shingles, multipliers, geometry, pooled, pooled_geometry, pool)
    n = keys.shape[0]
    out = np.empty(n, dtype=np.bool_)
    undecided = np.empty(n if pool else 0, dtype=np.int64)
    m = 0
    for i in range(n):
        if i + AHEAD < n:
            prefetch(flat, block(keys[i + AHEAD], g))
        count = _reading(flat, keys[i], multipliers, g)
        out[i] = count >= least
        if pool and 2 <= count < least:
            undecided[m] = i
            m += 1
    for j in range(m):
        if j + AHEAD < m:
            prefetch(pooled, block(shingles[undecided[j + AHEAD]], pooled_g))
        i = undecided[j]
        out[i] = _reading(pooled, shingles[i], multipliers, pooled_g) >= repeated_least
    return out


@jit
def count_keys(flat: Any, keys: Any, multipliers: Any, geometry: Any) -> None:
    """Add one to each key's counter in every row, once per time the key is listed, a counter
    stopping at the largest value of its type. The layout is checked before anything is written."""
    g = _layout(flat, keys, multipliers, geometry)
    n = keys.shape[0]
    for i in range(n):
        if i + AHEAD < n:
            prefetch_to_write(flat, block(keys[i + AHEAD], g))
        _step(flat, keys[i], multipliers, g, 1, 0, 0)


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
    """Add ``step`` (1 or -1) to each key's counter in every row, one key after the other, and
    move the pooled counts (``pooled``, keyed by ``shingles[i]``; none when ``repeated_least`` is
    0) as each key's count goes from ``before`` to ``after``: by ``repeats(after) -
    repeats(before)``, where ``repeats(c)`` is c when c is 2 or more, else 0. A counter stays at
    the largest value of its type once there and never goes below 0. Returns the flags of what
    moved: ``COUNTER_CROSSED``, a counter of ``flat`` crossed ``least``, or 2 once a pooled counter
    has reached ``repeated_least`` (``reached``: before this call; below 2 a count changes no
    status while no pooled count can reach it), or one of ``pooled`` crossed ``repeated_least``
    (``POOLED_REACHED`` too); with ``statuses``, comparing the keys before the first step and after
    the last, ``STATUS_MOVED``, a key's formula status (count at least ``least``, or with
    ``repeated_least`` at least 2 with a pooled count at least ``repeated_least``) changed, and
    ``POOLED_CROSSED``, a key's pooled count crossed ``repeated_least``, and with ``step`` 1,
    ``REPEATS``, a key reads 2 or more after the last step. The layouts are checked before anything
    is written."""
    pool = repeated_least > 0
    g, pooled_g = _layouts(flat, keys, shingles, multipliers, geometry, pooled, pooled_geometry, pool)
    n = keys.shape[0] if statuses else 0
    counts_before = np.empty(n, dtype=np.int64)
    pooled_before = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if i + AHEAD < n:
            _ask(flat, keys, shingles, g, pooled, pooled_g, pool, i + AHEAD)
        counts_before[i] = _reading(flat, keys[i], multipliers, g)
        if pool:
            pooled_before[i] = _reading(pooled, shingles[i], multipliers, pooled_g)
    flags = 0
    second = 2 if pool and reached else least
    for i in range(keys.shape[0]):
        if i + AHEAD < keys.shape[0]:
            _ask(flat, keys, shingles, g, pooled, pooled_g, pool, i + AHEAD)
        before, after, crossed = _step(flat, keys[i], multipliers, g, step, least, second)
        if crossed:
            flags |= COUNTER_CROSSED
        delta = (after if after >= 2 else 0) - (before if before >= 2 else 0)
        crossed = False
        if pool and delta != 0:
            crossed = _step(pooled, shingles[i], multipliers, pooled_g, delta, repeated_least, repeated_least)[2]
        if crossed:
            flags |= COUNTER_CROSSED | POOLED_REACHED
            second = 2
    for i in range(n):
        count = _reading(flat, keys[i], multipliers, g)
        if step > 0 and count >= 2:
            flags |= REPEATS
        pooled_after = _reading(pooled, shingles[i], multipliers, pooled_g) if pool else 0
        if pool and (pooled_before[i] >= repeated_least) != (pooled_after >= repeated_least):
            flags |= POOLED_CROSSED
        if _status(counts_before[i], pooled_before[i], least, repeated_least) != _status(
            count, pooled_after, least, repeated_least
        ):
            flags |= STATUS_MOVED
    return flags


@jit
def _ask(flat: Any, keys: Any, shingles: Any, g: Any, pooled: Any, pooled_g: Any, pool: bool, i: int) -> None:
    """Prefetch the blocks of key ``i`` and, with ``pool``, of its shingle's pooled count."""
    prefetch_to_write(flat, block(keys[i], g))
    if pool:
        prefetch_to_write(pooled, block(shingles[i], pooled_g))


@jit
def _status(count: Any, pooled: Any, least: int, repeated_least: int) -> bool:
    return count >= least or (repeated_least > 0 and count >= 2 and pooled >= repeated_least)


@jit
def _step(flat: Any, key: Any, multipliers: Any, g: Any, step: Any, first: int, second: int) -> Any:
    """Add ``step`` to ``key``'s counter in every row (kept between 0 and the type's largest value,
    a full counter left full): the key's count before and after (``_reading``), and whether a
    counter crossed ``first`` or ``second``."""
    largest = np.int64(np.iinfo(flat.dtype).max)
    start = block(key, g)
    before = after = largest
    crossed = False
    for r in range(multipliers.shape[0]):
        c = start + offset(key, multipliers[r], r, g)
        old = np.int64(flat[c])
        before = min(before, old)
        if old == largest:
            continue
        new = min(max(old + step, np.int64(0)), largest)
        flat[c] = new
        after = min(after, new)
        if (old >= first) != (new >= first) or (old >= second) != (new >= second):
            crossed = True
    return before, after, crossed


@jit
def _reading(flat: Any, key: Any, multipliers: Any, g: Any) -> Any:
    """The smallest of ``key``'s counters, one per row."""
    start = block(key, g)
    smallest = np.int64(np.iinfo(flat.dtype).max)
    for r in range(multipliers.shape[0]):
        smallest = min(smallest, np.int64(flat[start + offset(key, multipliers[r], r, g)]))
    return smallest


@jit
def _layout(flat: Any, keys: Any, multipliers: Any, geometry: Any) -> Any:
    """``geometry`` as uint64 (a signed array's negative numbers read as huge ones), checked, when
    there are ``keys``, to name no counter outside ``flat``: at least one row, at least one block
    of at least one counter, the blocks within the table, every row's slots (at least one) within a
    block, and the 32-bit hash scaled by the number of blocks and by the slots without wrapping."""
    g = geometry.astype(np.uint64)
    if keys.shape[0] == 0:
        return g
    if g.shape[0] != 4:
        raise KernelInputError("formula counts: a layout of four numbers expected")
    limit = np.uint64(1) << np.uint64(32)
    blocks, size, per_row = g[1], g[2], g[3]
    if (
        multipliers.shape[0] < 1
        or blocks < 1
        or size < 1
        or per_row < 1
        or blocks > limit
        or per_row > limit
        or blocks > np.uint64(flat.shape[0]) // size
        or np.uint64(multipliers.shape[0]) > size // per_row
    ):
        raise KernelInputError("formula counts: a layout outside the table")
    return g


@jit
def _layouts(
    flat: Any, keys: Any, shingles: Any, multipliers: Any, geometry: Any, pooled: Any, pooled_geometry: Any, pool: bool
) -> Any:
    """The layouts of the counts and, with ``pool``, of the pooled counts (``_layout``), once
    ``shingles`` are found to hold one shingle per key; without ``pool``, the first twice."""
    g = _layout(flat, keys, multipliers, geometry)
    if not pool:
        return g, g
    if shingles.shape[0] != keys.shape[0]:
        raise KernelInputError("formula counts: one shingle for each key expected")
    return g, _layout(pooled, shingles, multipliers, pooled_geometry)
