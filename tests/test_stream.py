import logging
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dedup
from chinese_corpus import ARTICLES as CHINESE
from chinese_corpus import EXPECTED as CHINESE_GROUPS
from conftest import groups_of, load_english, load_seeds
from dedup.runners.stream import state

SEED_GROUPS = {
    frozenset({"000_ab6823a46153965b", "002_2c2c9388f5a9e12b"}),
    frozenset({"001_77bb04e589020bf5"}),
    frozenset({"003_76ddf5ff940c1963"}),
    frozenset({"004_3a34eed36ca8e033"}),
}
ENGLISH_GROUPS = {
    frozenset({"en-wire", "en-copy-furniture", "en-copy-trimmed", "en-copy-rewritten"}),
    frozenset({"en-same-event"}),
    frozenset({"en-analysis"}),
    frozenset({"en-other-story"}),
}


def test_seeds_group_as_the_manifest_says(seeds, seed_manifest) -> None:
    clusters = dedup.cluster(seeds)
    assert groups_of(clusters) == SEED_GROUPS
    by_group: dict[str, set[str]] = {}
    for m in seed_manifest:
        if m["copy_group"]:
            by_group.setdefault(m["copy_group"], set()).add(m["id"])
    assert {frozenset(g) for g in by_group.values()} <= groups_of(clusters)


def test_english_groups(english) -> None:
    assert groups_of(dedup.cluster(english)) == ENGLISH_GROUPS


def test_chinese_copies_group_and_the_agency_story_is_earliest() -> None:
    # Chinese has no spaces between words: shingled by characters, copies are found and the
    # same-topic story is not taken for one, in the batch and one article at a time
    hours = {"zh_wire": 8, "zh_copy_furniture": 9, "zh_copy_edited": 11, "zh_other": 7}
    articles = [
        dedup.Article(id=k, text=v, published_at=datetime(2024, 11, 23, hours[k], tzinfo=UTC))
        for k, v in CHINESE.items()
    ]
    clusters = dedup.cluster(articles)
    assert groups_of(clusters) == {frozenset(g) for g in CHINESE_GROUPS}
    assert next(c for c in clusters if len(c) == 3).earliest == "zh_wire"
    d = dedup.Deduplicator()
    verdicts = [d.add(a) for a in sorted(articles, key=lambda a: hours[a.id])]
    assert [v.is_copy for v in verdicts] == [False, False, True, True]
    assert verdicts[-1].cluster.earliest == "zh_wire"


ALL = load_seeds() + load_english()


@given(st.permutations(ALL))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_clusters_do_not_depend_on_input_order(articles) -> None:
    clusters = dedup.cluster(articles)
    assert groups_of(clusters) == SEED_GROUPS | ENGLISH_GROUPS
    assert {c.id: c.earliest for c in clusters} == {c.id: c.earliest for c in dedup.cluster(ALL)}


def test_verdicts_one_article_at_a_time(seeds) -> None:
    d = dedup.Deduplicator()
    verdicts = {a.id: d.add(a) for a in seeds}
    v = verdicts["002_2c2c9388f5a9e12b"]
    assert v.is_copy and v.copy_of == ("000_ab6823a46153965b",)
    assert v.matches[0].relation is dedup.Relation.REWRITTEN
    assert set(v.cluster.member_ids) == {"000_ab6823a46153965b", "002_2c2c9388f5a9e12b"}
    assert not verdicts["004_3a34eed36ca8e033"].is_copy
    assert len(verdicts["004_3a34eed36ca8e033"].cluster) == 1
    assert groups_of(d.clusters()) == SEED_GROUPS


def test_batch_equals_streaming(seeds, english) -> None:
    d = dedup.Deduplicator()
    for a in seeds + english:
        d.add(a)
    assert groups_of(d.clusters()) == groups_of(dedup.cluster(seeds + english))


def test_re_adding_an_id_is_idempotent_and_a_different_text_is_refused(seeds) -> None:
    d = dedup.Deduplicator()
    d.add(seeds[0])
    again = d.add(seeds[0])
    assert again.already_indexed and len(d) == 1
    with pytest.raises(dedup.DuplicateIdError, match="already indexed"):
        d.add(dedup.Article(id=seeds[0].id, text="another text altogether, with enough words in it."))


_FOOTER = (
    "Subscribe to our newsletter for the latest headlines delivered every morning. "
    "Follow the site on social media and share your views in the comments below. "
    "All rights reserved by the media group and its partners worldwide."
)
_STORIES = (
    "The foreign minister arrived in Geneva on Tuesday for talks on the border dispute. "
    "Officials said the meeting would focus on water rights along the river valley. "
    "Both delegations have met three times since the ceasefire was signed in March. ",
    "Heavy rain caused flooding across the northern province on Sunday night. "
    "Emergency services evacuated hundreds of families from low lying villages. "
    "The meteorological office warned that more storms are expected this week. "
    "Several roads were closed after bridges were damaged by the rising water. ",
    "The central bank raised its benchmark interest rate by half a percentage point. "
    "It was the third increase this year as inflation reached a decade high. "
    "The governor of the bank said further tightening could not be ruled out. ",
)


@pytest.mark.parametrize("index", ["memory", "file"])
def test_a_batch_of_articles_indexed_already_changes_nothing(tmp_path: Path, index: str) -> None:
    """Adding indexed articles again in a batch leaves the learned boilerplate as it was: a copy
    that comes next is judged as in a stream that never saw the batch (the site's footer, on three
    of its articles, still set aside), however the index is then reopened."""

    def article(n: int, text: str) -> dedup.Article:
        return dedup.Article(id=f"a{n}", text=text, source="site", published_at=f"2026-01-01T0{n}:00:00+00:00")

    indexed = [article(n, story + _FOOTER) for n, story in enumerate(_STORIES)]
    copy = article(5, " ".join(_STORIES[1].split(". ")[:3]) + ". " + _FOOTER)

    def opened(name: str) -> dedup.Deduplicator:
        return dedup.Deduplicator() if index == "memory" else dedup.Deduplicator.open(tmp_path / name)

    plain = opened("plain.sqlite")
    for a in indexed:
        plain.add(a)
    expected = plain.add(copy)
    assert expected.is_copy and expected.matches[0].ignored_boilerplate == 1

    again = opened("again.sqlite")
    for a in indexed:
        again.add(a)
    assert all(v.already_indexed for v in again.add_many(indexed[:2]))
    got = again.add(copy)
    assert got.to_dict() == expected.to_dict() and got.matches == expected.matches
    if index == "file":
        again.close()
        with dedup.Deduplicator.open(tmp_path / "again.sqlite") as reopened:
            assert [c.to_dict() for c in reopened.clusters()] == [c.to_dict() for c in plain.clusters()]
        plain.close()


_MATCH = [
    "The national football team qualified for the continental championship on Wednesday.",
    "A late goal from the young striker secured a two one victory away from home.",
    "The coach praised his players for their discipline in the second half.",
    "Thousands of fans celebrated in the streets of the capital after the final whistle.",
    "It is the first time in twelve years that the team has reached the tournament.",
    "The draw for the group stage will take place in December.",
    "The football federation promised bonuses to the squad for their achievement.",
    "Injuries to two defenders had raised doubts before the decisive match.",
]


@pytest.mark.parametrize("added_again", [False, True])
def test_an_earliest_source_removed_is_not_its_id_added_again(added_again: bool) -> None:
    """Once a cluster's earliest source is removed, its copies' earliest is what is left, whether or
    not its id comes back for another article: the next copy reports that one replaced."""
    d = dedup.Deduplicator()
    d.add(dedup.Article(id="a0", text=" ".join(_MATCH), published_at="2026-01-01T10:23:00+00:00"))
    assert d.add(dedup.Article(id="a22", text=" ".join(_MATCH[:1] + _MATCH[2:]))).cluster.earliest == "a0"
    d.remove("a0")
    if added_again:
        assert not d.add(dedup.Article(id="a0", text=_STORIES[1] + _STORIES[2])).is_copy
    late = d.add(dedup.Article(id="a16", text=" ".join(_MATCH[1:]), published_at="2026-01-03T08:00:00+00:00"))
    assert late.copy_of == ("a22",) and late.cluster.earliest == "a16"
    assert (late.earliest_changed, late.previous_earliests) == (True, ("a22",))


def test_an_article_added_again_is_a_copy_as_it_was_first(seeds) -> None:
    """The first of two copies is no copy when added again; the second still is."""
    d = dedup.Deduplicator()
    first, second = seeds[0], seeds[2]  # the seeds' one pair of copies
    assert [d.add(first).is_copy, d.add(second).is_copy] == [False, True]
    again = [d.add(first), d.add(second)]
    assert all(v.already_indexed and len(v.cluster) == 2 for v in again)
    assert [v.is_copy for v in again] == [False, True]


def test_a_copy_grouped_apart_from_what_it_copies_changes_no_earliest(seeds) -> None:
    """The second half of a story copies it, yet is grouped apart from the story, whose earliest
    is the first half: its verdict's own cluster had no other earliest, so nothing changed (a
    crawler applying corrections must not move the story's members to it)."""
    paras = seeds[0].text.split("\n")
    halves = ("\n".join(paras[: len(paras) // 2]), "\n".join(paras[len(paras) // 2 :]))
    d = dedup.Deduplicator()
    for article in (seeds[0], seeds[2], dedup.Article(id="h1", text=halves[0])):
        d.add(article)
    verdict = d.add(dedup.Article(id="h2", text=halves[1]))
    assert verdict.is_copy and verdict.cluster.member_ids == ("h2",)
    assert not verdict.earliest_changed and verdict.previous_earliest is None
    assert d.cluster_of(seeds[0].id).earliest == "h1"


def test_an_error_inside_add_many_says_what_was_added(seeds) -> None:
    d = dedup.Deduplicator()

    def progress(done: int, total: int | None) -> None:
        if total is not None and done == 2:
            raise RuntimeError("the caller's progress bar broke")

    with pytest.raises(RuntimeError) as stopped:
        d.add_many(seeds, progress=progress)
    added = sorted(a.id for a in seeds)[:2]
    assert list(d) == added
    assert (
        f"add_many had added 2 of its 5 articles (the first by id, up to {added[-1]!r})" in stopped.value.__notes__[0]
    )


def test_remove_updates_clusters(seeds) -> None:
    d = dedup.Deduplicator()
    d.add_many(seeds)
    d.remove("000_ab6823a46153965b")
    assert "000_ab6823a46153965b" not in d
    assert all(len(c) == 1 for c in d.clusters())
    with pytest.raises(dedup.UnknownArticleError):
        d.remove("000_ab6823a46153965b")


def test_a_source_given_as_a_string_subclass_is_read_as_its_text(seeds) -> None:
    class Outlet(str):
        pass

    d = dedup.Deduplicator()
    first = seeds[0]
    d.add(dedup.Article(id="a", text=first.text, source=Outlet("site"), published_at=first.published_at))
    copy = d.add(dedup.Article(id="b", text=first.text, source=Outlet("other")))
    assert copy.is_copy and copy.cluster.earliest == "a"
    assert [(m.id, m.source, type(m.source)) for m in copy.cluster.members] == [("a", "site", str), ("b", "other", str)]


def test_an_id_that_is_not_a_string_is_refused_and_the_state_still_saved(tmp_path: Path, seeds, caplog) -> None:
    """Looking up an article by anything but a string is an input error that names what was
    passed, not a TypeError from deep inside (which, as any error the library does not raise
    itself, would keep the memory from being saved at close); ``in`` answers False."""
    path = tmp_path / "crawl.sqlite"
    with dedup.Deduplicator.open(path) as d:
        d.add_many(seeds)
        bad: Any = ["000_ab6823a46153965b"]
        assert bad not in d and 5 not in d
        for call in (d.get, d.seq_of, d.cluster_of, d.remove, d.boilerplate_spans, lambda x: d.compare(x, seeds[0].id)):
            with pytest.raises(dedup.InputError, match=r"an article id is a string .*got list \['000_ab"):
                call(bad)
        with pytest.raises(dedup.InputError, match="got int 5"):
            d.get(5)  # type: ignore[arg-type]
        assert len(d) == len(seeds)
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(path, read_only=True) as d:
        assert "from the state saved beside it" in caplog.text
        assert len(d) == len(seeds)


def test_removing_by_an_id_that_is_not_a_string_is_refused_with_a_window(tmp_path: Path, seeds) -> None:
    """With a window the file is asked for an article that left it: an int id (which SQLite would
    match to the text id) or a list is refused before, and the index goes on."""
    path = tmp_path / "crawl.sqlite"
    with dedup.Deduplicator.open(path, window=dedup.Window(articles=2)) as d:
        arts = [dedup.Article(id=str(i), text=s.text) for i, s in enumerate(seeds[:4])]
        d.add_many(arts)
        assert sorted(d) == ["2", "3"]
        bad: Any
        for bad in (0, ["0"]):
            with pytest.raises(dedup.InputError, match="an article id is a string"):
                d.remove(bad)
        assert d.get("1").id == "1"
        d.remove("0")
        with pytest.raises(dedup.UnknownArticleError):
            d.get("0")
    assert state.path_of(path).exists()  # (saved as it closed: no call was taken as interrupted)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", dedup.EmptyTextError),
        ("   \n\t ", dedup.EmptyTextError),
        ("Share on Facebook\nAdvertisement", dedup.EmptyTextError),
        ("x" * 2_000_001, dedup.ArticleTooLargeError),
    ],
)
def test_bad_text_gets_a_clear_error(text: str, error: type) -> None:
    with pytest.raises(error):
        dedup.Deduplicator().add(dedup.Article(id="bad", text=text))


def test_ten_megabyte_page_is_refused_with_advice() -> None:
    page = "<div>" + "word " * 2_000_000 + "</div>"
    with pytest.raises(dedup.ArticleTooLargeError, match="max_chars"):
        dedup.Deduplicator().add(dedup.Article(id="huge", text=page))


def test_bad_articles_are_refused_when_built() -> None:
    with pytest.raises(dedup.TextTypeError):
        dedup.Article(id="a", text=None)  # type: ignore[arg-type]
    with pytest.raises(dedup.TextTypeError, match="UTF-8"):
        dedup.Article(id="a", text=b"\xff\xfe caf\xe9")
    with pytest.raises(dedup.InputError):
        dedup.Article(id="", text="text")
    with pytest.raises(dedup.InputError):
        dedup.Article(id=5, text="text")  # type: ignore[arg-type]
    with pytest.raises(dedup.InputError, match="ISO 8601"):
        dedup.Article(id="a", text="text", published_at="yesterday")
    assert dedup.Article(id="a", text="نص".encode()).text == "نص"


def test_batch_records_skips_and_keeps_the_rest(seeds) -> None:
    skipped: list[dedup.Skip] = []
    batch = [
        *seeds,
        dedup.Article(id="empty", text=" "),
        dedup.Article(id=seeds[0].id, text="different text here now"),
    ]
    clusters = dedup.cluster(batch, errors="skip", skipped=skipped)
    assert groups_of(clusters) == SEED_GROUPS
    assert [(s.id, s.error) for s in skipped] == [
        ("empty", "EmptyTextError"),
        (seeds[0].id, "DuplicateIdError"),
    ]
    with pytest.raises(dedup.EmptyTextError):
        dedup.cluster(batch)


def test_config_errors_say_how_to_fix() -> None:
    with pytest.raises(dedup.ConfigError, match="between 0 and 1"):
        dedup.MinHashConfig(threshold=1.5)
    with pytest.raises(dedup.ConfigError, match="passage_k"):
        dedup.ShingleConfig(passage_k=8, min_passage_words=4)
    with pytest.raises(ValueError):
        dedup.VerifyConfig(min_containment=0)
    config = dedup.MinHashConfig(threshold=0.5, num_perm=128)
    assert config.bands * config.rows <= 128 and config.bands >= 2


def test_published_at_decides_the_earliest(seeds) -> None:
    a, b = seeds[0], seeds[2]
    later = datetime(2017, 1, 28, 12, tzinfo=UTC)
    earlier = datetime(2017, 1, 28, 9, tzinfo=UTC)
    clusters = dedup.cluster(
        [
            dedup.Article(id=a.id, text=a.text, published_at=later),
            dedup.Article(id=b.id, text=b.text, published_at=earlier),
        ]
    )
    assert clusters[0].earliest == b.id and clusters[0].evidence.rule == "published_at"


@pytest.mark.slow
def test_worker_processes_give_the_same_clusters(seeds, english) -> None:
    batch = [*seeds, *english, dedup.Article(id="empty", text=" ")]
    skipped_one: list[dedup.Skip] = []
    skipped_two: list[dedup.Skip] = []
    one = dedup.cluster(batch, errors="skip", skipped=skipped_one)
    two = dedup.cluster(batch, errors="skip", skipped=skipped_two, workers=2)
    assert [(c.id, c.member_ids, c.earliest) for c in one] == [(c.id, c.member_ids, c.earliest) for c in two]
    assert (
        [(s.id, s.error) for s in skipped_one]
        == [(s.id, s.error) for s in skipped_two]
        == [("empty", "EmptyTextError")]
    )
    with pytest.raises(dedup.InputError, match="workers"):
        dedup.cluster(batch, workers=0)


@pytest.mark.slow
def test_add_many_in_worker_processes_answers_as_one_process_does(seeds) -> None:
    batch = [*seeds, dedup.Article(id="empty", text=" "), *seeds[:2]]  # two ids given again, same texts
    one, two = dedup.Deduplicator(), dedup.Deduplicator()
    verdicts_one = one.add_many(batch, errors="skip")
    verdicts_two = two.add_many(batch, errors="skip", workers=2)
    assert [v.to_dict() for v in verdicts_one] == [v.to_dict() for v in verdicts_two]
    assert any(v.is_copy for v in verdicts_one)  # the seeds hold copies
    assert (
        [(s.id, s.error) for s in one.skipped]
        == [(s.id, s.error) for s in two.skipped]
        == [("empty", "EmptyTextError")]
    )
    assert [c.member_ids for c in one.clusters()] == [c.member_ids for c in two.clusters()]


def test_prepare_many_answers_each_article_as_prepare_does(seeds) -> None:
    d = dedup.Deduplicator()
    given = [seeds[0], "not an article", dedup.Article(id="f", text="Share on Facebook\nRead more"), *seeds[1:]]
    outcomes = d.prepare_many(given)
    assert isinstance(outcomes[1], dedup.InputError) and "expected an Article" in str(outcomes[1])
    assert isinstance(outcomes[2], dedup.EmptyTextError) and "furniture" in str(outcomes[2])
    for article, outcome in zip([seeds[0], *seeds[1:]], [outcomes[0], *outcomes[3:]], strict=True):
        alone = d.prepare(article)
        assert outcome.article is article
        assert np.array_equal(outcome.signature, alone.signature)
        assert np.array_equal(outcome.doc.shingles, alone.doc.shingles)
        assert np.array_equal(outcome.passage_signatures, alone.passage_signatures)


THREADS_CHILD = textwrap.dedent(
    """
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    import dedup, generate

    records = generate.generate(400, 3)
    articles = [
        dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at"), source=r.get("source"))
        for r in records
    ]
    def answers(d):
        return sorted((c.member_ids, c.earliest) for c in d.clusters())

    shared = dedup.Deduplicator()
    failures = []
    def work(part):
        try:
            for a in part:
                shared.add(a)
        except BaseException as exc:
            failures.append(repr(exc))
    threads = [threading.Thread(target=work, args=(articles[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # the order the additions were serialised in, from the sequence numbers they were given: a stream's
    # answers can depend on the order articles come in, so one thread adding them in that order
    alone = dedup.Deduplicator()
    for a in sorted(articles, key=lambda a: shared.seq_of(a.id)):
        alone.add(a)
    print(failures, len(shared), answers(shared) == answers(alone))
    """
)


def test_threads_sharing_one_deduplicator_give_the_sequential_answers() -> None:
    # four threads add disjoint slices of a corpus with copies: no crash (a subprocess, so that a
    # corrupted heap fails the test), nothing lost, the clusters and earliest sources of one thread
    # adding the same articles in the order the threads' additions took
    benchmarks = Path(__file__).resolve().parent.parent / "benchmarks"
    child = subprocess.run(
        [sys.executable, "-c", THREADS_CHILD, str(benchmarks)],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.split() == ["[]", "400", "True"]


def test_a_closed_index_refuses_every_use_with_advice(tmp_path: Path, seeds) -> None:
    path = tmp_path / "index.sqlite"
    with dedup.Deduplicator.open(path) as d:
        d.add(seeds[0])
    d.close()  # closing twice is fine
    assert d.closed
    uses = {
        "add": lambda: d.add(seeds[1]),
        "add_many": lambda: d.add_many(seeds[1:]),
        "remove": lambda: d.remove(seeds[0].id),
        "get": lambda: d.get(seeds[0].id),
        "compare": lambda: d.compare(seeds[0].id, seeds[0].id),
        "cluster_of": lambda: d.cluster_of(seeds[0].id),
        "clusters": d.clusters,
        "sync": d.sync,
        "len": lambda: len(d),
        "in": lambda: seeds[0].id in d,
        "iter": lambda: list(d),
        "with": lambda: d.__enter__(),
    }
    for use in uses.values():
        with pytest.raises(dedup.ClosedError, match=r"closed; open it again with Deduplicator.open\("):
            use()
    assert issubclass(dedup.ClosedError, dedup.StoreError)
    with dedup.Deduplicator.open(path) as again:  # nothing was written after the close
        assert list(again) == [seeds[0].id]
    memory = dedup.Deduplicator()
    with memory:
        memory.add(seeds[0])
    with pytest.raises(dedup.ClosedError, match="new Deduplicator"):
        memory.add(seeds[1])
