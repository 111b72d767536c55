"""Stage 6: groups from verified pairs, deterministic and guarded against chaining.

(This stage is ``grouping`` rather than ``cluster`` so that the module does not shadow the one-call
``dedup.cluster()`` function.)

Connected components of the verified-copy graph would glue a chain A≈B≈C≈…≈Z of pairwise-related
but overall unrelated articles into one group. Inside each component we therefore run average
linkage (scipy) on the verified-copy graph itself: two groups merge only when at least
``min_link_fraction`` of the article pairs between them are verified copies. A wire story and its
trimmed copies stay together (each copy matches the full story), a chain falls apart into pairs.
Members are sorted by id before linkage, so the result never depends on the input order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

import numpy as np
import numpy.typing as npt

from dedup.config import ClusterConfig

_EPS = 1e-9


def components(nodes: Iterable[str], neighbours: Callable[[str], Iterable[str]]) -> list[list[str]]:
    """Connected components, each sorted by id, listed by their smallest id."""
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
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        out.append(sorted(comp))
    return out


def split_component(
    members: list[str], is_copy: Callable[[str, str], bool], config: ClusterConfig
) -> tuple[list[list[str]], str]:
    """Split one connected component into groups; returns the groups and how they were formed."""
    members = sorted(members)
    n = len(members)
    if n <= 2:
        return [members], "verified copies" if n == 2 else "no verified copy"
    if n > config.max_exact_size:
        return [members], f"connected component of {n} (larger than max_exact_size: no chaining guard)"
    adjacency = np.zeros((n, n), dtype=np.float64)
    for i in range(n):
        for j in range(i + 1, n):
            if is_copy(members[i], members[j]):
                adjacency[i, j] = adjacency[j, i] = 1.0
    if adjacency.sum() == n * (n - 1):
        return [members], "every pair verified"
    from scipy.cluster.hierarchy import linkage  # (loads scipy.spatial: only for components it splits)
    from scipy.spatial.distance import squareform

    distances = squareform(1.0 - adjacency, checks=False)
    tree = linkage(distances, method="average")
    labels = cut_tree_at(tree, 1.0 - config.min_link_fraction + _EPS)
    groups: dict[int, list[str]] = {}
    for member, label in zip(members, labels, strict=True):
        groups.setdefault(int(label), []).append(member)
    result = sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])
    how = f"average linkage: at least {config.min_link_fraction:.0%} of pairs verified between merged groups"
    return result, how


def cut_tree_at(tree: npt.NDArray[np.float64], height: float) -> list[int]:
    """The flat clusters of scipy's ``fcluster(tree, t=height, criterion="distance")``: leaves
    joined by the merges whose subtree has no merge higher than ``height``. Written here because
    ``fcluster`` costs about 150 us of array-API checks on a tree of ten leaves (measured), more
    than all the comparisons of the article being added; tested equal to it. Labels are the
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


def groups_of(
    component: list[str],
    is_copy: Callable[[str, str], bool],
    edges: Callable[[str], Collection[str] | None],
    config: ClusterConfig,
) -> tuple[list[list[str]], str]:
    """The groups of one component: up to ``complete_up_to`` members every pair is compared
    (``is_copy``), beyond that only the pairs joined by a verified edge (``edges(a)``: a's
    neighbours) count. The stream, the batch and the Spark job all group through here."""
    if len(component) <= config.complete_up_to:
        return split_component(component, is_copy, config)

    def linked(a: str, b: str) -> bool:
        return b in (edges(a) or ()) and is_copy(a, b)

    return split_component(component, linked, config)
