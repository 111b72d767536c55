"""The streaming front: one article at a time, answered at once, and the batch built on it.

``Deduplicator.add(article)`` normalizes and shingles the article, signs it, asks the LSH indexes for
candidates, verifies each candidate exactly, indexes the article and answers with a ``Verdict``: is
it a copy, of which articles, with which scores, in which cluster, with which earliest source.
``add_many`` adds a batch: it prepares every article first (so that boilerplate is learned from the
whole batch, in id order), then adds them one by one through the same code. ``dedup.cluster`` runs
the same decisions in passes (``dedup.engine``) and is tested equal to ``add_many`` + ``clusters()``.

An ``add`` either completes or changes nothing: every change it makes to the deduplicator is
recorded in an ``_Undo`` journal as it is made, and put back if anything raises before the article
is written; the write itself is one transaction of the store.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import wraps
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, Literal, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

from dedup import _log
from dedup.boilerplate import BoilerplateModel
from dedup.config import DedupConfig
from dedup.errors import (
    ArticleTooLargeError,
    ClosedError,
    DedupError,
    DuplicateIdError,
    EmptyTextError,
    InputError,
    UnknownArticleError,
)
from dedup.explain import WordMap, match_with_spans, with_spans, word_map
from dedup.grouping import components, groups_of
from dedup.index import BandIndex, CandidateIndex, LSHBackend
from dedup.provenance import Candidate, build_cluster, candidate, provenance_inputs
from dedup.records import Article, Cluster, Match, Skip, Verdict
from dedup.shingle import Shingled, Vocabulary, analyze
from dedup.sign import analyze_and_sign_many
from dedup.store import SQLiteStore, StoredArticle
from dedup.verify import View, compare

if TYPE_CHECKING:
    from dedup.redis_store import RedisStore

U32 = npt.NDArray[np.uint32]
_NO_SIGNATURES: U32 = np.empty((0, 0), dtype=np.uint32)
Progress = Callable[[int, int | None], None]
_PREPARE_CHUNK = 256  # articles prepared in one call of prepare_many by add_many
_VIEWS_KEPT = 2048  # verifier views kept for the articles compared last
OnError = Literal["raise", "skip"]
K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


def check_batch_options(errors: str, workers: int) -> None:
    """The options every batch takes: what to do with unusable articles, how many processes."""
    if errors not in ("raise", "skip"):
        raise InputError(f"errors must be 'raise' or 'skip', got {errors!r}")
    if workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")


@dataclass(frozen=True, slots=True)
class Prepared:
    """An article made ready for indexing: cleaned, shingled and signed."""

    article: Article
    doc: Shingled
    signature: U32
    passage_signatures: U32


@dataclass(slots=True)
class _Entry:
    prepared: Prepared
    seq: int
    # The member as provenance sees it, with the evidence read in its text (its printed date and
    # credits), found when the article first joins a cluster of two or more: most articles never
    # do, and date parsing is the slowest step there is.
    candidate: Candidate | None = None


class _Undo:
    """The changes one ``add`` made, to put back in reverse order if it fails. Each is recorded
    before it is made, so that a change that fails half-way is put back too."""

    __slots__ = ("_steps",)

    def __init__(self) -> None:
        self._steps: list[Callable[[], object]] = []

    def call(self, step: Callable[[], object]) -> None:
        """Run ``step`` on rollback."""
        self._steps.append(step)

    def item(self, mapping: dict[K, V], key: K) -> None:
        """``mapping[key]`` (or its absence) is about to change."""
        if key in mapping:
            old = mapping[key]
            self._steps.append(lambda: mapping.__setitem__(key, old))
        else:
            self._steps.append(lambda: mapping.pop(key, None))

    def member(self, sets: dict[K, set[T]], key: K, value: T) -> None:
        """``value`` is about to be added to or discarded from ``sets[key]`` (made if missing)."""
        held = sets.get(key)
        if held is None:
            self._steps.append(lambda: sets.pop(key, None))
        elif value in held:
            self._steps.append(lambda: held.add(value))
        else:
            self._steps.append(lambda: held.discard(value))

    def rollback(self) -> None:
        for step in reversed(self._steps):
            step()
        self._steps.clear()


def _serialised(method: Callable[Concatenate[Deduplicator, P], R]) -> Callable[Concatenate[Deduplicator, P], R]:
    """Run a method under the deduplicator's lock, refusing a closed deduplicator."""

    @wraps(method)
    def run(self: Deduplicator, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            if self._closed:
                raise self._closed_error()
            return method(self, *args, **kwargs)

    return run


def check_length(what: str, text: str, config: DedupConfig) -> None:
    """Refuse a text longer than ``config.max_chars`` (``what`` names it in the message)."""
    if len(text) > config.max_chars:
        raise ArticleTooLargeError(
            f"{what} has {len(text):,} characters, more than max_chars={config.max_chars:,}; extract the "
            "article text from the page first, or raise DedupConfig(max_chars=...)"
        )


class Deduplicator:
    """Finds copies among articles added one at a time.

    >>> d = Deduplicator()
    >>> verdict = d.add(Article(id="a", text="..."))  # doctest: +SKIP

    ``documents`` and ``passages`` are the LSH backends (in memory by default).

    A deduplicator is safe to share between threads; calls are serialised: every method that reads
    or changes the index takes one re-entrant lock (``prepare`` and ``prepare_many`` read only the
    config and run outside it, and so does the preparation of an article given to ``add``).

    ``add`` either completes or changes nothing: if it raises, for whatever reason, the article is
    not indexed, not written, and every answer is as it was before the call.

    After ``close()`` (or the end of a ``with`` block) every method that reads or changes the index
    (``add``, ``add_many``, ``remove``, ``get``, ``compare``, ``cluster_of``, ``clusters``, ``sync``,
    ``len``, ``in``, iteration) raises ``ClosedError``; ``close()`` again does nothing.
    """

    def __init__(
        self,
        config: DedupConfig | None = None,
        *,
        documents: LSHBackend | None = None,
        passages: LSHBackend | None = None,
    ) -> None:
        self.config = config or DedupConfig()
        if not isinstance(self.config, DedupConfig):
            raise InputError(f"config must be a DedupConfig, got {type(self.config).__name__}")
        mh, ps = self.config.minhash, self.config.passage
        self._index = CandidateIndex(
            documents or BandIndex(bands=mh.bands, rows=mh.rows),
            passages or BandIndex(bands=ps.bands, rows=ps.rows),
        )
        self._entries: dict[str, _Entry] = {}
        # Verified copies (both directions) and every comparison made while grouping, each with the
        # boilerplate version it was decided under; a later version makes it checked again.
        self._edges: dict[str, set[str]] = {}
        self._matches: dict[tuple[str, str], tuple[Match, int]] = {}
        self._pairs_of: dict[str, set[tuple[str, str]]] = {}
        self._earliest: dict[str, str] = {}
        self._seq = 0
        self._vocabulary = Vocabulary()
        # an OrderedDict, not a dict: a dict whose oldest keys are deleted one by one scans the
        # deleted slots to find the next oldest (2.5 against 0.8 us per eviction, measured)
        self._views: OrderedDict[str, tuple[frozenset[int], Shingled, View]] = OrderedDict()
        self._pending: dict[str, _Entry] = {}  # a batch being added: prepared, not yet indexed
        self._boilerplate = BoilerplateModel(self.config.boilerplate, self._fingerprints)
        self.skipped: list[Skip] = []
        self._store: SQLiteStore | RedisStore | None = None
        self._where: str | None = None  # the path or URL of a persistent index
        self._lock = threading.RLock()
        self._closed = False
        self._undo: _Undo | None = None  # the journal of the add in progress

    # -- persistence ----------------------------------------------------------------------------
    @classmethod
    def open(
        cls, where: str | Path, config: DedupConfig | None = None, *, durable: bool = False, lock_timeout: float = 60.0
    ) -> Deduplicator:
        """A deduplicator kept in a SQLite file (a path; see ``dedup.store``) or shared in Redis (a
        ``redis://host:port/db`` URL, for several workers; see ``dedup.redis_store``). Every article
        is written before ``add`` returns. Without ``config`` an existing index's own settings are
        used."""
        store: SQLiteStore | RedisStore
        started = time.perf_counter()
        if isinstance(where, str) and where.startswith(("redis://", "rediss://", "unix://")):
            from dedup.redis_store import RedisStore

            config = config or RedisStore.stored_config(where) or DedupConfig()
            store = RedisStore(where, config, lock_timeout=lock_timeout)
            dedup = cls(config)
            dedup._store, dedup._where = store, where
            dedup.sync()
            _log.opened(where, len(dedup._entries), time.perf_counter() - started)
            return dedup
        config = config or SQLiteStore.stored_config(where) or DedupConfig()
        store = SQLiteStore(where, config, durable=durable)
        dedup = cls(config)
        for stored in store.articles():
            dedup._apply(stored, ())
        for match in store.matches():
            if match.a in dedup._entries and match.b in dedup._entries:
                # decided under the boilerplate of its day: checked again against today's when used
                dedup._remember(match, version=-1)
        dedup._store, dedup._where = store, str(where)
        _log.opened(str(where), len(dedup._entries), time.perf_counter() - started)
        return dedup

    def _apply(self, stored: StoredArticle, matches: Iterable[Match]) -> None:
        """Put a stored article (and the copies found when it was added) into the replica."""
        prepared = Prepared(stored.article, stored.doc, stored.signature, stored.passage_signatures)
        art_id = stored.article.id
        self._observe(art_id, prepared)
        self._insert(art_id, prepared, stored.seq, self._evidence_passages(prepared))
        self._slim(art_id)
        for match in matches:
            if match.a in self._entries and match.b in self._entries:
                self._remember(match, version=-1)

    def _observe(self, art_id: str, prepared: Prepared) -> None:
        """Count the article's sentences; the boilerplate model reads the sentences of the articles it
        counts, this one included, so it is readable (pending) from now on."""
        self._pending.setdefault(art_id, _Entry(prepared, -1))
        self._boilerplate.observe(art_id, prepared.doc.sentence_fps)

    def _insert(self, art_id: str, prepared: Prepared, seq: int, evidence: U32) -> None:
        """Make an observed article indexed: its entry, its LSH rows, its (empty) set of copies."""
        self._entries[art_id] = _Entry(prepared, seq)
        self._pending.pop(art_id, None)
        self._seq = max(self._seq, seq + 1)
        self._index.add(art_id, prepared.signature, evidence)
        self._edges.setdefault(art_id, set())

    @_serialised
    def sync(self) -> int:
        """Bring a shared (Redis) deduplicator up to date with what the other workers added and
        removed; returns how many log entries were applied. Nothing to do for the others."""
        store = self._store
        if store is None or not store.shared:
            return 0
        applied = 0
        for op, art_id, stored, matches in store.pending():  # type: ignore[union-attr]
            applied += 1
            if op == "add" and stored is not None and art_id not in self._entries:
                self._apply(stored, matches)
            elif op == "remove" and art_id in self._entries:
                self._forget(art_id)
        return applied

    def close(self) -> None:
        """Close the file or connection of a persistent deduplicator; from then on the deduplicator
        refuses every use with ``ClosedError`` (an in-memory one too). Closing twice is fine."""
        with self._lock:
            self._closed = True
            if self._store is not None:
                store, self._store = self._store, None
                store.close()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    def _closed_error(self) -> ClosedError:
        if self._where is None:
            return ClosedError("this Deduplicator was closed; make a new Deduplicator()")
        return ClosedError(f"this index was closed; open it again with Deduplicator.open({self._where!r})")

    def __enter__(self) -> Deduplicator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inspection -------------------------------------------------------------------------
    @_serialised
    def __len__(self) -> int:
        return len(self._entries)

    @_serialised
    def __contains__(self, article_id: object) -> bool:
        return article_id in self._entries

    @_serialised
    def __iter__(self) -> Iterator[str]:
        """The ids indexed when it is called (a copy: other threads may add meanwhile)."""
        return iter(list(self._entries))

    @_serialised
    def get(self, article_id: str) -> Article:
        return self._entry(article_id).prepared.article

    def _entry(self, article_id: str) -> _Entry:
        try:
            return self._entries[article_id]
        except KeyError:
            raise UnknownArticleError(f"no article with id {article_id!r} is indexed") from None

    def _fingerprints(self, article_id: str) -> npt.NDArray[np.uint64]:
        entry = self._entries.get(article_id) or self._pending.get(article_id)
        if entry is None:
            return np.empty(0, dtype=np.uint64)
        return entry.prepared.doc.sentence_fps

    # -- preparing ----------------------------------------------------------------------------
    def prepare(self, article: Article) -> Prepared:
        """Clean, shingle and sign one article; raises an ``InputError`` for unusable input."""
        outcome = self.prepare_many([article])[0]
        if isinstance(outcome, DedupError):
            raise outcome
        return outcome

    def prepare_many(self, articles: Sequence[Article]) -> list[Prepared | DedupError]:
        """``prepare`` for many articles at once, in two compiled calls for the batch (a call costs
        a fifth of an article's time): for each article, in order, its ``Prepared`` or the
        ``InputError`` it would raise."""
        out: list[Prepared | DedupError | None] = []
        usable: list[Article] = []
        for article in articles:
            try:
                self._check(article)
            except InputError as exc:
                out.append(exc)
                continue
            out.append(None)
            usable.append(article)
        analyzed = iter(zip(usable, analyze_and_sign_many([a.text for a in usable], self.config), strict=True))
        for i, outcome in enumerate(out):
            if outcome is None:
                article, (doc, signature, passage_signatures) = next(analyzed)
                if doc.n_words == 0:
                    out[i] = EmptyTextError(
                        f"article {article.id!r} has no words left once site furniture and lines shorter than "
                        f"{self.config.normalize.min_line_words} words are dropped"
                    )
                else:
                    out[i] = Prepared(article, doc, signature, passage_signatures)
        return out  # type: ignore[return-value]

    def _check(self, article: Article) -> None:
        if not isinstance(article, Article):
            raise InputError(
                f"expected an Article, got {type(article).__name__}; build one with Article(id=..., text=...)"
            )
        text = article.text
        check_length(f"article {article.id!r}", text, self.config)
        if not text.strip():
            raise EmptyTextError(f"article {article.id!r} has no text (empty or whitespace only)")

    # -- adding -------------------------------------------------------------------------------
    def add(self, article: Article | Prepared, *, spans: bool = False) -> Verdict:
        """Add one article and say whether it is a copy of something already indexed. If it raises,
        nothing is indexed or written. With ``spans`` the matches' shared passages carry their
        character offsets and original words in both texts (see ``SharedPassage``; the texts are
        analyzed again, so it is off by default)."""
        if self._closed:
            raise self._closed_error()
        # prepared outside the locks (the slow part, which reads only the config), then added under
        # them
        ready = article if isinstance(article, Prepared) else self._prepare_or_existing(article)
        with self._lock:
            if self._closed:
                raise self._closed_error()
            verdict = self._add_one(ready)
            return self._with_spans(verdict) if spans else verdict

    def _prepare_or_existing(self, article: Article) -> Article | Prepared:
        if not isinstance(article, Article) or article.id in self._entries:
            return article  # _add reports the error or the duplicate id (under the lock)
        return self.prepare(article)

    def _add(self, article: Article | Prepared) -> Verdict:
        prepared = article if isinstance(article, Prepared) else None
        art = prepared.article if prepared else article
        if not isinstance(art, Article):
            raise InputError(f"expected an Article, got {type(art).__name__}; build one with Article(id=..., text=...)")
        existing = self._entries.get(art.id)
        if existing is not None:
            if existing.prepared.article.text != art.text:
                raise DuplicateIdError(
                    f"article id {art.id!r} is already indexed with a different text; give each article a "
                    "unique id, or remove() the old one first"
                )
            return self._verdict(art.id, (), already=True, previous=self._earliest.get(art.id))
        prepared = prepared or self.prepare(art)
        undo = self._undo = _Undo()
        try:
            return self._add_new(prepared, undo)
        except BaseException:
            undo.rollback()  # memory must not hold what the file does not, nor half an article
            raise
        finally:
            self._undo = None

    def _add_new(self, prepared: Prepared, undo: _Undo) -> Verdict:
        """Index and write an article that is not indexed, recording every change in ``undo``."""
        art = prepared.article
        art_id, doc = art.id, prepared.doc
        undo.call(lambda: self._unobserve(art_id, doc))
        self._observe(art_id, prepared)
        evidence, matches, previous = self._find_matches(art_id, prepared)
        seq, seq_before = (self._seq if self._store is None else self._store.next_seq(self._seq)), self._seq
        undo.call(lambda: self._uninsert(art_id, seq_before))
        undo.item(self._edges, art_id)
        self._insert(art_id, prepared, seq, evidence)
        for m in matches:
            self._remember(m)
        matches.sort(key=lambda m: (-m.score, m.b))
        verdict = self._verdict(art_id, tuple(matches), already=False, previous=previous)
        self._slim(art_id)
        if self._store is not None:  # the last step: once written, the article is added
            stored = StoredArticle(art, seq, doc, prepared.signature, prepared.passage_signatures)
            self._store.save(stored, matches, (verdict.cluster.id, list(verdict.cluster.member_ids)))
        _log.added(verdict)
        return verdict

    def _unobserve(self, art_id: str, doc: Shingled) -> None:
        """Undo ``_observe`` (and the verifier view made of the article)."""
        self._boilerplate.forget(art_id, doc.sentence_fps)
        self._pending.pop(art_id, None)
        self._views.pop(art_id, None)

    def _uninsert(self, art_id: str, seq_before: int) -> None:
        """Undo ``_insert`` (its copies are put back by the steps recorded in ``_remember``)."""
        self._index.remove(art_id)
        self._entries.pop(art_id, None)
        self._seq = seq_before

    def _slim(self, art_id: str) -> None:
        """Once indexed (and written), the passage signatures are not needed in memory any more."""
        entry = self._entries[art_id]
        p = entry.prepared
        entry.prepared = Prepared(p.article, p.doc, p.signature, _NO_SIGNATURES)

    def _find_matches(self, art_id: str, prepared: Prepared) -> tuple[U32, list[Match], str | None]:
        """The passages to index, the verified copies among the candidates, and the earliest
        source the article's matches had before it came."""
        evidence = self._evidence_passages(prepared)
        ps = self.config.passage
        candidates = self._index.candidates(prepared.signature, evidence, limit=ps.max_candidates, min_hits=ps.min_hits)
        matches = []
        previous: str | None = None
        for other_id in candidates:
            if other_id == art_id or other_id not in self._entries:
                continue
            match = self._compare(art_id, prepared.doc, other_id, self._entries[other_id].prepared.doc)
            if match.is_copy:
                matches.append(match)
                previous = previous or self._earliest.get(other_id)
        return evidence, matches, previous

    def _evidence_passages(self, prepared: Prepared) -> U32:
        """The signatures of the passages that are not learned boilerplate."""
        doc = prepared.doc
        learned = self._boilerplate.boilerplate_of(prepared.article.id, doc.sentence_fps)
        if not learned:
            return prepared.passage_signatures
        # per sentence, then per passage: np.isin costs tens of microseconds on arrays this small
        kept = np.array([fp not in learned for fp in doc.sentence_fps.tolist()], dtype=bool)
        out: U32 = prepared.passage_signatures[kept[doc.passage_sentence]]
        return out

    def _compare(self, a_id: str, a: Shingled, b_id: str, b: Shingled, *, listed: bool = True) -> Match:
        dropped_a = self._boilerplate.boilerplate_of(a_id, a.sentence_fps)
        dropped_b = self._boilerplate.boilerplate_of(b_id, b.sentence_fps)
        boilerplate = dropped_a | dropped_b
        views = (self._view(a_id, a, dropped_a), self._view(b_id, b, dropped_b))
        return compare(
            a_id,
            a,
            b_id,
            b,
            verify=self.config.verify,
            shingle=self.config.shingle,
            boilerplate=boilerplate,
            views=views,
            list_passages=listed,
        )

    def _view(self, art_id: str, doc: Shingled, dropped: set[int]) -> View:
        """The article as the verifier sees it with ``dropped`` sentences out, kept for the articles
        compared most recently (an article is often compared several times in a row)."""
        views = self._views
        key = frozenset(dropped)
        cached = views.get(art_id)
        if cached is not None and cached[0] == key and cached[1] is doc:
            views.move_to_end(art_id)  # most recent last
            return cached[2]
        views[art_id] = (key, doc, View(doc, dropped, self.config.shingle))
        views.move_to_end(art_id)
        if len(views) > _VIEWS_KEPT:
            views.popitem(last=False)
        return views[art_id][2]

    @_serialised
    def compare(self, a_id: str, b_id: str, *, with_text: bool = True) -> Match:
        """Compare two indexed articles exactly (whether or not the index proposed them). With
        ``with_text`` the shared passages carry their text in comparison form (``text``) and as
        spans of the articles as given (``a_start``, ``a_end``, ``a_text``, and the same for b):
        the two articles are analyzed again, since the index keeps no sentence text."""
        a, b = self._entry(a_id).prepared, self._entry(b_id).prepared
        if not with_text:
            return self._compare(a_id, a.doc, b_id, b.doc)
        cfg = self.config
        texts = [analyze(p.article.text, cfg.normalize, cfg.shingle, self._vocabulary, keep_text=True) for p in (a, b)]
        match = self._compare(a_id, texts[0], b_id, texts[1])
        return match_with_spans(match, a.article.text, b.article.text, cfg)

    def _with_spans(self, verdict: Verdict) -> Verdict:
        """``verdict`` with its matches' passages as spans of the texts (``add(..., spans=True)``)."""
        if not any(m.shared_passages for m in verdict.matches):
            return verdict
        cfg = self.config
        maps: dict[str, WordMap] = {}

        def mapped(art_id: str) -> WordMap:
            if art_id not in maps:
                maps[art_id] = word_map(self._entries[art_id].prepared.article.text, cfg)
            return maps[art_id]

        matches = tuple(
            replace(
                m,
                shared_passages=with_spans(
                    m.shared_passages, self._entries[m.a].prepared.article.text,
                    self._entries[m.b].prepared.article.text, mapped(m.a), mapped(m.b), cfg.shingle.passage_k,
                ),
            )
            if m.shared_passages
            else m
            for m in verdict.matches
        )  # fmt: skip
        return replace(verdict, matches=matches)

    @_serialised
    def boilerplate_spans(self, article_id: str) -> list[tuple[int, int]]:
        """The [start, end) character ranges of the article's sentences that are learned
        boilerplate (left out of every comparison), in the text as given."""
        doc = self._entry(article_id).prepared.doc
        learned = self._boilerplate.boilerplate_of(article_id, doc.sentence_fps)
        if not learned:
            return []
        mapped = word_map(self._entries[article_id].prepared.article.text, self.config)
        starts = doc.sentence_starts.tolist()
        return [
            mapped.span((starts[i], starts[i + 1])) for i, fp in enumerate(doc.sentence_fps.tolist()) if fp in learned
        ]

    def _verdict(self, article_id: str, matches: tuple[Match, ...], *, already: bool, previous: str | None) -> Verdict:
        cluster = self._cluster_of(article_id)
        changed = previous is not None and previous != cluster.earliest
        return Verdict(
            article_id=article_id,
            is_copy=any(m.is_copy for m in matches) or (already and len(cluster) > 1),
            matches=matches,
            cluster=cluster,
            earliest_changed=changed,
            previous_earliest=previous if changed else None,
            already_indexed=already,
        )

    @_serialised
    def add_many(
        self,
        articles: Iterable[Article],
        *,
        errors: OnError = "raise",
        progress: Progress | None = None,
        workers: int = 1,
    ) -> list[Verdict]:
        """Add a batch. Every article is prepared first and its sentences counted so that boilerplate
        is learned from the whole batch; then each is added as by ``add``, in id order: a batch has
        no arrival order, so the answers (and the ingest-order tie-break of the earliest source) do
        not depend on the order of the input. Verdicts come back in that id order. With
        ``errors="skip"`` unusable articles are recorded in ``self.skipped`` and the rest go on.
        ``workers`` > 1 prepares the articles (normalize, shingle, sign) in that many processes."""
        check_batch_options(errors, workers)
        ready: list[Prepared] = []
        seen: dict[str, str] = {}
        for n, (article, outcome) in enumerate(self._prepare_all(articles, workers), 1):
            try:
                if isinstance(outcome, DedupError):
                    raise outcome
                art_id = outcome.article.id
                if art_id in seen:
                    if seen[art_id] != outcome.article.text:
                        raise DuplicateIdError(
                            f"article id {art_id!r} appears twice with different texts; ids must be unique"
                        )
                    continue
                seen[art_id] = outcome.article.text
                ready.append(outcome)
            except DedupError as exc:
                if errors == "raise":
                    raise
                self.skipped.append(Skip(id=getattr(article, "id", None), error=type(exc).__name__, message=str(exc)))
                _log.skipped(self.skipped[-1])
            if progress is not None:
                progress(n, None)
        ready.sort(key=lambda p: p.article.id)
        self._pending = {p.article.id: _Entry(p, -1) for p in ready}
        try:
            for p in ready:
                self._boilerplate.observe(p.article.id, p.doc.sentence_fps)
            verdicts = []
            for n, p in enumerate(ready, 1):
                try:
                    verdicts.append(self._add_one(p))
                except DedupError as exc:
                    if errors == "raise":
                        raise
                    self.skipped.append(Skip(id=p.article.id, error=type(exc).__name__, message=str(exc)))
                    _log.skipped(self.skipped[-1])
                if progress is not None:
                    progress(n, len(ready))
        finally:
            self._pending = {}
            for p in ready:  # a batch cut short: its articles not added leave the counts
                if p.article.id not in self._entries:
                    self._boilerplate.forget(p.article.id, p.doc.sentence_fps)
            self._boilerplate.release()
        return verdicts

    def _add_one(self, article: Article | Prepared) -> Verdict:
        """``add`` once the lock is held (a shared index catches up with the other workers first)."""
        if self._store is not None and self._store.shared:
            with self._store.lock():  # type: ignore[union-attr]
                self.sync()
                return self._add(article)
        return self._add(article)

    def _prepare_all(
        self, articles: Iterable[Article], workers: int
    ) -> Iterator[tuple[Article, Prepared | DedupError]]:
        """Each article with its preparation or the error it raised, in input order."""
        if workers == 1:
            source = iter(articles)
            while chunk := list(islice(source, _PREPARE_CHUNK)):
                yield from zip(chunk, self.prepare_many(chunk), strict=True)
            return
        from dedup.batch import prepare_in_processes

        yield from prepare_in_processes(self.config, articles, workers)

    @_serialised
    def remove(self, article_id: str) -> None:
        """Remove an article: from the index, the boilerplate counts, every cluster and the file."""
        if self._store is not None and self._store.shared:
            with self._store.lock():  # type: ignore[union-attr]
                self.sync()
                self._entry(article_id)
                self._store.delete(article_id)
                self._forget(article_id)
            return
        self._entry(article_id)
        if self._store is not None:
            self._store.delete(article_id)
        self._forget(article_id)

    def _forget(self, article_id: str) -> None:
        entry = self._entry(article_id)
        self._index.remove(article_id)
        self._boilerplate.forget(article_id, entry.prepared.doc.sentence_fps)
        for other in self._edges.pop(article_id, set()):
            self._edges[other].discard(article_id)
        for key in self._pairs_of.pop(article_id, set()):
            self._matches.pop(key, None)
            other = key[0] if key[1] == article_id else key[1]
            self._pairs_of.get(other, set()).discard(key)
        del self._entries[article_id]
        self._earliest.pop(article_id, None)
        self._views.pop(article_id, None)

    # -- grouping -----------------------------------------------------------------------------
    def _neighbours(self, article_id: str) -> list[str]:
        return [o for o in sorted(self._edges.get(article_id, ())) if self._pair(article_id, o).is_copy]

    def _remember(self, match: Match, *, version: int | None = None) -> None:
        key = (match.a, match.b) if match.a < match.b else (match.b, match.a)
        undo = self._undo
        if undo is not None:
            undo.item(self._matches, key)
            for x, y in ((match.a, match.b), (match.b, match.a)):
                undo.member(self._pairs_of, x, key)
                undo.member(self._edges, x, y)
        if match.shared_passages:
            # kept for grouping and provenance, which read the figures: the passages were in the
            # verdict, and kept here they would cost memory (and garbage-collector time) for every
            # copy indexed
            match = match.without_passages()
        self._matches[key] = (match, self._boilerplate.version if version is None else version)
        self._pairs_of.setdefault(match.a, set()).add(key)
        self._pairs_of.setdefault(match.b, set()).add(key)
        if match.is_copy:
            self._edges.setdefault(match.a, set()).add(match.b)
            self._edges.setdefault(match.b, set()).add(match.a)
        else:
            self._edges.get(match.a, set()).discard(match.b)
            self._edges.get(match.b, set()).discard(match.a)

    def _pair(self, a: str, b: str) -> Match:
        """The match of a and b as the evidence stands now: remembered, and checked again when the
        learned boilerplate has changed since and touches either article; else compared now."""
        key = (a, b) if a < b else (b, a)
        cached = self._matches.get(key)
        version = self._boilerplate.version
        if cached is not None and cached[1] == version:
            return cached[0]
        match = cached[0] if cached is not None else None
        if match is not None:
            model = self._boilerplate
            learned = model.boilerplate_of(a, self._entries[a].prepared.doc.sentence_fps) | model.boilerplate_of(
                b, self._entries[b].prepared.doc.sentence_fps
            )
            if len(learned) != match.ignored_boilerplate:
                match = None
        if match is None:
            match = self._compare(a, self._entries[a].prepared.doc, b, self._entries[b].prepared.doc, listed=False)
        self._remember(match)
        return match

    def _groups(self, component: list[str]) -> tuple[list[list[str]], str]:
        return groups_of(component, self._pair, self._edges.get, self.config.cluster)

    @_serialised
    def cluster_of(self, article_id: str) -> Cluster:
        """The cluster that holds ``article_id`` now."""
        return self._cluster_of(article_id)

    def _cluster_of(self, article_id: str) -> Cluster:
        self._entry(article_id)
        component = components([article_id], self._neighbours)[0]
        groups, how = self._groups(component)
        group = next(g for g in groups if article_id in g)
        return self._build_cluster(group, how if len(group) > 1 else "no verified copy")

    @_serialised
    def clusters(self) -> list[Cluster]:
        """Every cluster, singletons included, sorted by cluster id (a shared index catches up
        with the other workers first)."""
        self.sync()
        out = []
        for component in components(self._entries, self._neighbours):
            groups, how = self._groups(component)
            for group in groups:
                out.append(self._build_cluster(group, how if len(group) > 1 else "no verified copy"))
        return sorted(out, key=lambda c: c.id)

    def _candidate(self, member: str, with_evidence: bool) -> Candidate:
        entry = self._entries[member]
        if not with_evidence:
            return candidate(entry.prepared.article, entry.seq, None, ())
        if entry.candidate is None:
            text_date, credits = provenance_inputs(entry.prepared.article, self.config.provenance)
            entry.candidate = candidate(entry.prepared.article, entry.seq, text_date, credits)
        return entry.candidate

    def _build_cluster(self, group: list[str], how: str) -> Cluster:
        cluster = build_cluster(group, how, self._candidate, self._pair, self.config.provenance)
        undo = self._undo
        for member in group:
            if undo is not None:
                undo.item(self._earliest, member)
            self._earliest[member] = cluster.earliest
        return cluster
