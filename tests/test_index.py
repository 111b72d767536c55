import numpy as np

from dedup.index import CandidateIndex, LSHBackend, MemoryLSH
from dedup.sign import signature


def _sig(values: np.ndarray) -> np.ndarray:
    return signature(values, 32, 1)


def test_memory_backend_follows_the_protocol() -> None:
    assert isinstance(MemoryLSH(num_perm=32, bands=8, rows=4, seed=1), LSHBackend)


def test_passage_index_finds_articles_sharing_a_few_passages() -> None:
    rng = np.random.default_rng(0)
    shared = [rng.integers(0, 2**63, 20, dtype=np.uint64) for _ in range(2)]
    own_a = [rng.integers(0, 2**63, 20, dtype=np.uint64) for _ in range(20)]
    own_b = [rng.integers(0, 2**63, 20, dtype=np.uint64) for _ in range(20)]
    a_passages, b_passages = shared + own_a, own_b + shared
    index = CandidateIndex(
        MemoryLSH(num_perm=32, bands=8, rows=4, seed=1), MemoryLSH(num_perm=32, bands=8, rows=4, seed=1)
    )
    index.add("a", _sig(np.concatenate(a_passages)), [(i, _sig(p)) for i, p in enumerate(a_passages)])
    # whole-article overlap is ~5%: only the passage index can propose "a"
    found = index.candidates(
        _sig(np.concatenate(b_passages)), [(i, _sig(p)) for i, p in enumerate(b_passages)], limit=10
    )
    assert found == ["a"]
    index.remove("a")
    assert (
        index.candidates(_sig(np.concatenate(b_passages)), [(i, _sig(p)) for i, p in enumerate(b_passages)], limit=10)
        == []
    )
