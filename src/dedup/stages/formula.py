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
8-bit counters for the (source, shingle) counts, and as many rows of an eighth of that width for
the pooled counts (keyed by the shingle alone: far fewer shingles have any). Each key is hashed to
one counter per row, all of them in one 64-byte block (``Layout``), its count read as the smallest
of them. Their memory is fixed however long a stream runs (``sketch_bytes``), a count they give
is never below the true count, and taking out the articles last counted puts every counter back.
A counter that reaches 255 stays there (a count that high is formula by any threshold). Every
runner counts an article's keys one after the other, moving a shingle's pooled count as its
(source, shingle) count goes from one to two and beyond (``kernels.formula.count_and_pool``), so a
batch counting its chunks builds the stream's tables; Spark sums its partitions' (source, shingle)
counts and then reads the pooled counts from the sum, each article adding one to each of its
shingles its source carries twice or more: the same counts while the sketch counts exactly. A
count is too high when other keys land on all of its counters; the expected excess per counter is
the number of (article, shingle) observations held divided by the width, and "twice or more" is a
low count, read wrongly once a row holds more observations than counters. The pooled counts follow
the readings of the moment: where keys collide, articles taken out in another order than they
came in can leave them slightly off. Past ``FormulaConfig.max_load`` observations per counter, so
many counts read high that most shingles of every source would pass for formula and the test would
refuse nearly every copy that is not near-identical: the counts are then *overloaded*
(``FormulaCounts.overloaded``), the test abstains, and a warning on the ``dedup.formula`` logger
names the ``sketch_width_bits`` that would hold them.

Each source has a version (``version_of``), which goes up whenever one of its shingles becomes
formula or stops being so as one of its articles is observed or forgotten: only then can the
formula shingles of the source's articles have changed, and a comparison of one of them decided
before must be checked again (``dedup.stages.pairs``). A pooled count that crosses
``min_repeated`` can change the formula shingles of the sources that carry the shingle twice or
more: it moves the version of every source observed with two articles or more and a key read 2
or more (in a widely syndicated story, each outlet carrying it once, of none). Counts
added in bulk (a batch's chunks, a Spark partition's tables: counted before any comparison is
made) can change every source's formula shingles: they move every source's version, and every
pooled crossing afterwards does too. A count that crosses only because other keys landed on
its counters (the sketch's excess, above) moves no version: a comparison decided before stands
until its sources' versions next move. Counts that become overloaded, or stop being so, move every
source's version.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

from dedup.config import FormulaConfig, VerifyConfig
from dedup.kernels import formula as formula_kernels
from dedup.kernels.verify import intersect_count
from dedup.records import Article, Match, Relation
from dedup.stages.normalize import fold

U64 = npt.NDArray[np.uint64]
Counters = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

RULE = "formula"
_log = logging.getLogger("dedup.formula")
_OWN_KEPT = 1024  # articles whose own (not formula) shingles are remembered
_COUNTER = np.uint8  # counts past 255 are formula by any threshold: a full counter stays full
_BLOCK = 64  # counters a key's rows share: 64 bytes, one cache line

# Odd 64-bit multipliers, one per sketch row (multiply-shift hashing of a key to a counter).
_ROW_MULTIPLIERS = np.array(
    [
        0x9FB21C651E98DF25, 0xD6E8FEB86659FD93, 0xA0761D6478BD642F, 0xE7037ED1A0B428DB,
        0x8EBC6AF09C88C6E3, 0x589965CC75374CC3, 0x1D8E4E27C47D124F, 0xDB9C5A3E2A4B5B8D,
    ],
    dtype=np.uint64,
)  # fmt: skip
_BLOCK_MULTIPLIER = np.uint64(0xC2B2AE3D27D4EB4F)  # chooses a key's block


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


@dataclass(frozen=True)
class Layout:
    """Where a count-min sketch keeps a key's counters: ``rows`` counters per key, all in one block
    of ``block`` adjacent counters (64 bytes of 8-bit counters: one cache line), the block chosen by
    one hash of the key, and within it row r's counter among the r-th ``per_row`` slots by another.
    A key's count then costs one cache miss instead of one per row (the tables are far larger than
    any cache); the rows stay apart within the block, as a count-min sketch's rows are, and two keys
    share counters only when they share a block. Hashes are multiply-shift (the high 32 bits of the
    key times an odd constant), scaled to a range by multiplying and shifting again."""

    rows: int
    counters: int  # in all: rows * 2**width_bits

    @property
    def block(self) -> int:
        return min(_BLOCK, self.counters)

    @property
    def blocks(self) -> int:
        return self.counters // self.block

    @property
    def per_row(self) -> int:
        return self.block // self.rows

    @cached_property
    def geometry(self) -> U64:
        """The layout as the kernels of ``kernels.formula`` take it."""
        return np.array([_BLOCK_MULTIPLIER, self.blocks, self.block, self.per_row], dtype=np.uint64)

    def cells(self, sketch_keys: U64) -> I64:
        """The flat counter of every key in every row, row after row (``rows * len(keys)``)."""
        low = np.uint64(32)
        with np.errstate(over="ignore"):
            base = ((((sketch_keys * _BLOCK_MULTIPLIER) >> low) * np.uint64(self.blocks)) >> low) * np.uint64(
                self.block
            )
            hashed = sketch_keys[None, :] * _ROW_MULTIPLIERS[: self.rows, None]
        slots = ((hashed >> low) * np.uint64(self.per_row)) >> low
        offsets = (np.arange(self.rows, dtype=np.uint64) * np.uint64(self.per_row))[:, None]
        out: I64 = (base[None, :] + offsets + slots).astype(np.int64).ravel()
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
        "_articles", "_bulk", "_config", "_every_source_repeats", "_layout", "_owned", "_pooled", "_pooled_layout",
        "_reached", "_repeating", "_versions", "_warned", "_width", "crossings", "observed", "repeated", "table",
        "version",
    )  # fmt: skip

    def __init__(self, config: FormulaConfig, table: Counters | None = None, repeated: Counters | None = None) -> None:
        self._config = config
        self._width = 1 << config.sketch_width_bits
        self._layout = Layout(config.sketch_rows, config.sketch_rows << config.sketch_width_bits)
        self._pooled_layout = Layout(config.sketch_rows, config.sketch_rows << pooled_width_bits(config))
        self.table: Counters = _checked(table, (config.sketch_rows, self._width), "table")
        self.repeated: Counters = _checked(repeated, (config.sketch_rows, 1 << pooled_width_bits(config)), "repeated")
        self.version = 0  # the number of times any source's version moved
        self.crossings = 0  # the number of changes in which any count crossed a threshold
        self._versions: dict[str, int] = {}
        self._bulk = 0  # the times every source's version moved at once
        self._pooled = 0  # the times a pooled count crossed: the version of every repeating source moved
        # the sources observed with a key read 2 or more while they had two articles or more (an
        # article's shingles are distinct: one article repeats none), with ``_pooled`` when they
        # first were
        self._repeating: dict[str, int] = {}
        self._articles: dict[str, int] = {}  # the articles of each source counted in one by one
        # whether a pooled counter has reached ``min_repeated``: before, no count of 2 is formula
        self._reached = (
            bool(config.min_repeated) and repeated is not None and int(self.repeated.max()) >= config.min_repeated
        )
        self._owned: OrderedDict[int, tuple[U64, str | None, int, U64]] = OrderedDict()
        # the (source, shingle) observations held: each adds one to one counter of every row
        self.observed = 0 if table is None else int(self.table.sum(dtype=np.uint64)) // config.sketch_rows
        # counted before (given tables) or in bulk: which sources repeat a key is not known
        self._every_source_repeats = self.observed > 0
        self._warned = False

    def version_of(self, source: str | None) -> int:
        """The version of a source's formula shingles (see the module docstring); an article
        without a source has none, and its version never moves."""
        if source is None:
            return 0
        version = self._bulk + self._versions.get(source, 0)
        if self._every_source_repeats:
            return version + self._pooled
        return version + self._pooled - self._repeating.get(source, self._pooled)

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

    def _counted_in_bulk(self) -> None:
        """Counts were added in bulk: every source's version moves, and from now on every source
        may repeat a key (which ones is not followed in bulk), so a pooled crossing moves them all."""
        self._every_source_repeats = True
        self._move_all()

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
        ``table`` (of ``repeated`` when ``pooled``): see ``Layout``."""
        return (self._pooled_layout if pooled else self._layout).cells(sketch_keys)

    def _smallest(self, sketch_keys: U64, pooled: bool = False) -> I64:
        """The count-min reading of each key: the smallest of its counters."""
        table, layout = (self.repeated, self._pooled_layout) if pooled else (self.table, self._layout)
        multipliers = _ROW_MULTIPLIERS[: self._config.sketch_rows]
        out: I64 = formula_kernels.readings(table.ravel(), sketch_keys, multipliers, layout.geometry)
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
        docstring), read by one compiled kernel (``kernels.formula.formula``)."""
        k = keys(source, shingles)
        if len(k) == 0:
            return np.zeros(len(shingles), dtype=np.bool_)
        config = self._config
        out: Bools = formula_kernels.formula(
            self.table.ravel(), k, shingles, _ROW_MULTIPLIERS[: config.sketch_rows], self._layout.geometry,
            self.repeated.ravel(), self._pooled_layout.geometry, config.min_per_source, config.min_repeated,
        )  # fmt: skip
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
        """Count one article in or out (``_pass``), moving its source's version when the formula
        status of one of its shingles changes (every source's, when a pooled count crosses)."""
        k = keys(source, shingles)
        if source is None or len(k) == 0:
            return
        self._held(step * len(k))
        if step < 0:  # the keys taken out in the reverse order they were counted in: the exact undoing
            k, shingles = np.ascontiguousarray(k[::-1]), np.ascontiguousarray(shingles[::-1])
        articles = self._articles[source] = self._articles.get(source, 0) + step
        moved = self._pass(k, shingles, step, statuses=True)
        if moved & formula_kernels.REPEATS and articles >= 2:
            self._repeating.setdefault(source, self._pooled)
        if moved & formula_kernels.POOLED_CROSSED:
            self._pooled += 1
            self.version += 1
            self.crossings += 1
        elif moved & formula_kernels.COUNTER_CROSSED:
            self.crossings += 1
        if moved & formula_kernels.STATUS_MOVED:
            self._versions[source] = self._versions.get(source, 0) + 1
            self.version += 1

    def _pass(self, sketch_keys: U64, shingles: U64, step: int, statuses: bool = False) -> int:
        """Count ``sketch_keys`` in or out one after the other, with the pooled counts of their
        ``shingles`` (``kernels.formula.count_and_pool``); what moved, as its flags (with
        ``statuses``, the keys' formula status and pooled count compared before and after too)."""
        config = self._config
        moved: int = formula_kernels.count_and_pool(
            self.table.ravel(), sketch_keys, shingles, _ROW_MULTIPLIERS[: config.sketch_rows], self._layout.geometry,
            self.repeated.ravel(), self._pooled_layout.geometry, step, config.min_per_source, config.min_repeated,
            statuses, self._reached,
        )  # fmt: skip
        if moved & formula_kernels.POOLED_REACHED:
            self._reached = True
        return moved

    def add_keys(self, sketch_keys: U64, shingles: U64) -> None:
        """Count many articles at once (a batch's chunk), given their ``keys`` end to end and the
        shingle each key is of (``shingles_of``), one key after the other, the pooled counts moved
        as each key's count goes (``kernels.formula.count_and_pool``): the same tables as observing
        the articles one by one while the sketch counts exactly. Every source's version moves
        whenever anything is counted (counts built before any comparison is made need no finer
        test)."""
        if len(sketch_keys) == 0:
            return
        if not self._config.min_repeated:
            self.count_keys(sketch_keys)
            return
        self._held(len(sketch_keys))
        self._pass(sketch_keys, shingles, 1)  # the versions all move: no statuses needed
        self._counted_in_bulk()

    def count_keys(self, sketch_keys: U64) -> None:
        """Count many articles' ``keys`` in ``table`` alone, their pooled counts left to
        ``add_pooled`` (a Spark partition's share). Every source's version moves."""
        if len(sketch_keys) == 0:
            return
        self._held(len(sketch_keys))
        multipliers = _ROW_MULTIPLIERS[: self._config.sketch_rows]
        formula_kernels.count_keys(self.table.ravel(), sketch_keys, multipliers, self._layout.geometry)
        self._counted_in_bulk()

    def nonzero(self) -> tuple[I64, Counters]:
        """The flat cells of ``table`` that count anything, and their counts (a Spark partition's
        share, far smaller than the table while a partition holds few articles)."""
        flat = self.table.ravel()
        cells = np.flatnonzero(flat)
        out: Counters = flat[cells]
        return cells, out

    def add_cells(self, cells: I64, values: Counters) -> None:
        """Add another sketch's counts, given as ``nonzero`` gives them (a Spark partition's);
        the pooled counts are added afterwards (``add_pooled``). Every source's version moves."""
        self._held(int(values.sum(dtype=np.uint64)) // self._config.sketch_rows)
        _add_values(self.table, cells, values)
        self._counted_in_bulk()

    def pooled_share(self, articles: Iterable[tuple[U64, U64]]) -> tuple[I64, Counters]:
        """The pooled counts articles add once every article is in ``table``, given each one's
        ``keys`` and the shingles they are of, gathered one article at a time: the flat cells of
        ``repeated`` and what each adds (a Spark partition's share: an article adds one to each of
        its shingles its source carries twice or more)."""
        partial = _zeros(self.repeated.shape)
        if self._config.min_repeated:
            multipliers, geometry = _ROW_MULTIPLIERS[: self._config.sketch_rows], self._pooled_layout.geometry
            for sketch_keys, shingles in articles:
                repeats = self._smallest(sketch_keys) >= 2
                if repeats.any():
                    formula_kernels.count_keys(
                        partial.ravel(), np.ascontiguousarray(shingles[repeats]), multipliers, geometry
                    )
        flat = partial.ravel()
        cells = np.flatnonzero(flat)
        out: Counters = flat[cells]
        return cells, out

    def add_pooled(self, cells: I64, values: Counters) -> None:
        """Add pooled counts (``pooled_share``'s)."""
        _add_values(self.repeated, cells, values)
        self._reached = bool(self._config.min_repeated)  # (whether they reach it is not read)
        self._counted_in_bulk()

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
    return (
        np.dtype(_COUNTER).itemsize
        * config.sketch_rows
        * ((1 << config.sketch_width_bits) + (1 << pooled_width_bits(config)))
    )


def _checked(table: Counters | None, shape: tuple[int, int], what: str) -> Counters:
    """A counter table of ``shape``: zeros when None."""
    if table is None:
        return _zeros(shape)
    out: Counters = np.ascontiguousarray(table)
    if out.shape != shape or out.dtype != _COUNTER:
        raise ValueError(f"a formula {what} must be {np.dtype(_COUNTER)} of shape {shape}, got {out.dtype} {out.shape}")
    return out


# Tables a finished batch gave back (``release``), by shape, for the next batch of the process: a
# fresh table's pages are mapped one page fault at a time as the counts first land on them (at
# random places: a large batch soon touches every page), which costs more than the counting on
# some machines. A fresh table is left to the allocator's zero pages, so that a small stream or
# batch maps only the pages its counts land on.
_spare: dict[tuple[int, int], list[Counters]] = {}
_spare_lock = threading.Lock()


def _zeros(shape: tuple[int, int]) -> Counters:
    with _spare_lock:
        kept = _spare.get(shape)
        reused = kept.pop() if kept else None
    if reused is None:
        return np.zeros(shape, dtype=_COUNTER)
    reused.fill(0)
    return reused


def release(counts: FormulaCounts) -> None:
    """Give the tables of counts nothing will read again (a finished batch's) to the next
    ``FormulaCounts`` of the process; ``counts`` is left empty."""
    rows = counts.config.sketch_rows
    with _spare_lock:
        for table in (counts.table, counts.repeated):
            kept = _spare.setdefault(table.shape, [])
            if table.size and not any(t is table for t in kept) and len(kept) < 2:
                kept.append(table)
    counts.table = counts.repeated = np.zeros((rows, 0), dtype=_COUNTER)


def _add_values(table: Counters, cells: I64, values: Counters) -> None:
    """Add ``values`` to the flat ``cells`` (distinct) of ``table``, a counter stopping at its
    largest value."""
    flat = table.ravel()
    if len(cells) and (cells.min() < 0 or cells.max() >= len(flat)):
        raise ValueError("formula counts: a cell outside the table")
    total = flat[cells].astype(np.uint32) + np.asarray(values, dtype=np.uint32)
    flat[cells] = np.minimum(total, np.iinfo(_COUNTER).max).astype(_COUNTER)


def build(config: FormulaConfig, chunks: Iterable[tuple[U64, U64]]) -> FormulaCounts:
    """The counts of a batch from its chunks' ``keys`` and the shingles they are of."""
    counts = FormulaCounts(config)
    for chunk, shingles in chunks:
        counts.add_keys(chunk, shingles)
    return counts
