"""A real Scrapy crawl of seed pages served on loopback, through the dedup pipeline."""

import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import dedup

pytest.importorskip("scrapy", reason="the scrapy extra is part of the dev extra: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import load_seeds  # noqa: E402
from pages import page  # noqa: E402

SPIDER = textwrap.dedent(
    """
    import sys
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class Site(scrapy.Spider):
        name = "site"
        start_urls = [sys.argv[1]]

        def parse(self, response):
            for href in response.css("a.story::attr(href)").getall():
                yield response.follow(href, self.story)

        def story(self, response):
            yield {"url": response.url, "html": response.text}

    class Chain(scrapy.Spider):
        # one page after the other, each page's item before the next page is fetched: the order of
        # arrival is the order of the "next" links
        name = "chain"
        start_urls = [sys.argv[1]]

        def parse(self, response):
            yield {"url": response.url, "html": response.text}
            for href in response.css("a.next::attr(href)").getall():
                yield response.follow(href, self.parse)

    process = CrawlerProcess(settings={
        "ITEM_PIPELINES": {"dedup.fronts.scrapy.DedupPipeline": 300},
        "DEDUP_INDEX": sys.argv[2],
        "DEDUP_DROP_COPIES": sys.argv[4] == "drop",
        "FEEDS": {sys.argv[3]: {"format": "jsonlines", "fields": ["url", "dedup"]}},
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "CONCURRENT_REQUESTS": 1,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    })
    process.crawl(Chain if sys.argv[5] == "chain" else Site)
    process.start()
    """
)


@pytest.fixture
def site(tmp_path: Path):
    root = tmp_path / "site"
    root.mkdir()
    links = []
    for n, article in enumerate(load_seeds()):
        date = "2017-01-29T10:00:00+00:00" if article.id.startswith("000") else None
        title = article.text.strip().split("\n", 1)[0][:80]
        (root / f"{article.id}.html").write_text(page(title, article.text, date=date), encoding="utf-8")
        links.append(f'<li><a class="story" href="/{article.id}.html">story {n}</a></li>')
    (root / "index.html").write_text(f"<html><body><ul>{''.join(links)}</ul></body></html>", encoding="utf-8")
    with _served(root) as base:
        yield f"{base}/index.html"


@contextmanager
def _served(root: Path) -> Iterator[str]:
    handler = partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _crawl(url: str, tmp_path: Path, mode: str, spider: str = "site") -> list[dict]:
    return _crawl_logged(url, tmp_path, mode, spider)[0]


def _crawl_logged(url: str, tmp_path: Path, mode: str, spider: str) -> tuple[list[dict], str]:
    """The exported items, in the order the pipeline passed them on, and the crawl's log."""
    out = tmp_path / f"items-{mode}.jsonl"
    index = tmp_path / f"crawl-{mode}.sqlite"
    script = tmp_path / "crawl.py"  # scrapy reads the spider's source, so it must be a file
    script.write_text(SPIDER, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), url, str(index), str(out), mode, spider],
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()], done.stderr


@pytest.mark.slow
def test_crawl_tags_copies(site: str, tmp_path: Path) -> None:
    items = _crawl(site, tmp_path, "tag")
    by_id = {Path(i["url"]).stem: i["dedup"] for i in items}  # the pipeline identifies items by URL

    def stems(urls: list[str]) -> list[str]:
        return [Path(u).stem for u in urls]

    assert len(by_id) == 5
    pair = (stems(by_id["002_2c2c9388f5a9e12b"]["copy_of"]), stems(by_id["000_ab6823a46153965b"]["copy_of"]))
    assert pair in ((["000_ab6823a46153965b"], []), ([], ["002_2c2c9388f5a9e12b"]))
    # whichever came second is tagged as the copy, and names 000 as earliest (its page is dated)
    second = next(v for v in by_id.values() if v["is_copy"])
    assert Path(second["earliest"]).stem == "000_ab6823a46153965b"
    assert not any(
        by_id[k]["is_copy"] for k in ("001_77bb04e589020bf5", "003_76ddf5ff940c1963", "004_3a34eed36ca8e033")
    )


@pytest.mark.slow
def test_crawl_drops_copies(site: str, tmp_path: Path) -> None:
    items = _crawl(site, tmp_path, "drop")
    order = [Path(i["url"]).stem for i in items]
    # 000 is the earliest source (its page is dated), so it is kept in either order of arrival; 002,
    # its copy, is dropped if it comes second and passed on (then corrected by 000) if it comes first
    assert {"000_ab6823a46153965b", "001_77bb04e589020bf5", "003_76ddf5ff940c1963", "004_3a34eed36ca8e033"} <= set(
        order
    )
    original = items[order.index("000_ab6823a46153965b")]["dedup"]
    if "002_2c2c9388f5a9e12b" in order:
        assert order.index("002_2c2c9388f5a9e12b") < order.index("000_ab6823a46153965b")
        assert [Path(u).stem for u in original["corrects"]] == ["002_2c2c9388f5a9e12b"]
    else:
        assert original["corrects"] == []
    assert len(order) == 5 if "002_2c2c9388f5a9e12b" in order else len(order) == 4


# The wire story, an outlet's copy of it dated the next day, and a later copy of it, each page linking
# to the next: the crawl fetches the copy first, then the wire story, then the later copy.
WIRE_DAY = [
    ("copy", "002_2c2c9388f5a9e12b", "2017-01-30T08:00:00+00:00", "Harbour Post"),
    ("wire", "000_ab6823a46153965b", "2017-01-29T09:05:00+00:00", "Wire Service"),
    ("later", "000_ab6823a46153965b", "2017-01-30T12:00:00+00:00", "Valley Times"),
]


@pytest.fixture(scope="module")
def copy_first_crawl(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict], list[str], str]:
    """The crawl of WIRE_DAY with DEDUP_DROP_COPIES: the exported verdicts by page name, the pages in
    the order they were passed on, and the crawl's log."""
    tmp_path = tmp_path_factory.mktemp("wire-day")
    root = tmp_path / "site"
    root.mkdir()
    texts = {a.id: a.text for a in load_seeds()}
    for (name, seed, date, outlet), following in zip(WIRE_DAY, [*WIRE_DAY[1:], None], strict=True):
        text = texts[seed]
        title = text.strip().split("\n", 1)[0][:80]
        link = f' <a class="next" href="/{following[0]}.html">next</a>' if following else ""
        html = page(title, text, date=date, site=outlet, links=link)
        (root / f"{name}.html").write_text(html, encoding="utf-8")
    with _served(root) as base:
        items, log = _crawl_logged(f"{base}/copy.html", tmp_path, "drop", "chain")
    order = [Path(i["url"]).stem for i in items]
    return {Path(i["url"]).stem: i["dedup"] for i in items}, order, log


@pytest.mark.slow
def test_crawl_keeps_an_original_fetched_after_its_copy(
    copy_first_crawl: tuple[dict[str, dict], list[str], str],
) -> None:
    by_name, order, log = copy_first_crawl
    # the copy arrived first, a copy of nothing yet: passed on; the wire story arrived second, a copy by
    # arrival, but it is the earliest source: kept, marked, and it corrects the copy's earliest
    assert order[:2] == ["copy", "wire"]
    wire = by_name["wire"]
    assert wire["is_copy"] is True
    assert [Path(u).stem for u in wire["copy_of"]] == ["copy"]
    assert Path(wire["earliest"]).stem == "wire"
    assert wire["relation"] == "earliest"
    assert [Path(u).stem for u in wire["corrects"]] == ["copy"]
    assert Path(by_name["copy"]["earliest"]).stem == "copy"  # as passed on, before the correction
    assert by_name["copy"]["corrects"] == []
    correction = next(line for line in log.splitlines() if "changes the earliest source" in line)
    assert "[dedup.fronts.scrapy] INFO" in correction
    assert correction.endswith("with earliest " + wire["corrects"][0] + " now have earliest " + wire["earliest"])


@pytest.mark.slow
def test_crawl_drops_a_later_copy(copy_first_crawl: tuple[dict[str, dict], list[str], str]) -> None:
    by_name, order, log = copy_first_crawl
    # the later copy, published after the wire story, was fetched and dropped (scrapy logs the
    # dropped item on the lines after its reason)
    assert order == ["copy", "wire"]
    dropped = log.split("Dropped: copy of", 1)[1]
    assert dropped.split("\n", 1)[0].endswith(f"(earliest {by_name['wire']['earliest']})")
    assert "/later.html" in dropped


def test_pipeline_without_dropping_corrects_and_marks_the_original(caplog: pytest.LogCaptureFixture) -> None:
    from dedup.fronts.scrapy import DedupPipeline

    texts = {a.id: a.text for a in load_seeds()}
    pipeline = DedupPipeline()
    pipeline.open_spider()
    copy = pipeline.process_item({"url": "copy", "text": texts["002_2c2c9388f5a9e12b"], "published_at": "2017-01-30"})
    with caplog.at_level("INFO", logger="dedup.fronts.scrapy"):
        wire = pipeline.process_item(
            {"url": "wire", "text": texts["000_ab6823a46153965b"], "published_at": "2017-01-29"}
        )
    later = pipeline.process_item({"url": "later", "text": texts["000_ab6823a46153965b"], "published_at": "2017-01-31"})
    pipeline.close_spider()
    assert copy["dedup"]["corrects"] == [] and copy["dedup"]["relation"] is None
    assert wire["dedup"] | {"cluster": None} == {
        "is_copy": True,
        "copy_of": ["copy"],
        "cluster": None,
        "earliest": "wire",
        "relation": "earliest",
        "corrects": ["copy"],
    }
    assert [r.getMessage() for r in caplog.records] == [
        "wire changes the earliest source of cluster "
        f"{wire['dedup']['cluster']} to wire: items passed on before with earliest copy now have earliest wire"
    ]
    # a later copy keeps the relation of its best match, and corrects nothing
    assert later["dedup"]["earliest"] == "wire" and later["dedup"]["relation"] == "same_text"
    assert later["dedup"]["corrects"] == []


def test_pipeline_window_settings() -> None:
    from scrapy.settings import Settings

    import dedup
    from dedup.fronts.scrapy import DedupPipeline

    class Crawler:
        def __init__(self, values: dict) -> None:
            self.settings = Settings(values)

    assert DedupPipeline.from_crawler(Crawler({})).window is None
    made = DedupPipeline.from_crawler(Crawler({"DEDUP_WINDOW_DAYS": "2", "DEDUP_WINDOW_ARTICLES": 10}))
    assert made.window == dedup.Window(days=2.0, articles=10)
    with pytest.raises(dedup.DedupError, match="DEDUP_WINDOW_DAYS"):
        DedupPipeline.from_crawler(Crawler({"DEDUP_WINDOW_DAYS": "a week"}))
    with pytest.raises(dedup.ConfigError, match=r"Window\.days"):
        DedupPipeline.from_crawler(Crawler({"DEDUP_WINDOW_DAYS": -1}))
    texts = {a.id: a.text for a in load_seeds()}
    pipeline = DedupPipeline(window=dedup.Window(days=1))
    pipeline.open_spider()
    first = pipeline.process_item({"url": "a", "text": texts["000_ab6823a46153965b"], "published_at": "2017-01-29"})
    late = pipeline.process_item({"url": "b", "text": texts["000_ab6823a46153965b"], "published_at": "2017-02-03"})
    pipeline.close_spider()
    assert not first["dedup"]["is_copy"] and not late["dedup"]["is_copy"]  # five days apart: out of the window


def test_an_item_class_without_the_verdict_field_is_refused_before_its_article_is_indexed() -> None:
    import scrapy

    from dedup.fronts.scrapy import DedupPipeline

    class News(scrapy.Item):
        url = scrapy.Field()
        text = scrapy.Field()

    class Tagged(News):
        dedup = scrapy.Field()

    text = load_seeds()[0].text
    pipeline = DedupPipeline()
    pipeline.open_spider()
    with pytest.raises(dedup.ConfigError, match=r"News items have no field 'dedup'.*DEDUP_VERDICT_FIELD"):
        pipeline.process_item(News(url="a", text=text))
    assert len(pipeline._deduplicator()) == 0  # not indexed
    tagged = pipeline.process_item(Tagged(url="a", text=text))
    pipeline.close_spider()
    assert tagged["dedup"]["is_copy"] is False and tagged["dedup"]["earliest"] == "a"


def test_pipeline_saves_the_index_state_as_the_crawl_runs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from scrapy.settings import Settings

    from dedup.fronts.scrapy import DedupPipeline
    from dedup.runners.stream import state

    index = tmp_path / "crawl.sqlite"

    class Crawler:
        settings = Settings({"DEDUP_INDEX": str(index), "DEDUP_SAVE_STATE_MINUTES": "0.000001"})

    pipeline = DedupPipeline.from_crawler(Crawler())
    pipeline.open_spider()
    for article in load_seeds():
        pipeline.process_item({"url": article.id, "text": article.text})
        # saved after each item (every item takes longer than the interval): a crash now loses nothing
        assert state.path_of(index).read_bytes().endswith(b"dedup-state-interim")
    crashed = tmp_path / "crashed.sqlite"
    for suffix in ("", "-wal", ".state"):
        Path(f"{crashed}{suffix}").write_bytes(Path(f"{index}{suffix}").read_bytes())
    pipeline.close_spider()
    with caplog.at_level("INFO", logger="dedup"), dedup.Deduplicator.open(crashed, read_only=True) as again:
        assert len(again) == 5
    assert any(r.getMessage().endswith("(from the state saved beside it)") for r in caplog.records)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"DEDUP_INDEX": "crawl.sqlite", "DEDUP_SAVE_STATE_MINUTES": "soon"}, "must be a number of minutes"),
        ({"DEDUP_INDEX": "crawl.sqlite", "DEDUP_SAVE_STATE_MINUTES": -5}, "a positive number of minutes"),
        ({"DEDUP_INDEX": "crawl.sqlite", "DEDUP_SAVE_STATE_MINUTES": True}, "not a flag"),
        ({"DEDUP_SAVE_STATE_MINUTES": 30}, "give the index as a SQLite file"),
        ({"DEDUP_INDEX": "redis://127.0.0.1:6379/0", "DEDUP_SAVE_STATE_MINUTES": 30}, "a Redis worker reads"),
    ],
)
def test_pipeline_refuses_a_save_state_setting_it_cannot_follow(settings: dict, message: str) -> None:
    from scrapy.settings import Settings

    from dedup.fronts.scrapy import DedupPipeline

    class Crawler:
        pass

    Crawler.settings = Settings(settings)  # type: ignore[attr-defined]
    with pytest.raises(dedup.DedupError, match=message):
        DedupPipeline.from_crawler(Crawler())
