import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import NormalizeConfig, ShingleConfig
from dedup.errors import ConfigError
from dedup.normalize import fold, fold_keep, fold_table, is_furniture
from dedup.shingle import MARK, tokens

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
    from dedup.normalize import line_matcher

    matcher = line_matcher(tuple(patterns))
    plain = "\n".join(lines)
    start = 0
    for line in lines:
        assert matcher.matches(plain, start) == (matcher.full.match(plain, start) is not None), (line, patterns)
        start += len(line) + 1


def test_first_characters_of_the_default_patterns() -> None:
    from dedup.config import DEFAULT_FURNITURE_PATTERNS
    from dedup.normalize import first_characters

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


@given(st.text(alphabet=st.one_of(ARABIC, NO_JAMO, st.sampled_from(list(" \n\r\t.éÉßİıﬁ½"))), max_size=80))
@settings(max_examples=400)
def test_folding_by_character_equals_folding_the_whole_text(text: str) -> None:
    from dedup.normalize import _fold_string

    assert fold_keep(text) == _fold_string(text)


def test_fold_table_is_its_own_fixed_point() -> None:
    table = fold_table()
    for c, folded in table.mapping.items():
        assert folded.translate(table.mapping) == folded, hex(c)
