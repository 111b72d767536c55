from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
from dedup.config import ClusterConfig
from dedup.stages.grouping import components, cut_tree_at, digests, groups_of


def test_chain_is_not_glued_together() -> None:
    # A1≈A2≈…≈A10, every article shares half its text with the next and nothing with the others.
    paragraphs = [" ".join(" ".join(f"chain{i}s{s}w{j}" for j in range(10)) + "." for s in range(4)) for i in range(11)]
    articles = [dedup.Article(id=f"A{i:02}", text=paragraphs[i] + "\n" + paragraphs[i + 1]) for i in range(10)]
    d = dedup.Deduplicator()
    d.add_many(articles)
    assert all(d.compare(f"A{i:02}", f"A{i + 1:02}").is_copy for i in range(9))
    assert not d.compare("A00", "A02").is_copy
    clusters = d.clusters()
    assert max(len(c) for c in clusters) <= 2
    # each verified neighbour pair may group, but never more than one link away
    for c in clusters:
        if len(c) == 2:
            a, b = sorted(c.member_ids)
            assert int(b[1:]) - int(a[1:]) == 1


def test_star_of_trimmed_copies_stays_together() -> None:
    # A full story and copies trimmed to different parts: each copy matches the full one only.
    paragraphs = [" ".join(" ".join(f"star{i}s{s}w{j}" for j in range(10)) + "." for s in range(3)) for i in range(8)]
    full = "\n".join(paragraphs)
    parts = ["\n".join(paragraphs[:3]), "\n".join(paragraphs[3:6]), "\n".join(paragraphs[5:8])]
    articles = [dedup.Article(id="full", text=full)] + [
        dedup.Article(id=f"part{i}", text=t) for i, t in enumerate(parts)
    ]
    clusters = dedup.cluster(articles)
    assert [sorted(c.member_ids) for c in clusters if len(c) > 1] == [["full", "part0", "part1", "part2"]]


@given(st.permutations(list(range(8))))
def test_groups_do_not_depend_on_the_order_of_the_component(order: list[int]) -> None:
    edges = {(0, 1), (1, 2), (0, 2), (2, 3), (4, 5), (5, 6), (6, 7), (3, 4)}
    names = [f"n{i}" for i in order]

    def pair(a: str, b: str) -> dedup.Match:
        x, y = sorted((int(a[1:]), int(b[1:])))
        return _match(a, b, dedup.Relation.NEAR_IDENTICAL if (x, y) in edges else dedup.Relation.NONE)

    near = {f"n{x}": {f"n{y}" for y in range(8) if tuple(sorted((x, y))) in edges} for x in range(8)}
    groups, _ = groups_of(names, pair, near.get, ClusterConfig(), lambda m: int(m[1:]))
    reference, _ = groups_of(sorted(names), pair, near.get, ClusterConfig(), lambda m: int(m[1:]))
    assert groups == reference
    assert len(groups) > 1  # the two triangles joined by a chain are not one group


def test_components() -> None:
    graph = {"a": ["b"], "b": ["a"], "c": [], "d": ["e"], "e": ["d"]}
    assert components(graph, lambda n: graph[n]) == [["a", "b"], ["c"], ["d", "e"]]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 20).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.booleans()), max_size=50),
            st.lists(st.integers(0, n - 1), min_size=1, max_size=4),
        )
    )
)
def test_components_steps_only_where_joined_and_asks_once_per_article_reached(graph) -> None:
    """With ``joined``, the components are those of the edges it accepts, and it is asked only
    about an article not reached yet (``joined`` fails the test otherwise): an article it lets in
    is never asked about again, as a walk that asks each pair's verdict lazily needs."""
    n, edges, starts = graph
    names = [f"n{i:02d}" for i in range(n)]
    near: dict[str, set[str]] = {m: set() for m in names}
    accepted: dict[str, set[str]] = {m: set() for m in names}
    verdict: dict[frozenset[str], bool] = {}
    for x, y, ok in edges:
        a, b = names[x], names[y]
        if a == b:
            continue
        near[a].add(b)
        near[b].add(a)
        verdict.setdefault(frozenset((a, b)), ok)
    for pair, ok in verdict.items():
        if ok:
            a, b = sorted(pair)
            accepted[a].add(b)
            accepted[b].add(a)
    asked: list[str] = []
    reached: set[str] = set()

    def joined(a: str, b: str) -> bool:
        assert a in reached and b not in reached
        asked.append(b)
        if verdict[frozenset((a, b))]:
            reached.add(b)
            return True
        return False

    def neighbours(node: str) -> list[str]:
        reached.add(node)  # (a start, or an article stepped to)
        return sorted(near[node])

    chosen = [names[i] for i in starts]
    got = components(chosen, neighbours, joined)
    expected = sorted(
        (c for c in components(names, lambda m: sorted(accepted[m])) if set(c) & set(chosen)),
        key=lambda c: min(set(c) & set(chosen)),
    )
    assert got == expected
    assert len(set(asked)) <= len(asked) <= sum(len(near[m]) for m in names)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(2, 14).flatmap(lambda n: st.lists(st.booleans(), min_size=n * (n - 1) // 2, max_size=n * (n - 1) // 2))
)
def test_the_tree_is_cut_as_scipy_cuts_it(pairs: list[bool]) -> None:
    """``cut_tree_at`` forms the flat clusters of ``fcluster(criterion="distance")``, at the
    grouping threshold and at others."""
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(1.0 - np.array(pairs, dtype=np.float64), method="average")
    for height in (0.5 + 1e-9, 0.25, 0.75, 1.0):
        ours = cut_tree_at(tree, height)
        theirs = fcluster(tree, t=height, criterion="distance").tolist()
        assert len(set(ours)) == len(set(theirs))
        assert len(set(zip(ours, theirs, strict=True))) == len(set(ours))


def test_a_digest_printed_twice_does_not_glue_its_stories() -> None:
    # Two stories, each carried by two outlets, and a roundup carrying both (and a third story),
    # printed twice: the roundup goes with one story at most, and its two printings stay together.
    def story(name: str, n: int) -> list[str]:
        return [" ".join(" ".join(f"{name}{i}s{s}w{j}" for j in range(10)) + "." for s in range(3)) for i in range(n)]

    x, y, z = story("x", 3), story("y", 3), story("z", 3)
    own = story("own", 4)
    articles = [
        dedup.Article(id="x1", text="\n".join([*x, own[0]])),
        dedup.Article(id="x2", text="\n".join([*x, own[1]])),
        dedup.Article(id="y1", text="\n".join([*y, own[2]])),
        dedup.Article(id="y2", text="\n".join([*y, own[3]])),
        dedup.Article(id="roundup", text="\n".join([*x, *y, *z])),
        dedup.Article(id="roundup-again", text="\n".join([*x, *y, *z])),
    ]
    groups = [sorted(c.member_ids) for c in dedup.cluster(articles) if len(c) > 1]
    assert sorted(groups) == [["roundup", "roundup-again", "x1", "x2"], ["y1", "y2"]]


def _digests_as_stated(adjacency: np.ndarray, shares: np.ndarray, config: ClusterConfig) -> list[int]:
    """``digests``'s rule read member by member, as its docstring states it (``shares[x, d]``: how
    much of x lies inside d)."""
    n = len(adjacency)
    linked = adjacency > 0

    def carried(x: int, d: int, y: int) -> bool:
        return any(z not in (d, y) and linked[z, x] and not linked[z, y] for z in range(n))

    found = []
    for d in range(n):
        stories = [
            x
            for x in range(n)
            if linked[x, d] and shares[x, d] >= config.digest_part and shares[d, x] <= config.digest_share
        ]
        if any(
            not linked[x, y] and carried(x, d, y) and carried(y, d, x)
            for i, x in enumerate(stories)
            for y in stories[i + 1 :]
        ):
            found.append(d)
    return found


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 12).flatmap(lambda n: st.tuples(st.just(n), st.data())))
def test_digests_are_the_members_the_rule_names(drawn) -> None:
    n, data = drawn
    pairs = [(x, y) for x in range(n) for y in range(x + 1, n)]
    linked = data.draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    # shares on a coarse grid, so that draws land on the thresholds themselves
    grid = st.sampled_from([0.0, 0.3, 0.5, 0.6, 0.8, 1.0])
    adjacency = np.zeros((n, n))
    shares = np.zeros((n, n))
    for (x, y), joined in zip(pairs, linked, strict=True):
        if joined:
            adjacency[x, y] = adjacency[y, x] = 1.0
            shares[x, y], shares[y, x] = data.draw(grid), data.draw(grid)
    config = ClusterConfig()
    assert digests(adjacency, shares, config) == _digests_as_stated(adjacency, shares, config)


def _batch_components(n: int, edges: list[tuple[int, int]]) -> tuple[list[list[str]], list[list[str]]]:
    """The components the batch's execution labels (label k: the k-th component listed), and
    the reference components."""
    from dedup.runners.batch import _labels

    b = np.array([x for x, _ in edges], dtype=np.int32)
    a = np.array([y for _, y in edges], dtype=np.int32)
    labels = _labels(n, b, a).tolist()
    names = [f"n{i:04d}" for i in range(n)]
    neighbours: dict[str, set[str]] = {m: set() for m in names}
    for x, y in edges:
        neighbours[names[x]].add(names[y])
        neighbours[names[y]].add(names[x])
    got: list[list[str]] = [[] for _ in range(max(labels, default=-1) + 1)]
    for i, label in enumerate(labels):
        got[label].append(names[i])
    return got, components(names, neighbours.__getitem__)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 40).flatmap(
        lambda n: (
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60).map(lambda e: (n, e))
            if n
            else st.just((0, []))
        )
    )
)
def test_the_batch_components_are_the_reference_components(graph) -> None:
    """The batch's numpy execution labels the components ``components`` states, numbered in the
    order ``components`` lists them."""
    got, expected = _batch_components(*graph)
    assert got == expected


def test_the_batch_components_of_long_paths_and_stars() -> None:
    rng = np.random.default_rng(3)
    order = rng.permutation(500).tolist()
    path = list(pairwise(order))
    star = [(0, i) for i in range(1, 300)] + [(i, 499) for i in range(300, 499)] + [(299, 300)]
    for edges in (path, path[::-1], star, [(y, x) for x, y in star]):
        got, expected = _batch_components(500, edges)
        assert got == expected
        assert len(got) == 1


def _match(a: str, b: str, relation: dedup.Relation) -> dedup.Match:
    share = {dedup.Relation.SAME_TEXT: 1.0, dedup.Relation.NONE: 0.0}.get(relation, 0.6)
    return dedup.Match(
        a=a, b=b, is_copy=relation is not dedup.Relation.NONE, relation=relation, rule="test", score=share,
        jaccard=share, containment_a=share, containment_b=share, passage_coverage_a=share,
        passage_coverage_b=share, shared_passages=(), ignored_boilerplate=0,
    )  # fmt: skip


def _two_versions_and_a_text_printed_twice(
    copies: int, y_apart: bool
) -> tuple[list[str], Callable[[str, str], dedup.Match]]:
    """Two versions of a statement, each with its copies (no copies of each other), and one longer
    text carrying both, printed twice word for word (x and y). ``y_apart``: y's comparisons with the
    second version's copies came out otherwise (as when its evidence was read otherwise)."""
    members = [f"a{i:03d}" for i in range(copies)] + [f"b{i:03d}" for i in range(copies)] + ["x", "y"]

    def pair(p: str, q: str) -> dedup.Match:
        ends = {p, q}
        if ends == {"x", "y"}:
            relation = dedup.Relation.SAME_TEXT
        elif y_apart and "y" in ends and (p + q).count("b"):
            relation = dedup.Relation.NONE
        elif ends & {"x", "y"}:
            relation = dedup.Relation.PARTIAL
        else:
            relation = dedup.Relation.NEAR_IDENTICAL if p[0] == q[0] else dedup.Relation.NONE
        return _match(p, q, relation)

    return members, pair


@pytest.mark.parametrize(("copies", "y_apart"), [(5, False), (40, True)])  # linkage; in order of indexing
def test_a_text_printed_twice_word_for_word_is_never_split(copies: int, y_apart: bool) -> None:
    members, pair = _two_versions_and_a_text_printed_twice(copies, y_apart)
    edges = {m: {o for o in members if o != m and pair(m, o).is_copy} for m in members}
    # indexed: the second version's copies, x, the first version's copies, y
    ranked = sorted(members, key=lambda m: (m == "y", m[0] == "a", m != "x" and m[0] != "b", m))
    order = {m: k for k, m in enumerate(ranked)}
    groups, _ = groups_of(members, pair, edges.get, ClusterConfig(), order.__getitem__)
    holding = [g for g in groups if "x" in g or "y" in g]
    assert len(holding) == 1 and {"x", "y"} <= set(holding[0])
    assert sorted(m for g in groups for m in g) == sorted(members)


def test_two_copies_of_one_text_are_one_group_of_verified_copies() -> None:
    pair = lambda p, q: _match(p, q, dedup.Relation.SAME_TEXT)  # noqa: E731
    assert groups_of(["x", "y"], pair, {"x": {"y"}, "y": {"x"}}.get, ClusterConfig(), ["x", "y"].index) == (
        [["x", "y"]],
        "verified copies",
    )
