"""The formula test's kernels: which (source, shingle) keys the count-min sketch counts at or above
a threshold, one pass over the keys (``stages.formula.FormulaCounts.formula``), and the counting
itself (numpy's ``np.add.at``, the library way to add at repeated places, goes through a generic
slow path per element, a batch counts hundreds of thousands of keys at once, and a counter must
stop at its largest value instead of wrapping)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dedup.errors import KernelInputError
from dedup.kernels import jit


@jit
def reaching(table: Any, keys: Any, multipliers: Any, shift: Any, least: int) -> Any:
    """For each key, whether its count reaches ``least``: the smallest of its counters, one per row
    of ``table``, the counter of row r being ``(key * multipliers[r]) >> shift`` (uint64
    arithmetic, wrapping)."""
    rows = table.shape[0]
    out = np.empty(keys.shape[0], dtype=np.bool_)
    for i in range(keys.shape[0]):
        key = keys[i]
        smallest = table[0, (key * multipliers[0]) >> shift]
        for r in range(1, rows):
            count = table[r, (key * multipliers[r]) >> shift]
            if count < smallest:
                smallest = count
        out[i] = smallest >= least
    return out


@jit
def add_counts(flat: Any, cells: Any, step: Any) -> None:
    """Add ``step`` (an int64, either sign) to ``flat[c]`` for each ``c`` of ``cells``, once per time
    it is listed, each counter kept between 0 and the largest value of its type, and a counter at
    that largest value left there: a count that ever filled its counter is not known any more, and
    stays read as the largest (counts of a source's furniture that far are formula all the same).
    Every cell is checked before anything is written."""
    n = flat.shape[0]
    for i in range(cells.shape[0]):
        if cells[i] < 0 or cells[i] >= n:
            raise KernelInputError("formula counts: a cell outside the table")
    largest = np.int64(np.iinfo(flat.dtype).max)
    for i in range(cells.shape[0]):
        c = cells[i]
        value = np.int64(flat[c])
        if value == largest:
            continue
        flat[c] = min(max(value + step, np.int64(0)), largest)
