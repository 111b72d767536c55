"""The real-news benchmark (SaudiNewsNet): the design-weighted pair scoring on hand-made clusters,
the earliest-source report on hand-made crawls, and a slice of the real corpus end to end when it is
on this machine."""

import json
import os
import sys
from pathlib import Path

import pytest

import dedup

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import real_news  # noqa: E402
import run  # noqa: E402

# The corpus is not shipped: it is read beside the repository, or from DEDUP_SAUDINEWSNET.
CORPUS = Path(os.environ.get("DEDUP_SAUDINEWSNET") or ROOT.parent / "shared" / "data" / "saudinewsnet")
needs_corpus = pytest.mark.skipif(
    not any(CORPUS.glob("*.zip")),
    reason=f"the SaudiNewsNet day zips are not in {CORPUS} (the corpus is not shipped; put the zips of "
    "github.com/parallelfold/SaudiNewsNet there or name their folder in DEDUP_SAUDINEWSNET)",
)


def pair(a: str, b: str, stratum: str, label: str) -> real_news.LabelledPair:
    return real_news.LabelledPair(a, b, stratum, label)


def test_pair_quality_weights_each_pair_by_its_stratum() -> None:
    """P stands for 10 / 2 = 5 pairs each, M for 30 / 3 = 10. Grouped: a-b (COPY, P): TP 5;
    c-d (TEMPLATE, P): FP 5; f-g (DIGEST): left out. Apart: a-e (COPY, M): FN 10; e-f (UNRELATED):
    a true negative. h-x: x was not read, so the pair is not scored. Precision 5 / 10, recall
    5 / 15, F1 2 * 0.5 * (1/3) / (0.5 + 1/3) = 0.4."""
    design = real_news.Design(
        pairs=(
            pair("a", "b", "P", "COPY"),
            pair("c", "d", "P", "TEMPLATE"),
            pair("f", "g", "M", "DIGEST"),
            pair("a", "e", "M", "COPY"),
            pair("e", "f", "M", "UNRELATED"),
            pair("h", "x", "M", "COPY"),
        ),
        weights={"P": 10 / 2, "M": 30 / 3},
        population=frozenset({("a", "b"), ("c", "d"), ("f", "g"), ("a", "e")}),
    )
    q = real_news.pair_quality([["b", "a"], ["c", "d", "f", "g"], ["e"], ["h"]], design)
    assert q["precision"] == 0.5
    assert q["recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert q["f1"] == pytest.approx(0.4, abs=1e-4)
    assert (q["labelled_pairs_scored"], q["labelled_pairs_agreeing"]) == (4, 2)
    # c-d-f-g holds 6 pairs, a-b one: of the 7, c-f, c-g, d-f and d-g are outside the population
    assert (q["largest_cluster"], q["predicted_pairs"], q["unmeasured_pairs"]) == (4, 7, 4)


def test_pair_quality_of_no_grouping_is_zero_not_an_error() -> None:
    design = real_news.Design(pairs=(pair("a", "b", "P", "COPY"),), weights={"P": 1.0}, population=frozenset())
    q = real_news.pair_quality([["a"], ["b"]], design)
    assert (q["precision"], q["recall"], q["f1"], q["predicted_pairs"]) == (0.0, 0.0, 0.0, 0)


def test_the_shipped_design_matches_its_labels() -> None:
    """Every labelled pair is in the shipped population, and the weights are population / sampled
    of labels.json (the figures of the benchmark stand on both files)."""
    design = real_news.load_design()
    labels = json.loads(real_news.LABELS.read_text(encoding="utf-8"))
    assert len(design.pairs) == len(labels["pairs"]) == sum(labels["sampled"].values())
    assert all((min(p.a, p.b), max(p.a, p.b)) in design.population for p in design.pairs)
    assert design.weights == {s: labels["population"][s] / labels["sampled"][s] for s in labels["sampled"]}
    assert len(design.population) == sum(labels["population"].values())


def crawl(record: dict, source: str, at: str, prefix: str = "") -> dict:
    return {**record, "source": source, "published_at": f"2015-07-21T{at}:00+03:00", "text": prefix + record["text"]}


def test_agency_earliest_says_why_the_agency_is_not_named() -> None:
    """Two stories the agency (source ``was``) put out: in one an outlet's copy was crawled an hour
    before the agency's article, and the copy is named earliest; in the other the agency's article
    was crawled first and is named. The outlet's copy credits the agency (واس) in its opening line."""
    example = {r["id"]: r for r in run.load_labelled(run.EXAMPLE)}
    records = [
        crawl(example["en-wire"], "was", "10:00"),
        crawl(example["en-copy-furniture"], "okaz", "09:00", "الرياض - واس\n\n"),
        crawl(example["ar-water-wire"], "was", "08:00"),
        crawl(example["ar-water-trimmed"], "sabq", "09:00"),
    ]
    by_id = {r["id"]: r for r in records}
    config = dedup.DedupConfig()
    clusters = dedup.cluster(run.articles(records), config=config)
    assert sorted(len(c) for c in clusters) == [2, 2]
    report = real_news.agency_earliest(clusters, by_id, config)
    assert report["agency_articles"] == 2
    assert report["clusters_with_agency_article"] == 2
    assert report["agency_named_earliest"] == 1
    assert report["agency_not_named_because"] == {"outlet_copy_crawled_earlier": 1}
    assert report["earliest_rule"] == {"published_at": 2}
    assert (report["clusters_crediting_agency"], report["crediting_clusters_earliest_credits_it"]) == (1, 1)


def test_day_files_refuse_a_folder_without_zips(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no day zips"):
        real_news.day_files(tmp_path)


@needs_corpus
def test_the_reader_gives_the_ids_the_labels_use() -> None:
    """Every labelled article is read from the corpus under the id of the labels."""
    ids = {r["id"] for r in real_news.read_days(real_news.day_files(CORPUS))}
    design = real_news.load_design()
    assert {i for p in design.pairs for i in (p.a, p.b)} <= ids


@needs_corpus
def test_a_slice_of_the_real_corpus_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One day, its first 1,000 articles: every method is scored, the largest clusters carry titles
    from the corpus, and the table and the JSON say the same."""
    out = tmp_path / "r.json"
    argv = ["--saudinewsnet", str(CORPUS), "--days", "2015-07-23", "--limit", "1000", "--only-data", "--out", str(out)]
    assert run.main(argv) == 0
    printed = capsys.readouterr().out
    news = json.loads(out.read_text(encoding="utf-8"))["real_news"]
    assert news["articles"] == 1000 and news["day_files"] == ["2015-07-23"]
    assert {"dedup", "datasketch 0.8", "datasketch 0.5", "datasketch 0.3"} <= set(news["methods"])
    for q in news["methods"].values():
        assert {"precision", "recall", "f1", "largest_cluster", "predicted_pairs", "unmeasured_pairs"} <= set(q)
        assert 0 <= q["precision"] <= 1 and 0 <= q["recall"] <= 1
    titles = {r["title"].strip() for r in real_news.read_days(real_news.day_files(CORPUS, ["2015-07-23"]), 1000)}
    largest = news["largest_clusters"][0]
    assert largest["size"] == news["methods"]["dedup"]["largest_cluster"] >= 2
    assert 2 <= len(largest["titles"]) <= 3 and set(largest["titles"]) <= {" ".join(t.split()) for t in titles}
    assert news["earliest"]["clusters_with_copies"] == sum(news["earliest"]["earliest_rule"].values())
    assert "real news: SaudiNewsNet, 1,000 articles of 1 day files" in printed
    assert news["methods"]["dedup"]["labelled_pairs_scored"] > 0
    rows = {line.split()[0]: line.split()[1:4] for line in printed.splitlines() if line.startswith("  dedup ")}
    q = news["methods"]["dedup"]
    assert rows["dedup"] == [f"{q['precision']:.3f}", f"{q['recall']:.3f}", f"{q['f1']:.3f}"]


def test_only_data_with_the_corpus_needs_no_labelled_file() -> None:
    with pytest.raises(SystemExit):
        run.main(["--days", "2015-07-23", "--only-data"])
    with pytest.raises(SystemExit):
        run.main(["--saudinewsnet", "x", "--limit", "0"])


@needs_corpus
def test_no_peers_scores_dedup_alone_on_real_news(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a peer ran although --no-peers was given")

    for name in ("datasketch_cluster", "rensa_cluster"):
        monkeypatch.setattr(run.peers, name, refuse)
    out = tmp_path / "r.json"
    argv = ["--saudinewsnet", str(CORPUS), "--days", "2015-07-23", "--limit", "200", "--only-data", "--no-peers"]
    assert run.main([*argv, "--json", "--out", str(out)]) == 0
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert list(summary["real_news"]["methods"]) == ["dedup"] and summary["quality"] == {}


@needs_corpus
def test_a_file_index_of_a_day_of_real_news_reopens_with_the_clusters_it_answered(tmp_path: Path) -> None:
    """One day added article by article into a SQLite file, in the corpus's order: reopened, the
    file gives the clusters the open index gave. Grouping compares the members of a cluster with
    each other and asks remembered pairs again as learned boilerplate changes; the copies it finds
    there hold clusters together, so they are written too."""
    path = tmp_path / "day.sqlite"
    with dedup.Deduplicator.open(path) as index:
        for record in real_news.read_days(real_news.day_files(CORPUS, ["2015-07-31"])):
            try:
                index.add(dedup.Article(**record))
            except dedup.EmptyTextError:
                continue
        answered = {c.member_ids for c in index.clusters()}
    with dedup.Deduplicator.open(path) as index:
        assert {c.member_ids for c in index.clusters()} == answered
