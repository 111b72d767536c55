"""Cluster ids in the stream: a cluster keeps the id of its first-indexed member as copies arrive,
takes the older cluster's id when it merges with one (and the verdict names the ids it took in),
keeps it through a failed add and a reopened file."""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dedup
from dedup.stages.provenance import cluster_id

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import generate


def _story() -> tuple[list[dedup.Article], list[dedup.Article]]:
    """A wire story with four outlet copies (ids ``s-0`` for the wire, ``s-1``... for the copies),
    and the wire's first and second half as two trimmed copies (``h-1``, ``h-2``) that are not
    copies of each other: each joins the wire, and only the wire joins them."""
    records = sorted(generate.syndicated(4, 3), key=lambda r: r["id"])
    story = [dedup.Article(id=r["id"], text=r["text"]) for r in records]
    paragraphs = story[0].text.split("\n\n")
    half = len(paragraphs) // 2
    halves = [
        dedup.Article(id="h-1", text="\n\n".join(paragraphs[:half])),
        dedup.Article(id="h-2", text="\n\n".join(paragraphs[half:])),
    ]
    return story, halves


STORY, HALVES = _story()
WIRE = STORY[0]
FIRST_HALF, SECOND_HALF = HALVES


def test_copies_with_ever_smaller_ids_keep_the_cluster_id_of_the_first() -> None:
    d = dedup.Deduplicator()
    verdicts = [d.add(a) for a in sorted(STORY, key=lambda a: a.id, reverse=True)]  # s-4 first, s-0 last
    assert [len(v.cluster) for v in verdicts] == [1, 2, 3, 4, 5]
    assert {v.cluster.id for v in verdicts} == {cluster_id("s-4")}
    assert all(v.merged == () for v in verdicts)
    assert [c.id for c in d.clusters()] == [cluster_id("s-4")]
    # the batch has no arrival order: there the smallest id is the first indexed
    assert [c.id for c in dedup.cluster(STORY)] == [cluster_id("s-0")]


def _bridged(d: dedup.Deduplicator) -> None:
    """The two halves indexed, the second first: two clusters that only the wire joins."""
    older, newer = d.add(dedup.Article(id="z-second", text=SECOND_HALF.text)), d.add(FIRST_HALF)
    assert not older.is_copy and not newer.is_copy


def test_a_bridging_article_merges_into_the_older_cluster_and_names_the_other() -> None:
    d = dedup.Deduplicator()
    _bridged(d)
    bridge = d.add(WIRE)
    assert set(bridge.cluster.member_ids) == {"z-second", "h-1", "s-0"}
    assert bridge.cluster.id == cluster_id("z-second")  # indexed first, though its id is the largest
    assert bridge.merged == (cluster_id("h-1"),)
    out = bridge.to_dict()
    assert out["merged"] == [cluster_id("h-1")] and out["size"] == 3
    assert out["cluster"] == cluster_id("z-second")
    # nothing more to merge: the next copy reports none, and the id stays
    later = d.add(STORY[1])
    assert later.cluster.id == cluster_id("z-second") and later.merged == ()


def test_a_bridge_older_than_both_clusters_names_both_earliest_sources_it_replaced() -> None:
    """Two clusters with an earliest source each, joined by an article older than both: the
    verdict names both as no longer the earliest (a crawler corrects both), not one."""

    def at(article: dedup.Article, hour: int, article_id: str | None = None) -> dedup.Article:
        return dedup.Article(
            id=article_id or article.id, text=article.text, published_at=f"2024-05-01T{hour:02d}:00:00+00:00"
        )

    d = dedup.Deduplicator()
    d.add(at(SECOND_HALF, 10, "z-second"))
    d.add(at(FIRST_HALF, 9))
    bridge = d.add(at(WIRE, 8))
    assert bridge.cluster.earliest == "s-0" and bridge.earliest_changed
    assert set(bridge.previous_earliests) == {"z-second", "h-1"} and len(bridge.previous_earliests) == 2
    assert bridge.previous_earliest == bridge.previous_earliests[0]
    assert bridge.to_dict()["previous_earliests"] == list(bridge.previous_earliests)
    # a bridge between the two that is not the oldest: only the cluster whose earliest it was loses it
    d = dedup.Deduplicator()
    d.add(at(SECOND_HALF, 10, "z-second"))
    d.add(at(FIRST_HALF, 9))
    bridge = d.add(at(WIRE, 11))
    assert bridge.cluster.earliest == "h-1"
    assert bridge.earliest_changed and bridge.previous_earliests == ("z-second",)
    assert bridge.previous_earliest == "z-second"
    # nothing joined: nothing changed
    later = d.add(at(STORY[1], 12))
    assert not later.earliest_changed and later.previous_earliests == () and later.previous_earliest is None


def test_an_index_read_again_from_its_file_names_the_earliest_source_it_replaces(tmp_path) -> None:
    """Reopened from the file alone (its saved state lost, as after a crash), the index still says
    which earliest source an older article replaces."""
    path = tmp_path / "crawl.sqlite"
    with dedup.Deduplicator.open(path) as d:
        d.add(dedup.Article(id="copy", text=SECOND_HALF.text, published_at="2024-03-04T09:00:00+00:00"))
    state = Path(str(path) + ".state")
    assert state.exists()
    state.unlink()
    with dedup.Deduplicator.open(path) as d:
        verdict = d.add(
            dedup.Article(
                id="wire",
                text=SECOND_HALF.text + "\n\nA closing line of the wire.",
                published_at="2024-03-03T09:00:00+00:00",
            )
        )
        assert verdict.is_copy and verdict.cluster.earliest == "wire"
        assert verdict.earliest_changed and verdict.previous_earliests == ("copy",)


def _added_order(order: list[dedup.Article]) -> None:
    d = dedup.Deduplicator()
    added: dict[str, int] = {}
    last: dict[str, str] = {}  # each member's cluster id in the last verdict that showed it
    for n, article in enumerate(order):
        added[article.id] = n
        verdict = d.add(article)
        members = verdict.cluster.member_ids
        first = min(members, key=added.__getitem__)
        assert verdict.cluster.id == cluster_id(first)
        before = {last[m] for m in members if m in last}
        assert set(verdict.merged) == before - {verdict.cluster.id}
        for m in members:
            last[m] = verdict.cluster.id
    ids = {c.id for c in d.clusters()}
    assert ids == {cluster_id(min(c.member_ids, key=added.__getitem__)) for c in d.clusters()}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations([*STORY, *HALVES]))
def test_in_any_order_the_id_is_the_first_indexed_members_and_merges_are_named(order: list[dedup.Article]) -> None:
    _added_order(order)


def _recorded_as_given(order: list[dedup.Article]) -> None:
    """After every addition the file's cluster column holds, for each article, the cluster id of
    the last verdict that showed it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.sqlite"
        with dedup.Deduplicator.open(path) as d:
            given: dict[str, str] = {}
            for article in order:
                verdict = d.add(article)
                given.update(dict.fromkeys(verdict.cluster.member_ids, verdict.cluster.id))
                with closing(sqlite3.connect(path)) as db:
                    assert dict(db.execute("SELECT id, cluster FROM articles").fetchall()) == given


def test_the_file_records_the_id_a_merge_gives_to_members_written_before() -> None:
    # two clusters (each half, the second first), then the wire joins them under the older one's id
    _recorded_as_given([dedup.Article(id="z-second", text=SECOND_HALF.text), FIRST_HALF, *STORY])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations([*STORY, *HALVES]))
def test_the_file_records_each_members_cluster_id_as_last_given(order: list[dedup.Article]) -> None:
    _recorded_as_given(order)


def test_a_failed_add_leaves_the_ids_that_merges_are_told_from() -> None:
    d, reference = dedup.Deduplicator(), dedup.Deduplicator()
    _bridged(d)
    _bridged(reference)
    before = dict(d._groups.cluster_ids)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected after the verdict was built")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(d._replica, "written", fail)
        with pytest.raises(RuntimeError):
            d.add(WIRE)
    assert d._groups.cluster_ids == before
    assert d.add(WIRE).to_dict() == reference.add(WIRE).to_dict()


def test_a_reopened_file_gives_the_same_ids(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    with dedup.Deduplicator.open(path) as d:
        _bridged(d)
        d.add(WIRE)
        for a in sorted(STORY[2:], key=lambda a: a.id, reverse=True):
            d.add(a)
        ids = {c.id: c.member_ids for c in d.clusters()}
    assert ids == {cluster_id("z-second"): ("h-1", "s-0", "s-2", "s-3", "s-4", "z-second")}
    with dedup.Deduplicator.open(path) as again:
        assert {c.id: c.member_ids for c in again.clusters()} == ids
        joined = again.add(STORY[1])
        assert joined.cluster.id == cluster_id("z-second")
