"""``dedup index``: an operator's commands on a persistent index (a SQLite file or a Redis URL, as
``Deduplicator.open`` takes it, and as ``dedup stream --index`` builds it).

- ``stats WHERE``: articles, clusters, the largest cluster, the sequence and publication range, the
  settings' fingerprint, and the file's size; for people, or one JSON object with ``--json``.
- ``get WHERE ID``: one article and its cluster as one JSON object.
- ``remove WHERE ID...``: removes articles through ``Deduplicator.remove`` (the file or the Redis log,
  the clusters and the earliest sources stay consistent); every id is checked before any is removed.
- ``export WHERE``: every cluster as the JSON Lines ``dedup cluster`` writes.
- ``check WHERE``: reads the whole index: for a SQLite file its structure (SQLite's
  ``integrity_check``) and every article and copy against its checksum, one snapshot of the file
  read without writing it, so it runs beside the process that writes the file; a Redis index is
  read whole, as a worker without a window reads it. Opening reads only what it needs.

An index is opened with the window its writer opened it with (recorded in the file, or in Redis
by the last worker to open it), as the stream reopens it: ``stats``, ``get`` and ``remove`` hold
only the window's articles in memory (for a file, read from the state the writer saved as it
closed, when it did); ``get`` of an article that left the window, and ``export``, read the whole
history.

None of them creates an index: a path that does not exist, or a Redis namespace without an index,
is an error. An index is read without being written (``Deduplicator.open(..., read_only=True)``; a
SQLite file without taking its lock, beside the process that writes it), but by ``remove``, which
opens it for writing as ``dedup stream`` does, and is refused while another process writes the
file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from dedup.config import DedupConfig
from dedup.errors import StoreError, UnknownArticleError
from dedup.fronts.cli import EXIT_OK, ProgressLines, cluster_line, open_output, reading_back
from dedup.records import Cluster
from dedup.runners.stream import Deduplicator
from dedup.runners.stream.state import path_of as state_path_of
from dedup.stores.base import is_redis
from dedup.stores.sqlite import SQLiteStore, config_checksum, config_to_json

_WHERE_HELP = "the index: a SQLite file or a redis://host:port/db URL (as dedup stream --index takes it)"


def _shown(where: str) -> str:
    """``where`` as it may be printed (a Redis URL without its password)."""
    if is_redis(where):
        from dedup.stores.redis import redact

        return redact(where)
    return where


def _must_exist(where: str) -> None:
    """A ``StoreError`` that says how to build an index when there is none at ``where`` (opening
    one would make a new, empty index)."""
    missing = StoreError(f"no index at {_shown(where)}; build one with dedup stream --index {_shown(where)}")
    if is_redis(where):
        from dedup.stores.redis import RedisStore

        if RedisStore.stored_config(where) is None:
            raise missing
    elif not os.path.exists(where):  # a link to nothing is no index either
        raise missing


def open_existing(where: str, *, read_only: bool = True, whole: bool = False) -> Deduplicator:
    """The index at ``where``, which must exist (``_must_exist``), ``read_only`` unless told
    otherwise (a file read beside the process that writes it). It is opened with the window
    its writer opened it with (``stored_window``: then only the window's articles are read into
    memory, or for a file the state its writer saved as it closed), unless the ``whole`` history
    is wanted in memory."""
    _must_exist(where)
    redis = is_redis(where)
    window = None
    if redis and not whole:
        from dedup.stores.redis import RedisStore

        window = RedisStore.stored_window(where)
    elif not whole:
        window = SQLiteStore.stored_window(where)
    # a long reading back (a file without a saved state, or the whole history) shows on standard error
    reading = ProgressLines(sys.stderr, quiet_for=2.0)
    d = Deduplicator.open(where, read_only=read_only, window=window, progress=reading_back(reading))
    if reading.shown:
        reading.finish(f"read the index back: {len(d):,} articles in {reading.seconds:.1f} s")
    return d


# -- stats --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Stats:
    """What ``dedup index stats`` reports (``file_bytes`` for a SQLite index only). ``articles``,
    the sequence numbers and the times are of every article the index holds; with a window, the
    clusters and the formula load are of the articles in it, as the stream holds them."""

    index: str
    kind: str
    articles: int
    clusters: int
    clusters_with_copies: int
    articles_in_copies: int
    singletons: int
    largest_cluster: int
    last_seq: int | None
    oldest_published_at: str | None
    newest_published_at: str | None
    undated: int
    config_checksum: str
    settings: dict[str, Any]
    file_bytes: int | None
    formula_load: float | None = None  # observations per counter of the formula sketch (None: rule off)
    # the window the index was opened with (its writer's), and the articles in it, which the
    # clusters and the formula load are of; None for an index read whole
    window: dict[str, float | int | None] | None = None
    in_window: int | None = None
    # how the index was opened, as a restart reads it: ``"state"`` (the state saved beside the file,
    # of ``state_bytes``, then the ``after_state`` articles added after it) or ``"index"``
    opened_from: str | None = None
    after_state: int | None = None
    state_bytes: int | None = None
    opening_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _settings(d: Deduplicator) -> dict[str, Any]:
    """The settings an operator asks about first (the fingerprint covers all of them)."""
    c = d.config
    return {
        "shingle.k": c.shingle.k,
        "minhash.num_perm": c.minhash.num_perm,
        "minhash.threshold": c.minhash.threshold,
        "verify.min_containment": c.verify.min_containment,
        "verify.near_identical_jaccard": c.verify.near_identical_jaccard,
        "boilerplate.enabled": c.boilerplate.enabled,
        "formula.enabled": c.formula.enabled,
        "formula.sketch_width_bits": c.formula.sketch_width_bits,
        "formula.max_load": c.formula.max_load,
    }


def _file_bytes(path: str) -> int:
    """The index file and its write-ahead log, if one is left beside it."""
    return sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))


def stats(where: str) -> Stats:
    with open_existing(where) as d:
        clusters = d.clusters()
        held = d.timeline()  # (in UTC: an index may hold times with an offset and times without)
        times = sorted(t for _, _, t in held if t is not None)
        window = d.window
        in_window = len(d)
        checksum = config_checksum(config_to_json(d.config))
        settings = _settings(d)
        formula_load = d.formula_load
        opened = d.opened_from
    copies = [c for c in clusters if len(c) > 1]
    redis = is_redis(where)
    from_state = opened is not None and opened.source == "state"
    saved = state_path_of(where) if from_state else None
    return Stats(
        index=_shown(where),
        kind="redis" if redis else "sqlite",
        articles=len(held),
        clusters=len(clusters),
        clusters_with_copies=len(copies),
        articles_in_copies=sum(len(c) for c in copies),
        singletons=len(clusters) - len(copies),
        largest_cluster=max((len(c) for c in clusters), default=0),
        last_seq=held[-1][0] if held else None,
        oldest_published_at=times[0].isoformat() if times else None,
        newest_published_at=times[-1].isoformat() if times else None,
        undated=len(held) - len(times),
        config_checksum=checksum,
        settings=settings,
        file_bytes=None if redis else _file_bytes(where),
        formula_load=None if formula_load is None else float(f"{formula_load:.3g}"),
        window=None if window is None else {"days": window.days, "articles": window.articles},
        in_window=None if window is None else in_window,
        opened_from=None if opened is None else opened.source,
        after_state=opened.after_state if opened is not None and from_state else None,
        state_bytes=os.path.getsize(saved) if saved is not None and saved.exists() else None,
        opening_seconds=None if opened is None else round(opened.seconds, 2),
    )


def _window_text(window: dict[str, Any]) -> str:
    days, articles = window["days"], window["articles"]
    said = []
    if days is not None:
        said.append("1 day" if days == 1 else f"{days:g} days")
    if articles is not None:
        said.append("the last article" if articles == 1 else f"the last {articles} articles")
    return " and ".join(said)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    size = float(n)
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


def write_stats(s: Stats, out: TextIO) -> None:
    """``stats`` for people, one fact a line."""
    kind = "Redis" if s.kind == "redis" else f"SQLite, {_size(s.file_bytes or 0)}"
    seq = "" if s.last_seq is None else f" (last sequence number {s.last_seq})"
    articles = f"{s.articles}{seq}"
    if s.window is not None:
        articles += f"; {s.in_window} in the window ({_window_text(s.window)}), which the clusters are of"
    lines = [
        ("index", f"{s.index} ({kind})"),
        ("articles", articles),
        (
            "clusters",
            f"{s.clusters}: {s.clusters_with_copies} with copies ({s.articles_in_copies} articles), "
            f"{s.singletons} single articles; largest {s.largest_cluster} articles",
        ),
        (
            "published",
            f"{s.oldest_published_at} to {s.newest_published_at}" if s.oldest_published_at else "no dates",
        ),
        ("undated", str(s.undated)),
        ("settings", ", ".join(f"{k} {v}" for k, v in s.settings.items())),
        ("fingerprint", s.config_checksum),
        ("formula", _formula_line(s)),
    ]
    if s.opened_from is not None:
        lines.append(("opening", _opening_line(s)))
    out.write("".join(f"{name:<12} {value}\n" for name, value in lines))


def _opening_line(s: Stats) -> str:
    """How the index was read, as a restart reads it."""
    took = f"in {s.opening_seconds:g} s"
    if s.opened_from != "state":
        where = "Redis" if s.kind == "redis" else "the file (no state saved beside it could be read)"
        return f"the articles read from {where}, {took}"
    size = "" if s.state_bytes is None else f" ({_size(s.state_bytes)})"
    after = f" and the {s.after_state} articles added after it" if s.after_state else ""
    return f"from the state saved beside the file{size}{after}, {took}"


def _formula_line(s: Stats) -> str:
    if s.formula_load is None:
        return "off"
    limit = s.settings["formula.max_load"]
    if s.formula_load <= limit:
        return f"{s.formula_load:g} observations per counter (limit {limit:g}): templated stories told apart"
    return f"{s.formula_load:g} observations per counter, over the limit {limit:g}: raise formula.sketch_width_bits"


def _cmd_stats(args: argparse.Namespace) -> int:
    found = stats(args.where)
    with open_output(args.output, reads=[args.where]) as out:
        if args.json:
            out.write(json.dumps(found.to_dict(), ensure_ascii=False) + "\n")
        else:
            write_stats(found, out)
    return EXIT_OK


# -- get ----------------------------------------------------------------------------------------


def article_record(d: Deduplicator, article_id: str) -> dict[str, Any]:
    """One indexed article (without its text) and the cluster that holds it now, as
    ``Cluster.to_dict`` gives it."""
    a = d.get(article_id)
    article = {
        "id": a.id,
        "source": a.source,
        "url": a.url,
        "title": a.title,
        "published_at": None if a.published_at is None else a.published_at.isoformat(),
        "seq": d.seq_of(article_id),
    }
    return {"article": article, "cluster": d.cluster_of(article_id).to_dict()}


def _unknown(where: str, ids: Sequence[str]) -> UnknownArticleError:
    listed = ", ".join(repr(i) for i in ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return UnknownArticleError(
        f"no article with id {listed} in {_shown(where)}; dedup index export {_shown(where)} lists the ids"
    )


def _held(d: Deduplicator, article_id: str) -> bool:
    """Whether the index holds ``article_id``: in memory, or in its store only (it left the window)."""
    if article_id in d:
        return True
    try:
        d.get(article_id)
    except UnknownArticleError:
        return False
    return True


def _cmd_get(args: argparse.Namespace) -> int:
    with open_existing(args.where) as d:
        if not _held(d, args.id):
            raise _unknown(args.where, [args.id])
        record = article_record(d, args.id) if args.id in d else None
    if record is None:  # it left the window: its cluster as the whole history gives it
        with open_existing(args.where, whole=True) as d:
            record = article_record(d, args.id)
    with open_output(args.output, reads=[args.where]) as out:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return EXIT_OK


# -- remove -------------------------------------------------------------------------------------


def remove(where: str, ids: Sequence[str], said: Callable[[str, Cluster | None], None]) -> None:
    """Remove ``ids`` from the index, after checking that every one is indexed (nothing is removed
    otherwise); ``said(id, cluster)`` is called after each removal with the cluster it left (None
    for an article that had left the window: the file alone held it)."""
    wanted = list(dict.fromkeys(ids))
    with open_existing(where, read_only=False) as d:
        unknown = [i for i in wanted if not _held(d, i)]
        if unknown:
            raise _unknown(where, unknown)
        for article_id in wanted:
            cluster = d.cluster_of(article_id) if article_id in d else None
            d.remove(article_id)
            said(article_id, cluster)


def _cmd_remove(args: argparse.Namespace) -> int:
    removed: list[dict[str, Any]] = []

    def said(article_id: str, cluster: Cluster | None) -> None:
        if cluster is None:
            removed.append({"id": article_id, "cluster": None, "cluster_size": None})
            if not args.json:
                print(f"removed {article_id} (it had left the window: from the file)", flush=True)
            return
        removed.append({"id": article_id, "cluster": cluster.id, "cluster_size": len(cluster)})
        if not args.json:
            print(f"removed {article_id} (from cluster {cluster.id} of {len(cluster)} articles)", flush=True)

    remove(args.where, args.ids, said)
    if args.json:
        print(json.dumps({"removed": removed}, ensure_ascii=False))
    return EXIT_OK


# -- export -------------------------------------------------------------------------------------


def _cmd_export(args: argparse.Namespace) -> int:
    with open_existing(args.where, whole=True) as d:  # every cluster, those that left the window too
        clusters = d.clusters()
    with open_output(args.output, reads=[args.where]) as out:
        for c in clusters:
            out.write(cluster_line(c))
    return EXIT_OK


# -- check --------------------------------------------------------------------------------------


def check(where: str) -> dict[str, Any]:
    """Read the whole index at ``where``: a file with ``SQLiteStore.check``, a Redis index by
    opening it without a window. What was read, or the ``StoreError`` that says what is wrong."""
    if is_redis(where):
        with open_existing(where, whole=True) as d:
            return {"index": _shown(where), "articles": len(d), "copies": None, "structure": None}
    _must_exist(where)
    config = SQLiteStore.stored_config(where) or DedupConfig()
    store = SQLiteStore(where, config, reader=True)
    try:
        articles, copies = store.check()
    finally:
        store.close()
    return {"index": _shown(where), "articles": articles, "copies": copies, "structure": "ok"}


def _cmd_check(args: argparse.Namespace) -> int:
    found = check(args.where)
    with open_output(args.output, reads=[args.where]) as out:
        if args.json:
            out.write(json.dumps(found, ensure_ascii=False) + "\n")
        else:
            if found["structure"]:
                said = (
                    f"{found['articles']:,} articles and {found['copies']:,} copies read, each matching its "
                    "checksum, and SQLite's check of the file finds nothing wrong"
                )
            else:
                said = f"{found['articles']:,} articles read"
            out.write(f"{found['index']}: ok: {said}\n")
    return EXIT_OK


# -- the parser ---------------------------------------------------------------------------------


EPILOG = "exit status: 0 done; 2 an error stopped it (a missing or damaged index, an unknown id, ...)"


def add_parser(sub: Any) -> None:
    """``dedup index`` and its five commands, on the CLI's subparsers ``sub``."""
    p = sub.add_parser(
        "index",
        help="look into a persistent index, remove articles from it, export its clusters, check it",
        description=(
            "Operator commands on an index that dedup stream --index (or Deduplicator.open) built: a "
            "SQLite file or a redis:// URL. None of them creates an index. A SQLite file is read without "
            "being written or locked, beside a crawler that writes it, but by remove, which opens it for "
            "writing, as dedup stream does, and is refused while another process writes it."
        ),
        epilog=EPILOG,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    _action(
        actions,
        "stats",
        _cmd_stats,
        help="articles, clusters, dates, settings and size of the index",
        description=(
            "Articles indexed, clusters (with copies and single articles), the largest cluster, the last "
            "sequence number, the oldest and newest publication times, the main settings and the "
            "fingerprint of all of them (the checksum of the settings as the index stores them), the "
            "file's size for a SQLite index, and what the opening read, as a restart reads it: the state "
            "saved beside the file (and the articles added after it), or the articles themselves."
        ),
        json_help="write one JSON object instead of lines for people",
        output_help="write to FILE (default: standard output)",
    )
    g = _action(
        actions,
        "get",
        _cmd_get,
        help="one article and its cluster, as JSON",
        description=(
            "One JSON object: article (id, source, url, title, published_at, seq) and cluster (as one "
            "line of dedup cluster's output: id, earliest, evidence, members with their relation). An id "
            "that is not indexed is an error (exit status 2)."
        ),
        output_help="write to FILE (default: standard output)",
    )
    g.add_argument("id", metavar="ID", help="the article's id")
    r = _action(
        actions,
        "remove",
        _cmd_remove,
        help="remove articles (the clusters and earliest sources follow)",
        description=(
            "Remove articles from the index, as Deduplicator.remove does: from the file (or the Redis "
            "log, so every worker removes them too), the boilerplate counts and every cluster. Every id "
            "is checked first: if one is not indexed, nothing is removed. Prints each removed id and "
            "the cluster it was in."
        ),
        json_help='print {"removed": [{id, cluster, cluster_size}]} at the end',
    )
    r.add_argument("ids", metavar="ID", nargs="+", help="the ids to remove")
    _action(
        actions, "export", _cmd_export,
        help="every cluster, as the JSON Lines dedup cluster writes",
        description=(
            "Every cluster of the index, singletons included, sorted by cluster id: the JSON Lines "
            "that dedup cluster writes (the output contract), so that dedup report and other tools "
            "read it as they read dedup cluster's."
        ),
        output_help="write the clusters to FILE (default: standard output)",
    )  # fmt: skip
    _action(
        actions, "check", _cmd_check,
        help="read the whole index and check it against its checksums",
        description=(
            "Read the whole index: for a SQLite file, its structure (SQLite's integrity_check) and every "
            "article and verified copy against its checksum; a Redis index is read whole, as a worker "
            "without a window reads it. Opening an index reads only what it needs (with a window, the "
            "articles in it), so damage elsewhere in a file shows when that part is read; run this after "
            "a disk or power incident, while the crawler runs if you like (a file is read as one "
            "snapshot). Exit status 2 and what is damaged when something is."
        ),
        json_help='write {"index", "articles", "copies", "structure"} as one JSON object',
        output_help="write to FILE (default: standard output)",
    )  # fmt: skip


def _action(
    actions: Any, name: str, func: Callable[[argparse.Namespace], int], *, help: str, description: str,
    json_help: str | None = None, output_help: str | None = None,
) -> Any:  # fmt: skip
    """One ``dedup index`` action: its index argument first, then ``--json`` and ``-o/--output``
    where it has them (with their help); the caller adds its own arguments."""
    a = actions.add_parser(name, help=help, description=description, epilog=EPILOG)
    a.add_argument("where", metavar="WHERE", help=_WHERE_HELP)
    if json_help is not None:
        a.add_argument("--json", action="store_true", help=json_help)
    if output_help is not None:
        a.add_argument("-o", "--output", metavar="FILE", help=output_help)
    a.set_defaults(func=func)
    return a
