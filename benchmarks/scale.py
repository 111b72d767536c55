"""How batch time and memory grow with corpus size: ``dedup cluster`` on generated sets.

    python benchmarks/scale.py --sizes 10000,30000,100000 --out scale.json

Each size is generated once (``generate.py``, same seed), written to a temporary JSON Lines file, and
clustered by ``dedup cluster`` in a child process, whose wall time and peak resident memory (RSS)
are measured, next to the plain datasketch pipeline run the same way. Prints a table and one JSON
summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

PEER = """
import json, resource, sys
sys.path.insert(0, sys.argv[2])
import peers
records = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
groups = peers.datasketch_cluster([r["id"] for r in records], [r["text"] for r in records])
print("maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""
# Runs ``dedup`` as ``python -m dedup`` would, then reports its own peak memory.
DEDUP = """
import resource, runpy, sys
sys.argv = ["dedup", *sys.argv[1:]]
try:
    runpy.run_module("dedup", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
print("maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def _child(argv: list[str]) -> tuple[float, float]:
    """Run a child process that reports its peak RSS last on stderr; its wall seconds and that RSS in MB."""
    start = time.perf_counter()
    done = subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    kib = int(done.stderr.strip().splitlines()[-1].split()[1])
    return seconds, kib / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,30000,100000", help="comma-separated corpus sizes, increasing")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-peer", action="store_true", help="skip the datasketch pipeline")
    parser.add_argument("--out", help="write the JSON summary here")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sorted(int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"g{size}.jsonl"
            with path.open("w", encoding="utf-8") as fh:
                for record in generate.generate(size, args.seed):
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            seconds, rss = _child([sys.executable, "-c", DEDUP, "cluster", str(path), "--no-progress"])
            row = {"articles": size, "dedup_seconds": round(seconds, 1), "dedup_peak_rss_mb": round(rss),
                   "dedup_per_s": round(size / seconds, 1)}  # fmt: skip
            if not args.no_peer:
                seconds, rss = _child([sys.executable, "-c", PEER, str(path), str(HERE)])
                row.update({"datasketch_seconds": round(seconds, 1), "datasketch_peak_rss_mb": round(rss),
                            "datasketch_per_s": round(size / seconds, 1)})  # fmt: skip
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            os.remove(path)
    print(
        f"{'articles':>10} {'dedup s':>9} {'dedup/s':>9} {'dedup RSS MB':>13} {'ds s':>8} {'ds/s':>8} {'ds RSS MB':>10}"
    )
    for r in rows:
        print(
            f"{r['articles']:>10,} {r['dedup_seconds']:>9} {r['dedup_per_s']:>9} {r['dedup_peak_rss_mb']:>13} "
            f"{r.get('datasketch_seconds', ''):>8} {r.get('datasketch_per_s', ''):>8} {r.get('datasketch_peak_rss_mb', ''):>10}"
        )
    summary = {"rows": rows, "cpu_count": os.cpu_count()}
    print(json.dumps(summary))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
