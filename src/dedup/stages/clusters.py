"""Clusters from a component of verified copies: its groups (``grouping``) and each group's
earliest source (``provenance``), as the batch and the Spark job build them."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from dedup.config import DedupConfig
from dedup.records import Article, Cluster, Match
from dedup.stages.grouping import IN_ORDER, groups_of
from dedup.stages.provenance import Candidate, build_cluster, candidate, find_credits, text_date_of


def assemble(
    members: list[str],
    articles: dict[str, Article],
    seq: Callable[[str], int],
    edges: Callable[[str], Collection[str] | None],
    pair: Callable[[str, str], Match],
    config: DedupConfig,
) -> list[Cluster]:
    """The clusters of one connected component of verified copies (members in id order): its
    groups (the chaining guard) and each group's earliest source. ``seq(m)`` is m's rank in the
    batch's id order, ``edges(m)`` its verified copies; ``pair(x, y)`` compares two members
    (and is expected to remember)."""

    def candidate_of(member: str, with_evidence: bool) -> Candidate:
        article = articles[member]
        text_date = text_date_of(article, config.provenance) if with_evidence else None
        return candidate(article, seq(member), text_date, ())

    def credits_of(member: str) -> tuple[str, ...]:
        return find_credits(articles[member].text, config.provenance)

    groups, how = groups_of(members, pair, edges, config.cluster, seq, verified=True)

    def before(member: str) -> list[str]:
        here = seq(member)
        return sorted(y for y in edges(member) or () if seq(y) < here)  # ties: the smallest id

    near = before if how == IN_ORDER else None
    return [
        build_cluster(
            group,
            how if len(group) > 1 else "no verified copy",
            candidate_of,
            pair,
            config.provenance,
            credits_of,
            near,
        )
        for group in groups
    ]


def alone(article: Article, seq: int, config: DedupConfig) -> Cluster:
    """The cluster of an article without a verified copy; ``seq`` is its rank in the id order."""
    only = candidate(article, seq, None, ())
    return build_cluster([only.id], "no verified copy", _Only(only), _no_pair, config.provenance)


@dataclass(frozen=True)
class _Only:
    """``candidate_of`` for a cluster of one article."""

    only: Candidate

    def __call__(self, member: str, with_evidence: bool) -> Candidate:
        return self.only


def _no_pair(a: str, b: str) -> Match:  # pragma: no cover - a single article is never compared
    raise AssertionError(f"a single-article cluster compared {a} and {b}")
