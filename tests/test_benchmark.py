"""The benchmark runs end to end on a tiny size, so that it cannot rot."""

import gc
import json
import sys
from pathlib import Path

import pytest

import dedup

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


def summary_of(out: Path) -> dict:
    return json.loads(out.read_text())


TINY = [
    "--size", "60", "--stream-sizes", "40", "--probes", "5", "--exact-subset", "30", "--scaling", "30,60",
    "--syndicated", "20", "--first-contact", "20", "--first-contact-repeats", "1",
]  # fmt: skip


@pytest.mark.slow
def test_benchmark_runs_on_a_tiny_size(tmp_path, capsys) -> None:
    """The table goes to standard output and the JSON summary only to --out."""
    out = tmp_path / "results.json"
    assert run.main([*TINY, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "whole batch" in printed and "add() with 40 indexed" in printed
    assert "one story copied by 20 outlets: dedup cluster" in printed
    story = summary_of(out)["syndicated"][0]["dedup"]
    assert 0 <= story["adds_over_20_ms_with_a_full_collection"] <= story["adds_over_20_ms"]
    assert "of them during a full garbage collection" in printed
    # the same story as ``dedup stream`` runs it, and the collector left as it was found
    frozen = summary_of(out)["syndicated"][0]["dedup stream"]
    assert (
        frozen["add_median_ms"] > 0
        and 0 <= frozen["adds_over_20_ms_with_a_full_collection"] <= frozen["adds_over_20_ms"]
    )
    assert "as `dedup stream` runs it (under short_gc_pauses)" in printed
    # and with every copy dated by the day alone
    assert summary_of(out)["syndicated"][0]["dedup stream, one day"]["add_median_ms"] > 0
    assert "every copy dated with the day alone" in printed
    assert gc.get_freeze_count() == 0 and dedup._collector._freeze_survivors not in gc.callbacks
    assert not any(line.lstrip().startswith("{") for line in printed.splitlines())
    summary = summary_of(out)
    assert summary["quality"]["seeds"]["dedup"]["f1"] == 1.0
    assert summary["quality"]["example"]["dedup"]["earliest_accuracy"] == 1.0
    assert summary["speed"]["ratio_to_datasketch"]["signatures"] > 0
    assert {"median_ms", "p99_ms"} <= set(summary["streaming"][0]["dedup"])
    # the first contact: each method in a fresh process, its import, first and second call timed
    assert "first contact: import and cluster 20 articles in a fresh process" in printed
    contact = summary["first_contact"]
    for method in ("dedup", "datasketch"):
        assert contact[method]["import_seconds"] > 0 and contact[method]["second_call_seconds"] > 0
        assert contact[method]["import_and_first_call_seconds"] >= contact[method]["first_call_seconds"]
    assert contact["ratio_to_datasketch"]["first_call"] > 0


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
        "--only-data",
        "--pairs",
        "--json",
        "--no-peers",
        "--first-contact",
        "--first-contact-repeats",
        "--redis",
    ):
        assert option in text
    assert "published_at" in text  # the labelled format is documented


@pytest.mark.slow
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


def labelled(tmp_path: Path, relabel: dict[str, str]) -> Path:
    """The example file with some true groups changed, written to ``tmp_path``."""
    records = [json.loads(line) for line in run.EXAMPLE.read_text(encoding="utf-8").splitlines() if line]
    for r in records:
        r["group"] = relabel.get(r["id"], r["group"])
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_mistakes_name_the_pairs() -> None:
    truth = {"a": 1, "b": 1, "c": 2, "d": 2, "e": 3}
    predicted = {"a": "X", "b": "Y", "c": "Z", "d": "Z", "e": "Z"}
    m = metrics.mistakes(truth, predicted, limit=5)
    assert (m["wrongly_grouped"], m["missed"]) == (2, 1)
    assert m["wrongly_grouped_examples"] == [("c", "e")]  # one example per two true groups merged
    assert m["missed_examples"] == [("a", "b")]
    assert metrics.mistakes(truth, predicted, limit=0)["missed_examples"] == []


def test_only_data_scores_the_given_file_and_lists_the_mistakes(tmp_path, capsys) -> None:
    """--only-data: no seeds, example, generated set or speed; the pairs grouped wrongly and missed
    are listed with ids, true groups and snippets, in the table and in the JSON."""
    records = [json.loads(line) for line in run.EXAMPLE.read_text(encoding="utf-8").splitlines() if line]
    copy_group = next(r["group"] for r in records if sum(o["group"] == r["group"] for o in records) > 1)
    copy, other = (
        next(r for r in records if r["group"] == copy_group and not r.get("original")),
        next(r for r in records if r["group"] != copy_group),
    )
    # a true copy labelled as another story (dedup groups it: "wrongly"), and a different story
    # labelled as that copy's (dedup keeps them apart: "missed")
    path = labelled(tmp_path, {copy["id"]: "relabelled", other["id"]: "relabelled"})
    out = tmp_path / "r.json"
    assert run.main(["--data", str(path), "--only-data", "--no-peers", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads(out.read_text())
    assert list(summary["quality"]) == ["mine"]
    assert "speed" not in summary and "scaling" not in summary and "exact_reference" not in summary
    m = summary["quality"]["mine"]["mistakes"]
    assert m["wrongly_grouped"] >= 1 and m["missed"] >= 1
    wrong = {frozenset((e["a"], e["b"])) for e in m["wrongly_grouped_examples"]}
    assert any(copy["id"] in pair for pair in wrong)
    missed = m["missed_examples"]
    assert {missed[0]["a"], missed[0]["b"]} == {copy["id"], other["id"]}
    assert missed[0]["a_group"] == missed[0]["b_group"] == "relabelled"
    assert "pairs grouped wrongly" in printed and "missed" in printed
    assert run.snippet(other) in printed and copy["id"] in printed


def test_json_goes_to_standard_output_on_request(tmp_path, capsys) -> None:
    path = labelled(tmp_path, {})
    assert run.main(["--data", str(path), "--only-data", "--no-peers", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["quality"]["mine"]["dedup"]["f1"] == 1.0
    assert captured.err == ""  # no progress either


def test_only_data_needs_data() -> None:
    with pytest.raises(SystemExit):
        run.main(["--only-data"])


def test_no_peers_runs_no_peer_in_any_section(tmp_path, monkeypatch, capsys) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a peer ran although --no-peers was given")

    for name in ("datasketch_cluster", "datasketch_signatures", "rensa_cluster", "rensa_signatures", "exact_pairs"):
        monkeypatch.setattr(run.peers, name, refuse)
    monkeypatch.setattr(run, "command_line", lambda *a: [{"articles": 30, "peer_up_to": a[3]}])
    monkeypatch.setattr(run, "table_lines_for_command_line", lambda rows: "")
    data = labelled(tmp_path, {})
    out = tmp_path / "r.json"
    small = ["--size", "30", "--stream-sizes", "20", "--probes", "3", "--scaling", "30", "--cli-sizes", "30",
             "--first-contact", "10", "--first-contact-repeats", "1", "--window-stream", "40",
             "--syndicated", "20", "--exact-subset", "30"]  # fmt: skip
    argv = [*small, "--no-peers", "--data", str(data), "--plot", str(tmp_path / "p.png")]
    assert run.main([*argv, "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["command_line"] == [{"articles": 30, "peer_up_to": 0}]  # `dedup cluster` on files without the peers
    assert "datasketch" not in summary["speed"] and "datasketch" not in summary["streaming"][0]
    assert set(summary["first_contact"]) == {"articles", "repeats", "dedup"}
    windowed = summary["window_stream"]
    assert set(windowed) == {"size", "days", "window_days", "dedup"}
    samples = windowed["dedup"]["samples"]
    assert len(samples) == 20 and samples[-1]["articles"] == 40
    assert windowed["dedup"]["reopened_in_window"] == samples[-1]["in_window"] < 40  # a month through 7 days
    assert all(s["max_ms"] >= s["p99_ms"] >= s["median_ms"] > 0 for s in samples)
    assert windowed["dedup"]["gc_tracked_per_article_in_window"] > 0
    # reopened from the memory saved as the file closed, and from the file alone
    assert windowed["dedup"]["reopen_seconds"] >= 0 and windowed["dedup"]["reopen_from_file_seconds"] >= 0
    assert windowed["dedup"]["state_mb"] > 0
    # and after a crash: the state saved one article before the end, then that article
    assert windowed["dedup"]["added_after_state"] == 1
    assert windowed["dedup"]["save_state_seconds"] >= 0 and windowed["dedup"]["reopen_after_crash_seconds"] >= 0
    # the collector left as it is, unless asked
    assert windowed["dedup"]["short_gc_pauses"] is False and windowed["dedup"]["frozen_at_end"] == 0
    (tmp_path / "window.json").write_text(json.dumps(windowed))
    assert run.window_bench.main(["--from-json", str(tmp_path / "window.json"), "--plot", str(tmp_path / "w.png")]) == 0
    assert (tmp_path / "w.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(summary["tradeoff"]) == {"data", "dedup"}
    assert all(
        set(q) == {"articles", "true_groups_with_copies", "dedup", "mistakes"} for q in summary["quality"].values()
    )
    assert "datasketch" not in capsys.readouterr().out


def test_advice_names_a_better_setting_and_how_to_use_it() -> None:
    config = dedup.DedupConfig()
    points = [
        {"setting": 0.5, "precision": 0.7, "recall": 1.0, "f1": 0.82},
        {"setting": 0.75, "precision": 0.95, "recall": 0.95, "f1": 0.95},
        {"setting": 1.0, "precision": 1.0, "recall": 0.8, "f1": 0.889},
        {"setting": 1.4, "precision": 1.0, "recall": 0.6, "f1": 0.75},
    ]
    a = run.advice("mine", points, config)
    assert a is not None and a["setting"] == 0.75 and a["default_f1"] == 0.889
    line = run.advice_line(a)
    assert "mine" in line and "looser" in line and "0.950" in line and "0.889" in line
    suggested = eval(a["python"], {"dedup": dedup})  # the printed call builds the swept setting
    assert suggested == run.scaled(config, 0.75) and suggested != config
    close = [dict(p, f1=0.889 + 0.005) if p["setting"] == 0.75 else p for p in points]
    assert run.advice("mine", close, config) is None  # within the margin: the default stays


def test_the_run_tells_when_another_setting_beats_the_default(tmp_path, monkeypatch, capsys) -> None:
    def sweep(records, config, with_peers=True):
        return {
            "dedup": [
                {"setting": s, "precision": 1.0, "recall": 1.0, "f1": 0.99 if s == 1.4 else 0.9} for s in run.SCALES
            ]
        }

    monkeypatch.setattr(run, "tradeoff", sweep)
    assert run.main(["--data", str(labelled(tmp_path, {})), "--only-data", "--no-peers"]) == 0
    printed = capsys.readouterr().out
    assert "On mine, a stricter setting (verification thresholds x1.4) scores F1 0.990 against 0.900" in printed
    assert "dedup.DedupConfig(verify=dedup.VerifyConfig(" in printed


def test_the_plot_labels_its_points_and_uses_log_axes() -> None:
    pytest.importorskip("matplotlib")
    point = {"precision": 0.9, "recall": 0.5, "f1": 0.64}
    rows = [
        {
            "articles": n,
            "dedup_seconds": n / 1e4,
            "dedup_peak_rss_mb": 100 + n / 1e4,
            "rensa_seconds": n / 2e4,
            "rensa_peak_rss_mb": 90 + n / 1e4,
        }
        for n in (10_000, 100_000, 1_000_000)
    ]
    summary = {
        "tradeoff": {
            "data": "generated",
            "dedup": [dict(point, setting=s, recall=s / 2) for s in run.SCALES],
            "rensa": [dict(point, setting=t, recall=t) for t in run.PEER_THRESHOLDS],
        },
        "speed": {},
        "command_line": rows,
    }
    fig = run.figure(summary)
    trade, seconds, memory = fig.axes
    labels = {t.get_text() for t in trade.texts}
    assert {"x0.5", "x1", "x1.8", "0.3", "0.8"} <= labels
    legend = [t.get_text() for t in trade.get_legend().get_texts()]
    assert "dedup default (x1)" in legend and "rensa default (0.8)" in legend
    for ax in (seconds, memory):
        assert ax.get_xscale() == ax.get_yscale() == "log"
        assert "log scale" in ax.get_xlabel() and "log scale" in ax.get_ylabel()
        assert [line.get_xdata().tolist() for line in ax.lines] == [[10_000, 100_000, 1_000_000]] * 2
    assert "peak memory" in memory.get_ylabel()
    assert {"100 s", "50 s", "200 MB"} <= {t.get_text() for t in seconds.texts} | {t.get_text() for t in memory.texts}


def test_the_band_index_benchmark_times_every_add(capsys) -> None:
    import band_index

    assert band_index.main(["--window", "50", "--adds", "400", "--slow", "0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["adds"] == 400 and result["window"] == 50
    assert 0 < result["median_ms"] <= result["p99_ms"] <= result["longest_ms"]
    # with no floor every add after the first is listed, numbered from 1
    assert [n for n, _ in result["slow_adds"]] == list(range(1, 400))
    assert band_index.main(["--window", "50", "--adds", "60"]) == 0
    assert "60 adds through a window of 50" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        band_index.main(["--window", "0"])


def test_the_window_stream_runs_under_short_gc_pauses_when_asked() -> None:
    result = run.window_bench.measure(40, 1, 30, 7, with_peers=False, short_pauses=True)
    assert result["dedup"]["short_gc_pauses"] is True and result["dedup"]["frozen_at_end"] > 10_000
    assert len(result["dedup"]["samples"]) == 20
    assert "(under dedup.short_gc_pauses)" in run.window_bench.lines(result)[0]


def test_the_syndicated_story_by_three_workers_sharing_redis(redis_url: str) -> None:
    """With ``--redis``, the story is also streamed by three workers of one Redis index."""
    row = run.syndicated(20, 1, dedup.DedupConfig(), with_peers=False, redis=redis_url)
    shared = row["dedup, three workers"]
    assert shared["add_median_ms"] > 0 and shared["adds_over_20_ms"] >= shared["adds_over_20_ms_with_a_full_collection"]
    assert "three workers sharing a Redis index" in "\n".join(run.syndicated_lines([row]))
