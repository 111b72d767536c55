"""HTML in: the main text, title and publication date of a page, ready for ``Deduplicator.add``.

Needs the ``[html]`` extra (``pip install 'news-dedup[html]'``): trafilatura extracts the main text and
title, so that navigation, share buttons and footers are gone before shingling; htmldate finds the
publication date in the page's metadata, URL and markup. The date becomes the article's
``published_at`` (unless the caller gives one), which the earliest-source rule uses first.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from dedup.errors import ArticleTooLargeError, EmptyTextError, MissingExtraError
from dedup.records import Article

_INSTALL = "pip install 'news-dedup[html]'"
MAX_PAGE = 16 * 2**20  # the largest page read (bytes, or characters of a str)


def _extractors() -> tuple[Any, Any]:
    try:
        import htmldate
        import trafilatura
    except ImportError as exc:
        raise MissingExtraError(f"reading HTML needs the html extra: {_INSTALL} ({exc})") from exc
    return trafilatura, htmldate


def page_date(html: str | bytes, url: str | None = None) -> datetime | None:
    """The publication date of a page (htmldate: metadata first, then URL and markup), if any."""
    _, htmldate = _extractors()
    # extensive_search=False: metadata, URL and time elements only; the full-text heuristics take a
    # footer's "Copyright 2024" for a publication date.
    found = htmldate.find_date(
        html, url=url, original_date=True, extensive_search=False, outputformat="%Y-%m-%dT%H:%M:%S%z"
    )
    if not found:
        return None
    try:
        return datetime.strptime(found, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return datetime.strptime(found[:10], "%Y-%m-%d")


def article_from_html(
    html: str | bytes,
    *,
    id: str | None = None,
    url: str | None = None,
    source: str | None = None,
    published_at: datetime | str | None = None,
    max_size: int = MAX_PAGE,
) -> Article:
    """An ``Article`` from a page: its main text and title (trafilatura) and its date (htmldate,
    unless ``published_at`` is given). The id defaults to the URL, else a hash of the text. A page
    of more than ``max_size`` bytes (characters, given as a str) is refused at once: the parser's time and
    memory grow with the page, and no news article is that long."""
    if len(html) > max_size:
        raise ArticleTooLargeError(
            f"the page{f' {url}' if url else ''} has {len(html):,} {'characters' if isinstance(html, str) else 'bytes'}, "
            f"more than max_size={max_size:,}; pass a larger max_size to article_from_html to read it"
        )
    trafilatura, _ = _extractors()
    # a page the parser would cut where it nests too deep is parsed without that limit first
    deep, still_cut = _deep_tree(html)
    fields = _extracted(trafilatura, html if deep is None else deep, url)
    text = (fields.get("text") or "").strip()
    where = f" {url}" if url else ""
    if still_cut:  # what was read may be the site's furniture alone: no article text to trust
        raise EmptyTextError(
            f"no article text found: the page{where} nests its elements deeper than the HTML parser reads "
            "(2048 levels); extract the text another way and build the Article from it"
        )
    if not text:
        raise EmptyTextError(f"no article text found in the page{where}")
    if published_at is None:
        published_at = page_date(html, url)
    article_id = id or url or "sha1:" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
    return Article(
        id=article_id,
        text=text,
        published_at=published_at,  # type: ignore[arg-type]  # Article parses ISO strings itself
        source=source,
        url=url,
        title=fields.get("title"),
    )


def _extracted(trafilatura: Any, page: Any, url: str | None) -> dict[str, Any]:
    """trafilatura's main text and metadata of ``page`` (its markup, or a parsed tree)."""
    extracted = trafilatura.bare_extraction(page, url=url, with_metadata=True, favor_recall=True)
    fields: dict[str, Any] = extracted.as_dict() if hasattr(extracted, "as_dict") else (extracted or {})
    return fields


# libxml2's HTML parser stops reading elements nested deeper than 256 (the page's text past that
# depth is dropped without an error), 2048 with its "huge" option, which also lifts its limit on
# the size of one text node (the page's size is limited before: ``max_size``).
_DEPTH = "Excessive depth in document"


def _parsed(html: str | bytes, *, huge: bool) -> tuple[Any, bool]:
    """The page parsed by lxml (None when it cannot be), and whether the parser cut it where it
    nested too deep. Bytes are decoded as trafilatura decodes them (UTF-8, else the encoding it
    detects: libxml2 alone reads undeclared bytes as Latin-1), and the text is parsed as UTF-8
    (lxml refuses a str that declares an encoding)."""
    import lxml.html
    from trafilatura.utils import decode_file

    parser = lxml.html.HTMLParser(huge_tree=huge, collect_ids=False, encoding="utf-8")
    text = decode_file(html) if isinstance(html, bytes) else html
    try:
        tree = lxml.html.document_fromstring(text.encode("utf-8", "surrogatepass"), parser=parser)
    except lxml.etree.ParserError:  # an empty page
        return None, False
    return tree, any(_DEPTH in entry.message for entry in parser.error_log)


def _deep_tree(html: str | bytes) -> tuple[Any, bool]:
    """When the default depth limit cut the page: the page parsed without it, and whether even
    that parse was cut; else (None, False)."""
    _, cut = _parsed(html, huge=False)
    return _parsed(html, huge=True) if cut else (None, False)
