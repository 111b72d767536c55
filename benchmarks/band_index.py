"""The in-memory LSH index alone through a long window: how long each add takes as its tables grow
and are replaced.

Two ``BandIndex`` tables as a stream keeps them (documents: 32 bands of 4 rows, one row per
article; passages: 5 bands of 3 rows, 13 rows per article), fed random signatures, each add
queried first (``hits``) as the stream does, and the article ``--window`` adds earlier removed.
Prints the median, 99th percentile and longest add, and every add over ``--slow`` milliseconds
after the first (which loads the kernels).

    python benchmarks/band_index.py --window 230000 --adds 500000
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from dedup.stages.index import BandIndex

POOL = 4096  # distinct random signatures, varied per add


def measure(window: int, adds: int, seed: int, slow_ms: float) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    documents, passages = BandIndex(bands=32, rows=4), BandIndex(bands=5, rows=3)
    pool_documents = rng.integers(0, 2**32, size=(POOL, 1, 128), dtype=np.uint32)
    pool_passages = rng.integers(0, 2**32, size=(POOL, 13, 16), dtype=np.uint32)
    times = np.empty(adds)
    started = time.perf_counter()
    for n in range(adds):
        document = pool_documents[n % POOL].copy()
        document[0, :4] = n  # a band of its own, so that the tables hold distinct keys
        passage = pool_passages[(n * 7) % POOL].copy()
        passage[:, 0] = n // 3  # some passage keys shared by neighbours
        t = time.perf_counter()
        documents.hits(document)
        passages.hits(passage)
        documents.add(str(n), document)
        passages.add(str(n), passage)
        if n >= window:
            documents.remove(str(n - window))
            passages.remove(str(n - window))
        times[n] = time.perf_counter() - t
    warm = times[1:] * 1000 if adds > 1 else times * 1000
    return {
        "window": window,
        "adds": adds,
        "seconds": round(time.perf_counter() - started, 1),
        "first_add_ms": round(float(times[0]) * 1000, 1),
        "median_ms": round(float(np.median(warm)), 3),
        "p99_ms": round(float(np.percentile(warm, 99)), 3),
        "longest_ms": round(float(warm.max()), 3),
        "slow_ms": slow_ms,
        "slow_adds": [[n + 1, round(float(ms), 1)] for n, ms in enumerate(warm) if ms > slow_ms],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=int, default=230_000, help="articles kept indexed (default 230000)")
    parser.add_argument("--adds", type=int, default=500_000, help="articles added in all (default 500000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--slow", type=float, default=20.0, help="list the adds over this many ms (default 20)")
    parser.add_argument("--json", action="store_true", help="print the JSON summary instead of the lines")
    args = parser.parse_args(argv)
    if args.window < 1 or args.adds < 1:
        parser.error("--window and --adds must be at least 1")
    result = measure(args.window, args.adds, args.seed, args.slow)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{result['adds']:,} adds through a window of {result['window']:,} in {result['seconds']} s: "
        f"median {result['median_ms']} ms, p99 {result['p99_ms']} ms, longest {result['longest_ms']} ms "
        f"(the first, loading the kernels, {result['first_add_ms']} ms)"
    )
    slow = result["slow_adds"]
    print(f"{len(slow)} adds over {args.slow:g} ms after the first" + (": " if slow else ""))
    for n, ms in slow:
        print(f"  add {n:,}: {ms} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
