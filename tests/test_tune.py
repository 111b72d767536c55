"""dedup tune: the sweep of the verification thresholds on labelled data, its table, and the
--config file it writes."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dedup
from dedup.fronts import tune
from dedup.fronts.cli import main, read_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "benchmarks" / "data" / "labelled_example.jsonl"
sys.path.insert(0, str(ROOT / "benchmarks"))

import generate  # noqa: E402


def run_dedup(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "dedup", *args], capture_output=True, text=True, timeout=300, env=env, check=False
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """Labelled articles on which the default thresholds are not the best (the generator's
    near-copies of other stories share enough to pass the looser rule)."""
    path = tmp_path_factory.mktemp("tune") / "generated.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in generate.generate(150, 3)), encoding="utf-8")
    return path


def test_tune_has_help(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["tune", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: dedup tune ")
    assert all(option in text for option in ("--data", "--out", "--config", "--scales", "--workers"))


def test_tune_prints_the_table_on_the_example_and_writes_a_config(tmp_path, capsys) -> None:
    best = tmp_path / "best.json"
    assert main(["tune", "--data", str(EXAMPLE), "--out", str(best)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line[:1] in ("*", " ") and "." in line[:10]]
    assert len(rows) == len(tune.SCALES)
    assert sum(line.startswith("*") for line in rows) == 1 and rows[tune.SCALES.index(1.0)].startswith("*  1.000")
    assert sum("<- best" in line for line in rows) == 1
    assert "precision" in out and "recall" in out and "F1" in out
    assert "11 labelled articles, 2 groups of copies" in out
    written = json.loads(best.read_text(encoding="utf-8"))
    assert set(written) == {"verify"}
    # every setting scores 1.0 on the example: the tie goes to the default
    assert read_config(str(best)) == dedup.DedupConfig()


def test_the_written_config_is_read_by_dedup_cluster_and_gives_the_best_score(generated, tmp_path) -> None:
    best = tmp_path / "best.json"
    done = run_dedup("tune", "--data", str(generated), "--out", str(best), "--scales", "0.5,1.6")
    assert done.returncode == 0, done.stderr
    chosen = next(line for line in done.stdout.splitlines() if "<- best" in line)
    _, containment, coverage, jaccard, _, _, f1_text = chosen.split()[-9:-2]
    f1 = float(f1_text)
    verify = json.loads(best.read_text())["verify"]
    assert verify["min_containment"] == pytest.approx(float(containment))
    assert verify["min_passage_coverage"] == pytest.approx(float(coverage), abs=1e-4)
    assert verify["near_identical_jaccard"] == pytest.approx(float(jaccard))

    clustered = run_dedup("cluster", "--config", str(best), str(generated))
    assert clustered.returncode == 0, clustered.stderr
    predicted = {m["id"]: c["cluster"] for c in map(json.loads, clustered.stdout.splitlines()) for m in c["members"]}
    truth = {r["id"]: r["group"] for r in map(json.loads, generated.read_text().splitlines())}
    assert round(tune.pairwise(truth, predicted).f1, 3) == f1
    default_f1 = tune.sweep(tune.read_labelled(generated).articles, truth, scales=(1.0,))[0].quality.f1
    assert f1 > default_f1  # on this data the default is not the best, so the file changes the result


def test_without_out_the_config_is_printed_and_the_default_is_always_swept(capsys) -> None:
    assert main(["tune", "--data", str(EXAMPLE), "--scales", "1.2"]) == 0
    out = capsys.readouterr().out
    assert "*  1.000" in out and "   1.200" in out
    printed = json.loads(out[out.index("{") :])
    assert printed == {"verify": dataclasses.asdict(dedup.VerifyConfig())}  # a tie: the default


def test_the_sweep_starts_from_the_given_config(tmp_path) -> None:
    """--config's other settings are kept in the written file, and its thresholds are the default row."""
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"minhash": {"threshold": 0.6}, "verify": {"min_containment": 0.4}}))
    best = tmp_path / "best.json"
    assert main(["tune", "--data", str(EXAMPLE), "--config", str(base), "--out", str(best), "--scales", "1"]) == 0
    written = json.loads(best.read_text())
    assert written["minhash"]["threshold"] == 0.6 and written["verify"]["min_containment"] == 0.4
    assert read_config(str(best)).minhash.threshold == 0.6


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([{"id": "a", "text": "x"}], "line 1: no group"),
        ([{"id": "a", "text": "x", "group": 1}, {"id": "b", "text": "y", "group": 2}], "no two of its 2 articles"),
        ([{"id": "a", "group": 1}], "line 1: missing field"),
    ],
)
def test_bad_labelled_data_is_an_error_naming_the_line(tmp_path, capsys, lines, message) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["tune", "--data", str(data)]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_file_and_bad_scales_are_errors(tmp_path, capsys) -> None:
    assert main(["tune", "--data", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot be read" in capsys.readouterr().err
    for scales in ("0,1", "a,b", "-1", "inf"):
        assert main(["tune", "--data", str(EXAMPLE), "--scales", scales]) == 2
        assert "--scales must be" in capsys.readouterr().err


def test_pairwise() -> None:
    truth = {"a": 1, "b": 1, "c": 2, "d": 3}
    assert tune.pairwise(truth, truth) == tune.Quality(1.0, 1.0, 1.0)
    merged = tune.pairwise(truth, {"a": 1, "b": 1, "c": 1, "d": 3})
    assert merged.recall == 1.0 and merged.precision == pytest.approx(1 / 3)
    split = tune.pairwise(truth, {"a": 1, "b": 2, "c": 3, "d": 4})
    assert (split.precision, split.recall, split.f1) == (1.0, 0.0, 0.0)


def test_best_prefers_the_highest_f1_then_the_default() -> None:
    v = dedup.VerifyConfig()
    settings = [tune.Setting(s, v, tune.Quality(1, 1, f1)) for s, f1 in ((0.5, 0.9), (1.0, 0.9), (1.4, 0.8))]
    assert tune.best(settings).scale == 1.0
    assert tune.best([*settings, tune.Setting(1.8, v, tune.Quality(1, 1, 0.95))]).scale == 1.8


@given(st.floats(0.01, 10))
def test_scaled_thresholds_stay_valid_and_near_identical_only_rises(scale) -> None:
    v = dedup.VerifyConfig()
    s = tune.scaled(v, scale)
    assert 0 < s.min_containment <= 1 and 0 < s.min_passage_coverage <= 1
    assert v.near_identical_jaccard <= s.near_identical_jaccard <= 1
    assert (s.min_containment <= v.min_containment) == (scale <= 1)
