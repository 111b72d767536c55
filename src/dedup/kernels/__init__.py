"""The compiled (numba) kernels of the hot loops, one module per stage they serve:

- ``hashing``: the hash constants and primitives (FNV-1a, ``fmix64``, the k-gram and band
  multipliers, the sentence mark) that every stored hash is built from;
- ``arrays``: sorting and distinct values, shared by the kernels and the stages;
- ``text``: raw text folded, split, hashed, shingled and signed (MinHash), a batch per call;
- ``tables``: the band keys and the hash tables of the LSH index;
- ``candidates``: the batch engine's join of sorted band keys into candidate pairs;
- ``boilerplate``: the boilerplate judge over many sentences at once;
- ``formula``: the formula test's reading of the count-min sketch;
- ``verify``: the verifier's shingle and passage comparisons.

Each kernel equals the numpy or Python rule of its stage bit for bit (tested). This package
module holds what they all share: the ``jit`` decorator, and ``compile_all``, which the package
build calls (``setup.py``) so that an installed package's first run finds the kernels in numba's
cache. The kernel modules import nothing of ``dedup`` but this package and ``dedup.errors``: the
build imports them without the rest of the library.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import numba

KERNEL = "numba"

_log = logging.getLogger(__name__)
COMPILE_NOTICE = "compiling the text kernels once for this installation (up to a minute); later runs start at once"


def jit(fn: Any) -> Any:
    """``fn`` compiled by numba on its first call, cached on disk, without the GIL. The cache entry
    is stamped with every source file of this package, not with ``fn``'s file alone: a kernel
    compiles in the kernels it calls from other modules of the package (``hashing.fmix64``,
    ``arrays.sorted_distinct``), and numba checks a cached kernel against its own file only."""
    dispatcher = numba.njit(cache=True, nogil=True)(fn)
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if cache_file is not None and hasattr(cache_file, "_source_stamp"):
        cache_file._source_stamp = package_stamp()
    return dispatcher


@lru_cache(maxsize=1)
def package_stamp() -> tuple[tuple[str, str, int], ...]:
    """The name, content hash and size of each source file of this package. The content, not the
    modification time: an installer writes the files anew (pip sets no times), and the kernels
    compiled into the built package must still match them."""
    stamps = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        data = path.read_bytes()
        stamps.append((path.name, hashlib.blake2b(data, digest_size=16).hexdigest(), len(data)))
    return tuple(stamps)


def cache_folder() -> Path | None:
    """The folder numba keeps this package's compiled kernels in: ``__pycache__`` beside the
    sources, or numba's own cache folder when that one cannot be written (or ``NUMBA_CACHE_DIR``
    names one); None when numba keeps no cache."""
    from dedup.kernels import text

    path = getattr(getattr(text.fold_split_many, "_cache", None), "cache_path", None)
    return Path(path) if isinstance(path, str) else None


def _first_run_signatures() -> list[tuple[Any, tuple[Any, ...]]]:
    """The kernels that the batch engine and the stream call from Python, with the shared passages'
    offsets or without, each with the argument types they pass (a test checks that those paths
    call no other): what ``compile_all`` puts in numba's cache."""
    from numba import types as t

    from dedup.kernels import boilerplate, candidates, formula, tables, text, verify

    def array(dtype: Any, ndim: int = 1, *, readonly: bool = False) -> Any:
        return t.Array(dtype, ndim, "C", readonly=readonly)

    u64, i64, i32, u32, u8 = array(t.uint64), array(t.int64), array(t.int32), array(t.uint32), array(t.uint8)
    fold = (i64, i64, u32, u8, u32, i64, t.boolean, t.int64, t.boolean, t.boolean, i64, i64, i64)
    shingle = (
        u64,
        array(t.boolean),
        array(t.boolean),
        array(t.boolean),
        array(t.int64, 2),
        u8,
        array(t.int64, 2),
        t.int64,
        t.int64,
        t.int64,
        t.int64,
    )
    table = (i32, i32, i32, u64)
    counters = array(t.uint8, 1)
    return [
        # code points in 16 bits, or in 32 when a text has some beyond (``shingle._code_points``)
        (text.fold_split_many, (array(t.uint16, readonly=True), *fold)),
        (text.fold_split_many, (array(t.uint32, readonly=True), *fold)),
        (text.shingle_many, (*shingle, u64, t.uint64, u32, u32, u32, u32)),
        (tables.band_keys, (array(t.uint32, 2), t.int64, t.int64, u64)),
        (
            candidates.candidate_pairs,
            (
                i64,
                i64,
                u64,
                i32,
                i32,
                t.int64,
                i64,
                array(t.uint64, 2),
                array(t.int32, 2),
                array(t.int32, 2),
                t.int64,
                t.int64,
                t.int64,
                t.int64,
            ),
        ),
        (candidates.sort_runs, (u64, i64, i32)),
        (boilerplate.judge_samples, (u64, u64, i64, array(t.int64, 2), u64, t.float64)),
        (boilerplate.judge_rows, (u64, u64, i64, array(t.int64, 2), i64, u64, t.float64)),
        (text.sentence_keys, (u64, i64, t.int64, u64)),
        (text.kept_shingles, (u64, i64, i64, t.int64, u64)),
        (text.quoted_shingles, (u64, array(t.boolean), t.int64, u64)),
        (verify.view_passages, (array(t.int64, 2), i64, t.int64, i64, u64, i64)),
        (verify.shared_tagged, (u64, i64, i64, i64, u64, i64, i64, i64, t.float64)),
        (verify.intersect_count, (u64, u64)),
        (formula.formula, (counters, u64, u64, u64, u64, counters, u64, t.int64, t.int64)),
        (formula.readings, (counters, u64, u64, u64)),
        (formula.count_keys, (counters, u64, u64, u64)),
        (formula.count_and_pool, (counters, u64, u64, u64, u64, counters, u64, *[t.int64] * 3, *[t.boolean] * 2)),
        (text.minhash_into, (u32, i64, u32, u32, array(t.uint32, 2))),
        # the shared passages' offsets (``spans=True``, ``dedup explain``)
        (text.shingle_ids, (i64, u64, t.int64, t.int64, t.int64, t.int64, u64, t.uint64)),
        (tables.table_insert_all, (*table, u64, i64, t.int64, t.int64)),
        (tables.table_query, (*table, array(t.int64, 2), array(t.boolean), array(t.uint64, 2), t.int64)),
    ]


def compile_all() -> int:
    """Load the kernels of ``_first_run_signatures`` from numba's cache, compiling (and caching)
    the ones it does not hold; how many there are. The package build calls it (``setup.py``), so
    that an installed package's first run finds them in its cache."""
    signatures = _first_run_signatures()
    for kernel, argtypes in signatures:
        kernel.compile(argtypes)
    return len(signatures)


@lru_cache(maxsize=1)
def load_for_stream() -> int:
    """Load the kernels of ``_first_run_signatures`` that the stream calls (all but the batch
    engine's candidate join and its boilerplate judge of samples), once per process; how many. The
    stream calls it on its first add, so that its first comparison, first removal or first
    judging of boilerplate does not stop to load a kernel. A kernel missing from numba's cache is
    compiled here (``COMPILE_NOTICE``)."""
    from dedup.kernels import boilerplate, candidates

    batch_only = {candidates.candidate_pairs, candidates.sort_runs, boilerplate.judge_samples}
    loaded = [(kernel, argtypes) for kernel, argtypes in _first_run_signatures() if kernel not in batch_only]
    for kernel, argtypes in loaded:
        kernel.compile(argtypes)
    return len(loaded)


def _announce_compiling() -> None:
    """Log ``COMPILE_NOTICE`` once per process, when numba first starts compiling a kernel of this
    package: the kernels are not in numba's cache, and the run waits for them (the command line
    prints the notice, so that a first run does not look hung)."""
    from numba.core import event

    class FirstCompile(event.Listener):
        announced = False

        def on_start(self, ev: Any) -> None:
            dispatcher = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
            py_func = getattr(dispatcher, "py_func", None)
            module = getattr(py_func, "__module__", None) or ""
            if not self.announced and (module == __name__ or module.startswith(f"{__name__}.")):
                self.announced = True
                _log.info(COMPILE_NOTICE)

        def on_end(self, ev: Any) -> None:
            pass

    event.register("numba:compile", FirstCompile())  # type: ignore[no-untyped-call]


_announce_compiling()
