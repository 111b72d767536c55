"""Stage 5: exact similarity of a candidate pair, and the decision.

Measured on the exact shingle sets (never on signatures), after dropping the sentences that are
learned boilerplate in either article:

- ``jaccard``: |A ∩ B| / |A ∪ B| of the document shingles;
- ``containment_a``, ``containment_b``: |A ∩ B| / |A| and |A ∩ B| / |B|;
- shared passages: a passage of A and a passage of B are shared when at least ``passage_overlap`` of
  the shorter one's shingles are in the other; ``passage_coverage_a`` is the share of A's words that
  lie in passages it shares with B (and the reverse). They are not computed (and reported as none)
  when the smaller article's containment is under half of what the passage rule would imply
  (``0.5 * passage_overlap * min_passage_coverage``): no passage could decide then.

The smaller article of the two is the one with fewer shingles; of two with as many, the one with
fewer words, then the one whose first shingle the other lacks is the lower
(``VerifyConfig.ties_by_text``), so that no decision depends on the articles' ids.

The decision rule: the first of rules 1 to 6 that matches decides, then rules 7 and 8 may refuse a
copy (the relation is that of ``a`` to ``b``):

1. fewer than ``min_shared_shingles`` shingles in common: **not a copy**;
2. the same words: **same_text**;
3. ``jaccard >= near_identical_jaccard``: **near_identical**;
4. the smaller article has ``containment >= min_containment`` in the larger: a copy, **partial** for
   the smaller article (a trimmed copy) and **extended** for the larger (a copy that adds text);
5. at least ``min_shared_passages`` shared passages covering ``min_passage_coverage`` of the smaller
   article's words, or one shared passage covering ``min_containment`` of them (a short statement
   of a passage or two, re-spelled: the passage is most of it, as containment would be):
   **rewritten** (the syndicated story re-spelled, cut and added to);
6. otherwise **not a copy** (same topic, shared quotes, common phrases);
7. a copy by 4 or 5 is **not a copy** (rule ``aside``) when the text the two share is at most
   ``aside_share`` of the larger article (its containment or passage coverage, the larger) and the
   earliest passage of the larger shared with the smaller begins at or past ``aside_after`` of its
   words (``shared_text_start``; learned boilerplate left out of both). The smaller article is a
   side item of the larger (a paragraph near the end of a roundup, a "related story" teaser under
   another story), whose own story is something else; a copy shares the story's opening, since
   trimming cuts the end and a local lead added on top is seldom most of the article;
8. a copy by 4 or 5 is **not a copy** (rule ``quoted_speech``, when ``VerifyConfig.quoted_speech``)
   when what the two share is mostly quoted speech (``quoted_alone``): at least as many of the
   shingles they share lie in words quoted in both (``Shingled.quoted``) as outside them, and those
   outside are fewer than ``min_shared_shingles`` or than ``quoted_outside_share`` of the smaller
   article's shingles outside quotation marks; while the smaller article has at least
   ``min_shared_shingles`` shingles of its own outside quotation marks and the quotation is less
   than ``quoted_max_share`` of it (a statement printed whole under each outlet's lead is a copy
   of the statement). Two reports written apart that quote the same statement or tweet share the
   quotation, and outside it only names and common phrases; each tells the event in words of its
   own. A copy shares the words around the quotation too, and a statement given whole in
   quotation marks, with no text of its own around it, is still a copy.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

import numpy as np
import numpy.typing as npt

from dedup.config import ShingleConfig, VerifyConfig
from dedup.kernels import arrays as array_kernels
from dedup.kernels import verify as verify_kernels
from dedup.records import Match, Relation, SharedPassage
from dedup.stages.shingle import Shingled, kept_shingles

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


_NONE = np.empty(0, dtype=np.int64)
ASIDE = "aside"  # the rule that refuses a copy found only late in a larger article
QUOTED = "quoted_speech"  # the rule that refuses a copy that shares mostly quoted speech


class View:
    """An article's evidence with boilerplate sentences taken out (passage figures on demand)."""

    __slots__ = ("_doc", "_drop", "_passages", "boilerplate", "dropped_fps", "n_words", "shingles", "words")

    def __init__(self, doc: Shingled, boilerplate: AbstractSet[int], config: ShingleConfig) -> None:
        self._doc = doc
        self._passages: tuple[I64, I64, tuple[U64, I64, I64]] | None = None
        self.boilerplate = boilerplate  # the set the view was cut by
        fps = doc.sentence_fps.tolist() if boilerplate else []
        self._drop = [i for i, fp in enumerate(fps) if fp in boilerplate]
        # the article's sentences in ``boilerplate``: the fingerprints of the dropped sentences
        self.dropped_fps = frozenset(fps[i] for i in self._drop) if self._drop else frozenset()
        if self._drop:
            self.words, self.shingles = kept_shingles(doc, self._drop, config.k)
        else:
            self.words = doc.words
            self.shingles = doc.shingles
        self.n_words = len(self.words)

    @property
    def dropped(self) -> list[int]:
        """The sentences taken out (their indexes, ascending)."""
        return self._drop

    def _passage_figures(self) -> tuple[I64, I64, tuple[U64, I64, I64]]:
        """The passage figures (positions, words, tagged shingles), from one compiled call on first use."""
        if self._passages is None:
            doc = self._doc
            dropped = np.array(self._drop, dtype=np.int64) if self._drop else _NONE
            ids, words, flat, tags, sizes = verify_kernels.view_passages(
                doc.passages, doc.passage_sentence, len(doc.sentence_fps), dropped, doc.passage_shingles,
                doc.passage_offsets,
            )  # fmt: skip
            self._passages = ids, words, (flat, tags, sizes)
        return self._passages

    @property
    def passage_ids(self) -> I64:
        """The passages of the article whose sentence is kept (their indexes)."""
        return self._passage_figures()[0]

    @property
    def passage_words(self) -> I64:
        """The size in words of each of ``passage_ids``."""
        return self._passage_figures()[1]

    @property
    def tagged(self) -> tuple[U64, I64, I64]:
        """The shingles of the passages, sorted, each with its passage (a position in
        ``passage_ids``), and the passages' sizes: ``kernels.verify.view_passages``, kept for the
        next comparison."""
        return self._passage_figures()[2]


# The passages of a shared with b (positions in ``passage_ids``), each with its best partner in b
# and their overlap; the share of a's and of b's words in shared passages; the number of shared
# passages (the fewer side).
SharedFigures = tuple[I64, I64, F64, float, float, int]


def shared_figures(va: View, vb: View, threshold: float) -> SharedFigures:
    """The passages of a that share at least ``threshold`` of the shorter passage's shingles with
    some passage of b (``SharedFigures``), in one compiled call (``kernels.verify.shared_tagged``)."""
    pa, pb, overlap, words_a, words_b, n_b = verify_kernels.shared_tagged(
        *va.tagged, va.passage_words, *vb.tagged, vb.passage_words, threshold
    )
    cov_a = float(words_a) / va.n_words if va.n_words else 0.0
    cov_b = float(words_b) / vb.n_words if vb.n_words else 0.0
    return pa, pb, overlap, cov_a, cov_b, min(len(pa), int(n_b))


def shared_figures_reference(a: Shingled, va: View, b: Shingled, vb: View, threshold: float) -> SharedFigures:
    """``shared_figures`` with numpy, from the articles' passages (the reference the kernels are
    tested against)."""
    ids_a, words_a = _kept_passages(a, va.dropped)
    ids_b, words_b = _kept_passages(b, vb.dropped)
    ia, ib, overlap = _passage_pairs(a, ids_a, b, ids_b)
    keep = overlap >= threshold
    ia, ib, overlap = ia[keep], ib[keep], overlap[keep]
    if len(ia) == 0:
        return _NONE, _NONE, np.empty(0, dtype=np.float64), 0.0, 0.0, 0
    # the best partner of each shared passage of a: sort by (passage of a, overlap descending)
    order = np.lexsort((-overlap, ia))
    sorted_ia = ia[order]
    first = order[np.concatenate(([True], sorted_ia[1:] != sorted_ia[:-1]))]
    shared_a, shared_b = array_kernels.distinct(ia), array_kernels.distinct(ib)
    cov_a = float(words_a[shared_a].sum()) / va.n_words if va.n_words else 0.0
    cov_b = float(words_b[shared_b].sum()) / vb.n_words if vb.n_words else 0.0
    return ia[first], ib[first], overlap[first], cov_a, cov_b, min(len(shared_a), len(shared_b))


def _kept_passages(doc: Shingled, dropped: list[int]) -> tuple[I64, I64]:
    """The passages of ``doc`` whose sentence is not ``dropped`` (their indexes), and their words."""
    kept = np.ones(len(doc.sentence_fps), dtype=bool)
    kept[dropped] = False
    ids = np.flatnonzero(kept[doc.passage_sentence])
    ranges = doc.passages[ids]
    return ids, ranges[:, 1] - ranges[:, 0]


def _passage_pairs(a: Shingled, ids_a: I64, b: Shingled, ids_b: I64) -> tuple[I64, I64, F64]:
    """All (passage of a, passage of b, overlap) with at least one shingle in common; indexes are
    positions in ``ids_a`` and ``ids_b``."""
    if len(ids_a) == 0 or len(ids_b) == 0:
        return _NONE, _NONE, np.empty(0, dtype=np.float64)
    counts = np.array(
        [
            [len(np.intersect1d(a.passage_group(int(i)), b.passage_group(int(j)), assume_unique=True)) for j in ids_b]
            for i in ids_a
        ],
        dtype=np.int64,
    )
    ia, ib = np.nonzero(counts)
    smaller = np.minimum(np.diff(a.passage_offsets)[ids_a][ia], np.diff(b.passage_offsets)[ids_b][ib])
    return ia, ib, counts[ia, ib] / np.maximum(smaller, 1)


def shared_text_start(doc: Shingled, view: View, other: View, threshold: float) -> float:
    """Where the text ``doc`` shares with another article (``other``, its view) begins: the first
    word of its earliest passage shared with it, as a share of its words, both counted with
    learned boilerplate left out (``view``); 0.0 when no passage is shared."""
    positions = shared_figures(view, other, threshold)[0]
    if len(positions) == 0 or view.n_words == 0:
        return 0.0
    start = int(doc.passages[view.passage_ids[positions], 0].min())
    starts = doc.sentence_starts
    dropped_before = sum(
        int(starts[i + 1] - starts[i]) for i in view.dropped if starts[i] < start
    )  # the boilerplate sentences before it are not counted
    return (start - dropped_before) / view.n_words


def quoted_alone(
    small: Shingled, v_small: View, large: Shingled, v_large: View, inter: int, verify: VerifyConfig
) -> bool:
    """Rule 8: whether what the two articles share is mostly quoted speech: at least as many of
    the shingles they share lie in words quoted in both as outside them, and those outside number
    fewer than ``min_shared_shingles`` or than ``quoted_outside_share`` of the smaller article's
    shingles outside quotation marks; while the smaller one has at least ``min_shared_shingles``
    shingles of its own (not in the larger) outside quotation marks, and the quotation the two
    share is less than ``quoted_max_share`` of its shingles (more is a statement printed whole,
    which each outlet put under a lead of its own: a copy of the statement). ``inter`` is the
    number of shingles the two views share. Learned boilerplate is left out of all of it (the
    views), and so are the shingles a view makes across a sentence it drops, which are no
    article's words (``_own``)."""
    if len(small.quoted) == 0 or len(large.quoted) == 0:
        return False
    s_small, s_large = _own(small, v_small), _own(large, v_large)
    if v_small.dropped or v_large.dropped:
        inter = int(verify_kernels.intersect_count(s_small, s_large))
    quoted_small = np.intersect1d(small.quoted, s_small, assume_unique=True) if v_small.dropped else small.quoted
    quoted_large = np.intersect1d(large.quoted, s_large, assume_unique=True) if v_large.dropped else large.quoted
    quoted_both = int(verify_kernels.intersect_count(quoted_small, quoted_large))
    shared_outside = inter - quoted_both
    outside_small = len(s_small) - len(quoted_small)
    minimum = verify.min_shared_shingles
    if shared_outside > quoted_both or shared_outside >= max(minimum, verify.quoted_outside_share * outside_small):
        return False
    if quoted_both >= verify.quoted_max_share * len(s_small):
        return False
    quoted_shared = int(verify_kernels.intersect_count(quoted_small, s_large))
    own_outside = len(s_small) - inter - (len(quoted_small) - quoted_shared)
    return own_outside >= minimum


def _own(doc: Shingled, view: View) -> U64:
    """The shingles of an article's view that the article has: a view that drops a sentence joins
    the words on either side of it into shingles of its own."""
    return np.intersect1d(view.shingles, doc.shingles, assume_unique=True) if view.dropped else view.shingles


def _first_of_equals(va: View, vb: View, a_id: str, b_id: str, *, by_text: bool) -> bool:
    """Whether ``a`` is taken for the smaller of two articles with as many shingles: the one with
    fewer words, else the one whose first shingle that the other lacks is the lower. The decision
    does not depend on the ids, then, nor on the order of the two; the ids settle only articles
    with the same shingles, which rules 1 to 3 decide without asking which is smaller. Not
    ``by_text``: the lower id (``VerifyConfig.ties_by_text``)."""
    if not by_text:
        return a_id <= b_id
    if va.n_words != vb.n_words:
        return va.n_words < vb.n_words
    differ = np.flatnonzero(va.shingles != vb.shingles)
    if len(differ):
        return bool(va.shingles[differ[0]] < vb.shingles[differ[0]])
    return a_id <= b_id


def _shared(
    a: Shingled, va: View, b: Shingled, vb: View, threshold: float, listed: bool
) -> tuple[list[SharedPassage], float, float, int]:
    """The passages of a shared with b (each with its best partner; an empty list unless
    ``listed``), the share of a's and of b's words in shared passages, and the number of shared
    passages (the fewer side)."""
    ia, ib, overlap, cov_a, cov_b, n_shared = shared_figures(va, vb, threshold)
    if len(ia) == 0:
        return [], 0.0, 0.0, 0
    if not listed:
        return [], cov_a, cov_b, n_shared
    a_ids, b_ids = va.passage_ids[ia], vb.passage_ids[ib]
    a_sentences = a.passage_sentence[a_ids].tolist()
    b_sentences = b.passage_sentence[b_ids].tolist()
    a_words = [(s, e) for s, e in a.passages[a_ids].tolist()]
    b_words = [(s, e) for s, e in b.passages[b_ids].tolist()]
    texts = a.sentences
    shared = SharedPassage.many(
        a_sentences, b_sentences, overlap.tolist(), texts.__getitem__ if texts else _no_text, a_words, b_words
    )
    return shared, cov_a, cov_b, n_shared


def _no_text(sentence: int) -> str:
    return ""


def compare(
    a_id: str,
    a: Shingled,
    b_id: str,
    b: Shingled,
    *,
    verify: VerifyConfig,
    shingle: ShingleConfig,
    boilerplate: AbstractSet[int] | None = None,
    views: tuple[View, View] | None = None,
    list_passages: bool = True,
) -> Match:
    """Compare two articles exactly and decide whether ``a`` is a copy of ``b`` (or the reverse).
    ``views``: the two articles' ``View`` under this ``boilerplate``, when the caller keeps them
    (an article compared many times is cut once). ``list_passages=False``: the shared passages
    are measured (coverage, count, decision) but not listed in ``Match.shared_passages``, for
    callers that keep only the figures (the batch's grouping, which would otherwise build a
    record per shared passage of every pair it compares)."""
    boilerplate = boilerplate or frozenset()
    va, vb = views or (View(a, boilerplate, shingle), View(b, boilerplate, shingle))
    if not boilerplate:
        ignored = 0
    elif va.boilerplate is boilerplate and vb.boilerplate is boilerplate:  # each view holds its share
        ignored = len(va.dropped_fps | vb.dropped_fps)
    else:
        ignored = len(boilerplate & {*a.sentence_fps.tolist(), *b.sentence_fps.tolist()})
    inter = int(verify_kernels.intersect_count(va.shingles, vb.shingles))
    na, nb = len(va.shingles), len(vb.shingles)
    union = na + nb - inter
    jaccard = inter / union if union else 0.0
    cont_a = inter / na if na else 0.0
    cont_b = inter / nb if nb else 0.0

    a_smaller = na < nb or (na == nb and _first_of_equals(va, vb, a_id, b_id, by_text=verify.ties_by_text))
    small_containment = cont_a if a_smaller else cont_b
    # Shared passages covering a share c of the smaller article put at least about
    # passage_overlap * c of its shingles in common; with half of that not reached, no passage
    # can decide, and the passage comparison (the costly part) is skipped.
    bound = 0.5 * verify.passage_overlap * verify.min_passage_coverage
    shared: list[SharedPassage] = []
    cov_a = cov_b = 0.0
    n_shared = 0
    if inter >= verify.min_shared_shingles and (shingle.passage_k != shingle.k or small_containment >= bound):
        shared, cov_a, cov_b, n_shared = _shared(a, va, b, vb, verify.passage_overlap, list_passages)
    small_coverage = cov_a if a_smaller else cov_b
    score = max(jaccard, small_containment, small_coverage)

    # two shared passages or more covering enough of the smaller article, or one covering as much
    # of it as containment would need
    rewritten = (n_shared >= verify.min_shared_passages and small_coverage >= verify.min_passage_coverage) or (
        n_shared > 0 and small_coverage >= verify.min_containment
    )

    def aside() -> bool:
        """Rule 7: the shared text is little of the larger article and begins only late in it."""
        large_share = max(cont_b, cov_b) if a_smaller else max(cont_a, cov_a)
        if large_share > verify.aside_share or not n_shared:
            return False
        large, v_large, v_small = (b, vb, va) if a_smaller else (a, va, vb)
        return shared_text_start(large, v_large, v_small, verify.passage_overlap) >= verify.aside_after

    def quoted() -> bool:
        """Rule 8: what the two share is mostly quoted speech."""
        if not verify.quoted_speech:
            return False
        small, v_small, large, v_large = (a, va, b, vb) if a_smaller else (b, vb, a, va)
        return quoted_alone(small, v_small, large, v_large, inter, verify)

    def decide() -> tuple[Relation, str]:
        if inter < verify.min_shared_shingles:
            return Relation.NONE, "too_few_shared_shingles"
        if va.n_words == vb.n_words and np.array_equal(va.words, vb.words):
            return Relation.SAME_TEXT, "same_words"
        if jaccard >= verify.near_identical_jaccard:
            return Relation.NEAR_IDENTICAL, "jaccard"
        if small_containment >= verify.min_containment:
            copy = (Relation.PARTIAL if a_smaller else Relation.EXTENDED), "containment"
        elif rewritten:
            copy = Relation.REWRITTEN, "shared_passages"
        else:
            return Relation.NONE, "below_thresholds"
        if aside():
            return Relation.NONE, ASIDE
        return (Relation.NONE, QUOTED) if quoted() else copy

    relation, rule = decide()
    return Match(
        a=a_id,
        b=b_id,
        is_copy=relation is not Relation.NONE,
        relation=relation,
        rule=rule,
        score=score,
        jaccard=jaccard,
        containment_a=cont_a,
        containment_b=cont_b,
        passage_coverage_a=cov_a,
        passage_coverage_b=cov_b,
        shared_passages=tuple(shared),
        ignored_boilerplate=ignored,
    )
