import random

import dedup

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
