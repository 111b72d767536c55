"""A crawl that runs for a month: the stream with a window (``dedup.Window``).

    python benchmarks/window.py --size 100000 --days 30 --window 7

Generated articles (``generate.py``) are given publication times spread over ``--days`` days (the
copies of a story within two days of each other, a tenth of the articles undated) and streamed in
the order of those times, shuffled within the hour as a crawler fetches them, into
``Deduplicator.open(FILE, window=Window(days=W))`` in a fresh process that reads them line by line.
Every twentieth of the stream it records the articles in the window, the process's resident memory
and the median and 99th percentile of ``add`` over the last stretch; then it closes the file (its
memory saved beside it) and reopens it with the same window, timed, and once more without the saved
state, as after a crash without one (``--redis URL``: into a new namespace of that Redis server, one
worker). A file's stream also saves its state a hundredth of the articles before its end
(``Deduplicator.save_state``, timed) and, before closing, is opened by a reader as a restart after
a crash would open it: that state, then the articles added after it (timed).
``--short-gc-pauses`` streams under ``dedup.short_gc_pauses``, as ``dedup stream`` runs (the
objects alive at the start and the survivors of each full garbage collection frozen); without it,
every full collection walks the whole window. The datasketch peer runs the same way in its own
fresh process: a ``MinHashLSH`` (threshold 0.8) queried and inserted per article, with the
articles older than the window removed (``MinHashLSH.remove``), as a user would bound its memory.
Prints a table, or the JSON summary with ``--json``; ``--plot PNG`` draws memory and ``add`` time
against the articles streamed (``--from-json PATH`` draws a summary printed before, without
measuring).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import heapq
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 1, 1, tzinfo=UTC)
POINTS = 20


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


def timed_articles(size: int, seed: int, days: float) -> list[dict[str, Any]]:
    """``size`` generated articles with times over ``days`` days, in the order a crawler gets them."""
    sys.path.insert(0, str(HERE))
    import generate

    records = generate.generate(size, seed)
    rng = np.random.default_rng(seed)
    start: dict[str, float] = {}
    out = []
    for r in records:
        first = start.setdefault(r["group"], float(rng.uniform(0, days * 86_400)))
        moment = first + float(rng.uniform(0, 2 * 86_400))
        fetched = moment + float(rng.uniform(0, 3_600))
        row = {"id": r["id"], "text": r["text"], "source": r.get("source")}
        if rng.random() >= 0.1:
            row["published_at"] = (T0 + timedelta(seconds=moment)).isoformat()
        out.append((fetched, row))
    out.sort(key=lambda x: x[0])
    return [row for _, row in out]


def _stretch(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
        "max_ms": round(ordered[-1], 3),
    }


def _stream(
    path: str,
    size: int,
    add: Callable[[dict[str, Any]], None],
    state: Callable[[], tuple[int, float]],
    between: Callable[[int], None] | None = None,
) -> tuple[float, list[dict[str, Any]]]:
    """Feed the articles of ``path`` one by one to ``add`` (timed, the record's reading included),
    sampling ``state()`` (articles in the window, the clock) and the memory every twentieth;
    ``between(n)`` is called after the ``n``-th add, untimed."""
    every = max(1, size // POINTS)
    samples: list[dict[str, Any]] = []
    latencies: list[float] = []
    started = time.perf_counter()
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            record = json.loads(line)
            t = time.perf_counter()
            add(record)
            latencies.append((time.perf_counter() - t) * 1000)
            if between is not None:
                between(n)
            if n % every == 0 or n == size:
                held, clock = state()
                day = round((clock - T0.timestamp()) / 86_400, 2)
                samples.append(
                    {"articles": n, "day": day, "in_window": held, "rss_mib": round(_rss_mib(), 1)}
                    | _stretch(latencies)
                )
                latencies = []
    return time.perf_counter() - started, samples


def child_dedup(path: str, size: int, window_days: float, index: str, short_pauses: bool = False) -> dict[str, Any]:
    import dedup
    from dedup.runners.stream import state as saved

    def article(r: dict[str, Any]) -> dedup.Article:
        return dedup.Article(id=r["id"], text=r["text"], source=r.get("source"), published_at=r.get("published_at"))

    window = dedup.Window(days=window_days)
    with open(path, encoding="utf-8") as fh, dedup.Deduplicator() as warm:  # the kernels loaded, then let go
        for _, line in zip(range(50), fh, strict=False):
            warm.add(article(json.loads(line)))
    del warm
    gc.collect()
    base, tracked = _rss_mib(), len(gc.get_objects())
    stream = [dedup.Deduplicator.open(index, window=window)]  # (let go below, as a restarted process has)

    def state() -> tuple[int, float]:
        d = stream[0]
        return len(d), d._retention.clock if d._retention is not None else float("nan")

    def add(r: dict[str, Any]) -> None:
        stream[0].add(article(r))

    # a file's state saved while it is written, a hundredth of the stream before its end, for the
    # reopening after a crash measured below
    save_at = size - max(1, size // 100) if "://" not in index else -1
    saving: dict[str, float] = {}

    def between(n: int) -> None:
        if n == save_at:
            start = time.perf_counter()
            stream[0].save_state()
            saving["seconds"] = time.perf_counter() - start

    with dedup.short_gc_pauses() if short_pauses else contextlib.nullcontext():
        seconds, samples = _stream(path, size, add, state, between)
        frozen = gc.get_freeze_count()  # (the objects left out of the collections at the end)
    in_window, rss = len(stream[0]), _rss_mib()
    crashed = None
    if saving:  # as a restart after a crash reads it: that state, then the articles added after it
        gc.collect()
        start = time.perf_counter()
        reader = dedup.Deduplicator.open(index, window=window, read_only=True)
        crashed = round(time.perf_counter() - start, 2)
        reader.close()
        del reader
    gc.collect()
    # the objects Python's collector tracks: a full collection walks every one of them
    tracked_per_article = (len(gc.get_objects()) - tracked) / max(in_window, 1)
    started = time.perf_counter()
    stream.pop().close()  # (a file: its memory saved beside it)
    closing = time.perf_counter() - started
    state_mb = None
    if "://" not in index:
        state_mb = round(os.path.getsize(saved.path_of(index)) / 1e6, 1) if saved.path_of(index).exists() else 0.0
    gc.collect()
    start = time.perf_counter()
    again = dedup.Deduplicator.open(index, window=window)
    reopen = time.perf_counter() - start  # (the opening alone: closing it saves its state again)
    reopened = len(again)
    again.close()
    replay = None
    if "://" not in index:  # as after a crash: no saved state, the window's articles read from the file
        saved.path_of(index).unlink(missing_ok=True)
        start = time.perf_counter()
        again = dedup.Deduplicator.open(index, window=window)
        replay = round(time.perf_counter() - start, 2)
        again.close()
    return {
        "seconds": round(seconds, 1),
        "samples": samples,
        "rss_before_mib": round(base, 1),
        "kb_per_article_in_window": round((rss - base) * 1024 / max(in_window, 1), 1),
        "gc_tracked_per_article_in_window": round(tracked_per_article, 1),
        "close_seconds": round(closing, 2),
        "state_mb": state_mb,
        "reopen_seconds": round(reopen, 2),
        "reopen_from_file_seconds": replay,
        "save_state_seconds": round(saving["seconds"], 2) if saving else None,
        "reopen_after_crash_seconds": crashed,
        "added_after_state": size - save_at if saving else None,
        "reopened_in_window": reopened,
        "file_mb": None if "://" in index else round(os.path.getsize(index) / 1e6, 1),
        "index": "redis" if "://" in index else "sqlite",
        "short_gc_pauses": short_pauses,
        "frozen_at_end": frozen,
    }


def child_datasketch(path: str, size: int, window_days: float) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from datasketch import MinHash, MinHashLSH

    import peers

    base = _rss_mib()
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    held: list[tuple[float, str]] = []
    clock = [float("-inf")]

    def add(r: dict[str, Any]) -> None:
        published = r.get("published_at")
        moment = clock[0] if published is None else datetime.fromisoformat(published).timestamp()
        clock[0] = max(clock[0], moment)
        while held and held[0][0] < clock[0] - window_days * 86_400:
            lsh.remove(heapq.heappop(held)[1])
        m = MinHash(num_perm=128)
        m.update_batch(peers.shingles(r["text"]))
        lsh.query(m)
        lsh.insert(r["id"], m)
        heapq.heappush(held, (moment, r["id"]))

    seconds, samples = _stream(path, size, add, lambda: (len(held), clock[0]))
    return {
        "seconds": round(seconds, 1),
        "samples": samples,
        "rss_before_mib": round(base, 1),
        "kb_per_article_in_window": round((_rss_mib() - base) * 1024 / max(len(held), 1), 1),
    }


def measure(
    size: int, seed: int, days: float, window_days: float, with_peers: bool = True, redis: str | None = None,
    short_pauses: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """The windowed stream of dedup (into a SQLite file, or a new namespace of the Redis server at
    ``redis``; with ``short_pauses``, under ``dedup.short_gc_pauses``) and of the datasketch peer,
    each in a fresh process, on the same timed articles."""
    out: dict[str, Any] = {"size": size, "days": days, "window_days": window_days}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "articles.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for row in timed_articles(size, seed, days):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        index = str(Path(tmp) / "index.sqlite")
        if redis is not None:
            index = f"{redis}{'&' if '?' in redis else '?'}namespace=window-{os.getpid()}-{int(time.time())}"
        runs = [("dedup", [index, "short" if short_pauses else "plain"])] + ([("datasketch", [])] if with_peers else [])
        for method, extra in runs:
            args = [sys.executable, __file__, "--child", method, str(path), str(size), str(window_days), *extra]
            done = subprocess.run(args, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"the {method} stream failed:\n{done.stderr[-2000:]}")
            out[method] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _stretched(sample: dict[str, Any]) -> str:
    """A stretch's add times: median / p99 / longest."""
    return f"{sample['median_ms']:6.3f} / {sample['p99_ms']:6.3f} / {sample['max_ms']:7.1f}"


def lines(result: dict[str, Any]) -> list[str]:
    """The table of ``measure``'s result."""
    peer = result.get("datasketch", {}).get("samples", [])
    out = [
        f"stream of {result['size']:,} articles over {result['days']:g} days, window {result['window_days']:g} days"
        + (" (under dedup.short_gc_pauses)" if result["dedup"].get("short_gc_pauses") else ""),
        "  after     day   in window | dedup RSS MiB  add median/p99/max ms |"
        + (" datasketch RSS MiB  median/p99/max ms" if peer else ""),
    ]
    for i, s in enumerate(result["dedup"]["samples"]):
        p = peer[i] if i < len(peer) else None
        right = f"{p['rss_mib']:10.1f}   {_stretched(p)}" if p else ""
        out.append(
            f"  {s['articles']:>9,} {s['day']:6.1f} {s['in_window']:>9,} | {s['rss_mib']:10.1f}   {_stretched(s)} | {right}"
        )
    d = result["dedup"]
    kept = "a Redis index" if d.get("index") == "redis" else f"file {d['file_mb']} MB"
    out.append(
        f"  dedup: {d['seconds']:,} s in all, {d['kb_per_article_in_window']} KB per article in the window "
        f"(RSS growth from {d['rss_before_mib']} MiB, the kernels loaded), "
        f"{d['gc_tracked_per_article_in_window']} objects tracked by the garbage collector per article in the window, "
        f"{kept}, closed in {d.get('close_seconds')} s"
        + (f" (its memory saved beside it: {d['state_mb']} MB)" if d.get("state_mb") is not None else "")
        + f", reopened with the window in "
        f"{d['reopen_seconds']} s ({d['reopened_in_window']:,} articles)"
        + (
            f", {d['reopen_from_file_seconds']} s reading them from the file (as after a crash)"
            if d.get("reopen_from_file_seconds") is not None
            else ""
        )
        + (
            f", {d['reopen_after_crash_seconds']} s after a crash with its state saved "
            f"{d['added_after_state']:,} articles before the end (save_state {d['save_state_seconds']} s)"
            if d.get("reopen_after_crash_seconds") is not None
            else ""
        )
    )
    if "datasketch" in result:
        p = result["datasketch"]
        out.append(
            f"  datasketch: {p['seconds']:,} s in all, {p['kb_per_article_in_window']} KB per article in the window"
        )
    return out


def plot(result: dict[str, Any], path: str) -> None:
    """Draw ``measure``'s result to ``path``: resident memory and the articles in the window against
    the articles streamed, and the median and 99th percentile of ``add`` over each stretch."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise SystemExit("--plot needs matplotlib: pip install matplotlib (or pip install -e '.[bench]')") from exc
    fig, (memory, latency) = plt.subplots(1, 2, figsize=(11, 4))
    for name, marker in (("dedup", "o"), ("datasketch", "s")):
        samples = result.get(name, {}).get("samples", [])
        if not samples:
            continue
        done = [s["articles"] for s in samples]
        memory.plot(done, [s["rss_mib"] for s in samples], marker=marker, label=f"{name} resident memory")
        latency.plot(done, [s["median_ms"] for s in samples], marker=marker, label=f"{name} median")
        latency.plot(done, [s["p99_ms"] for s in samples], marker=marker, linestyle="--", label=f"{name} p99")
    held = result["dedup"]["samples"]
    window = memory.twinx()
    window.plot([s["articles"] for s in held], [s["in_window"] for s in held], color="grey", linestyle=":")
    window.set_ylabel("articles in the window (dotted)")
    window.set_ylim(bottom=0)
    memory.set(xlabel="articles streamed", ylabel="MiB", ylim=(0, None))
    memory.set_title(f"{result['size']:,} articles over {result['days']:g} days, {result['window_days']:g}-day window")
    memory.legend(fontsize=8, loc="upper left")
    latency.set(xlabel="articles streamed", ylabel="ms per add (over each stretch)", ylim=(0, None))
    latency.set_title("add() time")
    latency.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        method, path, size, window_days, *extra = sys.argv[2:]
        if method == "dedup":
            found = child_dedup(path, int(size), float(window_days), extra[0], extra[1] == "short")
        else:
            found = child_datasketch(path, int(size), float(window_days))
        print(json.dumps(found))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="generated articles (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--days", type=float, default=30, help="days the publication times spread over (default 30)")
    parser.add_argument("--window", type=float, default=7, help="the window, in days (default 7)")
    parser.add_argument("--no-peers", action="store_true", help="run dedup only")
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="stream into a new namespace of this Redis server (redis://...) instead of a file",
    )
    parser.add_argument(
        "--short-gc-pauses",
        action="store_true",
        help="stream under dedup.short_gc_pauses, as `dedup stream` runs (default: the collector left as it is)",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON summary instead of the table")
    parser.add_argument("--plot", metavar="PNG", help="draw memory and add() time against the articles streamed")
    parser.add_argument("--from-json", metavar="PATH", help="read a summary --json printed instead of measuring")
    args = parser.parse_args(argv)
    if args.size < POINTS or args.days <= 0 or args.window <= 0:
        parser.error(f"--size must be at least {POINTS}, --days and --window above 0")
    if args.from_json:
        result = json.loads(Path(args.from_json).read_text(encoding="utf-8"))
    else:
        result = measure(
            args.size, args.seed, args.days, args.window, not args.no_peers, args.redis, args.short_gc_pauses
        )
    print(json.dumps(result) if args.json else "\n".join(lines(result)))
    if args.plot:
        plot(result, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
