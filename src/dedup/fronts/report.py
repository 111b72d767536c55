"""A report people read: one self-contained HTML page of the clusters ``dedup cluster`` wrote.

The page needs no network (inline CSS and script, no fonts or images fetched; a content security
policy forbids any request). Clusters come largest first, each with its earliest source, the
evidence for it and its members (relation, outlet, time, title); a member can be read side by side
with the earliest, the shared passages marked. Single articles are counted, and listed only on
request. Every string from the input is escaped: titles and texts come from crawled pages.

>>> import io
>>> from dedup.fronts.report import write_report
>>> write_report([], io.StringIO())
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TextIO

from dedup.config import DedupConfig
from dedup.errors import InputError
from dedup.fronts import present
from dedup.fronts.io import parse_line, read_articles
from dedup.records import Article, Cluster, Evidence, Member, Relation, Skip
from dedup.stages.explain import SharedSpan, shared_spans

# How far into a string its first strong letter is looked for: a title or a text that opens with
# this many digits, marks and spaces is left to the browser (dir="auto").
_DIRECTION_SCAN = 2000


class Span(Protocol):
    """One shared passage: character offsets into the earliest article's text (``a``) and into the
    member's (``b``), end exclusive (``dedup.stages.explain.SharedSpan`` is one)."""

    @property
    def a_start(self) -> int: ...
    @property
    def a_end(self) -> int: ...
    @property
    def b_start(self) -> int: ...
    @property
    def b_end(self) -> int: ...


Highlighter = Callable[[Article, Article], Sequence[Span]]


def no_highlights(a: Article, b: Article) -> list[Span]:
    """Marks nothing: the side-by-side view without shared passages."""
    return []


# -- reading the clusters -----------------------------------------------------------------------


def _clean(value: str) -> str:
    """A string from JSON that can be written as UTF-8: ``\\ud800`` escapes decode to lone
    surrogates, which are replaced."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def _text_field(record: Mapping[str, Any], name: str, where: str, *, required: bool = False) -> str | None:
    value = record.get(name)
    if value is None:
        if required:
            raise InputError(f"{where}: missing {name!r}; give the JSON Lines that dedup cluster writes")
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: {name} must be a string, got {type(value).__name__}")
    return _clean(value)


def _required(record: Mapping[str, Any], name: str, where: str) -> str:
    value = _text_field(record, name, where, required=True)
    return value if value is not None else ""


def _number(record: Mapping[str, Any], name: str, where: str) -> float | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where}: {name} must be a number, got {type(value).__name__}")
    return float(value)


def member_from_dict(record: Any, where: str) -> Member:
    """A member of a cluster as ``Member.to_dict`` writes it."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: a member must be a JSON object, got {type(record).__name__}")
    member_id = _required(record, "id", where)
    relation = _required(record, "relation", where)
    try:
        rel = Relation(relation)
    except ValueError:
        known = ", ".join(str(r) for r in present.RELATIONS)
        raise InputError(f"{where}: unknown relation {relation!r}; the relations are {known}") from None
    return Member(
        id=member_id,
        relation=rel,
        matched=_text_field(record, "matched", where),
        score=_number(record, "score", where) or 0.0,
        containment_in_earliest=_number(record, "containment_in_earliest", where),
        earliest_in_member=_number(record, "earliest_in_member", where),
        time=_text_field(record, "time", where),
        source=_text_field(record, "source", where),
        url=_text_field(record, "url", where),
        title=_text_field(record, "title", where),
    )


def cluster_from_dict(record: Any, where: str = "record") -> Cluster:
    """A cluster as ``Cluster.to_dict`` writes it (one line of ``dedup cluster``'s output).
    Raises an ``InputError`` naming ``where`` for anything else."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a cluster object, got {type(record).__name__}")
    cluster_id = _required(record, "cluster", where)
    earliest = _required(record, "earliest", where)
    members = record.get("members")
    if not isinstance(members, list) or not members:
        raise InputError(f"{where}: 'members' must be a non-empty list; give the JSON Lines that dedup cluster writes")
    parsed = tuple(member_from_dict(m, f"{where}, member {i + 1}") for i, m in enumerate(members))
    if earliest not in {m.id for m in parsed}:
        raise InputError(f"{where}: the earliest {earliest!r} is not one of the cluster's members")
    evidence = record.get("evidence") or {}
    if not isinstance(evidence, dict):
        raise InputError(f"{where}: evidence must be an object, got {type(evidence).__name__}")
    values = evidence.get("values")
    return Cluster(
        id=cluster_id,
        members=parsed,
        earliest=earliest,
        evidence=Evidence(
            rule=_text_field(evidence, "rule", where) or "",
            detail=_text_field(evidence, "detail", where) or "",
            values=values if isinstance(values, dict) else {},
        ),
        why=_text_field(record, "why", where) or "",
    )


def _cluster_lines(stream: BinaryIO, name: str) -> Iterator[Cluster]:
    """The clusters of the lines, each article in one of them (files joined twice, or the
    output of two runs, are refused: the page would count their articles twice)."""
    seen: dict[str, int] = {}  # each member's line
    for number, raw in enumerate(stream, 1):
        if raw.strip():
            try:
                record = parse_line(raw, number)
            except InputError as exc:
                raise InputError(f"{name}: {exc}; give the JSON Lines that dedup cluster writes") from exc
            cluster = cluster_from_dict(record, f"{name} line {number}")
            for member in cluster.member_ids:
                if member in seen:
                    raise InputError(
                        f"{name} line {number}: article {member!r} is in a cluster of line {seen[member]} too; "
                        "give the clusters of one run of dedup cluster (or dedup index export)"
                    )
                seen[member] = number
            yield cluster


def read_clusters(path: str) -> list[Cluster]:
    """The clusters of a JSON Lines file written by ``dedup cluster`` (``-``: standard input)."""
    if path == "-":
        return list(_cluster_lines(sys.stdin.buffer, "standard input"))
    try:
        fh = Path(path).open("rb")  # noqa: SIM115  # closed by the with below
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; give the JSON Lines file that dedup cluster wrote") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); give a JSON Lines file") from exc
    with fh:
        return list(_cluster_lines(fh, path))


def ids_to_compare(clusters: Iterable[Cluster]) -> set[str]:
    """The ids whose texts the page embeds: the members of clusters with copies."""
    return {m.id for c in clusters if len(c) > 1 for m in c.members}


def read_texts(path: str, wanted: set[str], on_skip: Callable[[Skip], None]) -> dict[str, Article]:
    """The articles named in ``wanted`` from a JSON Lines file or a folder of .txt files (as
    ``dedup cluster`` reads them); the others are not kept."""
    found: dict[str, Article] = {}
    for article in read_articles(path, on_skip):
        if article.id in wanted and article.id not in found:
            found[article.id] = article
    return found


# -- the page -----------------------------------------------------------------------------------


def direction(text: str) -> str:
    """``rtl`` or ``ltr`` after the first letter with a strong direction (Arabic, Hebrew: right to
    left), ``auto`` when none is found."""
    for ch in text[:_DIRECTION_SCAN]:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "auto"


def _utf16(text: str) -> Callable[[int], int]:
    """Character offsets to the UTF-16 offsets a browser's strings count (letters beyond U+FFFF,
    such as emoji, take two)."""
    if all(ord(ch) <= 0xFFFF for ch in text):
        return lambda i: i
    ends = [0]
    for ch in text:
        ends.append(ends[-1] + (2 if ord(ch) > 0xFFFF else 1))
    return lambda i: ends[i]


def _merged(ranges: Iterable[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Ranges clipped to the text, sorted and joined where they touch or overlap."""
    out: list[tuple[int, int]] = []
    for start, end in sorted((max(0, s), min(length, e)) for s, e in ranges):
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _marks(text: str, ranges: Iterable[tuple[int, int]]) -> list[list[int]]:
    at = _utf16(text)
    return [[at(s), at(e)] for s, e in _merged(ranges, len(text))]


# Only web addresses become links: a javascript: or data: address in a crawled record would run or
# show content of the record's choosing when clicked.
_WEB = re.compile(r"https?://", re.IGNORECASE)


def _attr(value: str) -> str:
    return escape(value, quote=True)


def _bidi(value: str, tag: str = "span", cls: str = "") -> str:
    """A string from the input in an element of its own direction, escaped."""
    klass = f' class="{cls}"' if cls else ""
    return f'<{tag}{klass} dir="{direction(value)}">{escape(value)}</{tag}>'


def _figures(m: Member) -> str:
    if m.relation is Relation.EARLIEST:
        return ""
    parts = [f"score {m.score:.2f}"]
    if m.containment_in_earliest is not None:
        parts.append(f"in earliest {m.containment_in_earliest:.2f}")
    if m.earliest_in_member is not None:
        parts.append(f"earliest in it {m.earliest_in_member:.2f}")
    return ", ".join(parts)


def _member_row(m: Member, c: Cluster, comparable: bool) -> str:
    outlet = _bidi(m.source) if m.source else '<span class="none">—</span>'
    link = m.url is not None and _WEB.match(m.url) is not None
    title = _bidi(m.title, "a" if link else "span") if m.title else '<span class="none">—</span>'
    if m.title and m.url and link:
        title = title.replace("<a ", f'<a href="{_attr(m.url)}" rel="noreferrer noopener" ', 1)
    action = ""
    if m.relation is not Relation.EARLIEST:
        if comparable:
            action = f'<button type="button" class="compare" data-member="{_attr(m.id)}">compare</button>'
        else:
            action = '<span class="none" title="its text or the earliest\'s is not in --articles">no text</span>'
    via = (
        f" via {escape(m.matched)}"
        if m.matched and m.matched != c.earliest and m.relation is not Relation.EARLIEST
        else ""
    )
    return (
        f'<tr class="{_attr(str(m.relation))}"><td class="rel">{escape(str(m.relation))}</td>'
        f'<td class="id">{_bidi(m.id)}</td><td class="outlet">{outlet}</td>'
        f'<td class="time">{escape(present.when(m.time))}</td><td class="title">{title}</td>'
        f'<td class="figures">{escape(_figures(m))}{via}</td><td class="action">{action}</td></tr>'
    )


def _search_text(c: Cluster) -> str:
    words = [c.id]
    for m in c.members:
        words.extend(v for v in (m.id, m.source, m.title) if v)
    return " ".join(" ".join(words).split()).lower()


def _cluster_section(c: Cluster, comparable: set[str]) -> str:
    first = present.earliest_member(c)
    size = "1 article" if len(c) == 1 else f"{len(c)} articles"
    outlet = f" · {_bidi(first.source)}" if first.source else ""
    rows = "".join(_member_row(m, c, m.id in comparable) for m in sorted(c.members, key=present.member_order))
    evidence = ""
    if len(c) > 1:
        rule = escape(c.evidence.rule) or "—"
        evidence = (
            f'<p class="evidence"><span class="label">earliest because</span> <code>{rule}</code>: '
            f"{_bidi(c.evidence.detail)}"
            f'<span class="why"> · grouped by: {escape(c.why)}</span></p>'
        )
    kind = "copies" if len(c) > 1 else "single"
    return (
        f'<section class="cluster {kind}" id="{_attr(c.id)}" data-search="{_attr(_search_text(c))}">'
        f'<h2><span class="cid">{escape(c.id)}</span> <span class="size">{size}</span> '
        f'<span class="earliest">earliest: {_bidi(first.id)}{outlet}</span></h2>{evidence}'
        '<table class="members"><thead><tr><th>relation</th><th>id</th><th>outlet</th><th>time</th>'
        f"<th>title</th><th>figures</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
        '<div class="compare-view" hidden></div></section>'
    )


def _data_json(payload: Mapping[str, Any]) -> str:
    """JSON safe inside a script element: ``<``, ``>`` and ``&`` escaped, so that no text can close
    the element (``</script>``) or open a comment."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    for ch, code in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, code)
    return text


def _payload(shown: Sequence[Cluster], texts: Mapping[str, Article], highlight: Highlighter) -> dict[str, Any]:
    """The texts of the clusters with copies and, for each member, the marks of the passages it
    shares with the earliest (UTF-16 offsets, as the page's script slices strings)."""
    embedded: dict[str, dict[str, str]] = {}
    pairs: dict[str, dict[str, Any]] = {}
    for c in shown:
        first = texts.get(c.earliest)
        if len(c) < 2 or first is None:
            continue
        for m in c.members:
            other = texts.get(m.id)
            if m.id == c.earliest or other is None:
                continue
            spans = highlight(first, other)
            pairs[m.id] = {
                "earliest": c.earliest,
                "a": _marks(first.text, ((s.a_start, s.a_end) for s in spans)),
                "b": _marks(other.text, ((s.b_start, s.b_end) for s in spans)),
                "passages": len(spans),
            }
            for art in (first, other):
                if art.id not in embedded:
                    label = " · ".join(v for v in (art.id, art.source, art.title) if v)
                    embedded[art.id] = {"text": art.text, "dir": direction(art.text), "label": label}
    return {"texts": embedded, "pairs": pairs}


def _template() -> str:
    return resources.files("dedup.fronts").joinpath("report.html").read_text(encoding="utf-8")


_SLOT = re.compile(r"\{\{(\w+)\}\}")


def render_report(
    clusters: Iterable[Cluster],
    *,
    texts: Mapping[str, Article] | None = None,
    singletons: bool = False,
    highlight: Highlighter | None = None,
    title: str = "dedup report",
) -> str:
    """The page as a string; see :func:`write_report`."""
    listed = sorted(clusters, key=present.cluster_order)
    copies = [c for c in listed if len(c) > 1]
    single = len(listed) - len(copies)
    shown = listed if singletons else copies
    texts = texts or {}
    payload = _payload(copies, texts, highlight or no_highlights)
    summary = (
        f"{len(listed):,} clusters: {len(copies):,} with copies ({sum(len(c) for c in copies):,} articles), "
        f"{single:,} single articles"
    )
    if single and not singletons:
        summary += " (not listed: dedup report --singletons lists them)"
    if copies and not texts:
        summary += ". No texts given: dedup report --articles FILE adds the side-by-side view."
    body = "".join(_cluster_section(c, set(payload["pairs"])) for c in shown)
    if not shown:
        body = '<p class="empty">No clusters with copies.</p>'
    slots = {
        "title": escape(title),
        "summary": escape(summary),
        "clusters": body,
        "data": _data_json(payload),
    }
    return _SLOT.sub(lambda m: slots[m.group(1)], _template())


def write_report(
    clusters: Iterable[Cluster],
    out: TextIO,
    *,
    texts: Mapping[str, Article] | None = None,
    singletons: bool = False,
    highlight: Highlighter | None = None,
    title: str = "dedup report",
) -> None:
    """Write the report of ``clusters`` to ``out`` as one self-contained HTML page.

    Args:
        clusters: the clusters, as ``dedup.cluster`` returns them or :func:`read_clusters` reads them.
        out: a text stream (the page is UTF-8).
        texts: the articles by id, for the side-by-side view (only members of clusters with copies
            are used; see :func:`ids_to_compare`).
        singletons: list the single articles too (by default they are only counted).
        highlight: the shared passages of the earliest and a member, as character offsets into
            each text; by default :func:`shared_highlights`.
        title: the page's title.
    """
    out.write(
        render_report(
            clusters,
            texts=texts,
            singletons=singletons,
            highlight=highlight if highlight is not None else shared_highlights(),
            title=title,
        )
    )


def shared_highlights(config: DedupConfig | None = None) -> Highlighter:
    """The passages the earliest and a member share (``dedup.stages.explain.shared_spans``), found as
    verification finds them under ``config``."""

    def highlight(a: Article, b: Article) -> list[SharedSpan]:
        return shared_spans(a, b, config)

    return highlight
