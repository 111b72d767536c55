"""Reading articles from files: JSON Lines or a folder of .txt files.

Bad records never stop a batch: each becomes a :class:`~dedup.records.Skip` with its line number (or
file name) and the reason, handed to ``on_skip``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from dedup.errors import DedupError, InputError, InvalidRecordError
from dedup.records import Article, Skip

ARTICLE_FIELDS = ("id", "text", "published_at", "source", "url", "title")


def article_from_dict(record: Any, *, where: str = "record") -> Article:
    """Build an Article from a JSON object (numeric ids are accepted and turned into strings)."""
    if not isinstance(record, dict):
        raise InvalidRecordError(f"{where}: expected a JSON object with 'id' and 'text', got {type(record).__name__}")
    missing = [k for k in ("id", "text") if k not in record]
    if missing:
        raise InvalidRecordError(f"{where}: missing field(s) {', '.join(missing)}; every article needs 'id' and 'text'")
    art_id = record["id"]
    if isinstance(art_id, int) and not isinstance(art_id, bool):
        art_id = str(art_id)
    fields: dict[str, Any] = {k: record[k] for k in ARTICLE_FIELDS if k in record}
    fields["id"] = art_id
    return Article(**fields)


def parse_line(raw: bytes, number: int) -> Any:
    """One JSON Lines record, or an ``InvalidRecordError`` naming the line."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRecordError(f"line {number}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidRecordError(f"line {number}: invalid JSON ({exc.msg} at column {exc.colno})") from exc


def read_jsonl(stream: BinaryIO, on_skip: Callable[[Skip], None]) -> Iterator[Article]:
    """Articles from JSON Lines; a bad line is reported with its number and skipped."""
    for number, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        record: Any = None
        try:
            record = parse_line(raw, number)
            article = article_from_dict(record, where=f"line {number}")
        except DedupError as exc:
            rid = record.get("id") if isinstance(record, dict) else None
            on_skip(
                Skip(
                    id=None if rid is None else str(rid),
                    error=type(exc).__name__,
                    message=str(exc),
                    line=number,
                )
            )
            continue
        yield article


def read_folder(folder: Path, on_skip: Callable[[Skip], None]) -> Iterator[Article]:
    """Articles from the .txt files of a folder (sorted); the id is the file name without .txt."""
    for path in sorted(folder.glob("*.txt")):
        try:
            # Article decodes UTF-8 bytes itself and says so clearly when they do not decode.
            yield Article(id=path.stem, text=path.read_bytes())  # type: ignore[arg-type]
        except InputError as exc:
            on_skip(Skip(id=path.stem, error=type(exc).__name__, message=f"{path.name}: {exc}"))


def read_articles(path: str, on_skip: Callable[[Skip], None]) -> Iterator[Article]:
    """Articles from ``path``: ``-`` (JSON Lines on standard input), a .jsonl file or a folder."""
    if path == "-":
        yield from read_jsonl(sys.stdin.buffer, on_skip)
        return
    p = Path(path)
    if p.is_dir():
        yield from read_folder(p, on_skip)
    elif p.is_file():
        with p.open("rb") as fh:
            yield from read_jsonl(fh, on_skip)
    else:
        raise InputError(f"{path}: no such file or folder; give a JSON Lines file, a folder of .txt files, or -")
