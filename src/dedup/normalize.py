"""Stage 1: normalize text and drop site furniture.

``fold`` is the comparison form of a text: Unicode NFKC, casefolded, every combining mark removed
(Arabic tashkeel and the hamza/madda that NFD splits off alef, waw and ya; Latin accents), tatweel
removed, ٱ→ا, ى→ي, ة→ه, Arabic-Indic and Persian digits → ASCII, punctuation (Arabic ، ؛ ؟ « » too)
→ space, whitespace collapsed. It is idempotent.

``clean_lines`` keeps the text's lines (NFKC only, for display and sentence splitting) minus those that
are site furniture: lines matching the configured patterns and lines too short to be prose.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from dedup.config import NormalizeConfig

_DIGITS = {**{0x0660 + i: str(i) for i in range(10)}, **{0x06F0 + i: str(i) for i in range(10)}}
_LETTERS = {
    0x0640: None,  # tatweel
    0x0671: "ا",  # alef wasla
    0x0649: "ي",  # alef maqsura
    0x0629: "ه",  # ta marbuta
    0x0621: None,  # lone hamza: carriers lose theirs under NFD, so the lone one goes too
    0x06CC: "ي",  # Persian ya
    0x06A9: "ك",  # keheh
}


def _marks() -> dict[int, None]:
    """Every combining mark (tashkeel, Latin accents, the hamza and madda NFD splits off alef, waw
    and ya), to be deleted in one ``str.translate``. Planes 0-1 plus the variation selectors of
    plane 14 hold every mark Unicode defines."""
    points = (*range(0x20000), *range(0xE0100, 0xE01F0))
    return {cp: None for cp in points if unicodedata.category(chr(cp)) == "Mn" or unicodedata.combining(chr(cp))}


_TABLE = str.maketrans({**_marks(), **_DIGITS, **_LETTERS})
# Anything that is neither a word character nor a space is punctuation or a symbol; "_" too.
_PUNCT = re.compile(r"[^\w\s]|_")
_SPACE = re.compile(r"\s+")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def _fold_once(text: str) -> str:
    if text.isascii():
        return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    text = unicodedata.normalize("NFKC", text.translate(_TABLE))
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def fold(text: str) -> str:
    """The comparison form of ``text`` (see the module docstring). ``fold(fold(t)) == fold(t)``."""
    folded = _fold_once(text)
    # NFKC after mark removal can, for rare compatibility characters, expose a new foldable
    # character; a second pass reaches the fixed point (the hypothesis test checks idempotence).
    again = _fold_once(folded)
    return folded if again == folded else _fold_once(again)


def words(text: str) -> list[str]:
    """The words of ``text`` in comparison form."""
    return fold(text).split()


@lru_cache(maxsize=32)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def furniture_matcher(config: NormalizeConfig) -> re.Pattern[str]:
    """One compiled regular expression for all the furniture patterns of ``config``."""
    return _compiled((*config.furniture_patterns, *config.extra_furniture_patterns))


def is_furniture(line: str, config: NormalizeConfig) -> bool:
    """True when ``line`` is site furniture: a widget or navigation line, or too short to be prose."""
    folded = fold(line)
    if len(folded.split()) < config.min_line_words:
        return True
    return config.drop_furniture and furniture_matcher(config).match(folded) is not None


def clean_lines(text: str, config: NormalizeConfig) -> list[str]:
    """The lines of ``text`` that carry the story: NFKC, whitespace collapsed, furniture dropped."""
    text = unicodedata.normalize("NFKC", text)
    kept = []
    for raw in _LINE_BREAK.split(text):
        line = _SPACE.sub(" ", raw).strip()
        if line and not is_furniture(line, config):
            kept.append(line)
    return kept
