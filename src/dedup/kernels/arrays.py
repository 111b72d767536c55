"""Sorting and distinct values, for the kernels and for the stages, and the prefetch hint.

``distinct`` and ``distinct_counts`` are numpy (called from Python on the few hundred values of one
article, where ``np.unique``'s hash table is slower than a sort); the rest are compiled helpers that
the kernels call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from dedup.kernels import jit

I64 = npt.NDArray[np.int64]

# Past this many values a sort goes to numpy's sort instead of the bucket scatter of ``sorted_copy``.
MAX_SCATTERED = 100_000


def distinct(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The sorted distinct values of a 1-D array, as ``np.unique`` gives them, by a sort (numpy's
    ``np.unique`` goes through a hash table, slower on the few hundred values of one article, and
    the verifier and the index call this on every comparison and every insert)."""
    ordered, first = _sorted_firsts(values)
    return ordered[first]


def distinct_counts(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], I64]:
    """``np.unique(values, return_counts=True)`` by a sort (see ``distinct``)."""
    ordered, first = _sorted_firsts(values)
    starts = np.flatnonzero(first)
    return ordered[starts], np.diff(np.append(starts, ordered.shape[0]))


def _sorted_firsts(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
    """``values`` sorted, and where each run of equal values starts."""
    ordered = np.sort(values)
    first = np.empty(ordered.shape[0], dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered, first


@jit
def insertion_sort(out: Any, first: int, last: int) -> None:
    """Sort ``out[first:last]`` in place; fast when the values are few or nearly in order."""
    for i in range(first + 1, last):
        x = out[i]
        j = i - 1
        while j >= first and out[j] > x:
            out[j + 1] = out[j]
            j -= 1
        out[j + 1] = x


@jit
def sorted_copy(values: Any) -> Any:
    """A sorted copy of uint64 ``values``. Shingle hashes are spread evenly over 64 bits, so one
    pass that scatters them into about ``n`` buckets by their top bits leaves them nearly in order,
    and an insertion sort finishes in about one comparison each. Equal values stay put. A bucket
    that holds many distinct values makes the insertion sort quadratic in that bucket only; past
    ``MAX_SCATTERED`` values numpy's sort is used."""
    n = values.shape[0]
    out = values.copy()
    if n <= 48:
        insertion_sort(out, 0, n)
        return out
    if n > MAX_SCATTERED:
        return np.sort(values)
    shift, counts = bucket_starts(values)
    for i in range(n):
        d = values[i] >> shift
        out[counts[d]] = values[i]
        counts[d] += 1
    insertion_sort(out, 0, n)
    return out


@jit
def bucket_starts(values: Any) -> Any:
    """For the scatter of ``sorted_copy``: the shift that leaves the top bits of a value (about as
    many buckets as values), and where each bucket starts."""
    n = values.shape[0]
    bits = 1
    while (1 << bits) < n:
        bits += 1
    shift = np.uint64(64 - bits)
    counts = np.zeros((1 << bits) + 1, dtype=np.int64)
    for i in range(n):
        counts[(values[i] >> shift) + np.uint64(1)] += 1
    for d in range(1, counts.shape[0]):
        counts[d] += counts[d - 1]
    return shift, counts


@jit
def sorted_distinct(values: Any) -> Any:
    """The sorted distinct values of uint64 ``values`` (``distinct``, inside compiled code)."""
    ordered = sorted_copy(values)
    unique = np.empty(ordered.shape[0], dtype=np.uint64)
    u = 0
    for j in range(ordered.shape[0]):
        if j == 0 or ordered[j] != ordered[j - 1]:
            unique[u] = ordered[j]
            u += 1
    return unique[:u].copy()


@jit
def sort_tagged(values: Any, tags: Any) -> None:
    """Sort uint64 ``values`` in place, each ``tags`` entry moved with its value, as ``sorted_copy``
    sorts (one scatter by the top bits, then an insertion sort). Equal values may come in any
    order of their tags."""
    n = values.shape[0]
    if n > 48 and n <= MAX_SCATTERED:
        shift, counts = bucket_starts(values)
        scattered, moved = np.empty_like(values), np.empty_like(tags)
        for i in range(n):
            d = values[i] >> shift
            scattered[counts[d]], moved[counts[d]] = values[i], tags[i]
            counts[d] += 1
        values[:] = scattered
        tags[:] = moved
    elif n > MAX_SCATTERED:
        order = np.argsort(values)
        values[:] = values[order]
        tags[:] = tags[order]
        return
    for i in range(1, n):
        x, t = values[i], tags[i]
        j = i - 1
        while j >= 0 and values[j] > x:
            values[j + 1], tags[j + 1] = values[j], tags[j]
            j -= 1
        values[j + 1], tags[j + 1] = x, t


@jit
def grow(values: Any, n: int) -> Any:
    """A buffer twice the size of ``values`` (and some), holding its first ``n`` values."""
    grown = np.empty(2 * values.shape[0] + 16, dtype=values.dtype)
    grown[:n] = values[:n]
    return grown


@jit
def contains_sorted(values: Any, lo: int, hi: int, x: Any) -> bool:
    """Whether the ascending ``values[lo:hi]`` hold ``x`` (a binary search)."""
    end = hi
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo < end and values[lo] == x


def _prefetcher(write: int) -> Any:
    """The numba intrinsic of ``prefetch`` (``write`` 0) or ``prefetch_to_write`` (1)."""

    def typer(typing_context: Any, array: Any, index: Any) -> Any:
        if not (
            isinstance(array, types.Array)
            and array.ndim == 1
            and array.layout == "C"
            and isinstance(index, types.Integer)
        ):
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            byte_pointer = ir.IntType(8).as_pointer()
            word = ir.IntType(32)
            function = builder.module.declare_intrinsic(
                "llvm.prefetch", [byte_pointer], ir.FunctionType(ir.VoidType(), [byte_pointer, word, word, word])
            )
            address = builder.bitcast(builder.gep(data, [args[1]]), byte_pointer)
            # read (0) or write (1), the highest locality (3: kept in every cache level), a data fetch (1)
            builder.call(function, [address, word(write), word(3), word(1)])
            return context.get_dummy_value()

        return types.void(array, index), codegen

    typer.__name__ = typer.__qualname__ = "prefetch_to_write" if write else "prefetch"
    return intrinsic(typer)


# ``prefetch(array, index)`` and ``prefetch_to_write(array, index)``, inside compiled code, for a
# one-dimensional contiguous array: ask the processor to bring ``array[index]`` towards its caches
# (to be read, or to be written) and go on at once. A loop over random places of a table far
# larger than the caches asks for the place it reaches some steps later, so that many fetches from
# memory overlap instead of waiting one after the other. A hint only: it reads nothing, changes
# nothing, and an address outside the array faults nowhere. Written here because numba offers no
# prefetch of its own; it is LLVM's ``llvm.prefetch`` intrinsic.
prefetch: Any = _prefetcher(0)
prefetch_to_write: Any = _prefetcher(1)
