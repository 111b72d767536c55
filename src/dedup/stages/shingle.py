"""Stage 2: sentences, words and shingles.

Every word gets a stable 64-bit hash (:func:`word_hash`: FNV-1a over its code points, then
MurmurHash3's ``fmix64``; never Python's salted ``hash()``), so shingles and signatures are the same in
every process and on every machine. Word k-gram shingles are combined from the word hashes with array
maths (no shingle strings are built): the k-gram hash is ``fmix64(sum_j word[i+j] * C_j)`` over 64-bit
wrap-around arithmetic, with fixed odd constants ``C_j`` (``kernels.hashing.POSITION_MULTIPLIERS``).

:func:`analyze` turns a text into a :class:`Shingled` record: its words (hashed), its sentences, its
passages (sentences of ``min_passage_words`` to ``max_passage_words`` words, longer ones cut evenly),
a fingerprint per sentence (for learned boilerplate), the sorted unique document shingles, and
those of them that lie in quoted speech (:func:`quoted_words`); :func:`sentence_keys` gives each
sentence a near key (boilerplate learning reads both). Two paths compute it, bit for bit alike (a
hypothesis test compares them on random text):

- the compiled path (``kernels.text``: ``fold_split_many`` and ``shingle_many``, one call each for a
  whole batch of texts: :func:`analyze_many`), which folds, splits and hashes the code points of the
  text with no Python object per word; only the furniture patterns (regular expressions,
  configurable) run in Python, on the segments that start as one of them can (``normalize.line_prefilter``);
- the reference path (:func:`tokens`: regular expressions over the folded text, then a
  :class:`Vocabulary` of word hashes), which also keeps the sentences' text when asked.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.config import NormalizeConfig, ShingleConfig
from dedup.kernels import arrays as array_kernels
from dedup.kernels import text as text_kernels
from dedup.kernels.hashing import FNV_OFFSET, FNV_PRIME, FP_SALT, MASK64, POSITION_MULTIPLIERS, fmix64_array
from dedup.kernels.text import CLOSE_SINGLE, OPEN_SINGLE, QUOTE_MIN_WORDS
from dedup.stages.normalize import (
    _SOLO,
    CLOSING_MARKS,
    IDEOGRAPHIC_FULL_STOP,
    MARK,
    QUOTE_MARKS,
    SENTENCE_ENDS,
    LinePrefilter,
    count_words,
    fold_astral,
    fold_keep,
    fold_table,
    furniture_patterns,
    furniture_segments,
    line_matcher,
    line_prefilter,
    place_zero_width_spaces,
    split_solo,
)

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]
_NO_SHINGLES = np.empty(0, dtype=np.uint64)

_ABBREVIATIONS = (
    "mr mrs ms dr prof gen col lt sgt capt gov sen rep st jr sr inc corp ltd co no vs etc "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.g i.e a.m p.m"
).split()
# The end of a sentence in folded text: . ! ? … ؟ ؛ । (closing quotes may follow) before a space or the
# end of the line, and the ideographic full stop anywhere. A period after a known abbreviation or a
# single letter ("U.S.", "Jan.", "J.") is not.
# The look-behinds come after the punctuation so that the engine only tries them where there is one,
# and the punctuation itself is replaced by the mark (a literal replacement: no template per match).
_NOT_ABBREVIATION = "".join(f"(?<!\\b{re.escape(a)}\\.)" for a in _ABBREVIATIONS) + r"(?<!\b[^\W\d_]\.)"
_SENTENCE_END = re.compile(
    rf"(?:\.{_NOT_ABBREVIATION}|[{re.escape(SENTENCE_ENDS.replace('.', ''))}])(?=[{re.escape(CLOSING_MARKS)}]*(?:\s|$))"
    f"|{IDEOGRAPHIC_FULL_STOP}"
)
# MARK (from normalize) is a sentence boundary among the words: a private-use character, not \w, not \s
_PUNCT_BUT_MARK = re.compile(rf"[^\w\s{MARK}]|_")
_CONJUNCTION = re.compile(r"و(?<!\wو)(?=[\u0621-\u064a]{3})")


def word_hash(word: str) -> int:
    """The stable 64-bit hash of one word (already folded): FNV-1a over its code points, then
    ``fmix64``. Fixed forever: it defines the stored shingles."""
    h = FNV_OFFSET
    for ch in word:
        h = ((h ^ ord(ch)) * FNV_PRIME) & MASK64
    return int(fmix64_array(np.array([h], dtype=np.uint64))[0])


class Vocabulary(dict[str, int]):
    """Word -> dense id, each new word hashed once; ``hashes[id]`` is the word's 64-bit hash. Id 0 is
    the sentence mark. A dict subclass so that look-ups of known words stay in C."""

    def __init__(self) -> None:
        super().__init__()
        self._hashes = np.zeros(1024, dtype=np.uint64)
        self[MARK] = 0
        self._n = 1

    def __missing__(self, word: str) -> int:
        n = self._n
        if n == len(self._hashes):
            self._hashes = np.concatenate([self._hashes, np.zeros(n, dtype=np.uint64)])
        self._hashes[n] = word_hash(word)
        self[word] = n
        self._n = n + 1
        return n

    @property
    def hashes(self) -> U64:
        return self._hashes

    def ids(self, words: list[str]) -> I64:
        return np.fromiter(map(self.__getitem__, words), dtype=np.int64, count=len(words))


def kgram_hashes(words: U64, k: int) -> U64:
    """Hashes of the word k-grams of ``words`` (in order, duplicates kept). A text shorter than
    ``k`` words gives one shingle over all of its words; an empty one gives none."""
    n = len(words)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    k = min(k, n)
    m = n - k + 1
    acc = words[:m] * POSITION_MULTIPLIERS[0]
    with np.errstate(over="ignore"):
        for j in range(1, k):
            acc += words[j : j + m] * POSITION_MULTIPLIERS[j]
    return fmix64_array(acc)


def kept_shingles(doc: Shingled, dropped: list[int], k: int) -> tuple[U64, U64]:
    """The words of ``doc`` without its sentences ``dropped`` (indexes), and the sorted distinct
    k-gram hashes of what is left (the verifier's view of an article with learned boilerplate)."""
    drop = np.array(dropped, dtype=np.int64)
    words, unique = text_kernels.kept_shingles(doc.words, doc.sentence_starts, drop, k, POSITION_MULTIPLIERS)
    return words, unique


def kept_shingles_reference(doc: Shingled, dropped: list[int], k: int) -> tuple[U64, U64]:
    """``kept_shingles`` with numpy (the reference the kernel is tested against)."""
    mask = np.ones(doc.n_words, dtype=bool)
    for i in dropped:
        mask[doc.sentence_starts[i] : doc.sentence_starts[i + 1]] = False
    words = doc.words[mask]
    return words, array_kernels.distinct(kgram_hashes(words, k))


def sentence_fingerprints(words: U64, starts: I64) -> U64:
    """An exact, order-sensitive fingerprint of each sentence ``words[starts[i]:starts[i+1]]``."""
    n_sent = len(starts) - 1
    if n_sent <= 0:
        return np.empty(0, dtype=np.uint64)
    lengths = np.diff(starts)
    local = np.arange(len(words), dtype=np.uint64) - np.repeat(starts[:-1], lengths).astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = fmix64_array(words + local * FP_SALT)
        sums: U64 = np.add.reduceat(mixed, starts[:-1])
    return fmix64_array(sums ^ lengths.astype(np.uint64))


def sentence_keys(doc: Shingled, k: int) -> U64:
    """Each sentence's near key, for boilerplate learning: the least hash of its word k-grams (a
    one-value MinHash of the sentence). A sentence that an outlet edited by a word or two keeps
    its key with a probability near the share of k-grams the two versions have in common; two
    sentences that share no k-gram never share a key. Exact fingerprints tell whether two articles
    carry the same sentence; near keys tell whether they carry a version of it."""
    out: U64 = text_kernels.sentence_keys(doc.words, doc.sentence_starts, k, POSITION_MULTIPLIERS)
    return out


def sentence_keys_reference(doc: Shingled, k: int) -> U64:
    """``sentence_keys`` with numpy (the reference the kernel is tested against)."""
    starts = doc.sentence_starts.tolist()
    keys = [int(kgram_hashes(doc.words[s:e], k).min()) for s, e in pairwise(starts)]
    return np.array(keys, dtype=np.uint64)


@dataclass(frozen=True, slots=True)
class Shingled:
    """A text cut into words, sentences and shingles.

    ``words``: uint64 hash of every word, in order. ``sentence_starts``: offsets into ``words`` where
    each sentence starts (plus ``len(words)`` at the end). ``sentence_fps``: a fingerprint per
    sentence (exact, for boilerplate learning). ``passages``: (start, end) word offsets of the
    passages; ``passage_sentence``: the sentence each passage belongs to. ``passage_shingles``: the
    unique ``passage_k``-gram hashes of every passage, one after the other, passage ``i`` at
    ``passage_offsets[i]:passage_offsets[i + 1]``. ``shingles``: sorted unique document shingle
    hashes. ``quoted``: the sorted unique shingles whose words all lie in quoted speech
    (:func:`quoted_words`; none in most articles). ``sentences``: the sentences in comparison
    form, when asked for (``keep_text``).
    """

    words: U64
    sentence_starts: I64
    sentence_fps: U64
    passages: I64
    passage_sentence: I64
    passage_shingles: U64
    passage_offsets: I64
    shingles: U64
    quoted: U64 = field(default_factory=lambda: _NO_SHINGLES)
    sentences: tuple[str, ...] = ()

    @property
    def n_words(self) -> int:
        return len(self.words)

    @property
    def n_passages(self) -> int:
        return len(self.passages)

    def passage_group(self, i: int) -> U64:
        """The shingles of passage ``i``."""
        return self.passage_shingles[self.passage_offsets[i] : self.passage_offsets[i + 1]]


def _passages(starts: I64, config: ShingleConfig) -> tuple[I64, I64]:
    """Word ranges of the passages (n x 2) and their sentences: each sentence long enough, cut in
    even pieces of at most ``max_passage_words`` when too long."""
    lengths = np.diff(starts)
    ranges: list[tuple[int, int]] = []
    owners: list[int] = []
    for i in np.flatnonzero(lengths >= config.min_passage_words):
        start, n = int(starts[i]), int(lengths[i])
        pieces = -(-n // config.max_passage_words)
        cuts = [start + n * j // pieces for j in range(pieces + 1)]
        ranges.extend(pairwise(cuts))
        owners.extend([int(i)] * pieces)
    return np.array(ranges, dtype=np.int64).reshape(-1, 2), np.array(owners, dtype=np.int64)


def _passage_shingles(words: U64, doc_grams: U64, passages: I64, config: ShingleConfig) -> tuple[U64, I64]:
    """The unique ``passage_k``-grams inside each passage, laid end to end, and their offsets."""
    k = config.passage_k
    grams = doc_grams if k == min(config.k, len(words)) else kgram_hashes(words, k)
    if len(passages) == 0:
        return np.empty(0, dtype=np.uint64), np.zeros(1, dtype=np.int64)
    counts = np.maximum(passages[:, 1] - passages[:, 0] - k + 1, 0)
    owner = np.repeat(np.arange(len(passages)), counts)
    first = np.repeat(passages[:, 0], counts)
    positions = first + (np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts))
    values = grams[positions]
    order = np.lexsort((values, owner))
    values, owner = values[order], owner[order]
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = (values[1:] != values[:-1]) | (owner[1:] != owner[:-1])
    values, owner = values[keep], owner[keep]
    offsets = np.zeros(len(passages) + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=len(passages)), out=offsets[1:])
    return values, offsets


def tokens(text: str, normalize: NormalizeConfig, shingle: ShingleConfig) -> list[str]:
    """The comparison words of ``text`` with sentence marks (``MARK``) between sentences; furniture
    (``normalize.furniture_segments``: short lines, and sentences a pattern matches) is dropped."""
    spaced = _PUNCT_BUT_MARK.sub(" ", _SENTENCE_END.sub(f" {MARK} ", fold_keep(text)))
    drop = furniture_segments(spaced, normalize, ignore=MARK)
    kept = []
    for line, dropped in zip(spaced.split("\n"), drop, strict=True):
        if not all(dropped):
            pieces = line.split(MARK)
            kept.append(f" {MARK} ".join(p for p, gone in zip(pieces, dropped, strict=True) if not gone))
    body = split_solo(f" {MARK} ".join(kept))
    if shingle.strip_arabic_conjunction:
        body = _CONJUNCTION.sub("", body)
    return body.split()


def quoted_words(text: str, normalize: NormalizeConfig) -> list[bool]:
    """For each comparison word of ``text`` (the words of :func:`tokens`, marks aside), whether it
    lies in quoted speech: between two quotation marks on one line, in a quotation of at least
    ``QUOTE_MIN_WORDS`` words (fewer set a name or a term apart, not speech).

    A mark of ``normalize.QUOTE_MARKS`` that no word character stands before opens a quotation
    when none is open, and one that no word character follows, or that follows a sentence end,
    closes the open one (so a mark inside a word, as the Hebrew gershayim in צה"ל, or after a
    number, as the inch in 6", opens nothing, and a feed that runs paragraphs together, "...the
    valley."The mayor...", still closes its quotation); ‘ opens a quotation where it stands before
    a letter and after no word character, and ’ closes it as a mark does (as British papers quote;
    "don’t" and "‘80s" are apostrophes). Word characters here are those of scripts written with
    spaces: Chinese and Japanese put their marks against the characters around them. A quotation
    still open at the end of its line is not read: a stray mark would make the rest of the line (a
    whole article, in a feed that gives it as one line) quoted speech. The words are counted on the
    whole line, furniture included, so that the compiled path (``kernels.text._quotation_mark``)
    decides alike with no look at what is dropped."""
    folded = fold_keep(text)
    # each sentence end (one character) becomes " MARK ": where a character of the folded text
    # stands in the marked one
    ends = [m.start() for m in _SENTENCE_END.finditer(folded)]
    marked = _SENTENCE_END.sub(f" {MARK} ", folded)
    spaced = _PUNCT_BUT_MARK.sub(" ", marked)  # one character for one: positions stay
    drop = furniture_segments(spaced, normalize, ignore=MARK)
    out: list[bool] = []
    at_folded = 0
    for folded_line, line, dropped in zip(folded.split("\n"), spaced.split("\n"), drop, strict=True):
        line_start = at_folded + 2 * bisect_left(ends, at_folded)  # where the line starts in ``marked``
        inside = [False] * len(line)
        for first, end in _quotations(folded_line):
            a, b = at_folded + first, at_folded + end
            a, b = a + 2 * bisect_left(ends, a) - line_start, b + 2 * bisect_left(ends, b) - line_start
            inside[a:b] = [True] * (b - a)
        at_folded += len(folded_line) + 1
        if all(dropped):
            continue
        at = 0
        for piece, gone in zip(line.split(MARK), dropped, strict=True):
            if not gone:
                for chunk in _CHUNK.finditer(piece):
                    out.extend([inside[at + chunk.start()]] * count_words(chunk.group()))
            at += len(piece) + 1
    return out


_CHUNK = re.compile(r"\S+")
_LETTER = re.compile(r"[^\W\d_]")
_OPEN_SINGLE, _CLOSE_SINGLE = chr(OPEN_SINGLE), chr(CLOSE_SINGLE)
_ENDS = frozenset(SENTENCE_ENDS + IDEOGRAPHIC_FULL_STOP)


def _is_letter(ch: str) -> bool:
    """Whether ``ch`` is a letter as the text kernel reads it (which takes every word character
    beyond the BMP for one)."""
    return _LETTER.match(ch) is not None or (ch > "\uffff" and _WORD_CHAR.match(ch) is not None)


def _spaced_word(ch: str) -> bool:
    """Whether ``ch`` is a word character of a script written with spaces (not ``SOLO_RANGES``)."""
    return _WORD_CHAR.match(ch) is not None and _SOLO.match(ch) is None


def _quotations(line: str) -> list[tuple[int, int]]:
    """The [start, end) character ranges of the quotations of a folded line that are quoted speech
    (:func:`quoted_words`)."""
    opened, single = -1, False
    spans = []
    n = len(line)
    for i, ch in enumerate(line):
        if ch not in QUOTE_MARKS and ch != _OPEN_SINGLE and ch != _CLOSE_SINGLE:
            continue
        word_before = i > 0 and _spaced_word(line[i - 1])
        closes = (i > 0 and line[i - 1] in _ENDS) or not (i + 1 < n and _spaced_word(line[i + 1]))
        if ch == _OPEN_SINGLE:
            if opened < 0 and not word_before and i + 1 < n and _is_letter(line[i + 1]):
                opened, single = i + 1, True
        elif ch == _CLOSE_SINGLE:
            if opened >= 0 and single and closes:
                spans.append((opened, i))
                opened = -1
        elif opened < 0:
            if not word_before:
                opened, single = i + 1, False
        elif not single and closes:
            spans.append((opened, i))
            opened = -1
    return [
        (first, end)
        for first, end in spans
        if count_words(_PUNCT_BUT_MARK.sub(" ", line[first:end]).replace(MARK, " ")) >= QUOTE_MIN_WORDS
    ]


def analyze(
    text: str,
    normalize: NormalizeConfig,
    shingle: ShingleConfig,
    vocabulary: Vocabulary | None = None,
    *,
    keep_text: bool = False,
) -> Shingled:
    """Cut ``text`` into a :class:`Shingled` record (see the module docstring). ``keep_text`` (the
    sentences' text, for showing shared passages) takes the reference path."""
    if keep_text:
        return analyze_reference(text, normalize, shingle, vocabulary or Vocabulary(), keep_text=keep_text)
    return analyze_compiled(text, normalize, shingle, _NO_PERMUTATIONS)[0]


_NO_PERMUTATIONS = (np.empty(0, dtype=np.uint32),) * 4


def analyze_compiled(
    text: str, normalize: NormalizeConfig, shingle: ShingleConfig, permutations: tuple[U32, U32, U32, U32]
) -> tuple[Shingled, U32, U32]:
    """``analyze`` through the compiled kernels, with the MinHash signatures of the document and of
    its passages for ``permutations`` (a and b of the document's, a and b of the passages'; see
    ``sign.analyze_and_sign``)."""
    return analyze_many([text], normalize, shingle, permutations)[0]


_NO_PREFILTER = LinePrefilter(
    np.empty(0, dtype=np.int64), np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.int64), False
)


def analyze_many(
    texts: Sequence[str], normalize: NormalizeConfig, shingle: ShingleConfig, permutations: tuple[U32, U32, U32, U32]
) -> list[tuple[Shingled, U32, U32]]:
    """``analyze_compiled`` for each of ``texts``, in two compiled calls for them all (each call
    has a fixed cost of its own, not small beside an article's work): fold and split every text and
    flag its lines, try the furniture patterns on the few lines that could match them, then
    shingle and sign every text. The records' arrays are views of arrays shared by the batch."""
    if not texts:
        return []
    split = split_batch(texts, normalize, shingle)
    doc_a, doc_b, passage_a, passage_b = permutations
    bounds, u64, i64, u32 = text_kernels.shingle_many(
        split.words, split.marks, split.quoted, split.gone, split.lines, split.flags, split.offsets, shingle.k,
        shingle.passage_k, shingle.min_passage_words, shingle.max_passage_words, POSITION_MULTIPLIERS, FP_SALT,
        doc_a, doc_b, passage_a, passage_b,
    )  # fmt: skip
    rows = bounds.tolist()
    n_words, n_starts, n_fps, n_pass2, n_pvalues, _, n_shingles, _ = rows[-1]
    n_pass = n_pass2 // 2
    words, u64 = u64[:n_words], u64[n_words:]
    fps, u64 = u64[:n_fps], u64[n_fps:]
    pvalues, u64 = u64[:n_pvalues], u64[n_pvalues:]
    grams, quoted = u64[:n_shingles], u64[n_shingles:]
    starts, i64 = i64[:n_starts], i64[n_starts:]
    passages, i64 = i64[:n_pass2].reshape(-1, 2), i64[n_pass2:]
    owner, poffsets = i64[:n_pass], i64[n_pass:]
    doc_sigs = u32[: len(texts) * len(doc_a)].reshape(len(texts), len(doc_a))
    psigs = u32[len(texts) * len(doc_a) :].reshape(n_pass, len(passage_a))
    out = []
    for t in range(len(texts)):
        (w0, s0, f0, p0, v0, o0, h0, u0), (w1, s1, f1, p1, v1, o1, h1, u1) = rows[t], rows[t + 1]
        q0, q1 = p0 // 2, p1 // 2
        doc = Shingled(
            words[w0:w1], starts[s0:s1], fps[f0:f1], passages[q0:q1], owner[q0:q1], pvalues[v0:v1],
            poffsets[o0:o1], grams[h0:h1], quoted[u0:u1],
        )  # fmt: skip
        out.append((doc, doc_sigs[t], psigs[q0:q1]))
    return out


def document_signatures(
    texts: Sequence[str], normalize: NormalizeConfig, shingle: ShingleConfig, doc_a: U32, doc_b: U32
) -> U32:
    """The document signatures alone of ``texts`` (``sign.text_signatures``), through the compiled
    kernels: one row each, as ``analyze_many`` computes them."""
    split = split_batch(texts, normalize, shingle)
    out: U32 = text_kernels.signatures_many(
        split.words, split.marks, split.quoted, split.gone, split.lines, split.flags, split.offsets, shingle.k, POSITION_MULTIPLIERS,
        doc_a, doc_b,
    )  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class _Split:
    """A batch of texts folded, split and hashed by ``kernels.text.fold_split_many`` (see there), with
    bit 1 of a line's flag set when the line is too short to be prose, ``quoted`` true for each
    word in quoted speech, and ``gone`` true for each word of a segment
    (``normalize.furniture_segments``) a furniture pattern matches."""

    words: U64
    marks: npt.NDArray[np.bool_]
    quoted: npt.NDArray[np.bool_]
    gone: npt.NDArray[np.bool_]
    lines: I64
    flags: npt.NDArray[np.uint8]
    offsets: I64


def split_batch(texts: Sequence[str], normalize: NormalizeConfig, shingle: ShingleConfig) -> _Split:
    """The first compiled call of ``analyze_many``, and the furniture patterns after it on the
    segments the kernel says could match."""
    table = fold_table()
    cps, text_off = _code_points(texts)
    abbr_data, abbr_off = _abbreviation_points()
    patterns = furniture_patterns(normalize)
    pre = line_prefilter(patterns) if normalize.drop_furniture else _NO_PREFILTER
    spaced, lines, flags, words, marks, quoted, offsets, tried = text_kernels.fold_split_many(
        cps, text_off, table.offsets, table.data, table.classes, abbr_data, abbr_off,
        shingle.strip_arabic_conjunction, normalize.min_line_words, normalize.drop_furniture, pre.always,
        pre.data, pre.offsets, pre.first,
    )  # fmt: skip
    gone = np.zeros(len(words), dtype=np.bool_)
    if len(tried):
        matches = line_matcher(patterns).matches_line
        for _, start, end, first, n in tried.tolist():
            if matches(spaced[start:end].tobytes()):
                gone[first : first + n] = True
    return _Split(words, marks, quoted, gone, lines, flags, offsets)


def _code_points(texts: Sequence[str]) -> tuple[npt.NDArray[np.unsignedinteger[Any]], I64]:
    """The texts' code points laid end to end, in 16 bits unless some are beyond (the kernel is
    compiled once per width, and there is no 8-bit width, so that English and other texts share
    one compiled kernel), and where each text starts."""
    joined = texts[0] if len(texts) == 1 else "".join(texts)
    if "\u200b" in joined:  # zero-width spaces are placed before the fold (``place_zero_width_spaces``)
        texts = [place_zero_width_spaces(t) for t in texts]
        joined = "".join(texts)
    cps: npt.NDArray[np.unsignedinteger[Any]]
    raw = joined.encode("utf-16-le", "surrogatepass")
    if len(raw) == 2 * len(joined):
        cps = np.frombuffer(raw, dtype=np.uint16)
    else:
        texts = [_ASTRAL.sub(_astral_for_kernel, t) for t in texts]
        cps = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if len(texts) == 1:
        return cps, np.array((0, len(texts[0])), dtype=np.int64)
    return cps, np.fromiter(accumulate(map(len, texts), initial=0), dtype=np.int64, count=len(texts) + 1)


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_WORD_CHAR = re.compile(r"\w")


def _astral_for_kernel(match: re.Match[str]) -> str:
    """Characters beyond the BMP, folded for the kernel, which takes any of them for a letter: the
    ones that are not word characters (emoji, symbols) become "#", punctuation like them."""
    return "".join(c if c <= "\uffff" or _WORD_CHAR.match(c) else "#" for c in fold_astral(match.group()))


@lru_cache(maxsize=1)
def _abbreviation_points() -> tuple[U32, I64]:
    """The abbreviations that a period does not end, as code points laid end to end (the dotted
    ones, "u.s", end in a single letter, which the kernel's single-letter rule already covers)."""
    plain = [a for a in _ABBREVIATIONS if "." not in a]
    offsets = np.zeros(len(plain) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in plain], out=offsets[1:])
    return np.array([ord(c) for a in plain for c in a], dtype=np.uint32), offsets


def analyze_reference(
    text: str,
    normalize: NormalizeConfig,
    shingle: ShingleConfig,
    vocabulary: Vocabulary,
    *,
    keep_text: bool = False,
) -> Shingled:
    """``analyze`` through the regular-expression path (:func:`tokens`) and a vocabulary."""
    toks = tokens(text, normalize, shingle)
    ids = vocabulary.ids(toks)
    words, starts, fps, passages, owners, values, offsets, unique = text_kernels.shingle_ids(
        ids, vocabulary.hashes, shingle.k, shingle.passage_k, shingle.min_passage_words,
        shingle.max_passage_words, POSITION_MULTIPLIERS, FP_SALT,
    )  # fmt: skip
    in_quotes = np.array(quoted_words(text, normalize), dtype=np.bool_)
    return Shingled(
        words=words,
        sentence_starts=starts,
        sentence_fps=fps,
        passages=passages,
        passage_sentence=owners,
        passage_shingles=values,
        passage_offsets=offsets,
        shingles=unique,
        quoted=text_kernels.quoted_shingles(words, in_quotes, shingle.k, POSITION_MULTIPLIERS),
        sentences=_sentences(toks, starts) if keep_text else (),
    )


def _sentences(toks: list[str], starts: I64) -> tuple[str, ...]:
    words_text = [t for t in toks if t != MARK]
    return tuple(" ".join(words_text[starts[i] : starts[i + 1]]) for i in range(len(starts) - 1))


def _analyze_numpy(
    toks: list[str], ids: I64, shingle: ShingleConfig, vocabulary: Vocabulary, *, keep_text: bool
) -> Shingled:
    """The numpy path of ``analyze`` (the reference the compiled kernel is tested against)."""
    is_word = ids != 0
    # sentence starts: the word count before each mark, deduplicated (empty sentences vanish)
    word_pos = np.cumsum(is_word)
    cuts = np.unique(np.concatenate([[0], word_pos[~is_word], [word_pos[-1] if len(word_pos) else 0]]))
    words = vocabulary.hashes[ids[is_word]]
    starts = cuts if cuts[0] == 0 else np.concatenate([[0], cuts])
    doc_grams = kgram_hashes(words, shingle.k)
    passages, owners = _passages(starts, shingle)
    passage_values, passage_offsets = _passage_shingles(words, doc_grams, passages, shingle)
    return Shingled(
        words=words,
        sentence_starts=starts.astype(np.int64),
        sentence_fps=sentence_fingerprints(words, starts),
        passages=passages,
        passage_sentence=owners,
        passage_shingles=passage_values,
        passage_offsets=passage_offsets,
        shingles=np.unique(doc_grams),
        sentences=_sentences(toks, starts) if keep_text else (),
    )
