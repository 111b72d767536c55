"""Shared passages of cluster members with their earliest: dedup.cluster(..., spans=True),
dedup cluster --spans, and the offsets in dedup stream --spans verdicts."""

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
from dedup.config import DedupConfig
from dedup.fronts import cli
from dedup.records import Cluster, Evidence, Member, Relation
from dedup.stages.explain import clusters_with_spans

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
CONFIG = DedupConfig()


def _write_jsonl(path: Path, articles: list[dedup.Article]) -> Path:
    path.write_text("".join(json.dumps({"id": a.id, "text": a.text}, ensure_ascii=False) + "\n" for a in articles))
    return path


def _check_spans(clusters: list[Cluster], texts: dict[str, str]) -> int:
    """Every shared span's words are the texts at its offsets on both sides; the number of spans."""
    found = 0
    for c in clusters:
        for m in c.members:
            if len(c) == 1 or m.id == c.earliest:
                assert m.shared is None, (c.id, m.id)
                continue
            assert m.shared is not None
            for s in m.shared:
                assert s.text == texts[m.id][s.start : s.end] and s.text
                assert s.earliest_text == texts[c.earliest][s.earliest_start : s.earliest_end] and s.earliest_text
                found += 1
    return found


def test_cluster_with_spans_gives_member_002_its_passages_in_both_texts(seeds) -> None:
    texts = {a.id: a.text for a in seeds}
    plain = dedup.cluster(seeds)
    with_spans = dedup.cluster(seeds, spans=True)
    (pair,) = [c for c in with_spans if len(c) > 1]
    (member,) = [m for m in pair.members if m.id.startswith("002_")]
    assert pair.earliest.startswith("000_")
    assert member.shared is not None and len(member.shared) >= 6
    assert _check_spans(with_spans, texts) == len(member.shared)
    assert "وأضاف أن بوتين وترامب اتفقا على العمل على تحديد أول لقاء بينهما" in [s.text for s in member.shared]
    starts = [s.start for s in member.shared]
    assert starts == sorted(starts)
    # without spans the output is as before: no "shared" anywhere
    assert all("shared" not in m for c in plain for m in c.to_dict()["members"])
    stripped = [c.to_dict() for c in with_spans]
    for c in stripped:
        for m in c["members"]:
            m.pop("shared", None)
    assert stripped == [c.to_dict() for c in plain]


def test_cluster_of_a_jsonl_file_reads_the_texts_again_for_the_same_spans(tmp_path: Path, seeds) -> None:
    path = _write_jsonl(tmp_path / "in.jsonl", seeds)
    assert dedup.cluster(str(path), spans=True) == dedup.cluster(seeds, spans=True)


def test_spans_use_the_text_the_engine_kept_for_an_id_given_unusable_first(tmp_path: Path, seeds) -> None:
    # 002 given first with no words (skipped by the engine), then with its text
    member = next(a for a in seeds if a.id.startswith("002_"))
    given = [dedup.Article(id=member.id, text="x" * 10), *seeds]
    expected = dedup.cluster(seeds, spans=True)
    path = tmp_path / "in.jsonl"
    _write_jsonl(path, given)
    for source in (given, str(path)):
        skipped: list[dedup.Skip] = []
        assert dedup.cluster(source, spans=True, errors="skip", skipped=skipped) == expected
        assert [s.error for s in skipped] == ["EmptyTextError"]


def test_cluster_command_with_spans_writes_them_in_the_json(tmp_path: Path, capsys, seeds) -> None:
    texts = {a.id: a.text for a in seeds}
    for path in (str(SEEDS), str(_write_jsonl(tmp_path / "in.jsonl", seeds))):
        assert cli.main(["cluster", path, "--spans", "--no-progress"]) == 0
        clusters = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        (pair,) = [c for c in clusters if c["size"] > 1]
        (member,) = [m for m in pair["members"] if m["id"] != pair["earliest"]]
        assert len(member["shared"]) >= 6
        for s in member["shared"]:
            assert s["text"] == texts[member["id"]][s["start"] : s["end"]]
            assert s["earliest_text"] == texts[pair["earliest"]][s["earliest_start"] : s["earliest_end"]]
        assert all("shared" not in m for c in clusters if c["size"] == 1 for m in c["members"])
    assert cli.main(["cluster", str(SEEDS), "--no-progress"]) == 0
    assert '"shared"' not in capsys.readouterr().out


def test_cluster_command_refuses_spans_in_a_table(capsys) -> None:
    assert cli.main(["cluster", str(SEEDS), "--spans", "--format", "table"]) == 2
    assert "drop --format table or --spans" in capsys.readouterr().err


def test_stream_with_spans_gives_the_matches_offsets(tmp_path: Path, capsys, seeds) -> None:
    texts = {a.id: a.text for a in seeds}
    path = _write_jsonl(tmp_path / "in.jsonl", seeds)
    for flags, filled in (([], False), (["--spans"], True)):
        assert cli.main(["stream", str(path), *flags]) == 0
        verdicts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        (copy,) = [v for v in verdicts if v["is_copy"]]
        passages = [(m, p) for m in copy["matches"] for p in m["shared_passages"]]
        assert passages
        for m, p in passages:
            if not filled:
                assert p.get("a_start") is None
                continue
            assert p["a_text"] == texts[m["a"]][p["a_start"] : p["a_end"]] and p["a_text"]
            assert p["b_text"] == texts[m["b"]][p["b_start"] : p["b_end"]] and p["b_text"]


# Arabic words with tashkeel and tatweel, some with the conjunction و; English words with case
_WORDS = ["كِتَابٌ", "الـكـتـاب", "وَقَالَ", "والولايات", "المتحدة", "روسيا", "بوتين", "الكرملين", "إعادة", "سماء"]
_WORDS += ["Hello", "WORLD", "don't", "U.S.", "Kremlin", "café", "ﬁne", "Putin's", "state-run", "talks"]
_SEPS = [" ", " ", " ", " ", ", ", ". ", "، ", " – ", "\n", "\u200b", " «", "» ", "ـ"]
_sentence = st.lists(st.sampled_from(_WORDS), min_size=6, max_size=14).map(" ".join)
_text = st.lists(st.tuples(_sentence, st.sampled_from(_SEPS)), min_size=1, max_size=8).map(
    lambda parts: "".join(s + sep for s, sep in parts)
)


def _pair_cluster() -> Cluster:
    members = (Member("b", Relation.REWRITTEN, matched="e"), Member("e", Relation.EARLIEST))
    return Cluster("c", members, "e", Evidence("rule", "detail"), "why")


@settings(max_examples=40, deadline=None)
@given(_text, _text, _text)
def test_every_span_is_the_member_text_at_its_offsets(shared: str, before: str, after: str) -> None:
    # the member carries the earliest's text between words of its own, diacritics changed
    texts = {"e": before + shared, "b": shared.replace("َ", "").replace("ـ", "") + "\n" + after}
    (out,) = clusters_with_spans([_pair_cluster()], texts, CONFIG)
    _check_spans([out], texts)
