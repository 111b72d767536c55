"""The command line: a thin wrapper over the library.

``dedup stream [--index PATH]`` reads JSON Lines on standard input and answers one verdict per line
as each article arrives. ``dedup cluster PATH`` reads articles (JSON Lines, a folder of .txt files, or - for standard input)
and writes one JSON object per cluster, singletons included (see the README for the contract), or a
readable table with ``--format table``. Bad records are reported on standard error with their line
number (or file name) and skipped, and the rest is processed. Exit status: 0 when every record was
used, 3 when some were skipped (the output is written all the same), 2 when a ``DedupError`` stops
the run (a clean message, no traceback).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, BinaryIO, TextIO

from dedup import __version__, engine
from dedup.errors import DedupError, InputError
from dedup.io import article_from_dict, parse_line, read_articles
from dedup.records import Cluster, Skip
from dedup.stream import Deduplicator


def _table(clusters: list[Cluster], out: TextIO) -> None:
    copies = [c for c in clusters if len(c) > 1]
    singles = [c for c in clusters if len(c) == 1]
    out.write(f"{len(clusters)} clusters: {len(copies)} with copies, {len(singles)} single articles\n\n")
    for c in sorted(clusters, key=lambda c: (-len(c), c.id)):
        out.write(f"{c.id}  size {len(c)}  earliest {c.earliest}  ({c.evidence.rule}: {c.evidence.detail})\n")
        for m in c.members:
            extra = ""
            if m.containment_in_earliest is not None:
                extra = f"  in earliest {m.containment_in_earliest:.2f}, earliest in it {m.earliest_in_member:.2f}"
            when = f"  [{m.time}]" if m.time else ""
            out.write(f"    {m.id:<32} {m.relation!s:<15} score {m.score:.2f}{extra}{when}\n")
        if len(c) > 1:
            out.write(f"    grouped by: {c.why}\n")
        out.write("\n")


def _workers(value: str, path: str) -> int:
    """``--workers``: a number, or ``auto`` (every core for a file over 16 MB, else one process:
    starting workers costs about a second, more than a small batch takes)."""
    if value != "auto":
        try:
            workers = int(value)
        except ValueError:
            raise InputError(f"--workers must be a number or 'auto', got {value!r}") from None
        if workers < 1:
            raise InputError(f"--workers must be 1 or more, got {workers}")
        return workers
    big = os.path.isfile(path) and os.path.getsize(path) > 16 * 2**20
    return (os.cpu_count() or 1) if big else 1


EXIT_OK, EXIT_ERROR, EXIT_SKIPPED = 0, 2, 3
_EXIT_STATUS = (
    "exit status: 0 every record was used; 3 some records were skipped (each reported on standard "
    "error with its line number or file name; the output of the others is written all the same); "
    "2 an error stopped the run"
)


def _is_pipe(path: str) -> bool:
    """Standard input, or a path that is neither a folder nor a regular file (``<(zcat x.gz)``)."""
    if path == "-":
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # read_articles reports what is wrong with it
    return not stat.S_ISDIR(mode) and not stat.S_ISREG(mode)


@contextmanager
def _spooled(path: str) -> Iterator[str]:
    """A pipe copied into a temporary file, which the batch engine reads as it reads any JSON
    Lines file: by its workers, a byte range each, with line numbers for every skip (a duplicate
    id's too), and without holding the texts in memory."""
    with tempfile.TemporaryDirectory(prefix="dedup-") as folder:
        copy = os.path.join(folder, "input.jsonl")
        try:
            with _open_pipe(path) as src, open(copy, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except OSError as exc:
            raise InputError(
                f"cannot copy {_name(path)} to a temporary file in {tempfile.gettempdir()} ({exc.strerror or exc}); "
                "set TMPDIR to a folder with room for the input, or give the path of a file"
            ) from exc
        yield copy


@contextmanager
def _open_pipe(path: str) -> Iterator[BinaryIO]:
    if path == "-":
        yield sys.stdin.buffer
    else:
        with open(path, "rb") as fh:
            yield fh


def _name(path: str) -> str:
    return "standard input" if path == "-" else path


def _cmd_cluster(args: argparse.Namespace) -> int:
    if _is_pipe(args.path):
        with _spooled(args.path) as copy:
            return _cluster(args, copy, _name(args.path))
    return _cluster(args, args.path, args.path)


def _cluster(args: argparse.Namespace, path: str, name: str) -> int:
    skips: list[Skip] = []

    def report_skip(skip: Skip) -> None:
        skips.append(skip)
        where = f"line {skip.line}" if skip.line else (skip.id or "?")
        print(f"dedup: skipped {where}: {skip.error}: {skip.message}", file=sys.stderr)

    report = None
    if args.progress:
        words = {"read": "read", "candidates": "candidate pairs:", "verify": "verified", "group": "grouped"}

        def report(stage: str, done: int, total: int | None) -> None:
            of = "" if total is None or stage == "candidates" else f"/{total:,}"
            print(f"\rdedup: {words.get(stage, stage)} {done:,}{of}\x1b[K", end="", file=sys.stderr, flush=True)

    workers = _workers(args.workers, path)
    # a JSON Lines file is read by the workers themselves; a folder through io
    source: Any = path if os.path.isfile(path) else read_articles(path, report_skip)
    batch_skips: list[Skip] = []
    clusters = engine.run(source, errors="skip", skipped=batch_skips, report=report, workers=workers)
    written = 0
    if args.format == "table":
        listed = list(clusters)
        written = len(listed)
        if args.progress:
            print(file=sys.stderr)
        _table(listed, sys.stdout)
    else:
        for c in clusters:
            sys.stdout.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
            written += 1
        if args.progress:
            print(file=sys.stderr)
    for skip in batch_skips:
        report_skip(skip)
    if written == 0:
        print(f"dedup: no articles in {name}", file=sys.stderr)
    if skips:
        print(f"dedup: {len(skips)} record(s) skipped", file=sys.stderr)
        return EXIT_SKIPPED
    return EXIT_OK


def _cmd_stream(args: argparse.Namespace) -> int:
    """One verdict per input line, written and flushed as each article arrives."""
    dedup = Deduplicator.open(args.index) if args.index else Deduplicator()
    done = failed = 0
    try:
        for number, raw in enumerate(sys.stdin.buffer, 1):
            if not raw.strip():
                continue
            try:
                article = article_from_dict(parse_line(raw, number), where=f"line {number}")
                verdict = dedup.add(article)
            except DedupError as exc:
                failed += 1
                print(
                    json.dumps({"line": number, "error": type(exc).__name__, "message": str(exc)}, ensure_ascii=False),
                    file=sys.stderr,
                    flush=True,
                )
                continue
            done += 1
            sys.stdout.write(json.dumps(verdict.to_dict(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
    finally:
        dedup.close()
    if args.progress:
        print(f"dedup: {done:,} articles, {failed:,} bad lines", file=sys.stderr)
    return EXIT_SKIPPED if failed else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dedup", description="Find copies of the same news story across outlets.", epilog=_EXIT_STATUS
    )
    parser.add_argument("--version", action="version", version=f"dedup {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "cluster",
        help="group a batch of articles into clusters of copies",
        description=(
            "Group articles into clusters of copies, each with its earliest source. PATH is a JSON "
            "Lines file (one object per line: id, text, and optionally published_at, source, url, "
            "title), a folder of .txt files (the id is the file name without .txt), or - for JSON "
            "Lines on standard input. Output: one JSON object per cluster, singletons included. "
            "A record that cannot be used is reported on standard error with its line number (or "
            "file name) and the reason, and skipped."
        ),
        epilog=_EXIT_STATUS,
    )
    p.add_argument("path", metavar="PATH", help="JSON Lines file, folder of .txt files, or -")
    p.add_argument("--format", choices=("jsonl", "table"), default="jsonl", help="output format (default: jsonl)")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=sys.stderr.isatty(),
        help="show progress on standard error (default: when it is a terminal)",
    )
    p.add_argument(
        "--workers",
        default="auto",
        metavar="N",
        help="processes sharing the work (default auto: every core for a file over 16 MB, else 1)",
    )
    p.set_defaults(func=_cmd_cluster)
    q = sub.add_parser(
        "stream",
        help="one verdict per article, as articles arrive on standard input",
        description=(
            "Read articles as JSON Lines on standard input (id, text, and optionally published_at, "
            "source, url, title) and write one verdict per line on standard output as each arrives "
            "(flushed): is_copy, copy_of, matches, cluster, earliest. A bad line is reported on "
            "standard error as JSON with its line number, and the stream goes on. With --index the "
            "index is kept in a SQLite file or a Redis server and survives restarts."
        ),
        epilog=_EXIT_STATUS.replace("records", "lines"),
    )
    q.add_argument(
        "--index",
        metavar="PATH|URL",
        help="a SQLite file to keep the index in (created if missing), or a redis://host:port/db URL "
        "for an index shared by several workers (default: in memory)",
    )
    q.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="print a summary on standard error at the end",
    )
    q.set_defaults(func=_cmd_stream)
    s = sub.add_parser(
        "spark",
        help="the same clustering as an Apache Spark job (needs dedup[spark] and Java): dedup spark --help",
        add_help=False,
    )
    s.add_argument("args", nargs=argparse.REMAINDER)
    s.set_defaults(func=_cmd_spark)
    return parser


def _cmd_spark(args: argparse.Namespace) -> int:
    from dedup.spark import main as spark_main

    return spark_main(args.args)


class _Notice(logging.Handler):
    """Prints the kernels' one-line notice (``kernels.COMPILE_NOTICE``) on standard error."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"dedup: {record.getMessage()}", file=sys.stderr, flush=True)


def _print_kernel_notices() -> None:
    log = logging.getLogger("dedup.kernels")
    if not any(isinstance(h, _Notice) for h in log.handlers):
        log.addHandler(_Notice(logging.INFO))
        log.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _print_kernel_notices()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except DedupError as exc:
        print(f"dedup: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
