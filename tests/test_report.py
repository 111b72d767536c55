"""``dedup report``: the page, read in a real headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium), and the parts of it that need no browser.

Set ``DEDUP_UPDATE_SCREENSHOT=1`` to write the seeds' screenshot to ``docs/report-seeds.png``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

import dedup
from dedup.errors import InputError
from dedup.fronts.cli import main
from dedup.fronts.report import read_clusters, render_report
from dedup.records import Cluster, Evidence, Member, Relation
from dedup.stages.explain import shared_spans

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SCREENSHOT = ROOT / "docs" / "report-seeds.png"
CHROMEDRIVER = "/usr/bin/chromedriver"

# An English wire story and a copy that keeps three of its sentences word for word (the middle of
# the story) and writes the rest anew.
SHARED = (
    "The harbour authority said the new container terminal would double the port's capacity by "
    "the end of next year. Officials expect the expansion to create about four thousand jobs in "
    "construction and logistics across the region. The project is financed by a consortium of "
    "three regional banks and a sovereign infrastructure fund."
)
WIRE = (
    "Port of Valmera announces expansion.\n\n"
    "VALMERA (Wire) - Ministers gathered at the waterfront on Tuesday for the signing ceremony. "
    + SHARED
    + " Environmental groups have asked for an independent review of the dredging plans. "
    "The ministry said the review would be published before any work begins on the seabed."
)
COPY = (
    "Valmera port to grow: what it means for the city.\n\n"
    "Our reporter spoke to dock workers who welcomed the news with cautious optimism. "
    + SHARED
    + " Local traders hope that cheaper freight will lower prices in the shops. "
    "A public meeting is planned at the town hall next month to answer residents' questions."
)
EVIL_TITLE = '<img src=x onerror="window.__pwned=1">Valmera & <b>port</b>'


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def _english_articles(folder: Path) -> Path:
    path = folder / "english.jsonl"
    records = [
        {
            "id": "en-wire",
            "text": WIRE,
            "published_at": "2024-03-05T08:00:00Z",
            "source": "Wire",
            "title": "Port of Valmera announces expansion",
        },
        {
            "id": "en-copy",
            "text": COPY,
            "published_at": "2024-03-05T11:30:00Z",
            "source": "Valmera Daily",
            "title": EVIL_TITLE,
        },
        {"id": "en-other", "text": "A short note about the weather in the mountains this weekend. " * 3},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _report(articles: Path, folder: Path, name: str, *extra: str) -> Path:
    clusters, page = folder / f"{name}-clusters.jsonl", folder / f"{name}.html"
    assert main(["cluster", str(articles), "--workers", "1", "-o", str(clusters)]) == 0
    assert main(["report", str(clusters), "--articles", str(articles), "-o", str(page), *extra]) == 0
    return page


# -- without a browser ------------------------------------------------------------------------


def test_report_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--help"])
    assert exit_info.value.code == 0
    assert "--articles" in capsys.readouterr().out


def test_untrusted_titles_and_texts_are_escaped(tmp_path: Path) -> None:
    article = _english_articles(tmp_path)
    text = COPY + " </script><script>window.__pwned=2</script> <!-- "
    lines = article.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    record["text"] = text
    lines[1] = json.dumps(record)
    article.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page = _report(article, tmp_path, "evil").read_text(encoding="utf-8")
    assert "<img" not in page and "<b>port" not in page
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in page
    assert "</script><script>window.__pwned=2" not in page
    assert page.count("</script>") == 2  # the data block and the page's script, nothing else


def test_only_web_addresses_become_links() -> None:
    members = (
        Member(id="a", relation=Relation.EARLIEST, title="Wire", url="https://example.org/a"),
        Member(id="b", relation=Relation.SAME_TEXT, title="Copy", url="javascript:window.__pwned=3"),
    )
    cluster = Cluster(id="c-1", members=members, earliest="a", evidence=Evidence("tie_break", "first id"), why="test")
    page = render_report([cluster])
    assert 'href="https://example.org/a"' in page
    assert "javascript:" not in page


def test_singletons_are_counted_unless_asked_for_and_their_texts_never_embedded(tmp_path: Path) -> None:
    articles = _english_articles(tmp_path)
    page = _report(articles, tmp_path, "plain").read_text(encoding="utf-8")
    assert page.count('<section class="cluster') == 1
    assert "1 single articles (not listed" in page
    assert "A short note about the weather" not in page
    listed = _report(articles, tmp_path, "all", "--singletons").read_text(encoding="utf-8")
    assert listed.count('<section class="cluster') == 2
    assert "A short note about the weather" not in listed


def test_a_file_that_is_not_dedup_cluster_output_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "articles.jsonl"
    bad.write_text('{"cluster": "c-1", "earliest": "a", "members": [{"id": "a", "relation": "earliest"}]}\n'
                   '{"id": "a", "text": "not a cluster"}\n', encoding="utf-8")  # fmt: skip
    with pytest.raises(InputError, match=r"line 2: missing 'cluster'"):
        read_clusters(str(bad))
    assert main(["report", str(bad), "-o", str(tmp_path / "x.html")]) == 2


def test_clusters_of_two_runs_joined_are_refused(tmp_path: Path) -> None:
    """Each article is in one cluster of a run: the output of two runs would be counted twice."""
    line = '{"cluster": "c-1", "earliest": "a", "members": [{"id": "a", "relation": "earliest"}]}\n'
    joined = tmp_path / "twice.jsonl"
    joined.write_text(line + line, encoding="utf-8")
    with pytest.raises(InputError, match=r"twice.jsonl line 2: article 'a' is in a cluster of line 1 too"):
        read_clusters(str(joined))


# -- in Chromium ------------------------------------------------------------------------------

needs_browser = pytest.mark.skipif(
    shutil.which("chromium") is None or not Path(CHROMEDRIVER).exists(),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver: webdriver.Chrome, page: Path) -> None:
    driver.get(page.as_uri())
    driver.get_log("browser")  # drop what an earlier page logged


def _errors(driver: webdriver.Chrome) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


def _visible_clusters(driver: webdriver.Chrome) -> list[str]:
    return [
        s.get_attribute("id") or ""
        for s in driver.find_elements(By.CSS_SELECTOR, "section.cluster")
        if s.is_displayed()
    ]


def _compare(driver: webdriver.Chrome, member: str) -> tuple[WebElement, WebElement]:
    driver.find_element(By.CSS_SELECTOR, f'button.compare[data-member="{member}"]').click()
    earliest = driver.find_element(By.CSS_SELECTOR, ".compare-view:not([hidden]) .side.earliest .text")
    copy = driver.find_element(By.CSS_SELECTOR, ".compare-view:not([hidden]) .side.member .text")
    return earliest, copy


def _marks(block: WebElement) -> list[str]:
    return [str(m.get_property("textContent")) for m in block.find_elements(By.TAG_NAME, "mark")]


def _direction(driver: webdriver.Chrome, element: WebElement) -> str:
    return str(driver.execute_script("return getComputedStyle(arguments[0]).direction;", element))


def _expected_marks(a: dedup.Article, b: dedup.Article) -> tuple[list[str], list[str]]:
    """The texts of the shared spans on each side, joined where they touch or overlap (as marked)."""

    def joined(ranges: list[tuple[int, int]], text: str) -> list[str]:
        out: list[tuple[int, int]] = []
        for start, end in sorted(ranges):
            if out and start <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            elif end > start:
                out.append((start, end))
        return [text[s:e] for s, e in out]

    spans = shared_spans(a, b)
    return (
        joined([(s.a_start, s.a_end) for s in spans], a.text),
        joined([(s.b_start, s.b_end) for s in spans], b.text),
    )


@needs_browser
def test_seeds_report_in_chromium(browser: webdriver.Chrome, tmp_path: Path) -> None:
    page = _report(SEEDS, tmp_path, "seeds", "--singletons")
    _open(browser, page)
    assert _errors(browser) == []
    assert len(_visible_clusters(browser)) == 4
    first = browser.find_element(By.CSS_SELECTOR, "section.cluster")
    assert "000_ab6823a46153965b" in first.text and "002_2c2c9388f5a9e12b" in first.text  # largest first

    earliest, copy = _compare(browser, "002_2c2c9388f5a9e12b")
    a = dedup.Article(id="000", text=(SEEDS / "000_ab6823a46153965b.txt").read_text(encoding="utf-8"))
    b = dedup.Article(id="002", text=(SEEDS / "002_2c2c9388f5a9e12b.txt").read_text(encoding="utf-8"))
    want_a, want_b = _expected_marks(a, b)
    assert want_a and want_b
    assert _marks(earliest) == want_a
    assert _marks(copy) == want_b
    # the sentence both print word for word is marked on each side; the opening of each is not
    shared = "اتفقا على العمل على تحديد أول لقاء بينهما"
    assert any(shared in mark for mark in _marks(earliest)) and any(shared in mark for mark in _marks(copy))
    assert not any("حول العالم" in mark for mark in _marks(earliest))
    assert not any("أعلن الكرملين" in mark for mark in _marks(copy))
    assert _direction(browser, earliest) == "rtl" and _direction(browser, copy) == "rtl"
    title_cell = browser.find_element(By.CSS_SELECTOR, "td.id span")
    assert _direction(browser, title_cell) == "ltr"  # an id in Latin letters stays left to right

    browser.save_screenshot(str(tmp_path / "seeds.png"))
    assert (tmp_path / "seeds.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("DEDUP_UPDATE_SCREENSHOT"):
        shutil.copyfile(tmp_path / "seeds.png", SCREENSHOT)

    search = browser.find_element(By.ID, "filter")
    search.send_keys("001_77bb")
    visible = browser.find_elements(By.CSS_SELECTOR, "section.cluster:not([hidden])")
    assert len(visible) == 1 and "001_77bb04e589020bf5" in visible[0].text
    assert len(_visible_clusters(browser)) == 1
    search.clear()
    search.send_keys("no such outlet")
    assert _visible_clusters(browser) == []
    assert _errors(browser) == []


@needs_browser
def test_english_pair_in_chromium(browser: webdriver.Chrome, tmp_path: Path) -> None:
    articles = _english_articles(tmp_path)
    page = _report(articles, tmp_path, "english", "--singletons")
    _open(browser, page)
    assert _errors(browser) == []
    assert browser.execute_script("return window.__pwned === undefined;")
    assert browser.find_elements(By.CSS_SELECTOR, "td.title img, td.title b") == []
    assert EVIL_TITLE in [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "td.title")]

    earliest, copy = _compare(browser, "en-copy")
    assert _words(" ".join(_marks(earliest))) == _words(SHARED)
    assert _words(" ".join(_marks(copy))) == _words(SHARED)
    assert _direction(browser, earliest) == "ltr"

    search = browser.find_element(By.ID, "filter")
    search.send_keys("valmera daily")  # an outlet, in other letter case
    assert len(_visible_clusters(browser)) == 1
    search.clear()
    search.send_keys("en-other")
    assert len(_visible_clusters(browser)) == 1
    assert "en-other" in browser.find_element(By.CSS_SELECTOR, "section.cluster:not([hidden])").text
    assert _errors(browser) == []


@needs_browser
def test_marks_sit_on_the_given_offsets_after_letters_beyond_the_basic_plane(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    """Offsets count characters; the page's script counts UTF-16 units, and an emoji is two."""

    @dataclass(frozen=True)
    class Span:
        a_start: int
        a_end: int
        b_start: int
        b_end: int

    a = dedup.Article(id="a", text="🙂🙂 alpha beta gamma delta")
    b = dedup.Article(id="b", text="x 🙂 beta gamma, then 𝔷 delta")
    span = Span(a.text.index("beta"), a.text.index(" delta"), b.text.index("beta"), b.text.index(","))
    members = (Member(id="a", relation=Relation.EARLIEST), Member(id="b", relation=Relation.SAME_TEXT))
    cluster = Cluster(id="c-1", members=members, earliest="a", evidence=Evidence("tie_break", "first id"), why="test")
    page = tmp_path / "offsets.html"
    page.write_text(render_report([cluster], texts={"a": a, "b": b}, highlight=lambda x, y: [span]), encoding="utf-8")
    _open(browser, page)
    earliest, copy = _compare(browser, "b")
    assert _marks(earliest) == ["beta gamma"]
    assert _marks(copy) == ["beta gamma"]
    assert _errors(browser) == []
