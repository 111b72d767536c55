"""Preparation: an ``Article`` made into what the index and the verifier read.

``prepare_many(articles, config)`` checks each article (an ``Article``, not too long, not empty),
normalizes and shingles its text and signs it (``dedup.stages.sign``), and gives a ``Prepared`` or
the ``InputError`` the article raises. Every runner prepares through it: the stream in ``add``, the
worker processes of ``add_many(workers=...)`` and of the batch engine, the Spark executors.

``first_of_id`` is the duplicate-id policy of a batch: the first article of an id is kept, the same
id with the same text again is left out quietly, with another text it is an error.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedup.config import DedupConfig
from dedup.errors import ArticleTooLargeError, DedupError, DuplicateIdError, EmptyTextError, InputError
from dedup.records import Article
from dedup.stages.shingle import Shingled
from dedup.stages.sign import analyze_and_sign_many

U32 = npt.NDArray[np.uint32]
_NO_SIGNATURES: U32 = np.empty((0, 0), dtype=np.uint32)


@dataclass(frozen=True, slots=True)
class Prepared:
    """An article made ready for indexing: cleaned, shingled and signed."""

    article: Article
    doc: Shingled
    signature: U32
    passage_signatures: U32

    def slim(self) -> Prepared:
        """The same article without its passage signatures, which only indexing reads (its
        document signature copied: it is a view of the array that holds them both)."""
        return Prepared(self.article, self.doc, self.signature.copy(), _NO_SIGNATURES)


def check_length(what: str, text: str, config: DedupConfig) -> None:
    """Refuse a text longer than ``config.max_chars`` (``what`` names it in the message)."""
    if len(text) > config.max_chars:
        raise ArticleTooLargeError(
            f"{what} has {len(text):,} characters, more than max_chars={config.max_chars:,}; extract the "
            'article text from the page first, or raise DedupConfig(max_chars=...) (--config with {"max_chars": N} '
            "on the command line)"
        )


def check_article(article: object, config: DedupConfig) -> None:
    """Refuse what is not an ``Article``, a text too long and an empty text."""
    if not isinstance(article, Article):
        raise InputError(f"expected an Article, got {type(article).__name__}; build one with Article(id=..., text=...)")
    text = article.text
    check_length(f"article {article.id!r}", text, config)
    if not text.strip():
        raise EmptyTextError(f"article {article.id!r} has no text (empty or whitespace only)")


def prepare_many(articles: Sequence[Article], config: DedupConfig) -> list[Prepared | DedupError]:
    """For each article, in order, its ``Prepared`` or the ``InputError`` it raises; the usable
    articles are analyzed and signed in two compiled calls for them all (each call has a fixed
    cost of its own, not small beside an article's work)."""
    out: list[Prepared | DedupError | None] = []
    usable: list[Article] = []
    for article in articles:
        try:
            check_article(article, config)
        except InputError as exc:
            # kept without its traceback, which holds this frame and so ``out``: no reference
            # cycle for the garbage collector to find (raising it again starts a new one)
            out.append(exc.with_traceback(None))
            continue
        out.append(None)
        usable.append(article)
    analyzed = iter(zip(usable, analyze_and_sign_many([a.text for a in usable], config), strict=True))
    done: list[Prepared | DedupError] = []
    for outcome in out:
        if outcome is None:
            article, (doc, signature, passage_signatures) = next(analyzed)
            if doc.n_words == 0:
                outcome = EmptyTextError(
                    f"article {article.id!r} has no words left once site furniture and lines shorter than "
                    f"{config.normalize.min_line_words} words are dropped"
                )
            else:
                outcome = Prepared(article, doc, signature, passage_signatures)
        done.append(outcome)
    return done


def prepare(article: Article, config: DedupConfig) -> Prepared:
    """Clean, shingle and sign one article; raises an ``InputError`` for unusable input."""
    outcome = prepare_many([article], config)[0]
    if isinstance(outcome, DedupError):
        try:
            raise outcome
        finally:
            del outcome  # (the error's traceback holds this frame: not a cycle through its name)
    return outcome


def first_of_id(
    art_id: str, key: Hashable, first: Hashable | None, *, line: int | None = None, first_line: int | None = None
) -> bool:
    """The duplicate-id policy of a batch, for one article: ``key`` stands for its text (the text,
    or a digest of it), ``first`` for the text of the first article of the batch with its id (None:
    this is the first). True: the first of its id, kept. False: its id and text given again, left
    out quietly. Another text under a known id raises ``DuplicateIdError`` (``line`` and
    ``first_line``, the JSON Lines lines of the two, go in the message when known).

    >>> first_of_id("a", "text", None), first_of_id("a", "text", "text")
    (True, False)
    """
    if first is None:
        return True
    if key == first:
        return False
    where = "" if line is None else f"line {line}: "
    also = "" if first_line is None else f" (first on line {first_line})"
    raise DuplicateIdError(f"{where}article id {art_id!r} appears twice with different texts{also}; ids must be unique")
