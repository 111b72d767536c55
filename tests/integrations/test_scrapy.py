"""A real Scrapy crawl of seed pages served on loopback, through the dedup pipeline."""

import json
import subprocess
import sys
import textwrap
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

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

    process = CrawlerProcess(settings={
        "ITEM_PIPELINES": {"dedup.fronts.scrapy.DedupPipeline": 300},
        "DEDUP_INDEX": sys.argv[2],
        "DEDUP_DROP_COPIES": sys.argv[4] == "drop",
        "FEEDS": {sys.argv[3]: {"format": "jsonlines", "fields": ["url", "dedup"]}},
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "CONCURRENT_REQUESTS": 1,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    })
    process.crawl(Site)
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
    handler = partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _crawl(url: str, tmp_path: Path, mode: str) -> list[dict]:
    out = tmp_path / f"items-{mode}.jsonl"
    index = tmp_path / f"crawl-{mode}.sqlite"
    script = tmp_path / "crawl.py"  # scrapy reads the spider's source, so it must be a file
    script.write_text(SPIDER, encoding="utf-8")
    subprocess.run([sys.executable, str(script), url, str(index), str(out), mode], check=True, timeout=120)
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


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
    kept = {Path(i["url"]).stem for i in items}
    assert len(kept) == 4  # one of 000 and 002 is dropped as the other's copy
    assert {"001_77bb04e589020bf5", "003_76ddf5ff940c1963", "004_3a34eed36ca8e033"} <= kept
