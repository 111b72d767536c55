"""The records dedup takes and gives: frozen dataclasses with slots.

``Article`` is validated when built (types, empty ids, undecodable bytes); its text is checked
against the configured limits when it is added. ``Match``, ``Cluster`` and ``Verdict`` carry the
evidence for every answer and turn into plain dicts for JSON with ``to_dict()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from dedup.errors import InputError, TextTypeError


class Relation(StrEnum):
    """How one article relates to another (for a member: to its cluster's earliest article)."""

    EARLIEST = "earliest"  # the member is the earliest source itself
    SAME_TEXT = "same_text"  # the same words, furniture aside
    NEAR_IDENTICAL = "near_identical"  # Jaccard at or above the near-identical threshold
    PARTIAL = "partial"  # a trimmed copy: most of it is found in the other
    EXTENDED = "extended"  # contains the other and adds text of its own
    REWRITTEN = "rewritten"  # shares passages, re-spelled or rearranged, with text dropped and added
    NONE = "none"  # not a copy


# An id is repeated in every verdict, match and cluster it appears in and is the key of the
# persistent index, and ``DedupConfig.max_chars`` bounds the text only: without a bound a crawler
# bug that puts a page in the id would bypass that limit. URLs used as ids fit (the sitemap
# protocol bounds URLs at 2,048 characters).
MAX_ID_CHARS = 4096

_STRING_FIELDS = ("id", "text", "source", "url", "title")


def _first_surrogate(value: str) -> int:
    """Where the first surrogate code point of ``value`` is, or -1. JSON ``\\ud800`` escapes and
    ``surrogateescape`` decoding leave them in a str; they cannot be written as UTF-8."""
    if value.isascii():
        return -1
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return -1


def _shown(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to about ``limit`` characters (messages quote what they reject), with
    the length of the value itself when it is a string, else of its ``repr``."""
    text = repr(value)
    size = len(value) if isinstance(value, str) else len(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({size:,} characters)"


def _to_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC time; a naive time is read as UTC. Raises ``OverflowError`` when
    the UTC time falls outside years 1 to 9999."""
    if moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Article:
    """One article. ``text`` may be given as UTF-8 bytes; ``published_at`` as a datetime or an ISO
    8601 string (a time without a zone is read as UTC, and the evidence says so).

    Rejected with an ``InputError`` when built: an id that is empty or longer than
    ``MAX_ID_CHARS``, fields of the wrong type, text bytes that are not UTF-8, strings holding lone
    surrogates (they cannot be stored or written as UTF-8), and a ``published_at`` outside the
    years 1 to 9999 once converted to UTC. NUL and other control characters are kept: the indexes
    and the JSON output carry them unchanged.
    """

    id: str
    text: str
    published_at: datetime | None = None
    source: str | None = None
    url: str | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise InputError(f"Article id must be a non-empty string, got {_shown(self.id)}")
        if len(self.id) > MAX_ID_CHARS:
            raise InputError(
                f"Article id {_shown(self.id)} is longer than {MAX_ID_CHARS:,} characters; use a short key "
                "(e.g. a hash of the URL) as the id and give the URL as url"
            )
        if isinstance(self.text, bytes | bytearray):
            try:
                object.__setattr__(self, "text", bytes(self.text).decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise TextTypeError(
                    f"article {self.id!r}: text is not valid UTF-8 ({exc.reason} at byte {exc.start}); "
                    "decode it with the page's charset before adding it"
                ) from exc
        elif not isinstance(self.text, str):
            raise TextTypeError(
                f"article {self.id!r}: text must be a str (or UTF-8 bytes), got {type(self.text).__name__}"
            )
        for name in ("source", "url", "title"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InputError(f"article {self.id!r}: {name} must be a string, got {type(value).__name__}")
        for name in _STRING_FIELDS:
            value = getattr(self, name)
            at = -1 if value is None else _first_surrogate(value)
            if at >= 0:
                raise InputError(
                    f"article {self.id!r}: {name} holds a lone surrogate (U+{ord(value[at]):04X} at character "
                    f"{at}); decode the page with its charset (lone surrogates cannot be stored or written "
                    "as UTF-8), or drop them with .encode('utf-8', 'replace').decode()"
                )
        self._check_published()

    def _check_published(self) -> None:
        if isinstance(self.published_at, str):
            try:
                object.__setattr__(self, "published_at", datetime.fromisoformat(self.published_at))
            except ValueError as exc:
                raise InputError(
                    f"article {self.id!r}: published_at {_shown(self.published_at)} is not an ISO 8601 time "
                    "(e.g. 2017-01-29T10:00:00+00:00)"
                ) from exc
        elif self.published_at is not None and not isinstance(self.published_at, datetime):
            raise InputError(
                f"article {self.id!r}: published_at must be a datetime or an ISO 8601 string, "
                f"got {type(self.published_at).__name__}"
            )
        if self.published_at is not None:
            try:
                _to_utc(self.published_at)
            except (OverflowError, ValueError, TypeError) as exc:
                raise InputError(
                    f"article {self.id!r}: published_at {self.published_at.isoformat()} cannot be converted "
                    f"to UTC ({exc}); give a time between 0001-01-01 and 9999-12-31 in UTC"
                ) from exc

    def without_text(self) -> Article:
        """The article with an empty text (what a batch keeps of it between its passes), built
        without checking its fields again: they were checked when this one was built."""
        out = object.__new__(Article)
        for name in ("id", "published_at", "source", "url", "title"):
            object.__setattr__(out, name, getattr(self, name))
        object.__setattr__(out, "text", "")
        return out

    @property
    def published_utc(self) -> datetime | None:
        """``published_at`` as an aware UTC time (a naive time is read as UTC)."""
        return None if self.published_at is None else _to_utc(self.published_at)


@dataclass(frozen=True, slots=True)
class SharedPassage:
    """A passage of ``a`` found again in ``b``: sentence indexes, the share of shingles in common,
    and where the passage lies in both articles.

    ``text`` is the sentence of ``a`` in comparison form (folded words; filled by
    ``Deduplicator.compare``, empty in verdicts, since the index keeps no sentence text).
    ``a_words`` and ``b_words`` are the passages' [start, end) ranges of comparison words (the
    words the verifier hashed, furniture lines left out), always filled. ``a_start``/``a_end``
    (and ``b_start``/``b_end``) are [start, end) character offsets into the article's text as given,
    and ``a_text``/``b_text`` the original words there (``text[a_start:a_end]``): None until
    asked for (``Deduplicator.compare``, ``Deduplicator.add(..., spans=True)``, ``dedup.stages.explain``),
    since they need the two texts analyzed again."""

    a_sentence: int
    b_sentence: int
    overlap: float
    text: str
    a_words: tuple[int, int] = (0, 0)
    b_words: tuple[int, int] = (0, 0)
    a_start: int | None = None
    a_end: int | None = None
    b_start: int | None = None
    b_end: int | None = None
    a_text: str | None = None
    b_text: str | None = None

    @classmethod
    def many(
        cls,
        a_sentences: list[int],
        b_sentences: list[int],
        overlaps: list[float],
        text: Callable[[int], str],
        a_words: list[tuple[int, int]] | None = None,
        b_words: list[tuple[int, int]] | None = None,
    ) -> list[SharedPassage]:
        """One record per passage, ``text(a_sentence)`` its text, ``a_words``/``b_words`` its word
        ranges."""
        none = [(0, 0)] * len(a_sentences)
        return [
            cls(sa, sb, ov, text(sa), aw, bw)
            for sa, sb, ov, aw, bw in zip(
                a_sentences, b_sentences, overlaps, a_words or none, b_words or none, strict=True
            )
        ]

    @property
    def has_spans(self) -> bool:
        """Whether the character offsets and original words are filled."""
        return self.a_start is not None

    def to_dict(self) -> dict[str, Any]:
        """For JSON output: the offsets and original words only when they are filled."""
        out: dict[str, Any] = {
            "a_sentence": self.a_sentence,
            "b_sentence": self.b_sentence,
            "overlap": round(self.overlap, 4),
            "text": self.text,
        }
        if self.a_start is not None:
            for name in _SPAN_FIELDS:
                out[name] = getattr(self, name)
        return out


_SPAN_FIELDS = ("a_start", "a_end", "b_start", "b_end", "a_text", "b_text")


_FIGURES = ("score", "jaccard", "containment_a", "containment_b", "passage_coverage_a", "passage_coverage_b")


@dataclass(frozen=True, slots=True)
class Match:
    """The exact comparison of two articles and the decision taken on it.

    ``containment_a`` is the share of ``a``'s shingles found in ``b`` (and the reverse);
    ``passage_coverage_a`` the share of ``a``'s words that lie in passages shared with ``b``.
    ``relation`` says how ``a`` relates to ``b``; ``rule`` names the part of the decision rule that
    fired; ``score`` (0..1) is the strongest of the figures, used to rank matches.
    """

    a: str
    b: str
    is_copy: bool
    relation: Relation
    rule: str
    score: float
    jaccard: float
    containment_a: float
    containment_b: float
    passage_coverage_a: float
    passage_coverage_b: float
    shared_passages: tuple[SharedPassage, ...] = ()
    ignored_boilerplate: int = 0

    def other(self, article_id: str) -> str:
        return self.b if article_id == self.a else self.a

    def without_passages(self) -> Match:
        """The same match with the shared passages left out, for callers that keep the figures of
        many matches (built positionally: ``dataclasses.replace`` inspects the fields on every call)."""
        return Match(
            self.a, self.b, self.is_copy, self.relation, self.rule, self.score, self.jaccard,
            self.containment_a, self.containment_b, self.passage_coverage_a, self.passage_coverage_b, (),
            self.ignored_boilerplate,
        )  # fmt: skip

    def to_record(self) -> dict[str, Any]:
        """Every field, unrounded (for storage); ``from_record`` reads it back."""
        return {
            "a": self.a,
            "b": self.b,
            "is_copy": self.is_copy,
            "relation": str(self.relation),
            "rule": self.rule,
            "score": self.score,
            "jaccard": self.jaccard,
            "containment_a": self.containment_a,
            "containment_b": self.containment_b,
            "passage_coverage_a": self.passage_coverage_a,
            "passage_coverage_b": self.passage_coverage_b,
            "shared_passages": [[p.a_sentence, p.b_sentence, p.overlap, p.text] for p in self.shared_passages],
            "ignored_boilerplate": self.ignored_boilerplate,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Match:
        fields = dict(record)
        fields["relation"] = Relation(fields["relation"])
        fields["shared_passages"] = tuple(SharedPassage(*p) for p in fields["shared_passages"])
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        """For JSON output: the figures rounded to four places, the passages as objects."""
        out = self.to_record()
        for name in _FIGURES:
            out[name] = round(out[name], 4)
        out["shared_passages"] = [p.to_dict() for p in self.shared_passages]
        return out


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a cluster's earliest article was chosen: the rule that decided and its values."""

    rule: str
    detail: str
    values: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "detail": self.detail, "values": self.values}


@dataclass(frozen=True, slots=True)
class MemberSpan:
    """A passage a member shares with its cluster's earliest article, as written in both:
    ``text`` is ``member_text[start:end]`` and ``earliest_text`` is
    ``earliest_article_text[earliest_start:earliest_end]`` ([start, end) character offsets into the
    texts as given); ``overlap`` is the share of the passage's shingles found in the other."""

    start: int
    end: int
    earliest_start: int
    earliest_end: int
    overlap: float
    text: str
    earliest_text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "earliest_start": self.earliest_start,
            "earliest_end": self.earliest_end,
            "overlap": round(self.overlap, 4),
            "text": self.text,
            "earliest_text": self.earliest_text,
        }


@dataclass(frozen=True, slots=True)
class Member:
    """One article of a cluster and how it relates to the cluster's earliest article.

    ``containment_in_earliest``: share of this member's shingles found in the earliest;
    ``earliest_in_member``: share of the earliest's shingles found in this member.
    ``matched``: the member it was verified against most strongly (None for a singleton).
    ``source``, ``url`` and ``title`` are the article's, when it was given them (None otherwise).
    ``shared``: the passages of this member found again in the earliest, sorted by ``start``
    (:class:`MemberSpan`, character offsets into both texts and their words); None unless asked
    for (``dedup.cluster(..., spans=True)``, ``dedup cluster --spans``), and then filled for each
    member of a cluster with copies other than the earliest (empty when no passage is shared).
    """

    id: str
    relation: Relation
    matched: str | None = None
    score: float = 0.0
    containment_in_earliest: float | None = None
    earliest_in_member: float | None = None
    time: str | None = None
    source: str | None = None
    url: str | None = None
    title: str | None = None
    shared: tuple[MemberSpan, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """For JSON output: ``source``, ``url`` and ``title`` only when the article had them,
        ``shared`` (a list of ``MemberSpan.to_dict``) only when filled."""
        out: dict[str, Any] = {"id": self.id, "relation": str(self.relation), "matched": self.matched}
        out["score"] = round(self.score, 4)
        if self.containment_in_earliest is not None:
            out["containment_in_earliest"] = round(self.containment_in_earliest, 4)
        if self.earliest_in_member is not None:
            out["earliest_in_member"] = round(self.earliest_in_member, 4)
        out["time"] = self.time
        for name in ("source", "url", "title"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.shared is not None:
            out["shared"] = [span.to_dict() for span in self.shared]
        return out


@dataclass(frozen=True, slots=True)
class Cluster:
    """A group of copies of one story (or a single article). ``id`` is ``c-`` and a hash of the id
    of the member indexed first (in a batch, the smallest member id): copies that join later keep
    it; it changes only when the cluster merges with one whose first member was indexed earlier
    (it takes that one's id), when the chaining guard splits it (the part without that member takes
    the id of its own first member) or when that member is removed. ``earliest`` names the earliest
    source, ``evidence`` says why; ``why`` says how the group was formed."""

    id: str
    members: tuple[Member, ...]
    earliest: str
    evidence: Evidence
    why: str

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.members)

    def __len__(self) -> int:
        return len(self.members)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.id,
            "size": len(self.members),
            "earliest": self.earliest,
            "evidence": self.evidence.to_dict(),
            "members": [m.to_dict() for m in self.members],
            "why": self.why,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one added article: is it a copy, of which articles (with scores), its cluster,
    and whether the cluster's earliest source changed because of it.

    ``merged`` lists (sorted) the other cluster ids that the cluster's members had when the
    deduplicator last answered for them: the clusters this article joined into its own (a cluster
    split from an older one by the chaining guard lists the id it was split from). Empty when the
    cluster's id is the one all its members already had.

    ``previous_earliests`` lists the earliest sources that the clusters this article joined had
    until it came and that are no longer the earliest (one per such cluster; two or more when it
    joined clusters with earliest sources of their own); ``previous_earliest`` is the first of them,
    and ``earliest_changed`` says whether there is any."""

    article_id: str
    is_copy: bool
    matches: tuple[Match, ...]
    cluster: Cluster
    earliest_changed: bool = False
    previous_earliest: str | None = None
    already_indexed: bool = False
    merged: tuple[str, ...] = ()
    previous_earliests: tuple[str, ...] = ()

    @property
    def copy_of(self) -> tuple[str, ...]:
        return tuple(m.other(self.article_id) for m in self.matches if m.is_copy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.article_id,
            "is_copy": self.is_copy,
            "copy_of": list(self.copy_of),
            "matches": [m.to_dict() for m in self.matches],
            "cluster": self.cluster.id,
            "size": len(self.cluster),
            "earliest": self.cluster.earliest,
            "earliest_changed": self.earliest_changed,
            "previous_earliest": self.previous_earliest,
            "already_indexed": self.already_indexed,
            "merged": list(self.merged),
            "previous_earliests": list(self.previous_earliests),
        }


@dataclass(frozen=True, slots=True)
class Skip:
    """An input that was not used, and why (``line`` is the 1-based line of a JSON Lines file;
    ``row`` the 0-based position of a row of a table or an iterable of dicts)."""

    id: str | None
    error: str
    message: str
    line: int | None = None
    row: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "line": self.line, "error": self.error, "message": self.message}
        if self.row is not None:
            out["row"] = self.row
        return out
