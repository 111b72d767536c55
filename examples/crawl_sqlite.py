"""A crawler's loop with a persistent index: run it twice, the second run remembers the first.

    python examples/crawl_sqlite.py seeds crawl.sqlite
    python examples/crawl_sqlite.py html crawl.sqlite    # a folder of .html pages

Reads the .txt files (or .html pages, with the html extra) of a folder one at a time, as a crawler
would hand them over, and keeps the index in a SQLite file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dedup


def article_from(path: Path) -> dedup.Article:
    if path.suffix in {".html", ".htm"}:
        from dedup.fronts.html import article_from_html

        return article_from_html(path.read_bytes(), id=path.stem, url=path.as_uri())
    return dedup.Article(id=path.stem, text=path.read_text(encoding="utf-8"))


def main(folder: str, index: str) -> None:
    with dedup.Deduplicator.open(index) as d:
        print(f"{len(d)} articles already indexed in {index}")
        # absolute paths: a page's url is a file URI, and a relative path has none
        for path in sorted(Path(folder).resolve().iterdir()):
            if path.suffix not in {".txt", ".html", ".htm"}:
                continue
            try:
                verdict = d.add(article_from(path))
            except dedup.DedupError as exc:
                print(f"skipped {path.name}: {exc}", file=sys.stderr)
                continue
            if verdict.already_indexed:
                state = "seen before"
            elif verdict.is_copy:
                state = f"copy of {', '.join(verdict.copy_of)}; earliest {verdict.cluster.earliest}"
            else:
                state = "new story"
            print(f"{path.stem}: {state}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "seeds", sys.argv[2] if len(sys.argv) > 2 else "crawl.sqlite")
