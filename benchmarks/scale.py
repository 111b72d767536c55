"""How batch time and memory grow with corpus size: ``dedup cluster`` on generated sets.

    python benchmarks/scale.py --sizes 10000,100000,1000000 --workers 2 --out scale.json

Each size is generated once (``generate.py``, same seed), written to a temporary JSON Lines file, and
clustered by ``dedup cluster --workers N`` in a child process. Its wall time is measured, and its
peak memory as the largest sum of the resident memory (RSS) of the child and its worker processes,
sampled every 0.2 s from /proc (Linux). The plain datasketch pipeline runs the same way up to
``--peer-up-to`` articles. Prints a table, a chart for the README (Mermaid) and one JSON summary.
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
cluster = getattr(peers, sys.argv[3] if len(sys.argv) > 3 else "datasketch_cluster")
groups = cluster([r["id"] for r in records], [r["text"] for r in records])
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


def _tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and its descendants (KiB), from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status", encoding="ascii") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def _child(argv: list[str], stdout: Path | None = None) -> tuple[float, float]:
    """Run a child process; its wall seconds and the peak RSS of it and its workers, in MB.
    Its standard output goes to ``stdout`` (a file), or nowhere; its standard error to a
    temporary file (a pipe nobody reads while it runs could fill and stall it)."""
    start = time.perf_counter()
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as errors,
        stdout.open("w", encoding="utf-8") if stdout else open(os.devnull, "w", encoding="utf-8") as sink,
    ):
        with subprocess.Popen(argv, stdout=sink, stderr=errors, text=True) as proc:
            peak = 0
            while proc.poll() is None:
                peak = max(peak, _tree_rss_kib(proc.pid))
                time.sleep(0.2)
        seconds = time.perf_counter() - start
        errors.seek(0)
        err = errors.read()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({proc.returncode}): {err[-2000:]}")
    # The child's own ru_maxrss is only a fallback where /proc is missing: Linux carries it over
    # from the forked parent through exec, so a big parent (this script, holding the generated
    # articles) would inflate it.
    own = int(err.strip().splitlines()[-1].split()[1])
    return seconds, (peak or own) / 1024


def _chart(rows: list[dict]) -> str:
    """A Mermaid chart for the README: wall seconds (bars) and peak memory in GB x 100 (line)."""
    labels = ", ".join(f'"{r["articles"]:,}"' for r in rows)
    secs = [r["dedup_seconds"] for r in rows]
    mem = [round(r["dedup_peak_rss_mb"] / 1024 * 100) for r in rows]
    top = round(max(*secs, *mem) * 1.1)
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            '    title "dedup cluster: wall seconds (bars), peak memory in GB x 100 (line)"',
            f"    x-axis [{labels}]",
            f'    y-axis "seconds, GB x 100" 0 --> {top}',
            f"    bar [{', '.join(map(str, secs))}]",
            f"    line [{', '.join(map(str, mem))}]",
            "```",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,30000,100000", help="comma-separated corpus sizes, increasing")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="dedup cluster --workers (default 2)")
    parser.add_argument("--peer-up-to", type=int, default=100_000, help="run datasketch up to this size")
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
            argv = ["cluster", str(path), "--no-progress", "--workers", str(args.workers)]
            seconds, rss = _child([sys.executable, "-c", DEDUP, *argv])
            row = {"articles": size, "dedup_seconds": round(seconds, 1), "dedup_peak_rss_mb": round(rss),
                   "dedup_per_s": round(size / seconds, 1)}  # fmt: skip
            if not args.no_peer and size <= args.peer_up_to:
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
    print(_chart(rows))
    summary = {"rows": rows, "cpu_count": os.cpu_count(), "workers": args.workers}
    print(json.dumps(summary))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
