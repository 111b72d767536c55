"""The batch front: ``dedup.cluster(articles)`` in one call (run by ``dedup.runners.batch``), and
``dedup.signatures(texts)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from dedup import _log
from dedup.config import DedupConfig, OnError, Progress, check_many
from dedup.errors import DedupError, DuplicateIdError, TextTypeError
from dedup.fronts import frames
from dedup.records import Article, Cluster, Skip
from dedup.runners import batch
from dedup.stages import explain
from dedup.stages.prepare import check_length
from dedup.stages.sign import text_signatures

_CHUNK = 256


# A pandas DataFrame, a pyarrow Table or a datasets.Dataset: typed loosely, since none of them is
# imported unless the input is one (see dedup.fronts.frames).
Table = Any


def cluster(
    articles: Iterable[Article] | Iterable[Mapping[str, Any]] | Table | str | os.PathLike[str],
    *,
    config: DedupConfig | None = None,
    errors: OnError = "raise",
    skipped: list[Skip] | None = None,
    progress: Progress | None = None,
    workers: int = 1,
    id_col: str = "id",
    text_col: str = "text",
    published_col: str | None = None,
    source_col: str | None = None,
    url_col: str | None = None,
    title_col: str | None = None,
    spans: bool = False,
) -> list[Cluster]:
    """Group a batch of articles into clusters of copies (singletons included), each with its
    earliest source, sorted by cluster id. ``articles`` are Article records, the path of a JSON
    Lines file (read by the workers, never held in memory whole), or rows: a pandas DataFrame, a
    pyarrow Table, a Hugging Face ``datasets.Dataset`` or an iterable of dicts.

    A row's columns are named by ``id_col`` and ``text_col`` (required) and ``published_col``,
    ``source_col``, ``url_col`` and ``title_col`` (by default the columns ``published_at``,
    ``source``, ``url`` and ``title``, used when present); each row becomes an Article as a JSON
    Lines record does (``dedup.fronts.io.article_from_dict``). A table without the named columns raises
    an ``InputError`` that lists the columns it has.

    Unusable articles raise, or with ``errors="skip"`` are appended to ``skipped``, in the order
    of the input (a row's ``Skip`` carries its 0-based ``row``, a line's its 1-based ``line``).
    ``progress(done, total)`` is called as the work goes: ``total`` is None while articles are
    read, then the size of the current pass. ``workers`` processes share the work (see
    ``dedup.runners.batch`` for the passes).

    With ``spans``, each member of a cluster with copies other than the earliest gets the passages
    it shares with the earliest (``Member.shared``: character offsets into both texts as given,
    and their words), found by comparing the two texts again after clustering (a JSON Lines file
    is read a second time for the texts of those members).

    >>> clusters = dedup.cluster(df, id_col="doc_id", text_col="body")  # doctest: +SKIP
    >>> dedup.to_pandas(clusters)  # doctest: +SKIP
    """
    report = None
    if progress is not None:

        def report(stage: str, done: int, total: int | None) -> None:
            progress(done, None if stage == "read" else total)

    if skipped is None:
        skipped = []
    before = len(skipped)
    columns = frames.Columns(id_col, text_col, published_col, source_col, url_col, title_col)
    rows_of: dict[str, list[int]] | None = None
    source: Iterable[Any] | str | os.PathLike[str] = articles
    if not isinstance(articles, str | os.PathLike):
        tabular = frames.is_table(articles)
        if not tabular:
            check_many(
                articles,
                "articles must be Article records, dicts, a data frame or the path of a JSON Lines file",
                "dedup.cluster([Article(id='a', text='...'), ...])",
            )
            first, source = frames.split_first(articles)
            tabular = isinstance(first, Mapping)
        if tabular:
            rows_of = {} if errors == "skip" else None
            source = frames.articles_from_rows(
                source, columns=columns, on_error=_on_row_error(errors, skipped), rows_of=rows_of
            )
    texts: dict[str, list[str]] = {}
    path = source if isinstance(source, str | os.PathLike) else None
    if spans and path is None:
        source = explain.keeping_texts(cast(Iterable[Article], source), texts)
    start = len(skipped)
    out = list(clusters_of(source, config=config, errors=errors, skipped=skipped, report=report, workers=workers))
    if rows_of:
        _name_rows(skipped, start, rows_of)
    # (found in two passes, records that cannot be read first: listed in the order of the input)
    skipped[before:] = sorted(skipped[before:], key=_position)
    if spans:
        out = with_spans(out, path, texts, config)
    return out


def clusters_of(
    articles: Iterable[Any] | str | os.PathLike[str],
    *,
    config: DedupConfig | None = None,
    errors: OnError = "raise",
    skipped: list[Skip] | None = None,
    report: batch.Report | None = None,
    workers: int = 1,
) -> Iterator[Cluster]:
    """The clusters of a batch of Article records or of a JSON Lines file, yielded one at a time in
    cluster id order as the batch runner settles them: what ``cluster`` lists, and what ``dedup
    cluster`` writes as it goes. ``report(stage, done, total)`` follows the runner's passes
    ("read", "candidates", "verify", "group")."""
    return batch.run(articles, config=config, errors=errors, skipped=skipped, report=report, workers=workers)


def with_spans(
    clusters: list[Cluster],
    jsonl: str | os.PathLike[str] | None,
    texts: dict[str, list[str]],
    config: DedupConfig | None,
) -> list[Cluster]:
    """The clusters with their members' shared passages with the earliest (``spans``), from the
    texts kept as the articles were read (``explain.keeping_texts``), or read again from the JSON
    Lines file ``jsonl``."""
    if jsonl is not None:
        texts = explain.texts_of_jsonl(jsonl, explain.ids_with_copies(clusters))
    config = config or DedupConfig()
    return explain.clusters_with_spans(clusters, explain.kept_texts(texts, config), config)


def _position(skip: Skip) -> float:
    """Where a skipped record was in its input: its row, or its line (1-based), else last."""
    if skip.row is not None:
        return skip.row
    return float("inf") if skip.line is None else skip.line


def _on_row_error(errors: OnError, skipped: list[Skip]) -> Callable[[DedupError, Skip], None]:
    """What is done with a row that is not an article: raised, or recorded as skipped."""

    def on_error(exc: DedupError, skip: Skip) -> None:
        if errors == "raise":
            raise exc
        skipped.append(skip)
        _log.skipped(skip)

    return on_error


def _name_rows(skipped: list[Skip], start: int, rows_of: dict[str, list[int]]) -> None:
    """The row of each article the batch runner skipped (from ``skipped[start:]``): an empty text, a
    text too long, an id given again with another text. The runner knows the article's id; its
    rows are in ``rows_of``, named in order (a repeated id's second row first, since the first
    row of an id is the one kept)."""
    named: dict[str, int] = {}
    for i in range(start, len(skipped)):
        skip = skipped[i]
        if skip.row is not None or skip.line is not None or skip.id is None or skip.id not in rows_of:
            continue
        rows = rows_of[skip.id]
        k = named.get(skip.id, 0)
        if skip.error == DuplicateIdError.__name__:
            k = max(k, 1)
        if k >= len(rows):
            continue
        named[skip.id] = k + 1
        skipped[i] = Skip(skip.id, skip.error, f"row {rows[k]}: {skip.message}", row=rows[k])


def signatures(texts: Iterable[str], *, config: DedupConfig | None = None) -> npt.NDArray[np.uint32]:
    """The MinHash signature of each raw text, one row of ``config.minhash.num_perm`` uint32 per
    text, in order: the text normalized, its furniture dropped and its word shingles signed, as
    ``dedup.stages.prepare`` signs an article (equal bit for bit), in datasketch's format, so that a row
    goes into datasketch's ``MinHashLSH`` as ``LeanMinHash(seed=config.minhash.seed,
    hashvalues=row, scheme="affine32")`` (``dedup.stages.sign.to_minhash``). The texts are worked on a
    chunk at a time in compiled code (the equivalent of datasketch's ``MinHash.bulk``, from raw
    text). A text with no words left (empty, or only furniture) gets the signature of the empty
    set, every value 0xFFFFFFFF, as datasketch gives it."""
    check_many(texts, "texts must be a list of texts", "dedup.signatures([text])")
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
