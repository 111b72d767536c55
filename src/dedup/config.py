"""Configuration: a small tree of frozen dataclasses, validated when built.

Every value has a default that suits news text in Arabic and Latin scripts; derived values (LSH bands
and rows) are computed from the thresholds in ``__post_init__`` so that a config, once built, is
consistent. Bad values raise :class:`~dedup.errors.ConfigError` (``ConfigTypeError`` for a value of
the wrong type) with a message that names the setting, the value, the range allowed and what to use.
Every field of every config is checked by one of the few helpers below, one per kind of setting.
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, NoReturn

import regex

from dedup.errors import ConfigError, ConfigTypeError, InputError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# The largest count a setting may hold: counts reach the compiled kernels as machine integers, and no
# count of words, articles or characters in one call comes near it.
COUNT_MAX = 2**31 - 1
# datasketch draws its permutations from numpy's RandomState, which takes seeds below 2**32.
SEED_MAX = 2**32 - 1


def _fail(config: DataclassInstance, name: str, allowed: str, fix: str, *, wrong_type: bool = False) -> NoReturn:
    """Raise the error for setting ``name`` of ``config``: what it must be, what it is, what to use."""
    owner, value = type(config).__name__, getattr(config, name)
    got = f"{value!r} (a {type(value).__name__})" if wrong_type else repr(value)
    raise (ConfigTypeError if wrong_type else ConfigError)(f"{owner}.{name} must be {allowed}; got {got}; {fix}")


def _in_range(config: DataclassInstance, name: str, fits: Callable[[float], bool]) -> str:
    """What to use instead of a number out of range: the setting's default when it is in the range."""
    default = next((f.default for f in fields(config) if f.name == name), MISSING)
    if isinstance(default, int | float) and not isinstance(default, bool) and fits(default):
        return f"use a value in that range, such as the default {name}={default!r}"
    return "use a value in that range"


def _set(config: DataclassInstance, name: str, value: object) -> None:
    object.__setattr__(config, name, value)  # the configs are frozen: set once, while they are built


def _int(config: DataclassInstance, name: str, low: int, high: int = COUNT_MAX, *, note: str = "") -> int:
    """Check that setting ``name`` is an integer (a real one: not a bool, not a float) from ``low``
    to ``high``; an integer of another kind (numpy's) is stored as a Python int."""
    value = getattr(config, name)
    top = "2**31 - 1" if high == COUNT_MAX else ("2**32 - 1" if high == SEED_MAX else str(high))
    allowed = f"an integer from {low} to {top}{note}"
    fix = _in_range(config, name, lambda n: n == int(n) and low <= n <= high)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(config, name, allowed, fix, wrong_type=True)
    number = int(value)
    if not low <= number <= high:
        _fail(config, name, allowed, fix)
    if not isinstance(value, int):
        _set(config, name, number)
    return number


def _real(config: DataclassInstance, name: str, low: float, high: float, *, open_low: bool, open_high: bool) -> float:
    """Check that setting ``name`` is a finite number in the interval from ``low`` to ``high`` (open at
    the ends so marked); a number of another kind (numpy's) is stored as a Python float."""
    value = getattr(config, name)
    allowed = {
        (True, True): f"a number between {low:g} and {high:g}, both excluded",
        (True, False): f"a number above {low:g} and at most {high:g}",
        (False, True): f"a number from {low:g} up to but not including {high:g}",
        (False, False): f"a number from {low:g} to {high:g}",
    }[open_low, open_high]

    def inside(n: float) -> bool:
        above = n > low if open_low else n >= low
        below = n < high if open_high else n <= high
        return math.isfinite(n) and above and below

    fix = _in_range(config, name, inside)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(config, name, allowed, fix, wrong_type=True)
    number = float(value)
    if not inside(number):
        _fail(config, name, allowed, fix)
    if not isinstance(value, int | float):
        _set(config, name, number)
    return number


def _share(config: DataclassInstance, name: str, *, zero: bool = False, one: bool = True) -> float:
    """A share or probability: a number in [0, 1], with 0 and 1 allowed as marked."""
    return _real(config, name, 0.0, 1.0, open_low=not zero, open_high=not one)


def _flag(config: DataclassInstance, name: str) -> bool:
    value = getattr(config, name)
    if not isinstance(value, bool):
        _fail(config, name, "True or False", f"pass {name}=True or {name}=False", wrong_type=True)
    return value


def _texts(config: DataclassInstance, name: str, example: str) -> tuple[str, ...]:
    """Check that setting ``name`` is a sequence of strings (a tuple or list; a bare string would be
    read as its characters), and store it as a tuple."""
    value = getattr(config, name)
    allowed = "a tuple of strings"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        _fail(config, name, allowed, f"wrap a single one in a tuple: {name}=({example!r},)", wrong_type=True)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            _fail(
                config,
                name,
                f"{allowed}, but item {i} is {item!r}",
                wrong_type=True,
                fix=f"as in {name}=({example!r},)",
            )
    _set(config, name, tuple(value))
    return tuple(value)


def _patterns(config: DataclassInstance, name: str) -> None:
    """Check that setting ``name`` is a sequence of regular expressions that compile as the furniture
    matcher compiles them: one alternative among the others, matched at a line start, by both ``re``
    (whose parser reads their literal prefixes) and ``regex`` (which matches them, see
    ``dedup.stages.normalize``)."""
    for pattern in _texts(config, name, r"subscribe to\b"):
        if pattern in _DEFAULT_PATTERNS:
            continue  # compiled by the tests (test_config), not by every process's first config
        try:
            re.compile(f"^(?:{pattern})", re.M)
            regex.compile(f"^(?:{pattern})", regex.M | regex.V0)
        except (re.error, regex.error) as exc:
            raise ConfigError(
                f"{type(config).__name__}.{name}: furniture pattern {pattern!r} is not a valid regular expression: "
                f"{exc} (patterns are joined into one expression, so flags go in a scoped group, as in '(?i:...)')"
            ) from exc


def _agencies(config: DataclassInstance, name: str) -> None:
    """Check that setting ``name`` holds (name, (spelling, ...)) pairs, and store them as tuples."""
    value = getattr(config, name)
    fix = "as in (('Kyodo', ('Kyodo', 'كيودو')),)"
    allowed = "a tuple of (name, (spelling, ...)) pairs"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        _fail(config, name, allowed, fix, wrong_type=True)
    pairs = []
    for entry in value:
        ok = isinstance(entry, Sequence) and not isinstance(entry, str | bytes) and len(entry) == 2
        spellings = entry[1] if ok else ()
        if not (
            ok
            and isinstance(entry[0], str)
            and entry[0]
            and isinstance(spellings, Sequence)
            and not isinstance(spellings, str | bytes)
            and spellings
            and all(isinstance(s, str) and s for s in spellings)
        ):
            _fail(config, name, f"{allowed} of non-empty strings, but one is {entry!r}", fix, wrong_type=True)
        pairs.append((entry[0], tuple(spellings)))
    _set(config, name, tuple(pairs))


# Lines that are site furniture, matched against the *normalized* line (casefolded, no diacritics,
# unified alef/ya/ta marbuta, punctuation turned into spaces). Each pattern must match the start of
# the line; a pattern ending in "$" must match the whole line. Extend with
# ``NormalizeConfig(extra_furniture_patterns=...)``.
_SECTIONS = (
    "(?:home|news|world|business|sport|sports|politics|opinion|economy|culture|tech|technology|health"
    "|science|entertainment|video|videos|live|latest|local|national|international|markets|lifestyle|travel"
    "|الرييسيه|اخبار|الاخبار|اقتصاد|رياضه|سياسه|ثقافه|فن|منوعات|تكنولوجيا|صحه|فيديو|عاجل|محليات|عربي|دولي"
    "|العالم|مقالات|راي|الراي)"
)
DEFAULT_FURNITURE_PATTERNS: tuple[str, ...] = (
    # Arabic: follow us, read also, share, latest updates, comments, previous/next, print, send
    r"(تابعونا|تابعوا|تابعنا|اتبعني|اتبعنا)\b(\s+\S+){0,6}$",
    r"(اقرا|إقرا) (ايضا|كذلك)\b",
    r"(اقرا|إقرا) المزيد\b",
    r"(شارك|شاركها|مشاركه|انشر)( (على|عبر|الخبر|المقال|هذا))?( .{0,30})?$",
    r"(اخر|احدث) (التحديثات|الاخبار)$",
    r"(اترك|اضف) (ردا|رد|تعليقا|تعليق)\b",
    r"(السابق|التالي|المقال السابق|المقال التالي|الخبر السابق|الخبر التالي)$",
    r"(طباعه|ارسال|ارسل لصديق|حفظ)$",
    r"(جميع|كل) الحقوق محفوظه\b",
    r"(اشترك|سجل) في (النشره|نشرتنا)\b",
    r"(مواضيع|اخبار|مقالات) (ذات صله|متعلقه|مشابهه)$",
    r"(هذا الموقع يستخدم|يستخدم هذا الموقع)\b",
    r"(كن اول من يعلق|لا توجد تعليقات)\b",
    # Latin script: share widgets, read more, follow us, newsletters, related, comments, copyright
    r"(share|tweet|email|print|pin|whatsapp|facebook|twitter|linkedin|telegram)"
    r"( (this|on|via|article|story|to))*( (facebook|twitter|x|whatsapp|linkedin|email|telegram))*$",
    r"(read|see) (more|also)\b",
    r"(related|recommended|most read|trending|more from|more on)( (articles|stories|news|content))?$",
    r"(related|read also|see also|more)\s*:",
    r"follow us\b(\s+\S+){0,10}$",
    r"(sign up|subscribe)\b.*\b(newsletter|updates|alerts)\b",
    r"(click|tap) here\b",
    r"(advertisement|sponsored( content)?|ad)$",
    r"(all rights reserved|copyright \d{4}|\d{4} all rights reserved)\b",
    r"(be the first to comment|leave a (comment|reply)|comments?|\d+ comments?)$",
    r"(this site uses|we use cookies)\b",
    r"(translate|loading|skip to (main )?content|back to top|menu|home)$",
    r"(previous|next)( (article|story|post))?$",
    # Other languages (folded: no accents, й as и, ß as ss): read also, share, follow us, rights,
    # advertising, newsletters. French, Spanish, Portuguese, German, Russian
    r"(a lire|lire|lisez|lee|lea|leer|leia|lesen sie) (aussi|egalement|tambien|tambem|mas|mais|auch)\b",
    r"(voir|ver|veja) (aussi|tambien|tambem|mas|mais)\b",
    r"(mehr zum thema|das konnte sie auch interessieren|читаите также|читаите еще|смотрите также)\b",
    r"(partager|partagez|compartir|comparte|compartilhar|compartilhe|teilen|поделиться)( \S+){0,4}$",
    r"(suivez nous|suivez|siguenos|siga nos|folgen sie uns|подписываитесь|подпишитесь)\b(\s+\S+){0,8}$",
    r"(abonnez vous|inscrivez vous|suscribete|suscribase|assine|abonnieren sie)\b.*\b"
    r"(newsletter|lettre|boletin|alertas?|рассылку)\b",
    r"(tous droits reserves|todos los derechos reservados|todos os direitos reservados|alle rechte vorbehalten"
    r"|все права защищены)\b",
    r"(publicite|publicidad|publicidade|anzeige|werbung|реклама)$",
    r"(articles? (similaires|lies)|noticias relacionadas|materias relacionadas|ahnliche artikel|похожие новости)$",
    # Chinese and Japanese (matched on the unspaced text): editor, source and original-title lines,
    # share and scan widgets, related reading, copyright
    r"(责任编辑|责编|编辑|校对|审核|来源|原标题|作者)(\s+\S+){0,3}$",
    r"(分享到|分享至|扫一扫|扫描二维码|关注我们|点击查看|点击进入|相关阅读|相关新闻|延伸阅读|热门推荐|免责声明|版权所有|版权声明)",
    r"(関連記事|続きを読む|この記事をシェア|シェアする)",
    # navigation bars: nothing but section names ("Home | News | Business", "الرئيسية | أخبار | اقتصاد")
    rf"{_SECTIONS}( {_SECTIONS})+$",
)
_DEFAULT_PATTERNS = frozenset(DEFAULT_FURNITURE_PATTERNS)


@dataclass(frozen=True, slots=True)
class NormalizeConfig:
    """How text is cleaned before shingling.

    ``min_line_words``: lines with fewer words are dropped (bylines, buttons, counters).
    ``drop_furniture``: drop lines matching the furniture patterns.
    """

    drop_furniture: bool = True
    furniture_patterns: tuple[str, ...] = DEFAULT_FURNITURE_PATTERNS
    extra_furniture_patterns: tuple[str, ...] = ()
    min_line_words: int = 3

    def __post_init__(self) -> None:
        _flag(self, "drop_furniture")
        _patterns(self, "furniture_patterns")
        _patterns(self, "extra_furniture_patterns")
        _int(self, "min_line_words", 0)


@dataclass(frozen=True, slots=True)
class ShingleConfig:
    """Word k-gram shingles.

    ``k``: words per document shingle (MinHash and exact Jaccard/containment).
    ``passage_k``: words per shingle inside a passage (sentence-level matching).
    ``min_passage_words``: shorter sentences are not passages (too little evidence).
    ``max_passage_words``: longer sentences are cut into passages of at most this many words. The
    cuts fall where the sentence's length puts them, not where its words do, so two copies of one
    long sentence, one trimmed, are cut at different words and may share no passage: the bound only
    keeps a text without sentence ends (no punctuation at all) from being one passage.
    ``strip_arabic_conjunction``: read a leading و on Arabic words of 4+ letters as the conjunction
    "and" and drop it, since outlets add and remove it freely when they rewrite.
    """

    k: int = 3
    passage_k: int = 3
    min_passage_words: int = 6
    max_passage_words: int = 100
    strip_arabic_conjunction: bool = True

    def __post_init__(self) -> None:
        _int(self, "k", 1, 16, note=" words")
        passage_k = _int(self, "passage_k", 1, 16, note=" words")
        least = _int(self, "min_passage_words", passage_k, note=" (at least passage_k)")
        _int(self, "max_passage_words", least, note=" (at least min_passage_words)")
        _flag(self, "strip_arabic_conjunction")


# datasketch's answers for the default signature configs (``MinHashConfig``, ``PassageConfig``):
# asking its optimizer loads datasketch and scipy's integrators, which a process that keeps the
# defaults never needs otherwise (a test checks the answers against the optimizer).
_DEFAULT_LSH_PARAMS = {(0.4, 128): (32, 4), (0.5, 128): (25, 5), (0.5, 16): (5, 3)}


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands and rows for a Jaccard threshold, from datasketch's own optimizer."""
    known = _DEFAULT_LSH_PARAMS.get((threshold, num_perm))
    if known is not None:
        return known
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return int(lsh.b), int(lsh.r)


def _set_bands(config: MinHashConfig | PassageConfig) -> None:
    """Validate a signature config and derive its LSH bands and rows."""
    num_perm = _int(config, "num_perm", 2, 1024)
    _int(config, "seed", 0, SEED_MAX)
    threshold = _share(config, "threshold", one=False)
    try:
        bands, rows = lsh_params(threshold, num_perm)
    except ValueError:  # datasketch's optimizer finds no split into 2 bands or more
        bands, rows = 0, 0
    if bands < 2:
        raise ConfigError(
            f"{type(config).__name__}: threshold={threshold} with num_perm={num_perm} gives fewer than 2 LSH "
            "bands; lower the threshold or raise num_perm"
        )
    _set(config, "bands", bands)
    _set(config, "rows", rows)


@dataclass(frozen=True, slots=True)
class MinHashConfig:
    """Document MinHash and its LSH index.

    ``threshold`` is the Jaccard similarity the LSH index is tuned for: it only proposes candidates,
    verification decides. ``bands`` and ``rows`` are derived from it. The default sits below the
    Jaccard of the copies the verifier accepts: under half of the smaller article contained in the
    other (``VerifyConfig.min_containment``) is a Jaccard of about a third between two articles of the
    same length (a trimmed copy that adds as much as it cuts), which an index tuned for 0.5 seldom
    proposes.
    """

    num_perm: int = 128
    seed: int = 1
    threshold: float = 0.4
    bands: int = field(init=False, default=0)
    rows: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        _set_bands(self)


@dataclass(frozen=True, slots=True)
class PassageConfig:
    """Passage (sentence) MinHash and its LSH index, which finds articles sharing sentences even when
    the whole-article overlap is low. A short signature suffices: shared passages are near-verbatim,
    and an article is proposed when ``min_hits`` of its passages collide, or one when either
    article of the pair has at most ``few_passages`` evidence passages (see
    ``index.passages_needed``). One is the default: an outlet that re-spells a story keeps few of
    its sentences word for word, and of two that it keeps the LSH of 16 permutations may catch one
    only; the verifier decides on the whole texts. ``max_candidates`` bounds the articles one
    query proposes."""

    num_perm: int = 16
    seed: int = 7
    threshold: float = 0.5
    min_hits: int = 1
    few_passages: int = 4
    max_candidates: int = 200
    bands: int = field(init=False, default=0)
    rows: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        _set_bands(self)
        _int(self, "min_hits", 1)
        _int(self, "few_passages", 0)
        _int(self, "max_candidates", 1)


@dataclass(frozen=True, slots=True)
class VerifyConfig:
    """The rule that turns exact similarities into a decision (see ``dedup.stages.verify``).

    - ``near_identical_jaccard``: Jaccard of document shingles at or above which two articles are
      near-identical copies.
    - ``min_containment``: share of the smaller article's shingles found in the other at or above
      which it is a partial copy (a trimmed copy, or a copy inside a longer page).
    - ``passage_overlap``: share of a passage's shingles that must recur in a passage of the other
      article for the two passages to count as shared.
    - ``min_shared_passages`` and ``min_passage_coverage``: a rewritten copy shares at least this many
      passages, covering at least this share of the words of the smaller article (or fewer passages
      covering ``min_containment`` of them: a short statement re-spelled).
    - ``min_shared_shingles``: below this many shared shingles nothing is a copy (tiny texts).
    - ``aside_share`` and ``aside_after``: a pair whose shared text is at most ``aside_share`` of the
      larger article and begins at or past ``aside_after`` of its words (its earliest shared
      passage) is no copy (the smaller is an aside of the larger: a side item near the end of a
      roundup); ``aside_share=0`` turns it off.
    - ``quoted_speech``, ``quoted_outside_share`` and ``quoted_max_share``: a pair that shares
      mostly quoted speech (as many shared shingles in words quoted in both as outside them, and
      those outside fewer than ``min_shared_shingles`` or than ``quoted_outside_share`` of the
      smaller article's shingles outside quotation marks), while the smaller article has
      ``min_shared_shingles`` of its own outside quotation marks and the quotation is less than
      ``quoted_max_share`` of its shingles, is no copy: two reports, written apart, that quote the
      same statement, tweet or speech (a statement printed whole, most of both articles, is a copy
      of it). ``quoted_speech=False`` turns it off.
    - ``ties_by_text``: of two articles with as many shingles, the one taken for the smaller (which
      the rules read) is the one with fewer words, then the one whose first shingle the other
      lacks is the lower, so that no decision depends on the ids; ``False`` takes the lower id, as
      indexes written before this setting did.
    """

    near_identical_jaccard: float = 0.8
    min_containment: float = 0.45
    passage_overlap: float = 0.5
    min_shared_passages: int = 2
    min_passage_coverage: float = 0.25
    min_shared_shingles: int = 8
    aside_share: float = 0.2
    aside_after: float = 0.5
    quoted_speech: bool = True
    quoted_outside_share: float = 0.2
    quoted_max_share: float = 0.5
    ties_by_text: bool = True

    def __post_init__(self) -> None:
        for name in ("near_identical_jaccard", "min_containment", "passage_overlap", "min_passage_coverage"):
            _share(self, name)
        _int(self, "min_shared_passages", 1)
        _int(self, "min_shared_shingles", 1)
        _share(self, "aside_share", zero=True)
        _share(self, "aside_after")
        _flag(self, "quoted_speech")
        _share(self, "quoted_outside_share", zero=True)
        _share(self, "quoted_max_share")
        _flag(self, "ties_by_text")


@dataclass(frozen=True, slots=True)
class BoilerplateConfig:
    """Furniture learned from frequency: a sentence that recurs on at least ``min_df`` articles whose
    other sentences are mostly their own (share ``min_unique_fraction`` or more, median over a sample
    of ``sample`` articles; a sentence is not an article's own when another sampled article carries
    a version of it, edited or not) is a site's footer or widget, not a copied story, and is
    ignored as evidence."""

    enabled: bool = True
    min_df: int = 3
    min_unique_fraction: float = 0.7
    sample: int = 8

    def __post_init__(self) -> None:
        _flag(self, "enabled")
        _int(self, "min_df", 2)
        _share(self, "min_unique_fraction")
        _int(self, "sample", 2)


@dataclass(frozen=True, slots=True)
class FormulaConfig:
    """Templated stories told apart from copies (see ``dedup.stages.formula``): a shingle that one
    source carries in at least ``min_per_source`` of its articles is formula, and so is one it
    carries in two or more when the sources that carry it twice or more carry it in at least
    ``min_repeated`` articles in all (0: that part off); a copy (not near-identical) whose
    containment falls under ``min_containment`` once the formula shingles are left out is not a
    copy. The counts live in count-min sketches of ``sketch_rows`` rows of ``2**sketch_width_bits``
    8-bit counters, and as many rows of an eighth of that width (``1.125 * sketch_rows *
    2**sketch_width_bits`` bytes in all); while they hold more than ``max_load`` (source, shingle)
    observations per counter of a row, too many counts read high to be trusted and the test
    abstains (a warning names the width that would hold them). ``enabled=False`` turns the rule
    off."""

    enabled: bool = True
    min_per_source: int = 4
    min_repeated: int = 8
    min_containment: float = 0.3
    sketch_rows: int = 4
    sketch_width_bits: int = 23
    max_load: float = 2.0

    def __post_init__(self) -> None:
        _flag(self, "enabled")
        counted = " (the counters stop at 255)"
        _int(self, "min_per_source", 2, 255, note=counted)
        _int(self, "min_repeated", 0, 255, note=counted)
        _share(self, "min_containment")
        _int(self, "sketch_rows", 1, 8)
        _int(self, "sketch_width_bits", 4, 30)
        _real(self, "max_load", 0.0, 1e6, open_low=True, open_high=False)


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Grouping of verified copies, guarded against chaining.

    Two groups merge only when at least ``min_link_fraction`` of the pairs between them are verified
    copies (average linkage on the verified-copy graph). ``complete_up_to``: components up to this
    size get every missing pair verified before linkage; larger ones up to ``max_exact_size`` are
    linked on their verified pairs only. Larger components still (a story copied by hundreds of
    outlets) are grouped in the order the articles were indexed: each article joins the group it is
    a verified copy of at least ``min_link_fraction`` of the first ``representatives`` members of
    (see ``grouping.in_order``), which costs the same for every article however large its story.
    An article is compared with at most ``max_compared`` of the articles the index proposes for it,
    the ones indexed first, those proposed by their whole text before those proposed by a few
    passages, and with the first one of the same text when none of those is (see
    ``grouping.compared``). As many as a group has ``representatives`` by default: the first
    members of a story are its groups' representatives, so the copies compared are the ones a
    group is chosen by.

    A digest (a roundup carrying several stories, see ``grouping.digests``) is grouped with one of
    its stories at most: a story of it is a copy with at least ``digest_part`` of its text inside
    the digest, while at most ``digest_share`` of the digest is inside it. Two digests with at
    least ``digest_same`` of each inside the other are the same digest printed twice.
    """

    min_link_fraction: float = 0.5
    max_exact_size: int = 64
    complete_up_to: int = 64
    representatives: int = 8
    max_compared: int = 8
    digest_part: float = 0.6
    digest_share: float = 0.5
    digest_same: float = 0.8

    def __post_init__(self) -> None:
        _share(self, "min_link_fraction")
        _share(self, "digest_part")
        _share(self, "digest_share", zero=True)
        _share(self, "digest_same")
        _int(self, "max_exact_size", 2)
        _int(self, "complete_up_to", 0)
        _int(self, "representatives", 1)
        _int(self, "max_compared", 1)


# Wire agencies and the names outlets credit them with. Extend with
# ``ProvenanceConfig(extra_agencies=(("Kyodo", ("Kyodo", "كيودو")),))``.
DEFAULT_AGENCIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Reuters", ("Reuters", "رويترز")),
    ("AP", ("Associated Press", "AP", "أسوشيتد برس", "اسوشيتد برس", "أسوشيتدبرس")),
    ("AFP", ("AFP", "Agence France-Presse", "ا ف ب", "أ ف ب", "أ.ف.ب", "فرانس برس", "فرانس پرس")),
    ("SANA", ("SANA", "سانا")),
    ("RT", ("RT", "Russia Today", "روسيا اليوم")),
    ("dpa", ("dpa", "د ب أ", "د.ب.أ")),
    ("Anadolu", ("Anadolu", "الأناضول", "الاناضول")),
    ("MENA", ("MENA", "أ ش أ", "أ.ش.أ")),
    ("WAM", ("WAM", "وام")),
    ("SPA", ("SPA", "واس")),
    ("QNA", ("QNA", "قنا")),
    ("KUNA", ("KUNA", "كونا")),
    ("Xinhua", ("Xinhua", "شينخوا")),
    ("TASS", ("TASS", "تاس")),
    ("Bloomberg", ("Bloomberg", "بلومبرغ")),
    ("UPI", ("UPI",)),
)


@dataclass(frozen=True, slots=True)
class ProvenanceConfig:
    """How the earliest source of a cluster is chosen (see ``dedup.stages.provenance``).

    ``head_chars``: only dates within this many characters of the top of the text (or in the title)
    count as its publication date. ``containment_margin``: how much more of A must be inside B than
    of B inside A for A to count as B's source. ``agencies``: (name, spellings) of wire agencies.
    """

    head_chars: int = 400
    containment_margin: float = 0.05
    min_containment: float = 0.25
    agencies: tuple[tuple[str, tuple[str, ...]], ...] = DEFAULT_AGENCIES
    extra_agencies: tuple[tuple[str, tuple[str, ...]], ...] = ()
    find_dates_in_text: bool = True

    def __post_init__(self) -> None:
        _int(self, "head_chars", 0)
        _share(self, "containment_margin", zero=True, one=False)
        _share(self, "min_containment", zero=True)
        _agencies(self, "agencies")
        _agencies(self, "extra_agencies")
        _flag(self, "find_dates_in_text")


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """The whole configuration. ``max_chars`` bounds one article's text (a crawler sometimes hands
    over a 10 MB page of markup); longer texts are refused with ``ArticleTooLargeError``."""

    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    shingle: ShingleConfig = field(default_factory=ShingleConfig)
    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    passage: PassageConfig = field(default_factory=PassageConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    boilerplate: BoilerplateConfig = field(default_factory=BoilerplateConfig)
    formula: FormulaConfig = field(default_factory=FormulaConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    provenance: ProvenanceConfig = field(default_factory=ProvenanceConfig)
    max_chars: int = 1_000_000

    def __post_init__(self) -> None:
        for name, kind in PARTS.items():
            if not isinstance(getattr(self, name), kind):
                _fail(self, name, f"a {kind.__name__}", f"pass {name}={kind.__name__}(...)", wrong_type=True)
        _int(self, "max_chars", 1)


@dataclass(frozen=True, slots=True)
class Window:
    """How much of its history a stream keeps in memory (``Deduplicator(window=...)``,
    ``dedup stream --window-days``): the articles of the last ``days`` and at most the last
    ``articles`` added (None: no bound of that kind; at least one is given).

    ``days`` counts back from the stream's clock, the newest ``published_at`` it has seen (a time
    more than 30 days, or ``days`` when longer, ahead of the clock counts as a day past it, and the
    first one more than a day ahead of the machine's clock as that, so one misdated article cannot
    empty the window); an
    article without a time is as old as the clock was when it was added (older than every dated
    article when none had come yet). Removing an article does not move the clock back. ``articles`` keeps the last
    ones added. An article that leaves the window is no longer a candidate nor a member of a
    cluster; its sentences and shingles stop counting as boilerplate or formula within the next
    few additions (those of many articles that leave at once are taken out a few at a time, so
    that no one addition waits for all of them). An index file keeps it (``Deduplicator.get``,
    ``dedup index``), and reopening the file reads only the articles in the window."""

    days: float | None = None
    articles: int | None = None

    def __post_init__(self) -> None:
        if self.days is None and self.articles is None:
            raise ConfigError(
                "Window needs days=... or articles=... (or both), e.g. Window(days=7); for no window pass window=None"
            )
        if self.days is not None:
            _real(self, "days", 0.0, 36_500.0, open_low=True, open_high=False)
        if self.articles is not None:
            _int(self, "articles", 1)


# The parts of a DedupConfig, by field name.
PARTS: dict[str, type] = {
    "normalize": NormalizeConfig,
    "shingle": ShingleConfig,
    "minhash": MinHashConfig,
    "passage": PassageConfig,
    "verify": VerifyConfig,
    "boilerplate": BoilerplateConfig,
    "formula": FormulaConfig,
    "cluster": ClusterConfig,
    "provenance": ProvenanceConfig,
}


# -- the options of a batch (dedup.cluster, Deduplicator.add_many) -----------------------------
# What a batch does with an unusable article: raise its error, or record a Skip and go on.
OnError = Literal["raise", "skip"]
# Called as a batch goes: (articles done, the total of the current pass or None while reading).
Progress = Callable[[int, int | None], None]


def check_batch_options(errors: str, workers: int) -> None:
    """The options every batch takes: what to do with unusable articles, how many processes."""
    if errors not in ("raise", "skip"):
        raise InputError(f"errors must be 'raise' or 'skip', got {errors!r}")
    try:
        whole = None if isinstance(workers, bool) else operator.index(workers)  # (numpy's integers too)
    except TypeError:
        whole = None
    if whole is None or whole < 1:
        raise InputError(f"workers must be a number of processes, 1 or more; got {workers!r}")


def check_many(items: object, what: str, example: str) -> None:
    """Refuse ``items`` that are no collection of several (None, a number, one text where a list
    of them is wanted), saying what is wanted (``what``) and how to call it (``example``)."""
    if isinstance(items, str | bytes):
        raise InputError(f"{what}, got one {type(items).__name__}; e.g. {example}")
    try:
        iter(items)  # type: ignore[call-overload]  # (what the caller gives is not typed)
    except TypeError:
        raise InputError(f"{what}, got {type(items).__name__}; e.g. {example}") from None
