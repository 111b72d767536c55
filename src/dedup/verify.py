"""Stage 5: exact similarity of a candidate pair, and the decision.

Measured on the exact shingle sets (never on signatures), after dropping the sentences that are
learned boilerplate in either article:

- ``jaccard``: |A ∩ B| / |A ∪ B| of the document shingles;
- ``containment_a``, ``containment_b``: |A ∩ B| / |A| and |A ∩ B| / |B|;
- shared passages: a passage of A and a passage of B are shared when at least ``passage_overlap`` of
  the shorter one's shingles are in the other; ``passage_coverage_a`` is the share of A's words that
  lie in passages it shares with B (and the reverse).

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

import numpy as np
import numpy.typing as npt

from dedup.config import ShingleConfig, VerifyConfig
from dedup.records import Match, Relation, SharedPassage
from dedup.shingle import Shingled, kgram_hashes

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


class _View:
    """An article's evidence with boilerplate sentences taken out."""

    __slots__ = ("n_words", "passage_ids", "passage_sizes", "passage_words", "shingles", "words")

    def __init__(self, doc: Shingled, boilerplate: set[int], config: ShingleConfig) -> None:
        drop = [i for i, fp in enumerate(doc.sentence_fps) if int(fp) in boilerplate]
        if drop:
            mask = np.ones(doc.n_words, dtype=bool)
            for i in drop:
                mask[doc.sentence_starts[i] : doc.sentence_starts[i + 1]] = False
            self.words = doc.words[mask]
            self.shingles = np.unique(kgram_hashes(self.words, config.k))
        else:
            self.words = doc.words
            self.shingles = doc.shingles
        dropped = set(drop)
        keep = [i for i, (s, _) in enumerate(doc.passages) if doc.sentence_of_word(s) not in dropped]
        self.passage_ids = np.asarray(keep, dtype=np.int64)
        self.passage_words = np.array([doc.passages[i][1] - doc.passages[i][0] for i in keep], dtype=np.int64)
        self.passage_sizes = np.array(
            [doc.passage_offsets[i + 1] - doc.passage_offsets[i] for i in keep], dtype=np.int64
        )
        self.n_words = len(self.words)


def _passage_pairs(a: Shingled, va: _View, b: Shingled, vb: _View) -> tuple[I64, I64, npt.NDArray[np.float64]]:
    """All (passage of a, passage of b, overlap) with at least one shingle in common."""
    if len(va.passage_ids) == 0 or len(vb.passage_ids) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.float64)
    ha = np.concatenate([a.passage_group(int(i)) for i in va.passage_ids])
    pa = np.repeat(np.arange(len(va.passage_ids)), va.passage_sizes)
    hb = np.concatenate([b.passage_group(int(i)) for i in vb.passage_ids])
    pb = np.repeat(np.arange(len(vb.passage_ids)), vb.passage_sizes)
    order = np.argsort(hb, kind="stable")
    hb, pb = hb[order], pb[order]
    left = np.searchsorted(hb, ha, side="left")
    counts = np.searchsorted(hb, ha, side="right") - left
    total = int(counts.sum())
    if total == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.float64)
    rep = np.repeat(np.arange(len(ha)), counts)
    within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    idx_b = np.repeat(left, counts) + within
    codes = pa[rep] * len(vb.passage_ids) + pb[idx_b]
    pairs, shared = np.unique(codes, return_counts=True)
    ia, ib = np.divmod(pairs, len(vb.passage_ids))
    smaller = np.minimum(va.passage_sizes[ia], vb.passage_sizes[ib])
    return ia, ib, shared / np.maximum(smaller, 1)


def compare(
    a_id: str,
    a: Shingled,
    b_id: str,
    b: Shingled,
    *,
    verify: VerifyConfig,
    shingle: ShingleConfig,
    boilerplate: set[int] | None = None,
) -> Match:
    """Compare two articles exactly and decide whether ``a`` is a copy of ``b`` (or the reverse)."""
    boilerplate = boilerplate or set()
    va, vb = _View(a, boilerplate, shingle), _View(b, boilerplate, shingle)
    ignored = sum(1 for fp in {*map(int, a.sentence_fps), *map(int, b.sentence_fps)} if fp in boilerplate)
    inter = int(np.intersect1d(va.shingles, vb.shingles, assume_unique=True).size)
    na, nb = len(va.shingles), len(vb.shingles)
    union = na + nb - inter
    jaccard = inter / union if union else 0.0
    cont_a = inter / na if na else 0.0
    cont_b = inter / nb if nb else 0.0

    ia, ib, overlap = _passage_pairs(a, va, b, vb)
    keep = overlap >= verify.passage_overlap
    ia, ib, overlap = ia[keep], ib[keep], overlap[keep]
    shared: list[SharedPassage] = []
    for i in np.unique(ia):
        rows = np.flatnonzero(ia == i)
        best = rows[np.argmax(overlap[rows])]
        pa_index = int(va.passage_ids[i])
        pb_index = int(vb.passage_ids[ib[best]])
        shared.append(
            SharedPassage(
                a_sentence=a.sentence_of_word(a.passages[pa_index][0]),
                b_sentence=b.sentence_of_word(b.passages[pb_index][0]),
                overlap=float(overlap[best]),
                text=a.sentences[a.sentence_of_word(a.passages[pa_index][0])],
            )
        )
    cov_a = float(va.passage_words[np.unique(ia)].sum()) / va.n_words if va.n_words else 0.0
    cov_b = float(vb.passage_words[np.unique(ib)].sum()) / vb.n_words if vb.n_words else 0.0
    a_smaller = (na, a_id) <= (nb, b_id)
    small_containment = cont_a if a_smaller else cont_b
    small_coverage = cov_a if a_smaller else cov_b
    n_shared = min(len(np.unique(ia)), len(np.unique(ib)))
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
