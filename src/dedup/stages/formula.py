"""Formula shingles: the words an outlet prints on story after story about different events.

A congratulation cable to one president and the cable to the next, the weather bulletin of one day
and of the next, relief flight 3 and relief flight 4: templated stories share most of their words,
so the verifier finds them copies, yet they report different events. What they share is a
*formula*, and a formula has a tell a copied story has not: one outlet (the article's ``source``)
carries its shingles in many of its own articles, whereas the shingles of a wire story recur on
many outlets about once each.

The rule, in three parts, each stated once here:

- the counts: for every (source, document shingle), the number of the source's articles that carry
  the shingle (``FormulaCounts.observe`` and ``forget``, an article's distinct shingles counted
  once). An article's source is its ``source``, else the host of its ``url`` (``outlet``); an
  article with neither contributes nothing to the counts and has no formula shingles;
- the formula shingles of an article: those its own source carries in at least
  ``FormulaConfig.min_per_source`` articles (``FormulaCounts.formula``);
- the pair test (``FormulaCounts.check``): a pair the verifier calls a copy, whose Jaccard is
  below ``VerifyConfig.near_identical_jaccard``, whose containment (of the smaller article, as the
  verifier measures it) is at least ``FormulaConfig.min_containment``, but under it once the
  formula shingles of either article are left out, is not a copy (rule ``"formula"``, relation
  none): only the formula made it look like one. Identical and near-identical texts are refused
  only when their titles name different things (``titled_apart``): a site's notice (a cookie or
  paywall text, "no articles found") printed on many of its pages is all formula, and the pages'
  titles tell them apart, whereas an outlet that publishes its own story again keeps its title.

The counts are kept in a count-min sketch: ``sketch_rows`` rows of ``2**sketch_width_bits``
32-bit counters, each (source, shingle) hashed to one counter per row, its count read as the
smallest of them. Its memory is fixed however long a stream runs, a count it gives is never below
the true count, and adding then removing an article puts every counter back. Counters only add, so
a batch builds the same table by summing the counts of its chunks, and Spark by summing the tables
of its partitions: every runner reads the same counts. A count is too high when other keys land on
all of its counters; the expected excess per counter is the number of (article, shingle)
observations held divided by the width, so an index that holds many more observations than
``2**sketch_width_bits`` should raise ``sketch_width_bits``. Past ``FormulaConfig.max_load``
observations per counter, so many counts read high that most shingles of every source would pass
for formula and the test would refuse nearly every copy that is not near-identical: the counts are
then *overloaded* (``FormulaCounts.overloaded``), the test abstains, and a warning on the
``dedup.formula`` logger names the ``sketch_width_bits`` that would hold them.

Each source has a version (``version_of``), which goes up whenever the count of one of its
(source, shingle) pairs crosses ``min_per_source`` (either way) as one of its articles is observed
or forgotten: only then can the formula shingles of the source's articles have changed, and a
comparison of one of them decided before must be checked again (``dedup.stages.pairs``). Counts
added in bulk move every source's version: a batch's chunks (``add_keys``, counted before any
comparison is made) whenever they count anything, a Spark partition's table when a counter
crosses. A count that crosses only because other keys landed on its counters (the
sketch's excess, above) moves no version: a comparison decided before stands until its sources'
versions next move. Counts that become overloaded, or stop being so, move every source's version.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

from dedup.config import FormulaConfig, VerifyConfig
from dedup.kernels import formula as formula_kernels
from dedup.kernels.verify import intersect_count
from dedup.records import Article, Match, Relation
from dedup.stages.normalize import fold

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

RULE = "formula"
_log = logging.getLogger("dedup.formula")
_OWN_KEPT = 1024  # articles whose own (not formula) shingles are remembered

# Odd 64-bit multipliers, one per sketch row (multiply-shift hashing of a key to a counter).
_ROW_MULTIPLIERS = np.array(
    [
        0x9FB21C651E98DF25, 0xD6E8FEB86659FD93, 0xA0761D6478BD642F, 0xE7037ED1A0B428DB,
        0x8EBC6AF09C88C6E3, 0x589965CC75374CC3, 0x1D8E4E27C47D124F, 0xDB9C5A3E2A4B5B8D,
    ],
    dtype=np.uint64,
)  # fmt: skip


def outlet(article: Article) -> str | None:
    """The source an article's formula is counted under: its ``source``, else the host of its
    ``url`` (lower case, without a leading ``www.``), else None."""
    return article.source or (_host(article.url) if article.url else None)


@lru_cache(maxsize=4096)  # an article is compared many times over
def _host(url: str) -> str | None:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:  # a malformed address (an unclosed IPv6 bracket, a bad port) names no host
        return None
    return (host.removeprefix("www.") or None) if host else None


@lru_cache(maxsize=4096)  # an outlet's articles are checked many times over
def source_key(source: str | None) -> int | None:
    """A source's 64-bit key (the same in every process: not Python's salted ``hash``), or None
    for an article without a source."""
    if not source:
        return None
    return int.from_bytes(hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def keys(source: str | None, shingles: U64) -> U64:
    """The sketch keys of an article's (source, shingle) pairs; none without a source."""
    salt = source_key(source)
    if salt is None:
        return np.empty(0, dtype=np.uint64)
    out: U64 = np.bitwise_xor(shingles, np.uint64(salt))
    return out


class FormulaCounts:
    """The (source, shingle) document frequencies in a count-min sketch (see the module docstring).

    >>> counts = FormulaCounts(FormulaConfig(sketch_width_bits=10))
    >>> shingles = np.array([1, 2, 3], dtype=np.uint64)
    >>> for _ in range(4):
    ...     counts.observe("outlet", shingles)
    >>> counts.formula("outlet", shingles).tolist(), counts.formula("other", shingles).tolist()
    ([True, True, True], [False, False, False])
    """

    __slots__ = (
        "_bulk", "_config", "_owned", "_shift", "_versions", "_warned", "_width", "crossings", "observed", "table",
        "version",
    )  # fmt: skip

    def __init__(self, config: FormulaConfig, table: U32 | None = None) -> None:
        self._config = config
        self._width = 1 << config.sketch_width_bits
        self._shift = np.uint64(64 - config.sketch_width_bits)
        shape = (config.sketch_rows, self._width)
        self.table: U32 = np.zeros(shape, dtype=np.uint32) if table is None else np.ascontiguousarray(table)
        if self.table.shape != shape or self.table.dtype != np.uint32:
            raise ValueError(
                f"a formula table must be uint32 of shape {shape}, got {self.table.dtype} {self.table.shape}"
            )
        self.version = 0  # the number of times any source's version moved
        self.crossings = 0  # the number of changes in which any counter crossed the threshold
        self._versions: dict[str, int] = {}
        self._bulk = 0  # the times counts added in bulk moved every source's version
        self._owned: OrderedDict[int, tuple[U64, str | None, int, U64]] = OrderedDict()
        # the (source, shingle) observations held: each adds one to one counter of every row
        self.observed = int(self.table[0].sum(dtype=np.uint64))
        self._warned = False

    def version_of(self, source: str | None) -> int:
        """The version of a source's formula shingles (see the module docstring); an article
        without a source has none, and its version never moves."""
        if source is None:
            return 0
        return self._bulk + self._versions.get(source, 0)

    @property
    def config(self) -> FormulaConfig:
        return self._config

    @property
    def load(self) -> float:
        """The (source, shingle) observations held per counter of a row."""
        return self.observed / self._width

    @property
    def overloaded(self) -> bool:
        """Whether the sketch holds more than ``max_load`` observations per counter of a row, so
        that its counts are not trusted and the pair test abstains (see the module docstring)."""
        return self.load > self._config.max_load

    def _held(self, observations: int) -> None:
        """Add ``observations`` (negative: taken out) to those held; when that makes the counts
        overloaded or trusted again, every source's version moves (the first time they overload,
        a warning says which width would hold them)."""
        before = self.overloaded
        self.observed += observations
        if self.overloaded == before:
            return
        self._bulk += 1
        self.version += 1
        self.crossings += 1
        if self.overloaded and not self._warned:
            self._warned = True
            config = self._config
            bits = math.ceil(math.log2(2 * self.observed / config.max_load))
            _log.warning(
                "the formula counts hold %d observations in %d counters a row, more than max_load=%g each: "
                "templated stories are not told apart from copies any more; set "
                "FormulaConfig.sketch_width_bits to %d or more (%.1f MiB) to hold twice as many (each step "
                "doubles what it holds), or enabled=False to turn the rule off",
                self.observed, self._width, config.max_load, bits, (4 * config.sketch_rows << bits) / 2**20,
            )  # fmt: skip

    def cells(self, keys: U64) -> I64:
        """The flat counter of every key in every row, row after row (``rows * len(keys)``)."""
        rows = self._config.sketch_rows
        with np.errstate(over="ignore"):
            hashed = (keys[None, :] * _ROW_MULTIPLIERS[:rows, None]) >> self._shift
        out: I64 = (hashed.astype(np.int64) + (np.arange(rows, dtype=np.int64) * self._width)[:, None]).ravel()
        return out

    def counts(self, source: str | None, shingles: U64) -> I64:
        """The count of each (source, shingle): at least the number of the source's articles
        observed with the shingle (0 for an article without a source)."""
        k = keys(source, shingles)
        if len(k) == 0:
            return np.zeros(len(shingles), dtype=np.int64)
        found = self.table.ravel()[self.cells(k)].reshape(self._config.sketch_rows, len(k))
        out: I64 = found.min(axis=0).astype(np.int64)
        return out

    def formula(self, source: str | None, shingles: U64) -> Bools:
        """Which of the shingles (of an article of ``source``) are formula: ``counts`` at or above
        ``min_per_source``, in one compiled pass (``kernels.formula.reaching``)."""
        k = keys(source, shingles)
        if len(k) == 0:
            return np.zeros(len(shingles), dtype=np.bool_)
        rows = self._config.sketch_rows
        out: Bools = formula_kernels.reaching(
            self.table, k, _ROW_MULTIPLIERS[:rows], self._shift, self._config.min_per_source
        )
        return out

    def _own(self, source: str | None, shingles: U64) -> U64:
        """The shingles that are not formula, remembered for the articles checked last (an article
        is checked against many others in a row) until any counter crosses the threshold again."""
        key = id(shingles)
        kept = self._owned.get(key)
        version = self.crossings
        if kept is not None and kept[0] is shingles and kept[1] == source and kept[2] == version:
            self._owned.move_to_end(key)
            return kept[3]
        own: U64 = shingles[~self.formula(source, shingles)]
        self._owned[key] = (shingles, source, version, own)  # the array kept: its id stays its own
        if len(self._owned) > _OWN_KEPT:
            self._owned.popitem(last=False)
        return own

    # -- counting -----------------------------------------------------------------------------
    def observe(self, source: str | None, shingles: U64) -> None:
        """Count an article of ``source`` carrying ``shingles`` (distinct, as ``Shingled.shingles``)."""
        self._count(source, shingles, 1)

    def forget(self, source: str | None, shingles: U64) -> None:
        """Take an observed article out of the counts."""
        self._count(source, shingles, -1)

    def _count(self, source: str | None, shingles: U64, step: int) -> None:
        """Count one article in or out, moving its source's version when one of its own counts
        crosses the threshold."""
        k = keys(source, shingles)
        if source is None or len(k) == 0:
            return
        rows = self._config.sketch_rows
        self._held(step * len(k))
        counters = self._change(self.cells(k), step)
        before, after = (c.reshape(rows, len(k)).min(axis=0) for c in counters)
        n = self._config.min_per_source
        if bool(np.any((before < n) != (after < n))):
            self._versions[source] = self._versions.get(source, 0) + 1
            self.version += 1

    def add_keys(self, sketch_keys: U64) -> None:
        """Count many articles at once, given their ``keys`` end to end (a batch's chunk): the
        same table as observing them one by one. The version goes up whenever anything is counted
        (counts built before any comparison is made need no finer test)."""
        if len(sketch_keys) == 0:
            return
        self._held(len(sketch_keys))
        formula_kernels.add_counts(self.table.ravel(), self.cells(sketch_keys), np.uint32(1))
        self.crossings += 1
        self._bulk += 1
        self.version += 1

    def add_table(self, table: U32) -> None:
        """Add the counts of another table of this shape (a Spark partition's)."""
        before = self.table.copy()
        self._held(int(np.asarray(table)[0].sum(dtype=np.uint64)))
        self.table += table
        if self._crossed(before, self.table):
            self._bulk += 1
            self.version += 1

    def _change(self, cells: I64, step: int) -> tuple[U32, U32]:
        """Add ``step`` (1 or -1) to each counter of ``cells`` once per time it is listed; returns
        the counters of ``cells`` before and after."""
        flat = self.table.ravel()
        before = flat[cells]
        if len(cells) == 0:
            return before, before
        formula_kernels.add_counts(flat, cells, np.uint32(step % 2**32))  # counters wrap as uint32 do
        after = flat[cells]
        # how many times each counter moved (uint32 differences wrap back to the count)
        moved = after - before if step > 0 else before - after
        self._crossed(before, before.astype(np.int64) + step * moved.astype(np.int64))
        return before, after

    def _crossed(self, before: npt.NDArray[np.integer], after: npt.NDArray[np.integer]) -> bool:
        """Whether a counter crossed the threshold (counted in ``crossings``)."""
        n = self._config.min_per_source
        crossed = bool(np.any((before < n) != (after < n)))
        if crossed:
            self.crossings += 1
        return crossed

    # -- the pair test ------------------------------------------------------------------------
    def check(
        self, match: Match, source_a: str | None, shingles_a: U64, source_b: str | None, shingles_b: U64,
        verify: VerifyConfig, titled_apart: bool = False,
    ) -> Match:  # fmt: skip
        """``match`` (between articles whose compared shingles, boilerplate left out, are
        ``shingles_a`` and ``shingles_b``; ``titled_apart``: see ``titled_apart``), refused when
        only formula made it a copy; unchanged while the counts are ``overloaded``."""
        if self.overloaded or not affected(match, verify, titled_apart):
            return match
        least = self._config.min_containment
        smaller = min(len(shingles_a), len(shingles_b))
        if smaller == 0:
            return match
        # the shingles are sorted and distinct (``View.shingles``), and so is every subset of them
        if intersect_count(shingles_a, shingles_b) / smaller < least:
            return match  # not the containment: the formula is not what made it a copy
        own_a, own_b = self._own(source_a, shingles_a), self._own(source_b, shingles_b)
        smaller_own = min(len(own_a), len(own_b))
        own_shared = intersect_count(own_a, own_b)
        if smaller_own and own_shared / smaller_own >= least:
            return match
        return replace(match, is_copy=False, relation=Relation.NONE, rule=RULE)


def affected(match: Match, verify: VerifyConfig, titled_apart: bool = False) -> bool:
    """Whether the formula test can change ``match``: a copy that is not (nearly) the same text,
    or is between articles titled apart, or a pair the test refused."""
    if match.rule == RULE:
        return True
    if not match.is_copy:
        return False
    return titled_apart or (match.relation is not Relation.SAME_TEXT and match.jaccard < verify.near_identical_jaccard)


def titled_apart(title_a: str | None, title_b: str | None) -> bool:
    """Whether two articles' titles name different things: both have one, and under half of the
    words of the shorter one (folded) are in the other. A re-headlined story keeps most of its
    title's words; the pages a site prints one notice on are about different subjects."""
    if not title_a or not title_b:
        return False
    words_a, words_b = _title_words(title_a), _title_words(title_b)
    smaller = min(len(words_a), len(words_b))
    return smaller > 0 and len(words_a & words_b) < 0.5 * smaller


@lru_cache(maxsize=8192)  # an article's title is read for each of its comparisons
def _title_words(title: str) -> frozenset[str]:
    return frozenset(fold(title).split())


def build(config: FormulaConfig, chunks: Iterable[U64]) -> FormulaCounts:
    """The counts of a batch from the ``keys`` of its chunks."""
    counts = FormulaCounts(config)
    for chunk in chunks:
        counts.add_keys(chunk)
    return counts
