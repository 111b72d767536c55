"""The public calls at their boundary: what is no batch of articles is refused with an
``InputError`` that says what is wanted."""

from __future__ import annotations

import re

import pytest

import dedup


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda: dedup.cluster(5), "articles must be Article records, dicts, a data frame or the path"),
        (lambda: dedup.cluster(None), "got NoneType; e.g. dedup.cluster("),
        (lambda: dedup.cluster([{"id": "a", "text": "a few words"}], workers="2"), "workers must be a number"),
        (lambda: dedup.cluster([{"id": "a", "text": "a few words"}], workers=True), "got True"),
        (lambda: dedup.signatures(None), "texts must be a list of texts, got NoneType"),
        (lambda: dedup.signatures("one text, not a list"), "got one str; e.g. dedup.signatures([text])"),
        (lambda: dedup.Deduplicator().add_many(None), "articles must be Article records, got NoneType"),
        (lambda: dedup.Deduplicator.open(123), "the path of an index file or a redis:// URL, got int"),
    ],
)
def test_the_calls_refuse_what_is_no_batch_of_articles_with_an_input_error(call, says) -> None:
    """Not a TypeError from deep inside, nor a text taken as a list of one-letter texts."""
    with pytest.raises(dedup.InputError, match=re.escape(says)):
        call()


class _Listed:
    """A sequence with only ``__len__`` and ``__getitem__``, which ``iter`` takes."""

    def __init__(self, items: list[object]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> object:
        return self.items[i]


def test_any_iterable_and_any_whole_number_of_workers_are_taken() -> None:
    import numpy as np

    text = "The minister opened the new bridge over the river on Monday, officials said. " * 3
    rows = [{"id": "a", "text": text}, {"id": "b", "text": text}]
    assert [c.member_ids for c in dedup.cluster(_Listed(rows), workers=np.int64(1))] == [("a", "b")]
    assert dedup.signatures(_Listed(["a text"])).shape == (1, dedup.DedupConfig().minhash.num_perm)
