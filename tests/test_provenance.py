import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dedup
from conftest import load_english
from dedup.config import ProvenanceConfig
from dedup.stages.provenance import Candidate, choose_earliest, find_credits, find_text_date

CONFIG = ProvenanceConfig()


def test_dates_in_both_arabic_month_series_and_english() -> None:
    cases = {
        "حول العالم 29 يناير 2017 0\nنص": date(2017, 1, 29),
        "دمشق - 30 كانون الأول/ديسمبر 2019\nنص": date(2019, 12, 30),
        "بيروت في 3 تموز 2019\nنص": date(2019, 7, 3),
        "WASHINGTON, Jan. 29, 2017 (Reuters) - The president said on Sunday that the talks had gone well.": date(
            2017, 1, 29
        ),
        "Published 2024-03-03T10:00:00Z\nText": date(2024, 3, 3),
        "الجزائر ٥ جانفي ٢٠٢٠\nنص": date(2020, 1, 5),
    }
    for text, expected in cases.items():
        found = find_text_date(text, None, CONFIG)
        assert found is not None and found.day == expected, text
        assert found.where == "dateline"


def test_dates_far_down_or_in_captions_do_not_count() -> None:
    caption = (
        "الرئيسان الأميركي دونالد ترامب والروسي فلاديمير بوتين في هامبورج وهما يتحدثان إلى الصحفيين يوم 7 يوليو 2019."
    )
    assert find_text_date("عنوان الخبر\n" + caption + "\nنص", None, CONFIG) is None
    assert find_text_date("x " * 500 + "\n29 يناير 2017", None, CONFIG) is None
    titled = find_text_date("text", "Story of March 3, 2024", CONFIG)
    assert titled is not None and titled.where == "title"


def test_credits() -> None:
    assert find_credits("(رويترز) – قال الكرملين", CONFIG) == ("Reuters",)
    assert find_credits("موسكو-واشنطن-سانا\nنص", CONFIG) == ("SANA",)
    assert find_credits("the map app will open", CONFIG) == ()
    extended = ProvenanceConfig(extra_agencies=(("Kyodo", ("Kyodo",)),))
    assert find_credits("TOKYO (Kyodo) - ...", extended) == ("Kyodo",)


def test_seed_cluster_names_000_from_its_printed_date_and_containment(seeds) -> None:
    clusters = [c for c in dedup.cluster(seeds) if len(c) > 1]
    assert len(clusters) == 1
    c = clusters[0]
    assert c.earliest == "000_ab6823a46153965b"
    assert c.evidence.rule == "date_in_text"
    assert c.evidence.values["date"] == "2017-01-29"
    support = c.evidence.values["containment"]["002_2c2c9388f5a9e12b"]
    assert support["earliest_in_other"] > support["other_in_earliest"]
    member = next(m for m in c.members if m.id == "002_2c2c9388f5a9e12b")
    assert member.relation is dedup.Relation.REWRITTEN


def _cand(i: str, seq: int, published=None, text_day=None, credits=()):
    from dedup.stages.provenance import TextDate

    td = TextDate(day=text_day, where="dateline", text=str(text_day), offset=0) if text_day else None
    return Candidate(id=i, seq=seq, published=published, naive=False, text_date=td, credits=credits)


def _no_containment(x: str, y: str) -> float:
    return 0.0


def test_caller_time_beats_a_later_printed_date_and_undated_never_wins_by_order() -> None:
    t = datetime(2020, 5, 1, 8, tzinfo=UTC)
    pool = [
        _cand("undated", 0),
        _cand("printed", 1, text_day=date(2020, 5, 2)),
        _cand("caller", 2, published=t),
    ]
    earliest, evidence = choose_earliest(pool, _no_containment, CONFIG)
    assert earliest == "caller" and evidence.rule == "published_at"


def test_a_printed_date_of_the_same_day_does_not_let_a_later_publication_time_win() -> None:
    """The printed date ties with both times of its day; the two times are still ordered."""
    day = date(2020, 5, 1)
    pool = [
        _cand("later", 0, published=datetime(2020, 5, 1, 11, tzinfo=UTC)),
        _cand("printed", 1, text_day=day),
        _cand("first", 2, published=datetime(2020, 5, 1, 9, tzinfo=UTC)),
    ]

    def containment(x: str, y: str) -> float:  # the later one is inside the others: a trimmed copy
        return {"later": 1.0, "printed": 0.95, "first": 0.5}[x]

    earliest, evidence = choose_earliest(pool, containment, CONFIG)
    assert earliest != "later"
    assert evidence.values["tied_on_time"]["ids"] == ["printed", "first"]


def test_a_printed_date_of_the_same_day_keeps_the_order_of_times_in_the_batch_and_the_stream(seeds) -> None:
    full = seeds[0].text  # its dateline prints the day
    half = "\n".join(full.split("\n")[: len(full.split("\n")) // 2])
    articles = [
        dedup.Article(id="full", text=full, published_at="2017-01-29T09:00:00+00:00"),
        dedup.Article(id="half", text=half, published_at="2017-01-29T11:00:00+00:00"),
        dedup.Article(id="undated", text=full),
    ]
    [story] = [c for c in dedup.cluster(articles) if len(c) > 1]
    assert story.earliest != "half" and len(story) == 3
    d = dedup.Deduplicator()
    for article in articles:
        d.add(article)
    assert d.cluster_of("full").earliest == story.earliest


def test_containment_decides_when_no_time_separates() -> None:
    pool = [_cand("copy", 0), _cand("source", 1)]

    def containment(x: str, y: str) -> float:
        return {"source": 0.9, "copy": 0.4}[x]

    earliest, evidence = choose_earliest(pool, containment, CONFIG)
    assert earliest == "source" and evidence.rule == "containment"


def test_credit_then_tie_break() -> None:
    earliest, evidence = choose_earliest([_cand("b", 0), _cand("a", 1, credits=("Reuters",))], _no_containment, CONFIG)
    assert (earliest, evidence.rule) == ("a", "credit")
    earliest, evidence = choose_earliest([_cand("b", 0), _cand("a", 1)], _no_containment, CONFIG)
    assert (earliest, evidence.rule) == ("b", "tie_break")


def test_naive_times_are_read_as_utc_and_said_so(seeds) -> None:
    a, b = seeds[0], seeds[2]
    clusters = dedup.cluster(
        [
            dedup.Article(id=a.id, text=a.text, published_at=datetime(2017, 1, 29, 10)),
            dedup.Article(id=b.id, text=b.text, published_at=datetime(2017, 1, 29, 9)),
        ]
    )
    assert clusters[0].earliest == b.id
    assert "UTC" in clusters[0].evidence.values["note"]


@given(
    st.lists(st.one_of(st.none(), st.integers(0, 10_000)), min_size=4, max_size=4),
    st.permutations(range(4)),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_earliest_is_the_smallest_known_time(offsets, order) -> None:
    copies = [
        a for a in load_english() if a.id in {"en-wire", "en-copy-furniture", "en-copy-trimmed", "en-copy-rewritten"}
    ]
    # Caller times fall in the week before the date the wire copies print (March 3, 2024), so the
    # smallest known time is always a caller's when there is one.
    base = datetime(2024, 2, 20, tzinfo=UTC)
    articles = [
        dedup.Article(id=a.id, text=a.text, published_at=None if off is None else base + timedelta(minutes=off))
        for a, off in zip(copies, offsets, strict=True)
    ]
    clusters = dedup.cluster([articles[i] for i in order])
    (group,) = [c for c in clusters if len(c) > 1]
    assert len(group) == 4
    timed = {a.id: a.published_at for a in articles if a.published_at is not None}
    if timed:
        smallest = min(timed.values())
        assert timed.get(group.earliest) == smallest


def test_a_callers_date_beats_the_date_printed_in_the_same_text(seeds) -> None:
    a, b = seeds[0], seeds[2]  # a prints 29 January 2017
    clusters = dedup.cluster(
        [
            dedup.Article(id=a.id, text=a.text, published_at=datetime(2017, 2, 5, tzinfo=UTC)),
            dedup.Article(id=b.id, text=b.text, published_at=datetime(2017, 2, 1, tzinfo=UTC)),
        ]
    )
    assert clusters[0].earliest == b.id and clusters[0].evidence.rule == "published_at"


def test_streaming_verdict_says_when_the_earliest_changes(seeds) -> None:
    d = dedup.Deduplicator()
    first = d.add(seeds[2])  # 002: no date
    assert first.cluster.earliest == seeds[2].id and not first.earliest_changed
    second = d.add(seeds[0])  # 000: prints its date, so it is older than the current earliest
    assert second.is_copy
    assert second.earliest_changed and second.previous_earliest == seeds[2].id
    assert second.cluster.earliest == seeds[0].id


def test_cli_table_shows_the_evidence(capsys) -> None:
    from pathlib import Path

    from dedup.fronts.cli import main

    assert main(["cluster", str(Path(__file__).parent.parent / "seeds"), "--format", "table", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "earliest 000_ab6823a46153965b: earliest date printed in the dateline\n" in out
    assert re.search(r"rewritten +002_\w+  no time  score 0\.\d\d, in earliest 0\.\d\d, earliest in it 0\.\d\d", out)


_SPELLINGS = [s for _, names in ProvenanceConfig().agencies for s in names]


@given(
    st.lists(
        st.one_of(
            st.sampled_from(_SPELLINGS).flatmap(
                lambda s: st.sampled_from([s, s.upper(), s.lower(), s.title(), s.swapcase()])
            ),
            st.sampled_from(["news", "said", "(", ")", "-", "كان", "في", "x", "APPLE", "ap", "صنعاء"]),
            st.text(max_size=6),
        ),
        max_size=40,
    ).map(" ".join)
)
def test_credits_prefilter_loses_nothing(text: str) -> None:
    """The substring test before the pattern only skips texts the pattern finds nothing in."""
    from dedup.stages.provenance import _credit_pattern

    config = ProvenanceConfig()
    window = config.head_chars
    zones = text[:window] + "\n" + text[-window:] if len(text) > 2 * window else text
    pattern, names = _credit_pattern((*config.agencies, *config.extra_agencies))
    expected = tuple(sorted({names[int(m.lastgroup[1:])] for m in pattern.finditer(zones) if m.lastgroup}))
    assert find_credits(text, config) == expected


@given(
    st.lists(
        st.one_of(
            st.integers(0, 99999).map(str),
            st.sampled_from(
                ["-", " ", ", ", "من", "عام", "يناير", "كانون الثاني", "(يناير)", "/", "March", "mar.", "x"]
            ),
            st.sampled_from(["٢٠٢٤", "١٢", "2024-01-05", "12024-1-5", "5 May 2019", "May 5, 2019"]),
        ),
        max_size=30,
    ).map("".join)
)
def test_date_patterns_match_what_their_plain_forms_match(text: str) -> None:
    """The date patterns test the character before their first digit after it; the spans they
    find are those of the plain lookbehind-first forms."""
    from dedup.stages.provenance import _DATE_PATTERNS, _MONTH_PAIR

    plain = (
        re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"),
        re.compile(rf"(?<!\d)(\d{{1,2}})\s+(?:من\s+)?({_MONTH_PAIR})\.?,?\s+(?:عام\s+|سنة\s+)?(\d{{4}})(?!\d)", re.I),
    )
    for fast, reference in zip(_DATE_PATTERNS, plain, strict=False):
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in reference.finditer(text)]


_NAMED_DAYS = st.tuples(
    st.integers(0, 33),
    st.sampled_from(["jan", "January", "FEB", "mar", "March", "Apr", "may", "Jun", "july", "Aug", "sept", "Sep"])
    | st.sampled_from(["october", "Nov", "December", "يناير", "إبريل", "ابريل", "يونيه", "اغسطس", "أكتوبر", "ديسمبر"]),
    st.sampled_from([1899, 1900, 2000, 2023, 2024, 2200, 2201]),
    # a month pair ("كانون الثاني (يناير)") is cut down to one name with the spaces after it
    st.sampled_from(["{d} {m} {y}", "{d} {m}., {y}", "{d}  {m}\t{y}", "{d} {m}{y}", "{m} {d}, {y}", "{m}. {d} {y}"])
    | st.just("{m}{d},  {y}"),
).map(lambda t: t[3].format(d=t[0], m=t[1], y=t[2]))
_NUMERIC_DAYS = st.tuples(st.integers(1899, 2201), st.integers(0, 14), st.integers(0, 33)).map(
    lambda t: f"{t[0]}-{t[1]:02d}-{t[2]}"
)


@given(_NAMED_DAYS | _NUMERIC_DAYS)
@settings(max_examples=150, deadline=None)
def test_the_quick_date_reading_reads_what_dateparser_reads(span: str) -> None:
    """Spans in the common forms are read without dateparser; where the quick reading reads a date,
    it is the date dateparser reads (invalid days, such as 2024-13-05, which dateparser reads as
    May 13, are left to dateparser)."""
    from dedup.stages.provenance import _dateparser_span, _read_span

    quick = _read_span(span)
    if quick is not None:
        assert quick == _dateparser_span(span)


def test_every_month_name_is_read_as_dateparser_reads_it() -> None:
    from dedup.stages.provenance import _MONTH_NUMBERS, _dateparser_span, _read_span

    for name, number in _MONTH_NUMBERS.items():
        span = f"{number + 16} {name} 2024"
        assert _read_span(span) == _dateparser_span(span) == date(2024, number, number + 16), span


def test_common_datelines_need_no_dateparser() -> None:
    """dateparser compiles hundreds of patterns on its first call: the first batch of a process
    does not wait for it when the dates are in the common forms."""
    script = (
        "import sys\n"
        "from dedup.config import ProvenanceConfig\n"
        "from dedup.stages.provenance import find_text_date\n"
        "for text in ('حول العالم 29 يناير 2017\\nنص', 'دمشق - 30 كانون الأول/ديسمبر 2019\\nنص',\n"
        "             'WASHINGTON, Jan. 29, 2017 (Reuters) - talks', 'Published 2024-03-03T10:00:00Z\\nText'):\n"
        "    assert find_text_date(text, None, ProvenanceConfig()) is not None, text\n"
        "print('dateparser' in sys.modules)\n"
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "False"


@given(
    st.lists(
        st.tuples(
            st.sampled_from([None, 0, 1]), st.sampled_from([(), ("Reuters",), ("AFP",)]), st.sampled_from([0.3, 0.9])
        ),
        min_size=2,
        max_size=4,
    )
)
@settings(max_examples=60, deadline=None)
def test_credits_read_only_when_no_earlier_rule_decides_give_the_same_cluster(members) -> None:
    """The batch reads the credits only when time and containment leave a tie (``credits_of``):
    the cluster is the one built with every member's credits at hand."""
    from dataclasses import replace

    from dedup.records import Match, Relation
    from dedup.stages.provenance import build_cluster

    base = datetime(2020, 5, 1, tzinfo=UTC)
    ids = [f"m{i}" for i in range(len(members))]
    cands = {
        m: _cand(m, i, published=None if hours is None else base + timedelta(hours=hours), credits=credits)
        for i, (m, (hours, credits, _)) in enumerate(zip(ids, members, strict=True))
    }
    inside = {m: share for m, (_, _, share) in zip(ids, members, strict=True)}

    def pair(x: str, y: str) -> Match:
        a, b = min(x, y), max(x, y)
        return Match(a, b, True, Relation.REWRITTEN, "passages", 0.8, 0.5, inside[a], inside[b], 0.5, 0.5)

    eager = build_cluster(ids, "verified copies", lambda m, _: cands[m], pair, CONFIG)
    lazy = build_cluster(
        ids, "verified copies", lambda m, _: replace(cands[m], credits=()), pair, CONFIG, lambda m: cands[m].credits
    )
    assert lazy == eager


def test_a_stream_member_whose_text_gives_no_date_or_credit_keeps_one_record() -> None:
    """A member's provenance record read in its text is the plain one (the same object, not a
    second copy held for each member) when the text gives neither a date nor a credit, and its
    own record when it does; the clusters name their earliest source either way."""
    body = " ".join(f"word{i} of the statement" for i in range(40)) + "."
    other = " ".join(f"item{i} in the report" for i in range(40)) + "."
    dated = f"WASHINGTON, Jan. 29, 2017 (Reuters) - {other}"
    d = dedup.Deduplicator()
    for article_id, text in (("plain-a", body), ("plain-b", body), ("dated-a", dated), ("dated-b", dated)):
        d.add(dedup.Article(id=article_id, text=text))
    assert {m.id for m in d.cluster_of("plain-a").members} == {"plain-a", "plain-b"}
    assert {m.id for m in d.cluster_of("dated-a").members} == {"dated-a", "dated-b"}
    entries = d._replica.entries
    for article_id in ("plain-a", "plain-b"):
        assert entries[article_id].candidate is entries[article_id].plain
    for article_id in ("dated-a", "dated-b"):
        held = entries[article_id].candidate
        assert held is not None and held.text_date is not None and held is not entries[article_id].plain


_DAY = date(2024, 3, 3)
# a member's time: none, a printed date (the day, or the day after), or a publication time (the
# day before, at midnight, in the morning, the day after)
_TIMES = [
    None,
    ("text", _DAY),
    ("text", _DAY + timedelta(days=1)),
    ("published", datetime(2024, 3, 2, 9, tzinfo=UTC)),
    ("published", datetime(2024, 3, 3, tzinfo=UTC)),
    ("published", datetime(2024, 3, 3, 9, tzinfo=UTC)),
    ("published", datetime(2024, 3, 4, tzinfo=UTC)),
]


def _timed_cand(i: str, seq: int, time: tuple | None, credits: tuple[str, ...]) -> Candidate:
    if time is None:
        return _cand(i, seq, credits=credits)
    if time[0] == "text":
        return _cand(i, seq, text_day=time[1], credits=credits)
    return _cand(i, seq, published=time[1], credits=credits)


@st.composite
def _a_story_and_a_copy(draw: st.DrawFn) -> tuple[list[tuple[int, bool]], tuple[int, bool], int | None]:
    """Members (17 and more: the containment contest is cut) and a new copy, each as its time (an
    index into ``_TIMES``) and whether it credits an agency; the members' times a few (ties
    likely), the new copy's one of them or any; the members' credits none, all or some; and the
    seed of the containment figures (None: none decides, the credits or the tie break do)."""
    palette = draw(st.lists(st.integers(0, len(_TIMES) - 1), min_size=1, max_size=3, unique=True))
    crediting = draw(st.sampled_from([st.just(False), st.just(True), st.booleans()]))
    pool = draw(st.lists(st.tuples(st.sampled_from(palette), crediting), min_size=17, max_size=26))
    new = draw(st.tuples(st.one_of(st.sampled_from(palette), st.integers(0, len(_TIMES) - 1)), st.booleans()))
    return pool, new, draw(st.one_of(st.none(), st.integers(0, 2**16)))


@given(_a_story_and_a_copy())
# a printed date before every publication time of its day; one crediting before the member chosen
# for its credit; the first to credit in a pool no member of which did; a publication time before,
# and one after, those of a pool tied on a printed date
@example(([(5, False)] * 17, (1, False), 1))
@example(([(1, False)] * 16 + [(5, True)], (1, True), None))
@example(([(1, False)] * 17, (1, True), None))
@example(([(5, False)] * 17, (1, False), None))
@example(([(1, False)] * 16 + [(5, False)], (4, False), None))
@example(([(1, False)] * 16 + [(4, False)], (5, False), 1))
@settings(max_examples=300, deadline=None)
def test_a_copy_joining_a_story_undecided_by_time_leaves_the_choice_as_choosing_again_would(
    case: tuple[list[tuple[int, bool]], tuple[int, bool], int | None],
) -> None:
    """The stream's record of a large story whose time did not decide (ties, or no times) takes a
    new copy without choosing among every member again when it cannot change the choice: what it
    carries over is what choosing again gives."""
    from random import Random

    from dedup.stages.provenance import _joined

    pool, (new_time, new_credits), seed = case

    def containment(x: str, y: str) -> float:
        return 0.0 if seed is None else Random(f"{seed} {x} {y}").choice([0.0, 0.3, 0.8, 0.95, 1.0])

    def made(i: str, seq: int, time: int, credits: bool) -> Candidate:
        return _timed_cand(i, seq, _TIMES[time], ("SPA",) if credits else ())

    config = ProvenanceConfig()
    members = [made(f"m{n:02d}", n, time, credits) for n, (time, credits) in enumerate(pool)]
    new = made("a-new", len(members), new_time, new_credits)
    by_id = {c.id: c for c in [*members, new]}
    earliest, evidence = choose_earliest(members, containment, config)
    carried = _joined(evidence, earliest, new, by_id.__getitem__)
    if carried is not None:
        assert choose_earliest([*members, new], containment, config) == (earliest, carried)
