"""Real news: the SaudiNewsNet corpus (github.com/parallelfold/SaudiNewsNet, Arabic articles of Saudi
outlets, one zip per day) scored against the project's labelled pairs (``data/saudinewsnet/``).

The corpus is not shipped: it is read from the folder the user names (a checkout of the repository,
whose zips are in ``dataset/``, or the folder of the zips itself). The labels are a sample of pairs
drawn by stratum; each labelled pair stands for ``population / sampled`` pairs of its stratum
(Horvitz-Thompson), so the figures estimate pairwise precision and recall over every pair of the
labelled population. Positive = COPY; DIGEST pairs are left out (either answer is fair).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import dedup
from dedup.stages.provenance import find_credits

DATA = Path(__file__).resolve().parent / "data" / "saudinewsnet"
LABELS = DATA / "labels.json"
POPULATION = DATA / "population.json.gz"
DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.zip$")
POSITIVE, LEFT_OUT = "COPY", "DIGEST"
# The Saudi Press Agency: its own articles carry this source, and outlets credit it as SPA (واس).
AGENCY_SOURCE, AGENCY_CREDIT = "was", "SPA"


# -- the corpus ------------------------------------------------------------------------------------
def day_files(directory: Path, days: Sequence[str] = ()) -> list[Path]:
    """The day zips (``YYYY-MM-DD.zip``) in ``directory`` or its ``dataset/`` folder (the
    repository's layout), sorted; only the named ``days`` (file names without ``.zip``) when given."""
    found: list[Path] = []
    for folder in (directory, directory / "dataset"):
        if folder.is_dir():
            found = sorted(p for p in folder.iterdir() if DAY_FILE.match(p.name))
            if found:
                break
    if not found:
        raise SystemExit(
            f"--saudinewsnet {directory}: no day zips (YYYY-MM-DD.zip) in it or in its dataset/ folder; "
            "give a checkout of github.com/parallelfold/SaudiNewsNet or the folder of its zips"
        )
    if not days:
        return found
    by_day = {p.stem: p for p in found}
    unknown = [d for d in days if d not in by_day]
    if unknown:
        raise SystemExit(f"--days {','.join(unknown)}: no such day file; the folder has {', '.join(sorted(by_day))}")
    return [by_day[d] for d in days]


def article_id(source: str, url: str) -> str:
    """The id the labels use: the outlet, a dash and the first 10 hex digits of sha1(url)."""
    return f"{source}-{hashlib.sha1(url.encode()).hexdigest()[:10]}"


def read_days(paths: Sequence[Path], limit: int | None = None) -> list[dict[str, Any]]:
    """The articles with text of the day zips, in file order, as benchmark records (``id``,
    ``text``, ``title``, ``source``, ``url``, ``published_at``: the crawl time, Riyadh time). A
    repeated id is read once; at most ``limit`` articles when given."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                with archive.open(name) as fh:
                    items = json.load(io.TextIOWrapper(fh, encoding="utf-8"))
                for item in items:
                    text = item["content"].strip()
                    art_id = article_id(item["source"], item["url"])
                    if not text or art_id in seen:
                        continue
                    seen.add(art_id)
                    out.append(
                        {
                            "id": art_id,
                            "text": text,
                            "title": item["title"],
                            "source": item["source"],
                            "url": item["url"],
                            "published_at": item["date_extracted"].replace(" ", "T") + "+03:00",
                        }
                    )
                    if limit is not None and len(out) >= limit:
                        return out
    return out


# -- the labelled pairs ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LabelledPair:
    a: str
    b: str
    stratum: str
    label: str


@dataclass(frozen=True, slots=True)
class Design:
    """The labelled pairs, the weight of each stratum (population / sampled) and every pair of the
    population (sorted id pairs), against which predicted pairs are counted as measured or not."""

    pairs: tuple[LabelledPair, ...]
    weights: Mapping[str, float]
    population: frozenset[tuple[str, str]]


def load_design(labels: Path = LABELS, population: Path = POPULATION) -> Design:
    data = json.loads(labels.read_text(encoding="utf-8"))
    with gzip.open(population, "rt", encoding="utf-8") as fh:
        pop = frozenset((min(a, b), max(a, b)) for a, b in json.load(fh))
    return Design(
        pairs=tuple(LabelledPair(p["a"], p["b"], p["stratum"], p["label"]) for p in data["pairs"]),
        weights={s: data["population"][s] / data["sampled"][s] for s in data["sampled"]},
        population=pop,
    )


def pair_quality(groups: Iterable[Sequence[str]], design: Design) -> dict[str, Any]:
    """Design-weighted pairwise precision, recall and F1 of ``groups`` (every article read, each in
    one group, singletons included), with the largest group, the predicted pairs and those outside
    the labelled population ("unmeasured": their precision is unknown). A labelled pair is scored
    only when both its articles are in ``groups`` (a run on some days sees some of the pairs)."""
    group_of: dict[str, int] = {}
    largest = predicted = unmeasured = 0
    for n, group in enumerate(groups):
        largest = max(largest, len(group))
        for member in group:
            group_of[member] = n
        for a, b in combinations(sorted(group), 2):
            predicted += 1
            unmeasured += (a, b) not in design.population
    tp = fp = fn = 0.0
    scored = agree = 0
    for p in design.pairs:
        if p.label == LEFT_OUT or p.a not in group_of or p.b not in group_of:
            continue
        together, copy, weight = group_of[p.a] == group_of[p.b], p.label == POSITIVE, design.weights[p.stratum]
        scored += 1
        agree += together == copy
        tp += weight * (together and copy)
        fp += weight * (together and not copy)
        fn += weight * (copy and not together)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "labelled_pairs_scored": scored,
        "labelled_pairs_agreeing": agree,
        "largest_cluster": largest,
        "predicted_pairs": predicted,
        "unmeasured_pairs": unmeasured,
    }


# -- what the clusters say -------------------------------------------------------------------------
def largest_clusters(
    clusters: Sequence[dedup.Cluster], by_id: Mapping[str, dict[str, Any]], count: int = 5, titles: int = 3
) -> list[dict[str, Any]]:
    """The ``count`` largest clusters: size, outlets, earliest and the titles of ``titles`` members
    (the earliest's first)."""
    out = []
    for c in sorted(clusters, key=lambda c: (-len(c), c.id))[:count]:
        shown = [c.earliest, *(m for m in c.member_ids if m != c.earliest)][:titles]
        out.append(
            {
                "cluster": c.id,
                "size": len(c),
                "outlets": len({by_id[m]["source"] for m in c.member_ids}),
                "earliest": c.earliest,
                "titles": [" ".join(str(by_id[m]["title"]).split()) for m in shown],
            }
        )
    return out


def _crawled(record: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["published_at"]))


def agency_earliest(
    clusters: Sequence[dedup.Cluster], by_id: Mapping[str, dict[str, Any]], config: dedup.DedupConfig
) -> dict[str, Any]:
    """How often dedup names the agency's own article earliest in the clusters that hold one and an
    outlet's copy, and why not in the others: an outlet's copy crawled before the agency's article,
    or the same crawl time settled by another rule (the evidence's). Also, for every cluster of
    copies, the rule that named its earliest, and in how many some member credits the agency (واس)
    in its opening or closing lines."""
    agency_articles = sum(1 for r in by_id.values() if r["source"] == AGENCY_SOURCE)
    named = 0
    not_named: Counter[str] = Counter()
    copies = [c for c in clusters if len(c) > 1]
    for c in copies:
        sources = [by_id[m]["source"] for m in c.member_ids]
        if AGENCY_SOURCE not in sources or set(sources) == {AGENCY_SOURCE}:
            continue
        if by_id[c.earliest]["source"] == AGENCY_SOURCE:
            named += 1
            continue
        first_agency = min(_crawled(by_id[m]) for m in c.member_ids if by_id[m]["source"] == AGENCY_SOURCE)
        crawled = _crawled(by_id[c.earliest])
        if crawled < first_agency:
            not_named["outlet_copy_crawled_earlier"] += 1
        elif crawled == first_agency:
            not_named[f"same_crawl_time_then_{c.evidence.rule}"] += 1
        else:
            not_named[f"other_{c.evidence.rule}"] += 1
    crediting = [
        c
        for c in copies
        if any(AGENCY_CREDIT in find_credits(by_id[m]["text"], config.provenance) for m in c.member_ids)
    ]
    return {
        "agency_source": AGENCY_SOURCE,
        "agency_articles": agency_articles,
        "clusters_with_agency_article": named + sum(not_named.values()),
        "agency_named_earliest": named,
        "agency_not_named_because": dict(sorted(not_named.items())),
        "clusters_with_copies": len(copies),
        "earliest_rule": dict(Counter(c.evidence.rule for c in copies).most_common()),
        "clusters_crediting_agency": len(crediting),
        "crediting_clusters_earliest_credits_it": sum(
            AGENCY_CREDIT in find_credits(by_id[c.earliest]["text"], config.provenance) for c in crediting
        ),
    }
