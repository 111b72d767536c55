"""A story copied by hundreds of outlets: one cluster, the same in the stream and the batch, and
each addition costs the same however many copies came before (grouped in order of indexing)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import pytest

import dedup
from dedup.config import ClusterConfig
from dedup.runners.stream import groups as stream_groups
from dedup.runners.stream.watch import Watch
from dedup.stages.grouping import IN_ORDER, InOrder, compared, in_order

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


def test_a_member_stands_where_it_would_be_placed_now() -> None:
    config = ClusterConfig(representatives=2)
    copies = {frozenset(p) for p in [("a", "b"), ("c", "d"), ("e", "a"), ("e", "b"), ("f", "c")]}

    def is_copy(x: str, y: str) -> bool:
        return frozenset((x, y)) in copies

    placed = InOrder(config)
    for m in "abcdef":
        placed.add(m, sorted(y for y in placed.group_of if is_copy(m, y)), is_copy)
    assert placed.groups == [["a", "b", "e"], ["c", "d", "f"]]

    def stands(m: str) -> bool:
        earlier = "abcdef"[: "abcdef".index(m)]
        return placed.stands(m, sorted(y for y in earlier if is_copy(m, y)), is_copy, None, earlier.__contains__)

    assert all(stands(m) for m in "abcdef")
    copies.discard(frozenset(("e", "b")))  # e is still a copy of half the first members of its group
    assert stands("e")
    copies.discard(frozenset(("e", "a")))  # e would open a group of its own
    assert not stands("e")
    copies.add(frozenset(("f", "a")))  # f would join the group opened first, a tie of shares
    assert not stands("f")
    copies.add(frozenset(("f", "d")))  # and now the group it is in: 2 of 2 first members
    assert stands("f")


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
    # a verdict lists the copies its article was compared with (and a twin of its text), never the
    # whole story
    assert max(len(v.matches) for v in verdicts) <= ClusterConfig().max_compared + 1


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
    d._groups._records.clear()  # the kept records dropped: built again from the members
    assert d.cluster_of("s-0") == grown


# -- the large path, probed with a small max_exact_size (every story of more than 8 members is
# grouped in order of indexing and kept by the stream)

SMALL = dedup.DedupConfig(cluster=ClusterConfig(max_exact_size=8, complete_up_to=8))
STORY = _articles(120)
BY_ID = {a.id: a for a in STORY}


def _stream(articles: list[dedup.Article]) -> dedup.Deduplicator:
    d = dedup.Deduplicator(SMALL)
    for a in articles:
        d.add(a)
    return d


def _rebuilt(d: dedup.Deduplicator) -> dict[str, dedup.Cluster]:
    """Each article's cluster with the kept groups and records dropped: built from the members."""
    d._groups._large.clear()
    d._groups._records.clear()
    return {x: d.cluster_of(x) for x in d}


def _kept(d: dedup.Deduplicator) -> dict[str, dedup.Cluster]:
    return {x: d.cluster_of(x) for x in d}


def _differences(a: dict[str, dedup.Cluster], b: dict[str, dedup.Cluster]) -> list[str]:
    """What differs between two answers, by field (for a readable failure)."""
    out = []
    for x in sorted(set(a) | set(b)):
        ca, cb = a.get(x), b.get(x)
        if ca == cb:
            continue
        if ca is None or cb is None:
            out.append(f"{x}: only one side has it")
            continue
        for name in ("id", "member_ids", "earliest", "evidence", "why"):
            if getattr(ca, name) != getattr(cb, name):
                out.append(f"{x}: {name} {getattr(ca, name)!r} != {getattr(cb, name)!r}")
        out += [f"{x}: member {ma!r} != {mb!r}" for ma, mb in zip(ca.members, cb.members, strict=False) if ma != mb]
    return out


# (subset seed, size): orders in which the learned boilerplate changes after the story is large
# (80, 120), and one in which it does not (60)
@pytest.mark.parametrize(
    ("seed", "size"),
    [
        (4, 60),
        (2, 80),
        pytest.param(3, 120, marks=pytest.mark.slow),
    ],
)
def test_the_kept_records_equal_records_built_from_the_members(seed: int, size: int) -> None:
    articles = Random(seed).sample(STORY, size)
    d = _stream(articles)
    kept = _kept(d)
    fresh = _stream(articles)
    assert not _differences(kept, _rebuilt(fresh))


@pytest.mark.parametrize(("seed", "size"), [(2, 80), pytest.param(3, 120, marks=pytest.mark.slow)])
def test_the_kept_groups_and_earliest_equal_those_built_from_the_members(seed: int, size: int) -> None:
    articles = Random(seed).sample(STORY, size)
    kept = _kept(_stream(articles))
    rebuilt = _rebuilt(_stream(articles))
    assert {x: (c.id, c.member_ids, c.earliest) for x, c in kept.items()} == {
        x: (c.id, c.member_ids, c.earliest) for x, c in rebuilt.items()
    }


def _on_one_day(articles: list[dedup.Article], published_at: str | None) -> list[dedup.Article]:
    """The story with every copy given ``published_at`` (a day without a time: all tie), or with
    none and one date printed at the top of every text; or (``"mixed"``) each copy one of those,
    a time of that day, or no date at all."""
    if published_at == "mixed":
        rnd = Random(3)
        dated = [
            ("", "2024-03-03"), ("", "2024-03-03T09:00:00+00:00"), ("", "2024-03-03T15:00:00+00:00"),
            ("RIYADH, March 3, 2024 - ", None), ("", None),
        ]  # fmt: skip
        return [
            dedup.Article(id=a.id, text=line + a.text, source=a.source, published_at=time)
            for a in articles
            for line, time in [rnd.choice(dated)]
        ]
    dateline = "" if published_at else "RIYADH, March 3, 2024 - "
    return [
        dedup.Article(id=a.id, text=dateline + a.text, source=a.source, published_at=published_at) for a in articles
    ]


@pytest.mark.parametrize(
    "published_at", ["2024-01-01", None, "mixed"], ids=["a day without a time", "one printed date", "mixed"]
)
def test_a_story_copied_on_one_day_grows_at_a_bounded_cost(monkeypatch, published_at: str | None) -> None:
    """Copies that tie on their time (or have none) are told apart by their texts among the first
    ``MOST_CONTESTED`` indexed: each new copy looks up a bounded number of comparisons however large
    the story is (every pair of the story's members, before), and the records grown one copy at a
    time equal those built from the members."""
    from dedup.stages import pairs as stage_pairs

    articles = _on_one_day(Random(7).sample(STORY, 120), published_at)
    looked_up: list[int] = []
    read: list[int] = []
    real_pair, real_candidate = stage_pairs.PairCache.pair, stream_groups.Groups._candidate

    def counted(self, a: str, b: str):  # type: ignore[no-untyped-def]
        looked_up[-1] += 1
        return real_pair(self, a, b)

    def candidate(self, member: str, with_evidence: bool):  # type: ignore[no-untyped-def]
        read[-1] += 1
        return real_candidate(self, member, with_evidence)

    monkeypatch.setattr(stage_pairs.PairCache, "pair", counted)
    monkeypatch.setattr(stream_groups.Groups, "_candidate", candidate)
    d = dedup.Deduplicator(SMALL)
    for a in articles:
        looked_up.append(0)
        read.append(0)
        d.add(a)
    monkeypatch.undo()
    assert len(d.cluster_of(articles[-1].id)) >= 110
    # (every pair of 110 members is 12,000 look-ups and more; of 50, 2,450)
    assert max(looked_up[-20:]) < 1_000 and max(looked_up[-20:]) < 2 * max(looked_up[40:60]) + 50
    # nor are the members all read again to choose the earliest (110 and more of them, each add)
    assert max(read[-20:]) < 30, read[-20:]
    kept = _kept(d)
    assert not _differences(kept, _rebuilt(_stream(articles)))


def _story_with_original_at(seed: int, size: int, at: int) -> list[dedup.Article]:
    """``size`` articles of the story in a shuffled order, the original (the earliest) at ``at``."""
    rnd = Random(seed)
    articles = rnd.sample([a for a in STORY if a.id != "s-0"], size - 1)
    articles.insert(at, BY_ID["s-0"])
    return articles


@pytest.mark.parametrize("seed", [5, 6])
def test_removing_copies_of_a_large_story_answers_as_if_they_never_came(seed: int) -> None:
    articles = _story_with_original_at(seed, 80, 20)
    first, later = articles[:50], articles[50:]
    d = _stream(first)
    # the member indexed first, the earliest source and a few others leave
    assert d.cluster_of(first[0].id).earliest == "s-0"
    gone = {first[0].id, "s-0", *Random(seed).sample([a.id for a in first[1:]], 5)}
    for x in gone:
        d.remove(x)
    for a in later:
        d.add(a)
    fresh = _stream([a for a in first if a.id not in gone] + later)
    kept, fresh_kept = _kept(d), _kept(fresh)
    # the groups, their anchor (the cluster id) and earliest source: what a fresh stream answers
    assert {x: (c.id, c.member_ids, c.earliest) for x, c in kept.items()} == {
        x: (c.id, c.member_ids, c.earliest) for x, c in fresh_kept.items()
    }
    assert max(len(c) for c in kept.values()) >= 70
    # built again from the members, every figure too: the comparisons made while the removed
    # articles were there (and the copies found among them) leave no trace
    assert not _differences(_rebuilt(d), _rebuilt(fresh))
    # and the records kept meanwhile
    assert not _differences(kept, fresh_kept)


class Boom(Exception):
    """The injected fault."""


def _after(real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, then the fault (its changes are made, the addition fails after them)."""

    def run(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise Boom

    return run


def _record_fault(mp: pytest.MonkeyPatch, d: dedup.Deduplicator) -> None:
    mp.setattr(stream_groups, "grown", _after(stream_groups.grown))
    mp.setattr(stream_groups, "build_cluster", _after(stream_groups.build_cluster))


# Where an addition to a large story fails: after the kept groups were checked against the
# comparisons of now, after its place in them, after its cluster record was grown or built again,
# after the whole verdict was built.
FAULTS: dict[str, Callable[[pytest.MonkeyPatch, dedup.Deduplicator], None]] = {
    "checked": lambda mp, d: mp.setattr(Watch, "check", _after(Watch.check)),
    "placed": lambda mp, d: mp.setattr(InOrder, "add", _after(InOrder.add)),
    "recorded": _record_fault,
    "verdict built": lambda mp, d: mp.setattr(d, "_verdict", _after(d._verdict)),
}


@pytest.mark.parametrize("failed", ["s-0", "a copy"])
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("seed", [4, 2])  # the learned boilerplate moves late in the second order
def test_a_failed_addition_to_a_large_story_leaves_no_trace(fault: str, failed: str, seed: int) -> None:
    articles = _story_with_original_at(seed, 60, 30)
    lost = 30 if failed == "s-0" else 31
    before, after = articles[:lost], articles[lost + 1 :]
    reference = _stream(before)
    expected = [reference.add(a).to_dict() for a in after]
    d = _stream(before)
    with pytest.MonkeyPatch.context() as mp:
        FAULTS[fault](mp, d)
        with pytest.raises(Boom):
            d.add(articles[lost])
    assert articles[lost].id not in d
    assert [d.add(a).to_dict() for a in after] == expected
    assert not _differences(_kept(d), _kept(reference))
    assert [c.to_dict() for c in d.clusters()] == [c.to_dict() for c in reference.clusters()]


@pytest.mark.parametrize("seed", [4, 2])
def test_a_large_story_reopened_from_its_file_answers_the_same(seed: int, tmp_path: Path) -> None:
    articles = _story_with_original_at(seed, 70, 25)
    more = [a for a in STORY if a not in articles][:5]
    with dedup.Deduplicator.open(tmp_path / "index.sqlite", SMALL) as d:
        for a in articles:
            d.add(a)
        before = d.clusters()
        kept = _kept(d)
    with dedup.Deduplicator.open(tmp_path / "index.sqlite") as again:
        assert again.config == SMALL
        assert again.clusters() == before
        # the groups are built again in the order the articles were indexed, not in id order
        assert {x: (c.id, c.member_ids, c.earliest) for x, c in _kept(again).items()} == {
            x: (c.id, c.member_ids, c.earliest) for x, c in kept.items()
        }
        # and the next copies are placed as they would have been
        with dedup.Deduplicator.open(tmp_path / "other.sqlite", SMALL) as d:
            for a in articles:
                d.add(a)
            assert [again.add(a).to_dict() for a in more] == [d.add(a).to_dict() for a in more]


@pytest.mark.parametrize("seed", [4, 2])
def test_a_large_story_in_the_stream_equals_the_batch(seed: int) -> None:
    articles = Random(seed).sample(STORY, 90)
    batch = dedup.cluster(articles, config=SMALL)
    d = dedup.Deduplicator(SMALL)
    d.add_many(articles)
    assert max(len(c) for c in batch) >= 85
    assert [c.to_dict() for c in d.clusters()] == [c.to_dict() for c in batch]
    # the kept records of the stream too
    kept = {c.id: c for c in _kept(d).values()}
    assert [c.to_dict() for c in sorted(kept.values(), key=lambda c: c.id)] == [c.to_dict() for c in batch]


def _head_and_tail() -> list[dedup.Article]:
    """A large story (ten full copies) whose earliest source is its first half: the copy of its
    second half ("c", and "d" with a line more) is no copy of the earliest and is matched with one
    of the full copies, all equally good."""
    paragraphs = BY_ID["s-0"].text.split("\n\n")[1:]
    half = len(paragraphs) // 2
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    full = [
        dedup.Article(id=f"a{i:02d}", text="\n\n".join(paragraphs), published_at=t0 + timedelta(hours=5 + i))
        for i in range(10)
    ]
    tail = "\n\n".join(paragraphs[half:])
    return [
        *full,
        dedup.Article(id="b", text="\n\n".join(paragraphs[:half]), published_at=t0),
        dedup.Article(id="c", text=tail),
        dedup.Article(
            id="d", text=tail + "\n\nSubscribe to our newsletter for more.", published_at=t0 + timedelta(days=1)
        ),
    ]


def test_a_member_no_copy_of_the_earliest_is_matched_the_same_by_every_answer() -> None:
    articles = _head_and_tail()
    d = dedup.Deduplicator(SMALL)
    d.add_many(articles)
    (story,) = [c for c in d.clusters() if len(c) > 1]
    assert story.earliest == "b" and len(story) == 13 and story.why == IN_ORDER
    (tail,) = [m for m in story.members if m.id == "c"]
    assert tail.matched not in (None, "b") and tail.matched.startswith("a")
    # clusters(), cluster_of() (the kept record, then built again) and the batch agree
    assert d.cluster_of("c") == story
    d._groups._large.clear()
    d._groups._records.clear()
    assert d.cluster_of("c") == story
    assert dedup.cluster(articles, config=SMALL) == d.clusters()


_MATCHED = """
import sys
sys.path.insert(0, {tests!r})
import dedup, test_syndication as t
articles = t._head_and_tail()
d = dedup.Deduplicator(t.SMALL)
d.add_many(articles)
print([(m.id, m.matched) for m in d.cluster_of("c").members])
print([(m.id, m.matched) for c in dedup.cluster(articles, config=t.SMALL) for m in c.members])
"""


@pytest.mark.slow
def test_the_member_matched_does_not_depend_on_the_hash_seed() -> None:
    """Among equally good copies the one matched is the same in every process (not the first one a
    set of strings gives, whose order changes with PYTHONHASHSEED)."""
    script = _MATCHED.format(tests=str(Path(__file__).resolve().parent))
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_two_workers_adding_to_a_large_story_answer_as_one_stream(redis_url: str) -> None:
    articles = _story_with_original_at(4, 60, 30)
    one = _stream(articles)
    with dedup.Deduplicator.open(redis_url, SMALL) as a, dedup.Deduplicator.open(redis_url) as b:
        for n, article in enumerate(articles):
            (a if n % 3 else b).add(article)  # each worker catches up with the other's additions first
        # a removal by one worker reaches the kept groups of the other
        a.cluster_of("s-0")
        b.remove(articles[0].id)
        one.remove(articles[0].id)
        expected = {x: (c.id, c.member_ids, c.earliest) for x, c in _kept(one).items()}
        for worker in (a, b):
            worker.sync()
            assert {x: (c.id, c.member_ids, c.earliest) for x, c in _kept(worker).items()} == expected
            assert [c.to_dict() for c in worker.clusters()] == [c.to_dict() for c in one.clusters()]


def test_workers_taking_turns_on_a_large_story_place_each_others_copies(redis_url: str, monkeypatch) -> None:
    """Three workers adding a large story in turns answer every copy as one stream does, and once
    each has grouped the story, none groups it again from its members nor builds its record again
    but where one stream does (when the earliest changes): each places the copies the others added
    in the groups it keeps, as it places its own, and grows the record by them (a worker that
    grouped the story again after every catch-up paid for every member at each add)."""
    articles = _story_with_original_at(5, 90, 45)
    late = 20  # the adds from then on: each worker has grouped the story (it is large from 9 on)
    counts = {"grouped": [0] * len(articles), "built": [0] * len(articles)}
    at = [0]

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            counts[name][at[0]] += 1
            return real(*args, **kwargs)

        return run

    monkeypatch.setattr(stream_groups, "groups_of", counting("grouped", stream_groups.groups_of))
    monkeypatch.setattr(stream_groups, "build_cluster", counting("built", stream_groups.build_cluster))
    one = dedup.Deduplicator(SMALL)
    expected = []
    for at[0], article in enumerate(articles):
        expected.append(one.add(article).to_dict())
    alone = {name: sum(per_add[late:]) for name, per_add in counts.items()}
    counts = {name: [0] * len(articles) for name in counts}
    url = f"{redis_url}?namespace=turns-of-three"
    workers = [dedup.Deduplicator.open(url, SMALL), dedup.Deduplicator.open(url), dedup.Deduplicator.open(url)]
    try:
        got = []
        for at[0], article in enumerate(articles):
            got.append(workers[at[0] % 3].add(article).to_dict())
        assert got == expected
        assert sum(counts["grouped"][late:]) == alone["grouped"] == 0
        # the earliest changes once (the original comes at 45): each worker builds the record once
        assert alone["built"] == 1 and sum(counts["built"][late:]) <= 3, counts["built"][late:]
        for worker in workers:
            worker.sync()
            assert not _differences(_kept(worker), _kept(one))
    finally:
        for worker in workers:
            worker.close()


def test_cluster_of_and_clusters_agree_in_a_mixed_stream() -> None:
    # many stories with a few copies each, every component of more than 4 grouped in order of
    # indexing; the learned boilerplate changes as the stream goes (a roundup carries several stories)
    config = dedup.DedupConfig(cluster=ClusterConfig(max_exact_size=4, complete_up_to=4))
    d = dedup.Deduplicator(config)
    for r in generate.generate(400, 2):
        d.add(dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at"), source=r.get("source")))
    asked = {x: (c.member_ids, c.earliest) for x in d if len(c := d.cluster_of(x)) > 1}
    listed = {x: (c.member_ids, c.earliest) for c in d.clusters() if len(c) > 1 for x in c.member_ids}
    assert asked == listed


@pytest.mark.slow
def test_comparisons_that_change_whether_they_are_a_copy_keep_the_groups_built_from_the_members(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the first 206 arrivals of a story of 3,000, the boilerplate judged with each sentence a
    # version of itself alone (edited versions not matched): at the 203rd the learned boilerplate
    # moves and four comparisons of one member stop or start being a copy, without moving any member
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "sentence_keys", lambda doc, k: doc.sentence_fps.copy())
    records = generate.syndicated(3000, 1)[:206]
    articles = [
        dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at"), source=r.get("source"))
        for r in records
    ]
    d = dedup.Deduplicator()
    for a in articles:
        d.add(a)
    assert any(d._pairs.flips(x, -1) for x in d)
    kept = _kept(d)
    fresh = dedup.Deduplicator()
    for a in articles:
        fresh.add(a)
    assert not _differences(kept, _rebuilt(fresh))


_IMPORTS = """
import sys
sys.path.insert(0, {tests!r})
import dedup, test_syndication as t
articles = t._articles(40)
d = dedup.Deduplicator()
imported, adding = [], [False]
sys.addaudithook(lambda event, args: adding[0] and event == "import" and imported.append(args[0]))
for article in articles:
    adding[0] = True
    d.add(article)
    adding[0] = False
print(len(d.cluster_of(articles[0].id)), sorted({{m for m in imported if m.startswith("scipy")}}))
"""


def test_no_addition_pays_for_importing_what_grouping_a_growing_story_needs() -> None:
    """The story's component is split by average linkage once it has grown; scipy's hierarchy is
    imported as the stream starts, not in the middle of that addition (in a fresh process)."""
    script = _IMPORTS.format(tests=str(Path(__file__).resolve().parent))
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=600)
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["41", "[]"]


# -- a story grouped anew gives the groups and records it was kept with ---------------------------

PIER = (
    "The harbour authority said on Tuesday that the northern pier would close for repairs after engineers found "
    "deep cracks in its concrete supports. Ferry services will move to the southern terminal until the work is "
    "finished next spring."
)
FISHERMEN = (
    "Local fishermen complained that the move would add an hour to every trip and asked the council for "
    "compensation. A spokesman for the mayor promised a meeting with the fishing cooperative before the end of the "
    "month."
)
TOURISM = (
    "Tourism officials expect fewer cruise visitors this summer because large ships cannot dock at the smaller "
    "terminal. Restaurant owners along the waterfront fear a drop in trade during the busiest weeks of the year."
)
CONTRACT = (
    "The repair contract, worth twelve million euros, was awarded to a consortium of two regional builders. "
    "Opposition councillors questioned why the tender had not been advertised across the wider European market."
)


def _kept_and_rebuilt(d: dedup.Deduplicator) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every cluster as the stream keeps it, then as built anew from the articles in memory (as a
    reopening without the saved state builds them)."""
    kept = [c.to_dict() for c in d.clusters()]
    d._groups.regroup()
    return kept, [c.to_dict() for c in d.clusters()]


@pytest.mark.parametrize("gone", ["removed", "left the window"])
def test_an_identical_copy_found_while_grouping_keeps_its_twin_in_its_group(gone: str) -> None:
    """Two articles with the same words, not compared when added (each with two candidates), are
    compared while the later one is placed among the first members of a group: it joins its
    twin's group then, as it does when the story is grouped anew with that comparison known."""
    config = dedup.DedupConfig(
        cluster=ClusterConfig(max_exact_size=2, complete_up_to=0, max_compared=2, representatives=5)
    )
    texts = {"w": f"{TOURISM} {PIER}", "t0": PIER, "x": PIER, "a": TOURISM, "b": TOURISM, "c": TOURISM, "t": PIER}
    order = ["w", "t0", "x", "a", "b", "c", "t"]
    window = None
    if gone == "left the window":
        order, window = ["t0", "w", "x", "a", "b", "c", "t"], dedup.Window(articles=6)
    d = dedup.Deduplicator(config, window=window)
    for n, art_id in enumerate(order):
        d.add(dedup.Article(id=art_id, text=texts[art_id], published_at=f"2024-01-01T{10 + n:02d}:00:00"))
    if gone == "removed":
        d.remove("t0")
    assert "t0" not in d
    kept, rebuilt = _kept_and_rebuilt(d)
    assert kept == rebuilt
    assert any({"t", "x"} <= {m["id"] for m in c["members"]} for c in kept)


def test_a_grown_record_matches_a_member_with_the_copies_found_as_the_earliest_is_chosen() -> None:
    """A member's record in a kept group is made with every copy of it known once the earliest is
    chosen again (which compares it with members it was not compared with when added), as the
    record built anew is."""
    config = dedup.DedupConfig(
        cluster=ClusterConfig(max_exact_size=2, complete_up_to=0, max_compared=1, representatives=2)
    )
    blocks = {"A": PIER, "B": FISHERMEN, "C": TOURISM, "D": CONTRACT}
    d = dedup.Deduplicator(config)
    for art_id, spec in (("x0", "BC"), ("x1", "ABCD"), ("x2", "A"), ("x3", "A")):
        d.add(dedup.Article(id=art_id, text=" ".join(blocks[c] for c in spec)))
        d.clusters()  # each record made as the story grows
    kept, rebuilt = _kept_and_rebuilt(d)
    assert kept == rebuilt
