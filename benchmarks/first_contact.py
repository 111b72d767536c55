"""A user's first contact: ``import dedup; dedup.cluster(articles)`` in a fresh Python process.

    python benchmarks/first_contact.py --size 3000 --repeats 3

A user's first batch pays for what a process loads once: the imports, the compiled kernels read
from numba's disk cache, tables built at first use. The generated articles (``generate.py``) are
written to a temporary JSON Lines file; each method then runs in its own fresh process, which reads
the file with ``json`` alone (so that nothing it measures is loaded before it), and times its import,
its first call and a second call on the same articles. The plain datasketch pipeline
(``peers.datasketch_cluster``) runs the same way, side by side, and each figure is the best of
``--repeats`` fresh processes (the machine may be shared, and the best run is the least disturbed).
Prints a table, or the JSON summary with ``--json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
METHODS = ("dedup", "datasketch")
FIGURES = ("import_seconds", "first_call_seconds", "second_call_seconds")


def child(method: str, path: str) -> dict[str, float]:
    """In a fresh process: the seconds to import ``method``, to run its first call on the articles
    in ``path`` and to run it a second time."""
    records = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
    start = time.perf_counter()
    if method == "dedup":
        import dedup

        imported = time.perf_counter()
        articles = [
            dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at"), source=r.get("source"))
            for r in records
        ]

        def call() -> object:
            return dedup.cluster(articles)
    else:
        sys.path.insert(0, str(HERE))
        import peers

        imported = time.perf_counter()
        ids, texts = [r["id"] for r in records], [r["text"] for r in records]

        def call() -> object:
            return peers.datasketch_cluster(ids, texts)

    begin = time.perf_counter()
    call()
    first = time.perf_counter()
    call()
    second = time.perf_counter()
    return {
        "import_seconds": imported - start,
        "first_call_seconds": first - begin,
        "second_call_seconds": second - first,
    }


def fresh(method: str, path: Path) -> dict[str, float]:
    """``child`` run in a new Python process, which imports the ``dedup`` this process would import
    (found without importing it)."""
    env = dict(os.environ)
    spec = importlib.util.find_spec("dedup")
    if spec is not None and spec.origin is not None:
        found = str(Path(spec.origin).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (found, env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", method, str(path)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"first-contact child for {method} failed (exit {done.returncode}):\n{done.stderr}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def measure(records: list[dict[str, Any]], repeats: int = 3, with_peers: bool = True) -> dict[str, Any]:
    """Each method's best import, first-call and second-call seconds over ``repeats`` fresh
    processes, the two methods taking turns (so that a busy spell of the machine hits both), and
    the ratios of datasketch's time to dedup's."""
    methods = METHODS if with_peers else METHODS[:1]
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "articles.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps({k: r[k] for k in ("id", "text", "published_at", "source") if k in r}) + "\n")
        for _ in range(repeats):
            for m in methods:
                runs[m].append(fresh(m, path))
    out: dict[str, Any] = {"articles": len(records), "repeats": repeats}
    for m in methods:
        best = {k: min(r[k] for r in runs[m]) for k in FIGURES}
        # the first contact: import and first call, best of the whole processes
        best["import_and_first_call_seconds"] = min(r["import_seconds"] + r["first_call_seconds"] for r in runs[m])
        out[m] = {k: round(v, 3) for k, v in best.items()}
    if with_peers:
        ours, theirs = out["dedup"], out["datasketch"]
        out["ratio_to_datasketch"] = {
            k.removesuffix("_seconds"): round(theirs[k] / ours[k], 2)
            for k in ("first_call_seconds", "second_call_seconds", "import_and_first_call_seconds")
        }
    return out


def lines(fc: dict[str, Any]) -> list[str]:
    """The table's lines for ``measure``'s summary."""
    out = [
        "",
        f"first contact: import and cluster {fc['articles']:,} articles in a fresh process, twice "
        f"(seconds, best of {fc['repeats']} processes{'; datasketch time / dedup time' if 'datasketch' in fc else ''})",
    ]
    for m in METHODS:
        if m in fc:
            f = fc[m]
            out.append(
                f"  {m:<11} import {f['import_seconds']:>6.3f}   first call {f['first_call_seconds']:>6.3f}   "
                f"second call {f['second_call_seconds']:>6.3f}   import + first {f['import_and_first_call_seconds']:>6.3f}"
            )
    if "ratio_to_datasketch" in fc:
        r = fc["ratio_to_datasketch"]
        out.append(
            f"  {'ratio':<11} first call {r['first_call']:.2f}x, second call {r['second_call']:.2f}x, "
            f"import + first call {r['import_and_first_call']:.2f}x"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--size", type=int, default=3000, help="generated articles (default 3000)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per method (default 3)")
    parser.add_argument("--no-peers", action="store_true", help="run dedup alone")
    parser.add_argument("--json", action="store_true", help="print the JSON summary instead of the table")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    if args.size < 1 or args.repeats < 1:
        parser.error("--size and --repeats must be 1 or more")
    sys.path.insert(0, str(HERE))
    import generate

    summary = measure(generate.generate(args.size, args.seed), args.repeats, not args.no_peers)
    print(json.dumps(summary) if args.json else "\n".join(lines(summary)[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
