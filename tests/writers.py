"""A writer process for the kill -9 tests of the SQLite index: it adds the articles of a JSON Lines
file to the index, printing ``ack ID`` once each add has returned, and ``done`` at the end."""

import textwrap

WRITER = textwrap.dedent(
    """
    import json, sys
    import dedup
    records = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
    with dedup.Deduplicator.open(sys.argv[1]) as d:
        for r in records:
            d.add(dedup.Article(id=r["id"], text=r["text"]))
            print("ack", r["id"], flush=True)
    print("done", flush=True)
    """
)
