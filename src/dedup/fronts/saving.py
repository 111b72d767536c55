"""The state of a crawl's index saved as it runs (``Deduplicator.save_state``), for the crawler
fronts: ``dedup stream --save-state MINUTES`` and the Scrapy pipeline's
``DEDUP_SAVE_STATE_MINUTES``. The state is saved at the first article after every so many minutes,
between two adds; a state that cannot be saved is told and the crawl goes on (the index file is
complete without it)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from dedup.errors import ConfigError, StoreError
from dedup.runners.stream import Deduplicator
from dedup.stores.base import is_redis


class StateSaving:
    """Saves a deduplicator's state at the first ``due`` call after every ``minutes`` minutes
    (counted from its making). ``setting`` names the option in messages and ``index_example``
    shows how to give an index file (``--index crawl.sqlite``, say); ``tell`` is given the message
    of a state that could not be saved."""

    def __init__(
        self,
        minutes: float,
        index: str | None,
        tell: Callable[[str], None],
        *,
        setting: str,
        index_example: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not (0 < 60.0 * minutes < math.inf):
            raise ConfigError(f"{setting} takes a positive number of minutes, got {minutes!r}")
        if index is None or is_redis(index):
            raise ConfigError(
                f"{setting} saves the memory beside an index file (a Redis worker reads its window from Redis "
                f"when it starts): give the index as a SQLite file ({index_example}, say)"
            )
        self.every = 60.0 * minutes
        self._setting = setting
        self._tell, self._clock = tell, clock
        self._next = clock() + self.every
        self._slow_told = False

    def due(self, dedup: Deduplicator) -> bool:
        """Save the state if the time has come; whether it was saved. A save that takes more than a
        tenth of the interval is told once (nothing is added while it runs)."""
        started = self._clock()
        if started < self._next:
            return False
        try:
            dedup.save_state()
            return True
        except StoreError as exc:
            self._tell(str(exc))
            return False
        finally:
            ended = self._clock()
            self._next = ended + self.every
            if ended - started > self.every / 10 and not self._slow_told:
                self._slow_told = True
                self._tell(
                    f"saving the state took {ended - started:.1f} s, more than a tenth of the {self.every / 60:g} "
                    f"minutes between saves, during which nothing is added: give {self._setting} more minutes"
                )
