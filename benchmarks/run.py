"""The dedup benchmark: quality and speed against the peers, on the same data, in the same run.

    python benchmarks/run.py                       # seeds, the example file, 2,000 generated articles
    python benchmarks/run.py --data mine.jsonl     # also your own labelled articles
    python benchmarks/run.py --data mine.jsonl --only-data    # only your own articles: quality, mistakes
    python benchmarks/run.py --saudinewsnet DIR --only-data   # real news: SaudiNewsNet's day zips in DIR
    python benchmarks/run.py --size 20000 --stream-sizes 10000,100000 --out results.json --plot results.png
    python benchmarks/run.py --cli-sizes 10000,100000,1000000 --plot results.png   # time and memory plotted
    python benchmarks/run.py --cli-sizes 100000,1000000 --workers 2   # also `dedup cluster` on big files
    python benchmarks/run.py --cli-sizes 100000,1000000 --spark-up-to 1000000   # and the Spark job on them
    python benchmarks/run.py --first-contact 3000   # import and first calls in fresh processes (the default)
    python benchmarks/run.py --window-stream 1000000   # a month's crawl through a 7-day window (window.py)

Labelled data (``--data``) is JSON Lines, one article per line: ``id`` and ``text`` (required),
``group`` (required: articles with the same value are copies of one story), and optionally
``published_at`` (ISO 8601), ``source``, ``title``, and ``original`` (true for the article the others
were copied from; without it, the group member with the smallest ``published_at`` is taken as the true
earliest, and a group with no times is not scored for earliest source).

It prints a readable table on standard output (``--json`` prints the JSON summary there instead;
``--out`` writes the JSON summary to a file). For each data set it lists pairs grouped wrongly and
pairs missed (``--pairs``), and for your own ``--data`` it tries stricter and looser verification
settings and says when one scores a better F1 than the default, and how to use it. ``--plot`` draws
the precision/recall trade-off of those settings and the peers, and time and memory against corpus
size (needs matplotlib). Every speed figure is given as articles per second and as a ratio to the
datasketch peer measured in the same run; ``--no-peers`` runs no peer anywhere.

``--saudinewsnet DIR`` scores real news: the day zips of the public SaudiNewsNet corpus (a checkout of
github.com/parallelfold/SaudiNewsNet, or the folder of its zips; not shipped) against the project's
labelled pairs (benchmarks/data/saudinewsnet/), weighted by the design they were sampled by, for dedup
and the datasketch pipeline at LSH thresholds 0.8, 0.5 and 0.3; with dedup's largest clusters and how
often the Saudi Press Agency's own article is named earliest. ``--days`` and ``--limit`` take a slice.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

try:
    import dedup
    import dedup.fronts.tune
    import dedup.kernels
    import first_contact
    import generate
    import metrics
    import peers
    import real_news
    import scale as scale_bench
    import window as window_bench
except ModuleNotFoundError as missing:  # the peers and the measures are the bench extra's
    raise SystemExit(
        f"benchmarks/run.py needs {(missing.name or 'a module').split('.')[0]}, of the bench extra: .venv/bin/pip install -e '.[bench]'"
    ) from None

ROOT = HERE.parent
EXAMPLE = HERE / "data" / "labelled_example.jsonl"


# -- data ------------------------------------------------------------------------------------------
def load_labelled(path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        missing = [k for k in ("id", "text", "group") if k not in record]
        if missing:
            raise SystemExit(f"{path}:{number}: missing {', '.join(missing)} (see --help for the format)")
        record["id"], record["group"] = str(record["id"]), str(record["group"])
        records.append(record)
    return records


def load_seeds() -> list[dict[str, Any]]:
    manifest = [json.loads(line) for line in (ROOT / "seeds" / "manifest.jsonl").read_text().splitlines() if line]
    out = []
    for m in manifest:
        text = (ROOT / "seeds" / m["file"]).read_text(encoding="utf-8")
        group = m["copy_group"] or m["id"]
        # Within a copy group the manifest names the article that prints its date: the source.
        out.append({"id": m["id"], "text": text, "group": group, "original": bool(m["date_in_text"])})
    return out


def true_earliest(records: Sequence[dict[str, Any]]) -> dict[str, str]:
    by_group: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_group.setdefault(r["group"], []).append(r)
    out = {}
    for group, members in by_group.items():
        if len(members) < 2:
            continue
        flagged = [r["id"] for r in members if r.get("original")]
        if len(flagged) == 1:
            out[group] = flagged[0]
            continue
        timed = [r for r in members if r.get("published_at")]
        if timed:
            out[group] = min(timed, key=lambda r: (datetime.fromisoformat(r["published_at"]), r["id"]))["id"]
    return out


def articles(records: Sequence[dict[str, Any]]) -> list[dedup.Article]:
    return [
        dedup.Article(
            id=r["id"], text=r["text"], published_at=r.get("published_at"), source=r.get("source"), title=r.get("title")
        )
        for r in records
    ]


# -- running ---------------------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def fastest(fn: Callable[[], Any], repeats: int = 3) -> float:
    """The best of ``repeats`` timings of ``fn`` (for the per-article rates, ours and the peers'
    alike: the machine is shared, and the best run is the one least disturbed)."""
    return min(timed(fn)[1] for _ in range(repeats))


def peak_memory_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    finally:
        tracemalloc.stop()


def snippet(record: dict[str, Any], width: int = 60) -> str:
    """The title of a labelled article, or else the start of its text on one line."""
    text = " ".join(str(record.get("title") or record["text"]).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def described(pairs: Sequence[tuple[str, str]], records: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    by_id = {r["id"]: r for r in records}
    return [
        {
            "a": a,
            "a_group": by_id[a]["group"],
            "a_text": snippet(by_id[a]),
            "b": b,
            "b_group": by_id[b]["group"],
            "b_text": snippet(by_id[b]),
        }
        for a, b in pairs
    ]


def evaluate(
    records: Sequence[dict[str, Any]], config: dedup.DedupConfig, with_peers: bool, pairs: int = 5
) -> dict[str, Any]:
    truth = {r["id"]: r["group"] for r in records}
    ids, texts = [r["id"] for r in records], [r["text"] for r in records]
    clusters, seconds = timed(lambda: dedup.cluster(articles(records), config=config))
    predicted = {m: c.id for c in clusters for m in c.member_ids}
    earliest = {m: c.earliest for c in clusters for m in c.member_ids}
    wrong = metrics.mistakes(truth, predicted, pairs)
    out: dict[str, Any] = {
        "articles": len(records),
        "true_groups_with_copies": sum(1 for g in set(truth.values()) if list(truth.values()).count(g) > 1)
        if len(records) < 5000
        else None,
        "dedup": {
            **metrics.quality(truth, predicted),
            "earliest_accuracy": metrics.earliest_accuracy(true_earliest(records), earliest),
            "seconds": round(seconds, 3),
        },
        "mistakes": {
            "wrongly_grouped": wrong["wrongly_grouped"],
            "missed": wrong["missed"],
            "wrongly_grouped_examples": described(wrong["wrongly_grouped_examples"], records),
            "missed_examples": described(wrong["missed_examples"], records),
        },
    }
    if with_peers:
        groups, seconds = timed(lambda: peers.datasketch_cluster(ids, texts))
        out["datasketch"] = {**metrics.quality(truth, metrics.labels_from_groups(groups)), "seconds": round(seconds, 3)}
        if peers.rensa_available():
            groups, seconds = timed(lambda: peers.rensa_cluster(ids, texts))
            out["rensa"] = {**metrics.quality(truth, metrics.labels_from_groups(groups)), "seconds": round(seconds, 3)}
    return out


REAL_NEWS_PEER_THRESHOLDS = (0.8, 0.5, 0.3)


def evaluate_real_news(
    records: Sequence[dict[str, Any]], design: real_news.Design, config: dedup.DedupConfig, with_peers: bool
) -> dict[str, Any]:
    """dedup and the peers on the real-news records, scored on the labelled pairs
    (``real_news.pair_quality``), with dedup's largest clusters and its earliest sources."""
    by_id = {r["id"]: r for r in records}
    ids, texts = [r["id"] for r in records], [r["text"] for r in records]
    # Articles with no words left once furniture is dropped are skipped, as `dedup cluster` skips
    # them, and scored as grouped with nothing.
    skipped: list[dedup.Skip] = []
    clusters, seconds = timed(lambda: dedup.cluster(articles(records), config=config, errors="skip", skipped=skipped))
    groups = [*(c.member_ids for c in clusters), *((s.id,) for s in skipped if s.id is not None)]
    methods = {"dedup": {**real_news.pair_quality(groups, design), "seconds": round(seconds, 1)}}
    if with_peers:
        runs: list[tuple[str, Callable[[], list[list[str]]]]] = [
            (f"datasketch {t:g}", lambda t=t: peers.datasketch_cluster(ids, texts, t))
            for t in REAL_NEWS_PEER_THRESHOLDS
        ]
        # rensa's index is built with a fixed number of bands, which alone decides its candidates:
        # its threshold changes nothing, so it runs once.
        if peers.rensa_available():
            runs.append((f"rensa {PEER_DEFAULT:g}", lambda: peers.rensa_cluster(ids, texts, PEER_DEFAULT)))
        for name, run in runs:
            groups, seconds = timed(run)
            methods[name] = {**real_news.pair_quality(groups, design), "seconds": round(seconds, 1)}
    return {
        "articles": len(records),
        "skipped_by_dedup": len(skipped),
        "methods": methods,
        "largest_clusters": real_news.largest_clusters(clusters, by_id),
        "earliest": real_news.agency_earliest(clusters, by_id, config),
    }


def exact_reference(records: Sequence[dict[str, Any]], subset: int, config: dedup.DedupConfig) -> dict[str, Any]:
    """All-pairs exact Jaccard (5-grams, 0.8) on a subset: the recall reference for LSH, and how every
    method does on that subset."""
    sub = list(records[:subset])
    ids, texts = [r["id"] for r in sub], [r["text"] for r in sub]
    truth = {r["id"]: r["group"] for r in sub}
    exact, seconds = timed(lambda: peers.exact_pairs(ids, texts))
    lsh_groups = peers.datasketch_cluster(ids, texts)
    lsh_labels = metrics.labels_from_groups(lsh_groups)
    found = sum(1 for a, b in exact if lsh_labels[a] == lsh_labels[b])
    uf = peers.UnionFind(ids)
    for a, b in exact:
        uf.union(a, b)
    ours = dedup.cluster(articles(sub), config=config)
    return {
        "articles": len(sub),
        "exact_pairs_at_0.8": len(exact),
        "exact_seconds": round(seconds, 3),
        "datasketch_lsh_recall_of_exact_pairs": round(found / len(exact), 4) if exact else None,
        "exact": metrics.quality(truth, metrics.labels_from_groups(uf.groups())),
        "dedup": metrics.quality(truth, {m: c.id for c in ours for m in c.member_ids}),
    }


def speed(records: Sequence[dict[str, Any]], config: dedup.DedupConfig, with_peers: bool = True) -> dict[str, Any]:
    arts = articles(records)
    texts = [r["text"] for r in records]
    n = len(arts)
    # compile every kernel outside the timing (numba caches them on disk; a fresh checkout compiles
    # on first use): preparing, the index and the verifier, and the batch engine
    warm = dedup.Deduplicator(config)
    warm.add_many(arts[:100])
    dedup.cluster(arts[:100], config=config)
    dedup.signatures(texts[:100], config=config)
    d = dedup.Deduplicator(config)
    # raw text to signatures, as the peers' rows (dedup.signatures); raw text to everything the
    # index needs (signatures, passage signatures, shingle sets, sentences), in a batch and one
    # article at a time (the crawler's path)
    t_sign = fastest(lambda: dedup.signatures(texts, config=config))
    t_prepare = fastest(lambda: d.prepare_many(arts))
    t_prepare_one = fastest(lambda: [d.prepare(a) for a in arts])
    prepared = d.prepare_many(arts)
    floor_vocabulary: dict[str, int] = {}
    t_floor = fastest(lambda: [[floor_vocabulary.setdefault(w, 0) for w in t.split()] for t in texts])
    _, t_index = timed(lambda: [d.add(p) for p in prepared])
    # the whole batch best of 2, ours and the peers': the first call of a process also loads what
    # it uses once (dateparser's expressions, compiled kernels read from the cache; ~1 s, measured)
    t_batch = fastest(lambda: dedup.cluster(arts, config=config), repeats=2)
    out: dict[str, Any] = {
        "articles": n,
        "words_per_article": round(sum(len(t.split()) for t in texts) / n, 1),
        "floor_split_and_lookup_per_s": round(n / t_floor, 1),
        "kernel": dedup.kernels.KERNEL,
        "dedup": {
            "signatures_per_s": round(n / t_sign, 1),
            "prepare_per_s": round(n / t_prepare, 1),
            "prepare_one_at_a_time_per_s": round(n / t_prepare_one, 1),
            "index_per_s": round(n / t_index, 1),
            "batch_per_s": round(n / t_batch, 1),
            "peak_memory_mb": peak_memory_mb(lambda: dedup.cluster(arts, config=config)),
        },
    }
    ours = out["dedup"]
    out["floor_ratio"] = round(out["floor_split_and_lookup_per_s"] / ours["signatures_per_s"], 2)
    out["floor_ratio_prepare"] = round(out["floor_split_and_lookup_per_s"] / ours["prepare_per_s"], 2)
    if not with_peers:
        return out
    ds_sign = fastest(lambda: peers.datasketch_signatures(texts))
    ds_batch = fastest(lambda: peers.datasketch_cluster([r["id"] for r in records], texts), repeats=2)
    out["datasketch"] = ds = {
        "signatures_per_s": round(n / ds_sign, 1),
        "batch_per_s": round(n / ds_batch, 1),
        "peak_memory_mb": peak_memory_mb(lambda: peers.datasketch_cluster([r["id"] for r in records], texts)),
    }
    if peers.rensa_available():
        rs_sign = fastest(lambda: peers.rensa_signatures(texts))
        rs_batch = fastest(lambda: peers.rensa_cluster([r["id"] for r in records], texts), repeats=2)
        out["rensa"] = {"signatures_per_s": round(n / rs_sign, 1), "batch_per_s": round(n / rs_batch, 1)}
    if "rensa" in out:
        out["ratio_to_rensa"] = {"signatures": round(ours["signatures_per_s"] / out["rensa"]["signatures_per_s"], 2)}
    out["ratio_to_datasketch"] = {
        "signatures": round(ours["signatures_per_s"] / ds["signatures_per_s"], 2),
        "batch": round(ours["batch_per_s"] / ds["batch_per_s"], 2),
        "peak_memory": round(ours["peak_memory_mb"] / ds["peak_memory_mb"], 2) if ds["peak_memory_mb"] else None,
    }
    return out


def streaming(
    indexed: int, probes: int, seed: int, config: dedup.DedupConfig, with_peers: bool = True
) -> dict[str, Any]:
    """Latency of one ``Deduplicator.add`` with ``indexed`` articles already in memory, next to the
    datasketch peer's per-article MinHash + query + insert."""
    records = generate.generate(indexed + probes, seed)
    base, probe = articles(records[:indexed]), articles(records[indexed:])
    d = dedup.Deduplicator(config)
    before = scale_bench._tree_rss_kib(os.getpid())
    _, build = timed(lambda: d.add_many(base))
    grown_kib = scale_bench._tree_rss_kib(os.getpid()) - before
    latencies = []
    for a in probe:
        _, s = timed(lambda a=a: d.add(a))
        latencies.append(s * 1000)

    def summary(values: list[float]) -> dict[str, float]:
        values = sorted(values)
        return {
            "median_ms": round(statistics.median(values), 3),
            "p99_ms": round(values[min(len(values) - 1, int(0.99 * len(values)))], 3),
        }

    out: dict[str, Any] = {
        "indexed": indexed,
        "probes": probes,
        "build_seconds": round(build, 2),
        "dedup_rss_per_indexed_kb": round(grown_kib / indexed, 1),
        "dedup": summary(latencies),
    }
    if not with_peers:
        return out
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    for r, m in zip(
        records[:indexed], peers.datasketch_signatures([r["text"] for r in records[:indexed]]), strict=True
    ):
        lsh.insert(r["id"], m)
    ds_latencies = []
    for r in records[indexed:]:
        start = time.perf_counter()
        m = MinHash(num_perm=128)
        m.update_batch(peers.shingles(r["text"]))
        lsh.query(m)
        lsh.insert(r["id"], m)
        ds_latencies.append((time.perf_counter() - start) * 1000)
    out["datasketch"] = summary(ds_latencies)
    return out


def _stream_adds(
    arts: Sequence[dedup.Article], config: dedup.DedupConfig, *, frozen: bool, shared: str | None = None
) -> dict[str, Any]:
    """A new stream adds ``arts`` one at a time, every add timed (``frozen``: after its first
    answer, the adds run under ``dedup.short_gc_pauses``, as ``dedup stream`` runs them). With
    ``shared`` (a Redis URL), three workers of a new namespace there take turns, each add timed
    with the worker's catching up with the two adds before it."""
    # the sections before leave their indexes to the cycle collector (a 100,000-article one takes
    # seconds to collect): collected here, not in the middle of the adds timed below
    gc.collect()
    if shared is None:
        workers = [dedup.Deduplicator(config)]
    else:
        url = f"{shared}{'&' if '?' in shared else '?'}namespace=syndicated-{os.getpid()}-{int(time.time())}"
        first = dedup.Deduplicator.open(url, config)
        workers = [first, dedup.Deduplicator.open(url), dedup.Deduplicator.open(url)]
    try:
        return _timed_adds(arts, workers, frozen)
    finally:
        for worker in workers:
            worker.close()


def _timed_adds(arts: Sequence[dedup.Article], workers: Sequence[dedup.Deduplicator], frozen: bool) -> dict[str, Any]:
    """``_stream_adds`` once its workers are open: they take turns."""
    adds = []
    # the adds during which Python's collector walked every object (a full collection): their
    # time is mostly the collector's, proportional to all the objects of the process
    full = [0]

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full[0] += 1

    gc.callbacks.append(collected)
    slow_with_full = 0
    try:
        with contextlib.ExitStack() as stack:
            for n, a in enumerate(arts):
                before = full[0]
                d = workers[n % len(workers)]
                _, s = timed(lambda a=a, d=d: d.add(a))
                adds.append(s * 1000)
                if s > 0.020 and full[0] > before:
                    slow_with_full += 1
                if frozen and len(adds) == 1:
                    stack.enter_context(dedup.short_gc_pauses())
    finally:
        gc.callbacks.remove(collected)
    adds.sort()
    return {
        "stream_seconds": round(sum(adds) / 1000, 2),
        "add_median_ms": round(statistics.median(adds), 2),
        "add_p99_ms": round(adds[min(len(adds) - 1, int(0.99 * len(adds)))], 2),
        "add_max_ms": round(adds[-1], 2),
        "adds_over_20_ms": sum(x > 20 for x in adds),
        "adds_over_20_ms_with_a_full_collection": slow_with_full,
    }


def syndicated(
    copies: int, seed: int, config: dedup.DedupConfig, with_peers: bool = True, redis: str | None = None
) -> dict[str, Any]:
    """One story copied by ``copies`` outlets (``generate.syndicated``): the whole batch, the stream
    one article at a time (every add timed) as a program embeds it and as ``dedup stream`` runs it,
    the same with every copy dated by the day alone, with ``redis`` (a URL) three workers sharing
    a new namespace of that server taking turns, and the peers' whole batch on the same texts."""
    records = generate.syndicated(copies, seed)
    arts = articles(records)
    gc.collect()  # what the sections before left (see ``_stream_adds``)
    clusters, t_batch = timed(lambda: dedup.cluster(arts, config=config))
    out: dict[str, Any] = {
        "articles": len(arts),
        "dedup": {
            "batch_seconds": round(t_batch, 2),
            "largest_cluster": max(len(c) for c in clusters),
            **_stream_adds(arts, config, frozen=False),
        },
        # ``dedup stream`` leaves the objects made before its first answer out of later collections
        "dedup stream": _stream_adds(arts, config, frozen=True),
        # every copy given the day alone: their times tie, and the texts tell the earliest
        "dedup stream, one day": _stream_adds(_on_one_day(arts), config, frozen=True),
    }
    if redis is not None:
        out["dedup, three workers"] = _stream_adds(arts, config, frozen=True, shared=redis)
    if with_peers:
        ids, texts = [r["id"] for r in records], [r["text"] for r in records]
        groups, t_ds = timed(lambda: peers.datasketch_cluster(ids, texts))
        out["datasketch"] = {"batch_seconds": round(t_ds, 2), "largest_cluster": max(map(len, groups))}
        if peers.rensa_available():
            groups, t_rs = timed(lambda: peers.rensa_cluster(ids, texts))
            out["rensa"] = {"batch_seconds": round(t_rs, 2), "largest_cluster": max(map(len, groups))}
    return out


def _on_one_day(arts: Sequence[dedup.Article]) -> list[dedup.Article]:
    """The articles with a ``published_at`` of the first one's day (UTC), without a time."""
    day = min(a.published_utc for a in arts if a.published_utc is not None).date().isoformat()
    return [replace(a, published_at=day) for a in arts]


def syndicated_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for row in rows:
        ours = row["dedup"]
        lines += [
            "",
            f"one story copied by {row['articles'] - 1:,} outlets: dedup cluster {ours['batch_seconds']} s "
            f"(largest cluster {ours['largest_cluster']:,})"
            + "".join(
                f", {peer} {row[peer]['batch_seconds']} s (largest {row[peer]['largest_cluster']:,}, no verification)"
                for peer in ("datasketch", "rensa")
                if peer in row
            ),
            "  stream, one add at a time: " + _adds_line(ours),
        ]
        if "dedup stream" in row:
            lines.append(
                "  the same as `dedup stream` runs it (under short_gc_pauses): " + _adds_line(row["dedup stream"])
            )
        if "dedup stream, one day" in row:
            lines.append(
                "  the same, every copy dated with the day alone (their times tie): "
                + _adds_line(row["dedup stream, one day"])
            )
        if "dedup, three workers" in row:
            lines.append(
                "  three workers sharing a Redis index, taking turns (each add with its catching up): "
                + _adds_line(row["dedup, three workers"])
            )
    return lines


def _adds_line(adds: dict[str, Any]) -> str:
    return (
        f"{adds['stream_seconds']} s in all, add median {adds['add_median_ms']} ms, p99 {adds['add_p99_ms']} ms, "
        f"max {adds['add_max_ms']} ms ({adds['adds_over_20_ms']} adds over 20 ms, "
        f"{adds['adds_over_20_ms_with_a_full_collection']} of them during a full garbage collection)"
    )


# Verification thresholds scaled together, from looser (below 1) to stricter (above 1); 1 is the
# default. The LSH thresholds of the peers, 0.8 being the peers' default.
SCALES = (0.5, 0.75, 1.0, 1.4, 1.8)
PEER_THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9)
PEER_DEFAULT = 0.8
# A swept setting is suggested only when it beats the default by this much F1: smaller gaps are
# within what one article more or less in a labelled set moves.
ADVICE_MARGIN = 0.01


def scaled(config: dedup.DedupConfig, scale: float) -> dedup.DedupConfig:
    """``config`` with its verification thresholds scaled as ``dedup tune`` scales them
    (``dedup.fronts.tune.scaled``)."""
    return replace(config, verify=dedup.fronts.tune.scaled(config.verify, scale))


def _point(setting: float, q: dict[str, float]) -> dict[str, float]:
    return {"setting": setting, **{k: round(q[k], 4) for k in ("precision", "recall", "f1")}}


def tradeoff(
    records: Sequence[dict[str, Any]], config: dedup.DedupConfig, with_peers: bool = True
) -> dict[str, list[dict[str, float]]]:
    """Precision, recall and F1 as the decision gets stricter or looser (ours: every verification
    threshold scaled, ``SCALES``; the peers: the LSH threshold, ``PEER_THRESHOLDS``)."""
    truth = {r["id"]: r["group"] for r in records}
    out: dict[str, list[dict[str, float]]] = {
        "dedup": [
            _point(s.scale, {"precision": s.quality.precision, "recall": s.quality.recall, "f1": s.quality.f1})
            for s in dedup.fronts.tune.sweep(articles(records), truth, config=config, scales=SCALES)
        ]
    }
    if not with_peers:
        return out
    ids, texts = [r["id"] for r in records], [r["text"] for r in records]
    runs: dict[str, Callable[[float], list[list[str]]]] = {
        "datasketch": lambda t: peers.datasketch_cluster(ids, texts, t)
    }
    if peers.rensa_available():
        runs["rensa"] = lambda t: peers.rensa_cluster(ids, texts, t)
    for name, run in runs.items():
        out[name] = [_point(t, metrics.pairwise(truth, metrics.labels_from_groups(run(t)))) for t in PEER_THRESHOLDS]
    return out


def advice(name: str, points: Sequence[dict[str, float]], config: dedup.DedupConfig) -> dict[str, Any] | None:
    """The swept setting to suggest on data set ``name``: the best F1 of ``points`` (``tradeoff``'s
    ours), when it beats the default's by ``ADVICE_MARGIN`` or more; else None."""
    default = next(p for p in points if p["setting"] == 1.0)
    best = max(points, key=lambda p: (p["f1"], p["setting"] == 1.0))
    if best["f1"] < default["f1"] + ADVICE_MARGIN:
        return None
    v = scaled(config, best["setting"]).verify
    fields = {k: round(getattr(v, k), 4) for k in ("near_identical_jaccard", "min_containment", "min_passage_coverage")}
    return {
        "data": name,
        "setting": best["setting"],
        "f1": best["f1"],
        "default_f1": default["f1"],
        "verify": fields,
        "python": "dedup.DedupConfig(verify=dedup.VerifyConfig("
        + ", ".join(f"{k}={val}" for k, val in fields.items())
        + "))",
    }


def advice_line(a: dict[str, Any]) -> str:
    kind = "stricter" if a["setting"] > 1 else "looser"
    return (
        f"On {a['data']}, a {kind} setting (verification thresholds x{a['setting']}) scores F1 {a['f1']:.3f} "
        f"against {a['default_f1']:.3f} for the default. To use it: {a['python']}"
    )


def scaling(
    sizes: Sequence[int], seed: int, config: dedup.DedupConfig, with_peers: bool = True
) -> list[dict[str, float]]:
    rows = []
    for size in sizes:
        records = generate.generate(size, seed)
        arts, texts, ids = articles(records), [r["text"] for r in records], [r["id"] for r in records]
        _, ours = timed(lambda arts=arts: dedup.cluster(arts, config=config))
        row = {"articles": size, "dedup_seconds": round(ours, 3), "dedup_per_s": round(size / ours, 1)}
        if with_peers:
            _, theirs = timed(lambda ids=ids, texts=texts: peers.datasketch_cluster(ids, texts))
            row.update({"datasketch_seconds": round(theirs, 3), "datasketch_per_s": round(size / theirs, 1)})
            if peers.rensa_available():
                _, rensa = timed(lambda ids=ids, texts=texts: peers.rensa_cluster(ids, texts))
                row.update({"rensa_seconds": round(rensa, 3), "rensa_per_s": round(size / rensa, 1)})
        rows.append(row)
    return rows


def _spark_failure(code: int, stderr: str, size: int) -> str:
    """What a failed Spark job said, and where its whole log was kept: the first ERROR line of
    Spark's log and the innermost ``Caused by`` of the stack trace (a trace ends with its least
    useful frames), or else the first line naming an error or exception."""
    fd, log = tempfile.mkstemp(prefix=f"dedup-spark-{size}-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(stderr)
    lines = [ln.strip() for ln in stderr.replace("\r", "\n").splitlines() if ln.strip()]
    logged = [ln for ln in lines if re.search(r"\bERROR\b", ln)][:1]
    caused = [ln for ln in lines if ln.startswith("Caused by:")][-1:]
    named = [ln for ln in lines if re.search(r"(Error|Exception)\b", ln) and not re.search(r"\bWARN\b", ln)][:1]
    cause = " / ".join(ln[:300] for ln in (logged + caused or named or lines[-1:]))
    return f"exit {code}: {cause} (whole log: {log})"


def command_line(
    sizes: Sequence[int], seed: int, workers: int, peer_up_to: int, spark_up_to: int = 0
) -> list[dict[str, Any]]:
    """``dedup cluster FILE --workers N`` on generated files, as ``scale.py`` measures it: wall time
    and the peak memory of the process and its workers; the peers' pipelines up to ``peer_up_to``;
    the Spark job in ``local[2]`` on the same file up to ``spark_up_to`` (``spark_bench.py``), with
    its answers compared with ``dedup cluster``'s."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = Path(tmp) / f"g{size}.jsonl"
            with path.open("w", encoding="utf-8") as fh:
                for record in generate.generate(size, seed):
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            argv = ["cluster", str(path), "--no-progress", "--workers", str(workers)]
            answers = Path(tmp) / f"clusters{size}.jsonl"
            seconds, rss = scale_bench._child([sys.executable, "-c", scale_bench.DEDUP, *argv], stdout=answers)
            row: dict[str, Any] = {"articles": size, "workers": workers, "dedup_seconds": round(seconds, 1),
                                   "dedup_per_s": round(size / seconds, 1), "dedup_peak_rss_mb": round(rss),
                                   "dedup_f1": round(_answers_f1(path, answers), 4)}  # fmt: skip
            if size <= spark_up_to:
                print(f"[{time.strftime('%H:%M:%S')}] Spark job in local[2] on {size:,} articles", file=sys.stderr)
                job = subprocess.run(
                    [sys.executable, str(HERE / "spark_bench.py"), "--input", str(path), "--expect", str(answers)],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if job.returncode != 0:  # reported in the table; the other figures of the run stand
                    row["spark_error"] = _spark_failure(job.returncode, job.stderr, size)
                else:
                    spark = json.loads(job.stdout.strip().splitlines()[-1])
                    row.update(
                        {k if k.startswith("spark") else f"spark_{k}": v for k, v in spark.items() if k != "articles"}
                    )
            os.remove(answers)
            if size <= peer_up_to:
                for peer in ("datasketch", "rensa") if peers.rensa_available() else ("datasketch",):
                    child = [sys.executable, "-c", scale_bench.PEER, str(path), str(HERE), f"{peer}_cluster"]
                    seconds, rss = scale_bench._child(child)
                    row.update({f"{peer}_seconds": round(seconds, 1), f"{peer}_per_s": round(size / seconds, 1),
                                f"{peer}_peak_rss_mb": round(rss)})  # fmt: skip
            rows.append(row)
            os.remove(path)
    return rows


def _answers_f1(records: Path, answers: Path) -> float:
    """Pairwise F1 of ``dedup cluster``'s answers (JSON Lines) against the generated groups: the
    quality at this size, which must not fall as the corpus grows."""
    with records.open(encoding="utf-8") as fh:
        truth = {r["id"]: r["group"] for r in map(json.loads, fh)}
    with answers.open(encoding="utf-8") as fh:
        groups = [[m["id"] for m in json.loads(line)["members"]] for line in fh if line.startswith("{")]
    predicted = metrics.labels_from_groups(groups)
    predicted.update({i: f"alone:{i}" for i in truth if i not in predicted})
    return metrics.pairwise(truth, predicted)["f1"]


# -- reporting -------------------------------------------------------------------------------------
def table_lines_for_command_line(rows: Sequence[dict[str, Any]]) -> str:
    """The table's lines for ``command_line``'s rows (with the Spark column where it ran)."""
    lines: list[str] = []
    for row in rows:
        peer = "".join(
            f"   {name} (one process) {row[f'{name}_seconds']} s, {row[f'{name}_per_s']:.0f}/s, "
            f"peak {row[f'{name}_peak_rss_mb']} MB"
            for name in ("datasketch", "rensa")
            if f"{name}_seconds" in row
        )
        lines.append(
            f"  dedup cluster, {row['articles']:,} articles, {row['workers']} workers: {row['dedup_seconds']} s "
            f"({row['dedup_per_s']:.0f}/s), peak {row['dedup_peak_rss_mb']} MB (process and workers), "
            f"pairwise F1 {row.get('dedup_f1', float('nan')):.3f}{peer}"
        )
        if "spark_error" in row:
            lines.append(f"  {'':<13}Spark local[2], same file: FAILED ({row['spark_error']})")
        if "spark_seconds" in row:
            lines.append(
                f"  {'':<13}Spark local[2], same file: {row['spark_seconds']} s ({row['spark_local2_per_s']:.0f}/s, "
                f"{row['spark_local2_per_s'] / row['dedup_per_s']:.2f}x dedup cluster's rate), shuffle "
                f"{row['spark_shuffle_bytes_per_article']:.0f} B/article, same clusters and earliest sources: "
                f"{'yes' if row.get('spark_same_as_in_process') else 'NO'}"
            )
    return "\n".join(lines)


def quality_lines(summary: dict[str, Any]) -> list[str]:
    if not summary["quality"]:
        return []
    lines = [f"{'data':<12} {'method':<11} {'P':>6} {'R':>6} {'F1':>6} {'ARI':>6} {'B3-F1':>6} {'earliest':>8}"]
    for name, result in summary["quality"].items():
        for method in ("dedup", "datasketch", "rensa"):
            if method in result:
                q = result[method]
                early = q.get("earliest_accuracy")
                lines.append(
                    f"{name[:12]:<12} {method:<11} {q['precision']:>6.3f} {q['recall']:>6.3f} {q['f1']:>6.3f} "
                    f"{q['ari']:>6.3f} {q['bcubed_f1']:>6.3f} {'' if early is None else f'{early:.3f}':>8}"
                )
    return lines


def mistake_lines(summary: dict[str, Any]) -> list[str]:
    """dedup's mistakes on each data set: how many pairs, and the examples with their true groups."""
    lines: list[str] = []
    for name, result in summary["quality"].items():
        m = result["mistakes"]
        if not m["wrongly_grouped"] and not m["missed"]:
            continue
        lines += ["", f"dedup on {name}: {m['wrongly_grouped']:,} pairs grouped wrongly, {m['missed']:,} pairs missed"]
        for label, key in (("grouped wrongly", "wrongly_grouped_examples"), ("missed", "missed_examples")):
            for e in m[key]:
                lines.append(
                    f'  {label:<15} {e["a"]} [{e["a_group"]}] "{e["a_text"]}"\n'
                    f'  {"":<15} {e["b"]} [{e["b_group"]}] "{e["b_text"]}"'
                )
    return lines


def real_news_lines(news: dict[str, Any]) -> list[str]:
    """The real-news section: each method's weighted pair quality, dedup's largest clusters with
    some titles, and how the earliest source was named."""
    scored = news["methods"]["dedup"]["labelled_pairs_scored"]
    lines = [
        f"real news: {news['corpus']}, {news['articles']:,} articles of {len(news['day_files'])} day files; "
        f"{scored} labelled pairs scored (COPY positive, DIGEST left out), weighted by the sampling design",
        f"  {'method':<16} {'P':>6} {'R':>6} {'F1':>6} {'agree':>8} {'largest':>7} {'pairs':>7} {'unmeasured':>10} "
        f"{'seconds':>7}",
    ]
    for name, q in news["methods"].items():
        agree = f"{q['labelled_pairs_agreeing']}/{q['labelled_pairs_scored']}"
        lines.append(
            f"  {name:<16} {q['precision']:>6.3f} {q['recall']:>6.3f} {q['f1']:>6.3f} {agree:>8} "
            f"{q['largest_cluster']:>7} {q['predicted_pairs']:>7} {q['unmeasured_pairs']:>10} {q['seconds']:>7}"
        )
    lines.append("  dedup's largest clusters (size, outlets: titles, the earliest's first)")
    for c in news["largest_clusters"]:
        lines.append(
            f"  {c['size']:>5}, {c['outlets']:>2} outlets: " + " | ".join(snippet({"text": t}) for t in c["titles"])
        )
    e = news["earliest"]
    rules = ", ".join(f"{rule} in {n:,}" for rule, n in e["earliest_rule"].items())
    lines.append(
        f"  earliest source of the {e['clusters_with_copies']:,} clusters of copies named by {rules}; "
        f"{e['clusters_crediting_agency']} hold a copy crediting the agency (واس), and in "
        f"{e['crediting_clusters_earliest_credits_it']} of them the one named earliest credits it"
    )
    if not e["agency_articles"]:
        lines.append(f"  the agency's own articles (source {e['agency_source']}): none in these days")
    else:
        why = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in e["agency_not_named_because"].items()) or "none"
        lines.append(
            f"  the agency's own articles (source {e['agency_source']}): {e['agency_articles']:,}; "
            f"{e['clusters_with_agency_article']} clusters hold one and an outlet's copy, the agency's is named "
            f"earliest in {e['agency_named_earliest']}; not named: {why}"
        )
    return lines


def speed_lines(summary: dict[str, Any]) -> list[str]:
    sp = summary["speed"]
    ds, rs = sp.get("datasketch"), sp.get("rensa")
    lines = [
        "",
        f"speed on {sp['articles']} generated articles of {sp['words_per_article']} words on average, one process "
        f"(articles/s, best of 3 for signatures and prepare, of 2 for the whole batch"
        f"{'; ratio to datasketch' if ds else ''}); kernel: {sp['kernel']}",
    ]
    for key, label in (("signatures_per_s", "signatures"), ("batch_per_s", "whole batch")):
        row = f"  {label:<12} dedup {sp['dedup'][key]:>9.1f}"
        if ds:
            row += f"   datasketch {ds[key]:>9.1f}"
        if rs:
            row += f"   rensa {rs[key]:>9.1f}"
        if ds:
            row += f"   ratio {sp['dedup'][key] / ds[key]:.2f}x"
        if rs:
            row += f" ({sp['dedup'][key] / rs[key]:.2f}x rensa)"
        lines.append(row)
    lines.append(
        f"  {'prepare':<12} dedup {sp['dedup']['prepare_per_s']:>9.1f} in batches (prepare_many), "
        f"{sp['dedup']['prepare_one_at_a_time_per_s']:.1f} one at a time (prepare): signatures, passage "
        "signatures, shingle sets and sentences"
    )
    lines.append(
        f"  {'floor':<12} split + one look-up per word: {sp['floor_split_and_lookup_per_s']:.1f}/s "
        f"(signatures take {sp['floor_ratio']}x its time, prepare in batches {sp['floor_ratio_prepare']}x)"
    )
    lines.append(
        f"  {'index build':<12} dedup {sp['dedup']['index_per_s']:>9.1f}   (candidates + exact verification + insert)"
    )
    lines.append(
        f"  peak memory  dedup {sp['dedup']['peak_memory_mb']} MB"
        + (f"   datasketch {ds['peak_memory_mb']} MB" if ds else "")
        + " (tracemalloc)"
    )
    for st in summary["streaming"]:
        peer = st.get("datasketch")
        lines.append(
            f"  add() with {st['indexed']:,} indexed: median {st['dedup']['median_ms']} ms, p99 {st['dedup']['p99_ms']} ms"
            + (
                f"   (datasketch MinHash+query+insert: median {peer['median_ms']} ms, p99 {peer['p99_ms']} ms)"
                if peer
                else ""
            )
            + f"; memory {st['dedup_rss_per_indexed_kb']} KB per indexed article (RSS growth)"
        )
    return lines


def table(summary: dict[str, Any]) -> str:
    lines = [f"dedup benchmark, {summary['date']}, {summary['machine']}", "", *quality_lines(summary)]
    lines += mistake_lines(summary)
    if "real_news" in summary:
        lines += [*([""] if lines[-1] else []), *real_news_lines(summary["real_news"])]
    if summary.get("advice"):
        lines += ["", *(advice_line(a) for a in summary["advice"])]
    ex = summary.get("exact_reference")
    if ex:
        lines += [
            "",
            f"exact all-pairs Jaccard >= 0.8 on {ex['articles']} articles: {ex['exact_pairs_at_0.8']} pairs; "
            f"datasketch LSH finds {ex['datasketch_lsh_recall_of_exact_pairs']} of them; "
            f"F1 exact {ex['exact']['f1']:.3f}, dedup {ex['dedup']['f1']:.3f}",
        ]
    if "speed" in summary:
        lines += speed_lines(summary)
    if summary.get("first_contact"):
        lines += first_contact.lines(summary["first_contact"])
    lines += syndicated_lines(summary.get("syndicated", []))
    if summary.get("window_stream"):
        lines += ["", *window_bench.lines(summary["window_stream"])]
    lines += table_lines_for_command_line(summary.get("command_line", [])).splitlines()
    if summary.get("scaling"):
        lines += ["", "throughput against corpus size (whole batch, articles/s)"]
        for row in summary["scaling"]:
            lines.append(
                f"  {row['articles']:>9,}  dedup {row['dedup_per_s']:>8.1f}"
                + "".join(
                    f"   {peer} {row[f'{peer}_per_s']:>8.1f}"
                    for peer in ("datasketch", "rensa")
                    if f"{peer}_per_s" in row
                )
            )
    return "\n".join(lines)


DEFAULT_SETTING = {"dedup": 1.0, "datasketch": PEER_DEFAULT, "rensa": PEER_DEFAULT}
MARKERS = {"dedup": "o", "datasketch": "s", "rensa": "^"}


def _size_rows(summary: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The rows for time and memory against size: ``dedup cluster`` on files (``--cli-sizes``:
    wall time and peak memory of whole processes) when measured, else the in-process scaling."""
    if summary.get("command_line"):
        return summary["command_line"], "dedup cluster FILE, wall time and peak RSS of the processes"
    return summary.get("scaling", []), "in-process batch (no --cli-sizes, so no memory)"


def figure(summary: dict[str, Any]) -> Any:
    """The benchmark's figure: the precision/recall trade-off, with every point labelled with its
    setting and each method's default marked, and, unless only labelled data was scored, time and
    peak memory against corpus size on log-log axes, every point labelled with its value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    sizes = "speed" in summary
    fig, axes = plt.subplots(1, 3 if sizes else 1, figsize=(16 if sizes else 6.5, 5), squeeze=False)
    left = axes[0][0]
    trade = summary["tradeoff"]
    for method, pts in trade.items():
        if method == "data":
            continue
        line = left.plot(
            [p["recall"] for p in pts], [p["precision"] for p in pts], marker=MARKERS[method], label=method
        )
        # points of one method that coincide get one label listing their settings
        at: dict[tuple[float, float], list[str]] = {}
        for p in pts:
            text = f"x{p['setting']:g}" if method == "dedup" else f"{p['setting']:g}"
            at.setdefault((p["recall"], p["precision"]), []).append(text)
            if p["setting"] == DEFAULT_SETTING[method]:
                left.plot([p["recall"]], [p["precision"]], marker="*", markersize=16, color=line[0].get_color(),
                          markeredgecolor="black", linestyle="none",
                          label=f"{method} default ({text})")  # fmt: skip
        for (x, y), texts in at.items():
            left.annotate(", ".join(texts), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    left.set_xlim(-0.02, 1.05)
    left.set_ylim(-0.02, 1.05)
    left.set_xlabel("recall (pairs)")
    left.set_ylabel("precision (pairs)")
    left.set_title(
        f"precision/recall on {trade['data']}\n(dedup: verification thresholds xN; peers: LSH threshold)", fontsize=9
    )
    left.legend(fontsize=7)
    if not sizes:
        fig.tight_layout()
        return fig
    rows, source = _size_rows(summary)
    plain = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
    for ax, key, unit, label in (
        (axes[0][1], "seconds", "s", "time, seconds (log scale)"),
        (axes[0][2], "peak_rss_mb", "MB", "peak memory, MB (log scale)"),
    ):
        for method in ("dedup", "datasketch", "rensa"):
            pts = [(r["articles"], r[f"{method}_{key}"]) for r in rows if f"{method}_{key}" in r]
            if not pts:
                continue
            ax.plot([x for x, _ in pts], [y for _, y in pts], marker=MARKERS[method], label=method)
            for x, y in pts:
                ax.annotate(
                    f"{y:,.0f} {unit}" if y >= 100 else f"{y:.3g} {unit}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                )
        ax.set_xscale("log")
        ax.set_xlabel("articles (log scale)")
        ax.set_ylabel(label)
        ax.set_title(source, fontsize=9)
        # ticks at the measured sizes, written out; minor ticks labelled only within one decade
        if rows:
            ax.set_xticks([r["articles"] for r in rows])
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(NullFormatter())
        if ax.has_data():
            ax.set_yscale("log")
            low, high = ax.get_ylim()
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain if high / low < 10 else NullFormatter())
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "not measured: run with\n--cli-sizes 10000,100000,1000000", ha="center",
                    va="center", transform=ax.transAxes)  # fmt: skip
    fig.tight_layout()
    return fig


def plot(summary: dict[str, Any], path: str) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise SystemExit("--plot needs matplotlib: pip install matplotlib (or pip install -e '.[bench]')") from exc
    figure(summary).savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", action="append", default=[], metavar="PATH", help="labelled JSON Lines (repeatable)")
    parser.add_argument(
        "--size", type=int, default=2000, help="generated articles for quality and speed (default 2000)"
    )
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument(
        "--stream-sizes", default="10000", help="indexed sizes for streaming latency, comma-separated (default 10000)"
    )
    parser.add_argument(
        "--probes", type=int, default=200, help="articles timed one by one for streaming latency (default 200)"
    )
    parser.add_argument(
        "--syndicated",
        default="3000",
        help="copies of one story for the heavy-syndication section, comma-separated (default 3000; '' skips it)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="also stream the syndicated story by three workers sharing a new namespace of this Redis server",
    )
    parser.add_argument(
        "--first-contact",
        type=int,
        default=3000,
        metavar="N",
        help="generated articles for the first contact: `import dedup; dedup.cluster(articles)` and the "
        "datasketch pipeline, each in fresh processes, import, first and second call timed (default 3000; 0 skips it)",
    )
    parser.add_argument(
        "--first-contact-repeats",
        type=int,
        default=3,
        metavar="R",
        help="fresh processes per method for the first contact, the best one reported (default 3)",
    )
    parser.add_argument(
        "--window-stream",
        type=int,
        default=0,
        metavar="N",
        help="stream N generated articles dated over 30 days through a 7-day window into a SQLite file, "
        "memory and add() latency along the way, reopen timed, beside datasketch (default 0: skipped)",
    )
    parser.add_argument(
        "--exact-subset", type=int, default=1000, help="articles for the all-pairs exact reference (default 1000)"
    )
    parser.add_argument(
        "--scaling", default="", help="sizes for throughput against corpus size (default: size/4, size/2, size)"
    )
    parser.add_argument(
        "--cli-sizes", default="", help="generated file sizes for `dedup cluster FILE` (wall time, peak memory)"
    )
    parser.add_argument("--workers", type=int, default=2, help="`dedup cluster --workers` for --cli-sizes (default 2)")
    parser.add_argument(
        "--peer-up-to", type=int, default=100_000, help="run datasketch in --cli-sizes up to this size (default 100000)"
    )
    parser.add_argument(
        "--spark-up-to",
        type=int,
        default=0,
        help="run the Spark job (local[2]) on the --cli-sizes files up to this size (default 0: none; needs .[spark])",
    )
    parser.add_argument(
        "--saudinewsnet",
        metavar="DIR",
        help="score real news: SaudiNewsNet's day zips in DIR (a checkout of the corpus or its zips folder)",
    )
    parser.add_argument(
        "--days", default="", help="with --saudinewsnet: only these day files, comma-separated (e.g. 2015-07-21)"
    )
    parser.add_argument(
        "--limit", type=int, metavar="N", help="with --saudinewsnet: only the first N articles of the days read"
    )
    parser.add_argument("--no-peers", action="store_true", help="run no peer (datasketch, rensa, exact) anywhere")
    parser.add_argument(
        "--only-data",
        action="store_true",
        help="score only the --data files and --saudinewsnet: no seeds, example or generated set, no speed sections",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=5,
        metavar="N",
        help="list up to N pairs grouped wrongly and N pairs missed per data set (default 5)",
    )
    parser.add_argument("--out", help="write the JSON summary to this file")
    parser.add_argument(
        "--plot",
        help="write a PNG plot: the precision/recall trade-off of the settings and peers, time and memory against size",
    )
    parser.add_argument(
        "--json",
        "--quiet",
        dest="json",
        action="store_true",
        help="print the JSON summary on standard output instead of the table, and no progress",
    )
    args = parser.parse_args(argv)
    if args.size < 10:
        parser.error("--size must be at least 10")
    if args.pairs < 0:
        parser.error("--pairs must be 0 or more")
    if args.first_contact < 0 or args.first_contact_repeats < 1:
        parser.error("--first-contact must be 0 or more, --first-contact-repeats 1 or more")
    if args.only_data and not (args.data or args.saudinewsnet):
        parser.error("--only-data scores the --data files and --saudinewsnet: give a --data PATH or --saudinewsnet DIR")
    if args.plot and args.only_data and not args.data:
        parser.error("--plot with --only-data plots the trade-off on the first --data file: give a --data PATH")
    if (args.days or args.limit is not None) and not args.saudinewsnet:
        parser.error("--days and --limit slice the real-news corpus: give --saudinewsnet DIR")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be 1 or more")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error("--plot needs matplotlib: pip install matplotlib (or pip install -e '.[bench]')")

    config = dedup.DedupConfig()
    with_peers = not args.no_peers
    log = (
        (lambda *_: None) if args.json else (lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr))
    )
    datasets = {} if args.only_data else {"seeds": load_seeds(), "example": load_labelled(EXAMPLE)}
    own = {Path(path).stem: load_labelled(Path(path)) for path in args.data}
    datasets.update(own)
    if not args.only_data:
        log(f"generating {args.size} articles (seed {args.seed})")
        datasets["generated"] = generate.generate(args.size, args.seed)

    summary: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores",
        "dedup_version": dedup.__version__,
        "quality": {},
    }
    for name, records in datasets.items():
        log(f"quality on {name} ({len(records)} articles)")
        summary["quality"][name] = evaluate(records, config, with_peers, args.pairs)
    if args.saudinewsnet:
        days = real_news.day_files(Path(args.saudinewsnet), [d.strip() for d in args.days.split(",") if d.strip()])
        news = real_news.read_days(days, args.limit)
        log(f"real news: {len(news)} SaudiNewsNet articles of {len(days)} day files")
        summary["real_news"] = {
            "corpus": "SaudiNewsNet",
            "day_files": [p.stem for p in days],
            **evaluate_real_news(news, real_news.load_design(), config, with_peers),
        }
    # The plotted trade-off is on the generated set, or on the first --data file when only those run.
    plotted = next(iter(own), "") if args.only_data else "generated"
    summary["sweep"], summary["advice"] = {}, []
    for name in dict.fromkeys([*own, *([plotted] if args.plot and plotted else [])]):
        log(f"stricter and looser settings on {name}")
        sweep = tradeoff(datasets[name], config, with_peers and args.plot is not None and name == plotted)
        summary["sweep"][name] = sweep["dedup"]
        if name == plotted:
            summary["tradeoff"] = {"data": name, **sweep}
        if name in own and (suggested := advice(name, sweep["dedup"], config)):
            summary["advice"].append(suggested)
    if not args.only_data:
        run_sections(summary, args, datasets["generated"], config, with_peers, log)
    if args.plot:
        plot(summary, args.plot)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(table(summary))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


def run_sections(
    summary: dict[str, Any],
    args: argparse.Namespace,
    generated: list[dict[str, Any]],
    config: dedup.DedupConfig,
    with_peers: bool,
    log: Callable[[str], None],
) -> None:
    """The sections on generated data: the exact reference, speed, the first contact, streaming
    latency, ``dedup cluster`` on files, throughput against size."""
    if with_peers:
        log(f"exact all-pairs reference on {min(args.exact_subset, len(generated))} articles")
        summary["exact_reference"] = exact_reference(generated, args.exact_subset, config)
    log("speed")
    summary["speed"] = speed(generated, config, with_peers)
    if args.first_contact:
        log(f"first contact: {args.first_contact} articles in fresh processes")
        records = generate.generate(args.first_contact, args.seed)
        summary["first_contact"] = first_contact.measure(records, args.first_contact_repeats, with_peers)
    summary["streaming"] = []
    for size in [int(s) for s in args.stream_sizes.split(",") if s.strip()]:
        log(f"streaming latency with {size} indexed")
        summary["streaming"].append(streaming(size, args.probes, args.seed + 1, config, with_peers))
    if args.window_stream:
        log(f"a month's stream of {args.window_stream} articles through a 7-day window")
        summary["window_stream"] = window_bench.measure(args.window_stream, args.seed, 30, 7, with_peers)
    summary["syndicated"] = []
    for copies in [int(s) for s in args.syndicated.split(",") if s.strip()]:
        log(f"one story copied {copies} times")
        summary["syndicated"].append(syndicated(copies, args.seed, config, with_peers, args.redis))
    cli_sizes = [int(s) for s in args.cli_sizes.split(",") if s.strip()]
    if cli_sizes:
        log(f"dedup cluster on files of {cli_sizes} articles, {args.workers} workers")
        peer_up_to = args.peer_up_to if with_peers else 0
        summary["command_line"] = command_line(cli_sizes, args.seed, args.workers, peer_up_to, args.spark_up_to)
    sizes = [int(s) for s in args.scaling.split(",") if s.strip()] or sorted(
        {max(10, args.size // 4), max(10, args.size // 2), args.size}
    )
    log(f"scaling over {sizes}")
    summary["scaling"] = scaling(sizes, args.seed, config, with_peers)


if __name__ == "__main__":
    sys.exit(main())
