"""A story copied by hundreds of outlets: one cluster, the same in the stream and the batch, and
each addition costs the same however many copies came before (grouped in order of indexing)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import dedup
from dedup.config import ClusterConfig
from dedup.stages.grouping import compared, in_order

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import generate


def _articles(copies: int) -> list[dedup.Article]:
    return [
        dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at"), source=r.get("source"))
        for r in generate.syndicated(copies, 3)
    ]


def test_compared_keeps_the_candidates_indexed_first() -> None:
    config = ClusterConfig(max_compared=3)
    order = {"a": 5, "b": 1, "c": 4, "d": 2, "e": 3}.__getitem__
    assert compared(["a", "b", "c", "d", "e"], order, config) == ["b", "d", "e"]
    assert compared(["a", "b"], order, config) == ["a", "b"]


def test_in_order_keeps_a_story_whole_and_breaks_a_chain() -> None:
    config = ClusterConfig(representatives=4)
    # a story: every copy matches the first members; a chain: each link matches the one before only
    story = [f"s{i:03d}" for i in range(100)]
    chain = [f"t{i:03d}" for i in range(100)]
    copies = {frozenset((x, y)) for x in story for y in story[:10] if x != y}
    copies |= {frozenset((chain[i], chain[i + 1])) for i in range(99)}
    members = story + chain
    rank = {m: i for i, m in enumerate(members)}

    def near(m: str) -> list[str]:
        return [o for o in members if frozenset((m, o)) in copies]

    groups = in_order(members, rank.__getitem__, near, lambda a, b: frozenset((a, b)) in copies, config)
    assert sorted(story) in groups
    assert max(len(g) for g in groups if g[0].startswith("t")) <= 3  # as average linkage: 2 of 3 pairs


@pytest.mark.slow
def test_a_story_copied_300_times_is_one_cluster_in_the_stream_and_the_batch() -> None:
    articles = _articles(300)
    batch = dedup.cluster(articles)
    d = dedup.Deduplicator()
    verdicts = d.add_many(articles)
    stream = d.clusters()
    assert [c.member_ids for c in stream] == [c.member_ids for c in batch]
    assert [c.earliest for c in stream] == [c.earliest for c in batch]
    largest = max(batch, key=len)
    assert len(largest) >= 295 and largest.earliest == "s-0"
    # a verdict lists the copies its article was compared with, never the whole story
    assert max(len(v.matches) for v in verdicts) <= ClusterConfig().max_compared


@pytest.mark.slow
def test_a_story_grows_one_copy_at_a_time_in_the_stream() -> None:
    articles = _articles(200)
    d = dedup.Deduplicator()
    for a in articles:
        verdict = d.add(a)
    assert len(verdict.cluster) >= 195
    fresh = dedup.Deduplicator()
    fresh.add_many(articles)
    # the record grown one member at a time equals the one built from all its members
    grown = d.cluster_of("s-0")
    d._records.clear()  # the kept records dropped: built again from the members
    assert d.cluster_of("s-0") == grown
