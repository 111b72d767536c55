"""The stream's window (``dedup.config.Window``): which indexed articles stay in memory.

``Retention`` is told of every article as it is indexed (``admit``) and says which ones have left
the window since (``leaving``), oldest first: by time, those older than the clock minus
``Window.days``; by count, the first added beyond the last ``Window.articles``. It holds two
numbers and an id per article in the window (and its heap entries); what leaves is dropped lazily from its heaps.
The numbers are kept in two dicts of plain numbers rather than one of pairs: the garbage collector
leaves such a dict out of its walks, where putting a new tuple in would bring it back in whole
(see ``dedup._collector``).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from dedup.config import Window

DAY = 86_400.0
AHEAD = 30.0  # days ahead of the clock past which an article's time is taken for a mistake


class Retention:
    """The articles in a window and the stream's clock (see ``Window``). ``now`` gives the machine's
    time in seconds since the epoch (a test may pass its own)."""

    def __init__(self, window: Window, now: Callable[[], float] = time.time) -> None:
        self.window = window
        self._now = now
        # the newest time seen; -inf until a dated article comes (undated ones are older than all)
        self.clock = -math.inf
        self._by_time: list[tuple[float, int, str]] = []
        self._by_seq: list[tuple[int, str]] = []
        # each article in the window: its seq, and its time
        self._held: dict[str, int] = {}
        self._time: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._held

    def __iter__(self) -> Iterator[str]:
        return iter(self._held)

    def time_of(self, published: datetime | None) -> float:
        """An article's time in the window: its ``published_at`` (a naive time read as UTC), or the
        clock when it has none. A time more than ``AHEAD`` days (or the window's length, when
        longer) ahead of the clock counts as a day past it (so a misdated page moves the clock by a
        day, and after a longer pause the clock catches up a day an article); the first dated
        article's, more than a day past the machine's clock, as that. An index reopened later so
        finds the times the stream used (but for the first)."""
        if published is None:
            return self.clock
        if published.utcoffset() is None:
            published = published.replace(tzinfo=UTC)
        moment = published.timestamp()
        if self.clock == -math.inf:
            return min(moment, self._now() + DAY)
        ahead = max(AHEAD, self.window.days or 0.0) * DAY
        return moment if moment <= self.clock + ahead else self.clock + DAY

    def admit(self, article_id: str, seq: int, published: datetime | None) -> None:
        """An article indexed (an id indexed again after a removal counts from now)."""
        moment = self.time_of(published)
        self.clock = max(self.clock, moment)
        self._held[article_id] = seq
        self._time[article_id] = moment
        if self.window.days is not None:
            heapq.heappush(self._by_time, (moment, seq, article_id))
        if self.window.articles is not None:
            heapq.heappush(self._by_seq, (seq, article_id))

    def discard(self, article_id: str) -> None:
        """An article removed from the index: it no longer counts."""
        self._held.pop(article_id, None)
        self._time.pop(article_id, None)

    def cutoff(self, published: datetime | None) -> float:
        """The oldest time in the window once an article of time ``published`` has come."""
        days = self.window.days
        return -math.inf if days is None else max(self.clock, self.time_of(published)) - days * DAY

    def since(self, article_id: str, cutoff: float) -> bool:
        """Whether a held article is no older than ``cutoff``."""
        return self._time[article_id] >= cutoff

    def leaving(self) -> list[str]:
        """The articles that have left the window since the last call, oldest first; they are no
        longer held."""
        out: list[str] = []
        held, times, days, most = self._held, self._time, self.window.days, self.window.articles
        if days is not None:
            cutoff = self.clock - days * DAY
            by_time = self._by_time
            while by_time and by_time[0][0] < cutoff:
                _, seq, article_id = heapq.heappop(by_time)
                if self._holds(article_id, seq):
                    del held[article_id], times[article_id]
                    out.append(article_id)
        if most is not None:
            by_seq = self._by_seq
            while len(held) > most:
                seq, article_id = heapq.heappop(by_seq)
                if self._holds(article_id, seq):
                    del held[article_id], times[article_id]
                    out.append(article_id)
        if len(self._by_time) > 2 * len(held) + 64 or len(self._by_seq) > 2 * len(held) + 64:
            self._compact()
        return out

    def _holds(self, article_id: str, seq: int) -> bool:
        """Whether a heap entry is of an article held (not removed, nor indexed again since)."""
        return self._held.get(article_id) == seq

    def _compact(self) -> None:
        """Drop the heaps' entries of articles no longer held (removed, or indexed again)."""
        self._by_time = [e for e in self._by_time if self._holds(e[2], e[1])]
        self._by_seq = [e for e in self._by_seq if self._holds(e[1], e[0])]
        heapq.heapify(self._by_time)
        heapq.heapify(self._by_seq)
