"""Formula shingles (``dedup.stages.formula``): templated stories of one outlet about different
events are not copies; the same story on two outlets is; the counts never undercount and a removal
puts them back."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
from dedup import Article, DedupConfig, Deduplicator
from dedup.config import FormulaConfig
from dedup.errors import ConfigError
from dedup.stages import pairs as pairs_module
from dedup.stages.formula import RULE, FormulaCounts
from dedup.stages.pairs import PairCache
from dedup.stages.shingle import analyze

ENGLISH = (
    "King Salman sent a cable of congratulations to President {name} of {country} on the national day of {country}.",
    "In the cable the King expressed to President {name} his sincere congratulations and best wishes of good "
    "health and happiness.",
    "The King wished the government and the friendly people of {country} further progress and prosperity under "
    "President {name}.",
    "The King affirmed the depth of the historic relations between the Kingdom and {country} and his wish to "
    "strengthen them with President {name}.",
)
ARABIC = (
    "بعث خادم الحرمين الشريفين الملك سلمان برقية تهنئة للرئيس {name} رئيس {country} بمناسبة ذكرى اليوم الوطني لبلاده {country}.",
    "وعبر الملك في البرقية للرئيس {name} عن اصدق التهاني واطيب التمنيات بموفور الصحة والسعادة له ولشعب {country}.",
    "وتمنى الملك لحكومة وشعب {country} الصديق المزيد من التقدم والازدهار في عهد الرئيس {name} الميمون.",
    "واكد الملك عمق العلاقات التاريخية بين المملكة وجمهورية {country} وحرصه على تعزيزها مع الرئيس {name}.",
)
LETTERS = {"en": "abcdefghijklmnopqrstuvwxyz", "ar": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"}


def _words(rng: random.Random, letters: str, n: int) -> str:
    return " ".join("".join(rng.choice(letters) for _ in range(rng.randint(4, 8))) for _ in range(n))


def _cable(template: tuple[str, ...], letters: str, seed: int) -> str:
    """A cable: the formula with its own president and country, and two sentences of its own."""
    rng = random.Random(seed)
    name, country = _words(rng, letters, 1), _words(rng, letters, 1)
    formula = " ".join(t.format(name=name, country=country) for t in template)
    return f"{formula}\n{_words(rng, letters, 12)}.\n{_words(rng, letters, 12)}."


def _cables(lang: str) -> list[Article]:
    """Five cables of one outlet to five presidents, and cable 0 printed again by another outlet
    with an introduction of its own."""
    template, letters = (ENGLISH, LETTERS["en"]) if lang == "en" else (ARABIC, LETTERS["ar"])
    texts = [_cable(template, letters, seed) for seed in range(5)]
    out = [Article(id=f"gazette-{i}", text=t, source="gazette") for i, t in enumerate(texts)]
    intro = _words(random.Random(99), letters, 10)
    out.append(Article(id="herald-0", text=f"{intro}.\n{texts[0]}", source="herald"))
    return out


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_cables_of_one_outlet_are_not_copies_but_the_same_cable_on_two_outlets_is(lang: str) -> None:
    articles = _cables(lang)
    d = Deduplicator()
    d.add_many(articles)
    refused = d.compare("gazette-1", "gazette-2", with_text=False)
    assert not refused.is_copy and refused.rule == RULE
    assert d.compare("gazette-0", "herald-0", with_text=False).is_copy
    off = Deduplicator(DedupConfig(formula=FormulaConfig(enabled=False)))
    off.add_many(articles)
    assert off.compare("gazette-1", "gazette-2", with_text=False).is_copy  # the rule is what refuses it
    groups = sorted(sorted(m.id for m in c.members) for c in dedup.cluster(articles) if len(c.members) > 1)
    assert groups == [["gazette-0", "herald-0"]]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_identical_texts_are_always_copies(lang: str) -> None:
    articles = _cables(lang)
    twice = [*articles, Article(id="gazette-9", text=articles[1].text, source="gazette")]
    d = Deduplicator()
    d.add_many(twice)
    assert d.compare("gazette-1", "gazette-9", with_text=False).is_copy


def test_without_a_source_nothing_is_counted_and_nothing_refused() -> None:
    articles = [Article(id=a.id, text=a.text) for a in _cables("en")]
    d = Deduplicator()
    d.add_many(articles)
    assert d.compare("gazette-1", "gazette-2", with_text=False).is_copy


def test_stream_refuses_once_the_outlet_has_printed_the_formula_enough_and_remove_undoes_it() -> None:
    articles = _cables("en")
    d = Deduplicator()
    for a in articles[:2]:
        d.add(a)
    assert len(d.cluster_of("gazette-1").members) == 2  # the formula is not known yet: two articles only
    for a in articles[2:]:
        d.add(a)
    assert len(d.cluster_of("gazette-1").members) == 1  # the pair decided before is checked again
    d.remove("gazette-3")
    d.remove("gazette-4")  # three cables of the outlet left: the formula is not known any more
    assert sorted(m.id for m in d.cluster_of("gazette-1").members) == [
        "gazette-0",
        "gazette-1",
        "gazette-2",
        "herald-0",
    ]


def test_a_reopened_index_gives_the_same_answers(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    with Deduplicator.open(path) as d:
        d.add_many(_cables("en"))
        before = sorted(sorted(m.id for m in c.members) for c in d.clusters())
    with Deduplicator.open(path) as d:
        assert sorted(sorted(m.id for m in c.members) for c in d.clusters()) == before
        assert not d.compare("gazette-1", "gazette-2", with_text=False).is_copy


def test_batch_and_stream_agree_on_the_cables() -> None:
    articles = _cables("ar") + _cables("en")[1:]
    articles = [Article(id=f"{n}-{a.id}", text=a.text, source=a.source) for n, a in enumerate(articles)]
    d = Deduplicator()
    d.add_many(articles)
    stream = sorted(c.id for c in d.clusters())
    assert sorted(c.id for c in dedup.cluster(articles)) == stream


class _Learning:
    """Learned boilerplate the test sets (``learn``): one version per change, each logged."""

    def __init__(self) -> None:
        self.version = 0
        self.learned: frozenset[int] = frozenset()
        self._changed_at: dict[int, int] = {}

    def learn(self, fingerprints: frozenset[int]) -> None:
        if fingerprints != self.learned:
            self.version += 1
            for fp in fingerprints ^ self.learned:
                self._changed_at[fp] = self.version
            self.learned = fingerprints

    def boilerplate_of(self, article_id: str, fingerprints: np.ndarray) -> frozenset[int]:
        return self.learned.intersection(fingerprints.tolist())

    def changed_since(self, version: int) -> set[int]:
        return {fp for fp, at in self._changed_at.items() if at > version}

    def unchanged_since(self, version: int, fingerprints: np.ndarray) -> bool:
        return all(self._changed_at.get(fp, 0) <= version for fp in fingerprints.tolist())

    def carriers(self, fingerprint: int) -> None:
        return None


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.sets(st.integers(0, 7), max_size=8), st.booleans()), min_size=1, max_size=6))
def test_a_remembered_pair_whose_outlets_counts_moved_is_answered_as_compared_now(
    steps: list[tuple[set[int], bool]],
) -> None:
    """The articles in the formula counts change step by step (which of seven cables of one
    outlet and the copy of one on another outlet), and so does the learned boilerplate (the copy's
    introduction learned or not); at each step every pair is answered as a comparison made from
    scratch on the counts and boilerplate of the moment, and a remembered copy that the formula
    test let stand, whose articles' boilerplate has not changed, is put through that test again
    without the verifier running again."""
    texts = [_cable(ENGLISH, LETTERS["en"], seed) for seed in range(7)]
    articles = [Article(id=f"gazette-{i}", text=t, source="gazette") for i, t in enumerate(texts)]
    intro = _words(random.Random(99), LETTERS["en"], 10)
    articles.append(Article(id="herald-0", text=f"{intro}.\n{texts[0]}", source="herald"))
    config = DedupConfig()
    docs = {a.id: analyze(a.text, config.normalize, config.shingle) for a in articles}
    sources = {a.id: a.source for a in articles}
    introduction = frozenset(docs["herald-0"].sentence_fps.tolist()) - frozenset(
        docs["gazette-0"].sentence_fps.tolist()
    )
    judge = _Learning()

    def counts_of(inside: set[int]) -> FormulaCounts:
        counts = FormulaCounts(config.formula)
        for i in sorted(inside):
            counts.observe(articles[i].source, docs[articles[i].id].shingles)
        return counts

    def cache(counts: FormulaCounts) -> PairCache:
        return PairCache(config, docs.__getitem__, judge, formula=counts, source_of=sources.get)

    counts = FormulaCounts(config.formula)
    remembered = cache(counts)
    verified = [0]
    real = pairs_module.compare

    def counted_compare(*args: Any, **kwargs: Any) -> Any:
        verified[0] += 1
        return real(*args, **kwargs)

    ids = sorted(docs)
    inside: set[int] = set()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pairs_module, "compare", counted_compare)
        for step, learned in steps:
            for i in sorted(inside ^ step):
                (counts.observe if i in step else counts.forget)(articles[i].source, docs[articles[i].id].shingles)
            inside = step
            judge.learn(introduction if learned else frozenset())
            for x, y in ((x, y) for x in ids for y in ids if x < y):
                kept = remembered.remembered(x, y)
                verified[0] = 0
                now = remembered.pair(x, y)
                alike = kept is not None and all(judge.unchanged_since(kept[0], docs[z].sentence_fps) for z in (x, y))
                if alike and kept is not None and kept[1].is_copy and kept[1].rule != RULE:
                    assert verified[0] == 0  # only the formula test was made again
                assert now == cache(counts_of(inside)).pair(x, y)


shingle_sets = st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=30, unique=True)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", ""]), shingle_sets), min_size=1, max_size=30))
def test_the_sketch_never_undercounts_and_removal_restores_it(observed: list[tuple[str, list[int]]]) -> None:
    # tiny: many collisions (and never taken as overloaded, which is tested on its own)
    counts = FormulaCounts(FormulaConfig(sketch_width_bits=6, sketch_rows=2, max_load=1e6, min_repeated=3))
    empty, no_pooled = counts.table.copy(), counts.repeated.copy()
    true = _true_counts(observed)
    for source, shingles in observed:
        counts.observe(source, np.array(shingles, dtype=np.uint64))
    for (source, s), n in true.items():
        assert counts.counts(source, np.array([s], dtype=np.uint64))[0] >= n
    batch = FormulaCounts(counts.config)
    batch.add_keys(*_chunk(observed))
    assert np.array_equal(batch.table, counts.table)  # a batch's sum is the stream's table
    assert batch.observed == counts.observed == sum(true.values())
    assert (batch.version > 0) == bool(true)  # moved when anything was counted
    for source, shingles in reversed(observed):
        counts.forget(source, np.array(shingles, dtype=np.uint64))
    assert np.array_equal(counts.table, empty)
    assert np.array_equal(counts.repeated, no_pooled)
    assert counts.observed == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", ""]), shingle_sets), min_size=1, max_size=30))
def test_pooled_counts_are_the_articles_of_the_sources_that_repeat_a_shingle(
    observed: list[tuple[str, list[int]]],
) -> None:
    """On a sketch wide enough that no keys collide, the pooled count of a shingle is the number of
    articles carrying it from the sources that carry it twice or more, alike in the stream (one
    article at a time), a batch (chunks) and Spark's execution (the summed table, then each
    article's share read from it)."""
    config = FormulaConfig(sketch_width_bits=24, sketch_rows=2, min_repeated=3)
    stream, batch, spark = FormulaCounts(config), FormulaCounts(config), FormulaCounts(config)
    true = _true_counts(observed)
    for source, shingles in observed:
        stream.observe(source, np.array(shingles, dtype=np.uint64))
    middle = len(observed) // 2
    for part in (observed[:middle], observed[middle:]):
        batch.add_keys(*_chunk(part))
        partition = FormulaCounts(config)
        partition.count_keys(_chunk(part)[0])
        spark.add_cells(*partition.nonzero())
    for part in (observed[:middle], observed[middle:]):
        spark.add_pooled(*spark.pooled_share([_chunk(part)]))
    everything = sorted({s for _, shingles in observed for s in shingles})
    pooled = dict.fromkeys(everything, 0)
    for (_, s), n in true.items():
        pooled[s] += n if n >= 2 else 0
    asked = np.array(everything, dtype=np.uint64)
    for counts in (stream, batch, spark):
        assert counts.pooled(asked).tolist() == [pooled[s] for s in everything]
        for source in ("a", "b", "c"):
            expected = [
                true.get((source, s), 0) >= 4 or (true.get((source, s), 0) >= 2 and pooled[s] >= 3) for s in everything
            ]
            assert counts.formula(source, asked).tolist() == expected


def _true_counts(observed: list[tuple[str, list[int]]]) -> dict[tuple[str, int], int]:
    true: dict[tuple[str, int], int] = {}
    for source, shingles in observed:
        for s in shingles:
            if source:
                true[source, s] = true.get((source, s), 0) + 1
    return true


def _chunk(observed: list[tuple[str, list[int]]]) -> tuple[np.ndarray, np.ndarray]:
    from dedup.stages.formula import shingles_of

    keys = [dedup_keys(source, shingles) for source, shingles in observed]
    shingles = [shingles_of(source, k) for (source, _), k in zip(observed, keys, strict=True)]
    empty = np.empty(0, dtype=np.uint64)
    return (np.concatenate(keys) if keys else empty), (np.concatenate(shingles) if shingles else empty)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), shingle_sets), min_size=1, max_size=30))
def test_a_source_version_moves_when_its_own_formula_shingles_change(observed: list[tuple[str, list[int]]]) -> None:
    # (a version that does not move keeps an outdated comparison; one that moves for nothing costs
    # comparisons made again). A pooled crossing moves the sources that repeat a shingle: those
    # observed with a count read 2 or more once they had two articles.
    counts = FormulaCounts(FormulaConfig(sketch_width_bits=8, sketch_rows=2, min_per_source=3, min_repeated=4))
    arrays = [(source, np.array(shingles, dtype=np.uint64)) for source, shingles in observed]
    repeating: set[str] = set()
    articles = {src: 0 for src in "abc"}
    for source, shingles in arrays:
        before = {src: counts.formula(src, shingles).tolist() for src in "abc"}
        versions = {src: counts.version_of(src) for src in "abc"}
        pooled = counts.pooled(shingles) >= 4
        counts.observe(source, shingles)
        articles[source] += 1
        if articles[source] >= 2 and (counts.counts(source, shingles) >= 2).any():
            repeating.add(source)
        pooled_crossed = (counts.pooled(shingles) >= 4).tolist() != pooled.tolist()
        own_crossed = before[source] != counts.formula(source, shingles).tolist()
        # (counts may read higher by the sketch's excess: no version moves)
        for src in "abc":
            moved = (src == source and own_crossed) or (pooled_crossed and src in repeating)
            assert (counts.version_of(src) != versions[src]) == moved
    assert counts.version_of(None) == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), shingle_sets), min_size=1, max_size=30))
def test_the_formula_shingles_an_article_is_compared_on_follow_the_counts(
    observed: list[tuple[str, list[int]]],
) -> None:
    # (an article's own shingles are remembered between its comparisons: they must be the ones
    # the counts give now, however the counters under them moved)
    counts = FormulaCounts(FormulaConfig(sketch_width_bits=6, sketch_rows=2, min_per_source=3, min_repeated=3))
    seen: list[tuple[str, np.ndarray]] = []
    for source, shingles in observed:
        seen.append((source, np.array(sorted(set(shingles)), dtype=np.uint64)))
        counts.observe(*seen[-1])
        for src, array in seen:
            assert counts._own(src, array).tolist() == array[~counts.formula(src, array)].tolist()


def test_a_pooled_crossing_moves_the_sources_that_repeat_the_shingle_and_no_other() -> None:
    # One story carried once by each of thousands of outlets must not make every outlet's
    # comparisons be checked again when a phrase some outlets repeat becomes formula.
    counts = FormulaCounts(FormulaConfig(min_per_source=3, min_repeated=4))
    phrase = np.array([11, 12, 13], dtype=np.uint64)
    counts.observe("once", phrase)
    counts.observe("twice", phrase)
    counts.observe("twice", phrase)
    assert not counts.formula("twice", phrase).any()
    versions = {source: counts.version_of(source) for source in ("once", "twice", "other")}
    counts.observe("again", phrase)
    counts.observe("again", phrase)  # pooled count 4: the phrase is formula where it repeats
    assert counts.formula("twice", phrase).all() and not counts.formula("once", phrase).any()
    assert counts.version_of("twice") != versions["twice"]
    assert counts.version_of("once") == versions["once"] and counts.version_of("other") == versions["other"]

    bulk = FormulaCounts(FormulaConfig(min_per_source=3, min_repeated=4))
    keys, shingles = _chunk([("twice", [11, 12, 13]), ("twice", [11, 12, 13]), ("once", [11, 12, 13])])
    bulk.add_keys(keys, shingles)  # which sources repeat is not followed in bulk
    before = bulk.version_of("once")
    bulk.observe("again", phrase)
    bulk.observe("again", phrase)
    assert bulk.version_of("once") != before


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.integers(0, 2**64 - 1), max_size=12), st.integers(0, 3), st.booleans()),
        min_size=1,
        max_size=25,
    )
)
def test_counters_and_version_move_as_each_counter_counted_alone(changes: list[tuple[list[int], int, bool]]) -> None:
    """Counting keys that land on the same counters many times in one call moves each counter by
    its number of keys, and ``crossings`` goes up exactly when some counter crosses
    ``min_per_source`` in that call, either way (a counter never goes below zero)."""
    counts = FormulaCounts(
        FormulaConfig(sketch_width_bits=4, sketch_rows=2, min_per_source=3, max_load=1e6, min_repeated=0)
    )
    for shingles, repeat, forget in changes:
        repeated = np.array(shingles * (repeat + 1), dtype=np.uint64)
        before = counts.table.ravel().astype(np.int64)
        after = before.copy()
        for cell in counts.cells(dedup_keys("outlet", repeated)):
            after[cell] = max(0, after[cell] + (-1 if forget else 1))
        version = counts.crossings
        (counts.forget if forget else counts.observe)("outlet", repeated)
        assert np.array_equal(counts.table.ravel(), after.astype(np.uint8))
        assert counts.crossings == version + bool(np.any((before < 3) != (after < 3)))


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(4, 7),
    st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), shingle_sets), min_size=1, max_size=20),
)
def test_the_compiled_counting_moves_each_counter_as_the_rule_written_out_does(
    rows: int, width_bits: int, observed: list[tuple[str, list[int]]]
) -> None:
    """On sketches so small that keys collide all the time, counting a batch (``add_keys``, one
    compiled pass) and reading it (``counts``, ``pooled``) give what the rule gives written out
    in numpy, key after key on the counters ``cells`` names: each counter of the key one up, the
    key's count before and after the smallest of them, and its shingle's pooled counters moved by
    the change of that count counted from two."""
    config = FormulaConfig(sketch_width_bits=width_bits, sketch_rows=rows, min_repeated=3, max_load=1e6)
    counts = FormulaCounts(config)
    table = counts.table.ravel().astype(np.int64)
    pooled = counts.repeated.ravel().astype(np.int64)
    keys, shingles = _chunk(observed)
    for key, shingle in zip(keys, shingles, strict=True):
        cells = counts.cells(np.array([key], dtype=np.uint64))
        before = int(table[cells].min())
        table[cells] = np.minimum(table[cells] + 1, 255)
        after = int(table[cells].min())
        delta = (after if after >= 2 else 0) - (before if before >= 2 else 0)
        if delta:
            pooled_cells = counts.cells(np.array([shingle], dtype=np.uint64), pooled=True)
            pooled[pooled_cells] = np.clip(pooled[pooled_cells] + delta, 0, 255)
    counts.add_keys(keys, shingles)
    assert counts.table.ravel().tolist() == table.tolist()
    assert counts.repeated.ravel().tolist() == pooled.tolist()
    assert counts.pooled(shingles).tolist() == [
        int(pooled[counts.cells(np.array([s]), pooled=True)].min()) for s in shingles
    ]
    for source, asked in observed:
        k = dedup_keys(source, asked)
        expected = [int(table[counts.cells(np.array([key]))].min()) for key in k]
        assert counts.counts(source, np.array(asked, dtype=np.uint64)).tolist() == expected


def test_a_full_counter_stays_full() -> None:
    """A counter that reached the largest value of its type is read so from then on, whatever is
    added or taken away (its count is not known any more), and its neighbours count on."""
    counts = FormulaCounts(FormulaConfig(sketch_width_bits=4, sketch_rows=1, min_repeated=0, max_load=1e6))
    shingles = np.array([7], dtype=np.uint64)
    counts.table[...] = np.iinfo(np.uint8).max - 1
    counts.table[0, 0] = 5
    for _ in range(3):
        counts.observe("outlet", shingles)
    counts.forget("outlet", shingles)
    cell = counts.cells(dedup_keys("outlet", shingles))[0]
    assert counts.counts("outlet", shingles)[0] == np.iinfo(np.uint8).max
    others = [c for c in range(16) if c != cell]
    assert counts.table.ravel()[others].tolist() == counts.table.ravel()[others].tolist()
    assert counts.table.ravel()[cell] == np.iinfo(np.uint8).max


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 8),
    st.integers(4, 7),
    st.integers(2, 6),
    st.integers(0, 4),
    st.lists(st.tuples(st.sampled_from(["a", "b"]), shingle_sets), min_size=1, max_size=12),
    shingle_sets,
)
def test_the_compiled_formula_test_reads_the_counts_as_counts_does(
    rows: int, width_bits: int, least: int, repeated: int, observed: list[tuple[str, list[int]]], asked: list[int]
) -> None:
    """``formula`` (compiled, ``kernels.formula.formula``) tells the shingles whose
    ``counts`` (the numpy reading of the sketch) reach ``min_per_source``, or reach two with a
    ``pooled`` count that reaches ``min_repeated``, on tiny sketches where keys collide."""
    config = FormulaConfig(sketch_rows=rows, sketch_width_bits=width_bits, min_per_source=least, min_repeated=repeated)
    counts = FormulaCounts(config)
    for source, shingles in observed:
        counts.observe(source, np.array(shingles, dtype=np.uint64))
    for source in ("a", "b", "c", None):
        shingles = np.array(asked, dtype=np.uint64)
        own, pooled = counts.counts(source, shingles), counts.pooled(shingles)
        expected = (own >= least) | ((own >= 2) & (pooled >= repeated) & bool(repeated))
        if source is None:
            expected[:] = False
        assert counts.formula(source, shingles).tolist() == expected.tolist()


def dedup_keys(source: str, shingles: list[int] | np.ndarray) -> np.ndarray:
    from dedup.stages.formula import keys

    return keys(source, np.array(shingles, dtype=np.uint64))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_per_source": 1},
        {"min_containment": 1.5},
        {"sketch_rows": 9},
        {"sketch_width_bits": 40},
        {"max_load": 0},
        {"min_repeated": -1},
        {"min_per_source": 256},
        {"min_repeated": 256},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        FormulaConfig(**kwargs)  # type: ignore[arg-type]


NOTICE = (
    "We use cookies to give you the best experience on our website and to show you relevant content. "
    "By continuing to browse the site you agree to our use of cookies as described in our cookie policy. "
    "You can change your settings at any time in your browser, and some parts of the site may not work "
    "without them. Subscribe to read the full story and get unlimited access to our journalism."
)
PAGE_TITLES = ("Install guide", "API reference", "Release notes for spring", "Contact the support team", "Pricing")


def _notice_pages(titled: bool = True) -> list[Article]:
    """A site whose pages were crawled as its cookie and paywall notice alone, each under its own
    title, beside one wire story that three outlets print under headlines of their own, one of them
    twice under the same headline."""
    pages = [
        Article(id=f"site-{i}", text=NOTICE, source="docs.example", title=title if titled else None)
        for i, title in enumerate(PAGE_TITLES)
    ]
    wire = "\n".join(_words(random.Random(seed), LETTERS["en"], 14) + "." for seed in range(5))
    headlines = {"herald": "Ministry opens the northern hospital", "gazette": "New clinic for the north"}
    stories = [
        Article(id=f"{outlet}-wire", text=wire, source=outlet, title=title) for outlet, title in headlines.items()
    ]
    stories.append(Article(id="courier-wire", text=wire, source="courier", title="Hospital opens after years"))
    stories.append(Article(id="courier-wire-again", text=wire, source="courier", title="Hospital opens after years"))
    return pages + stories


def _groups(clusters: list[dedup.Cluster]) -> list[list[str]]:
    return sorted(sorted(m.id for m in c.members) for c in clusters if len(c.members) > 1)


def test_a_notice_a_site_prints_under_many_titles_is_no_story_but_a_wire_story_under_many_headlines_is() -> None:
    articles = _notice_pages()
    wire = ["courier-wire", "courier-wire-again", "gazette-wire", "herald-wire"]
    assert _groups(dedup.cluster(articles)) == [wire]
    d = Deduplicator()
    for a in articles[:3]:
        d.add(a)  # three pages: the site has not printed the text often enough to call it formula
    assert len(d.cluster_of("site-0").members) == 3
    for a in articles[3:]:
        d.add(a)
    assert _groups(d.clusters()) == [wire]
    refused = d.compare("site-0", "site-1", with_text=False)
    assert not refused.is_copy and refused.rule == RULE
    assert sorted(c.member_ids for c in d.clusters()) == sorted(c.member_ids for c in dedup.cluster(articles))


def test_without_titles_a_site_notice_cannot_be_told_from_a_story() -> None:
    groups = _groups(dedup.cluster(_notice_pages(titled=False)))
    assert [f"site-{i}" for i in range(len(PAGE_TITLES))] in groups


def test_without_a_source_the_host_of_the_url_is_the_outlet() -> None:
    articles = [
        Article(id=a.id, text=a.text, url=f"https://www.{a.source}.example/{a.id}?from=feed") for a in _cables("en")
    ]
    d = Deduplicator()
    d.add_many(articles)
    refused = d.compare("gazette-1", "gazette-2", with_text=False)
    assert not refused.is_copy and refused.rule == RULE
    assert d.compare("gazette-0", "herald-0", with_text=False).is_copy  # two hosts: two outlets
    assert _groups(dedup.cluster(articles)) == [["gazette-0", "herald-0"]]
    # the source, when given, is the outlet whatever the hosts; without it every host is one
    cables = [a for a in articles if a.id.startswith("gazette")]
    for source, refused_now in (("gazette", True), (None, False)):
        d = Deduplicator()
        d.add_many([Article(id=a.id, text=a.text, url=f"https://{a.id}.example/", source=source) for a in cables])
        assert d.compare("gazette-1", "gazette-2", with_text=False).is_copy is not refused_now


def _trimmed_copies() -> list[Article]:
    """A wire story and two outlets' copies, each with a long introduction of its own (no copy is
    near-identical to the story, so the formula test reads each pair)."""
    rng = random.Random(5)
    story = "\n".join(f"{_words(rng, LETTERS['en'], 14)}." for _ in range(6))
    out = [Article(id="wire-0", text=story, source="wire")]
    for n, outlet in enumerate(("gazette", "herald")):
        rng_intro = random.Random(n)
        intro = "\n".join(f"{_words(rng_intro, LETTERS['en'], 14)}." for _ in range(6))
        out.append(Article(id=f"{outlet}-0", text=f"{intro}\n{story}", source=outlet))
    return out


def test_counts_too_many_for_their_sketch_abstain_and_say_how_wide_to_make_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A sketch holding many more observations than counters reads nearly every count high, so
    every shingle passes for formula: trusted anyway, it refuses real copies; past ``max_load`` the
    test abstains in the stream and the batch alike, and a warning names the width needed."""
    articles = _trimmed_copies()
    tiny = {"sketch_width_bits": 4, "sketch_rows": 1}  # 16 counters for a few hundred observations
    trusted = DedupConfig(formula=FormulaConfig(**tiny, max_load=1e6))
    d = Deduplicator(trusted)
    d.add_many(articles)
    refused = d.compare("wire-0", "gazette-0", with_text=False)
    assert not refused.is_copy and refused.rule == RULE  # the failure the guard prevents

    guarded = DedupConfig(formula=FormulaConfig(**tiny))
    with caplog.at_level(logging.WARNING, logger="dedup.formula"):
        d = Deduplicator(guarded)
        d.add_many(articles)
    assert d.compare("wire-0", "gazette-0", with_text=False).is_copy
    assert sorted(m.id for m in d.cluster_of("wire-0").members) == ["gazette-0", "herald-0", "wire-0"]
    warned = [r.getMessage() for r in caplog.records if r.name == "dedup.formula"]
    assert len(warned) == 1 and "FormulaConfig.sketch_width_bits to 8 or more" in warned[0]
    batch = dedup.cluster(articles, config=guarded)
    assert [sorted(m.id for m in c.members) for c in batch] == [["gazette-0", "herald-0", "wire-0"]]


def test_counts_overloaded_then_trusted_again_move_every_version() -> None:
    counts = FormulaCounts(FormulaConfig(sketch_width_bits=4, sketch_rows=2, max_load=2, min_repeated=0))  # 32 obs.
    shingles = np.arange(20, dtype=np.uint64)
    counts.observe("a", shingles)
    assert not counts.overloaded and counts.version_of("b") == 0
    counts.observe("a", shingles + 100)  # 40 observations
    assert counts.overloaded and counts.version_of("b") == 1  # every source's answers may change
    counts.forget("a", shingles)
    assert not counts.overloaded and counts.version_of("b") == 2 and counts.observed == 20


def test_the_command_line_prints_the_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dedup.fronts.cli import main

    data, config = tmp_path / "articles.jsonl", tmp_path / "config.json"
    data.write_text(
        "".join(json.dumps({"id": a.id, "text": a.text, "source": a.source}) + "\n" for a in _trimmed_copies())
    )
    config.write_text(json.dumps({"formula": {"sketch_width_bits": 4, "sketch_rows": 1}}))
    assert main(["cluster", "--config", str(config), str(data)]) == 0
    out = capsys.readouterr()
    assert "dedup: the formula counts hold" in out.err and "FormulaConfig.sketch_width_bits to 9 or more" in out.err
    assert len([json.loads(line) for line in out.out.splitlines()]) == 1  # one cluster of three
