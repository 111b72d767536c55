"""Settings for a Scrapy project that deduplicates as it crawls (copy into your settings.py).

Run a crawl with them, for example: scrapy runspider my_spider.py -s DEDUP_INDEX=crawl.sqlite
Items need a "url" and the page's "html" (or its "text"); each gets item["dedup"] with the verdict.
"""

ITEM_PIPELINES = {"dedup.fronts.scrapy.DedupPipeline": 300}
DEDUP_INDEX = "crawl.sqlite"  # a SQLite file, a redis://host:port/db URL, or None for memory
DEDUP_DROP_COPIES = False  # True: copies are dropped instead of passed on tagged
DEDUP_HTML_FIELD = "html"
DEDUP_TEXT_FIELD = "text"
DEDUP_ID_FIELD = "url"
