"""A Scrapy item pipeline that tags every item with its dedup verdict, and can drop copies.

Install with ``pip install 'news-dedup[scrapy]'`` and enable it in the project's settings::

    ITEM_PIPELINES = {"dedup.fronts.scrapy.DedupPipeline": 300}
    DEDUP_INDEX = "crawl.sqlite"     # a SQLite file that survives restarts (default: in memory)
    DEDUP_DROP_COPIES = False        # True: copies are dropped (scrapy's DropItem), never an earliest source
    DEDUP_TEXT_FIELD = "text"        # the item field with the article text ...
    DEDUP_HTML_FIELD = "html"        # ... or with the page HTML (needs the html extra)
    DEDUP_ID_FIELD = "url"           # the field that identifies the article
    DEDUP_VERDICT_FIELD = "dedup"    # where the verdict goes in the item
    DEDUP_WINDOW_DAYS = 7            # keep only the last 7 days in memory (dedup.Window; default: all)
    DEDUP_WINDOW_ARTICLES = 500000   # ... and at most the last 500,000 articles
    DEDUP_SAVE_STATE_MINUTES = 30    # with a file: save its state every 30 minutes, for a fast restart after a crash

The verdict put in the item is ``{"is_copy", "copy_of", "cluster", "earliest", "relation",
"corrects"}``; items that cannot be read (no text, no id) are passed on untagged with
``{"error": ...}`` and logged. Optional item fields ``published_at``, ``source`` and ``title`` are
used when present.

``is_copy`` means that the item arrived after an article it copies, not that it is not the original:
a crawler often fetches an outlet's copy before the wire story it copies. So an item is dropped only
when it is a copy and not the earliest source of its cluster once added; an original that arrives
after its copies is passed on with ``"relation": "earliest"``. When an item changes its cluster's
earliest source (or joins clusters with earliest sources of their own), ``"corrects"`` names the
articles that were the earliest source until then: items passed on before that name one of them as
``earliest`` now have this item's ``earliest``. The correction is also logged at ``INFO``, and
still logged when the item itself is dropped.
"""

from __future__ import annotations

import logging
from typing import Any

from dedup.config import Window
from dedup.errors import ConfigError, DedupError, MissingExtraError
from dedup.fronts.saving import StateSaving
from dedup.records import Article, Relation, Verdict
from dedup.runners.stream import Deduplicator

try:
    from itemadapter import ItemAdapter
    from scrapy.exceptions import DropItem
except ImportError as exc:  # pragma: no cover - the module is useless without scrapy
    raise MissingExtraError(f"the Scrapy pipeline needs scrapy: pip install 'news-dedup[scrapy]' ({exc})") from exc

logger = logging.getLogger(__name__)


class DedupPipeline:
    """Tags items with their verdict; see the module docstring for the settings."""

    def __init__(
        self,
        *,
        index: str | None = None,
        drop_copies: bool = False,
        text_field: str = "text",
        html_field: str = "html",
        id_field: str = "url",
        verdict_field: str = "dedup",
        window: Window | None = None,
        save_state_minutes: float | None = None,
    ) -> None:
        self.index = index
        self.window = window
        self.saving = (
            None
            if save_state_minutes is None
            else StateSaving(
                save_state_minutes,
                index,
                _not_saved,
                setting="DEDUP_SAVE_STATE_MINUTES",
                index_example='DEDUP_INDEX = "crawl.sqlite"',
            )
        )
        self.drop_copies = drop_copies
        self.text_field, self.html_field, self.id_field = text_field, html_field, id_field
        self.verdict_field = verdict_field
        self.dedup: Deduplicator | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> DedupPipeline:
        s = crawler.settings
        return cls(
            index=s.get("DEDUP_INDEX"),
            drop_copies=s.getbool("DEDUP_DROP_COPIES", False),
            text_field=s.get("DEDUP_TEXT_FIELD", "text"),
            html_field=s.get("DEDUP_HTML_FIELD", "html"),
            id_field=s.get("DEDUP_ID_FIELD", "url"),
            verdict_field=s.get("DEDUP_VERDICT_FIELD", "dedup"),
            window=_window(s.get("DEDUP_WINDOW_DAYS"), s.get("DEDUP_WINDOW_ARTICLES")),
            save_state_minutes=_minutes(s.get("DEDUP_SAVE_STATE_MINUTES")),
        )

    def open_spider(self, spider: Any = None) -> None:
        self._deduplicator()

    def _deduplicator(self) -> Deduplicator:
        if self.dedup is None:
            window = self.window
            self.dedup = Deduplicator.open(self.index, window=window) if self.index else Deduplicator(window=window)
        return self.dedup

    def close_spider(self, spider: Any = None) -> None:
        if self.dedup is not None:
            self.dedup.close()
            self.dedup = None

    def _article(self, adapter: Any) -> Article:
        article_id = adapter.get(self.id_field)
        if not article_id:
            raise DedupError(f"the item has no {self.id_field!r} field to identify it (DEDUP_ID_FIELD)")
        extra = {k: adapter.get(k) for k in ("published_at", "source", "title") if adapter.get(k)}
        if adapter.get(self.text_field):
            return Article(id=str(article_id), text=adapter.get(self.text_field), url=adapter.get("url"), **extra)
        if adapter.get(self.html_field):
            from dedup.fronts.html import article_from_html

            return article_from_html(
                adapter.get(self.html_field),
                id=str(article_id),
                url=adapter.get("url"),
                source=extra.get("source"),
                published_at=extra.get("published_at"),
            )
        raise DedupError(f"the item has neither {self.text_field!r} nor {self.html_field!r} (DEDUP_TEXT_FIELD)")

    def process_item(self, item: Any, spider: Any = None) -> Any:
        adapter = ItemAdapter(item)
        self._holds_the_verdict(adapter, item)  # before the article is indexed
        try:
            verdict = self._deduplicator().add(self._article(adapter))
        except DedupError as exc:
            logger.warning("dedup could not read an item: %s", exc)
            adapter[self.verdict_field] = {"error": str(exc)}
            return item
        adapter[self.verdict_field] = _summary(verdict)
        corrected = _corrects(verdict)
        if corrected:
            logger.info(
                "%s changes the earliest source of cluster %s to %s: items passed on before with earliest %s "
                "now have earliest %s",
                verdict.article_id,
                verdict.cluster.id,
                verdict.cluster.earliest,
                " or ".join(corrected),
                verdict.cluster.earliest,
            )
        if self.saving is not None:
            self.saving.due(self._deduplicator())
        if self.drop_copies and _droppable(verdict):
            raise DropItem(f"copy of {', '.join(verdict.copy_of)} (earliest {verdict.cluster.earliest})")
        return item

    def _holds_the_verdict(self, adapter: Any, item: Any) -> None:
        """Refuse an item that has no field for the verdict (a ``scrapy.Item`` declares its fields)."""
        try:
            adapter[self.verdict_field] = None
        except KeyError:
            kind = type(item).__name__
            raise ConfigError(
                f"{kind} items have no field {self.verdict_field!r} for dedup's verdict: declare "
                f"{self.verdict_field} = scrapy.Field() in {kind}, or set DEDUP_VERDICT_FIELD to a field it has"
            ) from None


def _window(days: Any, articles: Any) -> Window | None:
    """The window of the ``DEDUP_WINDOW_*`` settings (numbers, or their text), if either is set."""
    if days in (None, "") and articles in (None, ""):
        return None
    try:
        most_days = None if days in (None, "") else float(days)
        most_articles = None if articles in (None, "") else int(articles)
    except ValueError as exc:
        raise ConfigError(
            f"DEDUP_WINDOW_DAYS ({days!r}) must be a number of days and DEDUP_WINDOW_ARTICLES ({articles!r}) "
            f"a whole number: {exc}"
        ) from exc
    return Window(days=most_days, articles=most_articles)


def _minutes(value: Any) -> float | None:
    """``DEDUP_SAVE_STATE_MINUTES`` (a number, or its text), if set."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ConfigError(f"DEDUP_SAVE_STATE_MINUTES ({value!r}) must be a number of minutes, not a flag")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"DEDUP_SAVE_STATE_MINUTES ({value!r}) must be a number of minutes: {exc}") from exc


def _not_saved(message: str) -> None:
    """A state that could not be saved, or took long to save (``StateSaving``'s message)."""
    logger.warning("dedup: %s", message)


def _is_earliest(verdict: Verdict) -> bool:
    return verdict.cluster.earliest == verdict.article_id


def _droppable(verdict: Verdict) -> bool:
    """A copy that is not its cluster's earliest source once added (an article fetched again, already
    indexed, is passed on)."""
    return verdict.is_copy and not verdict.already_indexed and not _is_earliest(verdict)


def _corrects(verdict: Verdict) -> list[str]:
    """The articles that were the earliest source of a cluster this item joined, until it was added."""
    return list(verdict.previous_earliests)


def _summary(verdict: Verdict) -> dict[str, Any]:
    relation: Relation | None = None
    if verdict.matches:
        # the earliest source is marked as in a cluster's members, not by the match its late arrival made
        relation = Relation.EARLIEST if _is_earliest(verdict) else verdict.matches[0].relation
    return {
        "is_copy": verdict.is_copy,
        "copy_of": list(verdict.copy_of),
        "cluster": verdict.cluster.id,
        "earliest": verdict.cluster.earliest,
        "relation": None if relation is None else str(relation),
        "corrects": _corrects(verdict),
    }
