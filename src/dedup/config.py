"""Configuration: a small tree of frozen dataclasses, validated when built.

Every value has a default that suits news text in Arabic and Latin scripts; derived values (LSH bands
and rows) are computed from the thresholds in ``__post_init__`` so that a config, once built, is
consistent. Bad values raise :class:`~dedup.errors.ConfigError` with a message that says what to use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from dedup.errors import ConfigError

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
        if self.min_line_words < 0:
            raise ConfigError(f"min_line_words must be >= 0, got {self.min_line_words}")
        import re

        for pattern in (*self.furniture_patterns, *self.extra_furniture_patterns):
            try:
                # compiled as it is used: one alternative among the others, matched at a line start
                re.compile(f"^(?:{pattern})", re.M)
            except re.error as exc:
                raise ConfigError(
                    f"furniture pattern {pattern!r} is not a valid regular expression: {exc} (patterns are "
                    "joined into one expression, so flags go in a scoped group, as in '(?i:...)')"
                ) from exc


@dataclass(frozen=True, slots=True)
class ShingleConfig:
    """Word k-gram shingles.

    ``k``: words per document shingle (MinHash and exact Jaccard/containment).
    ``passage_k``: words per shingle inside a passage (sentence-level matching).
    ``min_passage_words``: shorter sentences are not passages (too little evidence).
    ``max_passage_words``: longer sentences are cut into passages of at most this many words.
    ``strip_arabic_conjunction``: read a leading و on Arabic words of 4+ letters as the conjunction
    "and" and drop it, since outlets add and remove it freely when they rewrite.
    """

    k: int = 3
    passage_k: int = 3
    min_passage_words: int = 6
    max_passage_words: int = 60
    strip_arabic_conjunction: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.k <= 16:
            raise ConfigError(f"shingle k must be between 1 and 16 words, got {self.k}")
        if not 1 <= self.passage_k <= 16:
            raise ConfigError(f"passage_k must be between 1 and 16 words, got {self.passage_k}")
        if self.min_passage_words < self.passage_k:
            raise ConfigError(f"min_passage_words ({self.min_passage_words}) must be >= passage_k ({self.passage_k})")
        if self.max_passage_words < self.min_passage_words:
            raise ConfigError(
                f"max_passage_words ({self.max_passage_words}) must be >= min_passage_words ({self.min_passage_words})"
            )


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands and rows for a Jaccard threshold, from datasketch's own optimizer."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return int(lsh.b), int(lsh.r)


def _check_lsh(threshold: float, num_perm: int, what: str) -> tuple[int, int]:
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"{what} threshold must be strictly between 0 and 1, got {threshold}")
    if not 2 <= num_perm <= 1024:
        raise ConfigError(f"{what} num_perm must be between 2 and 1024, got {num_perm}")
    bands, rows = lsh_params(threshold, num_perm)
    if bands < 2:
        raise ConfigError(
            f"{what}: threshold {threshold} with num_perm {num_perm} gives fewer than 2 LSH bands; "
            "lower the threshold or raise num_perm"
        )
    return bands, rows


def _set_bands(config: MinHashConfig | PassageConfig) -> None:
    """Validate a signature config and derive its LSH bands and rows."""
    bands, rows = _check_lsh(config.threshold, config.num_perm, type(config).__name__)
    object.__setattr__(config, "bands", bands)
    object.__setattr__(config, "rows", rows)


@dataclass(frozen=True, slots=True)
class MinHashConfig:
    """Document MinHash and its LSH index.

    ``threshold`` is the Jaccard similarity the LSH index is tuned for: it only proposes candidates,
    verification decides. ``bands`` and ``rows`` are derived from it.
    """

    num_perm: int = 128
    seed: int = 1
    threshold: float = 0.5
    bands: int = field(init=False, default=0)
    rows: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        _set_bands(self)


@dataclass(frozen=True, slots=True)
class PassageConfig:
    """Passage (sentence) MinHash and its LSH index, which finds articles sharing sentences even when
    the whole-article overlap is low. A short signature suffices: shared passages are near-verbatim,
    and an article is only proposed when ``min_hits`` of its passages collide (the decision needs two
    shared passages anyway). ``max_candidates`` bounds the articles one query proposes."""

    num_perm: int = 16
    seed: int = 7
    threshold: float = 0.5
    min_hits: int = 2
    max_candidates: int = 200
    bands: int = field(init=False, default=0)
    rows: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        _set_bands(self)
        if self.max_candidates < 1:
            raise ConfigError(f"max_candidates must be >= 1, got {self.max_candidates}")
        if self.min_hits < 1:
            raise ConfigError(f"min_hits must be >= 1, got {self.min_hits}")


@dataclass(frozen=True, slots=True)
class VerifyConfig:
    """The rule that turns exact similarities into a decision (see ``dedup.verify``).

    - ``near_identical_jaccard``: Jaccard of document shingles at or above which two articles are
      near-identical copies.
    - ``min_containment``: share of the smaller article's shingles found in the other at or above
      which it is a partial copy (a trimmed copy, or a copy inside a longer page).
    - ``passage_overlap``: share of a passage's shingles that must recur in a passage of the other
      article for the two passages to count as shared.
    - ``min_shared_passages`` and ``min_passage_coverage``: a rewritten copy shares at least this many
      passages, covering at least this share of the words of the smaller article.
    - ``min_shared_shingles``: below this many shared shingles nothing is a copy (tiny texts).
    """

    near_identical_jaccard: float = 0.8
    min_containment: float = 0.5
    passage_overlap: float = 0.5
    min_shared_passages: int = 2
    min_passage_coverage: float = 0.25
    min_shared_shingles: int = 8

    def __post_init__(self) -> None:
        for name in ("near_identical_jaccard", "min_containment", "passage_overlap", "min_passage_coverage"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"VerifyConfig.{name} must be in (0, 1], got {value}")
        if self.min_shared_passages < 1:
            raise ConfigError(f"min_shared_passages must be >= 1, got {self.min_shared_passages}")
        if self.min_shared_shingles < 1:
            raise ConfigError(f"min_shared_shingles must be >= 1, got {self.min_shared_shingles}")


@dataclass(frozen=True, slots=True)
class BoilerplateConfig:
    """Furniture learned from frequency: a sentence that recurs on at least ``min_df`` articles whose
    other sentences are mostly their own (share ``min_unique_fraction`` or more, median over a sample
    of ``sample`` articles) is a site's footer or widget, not a copied story, and is ignored as
    evidence."""

    enabled: bool = True
    min_df: int = 3
    min_unique_fraction: float = 0.6
    sample: int = 8

    def __post_init__(self) -> None:
        if self.min_df < 2:
            raise ConfigError(f"BoilerplateConfig.min_df must be >= 2, got {self.min_df}")
        if not 0.0 < self.min_unique_fraction <= 1.0:
            raise ConfigError(f"min_unique_fraction must be in (0, 1], got {self.min_unique_fraction}")
        if self.sample < 2:
            raise ConfigError(f"BoilerplateConfig.sample must be >= 2, got {self.sample}")


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Grouping of verified copies, guarded against chaining.

    Two groups merge only when at least ``min_link_fraction`` of the pairs between them are verified
    copies (average linkage on the verified-copy graph). Components larger than ``max_exact_size``
    fall back to plain connected components (reported in the cluster's ``why``).
    ``complete_up_to``: components up to this size get every missing pair verified before linkage.
    """

    min_link_fraction: float = 0.5
    max_exact_size: int = 2000
    complete_up_to: int = 64

    def __post_init__(self) -> None:
        if not 0.0 < self.min_link_fraction <= 1.0:
            raise ConfigError(f"min_link_fraction must be in (0, 1], got {self.min_link_fraction}")
        if self.max_exact_size < 2:
            raise ConfigError(f"max_exact_size must be >= 2, got {self.max_exact_size}")
        if self.complete_up_to < 0:
            raise ConfigError(f"complete_up_to must be >= 0, got {self.complete_up_to}")


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
    """How the earliest source of a cluster is chosen (see ``dedup.provenance``).

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
        if self.head_chars < 0:
            raise ConfigError(f"head_chars must be >= 0, got {self.head_chars}")
        if not 0.0 <= self.containment_margin < 1.0:
            raise ConfigError(f"containment_margin must be in [0, 1), got {self.containment_margin}")
        if not 0.0 <= self.min_containment <= 1.0:
            raise ConfigError(f"min_containment must be in [0, 1], got {self.min_containment}")
        for entry in (*self.agencies, *self.extra_agencies):
            if (
                not isinstance(entry, tuple)
                or len(entry) != 2
                or not isinstance(entry[0], str)
                or not all(isinstance(s, str) and s for s in entry[1])
            ):
                raise ConfigError(
                    f"an agency must be (name, (spelling, ...)), e.g. ('Kyodo', ('Kyodo', 'كيودو')); got {entry!r}"
                )


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
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    provenance: ProvenanceConfig = field(default_factory=ProvenanceConfig)
    max_chars: int = 1_000_000

    def __post_init__(self) -> None:
        parts = {
            "normalize": NormalizeConfig,
            "shingle": ShingleConfig,
            "minhash": MinHashConfig,
            "passage": PassageConfig,
            "verify": VerifyConfig,
            "boilerplate": BoilerplateConfig,
            "cluster": ClusterConfig,
            "provenance": ProvenanceConfig,
        }
        for name, kind in parts.items():
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(f"DedupConfig.{name} must be a {kind.__name__}, got {getattr(self, name)!r}")
        if self.max_chars < 1:
            raise ConfigError(f"max_chars must be >= 1, got {self.max_chars}")
