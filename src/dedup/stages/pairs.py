"""Pair comparison over a batch: articles analyzed on first use, each pair compared once.

The batch and the Spark job verify and group articles they read again (a task's share of the
batch): ``Comparisons`` holds a task's analyzed texts and the verdicts of ``verify.compare``
between them, so that grouping and provenance read a pair the verifier already compared.
"""

from __future__ import annotations

from collections.abc import Iterable

from dedup.config import DedupConfig
from dedup.records import Article, Match
from dedup.stages.shingle import Shingled, analyze
from dedup.stages.verify import View, compare


class Comparisons:
    """Articles analyzed on first use, and the comparisons made between them (each pair once)."""

    def __init__(self, articles: Iterable[Article], config: DedupConfig, learned: frozenset[int]) -> None:
        self.articles = {a.id: a for a in articles}
        self._config, self._learned = config, learned
        self._docs: dict[str, tuple[Shingled, View]] = {}
        self._matches: dict[tuple[str, str], Match] = {}

    def _doc(self, art_id: str) -> tuple[Shingled, View]:
        found = self._docs.get(art_id)
        if found is None:
            # the analysis only: these articles were prepared (and signed) before
            doc = analyze(self.articles[art_id].text, self._config.normalize, self._config.shingle)
            found = self._docs[art_id] = (doc, View(doc, self._learned, self._config.shingle))
        return found

    def pair(self, x: str, y: str) -> Match:
        """The comparison of x and y (made once, the smaller id first), its shared passages
        measured but not listed."""
        key = (x, y) if x < y else (y, x)
        match = self._matches.get(key)
        if match is None:
            (da, va), (db, vb) = self._doc(key[0]), self._doc(key[1])
            cfg = self._config
            match = self._matches[key] = compare(
                key[0],
                da,
                key[1],
                db,
                verify=cfg.verify,
                shingle=cfg.shingle,
                boilerplate=self._learned,
                views=(va, vb),
                list_passages=False,  # grouping and provenance read the figures only
            )
        return match
