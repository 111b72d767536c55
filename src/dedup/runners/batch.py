"""The batch engine behind ``dedup.cluster`` and ``dedup cluster``: a million articles in the memory
a million analyzed articles would not fit in.

The stream keeps every article's words, shingles and passages in memory so that it can verify the
next article at once (about 28 KB an article). A batch knows its articles up front, so it does the
same work in passes, keeps only what the passes need between them (band keys, sentence
fingerprints, ids and dates: about 1 KB an article) and reads a text again when a pass needs it:

1. read and prepare every article in ``workers`` processes (a JSON Lines file is read by the
   workers themselves, a byte range each, so texts never cross a process boundary); keep the
   document's LSH band keys, the sentence fingerprints, and each passage's band keys and sentence;
2. count the (source, shingle) pairs of the articles (``dedup.stages.formula``) as their chunks
   arrive, and learn boilerplate as the stream's batch does: document frequencies of the sentence fingerprints
   (numpy), then the library's ``boilerplate.judge`` over the first ``sample`` articles in id order;
3. candidates: each article against the articles before it in id order, with the index's own rule
   (``kernels.candidates.candidate_pairs`` over stably sorted band keys, instead of one index insert and one
   query per article);
4. verify every candidate pair with ``verify.compare`` (the workers analyze the two texts again; a
   batch run in this process compares with the analyses pass 1 kept, up to ``_KEPT_ANALYSES_BYTES``);
5. connected components of the verified copies, then each component's groups and earliest
   source with ``grouping.groups_of`` and ``provenance.build_cluster`` (in the workers).

The answers are those of ``Deduplicator.add_many`` then ``clusters()``, and of ``dedup.runners.spark``,
which runs the same plan on Spark; one difference, shared with Spark: a component larger than
``ClusterConfig.complete_up_to`` is split on the verified candidate pairs only, where the stream
also counts the pairs it verified while the component was smaller.
"""

from __future__ import annotations

import gc
import hashlib
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup import _log
from dedup._collector import age_young_objects
from dedup.config import DedupConfig, OnError, check_batch_options
from dedup.errors import DedupError, DuplicateIdError, InputError
from dedup.fronts.io import article_from_dict, parse_line, refuse_other_formats
from dedup.kernels import boilerplate as boilerplate_kernels
from dedup.kernels import candidates as candidate_kernels
from dedup.records import Article, Cluster, Match, Skip
from dedup.runners.pool import Pool
from dedup.stages import formula as formulas
from dedup.stages.clusters import alone, assemble
from dedup.stages.formula import FormulaCounts
from dedup.stages.grouping import components
from dedup.stages.index import band_keys
from dedup.stages.pairs import Comparisons
from dedup.stages.prepare import first_of_id, prepare_many
from dedup.stages.provenance import cluster_id
from dedup.stages.shingle import Shingled, sentence_keys

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
# progress: (stage, done, total or None); stages "read", "candidates", "verify", "group"
Report = Callable[[str, int, int | None], None]

_SPAN_BYTES = 1 << 22  # a worker's share of a JSON Lines file per task
_GIVEN_CHUNK = 512  # articles per task when they are given in memory
# the threads pass 1 prepares on in this process (one worker): two parts in flight, the compiled
# text kernels of one running while the other holds the GIL
_PREPARING_THREADS = 2
_PAIRS_PER_TASK = 2048
_MEMBERS_PER_TASK = 1024
_COMPONENT_CAP = 2048  # candidate components up to this size are verified and grouped in one task
# An in-process batch keeps its first pass's analyses (for verification and grouping) up to this
# many bytes of arrays; the articles beyond are analyzed again when compared.
_KEPT_ANALYSES_BYTES = 1 << 28
# It keeps the comparisons of the copies it verifies in large components (for their grouping) up
# to this many (a few hundred bytes each); the copies beyond are compared again as they are grouped.
_KEPT_MATCHES = 1 << 20
_YOUNG_OBJECTS = 100_000  # the garbage collector's youngest generation's threshold while a batch runs


# -- where the articles are, and how a worker reads them again ----------------------------------
@dataclass(frozen=True)
class _Span:
    """Lines of a JSON Lines file, from byte ``start`` to ``end``; the first is line ``first_line``."""

    path: str
    start: int
    end: int
    first_line: int

    def records(self) -> Iterator[tuple[int, int | None, Any]]:
        """(position, line, article or the error it is)."""
        with open(self.path, "rb") as fh:
            fh.seek(self.start)
            pos, number = self.start, self.first_line - 1
            while pos < self.end:
                raw = fh.readline()
                if not raw:
                    break
                here, pos, number = pos, pos + len(raw), number + 1
                if not raw.strip():
                    continue
                try:
                    yield here, number, article_from_dict(parse_line(raw, number), where=f"line {number}")
                except DedupError as exc:
                    yield here, number, exc


@dataclass(frozen=True)
class _Given:
    """Articles given in memory, the first at position ``first``."""

    first: int
    articles: tuple[Any, ...]

    def records(self) -> Iterator[tuple[int, int | None, Any]]:
        for i, article in enumerate(self.articles):
            yield self.first + i, None, article


@dataclass(frozen=True)
class _Lines:
    """Articles to read again from a JSON Lines file, by byte offset."""

    path: str
    offsets: tuple[int, ...]

    def load(self) -> list[Article]:
        out = []
        with open(self.path, "rb") as fh:
            for offset in self.offsets:
                fh.seek(offset)
                out.append(article_from_dict(parse_line(fh.readline(), 0)))
        return out


@dataclass(frozen=True)
class _Loaded:
    """Articles shipped as they are (a batch given in memory)."""

    articles: tuple[Article, ...]

    def load(self) -> list[Article]:
        return list(self.articles)


class _FileSource:
    def __init__(self, path: str) -> None:
        self.path = path

    def tasks(self) -> Iterator[_Span]:
        """The file cut at line ends into spans of about ``_SPAN_BYTES``; lines counted on the way."""
        start, line = 0, 1
        with open(self.path, "rb") as fh:
            while True:
                block = fh.read(_SPAN_BYTES)
                if not block:
                    return
                cut = block.rfind(b"\n") + 1
                if cut == 0:  # a line longer than a span: take it whole
                    block += fh.readline()
                    cut = len(block)
                end = start + cut
                yield _Span(self.path, start, end, line)
                line += block.count(b"\n", 0, cut)
                fh.seek(end)
                start = end

    def fetch(self, positions: Sequence[int]) -> _Lines:
        return _Lines(self.path, tuple(positions))


class _MemorySource:
    def __init__(self, articles: Iterable[Any]) -> None:
        self._iter = iter(articles)
        self._kept: list[Any] = []

    def tasks(self) -> Iterator[_Given]:
        while chunk := tuple(islice(self._iter, _GIVEN_CHUNK)):
            yield _Given(len(self._kept), chunk)
            self._kept.extend(chunk)

    def fetch(self, positions: Sequence[int]) -> _Loaded:
        return _Loaded(tuple(self._kept[p] for p in positions))


# -- the workers' side ------------------------------------------------------------------------
@dataclass
class _State:
    config: DedupConfig
    learned: frozenset[int]
    formula: FormulaCounts | None
    in_process: bool  # the driver's own process: pass 1 hands its analyses over too


_STATE: _State | None = None
# One batch at a time in a process: a batch in process keeps its settings, learned boilerplate and
# formula counts in ``_STATE``, as a worker process does, and every batch raises the collector's
# threshold while it runs; a batch called from another thread waits for the one running.
_ONE_AT_A_TIME = threading.RLock()


def _init(
    config: DedupConfig, learned: frozenset[int], formula: FormulaCounts | None = None, in_process: bool = False
) -> None:
    global _STATE
    _STATE = _State(config, learned, formula, in_process)
    if not in_process:  # a worker process of the batch's own (see ``_fewer_collections``)
        threshold = gc.get_threshold()
        gc.set_threshold(max(threshold[0], _YOUNG_OBJECTS), *threshold[1:])
        # Ctrl-C reaches the whole process group: the caller decides, and closes the workers
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _set_state(state: _State | None) -> None:
    global _STATE
    _STATE = state


def _state() -> _State:
    assert _STATE is not None, "worker used before _init"
    return _STATE


@dataclass
class _Prepared:
    """What pass 1 keeps of a run of articles (the usable ones, in input order), and the rest."""

    positions: list[int]
    lines: list[int | None]  # the JSON Lines line of each (None: given in memory)
    metas: list[Article]  # the article without its text: what provenance reads besides the text
    text_hashes: list[bytes]
    doc_keys: U64  # (n, document bands)
    fps: U64  # distinct sentence fingerprints, article after article
    fp_keys: U64  # the near key of each of them
    fp_counts: I64
    passage_fps: U64  # the sentence of each passage
    passage_keys: U64  # (passages, passage bands)
    passage_counts: I64
    # the formula sketch keys of the articles end to end (none when the rule is off), the shingle
    # each key is of, and how many keys each article has
    formula_keys: U64
    formula_shingles: U64
    formula_counts: I64
    analyses: list[Shingled]  # each article's analysis, in the driver's process only (else empty)
    errors: list[tuple[int, int | None, str | None, DedupError]]  # position, line, id, error
    records: int


def _prepare(task: _Span | _Given) -> _Prepared:
    state = _state()
    cfg = state.config
    positions: list[int] = []
    lines: list[int | None] = []
    metas: list[Article] = []
    hashes: list[bytes] = []
    sigs: list[Any] = []
    fps: list[U64] = []
    keys: list[U64] = []
    pfps: list[U64] = []
    psigs: list[Any] = []
    formula_keys: list[U64] = []
    formula_shingles: list[U64] = []
    analyses: list[Shingled] = []
    errors: list[tuple[int, int | None, str | None, DedupError]] = []
    read = list(task.records())
    outcomes = iter(prepare_many([item for _, _, item in read if not isinstance(item, DedupError)], cfg))
    for position, line, item in read:
        ready = item if isinstance(item, DedupError) else next(outcomes)
        if isinstance(ready, DedupError):
            art_id = None if isinstance(item, DedupError) else getattr(item, "id", None)
            errors.append((position, line, art_id if isinstance(art_id, str) else None, ready))
            continue
        art, doc = ready.article, ready.doc
        positions.append(position)
        lines.append(line)
        metas.append(art.without_text())
        hashes.append(hashlib.blake2b(art.text.encode("utf-8", "surrogatepass"), digest_size=8).digest())
        sigs.append(ready.signature)
        fps.append(doc.sentence_fps)
        keys.append(sentence_keys(doc, cfg.shingle.k))
        pfps.append(doc.sentence_fps[doc.passage_sentence])
        psigs.append(ready.passage_signatures)
        if cfg.formula.enabled:
            formula_keys.append(keys_of := formulas.keys(formulas.outlet(art), doc.shingles))
            formula_shingles.append(doc.shingles if len(keys_of) else keys_of)  # (no source: no keys)
        if state.in_process:
            analyses.append(doc)
    mh, ps = cfg.minhash, cfg.passage
    n = len(positions)
    distinct_fps, fp_keys, fp_counts = _distinct_sentences(fps, keys)
    doc_keys = band_keys(np.stack(sigs), mh.bands, mh.rows) if n else np.empty((0, mh.bands), np.uint64)
    all_psigs = np.concatenate(psigs) if n else np.empty((0, ps.num_perm), np.uint32)
    return _Prepared(
        positions=positions,
        lines=lines,
        metas=metas,
        text_hashes=hashes,
        doc_keys=doc_keys,
        fps=distinct_fps,
        fp_keys=fp_keys,
        fp_counts=fp_counts,
        passage_fps=np.concatenate(pfps) if n else np.empty(0, np.uint64),
        passage_keys=band_keys(all_psigs, ps.bands, ps.rows) if len(all_psigs) else np.empty((0, ps.bands), np.uint64),
        passage_counts=np.array([len(p) for p in psigs], dtype=np.int64),
        formula_keys=np.concatenate(formula_keys) if formula_keys else np.empty(0, np.uint64),
        formula_shingles=np.concatenate(formula_shingles) if formula_shingles else np.empty(0, np.uint64),
        formula_counts=np.array([len(k) for k in formula_keys], dtype=np.int64),
        analyses=analyses,
        errors=errors,
        records=len(read),
    )


def _distinct_sentences(fps: list[U64], keys: list[U64]) -> tuple[U64, U64, I64]:
    """Each article's distinct sentence fingerprints, sorted, with their near keys (one sentence
    printed twice has one key), article after article, and how many each has."""
    n = len(fps)
    if not n:
        return np.empty(0, np.uint64), np.empty(0, np.uint64), np.empty(0, np.int64)
    owner = np.repeat(np.arange(n, dtype=np.int64), [len(f) for f in fps])
    every, their_keys = np.concatenate(fps), np.concatenate(keys)
    order = np.lexsort((every, owner))
    every, their_keys, owner = every[order], their_keys[order], owner[order]
    first = np.ones(len(every), dtype=bool)
    first[1:] = (every[1:] != every[:-1]) | (owner[1:] != owner[:-1])
    return every[first], their_keys[first], np.bincount(owner[first], minlength=n).astype(np.int64)


def _comparisons(
    articles: Iterable[Article], analyses: dict[str, Shingled], known: Iterable[Match] = ()
) -> Comparisons:
    """In a worker of ``Pool``: the comparisons of a task's articles, with the worker's config and
    boilerplate, the analyses pass 1 kept of them and the comparisons pass 4 kept (in process
    only)."""
    state = _state()
    return Comparisons(articles, state.config, state.learned, state.formula, analyses, known)


@dataclass(frozen=True)
class _VerifyTask:
    pairs: tuple[tuple[str, str], ...]  # (b, a): b is after a in id order
    articles: _Lines | _Loaded
    analyses: dict[str, Shingled]  # by id: the ones pass 1 kept (a batch in process), else none


def _verify(task: _VerifyTask) -> tuple[list[bool], list[Match]]:
    """Whether each pair is a copy, and in the driver's process the comparisons of the copies
    (pass 5 groups with them instead of comparing again; a worker process sends none back)."""
    docs = _comparisons(task.articles.load(), task.analyses)
    matches = [docs.pair(b, a) for b, a in task.pairs]
    return [m.is_copy for m in matches], [m for m in matches if m.is_copy] if _state().in_process else []


@dataclass(frozen=True)
class _GroupTask:
    """Components to settle: members (in id order) and their ranks in the batch's id order, and
    the pairs joining them, either verified already (``verified``) or candidates to verify."""

    components: tuple[tuple[str, ...], ...]
    seq: tuple[tuple[int, ...], ...]
    pairs: tuple[tuple[str, str], ...]
    verified: bool
    articles: _Lines | _Loaded
    analyses: dict[str, Shingled]  # as in ``_VerifyTask``
    known: tuple[Match, ...]  # the comparisons of verified pairs pass 4 kept (in process only)


def _group(task: _GroupTask) -> tuple[list[Cluster], int]:
    """The clusters of two or more articles among the task's components, and how many articles
    the task settled."""
    cfg = _state().config
    docs = _comparisons(task.articles.load(), task.analyses, task.known)
    edges: dict[str, set[str]] = {}
    for b, a in task.pairs:
        if task.verified or docs.pair(b, a).is_copy:
            edges.setdefault(a, set()).add(b)
            edges.setdefault(b, set()).add(a)
    seq = {
        m: s
        for members, ranks in zip(task.components, task.seq, strict=True)
        for m, s in zip(members, ranks, strict=True)
    }
    out: list[Cluster] = []
    for component in task.components:
        # candidates joined them; the verified copies may split them further
        for members in components(component, lambda m: edges.get(m, ())):
            if len(members) > 1:
                out.extend(assemble(members, docs.articles, seq.__getitem__, edges.get, docs.pair, cfg))
    return out, len(seq)


# -- the driver's side --------------------------------------------------------------------------
def _pool(config: DedupConfig, learned: frozenset[int], workers: int, formula: FormulaCounts | None = None) -> Pool:
    """``workers`` processes (or this one), each with the config, the learned boilerplate and the
    formula counts."""
    return Pool(
        workers,
        call="dedup.cluster(..., workers=N)",
        initializer=_init,
        initargs=(config, learned, formula, workers <= 1),
    )


def _sorted_by(keys: Any, rank: Any, owner: Any) -> Any:
    """The order that sorts ``keys`` by (key, rank of the entry's owner)."""
    order = np.argsort(keys)
    candidate_kernels.sort_runs(keys, order, rank[owner])
    return order


def _learn_boilerplate(fps: U64, keys: U64, counts: I64, rank: I64, config: DedupConfig) -> frozenset[int]:
    """The learned boilerplate of the batch: sentences on ``min_df`` articles or more that the judge
    calls furniture over the first ``sample`` of them in id order (``rank``; -1: not in the batch).
    ``fps`` are each article's distinct sentence fingerprints, sorted, laid end to end (``counts``),
    ``keys`` their near keys.
    ``kernels.boilerplate.judge_samples`` is ``boilerplate.judge`` compiled (tested equal)."""
    bp = config.boilerplate
    if not bp.enabled or len(fps) == 0:
        return frozenset()
    owner = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    rank32 = rank.astype(np.int32)
    if (rank >= 0).all():
        by_fp = _sorted_by(fps, rank32, owner)  # by fingerprint, then id order
    else:
        live = np.flatnonzero(rank32[owner] >= 0)
        by_fp = live[_sorted_by(fps[live], rank32, owner[live])]
    fp_of = fps[by_fp]
    run_start = np.flatnonzero(np.concatenate(([True], fp_of[1:] != fp_of[:-1])))
    run_len = np.diff(np.concatenate((run_start, [len(by_fp)])))  # document frequencies
    frequent = run_len >= bp.min_df
    run_start, run_len = run_start[frequent], run_len[frequent]
    if len(run_start) == 0:
        return frozenset()
    samples = np.full((len(run_start), bp.sample), -1, dtype=np.int64)
    for j in range(bp.sample):
        has = run_len > j
        samples[has, j] = owner[by_fp[run_start[has] + j]]
    judged = fp_of[run_start]
    starts = np.concatenate(([0], np.cumsum(counts)))
    verdicts = boilerplate_kernels.judge_samples(fps, keys, starts, samples, judged, bp.min_unique_fraction)
    return frozenset(judged[verdicts].tolist())


def _sort_into(keys: U64, rank: I32, owner: I32, out_keys: U64, out_owner: I32, out_pos: I32) -> None:
    """Sort ``keys`` by (key, rank of owner) into ``out_keys`` with their owners, and write where
    each key went into ``out_pos`` (no temporary copies of the outputs: memory)."""
    order = _sorted_by(keys, rank, owner)
    np.take(keys, order, out=out_keys)
    np.take(owner, order, out=out_owner)
    out_pos[order] = np.arange(len(keys), dtype=np.int32)


@dataclass
class _Keys:
    """The LSH band keys of a batch, handed over to ``_candidates``, which lets go of each array
    once it is sorted (the sorted copies are what it keeps)."""

    doc: tuple[U64, I32, I32] | None  # the document band keys as ``_sort_doc_keys`` gives them
    bands: int  # document bands per article
    passages: list[U64 | None]  # one array per passage band, the evidence passages end to end


def _sort_doc_keys(rank: I64, doc_keys: U64) -> tuple[tuple[U64, I32, I32], int]:
    """The document band keys sorted by (key, id order), with each key's article and band."""
    n, bands = doc_keys.shape
    flat = doc_keys.ravel()
    doc_sorted = np.empty(len(flat), dtype=np.uint64)
    doc_owner = np.empty(len(flat), dtype=np.int32)
    doc_pos = np.empty(len(flat), dtype=np.int32)
    owner = np.repeat(np.arange(n, dtype=np.int32), bands)
    _sort_into(flat, rank.astype(np.int32), owner, doc_sorted, doc_owner, doc_pos)
    return (doc_sorted, doc_owner, doc_pos), bands


def _candidates(
    rank: I64, keys: _Keys, passage_counts: I64, config: DedupConfig, threads: int = 1, first: int = 0
) -> tuple[I32, I32, npt.NDArray[np.bool_]]:
    """Candidate pairs (b, a), a before b in id order, and whether each came from a document band
    (``kernels.candidates.candidate_pairs``); articles are
    in input order, ``rank`` gives the id order (-1: not in the batch). The passage bands are
    sorted in ``threads`` threads (numpy and the kernels let go of the GIL). ``first``: at most
    that many articles from each document band (the kernel's ``first``; 0: every candidate)."""
    assert keys.doc is not None
    (doc_sorted, doc_owner, doc_pos), bands = keys.doc, keys.bands
    keys.doc = None
    n = len(rank)
    by_rank = np.empty(int((rank >= 0).sum()), dtype=np.int64)
    by_rank[rank[rank >= 0]] = np.flatnonzero(rank >= 0)
    rank32 = rank.astype(np.int32)
    owner = np.repeat(np.arange(n, dtype=np.int32), passage_counts)
    m, t_bands = len(owner), len(keys.passages)
    pas_sorted = np.empty((t_bands, m), dtype=np.uint64)
    pas_owner = np.empty((t_bands, m), dtype=np.int32)
    pas_pos = np.empty((t_bands, m), dtype=np.int32)

    def sort(t: int) -> None:
        column, keys.passages[t] = keys.passages[t], None
        assert column is not None
        _sort_into(column, rank32, owner, pas_sorted[t], pas_owner[t], pas_pos[t])

    with ThreadPoolExecutor(max(1, threads)) as pool:
        list(pool.map(sort, range(t_bands)))
    offsets = np.concatenate(([0], np.cumsum(passage_counts))).astype(np.int64)
    ps = config.passage
    b, a, whole = candidate_kernels.candidate_pairs(
        rank, by_rank, doc_sorted, doc_owner, doc_pos, bands, offsets, pas_sorted, pas_owner, pas_pos,
        ps.min_hits, ps.few_passages, ps.max_candidates, first,
    )  # fmt: skip
    return b, a, whole


def _compared(
    b: I32, a: I32, whole: npt.NDArray[np.bool_], rank: I64, config: DedupConfig, twins: U64
) -> tuple[I32, I32]:
    """The candidate pairs (b, a) that are compared: for each b, its ``max_compared`` candidates a
    first in id order, those from a document band (``whole``) before the others, and when none of
    them is a twin of b (``twins``, a digest of each article's document band keys, the same), the
    first twin cut (``grouping.compared``'s rule, in numpy; the pairs come back in that order)."""
    k = config.cluster.max_compared
    if not len(b) or np.bincount(b).max() <= k:
        return b, a
    order = np.lexsort((rank[a], ~whole, b))
    b, a = b[order], a[order]
    starts = np.flatnonzero(np.concatenate(([True], b[1:] != b[:-1])))
    segment = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(b))))
    keep = np.arange(len(b)) - starts[segment] < k
    twin = twins[a] == twins[b]
    kept_twin = np.zeros(len(starts), dtype=np.bool_)
    kept_twin[segment[keep & twin]] = True
    cut = np.flatnonzero(~keep & twin & ~kept_twin[segment])
    _, first = np.unique(segment[cut], return_index=True)  # the first twin cut of each b
    keep[cut[first]] = True
    return b[keep], a[keep]


def _row_digests(doc_keys: U64) -> U64:
    """A digest of each article's document band keys: equal for twins (the same keys in every
    band), and for other articles only by a 64-bit collision, which costs one comparison."""
    weights = np.arange(1, 2 * doc_keys.shape[1], 2, dtype=np.uint64)  # (odd, different per band)
    digests: U64 = (doc_keys * weights).sum(axis=1, dtype=np.uint64)
    return digests


@dataclass
class _Batch:
    """What pass 1 kept of the usable articles, in input order; ``rank`` is the id order (-1: an
    id seen before, left out)."""

    ids: list[str]
    positions: list[int]
    metas: list[Article]
    rank: I64
    doc_keys: U64
    fps: U64
    fp_keys: U64
    fp_counts: I64
    passage_fps: U64
    passage_keys: list[U64]  # one array per passage band
    passage_counts: I64
    formula: FormulaCounts | None
    analyses: dict[int, Shingled]  # pass 1's analyses kept (see ``_KEPT_ANALYSES_BYTES``), by article

    def analyses_of(self, articles: Iterable[int]) -> dict[str, Shingled]:
        """The kept analyses of ``articles``, by id."""
        kept = self.analyses
        return {self.ids[r]: kept[r] for r in articles if r in kept} if kept else {}


def _nbytes(doc: Shingled) -> int:
    return sum(getattr(doc, name).nbytes for name in _ARRAYS)


_ARRAYS = (
    "words",
    "sentence_starts",
    "sentence_fps",
    "passages",
    "passage_sentence",
    "passage_shingles",
    "passage_offsets",
    "shingles",
    "quoted",
)


def _joined(parts: list[_Prepared], name: str, empty: Any) -> Any:
    """One field of every part, end to end; the parts let go of theirs (memory)."""
    if not parts:
        return empty
    out = np.concatenate([getattr(p, name) for p in parts])
    for p in parts:
        setattr(p, name, None)
    return out


@contextmanager
def _counting_thread() -> Iterator[ThreadPoolExecutor]:
    """The thread a batch counts its parts' formula keys on, one part after the other in the order
    they are given, while the next part is prepared (the counting kernel lets go of the GIL); on
    an error, the counts still queued are dropped instead of made."""
    with ThreadPoolExecutor(1) as counter:
        try:
            yield counter
        except BaseException:
            counter.shutdown(cancel_futures=True)
            raise


def _read(
    source: _FileSource | _MemorySource,
    pool: Pool,
    config: DedupConfig,
    errors: OnError,
    skipped: list[Skip],
    report: Report | None,
) -> _Batch:
    """Pass 1, then duplicate ids left out (the first in input order stays) and the id order; the
    formula keys counted on ``_counting_thread``."""
    with _counting_thread() as counter:
        parts: list[_Prepared] = []
        seen = 0
        counts = FormulaCounts(config.formula) if config.formula.enabled else None
        counting: list[Future[None]] = []
        counted: set[str] = set()
        analyses: dict[int, Shingled] = {}  # by index among the usable articles
        budget, usable = _KEPT_ANALYSES_BYTES, 0
        for part in pool.map(_prepare, source.tasks(), threads=_PREPARING_THREADS):
            if counts is not None:  # each id once, the first in input order (as below)
                fresh = np.array([m.id not in counted for m in part.metas], dtype=bool)
                counted.update(m.id for m in part.metas)
                keys, shingles = part.formula_keys, part.formula_shingles
                if not fresh.all():
                    taken = np.repeat(fresh, part.formula_counts)
                    keys, shingles = keys[taken], shingles[taken]
                if len(keys):
                    counting.append(counter.submit(counts.add_keys, keys, shingles))
                part.formula_keys = part.formula_shingles = np.empty(0, np.uint64)
            for i, doc in enumerate(part.analyses):
                budget -= _nbytes(doc)
                if budget < 0:
                    break
                analyses[usable + i] = doc
            part.analyses = []
            usable += len(part.positions)
            for _, line, art_id, exc in part.errors:
                if errors == "raise":
                    raise exc
                skipped.append(Skip(id=art_id, error=type(exc).__name__, message=str(exc), line=line))
                _log.skipped(skipped[-1])
            parts.append(part)
            seen += part.records
            if report is not None:
                report("read", seen, None)
        for done in counting:
            done.result()
    metas = [m for p in parts for m in p.metas]
    positions = [q for p in parts for q in p.positions]
    lines = [n for p in parts for n in p.lines]
    hashes = [h for p in parts for h in p.text_hashes]
    first: dict[str, int] = {}
    keep = np.ones(len(metas), dtype=bool)
    for i, digest in enumerate(hashes):
        art_id = metas[i].id
        j = first.setdefault(art_id, i)
        try:
            keep[i] = first_of_id(art_id, digest, None if j == i else hashes[j], line=lines[i], first_line=lines[j])
        except DuplicateIdError as exc:
            keep[i] = False
            if errors == "raise":
                raise
            skipped.append(Skip(id=art_id, error=type(exc).__name__, message=str(exc), line=lines[i]))
            _log.skipped(skipped[-1])
    del first, hashes, lines
    for p in parts:
        p.metas, p.positions, p.lines, p.text_hashes = [], [], [], []
    kept = np.flatnonzero(keep)
    ids = [m.id for m in metas]
    rank = np.full(len(metas), -1, dtype=np.int64)
    rank[kept[np.argsort(np.array([ids[i] for i in kept.tolist()], dtype=object), kind="stable")]] = np.arange(
        len(kept)
    )
    mh, ps = config.minhash, config.passage
    passage_keys = []
    for t in range(ps.bands):
        passage_keys.append(np.concatenate([p.passage_keys[:, t] for p in parts]) if parts else np.empty(0, np.uint64))
    return _Batch(
        ids=ids,
        positions=positions,
        metas=metas,
        rank=rank,
        doc_keys=_joined(parts, "doc_keys", np.empty((0, mh.bands), np.uint64)),
        fps=_joined(parts, "fps", np.empty(0, np.uint64)),
        fp_keys=_joined(parts, "fp_keys", np.empty(0, np.uint64)),
        fp_counts=_joined(parts, "fp_counts", np.empty(0, np.int64)),
        passage_fps=_joined(parts, "passage_fps", np.empty(0, np.uint64)),
        passage_keys=passage_keys,
        passage_counts=_joined(parts, "passage_counts", np.empty(0, np.int64)),
        formula=counts,
        analyses=analyses,
    )


def run(
    articles: Iterable[Any] | str | os.PathLike[str],
    *,
    config: DedupConfig | None = None,
    errors: OnError = "raise",
    skipped: list[Skip] | None = None,
    report: Report | None = None,
    workers: int = 1,
) -> Iterator[Cluster]:
    """Cluster a batch: ``articles`` in memory, or the path of a JSON Lines file (read by the
    workers and read again when needed, never held in memory). Yields every cluster, singletons
    included, in cluster id order. Unusable records raise, or with ``errors="skip"`` are appended
    to ``skipped``. ``report(stage, done, total)`` follows the passes."""
    config = config or DedupConfig()
    if not isinstance(config, DedupConfig):
        raise InputError(f"config must be a DedupConfig, got {type(config).__name__}")
    check_batch_options(errors, workers)
    if skipped is None:
        skipped = []
    source: _FileSource | _MemorySource
    if isinstance(articles, str | os.PathLike):
        if not os.path.isfile(articles):
            raise InputError(f"{os.fspath(articles)}: no such file; give a JSON Lines file")
        with open(articles, "rb") as fh:
            refuse_other_formats(fh, os.fspath(articles))
        source = _FileSource(os.fspath(articles))
    else:
        source = _MemorySource(articles)

    with _ONE_AT_A_TIME:
        outer = _STATE
        try:
            with _fewer_collections():
                batch, multi = _passes(source, config, errors, skipped, report, workers)
        finally:
            _set_state(outer)  # (a batch run from inside another's callback gives it back its own)
    yield from _in_id_order(batch, multi, config)


def _passes(
    source: _FileSource | _MemorySource,
    config: DedupConfig,
    errors: OnError,
    skipped: list[Skip],
    report: Report | None,
    workers: int,
) -> tuple[_Batch, dict[str, Cluster]]:
    """Passes 1 to 5: what pass 1 kept of the batch, and its clusters of two or more articles."""
    with _pool(config, frozenset(), workers) as pool:  # (on an error, the tasks not begun are dropped)
        batch = _read(source, pool, config, errors, skipped, report)
    # the document bands do not depend on the boilerplate: sorted in a thread meanwhile (numpy's
    # sort and the kernels let go of the GIL)
    with ThreadPoolExecutor(1) as thread:
        doc_sorted = thread.submit(_sort_doc_keys, batch.rank, batch.doc_keys)
        twins = _row_digests(batch.doc_keys)
        batch.doc_keys = np.empty((0, 0), np.uint64)
        learned = _learn_boilerplate(batch.fps, batch.fp_keys, batch.fp_counts, batch.rank, config)
        doc, bands = doc_sorted.result()
    batch.fps = batch.fp_keys = np.empty(0, np.uint64)
    evidence = ~np.isin(batch.passage_fps, np.fromiter(learned, dtype=np.uint64, count=len(learned)))
    batch.passage_fps = np.empty(0, np.uint64)
    owner = np.repeat(np.arange(len(batch.ids)), batch.passage_counts)
    counts = np.bincount(owner[evidence], minlength=len(batch.ids)).astype(np.int64)
    del owner
    keys = _Keys(doc, bands, [column[evidence] for column in batch.passage_keys])
    batch.passage_keys = []
    del evidence, doc
    # the compared pairs need no more than the first max_compared + 1 articles of a document band
    found = _candidates(batch.rank, keys, counts, config, threads=workers, first=config.cluster.max_compared + 1)
    b, a = _compared(*found, batch.rank, config, twins)
    if batch.analyses:  # only the articles of a candidate pair are compared
        paired = set(np.union1d(b, a).tolist())
        batch.analyses = {r: doc for r, doc in batch.analyses.items() if r in paired}
    if report is not None:
        report("candidates", len(b), len(b))

    try:
        with _pool(config, learned, workers, batch.formula) as pool:
            multi = _settle(source, pool, batch, b, a, report)
    finally:
        if batch.formula is not None:
            formulas.release(batch.formula)
            batch.formula = None
    return batch, multi


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The passes make many objects that outlive a young collection (records, arrays, matches)
    and little cyclic garbage: with the interpreter's default threshold, a young collection comes
    every 700 allocations and walks objects that are all alive. The youngest generation's
    threshold is raised while the passes run (and in the worker processes for good), and put back
    after. The objects made meanwhile then go to the oldest generation at once, unwalked
    (``age_young_objects``)."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], _YOUNG_OBJECTS), *threshold[1:])
    try:
        yield
    finally:
        age_young_objects()
        gc.set_threshold(*threshold)


def _verified(
    source: _FileSource | _MemorySource,
    pool: Pool,
    batch: _Batch,
    b: I32,
    a: I32,
    report: Report | None,
) -> tuple[npt.NDArray[np.bool_], list[Match | None]]:
    """Pass 4: which candidate pairs are verified copies, and for each copy (in the order of the
    pairs) its comparison when this process made it and kept it (up to ``_KEPT_MATCHES``), else
    None."""
    ids, positions = batch.ids, batch.positions
    order = np.lexsort((a, b))
    b, a = b[order], a[order]

    def tasks() -> Iterator[_VerifyTask]:
        for start in range(0, len(b), _PAIRS_PER_TASK):
            bs, as_ = b[start : start + _PAIRS_PER_TASK].tolist(), a[start : start + _PAIRS_PER_TASK].tolist()
            need = sorted(set(bs) | set(as_), key=positions.__getitem__)
            yield _VerifyTask(
                tuple((ids[x], ids[y]) for x, y in zip(bs, as_, strict=True)),
                source.fetch([positions[r] for r in need]),
                batch.analyses_of(need),
            )

    flags: list[bool] = []
    kept: list[Match] = []
    for copy, matches in pool.map(_verify, tasks()):
        flags.extend(copy)
        kept.extend(matches[: max(0, _KEPT_MATCHES - len(kept))])
        if report is not None:
            report("verify", len(flags), len(b))
    out = np.zeros(len(b), dtype=bool)
    out[order] = flags
    known = np.full(len(b), None, dtype=object)
    known[order[np.flatnonzero(flags)[: len(kept)]]] = kept
    return out, known[out].tolist()


def _labels(n: int, b: I32, a: I32) -> I64:
    """The connected component of each of ``n`` articles, given the pairs (b, a): components
    numbered from 0 in the order of their first article (``grouping.components``'s rule, in
    numpy). Each round hooks the larger root of every pair that spans two trees under the smaller,
    then flattens the trees; every node's parent is never larger than the node, so a tree's root
    is its component's smallest node once no pair spans two trees. Written here rather than
    called from ``scipy.sparse.csgraph``, whose import alone costs more than a small batch."""
    parent = np.arange(n, dtype=np.int64)
    x, y = b.astype(np.int64), a.astype(np.int64)
    while len(x):
        x, y = parent[x], parent[y]
        apart = x != y
        x, y = x[apart], y[apart]  # a pair inside one tree stays inside it
        if not len(x):
            break
        np.minimum.at(parent, np.maximum(x, y), np.minimum(x, y))
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    labels: I64 = (np.cumsum(parent == np.arange(n)) - 1)[parent]  # the roots numbered in order
    return labels


def _group_tasks(
    source: _FileSource | _MemorySource,
    batch: _Batch,
    labels: I64,
    chosen: npt.NDArray[np.bool_],
    b: I32,
    a: I32,
    verified: bool,
    known: Sequence[Match | None] = (),
) -> Iterator[_GroupTask]:
    """Tasks over the components ``chosen`` (by label): whole components, a few to a task, with
    the pairs inside them and the comparisons of those pairs in ``known`` (one for each pair, or
    none at all)."""
    ids, positions, rank = batch.ids, batch.positions, batch.rank
    members = np.flatnonzero(chosen[labels])
    if len(members) == 0:
        return
    members = members[np.lexsort((rank[members], labels[members]))]  # by component, then id order
    comp_of = labels[members]
    starts = np.flatnonzero(np.concatenate(([True], comp_of[1:] != comp_of[:-1])))
    ends = [*starts[1:].tolist(), len(members)]
    pair_comp = labels[b]
    pair_order = np.argsort(pair_comp, kind="stable")
    sorted_comp = pair_comp[pair_order]
    heads = comp_of[starts]
    first_pair = np.searchsorted(sorted_comp, heads, side="left")
    last_pair = np.searchsorted(sorted_comp, heads, side="right")
    comps: list[tuple[str, ...]] = []
    ranks: list[tuple[int, ...]] = []
    pairs: list[tuple[str, str]] = []
    matches: list[Match] = []
    size = 0
    for c, (lo, hi) in enumerate(zip(starts.tolist(), ends, strict=True)):
        rs = members[lo:hi].tolist()
        comps.append(tuple(ids[r] for r in rs))
        ranks.append(tuple(rank[rs].tolist()))
        picked = pair_order[first_pair[c] : last_pair[c]]
        pairs.extend((ids[x], ids[y]) for x, y in zip(b[picked].tolist(), a[picked].tolist(), strict=True))
        if known:
            matches.extend(m for m in map(known.__getitem__, picked.tolist()) if m is not None)
        size += hi - lo
        if size >= _MEMBERS_PER_TASK or c == len(starts) - 1:
            need = sorted(members[starts[c - len(comps) + 1] : hi].tolist(), key=positions.__getitem__)
            yield _GroupTask(
                tuple(comps),
                tuple(ranks),
                tuple(pairs),
                verified,
                source.fetch([positions[r] for r in need]),
                batch.analyses_of(need),
                tuple(matches),
            )
            comps, ranks, pairs, matches, size = [], [], [], [], 0


def _settle(
    source: _FileSource | _MemorySource,
    pool: Pool,
    batch: _Batch,
    b: I32,
    a: I32,
    report: Report | None,
) -> dict[str, Cluster]:
    """Passes 4 and 5: the clusters of two or more articles, by cluster id. A component of the
    candidate graph up to ``_COMPONENT_CAP`` articles is verified and grouped in one task (each
    text analyzed once); the pairs of larger ones are verified first, a chunk at a time, and the
    components of the verified copies grouped after."""
    n = len(batch.ids)
    labels = _labels(n, b, a)
    sizes = np.bincount(labels, minlength=1)
    big = sizes > _COMPONENT_CAP
    in_big = big[labels[b]]
    out: dict[str, Cluster] = {}
    total = int(sizes[sizes > 1].sum())
    done = 0

    def collect(results: Iterator[tuple[list[Cluster], int]]) -> None:
        nonlocal done
        for clusters, settled in results:
            for c in clusters:
                out[c.id] = c
            done += settled
            if report is not None:
                report("group", done, total)

    small = (sizes > 1) & ~big
    collect(pool.map(_group, _group_tasks(source, batch, labels, small, b[~in_big], a[~in_big], False)))
    if in_big.any():
        bb, aa = b[in_big], a[in_big]
        copies, known = _verified(source, pool, batch, bb, aa, report)
        bb, aa = bb[copies], aa[copies]
        labels = _labels(n, bb, aa)
        chosen = np.bincount(labels, minlength=1) > 1
        collect(pool.map(_group, _group_tasks(source, batch, labels, chosen, bb, aa, True, known)))
        if report is not None:  # the large components' articles without a verified copy are settled too
            report("group", total, total)
    return out


def _in_id_order(batch: _Batch, multi: dict[str, Cluster], config: DedupConfig) -> Iterator[Cluster]:
    """Every cluster in cluster id order: the singletons are built here, from what pass 1 kept."""
    grouped = {m.id for c in multi.values() for m in c.members}
    keyed: list[tuple[str, int]] = [(cid, -1) for cid in multi]
    ranks = batch.rank.tolist()
    keyed.extend((cluster_id(i), at) for at, i in enumerate(batch.ids) if ranks[at] >= 0 and i not in grouped)
    keyed.sort()
    for cid, at in keyed:
        if at < 0:
            yield multi[cid]
            continue
        yield alone(batch.metas[at], ranks[at], config)
