from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import NormalizeConfig, ShingleConfig
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
