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

The decision rule, first match wins (the relation is that of ``a`` to ``b``):

1. fewer than ``min_shared_shingles`` shingles in common: **not a copy**;
2. the same words: **same_text**;
3. ``jaccard >= near_identical_jaccard``: **near_identical**;
4. the smaller article has ``containment >= min_containment`` in the larger: a copy, **partial** for
   the smaller article (a trimmed copy) and **extended** for the larger (a copy that adds text);
5. at least ``min_shared_passages`` shared passages covering ``min_passage_coverage`` of the smaller
   article's words: **rewritten** (the syndicated story re-spelled, cut and added to);
6. otherwise **not a copy** (same topic, shared quotes, common phrases).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

import numpy as np
import numpy.typing as npt

from dedup import kernels
from dedup.config import ShingleConfig, VerifyConfig
from dedup.records import Match, Relation, SharedPassage
from dedup.stages.shingle import Shingled, kept_shingles

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


_NONE = np.empty(0, dtype=np.int64)


class View:
    """An article's evidence with boilerplate sentences taken out (passage figures on demand)."""

    __slots__ = ("_doc", "_drop", "_passage_ids", "_passage_words", "_tagged", "n_words", "shingles", "words")

    def __init__(self, doc: Shingled, boilerplate: AbstractSet[int], config: ShingleConfig) -> None:
        self._doc = doc
        self._passage_ids: I64 | None = None
        self._passage_words: I64 | None = None
        self._tagged: tuple[U64, I64, I64] | None = None
        fps = doc.sentence_fps.tolist() if boilerplate else []
        self._drop = [i for i, fp in enumerate(fps) if fp in boilerplate]
        if self._drop:
            self.words, self.shingles = kept_shingles(doc, self._drop, config.k)
        else:
            self.words = doc.words
            self.shingles = doc.shingles
        self.n_words = len(self.words)

    def _fill(self) -> None:
        """The passage figures (positions, words, tagged shingles) in one compiled call."""
        doc = self._doc
        dropped = np.array(self._drop, dtype=np.int64) if self._drop else _NONE
        ids, words, flat, tags, sizes = kernels.view_passages(
            doc.passages, doc.passage_sentence, len(doc.sentence_fps), dropped, doc.passage_shingles,
            doc.passage_offsets,
        )  # fmt: skip
        self._passage_ids, self._passage_words, self._tagged = ids, words, (flat, tags, sizes)

    @property
    def passage_ids(self) -> I64:
        if self._passage_ids is None and kernels.view_passages is not None:
            self._fill()
        if self._passage_ids is None:  # pragma: no cover - numpy fallback
            doc = self._doc
            if self._drop:
                # a mask over the sentences: np.isin costs tens of microseconds on arrays this small
                kept = np.ones(len(doc.sentence_fps), dtype=bool)
                kept[self._drop] = False
                self._passage_ids = np.flatnonzero(kept[doc.passage_sentence])
            else:
                self._passage_ids = np.arange(doc.n_passages)
        return self._passage_ids

    @property
    def passage_words(self) -> I64:
        if self._passage_words is None and kernels.view_passages is not None:
            self._fill()
        if self._passage_words is None:  # pragma: no cover - numpy fallback
            ranges = self._doc.passages[self.passage_ids] if self._drop else self._doc.passages
            self._passage_words = ranges[:, 1] - ranges[:, 0]
        return self._passage_words

    @property
    def tagged(self) -> tuple[U64, I64, I64]:
        """The shingles of the passages, sorted, each with its passage (a position in
        ``passage_ids``), and the passages' sizes: ``kernels.view_passages``, kept for the next comparison."""
        if self._tagged is None:
            self._fill()
        assert self._tagged is not None
        return self._tagged

    @property
    def passage_sizes(self) -> I64:
        sizes: I64 = np.diff(self._doc.passage_offsets)
        return sizes[self.passage_ids] if self._drop else sizes


def _passage_pairs(a: Shingled, va: View, b: Shingled, vb: View) -> tuple[I64, I64, npt.NDArray[np.float64]]:
    """All (passage of a, passage of b, overlap) with at least one shingle in common; indexes are
    positions in ``va.passage_ids`` and ``vb.passage_ids``."""
    if len(va.passage_ids) == 0 or len(vb.passage_ids) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.float64)
    if kernels.passage_overlaps is not None:
        counts = kernels.passage_overlaps(
            a.passage_shingles, a.passage_offsets, va.passage_ids, b.passage_shingles, b.passage_offsets, vb.passage_ids
        )
    else:  # pragma: no cover - numpy fallback
        counts = np.array(
            [
                [
                    len(np.intersect1d(a.passage_group(int(i)), b.passage_group(int(j)), assume_unique=True))
                    for j in vb.passage_ids
                ]
                for i in va.passage_ids
            ],
            dtype=np.int64,
        ).reshape(len(va.passage_ids), len(vb.passage_ids))
    ia, ib = np.nonzero(counts)
    smaller = np.minimum(va.passage_sizes[ia], vb.passage_sizes[ib])
    return ia, ib, counts[ia, ib] / np.maximum(smaller, 1)


def _shared(
    a: Shingled, va: View, b: Shingled, vb: View, threshold: float, listed: bool
) -> tuple[list[SharedPassage], float, float, int]:
    """The passages of a shared with b (each with its best partner; an empty list unless
    ``listed``), the share of a's and of b's words in shared passages, and the number of shared
    passages (the fewer side)."""
    if kernels.shared_tagged is not None:
        pa, pb, overlap, words_a, words_b, n_b = kernels.shared_tagged(
            *va.tagged, va.passage_words, *vb.tagged, vb.passage_words, threshold
        )
        if len(pa) == 0:
            return [], 0.0, 0.0, 0
        ia, ib = pa, pb
        cov_a = float(words_a) / va.n_words if va.n_words else 0.0
        cov_b = float(words_b) / vb.n_words if vb.n_words else 0.0
        n_shared = min(len(pa), int(n_b))
    else:  # pragma: no cover - numpy fallback (tested equal with the kernel switched off)
        ia, ib, overlap = _passage_pairs(a, va, b, vb)
        keep = overlap >= threshold
        ia, ib, overlap = ia[keep], ib[keep], overlap[keep]
        if len(ia) == 0:
            return [], 0.0, 0.0, 0
        # the best partner of each shared passage of a: sort by (passage of a, overlap descending)
        order = np.lexsort((-overlap, ia))
        sorted_ia = ia[order]
        first = order[np.concatenate(([True], sorted_ia[1:] != sorted_ia[:-1]))]
        shared_a, shared_b = kernels.distinct(ia), kernels.distinct(ib)
        cov_a = float(va.passage_words[shared_a].sum()) / va.n_words if va.n_words else 0.0
        cov_b = float(vb.passage_words[shared_b].sum()) / vb.n_words if vb.n_words else 0.0
        n_shared = min(len(shared_a), len(shared_b))
        ia, ib, overlap = ia[first], ib[first], overlap[first]
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
    callers that keep only the figures (the batch's grouping: a record per shared passage was
    about a quarter of the cost of a comparison)."""
    boilerplate = boilerplate or frozenset()
    va, vb = views or (View(a, boilerplate, shingle), View(b, boilerplate, shingle))
    ignored = len(boilerplate & {*a.sentence_fps.tolist(), *b.sentence_fps.tolist()}) if boilerplate else 0
    inter = (
        int(kernels.intersect_count(va.shingles, vb.shingles))
        if kernels.intersect_count is not None
        else int(np.intersect1d(va.shingles, vb.shingles, assume_unique=True).size)
    )
    na, nb = len(va.shingles), len(vb.shingles)
    union = na + nb - inter
    jaccard = inter / union if union else 0.0
    cont_a = inter / na if na else 0.0
    cont_b = inter / nb if nb else 0.0

    a_smaller = (na, a_id) <= (nb, b_id)
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

    def decide() -> tuple[Relation, str]:
        if inter < verify.min_shared_shingles:
            return Relation.NONE, "too_few_shared_shingles"
        if np.array_equal(va.words, vb.words):
            return Relation.SAME_TEXT, "same_words"
        if jaccard >= verify.near_identical_jaccard:
            return Relation.NEAR_IDENTICAL, "jaccard"
        if small_containment >= verify.min_containment:
            return (Relation.PARTIAL if a_smaller else Relation.EXTENDED), "containment"
        if n_shared >= verify.min_shared_passages and small_coverage >= verify.min_passage_coverage:
            return Relation.REWRITTEN, "shared_passages"
        return Relation.NONE, "below_thresholds"

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
