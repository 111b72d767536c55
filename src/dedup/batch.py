"""The batch front: ``dedup.cluster(articles)`` in one call (run by ``dedup.engine``), and the
preparation in worker processes that ``Deduplicator.add_many`` uses.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice

import numpy as np
import numpy.typing as npt

from dedup import engine
from dedup.config import DedupConfig
from dedup.errors import DedupError, TextTypeError
from dedup.records import Article, Cluster, Skip
from dedup.sign import text_signatures
from dedup.stream import OnError, Prepared, Progress, check_length

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


def signatures(texts: Iterable[str], *, config: DedupConfig | None = None) -> npt.NDArray[np.uint32]:
    """The MinHash signature of each raw text, one row of ``config.minhash.num_perm`` uint32 per
    text, in order: the text normalized, its furniture dropped and its word shingles signed, as
    ``Deduplicator`` signs an article (equal bit for bit), in datasketch's format, so that a row
    goes into datasketch's ``MinHashLSH`` as ``LeanMinHash(seed=config.minhash.seed,
    hashvalues=row, scheme="affine32")`` (``dedup.sign.to_minhash``). The texts are worked on a
    chunk at a time in compiled code (the equivalent of datasketch's ``MinHash.bulk``, from raw
    text). A text with no words left (empty, or only furniture) gets the signature of the empty
    set, every value 0xFFFFFFFF, as datasketch gives it."""
    config = config or DedupConfig()
    rows = [np.empty((0, config.minhash.num_perm), dtype=np.uint32)]
    source = iter(texts)
    done = 0
    while chunk := list(islice(source, _CHUNK)):
        for i, text in enumerate(chunk, done):
            if not isinstance(text, str):
                raise TextTypeError(
                    f"text {i} is a {type(text).__name__}, not a str; decode bytes first (text.decode('utf-8'))"
                )
            check_length(f"text {i}", text, config)
        rows.append(text_signatures(chunk, config))
        done += len(chunk)
    return np.concatenate(rows)
