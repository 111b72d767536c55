"""One article at a time, as a crawler would: print each verdict as it comes.

Run: python examples/crawler_stream.py seeds
"""

from __future__ import annotations

import sys
from pathlib import Path

import dedup


def main(folder: str) -> None:
    d = dedup.Deduplicator()
    for path in sorted(Path(folder).glob("*.txt")):
        try:
            verdict = d.add(dedup.Article(id=path.stem, text=path.read_text(encoding="utf-8")))
        except dedup.InputError as exc:
            print(f"skipped {path.name}: {exc}", file=sys.stderr)
            continue
        if verdict.is_copy:
            best = verdict.matches[0]
            print(f"{path.stem}: copy of {', '.join(verdict.copy_of)} ({best.relation}, score {best.score:.2f})")
        else:
            print(f"{path.stem}: new story")
    for cluster in d.clusters():
        if len(cluster) > 1:
            print(f"group {cluster.id}: {', '.join(cluster.member_ids)}; earliest {cluster.earliest}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "seeds")
