import itertools
import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
from conftest import load_seeds
from dedup.config import DedupConfig
from dedup.fronts import cli
from dedup.stages.explain import compare_texts, comparison_words, shared_spans, word_map
from dedup.stages.normalize import MARK, fold
from dedup.stages.shingle import tokens

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
CONFIG = DedupConfig()

# Arabic words with tashkeel and tatweel, some with the conjunction و; English words with case
_ARABIC = ["كِتَابٌ", "الـكـتـاب", "وَقَالَ", "والولايات", "المتحدة", "روسيا", "بوتين", "الكرملين", "إعادة", "سماء"]
_ENGLISH = ["Hello", "WORLD", "don't", "U.S.", "Kremlin", "café", "ﬁne", "Putin's", "state-run", "talks"]
_PUNCT = [" ", " ", " ", ", ", ". ", "، ", "؟ ", " – ", "\n", "\r\n", "\u200b", " «", "» ", "ـ"]
words_of = st.lists(st.sampled_from(_ARABIC + _ENGLISH), min_size=1, max_size=40)


def _text(words: list[str], seps: list[str]) -> str:
    return "".join(w + s for w, s in zip(words, seps, strict=False))


texts = st.builds(_text, words_of, st.lists(st.sampled_from(_PUNCT), min_size=40, max_size=40))


def _wordlike(c: str) -> bool:
    return unicodedata.category(c)[0] in "LMN"


def _whole_words(text: str, start: int, end: int) -> bool:
    """The range starts and ends at word boundaries of the text as written."""
    inside = text[start:end]
    return (
        bool(inside)
        and _wordlike(inside[0])
        and _wordlike(inside[-1])
        and (start == 0 or not _wordlike(text[start - 1]))
        and (end == len(text) or not _wordlike(text[end]))
    )


@settings(max_examples=150, deadline=None)
@given(texts)
def test_each_comparison_word_is_read_from_a_whole_word_of_the_text(text: str) -> None:
    words = comparison_words(text)
    assert words == [t for t in tokens(text, CONFIG.normalize, CONFIG.shingle) if t != MARK]
    mapped = word_map(text)
    assert len(mapped) == len(words)
    for word, start, end in zip(words, mapped.starts.tolist(), mapped.ends.tolist(), strict=True):
        assert _whole_words(text, start, end), (word, text[start:end])
        # the word's characters fold to the word (the conjunction و cut off its start)
        assert fold(text[start:end]).replace(" ", "").endswith(word)


@settings(max_examples=60, deadline=None)
@given(st.lists(texts, min_size=5, max_size=5), st.lists(texts, min_size=2, max_size=2))
def test_spans_are_whole_words_that_fold_to_the_passage(sentences: list[str], other: list[str]) -> None:
    a = dedup.Article(id="a", text="\n".join(sentences))
    b = dedup.Article(id="b", text="\n".join([other[0], sentences[1], sentences[3], other[1]]))
    match = compare_texts(a, b)
    for p in match.shared_passages:
        assert p.a_start is not None and p.a_end is not None and p.b_start is not None and p.b_end is not None
        assert p.a_text == a.text[p.a_start : p.a_end] and p.b_text == b.text[p.b_start : p.b_end]
        assert _whole_words(a.text, p.a_start, p.a_end) and _whole_words(b.text, p.b_start, p.b_end)
    spans = shared_spans(a, b)
    assert [s.a_start for s in spans] == sorted(s.a_start for s in spans)
    for first, second in itertools.pairwise(spans):
        assert first.a_end <= second.a_start
    b_sorted = sorted(spans, key=lambda s: s.b_start)
    for first, second in itertools.pairwise(b_sorted):
        assert first.b_end <= second.b_start


_EN = [
    "The Kremlin said on Saturday that the two presidents agreed to rebuild relations.",
    "Relations between the United States and Russia fell to a post-Cold War low under Obama.",
    "Trump has said he wants better ties with Moscow if he can reach an understanding with Putin.",
    "Critics accuse him of being too eager to make an alliance with the Russian leader.",
    "For Putin, who faces re-election next year, easing the sanctions would be a big step forward.",
]
_AR = [
    "قالَ الكرملين يومَ السبت إن الرئيسين الروسي والأمريكي اتفقا على محاولة إعادة بناء العلاقات.",
    "وتدهـورت العلاقات بين الولايات المتحدة وروسيا لمستوى ما بعد الحرب الباردة خلال فترة أوباما.",
    "وأوضح ترامب أنه يريد التقارب مع موسكو إذا تمكن من التفاهم مع بوتين الذي يقول إنه حريص أيضاً.",
    "واتهمه منتقدوه أيضًا بأنه حريص جداً على التحالف مع بوتين في الأزمة الأوكرانية الأخيرة.",
    "وبالنسبة لبوتين الذي يواجه احتمال إعادة انتخابه العام المقبل فإن تخفيف العقوبات خطوة كبيرة.",
]
_OTHER_EN = [
    "Heavy rain flooded the coastal town overnight and schools stayed closed across the whole region.",
    "The football club announced a new coach after a long season of disappointing results at home.",
]
_OTHER_AR = [
    "أعلنت وزارة الصحة عن افتتاح مستشفى جديد في العاصمة يضم مئات الأسرة وأحدث الأجهزة الطبية الحديثة.",
    "فاز المنتخب الوطني لكرة القدم في المباراة الودية التي أقيمت مساء أمس على الملعب الرئيسي بالمدينة.",
]


@pytest.mark.parametrize(("sentences", "other"), [(_EN, _OTHER_EN), (_AR, _OTHER_AR)], ids=["english", "arabic"])
def test_the_spans_of_a_copy_cover_exactly_the_copied_sentences(sentences: list[str], other: list[str]) -> None:
    a = dedup.Article(id="a", text=" ".join(sentences))
    b = dedup.Article(id="b", text=" ".join([other[0], sentences[1], sentences[3], other[1]]))
    spans = shared_spans(a, b)
    # each copied sentence, without its final period, is one span in both texts
    copied = [sentences[1].rstrip("."), sentences[3].rstrip(".")]
    assert [a.text[s.a_start : s.a_end] for s in spans] == copied
    assert [b.text[s.b_start : s.b_end] for s in spans] == copied
    assert all(s.overlap == 1.0 for s in spans)


def test_deduplicator_compare_and_add_with_spans_give_offsets_into_the_texts(seeds) -> None:
    a, b = seeds[0], seeds[2]
    d = dedup.Deduplicator()
    d.add(a)
    plain = d.add(b)
    assert plain.is_copy and all(not p.has_spans for m in plain.matches for p in m.shared_passages)
    match = d.compare(b.id, a.id)
    assert match.is_copy and match.shared_passages
    for p in match.shared_passages:
        assert p.a_text == b.text[p.a_start : p.a_end] and p.b_text == a.text[p.b_start : p.b_end]
        assert p.a_text and p.b_text
    e = dedup.Deduplicator()
    e.add(a)
    verdict = e.add(b, spans=True)
    passages = [p for m in verdict.matches for p in m.shared_passages]
    assert passages and all(p.has_spans for p in passages)
    # the verdict's spans are those of compare (same passages, same offsets)
    assert {(p.a_start, p.b_start) for p in passages} == {(p.a_start, p.b_start) for p in match.shared_passages}
    out = verdict.to_dict()["matches"][0]["shared_passages"][0]
    assert out["a_text"] == b.text[out["a_start"] : out["a_end"]]


def _seed_pair() -> list[str]:
    return [str(next(SEEDS.glob("000_*.txt"))), str(next(SEEDS.glob("002_*.txt")))]


def test_explain_on_the_seeds_pair_says_copy_and_marks_passages(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", *_seed_pair()]) == 0
    out = capsys.readouterr().out
    assert "decision: a copy (rewritten, rule shared_passages)" in out
    assert "[[وأضاف أن بوتين وترامب اتفقا على العمل على تحديد أول لقاء بينهما]]" in out
    assert out.count("[[") == out.count("]]") >= 2 * 6  # six passages or more, in both texts
    assert "\x1b[" not in out and "\u2067" not in out  # not a terminal: plain markers, no isolates


def test_explain_in_colour_isolates_right_to_left_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "--color", "always", *_seed_pair()]) == 0
    out = capsys.readouterr().out
    assert "\x1b[7m" in out and "[[" not in out
    arabic = [line for line in out.splitlines() if "الكرملين" in line]
    assert arabic and all(line.startswith("\u2067") and line.endswith("\u2069") for line in arabic)


def test_explain_json_and_the_ids_of_a_jsonl_file_or_an_index(tmp_path: Path, capsys, seeds) -> None:
    records = tmp_path / "in.jsonl"
    records.write_text("".join(json.dumps({"id": s.id, "text": s.text}) + "\n" for s in seeds))
    assert cli.main(["explain", "--json", "--jsonl", str(records), seeds[0].id, seeds[2].id]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["is_copy"] and found["relation"] == "rewritten" and len(found["spans"]) >= 6
    for span in found["spans"]:
        assert span["a_text"] == seeds[0].text[span["a_start"] : span["a_end"]]
        assert span["b_text"] == seeds[2].text[span["b_start"] : span["b_end"]]
    assert any(i["kind"] == "furniture" and "تويتر" in i["text"] for i in found["ignored_a"])
    index = tmp_path / "index.db"
    with dedup.Deduplicator.open(index) as d:
        d.add_many(seeds)
    assert cli.main(["explain", "--json", "--index", str(index), seeds[0].id, seeds[2].id]) == 0
    indexed = json.loads(capsys.readouterr().out)
    assert indexed["spans"] == found["spans"]


def test_explain_reports_a_missing_file_or_id_cleanly(tmp_path: Path, capsys) -> None:
    assert cli.main(["explain", str(tmp_path / "none.txt"), _seed_pair()[0]]) == 2
    assert "cannot be read" in capsys.readouterr().err
    records = tmp_path / "in.jsonl"
    records.write_text(json.dumps({"id": "x", "text": "some text here"}) + "\n")
    assert cli.main(["explain", "--jsonl", str(records), "x", "y"]) == 2
    assert "no article with id 'y'" in capsys.readouterr().err


def test_a_furniture_sentence_of_a_one_line_text_is_the_range_left_out() -> None:
    """In a text given as one line, the dropped furniture is the sentence that matched, and the
    words after it are mapped to where they are."""
    story = "The council met on Tuesday and voted for the new tram line after a long debate on costs."
    text = f"Read more at cityhall.example … {story} Follow us on Twitter for updates."
    mapped = word_map(text)
    assert [text[a:b] for a, b in mapped.dropped] == [
        "Read more at cityhall.example …",
        "Follow us on Twitter for updates.",
    ]
    start, end = mapped.span((0, len(mapped)))
    assert text[start:end] == story[:-1]


def test_explain_says_why_an_aside_is_no_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    statement = [f"The ministry said item {i} covers ministry{i}a and ministry{i}b today." for i in range(3)]
    own = [f"The harbour story {i} tells of harbour{i}a and harbour{i}b at length." for i in range(16)]
    (tmp_path / "statement.txt").write_text("\n".join(statement), encoding="utf-8")
    (tmp_path / "roundup.txt").write_text("\n".join(own + statement), encoding="utf-8")
    assert (
        cli.main(["explain", str(tmp_path / "statement.txt"), str(tmp_path / "roundup.txt"), "--color", "never"]) == 0
    )
    out = capsys.readouterr().out
    assert "decision: not a copy (rule aside)" in out
    assert "why:" in out and "begins only late" in out and "aside_share" in out


def test_explain_says_why_two_reports_quoting_one_statement_are_no_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quote = (
        "“We will rebuild every school and every clinic that the floods destroyed in the valley. "
        "Every farmer will be paid for the harvest the water took from the fields.”"
    )
    a = [
        "The minister toured the flooded valley on Tuesday with the regional governor and local engineers.",
        "Residents of three villages had asked the government for help after the river broke its banks.",
        "Roads to the north remain closed and the army has sent boats to reach the farms cut off by the water.",
        f"She said: {quote}",
    ]
    b = [
        "Speaking to reporters at the airport in the capital, the official promised swift action for survivors.",
        "Aid groups say more than two thousand people spent the night in schools on higher ground.",
        "The weather service expects more rain in the coming days across the whole southern province.",
        quote,
    ]
    (tmp_path / "a.txt").write_text("\n".join(a), encoding="utf-8")
    (tmp_path / "b.txt").write_text("\n".join(b), encoding="utf-8")
    assert cli.main(["explain", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--color", "never"]) == 0
    out = capsys.readouterr().out
    assert "decision: not a copy (rule quoted_speech)" in out
    assert "why:" in out and "quoted speech" in out and "VerifyConfig.quoted_speech" in out
    assert "[[" in out  # the quotation is still shown as what they share


def test_an_empty_text_is_refused_as_everywhere(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty.txt").write_text(" \n")
    (tmp_path / "story.txt").write_text(load_seeds()[0].text, encoding="utf-8")
    status = cli.main(["explain", str(tmp_path / "empty.txt"), str(tmp_path / "story.txt")])
    assert status == 2
    assert "dedup: error: article 'empty' has no text (empty or whitespace only)" in capsys.readouterr().err
