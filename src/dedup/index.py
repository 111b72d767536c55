"""Stage 4: candidate copies from MinHash-LSH.

The index only proposes; ``verify`` decides. Two indexes are kept: one of whole-article signatures
(near-identical and largely overlapping copies) and one of passage signatures, which finds articles
that share a few sentences even when their whole-article overlap is low (a rewritten wire story).

Both sit behind :class:`LSHBackend`, a small protocol; :class:`MemoryLSH` (datasketch's
``MinHashLSH`` with its in-memory storage) is the default, and persistent backends implement the same
four methods.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from datasketch import MinHashLSH

from dedup.sign import to_minhash

U32 = npt.NDArray[np.uint32]

_PASSAGE_SEP = "\x1f"


@runtime_checkable
class LSHBackend(Protocol):
    """What dedup needs of an LSH index: string keys, uint32 signatures."""

    def insert(self, key: str, signature: U32) -> None: ...

    def query(self, signature: U32) -> list[str]: ...

    def remove(self, key: str) -> None: ...

    def __contains__(self, key: object) -> bool: ...


class MemoryLSH:
    """In-memory LSH: datasketch's ``MinHashLSH`` with ``bands`` x ``rows`` from the config."""

    def __init__(self, *, num_perm: int, bands: int, rows: int, seed: int) -> None:
        self._lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))
        self._seed = seed

    def insert(self, key: str, signature: U32) -> None:
        self._lsh.insert(key, to_minhash(signature, self._seed), check_duplication=False)

    def query(self, signature: U32) -> list[str]:
        return sorted(self._lsh.query(to_minhash(signature, self._seed)))

    def remove(self, key: str) -> None:
        if key in self._lsh:
            self._lsh.remove(key)

    def __contains__(self, key: object) -> bool:
        return key in self._lsh


def passage_key(article_id: str, index: int) -> str:
    return f"{article_id}{_PASSAGE_SEP}{index}"


def article_of(key: str) -> str:
    return key.rsplit(_PASSAGE_SEP, 1)[0]


class CandidateIndex:
    """Both indexes together: add an article's signatures, ask for its candidates."""

    def __init__(self, documents: LSHBackend, passages: LSHBackend) -> None:
        self.documents = documents
        self.passages = passages
        self._passage_indexes: dict[str, list[int]] = {}

    def add(self, article_id: str, signature: U32, passage_signatures: Iterable[tuple[int, U32]]) -> None:
        """Index one article: its signature and the (index, signature) of its evidence passages."""
        self.documents.insert(article_id, signature)
        indexes = []
        for i, sig in passage_signatures:
            self.passages.insert(passage_key(article_id, i), sig)
            indexes.append(i)
        self._passage_indexes[article_id] = indexes

    def remove(self, article_id: str) -> None:
        self.documents.remove(article_id)
        for i in self._passage_indexes.pop(article_id, []):
            self.passages.remove(passage_key(article_id, i))

    def candidates(self, signature: U32, passage_signatures: Iterable[tuple[int, U32]], *, limit: int) -> list[str]:
        """Articles that may be copies: whole-article LSH hits first, then those with the most passage
        hits, at most ``limit`` passage-only candidates. Sorted for determinism."""
        found = set(self.documents.query(signature))
        hits: Counter[str] = Counter()
        for _, sig in passage_signatures:
            hits.update({article_of(k) for k in self.passages.query(sig)})
        ranked = sorted((a for a in hits if a not in found), key=lambda a: (-hits[a], a))
        found.update(ranked[:limit])
        return sorted(found)
