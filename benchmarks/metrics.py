"""Quality measures against true groups: pairwise precision/recall/F1, adjusted Rand index
(scikit-learn), B-cubed F1, the accuracy of the earliest-source mark, and examples of the pairs
grouped wrongly or missed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

from sklearn.metrics import adjusted_rand_score

import dedup.fronts.tune


def _pairs_in_same(labels: Mapping[str, object]) -> int:
    return sum(c * (c - 1) // 2 for c in Counter(labels.values()).values())


def labels_from_groups(groups: Sequence[Sequence[str]]) -> dict[str, int]:
    return {member: n for n, group in enumerate(groups) for member in group}


def pairwise(truth: Mapping[str, object], predicted: Mapping[str, object]) -> dict[str, float]:
    """Precision, recall and F1 over article pairs put in the same group (``dedup.fronts.tune.pairwise``,
    the measure ``dedup tune`` chooses by)."""
    q = dedup.fronts.tune.pairwise(truth, predicted)
    return {"precision": q.precision, "recall": q.recall, "f1": q.f1}


def bcubed_f1(truth: Mapping[str, object], predicted: Mapping[str, object]) -> float:
    """B-cubed F1 (Bagga and Baldwin). Written here because scikit-learn has no B-cubed measure."""
    ids = list(truth)
    joint = Counter((truth[i], predicted[i]) for i in ids)
    size_true = Counter(truth[i] for i in ids)
    size_pred = Counter(predicted[i] for i in ids)
    precision = sum(joint[(truth[i], predicted[i])] / size_pred[predicted[i]] for i in ids) / len(ids)
    recall = sum(joint[(truth[i], predicted[i])] / size_true[truth[i]] for i in ids) / len(ids)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def quality(truth: Mapping[str, object], predicted: Mapping[str, object]) -> dict[str, float]:
    ids = list(truth)
    out = pairwise(truth, predicted)
    out["ari"] = float(adjusted_rand_score([str(truth[i]) for i in ids], [str(predicted[i]) for i in ids]))
    out["bcubed_f1"] = bcubed_f1(truth, predicted)
    return {k: round(v, 4) for k, v in out.items()}


def earliest_accuracy(true_earliest: Mapping[str, str], predicted_earliest: Mapping[str, str]) -> float | None:
    """Share of true groups (of two or more) whose true earliest article is marked earliest in the
    predicted cluster that holds it. ``true_earliest``: group -> id; ``predicted_earliest``: id -> the
    earliest of its predicted cluster."""
    if not true_earliest:
        return None
    hits = sum(predicted_earliest.get(first) == first for first in true_earliest.values())
    return round(hits / len(true_earliest), 4)


def _pairs_across(outer: Mapping[str, object], inner: Mapping[str, object], limit: int) -> list[tuple[str, str]]:
    """Pairs that ``outer`` puts together and ``inner`` keeps apart: one pair (the first member of
    each part) for every two parts of an ``outer`` group, so that the examples show different
    mistakes rather than every pair of one big one. Groups come in the order of their first id."""
    parts: dict[object, dict[object, str]] = {}
    for i in sorted(outer):
        parts.setdefault(outer[i], {}).setdefault(inner[i], i)
    pairs: list[tuple[str, str]] = []
    for firsts in parts.values():
        for a, b in combinations(firsts.values(), 2):
            if len(pairs) >= limit:
                return pairs
            pairs.append((a, b))
    return pairs


def mistakes(truth: Mapping[str, object], predicted: Mapping[str, object], limit: int) -> dict[str, Any]:
    """How many pairs are grouped together wrongly (one predicted group, two true groups) and how
    many are missed (one true group, two predicted groups), with up to ``limit`` examples of each."""
    ids = list(truth)
    joint = Counter((truth[i], predicted[i]) for i in ids)
    together_both = sum(c * (c - 1) // 2 for c in joint.values())
    return {
        "wrongly_grouped": _pairs_in_same({i: predicted[i] for i in ids}) - together_both,
        "missed": _pairs_in_same(truth) - together_both,
        "wrongly_grouped_examples": _pairs_across({i: predicted[i] for i in ids}, truth, limit),
        "missed_examples": _pairs_across(truth, predicted, limit),
    }
