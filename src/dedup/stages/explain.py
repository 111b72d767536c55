"""See why: the shared passages of two articles as spans of their original text.

The verifier works on hashed comparison words (folded, diacritics and tatweel removed, Arabic
conjunctions cut, furniture dropped), and the index keeps no text. To show a decision on the
articles as written, the two texts are analyzed again through the reference path
(``shingle.tokens``) while keeping, for each comparison word, the [start, end) range of characters
it came from in the text as given (:func:`word_map`). The fold maps characters one by one
(``normalize.fold_table``): a character may fold to nothing (a combining mark, tatweel, a format
character), to one character, or to several (an NFKC expansion such as the ligature ``ﷺ``, four
words from one character); a word's range runs from the character its first letter came from to
the one its last letter came from, and takes in the characters around it that fold to nothing
(a final mark, tatweel) and the conjunction ``و`` cut off its start, so that it covers the whole
word as written.

:func:`shared_spans` is the one-call form for two articles (no index, so no learned boilerplate);
``Deduplicator.compare`` and ``Deduplicator.add(..., spans=True)`` fill the same offsets into
their matches' passages (:func:`with_spans`).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.config import DedupConfig
from dedup.fronts.io import read_jsonl
from dedup.records import Article, Cluster, Match, MemberSpan, SharedPassage
from dedup.stages.formula import RULE as FORMULA
from dedup.stages.normalize import _SOLO, MARK, fold_astral, fold_table, furniture_segments
from dedup.stages.prepare import check_article
from dedup.stages.shingle import _PUNCT_BUT_MARK, _SENTENCE_END, Vocabulary, analyze_reference, kgram_hashes
from dedup.stages.verify import ASIDE, QUOTED, compare

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

_ZWSP = "\u200b"
_VISIBLE_SPACE = re.compile(r"[^\S\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_ARABIC_LETTER = re.compile("[\u0621-\u064a]")
_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class SharedSpan:
    """One passage of ``a`` found again in ``b``: ``a_text[a_start:a_end]`` is the passage's
    original words in ``a`` (and the same in ``b``); ``overlap`` is the share of the passage's
    shingles found in the other."""

    a_start: int
    a_end: int
    b_start: int
    b_end: int
    overlap: float


@dataclass(frozen=True, slots=True)
class WordMap:
    """Where each comparison word of a text comes from: word ``i`` was read from
    ``text[starts[i]:ends[i]]``. ``dropped`` holds the [start, end) character ranges of the lines and sentences
    left out as furniture (or too short to be prose)."""

    starts: I64
    ends: I64
    dropped: tuple[tuple[int, int], ...]
    hashes: U64

    def __len__(self) -> int:
        return len(self.starts)

    def span(self, words: tuple[int, int]) -> tuple[int, int]:
        """The characters of the words ``words[0]:words[1]`` (an empty range for no words)."""
        first, end = words
        if end <= first:
            return (0, 0)
        return int(self.starts[first]), int(self.ends[end - 1])


def _folded_pieces(text: str) -> list[str]:
    """The fold of each character of ``text`` (``normalize.fold_keep`` character by character):
    ``"".join(_folded_pieces(t)) == fold_keep(t)``."""
    chars = list(text)
    # "\r\n" is one line break: the "\r" carries it, the "\n" folds to nothing
    for i in range(len(chars) - 1):
        if chars[i] == "\r" and chars[i + 1] == "\n":
            chars[i], chars[i + 1] = "\n", ""
    if _ZWSP in text:
        _place_zero_width_spaces(chars)
    joined = "".join(chars)
    if joined.isascii():
        return [c.lower().translate(_ASCII_BREAKS) for c in chars]
    mapping = fold_table().mapping
    out = []
    for c in chars:
        if len(c) == 1 and c > "\uffff":
            out.append(fold_astral(c).translate(mapping))
        else:
            out.append(c.translate(mapping))
    return out


_ASCII_BREAKS = str.maketrans({"\r": "\n", "\x0b": "\n", "\x0c": "\n"})


def _place_zero_width_spaces(chars: list[str]) -> None:
    """``normalize.place_zero_width_spaces`` on a list of characters, in place (a removed one
    becomes ``""``), so that each stays at its index."""
    joined = "".join(chars)
    # index of each joined character in ``chars`` (an emptied "\n" of "\r\n" has none)
    where = [i for i, c in enumerate(chars) if c]
    at = 0
    for line in joined.splitlines(keepends=True):
        if _ZWSP in line:
            replacement = "" if _VISIBLE_SPACE.search(line) else " "
            for j, c in enumerate(line):
                if c == _ZWSP:
                    chars[where[at + j]] = replacement
        at += len(line)


def _tokens_with_ranges(text: str, config: DedupConfig) -> tuple[list[str], I64, I64, list[tuple[int, int]]]:
    """``shingle.tokens`` of ``text`` (sentence marks left out) with each token's range of
    characters in ``text``, and the character ranges of the dropped lines and sentences."""
    pieces = _folded_pieces(text)
    folded = "".join(pieces)
    origin = np.repeat(np.arange(len(pieces), dtype=np.int64), [len(p) for p in pieces])
    # sentence ends become " MARK " (three characters from one), as in ``shingle.tokens``
    marked, origin = _spaced_out(folded, origin, _SENTENCE_END, lambda _: MARK)
    spaced = _PUNCT_BUT_MARK.sub(" ", marked)
    drop = furniture_segments(spaced, config.normalize, ignore=MARK)
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    dropped: list[tuple[int, int]] = []
    at = 0
    # characters that fold to nothing and belong to the word they touch: marks, tatweel, hamza
    empty = [not p and unicodedata.category(c)[0] in "LM" for p, c in zip(pieces, text, strict=True)]
    for line, gone in zip(spaced.split("\n"), drop, strict=True):
        # a wholly dropped line is one range; otherwise each segment (cut at the sentence marks)
        segments = [line] if all(gone) else line.split(MARK)
        for segment, is_dropped in zip(segments, [True] if all(gone) else gone, strict=True):
            if is_dropped:
                if segment.replace(MARK, " ").strip():  # a segment of words, not of punctuation alone
                    # a sentence starts at its first word: the space before it came from the
                    # previous sentence's end
                    lead = 0 if len(segments) == 1 else len(segment) - len(segment.lstrip(" "))
                    dropped.append((int(origin[at + lead]), int(origin[at + len(segment) - 1]) + 1))
            else:
                _line_tokens(segment, origin[at : at + len(segment)], config, empty, words, starts, ends)
            at += len(segment) + 1
    return words, np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64), dropped


def _spaced_out(
    text: str, origin: I64, pattern: re.Pattern[str], one: Callable[[re.Match[str]], str]
) -> tuple[str, I64]:
    """``text`` with each match of ``pattern`` replaced by `` X `` (``X = one(match)``, a single
    character), and the origin of every character of the result: the three new ones come from the
    match's first character."""
    parts, origins, last = [], [], 0
    for m in pattern.finditer(text):
        parts += [text[last : m.start()], f" {one(m)} "]
        origins += [origin[last : m.start()], np.full(3, origin[m.start()])]
        last = m.end()
    parts.append(text[last:])
    origins.append(origin[last:])
    return "".join(parts), np.concatenate(origins)


def _line_tokens(
    line: str,
    origin: I64,
    config: DedupConfig,
    empty: list[bool],
    words: list[str],
    starts: list[int],
    ends: list[int],
) -> None:
    """Append the words of one kept line (``split_solo``, the conjunction cut) with their ranges."""
    if _SOLO.search(line):
        line, origin = _spaced_out(line, origin, _SOLO, lambda m: m.group())
    cut = config.shingle.strip_arabic_conjunction
    n = len(empty)
    for m in _TOKEN.finditer(line):
        token = m.group()
        if token == MARK:
            continue
        start, end = int(origin[m.start()]), int(origin[m.end() - 1]) + 1
        if cut and token[0] == "و" and len(token) >= 4 and all(_ARABIC_LETTER.match(c) for c in token[1:4]):
            token = token[1:]
        while start > 0 and empty[start - 1]:
            start -= 1
        while end < n and empty[end]:
            end += 1
        words.append(token)
        starts.append(start)
        ends.append(end)


def word_map(text: str, config: DedupConfig | None = None) -> WordMap:
    """The :class:`WordMap` of ``text``: where each comparison word the verifier sees came from."""
    config = config or DedupConfig()
    words, starts, ends, dropped = _tokens_with_ranges(text, config)
    vocabulary = Vocabulary()
    return WordMap(starts, ends, tuple(dropped), vocabulary.hashes[vocabulary.ids(words)])


def comparison_words(text: str, config: DedupConfig | None = None) -> list[str]:
    """The comparison words of ``text`` as :func:`word_map` reads them (``shingle.tokens``
    without the sentence marks; a test holds the two equal)."""
    return _tokens_with_ranges(text, config or DedupConfig())[0]


def with_spans(
    passages: Sequence[SharedPassage], a_text: str, b_text: str, a_map: WordMap, b_map: WordMap, k: int
) -> tuple[SharedPassage, ...]:
    """``passages`` with their character offsets and original words filled from the word maps of
    the two texts. Each pair of passages is narrowed to the words its shared ``k``-grams cover (a
    sentence of ``a`` may hold a passage of ``b`` and more)."""
    out = []
    for p in passages:
        a_words, b_words = _narrowed(a_map.hashes, p.a_words, b_map.hashes, p.b_words, k)
        a0, a1 = a_map.span(a_words)
        b0, b1 = b_map.span(b_words)
        out.append(replace(p, a_start=a0, a_end=a1, b_start=b0, b_end=b1, a_text=a_text[a0:a1], b_text=b_text[b0:b1]))
    return tuple(out)


def _narrowed(
    a: U64, a_words: tuple[int, int], b: U64, b_words: tuple[int, int], k: int
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The word ranges of the two passages narrowed to their ``k``-grams found in the other."""
    ga = kgram_hashes(a[a_words[0] : a_words[1]], k)
    gb = kgram_hashes(b[b_words[0] : b_words[1]], k)
    in_b, in_a = np.flatnonzero(np.isin(ga, gb)), np.flatnonzero(np.isin(gb, ga))
    if len(in_b) == 0 or len(in_a) == 0:
        return a_words, b_words
    width_a = min(k, a_words[1] - a_words[0])
    width_b = min(k, b_words[1] - b_words[0])
    return (
        (a_words[0] + int(in_b[0]), a_words[0] + int(in_b[-1]) + width_a),
        (b_words[0] + int(in_a[0]), b_words[0] + int(in_a[-1]) + width_b),
    )


def match_with_spans(match: Match, a_text: str, b_text: str, config: DedupConfig) -> Match:
    """``match`` with its passages' offsets filled (the two texts analyzed again)."""
    if not match.shared_passages:
        return match
    a_map, b_map = word_map(a_text, config), word_map(b_text, config)
    passages = with_spans(match.shared_passages, a_text, b_text, a_map, b_map, config.shingle.passage_k)
    return replace(match, shared_passages=passages)


def spans_of(passages: Sequence[SharedPassage]) -> list[SharedSpan]:
    """The passages (offsets filled) as :class:`SharedSpan`, sorted by ``a_start``, those that
    overlap in either text merged into one (its overlap the mean of theirs, weighted by length)."""
    spans = [
        SharedSpan(p.a_start, p.a_end, p.b_start, p.b_end, p.overlap)
        for p in passages
        if p.a_start is not None and p.a_end is not None and p.b_start is not None and p.b_end is not None
    ]
    merged: list[SharedSpan] = []
    for span in sorted(spans, key=lambda s: (s.a_start, s.b_start)):
        # a merged span may reach spans merged before it: merge until none overlaps the new one
        while True:
            hit = next((m for m in merged if _overlap(m, span)), None)
            if hit is None:
                break
            merged.remove(hit)
            span = _merge(hit, span)
        merged.append(span)
    return sorted(merged, key=lambda s: (s.a_start, s.b_start))


def _overlap(s: SharedSpan, t: SharedSpan) -> bool:
    return (s.a_start < t.a_end and t.a_start < s.a_end) or (s.b_start < t.b_end and t.b_start < s.b_end)


def _merge(s: SharedSpan, t: SharedSpan) -> SharedSpan:
    ws, wt = s.a_end - s.a_start, t.a_end - t.a_start
    overlap = (ws * s.overlap + wt * t.overlap) / max(ws + wt, 1)
    return SharedSpan(
        min(s.a_start, t.a_start), max(s.a_end, t.a_end), min(s.b_start, t.b_start), max(s.b_end, t.b_end), overlap
    )


def compare_texts(a: Article, b: Article, config: DedupConfig | None = None) -> Match:
    """Compare two articles exactly (no index: no learned boilerplate), their shared passages
    with offsets into the texts as given."""
    config = config or DedupConfig()
    vocabulary = Vocabulary()
    docs = [analyze_reference(x.text, config.normalize, config.shingle, vocabulary, keep_text=True) for x in (a, b)]
    match = compare(a.id, docs[0], b.id, docs[1], verify=config.verify, shingle=config.shingle)
    return match_with_spans(match, a.text, b.text, config)


def shared_spans(a: Article, b: Article, config: DedupConfig | None = None) -> list[SharedSpan]:
    """The passages of ``a`` found again in ``b``, as spans of both original texts, sorted by
    ``a_start``; spans within one text do not overlap.

    >>> a = Article(id="a", text="...")  # doctest: +SKIP
    >>> [a.text[s.a_start : s.a_end] for s in shared_spans(a, b)]  # doctest: +SKIP
    """
    return spans_of(compare_texts(a, b, config).shared_passages)


# -- the members of clusters against their earliest ------------------------------------------------
def clusters_with_spans(clusters: Iterable[Cluster], texts: Mapping[str, str], config: DedupConfig) -> list[Cluster]:
    """``clusters`` with each member of a cluster with copies, other than the earliest, given its
    passages shared with the earliest (``Member.shared``: offsets into both texts as given, and
    their words). ``texts`` holds the text of each such member by id (:func:`texts_of_jsonl` reads
    them from a JSON Lines file); a singleton is returned as it is. The two texts of each pair
    are compared again exactly (no index: no learned boilerplate), the earliest's analyzed once
    per cluster."""
    out = []
    for cluster in clusters:
        if len(cluster) < 2:
            out.append(cluster)
            continue
        earliest_text = texts[cluster.earliest]
        vocabulary = Vocabulary()
        earliest_doc = analyze_reference(earliest_text, config.normalize, config.shingle, vocabulary)
        earliest_map = word_map(earliest_text, config)
        members = []
        for member in cluster.members:
            if member.id == cluster.earliest:
                members.append(member)
                continue
            text = texts[member.id]
            doc = analyze_reference(text, config.normalize, config.shingle, vocabulary)
            match = compare(
                member.id, doc, cluster.earliest, earliest_doc, verify=config.verify, shingle=config.shingle
            )
            passages = match.shared_passages
            if passages:
                k = config.shingle.passage_k
                passages = with_spans(passages, text, earliest_text, word_map(text, config), earliest_map, k)
            shared = tuple(
                MemberSpan(s.a_start, s.a_end, s.b_start, s.b_end, s.overlap, text[s.a_start : s.a_end],
                           earliest_text[s.b_start : s.b_end])
                for s in spans_of(passages)
            )  # fmt: skip
            members.append(replace(member, shared=shared))
        out.append(replace(cluster, members=tuple(members)))
    return out


def ids_with_copies(clusters: Iterable[Cluster]) -> set[str]:
    """The ids of the members of the clusters with copies: the texts :func:`clusters_with_spans` needs."""
    return {m.id for c in clusters if len(c) > 1 for m in c.members}


def texts_of_jsonl(path: str | os.PathLike[str], wanted: set[str]) -> dict[str, list[str]]:
    """The texts of the articles ``wanted`` of a JSON Lines file, read again by id: every text
    given under each id, in order (:func:`kept_texts` picks the one the batch engine kept; bad
    lines are passed over, as the engine skipped them)."""
    out: dict[str, list[str]] = {}
    with open(path, "rb") as fh:
        for article in read_jsonl(fh, lambda skip: None):
            if article.id in wanted:
                out.setdefault(article.id, []).append(article.text)
    return out


def keeping_texts(articles: Iterable[Article], texts: dict[str, list[str]]) -> Iterator[Article]:
    """``articles`` as they are, each one's text kept in ``texts`` under its id (every text given
    under an id, in order: :func:`kept_texts` picks the one the batch engine kept)."""
    for article in articles:
        if isinstance(article, Article):
            texts.setdefault(article.id, []).append(article.text)
        yield article


def kept_texts(candidates: Mapping[str, list[str]], config: DedupConfig) -> dict[str, str]:
    """The text of each id as the batch engine kept it: the first one given that it could use
    (not too long, not empty, with words left once the furniture is dropped); an id given
    once has the one text the engine read."""
    out = {}
    for article_id, texts in candidates.items():
        usable = texts if len(texts) == 1 else [t for t in texts if _usable(t, config)]
        if usable:
            out[article_id] = usable[0]
    return out


def _usable(text: str, config: DedupConfig) -> bool:
    """Whether the batch engine prepares ``text`` rather than skipping it (``prepare.check_article``,
    and an ``EmptyTextError`` for a text with no comparison words)."""
    return len(text) <= config.max_chars and bool(text.strip()) and bool(comparison_words(text, config))


# -- the explanation of one decision --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Explanation:
    """Why two articles are (or are not) copies: the comparison (``match``: decision, scores,
    rule, relation), the shared passages as spans of both texts, and the character ranges of each
    text that were left out of the comparison: ``ignored_a``/``ignored_b`` (furniture lines, and
    with an index its learned boilerplate sentences), each with what it was."""

    a: Article
    b: Article
    match: Match
    spans: tuple[SharedSpan, ...]
    ignored_a: tuple[tuple[int, int, str], ...]
    ignored_b: tuple[tuple[int, int, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """For JSON output: the match, the spans with their original words, what was ignored."""
        match = self.match.to_dict()

        def ignored(text: str, ranges: tuple[tuple[int, int, str], ...]) -> list[dict[str, Any]]:
            return [{"start": s, "end": e, "kind": kind, "text": text[s:e]} for s, e, kind in ranges]

        return {
            "a": self.a.id,
            "b": self.b.id,
            "is_copy": self.match.is_copy,
            "relation": str(self.match.relation),
            "rule": self.match.rule,
            **{k: match[k] for k in ("score", "jaccard", "containment_a", "containment_b")},
            **{k: match[k] for k in ("passage_coverage_a", "passage_coverage_b", "ignored_boilerplate")},
            "spans": [
                {
                    "a_start": s.a_start,
                    "a_end": s.a_end,
                    "b_start": s.b_start,
                    "b_end": s.b_end,
                    "overlap": round(s.overlap, 4),
                    "a_text": self.a.text[s.a_start : s.a_end],
                    "b_text": self.b.text[s.b_start : s.b_end],
                }
                for s in self.spans
            ],
            "ignored_a": ignored(self.a.text, self.ignored_a),
            "ignored_b": ignored(self.b.text, self.ignored_b),
        }


FURNITURE = "furniture"  # a line dropped as site furniture or too short to be prose
BOILERPLATE = "learned_boilerplate"  # a sentence the index learned as boilerplate of its source


def explain(
    a: Article,
    b: Article,
    config: DedupConfig | None = None,
    *,
    match: Match | None = None,
    boilerplate: tuple[Sequence[tuple[int, int]], Sequence[tuple[int, int]]] = ((), ()),
) -> Explanation:
    """The :class:`Explanation` of ``a`` against ``b``. Without ``match`` they are compared here
    (no index, no learned boilerplate); an index gives its ``Deduplicator.compare`` match (offsets
    filled) and ``boilerplate``, its learned boilerplate ranges of each (``boilerplate_spans``)."""
    config = config or DedupConfig()
    if match is None:
        for article in (a, b):
            check_article(article, config)  # (an empty text is refused here as everywhere)
        match = compare_texts(a, b, config)
    ignored = []
    for article, learned in zip((a, b), boilerplate, strict=True):
        ranges = [(s, e, FURNITURE) for s, e in word_map(article.text, config).dropped]
        ranges += [(s, e, BOILERPLATE) for s, e in learned]
        ignored.append(tuple(sorted(ranges)))
    return Explanation(a, b, match, tuple(spans_of(match.shared_passages)), ignored[0], ignored[1])


# -- showing it ---------------------------------------------------------------------------------
_SHARED_ON, _SHARED_OFF = "\x1b[7m", "\x1b[27m"  # reverse video
_IGNORED_ON, _IGNORED_OFF = "\x1b[2m", "\x1b[22m"  # faint
PLAIN_SHARED = ("[[", "]]")
PLAIN_IGNORED = ("{{", "}}")
# Right-to-left isolate and pop directional isolate (Unicode's bidi algorithm, UAX #9).
_RLI, _PDI = "\u2067", "\u2069"
_STRONG_RTL = frozenset(("R", "AL"))
_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _rtl(line: str) -> bool:
    """Whether the first strongly directional character of ``line`` (colour codes aside) is right
    to left."""
    for c in _ESCAPE.sub("", line):
        kind = unicodedata.bidirectional(c)
        if kind in _STRONG_RTL:
            return True
        if kind == "L":
            return False
    return False


def marked(text: str, marks: Sequence[tuple[int, int, str]], *, color: bool) -> str:
    """``text`` with each range of ``marks`` (start, end, ``"shared"`` or another kind) marked: in
    reverse video (shared) or faint (ignored) with ``color``, else between ``[[ ]]`` and ``{{ }}``.
    With ``color`` (a terminal), each line whose first strong character is right to left (Arabic,
    Hebrew) is wrapped in a right-to-left isolate (U+2067 ... U+2069), so that a terminal that
    applies the bidi algorithm shows it right to left; the characters stay in logical order."""
    pieces: list[str] = []
    at = 0
    for start, end, kind in sorted(marks):
        if start < at or end <= start:
            continue  # overlapping or empty: the first one is shown
        on, off = (_SHARED_ON, _SHARED_OFF) if kind == "shared" else (_IGNORED_ON, _IGNORED_OFF)
        if not color:
            on, off = PLAIN_SHARED if kind == "shared" else PLAIN_IGNORED
        # a mark is closed at each line end and opened again, so that every line stands alone
        inner = text[start:end].replace("\n", f"{off}\n{on}")
        pieces += [text[at:start], on, inner, off]
        at = end
    pieces.append(text[at:])
    out = "".join(pieces)
    if not color:
        return out
    return "\n".join(f"{_RLI}{line}{_PDI}" if _rtl(line) else line for line in out.split("\n"))


# What a refusal whose scores look like a copy's means, by rule.
_WHY = {
    ASIDE: (
        "the text the two share is a small part of the longer article (VerifyConfig.aside_share, a fifth "
        "by default) and begins only late in it (aside_after, half of its words by default): the shorter "
        "one is a side item of it, such as a paragraph near the end of a roundup, not a copy"
    ),
    QUOTED: (
        "what the two share is mostly quoted speech, in quotation marks in both, while the shorter one tells "
        "the event in words of its own (VerifyConfig.quoted_speech): two reports that quote the same "
        "statement, not a copy"
    ),
    FORMULA: (
        "the words they share are a formula their outlets print on story after story (FormulaConfig): "
        "without them too little is shared"
    ),
}


def render(explanation: Explanation, *, color: bool) -> str:
    """The explanation for people: the decision, the scores, what was ignored, and both texts with
    the shared passages marked (see :func:`marked`)."""
    e, m = explanation, explanation.match
    verdict = f"a copy ({m.relation}, rule {m.rule})" if m.is_copy else f"not a copy (rule {m.rule})"
    shared, ignored = ("reverse video", "faint") if color else ("[[ ]]", "{{ }}")
    lines = [
        f"a: {e.a.id}",
        f"b: {e.b.id}",
        f"decision: {verdict}",
        *([f"why: {_WHY[m.rule]}"] if not m.is_copy and m.rule in _WHY else []),
        f"scores: score {m.score:.3f}  jaccard {m.jaccard:.3f}  containment a in b {m.containment_a:.3f}  "
        f"b in a {m.containment_b:.3f}  passage coverage a {m.passage_coverage_a:.3f}  b {m.passage_coverage_b:.3f}",
        f"shared passages: {len(e.spans)} (marked {shared})",
    ]
    for name, ranges in (("a", e.ignored_a), ("b", e.ignored_b)):
        kinds = [kind for _, _, kind in ranges]
        lines.append(
            f"ignored in {name} (marked {ignored}): {kinds.count(FURNITURE)} furniture line(s), "
            f"{kinds.count(BOILERPLATE)} learned boilerplate sentence(s)"
        )
    for name, article, spans, ranges in (
        ("a", e.a, [(s.a_start, s.a_end, "shared") for s in e.spans], e.ignored_a),
        ("b", e.b, [(s.b_start, s.b_end, "shared") for s in e.spans], e.ignored_b),
    ):
        lines += [
            "",
            f"--- {name}: {article.id} ---",
            marked(article.text.rstrip("\n"), [*spans, *ranges], color=color),
        ]
    return "\n".join(lines) + "\n"
