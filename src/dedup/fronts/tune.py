"""Tuning the verification thresholds on labelled articles (``dedup tune``, and the benchmark's
precision/recall trade-off).

The sweep scales the thresholds of the verification rule together: ``min_containment`` and
``min_passage_coverage`` by the factor, ``near_identical_jaccard`` only upwards (a lower one
would call articles near-identical that are not). Below 1 the rule is looser (more copies found,
more false ones), above 1 stricter. Each setting clusters the labelled articles and is scored by
pairwise precision, recall and F1 against the labels; the best F1 wins (a tie goes to the
setting nearest the default).

Labelled data is JSON Lines, one article per line: ``id``, ``text`` and ``group`` (articles with
the same group are copies of one story), and optionally ``published_at``, ``source``, ``url`` and
``title`` (the format ``benchmarks/run.py --data`` reads).

>>> labelled = read_labelled("labelled.jsonl")  # doctest: +SKIP
>>> settings = sweep(labelled.articles, labelled.groups)  # doctest: +SKIP
>>> print(table(settings, best(settings)))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from dedup import api as batch
from dedup.config import DedupConfig, VerifyConfig
from dedup.errors import ConfigError, InputError, InvalidRecordError
from dedup.fronts.io import article_from_dict, parse_line
from dedup.records import Article

SCALES = (0.5, 0.625, 0.75, 0.875, 1.0, 1.2, 1.4, 1.6, 1.8)

# the thresholds the sweep moves, in the order the table shows them
SWEPT = ("min_containment", "min_passage_coverage", "near_identical_jaccard")


def scaled(verify: VerifyConfig, scale: float) -> VerifyConfig:
    """``verify`` with its thresholds scaled by ``scale`` (each at most 1;
    ``near_identical_jaccard`` raised above 1 only)."""
    if not scale > 0:
        raise ConfigError(f"a sweep factor must be above 0, got {scale!r}")
    return replace(
        verify,
        min_containment=min(1.0, verify.min_containment * scale),
        min_passage_coverage=min(1.0, verify.min_passage_coverage * scale),
        near_identical_jaccard=min(1.0, verify.near_identical_jaccard * max(scale, 1.0)),
    )


@dataclass(frozen=True, slots=True)
class Quality:
    """Pairwise quality: of the pairs put in one cluster, the share that are copies (precision);
    of the pairs of copies, the share put in one cluster (recall); and their harmonic mean."""

    precision: float
    recall: float
    f1: float


def _pairs(labels: Iterable[object]) -> int:
    return sum(c * (c - 1) // 2 for c in Counter(labels).values())


def pairwise(truth: Mapping[str, object], predicted: Mapping[str, object]) -> Quality:
    """Pairwise precision, recall and F1 of ``predicted`` (id -> cluster) against ``truth`` (id ->
    group), over the ids of ``truth``."""
    ids = list(truth)
    both = _pairs((truth[i], predicted[i]) for i in ids)
    together_predicted = _pairs(predicted[i] for i in ids)
    together_true = _pairs(truth[i] for i in ids)
    precision = both / together_predicted if together_predicted else 1.0
    recall = both / together_true if together_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Quality(precision, recall, f1)


@dataclass(frozen=True, slots=True)
class Setting:
    """One point of the sweep: the factor, the thresholds it gives, and how they scored."""

    scale: float
    verify: VerifyConfig
    quality: Quality


def sweep(
    articles: Sequence[Article],
    groups: Mapping[str, object],
    *,
    config: DedupConfig | None = None,
    scales: Iterable[float] = SCALES,
    workers: int = 1,
) -> list[Setting]:
    """Cluster ``articles`` once per factor of ``scales`` (the verification thresholds of
    ``config`` scaled, see ``scaled``) and score each against ``groups`` (id -> group)."""
    config = config or DedupConfig()
    out = []
    for scale in scales:
        verify = scaled(config.verify, scale)
        clusters = batch.cluster(articles, config=replace(config, verify=verify), workers=workers)
        predicted = {m: c.id for c in clusters for m in c.member_ids}
        out.append(Setting(scale, verify, pairwise(groups, predicted)))
    return out


def best(settings: Sequence[Setting]) -> Setting:
    """The setting of the highest F1; of equals, the one nearest the default (factor 1)."""
    if not settings:
        raise ConfigError("no settings to choose from; give at least one sweep factor")
    return max(settings, key=lambda s: (round(s.quality.f1, 9), -abs(s.scale - 1.0)))


@dataclass(frozen=True, slots=True)
class Labelled:
    """Articles with their true groups (id -> group)."""

    articles: list[Article]
    groups: dict[str, str]

    @property
    def copy_groups(self) -> int:
        """How many groups hold two articles or more."""
        return sum(1 for size in Counter(self.groups.values()).values() if size > 1)


def read_labelled(path: str | os.PathLike[str]) -> Labelled:
    """The labelled articles of a JSON Lines file (see the module's docstring). A line that is not a
    labelled article is an error naming it: the labels are the measure, so none is left out."""
    articles: list[Article] = []
    groups: dict[str, str] = {}
    try:
        fh = open(path, "rb")  # noqa: SIM115  # closed by the with below
    except OSError as exc:
        raise InputError(
            f"--data {os.fspath(path)}: cannot be read ({exc.strerror or exc}); give a JSON Lines file of "
            "labelled articles (id, text, group)"
        ) from exc
    with fh:
        for number, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            record = parse_line(raw, number)
            article = article_from_dict(record, where=f"line {number}")
            group = record.get("group")
            if group is None or isinstance(group, dict | list):
                raise InvalidRecordError(
                    f"line {number}: no group (got {group!r}); give each article a group, the same for "
                    'copies of one story: {"id": ..., "text": ..., "group": "story-1"}'
                )
            articles.append(article)
            groups[article.id] = str(group)
    if _pairs(groups.values()) == 0:
        raise InputError(
            f"--data {os.fspath(path)}: no two of its {len(groups)} articles share a group, so there are no "
            "copies to find; label copies of one story with the same group"
        )
    return Labelled(articles, groups)


def parse_scales(text: str) -> tuple[float, ...]:
    """``--scales 0.5,1.5``: the factors, each above 0, in order, with 1 (the default) among them."""
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"--scales must be numbers separated by commas (e.g. 0.5,1,1.5), got {text!r}") from None
    if not values or any(not v > 0 or v == float("inf") for v in values):
        raise ConfigError(f"--scales must be one or more numbers above 0 (e.g. 0.5,1,1.5), got {text!r}")
    return tuple(sorted({*values, 1.0}))


def table(settings: Sequence[Setting], chosen: Setting) -> str:
    """The sweep for people: one line per setting, the default marked ``*``, the best ``<- best``."""
    header = f"  {'factor':>6}  " + "  ".join(f"{name:>22}" for name in SWEPT)
    lines = [header + f"  {'precision':>9}  {'recall':>6}  {'F1':>6}"]
    for s in settings:
        mark = "*" if s.scale == 1.0 else " "
        values = "  ".join(f"{getattr(s.verify, name):>22.4f}" for name in SWEPT)
        q = s.quality
        row = f"{mark} {s.scale:>6.3f}  {values}  {q.precision:>9.3f}  {q.recall:>6.3f}  {q.f1:>6.3f}"
        lines.append(row + ("  <- best" if s is chosen else ""))
    lines.append("* the default thresholds (factor 1: dedup's own, or those of --config)")
    return "\n".join(lines)


def config_sections(config: DedupConfig) -> dict[str, Any]:
    """``config`` as ``dedup cluster --config`` reads it: the ``verify`` section whole, and any
    other section or setting that differs from the defaults."""
    ours, defaults = asdict(config), asdict(DedupConfig())
    out: dict[str, Any] = {"verify": ours["verify"]}
    for f in fields(DedupConfig):
        if f.name != "verify" and ours[f.name] != defaults[f.name]:
            out[f.name] = ours[f.name]
    return out


def write_config(path: str, config: DedupConfig) -> None:
    """Write ``config_sections(config)`` as JSON to ``path`` (created, or replaced)."""
    text = json.dumps(config_sections(config), indent=2, ensure_ascii=False) + "\n"
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--out {path}: cannot be written ({exc.strerror or exc}); check the folder exists") from exc
