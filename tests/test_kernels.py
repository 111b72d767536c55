"""The compiled kernels equal the numpy reference paths bit for bit."""

import itertools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boundscheck import run_checked
from dedup import kernels
from dedup.kernels import arrays as array_kernels
from dedup.kernels import candidates as candidate_kernels
from dedup.kernels import formula as formula_kernels
from dedup.kernels import tables as table_kernels
from dedup.kernels import text as text_kernels
from dedup.kernels import verify as verify_kernels

pytestmark = pytest.mark.skipif(kernels.KERNEL != "numba", reason="numba is not installed: the numpy path runs")

SORTED_UNIQUE = st.lists(st.integers(0, 60), max_size=40, unique=True).map(
    lambda v: np.array(sorted(v), dtype=np.uint64)
)


@given(SORTED_UNIQUE, SORTED_UNIQUE)
def test_intersect_count(a: np.ndarray, b: np.ndarray) -> None:
    assert verify_kernels.intersect_count(a, b) == len(np.intersect1d(a, b))


@given(st.integers(0, 5), st.integers(1, 8), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_band_keys(n_rows: int, bands: int, rows: int, seed: int) -> None:
    from dedup.stages.index import band_keys, band_keys_numpy

    signatures = np.random.default_rng(seed).integers(0, 2**32, size=(n_rows, bands * rows + 1), dtype=np.uint32)
    assert np.array_equal(band_keys(signatures, bands, rows), band_keys_numpy(signatures, bands, rows))


@given(st.lists(st.integers(0, 2**64 - 1)), st.sampled_from([np.uint64, np.int64, np.int32]))
def test_distinct_is_numpy_unique(values: list[int], dtype: type) -> None:
    info = np.iinfo(dtype)
    array = np.array([v % (int(info.max) + 1) for v in values], dtype=dtype)
    expected, counts = np.unique(array, return_counts=True)
    assert np.array_equal(array_kernels.distinct(array), expected)
    got, got_counts = array_kernels.distinct_counts(array)
    assert np.array_equal(got, expected) and np.array_equal(got_counts, counts)
    assert array_kernels.distinct(array).dtype == array.dtype


@given(
    st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=120), max_size=8),
    st.booleans(),
    st.data(),
)
@settings(deadline=None)
def test_tagged_sorts_each_shingle_with_its_passage(groups, repeats, data) -> None:
    # shingle hashes, or (repeats) few distinct values: equal shingles in several passages
    if repeats:
        groups = [[v % 7 for v in g] for g in groups]
    offsets = np.zeros(len(groups) + 1, dtype=np.int64)
    np.cumsum([len(g) for g in groups], out=offsets[1:])
    values = np.array([v for g in groups for v in g], dtype=np.uint64)
    ids = np.array(data.draw(st.lists(st.integers(0, max(len(groups) - 1, 0)), unique=True)) if groups else [])
    ids = ids.astype(np.int64)
    flat, owner, sizes = verify_kernels.tagged(values, offsets, ids)
    expected = sorted((v, x) for x, i in enumerate(ids.tolist()) for v in groups[i])
    assert np.all(flat[1:] >= flat[:-1])
    assert sorted(zip(flat.tolist(), owner.tolist(), strict=True)) == expected
    assert sizes.tolist() == [len(groups[i]) for i in ids.tolist()]


def test_tagged_sorts_many_values() -> None:
    values = np.random.default_rng(3).integers(0, 2**63, size=5000, dtype=np.uint64)
    offsets = np.array([0, 2000, 5000], dtype=np.int64)
    flat, owner, _ = verify_kernels.tagged(values, offsets, np.array([1, 0], dtype=np.int64))
    assert np.array_equal(flat, np.sort(values))
    assert np.array_equal(owner, np.where(np.isin(flat, values[:2000]), 1, 0))


# -- the kernels that write into arrays, run with numba checking every index ------------------
# Each text is a few drawn pieces repeated up to hundreds of times, so one example holds texts from
# empty to tens of thousands of characters: letters of every script, characters beyond the BMP,
# ligatures that fold to several letters, Arabic words with the conjunction, line breaks of every
# kind, sentence ends with and without spaces, abbreviations.
PIECES = st.lists(
    st.one_of(
        st.sampled_from(
            ["the", "story", "Mr.", "e.g.", " ", "  ", ".", "。", "!", "?", "\n", "\r\n", "\n\n", "و", "والكتاب",
             "新闻报道", "😀", "𠀀𠀁", "ﬁnance", "ß", "İstanbul", "ǅ", "...", "“quoted.”", "(", ")", "_", "3.5", "#"]
        ),
        st.characters(exclude_categories=("Cs",)),
        st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12),
    ),
    max_size=30,
)  # fmt: skip
# (lone surrogates are left out: an Article refuses them, as test_cli.py tests)
TEXTS = st.lists(st.tuples(PIECES, st.integers(0, 400)), min_size=1, max_size=8)

REPORT = "Markets rose on Tuesday as traders weighed the central bank's latest decision on rates."
FOOTER = "Subscribe to our newsletter for the latest news delivered to your inbox every day."


def _story(seed: int, sentences: int) -> str:
    rng = np.random.default_rng(seed)
    words = [f"w{int(x)}" for x in rng.integers(0, 3000, size=sentences * 14)]
    return " ".join(" ".join(words[i : i + 14]).capitalize() + "." for i in range(0, len(words), 14))


@given(TEXTS, st.integers(0, 7), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None, database=None)
def _texts_of_any_size_cluster_and_stream(texts: list[tuple[list[str], int]], copy_at: int, seed: int) -> None:
    """Random texts through the batch engine and the stream: nothing but clean errors, and an exact
    copy of a long story lands with it."""
    import dedup

    bodies = [" ".join(pieces) * repeats for pieces, repeats in texts]
    original = dedup.Article(id="story", text=_story(seed, 20))
    articles = [dedup.Article(id=f"t{i}", text=body) for i, body in enumerate(bodies)]
    articles[copy_at % len(articles) : copy_at % len(articles)] = [original]
    articles.append(dedup.Article(id="copy", text=original.text))
    skipped: list[dedup.Skip] = []
    clusters = dedup.cluster(articles, errors="skip", skipped=skipped)
    placed = sorted([m for c in clusters for m in c.member_ids] + [s.id for s in skipped])
    assert placed == sorted(a.id for a in articles)
    assert any({"copy", "story"} <= set(c.member_ids) for c in clusters)
    stream = dedup.Deduplicator()
    for article in articles:
        try:
            verdict = stream.add(article)
        except dedup.DedupError:
            continue
        if article.id == "copy":
            assert "story" in verdict.copy_of


def _boilerplate_is_learned_and_dropped() -> None:
    """A footer on every article is learned as boilerplate: the verifier then drops its sentence
    from the views (``kept_shingles``, ``view_passages``) and copies are still found."""
    import dedup

    stream = dedup.Deduplicator()
    for n in range(12):
        stream.add(dedup.Article(id=f"s{n}", text=f"{_story(n, 8)} {FOOTER}"))
    verdict = stream.add(dedup.Article(id="copy", text=f"{REPORT} {_story(3, 8)} {FOOTER}"))
    assert "s3" in verdict.copy_of
    articles = [dedup.Article(id=f"b{n}", text=f"{_story(n, 8)}\n{FOOTER}\n{REPORT}") for n in range(12)]
    articles.append(dedup.Article(id="bcopy", text=f"{_story(5, 8)}\n{FOOTER}"))
    clusters = dedup.cluster(articles)
    assert any({"b5", "bcopy"} <= set(c.member_ids) for c in clusters)


def _raises_kernel_input_error(call: Callable[[], object]) -> None:
    from dedup.errors import KernelInputError

    try:
        call()
    except KernelInputError:
        return
    raise AssertionError("arrays that do not fit together were accepted")


def _mismatched_arrays_are_refused() -> None:
    """Arrays that would make a kernel write out of bounds raise ``KernelInputError`` (under the
    bounds check, a missing check would be an ``IndexError``)."""
    u32, u64, i32, i64 = np.uint32, np.uint64, np.int32, np.int64
    values = np.arange(10, dtype=u32)
    a = np.ones(4, dtype=u32)
    offsets = np.array([0, 5, 10], dtype=i64)
    _raises_kernel_input_error(lambda: text_kernels.minhash_into(values, offsets, a, a, np.empty((1, 4), dtype=u32)))
    _raises_kernel_input_error(lambda: text_kernels.minhash_into(values, offsets, a, a, np.empty((2, 3), dtype=u32)))
    bad = np.array([0, 5, 11], dtype=i64)
    _raises_kernel_input_error(lambda: text_kernels.minhash_into(values, bad, a, a, np.empty((2, 4), dtype=u32)))
    words, starts = np.arange(6, dtype=u64), np.array([0, 3, 6], dtype=i64)
    mult = np.ones(8, dtype=u64)
    _raises_kernel_input_error(lambda: text_kernels.kept_shingles(words, starts, np.array([2], dtype=i64), 2, mult))
    _raises_kernel_input_error(lambda: text_kernels.kept_shingles(words, starts, np.array([-1], dtype=i64), 2, mult))
    passages, owner = np.array([[0, 3], [3, 6]], dtype=i64), np.array([0, 1], dtype=i64)
    _raises_kernel_input_error(
        lambda: verify_kernels.view_passages(passages, owner, 2, np.array([2], dtype=i64), words, starts)
    )
    sigs = np.zeros((2, 5), dtype=u32)
    _raises_kernel_input_error(lambda: table_kernels.band_keys(sigs, 3, 2, mult))
    counters = np.zeros(64, dtype=np.uint8)
    multipliers = np.array([3, 5], dtype=u64)
    too_many_blocks = np.array([0xC2B2AE3D27D4EB4F, 2, 64, 32], dtype=u64)  # of a table twice this size
    some = np.arange(1, 200, dtype=u64)
    _raises_kernel_input_error(lambda: formula_kernels.count_keys(counters, some, multipliers, too_many_blocks))
    _raises_kernel_input_error(
        lambda: formula_kernels.count_and_pool(
            counters, some, some, multipliers, too_many_blocks, counters, too_many_blocks, 1, 4, 8, True, True
        )
    )
    fits = np.array([0xC2B2AE3D27D4EB4F, 1, 64, 32], dtype=u64)
    wide_rows = np.array([0xC2B2AE3D27D4EB4F, 1, 64, 33], dtype=u64)  # two rows of 33 in a block of 64
    _raises_kernel_input_error(lambda: formula_kernels.count_keys(counters, some, multipliers, wide_rows))
    _raises_kernel_input_error(lambda: formula_kernels.count_keys(counters, some, multipliers, fits[:3]))
    _raises_kernel_input_error(  # one shingle short of the keys: its pooled count would be read past the end
        lambda: formula_kernels.count_and_pool(
            counters, some, some[:-1], multipliers, fits, counters.copy(), fits, 1, 4, 8, False, True
        )
    )
    # rows times slots that wrap past 2**64 (a row per element of a view of one number, no memory)
    many_rows = np.broadcast_to(np.uint64(0x9FB21C651E98DF25), (1 << 32,))
    wrapping = np.array([0xC2B2AE3D27D4EB4F, 64, 1, 1 << 32], dtype=u64)
    _raises_kernel_input_error(lambda: formula_kernels.count_keys(counters, some, many_rows, wrapping))
    signed = np.array([0x42B2AE3D27D4EB4F, 1, 64, -(2**40)], dtype=i64)  # negative slots per row
    _raises_kernel_input_error(lambda: formula_kernels.count_keys(counters, some, multipliers, signed))
    no_slots = np.array([0xC2B2AE3D27D4EB4F, 1, 64, 0], dtype=u64)
    _raises_kernel_input_error(lambda: formula_kernels.count_keys(counters, some, multipliers, no_slots))
    _raises_kernel_input_error(lambda: formula_kernels.count_keys(counters, some, multipliers[:0], fits))
    assert not counters.any()  # every cell checked before any is counted
    _raises_kernel_input_error(lambda: formula_kernels.readings(counters, some, many_rows, wrapping))
    _raises_kernel_input_error(lambda: formula_kernels.readings(counters, some, multipliers, too_many_blocks))
    _raises_kernel_input_error(
        lambda: formula_kernels.formula(counters, some, some, multipliers, fits, counters, too_many_blocks, 4, 8)
    )
    keys = np.arange(1, 6, dtype=u64)
    slots = np.full(8, -1, dtype=i32)
    small = np.empty(4, dtype=i32)

    def insert(slots: np.ndarray, entries: np.ndarray, keys: np.ndarray, handle: int) -> int:
        entry_key = np.empty(len(entries), dtype=u64)
        return int(table_kernels.table_insert(slots, entries, entries.copy(), entry_key, 0, keys, handle))

    _raises_kernel_input_error(lambda: insert(slots, small, keys, 0))
    _raises_kernel_input_error(lambda: insert(slots[:0], small, keys[:1], 0))
    # any number of slots serves, a probe wrapping past the last one; a full table is refused
    odd = np.full(3, -1, dtype=i32)
    assert insert(odd, np.empty(3, dtype=i32), np.array([2**64 - 1, 2**63, 1], dtype=u64), 0) == 3
    assert sorted(odd.tolist()) == [0, 1, 2]
    _raises_kernel_input_error(lambda: insert(odd, np.empty(4, dtype=i32), np.array([5], dtype=u64), 0))
    entries = np.empty(16, dtype=i32)
    _raises_kernel_input_error(lambda: insert(slots, entries, keys, 2**31))
    _raises_kernel_input_error(lambda: table_kernels.table_insert(slots, entries, entries.copy(), keys, 0, keys, 0))
    assert (slots == -1).all()  # nothing written by a refused call
    full = np.arange(1, 9, dtype=u64)
    entry_key = np.empty(16, dtype=u64)
    links = entries.copy()
    table_kernels.table_insert(slots, entries, links, entry_key, 0, full, 0)
    span = np.array([[0, 8]], dtype=i64)
    alive = np.ones(1, dtype=np.bool_)
    one = np.full((1, 1), 1, dtype=u64)
    _raises_kernel_input_error(
        lambda: table_kernels.table_query(
            slots, entries, links, entry_key, span, alive, np.full((1, 1), 99, dtype=u64), 1
        )
    )
    _raises_kernel_input_error(lambda: table_kernels.table_query(slots, entries, links, entry_key, span, alive, one, 0))
    # a span of keys that is not a start and an end is refused, never read past
    _raises_kernel_input_error(
        lambda: table_kernels.table_query(slots, entries, links, entry_key, span[:, :1].copy(), alive, one, 1)
    )
    # a handle listed that has no place among the live handles is refused, never read past them
    _raises_kernel_input_error(
        lambda: table_kernels.table_query(slots, entries, links, entry_key, span, alive[:0], one, 1)
    )
    # a slot whose list ends outside the entries is refused, never read
    broken = slots.copy()
    broken[slots == 0] = 1_000  # the slot of key 1's list, whose only entry is entry 0
    _raises_kernel_input_error(
        lambda: table_kernels.table_query(broken, entries, links, entry_key, span, alive, one, 1)
    )
    # a link out of the entries, or a ring that never comes back to its slot's entry, is refused
    # rather than read past the arrays or walked for ever
    looped = links.copy()
    looped[0] = 1  # entry 0 (key 1, a ring of one) now links to entry 1, whose ring is of key 2
    looped[1] = 1
    _raises_kernel_input_error(
        lambda: table_kernels.table_query(slots, entries, looped, entry_key, span, alive, one, 100)
    )
    outside = links.copy()
    outside[0] = 1_000
    _raises_kernel_input_error(
        lambda: table_kernels.table_query(slots, entries, outside, entry_key, span, alive, one, 1)
    )
    rank, by_rank = np.array([0, 1], dtype=i64), np.array([0, 1], dtype=i64)
    doc_keys, doc_owner, doc_pos = np.array([1, 2], dtype=u64), np.array([0, 2], dtype=i32), np.array([0, 1], dtype=i32)
    pas_off = np.zeros(3, dtype=i64)
    pas = np.empty((1, 0), dtype=u64)
    pas_i = np.empty((1, 0), dtype=i32)
    _raises_kernel_input_error(
        lambda: candidate_kernels.candidate_pairs(
            rank, by_rank, doc_keys, doc_owner, doc_pos, 1, pas_off, pas, pas_i, pas_i, 2, 1, 5, 0
        )
    )


@given(
    st.lists(st.lists(st.integers(1, 40), max_size=12, unique=True), max_size=12),
    st.integers(4, 7),
    st.lists(st.integers(0, 12), max_size=4),
)
@settings(deadline=None)
def test_inserting_articles_together_equals_inserting_them_in_turn(
    handles: list[list[int]], bits: int, cuts: list[int]
) -> None:
    """Copying articles into an index's next table a few at a time (``table_insert_all``, from
    where the last call stopped) leaves it in the state the articles inserted one by one leave it
    in: every slot, link and entry the same."""
    i32, u64 = np.int32, np.uint64
    keys = [np.array(sorted(k), dtype=u64) for k in handles]
    total = sum(len(k) for k in keys)
    slots, entries = 1 << max(bits, (2 * total).bit_length()), max(total, 1)

    def table() -> tuple[np.ndarray, ...]:
        return (np.full(slots, -1, dtype=i32), np.zeros(entries, dtype=i32), np.zeros(entries, dtype=i32),
                np.zeros(entries, dtype=u64))  # fmt: skip

    one_by_one, at_once = table(), table()
    written = 0
    for h, k in enumerate(keys):
        written = table_kernels.table_insert(*one_by_one, written, k, h)
    bounds = sorted({0, len(keys), *[min(c, len(keys)) for c in cuts]})
    together = 0
    for lo, hi in itertools.pairwise(bounds):
        flat = np.concatenate([np.empty(0, dtype=u64), *keys[lo:hi]])
        offsets = np.concatenate([[0], np.cumsum([len(k) for k in keys[lo:hi]])]).astype(np.int64)
        together = table_kernels.table_insert_all(*at_once, flat, offsets, together, lo)
    assert together == written == total
    assert all(np.array_equal(x, y) for x, y in zip(one_by_one, at_once, strict=True))


def test_inserting_at_once_refuses_offsets_that_do_not_fit_the_keys() -> None:
    i32, u64, i64 = np.int32, np.uint64, np.int64
    keys = np.arange(1, 5, dtype=u64)
    slots = np.full(16, -1, dtype=i32)
    entries = np.zeros(8, dtype=i32)
    for offsets in ([1, 4], [0, 3], [0, 3, 2, 4], [], [0, 5]):
        _raises_kernel_input_error(
            lambda o=offsets: table_kernels.table_insert_all(
                slots, entries, entries.copy(), np.zeros(8, dtype=u64), keys, np.array(o, dtype=i64), 0, 0
            )
        )
    small = np.zeros(3, dtype=i32)
    whole = np.array([0, 4], dtype=i64)
    _raises_kernel_input_error(
        lambda: table_kernels.table_insert_all(slots, small, small.copy(), np.zeros(3, dtype=u64), keys, whole, 0, 0)
    )
    # entries from 5 on: no room for four more in eight; handles past the int32 range
    for start, handle in ((5, 0), (-1, 0), (0, -1), (0, 2**31 - 1)):
        _raises_kernel_input_error(
            lambda s=start, h=handle: table_kernels.table_insert_all(
                slots, entries, entries.copy(), np.zeros(8, dtype=u64), keys, whole, s, h
            )
        )
    assert (slots == -1).all()  # nothing written by a refused call


def _formula_counts_in_and_out() -> None:
    """Articles of outlets counted in the formula sketch, one by one and as a batch's chunk, then
    taken out again: the tables agree, and the counts go back to zero."""
    from dedup.config import FormulaConfig
    from dedup.stages.formula import FormulaCounts, keys, shingles_of

    rng = np.random.default_rng(3)
    config = FormulaConfig(sketch_width_bits=8, sketch_rows=3, max_load=1e6, min_repeated=2)
    stream, batch = FormulaCounts(config), FormulaCounts(config)
    articles = [(f"outlet{i % 3}", np.unique(rng.integers(0, 2**63, size=rng.integers(1, 60), dtype=np.uint64)))
                for i in range(40)]  # fmt: skip
    for source, shingles in articles:
        stream.observe(source, shingles)
    chunk = [keys(source, shingles) for source, shingles in articles]
    batch.add_keys(
        np.concatenate(chunk), np.concatenate([shingles_of(s, k) for (s, _), k in zip(articles, chunk, strict=True)])
    )
    assert np.array_equal(stream.table, batch.table)
    assert np.array_equal(stream.repeated, batch.repeated)
    assert stream.repeated.any() and stream.repeated.max() < 255  # pooled counts moved, none full
    for source, shingles in reversed(articles):
        stream.forget(source, shingles)
    assert not stream.table.any()
    assert not stream.repeated.any()


def checked_child() -> None:
    """The bounds-checked child of ``test_buffer_writing_kernels_stay_in_bounds``."""
    _mismatched_arrays_are_refused()
    _boilerplate_is_learned_and_dropped()
    _formula_counts_in_and_out()
    _texts_of_any_size_cluster_and_stream()


@pytest.mark.slow
def test_buffer_writing_kernels_stay_in_bounds() -> None:
    """The text, shingling, signing, index, candidate, formula and verification kernels on texts of every
    size and script, with numba checking every index: an out-of-bounds access or a crash fails the
    test with the child's output."""
    run_checked("test_kernels", "checked_child")


def _public_signatures(code: str) -> set[str]:
    """In a fresh process, after ``code``: each public kernel with the argument types it was
    compiled or loaded for, as ``name (types)`` lines."""
    script = (
        code
        + """
import importlib, pkgutil
from numba.core.registry import CPUDispatcher
import dedup.kernels
for module in pkgutil.iter_modules(dedup.kernels.__path__, "dedup.kernels."):
    for name, value in sorted(vars(importlib.import_module(module.name)).items()):
        if isinstance(value, CPUDispatcher) and not name.startswith("_") and value.py_func.__module__ == module.name:
            for sig in value.signatures:
                print(module.name, name, sig)
"""
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=600)
    return set(run.stdout.splitlines())


def test_compile_all_covers_what_the_batch_and_the_stream_call() -> None:
    """An installed package's first run compiles nothing when the build cached ``compile_all``'s
    kernels: the batch engine and the stream (with boilerplate to judge, characters beyond 16
    bits, the shared passages' offsets, and an article removed, as a window lets articles go) call
    no kernel for other argument types."""
    workload = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
import dedup
from conftest import load_seeds
articles = load_seeds()
furniture = "Subscribe to our newsletter for the latest news from the city every day."
extra = [
    dedup.Article(id=f"x{{i}}", text=f"{{furniture}}\\nStory {{i}} tells of \U0001d518nicode {{i * 7}} and more. " * 3)
    for i in range(12)
]
list(dedup.cluster(articles + extra))
list(dedup.cluster(articles, spans=True))
stream = dedup.Deduplicator()
for article in articles + extra:
    stream.add(article, spans=True)
stream.remove(extra[0].id)
stream.close()
"""
    _public_signatures(workload)  # fills numba's cache if it is empty
    # from the cache: only what is called from Python, not the kernels compiled into their callers
    used = _public_signatures(workload)
    cached = _public_signatures("from dedup import kernels\nkernels.compile_all()")
    assert used, "the workload called no kernel"
    assert used <= cached, f"kernels called for types that compile_all does not cache: {sorted(used - cached)}"


def test_after_its_first_add_the_stream_loads_no_kernel() -> None:
    """The first add loads every kernel the stream calls: the first comparison, judging of
    boilerplate and removal that come later do not stop to load one (a story's second copy
    would wait for them)."""
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
import dedup
from numba.core.registry import CPUDispatcher
import importlib, pkgutil
import dedup.kernels
from conftest import load_seeds

def loaded():
    out = set()
    for module in pkgutil.iter_modules(dedup.kernels.__path__, "dedup.kernels."):
        for name, value in vars(importlib.import_module(module.name)).items():
            if isinstance(value, CPUDispatcher):
                out.update(f"{{module.name}}.{{name}} {{sig}}" for sig in value.signatures)
    return out

articles = load_seeds()
furniture = "Subscribe to our newsletter for the latest news from the city every day."
extra = [
    dedup.Article(id=f"x{{i}}", text=f"{{furniture}}\\nStory {{i}} tells of \U0001d518nicode {{i * 7}} and more. " * 3)
    for i in range(12)
]
stream = dedup.Deduplicator()
stream.add(articles[0])
first = loaded()
copies = sum(stream.add(article).is_copy for article in articles[1:] + extra)
stream.remove(extra[0].id)
stream.close()
print(copies)
print("\\n".join(sorted(loaded() - first)))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=600)
    copies, *late = [line for line in run.stdout.splitlines() if line]
    assert int(copies) > 0, "the workload compared nothing"
    assert late == [], f"kernels loaded after the first add: {late}"


def test_the_compile_notice_is_logged_once_per_process() -> None:
    script = """
import logging, sys
import numba
from dedup import kernels
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(name)s: %(message)s")
def first(x):
    return x + 1
def second(x):
    return x * 2
first.__module__ = second.__module__ = "dedup.kernels.text"  # as if they were kernels of that module
numba.njit(first)(1)
numba.njit(first)(1.5)
numba.njit(second)(2)
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300)
    assert run.stdout.splitlines() == [f"dedup.kernels: {kernels.COMPILE_NOTICE}"]


def test_an_article_of_twenty_thousand_sentences_is_compared_in_a_child_process() -> None:
    """The batch and the stream compare an article of 20,000 sentences with a short one, with the
    kernels as this installation cached them (a crash fails this test, not the test run)."""
    script = """
import dedup
words = "harbour board fishing fleet council palace meeting court ruling appeal market price".split()
sentences = [" ".join(words[(i * 7 + j) % 12] + str((i * 31 + j) % 97) for j in range(12)) + "." for i in range(20000)]
config = dedup.DedupConfig(max_chars=10_000_000)
articles = [dedup.Article(id="short", text=sentences[5]), dedup.Article(id="long", text=" ".join(sentences))]
print(sorted(len(c) for c in dedup.cluster(articles, config=config)))
d = dedup.Deduplicator(config)
for a in articles:
    d.add(a)
print(sorted(len(c) for c in d.clusters()))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split("\n")[:2] == ["[2]", "[2]"]
