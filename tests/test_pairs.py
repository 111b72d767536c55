"""The pair cache (``dedup.stages.pairs``): remembered comparisons follow the learned boilerplate."""

import random
from collections.abc import Set

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup._undo import Undo
from dedup.config import DedupConfig
from dedup.records import Match, Relation
from dedup.stages import pairs as pairs_module
from dedup.stages.grouping import components
from dedup.stages.pairs import PairCache
from dedup.stages.shingle import Shingled, analyze


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(f"w{rng.randrange(5000)}" for _ in range(words)) + "."


class Scripted:
    """A judge whose learned sentences the test sets (``learn``), logging each change."""

    def __init__(self, carriers: dict[int, tuple[str, ...]] | None) -> None:
        self.version = 0
        self.learned: set[int] = set()
        self._log: list[tuple[int, int]] = []
        self._carriers = carriers

    def learn(self, fingerprints: Set[int]) -> None:
        self.version += 1
        self._log += [(fp, self.version) for fp in fingerprints ^ self.learned]
        self.learned = set(fingerprints)

    def boilerplate_of(self, article_id: str, fingerprints: np.ndarray) -> set[int]:
        return {fp for fp in fingerprints.tolist() if fp in self.learned}

    def changed_since(self, version: int) -> set[int] | None:
        return {fp for fp, at in self._log if at > version}

    def unchanged_since(self, version: int, fingerprints: np.ndarray) -> bool:
        changed = self.changed_since(version)
        return changed is not None and changed.isdisjoint(fingerprints.tolist())

    def carriers(self, fingerprint: int) -> tuple[str, ...] | None:
        return None if self._carriers is None else self._carriers.get(fingerprint, ())


def _statement_with_footers() -> tuple[dict[str, Shingled], set[int]]:
    """Two outlets' prints of one statement, each under a long footer of its own; the footers'
    sentence fingerprints."""
    rng = random.Random(3)
    config = DedupConfig()
    statement = _sentence(rng, 24)
    footers = {x: "\n".join(_sentence(rng, 16) for _ in range(5)) for x in "ab"}
    docs = {x: analyze(statement + "\n" + footers[x], config.normalize, config.shingle) for x in "ab"}
    furniture = {
        x: set(docs[x].sentence_fps.tolist()) - set(docs["b" if x == "a" else "a"].sentence_fps.tolist()) for x in "ab"
    }
    return docs, furniture["a"] | furniture["b"]


def _carriers(docs: dict[str, Shingled]) -> dict[int, tuple[str, ...]]:
    found: dict[int, tuple[str, ...]] = {}
    for x, doc in sorted(docs.items()):
        for fp in set(doc.sentence_fps.tolist()):
            found[fp] = (*found.get(fp, ()), x)
    return found


def test_a_pair_that_was_no_copy_is_found_when_its_footers_are_learned_later() -> None:
    docs, footers = _statement_with_footers()
    for carriers in (_carriers(docs), None):  # the judge knows the carriers, or does not
        judge = Scripted(carriers)
        cache = PairCache(DedupConfig(), docs.__getitem__, judge)
        cache.add("a"), cache.add("b")
        cache.remember(cache.compare("a", docs["a"], "b", docs["b"]))
        assert cache.component("a") == ["a"]  # the footers outweigh the statement
        judge.learn(footers)
        assert cache.component("a") == ["a", "b"] and cache.component("b") == ["a", "b"]
        judge.learn(set())  # furniture no more: no copy again
        assert cache.component("a") == ["a"]
        judge.learn(footers)  # and back
        assert cache.component("b") == ["a", "b"]


def test_the_copies_a_store_must_write_are_those_remembered_since_it_last_wrote() -> None:
    docs, footers = _statement_with_footers()
    judge = Scripted(_carriers(docs))
    cache = PairCache(DedupConfig(), docs.__getitem__, judge)
    cache.add("a"), cache.add("b")
    cache.remember(cache.compare("a", docs["a"], "b", docs["b"]))
    assert cache.unsaved() == []  # no copy: nothing to write
    judge.learn(footers)
    assert cache.component("a") == ["a", "b"]  # a copy now, found by asking again
    assert [(m.a, m.b, m.is_copy) for m in cache.unsaved()] == [("a", "b", True)]
    cache.saved()
    assert cache.unsaved() == []
    judge.learn(set())
    assert cache.component("a") == ["a"] and cache.unsaved() == []
    undo = cache.journal = Undo()
    judge.learn(footers)
    assert cache.component("a") == ["a", "b"] and len(cache.unsaved()) == 1
    undo.rollback()  # an addition that failed: nothing to write after all
    assert cache.unsaved() == []


def test_a_copy_read_from_a_store_is_not_written_again() -> None:
    docs, footers = _statement_with_footers()
    judge = Scripted(_carriers(docs))
    judge.learn(footers)
    cache = PairCache(DedupConfig(), docs.__getitem__, judge)
    cache.add("a"), cache.add("b")
    cache.remember(cache.compare("a", docs["a"], "b", docs["b"]), version=-1)
    assert cache.component("a") == ["a", "b"] and cache.unsaved() == []


# ids as ``Article`` takes them: any text without lone surrogates, NUL included
ids = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
figures = st.floats(allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    ids, ids, ids, ids, st.booleans(), st.sampled_from(list(Relation)),
    st.one_of(st.sampled_from(["containment", "same_words", "formula", "quoted_speech"]), st.text(max_size=20)),
    st.lists(figures, min_size=6, max_size=6), st.integers(0, 2**40), st.lists(st.integers(-1, 2**62), min_size=4, max_size=4),
)  # fmt: skip
def test_a_remembered_comparison_reads_back_as_it_was_kept(
    a: str, b: str, c: str, d: str, is_copy: bool, relation: Relation, rule: str, six: list[float], ignored: int,
    versions: list[int],
) -> None:  # fmt: skip
    """The pair cache keeps each comparison packed under a key made of its two ids: the match
    reads back the same, the way round it was compared, and two different pairs never share a key
    (ids may hold NUL, never a lone surrogate)."""
    if a == b:
        return
    match = Match(a, b, is_copy, relation, rule, *six, (), ignored)
    key = pairs_module._key(a, b)
    kept = pairs_module._pack(match, *versions)
    assert pairs_module._unpack(key, kept) == match
    assert pairs_module.ends(key) == tuple(sorted((a, b)))
    assert pairs_module._key(b, a) == key
    if {c, d} != {a, b} and c != d:
        assert pairs_module._key(c, d) != key


def test_pairs_of_ids_holding_nul_keep_different_keys() -> None:
    """NUL separates the two ids of a key unless either holds one; then the pairs that would read
    alike around a NUL are still told apart."""
    pairs = [("a\x00", "b"), ("a", "\x00b"), ("a", "b"), ("a\x00b", "c"), ("a", "b\x00c"), ("\x00", "\x00\x00")]
    keys = [pairs_module._key(a, b) for a, b in pairs]
    assert len(set(keys)) == len(pairs)
    assert [pairs_module.ends(k) for k in keys] == [tuple(sorted(p)) for p in pairs]


LINKS = {
    "copy": (True, Relation.PARTIAL, "containment"),
    "no copy": (False, Relation.NONE, "below_thresholds"),
    "refused by the formula test": (False, Relation.NONE, "formula"),  # an edge, no copy
}


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 9), st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8), st.sampled_from(sorted(LINKS)))))
def test_the_walk_along_the_copies_finds_the_component_of_the_copies(n: int, links: list[tuple[int, int, str]]) -> None:
    """``component`` asks a pair only when it leads somewhere new, and finds what a walk asking
    every pair finds: the articles joined by copies (an edge kept for a pair the formula test
    refused joins nothing, nor does a comparison that is no copy)."""
    cache = PairCache(
        DedupConfig(), lambda article_id: pytest.fail("nothing is compared"), pairs_module.Fixed(frozenset())
    )
    names = [f"n{i}" for i in range(n)]
    for name in names:
        cache.add(name)
    for i, j, link in links:
        if i < n and j < n and i != j:
            copy, relation, rule = LINKS[link]
            cache.remember(Match(names[i], names[j], copy, relation, rule, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5))

    def copies(article_id: str) -> list[str]:  # every edge asked
        return [o for o in sorted(cache.edges.get(article_id, ())) if cache.pair(article_id, o).is_copy]

    for name in names:
        assert cache.component(name) == components([name], copies)[0]
