import random
import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
from dedup.boilerplate import Sample, judge
from dedup.config import BoilerplateConfig

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


def _judge_by_definition(fp: int, sample: list[list[int]], min_unique_fraction: float) -> bool:
    """The rule as the module states it, sentence by sentence, with the judged one left out."""
    sets = [set(s) - {fp} for s in sample]
    fractions = []
    for i, own in enumerate(sets):
        others = set().union(*(t for j, t in enumerate(sets) if j != i))
        fractions.append(len(own - others) / len(own) if own else 1.0)
    return statistics.median(fractions) >= min_unique_fraction


@settings(max_examples=300)
@given(
    sample=st.lists(st.lists(st.integers(0, 12), max_size=8), min_size=1, max_size=6),
    fp=st.integers(0, 12),
    fraction=st.sampled_from([0.2, 0.5, 0.6, 0.8]),
)
def test_the_judge_follows_the_rule_for_any_sample(sample, fp, fraction) -> None:
    config = BoilerplateConfig(min_unique_fraction=fraction)
    expected = _judge_by_definition(fp, sample, fraction)
    assert judge(fp, sample, config) is expected
    # every sentence judged over one counted sample gets the same verdict as on its own
    counted = Sample(sample)
    for other in range(13):
        assert counted.is_boilerplate(other, config) is _judge_by_definition(other, sample, fraction)
