"""A shared index in Redis, for several crawler workers at once.

Needs the ``[redis]`` extra (``pip install 'dedup[redis]'``) and a Redis server.
``Deduplicator.open("redis://127.0.0.1:6379/0")`` opens it. Redis holds the articles (their text,
metadata, shingles and signatures), the verified copies, and a log: the list of every addition and
removal in the order they happened. Each worker keeps an in-memory replica that it brings up to date
from the log before every ``add``; ``add`` runs under a lock held in Redis (``redis-py``'s ``Lock``,
with a timeout), so that each new article is compared with every article added before it, by any
worker, exactly once. The expensive preparation (normalizing, shingling, signing) runs outside the
lock, in parallel across workers; candidate search, verification and the write run under it.

Why a replicated log instead of datasketch's Redis storage for the LSH buckets: verification needs
each candidate's shingles in the worker anyway, so each worker holds the articles, and banding them
locally answers in microseconds where a bucket look-up in Redis costs a round trip per band (25
bands per article, 5 per passage). The log also gives every worker the same boilerplate counts and
the same answers as a single process adding the articles in log order.

Keys, under a namespace (``dedup`` by default; ``redis://host:port/db?namespace=name``):

- ``<ns>:meta`` (hash): ``format`` = ``dedup-index``, ``version`` = ``2``, ``config`` (JSON);
- ``<ns>:log`` (list): one JSON entry per operation, ``{"op": "add" | "remove", "id": ...}``;
- ``<ns>:article:<id>`` (hash): ``text``, ``published_at``, ``source``, ``url``, ``title``, ``seq``,
  ``cluster``, ``arrays`` (the same blob as in the SQLite format);
- ``<ns>:matches:<id>`` (string): JSON list of ``Match.to_record()`` of the copies found when the
  article was added;
- ``<ns>:lock``: the lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from dedup.config import DedupConfig
from dedup.errors import MissingExtraError, StoreError, StoreFormatError
from dedup.records import Article, Match
from dedup.store import FORMAT, VERSION, StoredArticle, config_from_json, config_to_json, pack_arrays, unpack_arrays


def _client(url: str) -> tuple[Any, str]:
    try:
        import redis
    except ImportError as exc:
        raise MissingExtraError(f"a Redis index needs the redis extra: pip install 'dedup[redis]' ({exc})") from exc
    parts = urlsplit(url)
    namespace = parse_qs(parts.query).get("namespace", ["dedup"])[0]
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    client = redis.Redis.from_url(clean)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        raise StoreError(f"{clean}: cannot reach the Redis server ({exc}); is redis-server running there?") from exc
    return client, namespace


class RedisStore:
    """The Redis keys behind a shared ``Deduplicator`` (see the module docstring)."""

    shared = True

    def __init__(self, url: str, config: DedupConfig, *, lock_timeout: float = 60.0) -> None:
        self.url = url
        self._r, ns = _client(url)
        self._ns = ns
        self._lock_timeout = lock_timeout
        self.position = 0  # entries of the log already applied to the replica
        wanted = config_to_json(config)
        meta_key = f"{ns}:meta"
        for key, value in (("format", FORMAT), ("version", str(VERSION)), ("config", wanted)):
            self._r.hsetnx(meta_key, key, value)  # the first worker to arrive writes the meta
        meta = {k.decode(): v.decode() for k, v in self._r.hgetall(meta_key).items()}
        if meta.get("format") != FORMAT:
            raise StoreFormatError(f"{url}: namespace {ns!r} holds something else than a dedup index")
        if int(meta.get("version", "0")) != VERSION:
            raise StoreFormatError(
                f"{url}: index format {meta.get('version')} (this version of dedup reads {VERSION}); "
                "upgrade dedup or use another namespace"
            )
        if meta.get("config") != wanted:
            raise StoreError(
                f"{url} (namespace {ns!r}) was built with other settings; open it with the config it was "
                "built with (Deduplicator.open(url) with no config reads it from Redis)"
            )

    @staticmethod
    def stored_config(url: str) -> DedupConfig | None:
        client, ns = _client(url)
        raw = client.hget(f"{ns}:meta", "config")
        return None if raw is None else config_from_json(raw.decode())

    def lock(self) -> AbstractContextManager[Any]:
        """The lock under which one article is added (held at most ``lock_timeout`` seconds)."""
        lock: AbstractContextManager[Any] = self._r.lock(
            f"{self._ns}:lock", timeout=self._lock_timeout, blocking_timeout=self._lock_timeout * 2
        )
        return lock

    def next_seq(self, current: int) -> int:
        return self.position

    def pending(self) -> Iterator[tuple[str, str, StoredArticle | None, list[Match]]]:
        """The log entries not applied yet: (op, id, article, its matches), in order."""
        raw = self._r.lrange(f"{self._ns}:log", self.position, -1)
        ops = [json.loads(x) for x in raw]
        added = [op["id"] for op in ops if op["op"] == "add"]
        pipe = self._r.pipeline(transaction=False)
        for art_id in added:
            pipe.hgetall(f"{self._ns}:article:{art_id}")
            pipe.get(f"{self._ns}:matches:{art_id}")
        fetched = pipe.execute()
        records = {art_id: (fetched[2 * i], fetched[2 * i + 1]) for i, art_id in enumerate(added)}
        for op in ops:
            self.position += 1
            if op["op"] == "remove":
                yield "remove", op["id"], None, []
                continue
            fields, matches = records[op["id"]]
            if not fields:  # removed since: a later log entry says so
                yield "skip", op["id"], None, []
                continue
            yield (
                "add",
                op["id"],
                self._article(op["id"], fields),
                [Match.from_record(m) for m in json.loads(matches or b"[]")],
            )

    def _article(self, art_id: str, fields: dict[bytes, bytes]) -> StoredArticle:
        f = {k.decode(): v for k, v in fields.items()}

        def text(name: str) -> str | None:
            value = f.get(name)
            return None if value in (None, b"") else value.decode()

        doc, signature, passage_signatures = unpack_arrays(f["arrays"], where=f"{self.url} {art_id!r}")
        published = text("published_at")
        article = Article(
            id=art_id,
            text=f["text"].decode(),
            published_at=None if published is None else datetime.fromisoformat(published),
            source=text("source"),
            url=text("url"),
            title=text("title"),
        )
        return StoredArticle(article, int(f["seq"]), doc, signature, passage_signatures)

    def save(self, stored: StoredArticle, matches: list[Match], cluster: tuple[str, list[str]]) -> None:
        ns, article = self._ns, stored.article
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(
            f"{ns}:article:{article.id}",
            mapping={
                "text": article.text,
                "published_at": "" if article.published_at is None else article.published_at.isoformat(),
                "source": article.source or "",
                "url": article.url or "",
                "title": article.title or "",
                "seq": stored.seq,
                "cluster": cluster[0],
                "arrays": pack_arrays(stored.doc, stored.signature, stored.passage_signatures),
            },
        )
        pipe.set(f"{ns}:matches:{article.id}", json.dumps([m.to_record() for m in matches if m.is_copy]))
        pipe.rpush(f"{ns}:log", json.dumps({"op": "add", "id": article.id}))
        pipe.execute()
        self.position += 1

    def delete(self, article_id: str) -> None:
        ns = self._ns
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(f"{ns}:article:{article_id}", f"{ns}:matches:{article_id}")
        pipe.rpush(f"{ns}:log", json.dumps({"op": "remove", "id": article_id}))
        pipe.execute()
        self.position += 1

    def close(self) -> None:
        self._r.close()
