"""The stream's window: which articles stay in memory, what a crawler still reads of those that
left, and that reopening a file reads only the window."""

import itertools
import math
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
from conftest import groups_of, load_seeds
from dedup import Article, Deduplicator, Window
from dedup.runners.stream.window import AHEAD, DAY, Retention

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
STORY = (
    "The ministry of health announced on Tuesday that the new hospital in the northern region will open "
    "next month with three hundred beds and a staff of four hundred doctors and nurses. The minister said "
    "the project cost two billion riyals and was completed ahead of schedule by the national contractor."
)
OTHER = (
    "Heavy rain is expected across the eastern province over the weekend, the national weather centre "
    "said, warning drivers to avoid valleys and low roads. Schools may close on Sunday if the storm "
    "strengthens as forecast by the latest models of the centre in the capital."
)


def _at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def _copy(art_id: str, days: float | None, extra: str = "") -> Article:
    return Article(id=art_id, text=STORY + extra, published_at=None if days is None else _at(days))


# -- the retention rule, against a plain reading of Window's docstring --------------------------


def _reference(events: list[tuple[str, str, float | None]], window: Window) -> set[str]:
    """Which articles are held after ``events`` (("add", id, day or None) / ("remove", id, None)),
    computed from scratch after each event: the oldest by time out, then the first added out."""
    clock = -math.inf
    held: dict[str, tuple[float, int]] = {}
    for seq, (op, art_id, day) in enumerate(events):
        if op == "remove":
            held.pop(art_id, None)
            continue
        moment = clock if day is None else datetime.fromtimestamp(day * DAY, UTC).timestamp()
        if clock > -math.inf and moment > clock + max(AHEAD, window.days or 0) * DAY:
            moment = clock + DAY  # far ahead of the clock: a day past it
        clock = max(clock, moment)
        held[art_id] = (moment, seq)
        if window.days is not None:
            held = {k: v for k, v in held.items() if v[0] >= clock - window.days * DAY}
        while window.articles is not None and len(held) > window.articles:
            del held[min(held, key=lambda k: held[k][1])]
    return set(held)


_events = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from("abcdefgh"), st.one_of(st.none(), st.floats(0, 80))),
        st.tuples(st.just("remove"), st.sampled_from("abcdefgh"), st.none()),
    ),
    max_size=40,
)
_windows = st.one_of(
    st.builds(Window, days=st.floats(0.5, 10), articles=st.one_of(st.none(), st.integers(1, 6))),
    st.builds(Window, articles=st.integers(1, 6)),
)


@settings(max_examples=300, deadline=None)
@given(events=_events, window=_windows)
def test_retention_holds_what_the_window_says(events, window) -> None:
    retention = Retention(window, now=lambda: 1e12)
    for seq, (op, art_id, day) in enumerate(events):
        if op == "remove":
            retention.discard(art_id)
            continue
        published = None if day is None else datetime.fromtimestamp(day * DAY, UTC)
        retention.admit(art_id, seq, published)
        left = retention.leaving()
        assert not set(left) & set(retention)
    assert set(retention) == _reference(events, window)


def test_a_misdated_article_does_not_empty_the_window() -> None:
    now = T0.timestamp()
    retention = Retention(Window(days=2), now=lambda: now)
    retention.admit("a", 0, T0)
    retention.admit("z", 1, T0 + timedelta(days=3650))  # ten years ahead: counts as a day past the clock
    assert retention.leaving() == [] and set(retention) == {"a", "z"}
    assert retention.clock == (T0 + timedelta(days=1)).timestamp()
    first = Retention(Window(days=2), now=lambda: now)
    first.admit("y", 0, T0 + timedelta(days=3650))  # the first dated article: a day past the machine's clock
    assert first.clock == now + DAY


def test_naive_times_are_read_as_utc() -> None:
    aware, naive = Retention(Window(days=1)), Retention(Window(days=1))
    for r, tz in ((aware, UTC), (naive, None)):
        r.admit("a", 0, datetime(2026, 1, 1, 0, 0, tzinfo=tz))
        r.admit("b", 1, datetime(2026, 1, 2, 0, 30, tzinfo=tz))
        r.leaving()
    assert set(aware) == set(naive) == {"b"}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({}, dedup.ConfigError), ({"days": 0}, dedup.ConfigError), ({"days": math.nan}, dedup.ConfigError),
     ({"articles": 0}, dedup.ConfigError), ({"articles": 2.5}, dedup.ConfigTypeError),
     ({"days": "7"}, dedup.ConfigTypeError)],
)  # fmt: skip
def test_bad_windows_are_refused_with_the_fix(kwargs, error) -> None:
    with pytest.raises(error) as caught:
        Window(**kwargs)
    assert "Window" in str(caught.value)


def test_a_window_must_be_a_window() -> None:
    with pytest.raises(dedup.InputError, match="Window"):
        Deduplicator(window=7)  # type: ignore[arg-type]


# -- the stream ----------------------------------------------------------------------------------


def test_a_copy_is_found_inside_the_window_and_not_past_it() -> None:
    d = Deduplicator(window=Window(days=7))
    d.add(_copy("a", 0))
    assert d.add(_copy("b", 6, " Officials welcomed it.")).copy_of == ("a",)
    late = d.add(_copy("c", 13.5, " It opens soon."))  # a is 13.5 days older: out; b 7.5: out
    assert not late.is_copy and set(d) == {"c"}
    assert d.add(_copy("d", 14, " Doctors are hired.")).copy_of == ("c",)


def test_the_window_by_count_keeps_the_last_articles_added() -> None:
    d = Deduplicator(window=Window(articles=2))
    for n in range(5):
        d.add(Article(id=f"n{n}", text=f"{OTHER} Update number {n} of the day."))
    assert list(d) == ["n3", "n4"] and len(d) == 2
    assert "n0" not in d


def test_a_cluster_keeps_its_id_when_its_first_member_leaves() -> None:
    d = Deduplicator(window=Window(days=3))
    first = d.add(_copy("a", 0))
    d.add(_copy("b", 2, " Officials welcomed it."))
    d.add(Article(id="x", text=OTHER, published_at=_at(3.5)))  # the clock passes 3 days: a leaves
    assert "a" not in d
    verdict = d.add(_copy("c", 4, " It opens soon."))
    assert verdict.copy_of == ("b",)
    assert verdict.cluster.id == first.cluster.id and verdict.merged == ()
    assert verdict.cluster.member_ids == ("b", "c")
    assert not verdict.earliest_changed  # a left the window; it did not turn out to be later


def test_an_undated_article_is_as_old_as_the_clock_when_it_came() -> None:
    d = Deduplicator(window=Window(days=2))
    d.add(Article(id="early", text=OTHER))  # before any time: older than every dated article
    d.add(_copy("a", 0))
    assert "early" not in d
    d.add(Article(id="u", text=f"{OTHER} Roads reopened."))  # as of day 0
    d.add(_copy("b", 1.5, " Officials welcomed it."))
    assert set(d) == {"a", "u", "b"}
    d.add(_copy("c", 2.5, " It opens soon."))
    assert set(d) == {"b", "c"}


def test_a_batch_lets_articles_out_once_it_is_done() -> None:
    d = Deduplicator(window=Window(articles=3))
    verdicts = d.add_many([_copy(f"s{n}", n, f" Note {n}.") for n in range(6)])
    assert len(verdicts) == 6 and len(d) == 3
    assert groups_of(d.clusters()) == {frozenset(d)}


def test_a_window_larger_than_the_stream_changes_no_answer() -> None:
    seeds = load_seeds()
    plain, windowed = Deduplicator(), Deduplicator(window=Window(days=36_500, articles=len(seeds)))
    for article in seeds:
        a, b = plain.add(article), windowed.add(article)
        assert a.to_dict() == b.to_dict()


def test_memory_is_bounded_by_the_window() -> None:
    d = Deduplicator(window=Window(articles=5))
    for n in range(40):
        d.add(_copy(f"a{n}", n / 10, f" Item {n}.") if n % 2 else Article(id=f"a{n}", text=f"{OTHER} Item {n}."))
    replica = d._replica
    assert len(replica.entries) == 5 and len(d._retention) == 5
    assert set(d._pairs.edges) <= set(replica.entries) and set(d._groups.cluster_ids) <= set(replica.entries)
    assert len(replica.index.documents) == 5 and len(replica.boilerplate._seen) == 5


def _day_of_copies(d: Deduplicator, count: int) -> None:
    """``count`` copies of one story and as many other bulletins, all within day 0."""
    for n in range(count):
        d.add(_copy(f"s{n}", n / (4 * count), f" Update {n}."))
        d.add(Article(id=f"o{n}", text=f"{OTHER} Bulletin {n}.", published_at=_at(n / (4 * count) + 0.25)))


def test_articles_that_leave_together_go_out_of_the_counts_a_few_an_add() -> None:
    from dedup.runners.stream.replica import RELEASED

    d = Deduplicator(window=Window(days=2))
    _day_of_copies(d, 6)
    seen = d._replica.boilerplate._seen
    # the clock jumps five days: the twelve articles leave the window at once
    late = d.add(_copy("late", 5, " It opens soon."))
    assert not late.is_copy and late.cluster.member_ids == ("late",) and set(d) == {"late"}
    assert len(d._replica.leaving) == 12 - RELEASED and len(seen) == 1 + 12 - RELEASED
    # they are no candidates while their counts go, a few an add
    verdict = d.add(_copy("later", 5.5, " Doctors are hired."))
    assert verdict.copy_of == ("late",) and verdict.cluster.member_ids == ("late", "later")
    assert len(d._replica.leaving) == 12 - 2 * RELEASED
    for n in range(3):
        d.add(Article(id=f"x{n}", text=f"{OTHER} Roads reopened {n}.", published_at=_at(6)))
    assert not d._replica.leaving and seen == set(d)
    documents = d._replica.index.documents
    assert len(documents) == len(d) and all(a in documents for a in d)


def test_an_id_added_again_while_its_counts_go_is_counted_once() -> None:
    d = Deduplicator(window=Window(days=2))
    _day_of_copies(d, 6)
    d.add(Article(id="x", text=OTHER, published_at=_at(5)))
    assert "s5" in d._replica.leaving  # left last: counted still
    again = d.add(_copy("s5", 5.5, " Added again."))
    assert not again.is_copy and "s5" not in d._replica.leaving
    assert d._replica.sentences("s5")[0].tolist() == d._replica.entries["s5"].fingerprints.tolist()
    d.remove("s5")
    assert "s5" not in d._replica.boilerplate._seen


def test_an_article_removed_while_its_counts_go_is_read_before_it_is_deleted(tmp_path, monkeypatch) -> None:
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", 0)  # every analysis read back from the file
    with Deduplicator.open(tmp_path / "i.sqlite", window=Window(days=2)) as d:
        _day_of_copies(d, 6)
        d.add(Article(id="x", text=OTHER, published_at=_at(5)))
        assert "s5" in d._replica.leaving
        d.remove("s5")
        assert "s5" not in d._replica.leaving and "s5" not in d._replica.boilerplate._seen
        for n in range(4):
            d.add(Article(id=f"y{n}", text=f"{OTHER} Roads reopened {n}.", published_at=_at(5.5)))
        assert not d._replica.leaving
        with pytest.raises(dedup.UnknownArticleError):
            d.get("s5")


def test_copies_are_found_while_many_copies_of_their_story_leave() -> None:
    # more copies leave at once than a bucket proposes (twice max_compared): they leave the LSH
    # index at once, so that the copies that come next find the ones still in the window
    d = Deduplicator(window=Window(days=2))
    for n in range(120):
        d.add(Article(id=f"s{n:03d}", text=STORY, published_at=_at(n / 1200)))
    d.add(Article(id="late", text=STORY, published_at=_at(5)))
    assert len(d._replica.leaving) > 100
    assert d.add(Article(id="later", text=STORY, published_at=_at(5.1))).copy_of == ("late",)


# -- with a file ---------------------------------------------------------------------------------


def test_the_file_keeps_what_left_and_refuses_it_again(tmp_path) -> None:
    path = tmp_path / "index.db"
    with Deduplicator.open(path, window=Window(days=2)) as d:
        d.add(_copy("a", 0))
        d.add(_copy("b", 1, " Officials welcomed it."))
        d.add(Article(id="x", text=OTHER, published_at=_at(5)))
        assert set(d) == {"x"}
        assert d.get("a").text == STORY  # read from the file
        with pytest.raises(dedup.UnknownArticleError, match="left this deduplicator's window"):
            d.cluster_of("a")
        with pytest.raises(dedup.DuplicateIdError, match="with a different text and has left the window") as refused:
            d.add(_copy("a", 6, " A later version."))
        assert not isinstance(refused.value, dedup.LeftWindowError)
        # the same article again (a crawler replaying what it fetched): refused as such
        with pytest.raises(dedup.LeftWindowError, match=r"with this text and has left the window.*dedup index get"):
            d.add(_copy("a", 0))
        with pytest.raises(dedup.UnknownArticleError):
            d.get("never")
    with Deduplicator.open(path) as whole:  # without a window: the whole file
        assert groups_of(whole.clusters()) == {frozenset({"a", "b"}), frozenset({"x"})}


def test_reopening_tells_how_many_articles_it_has_read_back(tmp_path) -> None:
    """``progress`` follows the articles read back from the file (the window's, or all of them
    without one), and is not called when the saved state is read."""
    path = tmp_path / "index.db"
    with Deduplicator.open(path, window=Window(articles=3)) as d:
        for n, article in enumerate(load_seeds()):
            d.add(Article(id=article.id, text=article.text, published_at=_at(n)))
    calls: list[tuple[int, int | None]] = []
    with Deduplicator.open(path, window=Window(articles=3), progress=lambda *a: calls.append(a)) as d:
        assert calls == [] and len(d) == 3  # from the state saved beside it
    Path(f"{path}.state").unlink()
    with Deduplicator.open(path, window=Window(articles=3), progress=lambda *a: calls.append(a)):
        assert calls == [(1, 3), (2, 3), (3, 3)]
    calls.clear()
    with Deduplicator.open(path, read_only=True, progress=lambda *a: calls.append(a)):  # the whole file
        assert calls == [(n, 5) for n in range(1, 6)]
    with pytest.raises(dedup.InputError, match=r"progress must be a function called as progress\(done, total\)"):
        Deduplicator.open(path, progress=3)  # type: ignore[arg-type]


@settings(max_examples=15, deadline=None)
@given(
    days=st.lists(st.one_of(st.none(), st.floats(0, 20)), min_size=1, max_size=12),
    window=_windows,
)
def test_reopening_reads_exactly_the_window(tmp_path_factory, days, window) -> None:
    path = tmp_path_factory.mktemp("w") / "index.db"
    with Deduplicator.open(path, window=window) as d:
        for n, day in enumerate(days):
            text = f"{STORY} Note {n}." if n % 3 else f"{OTHER} Note {n}."
            d.add(Article(id=f"a{n}", text=text, published_at=None if day is None else _at(day)))
        held, clusters = set(d), groups_of(d.clusters())
    with Deduplicator.open(path, window=window) as again:
        assert set(again) == held
        assert groups_of(again.clusters()) == clusters


def test_reopening_with_a_window_reads_only_its_articles(tmp_path, monkeypatch) -> None:
    path = tmp_path / "index.db"
    with Deduplicator.open(path) as d:
        for n in range(12):
            d.add(Article(id=f"a{n}", text=f"{OTHER} Note {n}.", published_at=_at(n)))
    read: list[str] = []
    from dedup.stores import sqlite as store_module

    unpack = store_module.unpack_arrays
    monkeypatch.setattr(
        store_module, "unpack_arrays", lambda blob, *, where: read.append(where) or unpack(blob, where=where)
    )
    with Deduplicator.open(path, window=Window(days=3)) as d:
        assert set(d) == {"a8", "a9", "a10", "a11"}
    assert len(read) == 4


def test_a_damaged_time_in_the_file_is_reported(tmp_path) -> None:
    path = tmp_path / "index.db"
    with Deduplicator.open(path) as d:
        d.add(_copy("a", 0))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE articles SET published_at = 'soon' WHERE id = 'a'")
    with pytest.raises(dedup.StoreCorruptError, match="'soon'"):
        Deduplicator.open(path, window=Window(days=1))


def test_the_stream_command_takes_a_window(tmp_path, capsys) -> None:
    import json

    from dedup.fronts.cli import main

    lines = tmp_path / "in.jsonl"
    rows = [
        {"id": "a", "text": STORY, "published_at": _at(0).isoformat()},
        {"id": "b", "text": STORY, "published_at": _at(9).isoformat()},
    ]
    lines.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["stream", str(lines), "--window-days", "7"]) == 0
    assert [json.loads(x)["is_copy"] for x in capsys.readouterr().out.splitlines()] == [False, False]
    assert main(["stream", str(lines), "--window-days", "10"]) == 0
    assert [json.loads(x)["is_copy"] for x in capsys.readouterr().out.splitlines()] == [False, True]
    assert main(["stream", str(lines), "--window-articles", "0"]) == 2
    assert "Window.articles" in capsys.readouterr().err


def test_a_shared_index_keeps_each_worker_to_its_window(redis_url: str) -> None:
    url = f"{redis_url}?namespace=window"
    first = Deduplicator.open(url, window=Window(articles=2))
    second = Deduplicator.open(url, window=Window(articles=3))
    try:
        for n in range(4):
            first.add(Article(id=f"n{n}", text=f"{OTHER} Update number {n} of the day."))
        assert list(first) == ["n2", "n3"]
        assert second.add(Article(id="s", text=f"{STORY} Late news.")).is_copy is False  # catches up first
        assert list(second) == ["n2", "n3", "s"]
        assert second.get("n0").text.endswith("Update number 0 of the day.")  # from the server
        with pytest.raises(dedup.DuplicateIdError, match="left the window"):
            second.add(Article(id="n1", text=f"{OTHER} Update number 1 of the day."))
    finally:
        first.close()
        second.close()


def test_an_indexed_article_keeps_no_passage_signatures() -> None:
    d = Deduplicator()
    d.add(_copy("a", 0))
    kept = d._replica.entries["a"].prepared
    assert kept.passage_signatures.size == 0
    # its document signature owns its memory: no view keeps the passage signatures it was made with
    assert kept.signature.base is None and kept.signature.nbytes == 4 * d.config.minhash.num_perm


# -- cases found by probing: ids, ingest numbers, earliest sources --------------------------------

UNRELATED = (
    "The national football league table changed again this weekend after the capital's club lost at home "
    "while the coastal team won three games in a row, scoring eleven goals in front of record crowds."
)


def test_a_cluster_split_after_its_first_member_left_gives_its_id_to_one_part() -> None:
    d = Deduplicator(window=Window(articles=3))
    d.add(Article(id="a", text=f"{STORY} {OTHER}"))  # carries both stories: it links them
    d.add(Article(id="b", text=STORY))
    whole = d.add(Article(id="c", text=OTHER)).cluster
    assert whole.member_ids == ("a", "b", "c")
    d.add(Article(id="z", text=UNRELATED))  # a leaves: b and c are no copies of each other
    ids = {c.member_ids: c.id for c in d.clusters()}
    assert set(ids) == {("b",), ("c",), ("z",)} and len(set(ids.values())) == 3
    assert ids[("b",)] == whole.id  # b was indexed first among those left


def test_an_id_indexed_again_after_it_left_gets_a_cluster_id_of_its_own() -> None:
    d = Deduplicator(window=Window(articles=2))  # in memory: nothing refuses the id again
    first = d.add(_copy("a", None))
    d.add(_copy("b", None, " Officials welcomed it."))
    d.add(Article(id="x", text=OTHER))  # a leaves; b keeps a's cluster id
    again = d.add(Article(id="a", text=UNRELATED))
    ids = [c.id for c in d.clusters()]
    assert first.cluster.id in ids and again.cluster.id != first.cluster.id and len(set(ids)) == len(ids)


def test_reopening_keeps_the_ids_passed_on_and_the_ingest_numbers(tmp_path) -> None:
    path = tmp_path / "index.db"
    with Deduplicator.open(path, window=Window(days=7)) as d:
        first = d.add(_copy("a", 0))
        d.add(_copy("b", 5, " Officials welcomed it."))
        d.add(Article(id="x", text=OTHER, published_at=_at(8)))  # a leaves, b keeps its cluster id
        d.add(_copy("late", 0.5, " An old page crawled late."))  # leaves at once: its number is taken
        held = set(d)
    with Deduplicator.open(path, window=Window(days=7)) as d:
        assert set(d) == held == {"b", "x"}  # what the stream held, read again
        assert d.cluster_of("b").id == first.cluster.id
        verdict = d.add(_copy("c", 9, " It opens soon."))  # a new ingest number, not one of the file's
        assert verdict.copy_of == ("b",) and verdict.cluster.id == first.cluster.id
        assert d.seq_of("c") == 4


def test_the_earliest_source_in_view_is_the_same_whether_or_not_it_was_asked_for() -> None:
    answers = []
    for look in (False, True):
        d = Deduplicator(window=Window(days=7))
        d.add(_copy("a", 0))
        d.add(_copy("b", 5, " Officials welcomed it."))
        d.add(Article(id="x", text=OTHER, published_at=_at(8)))  # a leaves: b is the earliest in view
        if look:
            d.cluster_of("b")
        v = d.add(_copy("c", 4, " It opens soon."))  # earlier than b: a real change
        answers.append((v.cluster.earliest, v.earliest_changed, v.previous_earliest))
    assert answers[0] == answers[1] == ("c", True, "b")


def test_a_verdict_leaves_out_the_members_its_article_pushed_out() -> None:
    d = Deduplicator(window=Window(days=7))
    d.add(_copy("a", 0))
    d.add(_copy("b", 5, " Officials welcomed it."))
    verdict = d.add(_copy("c", 8, " It opens soon."))  # a is now 8 days older than the clock
    assert verdict.cluster.member_ids == ("b", "c") == d.cluster_of("c").member_ids
    assert verdict.cluster.earliest == "b" and not verdict.earliest_changed


def test_an_article_that_left_can_be_removed_and_added_again(tmp_path) -> None:
    with Deduplicator.open(tmp_path / "index.db", window=Window(articles=1)) as d:
        d.add(_copy("a", 0))
        d.add(Article(id="x", text=OTHER))
        d.remove("a")
        with pytest.raises(dedup.UnknownArticleError):
            d.get("a")
        assert d.add(_copy("a", 1)).article_id == "a" and list(d) == ["a"]


def test_workers_of_a_shared_index_pass_cluster_ids_on_alike(redis_url: str) -> None:
    url = f"{redis_url}?namespace=window-ids"
    with Deduplicator.open(url, window=Window(articles=2)) as first:
        kept = first.add(_copy("a", None)).cluster.id
        first.add(_copy("b", None, " Officials welcomed it."))
        first.add(Article(id="x", text=OTHER))  # a leaves: b keeps a's cluster id
        assert first.cluster_of("b").id == kept
        with Deduplicator.open(url, window=Window(articles=2)) as later:  # replays the log
            assert set(later) == {"b", "x"} and later.cluster_of("b").id == kept


def test_a_workers_batch_comes_after_the_articles_the_others_pushed_out(redis_url: str) -> None:
    """``add_many`` on one worker after another worker's adds moved the window: the batch is
    compared with the articles in the window, as one process's batch would be, not with those
    that left it while the worker had not caught up."""
    window = Window(articles=2)
    story = [_copy(name, None, extra) for name, extra in (("a", ""), ("b", " It was built fast."), ("c", " Doctors."))]
    late = _copy("d", None, " Nurses too.")
    one = Deduplicator(window=window)
    for article in story:
        one.add(article)
    (expected,) = one.add_many([late])
    url = f"{redis_url}?namespace=window-batch"
    with Deduplicator.open(url, window=window) as here, Deduplicator.open(url, window=window) as there:
        for article in story:
            there.add(article)  # a leaves the window as c comes
        (got,) = here.add_many([late])
    assert got.to_dict() == expected.to_dict()
    assert set(got.copy_of) == {"b", "c"} and got.cluster.member_ids == ("b", "c", "d")


def test_a_workers_batch_lets_articles_leave_at_its_end_for_the_other_workers_too(redis_url: str) -> None:
    """A batch lets no article leave the window until it is done: a copy in it is compared with
    the story's first article, which leaves at the batch's end and passes its cluster id on. A
    worker that reads the batch from the log (catching up, or opened later) lets the articles
    leave at the same point, so it gives the id and the answers one process gives."""
    window = Window(articles=2)
    story = _copy("a", None)
    batch = [Article(id="m1", text=OTHER), Article(id="m2", text=THIRD), _copy("z", None, " Officials welcomed it.")]
    later = _copy("zz", None, " Officials welcomed it. More beds follow.")
    one = Deduplicator(window=window)
    kept = one.add(story).cluster.id
    one.add_many(batch)
    expected = one.add(later)
    url = f"{redis_url}?namespace=their-batch"
    with Deduplicator.open(url, window=window) as here, Deduplicator.open(url, window=window) as there:
        there.add(story)
        there.add_many(batch)
        with Deduplicator.open(url, window=window) as started_after:
            assert started_after.cluster_of("z").id == one.cluster_of("z").id
        got = here.add(later)
    assert got.to_dict() == expected.to_dict()
    assert expected.cluster.id == kept and "a" not in one


THIRD = (
    "The football federation named a new coach for the national team on Monday after a long search, "
    "and the coach said his first task would be the qualifiers in the spring. Fans gathered outside "
    "the federation's offices in the capital to welcome the decision with songs and flags."
)


@pytest.mark.parametrize(
    ("window", "late"),
    [(Window(articles=2), None), (Window(days=1), 3)],
    ids=["by-count", "by-time"],
)
def test_an_article_added_and_removed_before_a_worker_read_it_moved_its_window(
    redis_url: str, window: Window, late: float | None
) -> None:
    """An article another worker added and removed before this one caught up came and went all the
    same: the articles it pushed out of the window (by count, or by the clock its time moved) are
    out here too, as in one process, and a copy of one of them finds it gone."""
    steps = [
        _copy("a", 0),
        Article(id="x", text=OTHER, published_at=_at(0)),
        Article(id="z", text=THIRD, published_at=None if late is None else _at(late)),
        "z",
    ]
    copy = _copy("b", None, " Officials welcomed it.")
    one = Deduplicator(window=window)
    for step in steps:
        one.remove(step) if isinstance(step, str) else one.add(step)
    expected = one.add(copy)
    url = f"{redis_url}?namespace=passed-{window.articles}-{window.days}"
    with Deduplicator.open(url, window=window) as here, Deduplicator.open(url, window=window) as there:
        for step in steps:
            there.remove(step) if isinstance(step, str) else there.add(step)
        got = here.add(copy)
        with Deduplicator.open(url, window=window) as started_after:
            assert list(started_after) == list(here) == list(one)
    assert not expected.is_copy and "a" not in one
    assert got.to_dict() == expected.to_dict()


@pytest.mark.parametrize("written", [None, "soon", 5], ids=["older-version", "damaged", "not-a-string"])
def test_a_log_entry_without_a_readable_time_counts_its_article_at_the_clock(redis_url: str, written) -> None:
    """A log whose additions do not give their time (written by an older version, or damaged): an
    article added and removed before a worker read it counts as undated where the log has its
    place (a late worker), or not at all (a worker catching up), and both read the rest."""
    import json

    import redis

    namespace = f"untimed-{written}"
    url = f"{redis_url}?namespace={namespace}"
    window = Window(articles=2)
    with Deduplicator.open(url, window=window) as here, Deduplicator.open(url, window=window) as there:
        for step in [_copy("a", 0), Article(id="x", text=OTHER), Article(id="z", text=THIRD), "z"]:
            there.remove(step) if isinstance(step, str) else there.add(step)
        with redis.Redis.from_url(redis_url) as client:
            for n, raw in enumerate(client.lrange(f"{namespace}:log", 0, -1)):
                record = json.loads(raw)
                if record["op"] == "add":
                    record.pop("published")
                    if written is not None:
                        record["published"] = written
                    client.lset(f"{namespace}:log", n, json.dumps(record))
        here.sync()
        assert list(here) == ["a", "x"]
        with Deduplicator.open(url, window=window) as late:
            assert list(late) == ["x"]


def test_a_removed_first_member_passes_no_id_on_even_after_a_reopen(tmp_path) -> None:
    path = tmp_path / "index.db"
    with Deduplicator.open(path, window=Window(days=7)) as d:
        d.add(_copy("a", 0))
        d.add(_copy("b", 1, " Officials welcomed it."))
        d.remove("a")
        live = d.cluster_of("b").id
    with Deduplicator.open(path, window=Window(days=7)) as d:
        assert d.cluster_of("b").id == live == dedup.stages.provenance.cluster_id("b")


# -- an index file: memory keeps what candidate search needs, the analyses are read back ---------

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import generate  # noqa: E402

GENERATED = [Article(id=r["id"], text=r["text"], source=r.get("source")) for r in generate.generate(240, 11)]


def _dated(articles: list[Article], days: float) -> list[Article]:
    """The articles, each dated a little later than the one before, over ``days`` days."""
    step = days / max(1, len(articles) - 1)
    return [
        Article(id=a.id, text=a.text, source=a.source, url=a.url, title=a.title, published_at=_at(i * step))
        for i, a in enumerate(articles)
    ]


@pytest.mark.parametrize("kept", [1, 2048])
def test_a_file_index_reads_analyses_back_and_answers_as_one_in_memory(tmp_path, monkeypatch, kept) -> None:
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", kept)
    articles = _dated(GENERATED, days=12)
    window = Window(days=5)
    memory, filed = Deduplicator(window=window), Deduplicator.open(tmp_path / "i.sqlite", window=window)
    with filed:
        for n, article in enumerate(articles):
            assert filed.add(article, spans=True).to_dict() == memory.add(article, spans=True).to_dict()
            if n % 40 == 39:  # an operator's removal, read from the file before it goes
                gone = sorted(memory)[0]
                memory.remove(gone)
                filed.remove(gone)
        # the analyses are not held by the index's entries, only the last used few
        assert all(entry.prepared is None for entry in filed._replica.entries.values())
        assert len(filed._replica._recent) <= kept
        assert [c.to_dict() for c in filed.clusters()] == [c.to_dict() for c in memory.clusters()]
        some = sorted(memory)[:5]
        for a, b in itertools.pairwise(some):
            assert filed.compare(a, b).to_dict() == memory.compare(a, b).to_dict()
            assert filed.get(a) == memory.get(a)
            assert filed.boilerplate_spans(a) == memory.boilerplate_spans(a)
        counts, reference = filed._replica.formula, memory._replica.formula
        assert counts is not None and reference is not None  # the articles that left are counted out alike
        assert (counts.table == reference.table).all() and (counts.repeated == reference.repeated).all()


def test_an_analysis_gone_from_the_file_is_an_error_that_says_so(tmp_path, monkeypatch) -> None:
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", 1)
    path = tmp_path / "i.sqlite"
    with Deduplicator.open(path) as d:
        d.add(_copy("a", 0))
        d.add(Article(id="b", text=OTHER))
        with sqlite3.connect(path) as db:  # behind the index's back
            db.execute("DELETE FROM articles WHERE id = 'a'")
        with pytest.raises(dedup.StoreCorruptError, match=r"'a' is indexed but .* no longer holds it"):
            d.add(_copy("c", 0, " The minister spoke."))


def test_a_worker_takes_out_what_another_removed_once_its_analysis_is_let_go(redis_url, monkeypatch) -> None:
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", 1)
    url = f"{redis_url}?namespace=letgo"
    articles = GENERATED[:60]
    first, second, memory = Deduplicator.open(url), Deduplicator.open(url), Deduplicator()
    try:
        for a in articles:
            assert first.add(a).to_dict() == memory.add(a).to_dict()
        second.sync()
        assert all(e.prepared is None for e in first._replica.entries.values())
        for gone in [a.id for a in articles[::7]]:
            second.remove(gone)  # the shared index no longer holds it when the first worker hears of it
            memory.remove(gone)
        first.sync()
        counts, reference = first._replica.formula, memory._replica.formula
        assert counts is not None and reference is not None
        assert (counts.table == reference.table).all() and (counts.repeated == reference.repeated).all()
        later = GENERATED[60:90]
        for a in later:
            assert first.add(a).to_dict() == memory.add(a).to_dict()
        assert [c.to_dict() for c in first.clusters()] == [c.to_dict() for c in memory.clusters()]
    finally:
        first.close()
        second.close()


def test_a_worker_behind_never_answers_with_an_article_added_again_under_an_id_it_holds(redis_url, monkeypatch) -> None:
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", 1)
    url = f"{redis_url}?namespace=again"
    first, second = Deduplicator.open(url), Deduplicator.open(url)
    try:
        first.add(_copy("x", 0))
        first.add(Article(id="y", text=OTHER))
        second.sync()
        second.get("y")  # the one analysis kept is y's: x is read back from Redis when asked for
        first.remove("x")
        first.add(Article(id="x", text=UNRELATED))
        with pytest.raises(dedup.UnknownArticleError, match="another worker; sync"):
            second.get("x")  # not the other text now under its id
        second.sync()
        assert second.get("x").text == UNRELATED
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("on_file", [False, True])
def test_spans_are_given_when_the_article_pushes_its_match_out(tmp_path, monkeypatch, on_file) -> None:
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", 1)  # the match's text is read back from the file
    d = Deduplicator.open(tmp_path / "i.sqlite", window=Window(articles=1)) if on_file else None
    d = d or Deduplicator(window=Window(articles=1))
    with d:
        d.add(_copy("a", 0))
        verdict = d.add(_copy("b", 1, " It opens soon."), spans=True)
    assert verdict.is_copy and verdict.cluster.member_ids == ("b",)
    (match,) = verdict.matches
    assert match.shared_passages and all(p.has_spans for p in match.shared_passages)
    passage = match.shared_passages[0]
    assert passage.a_text and passage.a_text in STORY and passage.b_text in STORY


def test_a_failed_read_as_articles_leave_takes_their_counts_out_with_the_next_add(tmp_path, monkeypatch) -> None:
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", 1)
    with Deduplicator.open(tmp_path / "i.sqlite", window=Window(articles=2)) as d:
        d.add(_copy("a", 0))
        d.add(_copy("b", 1, " Officials welcomed it."))
        read, failed = d._replica._read_counted, []

        def failing(article_id: str):  # the disk fails once, as "a" leaves the window
            if article_id == "a" and not failed:
                failed.append(article_id)
                raise dedup.StoreError("disk I/O error")
            return read(article_id)

        monkeypatch.setattr(d._replica, "_read_counted", failing)
        with pytest.raises(dedup.StoreError, match="disk I/O error") as caught:
            d.add(Article(id="c", text=OTHER, published_at=_at(2)))
        assert "'c' was indexed and written" in "".join(caught.value.__notes__)
        # c is in and a is out of the window; a's sentences are still counted
        assert set(d) == {"b", "c"} and d.get("c").text == OTHER
        assert "a" in d._replica.boilerplate._seen
        verdict = d.add(_copy("d", 3, " It opens soon."))  # a is no candidate; its counts go now
        assert [m.b for m in verdict.matches] == ["b"]
        assert "a" not in d._replica.boilerplate._seen and not d._replica.leaving
        assert set(d) == {"c", "d"} and verdict.cluster.member_ids == ("d",)
        d.add(_copy("e", 4, " The minister spoke."))
        assert set(d) == {"d", "e"} and d.cluster_of("e").member_ids == ("d", "e")


@pytest.mark.parametrize(
    "damage, error",
    [("text = 'tampered'", "'a' fails its checksum"), ("text = CAST(x'ff41' AS TEXT)", "not UTF-8")],
    ids=["checksum", "not-utf8"],
)
def test_an_article_damaged_on_disk_as_it_leaves_is_let_go_and_the_stream_goes_on(
    damage, error, tmp_path, monkeypatch, caplog
) -> None:
    """Its row fails each time it is read back: the add that pushed it out and the adds after it
    answer as usual, its sentences go out of the boilerplate model, and an error names it (its
    shingles stay in the formula counts)."""
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", 1)
    path = tmp_path / "i.sqlite"
    with Deduplicator.open(path, window=Window(articles=2)) as d:
        d.add(_copy("a", 0))
        d.add(_copy("b", 1, " Officials welcomed it."))
        with sqlite3.connect(path) as db:
            db.execute(f"UPDATE articles SET {damage} WHERE id = 'a'")
        with caplog.at_level("ERROR", logger="dedup"):
            assert not d.add(Article(id="c", text=OTHER, published_at=_at(2))).is_copy
        (record,) = caplog.records
        assert "'a' is out of the index" in record.getMessage() and error in record.getMessage()
        assert "a" not in d._replica.boilerplate._seen and not d._replica.leaving
        assert [m.b for m in d.add(_copy("d", 3, " It opens soon.")).matches] == ["b"]
        assert set(d) == {"c", "d"}
        d.remove("a")  # the damaged row goes too
    with sqlite3.connect(path) as db:
        assert "a" not in {row[0] for row in db.execute("SELECT id FROM articles")}


def test_a_damaged_article_in_the_window_can_be_removed_and_its_copies_found_again(tmp_path, monkeypatch) -> None:
    """A damaged candidate makes the adds that compare it raise (nothing written); removing it
    lets them through."""
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", 1)
    path = tmp_path / "i.sqlite"
    with Deduplicator.open(path, window=Window(articles=5)) as d:
        d.add(_copy("a", 0))
        d.add(Article(id="z", text=OTHER, published_at=_at(0.5)))
        with sqlite3.connect(path) as db:
            db.execute("UPDATE articles SET title = 'changed' WHERE id = 'a'")
        with pytest.raises(dedup.StoreCorruptError, match="'a' fails its checksum"):
            d.add(_copy("b", 1, " Officials welcomed it."))
        assert "b" not in d
        d.remove("a")
        assert "a" not in d and not d.add(_copy("b", 1, " Officials welcomed it.")).is_copy
        assert d.add(_copy("c", 2, " It opens soon.")).copy_of == ("b",)
    with Deduplicator.open(path, window=Window(articles=5)) as again:
        assert set(again) == {"z", "b", "c"}


def _late_worker_log(url: str) -> list[str]:
    """A log with copies, removals and an id added again, written by one worker with a window of
    five articles; returns the ids that worker holds at the end."""
    with Deduplicator.open(url, window=Window(articles=5)) as first:
        for n in range(12):
            text = STORY + f" Update {n}." if n % 3 == 0 else f"{OTHER} Bulletin number {n} of the week."
            first.add(Article(id=f"n{n}", text=text, published_at=_at(n / 10)))
            if n == 4:
                first.remove("n2")
        first.add(Article(id="n2", text=f"{STORY} Added again.", published_at=_at(2)))
        first.add(_copy("c", 2.1, " The minister spoke."))
        return list(first)


def _count_reads(monkeypatch) -> list[int]:
    """The number of articles of each read of a Redis store from now on."""
    from dedup.stores import redis as redis_store

    reads: list[int] = []
    read_articles = redis_store.RedisStore._read_articles
    monkeypatch.setattr(
        redis_store.RedisStore,
        "_read_articles",
        lambda self, ids: (reads.append(len(ids)), read_articles(self, ids))[1],
    )
    return reads


def test_a_worker_that_starts_late_reads_only_its_window_and_answers_as_a_full_replay(
    redis_url: str, monkeypatch
) -> None:
    from dedup.runners.stream import sync

    url = f"{redis_url}?namespace=late-window"
    held = _late_worker_log(url)
    reads = _count_reads(monkeypatch)
    late = Deduplicator.open(url, window=Window(articles=5))
    assert sum(reads) == len(held) == 5  # the window's articles, each read once
    monkeypatch.setattr(sync, "load_shared", lambda *args: set())  # the whole log, as before
    full = Deduplicator.open(url, window=Window(articles=5))
    try:
        assert list(late) == list(full) == held
        assert groups_of(late.clusters()) == groups_of(full.clusters())
        assert {c.id for c in late.clusters()} == {c.id for c in full.clusters()}
        a, b = late._replica.formula, full._replica.formula
        assert a is not None and b is not None and (a.table == b.table).all()
        verdict = late.add(_copy("d", 2.2, " It opens soon."))
        full.sync()
        assert full.cluster_of("d") == verdict.cluster and list(full) == list(late)
    finally:
        late.close()
        full.close()


def test_a_worker_far_behind_reads_the_articles_a_chunk_at_a_time(redis_url: str, monkeypatch) -> None:
    from dedup.stores import redis as redis_store

    url = f"{redis_url}?namespace=chunks"
    with Deduplicator.open(url) as first:
        for n in range(9):
            first.add(Article(id=f"n{n}", text=f"{STORY} Update {n}." if n % 2 else f"{OTHER} Number {n}."))
        first.remove("n3")
        expected = groups_of(first.clusters())
    monkeypatch.setattr(redis_store, "READ_AT_ONCE", 2)
    reads = _count_reads(monkeypatch)
    with Deduplicator.open(url) as late:
        assert groups_of(late.clusters()) == expected and "n3" not in late
    assert max(reads) <= 2 and sum(reads) == 9


def test_an_article_removed_while_a_worker_starts_is_not_held_by_its_window(redis_url: str, monkeypatch) -> None:
    from dedup.stores import redis as redis_store

    url = f"{redis_url}?namespace=start-race"
    window = Window(articles=3)
    writer = Deduplicator.open(url, window=window)
    texts = [f"{OTHER} Bulletin {n} of the week." for n in range(7)]
    for n in range(3):
        writer.add(Article(id=f"a{n}", text=texts[n]))
    peek = redis_store.RedisStore.peek

    def peek_then_another_worker_removes(self):  # between the log's times and the articles' reads
        entries = peek(self)
        writer.remove("a1")
        return entries

    monkeypatch.setattr(redis_store.RedisStore, "peek", peek_then_another_worker_removes)
    late = Deduplicator.open(url, window=window)
    monkeypatch.setattr(redis_store.RedisStore, "peek", peek)
    try:
        assert list(late) == ["a0", "a2"] and "a1" not in late._retention
        for n in range(3, 7):  # the articles that came before leave one by one, with no error
            late.add(Article(id=f"n{n}", text=texts[n]))
        assert list(late) == ["n4", "n5", "n6"]
    finally:
        late.close()
        writer.close()


def test_an_id_added_again_counts_at_each_place_in_the_log_for_a_late_worker(redis_url: str) -> None:
    """An id removed and added again: for a worker that starts later, or one that catches up
    later, its first addition counts at its place in the log with its own time, not with the time
    of the article added again (which would move the clock early, and keep an undated article
    added in between)."""
    url = f"{redis_url}?namespace=added-again"
    window = Window(days=1)
    steps = [
        Article(id="j", text=STORY, published_at=_at(3)),
        Article(id="k", text=OTHER),  # undated: as old as the clock, day 3
        "j",
        Article(id="j", text=f"{STORY} Updated.", published_at=_at(7)),  # the clock moves to day 7: k leaves
    ]
    first, reference = Deduplicator.open(url, window=window), Deduplicator(window=window)
    behind = Deduplicator.open(url, window=window)  # catches up after all the steps
    for d in (first, reference):
        for step in steps:
            d.remove(step) if isinstance(step, str) else d.add(step)
    try:
        with Deduplicator.open(url, window=window) as late:
            assert list(late) == list(first) == list(reference) == ["j"]
        behind.sync()
        assert list(behind) == ["j"]
    finally:
        first.close()
        behind.close()


def test_a_catch_up_that_fails_half_way_leaves_no_stale_groups(redis_url: str, monkeypatch) -> None:
    from dedup.config import ClusterConfig, DedupConfig
    from dedup.stores import redis as redis_store

    config = DedupConfig(cluster=ClusterConfig(max_exact_size=2))  # a story of three copies keeps its groups
    url = f"{redis_url}?namespace=half-way"
    copies = [_copy(f"x{n}", None, f" Update {n} of the story.") for n in range(5)]
    with Deduplicator.open(url, config) as a, Deduplicator.open(url, config) as b:
        for art in copies[:3]:
            a.add(art)
        assert len(a.cluster_of("x0")) == 3
        for art in copies[3:]:
            b.add(art)
        monkeypatch.setattr(redis_store, "READ_AT_ONCE", 1)
        call, reads = redis_store.RedisStore.call, []

        def drops_on_the_second_read(self, what, fn):
            if what == "reading articles":
                reads.append(what)
                if len(reads) == 2:
                    raise dedup.StoreError("connection reset (injected)")
            return call(self, what, fn)

        monkeypatch.setattr(redis_store.RedisStore, "call", drops_on_the_second_read)
        with pytest.raises(dedup.StoreError, match="injected"):
            a.sync()
        assert list(a) == ["x0", "x1", "x2", "x3"]  # the first entry applied
        assert a.cluster_of("x0").member_ids == a.cluster_of("x3").member_ids == ("x0", "x1", "x2", "x3")


def test_a_late_worker_keeps_the_cluster_ids_a_merge_gave(redis_url: str) -> None:
    """A merge gives the members of the merged clusters a new cluster id; Redis records it on each
    of them, so that a worker starting later passes the id of a member that left on as the writer
    did."""
    third = "The city council approved a new budget for public parks, libraries and the harbour front on Monday night."
    steps = [
        Article(id="a", text=STORY),
        Article(id="b", text=OTHER),
        Article(id="m", text=f"{STORY} {OTHER}"),  # a copy of both: a, b and m become one cluster
        Article(id="x", text=third),  # a leaves the window
    ]
    url = f"{redis_url}?namespace=merged-ids"
    window = Window(articles=3)
    reference = Deduplicator(window=window)
    with Deduplicator.open(url, window=window) as writer:
        for art in steps:
            reference.add(art)
            writer.add(art)
        expected = [(c.id, c.member_ids) for c in reference.clusters()]
        assert [(c.id, c.member_ids) for c in writer.clusters()] == expected
        assert ("b", "m") in [members for _, members in expected]
        with Deduplicator.open(url, window=window) as late:
            assert [(c.id, c.member_ids) for c in late.clusters()] == expected


@pytest.mark.parametrize("window", [None, Window(days=1)])
@pytest.mark.parametrize(("field", "value"), [("published_at", "soon"), ("seq", "x")])
def test_a_damaged_article_in_redis_is_reported_as_damage(redis_url: str, field, value, window) -> None:
    import redis

    namespace = f"damaged-{field}-{window is None}"
    url = f"{redis_url}?namespace={namespace}"
    with Deduplicator.open(url) as d:
        d.add(_copy("a", 0))
    with redis.Redis.from_url(redis_url) as client:
        client.hset(f"{namespace}:article:a", field, value)
        connected = len(client.client_list())
        with pytest.raises(dedup.StoreCorruptError, match=r"article 'a' is damaged in Redis .*restore"):
            Deduplicator.open(url, window=window)
        assert len(client.client_list()) == connected  # the failed opening keeps no connection


def test_spans_that_cannot_be_read_say_the_article_was_added(tmp_path, monkeypatch) -> None:
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", 1)
    with Deduplicator.open(tmp_path / "i.sqlite") as d:
        d.add(_copy("a", 0))
        d.add(Article(id="z", text=OTHER))
        read, reads = d._replica._read, []

        def failing(article_id: str):  # the comparison reads "a"; reading it again for the spans fails
            reads.append(article_id)
            if reads.count("a") == 2:
                raise dedup.StoreError("disk I/O error")
            return read(article_id)

        monkeypatch.setattr(d._replica, "_read", failing)
        with pytest.raises(dedup.StoreError, match="disk I/O error") as caught:
            d.add(_copy("b", 0, " It opens soon."), spans=True)
        assert "'b' was indexed and written" in "".join(caught.value.__notes__)
        monkeypatch.setattr(d._replica, "_read", read)
        assert d.add(_copy("b", 0, " It opens soon.")).already_indexed


def test_a_failed_read_before_a_batch_is_counted_leaves_the_counts_and_the_window_right(tmp_path, monkeypatch) -> None:
    # add_many takes an id of the batch still leaving out of the counts before it counts the batch;
    # when that read fails, nothing of the batch is counted, so nothing of it is taken out, and
    # the window goes on
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", 0)
    with Deduplicator.open(tmp_path / "i.sqlite", window=Window(days=2)) as d:
        for n in range(12):
            d.add(Article(id=f"s{n}", text=f"{STORY} Update {n}.", published_at=_at(n / 24)))
        d.add(Article(id="x", text=OTHER, published_at=_at(5)))
        d.add(Article(id="z", text=OTHER + " Roads reopened.", published_at=_at(5)))
        victim = next(iter(d._replica.leaving))
        read = d._replica._read_counted

        def failing(article_id: str):
            if article_id == victim:
                raise dedup.StoreError("disk I/O error")
            return read(article_id)

        monkeypatch.setattr(d._replica, "_read_counted", failing)
        with pytest.raises(dedup.StoreError, match="disk I/O error"):
            d.add_many([Article(id=victim, text=OTHER + " Schools stay open.", published_at=_at(5.1))])
        monkeypatch.setattr(d._replica, "_read_counted", read)
        assert not d._batch
        d.add(Article(id="late", text=f"{OTHER} Bulletin.", published_at=_at(20)))
        d.add(Article(id="later", text=f"{OTHER} Bulletin two.", published_at=_at(20)))
        assert set(d) == {"late", "later"} and not d._replica.leaving
        assert d._replica.boilerplate._seen == {"late", "later"}
