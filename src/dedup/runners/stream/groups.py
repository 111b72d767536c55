"""The stream's clusters: the groups of the articles in memory and their records, and what each
member was last answered.

A component of the verified-copy graph is grouped when an answer needs it (``grouping.groups_of``)
and each group becomes a cluster record (``provenance.build_cluster``). A component larger than
``ClusterConfig.max_exact_size`` is grouped in order of indexing (``grouping.InOrder``) and its
groups are kept: a new copy of a large story is placed in them at once (``place``; one another
worker added too, as it is read from a shared index), and the record of its group grows by the
members placed since, one at a time, when the earliest stands (``provenance.grown``) instead of
being built again. A ``Watch`` per kept component notes what its comparisons were last checked
under; when they changed since, the kept groups stand, are read again for the members concerned
(``provenance.revised``), or are dropped and built again when next asked for (``_current``).

A cluster's id is made from its anchor, the member indexed first (``provenance.cluster_id``). With
a window, the anchor leaves before its cluster does: the id is passed on to the member indexed
first among those left that had it (``pass_on``, ``heir``), so that a cluster keeps its id while
any of its members is in memory (``id_of``).

Every change made while an article is added is recorded in ``journal`` (the add's ``Undo``), so
that an add that fails leaves the groups as they were.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterable, Iterator
from functools import partial

from dedup._undo import Undo
from dedup.config import DedupConfig
from dedup.records import Cluster, Match, Relation
from dedup.runners.stream.replica import Replica
from dedup.runners.stream.watch import Watch
from dedup.stages.grouping import IN_ORDER, InOrder, components, groups_of
from dedup.stages.pairs import PairCache
from dedup.stages.provenance import (
    Candidate,
    build_cluster,
    candidate,
    cluster_id,
    grown,
    provenance_inputs,
    regrown,
    revised,
)
from dedup.stores.base import Answers


class Groups:
    """The clusters of the articles in ``replica``, from the comparisons of ``pairs`` (see the
    module docstring)."""

    def __init__(self, config: DedupConfig, replica: Replica, pairs: PairCache) -> None:
        self.config = config
        self._replica = replica
        self._pairs = pairs
        self._journal: Undo | None = None
        # each member's earliest source when last answered (since another worker last answered)
        self.earliest: dict[str, str] = {}
        self.cluster_ids: dict[str, str] = {}  # each member's cluster id when last answered
        self.merged: tuple[str, ...] = ()  # the other ids the last built cluster's members had
        # the members whose answer changed during the add in progress, each with the cluster id it
        # had when the add began: a cluster built to look an answer up is no answer (``_note``)
        self._had: dict[str, str | None] = {}
        # the ids of clusters whose first member left the window, passed on to the member indexed
        # first among those left that had it: each such member's id, and each id's heir
        self.heirs: dict[str, str] = {}
        self.heir_of: dict[str, str] = {}
        # the groups of each component larger than ``max_exact_size``, built in order of indexing
        # (``grouping.InOrder``) and kept: a new copy of a large story is placed in them at once
        self._large: dict[str, InOrder] = {}
        # the last cluster record of each kept group, with the member of the time after the
        # earliest's, grown by one member at a time (``provenance.grown``)
        self._records: weakref.WeakKeyDictionary[InOrder, dict[int, tuple[Cluster, Candidate | None]]] = (
            weakref.WeakKeyDictionary()
        )
        # what each kept component's comparisons were last checked under (``watch``)
        self._watches: weakref.WeakKeyDictionary[InOrder, Watch] = weakref.WeakKeyDictionary()

    @property
    def journal(self) -> Undo | None:
        """The journal of the add in progress (None between adds)."""
        return self._journal

    @journal.setter
    def journal(self, undo: Undo | None) -> None:
        self._journal, self._had = undo, {}

    @property
    def answers(self) -> Answers:
        """The answers the add in progress changed: each such member's cluster id and earliest
        source now."""
        ids, earliest = self.cluster_ids, self.earliest
        return {m: (ids[m], earliest[m]) for m in self._had if m in ids and m in earliest}

    def seq(self, article_id: str) -> int:
        return self._replica.entries[article_id].seq

    # -- cluster ids ------------------------------------------------------------------------------
    def id_of(self, anchor: str) -> str:
        """The id of the cluster whose first member in memory is ``anchor``: the id passed on to it
        when its cluster's first member left the window, else its own (``provenance.cluster_id``),
        unless that was passed on to another member (an id indexed again after it left the
        window): then one made of its id and its ingest number."""
        inherited = self.heirs.get(anchor)
        if inherited is not None:
            return inherited
        own = cluster_id(anchor)
        if own in self.heir_of:
            return cluster_id(f"{anchor}\x00{self.seq(anchor)}")
        return own

    def pass_on(self, cluster: str, heir: str) -> None:
        """``heir`` takes the id ``cluster`` (``id_of``)."""
        self.heirs[heir], self.heir_of[cluster] = cluster, heir

    def heir(self, first: str, cluster: str) -> str | None:
        """The member indexed first, after ``first``, among the members last answered in
        ``cluster`` (found along the copies from ``first``: a cluster's members are linked)."""
        ids, edges, seq = self.cluster_ids, self._pairs.edges, self.seq
        (reached,) = components([first], lambda node: edges.get(node, ()), lambda _, other: ids.get(other) == cluster)
        others = [m for m in reached if m != first]
        return min(others, key=lambda m: (seq(m), m)) if others else None

    def heirs_read(self, left: set[str]) -> None:
        """After reading a store with a window: the clusters whose first member left it (one of
        ``left``) pass their id on to the member indexed first among those read that had it, as
        the window does (a cluster whose first member was removed does not)."""
        retired = {cluster_id(article_id) for article_id in left}
        members: dict[str, list[str]] = {}
        for member, cluster in self.cluster_ids.items():
            if cluster in retired:
                members.setdefault(cluster, []).append(member)
        for cluster, group in members.items():
            first = min(group, key=lambda m: (self.seq(m), m))
            if self.id_of(first) != cluster:
                self.pass_on(cluster, first)

    def leave(self, article_id: str) -> tuple[str, str] | None:
        """For an article about to leave the window: its cluster id and the member that takes it
        on, when the id was the article's own (None otherwise)."""
        cluster = self.cluster_ids.get(article_id)
        if cluster is not None and self.id_of(article_id) == cluster:
            heir = self.heir(article_id, cluster)
            if heir is not None:
                return cluster, heir
        return None

    def answered_elsewhere(self, answers: Answers | None) -> None:
        """Another worker of a shared index added an article and gave these ``answers`` (each
        article's cluster id and earliest source where they changed): they become this worker's
        last answers, as if it had given them, so that the workers answer alike. Unknown (None,
        an entry written by an older version): every earliest source answered here is forgotten
        (found again, when needed, from the clusters as they are)."""
        if answers is None:
            self.earliest = {}
            return
        entries = self._replica.entries
        for member, (cluster, earliest) in answers.items():
            if member in entries:
                self.cluster_ids[member], self.earliest[member] = cluster, earliest

    def removing(self, article_id: str) -> None:
        """An article about to be removed: the members linked to it that were last answered with it
        as their earliest source forget that answer, found again from the clusters as they are
        when next needed (as for an earliest source that left the window), so that its id, added
        again later for another article, is not taken for their earliest source."""
        earliest, edges = self.earliest, self._pairs.edges
        (reached,) = components([article_id], lambda node: edges.get(node, ()))
        for member in reached:
            if member != article_id and earliest.get(member) == article_id:
                del earliest[member]

    def regroup(self) -> None:
        """Drop every kept group (built again when next asked for): articles read in without being
        placed (those added after a saved state, or a catch-up with the other workers that failed
        part way) may have joined their components."""
        self._large.clear()

    def forget(self, article_id: str) -> None:
        """Take an article out of the groups and the answers kept."""
        inherited = self.heirs.pop(article_id, None)
        if inherited is not None and self.heir_of.get(inherited) == article_id:
            del self.heir_of[inherited]
        placed = self._large.get(article_id)
        if placed is not None:
            self._drop(placed, None)
        self.earliest.pop(article_id, None)
        self.cluster_ids.pop(article_id, None)

    # -- placing a new article ----------------------------------------------------------------------
    def place(self, art_id: str, matches: list[Match], undo: Undo | None) -> None:
        """Place a new article in the kept groups of a large component when its copies all lie in
        one; when they join it to other components, those components' groups are built again
        when next asked for (``groups``). ``undo``: the journal of the add (None for an article
        another worker added, read from a shared index)."""
        copies = [m.other(art_id) for m in matches]
        kept = {id(self._large[c]): self._large[c] for c in copies if c in self._large}
        if not kept:
            return
        if len(kept) > 1 or any(c not in self._large for c in copies):
            for placed in kept.values():
                self._drop(placed, undo)
            return
        placed = next(iter(kept.values()))
        if not self._current(placed):
            return
        if undo is not None:
            undo.call(lambda: self._drop(placed, None))
        pair = self._pairs.pair
        placed.add(
            art_id,
            sorted(copies),
            lambda a, b: pair(a, b).is_copy,
            lambda a, b: pair(a, b).relation is Relation.SAME_TEXT,
        )
        self._large[art_id] = placed
        self._watches[placed].join(art_id, matches, self._pairs, undo)

    def _current(self, placed: InOrder) -> bool:
        """Whether the kept groups of a large component stand, checked against the comparisons as
        they are now (``watch``): when one of its members' comparisons changed whether it is a
        copy in a way that can move a member (``_flips_stand``), the groups are dropped (built
        again when next asked for); when one changed otherwise, the cluster records of the groups
        holding its two articles are read again for those members (``provenance.revised``), or
        dropped (built again when next asked for)."""
        undo = self.journal
        watch = self._watches.get(placed)
        change = None if watch is None else watch.check(placed.group_of.keys(), self._pairs, undo)
        if change is None or (change.regroup and not (change.flipped and self._flips_stand(placed, change.flipped))):
            self._drop(placed, undo)
            return False
        records = self._records.get(placed)
        if change.revised and records:
            for g in sorted({placed.group_of[m] for m in change.revised}):
                if undo is not None:
                    undo.item(records, g)
                kept = records.pop(g, None)
                changed = [self._candidate(m, True) for m in sorted(change.revised) if placed.group_of[m] == g]
                record = None if kept is None else revised(kept[0], changed, self.before, self._pairs.pair)
                if kept is not None and record is not None:
                    records[g] = (record, kept[1])
        return True

    def _flips_stand(self, placed: InOrder, flipped: Iterable[tuple[str, str]]) -> bool:
        """Whether the kept groups of a large component stand although these comparisons changed
        whether they are a copy: both articles are members, the later one would be placed where
        it is (``InOrder.stands``), and two that are no copy any more are still joined through a
        member that is a copy of both (the component holds together)."""
        pairs, group_of, seq = self._pairs, placed.group_of, self.seq

        def is_copy(a: str, b: str) -> bool:
            return pairs.pair(a, b).is_copy

        def same_words(a: str, b: str) -> bool:
            return pairs.pair(a, b).relation is Relation.SAME_TEXT

        for a, b in flipped:
            if a not in group_of or b not in group_of:
                return False
            x, y = sorted((a, b), key=seq)
            here = seq(y)
            near = set(pairs.edges.get(y, ()))  # (asking a pair may change its edge)
            copies = sorted(z for z in near if z in group_of and seq(z) < here and is_copy(y, z))
            if not placed.stands(y, copies, is_copy, same_words, partial(_before, seq, here)):
                return False
            if not is_copy(x, y) and not any(
                is_copy(x, z) and is_copy(y, z) for z in sorted(near & pairs.edges.get(x, {}).keys()) if z in group_of
            ):
                return False
        return True

    def _drop(self, placed: InOrder, undo: Undo | None) -> None:
        """Forget the kept groups of one large component (built again when next asked for)."""
        for member in placed.group_of:
            if undo is not None:
                undo.item(self._large, member)
            self._large.pop(member, None)

    # -- the clusters ---------------------------------------------------------------------------
    def _groups(self, component: list[str]) -> tuple[list[list[str]], str]:
        """The groups of one component; a large one's groups are kept (see ``place``)."""
        placed = self._large.get(component[0])
        if placed is not None and len(placed.group_of) != len(component):
            self._drop(placed, self.journal)  # the component changed since its groups were kept
        elif placed is not None and self._current(placed):
            return [sorted(g) for g in placed.groups if g], IN_ORDER
        pairs = self._pairs
        groups, how = groups_of(component, pairs.pair, pairs.edges.get, self.config.cluster, self.seq)
        if how == IN_ORDER:
            self._keep(component, groups)
        return groups, how

    def _keep(self, component: list[str], groups: list[list[str]]) -> None:
        """Keep the groups ``groups_of`` built for a large component, each in order of indexing."""
        placed = InOrder(self.config.cluster)
        for group in sorted((sorted(g, key=self.seq) for g in groups), key=lambda g: self.seq(g[0])):
            placed.groups.append(group)
            for member in group:
                placed.group_of[member] = len(placed.groups) - 1
        undo = self.journal
        for member in component:
            if undo is not None:
                undo.item(self._large, member)
            self._large[member] = placed
        self._watches[placed] = Watch(component, self._pairs)

    def cluster_of(self, article_id: str) -> Cluster:
        """The cluster that holds ``article_id`` (an article in memory) now."""
        placed = self._large.get(article_id)
        if placed is not None and self._current(placed):
            return self._kept_cluster(placed, placed.group_of[article_id])
        component = self._pairs.component(article_id)
        groups, how = self._groups(component)
        group = next(g for g in groups if article_id in g)
        return self._build_cluster(group, how if len(group) > 1 else "no verified copy")

    def clusters(self) -> Iterator[Cluster]:
        """Every cluster of the articles in memory, singletons included, component after component
        (each listed by its smallest id)."""
        for component in self._pairs.components(self._replica.entries):
            groups, how = self._groups(component)
            placed = self._large.get(component[0]) if how == IN_ORDER else None
            for group in groups:
                if placed is not None:  # a large component's groups: their kept records
                    yield self._kept_cluster(placed, placed.group_of[group[0]])
                else:
                    yield self._build_cluster(group, how if len(group) > 1 else "no verified copy")

    def _kept_cluster(self, placed: InOrder, g: int) -> Cluster:
        """The cluster of a kept group of a large component: the record kept for it when the group
        has not changed since, grown by the member placed last when the earliest stands, else built
        again."""
        group = placed.groups[g]
        records = self._records.setdefault(placed, {})
        kept = records.get(g)
        if kept is not None and len(kept[0]) < len(group):
            # the members placed since, one at a time in the order they were placed (another
            # worker's copies, read from a shared index, come several at a time)
            for at in range(len(kept[0]), len(group)):
                grew = self._grown(kept, group, at)
                if grew is None:
                    break
                kept = records[g] = grew
                self._note(group[at], grew[0])
        if kept is not None and len(kept[0]) == len(group):
            self.merged = ()
            return kept[0]
        how = IN_ORDER if len(group) > 1 else "no verified copy"
        cluster = self._build_cluster(sorted(group), how, near=self.before)
        records[g] = (cluster, self._following(cluster))
        return cluster

    def _grown(
        self, kept: tuple[Cluster, Candidate | None], group: list[str], at: int
    ) -> tuple[Cluster, Candidate | None] | None:
        """The kept record of a group (with the member of the time after the earliest's) grown by
        its member placed ``at`` (the record holds those placed before), when the earliest stands:
        chosen by time and ``provenance.grown``, else chosen again (``provenance.regrown``), when
        that member did not come before the earliest's time. None when it must be built again."""
        cluster, following = kept
        new = self._candidate(group[at], True)
        first = self._candidate(cluster.earliest, True)
        # the member's copies indexed before it, read when its record is made: choosing the
        # earliest again may compare it with members it was not compared with yet, as building
        # the record anew would have
        before = partial(self.before, new.id)
        grew = grown(cluster, first, following, new, _read_late(before), self._pairs.pair)
        if grew is not None:
            return grew
        if new.known_time is not None and first.known_time is not None and new.known_time[0] < first.known_time[0]:
            return None  # (an earlier time: the earliest changes)
        members = itertools.islice(group, at + 1)
        regrew = regrown(
            cluster, members, partial(self._candidate, with_evidence=True), new, _read_late(before), self._pairs.pair,
            self.config.provenance,
        )  # fmt: skip
        return None if regrew is None else (regrew, self._following(regrew))

    def _following(self, cluster: Cluster) -> Candidate | None:
        """The member of the time after the earliest's, when its time chose it (``grown``)."""
        following = cluster.evidence.values.get("next", {}).get("id")
        return None if following is None else self._candidate(following, True)

    def before(self, member: str) -> list[str]:
        """The articles indexed before ``member`` that it was compared with and found a copy of, in
        id order (the first of equally good copies is the one a member is matched with)."""
        entries = self._replica.entries
        here = entries[member].seq
        return sorted(y for y in self._pairs.edges.get(member, ()) if entries[y].seq < here)

    def _note(self, member: str, cluster: Cluster) -> str | None:
        """Remember ``cluster`` as the member's last answer (its earliest source and cluster id);
        returns the other cluster id it had before, if any: during an add, the one it had when the
        add began (the clusters an add builds to look up its matches' earliest sources may note
        the member before its verdict's cluster does)."""
        undo, ids, earliest = self.journal, self.cluster_ids, self.earliest
        before = ids.get(member)
        if undo is not None:
            if earliest.get(member) != cluster.earliest or before != cluster.id:
                self._had.setdefault(member, before)
            before = self._had.get(member, before)
        if earliest.get(member) != cluster.earliest:
            if undo is not None:
                undo.item(earliest, member)
            earliest[member] = cluster.earliest
        if ids.get(member) != cluster.id:
            if undo is not None:
                undo.item(ids, member)
            ids[member] = cluster.id
        return before if before is not None and before != cluster.id else None

    def _candidate(self, member: str, with_evidence: bool) -> Candidate:
        entry = self._replica.entries[member]
        if not with_evidence:
            return entry.plain
        if entry.candidate is None:
            article = self._replica.article(member)
            text_date, credits = provenance_inputs(article, self.config.provenance)
            # a text that gives neither a date nor a credit adds nothing to the plain record: that
            # one is kept (one record less per member held, and one object less for the collector)
            found = text_date is not None or credits
            entry.candidate = candidate(article, entry.seq, text_date, credits) if found else entry.plain
        return entry.candidate

    def _build_cluster(self, group: list[str], how: str, near: Callable[[str], Iterable[str]] | None = None) -> Cluster:
        """The cluster of ``group``, remembered as its members' last answer (their earliest source and
        cluster id); ``merged`` is set to the other cluster ids they had before (for the verdict)."""
        if near is None and how == IN_ORDER:  # as the kept records and the batch match them
            near = self.before
        cluster = build_cluster(
            group, how, self._candidate, self._pairs.pair, self.config.provenance, near=near, id_of=self.id_of
        )
        merged = {before for member in group if (before := self._note(member, cluster)) is not None}
        self.merged = tuple(sorted(merged))
        return cluster


def _before(seq: Callable[[str], int], here: int, member: str) -> bool:
    """Whether ``member`` was indexed before the article indexed at ``here``."""
    return seq(member) < here


def _read_late(read: Callable[[], Iterable[str]]) -> Iterator[str]:
    """What ``read()`` gives, read when first iterated rather than now."""
    yield from read()
