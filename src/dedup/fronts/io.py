"""Reading articles from files: JSON Lines or a folder of .txt files.

Bad records never stop a batch: each becomes a :class:`~dedup.records.Skip` with its line number (or
file name) and the reason, handed to ``on_skip``.
"""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from dedup.errors import DedupError, InputError, InvalidRecordError
from dedup.records import Article, Skip

ARTICLE_FIELDS = ("id", "text", "published_at", "source", "url", "title")

_BOM = "\ufeff"


def article_from_dict(record: Any, *, where: str = "record") -> Article:
    """Build an Article from a JSON object (numeric ids are accepted and turned into strings).
    Raises an ``InputError`` for anything that is not a usable article."""
    if not isinstance(record, dict):
        raise InvalidRecordError(f"{where}: expected a JSON object with 'id' and 'text', got {type(record).__name__}")
    missing = [k for k in ("id", "text") if k not in record]
    if missing:
        raise InvalidRecordError(f"{where}: missing field(s) {', '.join(missing)}; every article needs 'id' and 'text'")
    art_id = record["id"]
    if isinstance(art_id, int) and not isinstance(art_id, bool):
        try:
            art_id = str(art_id)
        except ValueError as exc:  # more digits than int-to-str conversion allows
            raise InvalidRecordError(
                f"{where}: the id is a number too long to read ({exc}); give ids as strings"
            ) from exc
    fields: dict[str, Any] = {k: record[k] for k in ARTICLE_FIELDS if k in record}
    fields["id"] = art_id
    return Article(**fields)


def parse_line(raw: bytes, number: int) -> Any:
    """One JSON Lines record, or an ``InvalidRecordError`` naming the line. A UTF-8 byte order mark
    at the start of the line is dropped: editors write one at the start of a file, and files
    joined with ``cat`` carry it into the middle."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRecordError(f"line {number}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if line.startswith(_BOM):
        line = line[1:]
    line = line.rstrip("\r\n")  # (the line's end is no part of the record: positions stay on the line)
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        what = exc.msg.removesuffix(" at")  # ("Invalid control character at": the position follows)
        where = "at the end of the line: is it cut short?" if exc.pos >= len(line) else f"at column {exc.colno}"
        raise InvalidRecordError(f"line {number}: invalid JSON ({what} {where})") from exc
    except RecursionError:
        raise InvalidRecordError(
            f"line {number}: JSON nested too deeply to read; an article is one object of strings"
        ) from None
    except ValueError as exc:  # an integer of more digits than int-to-str conversion allows
        reason = str(exc).split(";")[0]
        raise InvalidRecordError(
            f"line {number}: a number in it cannot be read ({reason}); write it as a string"
        ) from exc


def _skip_id(record: Any) -> str | None:
    """The id of a rejected record, when it is one worth quoting."""
    rid = record.get("id") if isinstance(record, dict) else None
    if isinstance(rid, int) and not isinstance(rid, bool):
        return str(rid)
    if isinstance(rid, str) and rid.isprintable() and len(rid) <= 200:
        return rid
    return None


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
            on_skip(Skip(id=_skip_id(record), error=type(exc).__name__, message=str(exc), line=number))
            continue
        except Exception as exc:  # one record must not stop the rest, whatever is wrong with it
            on_skip(
                Skip(
                    id=_skip_id(record),
                    error=InvalidRecordError.__name__,
                    message=f"line {number}: cannot be read ({type(exc).__name__}: {exc})",
                    line=number,
                )
            )
            continue
        yield article


def _folder_skip(path: Path, reason: str, *, named: bool = True) -> Skip:
    # a name that is not UTF-8 is shown with its undecodable bytes escaped (\udcff)
    shown = path.name.encode("utf-8", "backslashreplace").decode("utf-8")
    return Skip(id=path.stem if named else None, error=InvalidRecordError.__name__, message=f"{shown}: {reason}")


def _read_file(path: Path) -> Article | Skip:
    """The article of one .txt file of a folder, or why it cannot be read."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        return _folder_skip(path, "the file name is not valid UTF-8; rename the file (its name is the id)", named=False)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return _folder_skip(path, "not a regular file (a folder, pipe or device); only files are read")
        data = path.read_bytes()
    except OSError as exc:
        hint = "; it is a symbolic link: fix or remove it" if path.is_symlink() else ""
        return _folder_skip(path, f"cannot be read ({exc.strerror or exc}){hint}")
    try:
        # Article decodes UTF-8 bytes itself and says so clearly when they do not decode.
        return Article(id=path.stem, text=data)  # type: ignore[arg-type]
    except InputError as exc:
        return Skip(id=path.stem, error=type(exc).__name__, message=f"{path.name}: {exc}")


def read_folder(folder: Path, on_skip: Callable[[Skip], None]) -> Iterator[Article]:
    """Articles from the .txt files of a folder (sorted; the suffix in any case, ``.TXT`` too); the
    id is the file name without it. An entry that cannot be read (a broken symbolic link, a folder
    named ``x.txt``, a file without read permission) is skipped with its name."""
    try:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".txt")
    except OSError as exc:
        raise InputError(f"{folder}: cannot list the folder ({exc.strerror or exc}); check its permissions") from exc
    for path in paths:
        outcome = _read_file(path)
        if isinstance(outcome, Skip):
            on_skip(outcome)
        else:
            yield outcome


# The first bytes of files often taken for JSON Lines, and what to do with them instead.
_OTHER_FORMATS = (
    (b"PAR1", "a Parquet file: read it with pyarrow.parquet.read_table and give the table to dedup.cluster, or run "
     "dedup spark on it"),
    (b"\x1f\x8b", "gzip-compressed: decompress it first, or on the way: zcat FILE | dedup cluster -"),
    (b"PK\x03\x04", "a zip archive: extract its JSON Lines files first"),
)  # fmt: skip


def refuse_other_formats(fh: BinaryIO, path: str) -> None:
    """Refuse a file whose first bytes say it is not JSON Lines (a Parquet file, a compressed one),
    instead of reporting each of its lines as a bad record. ``fh`` is at the start of the file and
    is left there: a pipe is looked at through its buffer (``peek``), or not at all."""
    if fh.seekable():
        head = fh.read(4)
        fh.seek(0)
    elif hasattr(fh, "peek"):
        head = fh.peek(4)[:4]
    else:
        return
    for magic, what in _OTHER_FORMATS:
        if head.startswith(magic):
            raise InputError(f"{path}: is {what}")


def read_articles(path: str, on_skip: Callable[[Skip], None]) -> Iterator[Article]:
    """Articles from ``path``: ``-`` (JSON Lines on standard input), a folder, or a JSON Lines file
    (a pipe such as ``<(zcat x.jsonl.gz)`` too)."""
    if path == "-":
        yield from read_jsonl(sys.stdin.buffer, on_skip)
        return
    p = Path(path)
    try:
        is_dir = stat.S_ISDIR(p.stat().st_mode)
    except FileNotFoundError:
        raise InputError(
            f"{path}: no such file or folder; give a JSON Lines file, a folder of .txt files, or -"
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); check its permissions") from exc
    if is_dir:
        yield from read_folder(p, on_skip)
        return
    try:
        fh = p.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); check its permissions") from exc
    with fh:
        refuse_other_formats(fh, path)
        yield from read_jsonl(fh, on_skip)
