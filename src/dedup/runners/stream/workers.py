"""The preparation of a stream's batch in worker processes (``Deduplicator.add_many(workers=N)``):
chunks of articles sent to ``prepare_many`` in other processes, the outcomes taken back in order."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from itertools import islice

from dedup import _log
from dedup.config import DedupConfig
from dedup.errors import DedupError
from dedup.records import Article
from dedup.stages.prepare import Prepared, prepare_many

CHUNK = 256  # articles prepared in one call of prepare_many
UNGUARDED = (
    "Worker processes (workers > 1) run the calling script again as they start: if the script calls "
    "add_many(..., workers=N) at its top level, put that call under "
    '`if __name__ == "__main__":`, or use workers=1.'
)


def _bootstrapping_a_worker() -> bool:
    """Whether this process is a spawned worker still running its parent's script as it starts
    (the flag multiprocessing's own check reads, which raises a bare RuntimeError instead)."""
    import multiprocessing

    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def prepare_in_processes(
    config: DedupConfig, articles: Iterable[Article], workers: int
) -> Iterator[tuple[Article, Prepared | DedupError]]:
    """Each article with its preparation (or the error it raised), in input order, prepared by
    ``workers`` processes, a few chunks in flight per worker."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if _bootstrapping_a_worker():
        raise DedupError(UNGUARDED)
    _log.logger.info("starting %d worker processes", workers)
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    source = iter(articles)
    window: deque[tuple[tuple[Article, ...], Future[list[Prepared | DedupError]]]] = deque()
    with ProcessPoolExecutor(workers, mp_context=context) as executor:
        try:
            while chunk := tuple(islice(source, CHUNK)):
                window.append((chunk, executor.submit(prepare_many, chunk, config)))
                if len(window) > 4 * workers:
                    sent, future = window.popleft()
                    yield from zip(sent, future.result(), strict=True)
            while window:
                sent, future = window.popleft()
                yield from zip(sent, future.result(), strict=True)
        except BrokenProcessPool as exc:
            raise DedupError(f"a worker process died ({exc}). {UNGUARDED}") from exc
