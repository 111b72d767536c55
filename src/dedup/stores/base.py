"""The store protocol: what a ``Deduplicator`` asks of the place that keeps its index.

Two stores satisfy it: ``dedup.stores.sqlite.SQLiteStore`` (a file, one writer) and
``dedup.stores.redis.RedisStore`` (a server shared by several workers). The deduplicator keeps the
whole index in memory and writes through the store: every added article in one ``save`` before
``add`` returns, every removal in one ``delete``. A shared store (``shared`` is True) also holds
the changes other workers made: ``pending()`` gives them in order, and ``lock()`` is held while one
article is added or removed, so that the workers' changes are applied one after another. A store
of one writer has nothing pending and a lock that does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from dedup.records import Match

if TYPE_CHECKING:
    from dedup.config import Window
    from dedup.stores.sqlite import Counted, StoredArticle

# The schemes of a Redis index's URL: any other place given for an index is a SQLite file's path.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def is_redis(where: object) -> bool:
    """Whether ``where``, a place given for an index, names a Redis server (a URL of its schemes)."""
    return isinstance(where, str) and where.startswith(REDIS_SCHEMES)


# The answers an addition gave: for each article whose cluster id or earliest source changed with
# it, the new ones (``Groups.answers``).
Answers = dict[str, tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Passed:
    """An addition in a shared store's log whose article is not the one stored now (removed since,
    perhaps added again): its ingest number and the ``published_at`` it had, as the window of the
    worker that added it counted them."""

    seq: int
    published: datetime | None


# A change read from a shared store's log: ("add" or "remove", the article id, the article as
# stored (for an addition), the copies written with it, and the answers written with it (None
# for an addition whose log entry holds none: written by an older version)); ("skip", the id,
# ``Passed`` (None for an entry written by an older version), [], its answers) for an addition
# whose article is not the one stored now; ("batch", "", None, [], None) before a run of additions of
# one batch (``add_many``) and ("batch end", ...) after it, when the entry after it is read.
Change = tuple[str, str, "StoredArticle | Passed | None", list[Match], "Answers | None"]


class Store(Protocol):
    """Where a ``Deduplicator`` writes its index (see the module docstring)."""

    @property
    def shared(self) -> bool:
        """Whether other workers write the same index (and ``pending`` and ``lock`` matter)."""
        ...

    def next_seq(self, current: int) -> int:
        """The sequence number of the next article (``current``: the replica's own next one)."""
        ...

    def save(
        self,
        stored: StoredArticle,
        matches: list[Match],
        cluster: tuple[str, list[str]],
        answers: Answers,
        batch: str | None = None,
    ) -> None:
        """Write an added article, the verified copies (its own, and those found among earlier
        articles since the previous save), its cluster (its id, and the other members whose
        recorded cluster id is now that one), the answers the addition gave and the batch
        (``add_many``) it is part of (a shared store gives both to the other workers with the
        change), at once or not at all."""
        ...

    def stored(self, article_id: str) -> StoredArticle | None:
        """An article as stored, whether or not it is in memory; None when there is no such id."""
        ...

    def counted(self, article_id: str) -> Counted | None:
        """What the formula counts took in of a stored article (``stored``'s checks, the rest left
        unread where the store can); None when there is no such id."""
        ...

    def delete(self, article_id: str) -> None:
        """Remove an article and its copies."""
        ...

    def timeline(self) -> list[tuple[int, str, datetime | None]]:
        """(ingest number, id, ``published_at``) of every article stored, in ingest order, read
        without the texts."""
        ...

    def note_window(self, window: Window | None) -> None:
        """Record the window the deduplicator writing the store has (``dedup index`` opens the
        store with it)."""
        ...

    def lock(self) -> AbstractContextManager[None]:
        """Held while one article is added or removed."""
        ...

    def pending(self) -> Iterator[Change]:
        """The changes other workers made since the last call, in order."""
        ...

    def close(self) -> None: ...
