import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dedup.config import ShingleConfig
from dedup.shingle import kgram_hashes, shingle_lines, split_sentences, tokens, word_hash


def test_word_hash_is_stable_across_processes() -> None:
    # Fixed values: a change here would silently invalidate every stored index.
    assert word_hash("reuters") == word_hash("reuters")
    assert word_hash("رويترز") != word_hash("reuters")
    assert word_hash("reuters") == int.from_bytes(
        __import__("hashlib").blake2b(b"reuters", digest_size=8).digest(), "little"
    )


@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=0, max_size=40), st.integers(1, 6))
def test_kgram_count_and_order_sensitivity(values: list[int], k: int) -> None:
    words = np.array(values, dtype=np.uint64)
    grams = kgram_hashes(words, k)
    expected = 0 if not values else max(1, len(values) - k + 1)
    assert len(grams) == expected


def test_kgrams_depend_on_order() -> None:
    a = np.array([1, 2, 3], dtype=np.uint64)
    b = np.array([3, 2, 1], dtype=np.uint64)
    assert kgram_hashes(a, 3)[0] != kgram_hashes(b, 3)[0]


def test_sentence_split_latin_abbreviations() -> None:
    line = "Mr. Smith went to Washington on Jan. 5. He met U.S. officials there! Was it useful? Yes."
    assert split_sentences(line) == [
        "Mr. Smith went to Washington on Jan. 5.",
        "He met U.S. officials there!",
        "Was it useful?",
        "Yes.",
    ]


def test_sentence_split_arabic() -> None:
    line = "قال الكرملين إن الرئيسين اتفقا. وأضاف أن اللقاء قريب؟ نعم؛ هذا صحيح."
    assert split_sentences(line) == [
        "قال الكرملين إن الرئيسين اتفقا.",
        "وأضاف أن اللقاء قريب؟",
        "نعم؛",
        "هذا صحيح.",
    ]


def test_arabic_conjunction_is_dropped_when_configured() -> None:
    on = tokens("وقال وزير الخارجية", ShingleConfig())
    off = tokens("وقال وزير الخارجية", ShingleConfig(strip_arabic_conjunction=False))
    assert on == ["قال", "زير", "الخارجيه"]
    assert off == ["وقال", "وزير", "الخارجيه"]


def test_passages_and_sentences() -> None:
    config = ShingleConfig(min_passage_words=4, max_passage_words=10)
    doc = shingle_lines(["One two three. " + " ".join(f"w{i}" for i in range(25)) + "."], config)
    assert len(doc.sentences) == 2
    # the short sentence is no passage; the long one is cut in three even pieces
    assert [e - s for s, e in doc.passages] == [8, 8, 9]
    assert len(doc.sentence_fps) == 2
    assert np.all(np.diff(doc.shingles.astype(np.float64)) > 0)  # sorted unique
