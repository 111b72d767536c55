"""The command line: a thin wrapper over the library.

``dedup cluster PATH`` reads articles (a JSON Lines file, a folder of .txt, .jsonl or .html files,
or - for standard input) and writes one JSON object per cluster, singletons included (see the README
for the contract), or a readable table with ``--format table``. ``dedup stream [FILE]`` reads JSON
Lines (a file, or standard input) and answers one verdict per line as each article arrives. ``dedup
spark`` runs the batch as a Spark job (``dedup.runners.spark``). Bad records are reported on standard error
with their line number (or file name) and skipped, and the rest is processed. Exit status: 0 when
every record was used, 3 when some were skipped (the output is written all the same), 2 when a
``DedupError`` stops the run (a clean message, no traceback).
"""

from __future__ import annotations

import argparse
import bisect
import errno
import json
import logging
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from dedup import __version__, api
from dedup._collector import short_gc_pauses
from dedup.config import DedupConfig, Window
from dedup.errors import ConfigError, DedupError, InputError, InvalidRecordError, MissingExtraError
from dedup.fronts import present
from dedup.fronts.io import article_from_dict, parse_line, read_articles, read_jsonl, refuse_other_formats
from dedup.fronts.saving import StateSaving
from dedup.records import Article, Cluster, Member, Relation, Skip
from dedup.runners import spark
from dedup.runners.stream import Deduplicator
from dedup.stages import explain
from dedup.stores.sqlite import config_from_json, config_to_json

EXIT_OK, EXIT_ERROR, EXIT_SKIPPED = 0, 2, 3
_EXIT_STATUS = (
    "exit status: 0 every record was used; 3 some records were skipped (each reported on standard "
    "error with its line number or file name; the output of the others is written all the same); "
    "2 an error stopped the run"
)

# -- settings ---------------------------------------------------------------------------------


def read_config(path: str) -> DedupConfig:
    """The settings in a JSON file: a whole ``DedupConfig`` as an index stores it (``dedup.stores.sqlite.
    config_to_json``), or any part of one (``{"minhash": {"threshold": 0.6}}``); what is left out
    keeps its default. An unknown section or setting is an error, not ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"--config {path}: cannot be read ({reason}); give a JSON file of settings") from exc
    try:
        given = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"--config {path}: invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            'write the settings as {"minhash": {"threshold": 0.6}}'
        ) from exc
    defaults: dict[str, Any] = json.loads(config_to_json(DedupConfig()))
    if not isinstance(given, dict):
        raise ConfigError(f"--config {path}: expected a JSON object of sections, got {type(given).__name__}")
    merged = dict(defaults)
    for name, value in given.items():
        if name not in defaults:
            raise ConfigError(f"--config {path}: unknown section {name!r}; the sections are {', '.join(defaults)}")
        if isinstance(defaults[name], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"--config {path}: {name} must be an object of settings, got {value!r}")
            unknown = sorted(set(value) - set(defaults[name]))
            if unknown:
                raise ConfigError(
                    f"--config {path}: unknown setting(s) {', '.join(unknown)} in {name}; "
                    f"its settings are {', '.join(defaults[name])}"
                )
            merged[name] = {**defaults[name], **value}
        else:
            merged[name] = value
    try:
        return config_from_json(json.dumps(merged))
    except ConfigError as exc:
        raise ConfigError(f"--config {path}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--config {path}: {exc}") from exc


# -- progress on standard error ---------------------------------------------------------------


class ProgressLines:
    """Progress lines on standard error. On a terminal one line is rewritten in place (a carriage
    return and an erase-line code); elsewhere (a log file, a pipe) plain lines are written, one
    every ``every`` seconds, so that no control code lands in a log."""

    def __init__(self, out: TextIO, *, every: float = 10.0, quiet_for: float = 0.0) -> None:
        """``quiet_for``: no line before that many seconds have passed (work that is usually
        quick says nothing)."""
        self.out = out
        self.live = out.isatty()
        self.every = every if not self.live else 0.1
        self.started = self.last = time.monotonic()
        self.last += max(quiet_for - self.every, 0.0)
        self.shown = False

    def update(self, text: str) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        self._write(text)

    def finish(self, text: str) -> None:
        self._write(text)
        if self.live:
            self.out.write("\n")
            self.out.flush()

    def _write(self, text: str) -> None:
        if self.live:
            self.out.write(f"\rdedup: {text}\x1b[K")
        else:
            self.out.write(f"dedup: {text}\n")
        self.out.flush()
        self.shown = True

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


def reading_back(progress: ProgressLines) -> Callable[[int, int | None], None]:
    """The ``progress`` of ``Deduplicator.open``, shown on ``progress``'s lines."""

    def shown(done: int, total: int | None) -> None:
        of = "" if total is None else f" of {total:,}"
        progress.update(f"reading the index back: {done:,}{of} articles")

    return shown


# -- input ------------------------------------------------------------------------------------

_TEXT, _JSONL, _HTML = (".txt",), (".jsonl", ".ndjson"), (".html", ".htm")


@dataclass
class _Input:
    """Articles ready for the batch engine: the path of a JSON Lines file (read by the workers) or
    an iterator, and how to name a skipped line of the file (a folder of JSON Lines files is read
    as one file, each line named by its own file and line)."""

    source: str | Iterator[Article]
    name: str
    snippets: dict[str, str]  # filled while an iterator is read, for the table
    lines: Callable[[Skip], Skip] = lambda skip: skip

    def jsonl(self) -> str | None:
        return self.source if isinstance(self.source, str) else None


def _is_pipe(path: str) -> bool:
    """Standard input, or a path that is neither a folder nor a regular file (``<(zcat x.gz)``)."""
    if path == "-":
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # read_articles reports what is wrong with it
    return not stat.S_ISDIR(mode) and not stat.S_ISREG(mode)


def _name(path: str) -> str:
    return "standard input" if path == "-" else path


@contextmanager
def _open_pipe(path: str) -> Iterator[BinaryIO]:
    if path == "-":
        yield sys.stdin.buffer
    else:
        with open(path, "rb") as fh:
            yield fh


def _copy_error(what: str, exc: OSError) -> InputError:
    return InputError(
        f"cannot copy {what} to a temporary file in {tempfile.gettempdir()} ({exc.strerror or exc}); "
        "set TMPDIR to a folder with room for the input, or give the path of a file"
    )


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
            raise _copy_error(_name(path), exc) from exc
        with open(copy, "rb") as fh:
            refuse_other_formats(fh, _name(path))
        yield copy


_LINE = re.compile(r"\bline (\d+)\b")


@contextmanager
def _joined_jsonl(files: list[Path]) -> Iterator[tuple[str, Callable[[Skip], Skip]]]:
    """The JSON Lines files of a folder copied end to end into one temporary file (read as any
    JSON Lines file), and a function that names a skipped line by its own file and line."""
    starts: list[int] = []  # the first line of each file in the joined file
    with tempfile.TemporaryDirectory(prefix="dedup-") as folder:
        copy = os.path.join(folder, "input.jsonl")
        line = 1
        try:
            with open(copy, "wb") as dst:
                for path in files:
                    starts.append(line)
                    last = b"\n"
                    with open(path, "rb") as src:
                        while chunk := src.read(1 << 20):
                            dst.write(chunk)
                            line += chunk.count(b"\n")
                            last = chunk[-1:]
                    if last != b"\n":  # a last line without its newline
                        dst.write(b"\n")
                        line += 1
        except OSError as exc:
            raise _copy_error(f"{path.name}", exc) from exc

        def at(line: int) -> str:
            i = bisect.bisect_right(starts, line) - 1
            return f"{files[i].name} line {line - starts[i] + 1}"

        def named(skip: Skip) -> Skip:
            if skip.line is None:
                return skip
            message = _LINE.sub(lambda m: at(int(m.group(1))), skip.message)
            if message == skip.message:  # a message that does not say where: its file and line first
                message = f"{at(skip.line)}: {message}"
            return Skip(id=skip.id, error=skip.error, message=message, line=None)

        yield copy, named


def _html_articles(files: list[Path], on_skip: Callable[[Skip], None]) -> Iterator[Article]:
    """The article of each page (``dedup.fronts.html``; the id is the file name without its suffix); a
    page without article text is skipped with its name. Needs the html extra."""
    from dedup.fronts.html import article_from_html

    for path in files:
        try:
            yield article_from_html(path.read_bytes(), id=path.stem)
        except MissingExtraError:
            raise
        except OSError as exc:
            on_skip(Skip(id=path.stem, error=InvalidRecordError.__name__, message=f"{path.name}: {exc}"))
        except DedupError as exc:
            on_skip(Skip(id=path.stem, error=type(exc).__name__, message=f"{path.name}: {exc}"))


def _folder_kind(folder: Path) -> tuple[str, list[Path]]:
    """What a folder holds, sorted by name: its ``.txt`` files (other files beside them, such as a
    manifest, are left aside), else its ``.jsonl`` files, else its ``.html`` pages; ``txt`` with no
    files for an empty folder. A folder of other files only is an error."""
    try:
        files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise InputError(f"{folder}: cannot list the folder ({exc.strerror or exc}); check its permissions") from exc
    for kind, suffixes in (("txt", _TEXT), ("jsonl", _JSONL), ("html", _HTML)):
        found = [p for p in files if p.suffix.lower() in suffixes]
        if found:
            return kind, found
    if files:
        held = sorted({p.suffix or "(no suffix)" for p in files})
        raise InputError(
            f"{folder}: none of its {len(files)} entries is a .txt, .jsonl or .html file (it holds "
            f"{', '.join(held[:5])}); give a folder of .txt files (one article each, the file name "
            "is the id), of .jsonl files, or of .html pages"
        )
    return "txt", []


def _noting(articles: Iterable[Article], snippets: dict[str, str] | None) -> Iterator[Article]:
    """``articles`` as they are, noting the opening words of each untitled one for the table."""
    for article in articles:
        if snippets is not None and not article.title:
            snippets[article.id] = _snippet(article.text)
        yield article


@contextmanager
def _input(path: str, on_skip: Callable[[Skip], None], *, snippets: bool) -> Iterator[_Input]:
    """The articles of ``path`` for the batch engine (see ``dedup cluster --help``)."""
    noted: dict[str, str] | None = {} if snippets else None
    if _is_pipe(path):
        with _spooled(path) as copy:
            yield _Input(copy, _name(path), noted or {})
        return
    if os.path.isdir(path):
        kind, files = _folder_kind(Path(path))
        if kind == "jsonl":
            with _joined_jsonl(files) as (copy, named):
                yield _Input(copy, path, noted or {}, named)
            return
        found = _html_articles(files, on_skip) if kind == "html" else read_articles(path, on_skip)
        yield _Input(_noting(found, noted), path, noted if noted is not None else {})
        return
    if os.path.isfile(path):
        yield _Input(path, path, noted or {})
        return
    yield _Input(read_articles(path, on_skip), path, {})  # read_articles says what is wrong with it


def _file_snippets(path: str, wanted: set[str]) -> dict[str, str]:
    """The opening words of the untitled articles of a JSON Lines file (a second, cheap pass: the
    batch engine does not keep texts)."""
    out: dict[str, str] = {}
    with open(path, "rb") as fh:
        for article in read_jsonl(fh, lambda skip: None):
            if article.id in wanted and not article.title and article.id not in out:
                out[article.id] = _snippet(article.text)
    return out


# -- the table --------------------------------------------------------------------------------


def _snippet(text: str, width: int = 72) -> str:
    words = " ".join(text.split())
    return words if len(words) <= width else words[: width - 1].rstrip() + "…"


def _member_lines(m: Member, c: Cluster, snippets: Mapping[str, str]) -> list[str]:
    when = present.when(m.time)
    figures = ""
    if m.relation is not Relation.EARLIEST:
        figures = f"  score {m.score:.2f}"
        if m.containment_in_earliest is not None and m.earliest_in_member is not None:
            figures += f", in earliest {m.containment_in_earliest:.2f}, earliest in it {m.earliest_in_member:.2f}"
        if m.matched is not None and m.matched != c.earliest:
            figures += f", via {m.matched}"
    lines = [f"  {m.relation!s:<15} {m.id}  {when}{figures}"]
    about = [m.source] if m.source else []
    if m.title:
        about.append(m.title)
    elif m.id in snippets:
        about.append(f'"{snippets[m.id]}"')
    if about:
        lines.append(f"  {'':<15} {' · '.join(about)}")
    if m.url:
        lines.append(f"  {'':<15} {m.url}")
    return lines


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def write_table(clusters: Sequence[Cluster], out: TextIO, snippets: Mapping[str, str] | None = None) -> None:
    """Clusters for people: the largest first; in each, the earliest source, then the copies by
    relation and time, with their source and title (or the opening words of the text)."""
    snippets = snippets or {}
    copies = [c for c in clusters if len(c) > 1]
    in_copies = sum(len(c) for c in copies)
    singles = len(clusters) - len(copies)
    lines = [
        f"{_counted(len(clusters), 'cluster')}: {len(copies)} with copies ({_counted(in_copies, 'article')}), "
        f"{_counted(singles, 'single article')}",
        "",
    ]
    for c in sorted(clusters, key=present.cluster_order):
        if len(c) > 1:
            lines.append(f"{c.id}  {len(c)} articles  earliest {c.earliest}: {c.evidence.detail}")
        else:
            lines.append(f"{c.id}  1 article")
        for m in sorted(c.members, key=present.member_order):
            lines.extend(_member_lines(m, c, snippets))
        if len(c) > 1:
            lines.append(f"  grouped by: {c.why}")
        lines.append("")
    out.write("".join(_printable(line) + "\n" for line in lines))


# control characters, which an id, a source or a page's title may carry to move the cursor, clear
# the screen or start a line of its own in a terminal, and the overrides of the text's direction,
# which may reorder how the rest of the line reads
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _printable(line: str) -> str:
    """A line of the table with its control characters shown as escapes (``\\x1b``)."""
    return _CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if m.group() < "\u0100" else f"\\u{ord(m.group()):04x}", line
    )


# -- dedup cluster ----------------------------------------------------------------------------


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


def cluster_line(cluster: Cluster) -> str:
    """One cluster as a line of the JSON Lines that ``dedup cluster`` writes (the output contract)."""
    return json.dumps(cluster.to_dict(), ensure_ascii=False) + "\n"


@contextmanager
def open_output(path: str | None, reads: Iterable[str | None] = ()) -> Iterator[TextIO]:
    """Standard output, or the file ``-o`` names (created, or replaced), unless that is one of the
    files the command ``reads`` (its input, its index): replacing it would erase what is read."""
    if path is None or path == "-":
        yield sys.stdout
        return
    for read in reads:
        if read is not None and read != "-" and _same_file(path, read):
            raise InputError(
                f"-o {path} is the file {read} this command reads: writing it would erase it; give another -o"
            )
    try:
        fh = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115  # closed by the with below
    except OSError as exc:
        raise InputError(f"-o {path}: cannot be written ({exc.strerror or exc}); check the folder exists") from exc
    with fh:
        yield fh


def _same_file(output: str, read: str) -> bool:
    """Whether ``output`` names the regular file ``read`` (through links too), or the file it will
    be once created (a new index). A device or a pipe may be read and written both."""
    try:
        return stat.S_ISREG(os.stat(read).st_mode) and os.path.samefile(output, read)
    except FileNotFoundError:
        return not os.path.exists(read) and os.path.realpath(output) == os.path.realpath(read)
    except OSError:
        return False


def _where(skip: Skip) -> str:
    """Where a skipped record was, for the line that reports it: `` line N``, `` ID`` or nothing."""
    return f" line {skip.line}" if skip.line else f" {skip.id}" if skip.id else ""


def _cmd_cluster(args: argparse.Namespace) -> int:
    skips: list[Skip] = []
    progress = ProgressLines(sys.stderr) if _progress_on(args) else None

    def report_skip(skip: Skip) -> None:
        skips.append(skip)
        print(f"dedup: skipped{_where(skip)}: {skip.error}: {skip.message}", file=sys.stderr)

    words = {"read": "read", "candidates": "candidate pairs:", "verify": "verified", "group": "grouped"}
    interrupt = _Interrupt()

    def report(stage: str, done: int, total: int | None) -> None:
        interrupt.check()
        if progress is not None:
            of = "" if total is None or stage == "candidates" else f"/{total:,}"
            progress.update(f"{words.get(stage, stage)} {done:,}{of}")

    config = read_config(args.config) if args.config else None
    table = args.format == "table"
    if args.spans and table:
        raise InputError("--spans adds the shared passages to the JSON output; drop --format table or --spans")
    with ExitStack() as stack:
        # (reading standard input into a file first, Ctrl-C interrupts as usual: no kernel runs)
        given = stack.enter_context(_input(args.path, report_skip, snippets=table))
        stack.enter_context(interrupt)
        workers = _workers(args.workers, given.jsonl() or args.path)
        batch_skips: list[Skip] = []
        texts: dict[str, list[str]] = {}
        source = given.source
        if args.spans and not isinstance(source, str):
            source = explain.keeping_texts(source, texts)
        clusters: Iterable[Cluster] = api.clusters_of(
            source, config=config, errors="skip", skipped=batch_skips, report=report, workers=workers
        )
        if args.spans:
            clusters = api.with_spans(list(clusters), given.jsonl(), texts, config)
        out = stack.enter_context(open_output(args.output, reads=[args.path, args.config]))
        written = articles = copies = 0
        if table:
            listed = list(clusters)
            written = len(listed)
            articles = sum(len(c) for c in listed)
            copies = sum(1 for c in listed if len(c) > 1)
            snippets = given.snippets
            path = given.jsonl()
            if path is not None:
                snippets = _file_snippets(path, {m.id for c in listed for m in c.members if not m.title})
            write_table(listed, out, snippets)
        else:
            for c in clusters:
                interrupt.check()
                out.write(cluster_line(c))
                written += 1
                articles += len(c)
                copies += len(c) > 1
        for skip in batch_skips:
            report_skip(given.lines(skip))
    if progress is not None:
        progress.finish(
            f"{articles:,} articles in {written:,} clusters, {copies:,} with copies ({progress.seconds:.1f} s)"
        )
    if written == 0:
        print(f"dedup: no articles in {given.name}", file=sys.stderr)
    if skips:
        print(f"dedup: {len(skips)} record(s) skipped", file=sys.stderr)
        return EXIT_SKIPPED
    return EXIT_OK


def _progress_on(args: argparse.Namespace) -> bool:
    """``--progress``/``--no-progress`` as given, else on when standard error is a terminal."""
    return bool(sys.stderr.isatty() if args.progress is None else args.progress)


# -- dedup stream -----------------------------------------------------------------------------


@contextmanager
def _stream_input(path: str) -> Iterator[BinaryIO]:
    """The JSON Lines ``dedup stream`` reads: a file, or standard input for ``-``."""
    if path != "-" and os.path.isdir(path):
        raise InputError(
            f"{path}: is a folder; dedup stream reads one JSON Lines file (or - for standard input): "
            f"cat {path}/*.jsonl | dedup stream, or dedup cluster {path} for the whole folder"
        )
    if path == "-":
        refuse_other_formats(sys.stdin.buffer, "standard input")
        yield sys.stdin.buffer
        return
    try:
        fh = open(path, "rb")  # noqa: SIM115  # closed by the with below
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; give a JSON Lines file, or - for standard input") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); check its permissions") from exc
    with fh:
        refuse_other_formats(fh, path)
        yield fh


def _window(args: argparse.Namespace) -> Window | None:
    """The window of ``--window-days`` and ``--window-articles``, if either is given."""
    if args.window_days is None and args.window_articles is None:
        return None
    return Window(days=args.window_days, articles=args.window_articles)


def _handle(signals: Iterable[int], handler: Callable[[int, Any], None]) -> dict[int, Any]:
    """``handler`` for each of ``signals``, in the main thread only (where Python delivers signals)
    and not for a signal the process was started ignoring (as ``cmd &`` starts it); the handlers
    before, to put back (``_put_back``)."""
    before: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for n in signals:
            if signal.getsignal(n) is not signal.SIG_IGN:
                # (None: a handler not set from Python, which cannot be put back; the default then)
                before[n] = signal.signal(n, handler) or signal.SIG_DFL
    return before


def _put_back(before: dict[int, Any]) -> None:
    for n, handler in before.items():
        signal.signal(n, handler)


class _Stopping:
    """While the stream runs, SIGTERM (a service manager stopping it) and SIGINT (Ctrl-C) end it
    between two articles: one arriving while an article is added lets that article be added and
    its verdict written first (``busy``), then the stream ends (``check``); one arriving while it
    waits for input ends it at once. The index is then closed (a file's memory saved beside it, for
    a fast restart) and the exit status is 128 + the signal's number (143, 130). Only in the main
    thread (where Python delivers signals), and not for a signal the process was started ignoring;
    the handlers before are put back when it ends."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.stopping: int | None = None  # the signal that came
        self._busy = False

    def __enter__(self) -> _Stopping:
        self._before = _handle(self.SIGNALS, self._stop)
        return self

    def __exit__(self, *exc: object) -> None:
        _put_back(self._before)

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = signum
        if not self._busy:
            raise SystemExit(128 + signum)

    @contextmanager
    def busy(self) -> Iterator[None]:
        self._busy = True
        try:
            yield
        finally:
            self._busy = False

    def check(self) -> None:
        """End the stream if a signal came (its exit raised where it could not end it, too: a
        finalizer that ran then swallows it)."""
        if self.stopping is not None:
            raise SystemExit(128 + self.stopping)


class _Interrupt:
    """Ctrl-C while ``dedup cluster`` runs: the first one is noted and ends the run at the batch's
    next step (``check``, called from its progress callback and between the clusters written), a
    second one at once. Raised where it comes, inside a compiled kernel's call, the interrupt can
    come out of numba as a ``SystemError`` or bring the process down. Only in the main thread, not
    for a SIGINT the process was started ignoring; the handler before is put back when it ends."""

    def __init__(self) -> None:
        self.came = False

    def __enter__(self) -> _Interrupt:
        self._before = _handle((signal.SIGINT,), self._note)
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        _put_back(self._before)
        if kind is None:
            self.check()  # a Ctrl-C that came after the last step still ends the run as interrupted

    def _note(self, signum: int, frame: object) -> None:
        if self.came:
            raise KeyboardInterrupt
        self.came = True

    def check(self) -> None:
        if self.came:
            raise KeyboardInterrupt


def _cmd_stream(args: argparse.Namespace) -> int:
    """One verdict per input line, written and flushed as each article arrives. Once the first
    article has loaded the compiled kernels and its verdict is written, the rest runs under
    ``short_gc_pauses``: after one full collection then, the objects alive (over a hundred
    thousand of numpy, numba and the interpreter, which live as long as the process), and later
    the survivors of each full collection, are left out of the collections that follow, so that
    none walks the whole window in the middle of an answer; they are put back when the command
    ends (for a caller running it in-process)."""
    config = read_config(args.config) if args.config else None
    saving = None
    if args.save_state is not None:
        saving = StateSaving(
            args.save_state, args.index, _warn, setting="--save-state", index_example="--index crawl.sqlite"
        )
    progress: ProgressLines | None = None
    done = failed = copies = 0

    def status() -> str:
        rate = done / max(progress.seconds, 1e-9) if progress is not None else 0.0
        return f"{done:,} articles, {copies:,} copies found, {failed:,} bad lines, {rate:,.0f} articles/s"

    with ExitStack() as stack:
        stopping = stack.enter_context(_Stopping())
        lines = stack.enter_context(_stream_input(args.path))
        out = stack.enter_context(open_output(args.output, reads=[args.path, args.index, args.config]))
        window = _window(args)
        if args.index:
            reading = ProgressLines(sys.stderr, every=5.0) if args.progress else None
            dedup = Deduplicator.open(
                args.index, config, window=window, progress=reading_back(reading) if reading else None
            )
            if reading is not None and reading.shown:
                reading.finish(f"read the index back: {len(dedup):,} articles in {reading.seconds:.1f} s")
        else:
            dedup = Deduplicator(config, window=window)
        stack.callback(dedup.close)
        progress = ProgressLines(sys.stderr, every=5.0) if args.progress else None  # (from the first article)
        for number, raw in enumerate(lines, 1):
            stopping.check()
            if not raw.strip():
                continue
            with stopping.busy():  # a signal waits for the line's verdict (or error) to be written
                try:
                    article = article_from_dict(parse_line(raw, number), where=f"line {number}")
                    verdict = dedup.add(article, spans=args.spans)
                except InputError as exc:  # this line's record; an error of the index stops the stream
                    failed += 1
                    error = {"line": number, "error": type(exc).__name__, "message": str(exc)}
                    print(json.dumps(error, ensure_ascii=False), file=sys.stderr, flush=True)
                else:
                    done += 1
                    copies += verdict.is_copy
                    out.write(json.dumps(verdict.to_dict(), ensure_ascii=False) + "\n")
                    out.flush()
                    if done == 1:  # (entering makes a full collection: after the first verdict, not before)
                        stack.enter_context(short_gc_pauses())
                    if progress is not None:
                        progress.update(status())
                if saving is not None:
                    saving.due(dedup)
            stopping.check()  # (a signal that came while busy ends the stream now, not at the next line)
    if progress is not None:
        progress.finish(status())
    if done == 0:
        print(f"dedup: no articles in {'standard input' if args.path == '-' else args.path}", file=sys.stderr)
    return EXIT_SKIPPED if failed else EXIT_OK


# -- dedup spark ------------------------------------------------------------------------------


def _cmd_explain(args: argparse.Namespace) -> int:
    """Why two articles are, or are not, copies: decision, scores, and both texts marked."""
    from dedup.stages import explain

    config = read_config(args.config) if args.config else None
    if args.index and args.jsonl:
        raise InputError("give --index or --jsonl, not both: A and B are ids of one of them")
    boilerplate: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
    match = None
    if args.index:
        with Deduplicator.open(args.index, config) as d:
            a, b = d.get(args.a), d.get(args.b)
            match = d.compare(args.a, args.b)
            boilerplate = (d.boilerplate_spans(args.a), d.boilerplate_spans(args.b))
            config = d.config
    elif args.jsonl:
        a, b = _jsonl_pair(args.jsonl, args.a, args.b)
    else:
        a, b = (_text_file(path) for path in (args.a, args.b))
    found = explain.explain(a, b, config, match=match, boilerplate=boilerplate)
    files = [args.index, args.jsonl] if args.index or args.jsonl else [args.a, args.b]  # (else A and B are ids)
    with open_output(args.output, reads=files) as out:
        if args.json:
            out.write(json.dumps(found.to_dict(), ensure_ascii=False) + "\n")
        else:
            tty = args.color == "always" or (args.color == "auto" and args.output is None and sys.stdout.isatty())
            out.write(explain.render(found, color=tty))
    return EXIT_OK


def _text_file(path: str) -> Article:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(
            f"{path}: cannot be read ({exc.strerror or exc}); give two text files, or ids with --index or --jsonl"
        ) from exc
    return Article(id=Path(path).stem, text=data)  # type: ignore[arg-type]


def _jsonl_pair(path: str, a_id: str, b_id: str) -> tuple[Article, Article]:
    found: dict[str, Article] = {}
    for article in read_articles(path, lambda skip: None):
        if article.id in (a_id, b_id):
            found.setdefault(article.id, article)
    missing = [i for i in (a_id, b_id) if i not in found]
    if missing:
        raise InputError(f"{path}: no article with id {missing[0]!r}; give two ids of its lines")
    return found[a_id], found[b_id]


def _cmd_spark(args: argparse.Namespace) -> int:
    return spark.run_command(args, read_config(args.config) if args.config else None)


# -- dedup report -----------------------------------------------------------------------------


def _cmd_report(args: argparse.Namespace) -> int:
    """One HTML page of the clusters; the texts of the members of clusters with copies are read
    from --articles for the side-by-side view."""
    from dedup.fronts import report  # the page's template is read only by this command

    clusters = report.read_clusters(args.clusters)
    skipped = 0

    def report_skip(skip: Skip) -> None:
        nonlocal skipped
        skipped += 1
        print(f"dedup: skipped{_where(skip)} of --articles: {skip.error}: {skip.message}", file=sys.stderr)

    texts = None
    if args.articles is not None:
        texts = report.read_texts(args.articles, report.ids_to_compare(clusters), report_skip)
        missing = report.ids_to_compare(clusters) - set(texts)
        if missing:
            print(
                f"dedup: {len(missing)} article(s) of clusters with copies not in {args.articles} "
                f"(e.g. {min(missing)}): shown without their text",
                file=sys.stderr,
            )
    config = read_config(args.config) if args.config else None
    with open_output(args.output, reads=[args.clusters, args.articles, args.config]) as out:
        report.write_report(
            clusters, out, texts=texts, singletons=args.singletons, highlight=report.shared_highlights(config)
        )
    return EXIT_SKIPPED if skipped else EXIT_OK


# -- dedup tune -------------------------------------------------------------------------------


def _cmd_tune(args: argparse.Namespace) -> int:
    """The sweep of the verification thresholds on labelled data, as a table; the best setting
    written as a --config file."""
    from dedup.fronts import tune

    config = read_config(args.config) if args.config else DedupConfig()
    scales = tune.parse_scales(args.scales) if args.scales else tune.SCALES
    labelled = tune.read_labelled(args.data)
    print(f"{len(labelled.articles)} labelled articles, {labelled.copy_groups} groups of copies; pairwise quality:")
    settings = tune.sweep(labelled.articles, labelled.groups, config=config, scales=scales, workers=args.workers)
    chosen = tune.best(settings)
    print(tune.table(settings, chosen))
    tuned = replace(config, verify=chosen.verify)
    if args.out:
        tune.write_config(args.out, tuned)
        print(
            f"best: factor {chosen.scale:g} (F1 {chosen.quality.f1:.3f}); written to {args.out}: dedup cluster --config {args.out} ..."
        )
    else:
        print(
            f"best: factor {chosen.scale:g} (F1 {chosen.quality.f1:.3f}); as a --config file (write it with --out FILE):"
        )
        print(json.dumps(tune.config_sections(tuned), indent=2, ensure_ascii=False))
    return EXIT_OK


# -- the parser -------------------------------------------------------------------------------

_CONFIG_HELP = (
    'settings as JSON: any part of a DedupConfig, e.g. {"minhash": {"threshold": 0.6}} (the rest '
    "keeps its default); the same file dedup spark --config reads"
)


def _add_output(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help=f"write {what} to FILE (default: standard output)")
    p.add_argument("--config", metavar="FILE", help=_CONFIG_HELP)


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
            "title), a folder of .txt files (the id is the file name without .txt), a folder of "
            ".jsonl files (all read, in name order), a folder of .html pages (needs the html extra; "
            "the id is the file name), or - for JSON Lines on standard input. Output: one JSON "
            "object per cluster, singletons included, or with --format table a listing for people "
            "(largest clusters first; in each the earliest source, then the copies). A record that "
            "cannot be used is reported on standard error with its line number (or file name) and "
            "the reason, and skipped."
        ),
        epilog=_EXIT_STATUS,
    )
    p.add_argument("path", metavar="PATH", help="JSON Lines file, folder of .txt, .jsonl or .html files, or -")
    p.add_argument("--format", choices=("jsonl", "table"), default="jsonl", help="output format (default: jsonl)")
    _add_output(p, "the clusters")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on standard error (default: when it is a terminal; elsewhere a plain line "
        "every 10 s, without control codes)",
    )
    p.add_argument(
        "--workers",
        default="auto",
        metavar="N",
        help="processes sharing the work (default auto: every core for a file over 16 MB, else 1)",
    )
    p.add_argument(
        "--spans",
        action="store_true",
        help="give each member of a cluster with copies (other than the earliest) the passages it shares "
        "with the earliest: members[].shared, character offsets into both texts and their words "
        "(JSON output only; the texts of each member and its earliest are compared again)",
    )
    p.set_defaults(func=_cmd_cluster)
    q = sub.add_parser(
        "stream",
        help="one verdict per article, as articles arrive",
        description=(
            "Read articles as JSON Lines from FILE or standard input (id, text, and optionally "
            "published_at, source, url, title) and write one verdict per line as each arrives "
            "(flushed): is_copy, copy_of, matches, cluster, earliest. A bad line is reported on "
            "standard error as JSON with its line number, and the stream goes on. With --index the "
            "index is kept in a SQLite file or a Redis server and survives restarts."
        ),
        epilog=_EXIT_STATUS.replace("records", "lines"),
    )
    q.add_argument("path", metavar="FILE", nargs="?", default="-", help="JSON Lines file (default: - standard input)")
    q.add_argument(
        "--index",
        metavar="PATH|URL",
        help="a SQLite file to keep the index in (created if missing), or a redis://host:port/db URL "
        "for an index shared by several workers (default: in memory)",
    )
    _add_output(q, "the verdicts")
    q.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="show articles, copies found and articles/s on standard error (rewritten in place on a "
        "terminal, else a plain line every 5 s), and a summary at the end",
    )
    q.add_argument(
        "--spans",
        action="store_true",
        help="fill the matches' shared passages with character offsets into both texts and their "
        "words (a_start, a_end, a_text, b_start, b_end, b_text; the texts are analyzed again)",
    )
    q.add_argument(
        "--window-days",
        type=float,
        metavar="D",
        help="keep in memory only the articles of the last D days (by published_at; older ones are no "
        "longer candidates, an --index file keeps them and reopening reads only the window)",
    )
    q.add_argument(
        "--window-articles",
        type=int,
        metavar="N",
        help="keep in memory at most the last N articles added (with --window-days: both bounds)",
    )
    q.add_argument(
        "--save-state",
        type=float,
        metavar="MINUTES",
        help="with an --index file: save the stream's memory beside it at the first line after every "
        "MINUTES minutes, as closing does (it takes as long), so that a restart after a crash reads it "
        "and only the articles added after it instead of the whole window",
    )
    q.set_defaults(func=_cmd_stream)
    e = sub.add_parser(
        "explain",
        help="show why two articles are (or are not) copies, their shared passages marked",
        description=(
            "Compare two articles and show the decision (is it a copy, the relation and the rule that "
            "fired), the scores, what was ignored (furniture lines; with --index the learned "
            "boilerplate too), and both texts with the shared passages marked: in reverse video on a "
            "terminal (ignored text faint), else between [[ and ]] (ignored text between {{ and }}). "
            "A and B are two text files (UTF-8; the id is the file name without its extension), "
            "with --index two ids of an index, or with --jsonl FILE two ids of a JSON Lines file. "
            "Text is written in logical order; on a terminal each right-to-left line (Arabic) is "
            "wrapped in a right-to-left isolate (U+2067 ... U+2069), so that a terminal that applies "
            "the bidi algorithm shows it right to left."
        ),
        epilog="exit status: 0 the explanation was written; 2 an error stopped it",
    )
    e.add_argument("a", metavar="A", help="a text file, or an id with --index or --jsonl")
    e.add_argument("b", metavar="B", help="a text file, or an id with --index or --jsonl")
    e.add_argument("--index", metavar="PATH|URL", help="A and B are ids in this index (a SQLite file or redis URL)")
    e.add_argument("--jsonl", metavar="FILE", help="A and B are ids of lines of this JSON Lines file")
    e.add_argument("--json", action="store_true", help="write the explanation as one JSON object (spans included)")
    e.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="mark with colours and right-to-left isolates (default auto: when standard output is a terminal)",
    )
    _add_output(e, "the explanation")
    e.set_defaults(func=_cmd_explain)
    s = sub.add_parser(
        "spark",
        help="the same clustering as an Apache Spark job (needs the spark extra and Java)",
        description=spark.DESCRIPTION,
        epilog=spark.EPILOG,
    )
    spark.add_arguments(s)
    s.set_defaults(func=_cmd_spark)
    r = sub.add_parser(
        "report",
        help="one HTML page of the clusters, with copies side by side",
        description=(
            "Write one self-contained HTML page (no network needed) of CLUSTERS, the JSON Lines "
            "that dedup cluster writes: clusters with copies largest first, each with its earliest "
            "source and why, its members with relation, outlet, time and title, and a filter box. "
            "With --articles (the file or folder given to dedup cluster) any member can be read side "
            "by side with the earliest, the passages they share marked. Single articles are counted, "
            "and listed with --singletons."
        ),
        epilog=_EXIT_STATUS,
    )
    r.add_argument("clusters", metavar="CLUSTERS", help="JSON Lines written by dedup cluster, or - for standard input")
    r.add_argument(
        "--articles",
        metavar="PATH",
        help="the articles' texts: a JSON Lines file or a folder of .txt files, as dedup cluster reads them",
    )
    r.add_argument("--singletons", action="store_true", help="list the single articles too (default: only counted)")
    _add_output(r, "the page")
    r.set_defaults(func=_cmd_report)
    t = sub.add_parser(
        "tune",
        help="choose the verification thresholds on labelled articles",
        description=(
            "Sweep the verification thresholds on labelled articles and print pairwise precision, "
            "recall and F1 per setting (the default marked *). Each setting scales the thresholds "
            "together by a factor: min_containment and min_passage_coverage, and "
            "near_identical_jaccard upwards only; below 1 finds more copies, above 1 fewer false ones. "
            "The best F1 is written as a --config file (--out), which dedup cluster, stream and spark "
            "read. --data is JSON Lines, one article per line: id, text and group (the same group for "
            "copies of one story), and optionally published_at, source, url, title."
        ),
    )
    t.add_argument("--data", required=True, metavar="FILE", help="labelled JSON Lines: id, text, group")
    t.add_argument("-o", "--out", metavar="FILE", help="write the best setting to FILE as --config JSON")
    t.add_argument("--config", metavar="FILE", help="the settings to start from (as dedup cluster --config)")
    t.add_argument(
        "--scales", metavar="LIST", help="the factors to try, comma-separated (default 0.5 to 1.8; 1 always)"
    )
    t.add_argument("--workers", type=int, default=1, metavar="N", help="processes for each run (default 1)")
    t.set_defaults(func=_cmd_tune)
    from dedup.fronts import operate  # imported here: it imports this module

    operate.add_parser(sub)
    return parser


def _warn(message: str) -> None:
    print(f"dedup: warning: {message}", file=sys.stderr, flush=True)


class _Notice(logging.Handler):
    """Prints a notice on standard error: the kernels' one line (``kernels.COMPILE_NOTICE``), the
    formula counts' warning when they outgrow their sketch (``stages.formula``), an index's
    warnings (``dedup.index``: a file's log that cannot be copied into it, a window record that
    cannot be read, an index opened without the window its last writer had)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"dedup: {record.getMessage()}", file=sys.stderr, flush=True)


def _print_notices() -> None:
    for name, level in (
        ("dedup.kernels", logging.INFO),
        ("dedup.formula", logging.WARNING),
        ("dedup.index", logging.WARNING),
    ):
        log = logging.getLogger(name)
        if not any(isinstance(h, _Notice) for h in log.handlers):
            log.addHandler(_Notice(level))
            log.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _print_notices()
    args = parser.parse_args(argv)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # (what is left to write fails here, not as the interpreter exits)
        return status
    except DedupError as exc:
        print(f"dedup: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("dedup: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except OSError as exc:
        if exc.errno not in _WRITE_FAILURES:
            raise
        _drop_unwritten()
        print(
            f"dedup: error: the output cannot be written ({exc.strerror or exc}); free some space or "
            "write it elsewhere with -o",
            file=sys.stderr,
        )
        return EXIT_ERROR


# the errors of a write that found no room (a full disk, a quota, a file size limit)
_WRITE_FAILURES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _drop_unwritten() -> None:
    """Standard output pointed at the null device, so that the interpreter's own flush as it
    exits does not fail again on what could not be written."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):  # (a standard output replaced by one without a descriptor)
        pass


if __name__ == "__main__":
    sys.exit(main())
