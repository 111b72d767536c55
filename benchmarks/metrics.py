"""Quality measures against true groups: pairwise precision/recall/F1, adjusted Rand index
(scikit-learn), B-cubed F1 and the accuracy of the earliest-source mark."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from sklearn.metrics import adjusted_rand_score

import dedup.tune


def labels_from_groups(groups: Sequence[Sequence[str]]) -> dict[str, int]:
    return {member: n for n, group in enumerate(groups) for member in group}


def pairwise(truth: Mapping[str, object], predicted: Mapping[str, object]) -> dict[str, float]:
    """Precision, recall and F1 over article pairs put in the same group (``dedup.tune.pairwise``,
    the measure ``dedup tune`` chooses by)."""
    q = dedup.tune.pairwise(truth, predicted)
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
