"""HTML pages made from article texts, with site furniture around them, for crawler tests."""

import html as html_lib


def page(title: str, text: str, *, date: str | None = None, site: str = "Coastal Daily", links: str = "") -> str:
    paragraphs = "".join(f"<p>{html_lib.escape(p)}</p>" for p in text.split("\n") if p.strip())
    meta = f'<meta property="article:published_time" content="{date}">' if date else ""
    return (
        f"<html><head><meta charset='utf-8'><title>{html_lib.escape(title)} | {site}</title>{meta}</head><body>"
        f'<nav><a href="/">Home</a> | <a href="/news">News</a> | <a href="/sport">Sport</a></nav>'
        f'<div class="share">Share on Facebook · Share on Twitter</div>'
        f"<article><h1>{html_lib.escape(title)}</h1>{paragraphs}</article>"
        f'<aside>Read more: <a href="/x">Another story entirely</a>{links}</aside>'
        f"<footer>About us: {site} is an independent newspaper. Copyright 2024. All rights reserved.</footer>"
        "</body></html>"
    )
