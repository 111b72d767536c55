"""A persistent Deduplicator under random sequences of additions, bad input, removals and reopenings:
it never crashes, keeps every acknowledged article, refuses bad input without changing anything,
and answers the same once reopened from its file."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import dedup
from conftest import load_english, load_seeds
from dedup.runners.stream import replica

BASES = [a.text for a in load_seeds() + load_english()]
EXTRA = "The agency added that further details would be published in a statement later in the week."
VARIANTS = ("copy", "trimmed", "extended")
TIMES = [None, *(datetime(2024, 5, 1, tzinfo=UTC) + timedelta(hours=h) for h in (0, 3, 9))]
# Articles no index may take: each must raise this error and change nothing.
INVALID = {
    "empty": ("", dedup.EmptyTextError),
    "whitespace": (" \n\t ", dedup.EmptyTextError),
    "furniture only": ("Share on Facebook\nAdvertisement", dedup.EmptyTextError),
    "too long": ("word " * 200_001, dedup.ArticleTooLargeError),
}


def variant(base: int, kind: str) -> str:
    """A copy of a base text as outlets make them: whole, cut after half its paragraphs, or with a
    paragraph of its own added."""
    text = BASES[base]
    if kind == "trimmed":
        paragraphs = [p for p in text.split("\n") if p.strip()]
        return "\n".join(paragraphs[: max(1, len(paragraphs) // 2)])
    if kind == "extended":
        return f"{text}\n\n{EXTRA}"
    return text


def answers(d: dedup.Deduplicator) -> list[tuple[tuple[str, ...], str]]:
    return [(c.member_ids, c.earliest) for c in d.clusters()]


class PersistentIndex(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # every analysis let go is read back from the file when next compared
        self.kept, replica.KEPT = replica.KEPT, 1
        self.folder = Path(tempfile.mkdtemp(prefix="dedup-fuzz-"))
        self.path = self.folder / "index.sqlite"
        self.d = dedup.Deduplicator.open(self.path)
        self.acked: dict[str, str] = {}  # id -> text of every article whose verdict was given, not removed

    def teardown(self) -> None:
        replica.KEPT = self.kept
        self.d.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def unchanged_by(self, refused: Any, error: type[Exception]) -> None:
        """``refused()`` raises ``error`` and leaves the index answering as before."""
        before = answers(self.d)
        with pytest.raises(error):
            refused()
        assert answers(self.d) == before
        assert set(self.d) == set(self.acked)

    @rule(
        base=st.integers(0, len(BASES) - 1),
        kind=st.sampled_from(VARIANTS),
        n=st.integers(0, 2),
        when=st.sampled_from(TIMES),
    )
    def add(self, base: int, kind: str, n: int, when: datetime | None) -> None:
        text = variant(base, kind)
        article = dedup.Article(id=f"{base}-{kind}-{n}", text=text, published_at=when)
        verdict = self.d.add(article)
        assert verdict.already_indexed == (article.id in self.acked)
        assert article.id in verdict.cluster.member_ids
        self.acked[article.id] = text

    @rule(which=st.sampled_from(sorted(INVALID)), n=st.integers(0, 2))
    def add_invalid(self, which: str, n: int) -> None:
        text, error = INVALID[which]
        self.unchanged_by(lambda: self.d.add(dedup.Article(id=f"bad-{n}", text=text)), error)

    @precondition(lambda self: bool(self.acked))
    @rule(data=st.data())
    def add_another_text_under_a_known_id(self, data: st.DataObject) -> None:
        art_id = data.draw(st.sampled_from(sorted(self.acked)))
        other = next(t for t in BASES if t != self.acked[art_id])
        self.unchanged_by(lambda: self.d.add(dedup.Article(id=art_id, text=other)), dedup.DuplicateIdError)

    @precondition(lambda self: bool(self.acked))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        art_id = data.draw(st.sampled_from(sorted(self.acked)))
        self.d.remove(art_id)
        del self.acked[art_id]

    @rule()
    def remove_unknown(self) -> None:
        self.unchanged_by(lambda: self.d.remove("never-added"), dedup.UnknownArticleError)

    @rule()
    def reopen(self) -> None:
        before = answers(self.d)
        self.d.close()
        self.d = dedup.Deduplicator.open(self.path)
        assert set(self.d) == set(self.acked)
        assert answers(self.d) == before

    @invariant()
    def every_acknowledged_article_is_indexed(self) -> None:
        assert set(self.d) == set(self.acked)
        for art_id, text in self.acked.items():
            assert self.d.get(art_id).text == text


PersistentIndex.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_persistent_index = PersistentIndex.TestCase
