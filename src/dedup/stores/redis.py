"""A shared index in Redis, for several crawler workers at once.

Needs the ``[redis]`` extra (``pip install 'news-dedup[redis]'``) and a Redis server.
``Deduplicator.open("redis://127.0.0.1:6379/0")`` opens it. Redis holds the articles (their text,
metadata, shingles and signatures), the verified copies, and a log: the list of every addition and
removal in the order they happened. Each worker keeps an in-memory replica that it brings up to date
from the log before every ``add``; ``add`` runs under a lock held in Redis, so that each new article
is compared with every article added before it, by any worker, exactly once. The expensive
preparation (normalizing, shingling, signing) runs outside the lock, in parallel across workers;
candidate search, verification and the write run under it.

The lock is a short lease (``redis-py``'s ``Lock`` with a few seconds' expiry) that a daemon thread
renews while its holder works: a worker killed while holding it blocks the others only until the
lease runs out. Each write is one Lua script that appends to the log only if the log still ends
where the writer's replica ends, so a holder whose lease ran out (a frozen process) cannot write an
answer decided on a stale replica.

Each worker also checks, in the same round trip as its log read and again in every write, that the
index is the one it opened: ``<ns>:meta`` holds an ``epoch`` (a random token written once, by the
worker that creates the index), and the log entry the replica ends with must still be in the log at
its place. A Redis restarted without persistence, a flushed database or lost latest writes (a
persistence file older than them) fail that check, and the worker raises ``IndexLostError`` instead
of going on with a replica that no longer matches Redis. No acknowledged article is lost across a
Redis restart only when Redis writes every change to its append-only file before answering:
``appendonly yes`` with ``appendfsync always``.

Why a replicated log instead of datasketch's Redis storage for the LSH buckets: verification needs
each candidate's shingles in the worker anyway, so each worker holds the articles, and banding them
locally answers in microseconds where a bucket look-up in Redis costs a round trip per band (25
bands per article, 5 per passage). The log also gives every worker the same boilerplate counts and
the same answers as a single process adding the articles in log order.

The URL: ``redis://[user:password@]host:port/db?namespace=name&socket_timeout=10&...`` (``rediss://``
for TLS, ``unix:///path/to/socket``). ``namespace`` (``dedup`` by default) is dedup's; the other
query options are redis-py's connection options (``socket_timeout``, ``socket_connect_timeout``,
``ssl_cert_reqs``, ``ssl_ca_certs``, ``client_name``, ...), and an unknown one is refused. Error
messages show the URL with its password replaced by ``***``.

Keys, under the namespace:

- ``<ns>:meta`` (hash): ``format`` = ``dedup-index``, ``version`` = the index format version,
  ``config`` (JSON), ``epoch`` (random hex token), ``window`` (JSON: the window the last worker to
  open the index has, ``{"days": ..., "articles": ...}`` or ``null``; ``dedup index`` opens the
  index with it);
- ``<ns>:log`` (list): one JSON entry per operation, ``{"op": "add" | "remove", "id": ..., "w": ...}``,
  ``w`` being a random token that makes each entry unique, and for an addition ``published``
  (the article's ``published_at``, ISO 8601, or null: a worker that reads the entry after the
  article was removed counts it in its window with that time), ``batch`` for an addition made by
  ``add_many`` (a token shared by the batch's additions: a worker lets no article leave its window
  until the batch's last one, as the batch did) and ``answers``:
  ``{id: [cluster id, earliest source]}`` for each article whose answer the addition changed
  (the other workers take them as their own last answers);
- ``<ns>:article:<id>`` (hash): ``text``, ``published_at``, ``source``, ``url``, ``title``, ``seq``,
  ``cluster``, ``arrays`` (the same blob as in the SQLite format);
- ``<ns>:matches:<id>`` (string): JSON list of ``Match.to_record()`` of the copies found when the
  article was added, and of those its worker's grouping found among earlier articles since its
  previous addition;
- ``<ns>:lock``: the lock (a string with an expiry, present while a worker adds or removes).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dedup.config import DedupConfig, Window
from dedup.errors import (
    ConfigError,
    DedupError,
    IndexLostError,
    MissingExtraError,
    StoreCorruptError,
    StoreError,
    StoreFormatError,
)
from dedup.records import Article, Match
from dedup.stores.base import Answers, Change, Passed
from dedup.stores.sqlite import (
    FORMAT,
    VERSION,
    Counted,
    StoredArticle,
    config_from_json,
    config_to_json,
    pack_arrays,
    same_settings,
    settings_differing,
    unpack_arrays,
    window_from_json,
    window_to_json,
)

T = TypeVar("T")

LEASE = 5.0  # seconds a lock holder keeps the lock without renewing it
_RETRY_PAUSES = (0.25, 0.75)  # a transient error is retried after each pause, then reported
_DEFAULTS = {"socket_timeout": "10", "socket_connect_timeout": "5"}  # a frozen server is an error, not a hang
# redis-py's connection options that a URL can carry (plain values); TLS ones need rediss://
_OPTIONS = frozenset({
    "db", "username", "password", "socket_timeout", "socket_connect_timeout", "socket_keepalive",
    "socket_read_size", "health_check_interval", "client_name", "max_connections", "protocol",
})  # fmt: skip
_TLS_OPTIONS = frozenset({
    "ssl_keyfile", "ssl_certfile", "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_path", "ssl_password",
    "ssl_check_hostname", "ssl_ciphers", "ssl_min_version",
})  # fmt: skip

# Appends one entry to the log and writes (or deletes) the article, only if the index is the one the
# worker opened and the log still ends where the worker's replica ends. Returns 1 when written, 0
# when this very entry is already the next one (a retry after a lost reply), -1 when the index was
# reset or lost writes, -2 when another worker appended in the meantime (the lease ran out).
# KEYS: meta, log, article, matches, then the articles of the other members whose recorded cluster
# id is now the added article's. ARGV: epoch, position, last entry, entry, op, matches JSON, then the
# article's fields and values.
_WRITE = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return -1 end
local position = tonumber(ARGV[2])
local length = redis.call('LLEN', KEYS[2])
if length == position + 1 and redis.call('LINDEX', KEYS[2], position) == ARGV[4] then return 0 end
if position > 0 and redis.call('LINDEX', KEYS[2], position - 1) ~= ARGV[3] then return -1 end
if length ~= position then return -2 end
if ARGV[5] == 'add' then
    redis.call('HSET', KEYS[3], unpack(ARGV, 7))
    redis.call('SET', KEYS[4], ARGV[6])
    local cluster = redis.call('HGET', KEYS[3], 'cluster')
    for i = 5, #KEYS do
        if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('HSET', KEYS[i], 'cluster', cluster) end
    end
else
    redis.call('DEL', KEYS[3], KEYS[4])
end
redis.call('RPUSH', KEYS[2], ARGV[4])
return 1
"""


def _redis() -> Any:
    try:
        import redis
    except ImportError as exc:
        raise MissingExtraError(
            f"a Redis index needs the redis extra: pip install 'news-dedup[redis]' ({exc})"
        ) from exc
    return redis


def redact(url: str) -> str:
    """The URL as it may be shown: its password (and any ``*password*`` query value) as ``***``."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    query = [(k, "***" if "password" in k.lower() else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, userinfo + at + hostport, parts.path, urlencode(query, safe="*/:"), ""))


@dataclass(frozen=True, slots=True)
class _Target:
    """A Redis URL taken apart: what may be shown, dedup's namespace, and the URL for redis-py."""

    shown: str
    namespace: str
    client_url: str  # holds the password: never in a message


def _target(url: str) -> _Target:
    shown = redact(url)
    parts = urlsplit(url)
    database = parts.path.strip("/") if parts.scheme in ("redis", "rediss") else ""  # (unix://: a socket's path)
    if database and not (database.isascii() and database.isdigit()):
        raise ConfigError(f"{shown}: {parts.path!r} is not a database number; give /0, /1, ... or nothing")
    options: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in options:
            raise ConfigError(f"{shown}: the option {name!r} is given twice in the Redis URL; give it once")
        options[name] = value
    namespace = options.pop("namespace", "dedup")
    if not namespace:
        raise ConfigError(f"{shown}: the namespace is empty; give a name (?namespace=name) or leave it out")
    for name in options:
        if name in _TLS_OPTIONS and parts.scheme != "rediss":
            raise ConfigError(f"{shown}: {name} is a TLS option; use a rediss:// URL for TLS")
        if name not in _OPTIONS | _TLS_OPTIONS:
            raise ConfigError(
                f"{shown}: unknown option {name!r} in the Redis URL; the options are namespace and redis-py's "
                f"connection options: {', '.join(sorted(_OPTIONS | _TLS_OPTIONS))}"
            )
    query = urlencode({**_DEFAULTS, **options})
    return _Target(shown, namespace, urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")))


def _connect(target: _Target) -> Any:
    redis = _redis()
    try:
        # no retries inside redis-py: dedup retries itself, where a retry is safe (see ``_guarded``)
        client = redis.Redis.from_url(target.client_url, retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))
    except ValueError as exc:
        raise ConfigError(f"{target.shown}: not a usable Redis URL ({exc})") from exc
    _guarded(target.shown, "connecting", client.ping)
    return client


def _guarded(shown: str, what: str, call: Callable[[], T]) -> T:
    """``call()``, retried after a transient error (a lost connection, a timeout) at most twice;
    every redis-py error becomes a ``StoreError`` that says what to do."""
    exceptions = _redis().exceptions
    for pause in (*_RETRY_PAUSES, None):
        try:
            return call()
        except (exceptions.AuthenticationError, exceptions.AuthorizationError) as exc:
            raise StoreError(
                f"{shown}: Redis refused the user name or password in the URL ({exc}); correct them, or "
                "give that user the commands dedup runs"
            ) from exc
        except exceptions.TimeoutError as exc:
            if pause is None:
                raise StoreError(
                    f"{shown}: Redis did not answer in time while {what} ({exc}): the server is frozen, "
                    "overloaded or unreachable; check it (redis-cli ping), or allow more time with "
                    "?socket_timeout=SECONDS in the URL"
                ) from exc
        except exceptions.ConnectionError as exc:
            if pause is None:
                raise StoreError(
                    f"{shown}: cannot reach the Redis server while {what} ({exc}); is redis-server running "
                    "there and reachable from this machine?"
                ) from exc
        except exceptions.RedisError as exc:
            raise StoreError(f"{shown}: Redis refused a command while {what} ({exc}); fix the server's state") from exc
        time.sleep(pause)
    raise StoreError(f"{shown}: Redis failed while {what}")  # not reached: the last attempt returns or raises


class _Lease:
    """The add lock: a key with a ``LEASE``-second expiry that a daemon thread renews while the
    holder works. A killed holder stops renewing, so the others wait at most one lease."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._lock: Any = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> None:
        store = self._store
        lease, wait = store.lease, store.lock_timeout
        # thread_local=False: the renewing thread must see the token the holder acquired with
        self._lock = store.client.lock(
            store.key("lock"), timeout=lease, sleep=0.05, blocking_timeout=wait, thread_local=False
        )
        if not store.call("waiting for the lock", self._lock.acquire):
            raise StoreError(
                f"{store.url}: waited {wait:g} s for the lock {store.key('lock')!r} without getting it: other "
                "workers held it all that time (too many workers for one index, or one stuck in a long add); "
                "allow a longer wait with Deduplicator.open(url, lock_timeout=SECONDS)"
            )
        self._renewer = threading.Thread(target=self._renew, name="dedup-redis-lease", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        exceptions = _redis().exceptions
        while not self._stop.wait(self._store.lease / 3):
            try:
                self._lock.extend(self._store.lease, replace_ttl=True)
            except exceptions.LockError:
                return  # the lease ran out and another worker may hold it: the fenced write refuses
            except exceptions.RedisError:
                continue  # a transient error: the next renewal may get through within the lease

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            self._lock.release()
        except _redis().exceptions.RedisError:
            pass  # the lease is gone or Redis is unreachable: the key expires on its own


# Articles read from Redis in one round trip while a worker catches up.
READ_AT_ONCE = 1000


class RedisStore:
    """The Redis keys behind a shared ``Deduplicator`` (see the module docstring).

    ``lock_timeout`` is how long an ``add`` waits for the lock before it gives up with a
    ``StoreError``; ``lease`` is how long a holder keeps the lock without renewing it."""

    shared = True

    def __init__(
        self, url: str, config: DedupConfig, *, lock_timeout: float = 60.0, lease: float = LEASE, reader: bool = False
    ) -> None:
        """``reader``: a worker that writes nothing; an empty namespace is no index to it (a
        ``StoreError``), where another worker makes it one."""
        if not lock_timeout > 0 or not lease > 0:
            raise ConfigError(f"lock_timeout and lease must be positive seconds, got {lock_timeout} and {lease}")
        target = _target(url)
        self.url = target.shown  # never the password
        self._ns = target.namespace
        self.lock_timeout = lock_timeout
        self.lease = lease
        self.client: Any = _connect(target)
        self.position = 0  # entries of the log already applied to the replica
        self._last: bytes | None = None  # the log entry at position - 1, as read or written
        self._epoch = self._open_meta(config, reader)
        self._write = self.client.register_script(_WRITE)

    def key(self, name: str) -> str:
        return f"{self._ns}:{name}"

    def call(self, what: str, call: Callable[[], T]) -> T:
        return _guarded(self.url, what, call)

    def _open_meta(self, config: DedupConfig, reader: bool) -> str:
        """Write the meta if the namespace is new (the first worker to arrive wins; not a
        ``reader``, which finds no index there), check it, and return the index's epoch."""
        wanted = config_to_json(config)
        meta_key, url, ns = self.key("meta"), self.url, self._ns

        def write_and_read() -> Any:
            pipe = self.client.pipeline(transaction=True)
            if not reader:
                new = (
                    ("format", FORMAT),
                    ("version", str(VERSION)),
                    ("config", wanted),
                    ("epoch", secrets.token_hex(16)),
                )
                for key, value in new:
                    pipe.hsetnx(meta_key, key, value)
            pipe.hgetall(meta_key)
            return pipe.execute()[-1]

        meta: dict[str, str] = {
            k.decode(): v.decode() for k, v in self.call("reading the index meta", write_and_read).items()
        }
        if reader and not meta:
            raise StoreError(
                f"{url}: namespace {ns!r} holds no index; build one with dedup stream --index, or open it without "
                "read_only"
            )
        if meta.get("format") != FORMAT:
            raise StoreFormatError(f"{url}: namespace {ns!r} holds something else than a dedup index")
        if meta.get("version") != str(VERSION):
            raise StoreFormatError(
                f"{url}: index format {meta.get('version')} (this version of dedup reads {VERSION}); "
                "upgrade dedup or use another namespace"
            )
        if not same_settings(meta.get("config", ""), config):
            raise StoreError(
                f"{url} (namespace {ns!r}) was built with other settings "
                f"({settings_differing(meta.get('config', ''), config)}); open it with the settings it was built "
                "with: Deduplicator.open(url) with no config, or dedup stream --index without --config, reads "
                "them from Redis"
            )
        return meta["epoch"]

    @staticmethod
    def _meta_field(url: str, field: str) -> tuple[bytes | None, str]:
        """One field of the meta of the index at ``url`` (read on a connection of its own), and
        the URL as shown."""
        target = _target(url)
        client = _connect(target)
        try:
            raw = _guarded(
                target.shown, "reading the index meta", lambda: client.hget(f"{target.namespace}:meta", field)
            )
        finally:
            client.close()
        return raw, target.shown

    @staticmethod
    def stored_config(url: str) -> DedupConfig | None:
        raw, _ = RedisStore._meta_field(url, "config")
        return None if raw is None else config_from_json(raw.decode())

    def note_window(self, window: Window | None) -> None:
        """Record the window this worker has (``stored_window``)."""
        value = window_to_json(window)
        self.call("recording the window", lambda: self.client.hset(self.key("meta"), "window", value))

    def recorded_window(self, *, quiet: bool = False) -> Window | None:
        """``stored_window`` of the index this store has open, read on its own connection."""
        raw = self.call("reading the index meta", lambda: self.client.hget(self.key("meta"), "window"))
        return None if raw is None else window_from_json(raw.decode("utf-8", "replace"), self.url, quiet=quiet)

    @staticmethod
    def stored_window(url: str, *, quiet: bool = False) -> Window | None:
        """The window the last worker to open the index had (``note_window``); None when it had
        none or the index does not say (a record that is not a window is logged, unless
        ``quiet``)."""
        raw, shown = RedisStore._meta_field(url, "window")
        return None if raw is None else window_from_json(raw.decode("utf-8", "replace"), shown, quiet=quiet)

    def timeline(self) -> list[tuple[int, str, datetime | None]]:
        """(ingest number, id, ``published_at``) of every article the index holds, in ingest order:
        the whole log gone through, and each article's number and time read (not its text), in
        chunks; checked as ``pending`` reads the log."""
        held: dict[str, None] = {}
        for entry in self._check_and_read(0):
            op = json.loads(entry)
            held.pop(op["id"], None)
            if op["op"] == "add":
                held[op["id"]] = None
        # (an article removed by another worker since the log was read is left out)
        return sorted((seq, art_id, when) for art_id, (seq, when) in self._times(list(held)).items())

    def lock(self) -> _Lease:
        """The lock under which one article is added or removed."""
        return _Lease(self)

    def next_seq(self, current: int) -> int:
        return self.position

    def _lost(self, epoch: bytes | None, last: bytes | None) -> IndexLostError:
        """The error for an index that is not the one this worker opened any more."""
        if epoch is None:
            what = "the index is gone from Redis (no epoch in its meta)"
        elif epoch.decode() != self._epoch:
            what = "the index was created again since this worker opened it (its epoch changed)"
        else:
            what = f"the log does not hold the {self.position} entries this worker has already applied"
        return IndexLostError(
            f"{self.url} (namespace {self._ns!r}): {what}. Redis restarted without persistence, was flushed, "
            "or came back from a persistence file older than its latest writes, so articles acknowledged "
            "before may be gone. Stop the workers; restore Redis from a backup or its append-only file, or "
            "delete the namespace and add the articles again; then open the index again in every worker. "
            "To keep acknowledged articles across a Redis restart, run Redis with appendonly yes and "
            "appendfsync always."
        )

    def _check_and_read(self, start: int | None = None) -> list[bytes]:
        """The log entries from ``start`` (by default, after the replica's position), read in the
        same transaction as the checks that the index is still the one this worker opened
        (``IndexLostError`` if not)."""

        def read() -> Any:
            pipe = self._checked()
            pipe.lrange(self.key("log"), self.position if start is None else start, -1)
            return pipe.execute()

        epoch, last, entries = self.call("reading the log", read)
        self._check_same(epoch, last)
        return list(entries)

    def _checked(self) -> Any:
        """A transaction that reads first what ``_check_same`` checks: the index's epoch and the
        last log entry this worker applied."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hget(self.key("meta"), "epoch")
        pipe.lindex(self.key("log"), max(self.position - 1, 0))
        return pipe

    def _check_same(self, epoch: bytes | None, last: bytes | None) -> None:
        """Raise ``IndexLostError`` unless the index is the one this worker opened: its ``epoch``
        and the ``last`` log entry this worker applied, read from Redis, are the ones it knows."""
        if epoch is None or epoch.decode() != self._epoch or (self.position > 0 and last != self._last):
            raise self._lost(epoch, last)

    def pending(self, only: Callable[[int, str], bool] | None = None, limit: int | None = None) -> Iterator[Change]:
        """The log entries not applied yet: (op, id, article, its matches, the answers its addition
        gave), in order, the articles read ``READ_AT_ONCE`` at a time (a worker far behind never
        holds them all); an addition whose article is not the one stored now comes as ("skip", id,
        its ``Passed`` ingest number and time, [], its answers); the additions of one batch come
        between ("batch", ...) and ("batch end", ...), the end given as the entry after them is
        read.
        ``only(n, id)``: whether to read the article added by the n-th of these entries (else it
        comes as ("left", id, None, [], None)); ``limit``: at most that many entries."""
        raw = self._check_and_read()
        if limit is not None:
            raw = raw[:limit]
        ops = [json.loads(x) for x in raw]
        for start in range(0, len(raw), READ_AT_ONCE):
            part = range(start, min(start + READ_AT_ONCE, len(raw)))
            wanted = [n for n in part if ops[n]["op"] == "add" and (only is None or only(n, ops[n]["id"]))]
            records = dict(zip(wanted, self._read_articles([ops[n]["id"] for n in wanted]), strict=True))
            for n in part:
                op, art_id = ops[n]["op"], ops[n]["id"]
                batch, before = _batch(ops[n]), None if n == 0 else _batch(ops[n - 1])
                if before is not None and batch != before:
                    yield "batch end", "", None, [], None
                if batch is not None and (n == 0 or batch != before):
                    yield "batch", "", None, [], None
                self.position += 1
                self._last = raw[n]
                if op == "remove":
                    yield "remove", art_id, None, [], None
                    continue
                if n not in records:
                    yield "left", art_id, None, [], None
                    continue
                fields, matches = records[n]
                at = self.position - 1  # (an addition's ingest number is its place in the log)
                # removed since (a later entry says so), or added again (a later entry adds the
                # article stored now; an entry of an older version does not say its time; a
                # damaged number is reported as the article is read)
                seq = fields.get(b"seq", b"")
                again = "published" in ops[n] and seq.isdigit() and int(seq) != at
                if not fields or again:
                    yield "skip", art_id, _passed(at, ops[n]), [], _answers(ops[n].get("answers"))
                    continue
                yield (
                    "add",
                    art_id,
                    self._article(art_id, fields),
                    [Match.from_record(m) for m in json.loads(matches or b"[]")],
                    _answers(ops[n].get("answers")),
                )

    def _read_articles(self, article_ids: list[str]) -> list[tuple[dict[bytes, bytes], bytes | None]]:
        """Each article's fields and matches, in one transaction with the checks that the index is
        still the one this worker opened (``IndexLostError`` if not: an article missing from an
        index Redis lost was not removed)."""
        if not article_ids:
            return []

        def fetch() -> Any:
            pipe = self._checked()
            for art_id in article_ids:
                pipe.hgetall(self.key(f"article:{art_id}"))
                pipe.get(self.key(f"matches:{art_id}"))
            return pipe.execute()

        epoch, last, *fetched = self.call("reading articles", fetch)
        self._check_same(epoch, last)
        return [(fetched[2 * i], fetched[2 * i + 1]) for i in range(len(article_ids))]

    def peek(self) -> list[tuple[str, str, int | None, datetime | None, str | None]]:
        """The log entries not applied yet, without reading them into the replica: (op, id, for an
        addition its ingest number and time: the stored article's, for the entry that added it,
        else those the entry gives (an article removed or added again since), else None, None (an
        entry of an older version, or a removal), and the batch the addition is part of)."""
        base = self.position
        ops = [json.loads(x) for x in self._check_and_read()]
        times = self._times(sorted({op["id"] for op in ops if op["op"] == "add"}))
        peeked: list[tuple[str, str, int | None, datetime | None, str | None]] = []
        for n, op in enumerate(ops):
            seq, published = None, None
            if op["op"] == "add":
                stored = times.get(op["id"])
                if stored is not None and stored[0] == base + n:
                    seq, published = stored
                elif (passed := _passed(base + n, op)) is not None:
                    seq, published = passed.seq, passed.published
            peeked.append((op["op"], op["id"], seq, published, _batch(op)))
        return peeked

    def _times(self, article_ids: list[str]) -> dict[str, tuple[int, datetime | None]]:
        """The ingest number and time of each of ``article_ids`` still stored (not their texts),
        read ``READ_AT_ONCE`` at a time."""
        times: dict[str, tuple[int, datetime | None]] = {}
        for start in range(0, len(article_ids), READ_AT_ONCE):
            chunk = article_ids[start : start + READ_AT_ONCE]

            def fetch(chunk: list[str] = chunk) -> Any:
                pipe = self.client.pipeline(transaction=False)
                for art_id in chunk:
                    pipe.hmget(self.key(f"article:{art_id}"), "seq", "published_at")
                return pipe.execute()

            for art_id, (seq, published) in zip(chunk, self.call("reading the articles' times", fetch), strict=True):
                if seq is None:
                    continue
                try:
                    times[art_id] = (int(seq), datetime.fromisoformat(published.decode()) if published else None)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise self._damaged(art_id, exc) from exc
        return times

    def _article(self, art_id: str, fields: dict[bytes, bytes]) -> StoredArticle:
        try:
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
            return StoredArticle(article, int(f["seq"]), doc, signature, passage_signatures, text("cluster"))
        except (KeyError, ValueError, TypeError, DedupError) as exc:
            raise self._damaged(art_id, exc) from exc

    def _damaged(self, art_id: str, exc: Exception) -> StoreCorruptError:
        if isinstance(exc, StoreCorruptError):
            return exc
        return StoreCorruptError(
            f"{self.url}: article {art_id!r} is damaged in Redis ({type(exc).__name__}: {exc}); restore Redis "
            "from a backup, or delete the namespace and add the articles again"
        )

    def stored(self, article_id: str) -> StoredArticle | None:
        """One stored article (added by any worker); None when the index has no such id. Read with
        the checks that the index is still the one this worker opened (``IndexLostError`` if not):
        an article missing from an index that Redis lost is no answer."""
        key = self.key(f"article:{article_id}")

        def read() -> Any:
            pipe = self._checked()
            pipe.hgetall(key)
            return pipe.execute()

        epoch, last, fields = self.call(f"reading article {article_id!r}", read)
        self._check_same(epoch, last)
        return self._article(article_id, fields) if fields else None

    def counted(self, article_id: str) -> Counted | None:
        """``stored``'s, as the formula counts read it (a worker keeps the shingles of its articles
        in memory, so this is seldom read)."""
        stored = self.stored(article_id)
        if stored is None:
            return None
        article = stored.article
        return Counted(stored.seq, article.source, article.url, stored.doc.shingles)

    def save(
        self,
        stored: StoredArticle,
        matches: list[Match],
        cluster: tuple[str, list[str]],
        answers: Answers,
        batch: str | None = None,
    ) -> None:
        article = stored.article
        fields: dict[str, str | int | bytes] = {
            "text": article.text,
            "published_at": "" if article.published_at is None else article.published_at.isoformat(),
            "source": article.source or "",
            "url": article.url or "",
            "title": article.title or "",
            "seq": stored.seq,
            "cluster": cluster[0],
            "arrays": pack_arrays(stored.doc, stored.signature, stored.passage_signatures),
        }
        copies = json.dumps([m.to_record() for m in matches if m.is_copy])
        moved = [m for m in cluster[1] if m != article.id]
        flat = [x for pair in fields.items() for x in pair]
        published = None if article.published_at is None else article.published_at.isoformat()
        written: dict[str, object] = {"published": published, "answers": {m: list(a) for m, a in answers.items()}}
        if batch is not None:
            written["batch"] = batch
        self._append("add", article.id, copies, flat, moved, written)

    def delete(self, article_id: str) -> None:
        self._append("remove", article_id, "", [])

    def _append(
        self,
        op: str,
        art_id: str,
        copies: str,
        fields: list[str | int | bytes],
        moved: list[str] | None = None,
        written: dict[str, object] | None = None,
    ) -> None:
        """Write one operation with ``_WRITE``: safe to retry, since a retry finds its own entry.
        ``moved``: the other members whose recorded cluster id becomes the added article's;
        ``written``: what else the entry holds (an addition's time, batch and answers)."""
        record: dict[str, object] = {"op": op, "id": art_id, "w": secrets.token_hex(8), **(written or {})}
        entry = json.dumps(record)
        keys = [self.key("meta"), self.key("log"), self.key(f"article:{art_id}"), self.key(f"matches:{art_id}")]
        keys += [self.key(f"article:{m}") for m in moved or ()]
        args = [self._epoch, self.position, self._last or b"", entry, op, copies, *fields]
        try:
            done = self.call(f"writing article {art_id!r}", lambda: self._write(keys=keys, args=args))
        except StoreError as exc:
            exceptions = _redis().exceptions
            if not isinstance(exc.__cause__, exceptions.ConnectionError | exceptions.TimeoutError):
                raise
            # the server may have run the write before the connection broke: what it holds is unknown
            again = (
                "add it again once the server answers (written already, it comes back with already_indexed)"
                if op == "add"
                else "remove it again once the server answers (removed already, it is no longer in the index)"
            )
            raise StoreError(f"{exc} Whether the {op} of article {art_id!r} was written is not known: {again}") from (
                exc.__cause__
            )
        if done == -1:
            self._check_and_read()  # raises IndexLostError with what exactly changed
            raise self._lost(None, None)
        if done == -2:
            raise StoreError(
                f"{self.url}: article {art_id!r} was not written: this worker's lock ran out (the process "
                f"was paused or starved for more than {self.lease:g} s) and another worker wrote first; "
                "add it again"
            )
        self.position += 1
        self._last = entry.encode()

    def close(self) -> None:
        self.client.close()


def _passed(seq: int, entry: dict[str, Any]) -> Passed | None:
    """The ingest number and time of an addition whose article is not the one stored now, from its
    log entry (None for an entry without its time, written by an older version, or a damaged one:
    the reader then counts it without a time)."""
    if "published" not in entry:
        return None
    published = entry["published"]
    if published is None:
        return Passed(seq, None)
    try:
        return Passed(seq, datetime.fromisoformat(published))
    except (TypeError, ValueError):
        return None


def _batch(entry: dict[str, Any]) -> str | None:
    """The batch (``add_many``) a log entry's addition is part of (None: none, or not a batch's
    token)."""
    batch = entry.get("batch")
    return batch if isinstance(batch, str) else None


def _answers(written: object) -> Answers | None:
    """The answers a log entry holds (``{id: [cluster id, earliest source]}``); None for an entry
    without them, or with anything else there (the reader then finds the answers again)."""
    if not isinstance(written, dict):
        return None
    answers: Answers = {}
    for member, answer in written.items():
        if not (isinstance(answer, list) and len(answer) == 2 and all(isinstance(x, str) for x in answer)):
            return None
        answers[member] = (answer[0], answer[1])
    return answers
