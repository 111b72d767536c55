"""A failed ``add`` changes nothing: faults injected at every stage of an addition leave the
deduplicator (and its file) answering exactly as one that never saw the failed call."""

from __future__ import annotations

import functools
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
from dedup._undo import Undo
from dedup.runners.stream import groups as stream_groups
from dedup.stages import pairs, prepare

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import generate

RECORDS = generate.generate(150, 5)
ARTICLES = [
    dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at"), source=r.get("source"))
    for r in RECORDS
]
# The failed article is the original of a story whose copies are indexed before it: it would join
# their cluster, become its earliest source and change boilerplate counts shared with them.
FAILED = next(a for a in ARTICLES if a.id == "g0000001-0")
BEFORE = [a for a in ARTICLES[:100] if a is not FAILED]
AFTER = [a for a in ARTICLES[100:] if a is not FAILED]


class Boom(Exception):
    """The injected fault."""


def boom(*args: Any, **kwargs: Any) -> Any:
    raise Boom


def after(real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, then the fault (the step's changes are made, the addition fails after them)."""

    def run(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise Boom

    return run


# Each stage of an addition, and how to make it fail (given the monkeypatch and the deduplicator).
STAGES: dict[str, Callable[[pytest.MonkeyPatch, dedup.Deduplicator], None]] = {
    "prepare": lambda mp, d: mp.setattr(prepare, "analyze_and_sign_many", boom),
    "candidates": lambda mp, d: mp.setattr(d._replica.index, "proposed", boom),
    "compare": lambda mp, d: mp.setattr(pairs, "compare", after(pairs.compare)),
    "grouping": lambda mp, d: mp.setattr(stream_groups, "groups_of", after(stream_groups.groups_of)),
    "cluster": lambda mp, d: mp.setattr(stream_groups, "build_cluster", boom),
    "verdict built": lambda mp, d: mp.setattr(d, "_verdict", after(d._verdict)),
    "store": lambda mp, d: mp.setattr(d._store, "save", boom),
}


def answers(d: dedup.Deduplicator) -> list[dict[str, Any]]:
    return [c.to_dict() for c in d.clusters()]


@functools.cache
def reference(clusters_first: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """What a deduplicator that never saw the failed call answers: its clusters after BEFORE, the
    verdicts of AFTER and of FAILED (added for real, last), and its clusters at the end. Asking for
    the clusters refreshes the earliest sources that later verdicts compare with (``earliest_changed``),
    so the reference asks for them at the same points as the deduplicator under test."""
    d = dedup.Deduplicator()
    for a in BEFORE:
        d.add(a)
    first = answers(d) if clusters_first else []
    verdicts = [d.add(a).to_dict() for a in [*AFTER, FAILED]]
    return first, verdicts, answers(d)


@contextmanager
def deduplicator(kind: str, tmp_path: Path) -> Iterator[dedup.Deduplicator]:
    if kind == "memory":
        yield dedup.Deduplicator()
        return
    with dedup.Deduplicator.open(tmp_path / "index.sqlite") as d:
        yield d


def stored_ids(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as db:
        return {row[0] for row in db.execute("SELECT id FROM articles")}


def check_unchanged_by(
    fail: Callable[[dedup.Deduplicator], None],
    failed: dedup.Article,
    kind: str,
    tmp_path: Path,
    *,
    clusters_first: bool = True,
) -> None:
    """After ``fail(d)`` (an ``add`` that raises) ``d`` answers as the reference: its clusters at
    once (when ``clusters_first``: building them also refreshes what later verdicts read), then the
    verdicts of later additions, the clusters at the end, and the same once reopened."""
    first, verdicts, last = reference(clusters_first)
    with deduplicator(kind, tmp_path) as d:
        for a in BEFORE:
            d.add(a)
        fail(d)
        assert failed.id not in d and len(d) == len(BEFORE)
        if kind == "file":
            assert stored_ids(tmp_path / "index.sqlite") == {a.id for a in BEFORE}
        if clusters_first:
            assert answers(d) == first
        assert [d.add(a).to_dict() for a in [*AFTER, FAILED]] == verdicts
        assert answers(d) == last
    if kind == "file":
        with dedup.Deduplicator.open(tmp_path / "index.sqlite") as again:
            assert answers(again) == last


@pytest.mark.parametrize("clusters_first", [True, False], ids=["clusters first", "adds first"])
@pytest.mark.parametrize("kind", ["memory", "file"])
@pytest.mark.parametrize("stage", list(STAGES))
def test_a_fault_at_any_stage_leaves_the_index_as_it_was(
    stage: str, kind: str, clusters_first: bool, tmp_path: Path
) -> None:
    if stage == "store" and kind == "memory":
        pytest.skip("an in-memory deduplicator has no store")

    def fail(d: dedup.Deduplicator) -> None:
        with pytest.MonkeyPatch.context() as mp:
            STAGES[stage](mp, d)
            with pytest.raises(Boom):
                d.add(FAILED)

    check_unchanged_by(fail, FAILED, kind, tmp_path, clusters_first=clusters_first)


def unchecked(article: dedup.Article, **fields: Any) -> dedup.Article:
    """A copy of ``article`` with ``fields`` set past ``Article``'s validation (which may refuse them)."""
    out = dedup.Article(id="valid", text=article.text, published_at=article.published_at, source=article.source)
    for name, value in fields.items():
        object.__setattr__(out, name, value)
    return out


# Values that once left half an article behind; Article may refuse them when built, but an add
# that fails on them for any reason must change nothing.
TRIGGERS = {
    # converting it to UTC overflows when the verdict's cluster is built
    "published_at out of range": {"published_at": datetime.fromisoformat("0001-01-01T00:00+05:00")},
    # a lone surrogate cannot be encoded: SQLite fails on it (the article joins a cluster whose
    # id hashes an older member's id, so in memory nothing encodes it)
    "id with a lone surrogate": {"id": "a\ud800"},
    # the same in a field written only to the file
    "source with a lone surrogate": {"id": "s", "source": "site\udfff"},
}
ONLY_THE_FILE = {"id with a lone surrogate", "source with a lone surrogate"}


@pytest.mark.parametrize("kind", ["memory", "file"])
@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_values_that_fail_late_leave_the_index_as_it_was(trigger: str, kind: str, tmp_path: Path) -> None:
    bad = unchecked(FAILED, **TRIGGERS[trigger])
    if trigger in ONLY_THE_FILE and kind == "memory":
        pytest.skip("only the file encodes the value")

    def fail(d: dedup.Deduplicator) -> None:
        with pytest.raises((OverflowError, UnicodeError, sqlite3.Error, dedup.DedupError)):
            d.add(bad)

    check_unchanged_by(fail, bad, kind, tmp_path)


def test_a_batch_cut_short_leaves_no_counts_of_the_articles_it_did_not_add() -> None:
    first, verdicts, last = reference(True)
    d = dedup.Deduplicator()
    for a in BEFORE:
        d.add(a)
    bad = unchecked(FAILED, id="0-first", published_at=datetime.fromisoformat("0001-01-01T00:00+05:00"))
    with pytest.raises(OverflowError):
        d.add_many([FAILED, *AFTER, bad])  # every article counted, then the first in id order fails
    assert len(d) == len(BEFORE)
    assert answers(d) == first
    assert [d.add(a).to_dict() for a in [*AFTER, FAILED]] == verdicts
    assert answers(d) == last


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("set"), st.integers(0, 3), st.integers(0, 3)),
            st.tuples(st.just("pop"), st.integers(0, 3), st.none()),
            st.tuples(st.just("add"), st.integers(0, 3), st.integers(0, 3)),
            st.tuples(st.just("discard"), st.integers(0, 3), st.integers(0, 3)),
        ),
        max_size=30,
    )
)
def test_the_journal_puts_back_every_mapping_and_set_it_recorded(changes: list[tuple[str, int, int | None]]) -> None:
    """Changes recorded in the undo journal before they are made (``item`` for a mapping's key,
    ``member`` for a set's member), then rolled back, leave the mappings and sets as they were."""
    mapping: dict[int, int] = {0: 0, 1: 1}
    sets: dict[int, set[int]] = {0: {0, 1}, 2: set()}
    before = (dict(mapping), {k: set(v) for k, v in sets.items()})
    undo = Undo()
    for kind, key, value in changes:
        if kind == "set":
            undo.item(mapping, key)
            mapping[key] = value if value is not None else 0
        elif kind == "pop":
            undo.item(mapping, key)
            mapping.pop(key, None)
        elif kind == "add":
            undo.member(sets, key, value)
            sets.setdefault(key, set()).add(value if value is not None else 0)
        else:
            undo.member(sets, key, value)
            sets.get(key, set()).discard(value if value is not None else 0)
    undo.rollback()
    assert (mapping, sets) == before
