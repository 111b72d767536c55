"""Stage 1: normalize text and drop site furniture.

``fold`` is the comparison form of a text: Unicode NFKC, casefolded, every combining mark removed
(Arabic tashkeel and the hamza/madda that NFD splits off alef, waw and ya; Latin accents), tatweel
removed, ٱ→ا, ى→ي, ة→ه, decimal digits of every script (Arabic-Indic, Persian, ...) → ASCII,
punctuation (Arabic ، ؛ ؟ « » too) → space, whitespace collapsed; invisible format characters
removed (the zero-width space becomes a space) and Cyrillic and Greek letters that look like Latin
ones written as those (``а`` → ``a``), so that neither hides a copy. It is idempotent. The fold works
character by character through one table (:func:`fold_table`), which the compiled text kernel
(``kernels.text.fold_split_many``) reads too, so both paths fold alike.

``furniture_segments`` tells which parts of a text are site furniture: lines too short to be prose,
and the sentences of a line that the configured patterns match at their start (``shingle.tokens``
drops them). Words are counted as the
shingler counts them: in scripts written without spaces (Chinese, Japanese, Thai, ...) each
character is a word (``SOLO_RANGES``).
"""

from __future__ import annotations

import contextlib
import re
import re._constants as _c  # type: ignore[import-not-found]  # the parsed form of patterns (literal_prefixes)
import re._parser as _parser  # type: ignore[import-not-found]
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import regex

from dedup import _stored as stored
from dedup.config import NormalizeConfig
from dedup.errors import ConfigError
from dedup.kernels import package_stamp as kernel_sources
from dedup.kernels.hashing import MARK as MARK_POINT
from dedup.kernels.text import (
    CLOSE_SINGLE,
    CLOSING,
    FULL_STOP,
    LETTER,
    OPEN_SINGLE,
    QUOTE,
    SENTENCE_END,
    SOLO,
    SPACE,
    WORD,
)

# Arabic letters folded to one form (after NFD has split the hamza and madda off alef, waw and ya),
# written here by hand: Unicode's confusables data (below) holds no pairs of Arabic letter forms.
# The Persian and Urdu forms are those Lucene's Persian normalizer folds (heh goal, and ae, which
# NFD leaves of heh with yeh above); heh doachashmee (ھ) stays, as Urdu and Kurdish tell it apart.
_LETTERS = (
    ("\u0640", ""),  # tatweel
    ("\u0671", "ا"),  # alef wasla
    ("\u0649", "ي"),  # alef maqsura
    ("\u0629", "ه"),  # ta marbuta
    ("\u0621", ""),  # lone hamza: carriers lose theirs under NFD, so the lone one goes too
    ("\u06cc", "ي"),  # Persian ya
    ("\u06a9", "ك"),  # keheh
    ("\u06c1", "ه"),  # heh goal
    ("\u06c3", "ه"),  # teh marbuta goal
    ("\u06d5", "ه"),  # ae
)

# Invisible format characters (category Cf: zero-width joiners and non-joiners, soft hyphen, word
# joiner, byte order mark, bidi marks and embeddings, tag characters) are removed, so that one put
# inside a word does not split it. The zero-width space alone can mark a word boundary (Unicode's
# word segmentation, UAX #29, breaks words only at it and ignores the others): written where no
# visible space is wanted, a line may have zero-width spaces for all its spaces. So on a line
# without a visible space it becomes a space, and elsewhere it is removed like the others
# (``place_zero_width_spaces``, before the fold; the fold table maps any that is left to a space).
WORD_SEPARATING_FORMATS = "\u200b"
_ZWSP = "\u200b"
# a visible space: white space that is not a line break
_VISIBLE_SPACE = re.compile(r"[^\S\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def place_zero_width_spaces(text: str) -> str:
    """``text`` with each zero-width space made a space on a line that has no visible space (a line
    written with zero-width spaces for its spaces), and removed on the other lines (one slipped
    inside a word). A text without zero-width spaces is returned as it is."""
    if _ZWSP not in text:
        return text
    return "".join(
        line.replace(_ZWSP, "" if _VISIBLE_SPACE.search(line) else " ") for line in text.splitlines(keepends=True)
    )


# Scripts whose letters are folded to the Latin letter they look like (see ``confusable_letters``).
CONFUSABLE_SCRIPTS = ("CYRILLIC", "GREEK")
# The blocks of the Russian and modern Greek alphabets: where two lower-case letters of a script
# look like the same Latin letter, the one of these alphabets is folded (``у``, not Kazakh ``ү``).
_BASIC_ALPHABETS = ((0x0430, 0x044F), (0x03B1, 0x03C9))


@lru_cache(maxsize=1)
def _formats() -> dict[int, str | None]:
    """``str.translate`` table of the format characters (category Cf): the word-separating one to
    a space, every other one removed."""
    return {
        cp: (" " if chr(cp) in WORD_SEPARATING_FORMATS else None)
        for cp in (*range(0x20000), *range(0xE0000, 0xE1000))  # the planes that have format characters
        if unicodedata.category(chr(cp)) == "Cf"
    }


@lru_cache(maxsize=1)
def confusable_letters() -> dict[str, str]:
    """Lower-case letters of ``CONFUSABLE_SCRIPTS`` and the ASCII letter each looks like, from
    Unicode's confusables data (as the ``confusable-homoglyphs`` package ships it): a letter whose
    lower case is confusable with a lower-case ASCII letter (``а`` → ``a``), else one whose upper
    case is confusable with an upper-case one (``т``, as ``Т`` → ``T``), since the fold casefolds
    first. Only single letters to single ASCII letters: Latin text is never changed, and no
    sequence is read as another (the full UTS #39 skeleton would make "rn" of "m"). No two letters
    of one script fold to the same letter, so no two words of that script become one: of the
    letters that look like the same one, a lower-case look-alike (the form running text is written
    in), then one of the Russian or modern Greek alphabet, then the first in code point order is
    folded; the others stay."""
    from confusable_homoglyphs.confusables import confusables_data  # 0.9 MB, read when the table is built

    def looks_like(char: str, lowest: str, highest: str) -> str | None:
        found = sorted(
            h["c"] for h in confusables_data.get(char, ()) if len(h["c"]) == 1 and lowest <= h["c"] <= highest
        )
        return found[0] if found else None

    chosen: dict[tuple[str, str], tuple[tuple[bool, bool, int], str]] = {}
    # a letter that has a look-alike is in the data, or its upper case is
    keys = [k for k in confusables_data if len(k) == 1]
    lowered = [k.lower() for k in keys]
    for letter in sorted({*keys, *(c for c in lowered if len(c) == 1)}):
        cp = ord(letter)
        # the letters that reach the letter fold: NFKC and casefolding come first (lunate sigma ϲ
        # is σ by then)
        if unicodedata.category(letter) != "Ll" or _fold_first(letter) != letter:
            continue
        script = unicodedata.name(letter, "").split(" ")[0]
        if script not in CONFUSABLE_SCRIPTS:
            continue
        upper = letter.upper()
        lower_like = looks_like(letter, "a", "z")
        upper_like = looks_like(upper, "A", "Z") if len(upper) == 1 else None
        target = lower_like or (upper_like.lower() if upper_like else None)
        if target is None:
            continue
        basic = any(a <= cp <= b for a, b in _BASIC_ALPHABETS)
        rank = (lower_like is None, not basic, cp)
        if (script, target) not in chosen or rank < chosen[script, target][0]:
            chosen[script, target] = (rank, letter)
    return {letter: target for (_, target), (_, letter) in chosen.items()}


def _fold_first(letter: str) -> str:
    return unicodedata.normalize("NFKC", letter).casefold()


@lru_cache(maxsize=1)
def letter_folds() -> dict[int, str]:
    """``str.translate`` table of the letters folded to another form after casefolding and mark
    removal: the Arabic forms (``_LETTERS``) and the confusable letters."""
    table = {ord(letter): folded for letter, folded in _LETTERS}
    table.update({ord(letter): folded for letter, folded in confusable_letters().items()})
    return table


@lru_cache(maxsize=1)
def _marks() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The compiled ``_mark_classes``: built when a fold is first computed (rather than read from
    the stored fold table), not at import."""
    bmp, astral = _mark_classes()
    return re.compile(bmp), re.compile(astral)


def _mark_classes() -> tuple[str, str]:
    """Regular-expression classes of every combining mark (tashkeel, Latin accents, the hamza and
    madda NFD splits off alef, waw and ya): one for the Basic Multilingual Plane, one for the rest.
    The regular-expression engine checks a BMP class with a bitmap but walks a list of ranges for
    astral characters, so the astral class is only run on the rare text that has such characters."""
    points = [
        cp
        for cp in (*range(0x20000), *range(0xE0100, 0xE01F0))
        if unicodedata.category(chr(cp)) == "Mn" or unicodedata.combining(chr(cp))
    ]
    ranges: list[tuple[int, int]] = []
    for cp in points:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))

    def klass(rs: list[tuple[int, int]]) -> str:
        return "[" + "".join(f"\\U{a:08x}-\\U{b:08x}" if a != b else f"\\U{a:08x}" for a, b in rs) + "]"

    return klass([r for r in ranges if r[1] <= 0xFFFF]), klass([r for r in ranges if r[1] > 0xFFFF])


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# NFD splits Hangul syllables into jamo, which are letters, not marks: such text is composed again.
_DECOMPOSED_LETTERS = re.compile("[\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff]")
# Anything that is neither a word character nor a space is punctuation or a symbol; "_" too.
_PUNCT = re.compile(r"[^\w\s]|_")
_SPACE = re.compile(r"\s+")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")
_HSPACE = re.compile(r"[^\S\n]+")
_EDGE_SPACE = re.compile(r" ?\n ?")


def _fold_string(text: str) -> str:
    """The fold of a whole string, step by step: line breaks to ``\\n``, format characters removed
    (``_formats``), NFKC, casefold, NFD and every combining mark removed, Arabic letters unified and
    confusable letters written as Latin (``letter_folds``), decimal digits of every script to ASCII. Used to
    build the per-character table (:func:`fold_table`); ``fold_keep`` is that table applied."""
    text = _LINE_BREAKS.sub("\n", text)
    if text.isascii():
        return text.lower()
    text = text.translate(_formats())
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    bmp_marks, astral_marks = _marks()
    text = bmp_marks.sub("", unicodedata.normalize("NFD", text.casefold()))
    if _ASTRAL.search(text):
        text = astral_marks.sub("", text)
    text = text.translate(letter_folds())
    text = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)
    if _DECOMPOSED_LETTERS.search(text):
        text = unicodedata.normalize("NFKC", text)
    return text.replace(MARK, " ")


MARK = chr(MARK_POINT)  # the sentence mark of ``shingle`` (private use): never part of a folded text

# Sentence ends (before a space or the end of a line; "." with exceptions, see ``shingle``) and the
# closing quotes and brackets that may stand between such an end and the space. The ideographic
# full stop ends a sentence wherever it is: Chinese and Japanese put no space after it.
SENTENCE_ENDS = ".!?…؟؛।"
IDEOGRAPHIC_FULL_STOP = chr(FULL_STOP)
CLOSING_MARKS = "\"'”’»)]」』】》〉"
# Quotation marks that open or close quoted speech (``shingle.quoted_words`` has the rule). Any of
# them opens a quotation when none is open and closes the open one otherwise, so that English “…”,
# German „…“, French and Arabic «…», straight "…" and Japanese 「…」 all read alike, whichever of
# a pair a writer happened to type. Single quotes are read apart (``kernels.text.OPEN_SINGLE``):
# the apostrophe is the same character.
QUOTE_MARKS = '"“”„‟«»「」『』'
# Scripts written without spaces between words: Han ideographs, kana, Thai, Lao, Myanmar, Khmer.
# Each of their word characters is a word of its own, so that a text in them is shingled by
# character k-grams (the usual unit for these scripts) instead of by whole clauses, which a single
# changed character would break. The astral range holds the Han extensions B and beyond.
SOLO_RANGES: tuple[tuple[int, int], ...] = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3FFFF),  # CJK extensions B to H, compatibility supplement
)
_SOLO = re.compile("(?=\\w)[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in SOLO_RANGES) + "]")


def _is_solo_range(cp: int) -> bool:
    return any(a <= cp <= b for a, b in SOLO_RANGES)


def split_solo(text: str) -> str:
    """``text`` with a space on each side of every character that is a word of its own (see
    ``SOLO_RANGES``), so that ``str.split`` gives the words as the shingler counts them."""
    return _SOLO.sub(" \\g<0> ", text) if _SOLO.search(text) else text


def count_words(text: str) -> int:
    """The words of a folded text as the shingler counts them (each ideograph is one)."""
    return len(split_solo(text).split())


@dataclass(frozen=True, slots=True)
class FoldTable:
    """The fold of every character of the Basic Multilingual Plane, for ``str.translate`` and for
    the compiled text kernel: character ``c`` folds to ``data[offsets[c]:offsets[c + 1]]``.
    ``classes[c]`` holds the bits WORD (``\\w``), SPACE (``\\s``), LETTER (``[^\\W\\d_]``),
    SENTENCE_END, CLOSING (a closing quote or bracket), as Python's ``re`` module sees them, SOLO
    (a word character that is a word of its own, see ``SOLO_RANGES``) and QUOTE (``QUOTE_MARKS``)."""

    mapping: dict[int, str]
    offsets: npt.NDArray[np.int64]
    data: npt.NDArray[np.uint32]
    classes: npt.NDArray[np.uint8]


@lru_cache(maxsize=1)
def fold_table() -> FoldTable:
    """The fold table, built once per installation (``_build_fold_table``) and read afterwards
    from the store of such tables (``dedup._stored``), under a key of everything it is
    built from: the first ``dedup.cluster`` of a process waits for it."""
    key = _fold_table_key()
    arrays = stored.load(_FOLD_TABLE, key)
    table = _fold_table_from(arrays) if arrays is not None else None
    if table is None:
        table = _build_fold_table()
        stored.save(_FOLD_TABLE, key, {"offsets": table.offsets, "data": table.data, "classes": table.classes})
    return table


_FOLD_TABLE = "normalize.fold_table"


def _fold_table_key() -> str:
    """What the fold table is built from: this module's rules, the character classes of the
    kernels (their sources), Python's version (its Unicode data and ``re``'s classes) and the
    confusables data (``confusable_letters``)."""
    import importlib.util

    spec = importlib.util.find_spec("confusable_homoglyphs")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    confusables = Path(folders[0], "confusables.json").read_bytes() if folders else b""
    return stored.key_of(
        [
            Path(__file__).read_bytes(),
            repr(kernel_sources()).encode(),
            sys.version.encode(),
            unicodedata.unidata_version.encode(),
            confusables,
        ]
    )


def _fold_table_from(arrays: dict[str, npt.NDArray[Any]]) -> FoldTable | None:
    """The fold table of stored arrays, or None when they are not the shape of one."""
    offsets, data, classes = arrays.get("offsets"), arrays.get("data"), arrays.get("classes")
    if offsets is None or data is None or classes is None:
        return None
    if [a.dtype for a in (offsets, data, classes)] != [np.dtype(np.int64), np.dtype(np.uint32), np.dtype(np.uint8)]:
        return None
    if offsets.shape != (0x10001,) or classes.shape != (0x10000,) or data.ndim != 1:
        return None
    lengths = np.diff(offsets)
    if offsets[0] != 0 or offsets[-1] != len(data) or (lengths < 0).any():
        return None
    try:
        joined = data.tobytes().decode("utf-32-le", "surrogatepass")
    except UnicodeDecodeError:  # a value beyond the last code point
        return None
    # a character folds to itself where its fold is one code point, itself
    first = data[np.minimum(offsets[:-1], max(len(data) - 1, 0))] if len(data) else np.zeros(0x10000, np.uint32)
    same = (lengths == 1) & (first == np.arange(0x10000, dtype=np.uint32))
    bounds = offsets.tolist()
    mapping = {c: joined[bounds[c] : bounds[c + 1]] for c in np.flatnonzero(~same).tolist()}
    return FoldTable(mapping, offsets, data, classes)


def _build_fold_table() -> FoldTable:
    """The fold table computed: folding character by character equals folding the whole text,
    since every mark that NFKC would compose is removed afterwards anyway, and the table is its own
    fixed point (a test checks both). The table is built from whole-plane strings (``_fold_each``)
    rather than a Python call per code point."""
    chars = [chr(c) for c in range(0x10000)]
    folds = _fold_each(chars)
    lengths = np.fromiter(map(len, folds), dtype=np.int64, count=0x10000)
    offsets = np.zeros(0x10001, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    joined = "".join(folds)
    data = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy()
    plane = "".join(chars)
    word = np.zeros(0x10000, dtype=bool)
    word[[m.start() for m in re.finditer(r"\w", plane)]] = True
    letter = np.zeros(0x10000, dtype=bool)
    letter[[m.start() for m in re.finditer(r"[^\W\d_]", plane)]] = True
    space = np.fromiter(map(str.isspace, chars), dtype=bool, count=0x10000)
    solo = np.zeros(0x10000, dtype=bool)
    for a, b in SOLO_RANGES:
        solo[a : b + 1] = True
    classes = (
        np.where(word, WORD, 0)
        | np.where(space, SPACE, 0)
        | np.where(letter, LETTER, 0)
        | np.where(solo & word, SOLO, 0)
    ).astype(np.uint8)
    for ch in (*SENTENCE_ENDS, IDEOGRAPHIC_FULL_STOP):
        classes[ord(ch)] |= SENTENCE_END
    for ch in CLOSING_MARKS:
        classes[ord(ch)] |= CLOSING
    for ch in (*QUOTE_MARKS, chr(OPEN_SINGLE), chr(CLOSE_SINGLE)):
        classes[ord(ch)] |= QUOTE
    mapping = {c: f for c, f in enumerate(folds) if f != chars[c]}
    return FoldTable(mapping, offsets, data, classes)


# Joins the characters ``_fold_each`` folds together: an unassigned code point (a starter that
# composes with nothing, so NFKC and NFD keep the characters on either side of it apart), which no
# step of the fold changes.
_APART = "\U0010ffff"
_ASTRAL_BUT_APART = re.compile("[\U00010000-\U0010fffe]")


def _fold_each(chars: list[str]) -> list[str]:
    """``[_fold_string(c) for c in chars]`` for single characters other than ``_APART``, computed
    with one pass of each step over all of them joined by ``_APART``: every step but the final
    recomposition of Hangul jamo maps each character alone, and that one is applied to the folds
    that need it, one by one. An ASCII character takes the same steps as in ``_fold_string``'s
    shortcut: no ASCII character is a format character, a mark, a folded letter or a non-ASCII
    digit, and NFKC and casefolding make ASCII lower case."""
    text = _APART.join(chars)
    text = _LINE_BREAKS.sub("\n", text).translate(_formats())
    bmp_marks, astral_marks = _marks()
    text = bmp_marks.sub("", unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold()))
    if _ASTRAL_BUT_APART.search(text):
        text = astral_marks.sub("", text)
    text = _DIGIT.sub(_ascii_digit, text.translate(letter_folds()))
    folds = text.replace(MARK, " ").split(_APART)
    return [unicodedata.normalize("NFKC", f) if _DECOMPOSED_LETTERS.search(f) else f for f in folds]


_DIGIT = re.compile(r"\d")  # a decimal digit of any script, as ``str.isdecimal`` tells


def _ascii_digit(match: re.Match[str]) -> str:
    return str(unicodedata.decimal(match.group()))


@lru_cache(maxsize=4096)
def fold_astral(char: str) -> str:
    """The fold of one character outside the Basic Multilingual Plane (emoji, mathematical letters,
    historic scripts): rare, so folded one by one and remembered."""
    return _fold_string(char).translate(fold_table().mapping)


def _fold_astral_match(match: re.Match[str]) -> str:
    return fold_astral(match.group())


def fold_keep(text: str) -> str:
    """Fold ``text`` but keep its punctuation and line breaks (for sentence and line splitting):
    every character mapped through :func:`fold_table` (NFKC, casefold, combining marks removed,
    Arabic letters unified, digits to ASCII, line breaks to ``\\n``)."""
    text = place_zero_width_spaces(text.replace("\r\n", "\n"))
    if text.isascii():
        text = text.lower()
        return text.translate(_ASCII_BREAKS) if _ASCII_BREAK.search(text) else text
    if _ASTRAL.search(text):
        text = _ASTRAL.sub(_fold_astral_match, text)
    return text.translate(fold_table().mapping)


_ASCII_BREAKS = str.maketrans({"\r": "\n", "\x0b": "\n", "\x0c": "\n"})
_ASCII_BREAK = re.compile(r"[\r\x0b\x0c]")


def bare(folded: str) -> str:
    """Punctuation to spaces and spaces collapsed in a folded text; line breaks are kept."""
    return _EDGE_SPACE.sub("\n", _HSPACE.sub(" ", _PUNCT.sub(" ", folded))).strip(" ")


def _fold_once(text: str) -> str:
    return _SPACE.sub(" ", bare(fold_keep(text))).strip()


def fold(text: str) -> str:
    """The comparison form of ``text`` (see the module docstring). ``fold(fold(t)) == fold(t)``."""
    folded = _fold_once(text)
    # NFKC after mark removal can, for rare compatibility characters, expose a new foldable
    # character; a second pass reaches the fixed point (the hypothesis test checks idempotence).
    again = _fold_once(folded)
    return folded if again == folded else _fold_once(again)


# The furniture patterns run under the ``regex`` module, whose matches take a timeout (``re`` has
# none): a pattern that backtracks catastrophically on some line, as "(a|aa)+$" does on a long run
# of a's, stops with a ConfigError that names it instead of hanging the process. The timeout counts
# the CPU time of the process: ``FURNITURE_TIMEOUT`` seconds plus ``FURNITURE_TIMEOUT_PER_CHAR`` for
# each character of the text from the line on, since a sound pattern takes time about in proportion
# to the line (the default patterns well within that budget, even on a line of a million section
# names), while a catastrophic one takes exponential time.
FURNITURE_TIMEOUT = 0.25
FURNITURE_TIMEOUT_PER_CHAR = 20e-6


def furniture_timeout(text: str, start: int) -> float:
    """The CPU seconds a furniture match of ``text`` at ``start`` may take."""
    return FURNITURE_TIMEOUT + FURNITURE_TIMEOUT_PER_CHAR * (len(text) - start)


class FurniturePattern(Protocol):
    """A compiled ``regex`` pattern (the ``regex`` module has no type stubs)."""

    def match(self, string: str, pos: int = ..., *, timeout: float | None = ...) -> object | None: ...


def _regex(source: str, flags: int = 0) -> FurniturePattern:
    compiled: FurniturePattern = regex.compile(source, flags | regex.V0)
    return compiled


def _match(
    compiled: FurniturePattern, text: str, start: int, patterns: tuple[str, ...], one: Callable[[str], FurniturePattern]
) -> bool:
    """Whether ``compiled`` (the ``patterns``, each compiled alone by ``one``) matches ``text`` at
    ``start``, within ``furniture_timeout``."""
    timeout = furniture_timeout(text, start)
    try:
        return compiled.match(text, start, timeout=timeout) is not None
    except TimeoutError:
        pass
    line = text[start:].partition("\n")[0]
    raise ConfigError(
        f"furniture pattern {_slowest(text, start, patterns, one)!r} took more than {timeout:.2f} s (with "
        f"the other patterns) on a line of {len(line):,} characters starting {line[:40]!r}: it backtracks "
        "catastrophically, as nested or overlapping repetition such as '(a+)+$' or '(a|aa)+$' does; rewrite "
        "it so that a line can be matched in only one way (no repetition inside repetition), or remove it "
        "from NormalizeConfig.furniture_patterns or extra_furniture_patterns"
    )


def _slowest(text: str, start: int, patterns: tuple[str, ...], one: Callable[[str], FurniturePattern]) -> str:
    """The pattern that takes longest to match ``text`` at ``start`` on its own: the one to blame
    when the patterns together time out (alone, a pattern may escape the backtracking it falls into
    as one alternative among others)."""
    times = []
    for pattern in patterns:
        began = time.process_time()
        with contextlib.suppress(TimeoutError):
            one(pattern).match(text, start, timeout=furniture_timeout(text, start))
        times.append(time.process_time() - began)
    return patterns[times.index(max(times))]


@lru_cache(maxsize=32)
def _compiled(patterns: tuple[str, ...]) -> FurniturePattern:
    return _regex("|".join(f"(?:{p})" for p in patterns))


def _flexible(pattern: str) -> str:
    # Matched against whole lines of a text whose punctuation became spaces but whose spaces were
    # not collapsed: a space in a pattern matches a run of spaces, and lines may start or end with
    # spaces.
    return pattern.replace(" ", "[ ]+").replace("$", "[ ]*$")


@lru_cache(maxsize=256)  # first characters that start the same patterns share one compiled pattern
def _line_pattern(patterns: tuple[str, ...]) -> FurniturePattern | None:
    if not patterns:
        return None
    return _regex("^[ ]*(?:" + "|".join(f"(?:{_flexible(p)})" for p in patterns) + ")", regex.M)


def _one_line_pattern(pattern: str) -> FurniturePattern:
    return _regex(f"^[ ]*(?:{_flexible(pattern)})", regex.M)


@dataclass(frozen=True, slots=True)
class LineMatcher:
    """The furniture patterns, compiled for matching at line starts. ``full`` holds them all;
    ``by_first[c]`` only those that can match a line starting with character ``c``, and ``other``
    those that can match a line starting with any other character (the patterns whose first
    character is not simple to tell). With dozens of patterns in several scripts, only the few that
    can start where the line starts are tried (the regular expression engine tries every
    alternative of a pattern in turn and has no such dispatch).
    Each of these is compiled when a line first needs it: most first characters never start a line
    that reaches the patterns, and compiling them all would hold up a process's first batch."""

    by_first: dict[str, tuple[str, ...]]
    other: tuple[str, ...]
    patterns: tuple[str, ...] = ()
    # Lines already matched, by their code points (see ``matches_line``): site furniture is the
    # same few lines on every page of a site.
    seen: dict[bytes, bool] = field(default_factory=dict, compare=False, hash=False, repr=False)
    # the compiled patterns, by first character ("" for ``full``, None for ``other``)
    compiled: dict[str | None, FurniturePattern | None] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @property
    def full(self) -> FurniturePattern | None:
        return self._pattern("")

    def _pattern(self, first: str | None) -> FurniturePattern | None:
        if first not in self.compiled:
            sources = self.other if first is None else self.by_first.get(first, self.patterns)
            self.compiled[first] = _line_pattern(sources)
        return self.compiled[first]

    def matches(self, plain: str, start: int) -> bool:
        """Whether a pattern matches the line of ``plain`` that starts at ``start``."""
        first: str | None = plain[start : start + 1]
        if first == " ":
            first = ""
        elif first and first not in self.by_first:
            first = None
        pattern = self._pattern(first)
        return pattern is not None and _match(pattern, plain, start, self.patterns, _one_line_pattern)

    def matches_line(self, code_points: bytes) -> bool:
        """``matches`` for one line given as UTF-32-LE code points of the compiled text path (a
        sentence mark stands for a space), remembered: a line seen before is not decoded and
        matched again. At most ``_SEEN_LINES`` lines are remembered, then the memory starts anew."""
        found = self.seen.get(code_points)
        if found is None:
            found = self.matches(code_points.decode("utf-32-le", "surrogatepass").replace(MARK, " "), 0)
            if len(self.seen) >= _SEEN_LINES:
                self.seen.clear()
            self.seen[code_points] = found
        return found


_SEEN_LINES = 16_384


@lru_cache(maxsize=32)
def line_matcher(patterns: tuple[str, ...]) -> LineMatcher:
    firsts = [first_characters(p) for p in patterns]
    unknown = [p for p, f in zip(patterns, firsts, strict=True) if f is None]
    chars = sorted(set().union(*(f for f in firsts if f is not None)))
    by_first = {c: tuple(p for p, f in zip(patterns, firsts, strict=True) if f is None or c in f) for c in chars}
    return LineMatcher(by_first, tuple(unknown), patterns)


_SPECIAL = frozenset("\\.^$*+?{}[]|()")


def _scan(pattern: str, stop_at_bar: bool) -> list[int]:
    """Where the top level of ``pattern`` has a "|" (``stop_at_bar``) or where its first group
    closes (a one-element list; empty when it does not), skipping escapes and character classes."""
    found, depth, j, in_class = [], 0, 0, False
    while j < len(pattern):
        ch = pattern[j]
        if ch == "\\":
            j += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and not stop_at_bar:
                return [j]
        elif ch == "|" and depth == 0 and stop_at_bar:
            found.append(j)
        j += 1
    return found


def _optional_from(pattern: str, j: int) -> bool:
    """Whether what ends before ``j`` is made optional by a quantifier at ``j``."""
    return pattern[j : j + 1] in ("?", "*") or pattern.startswith(("{0", "{,"), j)


def first_characters(pattern: str) -> frozenset[str] | None:
    """The characters a match of the regular expression ``pattern`` can start with, for the simple
    forms furniture patterns take (a literal, ``\\d``, a group of alternatives of those); None when
    the pattern is not of that form, and then it is tried on every line. Conservative: never a set
    that misses a possible first character."""
    bars = _scan(pattern, stop_at_bar=True)
    if bars:
        out: set[str] = set()
        for a, b in pairwise([-1, *bars, len(pattern)]):
            first = first_characters(pattern[a + 1 : b])
            if first is None:
                return None
            out |= first
        return frozenset(out)
    if not pattern:
        return None
    if pattern[0] == "(":
        close = _scan(pattern, stop_at_bar=False)
        if not close or _optional_from(pattern, close[0] + 1):
            return None
        inner = pattern[1 : close[0]]
        if inner.startswith("?:"):
            return first_characters(inner[2:])
        return None if inner.startswith("?") else first_characters(inner)
    if pattern.startswith("\\d"):
        return None if _optional_from(pattern, 2) else frozenset("0123456789")
    if pattern[0] in _SPECIAL or _optional_from(pattern, 1):
        return None
    return frozenset(pattern[0])


# -- the line prefilter of the compiled text path ---------------------------------------------
# The compiled kernel tells which lines a furniture pattern could match at all, from the literal
# characters every match must start with, so that Python's regular expressions run only on those
# lines (a few per article, against ~17 lines; the per-line dispatch above still picks the
# patterns). The prefixes are read off the parsed form of the very patterns that ``line_matcher``
# compiles, by ``re``'s own parser: no library offers "the literal prefixes of a regular
# expression", and a hand-written scanner would miss forms the parser already knows.
DIGIT_ATOM = -1  # a prefix atom that stands for any character ``\d`` matches
_PREFIX_LENGTH = 6
_PREFIX_COUNT = 512


class _TooMany(Exception):
    pass


def _starts(items: list[tuple[Any, Any]], limit: int) -> set[tuple[int, ...]]:
    """The prefixes (tuples of code points and ``DIGIT_ATOM``, at most ``limit`` long) one of which
    every match of the parsed sequence ``items`` starts with; ``()`` among them when a match can
    start with anything."""
    if not items or limit == 0:
        return {()}
    (op, av), rest = items[0], items[1:]
    out: set[tuple[int, ...]]
    if op is _c.LITERAL:
        out = {(av, *t) for t in _starts(rest, limit - 1)}
    elif op is _c.SUBPATTERN:
        _, add_flags, del_flags, sub = av
        out = {()} if add_flags or del_flags else _starts([*sub, *rest], limit)
    elif op is _c.BRANCH:
        out = set()
        for alternative in av[1]:
            out |= _starts([*alternative, *rest], limit)
    elif op is _c.IN:
        if av == [(_c.CATEGORY, _c.CATEGORY_DIGIT)]:
            out = {(DIGIT_ATOM, *t) for t in _starts(rest, limit - 1)}
        elif all(o is _c.LITERAL for o, _ in av):
            out = set()
            for literal in av:
                out |= _starts([literal, *rest], limit)
        else:
            out = {()}
    elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        low, _, sub = av
        # at least one repetition: a match starts as one repetition does (what follows is not read)
        out = _starts(list(sub), limit) if low >= 1 else {()}
    elif op is _c.AT:
        out = _starts(rest, limit)  # an anchor matches no character
    else:
        out = {()}
    if len(out) > _PREFIX_COUNT:
        raise _TooMany
    return out


def literal_prefixes(pattern: str) -> frozenset[tuple[int, ...]] | None:
    """For a furniture pattern as ``line_matcher`` compiles it (spaces made flexible), the prefixes
    one of which every match at a line start begins with, right after the line's leading spaces;
    None when a match may begin with any character (then every line is tried). Conservative: a
    line that starts with none of them cannot match (a hypothesis test checks it)."""
    try:
        parsed = list(_parser.parse(_flexible(pattern)))
    except re.error:
        return None
    for limit in (_PREFIX_LENGTH, 2, 1):
        try:
            found = _starts(parsed, limit)
        except _TooMany:
            continue
        # a pattern that may start with a space can also start inside the leading spaces
        if () in found or any(p[0] == 32 for p in found):
            return None
        return frozenset(found)
    return None


@dataclass(frozen=True, slots=True)
class LinePrefilter:
    """The furniture patterns' prefixes for the compiled kernel, sorted: prefix ``i`` is
    ``data[offsets[i]:offsets[i + 1]]`` (code points, ``DIGIT_ATOM`` for a digit) and ``first[i]``
    its first atom; ``always`` when some pattern has none, and every line long enough is tried."""

    data: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]
    first: npt.NDArray[np.int64]
    always: bool


@lru_cache(maxsize=32)
def line_prefilter(patterns: tuple[str, ...]) -> LinePrefilter:
    found = [literal_prefixes(p) for p in patterns]
    prefixes = sorted(set().union(*(f for f in found if f is not None)))
    offsets = np.zeros(len(prefixes) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in prefixes], out=offsets[1:])
    data = np.array([a for p in prefixes for a in p], dtype=np.int64)
    first = np.array([p[0] for p in prefixes], dtype=np.int64)
    return LinePrefilter(data, offsets, first, any(f is None for f in found))


def furniture_matcher(config: NormalizeConfig) -> FurniturePattern:
    """One compiled regular expression for all the furniture patterns of ``config``."""
    return _compiled(furniture_patterns(config))


def is_furniture(line: str, config: NormalizeConfig) -> bool:
    """True when ``line`` is site furniture: a widget or navigation line, or too short to be prose."""
    folded = fold(line)
    if count_words(folded) < config.min_line_words:
        return True
    patterns = furniture_patterns(config)
    return config.drop_furniture and _match(furniture_matcher(config), folded, 0, patterns, _compiled_one)


def _compiled_one(pattern: str) -> FurniturePattern:
    return _compiled((pattern,))


def furniture_segments(spaced: str, config: NormalizeConfig, *, ignore: str = "") -> list[list[bool]]:
    """For each line of ``spaced`` (a folded text whose punctuation became spaces) and each of its
    segments (the line cut at each ``ignore``, a sentence mark; the whole line when none is given),
    whether the segment is dropped as furniture. A line too short to be prose (fewer than
    ``min_line_words`` words, marks aside) is dropped whole. Otherwise each segment is matched at
    its start against the furniture patterns on its own: a pattern never reaches into the next
    segment, and its ``$`` is the segment's end. So a text given as one line (as feeds and APIs
    deliver articles) loses the sentence that says "Read more at ..." and keeps its story, and
    furniture inside it is found as it is on a line of its own."""
    minimum = config.min_line_words
    matches = line_matcher(furniture_patterns(config)).matches if config.drop_furniture else None
    out: list[list[bool]] = []
    for line in spaced.split("\n"):
        pieces = line.split(ignore) if ignore else [line]
        if count_words(line.replace(ignore, " ") if ignore else line) < minimum:
            out.append([True] * len(pieces))
        elif matches is None:
            out.append([False] * len(pieces))
        else:
            out.append([bool(p.lstrip(" ")) and matches(p.lstrip(" "), 0) for p in pieces])
    return out


def furniture_patterns(config: NormalizeConfig) -> tuple[str, ...]:
    """The furniture patterns of ``config``, the defaults and the extra ones, their letters folded
    as the text's are (``letter_folds``: a Cyrillic pattern's ``а`` is matched as ``a``)."""
    return _letters_folded((*config.furniture_patterns, *config.extra_furniture_patterns))


@lru_cache(maxsize=32)
def _letters_folded(patterns: tuple[str, ...]) -> tuple[str, ...]:
    # only letters change, never a character that means something to a regular expression
    return tuple(p.translate(letter_folds()) for p in patterns)
