"""Formula shingles: the words an outlet prints on story after story about different events.

A congratulation cable to one president and the cable to the next, the weather bulletin of one day
and of the next, relief flight 3 and relief flight 4: templated stories share most of their words,
so the verifier finds them copies, yet they report different events. What they share is a
*formula*, and a formula has a tell a copied story has not: one outlet (the article's ``source``)
carries its shingles in many of its own articles, whereas the shingles of a wire story recur on
many outlets about once each.

Some formulas are printed often by one outlet; others (an agency's standard paragraph, a
ministry's stock phrase) twice or three times by each of several outlets, and then no outlet alone
reaches a threshold that a wire story's copies stay under. What tells them from a wire text is
that the outlets *repeat* them: a wire story reaches an outlet once, maybe twice when it is updated,
whereas a formula comes back with every new event. So the rule pools the repeats of all outlets.

The rule, in four parts, each stated once here:

- the counts: for every (source, document shingle), the number of the source's articles that carry
  the shingle (``FormulaCounts.observe`` and ``forget``, an article's distinct shingles counted
  once). An article's source is its ``source``, else the host of its ``url`` (``outlet``); an
  article with neither contributes nothing to the counts and has no formula shingles;
- the pooled count of a shingle (``FormulaCounts.pooled``): the number of articles that carry it
  from the sources that carry it in two or more of their articles;
- the formula shingles of an article: those its own source carries in at least
  ``FormulaConfig.min_per_source`` articles, and those it carries in two or more whose pooled
  count reaches ``FormulaConfig.min_repeated`` (``FormulaCounts.formula``);
- the pair test (``FormulaCounts.check``): a pair the verifier calls a copy, whose Jaccard is
  below ``VerifyConfig.near_identical_jaccard``, whose containment (of the smaller article, as the
  verifier measures it) is at least ``FormulaConfig.min_containment``, but under it once the
  formula shingles of either article are left out, is not a copy (rule ``"formula"``, relation
  none): only the formula made it look like one. Identical and near-identical texts are refused
  only when their titles name different things (``titled_apart``): a site's notice (a cookie or
  paywall text, "no articles found") printed on many of its pages is all formula, and the pages'
  titles tell them apart, whereas an outlet that publishes its own story again keeps its title.

The counts are kept in count-min sketches: ``sketch_rows`` rows of ``2**sketch_width_bits``
16-bit counters for the (source, shingle) counts, and as many rows of an eighth of that width for
the pooled counts (keyed by the shingle alone: far fewer shingles have any). Each key is hashed to
one counter per row, its count read as the smallest of them. Their memory is fixed however long a
stream runs (``sketch_bytes``), a count they give is never below the true count, and adding then
removing an article puts every counter back. A counter that reaches its largest value (65,535)
stays there: that count is not known any more, and it reads as formula all the same. Counters
only add, so a batch builds the same (source, shingle) table by counting its chunks, and Spark by
summing the tables of its partitions; the pooled counts a stream and a batch move as each count
goes from one to two and beyond, and Spark reads them from the summed table, each article adding
one to each of its shingles its source carries twice or more: the same counts while the sketch
counts exactly. A count is too high when other keys land on all of its counters; the expected
excess per counter is the number of (article, shingle) observations held divided by the width,
and "twice or more" is a low count, read wrongly once a row holds more observations than
counters. Past ``FormulaConfig.max_load`` observations per counter, so many counts read high that
most shingles of every source would pass for formula and the test would refuse nearly every copy
that is not near-identical: the counts are then *overloaded* (``FormulaCounts.overloaded``), the
test abstains, and a warning on the ``dedup.formula`` logger names the ``sketch_width_bits`` that
would hold them.

Each source has a version (``version_of``), which goes up whenever one of its shingles becomes
formula or stops being so as one of its articles is observed or forgotten: only then can the
formula shingles of the source's articles have changed, and a comparison of one of them decided
before must be checked again (``dedup.stages.pairs``). A pooled count that crosses
``min_repeated`` can change any source's formula shingles, and counts added in bulk (a batch's
chunks, a Spark partition's tables: counted before any comparison is made) can change all of
them: both move every source's version. A count that crosses only because other keys landed on
its counters (the sketch's excess, above) moves no version: a comparison decided before stands
until its sources' versions next move. Counts that become overloaded, or stop being so, move every
source's version.
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
U16 = npt.NDArray[np.uint16]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

RULE = "formula"
_log = logging.getLogger("dedup.formula")
_OWN_KEPT = 1024  # articles whose own (not formula) shingles are remembered
_COUNTER_BYTES = 2  # uint16 counters

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
    return outlet_of(article.source, article.url)


def outlet_of(source: str | None, url: str | None) -> str | None:
    """``outlet`` of an article with this ``source`` and ``url``."""
    return source or (_host(url) if url else None)


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


def shingles_of(source: str | None, sketch_keys: U64) -> U64:
    """The shingles a source's ``keys`` were made of (``keys`` undone)."""
    salt = source_key(source)
    if salt is None:
        return sketch_keys
    out: U64 = np.bitwise_xor(sketch_keys, np.uint64(salt))
    return out


def keys(source: str | None, shingles: U64) -> U64:
    """The sketch keys of an article's (source, shingle) pairs; none without a source."""
    salt = source_key(source)
    if salt is None:
        return np.empty(0, dtype=np.uint64)
    out: U64 = np.bitwise_xor(shingles, np.uint64(salt))
    return out


class FormulaCounts:
    """The (source, shingle) document frequencies and the shingles' pooled counts, each in a
    count-min sketch (see the module docstring).

    >>> counts = FormulaCounts(FormulaConfig(sketch_width_bits=10))
    >>> shingles = np.array([1, 2, 3], dtype=np.uint64)
    >>> for _ in range(4):
    ...     counts.observe("outlet", shingles)
    >>> counts.formula("outlet", shingles).tolist(), counts.formula("other", shingles).tolist()
    ([True, True, True], [False, False, False])
    """

    __slots__ = (
        "_bulk", "_config", "_owned", "_pooled_shift", "_shift", "_versions", "_warned", "_width", "crossings",
        "observed", "repeated", "table", "version",
    )  # fmt: skip

    def __init__(self, config: FormulaConfig, table: U16 | None = None, repeated: U16 | None = None) -> None:
        self._config = config
        self._width = 1 << config.sketch_width_bits
        self._shift = np.uint64(64 - config.sketch_width_bits)
        self._pooled_shift = np.uint64(64 - pooled_width_bits(config))
        self.table: U16 = _checked(table, (config.sketch_rows, self._width), "table")
        self.repeated: U16 = _checked(repeated, (config.sketch_rows, 1 << pooled_width_bits(config)), "repeated")
        self.version = 0  # the number of times any source's version moved
        self.crossings = 0  # the number of changes in which any count crossed a threshold
        self._versions: dict[str, int] = {}
        self._bulk = 0  # the times every source's version moved at once
        self._owned: OrderedDict[int, tuple[U64, str | None, int, U64]] = OrderedDict()
        # the (source, shingle) observations held: each adds one to one counter of every row (a
        # counter stuck at its largest value counts its share all the same)
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

    def _move_all(self) -> None:
        """Move every source's version (and count a crossing)."""
        self._bulk += 1
        self.version += 1
        self.crossings += 1

    def _held(self, observations: int) -> None:
        """Add ``observations`` (negative: taken out) to those held; when that makes the counts
        overloaded or trusted again, every source's version moves (the first time they overload,
        a warning says which width would hold them)."""
        before = self.overloaded
        self.observed += observations
        if self.overloaded == before:
            return
        self._move_all()
        if self.overloaded and not self._warned:
            self._warned = True
            config = self._config
            bits = math.ceil(math.log2(2 * self.observed / config.max_load))
            _log.warning(
                "the formula counts hold %d observations in %d counters a row, more than max_load=%g each: "
                "templated stories are not told apart from copies any more; set "
                "FormulaConfig.sketch_width_bits to %d or more (%.1f MiB) to hold twice as many (each step "
                "doubles what it holds), or enabled=False to turn the rule off",
                self.observed, self._width, config.max_load, bits, sketch_bytes(replace(config, sketch_width_bits=bits)) / 2**20,
            )  # fmt: skip

    def cells(self, sketch_keys: U64, pooled: bool = False) -> I64:
        """The flat counter of every key in every row, row after row (``rows * len(keys)``), of
        ``table`` (of ``repeated`` when ``pooled``)."""
        rows = self._config.sketch_rows
        shift = self._pooled_shift if pooled else self._shift
        width = 1 << (64 - int(shift))
        with np.errstate(over="ignore"):
            hashed = (sketch_keys[None, :] * _ROW_MULTIPLIERS[:rows, None]) >> shift
        out: I64 = (hashed.astype(np.int64) + (np.arange(rows, dtype=np.int64) * width)[:, None]).ravel()
        return out

    def _smallest(self, sketch_keys: U64, pooled: bool = False) -> I64:
        """The count-min reading of each key: the smallest of its counters."""
        table = self.repeated if pooled else self.table
        if len(sketch_keys) == 0:
            return np.zeros(0, dtype=np.int64)
        found = table.ravel()[self.cells(sketch_keys, pooled)].reshape(self._config.sketch_rows, len(sketch_keys))
        out: I64 = found.min(axis=0).astype(np.int64)
        return out

    def counts(self, source: str | None, shingles: U64) -> I64:
        """The count of each (source, shingle): at least the number of the source's articles
        observed with the shingle (0 for an article without a source)."""
        k = keys(source, shingles)
        if len(k) == 0:
            return np.zeros(len(shingles), dtype=np.int64)
        return self._smallest(k)

    def pooled(self, shingles: U64) -> I64:
        """The pooled count of each shingle: at least the number of articles that carry it from
        the sources that carry it in two or more of their articles."""
        return self._smallest(shingles, pooled=True)

    def formula(self, source: str | None, shingles: U64) -> Bools:
        """Which of the shingles (of an article of ``source``) are formula (see the module
        docstring), each reading one compiled pass (``kernels.formula.reaching``)."""
        k = keys(source, shingles)
        if len(k) == 0:
            return np.zeros(len(shingles), dtype=np.bool_)
        config = self._config
        multipliers = _ROW_MULTIPLIERS[: config.sketch_rows]
        out: Bools = formula_kernels.reaching(self.table, k, multipliers, self._shift, config.min_per_source)
        if config.min_repeated:
            pooled = formula_kernels.reaching(
                self.repeated, shingles, multipliers, self._pooled_shift, config.min_repeated
            )
            if pooled.any():
                out |= pooled & formula_kernels.reaching(self.table, k, multipliers, self._shift, 2)
        return out

    def _status(self, counts: I64, pooled: I64) -> Bools:
        """Formula or not, from a source's counts of shingles and the shingles' pooled counts: the
        rule ``formula`` reads, on counts already read."""
        config = self._config
        out: Bools = counts >= config.min_per_source
        if config.min_repeated:
            out |= (counts >= 2) & (pooled >= config.min_repeated)
        return out

    def _own(self, source: str | None, shingles: U64) -> U64:
        """The shingles that are not formula, remembered for the articles checked last (an article
        is checked against many others in a row) until any count crosses a threshold again."""
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
        """Count one article in or out, moving its source's version when the formula status of
        one of its shingles changes (every source's, when a pooled count crosses)."""
        k = keys(source, shingles)
        if source is None or len(k) == 0:
            return
        self._held(step * len(k))
        before = self._smallest(k)
        crossed = self._add(self.table, self.cells(k), step, self._table_thresholds())
        after = self._smallest(k)
        pooled_before, pooled_after = self._repeat(shingles, before, after)
        if crossed:
            self.crossings += 1
        if bool(np.any(self._status(before, pooled_before) != self._status(after, pooled_after))):
            self._versions[source] = self._versions.get(source, 0) + 1
            self.version += 1

    def _table_thresholds(self) -> tuple[int, ...]:
        """The counts ``formula`` compares a (source, shingle) count with."""
        config = self._config
        return (config.min_per_source, 2) if config.min_repeated else (config.min_per_source,)

    def _add(self, table: U16, cells: I64, step: int, thresholds: tuple[int, ...]) -> bool:
        """Add ``step`` to each counter of ``cells`` of ``table`` once per time it is listed
        (``kernels.formula.add_counts``: a counter stays at its largest value once there);
        whether a counter crossed one of ``thresholds``, either way."""
        if len(cells) == 0:
            return False
        flat = table.ravel()
        before = flat[cells]
        formula_kernels.add_counts(flat, cells, np.int64(step))
        after = flat[cells]
        return any(bool(np.any((before < t) != (after < t))) for t in thresholds)

    def _repeat(self, shingles: U64, before: I64, after: I64) -> tuple[I64, I64]:
        """Move the pooled counts of ``shingles`` as a source's counts of them went from ``before``
        to ``after``; the pooled counts before and after. A pooled count that crosses
        ``min_repeated`` can change the formula shingles of every source that repeats the
        shingle: every source's version moves."""
        least = self._config.min_repeated
        if not least:
            zeros = np.zeros(len(shingles), dtype=np.int64)
            return zeros, zeros
        pooled_before = self.pooled(shingles)
        delta = _repeats(after) - _repeats(before)
        moved = np.flatnonzero(delta)
        if len(moved) == 0:
            return pooled_before, pooled_before
        rows = self._config.sketch_rows
        cells = self.cells(shingles[moved], pooled=True).reshape(rows, len(moved))
        crossed = False
        for step in np.unique(delta[moved]):
            crossed |= self._add(self.repeated, cells[:, delta[moved] == step].ravel(), int(step), (least,))
        pooled_after = self.pooled(shingles)
        if bool(np.any((pooled_before < least) != (pooled_after < least))):
            self._move_all()
        elif crossed:
            self.crossings += 1
        return pooled_before, pooled_after

    def add_keys(self, sketch_keys: U64, shingles: U64) -> None:
        """Count many articles at once (a batch's chunk), given their ``keys`` end to end and the
        shingle each key is of (``shingles_of``): the same tables as observing them one by one.
        Every source's version moves whenever anything is counted (counts built before any
        comparison is made need no finer test)."""
        if len(sketch_keys) == 0:
            return
        distinct, first = np.unique(sketch_keys, return_index=True)
        before = self._smallest(distinct)
        self.count_keys(sketch_keys)
        self._repeat(shingles[first], before, self._smallest(distinct))

    def count_keys(self, sketch_keys: U64) -> None:
        """Count many articles' ``keys`` in ``table`` alone, their pooled counts left to
        ``add_pooled`` (a Spark partition's share). Every source's version moves."""
        if len(sketch_keys) == 0:
            return
        self._held(len(sketch_keys))
        self._add(self.table, self.cells(sketch_keys), 1, ())
        self._move_all()

    def nonzero(self) -> tuple[I64, U16]:
        """The flat cells of ``table`` that count anything, and their counts (a Spark partition's
        share, far smaller than the table while a partition holds few articles)."""
        flat = self.table.ravel()
        cells = np.flatnonzero(flat)
        out: U16 = flat[cells]
        return cells, out

    def add_cells(self, cells: I64, values: U16) -> None:
        """Add another sketch's counts, given as ``nonzero`` gives them (a Spark partition's);
        the pooled counts are added afterwards (``add_pooled``). Every source's version moves."""
        self._held(int(values[cells < self._width].sum(dtype=np.uint64)))
        _add_values(self.table, cells, values)
        self._move_all()

    def pooled_cells(self, sketch_keys: U64, shingles: U64) -> tuple[I64, U16]:
        """The pooled counts articles add, given their ``keys`` end to end and the shingle each
        key is of, once every article is in ``table``, as flat cells of ``repeated`` and the counts
        they add (a Spark partition's share: each article adds one to each of its shingles its
        source carries twice or more)."""
        repeats = self._smallest(sketch_keys) >= 2
        if not self._config.min_repeated or not repeats.any():
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint16)
        cells, times = np.unique(self.cells(shingles[repeats], pooled=True), return_counts=True)
        values: U16 = np.minimum(times, np.iinfo(np.uint16).max).astype(np.uint16)
        return cells, values

    def add_pooled(self, cells: I64, values: U16) -> None:
        """Add pooled counts (``pooled_cells``'s)."""
        _add_values(self.repeated, cells, values)
        self._move_all()

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


def pooled_width_bits(config: FormulaConfig) -> int:
    """The width of the pooled counts' sketch (a shingle's key, not a (source, shingle) pair's: far
    fewer keys have a pooled count at all), in bits."""
    return max(1, config.sketch_width_bits - 3)


def sketch_bytes(config: FormulaConfig) -> int:
    """The memory the formula counts take."""
    return _COUNTER_BYTES * config.sketch_rows * ((1 << config.sketch_width_bits) + (1 << pooled_width_bits(config)))


def _checked(table: U16 | None, shape: tuple[int, int], what: str) -> U16:
    """A counter table of ``shape``: zeros when None."""
    out: U16 = np.zeros(shape, dtype=np.uint16) if table is None else np.ascontiguousarray(table)
    if out.shape != shape or out.dtype != np.uint16:
        raise ValueError(f"a formula {what} must be uint16 of shape {shape}, got {out.dtype} {out.shape}")
    return out


def _add_values(table: U16, cells: I64, values: U16) -> None:
    """Add ``values`` to the flat ``cells`` (distinct) of ``table``, a counter stopping at its
    largest value."""
    flat = table.ravel()
    if len(cells) and (cells.min() < 0 or cells.max() >= len(flat)):
        raise ValueError("formula counts: a cell outside the table")
    total = flat[cells].astype(np.uint32) + np.asarray(values, dtype=np.uint32)
    flat[cells] = np.minimum(total, np.iinfo(np.uint16).max).astype(np.uint16)


def _repeats(counts: I64) -> I64:
    """The articles a (source, shingle) count adds to the shingle's pooled count: all of them when
    the source carries it twice or more, none when once."""
    out: I64 = np.where(counts >= 2, counts, 0)
    return out


def build(config: FormulaConfig, chunks: Iterable[tuple[U64, U64]]) -> FormulaCounts:
    """The counts of a batch from its chunks' ``keys`` and the shingles they are of."""
    counts = FormulaCounts(config)
    for chunk, shingles in chunks:
        counts.add_keys(chunk, shingles)
    return counts
