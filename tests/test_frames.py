"""Data frames in and out: dedup.cluster on a DataFrame, an Arrow Table, a Dataset or dicts, and
dedup.to_pandas / dedup.to_arrow on the clusters."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
from dedup.records import Evidence, Member, Relation

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "benchmarks" / "data" / "labelled_example.jsonl"
FIELDS = ("id", "text", "published_at", "source", "url", "title")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    """The labelled example: copies in English and Arabic, with times and sources, and a title and
    url made up for each."""
    out = []
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        r["title"], r["url"] = f"title of {r['id']}", f"https://example.org/{r['id']}"
        out.append({k: r[k] for k in FIELDS if k in r})
    return out


@pytest.fixture(scope="module")
def expected(records) -> list[dict]:
    """The clusters of the same records given as Articles."""
    return [c.to_dict() for c in dedup.cluster([dedup.Article(**r) for r in records])]


def as_dicts(clusters: list[dedup.Cluster]) -> list[dict]:
    return [c.to_dict() for c in clusters]


def test_the_example_has_copies_with_times_and_sources(expected) -> None:
    """The fixture exercises what the conversion must carry: clusters of copies, times, sources."""
    sizes = sorted(c["size"] for c in expected)
    assert sizes[-1] >= 3
    members = [m for c in expected for m in c["members"]]
    assert any(m["time"] for m in members) and all(m.get("source") for m in members)


def test_a_dataframe_clusters_as_the_articles_do(records, expected) -> None:
    df = pd.DataFrame(records)
    assert as_dicts(dedup.cluster(df)) == expected


def test_an_arrow_table_clusters_as_the_articles_do(records, expected) -> None:
    table = pa.Table.from_pylist(records)
    assert as_dicts(dedup.cluster(table)) == expected


def test_an_iterable_of_dicts_clusters_as_the_articles_do(records, expected) -> None:
    assert as_dicts(dedup.cluster(iter(records))) == expected
    assert as_dicts(dedup.cluster(records, workers=2)) == expected


def test_a_huggingface_dataset_clusters_as_the_articles_do(records, expected) -> None:
    datasets = pytest.importorskip("datasets")
    columns = {k: [r.get(k) for r in records] for k in FIELDS}
    ds = datasets.Dataset.from_dict(columns).with_format("numpy")  # rows read as plain values all the same
    assert as_dicts(dedup.cluster(ds)) == expected
    renamed = ds.rename_columns({"id": "doc", "text": "body"})
    assert as_dicts(dedup.cluster(renamed, id_col="doc", text_col="body")) == expected


def test_renamed_columns_are_read(records, expected) -> None:
    names = {
        "id": "doc_id",
        "text": "body",
        "published_at": "date",
        "source": "outlet",
        "url": "link",
        "title": "headline",
    }
    df = pd.DataFrame(records).rename(columns=names)
    df["published_at"] = "not a time: must not be read, since date is the time column"
    clusters = dedup.cluster(
        df,
        id_col="doc_id",
        text_col="body",
        published_col="date",
        source_col="outlet",
        url_col="link",
        title_col="headline",
    )
    assert as_dicts(clusters) == expected
    member = next(m for c in clusters for m in c.members if m.id == "en-wire")
    assert (member.source, member.url, member.title) == ("wire", "https://example.org/en-wire", "title of en-wire")
    assert member.time == "2024-03-03T09:05:00+00:00"


def test_pandas_values_become_plain_article_fields(records, expected) -> None:
    """Timestamps, numpy integers, NaN and None in optional columns are what a user's frame holds."""
    df = pd.DataFrame(records)
    df["published_at"] = pd.to_datetime(df["published_at"], utc=True)  # NaT where a record has no time
    df["url"] = df["url"].where(df["id"] != "en-wire", None)
    assert as_dicts(dedup.cluster(df))[0]["members"][0]["time"] == expected[0]["members"][0]["time"]
    numbered = pd.DataFrame({"id": [10, 11], "text": [records[0]["text"], records[0]["text"]]})
    assert numbered["id"].dtype == "int64"
    assert [c.member_ids for c in dedup.cluster(numbered)] == [("10", "11")]


def test_a_missing_column_names_the_columns_there_are(records) -> None:
    df = pd.DataFrame(records).rename(columns={"text": "body"})
    with pytest.raises(dedup.InputError) as info:
        dedup.cluster(df)
    message = str(info.value)
    assert "'text' (text_col)" in message and "'body'" in message and "'id'" in message
    with pytest.raises(dedup.InputError, match=r"'outlet' \(source_col\)"):
        dedup.cluster(pa.Table.from_pylist(records), source_col="outlet")
    with pytest.raises(dedup.InputError, match="text_col must be a column name"):
        dedup.cluster(df, text_col=3)  # type: ignore[arg-type]


def test_a_column_named_twice_is_a_clear_error(records) -> None:
    df = pd.DataFrame(records)
    twice = pd.concat([df, df[["text", "source"]]], axis=1)
    with pytest.raises(dedup.InputError, match=r"more than one column named 'source', 'text'; rename or drop"):
        dedup.cluster(twice)
    table = pa.Table.from_pylist(records)
    table = pa.Table.from_arrays([*table.columns, table.column("text")], names=[*table.column_names, "text"])
    with pytest.raises(dedup.InputError, match=r"more than one column named 'text'; rename or drop"):
        dedup.cluster(table)


def test_integer_ids_with_a_gap_and_a_date_column_are_read_as_written() -> None:
    """pandas makes an integer column with a missing value float (ids 1.0, 3.0): they are read as
    the integers they were; a date column (Arrow date32) gives each article its day's midnight, as
    an ISO date string does."""
    import datetime as dt

    text = "The council voted on the tram line budget after a long debate on Tuesday evening."
    frame = pd.DataFrame({"id": [1, None, 3], "text": [text, text, text + " More."]})
    assert frame["id"].dtype == "float64"
    skipped: list[dedup.Skip] = []
    clusters = dedup.cluster(frame, errors="skip", skipped=skipped)
    assert sorted(m for c in clusters for m in c.member_ids) == ["1", "3"]
    assert [(s.row, s.error) for s in skipped] == [(1, "InvalidRecordError")]
    days = pa.array([dt.date(2024, 3, 3), dt.date(2024, 3, 4)], pa.date32())
    table = pa.table({"id": ["x", "y"], "text": [text, text + " More."], "published_at": days})
    as_text = [
        dedup.Article(id="x", text=text, published_at="2024-03-03"),
        dedup.Article(id="y", text=text + " More.", published_at="2024-03-04"),
    ]
    assert [c.to_dict() for c in dedup.cluster(table)] == [c.to_dict() for c in dedup.cluster(as_text)]


def test_bad_rows_are_skipped_with_their_row_number(records) -> None:
    good = records[0]["text"]
    rows = [
        {"id": "ok-1", "text": good},
        {"id": "no-text", "text": float("nan")},  # pandas' missing value
        {"id": "bad-time", "text": good + " more", "published_at": "last tuesday"},
        {"id": "blank", "text": "   "},  # an Article, but with no text left: the engine's skip
        {"id": "ok-1", "text": "another text under the same id, which is an error of the input"},
        {"id": "ok-2", "text": good},
        {"text": "no id at all"},
    ]
    for data in (pd.DataFrame(rows), rows):
        skipped: list[dedup.Skip] = []
        clusters = dedup.cluster(data, errors="skip", skipped=skipped)
        assert [c.member_ids for c in clusters] == [("ok-1", "ok-2")]
        found = {s.row: s for s in skipped}
        assert [s.row for s in skipped] == [1, 2, 3, 4, 6]  # in the order of the rows
        assert found[1].error == "InvalidRecordError" and "'text'" in found[1].message
        assert found[2].error == "InputError" and "ISO 8601" in found[2].message
        assert found[3].error == "EmptyTextError" and found[3].id == "blank"
        assert found[4].error == "DuplicateIdError" and found[4].id == "ok-1"
        assert all(s.message.startswith(f"row {s.row}: ") for s in skipped)
        assert found[6].to_dict()["row"] == 6


def test_a_bad_row_raises_by_default(records) -> None:
    with pytest.raises(dedup.InputError, match=r"row 1: .*ISO 8601"):
        dedup.cluster([{"id": "a", "text": "x y z"}, {"id": "b", "text": "x y z", "published_at": "soon"}])
    with pytest.raises(dedup.InputError, match="row 1: expected a dict"):
        dedup.cluster([{"id": "a", "text": "x y z"}, "a stray string"])


def test_articles_are_still_taken_as_they_are(records, expected) -> None:
    with pytest.raises(dedup.InputError, match="expected an Article, got str"):
        dedup.cluster(["a stray string"])
    assert dedup.cluster([]) == []


def test_no_frame_library_is_imported_for_articles_or_dicts() -> None:
    code = (
        "import sys, dedup\n"
        "dedup.cluster([dedup.Article(id='a', text='one two three four')])\n"
        "dedup.cluster([{'id': 'a', 'text': 'one two three four'}])\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'datasets') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- out --------------------------------------------------------------------------------------

COLUMNS = [
    "cluster",
    "size",
    "earliest",
    "id",
    "relation",
    "matched",
    "score",
    "containment_in_earliest",
    "earliest_in_member",
    "time",
    "source",
    "url",
    "title",
]


def members_from_rows(rows: list[dict]) -> dict[str, list[Member]]:
    """Members rebuilt from to_pandas's rows, by cluster id."""

    def figure(value: float) -> float | None:
        return None if value is None or math.isnan(value) else float(value)

    out: dict[str, list[Member]] = {}
    for r in rows:
        time = None if r["time"] is pd.NaT or r["time"] is None else r["time"].to_pydatetime().isoformat()
        member = Member(
            id=r["id"],
            relation=Relation(r["relation"]),
            matched=r["matched"],
            score=r["score"],
            containment_in_earliest=figure(r["containment_in_earliest"]),
            earliest_in_member=figure(r["earliest_in_member"]),
            time=time,
            source=r["source"],
            url=r["url"],
            title=r["title"],
        )
        out.setdefault(r["cluster"], []).append(member)
    return out


def test_to_pandas_gives_a_row_per_member(records) -> None:
    clusters = dedup.cluster(pd.DataFrame(records))
    df = dedup.to_pandas(clusters)
    assert list(df.columns) == COLUMNS
    assert len(df) == len(records) and set(df["id"]) == {r["id"] for r in records}
    assert str(df["time"].dtype) == "datetime64[us, UTC]" and str(df["score"].dtype) == "float64"
    for c in clusters:
        part = df[df["cluster"] == c.id]
        assert set(part["size"]) == {len(c)} and set(part["earliest"]) == {c.earliest}
    rebuilt = members_from_rows(df.to_dict("records"))
    assert rebuilt == {c.id: list(c.members) for c in clusters}


def test_to_arrow_holds_what_to_pandas_holds(records) -> None:
    clusters = dedup.cluster(records)
    table = dedup.to_arrow(clusters)
    assert table.column_names == COLUMNS
    assert str(table.schema.field("time").type) == "timestamp[us, tz=UTC]"
    assert table.to_pandas().equals(dedup.to_pandas(clusters))


_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
_share = st.floats(0, 1, allow_nan=False)
_time = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
_member = st.builds(
    Member,
    id=_text,
    relation=st.sampled_from(list(Relation)),
    matched=st.none() | _text,
    score=_share,
    containment_in_earliest=st.none() | _share,
    earliest_in_member=st.none() | _share,
    time=st.none() | _time.map(datetime.isoformat),
    source=st.none() | _text,
    url=st.none() | _text,
    title=st.none() | _text,
)
_cluster = st.builds(
    lambda cid, members: dedup.Cluster(cid, tuple(members), members[0].id, Evidence("single", ""), "why"),
    cid=_text,
    members=st.lists(_member, min_size=1, max_size=4),
)


@settings(max_examples=60)
@given(st.lists(_cluster, max_size=4, unique_by=lambda c: c.id))
def test_to_pandas_round_trips_every_member_field(clusters) -> None:
    """Any member (times from year 1 to 9999, missing figures, any text) comes back from its row."""
    df = dedup.to_pandas(clusters)
    assert len(df) == sum(len(c) for c in clusters)
    assert members_from_rows(df.to_dict("records")) == {c.id: list(c.members) for c in clusters}
    assert dedup.to_arrow(clusters).num_rows == len(df)


@pytest.mark.parametrize(
    ("function", "module", "extra"), [("to_pandas", "pandas", "pandas"), ("to_arrow", "pyarrow", "arrow")]
)
def test_a_missing_extra_names_the_install_command(monkeypatch, function, module, extra) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as when it is not installed
    with pytest.raises(dedup.MissingExtraError, match=rf"pip install 'news-dedup\[{extra}\]'"):
        getattr(dedup, function)([])
