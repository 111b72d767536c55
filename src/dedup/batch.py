"""The batch front: ``dedup.cluster(articles)`` in one call (run by ``dedup.engine``), and the
preparation in worker processes that ``Deduplicator.add_many`` uses.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice

from dedup import engine
from dedup.config import DedupConfig
from dedup.errors import DedupError
from dedup.records import Article, Cluster, Skip
from dedup.stream import OnError, Prepared, Progress

_CHUNK = 256


def _prepare_chunk(chunk: tuple[Article, ...]) -> list[Prepared | DedupError]:
    """In a worker of ``engine._Pool``: each article prepared, or the error it raised."""
    return engine.worker_preparer().prepare_many(chunk)


def prepare_in_processes(
    config: DedupConfig, articles: Iterable[Article], workers: int
) -> Iterator[tuple[Article, Prepared | DedupError]]:
    """Each article with its preparation (or the error it raised), in input order, prepared by
    ``workers`` processes (the batch engine's pool), chunk by chunk."""
    source = iter(articles)
    sent: deque[tuple[Article, ...]] = deque()  # the chunks in flight, in order

    def chunks() -> Iterator[tuple[Article, ...]]:
        while chunk := tuple(islice(source, _CHUNK)):
            sent.append(chunk)
            yield chunk

    pool = engine.Pool(config, frozenset(), workers)
    try:
        for outcomes in pool.map(_prepare_chunk, chunks()):
            yield from zip(sent.popleft(), outcomes, strict=True)
    finally:
        pool.close()


def cluster(
    articles: Iterable[Article] | str | os.PathLike[str],
    *,
    config: DedupConfig | None = None,
    errors: OnError = "raise",
    skipped: list[Skip] | None = None,
    progress: Progress | None = None,
    workers: int = 1,
) -> list[Cluster]:
    """Group a batch of articles into clusters of copies (singletons included), each with its
    earliest source, sorted by cluster id. ``articles`` are Article records, or the path of a JSON
    Lines file (read by the workers, never held in memory whole). Unusable articles raise, or with
    ``errors="skip"`` are appended to ``skipped``. ``progress(done, total)`` is called as the work
    goes: ``total`` is None while articles are read, then the size of the current pass. ``workers``
    processes share the work (see ``dedup.engine`` for the passes)."""
    report = None
    if progress is not None:

        def report(stage: str, done: int, total: int | None) -> None:
            progress(done, None if stage == "read" else total)

    return list(engine.run(articles, config=config, errors=errors, skipped=skipped, report=report, workers=workers))
