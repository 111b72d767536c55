from functools import lru_cache

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import NormalizeConfig, ShingleConfig
from dedup.stages.shingle import MARK, Shingled, Vocabulary, analyze, analyze_reference, kgram_hashes, tokens, word_hash


def test_word_hash_is_stable_across_processes() -> None:
    # Fixed values: a change here would silently invalidate every stored index.
    assert word_hash("reuters") == 15888737700715846684
    assert word_hash("رويترز") != word_hash("reuters")
    mask = (1 << 64) - 1
    h = 0xCBF29CE484222325
    for ch in "رويترز":  # FNV-1a over code points, then MurmurHash3's fmix64, written out
        h = ((h ^ ord(ch)) * 0x100000001B3) & mask
    for multiplier in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        h = ((h ^ (h >> 33)) * multiplier) & mask
    assert word_hash("رويترز") == h ^ (h >> 33)


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


def _sentences(text: str, config: ShingleConfig | None = None) -> list[str]:
    doc = analyze(text, NormalizeConfig(min_line_words=0), config or ShingleConfig(), Vocabulary(), keep_text=True)
    return list(doc.sentences)


def test_sentence_split_latin_abbreviations() -> None:
    line = "Mr. Smith went to Washington on Jan. 5. He met U.S. officials there! Was it useful? Yes."
    assert _sentences(line) == [
        "mr smith went to washington on jan 5",
        "he met u s officials there",
        "was it useful",
        "yes",
    ]


def test_sentence_split_arabic_and_lines() -> None:
    text = "قال الكرملين إن الرئيسين اتفقا. وأضاف أن اللقاء قريب؟ نعم؛ هذا صحيح.\nسطر ثان بلا نقطة في آخره"
    assert _sentences(text, ShingleConfig(strip_arabic_conjunction=False)) == [
        "قال الكرملين ان الرييسين اتفقا",
        "واضاف ان اللقا قريب",
        "نعم",
        "هذا صحيح",
        "سطر ثان بلا نقطه في اخره",
    ]


def test_scripts_without_spaces_are_cut_into_characters_and_sentences() -> None:
    # Chinese: every ideograph a word, the ideographic full stop a sentence end with no space after
    assert _sentences("习近平同普京通电话。两国元首交换了意见") == [
        "习 近 平 同 普 京 通 电 话",
        "两 国 元 首 交 换 了 意 见",
    ]
    # mixed with Latin words and digits, each stays whole; kana are characters too
    assert _sentences("新华社北京11月23日电 Reuters 报道") == ["新 华 社 北 京 11 月 23 日 电 reuters 报 道"]
    assert _sentences("東京で会談した。") == ["東 京 て 会 談 し た"]  # the voicing mark folded away, as accents are
    assert _sentences("ข่าวการเมืองวันนี้") == [" ".join("ขาวการเมองวนน")]  # marks folded away


def test_a_short_chinese_line_is_prose_not_furniture() -> None:
    # counted by characters: nine words, not one, so the line is kept
    assert tokens("习近平同普京通电话", NormalizeConfig(), ShingleConfig()) == list("习近平同普京通电话")
    assert tokens("分享", NormalizeConfig(), ShingleConfig()) == []  # two characters: too short


def test_arabic_conjunction_is_dropped_when_configured() -> None:
    on = tokens("وقال وزير الخارجية", NormalizeConfig(), ShingleConfig())
    off = tokens("وقال وزير الخارجية", NormalizeConfig(), ShingleConfig(strip_arabic_conjunction=False))
    assert on == ["قال", "زير", "الخارجيه"]
    assert off == ["وقال", "وزير", "الخارجيه"]


def test_furniture_lines_become_sentence_breaks_and_vanish() -> None:
    toks = tokens(
        "First line of prose here.\nShare on Facebook\nSecond line of prose here", NormalizeConfig(), ShingleConfig()
    )
    assert "facebook" not in toks and toks.count(MARK) >= 1


def test_passages_and_sentences() -> None:
    config = ShingleConfig(min_passage_words=4, max_passage_words=10)
    text = "One two three. " + " ".join(f"w{i}" for i in range(25)) + "."
    doc = analyze(text, NormalizeConfig(), config, Vocabulary())
    assert len(doc.sentence_starts) - 1 == 2
    # the short sentence is no passage; the long one is cut in three even pieces
    assert [e - s for s, e in doc.passages.tolist()] == [8, 8, 9]
    assert doc.passage_sentence.tolist() == [1, 1, 1]
    assert len(doc.sentence_fps) == 2
    assert np.all(np.diff(doc.shingles.astype(np.float64)) > 0)  # sorted unique
    # every passage's shingles lie inside it: 8 words give 6 three-word shingles
    assert np.diff(doc.passage_offsets).tolist() == [6, 6, 7]


def test_vocabulary_hashes_each_word_once() -> None:
    vocabulary = Vocabulary()
    ids = vocabulary.ids(["a", "b", "a", MARK])
    assert ids.tolist() == [1, 2, 1, 0]
    assert vocabulary.hashes[1] == word_hash("a")


WORDS = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g", MARK]), max_size=120)


@given(WORDS, st.integers(1, 5), st.integers(1, 5), st.integers(0, 6), st.integers(1, 12))
@settings(max_examples=200, deadline=None)
def test_compiled_path_equals_numpy_path(toks, k, pk, extra, max_words) -> None:
    import dedup.stages.shingle as shingle_module

    config = ShingleConfig(
        k=k, passage_k=pk, min_passage_words=pk + extra, max_passage_words=max(max_words, pk + extra)
    )
    vocabulary = Vocabulary()
    ids = vocabulary.ids(toks)
    fast = analyze_ids(toks, ids, config, vocabulary)
    slow = shingle_module._analyze_numpy(toks, ids, config, vocabulary, keep_text=False)
    for name in (
        "words",
        "sentence_starts",
        "sentence_fps",
        "passage_sentence",
        "passage_shingles",
        "passage_offsets",
        "shingles",
    ):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    assert np.array_equal(fast.passages.reshape(-1, 2), slow.passages.reshape(-1, 2))


def analyze_ids(toks, ids, config, vocabulary):
    from dedup.kernels import text as text_kernels
    from dedup.kernels.hashing import FP_SALT, POSITION_MULTIPLIERS
    from dedup.stages.shingle import Shingled

    out = text_kernels.shingle_ids(
        ids,
        vocabulary.hashes,
        config.k,
        config.passage_k,
        config.min_passage_words,
        config.max_passage_words,
        POSITION_MULTIPLIERS,
        FP_SALT,
    )
    return Shingled(*out)


def test_navigation_bars_are_dropped_in_whole_texts() -> None:
    text = "Home | News | World | Business\nThe council met on Tuesday and voted for the new tram line.\nالرئيسية | أخبار | اقتصاد"
    words = [t for t in tokens(text, NormalizeConfig(), ShingleConfig()) if t != MARK]
    assert words == "the council met on tuesday and voted for the new tram line".split()


# Pieces that exercise every rule of the text path: sentence ends and what blocks them, line
# breaks of every kind, furniture, the Arabic conjunction, folding (ligatures, marks, digits),
# characters beyond the BMP (emoji, mathematical letters, a digit), lone surrogates.
PIECES = st.sampled_from(
    [
        "word", "news", "خبر", "5.", "x.", "mr.", "2024.", "a.", "said.", "!", " ", "  ", "\n", "\r\n", "\r", "\t", "\u2028", "\x0b", "\x1c", "\xa0", "\u200b", ".", ". ", "!", "?",
        "…", "؟", "؛", '"', "'", "”", "»", ")", "]", "_", "#", "mr", "Mr.", "U.S.", "jan", "e.g.", "x",
        "a", "5", "٥", "١٢", "و", "وقال", "والرئيس", "ولد", "ووضع", "share on facebook", "Follow us",
        "Home | News | World", "اقرأ أيضا", "café", "ß", "İ", "ﬁ", "\ue000", "😀", "𝐀𝐁", "𞥑", "𠀀",
        "\ud800", "e\u0301", "ا\u0654", "ـ", "ٱ", "ﷺ", "½", "²", "한국", "ؠ", "وؠلد",
        "中国", "习近平", "。", "电话。", "」", "『", "ひらがな", "カタカナ", "ｶﾀｶﾅ", "が", "ไทย", "ภาษา", "।", "वह",
        "中وقال", "وقال中", "𠀀𠀁", "中.", "a中b",
        "«", "“", "„", "‟", "「", "＂", '"we will not back down here,"', "«قال إن الوزارة ستواصل عملها»",
        "‘", "’", "don’t", "leaders’", "’s", "‘we will not back down here’", "’5", "’_", '6"', 'צה"ל', "‘80s",
        "说“", "。”他", "は「", "」と", '."The',
    ]
)  # fmt: skip
SEPARATORS = st.sampled_from([" ", " ", "", "\n"])
TEXTS = st.lists(
    st.tuples(st.one_of(PIECES, PIECES, PIECES, st.text(max_size=5)), SEPARATORS), min_size=3, max_size=60
).map(lambda parts: "".join(piece + separator for piece, separator in parts))


@given(TEXTS, st.booleans(), st.booleans(), st.integers(0, 3))
@settings(max_examples=600, deadline=None)
def test_compiled_text_path_equals_reference_path(text, furniture, conjunction, min_words) -> None:
    """The kernels that fold, split and hash code points give what the regular expressions give."""
    normalize = NormalizeConfig(drop_furniture=furniture, min_line_words=min_words)
    config = ShingleConfig(strip_arabic_conjunction=conjunction)
    fast = analyze(text, normalize, config)
    slow = analyze_reference(text, normalize, config, Vocabulary())
    for name in (
        "words", "sentence_starts", "sentence_fps", "passage_sentence", "passage_shingles", "shingles", "quoted"
    ):  # fmt: skip
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    assert np.isin(fast.quoted, fast.shingles).all()  # quoted speech is some of the text's shingles
    assert np.array_equal(fast.passages.reshape(-1, 2), slow.passages.reshape(-1, 2))


def test_compiled_signatures_equal_signatures_flat() -> None:
    from dedup.config import DedupConfig
    from dedup.stages.sign import analyze_and_sign, signatures_flat

    config = DedupConfig()
    text = "The council met on Tuesday. It voted for the new tram line after a long debate on costs.\n" * 3
    doc, signature, passages = analyze_and_sign(text, config)
    whole = np.array([0, len(doc.shingles)], dtype=np.int64)
    assert np.array_equal(signature, signatures_flat(doc.shingles, whole, 128, config.minhash.seed)[0])
    expected = signatures_flat(doc.passage_shingles, doc.passage_offsets, config.passage.num_perm, config.passage.seed)
    assert passages.shape == (doc.n_passages, config.passage.num_perm)
    assert np.array_equal(passages, expected)


@given(TEXTS, st.data(), st.integers(1, 5))
@settings(max_examples=200, deadline=None)
def test_kept_shingles_kernel_equals_numpy(text, data, k) -> None:
    """The verifier's view of an article with some sentences dropped: the kernel and numpy agree."""
    import dedup.stages.shingle as shingle_module

    doc = analyze(text, NormalizeConfig(min_line_words=0), ShingleConfig())
    n_sent = len(doc.sentence_starts) - 1
    dropped = data.draw(st.lists(st.integers(0, max(n_sent - 1, 0)), unique=True)) if n_sent else []
    fast = shingle_module.kept_shingles(doc, dropped, k)
    slow = shingle_module.kept_shingles_reference(doc, dropped, k)
    assert np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1])
    kept = n_sent - len(dropped)
    assert (len(fast[1]) == 0) == (kept == 0 or len(fast[0]) == 0)


@given(TEXTS, st.integers(1, 5))
@settings(max_examples=200, deadline=None)
def test_sentence_keys_kernel_equals_numpy(text, k) -> None:
    """Each sentence's near key: the kernel and numpy agree, one key per sentence."""
    import dedup.stages.shingle as shingle_module

    doc = analyze(text, NormalizeConfig(min_line_words=0), ShingleConfig())
    fast = shingle_module.sentence_keys(doc, k)
    assert np.array_equal(fast, shingle_module.sentence_keys_reference(doc, k))
    assert len(fast) == len(doc.sentence_fps)


def test_a_sentence_edited_by_a_word_mostly_keeps_its_near_key() -> None:
    """Versions of one sentence (a word changed among many) share a near key far more often than
    not; sentences that share no words never do."""
    import dedup.stages.shingle as shingle_module

    config = ShingleConfig()
    words = [f"word{i}" for i in range(30)]
    kept = 0
    for i in range(30):
        edited = [*words[:i], "changed", *words[i + 1 :]]
        a = analyze(" ".join(words) + ".", NormalizeConfig(min_line_words=0), config)
        b = analyze(" ".join(edited) + ".", NormalizeConfig(min_line_words=0), config)
        kept += int(shingle_module.sentence_keys(a, 3)[0] == shingle_module.sentence_keys(b, 3)[0])
    assert kept >= 20
    other = analyze(" ".join(f"other{i}" for i in range(30)) + ".", NormalizeConfig(min_line_words=0), config)
    a = analyze(" ".join(words) + ".", NormalizeConfig(min_line_words=0), config)
    assert shingle_module.sentence_keys(a, 3)[0] != shingle_module.sentence_keys(other, 3)[0]


@given(st.lists(TEXTS, min_size=1, max_size=6), st.booleans())
@settings(max_examples=150, deadline=None)
def test_a_batch_of_texts_is_analyzed_as_each_text_alone(texts, furniture) -> None:
    """One compiled call for many texts: nothing leaks from one text into the next (a text ending
    in "\\r" before one starting with "\\n", a sentence or a line running on)."""
    from dedup.config import DedupConfig
    from dedup.stages.sign import analyze_and_sign, analyze_and_sign_many, text_signatures

    config = DedupConfig(normalize=NormalizeConfig(drop_furniture=furniture))
    texts = [*texts, "\r", "\nword word word."]
    together = analyze_and_sign_many(texts, config)
    for text, (doc, signature, passages) in zip(texts, together, strict=True):
        alone, alone_signature, alone_passages = analyze_and_sign(text, config)
        for name in Shingled.__slots__:
            assert np.array_equal(np.asarray(getattr(doc, name)), np.asarray(getattr(alone, name))), name
        assert np.array_equal(signature, alone_signature)
        assert np.array_equal(passages, alone_passages)
    # the signatures alone, without the rest of the analysis, are the same rows
    assert np.array_equal(text_signatures(texts, config), np.stack([s for _, s, _ in together]))


# -- evasion: invisible characters and look-alike letters never change the shingles ---------------
def _invisible() -> list[str]:
    """Every format character (category Cf) but the zero-width space, which separates words."""
    import sys
    import unicodedata

    return [c for c in map(chr, range(sys.maxunicode + 1)) if unicodedata.category(c) == "Cf" and c != "\u200b"]


INVISIBLE = _invisible()
EVASION_WORDS = (
    "the council voted on tuesday to extend harbour tram line northern suburbs mayor said construction "
    "would begin next spring وقالت الوزارة في بيان رسمي إن المصابين نقلوا إلى مستشفى الملك فهد لتلقي العلاج"
).split()
EVASION_TEXTS = st.lists(
    st.lists(st.sampled_from(EVASION_WORDS), min_size=6, max_size=14).map(lambda ws: " ".join(ws) + "."),
    min_size=1,
    max_size=4,
).map(" ".join)


def _shingles(text: str) -> tuple[np.ndarray, np.ndarray]:
    normalize, shingle = NormalizeConfig(min_line_words=0), ShingleConfig()
    return analyze(text, normalize, shingle).shingles, analyze_reference(
        text, normalize, shingle, Vocabulary()
    ).shingles


def _same_shingles(original: str, changed: str) -> None:
    (fast, slow), (fast2, slow2) = _shingles(original), _shingles(changed)
    assert np.array_equal(fast, fast2)
    assert np.array_equal(slow, slow2)


@given(EVASION_TEXTS, st.data())
@settings(max_examples=150, deadline=None)
def test_invisible_characters_inside_words_never_change_the_shingles(text: str, data: st.DataObject) -> None:
    named = st.sampled_from(["\u200c", "\u200d", "\u00ad", "\u2060", "\ufeff", "\u200e", "\u200f", "\u202e"])
    chars = st.one_of(named, st.sampled_from(INVISIBLE), st.sampled_from(["\U000e0041", "\U000e007f"]))
    positions = data.draw(st.lists(st.integers(1, len(text) - 1), max_size=12))
    changed = text
    for at in sorted(positions, reverse=True):
        changed = changed[:at] + data.draw(chars) + changed[at:]
    _same_shingles(text, changed)


@given(st.lists(EVASION_TEXTS, min_size=1, max_size=3), st.data())
@settings(max_examples=100, deadline=None)
def test_zero_width_spaces_for_the_spaces_of_a_line_never_change_the_shingles(
    lines: list[str], data: st.DataObject
) -> None:
    chosen = data.draw(st.sets(st.sampled_from(range(len(lines)))))
    changed = [line.replace(" ", "\u200b") if i in chosen else line for i, line in enumerate(lines)]
    _same_shingles("\n".join(lines), "\n".join(changed))


@given(EVASION_TEXTS, st.data())
@settings(max_examples=100, deadline=None)
def test_zero_width_spaces_inside_the_words_of_a_spaced_line_never_change_the_shingles(
    text: str, data: st.DataObject
) -> None:
    inside = [i for i in range(1, len(text)) if text[i - 1] != " " and text[i] != " "]
    positions = data.draw(st.lists(st.sampled_from(inside), max_size=12))
    changed = text
    for at in sorted(positions, reverse=True):
        changed = changed[:at] + "\u200b" + changed[at:]
    _same_shingles(text, changed)


@lru_cache(maxsize=1)
def _look_alikes() -> dict[str, list[str]]:
    """For each ASCII letter, both cases, the Cyrillic and Greek letters folded to it."""
    from dedup.stages.normalize import confusable_letters

    out: dict[str, list[str]] = {}
    for letter, latin in confusable_letters().items():
        out.setdefault(latin, []).append(letter)
        out.setdefault(latin.upper(), []).append(letter.upper())
    return out


@given(EVASION_TEXTS, st.data())
@settings(max_examples=150, deadline=None)
def test_latin_letters_written_as_cyrillic_or_greek_look_alikes_never_change_the_shingles(
    text: str, data: st.DataObject
) -> None:
    text = data.draw(st.sampled_from([text, text.title(), text.upper()]))
    swapped = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    look_alikes = _look_alikes()
    changed = "".join(
        data.draw(st.sampled_from(look_alikes[c])) if flip and c in look_alikes else c
        for c, flip in zip(text, swapped, strict=True)
    )
    _same_shingles(text, changed)


# -- texts given as one line (feeds and APIs): furniture is found sentence by sentence -----------
GAME_REPORT = (
    "The Tigers beat the Lions 3-1 on Saturday in front of a crowd of twelve thousand at the river stadium. "
    "Coach Ana Ruiz said the second half was the best her side had played all season. "
    "The Lions had led after ten minutes through a header from their captain."
)


def _words(text: str) -> list[str]:
    normalize = NormalizeConfig()
    fast = analyze(text, normalize, ShingleConfig())
    slow = [t for t in tokens(text, normalize, ShingleConfig()) if t != MARK]
    assert fast.n_words == len(slow)
    assert np.array_equal(fast.words, np.array([word_hash(w) for w in slow], dtype=np.uint64))
    return slow


def test_a_one_line_text_that_opens_with_furniture_keeps_its_story() -> None:
    """A pattern that matches at the start of a line of many sentences drops that sentence, not the
    whole text (which a feed delivers as one line)."""
    words = _words("Read more at athletics.com … " + GAME_REPORT)
    assert words == _words(GAME_REPORT)
    assert _words("Read more: Fish prices hit record high") == []  # a line that is only furniture


def test_furniture_inside_a_one_line_text_is_dropped() -> None:
    text = GAME_REPORT.replace(
        "Coach Ana", "Follow us on Twitter and Facebook for the latest news. Share this article. Coach Ana"
    )
    assert _words(text) == _words(GAME_REPORT)
    # a pattern's "$" is the end of its sentence; ".*" stays inside it
    assert "newsletter" not in _words(GAME_REPORT + " Sign up for our newsletter today. The end of the season is near.")
    # prose that merely starts like furniture is kept
    prose = "Read the full statement, the minister told reporters, and you will see the plan."
    assert _words(GAME_REPORT + " " + prose)[-3:] == ["see", "the", "plan"]
