"""Stage 6: groups from verified pairs, deterministic and guarded against chaining.

(This stage is ``grouping`` rather than ``cluster`` so that the module does not shadow the one-call
``dedup.cluster()`` function.)

Connected components of the verified-copy graph would glue a chain A≈B≈C≈…≈Z of pairwise-related
but overall unrelated articles into one group. Inside each component we therefore run average
linkage (scipy) on the verified-copy graph itself: two groups merge only when at least
``min_link_fraction`` of the article pairs between them are verified copies. A wire story and its
trimmed copies stay together (each copy matches the full story), a chain falls apart into pairs.
A digest (a roundup carrying one story among others) would bridge its stories: it is taken out
before linkage and joins the one group that holds the largest share of it.
Members are sorted by id before linkage, so the result never depends on the input order.

A story copied by hundreds of outlets makes one component of hundreds of articles, where linkage
(quadratic in the members) and comparing each new copy with every earlier one would make each
addition cost more than the last. Such components are grouped in the order the articles were
indexed instead (``in_order``): each article is compared with a bounded number of its candidates
(``compared``) and joins the group whose first members (its representatives) it is a copy of. The
chaining guard holds: an article that resembles only the last link of a chain is no copy of the
chain's first members. Every step looks only at articles indexed before, so the groups of the
articles indexed so far never change when a later one comes: the stream keeps them and answers
each addition in a time that does not grow with the size of the story.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Container, Iterable, Sequence

import numpy as np
import numpy.typing as npt

from dedup.config import ClusterConfig
from dedup.records import Match, Relation

_EPS = 1e-9


def components(
    nodes: Iterable[str],
    neighbours: Callable[[str], Iterable[str]],
    joined: Callable[[str, str], bool] | None = None,
) -> list[list[str]]:
    """The connected components that hold ``nodes``, each sorted by id, listed in the order of
    the smallest of ``nodes`` each holds (by their smallest id when ``nodes`` are all of the
    graph's). ``joined(a, b)``, when given, says whether the step from ``a`` to its neighbour
    ``b`` is taken; it is asked only of a neighbour not reached yet (a verdict worked out when
    asked is worked out only for the steps that can reach another article)."""
    seen: set[str] = set()
    out: list[list[str]] = []
    for start in sorted(nodes):
        if start in seen:
            continue
        seen.add(start)
        stack, comp = [start], []
        while stack:
            node = stack.pop()
            comp.append(node)
            for nxt in neighbours(node):
                if nxt not in seen and (joined is None or joined(node, nxt)):
                    seen.add(nxt)
                    stack.append(nxt)
        out.append(sorted(comp))
    return out


def compared(
    candidates: Iterable[str],
    order: Callable[[str], int],
    config: ClusterConfig,
    twins: Callable[[Sequence[str]], Sequence[bool]] | None = None,
    whole: Container[str] = (),
) -> list[str]:
    """The candidates an article is compared with: all of them, or when there are more than
    ``max_compared``, the ones indexed first (lowest ``order``), those proposed by their whole
    text (``whole``: the document index's) before those proposed by a few passages alone, which a
    phrase many articles carry can make many. The first members of a story are its groups'
    representatives (see ``in_order``), so the bound costs a new copy nothing of the evidence its
    group is decided on. A twin of the article (its whole-text signature the
    same: the same text, in all likelihood) is always compared: when none is among those kept, the
    one indexed first is compared as well, so that a text that recurs is found even where a
    passage many articles carry (a site's footer) proposes more candidates than are compared.
    ``twins(ids)`` says which of ``ids`` are twins (one call for all the candidates: a story
    copied by thousands proposes a hundred of them or more to each copy). In the order given."""
    found = list(candidates)
    if len(found) <= config.max_compared:
        return found
    ranked = sorted(found, key=lambda c: (c not in whole, order(c)))
    first = config.max_compared
    kept = set(ranked[:first])
    if twins is not None:
        flags = twins(ranked)
        if not any(flags[:first]):
            kept.update(next(([c] for c, twin in zip(ranked[first:], flags[first:], strict=True) if twin), []))
    return [c for c in found if c in kept]


class InOrder:
    """The groups of a large component built one article at a time in the order of indexing (see
    ``in_order``); ``add`` places the next article. Groups are numbered in the order they were
    opened; ``groups[g]`` lists its members in the order they joined."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.groups: list[list[str]] = []
        self.group_of: dict[str, int] = {}

    def add(
        self,
        article: str,
        earlier_copies: Iterable[str],
        is_copy: Callable[[str, str], bool],
        same_words: Callable[[str, str], bool] | None = None,
    ) -> int:
        """Place ``article`` given its verified copies among the articles placed before: when one of
        them has the same words (``same_words``), it joins that copy's group (the first such copy
        in the order given); else, when one of the first ``representatives`` members of those
        copies' groups it is compared with has the same words, the group of the smallest such id;
        else it joins the group whose representatives it is a copy of in the largest share, at
        least ``min_link_fraction`` (ties: the group opened first), else it opens a group. Returns
        its group. (Comparing it with the representatives finds the copies they are: an article
        placed again, as when its component is grouped anew, is then placed by the first rule
        with the copy found, so the representatives' rule places it where that one would.)"""
        placed = [y for y in earlier_copies if y in self.group_of]
        g = self._choice(article, placed, lambda g: self.groups[g][: self.config.representatives], is_copy, same_words)
        if g is None:
            self.groups.append([article])
            g = len(self.groups) - 1
        else:
            self.groups[g].append(article)
        self.group_of[article] = g
        return g

    def stands(
        self,
        article: str,
        earlier_copies: Iterable[str],
        is_copy: Callable[[str, str], bool],
        same_words: Callable[[str, str], bool] | None,
        before: Callable[[str], bool],
    ) -> bool:
        """Whether a placed ``article`` would be placed where it is if the members placed before it
        (``before(m)``) were placed as they are and it were placed now, given its verified copies
        among them: then a change in its own comparisons with them leaves every group as it is (a
        later member's place depends on it only through its group, and on the groups' first
        members). The groups list their members in the order they joined, so the first
        ``representatives`` of a group when it came are the first of those placed before it."""
        cfg = self.config
        g = self.group_of[article]
        placed = [y for y in earlier_copies if y in self.group_of and before(y)]
        choice = self._choice(
            article, placed, lambda h: [m for m in self.groups[h][: cfg.representatives] if before(m)], is_copy,
            same_words,
        )  # fmt: skip
        return self.groups[g][0] == article if choice is None else choice == g

    def _choice(
        self,
        article: str,
        placed: list[str],
        representatives: Callable[[int], list[str]],
        is_copy: Callable[[str, str], bool],
        same_words: Callable[[str, str], bool] | None,
    ) -> int | None:
        """The group ``add`` places ``article`` in given its placed copies, or None for a new one."""
        twin = next((y for y in placed if same_words(article, y)), None) if same_words else None
        if twin is not None:
            return self.group_of[twin]
        best: tuple[float, int] | None = None
        twins: list[str] = []  # the representatives with the same words
        for g in sorted({self.group_of[y] for y in placed}):
            chosen = representatives(g)
            copies = [r for r in chosen if is_copy(article, r)]
            if same_words:
                twins.extend(r for r in copies if same_words(article, r))
            share = len(copies) / len(chosen)
            if share >= self.config.min_link_fraction - _EPS and (best is None or share > best[0]):
                best = (share, g)
        if twins:
            return self.group_of[min(twins)]
        return None if best is None else best[1]


def in_order(
    members: Sequence[str],
    order: Callable[[str], int],
    copies: Callable[[str], Iterable[str]],
    is_copy: Callable[[str, str], bool],
    config: ClusterConfig,
    same_words: Callable[[str, str], bool] | None = None,
) -> list[list[str]]:
    """The groups of a large component, its members placed one by one in the order they were
    indexed (``order``), each by ``InOrder.add`` on its verified copies (``copies(m)``, in id
    order) among those placed before. Each sorted by id, listed by their smallest id."""
    placed = InOrder(config)
    rank = {m: order(m) for m in members}
    for m in sorted(members, key=rank.__getitem__):
        here = rank[m]
        placed.add(m, sorted(y for y in copies(m) if rank.get(y, here) < here), is_copy, same_words)
    return sorted((sorted(g) for g in placed.groups if g), key=lambda g: g[0])


def split_linked(
    members: list[str],
    adjacency: npt.NDArray[np.float64],
    shares: npt.NDArray[np.float64] | None,
    config: ClusterConfig,
) -> tuple[list[list[str]], str]:
    """Split one connected component into groups; returns the groups and how they were formed.
    ``members`` sorted, ``adjacency`` their verified-copy graph (``adjacency[i, j]``: 1.0 for a
    verified copy), ``shares[i, j]`` for the copies the share of i's text found in j; given, a
    digest among the members (see ``digests``) is grouped with one of its stories at most."""
    n = len(members)
    if n <= 2:
        return [members], "verified copies" if n == 2 else "no verified copy"
    if adjacency.sum() == n * (n - 1):
        return [members], "every pair verified"
    how = f"average linkage: at least {config.min_link_fraction:.0%} of pairs verified between merged groups"
    found = digests(adjacency, shares, config) if shares is not None else []
    if shares is None or not found:
        return _named(members, _linkage(adjacency, config)), how
    core = [i for i in range(n) if i not in set(found)]
    groups = [[core[x] for x in g] for g in _linkage(adjacency[np.ix_(core, core)], config)]
    groups.extend(_attach(found, groups, adjacency, shares, config))
    return _named(members, groups), how + "; a digest joins one of its stories at most"


def load_linkage() -> None:
    """Import what average linkage runs on (scipy's hierarchy, which loads ``scipy.spatial``) now
    rather than when the first component is split: a stream calls this as it starts, so that
    the addition that first needs it does not pay for the import."""
    for module in ("scipy.cluster.hierarchy", "scipy.spatial.distance"):
        importlib.import_module(module)


def _linkage(adjacency: npt.NDArray[np.float64], config: ClusterConfig) -> list[list[int]]:
    """Average linkage on a verified-copy graph: the groups as lists of positions."""
    n = len(adjacency)
    if n <= 1:
        return [list(range(n))]
    from scipy.cluster.hierarchy import linkage  # (loads scipy.spatial: only for components it splits)
    from scipy.spatial.distance import squareform

    distances = squareform(1.0 - adjacency, checks=False)
    labels = cut_tree_at(linkage(distances, method="average"), 1.0 - config.min_link_fraction + _EPS)
    groups: dict[int, list[int]] = {}
    for position, label in enumerate(labels):
        groups.setdefault(label, []).append(position)
    return list(groups.values())


def _named(members: list[str], groups: list[list[int]]) -> list[list[str]]:
    """Groups of positions as groups of ids, each sorted, listed by their smallest id."""
    return sorted((sorted(members[i] for i in g) for g in groups if g), key=lambda g: g[0])


def digests(adjacency: npt.NDArray[np.float64], shares: npt.NDArray[np.float64], config: ClusterConfig) -> list[int]:
    """The positions of the digests: a member that carries two different stories. A story of a
    digest d is a copy x of d that is mostly inside d (``shares[x, d] >= digest_part``) while
    little of d is inside x (``shares[d, x] <= digest_share``); d is a digest when two of its
    stories x and y are no copies of each other and each is carried by another article too (a
    copy of x other than d that is no copy of y, and the reverse). A full story with trimmed
    copies of different parts is no digest: each part has no other copy."""
    linked = adjacency > 0
    # story[x, d]: x is a story of d
    story = linked & (shares >= config.digest_part) & (shares.transpose() <= config.digest_share)
    found: list[int] = []
    for d in np.flatnonzero(story.sum(axis=0) >= 2).tolist():
        parts = np.flatnonzero(story[:, d])
        # the pairs of its stories that are no copies of each other
        xs, ys = np.nonzero(np.triu(~linked[np.ix_(parts, parts)], 1))
        if any(
            _carried(linked, x, d, y) and _carried(linked, y, d, x)
            for x, y in zip(parts[xs].tolist(), parts[ys].tolist(), strict=True)
        ):
            found.append(d)
    return found


def _carried(linked: npt.NDArray[np.bool_], x: int, d: int, y: int) -> bool:
    """Whether story x has a copy besides d that is no copy of y (and is not y)."""
    return any(z not in (d, y) and not linked[z, y] for z in np.flatnonzero(linked[x]).tolist())


def _attach(
    found: list[int],
    groups: list[list[int]],
    adjacency: npt.NDArray[np.float64],
    shares: npt.NDArray[np.float64],
    config: ClusterConfig,
) -> list[list[int]]:
    """Each digest joins the one group holding the largest share of it (``shares[d, m]`` over the
    members m it is a copy of; ties to the group listed first); the same digest printed twice
    (either mostly inside the other) joins as one. Digests with no group form groups of their own
    by average linkage. Changes ``groups``; returns the new groups."""
    of = {m: k for k, g in enumerate(groups) for m in g}
    same = components(
        [str(d) for d in found],
        lambda d: [
            str(e)
            for e in found
            if e != int(d)
            and adjacency[int(d), e] > 0
            and min(shares[int(d), e], shares[e, int(d)]) >= config.digest_same
        ],
    )
    alone: list[int] = []
    for printing in same:
        ds = sorted(int(d) for d in printing)
        best: tuple[float, int] | None = None
        for d in ds:
            for m in np.flatnonzero(adjacency[d] > 0).tolist():
                if m in of:
                    score = (float(shares[d, m]), -min(groups[of[m]]))
                    if best is None or score > (best[0], -min(groups[best[1]])):
                        best = (score[0], of[m])
        if best is None:
            alone.extend(ds)
        else:
            groups[best[1]].extend(ds)
    if not alone:
        return []
    return [[alone[x] for x in g] for g in _linkage(adjacency[np.ix_(alone, alone)], config)]


def cut_tree_at(tree: npt.NDArray[np.float64], height: float) -> list[int]:
    """The flat clusters of scipy's ``fcluster(tree, t=height, criterion="distance")``: leaves
    joined by the merges whose subtree has no merge higher than ``height``. Written here because
    ``fcluster``'s array-API checks cost more on a tree of ten leaves than all the comparisons of
    the article being added; tested equal to it. Labels are the
    smallest leaf of each cluster."""
    n = len(tree) + 1
    parent = list(range(2 * n - 1))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    highest = [0.0] * (2 * n - 1)  # the highest merge in each node's subtree
    for i, (left, right, dist, _) in enumerate(tree.tolist()):
        node, a, b = n + i, int(left), int(right)
        highest[node] = max(dist, highest[a], highest[b])
        if highest[node] <= height:
            parent[root(a)] = parent[root(b)] = node
    roots = [root(leaf) for leaf in range(n)]
    first: dict[int, int] = {}
    return [first.setdefault(r, leaf) for leaf, r in enumerate(roots)]


IN_ORDER = "in order of indexing: each article joins the group whose first members it is a copy of"


def groups_of(
    component: list[str],
    pair: Callable[[str, str], Match],
    edges: Callable[[str], Collection[str] | None],
    config: ClusterConfig,
    order: Callable[[str], int],
    verified: bool = False,
) -> tuple[list[list[str]], str]:
    """The groups of one component: up to ``complete_up_to`` members every pair is compared
    (``pair``), up to ``max_exact_size`` only the pairs joined by a verified edge (``edges(a)``:
    a's neighbours) count, and larger components are grouped ``in_order`` of indexing
    (``order(a)``: a's rank). ``verified``: every edge is a verified copy (else each is confirmed
    by ``pair``). The stream, the batch and the Spark job all group through here."""
    if len(component) > config.max_exact_size:
        asked = _asked_once(pair)

        def same_words(a: str, b: str) -> bool:
            return asked(a, b).relation is Relation.SAME_TEXT

        def copies(a: str) -> Iterable[str]:
            near = edges(a) or ()
            return near if verified else [b for b in sorted(near) if asked(a, b).is_copy]

        return in_order(component, order, copies, lambda a, b: asked(a, b).is_copy, config, same_words), IN_ORDER

    component = sorted(component)
    # Articles with the same words are one member of the linkage (every copy of one is a copy of
    # the other, and ties between such equal rows could put the two in different groups).
    read = _edge_pairs(component, pair, edges)
    printed = _printed(component, read)  # each text by its smallest id, with every copy of it
    kept = sorted(printed)
    complete = len(component) <= config.complete_up_to
    groups, how = split_linked(*_linked(component, kept, read, pair, complete), config)
    if len(kept) == len(component):
        return groups, how
    if len(kept) == 1:  # one text printed several times
        how = "verified copies"
    return sorted((sorted(t for m in g for t in printed[m]) for g in groups), key=lambda g: g[0]), how


def _edge_pairs(
    component: list[str], pair: Callable[[str, str], Match], edges: Callable[[str], Collection[str] | None]
) -> dict[tuple[int, int], Match]:
    """The match of every pair of the component (sorted) joined by an edge, each asked once, by
    the two members' positions (the smaller first)."""
    position = {m: i for i, m in enumerate(component)}
    read: dict[tuple[int, int], Match] = {}
    for i, a in enumerate(component):
        # (in id order, and a copy: asking a pair may compare it again, which can change its edge)
        for b in sorted(edges(a) or ()):
            j = position.get(b, i)
            if j == i:
                continue
            key = (i, j) if i < j else (j, i)
            if key not in read:
                read[key] = pair(a, b)
    return read


def _printed(component: list[str], read: dict[tuple[int, int], Match]) -> dict[str, list[str]]:
    """The component's texts: its members joined by edges whose matches have the same words, each
    listed under its smallest id."""
    same: dict[str, list[str]] = {}
    for (i, j), match in read.items():
        if match.relation is Relation.SAME_TEXT:
            a, b = component[i], component[j]
            same.setdefault(a, []).append(b)
            same.setdefault(b, []).append(a)
    return {text[0]: text for text in components(component, lambda m: same.get(m, ()))}


def _linked(
    component: list[str],
    kept: list[str],
    read: dict[tuple[int, int], Match],
    pair: Callable[[str, str], Match],
    complete: bool,
) -> tuple[list[str], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The verified-copy graph of ``kept`` (sorted members of ``component``, which is sorted) for
    ``split_linked``, and the shares of each copy's text found in the other: every pair compared
    (``complete``; those not joined by an edge asked now, in row order), else the pairs joined by
    an edge (``read``, by position in the component)."""
    n = len(kept)
    adjacency = np.zeros((n, n), dtype=np.float64)
    shares = np.zeros((n, n), dtype=np.float64)
    if n <= 2:
        return kept, adjacency, shares
    position = {m: i for i, m in enumerate(component)}
    at = [position[m] for m in kept]
    rows: list[int] = []
    cols: list[int] = []
    share_ab: list[float] = []
    share_ba: list[float] = []
    for i, a in enumerate(kept):
        x = at[i]
        for j in range(i + 1, n):
            match = read.get((x, at[j]))
            if match is None:
                if not complete:
                    continue
                match = pair(a, kept[j])
            if match.is_copy:
                rows.append(i)
                cols.append(j)
                share_ab.append(share_inside(match, a))
                share_ba.append(share_inside(match, kept[j]))
    adjacency[rows, cols] = adjacency[cols, rows] = 1.0
    shares[rows, cols] = share_ab
    shares[cols, rows] = share_ba
    return kept, adjacency, shares


def _asked_once(pair: Callable[[str, str], Match]) -> Callable[[str, str], Match]:
    """``pair`` asked once per pair of articles: grouping a component asks each pair several
    times (a copy, the same words, how much of each lies in the other), and the evidence does not
    change while it groups."""
    asked: dict[tuple[str, str], Match] = {}

    def once(a: str, b: str) -> Match:
        key = (a, b) if a < b else (b, a)
        match = asked.get(key)
        if match is None:
            match = asked[key] = pair(a, b)
        return match

    return once


def share_inside(match: Match, article: str) -> float:
    """The share of ``article``'s text (one of the match's two) found in the other: its
    containment, or the share of its words in shared passages when that is larger (a rewrite)."""
    if article == match.a:
        return max(match.containment_a, match.passage_coverage_a)
    return max(match.containment_b, match.passage_coverage_b)
