import json
import os
import pickle
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boundscheck import SRC, run_checked
from dedup.errors import CapacityError
from dedup.stages import index as index_module
from dedup.stages.index import (
    BandIndex,
    CandidateIndex,
    DatasketchLSH,
    LSHBackend,
    band_keys,
    band_keys_numpy,
    candidate_pairs,
    passages_needed,
)
from dedup.stages.sign import signature

RNG = np.random.default_rng(0)


def _sigs(groups: list[np.ndarray], num_perm: int = 8) -> np.ndarray:
    return np.stack([signature(g, num_perm, 7) for g in groups])


def _backends(num_perm: int, bands: int, rows: int) -> list[LSHBackend]:
    return [BandIndex(bands=bands, rows=rows), DatasketchLSH(num_perm=num_perm, bands=bands, rows=rows, seed=7)]


@pytest.mark.parametrize("backend", _backends(8, 4, 2), ids=["band", "datasketch"])
def test_backends_follow_the_protocol(backend: LSHBackend) -> None:
    assert isinstance(backend, LSHBackend)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_listed_under_tells_each_id_indexed_under_exactly_those_keys(data) -> None:
    """``listed_under`` answers for many ids at once as reading each one's keys would: ids never
    indexed, removed or indexed again with other signatures, keys of other lengths."""
    index = BandIndex(bands=4, rows=2)
    rows = st.lists(st.integers(0, 3), min_size=8, max_size=8)  # few values: many equal keys
    signatures = {}
    for step in data.draw(st.lists(st.tuples(st.integers(0, 9), st.booleans(), rows), max_size=30)):
        n, remove, row = step
        if remove:
            index.remove(f"a{n}")
            signatures.pop(f"a{n}", None)
        else:
            signatures[f"a{n}"] = np.array([row], dtype=np.uint32)
            index.add(f"a{n}", signatures[f"a{n}"])
    query = np.array([data.draw(rows)], dtype=np.uint32)
    keys = index.keys(query)
    ids = [f"a{n}" for n in data.draw(st.lists(st.integers(0, 11), max_size=15))]
    expected = [(found := index.indexed_keys(i)) is not None and np.array_equal(found, keys) for i in ids]
    assert index.listed_under(ids, keys) == expected
    assert any(expected) == any(index.keys(s).tobytes() == keys.tobytes() for i, s in signatures.items() if i in ids)


def test_a_twin_is_an_indexed_article_with_the_same_document_band_keys() -> None:
    words = RNG.integers(0, 2**63, 200, dtype=np.uint64)
    doc = signature(words, 128, 1)
    other = signature(np.concatenate([words[:150], RNG.integers(0, 2**63, 50, dtype=np.uint64)]), 128, 1)
    index = CandidateIndex(BandIndex(bands=25, rows=5), BandIndex(bands=4, rows=2))
    passages = _sigs([words[:20]])
    index.add("same", doc, passages)
    index.add("near", other, passages)
    twins = index.twins(doc)
    assert twins is not None
    assert twins(["near", "same", "never indexed"]) == [False, True, False]
    assert twins([]) == []
    index.remove("same")
    assert twins(["same", "near"]) == [False, False]
    # a backend that keeps no keys gives no twin test
    assert (
        CandidateIndex(DatasketchLSH(num_perm=128, bands=25, rows=5, seed=1), BandIndex(bands=4, rows=2)).twins(doc)
        is None
    )


def test_passage_index_finds_articles_sharing_a_few_passages() -> None:
    shared = [RNG.integers(0, 2**63, 20, dtype=np.uint64) for _ in range(3)]
    own_a = [RNG.integers(0, 2**63, 20, dtype=np.uint64) for _ in range(20)]
    own_b = [RNG.integers(0, 2**63, 20, dtype=np.uint64) for _ in range(20)]
    a_passages, b_passages = shared + own_a, own_b + shared
    for docs, passages in [_backends(128, 25, 5), _backends(8, 4, 2)][:1]:
        index = CandidateIndex(BandIndex(bands=25, rows=5), BandIndex(bands=4, rows=2))
        a_doc = signature(np.concatenate(a_passages), 128, 1)
        index.add("a", a_doc, _sigs(a_passages))
        b_doc = signature(np.concatenate(b_passages), 128, 1)
        # whole-article overlap is ~7%: only the passage index can propose "a"
        assert index.candidates(b_doc, _sigs(b_passages), limit=10, min_hits=2, few=0) == ["a"]
        assert index.candidates(b_doc, _sigs(b_passages[:20]), limit=10, min_hits=2, few=0) == []
        index.remove("a")
        assert index.candidates(b_doc, _sigs(b_passages), limit=10, min_hits=2, few=0) == []
        del docs, passages


@given(st.lists(st.integers(0, 5), min_size=1, max_size=30), st.integers(0, 2**31))
@settings(max_examples=30, deadline=None)
def test_band_index_agrees_with_datasketch(structure: list[int], seed: int) -> None:
    """Our banding and datasketch's MinHashLSH propose the same articles for the same signatures."""
    rng = np.random.default_rng(seed)
    pool = [rng.integers(0, 2**63, 12, dtype=np.uint64) for _ in range(6)]
    ours, theirs = _backends(8, 4, 2)
    for n, choice in enumerate(structure):
        rows = _sigs([pool[choice], rng.integers(0, 2**63, 12, dtype=np.uint64)])
        assert set(ours.hits(rows)) == set(theirs.hits(rows))
        ours.add(f"a{n}", rows)
        theirs.add(f"a{n}", rows)
    for n in range(0, len(structure), 2):
        ours.remove(f"a{n}")
        theirs.remove(f"a{n}")
    probe = _sigs(pool)
    assert set(ours.hits(probe)) == set(theirs.hits(probe))


def test_band_index_grows_and_forgets_like_datasketch() -> None:
    """Enough articles to make the table grow several times, with removals before and after."""
    rng = np.random.default_rng(5)
    pool = [rng.integers(0, 2**63, 10, dtype=np.uint64) for _ in range(50)]
    ours, theirs = _backends(8, 4, 2)
    for n in range(700):
        rows = _sigs([pool[int(rng.integers(0, 50))] for _ in range(3)] + [rng.integers(0, 2**63, 10, dtype=np.uint64)])
        ours.add(f"a{n}", rows)
        theirs.add(f"a{n}", rows)
        if n % 7 == 3:
            ours.remove(f"a{n - 2}")
            theirs.remove(f"a{n - 2}")
    probe = _sigs(pool[:10])
    assert ours.hits(probe) == theirs.hits(probe)


def _long_article(article_id: str) -> str:
    """One article of 130 sentences of 15 words (~2,000 words, 130 passages): more passage keys
    than a new index has room for."""
    r = random.Random(1)
    vocab = ["".join(r.choice("abcdefghij") for _ in range(6)) for _ in range(5000)]
    text = " ".join(" ".join(r.choice(vocab) for _ in range(15)) + "." for _ in range(130))
    return json.dumps({"id": article_id, "text": text}) + "\n"


def _stream(index: Path, line: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "dedup", "stream", "--index", str(index)],
        input=line, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_a_long_first_article_is_indexed_stored_and_found_after_reopening(tmp_path: Path) -> None:
    """The first article of a new SQLite index has more passages than the empty index has room
    for: it is indexed, stored, and a copy sent to a new process (which reopens the file and
    rebuilds the index from it) is found to be its copy."""
    path = tmp_path / "index.sqlite"
    first = _stream(path, _long_article("long"))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["id"] == "long"
    second = _stream(path, _long_article("copy"))
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["copy_of"] == ["long"]


def _reference_hits(indexed: dict[str, set[int]], query: np.ndarray, bands: int, rows: int) -> Counter[str]:
    """``BandIndex.hits`` by a dict of sets: for each article, the query rows that share a band
    key with it."""
    counts: Counter[str] = Counter()
    for row in band_keys_numpy(query, bands, rows).tolist():
        counts.update(a for a, keys in indexed.items() if keys.intersection(row))
    return counts


def _reference_first_hits(
    indexed: dict[str, set[int]], query: np.ndarray, bands: int, rows: int, first: int
) -> Counter[str]:
    """``BandIndex(first=first).hits`` by a dict of sets in the order of indexing: the articles
    among the ``first`` indexed under some band key of the query, each with all its hits."""
    counts = _reference_hits(indexed, query, bands, rows)
    found = {
        a
        for key in band_keys_numpy(query, bands, rows).ravel().tolist()
        for a in [a for a, keys in indexed.items() if key in keys][:first]
    }
    return Counter({a: counts[a] for a in found})


def test_a_bounded_query_reads_the_articles_indexed_first_and_counts_them_whole() -> None:
    index = BandIndex(bands=1, rows=1, first=2)
    crowded = np.array([[7]], dtype=np.uint32)
    for n in range(5):
        index.add(f"a{n}", crowded)
    index.add("a5", np.array([[7], [8]], dtype=np.uint32))
    index.add("a6", np.array([[8]], dtype=np.uint32))
    both = np.array([[7], [8]], dtype=np.uint32)
    # the crowded key lists a0 and a1 first; a5 is read under the other key, and counted by both
    assert index.hits(both) == Counter({"a0": 1, "a1": 1, "a5": 2, "a6": 1})
    index.remove("a0")
    assert index.hits(crowded) == Counter({"a1": 1, "a2": 1})


def _rows(seed: int, n: int, width: int, spread: int) -> np.ndarray:
    """``n`` signature rows; a small ``spread`` makes the same band keys recur across articles."""
    return np.random.default_rng(seed).integers(0, spread, size=(n, width), dtype=np.uint32)


ADD = st.tuples(st.just("add"), st.integers(0, 7), st.integers(0, 300), st.integers(0, 2**32 - 1))
REMOVE = st.tuples(st.just("remove"), st.integers(0, 7), st.just(0), st.just(0))


@given(
    bands=st.integers(1, 8),
    rows=st.integers(1, 4),
    spread=st.sampled_from([2, 16, 2**32]),
    first_rows=st.integers(0, 800),
    ops=st.lists(st.one_of(ADD, REMOVE), max_size=25),
    seed=st.integers(0, 2**32 - 1),
    first=st.integers(1, 4),
)
@settings(max_examples=60, deadline=None, database=None)
def _band_index_agrees_with_a_dict_of_sets(
    bands: int, rows: int, spread: int, first_rows: int, ops: list[tuple[str, int, int, int]], seed: int, first: int
) -> None:
    index = BandIndex(bands=bands, rows=rows)
    bounded = BandIndex(bands=bands, rows=rows, first=first)
    reference: dict[str, set[int]] = {}
    probe = _rows(seed, 40, bands * rows, spread)
    for kind, article, n, article_seed in [("add", 0, first_rows, seed), *ops]:
        name = f"a{article}"
        if kind == "add":
            signatures = _rows(article_seed, n, bands * rows, spread)
            index.add(name, signatures)
            bounded.add(name, signatures)
            reference.pop(name, None)  # an article added again is indexed last
            reference[name] = set(band_keys_numpy(signatures, bands, rows).ravel().tolist())
        else:
            index.remove(name)
            bounded.remove(name)
            reference.pop(name, None)
        assert len(index) == len(reference) and all(a in index for a in reference)
        assert index.hits(probe) == _reference_hits(reference, probe, bands, rows)
        assert bounded.hits(probe) == _reference_first_hits(reference, probe, bands, rows, first)


def _handles_wrap_and_capacity_holds() -> None:
    """Many adds and removes with few articles indexed renumber the handles (their limit made
    small here) and keep the answers; an article over the limit is refused and changes nothing."""
    index_module._MAX_HANDLE = 40  # type: ignore[misc]
    index = BandIndex(bands=2, rows=1)
    reference: dict[str, set[int]] = {}
    probe = _rows(0, 30, 2, 16)
    for n in range(300):
        signatures = _rows(n, n % 4, 2, 16)
        index.add(f"a{n}", signatures)
        reference[f"a{n}"] = set(band_keys_numpy(signatures, 2, 1).ravel().tolist())
        if n >= 3:
            index.remove(f"a{n - 3}")
            del reference[f"a{n - 3}"]
        assert index.hits(probe) == _reference_hits(reference, probe, 2, 1)
    try:
        index.add("huge", _rows(1, 40, 2, 2**32))
    except CapacityError:
        pass
    else:
        raise AssertionError("an article over the index's capacity was accepted")
    assert "huge" not in index and index.hits(probe) == _reference_hits(reference, probe, 2, 1)


def _window_of_generations(copy_per_key: int, copy_least: int, window: int, steps: int, seed: int) -> int:
    """A stream through a ``BandIndex`` with small tables (so that successors are begun, copied
    into a few articles at a time and finished many times over): articles of 0 to 12 rows added,
    the one ``window`` adds earlier removed, now and then one removed out of turn or added again;
    after every step the index answers as a dict of sets in the order of indexing does, and a
    pickled copy of it (as a stream's saved state takes it, in mid-copy too) answers the same and
    goes on alike. Returns how many tables replaced their predecessor."""
    saved = index_module._MIN_SLOTS, index_module.COPY_PER_KEY, index_module.COPY_LEAST
    index_module._MIN_SLOTS, index_module.COPY_PER_KEY, index_module.COPY_LEAST = 16, copy_per_key, copy_least  # type: ignore[misc]
    try:
        rng = np.random.default_rng(seed)
        index, bounded = BandIndex(bands=3, rows=2), BandIndex(bands=3, rows=2, first=2)
        reference: dict[str, set[int]] = {}
        probe = _rows(seed, 12, 6, 64)
        replaced, table = 0, index._table
        for n in range(steps):
            name = f"a{int(rng.integers(0, n))}" if n and rng.random() < 0.1 else f"a{n}"
            signatures = _rows(int(rng.integers(0, 2**32)), int(rng.integers(0, 13)), 6, 64)
            index.add(name, signatures)
            bounded.add(name, signatures)
            reference.pop(name, None)
            reference[name] = set(band_keys_numpy(signatures, 3, 2).ravel().tolist())
            for gone in [f"a{n - window}"] + ([f"a{int(rng.integers(0, n))}"] if n and rng.random() < 0.1 else []):
                index.remove(gone)
                bounded.remove(gone)
                reference.pop(gone, None)
            if index._table is not table:
                replaced, table = replaced + 1, index._table
            assert len(index) == len(reference) and all(a in index for a in reference)
            assert index.hits(probe) == _reference_hits(reference, probe, 3, 2)
            assert bounded.hits(probe) == _reference_first_hits(reference, probe, 3, 2, 2)
            if n % 97 == 0:
                index, bounded = pickle.loads(pickle.dumps(index)), pickle.loads(pickle.dumps(bounded))
                table = index._table
                assert index.hits(probe) == _reference_hits(reference, probe, 3, 2)
        return replaced
    finally:
        index_module._MIN_SLOTS, index_module.COPY_PER_KEY, index_module.COPY_LEAST = saved  # type: ignore[misc]


@pytest.mark.parametrize(
    ("copy_per_key", "copy_least", "seed"), [(8, 16, 0), (2, 1, 1), (1, 0, 2), (64, 4096, 3)], ids=str
)
def test_a_band_index_grows_into_its_successors_keeping_its_answers(
    copy_per_key: int, copy_least: int, seed: int
) -> None:
    """A window of articles streamed through small tables keeps its answers while each table is
    copied into the next a few articles per add (or, copied too slowly to keep up, when the rest is
    copied at once, or a larger successor begun)."""
    assert _window_of_generations(copy_per_key, copy_least, window=40, steps=700, seed=seed) >= 5


@given(
    articles=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 9), st.integers(0, 2**32 - 1)), max_size=60),
    later=st.lists(st.one_of(ADD, REMOVE), max_size=15),
    spread=st.sampled_from([4, 64, 2**32]),
)
@settings(max_examples=80, deadline=None, database=None)
def test_an_index_filled_in_one_go_answers_as_one_added_to_in_turn(
    articles: list[tuple[int, int, int]], later: list[tuple[str, int, int, int]], spread: int
) -> None:
    """A file read back builds its LSH tables in one go (``CandidateIndex.filling``): they answer
    as the tables of the same articles added one at a time (an id added again counts once, last),
    and go on alike as articles are added and removed."""

    def index() -> CandidateIndex:
        return CandidateIndex(BandIndex(bands=3, rows=2), BandIndex(bands=2, rows=2, first=3))

    def article(seed: int, passages: int) -> tuple[np.ndarray, np.ndarray]:
        rows = _rows(seed, passages + 1, 6, spread)
        return rows[0], rows[1:, :4].copy()

    in_turn, filled = index(), index()
    with filled.filling() as add:
        for n, passages, seed in articles:
            in_turn.add(f"a{n}", *article(seed, passages))
            add(f"a{n}", *article(seed, passages))
    probes = [article(seed, 9) for seed in range(5)] + [article(seed, p) for _, p, seed in articles[:5]]

    def answers(ix: CandidateIndex) -> list[object]:
        return [
            (ix.documents.hits(d[None, :]), ix.passages.hits(p), ix.candidates(d, p, limit=4, min_hits=1, few=2))
            for d, p in probes
        ]

    assert answers(filled) == answers(in_turn)
    assert len(filled.documents) == len(in_turn.documents) == len({n for n, _, _ in articles})
    for kind, n, passages, seed in later:
        for ix in (in_turn, filled):
            if kind == "add":
                ix.add(f"a{n}", *article(seed, passages % 10))
            else:
                ix.remove(f"a{n}")
        assert answers(filled) == answers(in_turn)


def test_only_an_empty_band_index_is_filled() -> None:
    """``fill`` builds a new index: given one that holds articles, or ids twice, it refuses."""
    index = BandIndex(bands=2, rows=2)
    with pytest.raises(ValueError, match="distinct ids"):
        index.fill(["a", "a"], np.arange(4, dtype=np.uint64), np.array([0, 2, 4]))
    index.add("a", _rows(0, 1, 4, 2**32))
    with pytest.raises(ValueError, match="holds no article"):
        index.fill(["b"], np.arange(2, dtype=np.uint64), np.array([0, 2]))


def test_no_add_copies_more_than_its_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """However large the index, one ``add`` inserts at most ``COPY_PER_KEY`` times its own keys
    (at least ``COPY_LEAST``) into the next table, plus the last article it reaches: a table is
    never rebuilt in one go, so no add stalls. Articles of up to 40 rows streamed through a window
    of 2,000, with the table replaced several times over."""
    inserted: list[int] = []
    real = index_module.table_kernels.table_insert_all

    def counted(*args: object) -> int:
        inserted.append(len(args[5]))  # type: ignore[arg-type]
        return real(*args)  # type: ignore[no-any-return]

    monkeypatch.setattr(index_module.table_kernels, "table_insert_all", counted)
    index = BandIndex(bands=4, rows=2)
    rng = np.random.default_rng(5)
    tables, table = 0, index._table
    for n in range(12_000):
        rows = int(rng.integers(0, 41))
        inserted.clear()
        index.add(f"a{n}", _rows(n, rows, 8, 2**32))
        if n >= 2_000:
            index.remove(f"a{n - 2_000}")
        keys = len(np.unique(band_keys_numpy(_rows(n, rows, 8, 2**32), 4, 2)))
        copied = sum(inserted) - keys
        assert copied <= max(index_module.COPY_PER_KEY * keys, index_module.COPY_LEAST) + 4 * 40
        if index._table is not table:
            tables, table = tables + 1, index._table
    assert tables >= 3


def _under_way(monkeypatch: pytest.MonkeyPatch, method: str) -> list[bool]:
    """For each call of ``BandIndex.<method>`` (``_begin`` or ``_finish``) from now on, whether a
    successor was under way: a copy begun again, or finished inside one add."""
    calls: list[bool] = []
    real = getattr(BandIndex, method)

    def recorded(self: BandIndex, *args: int) -> None:
        calls.append(self._successor is not None)
        real(self, *args)

    monkeypatch.setattr(BandIndex, method, recorded)
    return calls


def test_after_the_window_shrinks_the_tables_shrink_and_no_add_copies_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A window of 20,000 articles that shrinks to 300 (a backlog leaves): the next tables are
    sized by the articles indexed, not by the table they replace, so marking their slots empty
    keeps pace with the adds and no copy has to be finished inside one add."""
    finished = _under_way(monkeypatch, "_finish")
    index = BandIndex(bands=16, rows=1)
    for n in range(20_000):
        index.add(f"a{n}", _rows(n, 2, 16, 2**32))
    peak = len(index._table.slots)
    for n in range(20_000 - 300):
        index.remove(f"a{n}")
    for n in range(20_000, 40_000):
        index.add(f"a{n}", _rows(n, 2, 16, 2**32))
        index.remove(f"a{n - 300}")
    assert len(index) == 300 and 16 * len(index._table.slots) <= peak
    assert not any(finished)


@pytest.mark.parametrize(("rows", "kept"), [(1, 10), (6, 10), (6, 100), (2, 300)])
def test_a_window_that_shrinks_then_grows_fast_copies_nothing_in_one_add(
    monkeypatch: pytest.MonkeyPatch, rows: int, kept: int
) -> None:
    """A table of over 5,000 articles one add short of being due that loses all but ``kept`` of
    them, then grows again with no removal: its successor, begun at the next add, is sized for
    the keys added while the whole old table is walked too, so it is neither begun again larger
    nor finished inside one add."""
    begun, finished = _under_way(monkeypatch, "_begin"), _under_way(monkeypatch, "_finish")
    index = BandIndex(bands=32, rows=1)
    n = 0
    while n <= 5_000 or index._successor is not None or not index._table.due(32 * rows):
        index.add(f"a{n}", _rows(n, rows, 32, 2**32))
        n += 1
    begun.clear()
    finished.clear()  # (a table of a few hundred entries may well be finished at once: a few µs)
    for gone in range(n - kept):
        index.remove(f"a{gone}")
    for m in range(n, n + 6_000):
        index.add(f"a{m}", _rows(m, rows, 32, 2**32))
    assert len(index) == 6_000 + kept and not any(begun) and not any(finished)


def test_a_reopened_index_of_articles_without_keys_has_room_for_them() -> None:
    """An index holding mostly articles without keys, pickled (a saved state) and read back, is
    not due a successor at its first adds."""
    index = BandIndex(bands=8, rows=1)
    for n in range(20_000):
        index.add(f"e{n}", np.empty((0, 8), dtype=np.uint32))
    again = pickle.loads(pickle.dumps(index))
    again.add("a", _rows(0, 4, 8, 2**32))
    assert again._successor is None and len(again) == 20_001


def test_articles_without_keys_are_copied_a_few_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The passage index holds every article, those without a passage too: a long run of them is
    copied into the next table a bounded number per add, not all in one."""
    copied: list[int] = []
    real = index_module._Table.insert

    def counted(self: object, ids: list[str], keys: np.ndarray, offsets: np.ndarray) -> None:
        copied.append(len(ids))
        real(self, ids, keys, offsets)  # type: ignore[arg-type]

    index = BandIndex(bands=8, rows=1)
    index.add("warm", _rows(0, 1, 8, 2**32))
    for n in range(20_000):
        index.add(f"e{n}", np.empty((0, 8), dtype=np.uint32))
    monkeypatch.setattr(index_module._Table, "insert", counted)
    for n in range(3_000):
        index.add(f"a{n}", _rows(n, 4, 8, 2**32))
    assert max(copied) <= max(index_module.COPY_LEAST, index_module.COPY_PER_KEY * 32)
    assert len(index) == 23_001 and "e0" in index


def test_an_article_refused_for_its_size_leaves_its_earlier_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "_MAX_HANDLE", 20)
    index = BandIndex(bands=2, rows=1)
    small = _rows(1, 2, 2, 2**32)
    index.add("a", small)
    with pytest.raises(CapacityError):
        index.add("a", _rows(2, 30, 2, 2**32))
    assert "a" in index and index.hits(small) == Counter({"a": 2})


def checked_child() -> None:
    """The bounds-checked child of ``test_band_index_never_writes_out_of_bounds``."""
    _band_index_agrees_with_a_dict_of_sets()
    _window_of_generations(1, 0, window=40, steps=400, seed=7)
    _handles_wrap_and_capacity_holds()  # (last: it leaves the handle limit small)


@pytest.mark.slow
def test_band_index_never_writes_out_of_bounds() -> None:
    """Every table grown from empty, by random adds (a first article of up to 800 rows) and
    removes, answers as a dict of sets does, with numba checking every index (an out-of-bounds
    access fails the test with the child's output, a crash too)."""
    run_checked("test_index", "checked_child")


def _flags_over(array: np.ndarray) -> list[list[str]]:
    """The ``VmFlags`` of each mapping of this process that holds part of ``array`` (Linux)."""
    start = array.__array_interface__["data"][0]
    end = start + array.nbytes
    found: list[list[str]] = []
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            low, high = (int(x, 16) for x in head.split("-"))
            inside = low < end and start < high
        elif inside and head == "VmFlags:":
            found.append(line.split()[1:])
    assert found, f"no mapping holds {start:#x}"
    return found


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads the mappings of a Linux process")
def test_a_table_does_not_ask_for_huge_pages() -> None:
    """A large table's arrays are mapped without asking for transparent huge pages: where the
    system compacts memory for the regions that ask, the first write to each huge page waits, in
    the middle of an add. (numpy asks for them for its large arrays: the test fails on those.)"""
    if not any("hg" in flags for flags in _flags_over(np.zeros(2**22, dtype=np.int32))):
        pytest.skip("numpy asks for no huge pages here: there is nothing to tell apart")
    table = index_module._Table(2**22, 2**21, 2**20)
    for name in ("slots", "entry_handle", "entry_next", "entry_key", "handle_span", "alive"):
        array = getattr(table, name)
        assert all("hg" not in flags for flags in _flags_over(array)), name
    assert (table.slots == -1).all() and not table.alive.any() and not table.handle_span.any()


def test_capacity_error_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "_MAX_HANDLE", 10)
    index = BandIndex(bands=4, rows=1)
    with pytest.raises(CapacityError, match="fewer articles per Deduplicator"):
        index.add("a", _rows(0, 5, 4, 2**32))


@settings(max_examples=60, deadline=None)
@given(st.data(), st.integers(1, 3), st.integers(1, 3), st.integers(0, 3))
def test_the_index_queried_in_id_order_follows_the_candidate_rule(data, min_hits: int, limit: int, few: int) -> None:
    """``CandidateIndex`` (the stream's execution) proposes what ``candidate_pairs`` states."""
    doc_bands, passage_bands = 3, 2
    values = st.integers(0, 3)  # few values: many collisions
    n = data.draw(st.integers(1, 8))
    docs = [np.array(data.draw(st.lists(values, min_size=doc_bands, max_size=doc_bands)), np.uint32) for _ in range(n)]
    passages = [
        np.array(
            data.draw(st.lists(st.lists(values, min_size=passage_bands, max_size=passage_bands), max_size=5)), np.uint32
        ).reshape(-1, passage_bands)
        for _ in range(n)
    ]
    index = CandidateIndex(BandIndex(bands=doc_bands, rows=1), BandIndex(bands=passage_bands, rows=1))
    got = set()
    for b in range(n):
        ids = index.candidates(docs[b], passages[b], limit=limit, min_hits=min_hits, few=few)
        got |= {(b, int(a)) for a in ids}
        index.add(str(b), docs[b], passages[b])
    expected = candidate_pairs(
        [band_keys_numpy(d[None, :], doc_bands, 1)[0].tolist() for d in docs],
        [band_keys_numpy(p, passage_bands, 1).tolist() for p in passages],
        limit=limit,
        min_hits=min_hits,
        few=few,
    )
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.integers(0, 40), st.integers(1, 5), st.integers(0, 6))
def test_the_passages_needed_are_the_same_whichever_article_is_indexed_first(
    query: int, candidate: int, min_hits: int, few: int
) -> None:
    needed = passages_needed(query, candidate, min_hits=min_hits, few=few)
    assert needed == passages_needed(candidate, query, min_hits=min_hits, few=few)
    assert 1 <= needed <= min_hits


def test_a_short_article_is_proposed_on_one_shared_passage_whichever_comes_first() -> None:
    """A two-passage report inside a long article shares one passage that collides: found when the
    long article is the query as well as when the short one is."""
    shared = RNG.integers(0, 2**63, 20, dtype=np.uint64)
    short = [shared, RNG.integers(0, 2**63, 20, dtype=np.uint64)]
    long = [RNG.integers(0, 2**63, 20, dtype=np.uint64) for _ in range(12)] + [shared]
    for first, second in ((short, long), (long, short)):
        index = CandidateIndex(BandIndex(bands=25, rows=5), BandIndex(bands=4, rows=2))
        index.add("first", signature(np.concatenate(first), 128, 1), _sigs(first))
        query = signature(np.concatenate(second), 128, 1), _sigs(second)
        assert index.candidates(*query, limit=10, min_hits=2, few=2) == ["first"]
        assert index.candidates(*query, limit=10, min_hits=2, few=1) == []


def _made_up_words(rng: random.Random, letters: str, n: int) -> list[str]:
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 7))) for _ in range(n)]


def _as_text(words: list[str]) -> str:
    """Sentences of twelve words."""
    return " ".join(w + ("." if i % 12 == 11 else "") for i, w in enumerate(words))


@pytest.mark.parametrize(
    "letters",
    ["abcdefghijklmnoprstuy", "بتثجحخدذرزسشصضطعغفقكلمنهي"],
    ids=["english", "arabic"],
)
def test_the_document_index_proposes_copies_that_cut_as_much_as_they_add(letters: str) -> None:
    """Two articles of the same length sharing a little over half of their text: the verifier
    accepts them (containment >= 0.5 both ways, a Jaccard near a third); the default document
    index must propose a good share of such pairs by itself (an index tuned for 0.5 proposes about
    one in eight)."""
    import dedup
    from dedup.stages.shingle import analyze
    from dedup.stages.verify import compare

    cfg = dedup.DedupConfig()
    rng = random.Random(5)
    pairs = []
    for _ in range(100):
        shared = _made_up_words(rng, letters, 66)
        pairs.append(
            (_as_text(shared + _made_up_words(rng, letters, 60)), _as_text(_made_up_words(rng, letters, 60) + shared))
        )
    a_docs = [analyze(a, cfg.normalize, cfg.shingle) for a, _ in pairs[:5]]
    b_docs = [analyze(b, cfg.normalize, cfg.shingle) for _, b in pairs[:5]]
    for a, b in zip(a_docs, b_docs, strict=True):
        match = compare("a", a, "b", b, verify=cfg.verify, shingle=cfg.shingle)
        assert match.is_copy and match.rule == "containment" and 0.3 < match.jaccard < 0.4
    rows = dedup.signatures([t for pair in pairs for t in pair])
    keys = band_keys(rows, cfg.minhash.bands, cfg.minhash.rows).reshape(len(pairs), 2, -1)
    proposed = (keys[:, 0, :] == keys[:, 1, :]).any(axis=1)
    assert proposed.mean() >= 0.25
