"""The batch engine (``dedup.cluster``, ``dedup cluster FILE``) gives what the stream path gives:
every article added through ``Deduplicator.add_many``, then ``clusters()``."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
from dedup.config import BoilerplateConfig, ClusterConfig, DedupConfig, PassageConfig
from dedup.runners import batch as engine
from dedup.stages.boilerplate import learn
from dedup.stages.index import band_keys, candidate_pairs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import generate  # noqa: E402

COLUMNS = ("id", "text", "published_at", "source", "url", "title")


def _stream_path(articles: list[dedup.Article], config: DedupConfig | None = None) -> list[dict]:
    d = dedup.Deduplicator(config)
    d.add_many(articles)
    return [c.to_dict() for c in d.clusters()]


def _generated(size: int, seed: int) -> list[dedup.Article]:
    records = generate.generate(size, seed)
    return [dedup.Article(**{k: r[k] for k in COLUMNS if r.get(k) is not None}) for r in records]


def _write(articles: list[dedup.Article], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for a in articles:
            row = {k: getattr(a, k) for k in COLUMNS if getattr(a, k) is not None}
            if a.published_at is not None:
                row["published_at"] = a.published_at.isoformat()
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def test_engine_equals_the_stream_path_on_seeds_english_and_a_generated_set(seeds, english) -> None:
    for articles in (seeds, english, _generated(600, 5)):
        expected = _stream_path(articles)
        assert [c.to_dict() for c in engine.run(articles)] == expected


@pytest.mark.slow
def test_a_file_read_by_two_workers_gives_the_same_clusters(tmp_path: Path) -> None:
    articles = _generated(400, 8)
    path = tmp_path / "batch.jsonl"
    _write(articles, path)
    expected = _stream_path(articles)
    assert sum(1 for c in expected if c["size"] > 1) > 30  # copies to agree on
    assert [c.to_dict() for c in dedup.cluster(str(path), workers=2)] == expected


def test_components_larger_than_a_task_are_verified_then_grouped(monkeypatch) -> None:
    # every component is compared completely: beyond ``complete_up_to`` the batch splits on the
    # verified candidate pairs only, a difference the batch runner documents
    config = DedupConfig(cluster=ClusterConfig(complete_up_to=300))
    articles = _generated(300, 9)
    expected = _stream_path(articles, config)
    monkeypatch.setattr(engine, "_COMPONENT_CAP", 2)  # every candidate component takes the long way
    monkeypatch.setattr(engine, "_PAIRS_PER_TASK", 7)
    assert [c.to_dict() for c in engine.run(articles, config=config)] == expected


def test_an_in_process_batch_groups_with_the_copies_it_verified(monkeypatch) -> None:
    from dedup.stages import pairs

    config = DedupConfig(cluster=ClusterConfig(complete_up_to=300))  # as in the test above
    articles = _generated(300, 9)
    expected = _stream_path(articles, config)
    monkeypatch.setattr(engine, "_COMPONENT_CAP", 2)  # verified in pass 4, then grouped
    made: Counter[tuple[str, str]] = Counter()
    copies: set[tuple[str, str]] = set()
    compare = pairs.PairCache.compare

    def counted(self, a_id, a, b_id, b, **kwargs):
        match = compare(self, a_id, a, b_id, b, **kwargs)
        made[a_id, b_id] += 1
        if match.is_copy:
            copies.add((a_id, b_id))
        return match

    monkeypatch.setattr(pairs.PairCache, "compare", counted)
    assert [c.to_dict() for c in engine.run(articles, config=config)] == expected
    assert copies
    assert [p for p in copies if made[p] > 1] == []  # no copy compared again to be grouped
    made.clear()
    monkeypatch.setattr(engine, "_KEPT_MATCHES", 10)  # the first few kept, the rest compared again
    assert [c.to_dict() for c in engine.run(articles, config=config)] == expected
    assert [p for p in copies if made[p] > 1]


def test_an_in_process_batch_compares_with_the_analyses_of_its_first_pass(tmp_path: Path, monkeypatch) -> None:
    from dedup.stages import pairs

    # the whole of each component compared, as the stream compares it (see the test above)
    config = DedupConfig(cluster=ClusterConfig(complete_up_to=300))
    articles = _generated(300, 9)
    expected = _stream_path(articles, config)
    path = tmp_path / "batch.jsonl"
    _write(articles, path)
    analyzed: list[str] = []
    analyze = pairs.analyze
    monkeypatch.setattr(pairs, "analyze", lambda text, *a: analyzed.append(text) or analyze(text, *a))
    assert [c.to_dict() for c in engine.run(articles, config=config)] == expected
    assert [c.to_dict() for c in engine.run(str(path), config=config)] == expected
    assert analyzed == []  # every comparison read the analyses kept from pass 1
    monkeypatch.setattr(engine, "_KEPT_ANALYSES_BYTES", 200_000)  # the first few dozen kept, the rest analyzed again
    assert [c.to_dict() for c in engine.run(articles, config=config)] == expected
    assert analyzed


def test_a_batch_puts_the_garbage_collector_threshold_back(seeds) -> None:
    import gc

    before = gc.get_threshold()
    during: list[tuple[int, ...]] = []
    list(engine.run(seeds, report=lambda *_: during.append(gc.get_threshold())))
    assert during[0][0] > before[0]  # raised while the passes run
    assert gc.get_threshold() == before
    with pytest.raises(dedup.InputError):
        list(engine.run([*seeds, dedup.Article(id="empty", text=" ")]))
    assert gc.get_threshold() == before
    gc.freeze()  # a caller's frozen objects (say, before it forks) stay frozen
    try:
        frozen = gc.get_freeze_count()
        list(engine.run(seeds))
        # unfreezing would empty the permanent generation; the few frozen objects the run replaces
        # (the previous run's worker state) are freed and leave the count
        assert gc.get_freeze_count() > frozen // 2
    finally:
        gc.unfreeze()


def test_the_formula_counts_of_a_batch_are_made_in_the_order_of_its_parts_and_their_failure_is_raised(
    monkeypatch,
) -> None:
    """The batch counts each part's formula keys on a thread while it prepares the next: the
    counts go in part after part, and a failure of the counting reaches the caller (and leaves
    no thread behind)."""
    import threading

    from dedup.stages import formula as formulas
    from dedup.stages.formula import FormulaCounts
    from dedup.stages.prepare import prepare_many

    monkeypatch.setattr(engine, "_GIVEN_CHUNK", 40)
    articles = _generated(200, 5)
    counted: list[tuple[str, np.ndarray]] = []
    add_keys = FormulaCounts.add_keys

    def recording(self: FormulaCounts, keys: np.ndarray, shingles: np.ndarray) -> None:
        counted.append((threading.current_thread().name, keys.copy()))
        add_keys(self, keys, shingles)

    monkeypatch.setattr(FormulaCounts, "add_keys", recording)
    clusters = [c.to_dict() for c in dedup.cluster(articles)]
    assert len(counted) == 5 and threading.main_thread().name not in {name for name, _ in counted}
    prepared = prepare_many(articles, DedupConfig())
    in_order = [formulas.keys(formulas.outlet(p.article), p.doc.shingles) for p in prepared]
    assert np.array_equal(np.concatenate([keys for _, keys in counted]), np.concatenate(in_order))
    assert clusters == _stream_path(articles)

    def failing(self: FormulaCounts, keys: np.ndarray, shingles: np.ndarray) -> None:
        raise dedup.KernelInputError("counting failed")

    monkeypatch.setattr(FormulaCounts, "add_keys", failing)
    threads = threading.active_count()
    with pytest.raises(dedup.KernelInputError, match="counting failed"):
        dedup.cluster(articles)
    assert threading.active_count() == threads


def test_parts_prepared_on_two_threads_give_the_answers_of_one(monkeypatch) -> None:
    """In process, pass 1 prepares two parts at a time on two threads: the same clusters as one
    part after the other, and a part's error reaches the caller with no thread left behind."""
    import threading

    monkeypatch.setattr(engine, "_GIVEN_CHUNK", 40)
    articles = _generated(200, 6)
    monkeypatch.setattr(engine, "_PREPARING_THREADS", 1)
    one = [c.to_dict() for c in dedup.cluster(articles)]
    monkeypatch.setattr(engine, "_PREPARING_THREADS", 2)
    both = threading.Barrier(2, timeout=30)  # broken unless two parts are prepared at once
    prepare, names = engine._prepare, []

    def together(task: object) -> object:
        name = threading.current_thread().name
        names.append(name)
        if name != threading.main_thread().name and len(names) <= 3:  # the first two on threads
            both.wait()
        return prepare(task)

    monkeypatch.setattr(engine, "_prepare", together)
    assert [c.to_dict() for c in dedup.cluster(articles)] == one == _stream_path(articles)
    # the process's first part alone, in the caller's thread; then the other four on two threads
    assert len(names) == 5 and names[0] == threading.main_thread().name and len(set(names[1:])) == 2
    assert threading.main_thread().name not in names[1:]
    threads = threading.active_count()
    with pytest.raises(dedup.EmptyTextError, match="'blank'"):
        dedup.cluster([*articles[:100], dedup.Article(id="blank", text=" "), *articles[100:]])
    assert threading.active_count() == threads


def test_batches_called_from_two_threads_at_once_give_their_own_answers(monkeypatch) -> None:
    """A batch in process keeps its settings, learned boilerplate and formula counts for its
    workers: a second batch started from another thread meanwhile waits for it instead of
    replacing them under it (and the collector's threshold is put back once both are done)."""
    import contextlib
    import gc
    import threading

    from dedup.config import VerifyConfig

    monkeypatch.setattr(engine, "_MEMBERS_PER_TASK", 16)  # many grouping tasks per batch
    first, second = _generated(300, 5), _generated(200, 7)
    strict = DedupConfig(
        verify=VerifyConfig(min_containment=0.99, near_identical_jaccard=0.99, min_passage_coverage=0.99)
    )
    alone = {
        "first": [c.to_dict() for c in dedup.cluster(first)],
        "second": [c.to_dict() for c in dedup.cluster(second, config=strict)],
    }
    assert alone["first"] != [c.to_dict() for c in dedup.cluster(first, config=strict)]  # the settings matter
    threshold = gc.get_threshold()
    both = threading.Barrier(2, timeout=3)  # the first batch, grouping, waits for the second to start grouping
    got: dict[str, list[dict]] = {}

    def meet(stage: str, done: int, total: int | None) -> None:
        if stage == "group":
            # (broken when the other batch waits for this one to end: it cannot come)
            with contextlib.suppress(threading.BrokenBarrierError):
                both.wait()

    def run(name: str, articles: list, config: DedupConfig) -> None:
        got[name] = [c.to_dict() for c in engine.run(articles, config=config, report=meet)]

    threads = [
        threading.Thread(target=run, args=("first", first, DedupConfig())),
        threading.Thread(target=run, args=("second", second, strict)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert got == alone
    assert gc.get_threshold() == threshold


def test_bad_lines_are_skipped_with_their_line_numbers(tmp_path: Path, seeds) -> None:
    path = tmp_path / "mixed.jsonl"
    _write(seeds, path)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("{not json\n")
        fh.write("\n")
        fh.write(json.dumps({"id": "no-text"}) + "\n")
        fh.write(json.dumps({"id": "blank", "text": "  \n "}) + "\n")
        fh.write(json.dumps({"id": seeds[1].id, "text": seeds[1].text}) + "\n")  # the same again: dropped
        fh.write(json.dumps({"id": seeds[2].id, "text": seeds[3].text}) + "\n")  # another text: an error
    skipped: list[dedup.Skip] = []
    clusters = dedup.cluster(str(path), errors="skip", skipped=skipped)
    got = {(s.line, s.error) for s in skipped}
    n = len(seeds)
    assert {(n + 1, "InvalidRecordError"), (n + 3, "InvalidRecordError"), (n + 4, "EmptyTextError")} <= got
    assert (n + 6, "DuplicateIdError") in got and len(skipped) == 4
    assert sorted(m for c in clusters for m in c.member_ids) == sorted(a.id for a in seeds)
    assert [c.to_dict() for c in clusters] == _stream_path(seeds)


def test_errors_raise_by_default(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "x", "text": ""}\n', encoding="utf-8")
    try:
        dedup.cluster(str(path))
    except dedup.EmptyTextError as exc:
        assert "'x'" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("an empty text was accepted")


def _engine_candidates(
    rank: np.ndarray, doc_keys: np.ndarray, passage_keys: list[np.ndarray], config: DedupConfig, first: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = np.array([len(p) for p in passage_keys], dtype=np.int64)
    bands = config.passage.bands
    flat = np.concatenate(passage_keys) if len(passage_keys) else np.empty((0, bands), np.uint64)
    columns = [np.ascontiguousarray(flat[:, t]) for t in range(bands)]
    keys = engine._Keys(*engine._sort_doc_keys(rank, doc_keys), columns)
    return engine._candidates(rank, keys, counts, config, first=first)


def _batch_candidates(
    rank: np.ndarray, doc_keys: np.ndarray, passage_keys: list[np.ndarray], config: DedupConfig
) -> set[tuple[int, int]]:
    """The batch's candidate pairs (b, a) as ranks in the id order; articles given in input order
    (``rank``: the id order of the article given i-th, -1 for one left out)."""
    b, a, whole = _engine_candidates(rank, doc_keys, passage_keys, config)
    shares = [bool((doc_keys[x] == doc_keys[y]).any()) for x, y in zip(b.tolist(), a.tolist(), strict=True)]
    assert whole.tolist() == shares  # a pair from a document band shares a document band key
    return set(zip(rank[b].tolist(), rank[a].tolist(), strict=True))


def test_candidate_kernel_follows_the_rule_on_a_generated_set() -> None:
    config = DedupConfig()
    articles = sorted(_generated(300, 12), key=lambda a: a.id)
    d = dedup.Deduplicator(config)
    prepared = [d.prepare(a) for a in articles]
    mh, ps = config.minhash, config.passage
    doc_keys = band_keys(np.stack([p.signature for p in prepared]), mh.bands, mh.rows)
    passage_keys = [band_keys(p.passage_signatures, ps.bands, ps.rows) for p in prepared]
    expected = candidate_pairs(
        doc_keys.tolist(),
        [k.tolist() for k in passage_keys],
        limit=ps.max_candidates,
        min_hits=ps.min_hits,
        few=ps.few_passages,
    )
    # the engine keeps articles in input order: give them shuffled, with their id order as ranks
    shuffled = np.random.default_rng(3).permutation(len(prepared))
    got = _batch_candidates(shuffled.astype(np.int64), doc_keys[shuffled], [passage_keys[r] for r in shuffled], config)
    assert len(expected) > 50
    assert got == expected


def _keyed(rows: list[list[int]]) -> list[list[int]]:
    """Band keys from small values: the band number is part of the key, as in ``band_keys``."""
    return [[v * 1024 + t for t, v in enumerate(row)] for row in rows]


@settings(max_examples=80, deadline=None)
@given(st.data(), st.integers(1, 4), st.integers(1, 3), st.integers(0, 3), st.booleans())
def test_candidate_kernel_follows_the_rule(data, min_hits, limit, few, drop_one) -> None:
    config = DedupConfig(passage=PassageConfig(min_hits=min_hits, few_passages=few, max_candidates=limit))
    doc_bands, passage_bands = config.minhash.bands, config.passage.bands
    n = data.draw(st.integers(1, 9))
    value = st.integers(0, 3)  # few values: many collisions
    docs = [data.draw(st.lists(st.integers(0, 6), min_size=doc_bands, max_size=doc_bands)) for _ in range(n)]
    docs = [[v if t < 2 else 1000 + i for t, v in enumerate(row)] for i, row in enumerate(docs)]  # two bands shared
    passages = [
        data.draw(st.lists(st.lists(value, min_size=passage_bands, max_size=passage_bands), max_size=5))
        for _ in range(n)
    ]
    doc_keys = np.array(_keyed(docs), dtype=np.uint64)
    passage_keys = [np.array(_keyed(p), dtype=np.uint64).reshape(-1, passage_bands) for p in passages]
    order = data.draw(st.permutations(range(n)))  # the id order is not the input order
    rank = np.array(order, dtype=np.int64)
    if drop_one:  # an article left out of the batch (an id given twice) is no candidate
        rank[rank == n - 1] = -1
    in_batch = sorted((i for i in range(n) if rank[i] >= 0), key=order.__getitem__)
    expected = candidate_pairs(
        [_keyed(docs)[i] for i in in_batch],
        [_keyed(passages[i]) for i in in_batch],
        limit=limit,
        min_hits=min_hits,
        few=few,
    )
    expected = {(int(rank[in_batch[b]]), int(rank[in_batch[a]])) for b, a in expected}
    assert _batch_candidates(rank, doc_keys, passage_keys, config) == expected


@settings(max_examples=150, deadline=None)
@given(st.data(), st.integers(1, 2), st.integers(1, 2), st.booleans())
def test_the_compared_pairs_read_the_first_articles_of_each_document_band_only(data, compared, limit, drop_one) -> None:
    config = DedupConfig(
        cluster=ClusterConfig(max_compared=compared), passage=PassageConfig(min_hits=1, max_candidates=limit)
    )
    doc_bands, passage_bands = config.minhash.bands, config.passage.bands
    n = data.draw(st.integers(1, 14))
    value = st.integers(0, 1)  # few values: large buckets
    docs = [data.draw(st.lists(value, min_size=2, max_size=2)) for _ in range(n)]
    docs = [[row[t] if t < 2 else 1000 + i for t in range(doc_bands)] for i, row in enumerate(docs)]
    passages = [
        data.draw(st.lists(st.lists(value, min_size=passage_bands, max_size=passage_bands), max_size=3))
        for _ in range(n)
    ]
    doc_keys = np.array(_keyed(docs), dtype=np.uint64)
    passage_keys = [np.array(_keyed(p), dtype=np.uint64).reshape(-1, passage_bands) for p in passages]
    rank = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    if drop_one:
        rank[rank == n - 1] = -1
    twins = engine._row_digests(doc_keys)
    every = engine._compared(*_engine_candidates(rank, doc_keys, passage_keys, config), rank, config, twins)
    first = engine._compared(
        *_engine_candidates(rank, doc_keys, passage_keys, config, compared + 1), rank, config, twins
    )
    assert [x.tolist() for x in first] == [x.tolist() for x in every]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sets(st.integers(1, 12), min_size=1, max_size=6), min_size=2, max_size=14),
    st.integers(2, 4),
    st.integers(2, 5),
    st.randoms(use_true_random=False),
    st.booleans(),
)
def test_learned_boilerplate_equals_judging_each_sentence(articles, min_df, sample, rnd, drop_one) -> None:
    config = DedupConfig(boilerplate=BoilerplateConfig(min_df=min_df, sample=sample))
    fps = [np.array(sorted(s), dtype=np.uint64) for s in articles]
    counts = np.array([len(f) for f in fps], dtype=np.int64)
    order = list(range(len(fps)))
    rnd.shuffle(order)  # the id order is not the input order
    rank = np.array(order, dtype=np.int64)
    if drop_one:  # an article left out of the batch (an id given twice) counts for nothing
        rank[0] = -1
    every = np.concatenate(fps)
    keys = every % np.uint64(5)  # near keys: sentences 0 and 5, 1 and 6, ... versions of one another
    learned = engine._learn_boilerplate(every, keys, counts, rank, config)
    in_id_order = sorted((i for i in range(len(articles)) if rank[i] >= 0), key=order.__getitem__)
    assert learned == learn([[(f, f % 5) for f in articles[i]] for i in in_id_order], config.boilerplate)


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(1, 4))
def test_the_compared_pairs_follow_the_rule_of_grouping_compared(data, max_compared: int) -> None:
    """The batch's pairs are ``grouping.compared``'s choice for each article: its candidates
    indexed first, those of a document band first, and the first twin cut when none of those
    kept is one."""
    from dedup.stages.grouping import compared

    config = DedupConfig(cluster=ClusterConfig(max_compared=max_compared))
    n = data.draw(st.integers(2, 12))
    rank = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    twins = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.uint64)
    pairs = sorted(data.draw(st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40)))
    pairs = [(b, a) for b, a in pairs if a != b]
    b = np.array([p[0] for p in pairs], dtype=np.int32)
    a = np.array([p[1] for p in pairs], dtype=np.int32)
    whole = np.array(data.draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs))), dtype=np.bool_)
    kept_b, kept_a = engine._compared(b, a, whole, rank, config, twins)
    got = set(zip(kept_b.tolist(), kept_a.tolist(), strict=True))
    expected = set()
    for x in sorted({p[0] for p in pairs}):
        candidates = [y for q, y in pairs if q == x]
        by_text = {y for (q, y), w in zip(pairs, whole.tolist(), strict=True) if q == x and w}
        chosen = compared(
            candidates,
            lambda y: int(rank[y]),
            config.cluster,
            lambda ys, x=x: [twins[y] == twins[x] for y in ys],
            by_text,
        )
        expected.update((x, y) for y in chosen)
    assert got == expected


def columns_with_a_footer(edited: bool = False) -> tuple[list[dedup.Article], DedupConfig]:
    """Eight columns that share a footer, the last one printed again (``edited``: with a word
    changed), and settings under which each is a candidate of every other, more than an article
    is compared with (the footer not learned as boilerplate, three comparisons an article)."""
    import random

    def sentence(seed: int) -> str:
        r = random.Random(seed)
        words = ("city", "plan", "road", "school", "budget", "minister")
        return " ".join(f"{r.choice(words)}{r.randrange(1000)}" for _ in range(14)) + "."

    footer = " ".join(sentence(10_000 + i) for i in range(2))
    columns = [
        dedup.Article(id=f"col-{i}", text=" ".join(sentence(i * 100 + j) for j in range(24)) + "\n" + footer)
        for i in range(8)
    ]
    text = columns[-1].text
    again = dedup.Article(id="col-7-again", text=text.replace(text.split()[5], "changed", 1) if edited else text)
    config = DedupConfig(cluster=ClusterConfig(max_compared=3), boilerplate=BoilerplateConfig(enabled=False))
    return [*columns, again], config


@pytest.mark.parametrize("edited", [False, True], ids=["the same text", "a word changed"])
def test_a_text_that_recurs_is_found_however_many_articles_share_its_footer(edited: bool) -> None:
    """Columns that share a footer are all candidates of each other, more than an article is
    compared with: a column printed again, as it was or with a word changed, is still found, and
    grouped with its first printing, by the batch and the stream alike."""
    articles, config = columns_with_a_footer(edited)
    stream = dedup.Deduplicator(config)
    assert [stream.add(a).copy_of for a in articles[:-1]] == [()] * 8  # (the footer is little of each)
    assert stream.add(articles[-1]).copy_of == ("col-7",)
    grouped = [c.member_ids for c in dedup.cluster(articles, config=config) if len(c) > 1]
    assert grouped == [("col-7", "col-7-again")]
