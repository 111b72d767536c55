"""Tables kept on disk are read back as they were built, and a file that is not exactly what was
written is never trusted: the table is built again."""

from pathlib import Path

import numpy as np
import pytest

from dedup import _stored as stored
from dedup.stages import normalize


@pytest.fixture(scope="module")
def built() -> normalize.FoldTable:
    return normalize._build_fold_table()


def arrays_of(table: normalize.FoldTable) -> dict[str, np.ndarray]:
    return {"offsets": table.offsets, "data": table.data, "classes": table.classes}


def same_table(a: normalize.FoldTable, b: normalize.FoldTable) -> bool:
    return a.mapping == b.mapping and all(
        np.array_equal(x, y) and x.dtype == y.dtype
        for x, y in zip(arrays_of(a).values(), arrays_of(b).values(), strict=True)
    )


def test_a_stored_fold_table_reads_back_as_built(tmp_path: Path, built: normalize.FoldTable) -> None:
    stored.save("t", "k1", arrays_of(built), tmp_path)
    arrays = stored.load("t", "k1", tmp_path)
    assert arrays is not None
    table = normalize._fold_table_from(arrays)
    assert table is not None and same_table(table, built)
    assert stored.load("t", "k2", tmp_path) is None  # another key: nothing stored
    stored.save("t", "k2", arrays_of(built), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["t-k2.npz"]  # the other key's file is gone


def test_a_file_that_is_not_what_was_written_is_not_trusted(tmp_path: Path) -> None:
    arrays = {"a": np.arange(1000, dtype=np.int64), "b": np.ones(7, dtype=np.uint8)}
    stored.save("t", "k", arrays, tmp_path)
    path = tmp_path / "t-k.npz"
    whole = path.read_bytes()
    loaded = stored.load("t", "k", tmp_path)
    assert loaded is not None and all(np.array_equal(loaded[k], arrays[k]) for k in arrays)
    for damaged in (whole[: len(whole) // 2], whole[:-1], b"", b"not a zip file"):
        path.write_bytes(damaged)
        assert stored.load("t", "k", tmp_path) is None
    # well-formed files with other arrays than the digest was taken of, or with no digest
    np.savez(path, a=np.arange(1000, dtype=np.int64) + 1, b=arrays["b"], digest=stored._digest(arrays))
    assert stored.load("t", "k", tmp_path) is None
    np.savez(path, **arrays)
    assert stored.load("t", "k", tmp_path) is None
    # a byte changed inside the stored arrays
    flipped = bytearray(whole)
    flipped[len(whole) // 3] ^= 0xFF
    path.write_bytes(bytes(flipped))
    assert stored.load("t", "k", tmp_path) is None


def test_arrays_that_are_no_fold_table_are_not_taken_for_one(built: normalize.FoldTable) -> None:
    good = arrays_of(built)
    assert normalize._fold_table_from(good) is not None
    for name, bad in (
        ("offsets", good["offsets"][:-1]),
        ("offsets", good["offsets"].astype(np.int32)),
        ("data", good["data"][:-1]),
        ("classes", good["classes"][:100]),
        ("data", np.full_like(good["data"], 0x110000)),  # no code point
    ):
        assert normalize._fold_table_from({**good, name: bad}) is None, name
    assert normalize._fold_table_from({"offsets": good["offsets"], "data": good["data"]}) is None


def test_fold_table_builds_again_over_a_damaged_file_and_stores_it_whole(
    tmp_path: Path, built: normalize.FoldTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stored, "cache_folder", lambda: tmp_path)
    key = normalize._fold_table_key()
    path = tmp_path / f"{normalize._FOLD_TABLE}-{key}.npz"
    path.write_bytes(b"PK\x03\x04 damaged")
    normalize.fold_table.cache_clear()
    try:
        assert same_table(normalize.fold_table(), built)
        arrays = stored.load(normalize._FOLD_TABLE, key)
        assert arrays is not None  # written again, whole
        normalize.fold_table.cache_clear()
        assert same_table(normalize.fold_table(), built)  # and read back
    finally:
        normalize.fold_table.cache_clear()


def test_a_folder_that_cannot_be_written_leaves_the_table_unstored(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    stored.save("t", "k", {"a": np.zeros(3)}, not_a_folder)  # no error
    assert stored.load("t", "k", not_a_folder) is None


def test_the_key_changes_with_any_part() -> None:
    base = stored.key_of([b"ab", b"c"])
    assert base == stored.key_of([b"ab", b"c"])
    assert base != stored.key_of([b"a", b"bc"]) and base != stored.key_of([b"ab", b"c", b""])
