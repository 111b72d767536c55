import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import NormalizeConfig, ShingleConfig
from dedup.errors import ConfigError
from dedup.stages.normalize import fold, fold_keep, fold_table, is_furniture
from dedup.stages.shingle import MARK, tokens

ARABIC = st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)
MIXED = st.one_of(ARABIC, st.characters(codec="utf-8"), st.sampled_from(list(" \n\t.,،؛؟«»-'\"éÉßİı")))


@given(st.text(alphabet=MIXED, max_size=200))
@settings(max_examples=400)
def test_fold_is_idempotent(text: str) -> None:
    once = fold(text)
    assert fold(once) == once


def test_arabic_variants_fold_to_one_form() -> None:
    assert fold("أحمد إبراهيم آمال ٱلله") == fold("احمد ابراهيم امال الله")
    assert fold("مصطفى") == fold("مصطفي")
    assert fold("سورية") == "سوريه"
    assert fold("مسؤول شؤون") == fold("مسوول شوون")
    assert fold("رئيس") == fold("رييس")
    assert fold("مُحَمَّدٌ") == "محمد"
    assert fold("الســـلام") == "السلام"


def test_digits_and_punctuation() -> None:
    assert fold("عام ٢٠١٧ و ۲۰۱۸") == "عام 2017 و 2018"
    assert fold("قال، «نعم»؛ لماذا؟") == "قال نعم لماذا"


def test_latin_casefold_and_accents() -> None:
    assert fold("Café  CRÈME\tBrûlée") == "cafe creme brulee"
    assert fold("STRASSE") == fold("straße")


def test_furniture_lines_are_dropped() -> None:
    config = NormalizeConfig()
    for line in [
        "تابعونا على الفيسبوك",
        "اقرأ أيضا: الحسم في حلب قبل لقاء بوتين",
        "إقرا ايضًا: العلاقة المشبوهة",
        "مشاركة :",
        "Share on Facebook",
        "Read more: Fish prices hit record high",
        "Follow us on Twitter and Facebook for the latest news.",
        "Copyright 2024 Coastal Daily. All rights reserved.",
        "Advertisement",
        "(س. ج)",
        "Home | News | World | Business",
        "الرئيسية | أخبار | اقتصاد | رياضة",
    ]:
        assert is_furniture(line, config), line


def test_prose_is_kept() -> None:
    config = NormalizeConfig()
    for line in [
        "Shares in the company fell 4 percent after the announcement on Monday.",
        "Read the full statement, the minister told reporters, and you will see the plan.",
        "وقال الكرملين في بيان إن الرئيسين اتفقا على العمل معا.",
        "وتابعوا الحديث حول سوريا وأوكرانيا لساعة كاملة",
        "World business news was dominated by the harbour vote on Sunday.",
    ]:
        assert not is_furniture(line, config), line


# Furniture of other languages, as sites print it (accents, capitals, punctuation): the patterns
# are written in folded form, so these also check that each was folded right.
OTHER_FURNITURE = [
    "À lire aussi : Le gouvernement annonce un plan",
    "Lee también: El gobierno anuncia un plan",
    "Leia também: Governo anuncia novo plano",
    "Lesen Sie auch: Regierung kündigt an",
    "Mehr zum Thema: Die Regierung",
    "Читайте также: Путин провел разговор",
    "Partager sur Facebook",
    "Compartir en WhatsApp",
    "Поделиться в Telegram ВКонтакте",
    "Suivez-nous sur Twitter et Facebook",
    "Síguenos en Twitter",
    "Folgen Sie uns auf Instagram",
    "Подписывайтесь на наш канал в Telegram",
    "Abonnez-vous à notre newsletter quotidienne",
    "Suscríbete a nuestro boletín",
    "Tous droits réservés © 2024 Le Monde",
    "Alle Rechte vorbehalten. Spiegel",
    "Все права защищены. РИА Новости",
    "Ähnliche Artikel",
    "Похожие новости",
    "责任编辑：王晓明",
    "来源：新华社",
    "原标题：习近平同普京通电话",
    "分享到：微信 微博 QQ空间",
    "扫一扫，分享到朋友圈",
    "相关阅读：中俄关系持续发展",
    "関連記事：日露首脳が電話会談",
]
OTHER_PROSE = [
    "Le président a déclaré qu'il fallait lire aussi les rapports des experts.",
    "Suivez l'argent, a dit le juge devant la cour",
    "Partager les coûts entre les deux pays reste la question principale des négociations",
    "Реклама на телевидении подорожала на десять процентов в этом году",
    "来源于俄罗斯的天然气供应稳定增长，两国能源合作不断深化。",
    "编辑部门表示，将继续关注事态发展并及时报道最新进展。",
]


def test_furniture_of_other_languages_is_dropped_and_their_prose_kept() -> None:
    config = NormalizeConfig()
    for line in OTHER_FURNITURE:
        assert is_furniture(line, config), line
    for line in OTHER_PROSE:
        assert not is_furniture(line, config), line


# Pattern forms the first-character dispatch must read right, or give up on (None).
PATTERN_FORMS = st.sampled_from(
    [
        "ab", "(a|b)c", "(?:ab|ba)$", "(a )?b", "a?b", "a*b", "a{0,2}b", "a{,2}b", "a{2}b", "a+b", "\\d+ a",
        "\\d{4}", "(?i:a)", "(?=a)b", "[ab]c", "\\ba", ".*a", "(|a)b", "a|", "b$", " a", "(a(b|c))", "((a)|b)?c",
        "\\(a", "a\\|b", "[|(]a", "с", "责任", "(x|y) a",
    ]
)  # fmt: skip
LINES = st.lists(st.text(alphabet="abcxy 1(|с责任", max_size=6), min_size=1, max_size=8)


@given(st.lists(PATTERN_FORMS, min_size=1, max_size=5), LINES)
@settings(max_examples=400)
def test_the_first_character_dispatch_finds_what_the_whole_pattern_finds(patterns, lines) -> None:
    from dedup.stages.normalize import line_matcher

    matcher = line_matcher(tuple(patterns))
    plain = "\n".join(lines)
    start = 0
    for line in lines:
        assert matcher.matches(plain, start) == (matcher.full.match(plain, start) is not None), (line, patterns)
        start += len(line) + 1


def test_first_characters_of_the_default_patterns() -> None:
    from dedup.config import DEFAULT_FURNITURE_PATTERNS
    from dedup.stages.normalize import first_characters

    assert first_characters("(read|see) (more|also)\\b") == frozenset("rs")
    assert first_characters("(all rights reserved|\\d{4} all)") == frozenset("a0123456789")
    assert first_characters("(a )?lire") is None
    # every default pattern is dispatched, none tried on every line
    assert all(first_characters(p) for p in DEFAULT_FURNITURE_PATTERNS)


def test_a_pattern_that_cannot_be_joined_to_the_others_is_refused() -> None:
    with pytest.raises(ConfigError, match="scoped group"):
        NormalizeConfig(extra_furniture_patterns=("(?i)subscribe",))


def test_furniture_patterns_are_configurable() -> None:
    line = "Subscribe to the Coastal Daily podcast today"
    assert not is_furniture(line, NormalizeConfig())
    assert is_furniture(line, NormalizeConfig(extra_furniture_patterns=(r"subscribe to\b",)))
    kept = tokens(
        "Share on Facebook\nA real sentence of prose here.", NormalizeConfig(drop_furniture=False), ShingleConfig()
    )
    assert [t for t in kept if t != MARK] == ["share", "on", "facebook", "a", "real", "sentence", "of", "prose", "here"]


# Every script's letters, marks and digits, punctuation, spaces; not conjoining Hangul jamo, which
# whole-text NFKC composes into syllables and a character-by-character fold leaves as they are.
NO_JAMO = st.characters(codec="utf-8").filter(lambda c: not ("\u1100" <= c <= "\u11ff" or "\ua960" <= c <= "\ud7ff"))


@given(st.text(alphabet=st.one_of(ARABIC, NO_JAMO, st.sampled_from(list(" \n\r\t.éÉßİıﬁ½\u200b"))), max_size=80))
@settings(max_examples=400)
def test_folding_by_character_equals_folding_the_whole_text(text: str) -> None:
    from dedup.stages.normalize import _fold_string, place_zero_width_spaces

    # zero-width spaces are placed by their line first (a context rule no table can hold)
    assert fold_keep(text) == _fold_string(place_zero_width_spaces(text))


def test_fold_table_is_its_own_fixed_point() -> None:
    table = fold_table()
    for c, folded in table.mapping.items():
        assert folded.translate(table.mapping) == folded, hex(c)


def test_literal_prefixes_of_pattern_forms() -> None:
    from dedup.stages.normalize import DIGIT_ATOM, literal_prefixes

    def spelled(prefixes):
        return {"".join("#" if a == DIGIT_ATOM else chr(a) for a in p) for p in prefixes}

    # a space in a pattern matches a run of spaces: the prefix ends with the first one
    assert spelled(literal_prefixes(r"(read|see) (more|also)\b")) == {"read ", "see "}
    assert spelled(literal_prefixes(r"(all rights reserved|\d{4} all)")) == {"all ", "#"}
    assert spelled(literal_prefixes("(x|y)abcdefgh")) == {"xabcde", "yabcde"}
    assert spelled(literal_prefixes(r"\bfollow us")) == {"follow"}
    # a match that may start with any character, or with a space, has no prefix to test
    for pattern in ("(a )?lire", "a|", ".*a", "[^a]b", " a", "(?i:share)", r"\s*x"):
        assert literal_prefixes(pattern) is None, pattern


# Patterns and lines built from the same few letters, so that lines start as patterns do.
PREFILTER_PATTERNS = st.lists(
    st.one_of(
        PATTERN_FORMS,
        st.sampled_from(["ab c", "abc$", "(ab|ba) (c|x)", "\\d+ ab", "a\\s+b", "ab(\\s+\\S+){0,2}$", "(?:a)?b c"]),
    ),
    min_size=1,
    max_size=4,
)
PREFILTER_LINES = st.lists(
    st.lists(st.sampled_from([*"abcxy 12.|с责٣", "ab ", " ab", "  "]), max_size=8).map("".join),
    min_size=1,
    max_size=6,
)


@given(PREFILTER_PATTERNS, PREFILTER_LINES, st.integers(0, 2))
@settings(max_examples=500, deadline=None)
def test_the_compiled_line_prefilter_never_hides_a_furniture_line(patterns, lines, min_words) -> None:
    """The kernel lets through to the regular expressions only the lines whose start can match a
    pattern; the text path with it drops exactly the lines the reference path drops."""
    from dedup.stages.shingle import Vocabulary, analyze, analyze_reference

    normalize = NormalizeConfig(furniture_patterns=tuple(patterns), min_line_words=min_words)
    text = "\n".join(line + " and some more words here" for line in lines)
    fast = analyze(text, normalize, ShingleConfig())
    slow = analyze_reference(text, normalize, ShingleConfig(), Vocabulary())
    assert np.array_equal(fast.words, slow.words)
    assert np.array_equal(fast.sentence_starts, slow.sentence_starts)


def test_a_furniture_pattern_is_matched_within_its_line() -> None:
    """A pattern that could run on into the next line (``\\s`` matches a line break) is matched
    against its line alone: a line is furniture by what it says itself."""
    normalize = NormalizeConfig(extra_furniture_patterns=(r"watch the video\s+this",))
    from dedup.stages.shingle import analyze

    text = "Watch the video\nThis is the council's statement on the new tram line."
    words = [t for t in tokens(text, normalize, ShingleConfig()) if t != MARK]
    assert words[:4] == ["watch", "the", "video", "this"]
    assert analyze(text, normalize, ShingleConfig()).n_words == len(words)
    assert is_furniture("Watch the video this week", normalize)


def test_remembered_furniture_lines_are_bounded() -> None:
    from dedup.stages.normalize import _SEEN_LINES, line_matcher

    matcher = line_matcher(("(read|see) more",))
    lines = [f"read more {i}" for i in range(_SEEN_LINES + 10)] + ["nothing to see"]
    found = [matcher.matches_line(line.encode("utf-32-le")) for line in lines]
    assert found == [True] * (_SEEN_LINES + 10) + [False]
    assert len(matcher.seen) <= _SEEN_LINES
    assert matcher.matches_line("read more 3".encode("utf-32-le")) is True


# -- evasion: invisible characters and look-alike letters --------------------------------------
ARABIC_STORY = (
    "أعلنت وزارة الصحة السعودية يوم الثلاثاء عن تسجيل ثلاث إصابات جديدة بفيروس كورونا في مدينة الرياض، "
    "وقالت الوزارة في بيان رسمي إن المصابين نقلوا إلى مستشفى الملك فهد لتلقي العلاج اللازم. "
    "وأضاف البيان أن فرق الرقابة الصحية بدأت فحص المخالطين في الأحياء المجاورة، "
    "وأن الحالة العامة للمرضى مستقرة حتى الآن. "
    "ودعت الوزارة المواطنين والمقيمين إلى الالتزام بالإجراءات الوقائية وتجنب التجمعات الكبيرة خلال الأسابيع المقبلة."
)
ENGLISH_STORY = (
    "The city council voted on Tuesday to extend the harbour tram line to the northern suburbs, "
    "ending a debate that had divided residents for almost three years. "
    "The mayor said construction would begin next spring and that the new stations should open before the end "
    "of 2027. Opponents argued that the money would be better spent on buses, but the motion passed by nine "
    "votes to four. Local businesses along the route welcomed the decision and said they expected more visitors."
)


def _inside_every_word(text: str, char: str) -> str:
    return " ".join(w[: len(w) // 2] + char + w[len(w) // 2 :] if len(w) > 1 else w for w in text.split(" "))


def _one_cyrillic_letter_per_word(text: str) -> str:
    cyrillic = dict(zip("aceopxyiTHBMK", "асеорхуіТНВМК", strict=True))
    out = []
    for word in text.split(" "):
        at = next((i for i, c in enumerate(word) if c in cyrillic), None)
        out.append(word if at is None else word[:at] + cyrillic[word[at]] + word[at + 1 :])
    return " ".join(out)


def _persian_letter_forms(text: str) -> str:
    return text.translate(str.maketrans({"ي": "ی", "ك": "ک", "ه": "ہ", "ة": "ۃ"}))


INVISIBLE_EVASIONS = {
    f"U+{ord(c):04X} inside every word": (lambda t, c=c: _inside_every_word(t, c))
    for c in "\u200b\u200c\u200d\u00ad\u2060\ufeff\u200e\u200f\u202a\u202e\u2066\u2069\U000e0041"
}
INVISIBLE_EVASIONS["zero-width spaces for spaces"] = lambda t: t.replace(" ", "\u200b")
EVASIONS = [
    *((story, name, evade) for story in ("arabic", "english") for name, evade in INVISIBLE_EVASIONS.items()),
    ("arabic", "Persian and Urdu letter forms", _persian_letter_forms),
    ("english", "one Cyrillic letter per word", _one_cyrillic_letter_per_word),
]


@pytest.mark.parametrize(("story", "evasion", "evade"), EVASIONS, ids=[f"{s}: {n}" for s, n, _ in EVASIONS])
def test_an_evaded_copy_is_still_found(story: str, evasion: str, evade) -> None:
    from dedup import Article, Deduplicator

    original = ARABIC_STORY if story == "arabic" else ENGLISH_STORY
    copy = evade(original)
    assert copy != original
    dedup = Deduplicator()
    dedup.add(Article(id="original", text=original))
    assert dedup.add(Article(id="copy", text=copy)).is_copy, evasion


def test_invisible_characters_are_removed_and_zero_width_spaces_separate_only_unspaced_lines() -> None:
    assert (
        fold("gov\u00adern\u200bment\u200d of\u2060 the\ufeff \u202estate\u202c\U000e0041") == "government of the state"
    )
    # on a line with no visible space, zero-width spaces are its spaces
    assert fold("the\u200bstate\u200bcouncil\nmet\u200b\u200btoday here") == "the state council mettoday here"
    assert fold("الحكو\u200cمة") == "الحكومه"


def test_the_zero_width_space_is_the_one_format_character_unicode_breaks_words_at() -> None:
    """UAX #29 word segmentation ignores every format character inside a word but the zero-width
    space (and the signs that stand before a number or word, which join what follows)."""
    import sys
    import unicodedata

    import regex

    from dedup.stages.normalize import WORD_SEPARATING_FORMATS

    breaking = {
        c
        for c in map(chr, range(sys.maxunicode + 1))
        if unicodedata.category(c) == "Cf" and regex.match(r"\p{Word_Break=Other}", c)
    }
    assert breaking == set(WORD_SEPARATING_FORMATS)


def test_look_alike_letters_fold_to_latin_and_latin_stays() -> None:
    from dedup.stages.normalize import confusable_letters

    assert fold("Тhе Рrеsіdеnt sаіd") == "the president said"
    assert fold("Αθήνα οι πολίτες") == fold("Αθήνα οι πολίτες".replace("ο", "o"))
    letters = confusable_letters()
    assert {"а", "с", "е", "о", "р", "х", "у", "і", "ј", "ѕ", "һ", "ԁ", "α", "ο", "ρ", "ι"} <= set(letters)
    assert all(f.isascii() and f.isalpha() and len(f) == 1 for f in letters.values())
    assert not any(unicodedata_script(c) == "LATIN" for c in letters)
    # no two letters of one script fold to the same Latin letter: no two of its words become one
    for script in ("CYRILLIC", "GREEK"):
        targets = [f for c, f in letters.items() if unicodedata_script(c) == script]
        assert len(targets) == len(set(targets)), script
    # Latin words are never folded together
    assert fold("rn m cl d vv w l 1 I") == "rn m cl d vv w l 1 i"


def unicodedata_script(char: str) -> str:
    import unicodedata

    return unicodedata.name(char).split(" ")[0]


def test_russian_text_folds_consistently() -> None:
    # capitals and small letters fold alike, and a furniture pattern written in Cyrillic still matches
    assert fold("ТАК ГОВОРИТ Москва") == fold("так говорит москва")
    assert is_furniture("Читайте также: Путин провел разговор", NormalizeConfig())


EVASIVE = st.sampled_from([*"\u200b\u200c\u200d\u00ad\u2060\ufeff\u200e\u202eаеорсхуіТНВΑορνϲ", "\U000e0041"])


@given(st.text(alphabet=st.one_of(MIXED, EVASIVE), max_size=200))
@settings(max_examples=300)
def test_fold_with_evasive_characters_is_idempotent(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert fold_keep(text) == fold_keep(fold_keep(text))
