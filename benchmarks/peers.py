"""The peers dedup is measured against, run in the same process on the same data.

- ``datasketch``: the plain pipeline users run today: lowercase, split on white space, word 5-gram
  strings, ``MinHash.bulk`` (128 permutations), ``MinHashLSH`` at threshold 0.8, union-find.
- ``rensa``: the same pipeline with rensa's Rust MinHash and LSH (when installed: ``pip install rensa``).
- ``exact``: all-pairs exact Jaccard of the same 5-gram sets at 0.8 (quadratic: run on a subset), the
  recall reference for the LSH pipelines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

from datasketch import MinHash, MinHashLSH


def shingles(text: str, k: int = 5) -> list[bytes]:
    words = text.lower().split()
    if len(words) < k:
        return [" ".join(words).encode("utf-8")] if words else []
    return [" ".join(words[i : i + k]).encode("utf-8") for i in range(len(words) - k + 1)]


class UnionFind:
    def __init__(self, items: Iterable[str]) -> None:
        self.parent = {i: i for i in items}

    def find(self, x: str) -> str:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[str]]:
        out: dict[str, list[str]] = {}
        for x in self.parent:
            out.setdefault(self.find(x), []).append(x)
        return list(out.values())


def datasketch_signatures(texts: Sequence[str], num_perm: int = 128) -> list[MinHash]:
    """datasketch's bulk path, ``MinHash.bulk`` (one MinHash's permutations reused for all)."""
    return MinHash.bulk((shingles(text) for text in texts), num_perm=num_perm)


def datasketch_cluster(ids: Sequence[str], texts: Sequence[str], threshold: float = 0.8) -> list[list[str]]:
    sigs = datasketch_signatures(texts)
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    uf = UnionFind(ids)
    for i, m in zip(ids, sigs, strict=True):
        for j in lsh.query(m):
            uf.union(i, j)
        lsh.insert(i, m)
    return uf.groups()


def rensa_available() -> bool:
    try:
        import rensa  # noqa: F401
    except ImportError:
        return False
    return True


def rensa_signatures(texts: Sequence[str], num_perm: int = 128) -> list[object]:
    from rensa import RMinHash

    out = []
    for text in texts:
        m = RMinHash(num_perm=num_perm, seed=1)
        m.update([s.decode("utf-8") for s in shingles(text)])
        out.append(m)
    return out


def rensa_cluster(ids: Sequence[str], texts: Sequence[str], threshold: float = 0.8) -> list[list[str]]:
    from rensa import RMinHashLSH

    sigs = rensa_signatures(texts)
    lsh = RMinHashLSH(threshold=threshold, num_perm=128, num_bands=16)
    uf = UnionFind(ids)
    for n, m in enumerate(sigs):
        for j in lsh.query(m):
            uf.union(ids[n], ids[j])
        lsh.insert(n, m)
    return uf.groups()


def exact_pairs(ids: Sequence[str], texts: Sequence[str], threshold: float = 0.8) -> set[tuple[str, str]]:
    sets = [set(shingles(t)) for t in texts]
    pairs = set()
    for (i, a), (j, b) in combinations(enumerate(sets), 2):
        if a and b and len(a & b) / len(a | b) >= threshold:
            pairs.add((min(ids[i], ids[j]), max(ids[i], ids[j])))
    return pairs


def exact_cluster(ids: Sequence[str], texts: Sequence[str], threshold: float = 0.8) -> list[list[str]]:
    uf = UnionFind(ids)
    for a, b in exact_pairs(ids, texts, threshold):
        uf.union(a, b)
    return uf.groups()
