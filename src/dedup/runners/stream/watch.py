"""The check that keeps a large story's kept groups and cluster records true to the comparisons.

A component larger than ``max_exact_size`` is grouped once, in order of indexing, and its groups
and cluster records are kept and grown one member at a time (``Deduplicator``), instead of being
built again from every comparison at each answer. The comparisons they were built from can change
afterwards: the learned boilerplate or the formula counts move as the stream goes on, and the pair
cache (``dedup.stages.pairs``) then decides a remembered comparison again when it is next asked for.
Kept groups are never asked again by themselves, so a ``Watch`` per kept component notes what its
members' comparisons were last checked under, and before the kept state is used:

- when neither the boilerplate's version nor any source's formula version moved, nothing can have
  changed;
- else the suspects are the members whose learned boilerplate sentences differ from those noted
  (their comparisons leave out other sentences now), looked for among the members that carry a
  sentence whose verdict changed since the last check (all of them when the boilerplate model no
  longer knows which changed), and the members with a comparison the formula
  test can change whose source, or whose other end's source, has a formula version that moved; each
  suspect's remembered comparisons are asked again (``PairCache.recheck``), and the pair cache's
  record of revised comparisons (``PairCache.revised``) tells which members' comparisons came out
  otherwise since the last check, whoever asked.

A comparison that changed whether it is a copy changes the component, whose groups must be built
again; other figures only change the cluster records of the groups that hold its articles.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Set
from dataclasses import dataclass
from functools import partial

from dedup._undo import Undo
from dedup.records import Match
from dedup.stages.pairs import PairCache

_NONE: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Change:
    """What a check found: the members with a comparison that came out otherwise, whether one of
    them changed whether it is a copy, and those comparisons (the pairs, each in id order)."""

    revised: frozenset[str]
    regroup: bool
    flipped: frozenset[tuple[str, str]] = frozenset()


UNCHANGED = Change(frozenset(), False)


class Watch:
    """What the comparisons of one kept component's members were last checked under."""

    __slots__ = ("boilerplate", "by_source", "carriers", "formula", "learned", "revisions", "sources")

    def __init__(self, members: Collection[str], pairs: PairCache) -> None:
        self.boilerplate = pairs.boilerplate_version()
        self.formula = pairs.formula_versions()
        self.revisions = pairs.revisions
        # each member's learned boilerplate sentences when checked (absent: none)
        self.learned: dict[str, frozenset[int]] = {}
        # the members noted that carry each sentence (members that left are skipped when read); the
        # members of each sentence and source below are a dict's keys (see ``PairCache.edges``)
        self.carriers: dict[int, dict[str, None]] = {}
        # the sources of the comparisons the formula test can change, with their formula version
        # when checked, and the members with such a comparison by the source of either end
        self.sources: dict[str | None, int] = {}
        self.by_source: dict[str | None, dict[str, None]] = {}
        for member in members:
            self._carry(member, pairs, None)
            self._note(member, pairs, None)
        # a large story's members are each other's copies: each comparison is noted once, and
        # each member's source read once
        source_of = functools.cache(pairs.source_of)
        for a, b in pairs.formula_sensitive(members):
            self._sensitive(a, b, pairs, None, source_of)

    def _carry(self, member: str, pairs: PairCache, undo: Undo | None) -> None:
        """Note the sentences a new member carries."""
        carriers = self.carriers
        for fp in set(pairs.fingerprints(member).tolist()):
            held = carriers.get(fp)
            if held is None:
                if undo is not None:
                    undo.item(carriers, fp)
                carriers[fp] = {member: None}
            elif member not in held:
                if undo is not None:
                    undo.call(partial(held.pop, member, None))
                held[member] = None

    def _note(self, member: str, pairs: PairCache, undo: Undo | None) -> None:
        learned = pairs.learned(member)
        if learned != self.learned.get(member, _NONE):
            if undo is not None:
                undo.item(self.learned, member)
            if learned:
                self.learned[member] = frozenset(learned)
            else:
                self.learned.pop(member, None)

    def _sensitive(
        self,
        a: str,
        b: str,
        pairs: PairCache,
        undo: Undo | None,
        source_of: Callable[[str], str | None] | None = None,
    ) -> None:
        """Note a comparison of a and b that the formula test can change (``source_of``: the
        articles' sources, by default the pair cache's)."""
        source_of = source_of or pairs.source_of
        for source in {source_of(a), source_of(b)}:
            if source not in self.sources:
                if undo is not None:
                    undo.item(self.sources, source)
                    undo.item(self.by_source, source)
                self.sources[source] = pairs.source_version(source)
                self.by_source[source] = {}
            held = self.by_source[source]
            for end in (a, b):
                if end not in held:
                    if undo is not None:
                        undo.call(partial(held.pop, end, None))
                    held[end] = None

    def join(self, member: str, matches: Iterable[Match], pairs: PairCache, undo: Undo | None) -> None:
        """Note a member placed with its matches."""
        self._carry(member, pairs, undo)
        self._note(member, pairs, undo)
        for match in matches:
            if pairs.formula_affected(match):
                self._sensitive(match.a, match.b, pairs, undo)

    def check(self, members: Set[str], pairs: PairCache, undo: Undo | None) -> Change:
        """Which members' comparisons came out otherwise since the last check; afterwards the watch
        notes what they are decided under now."""
        boilerplate, formula = pairs.boilerplate_version(), pairs.formula_versions()
        if boilerplate == self.boilerplate and formula == self.formula:
            return UNCHANGED
        suspects: set[str] = set()
        if boilerplate != self.boilerplate:
            changed = pairs.boilerplate_changed_since(self.boilerplate)
            carriers = self.carriers
            touched: Iterable[str] = (
                members if changed is None else {m for fp in changed for m in carriers.get(fp, ()) if m in members}
            )
            suspects.update(m for m in touched if pairs.learned(m) != self.learned.get(m, _NONE))
        if formula != self.formula:
            for source, seen in list(self.sources.items()):
                now = pairs.source_version(source)
                if now != seen:
                    suspects.update(m for m in self.by_source[source] if m in members)
                    if undo is not None:
                        undo.item(self.sources, source)
                    self.sources[source] = now
        for member in sorted(suspects):
            pairs.recheck(member)
        for member in suspects:
            self._note(member, pairs, undo)
        since = self.revisions
        revised: set[str] = set()
        flips: set[tuple[str, str]] = set()
        regroup = False
        for member in members:
            last, flipped = pairs.revised(member)
            if last > since:
                revised.add(member)
                if flipped > since:
                    regroup = True
                    flips.update(pairs.flips(member, since))
        if undo is not None:
            old = self.boilerplate, self.formula, self.revisions
            undo.call(lambda: self._restore(old))
        self.boilerplate, self.formula, self.revisions = boilerplate, formula, pairs.revisions
        return Change(frozenset(revised), regroup, frozenset(flips))

    def _restore(self, old: tuple[int, int, int]) -> None:
        self.boilerplate, self.formula, self.revisions = old
