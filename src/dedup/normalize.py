"""Stage 1: normalize text and drop site furniture.

``fold`` is the comparison form of a text: Unicode NFKC, casefolded, every combining mark removed
(Arabic tashkeel and the hamza/madda that NFD splits off alef, waw and ya; Latin accents), tatweel
removed, ٱ→ا, ى→ي, ة→ه, Arabic-Indic and Persian digits → ASCII, punctuation (Arabic ، ؛ ؟ « » too)
→ space, whitespace collapsed. It is idempotent.

``furniture_lines`` tells which lines of a text are site furniture: lines matching the configured
patterns and lines too short to be prose (``shingle.tokens`` drops them).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from functools import lru_cache

from dedup.config import NormalizeConfig

_DIGITS = str.maketrans({**{0x0660 + i: str(i) for i in range(10)}, **{0x06F0 + i: str(i) for i in range(10)}})
_HAS_DIGIT = re.compile(r"[\u0660-\u0669\u06f0-\u06f9]")
# Letters folded to one form (after NFD has split the hamza and madda off alef, waw and ya).
# str.replace per letter: ``str.translate`` looks every character up in a dict and is five times
# slower on Arabic text than these few C scans.
_LETTERS = (
    ("\u0640", ""),  # tatweel
    ("\u0671", "ا"),  # alef wasla
    ("\u0649", "ي"),  # alef maqsura
    ("\u0629", "ه"),  # ta marbuta
    ("\u0621", ""),  # lone hamza: carriers lose theirs under NFD, so the lone one goes too
    ("\u06cc", "ي"),  # Persian ya
    ("\u06a9", "ك"),  # keheh
)


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


_BMP_MARKS, _ASTRAL_MARKS = (re.compile(k) for k in _mark_classes())
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# NFD splits Hangul syllables into jamo, which are letters, not marks: such text is composed again.
_DECOMPOSED_LETTERS = re.compile("[\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff]")
# Anything that is neither a word character nor a space is punctuation or a symbol; "_" too.
_PUNCT = re.compile(r"[^\w\s]|_")
_SPACE = re.compile(r"\s+")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")
_HSPACE = re.compile(r"[^\S\n]+")
_EDGE_SPACE = re.compile(r" ?\n ?")


def fold_keep(text: str) -> str:
    """Fold ``text`` but keep its punctuation and line breaks (for sentence and line splitting):
    NFKC, casefold, combining marks removed, Arabic letters unified, digits to ASCII."""
    if "\r" in text or not text.isascii():
        text = _LINE_BREAKS.sub("\n", text)
    if text.isascii():
        return text.lower()
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = _BMP_MARKS.sub("", unicodedata.normalize("NFD", text.casefold()))
    if _ASTRAL.search(text):
        text = _ASTRAL_MARKS.sub("", text)
    for letter, folded in _LETTERS:
        if letter in text:
            text = text.replace(letter, folded)
    if _HAS_DIGIT.search(text):
        text = text.translate(_DIGITS)
    if _DECOMPOSED_LETTERS.search(text):
        text = unicodedata.normalize("NFKC", text)
    return text


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


@lru_cache(maxsize=32)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


@lru_cache(maxsize=32)
def _compiled_lines(patterns: tuple[str, ...]) -> re.Pattern[str]:
    # Matched against whole lines of a text whose punctuation became spaces but whose spaces were
    # not collapsed: a space in a pattern matches a run of spaces, and lines may start or end with
    # spaces.
    flexible = [p.replace(" ", "[ ]+").replace("$", "[ ]*$") for p in patterns]
    return re.compile("^[ ]*(?:" + "|".join(f"(?:{p})" for p in flexible) + ")", re.M)


def furniture_matcher(config: NormalizeConfig) -> re.Pattern[str]:
    """One compiled regular expression for all the furniture patterns of ``config``."""
    return _compiled((*config.furniture_patterns, *config.extra_furniture_patterns))


def is_furniture(line: str, config: NormalizeConfig) -> bool:
    """True when ``line`` is site furniture: a widget or navigation line, or too short to be prose."""
    folded = fold(line)
    if len(folded.split()) < config.min_line_words:
        return True
    return config.drop_furniture and furniture_matcher(config).match(folded) is not None


def furniture_lines(spaced: str, config: NormalizeConfig, *, ignore: str = "") -> list[bool]:
    """For each line of ``spaced`` (a folded text whose punctuation became spaces), whether it is
    furniture: the same rule as ``is_furniture``, with all lines matched in one pass of the regular
    expression. Words equal to ``ignore`` (a sentence mark) do not count."""
    plain = spaced.replace(ignore, " ") if ignore else spaced
    lines = plain.split("\n")
    minimum = config.min_line_words
    drop = [len(line.split()) < minimum for line in lines]
    if config.drop_furniture:
        starts = [0]
        for line in lines[:-1]:
            starts.append(starts[-1] + len(line) + 1)
        pattern = _compiled_lines((*config.furniture_patterns, *config.extra_furniture_patterns))
        for m in pattern.finditer(plain):
            drop[bisect_right(starts, m.start()) - 1] = True
    return drop
