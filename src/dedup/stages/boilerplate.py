"""Site furniture learned from frequency.

Pattern lists never know every site. A sentence that recurs on many articles is either a copied
story (a wire text republished by several outlets) or a site's furniture (an "about us" blurb, a
privacy or copyright footer, a newsletter box). The two differ in what surrounds them: the articles
that carry a footer have stories of their own, while the articles that carry a wire sentence share
most of their other sentences too. So a sentence is boilerplate when it is on at least ``min_df``
articles and, over a sample of them, the median article has at least ``min_unique_fraction`` of its
other sentences of its own: sentences of which no other sampled article carries a version. Outlets
edit the copies they print (a word changed, two sentences joined, a date made "yesterday"), so a
version is a sentence with the same near key (``shingle.sentence_keys``, a one-value MinHash of its
word k-grams), not only the same words. An article that has no other sentence (a one-sentence
statement copied whole) has nothing of its own: it counts as 0, as a copy does.

The sentence judged is told by its exact fingerprint; each article's sentences come as pairs of
(fingerprint, near key).

``BoilerplateModel`` is fed by the stream one article at a time, and by ``add_many`` every article
of the batch first (in id order), so batch answers do not depend on input order; ``learn`` is the
same rule over a whole batch at once, the reference for the batch runner's and Spark's executions. Boilerplate is never evidence of
copying: the verifier drops it before measuring anything.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate, chain, islice
from statistics import median

import numpy as np
import numpy.typing as npt

from dedup.config import BoilerplateConfig
from dedup.kernels import boilerplate as boilerplate_kernels

U64 = npt.NDArray[np.uint64]
# an article's sentences: their fingerprints and their near keys, one of each per sentence
Sentences = tuple[U64, U64]


class BoilerplateModel:
    """Counts sentence fingerprints across articles and tells which are furniture."""

    def __init__(self, config: BoilerplateConfig, sentences_of: Callable[[str], Sentences]) -> None:
        self._config = config
        self._sentences_of = sentences_of
        # The articles that carry each sentence (their number is its document frequency), in the
        # order they came: the article id alone while it is the only one (most sentences are on
        # one article, and a container each would be most of the objects the garbage collector
        # walks), a tuple of the ids while they are few (a third of a dict's memory, and copied
        # whole when one comes or goes), then the ids as the keys of a dict (ordered, and each
        # taken out at once whatever its place; a dict of strings alone is not walked by the
        # collector, nor a tuple of them once a collection has seen it). The sample a verdict is
        # judged over is the first ``sample`` of them, so that when one of those goes, the next
        # that came takes its place, as in a model fed only the articles left (an index reopened
        # with a window).
        self._postings: dict[int, str | tuple[str, ...] | dict[str, None]] = {}
        self._seen: set[str] = set()
        # Per judged sentence, the count it was judged at and the verdict, as one int (2 * count +
        # verdict): a dict of ints is not tracked by the garbage collector, while every new tuple
        # put in a dict tracks the whole dict again as a young object, walked entry by entry at
        # every young-generation collection.
        self._cache: dict[int, int] = {}
        self._frequent: set[int] = set()  # fingerprints seen on at least min_df articles
        # boilerplate_of's answers, per article, and the version each was given at: an answer
        # stands while none of the article's sentences has changed verdict since
        self._of: dict[str, set[int]] = {}
        self._of_version: dict[str, int] = {}
        # The sentences that were boilerplate when the answers above were given, and the
        # sentences whose verdict may have changed since (their counts or samples did); they are
        # judged again when an answer is next asked for. A new article changes only its own
        # sentences' verdicts, and seldom any of them: the other articles' answers stand.
        self._published: set[int] = set()
        self._dirty: set[int] = set()
        # the samples last judged over, by their article ids (``forget`` clears them: an id may come
        # back with another text)
        self._samples: dict[tuple[str, ...], Sample] = {}
        # Bumped whenever a sentence's verdict changes: a decision taken under an older version may
        # have counted a sentence that is boilerplate now (or the reverse) and must be checked again.
        self._version = 0
        # The version at which each sentence's verdict last changed (while it is on some article),
        # and the changes in order (the sentence and the version it changed at) back to version
        # ``_logged_from``, for the callers that ask which verdicts changed since a version.
        self._changed_at: dict[int, int] = {}
        self._log: list[int] = []
        self._log_versions: list[int] = []
        self._logged_from = 0

    @property
    def version(self) -> int:
        """The number of times a verdict has changed (the pending ones judged first)."""
        self._settle()
        return self._version

    def _settle(self) -> None:
        """Judge again the sentences whose counts changed; if any verdict changed, the answers
        given so far are dropped and the version goes up."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        self._judge_many(dirty)
        changed = [fp for fp in dirty if self.is_boilerplate(fp) != (fp in self._published)]
        if not changed:
            return
        self._version += 1
        version, changed_at = self._version, self._changed_at
        for fp in changed:
            if fp in self._published:
                self._published.discard(fp)
            else:
                self._published.add(fp)
            if fp in self._postings:
                changed_at[fp] = version
        log, versions = self._log, self._log_versions
        log.extend(changed)
        versions.extend([version] * len(changed))
        if len(log) > _CHANGES_LOGGED:
            # the oldest versions out, whole, until at most half the log is left
            self._logged_from = versions[len(log) - _CHANGES_LOGGED // 2 - 1]
            drop = bisect_right(versions, self._logged_from)
            del log[:drop], versions[:drop]

    def changed_since(self, version: int) -> set[int] | None:
        """The sentences whose verdict has changed after ``version`` (None: changes that far back
        are no longer logged; every sentence may have changed)."""
        self._settle()
        if version < self._logged_from:
            return None
        return set(self._log[bisect_right(self._log_versions, version) :])

    def unchanged_since(self, version: int, fingerprints: U64) -> bool:
        """Whether none of these sentences (an article's, counted) has changed verdict after
        ``version``: the article's learned boilerplate is then what it was at that version."""
        self._settle()
        changed_at = self._changed_at
        return all(changed_at.get(fp, 0) <= version for fp in fingerprints.tolist())

    def carriers(self, fingerprint: int) -> Iterable[str]:
        """Every article that carries the sentence, in the order they came."""
        found = self._postings.get(fingerprint, ())
        return (found,) if isinstance(found, str) else found

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._seen

    def observe(self, article_id: str, fingerprints: U64) -> None:
        """Count the sentences of one article (once per article id)."""
        if article_id in self._seen:
            return
        self._seen.add(article_id)
        postings, sample, min_df = self._postings, self._config.sample, self._config.min_df
        settled, dirty = max(min_df, sample), self._dirty
        for fp in set(fingerprints.tolist()):
            carriers = postings.get(fp)
            sampled = False
            if carriers is None:
                postings[fp] = article_id
                count = 1
            elif isinstance(carriers, str):
                postings[fp] = (carriers, article_id)
                count, sampled = 2, True
            else:
                if isinstance(carriers, tuple):
                    carriers = (*carriers, article_id)
                    postings[fp] = carriers if len(carriers) <= _FEW else dict.fromkeys(carriers)
                else:
                    carriers[article_id] = None
                count = len(carriers)
                sampled = count <= sample
            if sampled:
                # a verdict depends on the sample: one judged over the sample before is stale, even
                # at a settled count (a removal leaves a sample short, and a new article fills it)
                self._cache.pop(fp, None)
            if count >= min_df and (sampled or count <= settled):
                # its verdict may change: a count below the settled one, or a new sampled article
                dirty.add(fp)
                if count == min_df:
                    self._frequent.add(fp)

    def forget(self, article_id: str, fingerprints: U64) -> None:
        """Undo ``observe`` for a removed article."""
        if article_id not in self._seen:
            return
        self._seen.discard(article_id)
        self._of.pop(article_id, None)  # the id may come back with another text
        self._of_version.pop(article_id, None)
        self._samples.clear()
        min_df = self._config.min_df
        for fp in set(fingerprints.tolist()):
            count = self.document_frequency(fp) - 1
            if count >= min_df - 1:  # (on fewer articles it was no boilerplate, nor is it now)
                self._dirty.add(fp)
            if count < min_df:
                self._frequent.discard(fp)
            if count <= 0:
                self._postings.pop(fp, None)
                self._changed_at.pop(fp, None)  # on no article: no answer reads it
            else:
                carriers = self._postings[fp]
                if isinstance(carriers, dict):
                    carriers.pop(article_id, None)
                    if len(carriers) <= _FEW:
                        self._postings[fp] = tuple(carriers)
                elif isinstance(carriers, tuple):
                    left = tuple(a for a in carriers if a != article_id)
                    self._postings[fp] = left[0] if len(left) == 1 else left
            self._cache.pop(fp, None)

    def _sampled(self, fingerprint: int) -> tuple[str, ...]:
        """The sampled articles of a sentence: the first ``sample`` that carry it, in the order they
        came."""
        found = self._postings.get(fingerprint, ())
        return (found,) if isinstance(found, str) else tuple(islice(found, self._config.sample))

    def document_frequency(self, fingerprint: int) -> int:
        """The number of articles that carry the sentence."""
        carriers = self._postings.get(fingerprint)
        if carriers is None:
            return 0
        return 1 if isinstance(carriers, str) else len(carriers)

    def _known(self, fingerprint: int, df: int) -> bool | None:
        """The verdict judged at this count (or at a settled one, which no count changes), if any."""
        cached = self._cache.get(fingerprint)
        if cached is not None and (cached >> 1 == df or cached >> 1 >= max(self._config.min_df, self._config.sample)):
            return bool(cached & 1)
        return None

    def is_boilerplate(self, fingerprint: int) -> bool:
        """True when the sentence with this fingerprint is learned furniture."""
        if not self._config.enabled:
            return False
        df = self.document_frequency(fingerprint)
        if df < self._config.min_df:
            return False
        known = self._known(fingerprint, df)
        if known is not None:
            return known
        verdict = self._judge(fingerprint)
        self._cache[fingerprint] = 2 * df + verdict
        return verdict

    def boilerplate_among(self, fingerprints: Iterable[int]) -> set[int]:
        """The learned boilerplate among ``fingerprints`` (a set intersection first: most sentences
        are on too few articles to be considered)."""
        if not self._config.enabled:
            return set()
        self._settle()
        return {fp for fp in self._frequent.intersection(fingerprints) if self.is_boilerplate(fp)}

    def boilerplate_of(self, article_id: str, fingerprints: U64) -> set[int]:
        """``boilerplate_among`` for the sentences of an indexed article, remembered while none of
        its sentences changes verdict (an article is compared again and again while its story
        grows, and most changes are of other articles' sentences)."""
        self._settle()
        version = self._version
        found = self._of.get(article_id)
        if found is not None:
            given = self._of_version[article_id]
            if given == version:
                return found
            if self.unchanged_since(given, fingerprints):
                self._of_version[article_id] = version
                return found
        if len(self._of) >= _ANSWERS_KEPT:
            self._of.clear()
            self._of_version.clear()
        found = self._of[article_id] = self.boilerplate_among(fingerprints.tolist())
        self._of_version[article_id] = version
        return found

    def release(self) -> None:
        """Drop the remembered answers and samples (a batch calls this when it is done, so that
        their memory is not held, and their freeing not paid by the next single addition)."""
        self._of.clear()
        self._of_version.clear()
        self._samples.clear()

    def _judge_many(self, fingerprints: Iterable[int]) -> None:
        """Judge the sentences among ``fingerprints`` whose verdict is not known at their count, in
        one compiled call (``kernels.boilerplate.judge_rows``, tested equal to ``Sample``): an
        article new to a story has most of its sentences judged again over the story's sample."""
        config = self._config
        if not config.enabled:
            return
        judged: list[tuple[int, int]] = []
        row_of: list[int] = []
        row_ids: dict[tuple[str, ...], int] = {}
        for fp in fingerprints:
            df = self.document_frequency(fp)
            if df >= config.min_df and self._known(fp, df) is None:
                judged.append((fp, df))
                row_of.append(row_ids.setdefault(self._sampled(fp), len(row_ids)))
        if not judged:
            return
        position: dict[str, int] = {}
        for ids in row_ids:
            for a in ids:
                position.setdefault(a, len(position))
        texts = [self._sentences_of(a) for a in position]
        starts = np.fromiter(accumulate((len(f) for f, _ in texts), initial=0), dtype=np.int64, count=len(texts) + 1)
        width = max(map(len, row_ids))
        rows = np.array([[position[a] for a in ids] + [-1] * (width - len(ids)) for ids in row_ids], dtype=np.int64)
        verdicts = boilerplate_kernels.judge_rows(
            np.concatenate([f for f, _ in texts]), np.concatenate([k for _, k in texts]), starts, rows,
            np.array(row_of, dtype=np.int64), np.array([fp for fp, _ in judged], dtype=np.uint64),
            config.min_unique_fraction,
        ).tolist()  # fmt: skip
        for (fp, df), verdict in zip(judged, verdicts, strict=True):
            self._cache[fp] = 2 * df + verdict

    def _judge(self, fingerprint: int) -> bool:
        ids = self._sampled(fingerprint)
        sample = self._samples.get(ids)
        if sample is None:
            if len(self._samples) >= _SAMPLES_KEPT:
                self._samples.clear()
            sample = self._samples[ids] = Sample([_pairs(self._sentences_of(a)) for a in ids])
        return sample.is_boilerplate(fingerprint, self._config)


# Samples counted, kept for the sentences judged next over the same articles (a few per story).
_SAMPLES_KEPT = 256
# Verdict changes logged for ``changed_since`` (the older half is dropped when it is full).
_CHANGES_LOGGED = 65_536
# Answers of boilerplate_of kept between two changes of a verdict: without a bound this would
# hold a set for every article compared (in a batch, every article of the batch).
_ANSWERS_KEPT = 16_384
# The carriers of a sentence held in a tuple up to this many (most sentences carried by several
# articles are carried by a few), in a dict beyond (taken out of at any place in one step).
_FEW = 8


def _pairs(sentences: Sentences) -> list[tuple[int, int]]:
    fps, keys = sentences
    return list(zip(fps.tolist(), keys.tolist(), strict=True))


def learn(sentences: Sequence[Iterable[tuple[int, int]]], config: BoilerplateConfig) -> set[int]:
    """The reference statement of what a batch learns: ``sentences[x]`` are the (fingerprint, near
    key) pairs of article x's sentences, the articles in id order. A sentence is boilerplate when
    it is on at least ``min_df`` articles and ``judge`` calls it furniture over the first
    ``sample`` of them. ``BoilerplateModel`` fed the articles in that order gives these verdicts;
    the batch's compiled pass and the Spark job's windows are tested against this."""
    if not config.enabled:
        return set()
    carriers: dict[int, list[list[tuple[int, int]]]] = {}
    for pairs in sentences:
        distinct = sorted(dict(pairs).items())
        for fp, _ in distinct:
            carriers.setdefault(fp, []).append(distinct)
    return {
        fp
        for fp, sample in carriers.items()
        if len(sample) >= config.min_df and judge(fp, sample[: config.sample], config)
    }


def judge(fingerprint: int, sample: Sequence[Iterable[tuple[int, int]]], config: BoilerplateConfig) -> bool:
    """Whether the sentence ``fingerprint`` is boilerplate, given the (fingerprint, near key) pairs
    of the sentences of the sampled articles that carry it (the first ``config.sample`` of them in
    id order)."""
    return Sample(sample).is_boilerplate(fingerprint, config)


class Sample:
    """The sentences of a sample of articles (each a list of (fingerprint, near key) pairs),
    counted once for every sentence judged over it.

    The sentences of one story copied by several outlets are carried by the same articles, so
    they are judged over the same sample, one after the other; what does not depend on the
    sentence judged (which sentences another sampled article carries a version of) is counted
    here once. The judged sentence leaves only each article's own count of its other sentences
    (a version of another sentence it may be counts as carried), so its verdict needs only the
    per-article sizes below."""

    __slots__ = ("_own", "_sets")

    def __init__(self, sample: Sequence[Iterable[tuple[int, int]]]) -> None:
        # Dicts of ints (fingerprint: near key; own: values None), not sets: a dict holding only
        # ints is not tracked by the garbage collector, a set always is, and a streaming index
        # makes a few samples per article, whose fingerprints young-generation collections would
        # otherwise visit each time.
        self._sets = [dict(pairs) for pairs in sample]
        carriers = Counter(chain.from_iterable(set(every.values()) for every in self._sets))
        # each article's sentences of which no other one carries a version
        self._own = [{f: None for f, key in every.items() if carriers[key] == 1} for every in self._sets]

    def is_boilerplate(self, fingerprint: int, config: BoilerplateConfig) -> bool:
        fractions = []
        for every, own in zip(self._sets, self._own, strict=True):
            # the article's sentences other than the judged one, and those of them no other has
            size = len(every) - (fingerprint in every)
            mine = len(own) - (fingerprint in own)
            fractions.append(mine / size if size else 0.0)
        # (an article with nothing but the recurring sentence is that sentence copied whole: it
        # has nothing of its own, as a copy has; 0.0)
        return median(fractions) >= config.min_unique_fraction
