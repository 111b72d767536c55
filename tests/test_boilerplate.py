import random
import statistics
from collections import Counter

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import dedup
from dedup.config import BoilerplateConfig
from dedup.kernels import boilerplate as boilerplate_kernels
from dedup.stages.boilerplate import BoilerplateModel, Sample, judge, learn

FOOTER = (
    "About us: The Valley Courier is an independent newspaper founded in 1921 and owned by its readers.\n"
    "Privacy policy: we never sell your data to third parties and you may ask us to delete it at any time.\n"
    "Contact the newsroom at any hour with tips, corrections and letters to the editor of the paper."
)


def _story(seed: int, words: int = 60) -> str:
    rng = random.Random(seed)
    vocab = [f"w{seed}x{i}" for i in range(200)]
    sentences = []
    for _ in range(words // 12):
        sentences.append(" ".join(rng.choice(vocab) for _ in range(12)) + ".")
    return " ".join(sentences)


def test_learned_footer_does_not_glue_short_stories_in_batch() -> None:
    articles = [dedup.Article(id=f"s{i}", text=_story(i) + "\n" + FOOTER) for i in range(6)]
    clusters = dedup.cluster(articles)
    assert all(len(c) == 1 for c in clusters)


def test_footer_without_learning_would_glue_them() -> None:
    config = dedup.DedupConfig(boilerplate=dedup.BoilerplateConfig(enabled=False))
    articles = [dedup.Article(id=f"s{i}", text=_story(i) + "\n" + FOOTER) for i in range(6)]
    assert any(len(c) > 1 for c in dedup.cluster(articles, config=config))


def test_learned_footer_in_the_streaming_path() -> None:
    d = dedup.Deduplicator()
    verdicts = [d.add(dedup.Article(id=f"s{i}", text=_story(i) + "\n" + FOOTER)) for i in range(8)]
    # once the footer has been seen on enough different stories it stops counting as evidence
    assert not any(v.is_copy for v in verdicts[3:])
    assert all(len(c) == 1 for c in d.clusters())


def test_wire_copies_are_not_mistaken_for_boilerplate() -> None:
    story = "\n".join(_story(100 + i, 24) for i in range(6))
    articles = [
        dedup.Article(id=f"copy{i}", text=f"Local lead number {i} for outlet {i} today.\n" + story) for i in range(8)
    ]
    clusters = dedup.cluster(articles)
    assert [len(c) for c in clusters] == [8]


def _judge_by_definition(fp: int, sample: list[list[tuple[int, int]]], min_unique_fraction: float) -> bool:
    """The rule as the module states it, sentence by sentence: of each sampled article's sentences
    other than the judged one, the share of which no other sampled article carries a version (a
    sentence with the same near key)."""
    fractions = []
    for i, pairs in enumerate(sample):
        others = {f: key for f, key in pairs if f != fp}
        elsewhere = {key for j, theirs in enumerate(sample) if j != i for _, key in theirs}
        own = [f for f, key in others.items() if key not in elsewhere]
        fractions.append(len(own) / len(others) if others else 0.0)
    return statistics.median(fractions) >= min_unique_fraction


@settings(max_examples=300)
@given(
    sample=st.lists(st.lists(st.integers(0, 12), max_size=8), min_size=1, max_size=6),
    key_of=st.lists(st.integers(0, 15), min_size=13, max_size=13),
    fp=st.integers(0, 12),
    fraction=st.sampled_from([0.2, 0.5, 0.6, 0.8]),
)
def test_the_judge_follows_the_rule_for_any_sample(sample, key_of, fp, fraction) -> None:
    """Sentences are numbered 0-12; a sentence's near key is ``key_of`` it (equal keys: versions
    of one sentence)."""
    config = BoilerplateConfig(min_unique_fraction=fraction)
    pairs = [[(f, key_of[f]) for f in s] for s in sample]
    expected = _judge_by_definition(fp, pairs, fraction)
    assert judge(fp, pairs, config) is expected
    # every sentence judged over one counted sample gets the same verdict as on its own
    counted = Sample(pairs)
    for other in range(13):
        assert counted.is_boilerplate(other, config) is _judge_by_definition(other, pairs, fraction)
    # and the compiled judges: the batch's (distinct sorted fingerprints, one sample per sentence)
    # and the streaming model's (raw fingerprints, samples shared; here with a padded second one)
    expected = [_judge_by_definition(other, pairs, fraction) for other in range(13)]
    keys = np.array(key_of, dtype=np.uint64)
    distinct = [np.unique(np.array(s, dtype=np.uint64)) for s in sample]
    starts = np.concatenate(([0], np.cumsum([len(d) for d in distinct]))).astype(np.int64)
    rows = np.tile(np.arange(len(sample), dtype=np.int64), (13, 1))
    judged = np.arange(13, dtype=np.uint64)
    every = np.concatenate(distinct)
    batch = boilerplate_kernels.judge_samples(every, keys[every.astype(np.int64)], starts, rows, judged, fraction)
    assert batch.tolist() == expected
    raw = np.concatenate([np.array(s, dtype=np.uint64) for s in sample])
    raw_starts = np.concatenate(([0], np.cumsum([len(t) for t in sample]))).astype(np.int64)
    two = np.full((2, len(sample) + 1), -1, dtype=np.int64)
    two[0, : len(sample)] = two[1, 1:] = np.arange(len(sample))
    row_of = np.array([q % 2 for q in range(13)], dtype=np.int64)
    verdicts = boilerplate_kernels.judge_rows(
        raw, keys[raw.astype(np.int64)], raw_starts, two, row_of, judged, fraction
    ).tolist()
    assert verdicts == expected


def _exact(fps: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """An article's sentences as the model reads them, each its own near key (no versions)."""
    every = np.array(fps, dtype=np.uint64)
    return every, every


def _versions(fps: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """An article's sentences as the model reads them, sentences 0 and 7, 1 and 8, ... versions of
    one another (one near key)."""
    every = np.array(fps, dtype=np.uint64)
    return every, every % np.uint64(7)


# additions (an article's sentence fingerprints) and removals (of the n-th article held)
OPS = st.lists(
    st.one_of(
        st.lists(st.integers(0, 12), min_size=1, max_size=6).map(lambda s: ("add", s)),
        st.integers(0, 30).map(lambda i: ("remove", i)),
    ),
    min_size=1,
    max_size=40,
)


def _step(model: BoilerplateModel, texts: dict[str, list[int]], new_id: str, op: str, arg: object) -> None:
    """One of ``OPS`` on ``model`` and ``texts``: ``new_id`` added, or the ``arg``-th article held
    (in id order) removed."""
    if op == "add":
        assert isinstance(arg, list)
        texts[new_id] = arg
        model.observe(new_id, np.array(arg, dtype=np.uint64))
    elif texts:
        assert isinstance(arg, int)
        art_id = sorted(texts)[arg % len(texts)]
        model.forget(art_id, np.array(texts.pop(art_id), dtype=np.uint64))


@settings(max_examples=150, deadline=None)
@given(OPS)
# a removal leaves a sentence's sample short at a settled count; a later article fills it
@example(
    [
        ("add", [0]),
        ("add", [1]),
        ("add", [1]),
        ("add", [1, 2]),
        ("remove", 0),
        ("add", [1]),
        ("add", [1]),
        ("remove", 0),
        ("add", [0, 1]),
    ]
)
@example([("add", [0]), ("add", [0]), ("add", [0, 1]), ("add", [0, 1]), ("add", [0]), ("remove", 0), ("add", [0])])
def test_answers_do_not_depend_on_when_they_were_asked(ops) -> None:
    """Answers are kept between additions and only dropped when a verdict changes: whatever the
    additions and removals, a model asked along the way answers as one asked only at the end."""
    config = BoilerplateConfig(min_df=2, sample=4, min_unique_fraction=0.5)
    texts: dict[str, list[int]] = {}

    def fps(art_id: str) -> np.ndarray:
        return np.array(texts[art_id], dtype=np.uint64)

    def read(art_id: str) -> tuple[np.ndarray, np.ndarray]:
        return _versions(texts[art_id])

    asked, silent = BoilerplateModel(config, read), BoilerplateModel(config, read)
    n = 0
    for op, arg in ops:
        if op == "add":
            art_id = f"a{n}"
            n += 1
            texts[art_id] = arg
            for model in (asked, silent):
                model.observe(art_id, fps(art_id))
        elif texts:
            art_id = sorted(texts)[arg % len(texts)]
            for model in (asked, silent):
                model.forget(art_id, fps(art_id))
            del texts[art_id]
        # ask about some articles now and then, as comparisons do
        for art_id in sorted(texts)[:: 1 + n % 3]:
            asked.boilerplate_of(art_id, fps(art_id))
    assert {a: asked.boilerplate_of(a, fps(a)) for a in texts} == {a: silent.boilerplate_among(fps(a)) for a in texts}


@settings(max_examples=100, deadline=None)
@given(OPS, st.sampled_from([1, 4, 65_536]))
def test_the_sentences_said_changed_since_a_version_hold_every_changed_verdict(ops, logged) -> None:
    """A large story's kept groups are checked again only for the members carrying a sentence the
    model says changed verdict: every sentence whose verdict differs from that at an earlier
    version is among them, unless the model says it no longer knows (a short log)."""
    from dedup.stages import boilerplate

    config = BoilerplateConfig(min_df=2, sample=4, min_unique_fraction=0.5)
    texts: dict[str, list[int]] = {}
    model = BoilerplateModel(config, lambda a: _versions(texts[a]))
    seen: list[tuple[int, dict[int, bool]]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(boilerplate, "_CHANGES_LOGGED", logged)
        for n, (op, arg) in enumerate(ops):
            _step(model, texts, f"a{n}", op, arg)
            seen.append((model.version, {fp: model.is_boilerplate(fp) for fp in range(13)}))
    now = {fp: model.is_boilerplate(fp) for fp in range(13)}
    unknown = 0
    for version, then in seen:
        changed = model.changed_since(version)
        if changed is None:
            unknown += 1
            continue
        assert {fp for fp in now if now[fp] != then[fp]} <= changed
    if logged > len(ops):
        assert unknown == 0


def test_an_article_that_changes_no_verdict_keeps_the_version() -> None:
    texts = {"a": [1, 2, 3], "b": [1, 4, 5], "c": [6, 7, 8]}
    model = BoilerplateModel(BoilerplateConfig(min_df=2, sample=4), lambda a: _exact(texts[a]))
    model.observe("a", np.array(texts["a"], dtype=np.uint64))
    model.observe("b", np.array(texts["b"], dtype=np.uint64))
    assert model.boilerplate_of("a", np.array(texts["a"], dtype=np.uint64)) == {1}
    version = model.version
    model.observe("c", np.array(texts["c"], dtype=np.uint64))  # shares nothing
    assert model.version == version
    texts["d"] = [1, 9, 10]
    model.observe("d", np.array(texts["d"], dtype=np.uint64))  # a third footer carrier: still furniture
    assert model.version == version
    assert model.boilerplate_of("d", np.array(texts["d"], dtype=np.uint64)) == {1}


def test_a_removal_lets_the_next_carrier_into_the_sample() -> None:
    texts = {"a0": [1, 2], "a1": [1, 3], "a2": [1, 3]}
    config = BoilerplateConfig(min_df=2, sample=2, min_unique_fraction=0.5)
    model = BoilerplateModel(config, lambda a: _exact(texts[a]))
    for a in ("a0", "a1", "a2"):
        model.observe(a, np.array(texts[a], dtype=np.uint64))
    # sampled a0 and a1 each have a sentence of their own: furniture
    assert model.boilerplate_of("a2", np.array(texts["a2"], dtype=np.uint64)) == {1}
    model.forget("a0", np.array(texts.pop("a0"), dtype=np.uint64))
    # a2, the next to have come, is sampled in a0's place; a1 and a2 are one story
    assert model.boilerplate_of("a2", np.array(texts["a2"], dtype=np.uint64)) == set()


@settings(max_examples=200, deadline=None)
@given(OPS, st.integers(2, 4), st.integers(2, 5))
# the first two carriers of a sentence on four articles go: the other two are its sample
@example([("add", [0]), ("add", [0]), ("add", [0]), ("add", [0]), ("remove", 0), ("remove", 0)], 2, 2)
@example([("add", [0, 1]), ("add", [0, 2]), ("add", [0, 2]), ("remove", 0)], 2, 2)
# a sentence on ten articles, then on fewer again, the first of them gone: past the few carriers a
# sentence keeps in a tuple and back
@example([("add", [3])] * 10 + [("remove", 0), ("remove", 4), ("remove", 0), ("add", [3])], 2, 3)
def test_a_model_after_removals_judges_as_one_fed_only_the_articles_left(ops, min_df, sample) -> None:
    """Whatever was removed, the verdicts are those of a model fed the articles left, in the order
    they came (a stream whose oldest articles left its window, and the same index reopened)."""
    config = BoilerplateConfig(min_df=min_df, sample=sample, min_unique_fraction=0.5)
    texts: dict[str, list[int]] = {}
    model = BoilerplateModel(config, lambda a: _versions(texts[a]))
    for n, (op, arg) in enumerate(ops):
        _step(model, texts, f"a{n:02d}", op, arg)
        model.boilerplate_among(range(13))  # judged along the way, as a stream is asked
    fresh = BoilerplateModel(config, lambda a: _versions(texts[a]))
    for art_id in sorted(texts):
        fresh.observe(art_id, np.array(texts[art_id], dtype=np.uint64))
    assert model.boilerplate_among(range(13)) == fresh.boilerplate_among(range(13))
    # every carrier held, in the order they came, however many come and go
    assert all(list(model.carriers(fp)) == [a for a in sorted(texts) if fp in texts[a]] for fp in range(13))


STATEMENT = (
    "The interior ministry said on Tuesday that security forces arrested eleven suspects in three "
    "provinces after a week-long investigation into the attack on the border post near the city."
)


@pytest.mark.parametrize("outlets", [3, 5, 10])
def test_a_one_sentence_statement_copied_by_many_outlets_is_one_story(outlets: int) -> None:
    articles = [dedup.Article(id=f"outlet{i}", text=STATEMENT) for i in range(outlets)]
    assert [len(c) for c in dedup.cluster(articles)] == [outlets]
    d = dedup.Deduplicator()
    verdicts = [d.add(a) for a in articles]
    assert all(v.is_copy for v in verdicts[1:])
    assert [len(c) for c in d.clusters()] == [outlets]


def test_a_short_statement_with_local_leads_on_some_copies_is_still_one_story() -> None:
    bare = [dedup.Article(id=f"bare{i}", text=STATEMENT) for i in range(3)]
    led = [
        dedup.Article(id=f"led{i}", text=f"Outlet {i} reports from its own bureau in region number {i}.\n{STATEMENT}")
        for i in range(3)
    ]
    assert [len(c) for c in dedup.cluster(bare + led)] == [6]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 10), min_size=1, max_size=6), min_size=1, max_size=14),
    st.integers(2, 4),
    st.integers(2, 5),
)
def test_the_model_fed_in_id_order_learns_what_the_rule_states(articles, min_df, sample) -> None:
    """``BoilerplateModel`` (the stream's execution) gives the verdicts ``learn`` states."""
    config = BoilerplateConfig(min_df=min_df, sample=sample, min_unique_fraction=0.5)
    texts = {f"a{i:02d}": _versions(fps) for i, fps in enumerate(articles)}
    model = BoilerplateModel(config, texts.__getitem__)
    for art_id in sorted(texts):
        model.observe(art_id, texts[art_id][0])
    every = {fp for fps in articles for fp in fps}
    pairs = [list(zip(*(a.tolist() for a in _versions(fps)), strict=True)) for fps in articles]
    assert model.boilerplate_among(every) == learn(pairs, config)


def _council(day: str, also: str) -> str:
    return (
        f"The council for political and security affairs held a meeting at the palace in Jeddah {day}, "
        "chaired by the crown prince, deputy prime minister and minister of the interior. The council "
        f"heard a political and security briefing on a number of issues{also} a number of regional and "
        "international developments, and took the necessary recommendations on them."
    )


def test_a_short_statement_each_outlet_edited_a_little_is_one_story() -> None:
    """A two-sentence agency statement printed by nine outlets, each with its own small edits (the
    day of the first sentence, a phrase of the second): each version of a sentence recurs on
    three articles whose other sentence is a version no other of them prints word for word, but
    the versions are one text, so it is a story, not furniture."""
    texts = [
        _council(day, also)
        for day in ("yesterday", "today", "on Tuesday")
        for also in (", in addition to", ", as well as", ", and besides")
    ]
    articles = [dedup.Article(id=f"outlet{i}", text=t, source=f"outlet{i}") for i, t in enumerate(texts)]
    assert [len(c) for c in dedup.cluster(articles)] == [9]
    d = dedup.Deduplicator()
    for a in articles:
        d.add(a)
    assert [len(c) for c in d.clusters()] == [9]


def test_an_id_added_while_a_batch_holds_it_keeps_the_near_keys_of_its_own_text() -> None:
    """``add_many``'s progress callback adds an id of the batch, with another text, before the
    batch reaches it (the batch then skips its own as a duplicate): the index holds the added
    text's sentences each with its own near key, and later judging reads them in step."""
    from dedup.stages.prepare import prepare_many
    from dedup.stages.shingle import sentence_keys

    config = dedup.DedupConfig(boilerplate=dedup.BoilerplateConfig(min_df=2, sample=4))
    d = dedup.Deduplicator(config)
    later = dedup.Article(id="x", text=" ".join(_story(200 + i, 24) for i in range(3)))

    def progress(done: int, total: int | None) -> None:
        if total is not None and done == 1:
            d.add(later)

    d.add_many(
        [dedup.Article(id="a", text=_story(1)), dedup.Article(id="x", text=_story(2))], errors="skip", progress=progress
    )
    fingerprints, keys = d._replica.sentences("x")
    doc = prepare_many([later], config)[0].doc
    assert fingerprints.tolist() == doc.sentence_fps.tolist()
    assert keys.tolist() == sentence_keys(doc, config.shingle.k).tolist()
    for i in range(3):  # the sentence x and these share is judged over x's sentences
        d.add(dedup.Article(id=f"e{i}", text=_story(200, 24) + "\n" + _story(300 + i)))
    # the batch's own text for x is counted on no article
    skipped = prepare_many([dedup.Article(id="x", text=_story(2))], config)[0].doc.sentence_fps.tolist()
    held = Counter(fp for art in d for fp in set(d._replica.fingerprints(art).tolist()))
    assert [d._replica.boilerplate.document_frequency(fp) for fp in skipped] == [held[fp] for fp in skipped]


def test_the_compiled_judges_refuse_near_keys_out_of_step_with_the_fingerprints() -> None:
    from dedup.errors import KernelInputError

    fps = np.arange(6, dtype=np.uint64)
    starts = np.array([0, 3, 6], dtype=np.int64)
    rows = np.array([[0, 1]], dtype=np.int64)
    judged = np.array([1], dtype=np.uint64)
    with pytest.raises(KernelInputError):
        boilerplate_kernels.judge_rows(fps, fps[:4], starts, rows, np.zeros(1, np.int64), judged, 0.5)
    with pytest.raises(KernelInputError):
        boilerplate_kernels.judge_samples(fps, fps[:4], starts, rows, judged, 0.5)
    assert boilerplate_kernels.judge_samples(fps, fps, starts, rows, judged, 0.5).tolist() == [True]
