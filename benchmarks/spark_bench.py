"""The Spark column of the benchmark: the Spark job in ``local[2]`` next to the in-process batch.

    python benchmarks/spark_bench.py --sizes 10000,100000 [--out spark.json]
    python benchmarks/spark_bench.py --input articles.jsonl [--expect clusters.jsonl]

For each size it generates the articles (``generate.py``), writes them to Parquet, then times
``dedup.runners.spark.cluster`` writing its result (Parquet) and ``dedup.cluster`` on the same articles
(in this process, then with two worker processes), and reads the shuffle bytes the job wrote from
Spark's own status API (on loopback). It checks that both give the same clusters and earliest
sources. With ``--input`` it times the job on a JSON Lines file instead (read by Spark, as
``dedup spark`` reads it), and with ``--expect`` compares its answers with ``dedup cluster``'s
output on the same file: this is how ``run.py --spark-up-to`` fills its Spark column. Needs
``pip install -e '.[spark]'``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dedup
import generate
from dedup.runners import spark as dspark

COLUMNS = ("id", "text", "published_at", "source", "url", "title")


def shuffle_bytes(spark: Any) -> int:
    """Shuffle bytes written by every stage of this application so far (Spark's REST API)."""
    url = spark.sparkContext.uiWebUrl
    app = spark.sparkContext.applicationId
    with urllib.request.urlopen(f"{url}/api/v1/applications/{app}/stages?status=complete", timeout=30) as r:
        stages = json.load(r)
    return sum(int(s.get("shuffleWriteBytes", 0)) for s in stages)


def measure(spark: Any, size: int, seed: int, workdir: Path, in_process: bool) -> dict[str, Any]:
    records = generate.generate(size, seed)
    rows = [{c: r.get(c) for c in COLUMNS} for r in records]
    source = workdir / f"in-{size}.parquet"
    spark.createDataFrame(rows, ", ".join(f"{c} string" for c in COLUMNS)).write.mode("overwrite").parquet(str(source))
    before = shuffle_bytes(spark)
    t0 = time.perf_counter()
    result = dspark.cluster(spark.read.parquet(str(source)))
    result.write.mode("overwrite").parquet(str(workdir / f"out-{size}.parquet"))
    spark_s = time.perf_counter() - t0
    shuffled = shuffle_bytes(spark) - before
    out: dict[str, Any] = {
        "articles": size,
        "spark_local2_per_s": round(size / spark_s, 1),
        "spark_seconds": round(spark_s, 1),
        "shuffle_bytes_per_article": round(shuffled / size, 1),
    }
    if in_process:
        articles = [dedup.Article(**{k: v for k, v in r.items() if v is not None}) for r in rows]
        t0 = time.perf_counter()
        clusters = dedup.cluster(articles)
        lib_s = time.perf_counter() - t0
        out["in_process_per_s"] = round(size / lib_s, 1)
        t0 = time.perf_counter()
        dedup.cluster(articles, workers=2)
        out["in_process_2_workers_per_s"] = round(size / (time.perf_counter() - t0), 1)
        expected = {m.id: (c.id, c.earliest) for c in clusters for m in c.members}
        got = {
            r.id: (r.cluster, r.earliest) for r in spark.read.parquet(str(workdir / f"out-{size}.parquet")).collect()
        }
        out["same_as_in_process"] = expected == got
    return out


def measure_file(spark: Any, path: str, workdir: Path, expect: str | None) -> dict[str, Any]:
    """The Spark job on a JSON Lines file: wall seconds from reading the file to the written
    output, shuffle bytes per article, and (with ``expect``, ``dedup cluster``'s output on the same
    file) whether every article has the same cluster and earliest source."""
    before = shuffle_bytes(spark)
    out_path = str(workdir / "out.parquet")
    t0 = time.perf_counter()
    result = dspark.run(spark.read.json(path))
    result.clusters.write.mode("overwrite").parquet(out_path)
    seconds = time.perf_counter() - t0
    result.release()
    shuffled = shuffle_bytes(spark) - before
    got = {
        r.id: (r.cluster, r.earliest)
        for r in spark.read.parquet(out_path).select("id", "cluster", "earliest").toLocalIterator()
    }
    out: dict[str, Any] = {
        "articles": len(got),
        "spark_seconds": round(seconds, 1),
        "spark_local2_per_s": round(len(got) / seconds, 1),
        "shuffle_bytes_per_article": round(shuffled / max(1, len(got)), 1),
    }
    if expect:
        expected = {}
        with open(expect, encoding="utf-8") as fh:
            for line in fh:
                c = json.loads(line)
                expected.update({m["id"]: (c["cluster"], c["earliest"]) for m in c["members"]})
        out["same_as_in_process"] = expected == got
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000", help="generated articles, comma-separated (default 10000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-in-process", action="store_true", help="time only the Spark job")
    parser.add_argument("--out", help="write the JSON summary here too")
    parser.add_argument("--input", help="time the job on this JSON Lines file instead of generated sizes")
    parser.add_argument("--expect", help="with --input: `dedup cluster`'s output on it, to compare answers")
    args = parser.parse_args(argv)
    spark = dspark.session("local[2]", app_name="dedup-benchmark")
    spark.sparkContext.setLogLevel("ERROR")
    if args.input:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(measure_file(spark, args.input, Path(tmp), args.expect)), flush=True)
        return 0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            results.append(measure(spark, size, args.seed, Path(tmp), not args.no_in_process))
            print(json.dumps(results[-1]), flush=True)
    summary = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "spark": results}
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
