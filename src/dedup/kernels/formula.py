"""The formula test's kernel: which (source, shingle) keys the count-min sketch counts at or above
a threshold, one pass over the keys (``stages.formula.FormulaCounts.formula``)."""

from __future__ import annotations

from typing import Any

import numpy as np

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
