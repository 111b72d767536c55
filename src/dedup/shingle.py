"""Stage 2: sentences, words and shingles.

Every word gets a stable 64-bit hash (BLAKE2b of its UTF-8 bytes, never Python's salted ``hash()``),
so shingles and signatures are the same in every process and on every machine. Word k-gram shingles
are combined from the word hashes with array maths (no shingle strings are built): the k-gram hash is
``fmix64(sum_j word[i+j] * C_j)`` over 64-bit wrap-around arithmetic, with fixed odd constants ``C_j``.

A text becomes a :class:`Shingled` record: its words (hashed), its passages (sentences, cut to at
most ``max_passage_words``), a fingerprint per sentence (for learned boilerplate) and the sorted
unique document shingles.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from dedup.config import ShingleConfig
from dedup.normalize import fold

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

# Odd 64-bit multipliers for k-gram positions (fixed forever: they define the stored hashes).
_POSITION_MULTIPLIERS = np.array(
    [
        0x9E3779B97F4A7C15,
        0xC2B2AE3D27D4EB4F,
        0x165667B19E3779F9,
        0xD6E8FEB86659FD93,
        0xFF51AFD7ED558CCD,
        0xC4CEB9FE1A85EC53,
        0x94D049BB133111EB,
        0xBF58476D1CE4E5B9,
        0x2545F4914F6CDD1D,
        0x9FB21C651E98DF25,
        0xE7037ED1A0B428DB,
        0x8EBC6AF09C88C6E3,
        0x589965CC75374CC3,
        0x1D8E4E27C47D124F,
        0xA0761D6478BD642F,
        0xDB9C5A3E2A4B5B8D,
    ],
    dtype=np.uint64,
)

_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "gov",
        "sen",
        "rep",
        "st",
        "jr",
        "sr",
        "inc",
        "corp",
        "ltd",
        "co",
        "no",
        "vs",
        "etc",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.n",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
    ]
)
# A sentence ends at . ! ? … ؟ ؛ (and ; in Latin text is kept inside the sentence), before a space.
_SENTENCE_END = re.compile(r"(?<=[.!?…؟؛])[\"'”’»)\]]*\s+")
_ARABIC_LETTER = re.compile(r"[\u0621-\u064a]")


def fmix64(values: U64) -> U64:
    """MurmurHash3's 64-bit finalizer, element-wise (a bijection that spreads the bits)."""
    with np.errstate(over="ignore"):
        h = values ^ (values >> np.uint64(33))
        h = h * np.uint64(0xFF51AFD7ED558CCD)
        h = h ^ (h >> np.uint64(33))
        h = h * np.uint64(0xC4CEB9FE1A85EC53)
        out: U64 = h ^ (h >> np.uint64(33))
        return out


def word_hash(word: str) -> int:
    """The stable 64-bit hash of one word (already folded)."""
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


class WordHasher:
    """Hashes words to uint64, each distinct word once (a dictionary look-up afterwards)."""

    def __init__(self, max_size: int = 2_000_000) -> None:
        self._cache: dict[str, int] = {}
        self._max_size = max_size

    def __call__(self, words: list[str]) -> U64:
        cache = self._cache
        if len(cache) > self._max_size:
            cache.clear()
        out = np.empty(len(words), dtype=np.uint64)
        for i, w in enumerate(words):
            h = cache.get(w)
            if h is None:
                h = cache[w] = word_hash(w)
            out[i] = h
        return out


def kgram_hashes(words: U64, k: int) -> U64:
    """Hashes of the word k-grams of ``words`` (in order, duplicates kept). A text shorter than
    ``k`` words gives one shingle over all of its words; an empty one gives none."""
    n = len(words)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    k = min(k, n)
    m = n - k + 1
    acc = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            acc += words[j : j + m] * _POSITION_MULTIPLIERS[j]
    return fmix64(acc)


def split_sentences(line: str) -> list[str]:
    """Split one line of text into sentences, for Arabic and Latin scripts. A period after a known
    abbreviation (Mr., Jan., U.S.) or a single letter does not end a sentence."""
    parts = _SENTENCE_END.split(line)
    sentences: list[str] = []
    carry = ""
    for part in parts:
        piece = f"{carry} {part}".strip() if carry else part.strip()
        if not piece:
            continue
        last = piece.rsplit(" ", 1)[-1].rstrip(".").casefold()
        if piece.endswith(".") and (last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())):
            carry = piece
            continue
        sentences.append(piece)
        carry = ""
    if carry:
        sentences.append(carry)
    return sentences


def tokens(sentence: str, config: ShingleConfig) -> list[str]:
    """The comparison words of one sentence (folded; Arabic conjunction و dropped if configured)."""
    out = fold(sentence).split()
    if config.strip_arabic_conjunction:
        out = [w[1:] if len(w) >= 4 and w[0] == "و" and _ARABIC_LETTER.match(w[1]) else w for w in out]
    return out


@dataclass(frozen=True, slots=True)
class Shingled:
    """A text cut into words, sentences and shingles.

    ``words``: uint64 hash of every word, in order. ``sentence_starts``: offsets into ``words`` where
    each sentence starts (plus ``len(words)`` at the end). ``sentence_fps``: a fingerprint per
    sentence (exact, for boilerplate learning). ``passages``: (start, end) word offsets of the
    passages. ``shingles``: sorted unique document shingle hashes. ``sentences``: sentence texts.
    """

    words: U64
    sentence_starts: I64
    sentence_fps: U64
    passages: tuple[tuple[int, int], ...]
    passage_shingles: U64
    passage_offsets: I64
    shingles: U64
    sentences: tuple[str, ...]

    @property
    def n_words(self) -> int:
        return len(self.words)

    def sentence_of_word(self, offset: int) -> int:
        """Index of the sentence that holds word ``offset``."""
        return int(np.searchsorted(self.sentence_starts, offset, side="right")) - 1

    def passage_group(self, i: int) -> U64:
        """The shingles of passage ``i``."""
        return self.passage_shingles[self.passage_offsets[i] : self.passage_offsets[i + 1]]


def sentence_fingerprint(words: U64) -> int:
    """Exact fingerprint of a sentence from its word hashes (order-sensitive)."""
    return int.from_bytes(hashlib.blake2b(words.tobytes(), digest_size=8).digest(), "little")


def passages_of(start: int, end: int, config: ShingleConfig) -> list[tuple[int, int]]:
    """Word ranges of the passages in one sentence: itself if long enough, cut in even pieces of at
    most ``max_passage_words`` if too long, nothing if too short."""
    n = end - start
    if n < config.min_passage_words:
        return []
    pieces = -(-n // config.max_passage_words)
    cuts = [start + n * j // pieces for j in range(pieces + 1)]
    return list(pairwise(cuts))


def shingle_lines(lines: list[str], config: ShingleConfig, hasher: WordHasher | None = None) -> Shingled:
    """Cut cleaned lines (see ``normalize.clean_lines``) into a :class:`Shingled` record."""
    hasher = hasher or WordHasher()
    sentences: list[str] = []
    word_lists: list[list[str]] = []
    for line in lines:
        for sentence in split_sentences(line):
            toks = tokens(sentence, config)
            if toks:
                sentences.append(sentence)
                word_lists.append(toks)
    starts = np.zeros(len(word_lists) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in word_lists], out=starts[1:])
    all_words = hasher([w for toks in word_lists for w in toks])
    fps = np.array(
        [sentence_fingerprint(all_words[starts[i] : starts[i + 1]]) for i in range(len(word_lists))],
        dtype=np.uint64,
    )
    passages: list[tuple[int, int]] = []
    for i in range(len(word_lists)):
        passages.extend(passages_of(int(starts[i]), int(starts[i + 1]), config))
    groups = [np.unique(kgram_hashes(all_words[s:e], config.passage_k)) for s, e in passages]
    offsets = np.zeros(len(groups) + 1, dtype=np.int64)
    np.cumsum([len(g) for g in groups], out=offsets[1:])
    return Shingled(
        words=all_words,
        sentence_starts=starts,
        sentence_fps=fps,
        passages=tuple(passages),
        passage_shingles=np.concatenate(groups) if groups else np.empty(0, dtype=np.uint64),
        passage_offsets=offsets,
        shingles=np.unique(kgram_hashes(all_words, config.k)),
        sentences=tuple(sentences),
    )
