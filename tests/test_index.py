import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.index import BandIndex, CandidateIndex, DatasketchLSH, LSHBackend
from dedup.sign import signature

RNG = np.random.default_rng(0)


def _sigs(groups: list[np.ndarray], num_perm: int = 8) -> np.ndarray:
    return np.stack([signature(g, num_perm, 7) for g in groups])


def _backends(num_perm: int, bands: int, rows: int) -> list[LSHBackend]:
    return [BandIndex(bands=bands, rows=rows), DatasketchLSH(num_perm=num_perm, bands=bands, rows=rows, seed=7)]


@pytest.mark.parametrize("backend", _backends(8, 4, 2), ids=["band", "datasketch"])
def test_backends_follow_the_protocol(backend: LSHBackend) -> None:
    assert isinstance(backend, LSHBackend)


def test_passage_index_finds_articles_sharing_a_few_passages() -> None:
    shared = [RNG.integers(0, 2**63, 20, dtype=np.uint64) for _ in range(3)]
    own_a = [RNG.integers(0, 2**63, 20, dtype=np.uint64) for _ in range(20)]
    own_b = [RNG.integers(0, 2**63, 20, dtype=np.uint64) for _ in range(20)]
    a_passages, b_passages = shared + own_a, own_b + shared
    for docs, passages in [_backends(128, 25, 5), _backends(8, 4, 2)][:1]:
        index = CandidateIndex(BandIndex(bands=25, rows=5), BandIndex(bands=4, rows=2))
        a_doc = signature(np.concatenate(a_passages), 128, 1)
        index.add("a", a_doc, _sigs(a_passages))
        b_doc = signature(np.concatenate(b_passages), 128, 1)
        # whole-article overlap is ~7%: only the passage index can propose "a"
        assert index.candidates(b_doc, _sigs(b_passages), limit=10, min_hits=2) == ["a"]
        assert index.candidates(b_doc, _sigs(b_passages[:20]), limit=10, min_hits=2) == []
        index.remove("a")
        assert index.candidates(b_doc, _sigs(b_passages), limit=10, min_hits=2) == []
        del docs, passages


@given(st.lists(st.integers(0, 5), min_size=1, max_size=30), st.integers(0, 2**31))
@settings(max_examples=30, deadline=None)
def test_band_index_agrees_with_datasketch(structure: list[int], seed: int) -> None:
    """Our banding and datasketch's MinHashLSH propose the same articles for the same signatures."""
    rng = np.random.default_rng(seed)
    pool = [rng.integers(0, 2**63, 12, dtype=np.uint64) for _ in range(6)]
    ours, theirs = _backends(8, 4, 2)
    for n, choice in enumerate(structure):
        rows = _sigs([pool[choice], rng.integers(0, 2**63, 12, dtype=np.uint64)])
        assert set(ours.hits(rows)) == set(theirs.hits(rows))
        ours.add(f"a{n}", rows)
        theirs.add(f"a{n}", rows)
    for n in range(0, len(structure), 2):
        ours.remove(f"a{n}")
        theirs.remove(f"a{n}")
    probe = _sigs(pool)
    assert set(ours.hits(probe)) == set(theirs.hits(probe))


def test_band_index_grows_and_forgets_like_datasketch() -> None:
    """Enough articles to make the table grow several times, with removals before and after."""
    rng = np.random.default_rng(5)
    pool = [rng.integers(0, 2**63, 10, dtype=np.uint64) for _ in range(50)]
    ours, theirs = _backends(8, 4, 2)
    for n in range(700):
        rows = _sigs([pool[int(rng.integers(0, 50))] for _ in range(3)] + [rng.integers(0, 2**63, 10, dtype=np.uint64)])
        ours.add(f"a{n}", rows)
        theirs.add(f"a{n}", rows)
        if n % 7 == 3:
            ours.remove(f"a{n - 2}")
            theirs.remove(f"a{n - 2}")
    probe = _sigs(pool[:10])
    assert ours.hits(probe) == theirs.hits(probe)
