"""The LSH index's kernels: the band keys of signatures, and the open-addressing hash table of
band keys whose slots hold linked lists of article handles in the order they were indexed, first
first (``index.BandIndex``). A list is a ring: its slot holds its last entry, whose link is the
first, so that one int32 per slot both appends at the end and reads from the start."""

from __future__ import annotations

from typing import Any

import numpy as np

from dedup.errors import KernelInputError
from dedup.kernels import jit
from dedup.kernels.arrays import contains_sorted
from dedup.kernels.hashing import BAND_MIX, BAND_SALT

_MAX_INT32 = 2**31 - 1


@jit
def band_keys(signatures: Any, bands: int, rows: int, multipliers: Any) -> Any:
    """``index.band_keys_numpy`` compiled: one uint64 key per (row, band)."""
    n = signatures.shape[0]
    if bands < 0 or rows < 0 or bands * rows > signatures.shape[1] or rows > multipliers.shape[0]:
        raise KernelInputError("band keys: bands x rows must fit in a signature (and rows in the multipliers)")
    out = np.empty((n, bands), dtype=np.uint64)
    for r in range(n):
        for band in range(bands):
            mixed = np.uint64(0)
            for j in range(rows):
                mixed += np.uint64(signatures[r, band * rows + j]) * multipliers[j]
            mixed ^= np.uint64(band) * np.uint64(BAND_SALT)
            mixed ^= mixed >> np.uint64(31)
            mixed *= np.uint64(BAND_MIX)
            mixed ^= mixed >> np.uint64(29)
            out[r, band] = mixed
    return out


@jit
def _check_table(slots: Any, entry_handle: Any, entry_next: Any, entry_key: Any) -> None:
    """The table's arrays fit together: at least one slot and fewer than 2**31 (``_table_slot``
    scales a key's top 32 bits by their number), as many next links and keys as handles."""
    size = slots.shape[0]
    if size == 0 or size > _MAX_INT32:
        raise KernelInputError("table slots: from 1 to 2**31 - 1 of them are expected")
    if entry_next.shape[0] != entry_handle.shape[0] or entry_key.shape[0] != entry_handle.shape[0]:
        raise KernelInputError("table entries: handle, next and key arrays of one size are expected")


@jit
def _entry_at(e: Any, entries: int) -> Any:
    """``e`` as a position in the entry arrays (it was read from the table), checked."""
    if e < 0 or e >= entries:
        raise KernelInputError("table slots: a list starts or ends outside the entries")
    return e


@jit
def _table_slot(slots: Any, entry_key: Any, key: Any) -> Any:
    """The slot of ``key`` (linear probing), or of the empty slot where it would go. A slot holds no
    key of its own: its key is that of the last entry of its list, which it holds (``entry_key``;
    every entry of a list has the list's key, and a removed article's entries keep theirs). The
    first slot probed is the key's top 32 bits scaled to the number of slots (a band key is mixed,
    so its top bits spread evenly), which need not be a power of two: a table is sized for the
    keys it holds, not for the next power of two above them, which can take twice the memory. A
    table with no empty slot is an error, not an endless probe."""
    size = np.int64(slots.shape[0])
    entries = entry_key.shape[0]
    # (the product stays below 2**63; uint64 mixed with int64 turns into float64 in numba, so the
    # position is made int64 at once)
    i = np.int64(((key >> np.uint64(32)) * np.uint64(size)) >> np.uint64(32))
    probes = np.int64(0)
    while slots[i] != -1 and entry_key[_entry_at(slots[i], entries)] != key:
        i += np.int64(1)
        if i == size:
            i = np.int64(0)
        probes += 1
        if probes >= size:
            raise KernelInputError("table slots: no empty slot left (the caller keeps a quarter of them empty)")
    return i


@jit
def table_insert(
    slots: Any,
    entry_handle: Any,
    entry_next: Any,
    entry_key: Any,
    n_entries: int,
    keys: Any,
    handle: int,
) -> int:
    """Add ``handle`` at the end of the list of each of ``keys`` (distinct, ascending); returns the
    new number of entries. The handle's entries are written one after the other, each with its key,
    so that its keys are ``entry_key[n_entries:returned]``, ascending. The caller keeps a quarter of
    the slots empty and the entry arrays large enough; arrays that are not raise
    ``KernelInputError`` before anything is written."""
    _check_table(slots, entry_handle, entry_next, entry_key)
    if n_entries < 0 or n_entries + keys.shape[0] > entry_handle.shape[0]:
        raise KernelInputError("table entries: no room for the new entries (reserve it before inserting)")
    if handle < 0 or handle > _MAX_INT32 - 1:
        raise KernelInputError("table handle: out of the int32 range")
    entries = entry_key.shape[0]
    for key in keys:
        i = _table_slot(slots, entry_key, key)
        entry_handle[n_entries] = handle
        entry_key[n_entries] = key
        if slots[i] == -1:
            entry_next[n_entries] = n_entries  # a ring of one
        else:
            last = _entry_at(slots[i], entries)
            entry_next[n_entries] = entry_next[last]  # the new last links to the first
            entry_next[last] = n_entries
        slots[i] = n_entries
        n_entries += 1
    return n_entries


@jit
def table_insert_all(
    slots: Any,
    entry_handle: Any,
    entry_next: Any,
    entry_key: Any,
    keys: Any,
    offsets: Any,
    n_entries: int,
    handle: int,
) -> int:
    """``table_insert`` of the handles ``handle``, ``handle + 1``, ... in turn, the ``h``-th of
    them with the keys ``keys[offsets[h]:offsets[h + 1]]``, from entry ``n_entries`` on; returns
    the new number of entries. The ``h``-th handle's keys are then ``entry_key[n_entries +
    offsets[h]:n_entries + offsets[h + 1]]``. Offsets that do not start at 0, go down or end
    elsewhere than at the last key, handles past the int32 range and entries past the arrays raise
    ``KernelInputError`` before anything is written."""
    _check_table(slots, entry_handle, entry_next, entry_key)
    n = offsets.shape[0] - 1
    if n < 0 or offsets[0] != 0 or offsets[n] != keys.shape[0]:
        raise KernelInputError("table offsets: from 0 to the number of keys, one more than the handles, expected")
    for h in range(n):
        if offsets[h + 1] < offsets[h]:
            raise KernelInputError("table offsets: each handle's keys start where the previous handle's end")
    if handle < 0 or handle + n > _MAX_INT32:
        raise KernelInputError("table handle: out of the int32 range")
    if n_entries < 0 or n_entries + keys.shape[0] > entry_handle.shape[0]:
        raise KernelInputError("table entries: no room for the new entries (reserve it before inserting)")
    written = n_entries
    for h in range(n):
        written = table_insert(
            slots, entry_handle, entry_next, entry_key, written, keys[offsets[h] : offsets[h + 1]], handle + h
        )
    return written


@jit
def _grown_counter(keys: Any, stamps: Any, hits: Any) -> Any:
    """``_counted``'s table rehashed into one twice the size."""
    size = 2 * keys.shape[0]
    mask = np.int64(size - 1)
    new_keys = np.full(size, -1, dtype=np.int64)
    new_stamps = np.empty(size, dtype=np.int64)
    new_hits = np.empty(size, dtype=np.int64)
    for j in range(keys.shape[0]):
        h = keys[j]
        if h != -1:
            i = (h * np.int64(0x9E3779B1)) & mask
            while new_keys[i] != -1:
                i = (i + np.int64(1)) & mask
            new_keys[i], new_stamps[i], new_hits[i] = h, stamps[j], hits[j]
    return new_keys, new_stamps, new_hits


@jit
def table_query(
    slots: Any,
    entry_handle: Any,
    entry_next: Any,
    entry_key: Any,
    handle_span: Any,
    alive: Any,
    rows: Any,
    first: int,
) -> Any:
    """The handles among the ``first`` live handles (``alive[h]``: the article is still indexed)
    listed under some band key of some row, ascending, and for each the number of rows that hit
    it: rows with a band key the handle is listed under, wherever in the list. Each handle found
    has a place in a small open addressing table (sized by the handles found, not by the index)
    that holds the last row that counted it and its count, so a handle is counted once per row in
    one walk of the lists, with no sorting of what was walked. ``first`` bounds the walk (a story
    copied by thousands of outlets puts them all in the same buckets); when a list was cut short,
    the handles found are counted again against their own keys
    (``entry_key[handle_span[h, 0]:handle_span[h, 1]]``, ascending, as ``table_insert`` wrote
    them), so that a handle's count never depends on where it is listed."""
    _check_table(slots, entry_handle, entry_next, entry_key)
    if first < 1:
        raise KernelInputError("table query: at least the first handle of a list must be read")
    if handle_span.shape[1] != 2:
        raise KernelInputError("table query: each handle's span of keys is a start and an end")
    entries = entry_key.shape[0]
    keys = np.full(64, -1, dtype=np.int64)  # the handle held in each place (-1: none)
    stamps = np.empty(64, dtype=np.int64)  # the last row that counted it
    hits = np.empty(64, dtype=np.int64)  # how many rows hit it
    held = 0
    cut = False  # whether some list was read only in part
    for r in range(rows.shape[0]):
        for b in range(rows.shape[1]):
            last = slots[_table_slot(slots, entry_key, rows[r, b])]
            if last == -1:
                continue
            e = entry_next[_entry_at(last, entries)]  # the first of the ring
            read = 0
            walked = 0
            done = False
            while not done:
                e = _entry_at(e, entries)
                done = e == last
                walked += 1
                if walked > entries:
                    raise KernelInputError("table query: a list does not come back to its slot's entry")
                h = np.int64(entry_handle[e])
                if h < 0 or h >= alive.shape[0]:
                    raise KernelInputError("table query: an entry's handle has no place in the live handles")
                live = alive[h]
                if live and read == first:
                    cut = True
                    break
                e = entry_next[e]
                if not live:
                    continue
                read += 1
                mask = np.int64(keys.shape[0] - 1)
                i = (h * np.int64(0x9E3779B1)) & mask
                while keys[i] != -1 and keys[i] != h:
                    i = (i + np.int64(1)) & mask
                if keys[i] == h:
                    if stamps[i] != r:
                        stamps[i] = r
                        hits[i] += 1
                    continue
                keys[i], stamps[i], hits[i] = h, r, 1
                held += 1
                if 2 * held > keys.shape[0]:
                    keys, stamps, hits = _grown_counter(keys, stamps, hits)
    handles = np.empty(held, dtype=np.int32)
    u = 0
    for j in range(keys.shape[0]):
        if keys[j] != -1:
            handles[u] = keys[j]
            u += 1
    handles.sort()
    counts = np.empty(held, dtype=np.int64)
    mask = np.int64(keys.shape[0] - 1)
    for u in range(held):
        h = np.int64(handles[u])
        if cut:
            if h >= handle_span.shape[0]:
                raise KernelInputError("table query: a handle found has no span of keys")
            start, end = handle_span[h, 0], handle_span[h, 1]
            if start < 0 or end > entry_key.shape[0] or start > end:
                raise KernelInputError("table query: a handle's span of keys lies outside the entries")
            n = 0
            for r in range(rows.shape[0]):
                for b in range(rows.shape[1]):
                    if contains_sorted(entry_key, start, end, rows[r, b]):
                        n += 1
                        break
            counts[u] = n
            continue
        i = (h * np.int64(0x9E3779B1)) & mask
        while keys[i] != h:
            i = (i + np.int64(1)) & mask
        counts[u] = hits[i]
    return handles, counts
