"""HTML pages in: furniture gone, text and date extracted, copies found as with plain text."""

from datetime import UTC, datetime

import pytest

import dedup
from conftest import groups_of, load_seeds
from pages import page

pytest.importorskip(
    "trafilatura", reason="the html extra is part of the dev extra; install it with pip install -e '.[dev]'"
)

from dedup.fronts.html import article_from_html


def test_text_title_and_date_come_out_and_furniture_does_not() -> None:
    text = "\n".join(
        f"Paragraph {i} of the story tells what the council decided about the tram line on Tuesday." for i in range(6)
    )
    art = article_from_html(
        page("Council delays tram vote", text, date="2024-03-05T16:00:00+00:00"), url="https://example.test/a"
    )
    assert art.id == "https://example.test/a"
    assert art.title and "tram" in art.title.casefold()
    assert "Paragraph 3 of the story" in art.text
    assert "Share on Facebook" not in art.text and "About us" not in art.text
    assert art.published_utc == datetime(2024, 3, 5, 16, tzinfo=UTC)


def test_seed_pages_group_as_the_texts_do() -> None:
    seeds = load_seeds()
    articles = [article_from_html(page(s.text.split("\n", 1)[0][:80], s.text), id=s.id) for s in seeds]
    assert groups_of(dedup.cluster(articles)) == groups_of(dedup.cluster(seeds))


def test_a_page_too_large_to_be_an_article_is_refused_before_it_is_parsed(monkeypatch) -> None:
    """Parsing a page of tens of megabytes takes minutes; one over the limit is refused at once."""
    from dedup.fronts import html

    html_page = page("A story", load_seeds()[0].text)
    assert article_from_html(html_page, max_size=len(html_page)).title == "A story"

    def parsed(*args: object, **kwargs: object) -> None:
        raise AssertionError("a page over the limit was parsed")

    monkeypatch.setattr(html, "_extractors", parsed)
    for given in (html_page, html_page.encode("utf-8")):
        with pytest.raises(dedup.ArticleTooLargeError, match=r"more than max_size=1,000; pass a larger max_size"):
            article_from_html(given, url="https://example.test/big", max_size=1_000)
    assert html.MAX_PAGE >= 4 * 2**20  # (pages of a few megabytes are read)


def test_a_page_without_text_is_a_clear_error() -> None:
    with pytest.raises(dedup.EmptyTextError):
        article_from_html("<html><body></body></html>", url="https://example.test/empty")
    # a page with nothing but navigation extracts to furniture, which add() refuses clearly
    only_nav = article_from_html("<html><body><nav>Home</nav></body></html>", url="https://example.test/nav")
    with pytest.raises(dedup.EmptyTextError):
        dedup.Deduplicator().add(only_nav)


@pytest.mark.parametrize("given", [str, lambda markup: markup.encode("utf-8")])
def test_a_deeply_nested_page_is_read_and_one_too_deep_says_why(given) -> None:
    """The HTML parser drops what a page nests past 256 levels without an error: such a page is
    read without that limit, and one past the parser's last limit is refused, saying why (what
    is left of it may be the site's furniture alone, which would make its pages copies)."""
    story = "\n".join(f"Paragraph {i} tells what the port authority decided about the ferry fees." for i in range(5))

    def nested(depth: int, markup: str) -> str:
        return markup.replace("<article>", "<article>" + "<div>" * depth).replace(
            "</article>", "</div>" * depth + "</article>"
        )

    framed = page("Ferry fees", story)
    assert "<article>" in framed
    art = article_from_html(given(nested(400, framed)), url="https://example.test/deep")
    assert "Paragraph 3 tells what the port authority" in art.text and art.title == "Ferry fees"
    with pytest.raises(dedup.EmptyTextError, match=r"https://example.test/deeper nests its elements deeper than"):
        article_from_html(given(nested(3000, framed)), url="https://example.test/deeper")
    bare = "<html><body><article>" + story.replace("\n", "<br>") + "</article></body></html>"
    assert "Paragraph 3" in article_from_html(given(nested(300, bare))).text
    with pytest.raises(dedup.EmptyTextError, match=r"no article text found: the page .* \(2048 levels\)"):
        article_from_html(given(nested(3000, bare)), url="https://example.test/deepest")
    with pytest.raises(dedup.EmptyTextError, match=r"no article text found in the page https://example.test/empty$"):
        article_from_html(given("<html><body></body></html>"), url="https://example.test/empty")


def test_a_deep_page_is_read_in_its_own_encoding() -> None:
    """Read again without the depth limit, a page keeps the text trafilatura reads at any depth:
    UTF-8 bytes without a declared charset (the charset was in the HTTP header), and a str that
    opens with an XML declaration naming its encoding."""
    arabic = "قال الكرملين في بيان إن الرئيس سيزور المنطقة الأسبوع المقبل لبحث التعاون الاقتصادي"
    for depth in (10, 300):
        markup = (
            "<html><head><title>t</title></head><body>" + "<div>" * depth
            + f"<article><p>{arabic}</p><p>{arabic} مرة أخرى</p></article>" + "</div>" * depth + "</body></html>"
        )  # fmt: skip
        assert article_from_html(markup.encode("utf-8"), url="u").text.startswith(arabic[:20]), depth
        declared = '<?xml version="1.0" encoding="utf-8"?>\n' + page("Ferry fees", "\n".join([arabic] * 4))
        declared = declared.replace("<article>", "<article>" + "<div>" * depth).replace(
            "</article>", "</div>" * depth + "</article>"
        )
        assert arabic[:20] in article_from_html(declared, url="u").text, depth
