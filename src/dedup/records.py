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


@dataclass(frozen=True, slots=True)
class Article:
    """One article. ``text`` may be given as UTF-8 bytes; ``published_at`` as a datetime or an ISO
    8601 string (a time without a zone is read as UTC, and the evidence says so)."""

    id: str
    text: str
    published_at: datetime | None = None
    source: str | None = None
    url: str | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise InputError(f"Article id must be a non-empty string, got {self.id!r}")
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
        if isinstance(self.published_at, str):
            try:
                object.__setattr__(self, "published_at", datetime.fromisoformat(self.published_at))
            except ValueError as exc:
                raise InputError(
                    f"article {self.id!r}: published_at {self.published_at!r} is not an ISO 8601 time "
                    "(e.g. 2017-01-29T10:00:00+00:00)"
                ) from exc
        elif self.published_at is not None and not isinstance(self.published_at, datetime):
            raise InputError(
                f"article {self.id!r}: published_at must be a datetime or an ISO 8601 string, "
                f"got {type(self.published_at).__name__}"
            )
        for name in ("source", "url", "title"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InputError(f"article {self.id!r}: {name} must be a string, got {type(value).__name__}")

    @property
    def published_utc(self) -> datetime | None:
        """``published_at`` as an aware UTC time (a naive time is read as UTC)."""
        if self.published_at is None:
            return None
        if self.published_at.tzinfo is None:
            return self.published_at.replace(tzinfo=UTC)
        return self.published_at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SharedPassage:
    """A passage of ``a`` found again in ``b``: sentence indexes, the share of shingles in common,
    and the sentence of ``a`` in comparison form (folded words; filled by ``Deduplicator.compare``,
    empty in verdicts, since the index keeps no sentence text)."""

    a_sentence: int
    b_sentence: int
    overlap: float
    text: str

    @classmethod
    def many(
        cls, a_sentences: list[int], b_sentences: list[int], overlaps: list[float], text: Callable[[int], str]
    ) -> list[SharedPassage]:
        """One record per passage, ``text(a_sentence)`` its text. The slots are filled directly:
        a frozen record's ``__init__`` goes through ``object.__setattr__`` once per field, and a
        comparison lists about ten passages (half the cost of listing them, measured)."""
        new, out = object.__new__, []
        slots = vars(cls)
        set_a, set_b = slots["a_sentence"].__set__, slots["b_sentence"].__set__
        set_overlap, set_text = slots["overlap"].__set__, slots["text"].__set__
        for sa, sb, ov in zip(a_sentences, b_sentences, overlaps, strict=True):
            record = new(cls)
            set_a(record, sa)
            set_b(record, sb)
            set_overlap(record, ov)
            set_text(record, text(sa))
            out.append(record)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "a_sentence": self.a_sentence,
            "b_sentence": self.b_sentence,
            "overlap": round(self.overlap, 4),
            "text": self.text,
        }


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
        many matches (positional: ``dataclasses.replace`` costs several microseconds a call)."""
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
class Member:
    """One article of a cluster and how it relates to the cluster's earliest article.

    ``containment_in_earliest``: share of this member's shingles found in the earliest;
    ``earliest_in_member``: share of the earliest's shingles found in this member.
    ``matched``: the member it was verified against most strongly (None for a singleton).
    """

    id: str
    relation: Relation
    matched: str | None = None
    score: float = 0.0
    containment_in_earliest: float | None = None
    earliest_in_member: float | None = None
    time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "relation": str(self.relation), "matched": self.matched}
        out["score"] = round(self.score, 4)
        if self.containment_in_earliest is not None:
            out["containment_in_earliest"] = round(self.containment_in_earliest, 4)
        if self.earliest_in_member is not None:
            out["earliest_in_member"] = round(self.earliest_in_member, 4)
        out["time"] = self.time
        return out


@dataclass(frozen=True, slots=True)
class Cluster:
    """A group of copies of one story (or a single article). ``id`` is stable: it depends on the
    members only. ``earliest`` names the earliest source, ``evidence`` says why; ``why`` says how the
    group was formed."""

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
    and whether the cluster's earliest source changed because of it."""

    article_id: str
    is_copy: bool
    matches: tuple[Match, ...]
    cluster: Cluster
    earliest_changed: bool = False
    previous_earliest: str | None = None
    already_indexed: bool = False

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
            "earliest": self.cluster.earliest,
            "earliest_changed": self.earliest_changed,
            "previous_earliest": self.previous_earliest,
            "already_indexed": self.already_indexed,
        }


@dataclass(frozen=True, slots=True)
class Skip:
    """An input that was not used, and why (``line`` is the 1-based line of a JSON Lines file)."""

    id: str | None
    error: str
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "line": self.line, "error": self.error, "message": self.message}
