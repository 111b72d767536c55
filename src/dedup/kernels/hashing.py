"""The hash constants and primitives that define every stored hash (fixed forever: changing one
changes the shingles, signatures and band keys of every article).

Word hashes are FNV-1a over the code points of the folded word, then MurmurHash3's ``fmix64``;
k-gram shingles are ``fmix64(sum_j word[i+j] * POSITION_MULTIPLIERS[j])``; MinHash is datasketch's
"affine32" (``fmix32`` of the top half of a shingle, then ``a*h + b mod 2**32``). The compiled kernels
and the numpy code of the stages read the constants from here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.kernels import jit

U64 = npt.NDArray[np.uint64]

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1
FMIX64_C1, FMIX64_C2 = 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53
FMIX32_C1, FMIX32_C2 = 0x85EBCA6B, 0xC2B2AE35

# Odd 64-bit multipliers for k-gram positions; the fingerprint of a sentence salts a word's
# position with the first of them.
POSITION_MULTIPLIERS = np.array(
    [
        0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
        0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9,
        0x2545F4914F6CDD1D, 0x9FB21C651E98DF25, 0xE7037ED1A0B428DB, 0x8EBC6AF09C88C6E3,
        0x589965CC75374CC3, 0x1D8E4E27C47D124F, 0xA0761D6478BD642F, 0xDB9C5A3E2A4B5B8D,
    ],
    dtype=np.uint64,
)  # fmt: skip
FP_SALT = POSITION_MULTIPLIERS[0]

# The band keys of the LSH index: a band's values mixed by the first eight position multipliers
# (repeated for bands of up to 64 rows), the band number salted in, then two rounds of a
# SplitMix64-style finalizer.
BAND_MULTIPLIERS = np.tile(POSITION_MULTIPLIERS[:8], 8)
BAND_SALT = 0xD6E8FEB86659FD93
BAND_MIX = 0xBF58476D1CE4E5B9

# The sentence mark among the words (a private-use code point: never part of a folded text).
MARK = 0xE000


def _fmix64(h: Any) -> Any:
    """MurmurHash3's 64-bit finalizer (a bijection that spreads the bits), of one uint64 or of
    each of a uint64 array."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(FMIX64_C1)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(FMIX64_C2)
    return h ^ (h >> np.uint64(33))


fmix64 = jit(_fmix64)


def fmix64_array(values: U64) -> U64:
    """``fmix64`` of each of ``values``, with numpy."""
    with np.errstate(over="ignore"):
        out: U64 = _fmix64(values)
        return out


@jit
def word_hash(points: Any, start: int, end: int) -> Any:
    """The hash of the word ``points[start:end]`` (code points): FNV-1a, then ``fmix64``."""
    h = np.uint64(FNV_OFFSET)
    for j in range(start, end):
        h = (h ^ np.uint64(points[j])) * np.uint64(FNV_PRIME)
    return fmix64(h)
