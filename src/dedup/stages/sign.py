"""Stage 3: MinHash signatures that datasketch understands.

The signatures are those of datasketch's ``MinHash`` with its default ``"affine32"`` scheme: the
32-bit input hash is pre-mixed with MurmurHash3's 32-bit finalizer and permuted with
``a * h + b mod 2**32``; the signature is the minimum over the set for each permutation. We take the
permutation parameters from datasketch itself, feed it the top 32 bits of our 64-bit shingle hashes,
and compute the minima for many texts at once with numpy (datasketch hashes one value at a time in
Python). ``reference_signature`` runs datasketch's own ``MinHash.update_batch`` and the tests prove
the two equal bit for bit. ``LeanMinHash`` objects made by ``to_minhash`` go straight into
``MinHashLSH``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from dedup.config import DedupConfig
from dedup.kernels import text as text_kernels
from dedup.kernels.hashing import FMIX32_C1, FMIX32_C2
from dedup.stages.shingle import Shingled, analyze_many, document_signatures

if TYPE_CHECKING:
    from datasketch import LeanMinHash

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]

SCHEME = "affine32"
_EMPTY = np.uint32(0xFFFFFFFF)
# Rows of (shingle x permutation) worked on at once: bounds the temporary matrix to ~32 MB.
_CHUNK_CELLS = 8_000_000


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[U32, U32]:
    """datasketch's permutation parameters (a, b) for ``num_perm`` and ``seed``, drawn as its
    ``MinHash`` draws them for the "affine32" scheme (odd multipliers), so that signing needs no
    import of datasketch, which loads much of scipy (a test checks them against datasketch's own)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return np.ascontiguousarray(a, dtype=np.uint32), np.ascontiguousarray(b, dtype=np.uint32)


def input_hashes(shingles: U64) -> U32:
    """The 32-bit values fed to MinHash: the top half of each 64-bit shingle hash."""
    return (shingles >> np.uint64(32)).astype(np.uint32)


def fmix32(values: U32) -> U32:
    """MurmurHash3's 32-bit finalizer, element-wise (as datasketch applies it)."""
    h = values ^ (values >> np.uint32(16))
    h = h * np.uint32(FMIX32_C1)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(FMIX32_C2)
    out: U32 = h ^ (h >> np.uint32(16))
    return out


def signatures_flat(values: U64, offsets: npt.NDArray[np.int64], num_perm: int, seed: int) -> U32:
    """Signatures of the sets ``values[offsets[i]:offsets[i + 1]]`` (64-bit shingle hashes laid end to
    end): one row of ``num_perm`` uint32 per set, by the compiled kernel."""
    a, b = permutations(num_perm, seed)
    out = np.empty((len(offsets) - 1, num_perm), dtype=np.uint32)
    text_kernels.minhash_into(input_hashes(values), offsets, a, b, out)
    return out


def analyze_and_sign(text: str, config: DedupConfig) -> tuple[Shingled, U32, U32]:
    """Raw text to what the index needs, in the fewest passes: the analysis (``shingle.analyze``),
    the document's signature and one signature per passage."""
    return analyze_and_sign_many([text], config)[0]


def analyze_and_sign_many(texts: Sequence[str], config: DedupConfig) -> list[tuple[Shingled, U32, U32]]:
    """``analyze_and_sign`` for each of ``texts``: the whole batch goes through two compiled calls
    and the signatures are computed inside the second (``shingle.analyze_many``)."""
    mh, ps = config.minhash, config.passage
    return analyze_many(
        texts,
        config.normalize,
        config.shingle,
        (*permutations(mh.num_perm, mh.seed), *permutations(ps.num_perm, ps.seed)),
    )


def text_signatures(texts: Sequence[str], config: DedupConfig) -> U32:
    """The document signature of each of ``texts`` (raw text), one row of ``num_perm`` uint32 each:
    equal, bit for bit, to the ``signature`` that ``prepare.prepare`` gives the same text,
    and to datasketch's ``MinHash`` over its shingles (``reference_signature``). Only the
    signatures are computed: no passages, fingerprints or shingle sets."""
    mh = config.minhash
    if not texts:
        return _no_rows(mh.num_perm)
    return document_signatures(texts, config.normalize, config.shingle, *permutations(mh.num_perm, mh.seed))


def _no_rows(num_perm: int) -> U32:
    return np.empty((0, num_perm), dtype=np.uint32)


def signatures(groups: Sequence[U64], num_perm: int, seed: int) -> U32:
    """Signatures of many shingle sets at once with numpy: one row of ``num_perm`` uint32 per group.
    An empty group gets datasketch's empty signature (all 0xFFFFFFFF)."""
    a, b = permutations(num_perm, seed)
    out = np.full((len(groups), num_perm), _EMPTY, dtype=np.uint32)
    lengths = np.fromiter((len(g) for g in groups), dtype=np.int64, count=len(groups))
    nonempty = np.flatnonzero(lengths)
    if len(nonempty) == 0:
        return out
    rows_per_chunk = max(1, _CHUNK_CELLS // num_perm)
    start = 0
    while start < len(nonempty):
        # Take whole groups until the chunk holds about rows_per_chunk shingles.
        stop, rows = start, 0
        while stop < len(nonempty) and (rows == 0 or rows + lengths[nonempty[stop]] <= rows_per_chunk):
            rows += int(lengths[nonempty[stop]])
            stop += 1
        chosen = nonempty[start:stop]
        values = fmix32(input_hashes(np.concatenate([groups[i] for i in chosen])))
        permuted = values[:, None] * a[None, :] + b[None, :]
        offsets = np.zeros(len(chosen), dtype=np.int64)
        np.cumsum(lengths[chosen][:-1], out=offsets[1:])
        out[chosen] = np.minimum.reduceat(permuted, offsets, axis=0)
        start = stop
    return out


def signature(shingles: U64, num_perm: int, seed: int) -> U32:
    """The signature of one shingle set."""
    out: U32 = signatures([shingles], num_perm, seed)[0]
    return out


def reference_signature(shingles: U64, num_perm: int, seed: int) -> U32:
    """The same signature computed by datasketch's own ``MinHash.update_batch`` (slow; for tests)."""
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME, hashfunc=int)
    m.update_batch([int(v) for v in input_hashes(shingles)])
    return np.asarray(m.hashvalues, dtype=np.uint32)


def to_minhash(sig: U32, seed: int) -> LeanMinHash:
    """A datasketch ``LeanMinHash`` holding ``sig`` (for ``MinHashLSH`` and ``jaccard``)."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=seed, hashvalues=sig, scheme=SCHEME)
