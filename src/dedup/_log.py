"""What dedup tells an operator, through the ``dedup`` logger (silent unless the application
configures logging): damage found in an index while the stream goes on (ERROR), records skipped
and why (WARNING), an index opened with its size and the time
it took (INFO), worker processes started (INFO), copies found and earliest sources changed (DEBUG).

Arguments are passed %-style, so nothing is formatted unless a handler wants the record.
"""

from __future__ import annotations

import logging
import re

from dedup.records import Skip, Verdict

logger = logging.getLogger("dedup")

_USERINFO = re.compile(r"^(?P<scheme>[a-z]+://)[^@/]*@")


def where(place: str) -> str:
    """A path or URL as logged: a URL's user and password left out."""
    return _USERINFO.sub(r"\g<scheme>***@", place)


def skipped(skip: Skip) -> None:
    """A record left out of the result, with its id (or line) and the reason."""
    if skip.line is not None:
        logger.warning("skipped line %d (id %r): %s: %s", skip.line, skip.id, skip.error, skip.message)
    else:
        logger.warning("skipped article %r: %s: %s", skip.id, skip.error, skip.message)


def still_counted(article_id: str, error: Exception) -> None:
    """An article that left the window or was removed could not be read back to take its shingles
    out of the formula counts: they stay counted."""
    logger.error(
        "article %r is out of the index, but its shingles stay in the formula counts: it cannot be read back (%s)",
        article_id,
        error,
    )


def opened(place: str, articles: int, seconds: float, restored: bool = False) -> None:
    """A persistent index loaded into memory (``restored``: from the state saved as it closed)."""
    how = "from the state saved beside it" if restored else "read from the index"
    logger.info("opened the index %s: %d articles in %.2f s (%s)", where(place), articles, seconds, how)


def read_after_state(place: str, articles: int) -> None:
    """The articles added to an index after the state saved while it was written, read from it."""
    logger.info("read %d articles added to the index %s after its state was saved", articles, where(place))


def state_saved(place: str, articles: int, size: int, seconds: float) -> None:
    """The stream's memory saved beside its index as it closed, or as it goes on (``save_state``)."""
    logger.info(
        "saved the state of %d articles in memory beside %s: %.1f MB in %.2f s",
        articles,
        where(place),
        size / 1e6,
        seconds,
    )


def window_dropped(place: str, window: str, articles: int | None) -> None:
    """An index whose last writer had a window is opened for writing without one (on
    ``dedup.index``, which ``dedup stream`` prints); ``articles``: how many it holds, if known."""
    logging.getLogger("dedup.index").warning(
        "%s was last opened with a window (%s) and is opened now without one: all%s of its articles are read into "
        "memory; open it with that window (Window(...); dedup stream --window-days / --window-articles) to keep "
        "memory bounded by it",
        where(place),
        window,
        "" if articles is None else f" {articles:,}",
    )


def state_not_read(path: str, why: str) -> None:
    """A saved state not read: the index is read from its file instead."""
    logger.info("not reading the saved state %s: %s; reading the index from its file", path, why)


def state_not_saved(place: str, why: str, kept: bool = False) -> None:
    """The stream's memory could not be saved as its index closed: the next opening reads the file,
    or the state ``kept`` from the opening or saved while writing and the articles after it (on
    ``dedup.index``, which ``dedup stream`` prints)."""
    then = (
        "the state saved before and the articles added after it (or, past a third of the state's articles, the index)"
        if kept
        else "the articles from the index"
    )
    logging.getLogger("dedup.index").warning(
        "could not save the state of the index %s as it closed: %s; the next opening reads %s", where(place), why, then
    )


def state_not_kept(place: str, why: str) -> None:
    """The state a writer opened its index from could not be kept for an opening after a crash (on
    ``dedup.index``, which ``dedup stream`` prints)."""
    logging.getLogger("dedup.index").warning(
        "could not keep the state of the index %s for a restart after a crash: %s; until the state is saved "
        "again, an opening after a crash reads the articles from the index",
        where(place),
        why,
    )


def added(verdict: Verdict) -> None:
    """A copy found, the earliest source of its cluster if that changed, and the clusters it took in."""
    if not verdict.is_copy or not logger.isEnabledFor(logging.DEBUG):
        return
    logger.debug(
        "%s is a copy of %s: cluster %s of %d, earliest %s",
        verdict.article_id,
        ", ".join(verdict.copy_of),
        verdict.cluster.id,
        len(verdict.cluster.members),
        verdict.cluster.earliest,
    )
    if verdict.earliest_changed:
        logger.debug(
            "earliest of cluster %s changed from %s to %s",
            verdict.cluster.id,
            ", ".join(verdict.previous_earliests),
            verdict.cluster.earliest,
        )
    if verdict.merged:
        logger.debug("cluster %s took in the clusters %s", verdict.cluster.id, ", ".join(verdict.merged))
