"""The Spark job gives what ``dedup.cluster`` gives, in a real local Spark (``local[2]``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dedup
from dedup.config import BoilerplateConfig, DedupConfig, FormulaConfig, PassageConfig
from dedup.errors import DuplicateIdError
from dedup.stages.boilerplate import learn
from dedup.stages.grouping import components
from dedup.stages.index import candidate_pairs
from dedup.stages.prepare import first_of_id

pyspark = pytest.importorskip("pyspark", reason="the [spark] extra is not installed")
if __import__("shutil").which("java") is None:
    pytest.skip("no Java runtime: apt-get install default-jre-headless (.ci/run does)", allow_module_level=True)

from dedup.runners import spark as dspark  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import generate  # noqa: E402

# A Spark session in local mode: minutes on a small machine (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

COLUMNS = ("id", "text", "published_at", "source", "url", "title")
SCHEMA = ", ".join(f"{c} string" for c in COLUMNS)


@pytest.fixture(scope="module")
def spark():
    session = dspark.session("local[2]", app_name="dedup-tests")
    session.conf.set("spark.sql.shuffle.partitions", "4")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _records(articles: list[dedup.Article]) -> list[dict]:
    return [
        {
            "id": a.id,
            "text": a.text,
            "published_at": a.published_at.isoformat() if a.published_at else None,
            "source": a.source,
            "url": a.url,
            "title": a.title,
        }
        for a in articles
    ]


def _library_rows(articles: list[dedup.Article], config: dedup.DedupConfig | None = None) -> dict[str, tuple]:
    rows = {}
    for c in dedup.cluster(articles, config=config):
        for m in c.members:
            rows[m.id] = (c.id, c.earliest, str(m.relation), m.matched, m.score, c.evidence.rule, len(c.members))
    return rows


def _spark_rows(spark, records: list[dict], config: dedup.DedupConfig | None = None) -> dict[str, tuple]:
    result = dspark.cluster(spark.createDataFrame(records, SCHEMA), config)
    return {
        r.id: (r.cluster, r.earliest, r.relation, r.matched, r.score, r.earliest_rule, r.size) for r in result.collect()
    }


def _assert_parity(spark, articles: list[dedup.Article], config: dedup.DedupConfig | None = None) -> None:
    expected = _library_rows(articles, config)
    got = _spark_rows(spark, _records(articles), config)
    assert set(got) == set(expected)
    differing = {i: (expected[i], got[i]) for i in expected if expected[i] != got[i]}
    assert not differing, list(differing.items())[:5]


def test_parity_on_the_seeds(spark, seeds) -> None:
    _assert_parity(spark, seeds)
    got = _spark_rows(spark, _records(seeds))
    copies = {i for i, row in got.items() if row[6] == 2}
    assert copies == {m["id"] for m in _manifest() if m["id"].startswith(("000_", "002_"))}


def _manifest() -> list[dict]:
    lines = (ROOT / "seeds" / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def test_parity_on_the_example_file(spark) -> None:
    lines = (ROOT / "benchmarks/data/labelled_example.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line]
    articles = [dedup.Article(**{k: r[k] for k in COLUMNS if r.get(k) is not None}) for r in records]
    _assert_parity(spark, articles)


def test_parity_on_a_generated_set(spark) -> None:
    records = generate.generate(600, 11)
    articles = [dedup.Article(**{k: r[k] for k in COLUMNS if r.get(k) is not None}) for r in records]
    assert sum(1 for c in dedup.cluster(articles) if len(c) > 1) > 50  # copies to agree on
    _assert_parity(spark, articles)


def test_bad_rows_go_to_the_errors_output(spark, seeds) -> None:
    records = _records(seeds)
    records += [
        {"id": "null-text", "text": None},
        {"id": "blank", "text": "   \n "},
        {"id": "", "text": "an article without an id, long enough to be prose in any outlet"},
        {"id": "twice-same", "text": seeds[1].text},
        {"id": "twice-same", "text": seeds[1].text},
        {"id": "twice-diff", "text": seeds[3].text},
        {"id": "twice-diff", "text": seeds[4].text},
        {"id": "bad-time", "text": seeds[4].text, "published_at": "yesterday"},
    ]
    records = [{c: r.get(c) for c in COLUMNS} for r in records]
    result = dspark.run(spark.createDataFrame(records, SCHEMA))
    errors = {(r.id, r.error) for r in result.errors.collect()}
    assert ("null-text", "EmptyTextError") in errors
    assert ("blank", "EmptyTextError") in errors
    assert ("", "InputError") in errors
    assert ("twice-same", "DuplicateIdError") in errors
    assert ("twice-diff", "DuplicateIdError") in errors
    assert ("bad-time", "InputError") in errors
    clustered = {r.id: r for r in result.clusters.collect()}
    assert all(frame.is_cached for frame in result.cached)
    result.release()  # the outputs are written (collected): the cached steps are given back
    assert not any(frame.is_cached for frame in result.cached)
    # the good rows are all there; one copy of a repeated identical row is kept, as the library does
    assert {a.id for a in seeds} | {"twice-same"} == set(clustered)
    assert clustered["twice-same"].size == 2  # it is a copy of seed 001


def test_connected_components_are_the_reference_components(spark) -> None:
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("x", "y"), ("e", "d"), ("k", "k"), ("z", "y"), ("m", "n")]
    edges += [(f"p{i:02d}", f"p{i + 1:02d}") for i in range(30)]  # a long chain
    labels = {
        r.node: r.label
        for r in dspark.connected_components(spark.createDataFrame(edges, "a string, b string")).collect()
    }
    nodes = {n for e in edges for n in e if e[0] != e[1]}
    neighbours: dict[str, set[str]] = {n: set() for n in nodes}
    for a, b in edges:
        if a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)
    assert set(labels) == nodes
    for component in components(nodes, neighbours.__getitem__):
        assert {labels[n] for n in component} == {component[0]}  # labelled by its smallest node


def _signed(keys: list[int]) -> list[int]:
    return np.array(keys, dtype=np.uint64).view(np.int64).tolist()


def test_the_duplicate_id_rule_keeps_what_first_of_id_keeps_where_no_order_is_needed(spark) -> None:
    rng = np.random.default_rng(3)
    records = [(f"id{int(rng.integers(0, 12))}", f"text {int(rng.integers(0, 3))}") for _ in range(40)]
    records += [("", "no id"), (None, "no id either")]
    kept: dict[str, str] = {}  # the library's policy, rows in list order
    conflicting: set[str] = set()
    for art_id, text in records:
        if not art_id:
            continue
        try:
            if first_of_id(art_id, text, kept.get(art_id)):
                kept[art_id] = text
        except DuplicateIdError:
            conflicting.add(art_id)
    assert conflicting and set(kept) - conflicting  # both cases occur
    frame = spark.createDataFrame([{"id": i, "text": t} for i, t in records], "id string, text string")
    usable, errors = dspark.split_ids(dspark._with_input_columns(frame))
    got = [(r.id, r.text) for r in usable.collect()]
    # one row per id; where the library's choice needs no order, the same text; else none
    assert sorted(got) == sorted((i, t) for i, t in kept.items() if i not in conflicting)
    errors_by_id: dict[str | None, set[str]] = {}
    for r in errors.collect():
        errors_by_id.setdefault(r.id, set()).add(r.error)
    n_rows = {i: sum(1 for j, _ in records if j == i) for i in kept}
    repeated = {i for i, n in n_rows.items() if n > 1}
    assert errors_by_id == {i: {"DuplicateIdError"} for i in repeated} | {"": {"InputError"}, None: {"InputError"}}


def test_the_band_joins_follow_the_candidate_rule(spark) -> None:
    config = DedupConfig(passage=PassageConfig(min_hits=2, few_passages=1, max_candidates=2))
    doc_bands, passage_bands = config.minhash.bands, config.passage.bands
    rows, expected = [], set()
    for trial in range(4):  # independent small batches in one frame: ids do not collide across trials
        rng = np.random.default_rng(trial)
        n = 12
        docs = [
            [int(rng.integers(0, 8)) * 1024 + t if t < 2 else 10**6 + i for t in range(doc_bands)] for i in range(n)
        ]
        passages = [
            [[int(rng.integers(0, 4)) * 1024 + t for t in range(passage_bands)] for _ in range(rng.integers(0, 5))]
            for _ in range(n)
        ]
        docs = [[k + trial * 10**8 for k in row] for row in docs]
        passages = [[[k + trial * 10**8 for k in row] for row in p] for p in passages]
        ids = [f"t{trial}-{i:02d}" for i in range(n)]
        for i in range(n):
            rows.append(
                {
                    "id": ids[i],
                    "doc_keys": _signed(docs[i]),
                    "passage_fps": list(range(len(passages[i]))),
                    "passage_keys": _signed([k for row in passages[i] for k in row]),
                }
            )
        found = candidate_pairs(docs, passages, limit=2, min_hits=2, few=1)
        expected |= {(ids[b], ids[a]) for b, a in found}
    frame = spark.createDataFrame(
        rows, "id string, doc_keys array<long>, passage_fps array<long>, passage_keys array<long>"
    )
    none_learned = spark.createDataFrame([], "fp long")
    got = {(r.b, r.a) for r in dspark.candidate_pairs(frame, none_learned, config).collect()}
    assert len(expected) > 10
    assert got == expected


def test_the_boilerplate_windows_follow_the_rule(spark) -> None:
    config = DedupConfig(boilerplate=BoilerplateConfig(min_df=2, sample=3))
    rng = np.random.default_rng(5)
    articles = [sorted({int(v) for v in rng.integers(0, 12, size=rng.integers(1, 7))}) for _ in range(40)]
    ids = [f"a{i:02d}" for i in range(len(articles))]
    order = rng.permutation(len(articles)).tolist()  # the frame's row order is not the id order
    # near keys: sentences 0 and 9, 1 and 10, 2 and 11 versions of one another
    frame = spark.createDataFrame(
        [(ids[i], articles[i], [f % 9 for f in articles[i]]) for i in order],
        "id string, fps array<long>, sentence_keys array<long>",
    )
    expected = learn([[(f, f % 9) for f in a] for a in articles], config.boilerplate)
    assert 0 < len(expected) < len({f for a in articles for f in a})
    assert set(dspark.learn_boilerplate(frame, config)) == expected


def test_the_command_writes_clusters_and_errors(tmp_path) -> None:
    src = tmp_path / "in.jsonl"
    with src.open("w", encoding="utf-8") as out:
        for m in _manifest():
            text = (ROOT / "seeds" / m["file"]).read_text(encoding="utf-8")
            out.write(json.dumps({"id": m["id"], "text": text}, ensure_ascii=False) + "\n")
        out.write(json.dumps({"id": "empty", "text": ""}) + "\n")
    dest = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "dedup", "spark", str(src), str(dest), "--master", "local[2]"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [
        json.loads(line) for f in sorted(dest.glob("part-*")) for line in f.read_text(encoding="utf-8").splitlines()
    ]
    assert len(rows) == 5
    earliest = {r["id"]: r["earliest"] for r in rows}
    assert earliest["002_2c2c9388f5a9e12b"] == "000_ab6823a46153965b"
    parts = sorted((tmp_path / "out.errors.jsonl").glob("part-*"))
    errors = [json.loads(line) for f in parts for line in f.read_text(encoding="utf-8").splitlines()]
    assert [(e["id"], e["error"]) for e in errors] == [("empty", "EmptyTextError")]


def test_parity_on_a_site_notice_and_templated_cables(spark) -> None:
    # the formula test reads sources (or the urls' hosts) and titles: a notice printed under many
    # titles, cables of one outlet, and one wire story under several headlines
    sys.path.insert(0, str(ROOT / "tests"))
    from test_formula import _cables, _notice_pages

    by_url = [
        dedup.Article(id=f"u-{a.id}", text=a.text, url=f"https://{a.source}.example/{a.id}") for a in _cables("ar")
    ]
    articles = _notice_pages() + _cables("en") + by_url
    assert sum(1 for c in dedup.cluster(articles) if len(c) > 1) == 3  # the wire story, each cable printed twice
    _assert_parity(spark, articles)


def test_parity_when_the_formula_counts_outgrow_their_sketch(spark) -> None:
    # the driver sums the partitions' tables and the test abstains on every executor as in the batch
    sys.path.insert(0, str(ROOT / "tests"))
    from test_formula import _trimmed_copies

    config = DedupConfig(formula=FormulaConfig(sketch_width_bits=4, sketch_rows=1))
    articles = _trimmed_copies()
    expected = {m.id: c.id for c in dedup.cluster(articles, config=config) for m in c.members}
    got = {r.id: r.cluster for r in dspark.cluster(spark.createDataFrame(_records(articles), SCHEMA), config).collect()}
    assert got == expected and len(set(got.values())) == 1


@pytest.mark.parametrize("edited", [False, True], ids=["the same text", "a word changed"])
def test_parity_on_a_column_printed_again_among_many_that_share_a_footer(spark, edited: bool) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_engine import columns_with_a_footer

    articles, config = columns_with_a_footer(edited)
    _assert_parity(spark, articles, config)
    assert _spark_rows(spark, _records(articles), config)["col-7-again"][6] == 2  # grouped with its first printing
