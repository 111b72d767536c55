import numpy as np
from datasketch import MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.kernels.hashing import fmix64_array
from dedup.stages.sign import reference_signature, signature, signatures, to_minhash

U64 = st.integers(min_value=0, max_value=2**64 - 1)


@given(st.lists(st.lists(U64, max_size=60), max_size=6), st.sampled_from([16, 64, 128]), st.integers(0, 2**31))
@settings(max_examples=60, deadline=None)
def test_batch_path_equals_datasketch_bit_for_bit(groups: list[list[int]], num_perm: int, seed: int) -> None:
    arrays = [np.array(g, dtype=np.uint64) for g in groups]
    fast = signatures(arrays, num_perm, seed)
    for row, arr in zip(fast, arrays, strict=True):
        assert np.array_equal(row, reference_signature(arr, num_perm, seed))


@given(
    st.sets(U64, min_size=60, max_size=300),
    st.sets(U64, min_size=60, max_size=300),
    st.sets(U64, min_size=0, max_size=300),
)
@settings(max_examples=60, deadline=None)
def test_minhash_estimate_tracks_exact_jaccard(only_a: set[int], only_b: set[int], common: set[int]) -> None:
    # Shingle hashes leave the pipeline through fmix64, so feed the sets through it too.
    a = fmix64_array(np.array(sorted(only_a | common), dtype=np.uint64))
    b = fmix64_array(np.array(sorted((only_b - only_a) | common), dtype=np.uint64))
    exact = len(np.intersect1d(a, b)) / len(np.union1d(a, b))
    estimate = to_minhash(signature(a, 128, 1), 1).jaccard(to_minhash(signature(b, 128, 1), 1))
    # 128 permutations: standard error <= 0.045; the tolerance is about 4.5 standard errors.
    assert abs(estimate - exact) <= 0.2


def test_signatures_go_into_datasketch_lsh() -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 2**63, 400, dtype=np.uint64)
    near = base.copy()
    near[:20] = rng.integers(0, 2**63, 20, dtype=np.uint64)
    far = rng.integers(0, 2**63, 400, dtype=np.uint64)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    lsh.insert("base", to_minhash(signature(base, 128, 1), 1))
    assert lsh.query(to_minhash(signature(near, 128, 1), 1)) == ["base"]
    assert lsh.query(to_minhash(signature(far, 128, 1), 1)) == []


def test_empty_set_gives_datasketch_empty_signature() -> None:
    empty = np.empty(0, dtype=np.uint64)
    assert np.array_equal(signature(empty, 32, 1), reference_signature(empty, 32, 1))


def test_signatures_of_raw_texts_are_the_deduplicators_and_go_into_datasketch() -> None:
    from datasketch import LeanMinHash

    import dedup
    from conftest import load_seeds

    texts = [a.text for a in load_seeds()]
    rows = dedup.signatures(iter(texts))
    assert rows.shape == (len(texts), 128) and rows.dtype == np.uint32
    d = dedup.Deduplicator()
    for text, row in zip(texts, rows, strict=True):
        assert np.array_equal(row, d.prepare(dedup.Article(id="x", text=text)).signature)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    for i, row in enumerate(rows):
        lsh.insert(str(i), LeanMinHash(seed=1, hashvalues=row, scheme="affine32"))
    assert "0" in lsh.query(to_minhash(rows[0], seed=1))
    # no words left: datasketch's empty signature; nothing given: no rows
    assert (dedup.signatures(["", "Share on Facebook"]) == 0xFFFFFFFF).all()
    assert dedup.signatures([]).shape == (0, 128)


def test_signatures_refuse_what_is_not_text() -> None:
    import pytest

    import dedup

    with pytest.raises(dedup.TextTypeError, match="text 1 is a bytes"):
        dedup.signatures(["fine text here", b"bytes"])
    with pytest.raises(dedup.ArticleTooLargeError, match="max_chars"):
        dedup.signatures(["x" * 20], config=dedup.DedupConfig(max_chars=10))


@given(st.integers(1, 300), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_permutations_are_datasketchs(num_perm: int, seed: int) -> None:
    """Signing draws datasketch's permutation parameters itself (datasketch is not imported to sign)."""
    from datasketch import MinHash

    from dedup.stages.sign import permutations

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    mine = permutations(num_perm, seed)
    assert np.array_equal(mine[0], a) and np.array_equal(mine[1], b)


def test_clustering_with_the_default_config_does_not_load_datasketch() -> None:
    """datasketch loads much of scipy; ``dedup.cluster`` with the defaults needs neither."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "import dedup\n"
        "dedup.cluster([{'id': str(i), 'text': 'the same story told again in many words ' * 5} for i in range(3)])\n"
        "print('datasketch' in sys.modules)\n"
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "False"
