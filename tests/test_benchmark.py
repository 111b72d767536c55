"""The benchmark runs end to end on a tiny size, so that it cannot rot."""

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402
import metrics  # noqa: E402
import run  # noqa: E402


def test_generator_is_deterministic_and_labelled() -> None:
    a, b = generate.generate(120, 7), generate.generate(120, 7)
    assert a == b and len(a) == 120
    assert generate.generate(120, 8) != a
    groups: dict[str, list[dict]] = {}
    for r in a:
        assert {"id", "text", "group", "source", "original"} <= set(r)
        groups.setdefault(r["group"], []).append(r)
    assert any(len(g) > 1 for g in groups.values())  # copies exist
    assert all(sum(r["original"] for r in g) == 1 for g in groups.values())


def test_metrics() -> None:
    truth = {"a": 1, "b": 1, "c": 2, "d": 3}
    assert metrics.quality(truth, truth)["f1"] == 1.0
    merged = metrics.quality(truth, {"a": 1, "b": 1, "c": 1, "d": 3})
    assert merged["recall"] == 1.0 and merged["precision"] == pytest.approx(1 / 3, abs=1e-3)
    assert metrics.earliest_accuracy({"g": "a"}, {"a": "a"}) == 1.0


def test_benchmark_runs_on_a_tiny_size(tmp_path, capsys) -> None:
    out = tmp_path / "results.json"
    argv = ["--size", "60", "--stream-sizes", "40", "--probes", "5", "--exact-subset", "30", "--scaling", "30,60"]
    assert run.main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "whole batch" in printed and "add() with 40 indexed" in printed
    summary = json.loads(out.read_text())
    assert summary["quality"]["seeds"]["dedup"]["f1"] == 1.0
    assert summary["quality"]["example"]["dedup"]["earliest_accuracy"] == 1.0
    assert summary["speed"]["ratio_to_datasketch"]["signatures"] > 0
    assert {"median_ms", "p99_ms"} <= set(summary["streaming"][0]["dedup"])


def test_help_documents_every_option(capsys) -> None:
    with pytest.raises(SystemExit):
        run.main(["--help"])
    text = capsys.readouterr().out
    for option in (
        "--data",
        "--size",
        "--seed",
        "--stream-sizes",
        "--probes",
        "--exact-subset",
        "--scaling",
        "--out",
        "--plot",
        "--cli-sizes",
        "--spark-up-to",
    ):
        assert option in text
    assert "published_at" in text  # the labelled format is documented


def test_command_line_rows_with_the_spark_column() -> None:
    """`dedup cluster` on a generated file, and the Spark job on the same file next to it, which
    must give the same clusters and earliest sources."""
    pytest.importorskip("pyspark")
    (row,) = run.command_line([80], seed=3, workers=1, peer_up_to=0, spark_up_to=80)
    assert row["articles"] == 80 and row["dedup_seconds"] > 0
    assert "spark_error" not in row, row.get("spark_error")
    assert row["spark_same_as_in_process"] is True
    assert row["spark_local2_per_s"] > 0 and row["spark_shuffle_bytes_per_article"] > 0
    assert "Spark local[2], same file" in run.table_lines_for_command_line([row])
