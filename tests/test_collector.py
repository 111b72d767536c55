"""The garbage collector policy for long-running streams (``dedup.short_gc_pauses``)."""

import contextlib
import gc
import sys
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import dedup
from dedup import Article, Deduplicator, Window

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import generate

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class _Held:
    """An object the collector tracks (an instance of a class of our own)."""


@pytest.fixture
def unfrozen():
    """Each test starts, and must end, with nothing frozen and the collector's callbacks as they were."""
    assert gc.get_freeze_count() == 0
    callbacks = list(gc.callbacks)
    yield
    assert gc.callbacks == callbacks
    assert gc.get_freeze_count() == 0


def test_survivors_of_each_full_collection_are_left_out_of_the_next(unfrozen) -> None:
    before = [_Held() for _ in range(1000)]
    with dedup.short_gc_pauses():
        # what was alive on entering is frozen: no collection walks it any more
        assert gc.get_freeze_count() >= len(before)
        assert not any(isinstance(o, _Held) for o in gc.get_objects())
        made = [_Held() for _ in range(5000)]
        assert sum(isinstance(o, _Held) for o in gc.get_objects()) == len(made)
        gc.collect()  # a full collection: what it leaves alive is frozen once it is over
        assert not any(isinstance(o, _Held) for o in gc.get_objects())
        frozen = gc.get_freeze_count()
        del made  # frozen objects are still freed when nothing refers to them any more
        assert gc.get_freeze_count() <= frozen - 5000
    # on leaving, the objects are put back where the collector walks them
    assert sum(isinstance(o, _Held) for o in gc.get_objects()) == len(before)


def test_reference_cycles_made_inside_the_block_are_still_collected(unfrozen) -> None:
    with dedup.short_gc_pauses():
        a, b = _Held(), _Held()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        gc.collect(1)
        gc.collect(1)  # old enough to wait for a full collection
        gone = weakref.ref(a)
        del a, b
        gc.collect()  # a full collection frees the cycle before it freezes what is left
        assert gone() is None


def test_a_process_that_keeps_objects_frozen_is_left_as_it_is(unfrozen) -> None:
    kept = [_Held() for _ in range(100)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with dedup.short_gc_pauses():
            made = [_Held() for _ in range(100)]
            gc.collect()
            assert sum(isinstance(o, _Held) for o in gc.get_objects()) == len(made)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
    assert sum(isinstance(o, _Held) for o in gc.get_objects()) == len(kept) + len(made)


def test_an_error_inside_puts_the_objects_back(unfrozen) -> None:
    with pytest.raises(KeyError), dedup.short_gc_pauses():
        assert gc.get_freeze_count() > 0
        raise KeyError("x")


def _stream_articles() -> list[Article]:
    """A stream with what makes and drops records: one story copied 150 times (large clusters,
    earliest changes), other stories, repeats, all dated over four days."""
    records = generate.syndicated(150, 3) + generate.generate(300, 5)
    step = 4 * 86_400 / len(records)
    return [
        Article(
            id=r["id"], text=r["text"], source=r.get("source"),
            published_at=(T0 + timedelta(seconds=((i * 7919) % len(records)) * step)).isoformat(),
        )
        for i, r in enumerate(records)
    ]  # fmt: skip


# articles a stream refuses: empty, blank, no line long enough once cleaned, too long
UNUSABLE = [
    Article(id="empty", text=""),
    Article(id="blank", text="  \n\t "),
    Article(id="short", text="Share\nTweet\nMore\n"),
    Article(id="long", text="word " * 250_000),
]


def _run(d: Deduplicator, articles: list[Article]) -> None:
    for n, article in enumerate(articles, 1):
        d.add(article)
        with contextlib.suppress(dedup.LeftWindowError):  # (an article dated before the window)
            d.add(article)  # again: already indexed
        if n % 50 == 0:
            d.remove(sorted(d)[0])
        if n % 97 == 0:
            with pytest.raises(dedup.DuplicateIdError):
                d.add(Article(id=sorted(d)[-1], text="another text of the same id " * 5))
        if n % 101 == 0:
            for bad in UNUSABLE:
                with pytest.raises(dedup.InputError):
                    d.add(bad)
    # a batch whose last article is unusable, skipped
    d.add_many(UNUSABLE[:2], errors="skip")


@pytest.mark.parametrize("kept", ["memory", "file", "redis"])
def test_a_stream_leaves_no_reference_cycles_behind(tmp_path, request, kept) -> None:
    """Objects frozen while alive are never collected if they end in a reference cycle: the
    stream's records, as articles come, merge, leave the window and are removed, make none (in
    memory, on a file, in Redis)."""
    articles, window = _stream_articles(), Window(days=1)
    with Deduplicator(window=window) as warm:  # every kernel the stream uses loaded, and let go
        _run(warm, articles)
    del warm
    if kept == "memory":
        d = Deduplicator(window=window)
    elif kept == "file":
        d = Deduplicator.open(tmp_path / "i.sqlite", window=window)
    else:
        d = Deduplicator.open(f"{request.getfixturevalue('redis_url')}?namespace=cycles", window=window)
    gc.collect()  # (what opening made and let go, a Redis client's set-up)
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        with d:
            _run(d, articles)
            assert len(d) < len(articles) / 2  # articles left the window
            gc.collect()
            assert [type(o).__name__ for o in gc.garbage] == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


@pytest.mark.skipif(
    sys.version_info >= (3, 14), reason="CPython 3.14's incremental collector tracks every dict (see dedup._collector)"
)
def test_the_records_kept_per_article_and_pair_stay_out_of_the_collectors_walks() -> None:
    """A full collection walks every tracked container with all it holds: the dicts the stream
    keeps an entry in per article or per comparison (the pair cache's comparisons and each
    article's pairs and copies, the window's seq and time of each article) must stay untracked as
    articles come, or each full collection's pause grows with the window (a story copied
    thousands of times makes millions of comparisons)."""
    records = generate.syndicated(120, 4)
    story = [
        Article(id=r["id"], text=r["text"], source=r.get("source"), published_at=r.get("published_at")) for r in records
    ]
    d = Deduplicator(window=Window(days=30))
    for article in story[:80]:
        d.add(article)
    gc.collect()  # (untracks the dicts that hold only strings, bytes and numbers)
    for article in story[80:]:
        d.add(article)
    pairs, retention = d._pairs, d._retention
    assert len(pairs._matches) > 2 * len(story) and len(retention) == len(story)
    held = {
        "comparisons": pairs._matches, "unsaved": pairs._unsaved, "flips": pairs._flips,
        "window seqs": retention._held, "window times": retention._time,
    }  # fmt: skip
    held.update({f"pairs of {a}": p for a, p in pairs._pairs_of.items()})
    held.update({f"copies of {a}": e for a, e in pairs.edges.items()})
    assert [name for name, held_dict in held.items() if gc.is_tracked(held_dict)] == []
