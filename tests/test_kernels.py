"""The compiled kernels equal the numpy reference paths bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import kernels

pytestmark = pytest.mark.skipif(kernels.KERNEL != "numba", reason="numba is not installed: the numpy path runs")

SORTED_UNIQUE = st.lists(st.integers(0, 60), max_size=40, unique=True).map(
    lambda v: np.array(sorted(v), dtype=np.uint64)
)


@given(SORTED_UNIQUE, SORTED_UNIQUE)
def test_intersect_count(a: np.ndarray, b: np.ndarray) -> None:
    assert kernels.intersect_count(a, b) == len(np.intersect1d(a, b))


@given(st.lists(SORTED_UNIQUE, min_size=1, max_size=6), st.lists(SORTED_UNIQUE, min_size=1, max_size=6), st.data())
@settings(deadline=None)
def test_passage_overlaps(a_groups, b_groups, data) -> None:
    def flat(groups):
        offsets = np.zeros(len(groups) + 1, dtype=np.int64)
        np.cumsum([len(g) for g in groups], out=offsets[1:])
        return np.concatenate(groups), offsets

    a_vals, a_off = flat(a_groups)
    b_vals, b_off = flat(b_groups)
    a_ids = np.array(data.draw(st.lists(st.integers(0, len(a_groups) - 1), unique=True)), dtype=np.int64)
    b_ids = np.array(data.draw(st.lists(st.integers(0, len(b_groups) - 1), unique=True)), dtype=np.int64)
    counts = kernels.passage_overlaps(a_vals, a_off, a_ids, b_vals, b_off, b_ids)
    for x, i in enumerate(a_ids):
        for y, j in enumerate(b_ids):
            assert counts[x, y] == len(np.intersect1d(a_groups[i], b_groups[j]))


@given(st.integers(0, 5), st.integers(1, 8), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_band_keys(n_rows: int, bands: int, rows: int, seed: int) -> None:
    from dedup.index import band_keys, band_keys_numpy

    signatures = np.random.default_rng(seed).integers(0, 2**32, size=(n_rows, bands * rows + 1), dtype=np.uint32)
    assert np.array_equal(band_keys(signatures, bands, rows), band_keys_numpy(signatures, bands, rows))


@given(st.lists(st.integers(0, 2**64 - 1)), st.sampled_from([np.uint64, np.int64, np.int32]))
def test_distinct_is_numpy_unique(values: list[int], dtype: type) -> None:
    info = np.iinfo(dtype)
    array = np.array([v % (int(info.max) + 1) for v in values], dtype=dtype)
    expected, counts = np.unique(array, return_counts=True)
    assert np.array_equal(kernels.distinct(array), expected)
    got, got_counts = kernels.distinct_counts(array)
    assert np.array_equal(got, expected) and np.array_equal(got_counts, counts)
    assert kernels.distinct(array).dtype == array.dtype


@given(
    st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=120), max_size=8),
    st.booleans(),
    st.data(),
)
@settings(deadline=None)
def test_tagged_sorts_each_shingle_with_its_passage(groups, repeats, data) -> None:
    # shingle hashes, or (repeats) few distinct values: equal shingles in several passages
    if repeats:
        groups = [[v % 7 for v in g] for g in groups]
    offsets = np.zeros(len(groups) + 1, dtype=np.int64)
    np.cumsum([len(g) for g in groups], out=offsets[1:])
    values = np.array([v for g in groups for v in g], dtype=np.uint64)
    ids = np.array(data.draw(st.lists(st.integers(0, max(len(groups) - 1, 0)), unique=True)) if groups else [])
    ids = ids.astype(np.int64)
    flat, owner, sizes = kernels.tagged(values, offsets, ids)
    expected = sorted((v, x) for x, i in enumerate(ids.tolist()) for v in groups[i])
    assert np.all(flat[1:] >= flat[:-1])
    assert sorted(zip(flat.tolist(), owner.tolist(), strict=True)) == expected
    assert sizes.tolist() == [len(groups[i]) for i in ids.tolist()]


def test_tagged_sorts_many_values() -> None:
    values = np.random.default_rng(3).integers(0, 2**63, size=5000, dtype=np.uint64)
    offsets = np.array([0, 2000, 5000], dtype=np.int64)
    flat, owner, _ = kernels.tagged(values, offsets, np.array([1, 0], dtype=np.int64))
    assert np.array_equal(flat, np.sort(values))
    assert np.array_equal(owner, np.where(np.isin(flat, values[:2000]), 1, 0))
