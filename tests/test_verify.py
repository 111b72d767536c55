import dataclasses
import itertools

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

import dedup
from dedup.config import DedupConfig
from dedup.records import Relation
from dedup.stages.shingle import Vocabulary, analyze
from dedup.stages.verify import View, compare, shared_figures, shared_figures_reference

CONFIG = DedupConfig()
VOCABULARY = Vocabulary()


def _doc(text: str):
    return analyze(text, CONFIG.normalize, CONFIG.shingle, VOCABULARY, keep_text=True)


def _compare(a, b):
    return compare("a", _doc(a), "b", _doc(b), verify=CONFIG.verify, shingle=CONFIG.shingle)


def test_seed_pairs(seeds) -> None:
    docs = {a.id[:3]: _doc(a.text) for a in seeds}
    for x, y in itertools.combinations(sorted(docs), 2):
        m = compare(x, docs[x], y, docs[y], verify=CONFIG.verify, shingle=CONFIG.shingle)
        if {x, y} == {"000", "002"}:
            assert m.is_copy and m.relation is Relation.REWRITTEN
            assert 0.15 <= m.jaccard <= 0.3
            assert len(m.shared_passages) >= 6  # about 8 of the 21 sentences of 000
            unlisted = compare(
                x, docs[x], y, docs[y], verify=CONFIG.verify, shingle=CONFIG.shingle, list_passages=False
            )
            assert unlisted == dataclasses.replace(m, shared_passages=())  # decided on the same passages
        else:
            assert not m.is_copy, (x, y, m)
            assert m.jaccard < 0.05 and not m.shared_passages


def test_same_text_and_near_identical() -> None:
    text = " ".join(f"Sentence number {i} tells part of the story about the harbour." for i in range(20))
    assert _compare(text, text).relation is Relation.SAME_TEXT
    edited = text.replace("number 3 tells", "number 3 says")
    assert _compare(text, edited).relation is Relation.NEAR_IDENTICAL


def test_trimmed_copy_is_partial_and_the_full_story_extended() -> None:
    paragraphs = [
        f"Paragraph {i} of the wire story says something specific about item {i} and more." for i in range(12)
    ]
    full, trimmed = "\n".join(paragraphs), "\n".join(paragraphs[:4])
    m = _compare(trimmed, full)
    assert m.relation is Relation.PARTIAL and m.containment_a > 0.9
    assert _compare(full, trimmed).relation is Relation.EXTENDED


def test_english_copies_and_non_copies(english) -> None:
    docs = {a.id: _doc(a.text) for a in english}
    copies = {"en-wire", "en-copy-furniture", "en-copy-trimmed", "en-copy-rewritten"}
    for x, y in itertools.combinations(sorted(docs), 2):
        m = compare(x, docs[x], y, docs[y], verify=CONFIG.verify, shingle=CONFIG.shingle)
        assert m.is_copy == (x in copies and y in copies), (x, y, m.rule)


def test_a_shared_quote_is_not_a_copy(english) -> None:
    docs = {a.id: _doc(a.text) for a in english}
    m = compare("w", docs["en-wire"], "s", docs["en-same-event"], verify=CONFIG.verify, shingle=CONFIG.shingle)
    assert len(m.shared_passages) == 1 and not m.is_copy


def test_boilerplate_is_not_evidence() -> None:
    footer = "About us: The Coastal Daily is an independent newspaper founded in 1901 by the Berg family of Osland."
    a = "A council story about trams and budgets in the old town this week.\n" + footer
    b = "A sports story about the football cup final and the crowd this weekend.\n" + footer
    da, db = _doc(a), _doc(b)
    learned = {int(da.sentence_fps[-1])}
    assert _compare(a, b).is_copy  # with nothing learned, the footer alone glues them
    m = compare("a", da, "b", db, verify=CONFIG.verify, shingle=CONFIG.shingle, boilerplate=learned)
    assert not m.is_copy and m.ignored_boilerplate == 1


_SENTENCES = [f"Sentence {w} of the shared pool says what happened at the {w} harbour today." for w in "abcdefghij"]


@given(
    st.lists(st.sampled_from(range(10)), min_size=1, max_size=8),
    st.lists(st.sampled_from(range(10)), min_size=1, max_size=8),
    st.sets(st.sampled_from(range(10))),
    st.sets(st.sampled_from(range(10))),
)
def test_ignored_boilerplate_counts_the_learned_sentences_of_either_article(xs, ys, learned_a, learned_b) -> None:
    """Whether the two articles' views are cut by one learned set or each by its own (the stream's
    judge may give each article its own), the match counts the distinct sentences of the two that
    the learned boilerplate holds."""
    da, db = _doc("\n".join(_SENTENCES[i] for i in xs)), _doc("\n".join(_SENTENCES[i] for i in ys))
    fp = {i: int(_doc(_SENTENCES[i]).sentence_fps[0]) for i in range(10)}
    in_either = {*da.sentence_fps.tolist(), *db.sentence_fps.tolist()}
    one = frozenset(fp[i] for i in learned_a)
    m = compare("a", da, "b", db, verify=CONFIG.verify, shingle=CONFIG.shingle, boilerplate=one)
    assert m.ignored_boilerplate == len(one & in_either)
    own_a, own_b = frozenset(fp[i] for i in learned_a), frozenset(fp[i] for i in learned_b)
    views = (View(da, own_a, CONFIG.shingle), View(db, own_b, CONFIG.shingle))
    both = own_a | own_b
    m = compare("a", da, "b", db, verify=CONFIG.verify, shingle=CONFIG.shingle, boilerplate=both, views=views)
    assert m.ignored_boilerplate == len(both & in_either)


def test_deduplicator_compare_shows_the_shared_passages(seeds) -> None:
    import dedup

    d = dedup.Deduplicator()
    d.add_many(seeds)
    m = d.compare("000_ab6823a46153965b", "002_2c2c9388f5a9e12b")
    assert m.is_copy and len(m.shared_passages) >= 6
    assert all(p.text for p in m.shared_passages)
    assert any("الكرملين" in p.text for p in m.shared_passages)


def test_the_passage_kernels_equal_the_numpy_path() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import generate

    config = dedup.DedupConfig()
    d = dedup.Deduplicator(config)
    records = generate.generate(200, 4)
    docs = [d.prepare(dedup.Article(id=r["id"], text=r["text"])).doc for r in records]
    by_group: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_group.setdefault(r["group"], []).append(i)
    pairs = [(g[0], j) for g in by_group.values() for j in g[1:]] + [(i, i + 1) for i in range(0, 60, 2)]
    boilerplate = {int(docs[0].sentence_fps[0])}  # a dropped sentence on some articles

    def run(listed: bool = True) -> list[dedup.Match]:
        return [
            compare(
                str(x),
                docs[x],
                str(y),
                docs[y],
                verify=config.verify,
                shingle=config.shingle,
                boilerplate=boilerplate,
                list_passages=listed,
            )
            for x, y in pairs
        ]

    def unlisted(matches: list[dedup.Match]) -> list[dedup.Match]:
        return [dataclasses.replace(m, shared_passages=()) for m in matches]

    compiled = run()
    assert sum(len(m.shared_passages) > 0 for m in compiled) > 20  # the passage step ran and found some
    assert sum(m.passage_coverage_a > 0 for m in compiled) > 20  # and measured them
    # not listing the passages changes nothing else (figures, decisions)
    assert run(listed=False) == unlisted(compiled)
    # the passage figures of every pair, from the kernels and from numpy
    for x, y in pairs:
        va, vb = View(docs[x], boilerplate, config.shingle), View(docs[y], boilerplate, config.shingle)
        threshold = config.verify.passage_overlap
        fast = shared_figures(va, vb, threshold)
        slow = shared_figures_reference(docs[x], va, docs[y], vb, threshold)
        for got, expected in zip(fast[:3], slow[:3], strict=True):
            assert np.array_equal(got, expected)
        assert fast[3:] == slow[3:]


def test_a_short_statement_re_spelled_is_a_copy_on_its_one_shared_passage() -> None:
    # one sentence of news re-spelled: under half its shingles recur (no containment), but the one
    # passage it has is shared and is most of it
    statement = (
        "The ministry of health said on Monday that the new hospital in the northern district will open its "
        "doors to patients next month after years of delay. Officials from the regional council were not "
        "available for comment."
    )
    re_spelled = (
        "The health ministry announced on Monday that the new hospital in the northern district would open "
        "its doors to all patients next month after delays. No details were given by the ministry."
    )
    m = _compare(statement, re_spelled)
    assert m.containment_b < CONFIG.verify.min_containment and len(m.shared_passages) == 1
    assert m.is_copy and m.relation is Relation.REWRITTEN and m.rule == "shared_passages"
    # two stories of their own that quote the same sentence: one passage among many, not a copy
    own = [
        "Residents of the valley complained for years about the long drive to the coast. Two clinics closed "
        "last winter when their doctors retired and were never replaced. The road was washed away twice "
        "by floods, cutting off three villages for a week. A local charity now runs a weekly bus to the "
        "city for the elderly and for mothers with small children.",
        "The opposition called the announcement an election stunt and asked where the money would come "
        "from. Budget documents show no new funds for staff or equipment this year. Unions warned that "
        "nurses are already leaving for private hospitals abroad. The minister is expected to answer "
        "questions in parliament on Thursday afternoon.",
    ]
    quoted = _compare(statement + " " + own[0], re_spelled + " " + own[1])
    assert len(quoted.shared_passages) == 1 and not quoted.is_copy


def _sentences(topic: str, n: int) -> list[str]:
    """``n`` sentences about ``topic``, each with words of its own."""
    return [
        f"The {topic} report item {i} mentions {topic}{i}alpha and {topic}{i}beta near {topic}{i}gamma."
        for i in range(n)
    ]


STATEMENT = _sentences("ministry", 3)


def test_a_piece_carried_late_in_a_longer_article_is_an_aside_not_a_copy() -> None:
    """A short statement printed as the last paragraphs of a long roundup about something else is
    a side item of the roundup: the two tell different stories."""
    short = "\n".join(STATEMENT)
    roundup = "\n".join(_sentences("harbour", 16) + STATEMENT)
    for m in (_compare(short, roundup), _compare(roundup, short)):
        assert not m.is_copy and m.relation is Relation.NONE and m.rule == "aside"
        assert max(m.containment_a, m.containment_b) > 0.9  # the statement is all there
    off = dataclasses.replace(CONFIG.verify, aside_share=0.0)
    m = compare("a", _doc(short), "b", _doc(roundup), verify=off, shingle=CONFIG.shingle)
    assert m.is_copy and m.relation is Relation.PARTIAL


def test_a_copy_with_its_story_first_or_a_large_share_is_no_aside() -> None:
    short = "\n".join(STATEMENT)
    # the statement leads, the outlet's own paragraphs follow: a copy that adds text
    assert _compare("\n".join(STATEMENT + _sentences("harbour", 16)), short).relation is Relation.EXTENDED
    # a local lead on top of the statement, the statement a large share of the article
    assert _compare("\n".join(_sentences("harbour", 4) + STATEMENT), short).relation is Relation.EXTENDED
    # a trimmed copy of a long story shares its opening however short it is
    story = _sentences("harbour", 20)
    assert _compare("\n".join(story[:2]), "\n".join(story)).relation is Relation.PARTIAL


def test_an_aside_is_grouped_with_its_copies_not_with_the_roundup() -> None:
    short = "\n".join(STATEMENT)
    articles = [
        dedup.Article(id="roundup", text="\n".join(_sentences("harbour", 16) + STATEMENT)),
        dedup.Article(id="statement", text=short),
        dedup.Article(id="reprint", text=short + "\nThe ministry added nothing further."),
    ]
    groups = sorted(c.member_ids for c in dedup.cluster(articles))
    assert groups == [("reprint", "statement"), ("roundup",)]
    d = dedup.Deduplicator()
    d.add(articles[0])
    assert not d.add(articles[1]).is_copy
    assert d.add(articles[2]).copy_of == ("statement",)


def test_an_aside_is_read_at_its_bounds() -> None:
    """A fifth of the larger article beginning at exactly half of its words is an aside; so is
    it not once the shared text begins earlier, or covers more of the larger article's words
    (passage coverage counts, not only shingle containment)."""
    own = [f"Harbour note {i} recalls h{i}x beside h{i}y and h{i}z over there." for i in range(16)]
    shared = _sentences("ministry", 4)  # as long as the own sentences, and no word run in common
    small = "\n".join(shared)
    at_half = "\n".join(own[:10] + shared + own[10:])  # 20 sentences of equal length
    m = _compare(small, at_half)
    assert m.passage_coverage_b == 0.2 and m.rule == "aside"
    earlier = "\n".join(own[:9] + shared + own[9:])
    assert _compare(small, earlier).is_copy
    # the shared sentences stretched by a few words the small article lacks: containment stays at
    # a fifth or under, the words of the shared passages are more than a fifth
    longer = [s.replace("mentions", "mentions, as officials confirmed late on the day,") for s in shared]
    covered = "\n".join(own[:12] + longer + own[12:])  # beginning past half of the words
    m = _compare(small, covered)
    assert m.containment_b <= 0.2 < m.passage_coverage_b and m.is_copy


def test_an_early_version_of_the_piece_in_the_larger_article_makes_it_a_copy_in_either_order() -> None:
    """Where the shared text begins is read from every passage the larger article shares, not only
    from the partners of the smaller one's passages: its lead re-spells the statement (a word
    changed), and the statement itself comes at its end."""
    lead = [s.replace("report", "bulletin") for s in STATEMENT[:2]]
    large = "\n".join(lead + _sentences("harbour", 30) + STATEMENT)
    small = "\n".join(STATEMENT)
    ab, ba = _compare(small, large), _compare(large, small)
    assert ab.is_copy and ba.is_copy and ab.rule == ba.rule != "aside"


def test_learned_boilerplate_at_the_top_does_not_push_a_copy_into_an_aside() -> None:
    """Where the shared text begins is counted in the words compared: a site's header learned as
    boilerplate is left out of it, as it is of the shares."""
    header = [" ".join(f"blurb{j}w{i}" for i in range(100)) + "." for j in range(3)]
    wire = _sentences("wire", 5)
    d = dedup.Deduplicator()
    for k in range(6):
        d.add(dedup.Article(id=f"site{k}", text="\n".join(header + _sentences(f"own{k}x", 12)), source="site"))
    d.add(dedup.Article(id="agency", text="\n".join(wire), source="agency"))
    verdict = d.add(dedup.Article(id="copy", text="\n".join(header + wire + _sentences("more", 22)), source="site"))
    match = d.compare("agency", "copy")
    assert match.ignored_boilerplate > 0  # the header is learned
    assert verdict.is_copy and match.is_copy and match.rule == "containment"


_SLOT = st.one_of(
    st.tuples(st.just("shared"), st.integers(0, 5), st.booleans()),  # a statement sentence, maybe re-spelled
    st.tuples(st.just("own"), st.integers(0, 40), st.just(False)),
)


def _rendered(tag: str, slots: list[tuple[str, int, bool]]) -> list[str]:
    statement = _sentences("ministry", 6)
    return [
        (statement[i].replace("report", "bulletin") if respelled else statement[i])
        if kind == "shared"
        else _sentences(tag, i + 1)[i]
        for kind, i, respelled in slots
    ]


# the larger article: its own sentences first, then sentences of both kinds (the shape of an aside,
# and of a copy under a local lead, drawn often)
_LARGE = st.builds(
    lambda lead, rest: lead + rest,
    st.lists(st.tuples(st.just("own"), st.integers(0, 40), st.just(False)), max_size=24),
    st.lists(_SLOT, min_size=1, max_size=16),
)


@given(_LARGE, st.lists(_SLOT, min_size=1, max_size=8), st.sampled_from(["\n", " "]))
@example(  # a re-spelled sentence early in the larger article, the same one exact at its end
    [("own", i, False) for i in range(6)]
    + [("shared", 0, True)]
    + [("own", i, False) for i in range(6, 16)]
    + [("shared", 0, False)],
    [("shared", 0, False)],
    "\n",
)
def test_the_decision_does_not_depend_on_the_order_of_the_two_articles(
    large: list[tuple[str, int, bool]], small: list[tuple[str, int, bool]], separator: str
) -> None:
    a, b = separator.join(_rendered("harbour", large)), separator.join(_rendered("quay", small))
    ab, ba = _compare(a, b), _compare(b, a)  # the ids stay: the texts change places
    assert (ab.is_copy, ab.rule) == (ba.is_copy, ba.rule)


# -- quoted speech (rule 8) --------------------------------------------------------------------------
QUOTE = (
    "We will rebuild every school and every clinic that the floods destroyed in the valley, "
    "and no family will be left without a roof before the winter comes"
)
# a quotation of two sentences (two passages), under half of each report below
SPEECH = f"{QUOTE}. Every farmer will be paid for the harvest the water took from the fields"


def _report(framing: list[str], quote: str, marks: tuple[str, str] = ("“", "”")) -> str:
    """A short report: its own sentences, then the quotation set in ``marks``."""
    return "\n".join([*framing, f"The minister said: {marks[0]}{quote}.{marks[1]}"])


OWN_A = [
    "The minister toured the flooded valley on Tuesday with the regional governor and local engineers.",
    "Residents of three villages had asked the government for help after the river broke its banks.",
    "Roads to the north remain closed and the army has sent boats to reach the farms cut off by the water.",
    "The regional assembly will meet on Friday to vote on the money for the repairs.",
]
OWN_B = [
    "Speaking to reporters at the airport in the capital, the official promised swift action for survivors.",
    "Aid groups say more than two thousand people spent the night in schools on higher ground.",
    "The weather service expects more rain in the coming days across the whole southern province.",
    "Opposition members criticised the slow response of the emergency services during the first night.",
]


def test_two_reports_that_quote_the_same_statement_are_not_copies() -> None:
    """Two reports written apart share the quotation and nothing else: each tells the event in words
    of its own. Without the rule they would be copies."""
    a, b = _report(OWN_A, SPEECH), _report(OWN_B, SPEECH, ('"', '"'))
    for m in (_compare(a, b), _compare(b, a)):
        assert not m.is_copy and m.relation is Relation.NONE and m.rule == "quoted_speech"
    off = dataclasses.replace(CONFIG.verify, quoted_speech=False)
    assert compare("a", _doc(a), "b", _doc(b), verify=off, shingle=CONFIG.shingle).is_copy


def test_reports_that_share_a_quotation_and_a_long_name_are_not_copies() -> None:
    """Outside the quotation, reports written apart share names and titles: more than
    ``min_shared_shingles`` shingles here, yet little of each report's own text."""
    name = "President Amara Okonkwo of the Federal Republic of Westland and her deputy"
    quote = f"{QUOTE}. Every farmer will be paid for the harvest the water took from the fields this year."
    a = "\n".join(
        [
            f"{name} toured the flooded valley on Tuesday with the regional governor and local engineers.",
            "Residents of three villages had asked the government for help after the river broke its banks last week.",
            "Roads to the north remain closed and the army has sent boats to reach the farms cut off by the water.",
            f"The minister said: “{quote}”",
        ]
    )
    b = "\n".join(
        [
            f"Speaking to reporters at the airport in the capital, {name} promised swift action for survivors.",
            "Aid groups say more than two thousand people spent the night in schools and mosques on higher ground.",
            "The weather service expects more rain in the coming days across the whole southern province.",
            f"“{quote},” she said.",
        ]
    )
    for m in (_compare(a, b), _compare(b, a)):
        assert not m.is_copy and m.rule == "quoted_speech"
    absolute_only = dataclasses.replace(CONFIG.verify, quoted_outside_share=0.0)
    assert compare("a", _doc(a), "b", _doc(b), verify=absolute_only, shingle=CONFIG.shingle).is_copy


def test_a_statement_printed_whole_under_two_leads_is_a_copy_of_it() -> None:
    """The quotation is most of both articles: each outlet printed the statement with a lead of its
    own, which is a copy of the statement, not a report of it."""
    speech = f"{SPEECH}. The army will stay in the south until the last road is open again"
    a, b = _report(OWN_A[:1], speech), _report(OWN_B[:1], speech, ("«", "»"))
    for m in (_compare(a, b), _compare(b, a)):
        assert m.is_copy and m.rule == "containment"
    most = dataclasses.replace(CONFIG.verify, quoted_max_share=1.0)
    assert compare("a", _doc(a), "b", _doc(b), verify=most, shingle=CONFIG.shingle).rule == "quoted_speech"


def test_a_copy_shares_the_words_around_the_quotation_and_stays_a_copy() -> None:
    """An outlet that republishes the report, a lead of its own on top, shares its framing too."""
    wire = _report(OWN_A, QUOTE)
    copy = "\n".join([*OWN_B, wire.replace("“", "«").replace("”", "»")])
    for m in (_compare(wire, copy), _compare(copy, wire)):
        assert m.is_copy and m.rule == "containment"


def test_a_statement_given_whole_in_quotation_marks_is_a_copy() -> None:
    """The shorter article is the quotation and next to nothing else: nothing of its own to tell
    the story in, so what the two share is its whole text."""
    statement = f"“{QUOTE}.”"
    assert _compare(statement, _report(OWN_A, QUOTE)).is_copy


def test_a_text_quoted_by_one_and_printed_as_is_by_the_other_is_a_copy() -> None:
    """Only words quoted in both articles are set aside: the agency prints the statement, the
    outlet puts it in quotation marks under a lead of its own."""
    resident = "A resident told the agency: “we have lost everything we had in the flood last night.”"
    agency = "\n".join([*OWN_A[:2], f"{QUOTE}.", resident])
    outlet = _report(OWN_B[:1], QUOTE, ("«", "»"))
    m = _compare(outlet, agency)
    assert m.is_copy and m.rule != "quoted_speech"


def test_quoted_speech_is_read_between_two_marks_on_a_line_and_needs_five_words() -> None:
    from dedup.stages.shingle import quoted_words, tokens

    def quoted(text: str) -> list[str]:
        words = [t for t in tokens(text, CONFIG.normalize, CONFIG.shingle) if t != "\ue000"]
        return [w for w, q in zip(words, quoted_words(text, CONFIG.normalize), strict=True) if q]

    # a name or a term in quotation marks is not speech
    assert quoted("The council adopted the «Vision 2030» plan for the old harbour district today.") == []
    # either mark of a pair opens, the next one closes
    assert quoted("She said ”this is how it always ends for us“ and left the hall in silence.") == (
        "this is how it always ends for us".split()
    )
    # a quotation left open at the end of its line is not read, nor one a line break cuts
    assert quoted("He said „we are not leaving this town at all\nThe next line ends it” with enough words.") == []
    # a mark inside a word (the Hebrew gershayim) or after a number (an inch) opens nothing
    assert quoted('Up to 6" of rain fell on the towns overnight and the roads to the coast are "closed today".') == []
    assert quoted('דובר צה"ל אמר היום כי הכוחות פעלו באזור ושגריר ארה"ב הגיב על כך') == []
    # single quotation marks as British papers print them: ’ within a word is an apostrophe, and
    # so is a ‘ before a digit
    text = "The mayor said: ‘We don’t want the town’s new bridge built here’ and the leaders’ council agreed."
    assert quoted(text) == "we don t want the town s new bridge built here".split()
    assert quoted("Songs popular in the ‘80s came back this year on the radio’ stations of the town.") == []
    # Chinese and Japanese put their marks against the characters around them
    text = "外交部发言人说“中方坚决反对任何形式的单边制裁。”他还表示，当地政府已经拨款，并称这项工作“非常重要”。"
    assert quoted(text) == list("中方坚决反对任何形式的单边制裁")
    text = "首相は「復興を最優先で進める。」と述べ、被災地の知事と会談した後に「全力を尽くす」と語った。"
    assert quoted(text) == [*"復興を最優先て進める", *"全力を尽くす"]  # (the fold takes the voicing mark off で)
    # a feed that ran two paragraphs together: the mark after the sentence end still closes
    text = 'He said "we will rebuild every school in the valley."The mayor called it "a good plan" today.'
    assert quoted(text) == "we will rebuild every school in the valley".split()
    # a double quotation inside a single one does not end it, nor the reverse
    assert quoted("He wrote ‘they told us “leave now” and we left at once’ in his diary that day.") == (
        "they told us leave now and we left at once".split()
    )


@given(
    st.lists(st.tuples(st.sampled_from(["own", "shared"]), st.integers(0, 9), st.booleans()), min_size=1, max_size=10),
    st.lists(st.tuples(st.sampled_from(["own", "shared"]), st.integers(0, 9), st.booleans()), min_size=1, max_size=10),
)
def test_the_quoted_speech_rule_does_not_depend_on_the_order_of_the_two_articles(large, small) -> None:
    """Sentences shared or of their own, each quoted or not: the same decision either way round."""

    def rendered(tag: str, slots: list[tuple[str, int, bool]]) -> str:
        lines = []
        for kind, i, in_quotes in slots:
            sentence = _sentences("ministry" if kind == "shared" else tag, 10)[i]
            lines.append(f"An official said: “{sentence}”" if in_quotes else sentence)
        return "\n".join(lines)

    a, b = rendered("harbour", large), rendered("quay", small)
    ab, ba = _compare(a, b), _compare(b, a)  # the ids stay: the texts change places
    assert (ab.is_copy, ab.rule) == (ba.is_copy, ba.rule)


def test_of_two_articles_with_as_many_shingles_the_decision_does_not_depend_on_their_ids() -> None:
    """Either may be taken for the smaller; which one is read off their words, not their ids."""
    quote = "We will rebuild every school and every clinic that the floods destroyed in the valley this year"
    a = f"The minister toured the flooded valley on Tuesday with local engineers and the governor.\nShe said: “{quote}.”"
    b = f"She said: “{quote}.”\nShe added: “The army will stay in the south until the road is open.”"
    assert len(_doc(a).shingles) == len(_doc(b).shingles)
    ab, ba = _compare(a, b), _compare(b, a)
    assert (ab.is_copy, ab.rule) == (ba.is_copy, ba.rule)


def test_quoted_sentences_learned_as_boilerplate_leave_the_rest_of_the_quotation_quoted() -> None:
    """A statement quoted by many outlets may have sentences learned as boilerplate; the words
    either side of such a sentence are still quoted speech, not text the two share outside it."""
    sentences = [
        "We will rebuild every school and every clinic in the valley.",
        "The army will stay until the last road is open again.",
        "No family will be left without a roof before the winter comes.",
        "Every farmer will be paid for the harvest the water took.",
        "We owe this to the people of the south and we will deliver.",
    ]
    quote = " ".join(sentences)
    a = _doc("\n".join([*OWN_A, f"In a statement the ministry said: “{quote}”"]))
    b = _doc("\n".join([*OWN_B, f"In a statement the ministry said: “{quote}”"]))
    learned = frozenset({int(a.sentence_fps[5]), int(a.sentence_fps[7])})  # two of the quoted sentences
    assert set(learned) <= set(b.sentence_fps.tolist())
    # the shared framing ("in a statement the ministry said") is 6 shingles: read against the bound
    # of 8 alone, 4 more made across a dropped sentence would tip it
    absolute = dataclasses.replace(CONFIG.verify, quoted_outside_share=0.0)
    m = compare("a", a, "b", b, verify=absolute, shingle=CONFIG.shingle, boilerplate=learned)
    assert m.ignored_boilerplate == 2 and not m.is_copy and m.rule == "quoted_speech"
