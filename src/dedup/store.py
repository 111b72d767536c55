"""Persistence: the index in a SQLite file that survives restarts and crashes.

``Deduplicator.open(path)`` reads the file back into memory (articles, their shingles and signatures,
the verified copies) and writes every added article in its own transaction before ``add`` returns:
an article whose verdict was given is on disk, whatever happens to the process next (WAL mode,
``synchronous=NORMAL``: safe against a killed process; against power loss use ``synchronous=FULL``
with ``SQLiteStore(durable=True)``).

File format (version 2), documented so that other tools can read it; no pickle anywhere:

- ``meta(key TEXT PRIMARY KEY, value TEXT)``: ``format`` = ``dedup-index``, ``version`` = ``2``,
  ``config`` = the ``DedupConfig`` as JSON (an index only answers for the settings it was built with).
- ``articles``: ``id`` TEXT PRIMARY KEY, ``seq`` INTEGER (ingest order), ``text``, ``published_at``
  (ISO 8601 or NULL), ``source``, ``url``, ``title``, ``cluster`` (the article's cluster id when it
  was last given), and ``arrays``: a 4-byte little-endian header length, a JSON header
  ``[[name, dtype, shape], ...]``, then each array's little-endian bytes in C order: ``words``
  (uint64), ``sentence_starts`` (int64), ``sentence_fps`` (uint64), ``passages`` (int64, n x 2),
  ``passage_sentence`` (int64), ``passage_shingles`` (uint64), ``passage_offsets`` (int64),
  ``shingles`` (uint64), ``signature`` (uint32) and ``passage_signatures`` (uint32, n x passage
  num_perm).
- ``matches(a TEXT, b TEXT, record TEXT, PRIMARY KEY (a, b))``: the verified copies, ``record``
  being ``Match.to_record()`` as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dedup.config import DedupConfig
from dedup.errors import StoreError, StoreFormatError
from dedup.records import Article, Match
from dedup.shingle import Shingled

FORMAT = "dedup-index"
VERSION = 2  # 2: words hashed with FNV-1a + fmix64 (was BLAKE2b)
_ARRAYS = (
    "words", "sentence_starts", "sentence_fps", "passages", "passage_sentence",
    "passage_shingles", "passage_offsets", "shingles",
)  # fmt: skip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, text TEXT NOT NULL, published_at TEXT,
    source TEXT, url TEXT, title TEXT, cluster TEXT, arrays BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS matches (a TEXT NOT NULL, b TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (a, b));
CREATE INDEX IF NOT EXISTS matches_b ON matches (b);
"""


def config_to_json(config: DedupConfig) -> str:
    return json.dumps(dataclasses.asdict(config), sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """One article as read back from the file."""

    article: Article
    seq: int
    doc: Shingled
    signature: np.ndarray
    passage_signatures: np.ndarray


_DTYPES = {"uint64": np.uint64, "int64": np.int64, "uint32": np.uint32}


def pack_arrays(doc: Shingled, signature: np.ndarray, passage_signatures: np.ndarray) -> bytes:
    """An article's arrays in one blob (read back by ``unpack_arrays``): a 4-byte little-endian
    length, a JSON header ``[[name, dtype, shape], ...]``, then each array's little-endian bytes in
    C order. (``numpy.savez`` would do, but its zip container costs more than the whole write.)"""
    arrays = [(name, getattr(doc, name)) for name in _ARRAYS]
    arrays += [("signature", signature), ("passage_signatures", passage_signatures)]
    header = json.dumps([[name, str(a.dtype), list(a.shape)] for name, a in arrays]).encode("ascii")
    parts = [len(header).to_bytes(4, "little"), header]
    parts += [np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes() for _, a in arrays]
    return b"".join(parts)


def unpack_arrays(blob: bytes, *, where: str) -> tuple[Shingled, np.ndarray, np.ndarray]:
    try:
        size = int.from_bytes(blob[:4], "little")
        header = json.loads(blob[4 : 4 + size])
        offset = 4 + size
        found: dict[str, Any] = {}
        for name, dtype, shape in header:
            kind = np.dtype(_DTYPES[dtype]).newbyteorder("<")
            count = int(np.prod(shape)) if shape else 1
            found[name] = (
                np.frombuffer(blob, dtype=kind, count=count, offset=offset).reshape(shape).astype(_DTYPES[dtype])
            )
            offset += count * kind.itemsize
        doc = Shingled(**{name: found[name] for name in _ARRAYS})
        return doc, found["signature"], found["passage_signatures"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise StoreFormatError(f"{where}: the stored arrays are corrupt ({exc})") from exc


class SQLiteStore:
    """The SQLite file behind a persistent ``Deduplicator``."""

    shared = False

    def __init__(self, path: str | Path, config: DedupConfig, *, durable: bool = False) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(
                f"{self.path}: cannot open the index file ({exc}); check the folder exists and is writable"
            ) from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.execute("PRAGMA busy_timeout=30000")
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreFormatError(f"{self.path}: not a dedup index (SQLite says: {exc})") from exc
        try:
            self._check(tables, config)
        except StoreError:
            self._db.close()
            raise

    def _check(self, tables: set[str], config: DedupConfig) -> None:
        if tables and "meta" not in tables:
            raise StoreFormatError(f"{self.path}: a SQLite file, but not a dedup index; give a new path")
        self._db.executescript(_SCHEMA)
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        wanted = config_to_json(config)
        if not meta:
            with self._transaction():
                self._db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("format", FORMAT), ("version", str(VERSION)), ("config", wanted)],
                )
            return
        if meta.get("format") != FORMAT:
            raise StoreFormatError(f"{self.path}: not a dedup index (format {meta.get('format')!r})")
        version = int(meta.get("version", "0"))
        if version > VERSION:
            raise StoreFormatError(
                f"{self.path}: written by a newer dedup (index format {version}; this version reads "
                f"{VERSION}); upgrade dedup"
            )
        if version < VERSION:
            raise StoreFormatError(f"{self.path}: index format {version} is older than {VERSION}; rebuild the index")
        if meta.get("config") != wanted:
            raise StoreError(
                f"{self.path} was built with other settings; open it with the config it was built with "
                "(Deduplicator.open(path) with no config reads it from the file)"
            )

    @staticmethod
    def stored_config(path: str | Path) -> DedupConfig | None:
        """The config an existing index was built with (None for a new file)."""
        p = Path(path)
        if not p.exists():
            return None
        try:
            with closing(sqlite3.connect(p)) as db:
                row = db.execute("SELECT value FROM meta WHERE key='config'").fetchone()
        except sqlite3.DatabaseError:
            return None  # the constructor reports what is wrong with the file
        return None if row is None else config_from_json(row[0])

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def _transaction(self) -> SQLiteStore._Tx:
        return SQLiteStore._Tx(self._db)

    def save(self, stored: StoredArticle, matches: list[Match], cluster: tuple[str, list[str]]) -> None:
        """Write one added article, its verified copies and its cluster, in one transaction."""
        cluster_id, members = cluster
        article = stored.article
        with self._transaction() as db:
            db.execute(
                "INSERT INTO articles (id, seq, text, published_at, source, url, title, cluster, arrays)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    article.id, stored.seq, article.text,
                    None if article.published_at is None else article.published_at.isoformat(),
                    article.source, article.url, article.title, cluster_id,
                    pack_arrays(stored.doc, stored.signature, stored.passage_signatures),
                ),
            )  # fmt: skip
            db.executemany(
                "INSERT OR REPLACE INTO matches (a, b, record) VALUES (?, ?, ?)",
                [(m.a, m.b, json.dumps(m.to_record(), ensure_ascii=False)) for m in matches if m.is_copy],
            )
            db.executemany("UPDATE articles SET cluster = ? WHERE id = ?", [(cluster_id, m) for m in members])

    def next_seq(self, current: int) -> int:
        return current

    def delete(self, article_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
            db.execute("DELETE FROM matches WHERE a = ? OR b = ?", (article_id, article_id))

    def articles(self) -> Iterator[StoredArticle]:
        """Every stored article, in ingest order."""
        rows = self._db.execute(
            "SELECT id, seq, text, published_at, source, url, title, arrays FROM articles ORDER BY seq"
        )
        for art_id, seq, text, published, source, url, title, blob in rows:
            doc, signature, passage_signatures = unpack_arrays(blob, where=f"{self.path} {art_id!r}")
            article = Article(id=art_id, text=text, published_at=published, source=source, url=url, title=title)
            yield StoredArticle(article, seq, doc, signature, passage_signatures)

    def matches(self) -> Iterator[Match]:
        for (record,) in self._db.execute("SELECT record FROM matches"):
            yield Match.from_record(json.loads(record))

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def config_from_json(text: str) -> DedupConfig:
    """Rebuild a ``DedupConfig`` from ``config_to_json``'s output."""
    from dedup import config as c

    data: dict[str, Any] = json.loads(text)
    kinds = {
        "normalize": c.NormalizeConfig, "shingle": c.ShingleConfig, "minhash": c.MinHashConfig,
        "passage": c.PassageConfig, "verify": c.VerifyConfig, "boilerplate": c.BoilerplateConfig,
        "cluster": c.ClusterConfig, "provenance": c.ProvenanceConfig,
    }  # fmt: skip

    def build(kind: type, values: dict[str, Any]) -> Any:
        names = {f.name for f in dataclasses.fields(kind) if f.init}
        fixed = {k: (_tuples(v) if isinstance(v, list) else v) for k, v in values.items() if k in names}
        return kind(**fixed)

    parts = {name: build(kind, data[name]) for name, kind in kinds.items()}
    return DedupConfig(**parts, max_chars=data["max_chars"])


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value
