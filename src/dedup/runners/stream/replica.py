"""The stream's in-memory replica of the index: the articles indexed, their LSH rows, and the
boilerplate model and formula counts their sentences and shingles feed.

An article goes in in two steps. ``observe`` counts its sentences in the boilerplate model (which
reads the sentences of the articles it counts, so the article is readable, *pending*, from then
on) and its shingles in the formula counts; ``insert`` indexes it: its entry, its sequence number,
its LSH rows (the passages that are not learned boilerplate). ``unobserve`` and ``uninsert`` undo
the two steps for an ``add`` that fails; ``forget`` takes an indexed article out for good. A batch observes all its articles before it
inserts any, so that boilerplate is learned from the whole batch.

An article that leaves the window goes out in two steps as well. ``detach`` takes its entry out of
``entries`` and its rows out of the LSH index at once: it is no longer indexed, nor a candidate (nor
in a bucket's first slots, which a query reads). Its sentence and shingle counts stay, the entry
kept in ``leaving``, until ``release`` takes them out, ``RELEASED`` articles a call: when the clock
jumps, tens of articles leave together, and taking each one's shingles out of the counts reads them
back from the store; spread over the next additions, that work falls on none of them. Until then
the boilerplate model and the formula counts still count the article. ``forget`` takes both steps
at once (an article removed, or an id observed again).

An entry keeps what candidate search, boilerplate learning and provenance read of every article
(its ingest number, its metadata, its sentence fingerprints and near keys); its analysis and text,
which only exact comparison reads, are let go once the article is written to a store it can be
read back from (``read_from``, ``written``) and read back when a comparison asks for them, the
last ``KEPT`` of them kept in memory: memory then grows by the index's needs alone, not by the
articles' length.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from dedup import _log
from dedup.config import DedupConfig
from dedup.errors import DedupError, StoreCorruptError, UnknownArticleError
from dedup.records import Article
from dedup.stages import formula as formulas
from dedup.stages.boilerplate import BoilerplateModel, Sentences
from dedup.stages.formula import FormulaCounts
from dedup.stages.index import BandIndex, CandidateIndex, LSHBackend
from dedup.stages.prepare import Prepared
from dedup.stages.provenance import Candidate, candidate
from dedup.stages.shingle import Shingled, sentence_keys

if TYPE_CHECKING:
    from dedup.stores.sqlite import Counted

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
_NO_FINGERPRINTS: U64 = np.empty(0, dtype=np.uint64)
# the analyses kept in memory once their articles are written: those read or written last (an
# article is compared again and again while its story is in the news)
KEPT = 2048
# the articles that left the window whose counts ``release`` takes out per call
RELEASED = 4


@dataclass(slots=True)
class Entry:
    seq: int
    # the member as provenance sees it before reading its text: id, ingest number, time, source,
    # address and title
    plain: Candidate
    # the fingerprint of each sentence (row 0) and its near key (row 1, ``shingle.sentence_keys``),
    # which the boilerplate model reads: one array of their own rather than two (an array's header
    # is as large as a short article's fingerprints)
    sentences: U64
    # None once the article is written to a store it is read back from (``Replica.prepared``)
    prepared: Prepared | None
    # The member as provenance sees it, with the evidence read in its text (its printed date and
    # credits), found when the article first joins a cluster of two or more: most articles never
    # do, and date parsing is the slowest step there is.
    candidate: Candidate | None = None
    # its document shingles, kept when its analysis is let go from a shared store: another worker
    # may remove it there before this one takes it out of its formula counts
    shingles: U64 | None = None

    @property
    def fingerprints(self) -> U64:
        fingerprints: U64 = self.sentences[0]
        return fingerprints

    @property
    def keys(self) -> U64:
        keys: U64 = self.sentences[1]
        return keys


def _holds(entry: Entry | None, prepared: Prepared) -> bool:
    """Whether a pending ``entry`` holds this analysis (not another text added under its id)."""
    return entry is not None and entry.prepared is not None and entry.prepared.doc is prepared.doc


def _entry(prepared: Prepared, seq: int, k: int, pending: Entry | None = None) -> Entry:
    """``k``: the shingle size of the sentences' near keys (those of the ``pending`` entry of the
    article when it holds the same analysis)."""
    if pending is not None and _holds(pending, prepared):
        sentences = pending.sentences
    else:  # (a new array: a view of a batch's would keep the whole array alive once the analysis is let go)
        sentences = np.stack((prepared.doc.sentence_fps, sentence_keys(prepared.doc, k)))
    return Entry(seq, candidate(prepared.article, seq, None, ()), sentences, prepared)


class Replica:
    """The articles indexed in memory (``entries``), those of a batch not yet indexed
    (``pending``), the LSH ``index``, the ``boilerplate`` model, the ``formula`` counts (None when
    the rule is off) and the next sequence number."""

    def __init__(self, config: DedupConfig, documents: LSHBackend | None, passages: LSHBackend | None) -> None:
        mh, ps = config.minhash, config.passage
        self._passage = ps
        # A query reads the articles indexed first under each band key, twice as many as an article
        # is compared with: ``grouping.compared`` keeps the candidates indexed first, so the
        # documents' buckets, whose every article is a candidate, give it the ones it would keep
        # from all of them; and an article found is counted by all its passages' band keys.
        first = 2 * config.cluster.max_compared
        self.index = CandidateIndex(
            documents or BandIndex(bands=mh.bands, rows=mh.rows, first=first),
            passages or BandIndex(bands=ps.bands, rows=ps.rows, first=first),
        )
        self.entries: dict[str, Entry] = {}
        self.pending: dict[str, Entry] = {}  # a batch being added: observed, not yet inserted
        # detached, still counted: the oldest first (``release``)
        self.leaving: OrderedDict[str, Entry] = OrderedDict()
        self.seq = 0
        self._k = config.shingle.k
        self.boilerplate = BoilerplateModel(config.boilerplate, self.sentences)
        self.formula = FormulaCounts(config.formula) if config.formula.enabled else None
        self._counted: set[str] = set()  # the articles in the formula counts
        self._read: Callable[[str], tuple[Prepared, int] | None] | None = None
        self._read_counted: Callable[[str], Counted | None] | None = None
        self._where = ""
        self._shared = False
        self._kept = 0
        self._recent: OrderedDict[str, Prepared] = OrderedDict()  # analyses let go, kept a while

    def read_from(
        self,
        read: Callable[[str], tuple[Prepared, int] | None],
        counted: Callable[[str], Counted | None],
        where: str,
        *,
        shared: bool = False,
    ) -> None:
        """From now on the analysis of an article ``written`` is let go and read back with
        ``read`` (its analysis and ingest number; ``where`` names the store in errors), the last
        ``KEPT`` kept in memory; an article leaving the window is read back with ``counted`` (what
        the formula counts took in of it). In a ``shared`` store other workers remove articles:
        their document shingles stay in memory (the formula counts need them), and an article
        gone from the store, or added there again since, is unknown until this worker catches up."""
        self._read, self._read_counted, self._where, self._kept, self._shared = read, counted, where, KEPT, shared

    def _find(self, article_id: str) -> Entry | None:
        """The entry of an indexed, pending or leaving article (None for another id)."""
        return self.entries.get(article_id) or self.pending.get(article_id) or self.leaving.get(article_id)

    def _held(self, article_id: str) -> Entry:
        """``_find``, a KeyError for another id."""
        entry = self._find(article_id)
        if entry is None:
            raise KeyError(article_id)
        return entry

    def prepared(self, article_id: str) -> Prepared:
        """The analysis of an indexed, pending or leaving article, read back from the store when let
        go (one leaving is not kept among the last used: it is on its way out)."""
        entry = self._held(article_id)
        held = self._in_memory(article_id, entry)
        if held is not None:
            return held
        read = self._read
        got = None if read is None else read(article_id)
        if got is not None and got[1] == entry.seq:  # not another article added since under its id
            if article_id not in self.leaving:
                self._keep(article_id, got[0].slim())
            return got[0]
        raise self._not_held(article_id)

    def _in_memory(self, article_id: str, entry: Entry) -> Prepared | None:
        """The analysis of an article, when it is in memory: its own, or among the last read."""
        if entry.prepared is not None:
            return entry.prepared
        found = self._recent.get(article_id)
        if found is not None:
            self._recent.move_to_end(article_id)
        return found

    def _not_held(self, article_id: str) -> DedupError:
        """The error for an article of the index that its store no longer holds as it was added."""
        if self._shared:
            return UnknownArticleError(
                f"article {article_id!r} was removed from {self._where} by another worker; sync() to catch up"
            )
        return StoreCorruptError(
            f"article {article_id!r} is indexed but {self._where} no longer holds it; open the index again"
        )

    def _keep(self, article_id: str, prepared: Prepared) -> None:
        recent = self._recent
        recent[article_id] = prepared
        recent.move_to_end(article_id)
        while len(recent) > self._kept:
            recent.popitem(last=False)

    def written(self, article_id: str, *, keep: bool = True) -> None:
        """The article is in the store: with a store to read from, let its analysis go (``keep``:
        keep it among the last used)."""
        entry = self.entries[article_id]
        if entry.prepared is None:
            return
        if self._read is None:
            entry.prepared = entry.prepared.slim()
            return
        if keep:
            self._keep(article_id, entry.prepared.slim())
        if self._shared and article_id in self._counted:
            shingles = entry.prepared.doc.shingles
            entry.shingles = shingles if shingles.base is None else shingles.copy()
        entry.prepared = None

    def entry(self, article_id: str) -> Entry:
        try:
            return self.entries[article_id]
        except KeyError:
            raise UnknownArticleError(f"no article with id {article_id!r} is indexed") from None

    def doc(self, article_id: str) -> Shingled:
        """The analysis of an indexed article."""
        return self.prepared(article_id).doc

    def article(self, article_id: str) -> Article:
        """An indexed or pending article, with its text."""
        return self.prepared(article_id).article

    def _plain(self, article_id: str) -> Candidate:
        return self._held(article_id).plain

    def source(self, article_id: str) -> str | None:
        """The outlet of an indexed or pending article (``formula.outlet``)."""
        plain = self._plain(article_id)
        return formulas.outlet_of(plain.source, plain.url)

    def title(self, article_id: str) -> str | None:
        """The title of an indexed or pending article."""
        return self._plain(article_id).title

    def _count(self, prepared: Prepared, forget: bool = False) -> None:
        """Count an article's shingles in the formula counts, once per article id, as the
        boilerplate model counts its sentences (``forget``: take them out)."""
        counts, art_id = self.formula, prepared.article.id
        if counts is None or (art_id in self._counted) != forget:
            return
        if forget:
            self._counted.discard(art_id)
            counts.forget(formulas.outlet(prepared.article), prepared.doc.shingles)
        else:
            self._counted.add(art_id)
            counts.observe(formulas.outlet(prepared.article), prepared.doc.shingles)

    def _uncount(self, article_id: str, entry: Entry) -> None:
        """Take an indexed article's shingles out of the formula counts."""
        counts = self.formula
        if counts is None or article_id not in self._counted:
            return
        if entry.shingles is not None:
            source, shingles = self.source(article_id), entry.shingles
        elif (held := self._in_memory(article_id, entry)) is not None:
            source, shingles = formulas.outlet(held.article), held.doc.shingles
        else:
            read = self._read_counted
            got = None if read is None else read(article_id)
            if got is None or got.seq != entry.seq:  # (another article added since under its id)
                raise self._not_held(article_id)
            source, shingles = formulas.outlet_of(got.source, got.url), got.shingles
        self._counted.discard(article_id)
        counts.forget(source, shingles)

    def fingerprints(self, article_id: str) -> U64:
        """The sentence fingerprints of an indexed or pending article (none for another id)."""
        return self.sentences(article_id)[0]

    def sentences(self, article_id: str) -> Sentences:
        """The sentence fingerprints and near keys of an indexed, pending or leaving article (none
        for another id): those the boilerplate model counts."""
        entry = self._find(article_id)
        if entry is None:
            return _NO_FINGERPRINTS, _NO_FINGERPRINTS
        return entry.fingerprints, entry.keys

    # -- in and out -----------------------------------------------------------------------------
    def observe(self, art_id: str, prepared: Prepared) -> None:
        """Count the article's sentences; the boilerplate model reads the sentences of the articles it
        counts, this one included, so it is readable (pending) from now on. Another text under an
        id a batch holds (added while the batch runs, or another worker's, caught up with) takes
        the place of the batch's text in the counts: the batch then finds the id indexed. An id
        still leaving is taken out first."""
        if art_id in self.leaving:
            self._release(art_id)
        pending = self.pending.get(art_id)
        if pending is not None and not _holds(pending, prepared):
            self.boilerplate.forget(art_id, pending.fingerprints)
            if pending.prepared is not None:
                self._count(pending.prepared, forget=True)
            pending = None
        if pending is None:
            self.pending[art_id] = _entry(prepared, -1, self._k)
        self.boilerplate.observe(art_id, prepared.doc.sentence_fps)
        self._count(prepared)

    def observe_batch(self, batch: Sequence[Prepared]) -> None:
        """Count the sentences of a batch's articles, all pending until each is inserted, but those
        indexed already: the batch answers such an article as indexed (or refuses another text
        under its id), and its sentences are counted once, as it was added."""
        for p in batch:
            if p.article.id in self.leaving:
                self._release(p.article.id)
        fresh = [p for p in batch if p.article.id not in self.entries]
        self.pending = {p.article.id: _entry(p, -1, self._k) for p in fresh}
        for p in fresh:
            self.boilerplate.observe(p.article.id, p.doc.sentence_fps)
            self._count(p)

    def end_batch(self, batch: Sequence[Prepared]) -> None:
        """A batch done (or cut short): the articles it counted and did not insert leave the
        counts (none when it was cut short before it counted them)."""
        counted, self.pending = self.pending, {}
        for p in batch:
            if _holds(counted.get(p.article.id), p):
                self.boilerplate.forget(p.article.id, p.doc.sentence_fps)
                self._count(p, forget=True)
        self.boilerplate.release()

    def unobserve(self, art_id: str, prepared: Prepared) -> None:
        """Undo ``observe``."""
        self.boilerplate.forget(art_id, prepared.doc.sentence_fps)
        self._count(prepared, forget=True)
        self.pending.pop(art_id, None)

    def insert(
        self,
        art_id: str,
        prepared: Prepared,
        seq: int,
        evidence: U32,
        index: Callable[[str, U32, U32], None] | None = None,
    ) -> None:
        """Make an observed article indexed: its entry, its sequence number, its LSH rows (with
        ``index``, the ``add`` of ``CandidateIndex.filling``, when given)."""
        self.entries[art_id] = _entry(prepared, seq, self._k, self.pending.pop(art_id, None))
        self.seq = max(self.seq, seq + 1)
        (index or self.index.add)(art_id, prepared.signature, evidence)

    def uninsert(self, art_id: str, seq_before: int) -> None:
        """Undo ``insert``."""
        self.index.remove(art_id)
        self.entries.pop(art_id, None)
        self._recent.pop(art_id, None)
        self.seq = seq_before

    def forget(self, article_id: str) -> None:
        """Take an indexed or leaving article out for good: its LSH rows, its counts, its entry.
        If reading it back fails, it stays as it was (but for an article the store holds
        damaged: ``_uncount_damaged``)."""
        if article_id not in self.leaving:
            self.entry(article_id)
            self._uncount_damaged(article_id, self.entries[article_id])
            self.detach(article_id)
        self._release(article_id)

    def detach(self, article_id: str) -> None:
        """An indexed article leaves the window: no longer in ``entries`` nor in the LSH index,
        its counts left for ``release``."""
        self.leaving[article_id] = self.entries.pop(article_id)
        self.index.remove(article_id)
        self._recent.pop(article_id, None)

    def release(self, most: int | None = RELEASED) -> None:
        """Take out the counts of the ``most`` articles that left first (all of them with None).
        If reading one back fails, it and those after it stay for the next call."""
        leaving = self.leaving
        for article_id in list(islice(leaving, most)):
            self._release(article_id)

    def _release(self, article_id: str) -> None:
        """Take a leaving article's shingles out of the formula counts (the step that may read it
        back, and so fail), then its sentences out of the boilerplate model."""
        entry = self.leaving[article_id]
        self._uncount_damaged(article_id, entry)
        self.boilerplate.forget(article_id, entry.fingerprints)
        del self.leaving[article_id]

    def _uncount_damaged(self, article_id: str, entry: Entry) -> None:
        """``_uncount``, but an article the store holds damaged is let go with its shingles still
        counted (logged as an error): reading it again would fail the same way at every later
        call, and one article's shingles counted too long move the formula counts by one
        observation."""
        try:
            self._uncount(article_id, entry)
        except StoreCorruptError as exc:
            self._counted.discard(article_id)
            _log.still_counted(article_id, exc)

    # -- candidates -----------------------------------------------------------------------------
    def evidence_passages(self, prepared: Prepared) -> U32:
        """The signatures of the passages that are not learned boilerplate."""
        doc = prepared.doc
        learned = self.boilerplate.boilerplate_of(prepared.article.id, doc.sentence_fps)
        if not learned:
            return prepared.passage_signatures
        # per sentence, then per passage: on arrays this small np.isin's fixed cost outweighs a loop
        kept = np.array([fp not in learned for fp in doc.sentence_fps.tolist()], dtype=bool)
        out: U32 = prepared.passage_signatures[kept[doc.passage_sentence]]
        return out

    def candidates(self, prepared: Prepared, evidence: U32) -> tuple[list[str], set[str]]:
        """The indexed articles the LSH indexes propose for an article (not the article itself),
        and those of them proposed by their whole text (``CandidateIndex.proposed``)."""
        ps = self._passage
        art_id = prepared.article.id
        found, whole = self.index.proposed(
            prepared.signature, evidence, limit=ps.max_candidates, min_hits=ps.min_hits, few=ps.few_passages
        )
        return [o for o in found if o != art_id and o in self.entries], whole
