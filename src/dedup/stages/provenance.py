"""Stage 7: the earliest source of each cluster, and why.

Evidence, strongest first:

1. **published_at** given with the article: by the caller, or read from the page's metadata by
   ``dedup.fronts.html`` (a naive time is read as UTC, and the evidence says so);
2. **date_in_text**: a publication date printed in the title or near the top of the text (a dateline),
   found by :func:`find_text_date`, which uses dateparser for the Egyptian/Gulf and English month
   names and maps the Levantine series (كانون الثاني, شباط, …) onto them first;
3. text evidence when no time separates the candidates: **containment** (the article whose text is
   inside the other is the source; a copy that adds paragraphs is later), among the first
   ``MOST_CONTESTED`` of them indexed, then **credit** (the article that credits a wire agency in its
   opening or closing lines);
4. **tie_break**: ingest order, then id.

Each member's known time is its ``published_at``, else its printed date. A member with no known time
never beats one with a time. Times are compared by the day when either one is a printed date (a page
prints days, not hours); members that tie go on to the text evidence.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import sys
import unicodedata
from calendar import monthrange
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from dedup.config import ProvenanceConfig
from dedup.records import Article, Cluster, Evidence, Match, Member, Relation

# The most candidates the containment rule compares with one another (every pair of them): those
# indexed first. A story copied by hundreds of outlets on one day (dates without times tie), or
# with no times at all, is decided among its first copies, at a cost that does not grow with it.
MOST_CONTESTED = 16

_EN_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_AR_MONTHS = (
    r"يناير|فبراير|مارس|[أا]بريل|إبريل|مايو|يونيو|يونيه|يوليو|يوليه|[أا]غسطس|سبتمبر|[أا]كتوبر"
    r"|نوفمبر|ديسمبر"
)
# The Levantine (Syriac-derived) series and the Maghreb (French-derived) names, mapped onto the
# Egyptian/Gulf names that dateparser knows.
_MONTH_ALIASES = {
    "جانفي": "يناير",
    "فيفري": "فبراير",
    "أفريل": "أبريل",
    "افريل": "أبريل",
    "جوان": "يونيو",
    "جويلية": "يوليو",
    "أوت": "أغسطس",
    "اوت": "أغسطس",
    "كانون الثاني": "يناير",
    "شباط": "فبراير",
    "آذار": "مارس",
    "اذار": "مارس",
    "نيسان": "أبريل",
    "أيار": "مايو",
    "ايار": "مايو",
    "حزيران": "يونيو",
    "تموز": "يوليو",
    "آب": "أغسطس",
    "أيلول": "سبتمبر",
    "ايلول": "سبتمبر",
    "تشرين الأول": "أكتوبر",
    "تشرين الاول": "أكتوبر",
    "تشرين الثاني": "نوفمبر",
    "كانون الأول": "ديسمبر",
    "كانون الاول": "ديسمبر",
}
_ALIASES = "|".join(sorted(map(re.escape, _MONTH_ALIASES), key=len, reverse=True))
_MONTH = rf"(?:{_EN_MONTHS}|{_AR_MONTHS}|{_ALIASES})"
# A month may be given twice, Levantine and Gregorian: "كانون الأول/ديسمبر", "كانون الثاني (يناير)".
_MONTH_PAIR = rf"{_MONTH}(?:\s*[/(]\s*{_MONTH}\s*\)?)?"
# The first two start with a digit and test the character before it after it (a lookbehind
# first makes the regex engine try it at every position of the text, not only at digits): the
# same matches as "(?<!\d)\d{4}" and "(?<!\d)\d{1,2}" (tested against those).
_DATE_PATTERNS = (
    re.compile(r"(\d{4})(?<!\d\d\d\d\d)-(\d{1,2})-(\d{1,2})(?!\d)"),
    re.compile(rf"(\d(?<!\d\d)\d?)\s+(?:من\s+)?({_MONTH_PAIR})\.?,?\s+(?:عام\s+|سنة\s+)?(\d{{4}})(?!\d)", re.I),
    re.compile(rf"(?<![\w])({_MONTH_PAIR})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})(?!\d)", re.I),
)
_YEAR = re.compile(r"\d{4}")  # in every date the patterns read: a text without one has no date
_EASTERN_DIGIT = re.compile("[\u0660-\u0669\u06f0-\u06f9]")
_DIGITS = str.maketrans({**{0x0660 + i: str(i) for i in range(10)}, **{0x06F0 + i: str(i) for i in range(10)}})


@dataclass(frozen=True, slots=True)
class TextDate:
    """A publication date found in the text: the day, where it was found, and the words."""

    day: date
    where: str
    text: str
    offset: int


@lru_cache(maxsize=8192)
def _parse_span(span: str) -> date | None:
    cleaned = span
    # (each pattern is compiled on the first span it can change)
    for alias, name in _MONTH_ALIASES.items():
        if alias in cleaned:
            cleaned = re.sub(rf"(?<!\w){re.escape(alias)}(?!\w)", name, cleaned)
    # "ديسمبر/ديسمبر" or "ديسمبر (ديسمبر)": keep one month name.
    if "/" in cleaned or "(" in cleaned:
        cleaned = re.sub(rf"({_MONTH})\s*[/(]\s*{_MONTH}\s*\)?", r"\1", cleaned, flags=re.I)
    cleaned = re.sub(r"\b(من|عام|سنة)\s+", "", cleaned)
    read = _read_span(cleaned)
    return read if read is not None else _dateparser_span(cleaned)


def _dateparser_span(cleaned: str) -> date | None:
    """The date dateparser reads in a span (the reference reading; its first call in a process
    compiles hundreds of regular expressions)."""
    import dateparser

    # One language family per span (by its script) and absolute dates only: dateparser tries far
    # fewer patterns than with every language and relative expressions.
    arabic = any("\u0600" <= ch <= "\u06ff" for ch in cleaned)
    parsed = dateparser.parse(
        cleaned,
        languages=["ar"] if arabic else ["en", "fr"],
        settings={"REQUIRE_PARTS": ["day", "month", "year"], "PARSERS": ["absolute-time"]},
    )
    return parsed.date() if parsed else None


# The month names of ``_EN_MONTHS`` and ``_AR_MONTHS``, each with its number.
_MONTH_NUMBERS = {
    name: number
    for number, names in enumerate(
        (
            "jan january يناير",
            "feb february فبراير",
            "mar march مارس",
            "apr april أبريل ابريل إبريل",
            "may مايو",
            "jun june يونيو يونيه",
            "jul july يوليو يوليه",
            "aug august أغسطس اغسطس",
            "sep sept september سبتمبر",
            "oct october أكتوبر اكتوبر",
            "nov november نوفمبر",
            "dec december ديسمبر",
        ),
        start=1,
    )
    for name in names.split()
}
_NAMES = "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True))
_DAY_MONTH_YEAR = re.compile(rf"([0-9]{{1,2}})\s+({_NAMES})\.?,?\s*([0-9]{{4}})", re.I)
_MONTH_DAY_YEAR = re.compile(rf"({_NAMES})\.?\s*([0-9]{{1,2}}),?\s+([0-9]{{4}})", re.I)
_YEAR_MONTH_DAY = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


def _read_span(cleaned: str) -> date | None:
    """The date of a cleaned span in one of the forms the date patterns find (29 January 2017,
    January 29, 2017, 2017-01-29), a real day of a year from 1900 to 2200; None for anything else,
    which is left to dateparser. Where it reads a date, it reads the one dateparser reads (a test
    checks it), without dateparser's start-up cost."""
    if m := _DAY_MONTH_YEAR.fullmatch(cleaned):
        day, month, year = int(m[1]), _MONTH_NUMBERS[m[2].lower()], int(m[3])
    elif m := _MONTH_DAY_YEAR.fullmatch(cleaned):
        day, month, year = int(m[2]), _MONTH_NUMBERS[m[1].lower()], int(m[3])
    elif m := _YEAR_MONTH_DAY.fullmatch(cleaned):
        day, month, year = int(m[3]), int(m[2]), int(m[1])
    else:
        return None
    if not 1900 <= year <= 2200 or not 1 <= month <= 12 or not 1 <= day <= monthrange(year, month)[1]:
        return None
    return date(year, month, day)


def find_dates(text: str, where: str, limit: int | None = None) -> list[TextDate]:
    """Every full date (day, month, year) in ``text`` (or in its first ``limit`` characters)."""
    head = unicodedata.normalize("NFKC", text if limit is None else text[:limit])
    if _EASTERN_DIGIT.search(head):  # translate looks every character up: only when needed
        head = head.translate(_DIGITS)
    found: list[TextDate] = []
    if not _YEAR.search(head):
        return found
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(head):
            day = _parse_span(m.group(0))
            if day is not None and 1900 <= day.year <= 2200:
                found.append(TextDate(day=day, where=where, text=m.group(0), offset=m.start()))
    return sorted(found, key=lambda d: d.offset)


def _on_dateline(text: str, offset: int) -> bool:
    """A date is a dateline when its line is short (a date bar, a byline) or it opens the line
    ("WASHINGTON, Jan. 29, 2017 (Reuters) - ..."); a date at the end of a long caption is not."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    line = text[start : end if end >= 0 else len(text)]
    return len(line.split()) <= _DATELINE_MAX_WORDS or offset - start <= _DATELINE_MAX_OFFSET


_DATELINE_MAX_WORDS = 12
_DATELINE_MAX_OFFSET = 60


def find_text_date(text: str, title: str | None, config: ProvenanceConfig) -> TextDate | None:
    """The publication date printed in the title or on a dateline near the top of the text, if any."""
    if not config.find_dates_in_text:
        return None
    if title:
        dates = find_dates(title, "title")
        if dates:
            return dates[0]
    head = unicodedata.normalize("NFKC", text[: config.head_chars])
    for found in find_dates(head, "dateline"):
        if _on_dateline(head, found.offset):
            return found
    return None


@lru_cache(maxsize=256)
def _credit_pattern(agencies: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """One regular expression for every agency (group ``a<n>`` is agency n), so a text is scanned once."""
    names, groups = [], []
    for n, (name, spellings) in enumerate(agencies):
        # Latin acronyms must stand alone and in capitals (AP, RT); other spellings ignore case.
        alternatives = "|".join(
            re.escape(s) if s.isascii() and s.isupper() else f"(?i:{re.escape(s)})"
            for s in sorted(spellings, key=len, reverse=True)
        )
        names.append(name)
        groups.append(f"(?P<a{n}>{alternatives})")
    return re.compile(rf"(?<![\w])(?:{'|'.join(groups)})(?![\w])"), tuple(names)


_SpellingTest = tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


@lru_cache(maxsize=64)
def _spelling_tests(
    agencies: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[tuple[_SpellingTest, ...], tuple[str, ...], tuple[str, ...]]:
    """Each agency with the substrings that tell whether its pattern can match a text: its Latin
    acronyms as written (the pattern wants them in capitals), its other spellings case-folded (to
    be looked for in the case-folded text); then those of all the agencies together, which most
    texts have none of."""
    tests = tuple(
        (
            name,
            spellings,
            tuple(s for s in spellings if s.isascii() and s.isupper()),
            tuple(s.casefold() for s in spellings if not (s.isascii() and s.isupper())),
        )
        for name, spellings in agencies
    )
    return tests, tuple({s for t in tests for s in t[2]}), tuple({s for t in tests for s in t[3]})


def find_credits(text: str, config: ProvenanceConfig) -> tuple[str, ...]:
    """Wire agencies credited in the opening or closing lines of ``text`` (sorted names)."""
    window = config.head_chars
    zones = text[:window] + "\n" + text[-window:] if len(text) > 2 * window else text
    agencies = (*config.agencies, *config.extra_agencies)
    # The agency pattern tries its whole alternation at every character. A substring test of every
    # spelling (case-folded, which folds at least what the pattern's IGNORECASE does) tells which
    # agencies can match at all: most texts credit none, and the rest are scanned for those only.
    lowered = zones.casefold()
    tests, any_exact, any_folded = _spelling_tests(agencies)
    if not (any(map(zones.__contains__, any_exact)) or any(map(lowered.__contains__, any_folded))):
        return ()
    present = tuple(
        (name, spellings)
        for name, spellings, exact, folded in tests
        if any(map(zones.__contains__, exact)) or any(map(lowered.__contains__, folded))
    )
    if not present:
        return ()
    pattern, names = _credit_pattern(present)
    found = {names[int(m.lastgroup[1:])] for m in pattern.finditer(zones) if m.lastgroup}
    return tuple(sorted(found))


@dataclass(frozen=True, slots=True)
class Candidate:
    """What provenance knows of one member."""

    id: str
    seq: int
    published: datetime | None
    naive: bool
    text_date: TextDate | None
    credits: tuple[str, ...]
    # what the article was given besides its text, carried into its ``Member`` for the output
    source: str | None = None
    url: str | None = None
    title: str | None = None
    # the member's known time and where it comes from (read many times while a cluster is built)
    known_time: tuple[datetime, str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        known: tuple[datetime, str] | None = None
        if self.published is not None:
            known = self.published, "published_at"
        elif self.text_date is not None:
            known = datetime(*self.text_date.day.timetuple()[:3], tzinfo=UTC), "date_in_text"
        object.__setattr__(self, "known_time", known)


def _ties(a: tuple[datetime, str], b: tuple[datetime, str]) -> bool:
    if a[1] == "date_in_text" or b[1] == "date_in_text":
        return a[0].date() == b[0].date()
    return a[0] == b[0]


def _time_values(c: Candidate) -> dict[str, Any]:
    known = c.known_time
    if known is None:
        return {}
    if known[1] == "published_at":
        out: dict[str, Any] = {"published_at": known[0].isoformat()}
        if c.naive:
            out["note"] = "published_at had no time zone and was read as UTC"
        return out
    if c.text_date is None:  # known_time came from the text date
        return {}
    return {"date": c.text_date.day.isoformat(), "where": c.text_date.where, "text": c.text_date.text}


def choose_earliest(
    candidates: Sequence[Candidate], containment: Callable[[str, str], float], config: ProvenanceConfig
) -> tuple[str, Evidence]:
    """The earliest of ``candidates`` and the evidence. ``containment(x, y)`` is the share of x's
    shingles found in y."""
    if len(candidates) == 1:
        only = candidates[0]
        return only.id, Evidence(rule="single", detail="the only article of its cluster", values=_time_values(only))
    pool = by_seq = sorted(candidates, key=_indexed)
    timed = sorted(((known, c) for c in pool if (known := c.known_time) is not None), key=lambda kc: _in_time(kc[1]))
    values: dict[str, Any] = {}
    if timed:
        first_time, first = timed[0]
        tied = [c for known, c in timed if _ties(known, first_time)]
        # A date printed in the text ties with every time of its day, but two publication times
        # are ordered: of those it ties with, only the earliest stays in the running.
        given = [c.known_time[0] for c in tied if c.known_time is not None and c.known_time[1] == "published_at"]
        if given:
            earliest = min(given)
            tied = [
                c
                for c in tied
                if c.known_time is None or c.known_time[1] != "published_at" or c.known_time[0] == earliest
            ]
        if len(tied) == 1:
            values = {**_time_values(first), "undated": [c.id for c in pool if c.known_time is None]}
            if len(timed) > 1:
                values["next"] = {"id": timed[1][1].id, **_time_values(timed[1][1])}
            values["containment"] = _containment_support(first, pool, containment)
            where = first.text_date.where if first.text_date else "text"
            detail = (
                "earliest publication time given with the article (published_at: the caller's, or the page's metadata)"
                if first_time[1] == "published_at"
                else f"earliest date printed in the {where}"
            )
            return first.id, Evidence(rule=first_time[1], detail=detail, values=values)
        pool = tied
        values["tied_on_time"] = {"ids": [c.id for c in tied], **_time_values(first)}
    contest = _first_indexed(pool, by_seq)
    if len(contest) < len(pool):
        values["contested"] = [c.id for c in contest]
    winner = _by_containment(contest, containment, config)
    if winner is not None:
        chosen, figures = winner
        values["containment"] = figures
        return chosen, Evidence(rule="containment", detail="its text is contained in the other copies", values=values)
    crediting = [c for c in pool if c.credits]
    if 0 < len(crediting) < len(pool):
        chosen_c = crediting[0]
        values["credits"] = {c.id: list(c.credits) for c in pool}
        return chosen_c.id, Evidence(
            rule="credit",
            detail=f"credits {', '.join(chosen_c.credits)} in its opening or closing lines",
            values=values,
        )
    chosen_c = pool[0]
    values["order"] = [c.id for c in pool]
    return chosen_c.id, Evidence(
        rule="tie_break", detail="no evidence separates them: first ingested, then smallest id", values=values
    )


def _containment_of(pair: Callable[[str, str], Match]) -> Callable[[str, str], float]:
    """``containment(x, y)``, the share of x's shingles found in y, read off ``pair``'s comparison."""

    def containment(x: str, y: str) -> float:
        m = pair(x, y)
        return m.containment_a if m.a == x else m.containment_b

    return containment


def _indexed(c: Candidate) -> tuple[int, str]:
    return c.seq, c.id


def _first_indexed(pool: Sequence[Candidate], by_seq: Sequence[Candidate]) -> list[Candidate]:
    """The first ``MOST_CONTESTED`` of ``pool`` indexed, read off ``by_seq`` (every candidate in
    that order) rather than sorting the pool again; a pool no larger, as it is."""
    if len(pool) <= MOST_CONTESTED:
        return list(pool)
    ids = {c.id for c in pool}
    return [c for c in by_seq if c.id in ids][:MOST_CONTESTED]


def _containment_support(
    first: Candidate, pool: Sequence[Candidate], containment: Callable[[str, str], float]
) -> dict[str, dict[str, float]]:
    return {
        c.id: {
            "earliest_in_other": round(containment(first.id, c.id), 4),
            "other_in_earliest": round(containment(c.id, first.id), 4),
        }
        for c in pool
        if c.id != first.id
    }


def _by_containment(
    pool: Sequence[Candidate], containment: Callable[[str, str], float], config: ProvenanceConfig
) -> tuple[str, dict[str, Any]] | None:
    """The candidate whose text is inside the most others (and inside none of them less than they are
    inside it), if exactly one stands out."""
    scores: dict[str, int] = {c.id: 0 for c in pool}
    figures: dict[str, Any] = {}
    for i, x in enumerate(pool):
        for y in pool[i + 1 :]:
            x_in_y, y_in_x = containment(x.id, y.id), containment(y.id, x.id)
            figures[f"{x.id} in {y.id}"] = round(x_in_y, 4)
            figures[f"{y.id} in {x.id}"] = round(y_in_x, 4)
            if x_in_y >= config.min_containment and x_in_y - y_in_x >= config.containment_margin:
                scores[x.id] += 1
                scores[y.id] -= 1
            elif y_in_x >= config.min_containment and y_in_x - x_in_y >= config.containment_margin:
                scores[y.id] += 1
                scores[x.id] -= 1
    best = max(scores.values())
    leaders = [c.id for c in pool if scores[c.id] == best]
    if best > 0 and len(leaders) == 1:
        return leaders[0], figures
    return None


def _member(c: Candidate, earliest: str, others: Iterable[str], pair: Callable[[str, str], Match]) -> Member:
    """A member's record: its relation to the earliest, or when it is no copy of the earliest, to
    the one of ``others`` it is the best copy of."""
    known = c.known_time
    time = known[0].isoformat() if known else None
    if c.id == earliest:
        return Member(
            id=c.id, relation=Relation.EARLIEST, matched=None, score=1.0,
            time=time, source=c.source, url=c.url, title=c.title,
        )  # fmt: skip
    m = pair(c.id, earliest)
    relation, matched, score = m.relation if m.a == c.id else _flip(m.relation), earliest, m.score
    if not m.is_copy:
        tried = [pair(c.id, o) for o in others if o != c.id]
        if tried:
            best = max(tried, key=lambda x: (x.is_copy, x.score))
            matched, score = best.other(c.id), best.score
            relation = best.relation if best.a == c.id else _flip(best.relation)
    return Member(
        id=c.id,
        relation=relation,
        matched=matched,
        score=score,
        containment_in_earliest=m.containment_a if m.a == c.id else m.containment_b,
        earliest_in_member=m.containment_b if m.a == c.id else m.containment_a,
        time=time,
        source=c.source,
        url=c.url,
        title=c.title,
    )


def _member_id(member: Member) -> str:
    return member.id


def grown(
    cluster: Cluster,
    first: Candidate,
    following: Candidate | None,
    new: Candidate,
    others: Iterable[str],
    pair: Callable[[str, str], Match],
) -> tuple[Cluster, Candidate | None] | None:
    """``build_cluster`` of ``cluster``'s group with ``new`` added (indexed after every member),
    without reading the other members again, when the earliest stands: it was chosen by its time
    (``first``, with ``following`` the member of the next time) or among the members of its time,
    and ``new`` has no time or a later one. Returns the cluster and the member of the next time, or None when the cluster
    must be built again."""
    values = cluster.evidence.values
    by_time = cluster.evidence.rule in ("published_at", "date_in_text")
    if not (by_time or "tied_on_time" in values) or first.known_time is None:
        return None
    known = new.known_time
    if known is not None and (_ties(known, first.known_time) or known[0] < first.known_time[0]):
        return None
    member = _member(new, first.id, others, pair)
    at = bisect.bisect(cluster.members, new.id, key=_member_id)  # (members are in id order)
    members = (*cluster.members[:at], member, *cluster.members[at:])
    if not by_time:  # the earliest was chosen among the members of its time, and new is later
        return replace(cluster, members=members), following
    values = dict(values)
    if known is None:
        values["undated"] = [*values.get("undated", ()), new.id]
    elif following is None or following.known_time is None or known[0] < following.known_time[0]:
        following = new
        values["next"] = {"id": new.id, **_time_values(new)}
    values["containment"] = {
        **values.get("containment", {}),
        new.id: {
            "earliest_in_other": round(member.earliest_in_member or 0.0, 4),
            "other_in_earliest": round(member.containment_in_earliest or 0.0, 4),
        },
    }
    evidence = replace(cluster.evidence, values=values)
    return replace(cluster, members=members, evidence=evidence), following


def regrown(
    cluster: Cluster,
    members: Iterable[str],
    candidate_of: Callable[[str], Candidate],
    new: Candidate,
    others: Iterable[str],
    pair: Callable[[str, str], Match],
    config: ProvenanceConfig,
) -> Cluster | None:
    """``build_cluster`` of ``cluster``'s group with ``new`` added (indexed after every member;
    ``members`` are the group's ids, ``new``'s among them), when the earliest chosen again
    (``choose_earliest``, whose containment contest is bounded: ``MOST_CONTESTED``) is the one it
    had: the evidence is chosen again, or carried over when ``new`` cannot change it
    (``_joined``), and only ``new``'s record is made, since a member's record reads the earliest
    and the copies indexed before it. For a cluster whose earliest was not chosen by its time
    alone (``grown``'s case), or that ``new`` ties with. None when the earliest changes."""
    evidence = _joined(cluster.evidence, cluster.earliest, new, candidate_of)
    if evidence is None:
        earliest, evidence = choose_earliest([candidate_of(m) for m in members], _containment_of(pair), config)
        if earliest != cluster.earliest:
            return None
    member = _member(new, cluster.earliest, others, pair)
    at = bisect.bisect(cluster.members, new.id, key=_member_id)  # (members are in id order)
    return replace(cluster, members=(*cluster.members[:at], member, *cluster.members[at:]), evidence=evidence)


def _joined(
    evidence: Evidence, earliest: str, new: Candidate, candidate_of: Callable[[str], Candidate]
) -> Evidence | None:
    """``choose_earliest``'s evidence (``earliest`` chosen) after ``new``, indexed after every
    candidate, joined them, without reading them all again, when the time did not decide: the pool
    (the candidates tied on the earliest time, or every candidate when none has a time) is the
    same, or it gains ``new`` without losing anyone and the containment contest was cut
    (``contested``: the first ``MOST_CONTESTED`` of the pool indexed, which ``new`` is not among)
    and stays as it was; the credit rule and the tie break read the whole pool, and stand unless
    ``new`` comes before the earliest in it or makes the credits tell the pool apart. None when the
    evidence must be chosen again."""
    values = evidence.values
    if evidence.rule not in ("containment", "credit", "tie_break"):
        return None
    known = new.known_time
    tied = values.get("tied_on_time")
    if tied is None:  # no candidate had a time: the pool is every candidate, in order of indexing
        if known is not None:
            return None  # (the one with a time is the earliest now)
        at = None
    else:
        if known is None:  # a candidate without a time is never in the running against timed ones
            return evidence
        ids = tied["ids"]
        first = candidate_of(ids[0]).known_time  # the first of the pool in time, listed first
        if first is None:
            return None
        if not _ties(known, first):
            return evidence if known[0] > first[0] else None
        if known[1] == "published_at" and first[1] != "published_at":
            # of those tied on a printed date, only the earliest publication times stay: the
            # pool's own are all one time
            given = next((t[0] for i in ids if (t := candidate_of(i).known_time) and t[1] == "published_at"), None)
            if given is not None and known[0] != given:
                return evidence if known[0] > given else None
        at = bisect.bisect(ids, _in_time(new), key=lambda i: _in_time(candidate_of(i)))
        if at == 0:
            return None  # new is the first of the pool in time, whose time the evidence gives
        values = {**values, "tied_on_time": {**tied, "ids": _inserted(ids, at, new.id)}}
    if "contested" not in values:
        return None
    if evidence.rule == "credit":
        credits = list(values["credits"].items())
        at = len(credits) if at is None else at
        if new.credits and at <= next(i for i, (c, _) in enumerate(credits) if c == earliest):
            return None  # the first of the pool that credits an agency is new
        values = {**values, "credits": dict(_inserted(credits, at, (new.id, list(new.credits))))}
    elif evidence.rule == "tie_break":
        order = values["order"]
        at = len(order) if at is None else at
        if bool(new.credits) != bool(candidate_of(earliest).credits):
            return None  # some of the pool would credit an agency and some not
        values = {**values, "order": _inserted(order, at, new.id)}
    return replace(evidence, values=values)


def _inserted(items: Sequence[Any], at: int, item: Any) -> list[Any]:
    return [*items[:at], item, *items[at:]]


def _in_time(c: Candidate) -> tuple[datetime, int, str]:
    """A timed candidate's place in time, as ``choose_earliest`` orders them."""
    assert c.known_time is not None
    return c.known_time[0], c.seq, c.id


def revised(
    cluster: Cluster,
    changed: Iterable[Candidate],
    others: Callable[[str], Iterable[str]],
    pair: Callable[[str, str], Match],
) -> Cluster | None:
    """``build_cluster`` of ``cluster``'s group (``near=others``) after the comparisons of the
    members ``changed`` came out otherwise (and those of no other member), without reading the
    other members again, when the earliest was chosen by its time alone: the times have not
    changed, so it stands, and only the changed members' records and containment figures are read
    again (a comparison of two members changes them both). None when the cluster must be built
    again."""
    evidence = cluster.evidence
    if evidence.rule not in ("published_at", "date_in_text"):
        return None
    earliest = cluster.earliest
    members = list(cluster.members)
    support = dict(evidence.values.get("containment", {}))

    containment = _containment_of(pair)
    for c in changed:
        at = bisect.bisect_left(members, c.id, key=_member_id)
        if at == len(members) or members[at].id != c.id:
            return None
        members[at] = _member(c, earliest, others(c.id), pair)
        if c.id != earliest:
            support[c.id] = {
                "earliest_in_other": round(containment(earliest, c.id), 4),
                "other_in_earliest": round(containment(c.id, earliest), 4),
            }
    values = {**evidence.values, "containment": support}
    return replace(cluster, members=tuple(members), evidence=replace(evidence, values=values))


def cluster_id(anchor: str) -> str:
    """The id of the cluster whose anchor (its member indexed first, see :func:`anchor_of`) has the
    id ``anchor``: ``c-`` and a hash of that id. Copies that join later leave it as it is."""
    return "c-" + hashlib.blake2b(anchor.encode("utf-8"), digest_size=6).hexdigest()


def anchor_of(candidates: Iterable[Candidate]) -> str:
    """The id of the member indexed first (the lowest ingest sequence number, then the smallest id).
    A batch numbers its articles in id order, so there the anchor is the smallest member id."""
    return min(candidates, key=lambda c: (c.seq, c.id)).id


def provenance_inputs(article: Article, config: ProvenanceConfig) -> tuple[TextDate | None, tuple[str, ...]]:
    """What provenance reads in an article's text: the printed date (only when the caller gave no
    time) and the wire credits."""
    return text_date_of(article, config), find_credits(article.text, config)


def text_date_of(article: Article, config: ProvenanceConfig) -> TextDate | None:
    """The date printed in the article, read only when the caller gave no time."""
    return find_text_date(article.text, article.title, config) if article.published_at is None else None


def candidate(article: Article, seq: int, text_date: TextDate | None, credits: tuple[str, ...]) -> Candidate:
    return Candidate(
        id=article.id,
        seq=seq,
        published=article.published_utc,
        naive=article.published_at is not None and article.published_at.tzinfo is None,
        text_date=text_date,
        credits=credits,
        # an empty string is no value, as the Redis index reads a stored "" back as None; one string
        # for all the articles of an outlet (a stream holds a record per article for days)
        source=sys.intern(str(article.source)) if article.source else None,
        url=article.url or None,
        title=article.title or None,
    )


def build_cluster(
    group: list[str],
    how: str,
    candidate_of: Callable[[str, bool], Candidate],
    pair: Callable[[str, str], Match],
    config: ProvenanceConfig,
    credits_of: Callable[[str], tuple[str, ...]] | None = None,
    near: Callable[[str], Iterable[str]] | None = None,
    id_of: Callable[[str], str] = cluster_id,
) -> Cluster:
    """The cluster record of one group: its earliest source and each member's relation to it.
    ``candidate_of(id, with_evidence)`` describes a member (the text evidence is only read for
    groups of two or more); ``pair(x, y)`` is the verified comparison of two members. Given
    ``credits_of(id)``, the candidates come without their credits, which are read only when no
    earlier rule decides (the credit rule is the last before the tie break). A member that is no
    copy of the earliest is matched with the member it is the best copy of, among ``near(id)``
    when given (a large group's members are compared with a few of the others), else the group. The cluster's id is
    ``id_of`` its anchor, the member with the lowest ``seq`` (:func:`anchor_of`), so every runner
    gives the anchor through the ``seq`` of its candidates (a stream with a window passes on the id
    of an anchor that left it, see ``Deduplicator``)."""
    candidates = [candidate_of(member, len(group) > 1) for member in group]

    containment = _containment_of(pair)
    earliest, evidence = choose_earliest(candidates, containment, config)
    if credits_of is not None and evidence.rule == "tie_break":
        candidates = [replace(c, credits=credits_of(c.id)) for c in candidates]
        earliest, evidence = choose_earliest(candidates, containment, config)

    def others(member: str) -> Iterator[str]:
        # a generator: only the members that are no copy of the earliest read it
        yield from near(member) if near else group

    members = [_member(c, earliest, others(c.id), pair) for c in sorted(candidates, key=lambda c: c.id)]
    return Cluster(
        id=id_of(anchor_of(candidates)), members=tuple(members), earliest=earliest, evidence=evidence, why=how
    )


def _flip(relation: Relation) -> Relation:
    """The relation seen from the other side."""
    if relation is Relation.PARTIAL:
        return Relation.EXTENDED
    if relation is Relation.EXTENDED:
        return Relation.PARTIAL
    return relation
