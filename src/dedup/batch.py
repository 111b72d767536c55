"""The batch front: ``dedup.cluster(articles)`` in one call (run by ``dedup.engine``), and the
preparation in worker processes that ``Deduplicator.add_many`` uses.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from dedup import engine
from dedup.config import DedupConfig
from dedup.errors import DedupError
from dedup.records import Article, Cluster, Skip
from dedup.stream import Deduplicator, OnError, Prepared, Progress

_CHUNK = 256
_WORKER: Deduplicator | None = None  # one per worker process, for its vocabulary and kernels


def _init_worker(config: DedupConfig) -> None:
    global _WORKER
    _WORKER = Deduplicator(config)


def _prepare_chunk(chunk: tuple[Article, ...]) -> list[Prepared | DedupError]:
    worker = _WORKER or Deduplicator()
    out: list[Prepared | DedupError] = []
    for article in chunk:
        try:
            out.append(worker.prepare(article))
        except DedupError as exc:
            out.append(exc)
    return out


def _in_flight(
    chunks: Iterator[tuple[Article, ...]], pool: Any, depth: int
) -> Iterator[tuple[tuple[Article, ...], list[Prepared | DedupError]]]:
    """Chunks with their preparations, in order, with at most ``depth`` chunks in flight."""
    window: deque[tuple[tuple[Article, ...], Any]] = deque()
    for chunk in chunks:
        window.append((chunk, pool.submit(_prepare_chunk, chunk)))
        if len(window) > depth:
            done_chunk, future = window.popleft()
            yield done_chunk, future.result()
    while window:
        done_chunk, future = window.popleft()
        yield done_chunk, future.result()


def prepare_in_processes(
    config: DedupConfig, articles: Iterable[Article], workers: int
) -> Iterator[tuple[Article, Prepared | DedupError]]:
    """Each article with its preparation (or the error it raised), in input order, prepared by
    ``workers`` processes, chunk by chunk."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    source = iter(articles)
    chunks = iter(lambda: tuple(islice(source, _CHUNK)), ())
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(config,)) as pool:
        for chunk, outcomes in _in_flight(chunks, pool, 4 * workers):
            yield from zip(chunk, outcomes, strict=True)


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
