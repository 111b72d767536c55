"""The pair cache: each comparison of two articles made once, and made again only when the learned
boilerplate it was decided under has changed for either article.

The verifier (``dedup.stages.verify.compare``) compares two articles with their learned boilerplate
sentences left out. Grouping and provenance ask for the same pairs again and again (every time a
cluster is built), so the comparisons are remembered, each with the boilerplate ``version`` it was
decided under: the boilerplate model bumps its version whenever the verdict of any sentence changes.

When a remembered pair is asked for under a later version, it is checked again: a match records
how many distinct learned boilerplate sentences it left out (``Match.ignored_boilerplate``). If the
two articles' learned boilerplate today has that same size, the sentences whose verdict changed are
not theirs and the match stands (stamped with today's version); otherwise the pair is compared
again. A match read from a store is remembered under version -1, so that it is checked once against
the boilerplate learned in this process before it is used.

Beside the matches the cache keeps ``edges``: for each article, the articles it was found a copy
of (or refused as one by the formula test alone), which grouping walks asking each pair again, and a
few verifier ``View``s, kept for the articles compared last (an article is often compared several
times in a row). A walk never asks a pair outside ``edges``, so before one (``component``) the
remembered comparisons that were no copy are asked again for the articles that carry a sentence
whose verdict changed since (``refresh``): a footer learned since, or a sentence that is furniture
no longer, can make them copies. The copies remembered since a store last wrote (``unsaved``) are
written with the next added article, so that an index read back from its store has the same edges.

Every change is recorded in ``journal`` when one is set (the ``Undo`` of the stream's ``add`` in
progress), so that a failed addition puts the cache back as it was.

The formula counts (``dedup.stages.formula``) are read the same way: a comparison is checked by the
formula test as it is made, and remembered with the formula versions of the two articles' sources
too; when either has moved, a remembered match the test can change (a copy that is not
near-identical, or a pair the test refused) is compared again, and the others stand.

A batch whose boilerplate and formula counts are built once for all compares through the cache
too (``Comparisons``): its judge is a fixed set (``Fixed``), its versions never change (so it
remembers its comparisons by pair alone), and ``views_kept=None`` keeps every view of the task.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Set
from typing import Protocol

import numpy as np
import numpy.typing as npt

from dedup._undo import Undo
from dedup.config import DedupConfig
from dedup.records import Article, Match, Relation
from dedup.stages import formula as formulas
from dedup.stages.formula import FormulaCounts
from dedup.stages.grouping import components
from dedup.stages.shingle import Shingled, analyze
from dedup.stages.verify import ASIDE, QUOTED, View, compare

U64 = npt.NDArray[np.uint64]
Key = str  # a pair of articles (``_key``)
VIEWS_KEPT = 2048  # verifier views kept for the articles compared last
RECENT_KEPT = 8192  # remembered comparisons kept built as matches
_NEVER = (-1, -1)


class Judge(Protocol):
    """The learned boilerplate as the cache reads it (``dedup.stages.boilerplate.BoilerplateModel``)."""

    @property
    def version(self) -> int:
        """Goes up whenever the verdict of a sentence changes."""
        ...

    def boilerplate_of(self, article_id: str, fingerprints: U64) -> Set[int]:
        """The learned boilerplate among the article's sentence fingerprints."""
        ...

    def changed_since(self, version: int) -> Set[int] | None:
        """The sentences whose verdict changed after ``version`` (None: unknown, any may have)."""
        ...

    def unchanged_since(self, version: int, fingerprints: U64) -> bool:
        """Whether none of an article's sentences has changed verdict after ``version``."""
        ...

    def carriers(self, fingerprint: int) -> Iterable[str] | None:
        """Every article that carries the sentence (None: not known)."""
        ...


class Fixed:
    """Boilerplate learned once for all (a batch's): the same set for every article, one version."""

    version = 0

    def __init__(self, learned: frozenset[int]) -> None:
        self.learned = learned

    def boilerplate_of(self, article_id: str, fingerprints: U64) -> Set[int]:
        return self.learned

    def changed_since(self, version: int) -> Set[int] | None:
        return frozenset()

    def unchanged_since(self, version: int, fingerprints: U64) -> bool:
        return True

    def carriers(self, fingerprint: int) -> Iterable[str] | None:
        return ()


def _unknown(article_id: str) -> str | None:
    """No source or no title: what the cache reads when it is given none."""
    return None


# A pair's key is one string, its two ids in order around a separator: NUL, or when either id
# holds a NUL a lone surrogate, which no id holds (``Article`` refuses them). A dict whose keys
# and values are strings, bytes and numbers is left out of the garbage collector's walks (see
# ``dedup._collector``), where a new tuple put in would bring the whole dict back into them.
_SEP = "\x00"
_WIDE_SEP = "\udfff"


def _key(a: str, b: str) -> Key:
    if b < a:
        a, b = b, a
    if _SEP in a or _SEP in b:
        return a + _WIDE_SEP + b
    return a + _SEP + b


def ends(key: Key) -> tuple[str, str]:
    """The two ids of a pair's key, the smaller first."""
    a, _, b = key.partition(_WIDE_SEP if _WIDE_SEP in key else _SEP)
    return a, b


# A remembered comparison (``Kept``), packed in bytes for the reason above (and in about half the
# memory of a tuple of Python numbers): the boilerplate version, the formula counts' own version
# and the formula version it was last checked under (the first two read as one prefix by
# ``pair``'s quick path), the boilerplate version its figures were measured under, then the
# match: whether it is a copy and whether its ``a`` is the key's second id, its relation and rule
# by number, its six figures and its ignored boilerplate. A rule not in ``_RULES`` is numbered
# ``_OTHER_RULE`` and its name follows in UTF-8.
Kept = bytes
_PACKED = struct.Struct("<qqqqBBB6dq")
_VERSIONS = struct.Struct("<qqq")  # boilerplate, formula counts, formula
_STAMP = struct.Struct("<qq")  # boilerplate, formula counts
_VERIFIED_AT = struct.Struct("<q")
_FLAGS_AT = 32  # the byte of the copy and order flags
_IS_COPY, _SWAPPED = 1, 2
_RELATIONS = tuple(Relation)
_RELATION_NUMBER = {r: i for i, r in enumerate(_RELATIONS)}
_RULES = (
    "too_few_shared_shingles", "same_words", "jaccard", "containment", "shared_passages", "below_thresholds",
    ASIDE, QUOTED, formulas.RULE,
)  # fmt: skip
_RULE_NUMBER = {r: i for i, r in enumerate(_RULES)}
_OTHER_RULE = 255


def _pack(match: Match, version: int, formula: int, moved: int, verified: int) -> Kept:
    """A remembered comparison: the versions it was last checked under (the learned boilerplate's,
    its sources' formula versions and the counts' own), the version of the learned boilerplate
    the verifier measured its figures under (``verified``), and the match."""
    m = match
    flags = (_IS_COPY if m.is_copy else 0) | (_SWAPPED if m.b < m.a else 0)
    rule = _RULE_NUMBER.get(m.rule, _OTHER_RULE)
    packed = _PACKED.pack(
        version, moved, formula, verified, flags, _RELATION_NUMBER[m.relation], rule, m.score, m.jaccard,
        m.containment_a, m.containment_b, m.passage_coverage_a, m.passage_coverage_b, m.ignored_boilerplate,
    )  # fmt: skip
    return packed if rule != _OTHER_RULE else packed + m.rule.encode("utf-8", "surrogatepass")


def _unpack(key: Key, kept: Kept) -> Match:
    _, _, _, _, flags, relation, rule, score, jaccard, ca, cb, pa, pb, ignored = _PACKED.unpack_from(kept)
    a, b = ends(key)
    if flags & _SWAPPED:
        a, b = b, a
    name = _RULES[rule] if rule != _OTHER_RULE else kept[_PACKED.size :].decode("utf-8", "surrogatepass")
    return Match(a, b, bool(flags & _IS_COPY), _RELATIONS[relation], name, score, jaccard, ca, cb, pa, pb, (), ignored)


def _is_copy(kept: Kept) -> bool:
    return bool(kept[_FLAGS_AT] & _IS_COPY)


def _verified(kept: Kept) -> int:
    version: int = _VERIFIED_AT.unpack_from(kept, 24)[0]
    return version


class PairCache:
    """The comparisons between articles (see the module docstring). ``doc_of(id)`` gives an
    article's analysis; ``boilerplate`` is the judge the comparisons are made under; ``formula``
    the formula counts they are checked against (None: the rule is off), ``source_of(id)`` and
    ``title_of(id)`` an article's source and title."""

    def __init__(
        self,
        config: DedupConfig,
        doc_of: Callable[[str], Shingled],
        boilerplate: Judge,
        *,
        formula: FormulaCounts | None = None,
        source_of: Callable[[str], str | None] | None = None,
        title_of: Callable[[str], str | None] | None = None,
        views_kept: int | None = VIEWS_KEPT,
        fingerprints_of: Callable[[str], U64] | None = None,
    ) -> None:
        self._verify, self._shingle = config.verify, config.shingle
        self._doc_of = doc_of
        self._fingerprints_of = fingerprints_of or (lambda article_id: doc_of(article_id).sentence_fps)
        self._boilerplate = boilerplate
        self._formula = formula
        self._source_of = source_of or _unknown
        self._title_of = title_of or _unknown
        self._views_kept = views_kept
        # the verified copies of each article, both ways, and the pairs refused by the formula test
        # alone (the formula counts may change back): a walk (``component``) asks each pair again
        # (each article's neighbours, and its pairs below, as the keys of a dict, not as a set: the
        # garbage collector leaves a dict of strings out of its walks, see ``dedup._collector``)
        self.edges: dict[str, dict[str, None]] = {}
        # each comparison, with the boilerplate version and the formula version it was made under,
        # and the formula counts' own version when that was last checked (``pair``'s quick path)
        self._matches: dict[Key, Kept] = {}
        # the matches built last from ``_matches`` (``_unpacked``)
        self._recent: dict[Key, tuple[Kept, Match]] = {}
        self._pairs_of: dict[str, dict[Key, None]] = {}  # the remembered pairs of each article
        # an OrderedDict: views are dropped oldest first, and a dict whose oldest keys are deleted
        # one by one scans its deleted slots to find the next oldest
        self._views: OrderedDict[str, tuple[Set[int], Shingled, View]] = OrderedDict()
        # the comparisons asked again that came out otherwise: counted, and per article the count
        # at its last such comparison and at its last that changed whether it is a copy
        self.revisions = 0
        self._revised: dict[str, tuple[int, int]] = {}
        self._flips: dict[Key, int] = {}  # each pair's count at its last change of whether it is a copy
        # the copies remembered since the last ``saved`` (found when an article was added, by
        # grouping, or on being asked again): a store writes them with the next article
        self._unsaved: dict[Key, None] = {}
        # the boilerplate version the remembered comparisons outside ``edges`` were last brought to
        self._refreshed = boilerplate.version
        self.journal: Undo | None = None
        # today's boilerplate and formula counts' versions, and the prefix of a comparison last
        # checked under them (``pair``'s quick path)
        self._today = (-2, -2, b"")

    # -- comparing ------------------------------------------------------------------------------
    def compare(self, a_id: str, a: Shingled, b_id: str, b: Shingled, *, listed: bool = True) -> Match:
        """Compare two articles now, under today's boilerplate (``listed``: with the shared
        passages listed, else only measured)."""
        model = self._boilerplate
        dropped_a = model.boilerplate_of(a_id, a.sentence_fps)
        dropped_b = model.boilerplate_of(b_id, b.sentence_fps)
        boilerplate = dropped_a if dropped_a is dropped_b else dropped_a | dropped_b
        va, vb = self._view(a_id, a, dropped_a), self._view(b_id, b, dropped_b)
        match = compare(
            a_id,
            a,
            b_id,
            b,
            verify=self._verify,
            shingle=self._shingle,
            boilerplate=boilerplate,
            views=(va, vb),
            list_passages=listed,
        )
        return self._formula_test(match, va, vb)

    def _formula_test(self, match: Match, va: View, vb: View) -> Match:
        """The verifier's ``match`` of two articles seen as ``va`` and ``vb``, refused when only
        formula made it a copy (``compare``'s last step)."""
        counts = self._formula
        if counts is None or not match.is_copy:  # the verifier's match: no copy, nothing to refuse
            return match
        a, b, source_of = match.a, match.b, self._source_of
        return counts.check(
            match, source_of(a), va.shingles, source_of(b), vb.shingles, self._verify, self._titled_apart(a, b)
        )

    def _titled_apart(self, a: str, b: str) -> bool:
        return formulas.titled_apart(self._title_of(a), self._title_of(b))

    def formula_affected(self, match: Match) -> bool:
        """Whether the formula test can change ``match`` (``formula.affected``)."""
        return formulas.affected(match, self._verify, self._titled_apart(match.a, match.b))

    def _view(self, art_id: str, doc: Shingled, dropped: Set[int]) -> View:
        """The article as the verifier sees it with ``dropped`` sentences out."""
        views = self._views
        key = dropped if isinstance(dropped, frozenset) else frozenset(dropped)
        cached = views.get(art_id)
        # (the same set object first: a batch's judge gives every article its one learned set,
        # and comparing a set with itself by value walks it)
        if cached is not None and cached[1] is doc and (cached[0] is key or cached[0] == key):
            views.move_to_end(art_id)  # most recent last
            return cached[2]
        view = View(doc, dropped, self._shingle)
        views[art_id] = (key, doc, view)
        views.move_to_end(art_id)
        if self._views_kept is not None and len(views) > self._views_kept:
            views.popitem(last=False)
        return view

    def pair(self, a: str, b: str) -> Match:
        """The match of a and b as the evidence stands now: remembered, and checked again when the
        learned boilerplate has changed since and touches either article (compared again), or
        when the formula counts have changed since and the formula test can change it (the
        formula test made again, or the whole comparison for a pair the test refused); else
        compared now (its shared passages measured, not listed)."""
        key = _key(a, b)
        kept = self._matches.get(key)
        version = self._boilerplate.version
        moved = self.formula_versions()
        if kept is None:
            match = self.compare(a, self._doc_of(a), b, self._doc_of(b), listed=False)
            self.remember(match)
            return match
        if version != self._today[0] or moved != self._today[1]:
            self._today = (version, moved, _STAMP.pack(version, moved))
        # no source's formula version has moved since the pair was last checked: it stands
        if kept.startswith(self._today[2]):
            return self._unpacked(key, kept)
        checked, _, checked_formula = _VERSIONS.unpack_from(kept)
        formula = self._formula_version(a, b)
        before = self._unpacked(key, kept)
        if checked == version and checked_formula == formula:
            self._stamp(key, kept, version, formula, moved)
            return before
        if not (checked_formula != formula and self.formula_affected(before)):
            stands = checked == version
            if not stands:
                fingerprints, model = self._fingerprints_of, self._boilerplate
                learned = model.boilerplate_of(a, fingerprints(a)) | model.boilerplate_of(b, fingerprints(b))
                stands = len(learned) == before.ignored_boilerplate
            if stands:  # stamped with today's versions
                self._stamp(key, kept, version, formula, moved)
                return before
            match = self._compared_again(before)
        elif before.rule != formulas.RULE and self._verified_alike(before, _verified(kept)):
            # ``before`` is the verifier's match, which the formula test let stand: only the test
            # is made again, on today's counts
            match = self._formula_again(before)
            if match is before:  # it stands (its figures are still the verifier's of then)
                self._stamp(key, kept, version, formula, moved)
                return before
        else:
            match = self._compared_again(before)
        if match != before:
            self._revise(before, match)
        self.remember(match)
        return match

    def remembered(self, a: str, b: str) -> tuple[int, Match] | None:
        """The comparison of a and b as remembered, not checked again, with the version of the
        learned boilerplate it was last checked under (None: never compared)."""
        key = _key(a, b)
        kept = self._matches.get(key)
        return None if kept is None else (_VERSIONS.unpack_from(kept)[0], _unpack(key, kept))

    def _compared_again(self, before: Match) -> Match:
        """A remembered pair compared again, the way round it was first compared."""
        return self.compare(before.a, self._doc_of(before.a), before.b, self._doc_of(before.b), listed=False)

    def _verified_alike(self, match: Match, version: int) -> bool:
        """Whether the verifier would make ``match``, made under ``version`` of the learned
        boilerplate, the same way today: neither article's learned boilerplate has changed."""
        judge, fingerprints = self._boilerplate, self._fingerprints_of
        return judge.unchanged_since(version, fingerprints(match.a)) and judge.unchanged_since(
            version, fingerprints(match.b)
        )

    def _formula_again(self, match: Match) -> Match:
        """The formula test of ``match``, a comparison the verifier would make the same way today
        (``_verified_alike``), on today's counts."""
        if self._formula is None:
            return match
        model, a, b = self._boilerplate, match.a, match.b
        doc_a, doc_b = self._doc_of(a), self._doc_of(b)
        va = self._view(a, doc_a, model.boilerplate_of(a, doc_a.sentence_fps))
        vb = self._view(b, doc_b, model.boilerplate_of(b, doc_b.sentence_fps))
        return self._formula_test(match, va, vb)

    def _unpacked(self, key: Key, kept: Kept) -> Match:
        """The ``Match`` of a remembered comparison, built once for the ``Kept`` it stands on
        (grouping asks the same pairs many times over) among the last few thousand built."""
        recent = self._recent
        seen = recent.get(key)
        if seen is not None and seen[0] is kept:
            return seen[1]
        match = _unpack(key, kept)
        if len(recent) >= RECENT_KEPT:
            recent.clear()
        recent[key] = (kept, match)
        return match

    def _stamp(self, key: Key, kept: Kept, version: int, formula: int, moved: int) -> None:
        """A remembered comparison (``kept``) stands under today's versions, its figures as the
        verifier measured them then."""
        if self.journal is not None:
            self.journal.item(self._matches, key)
        self._matches[key] = _VERSIONS.pack(version, moved, formula) + kept[_VERSIONS.size :]

    def boilerplate_version(self) -> int:
        """The version of the learned boilerplate that comparisons are decided under now."""
        return self._boilerplate.version

    def formula_versions(self) -> int:
        """How many times any source's formula version has moved (0: the rule is off)."""
        return 0 if self._formula is None else self._formula.version

    def source_version(self, source: str | None) -> int:
        """The version of a source's formula shingles (``FormulaCounts.version_of``)."""
        return 0 if self._formula is None else self._formula.version_of(source)

    def source_of(self, article_id: str) -> str | None:
        return self._source_of(article_id)

    def learned(self, article_id: str) -> Set[int]:
        """The article's sentences that are learned boilerplate now (left out of its comparisons)."""
        return self._boilerplate.boilerplate_of(article_id, self._fingerprints_of(article_id))

    def fingerprints(self, article_id: str) -> U64:
        """The article's sentence fingerprints."""
        return self._fingerprints_of(article_id)

    def boilerplate_changed_since(self, version: int) -> Set[int] | None:
        """The sentences whose boilerplate verdict changed after ``version`` of the learned
        boilerplate (None: unknown, any may have)."""
        return self._boilerplate.changed_since(version)

    def formula_sensitive(self, article_ids: Iterable[str]) -> list[tuple[str, str]]:
        """The remembered comparisons of these articles that the formula test can change, each
        once (a comparison between two of them is listed under both)."""
        matches, pairs_of = self._matches, self._pairs_of
        keys = dict.fromkeys(key for article_id in article_ids for key in pairs_of.get(article_id, ()))
        return [ends(key) for key in keys if self.formula_affected(_unpack(key, matches[key]))]

    def recheck(self, article_id: str) -> None:
        """Ask every remembered comparison of the article again (see ``revised``)."""
        for key in sorted(self._pairs_of.get(article_id, ())):
            self.pair(*ends(key))

    def revised(self, article_id: str) -> tuple[int, int]:
        """When a remembered comparison of the article last came out otherwise on being asked again,
        and when one last changed whether it is a copy, as numbers of ``revisions`` (-1: never).
        Groups are made of the copies alone, so only the second can change them; a comparison that
        changed its figures or the rule that decided it (a refusal by the formula test included)
        changes the cluster records of its two articles, not their groups."""
        return self._revised.get(article_id, _NEVER)

    def flips(self, article_id: str, since: int) -> list[tuple[str, str]]:
        """The article's remembered comparisons that changed whether they are a copy after
        ``since`` (a number of ``revisions``), in id order."""
        flips = self._flips
        return sorted(ends(key) for key in self._pairs_of.get(article_id, ()) if flips.get(key, -1) > since)

    def _revise(self, before: Match, now: Match) -> None:
        self.revisions += 1
        flipped = before.is_copy != now.is_copy
        if flipped:
            key = _key(now.a, now.b)
            if self.journal is not None:
                self.journal.item(self._flips, key)
            self._flips[key] = self.revisions
        for end in (now.a, now.b):
            if self.journal is not None:
                self.journal.item(self._revised, end)
            last_flip = self.revisions if flipped else self._revised.get(end, _NEVER)[1]
            self._revised[end] = (self.revisions, last_flip)

    def component(self, article_id: str) -> list[str]:
        """The articles joined to ``article_id`` by copies as the evidence stands now (itself
        included), in id order (``components``)."""
        return self.components([article_id])[0]

    def components(self, starts: Iterable[str]) -> list[list[str]]:
        """The articles joined by copies to each of ``starts`` as the evidence stands now, one list
        per component, each in id order (listed as ``grouping.components`` lists them): a walk
        along ``edges`` that asks a pair only when it leads to an article not reached yet (the
        copies among those reached are asked when they are grouped)."""
        self.refresh()
        edges, pair = self.edges, self.pair
        # (each node's edges read from a sorted copy: asking a pair may compare it again, which can
        # change its edge)
        return components(starts, lambda node: sorted(edges.get(node, ())), lambda a, b: pair(a, b).is_copy)

    def refresh(self) -> None:
        """Bring ``edges`` up to the learned boilerplate of now: the remembered comparisons that
        were no copy, of the articles that carry a sentence whose verdict changed since the last
        refresh (of every article when the judge does not know them), are asked again. A sentence
        learned as furniture since can make a pair a copy (it was what kept one text from lying
        inside the other), and so can one that is furniture no longer; ``edges`` holds only
        copies, so these pairs would never be asked again by a walk over them."""
        judge = self._boilerplate
        version = judge.version
        if version == self._refreshed:
            return
        suspects = self._carrying(judge.changed_since(self._refreshed))
        edges, pairs_of = self.edges, self._pairs_of
        for article_id in sorted(suspects):
            for key in sorted(pairs_of.get(article_id, ())):
                a, b = ends(key)
                if b not in edges.get(a, ()):
                    self.pair(a, b)
        if self.journal is not None:
            before = self._refreshed
            self.journal.call(lambda: setattr(self, "_refreshed", before))
        self._refreshed = version

    def _carrying(self, changed: Set[int] | None) -> Iterable[str]:
        """The articles with remembered comparisons that carry one of the ``changed`` sentences
        (all of them when the sentences or their carriers are not known)."""
        if changed is None:
            return self._pairs_of
        found: set[str] = set()
        for fingerprint in changed:
            carriers = self._boilerplate.carriers(fingerprint)
            if carriers is None:
                return self._pairs_of
            found.update(carriers)
        return found

    def unsaved(self, besides: Iterable[Match] = ()) -> list[Match]:
        """The copies remembered since the last ``saved``, as they stand, but the pairs of
        ``besides`` (an added article's own copies, written with it): besides the copies found
        when an article is added, grouping compares the members of a component with each other
        and a pair asked again can become a copy; these join components too, so a store that did
        not keep them would reopen with other clusters."""
        matches, own = self._matches, {_key(m.a, m.b) for m in besides}
        kept = [(key, matches[key]) for key in self._unsaved if key not in own and key in matches]
        return [_unpack(key, k) for key, k in kept if _is_copy(k)]

    def saved(self) -> None:
        """The ``unsaved`` copies are written."""
        self._unsaved.clear()

    # -- remembering ----------------------------------------------------------------------------
    def _formula_version(self, a: str, b: str) -> int:
        """The formula version a comparison of a and b is decided under: the sum of their sources'
        versions (which only go up, so the sum moves exactly when either does)."""
        counts = self._formula
        if counts is None:
            return 0
        return counts.version_of(self._source_of(a)) + counts.version_of(self._source_of(b))

    def holds_copy(self, a: str, b: str) -> bool:
        """Whether a comparison of a and b is remembered, and found them copies."""
        kept = self._matches.get(_key(a, b))
        return kept is not None and _is_copy(kept)

    def remember(self, match: Match, *, version: int | None = None) -> None:
        """Keep ``match`` (without its listed passages: grouping and provenance read the figures),
        decided under ``version`` of both the boilerplate and the formula counts (by default
        today's), and its edge when it is a copy."""
        key = _key(match.a, match.b)
        linked = match.is_copy or match.rule == formulas.RULE
        undo = self.journal
        if undo is not None:  # (what does not change is not recorded)
            undo.item(self._matches, key)
            undo.item(self._unsaved, key)
            for x, y in ((match.a, match.b), (match.b, match.a)):
                if key not in self._pairs_of.get(x, ()):
                    undo.member(self._pairs_of, x, key)
                if (y in self.edges.get(x, ())) != linked:
                    undo.member(self.edges, x, y)
        if version is None:
            before = self._matches.get(key)
            version = self._boilerplate.version
            self._matches[key] = _pack(
                match, version, self._formula_version(match.a, match.b), self.formula_versions(), version
            )
            if not match.is_copy:
                self._unsaved.pop(key, None)
            elif before is None or not _is_copy(before):  # a copy it was is written already
                self._unsaved[key] = None
        else:  # read from a store: written already
            self._matches[key] = _pack(match, version, version, -1, version)
            self._unsaved.pop(key, None)
        pairs_of, edges = self._pairs_of, self.edges
        pairs_of.setdefault(match.a, {})[key] = None
        pairs_of.setdefault(match.b, {})[key] = None
        if linked:
            edges.setdefault(match.a, {})[match.b] = None
            edges.setdefault(match.b, {})[match.a] = None
        else:
            edges.get(match.a, {}).pop(match.b, None)
            edges.get(match.b, {}).pop(match.a, None)

    def add(self, article_id: str) -> None:
        """An article with no copies yet (grouping walks every article's edges)."""
        if self.journal is not None:
            self.journal.item(self.edges, article_id)
        self.edges.setdefault(article_id, {})

    def drop_view(self, article_id: str) -> None:
        self._views.pop(article_id, None)

    def forget(self, article_id: str) -> None:
        """Everything kept about an article that leaves: its edges, its pairs, its view."""
        for other in self.edges.pop(article_id, {}):
            self.edges[other].pop(article_id, None)
        for key in self._pairs_of.pop(article_id, {}):
            self._matches.pop(key, None)
            self._flips.pop(key, None)
            self._unsaved.pop(key, None)
            a, b = ends(key)
            other = a if b == article_id else b
            self._pairs_of.get(other, {}).pop(key, None)
        self._views.pop(article_id, None)
        self._revised.pop(article_id, None)


class Comparisons:
    """A batch task's articles, analyzed on first use, and the comparisons between them, under
    boilerplate learned and formula counts built once for the whole batch (the batch and the Spark
    job read the articles of a task again, so the analyses are the task's own, unless
    ``analyses`` gives some: those an in-process batch kept from its first pass, by article id).
    A ``PairCache`` makes each comparison (with its views of the articles); the boilerplate and the
    formula counts never change, so a comparison made once stands, and is remembered here by pair
    alone. ``known``: comparisons an earlier task of the same batch made (``pair`` gave them),
    remembered as they are instead of being made again."""

    def __init__(
        self,
        articles: Iterable[Article],
        config: DedupConfig,
        learned: frozenset[int],
        formula: FormulaCounts | None = None,
        analyses: Mapping[str, Shingled] | None = None,
        known: Iterable[Match] = (),
    ) -> None:
        self.articles = {a.id: a for a in articles}
        self._config = config
        self._docs: dict[str, Shingled] = dict(analyses) if analyses else {}
        self._sources: dict[str, str | None] = {}
        self._cache = PairCache(
            config, self._doc, Fixed(learned), formula=formula, source_of=self._source, title_of=self._title,
            views_kept=None,
        )  # fmt: skip
        self._matches: dict[tuple[str, str], Match] = {_pair(m.a, m.b): m for m in known}

    def _source(self, art_id: str) -> str | None:
        try:
            return self._sources[art_id]
        except KeyError:
            source = self._sources[art_id] = formulas.outlet(self.articles[art_id])
            return source

    def _title(self, art_id: str) -> str | None:
        return self.articles[art_id].title

    def _doc(self, art_id: str) -> Shingled:
        doc = self._docs.get(art_id)
        if doc is None:
            # the analysis only: these articles were prepared (and signed) before
            doc = self._docs[art_id] = analyze(self.articles[art_id].text, self._config.normalize, self._config.shingle)
        return doc

    def pair(self, x: str, y: str) -> Match:
        """The comparison of x and y (made once, the smaller id first), its shared passages
        measured but not listed."""
        key = _pair(x, y)
        match = self._matches.get(key)
        if match is None:
            a, b = key
            match = self._matches[key] = self._cache.compare(a, self._doc(a), b, self._doc(b), listed=False)
        return match


def _pair(x: str, y: str) -> tuple[str, str]:
    return (x, y) if x < y else (y, x)
