from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dedup
from dedup.records import MAX_ID_CHARS


def test_public_names_are_exported_and_sorted() -> None:
    assert dedup.__all__ == sorted(dedup.__all__)
    for name in dedup.__all__:
        assert hasattr(dedup, name), name
    public = {n for n in dir(dedup) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(dedup.__all__)


def test_every_part_of_the_settings_is_exported() -> None:
    """Each part of ``DedupConfig`` can be built from ``dedup`` itself, as the docs show."""
    import dataclasses

    config = dedup.DedupConfig()
    parts = {
        type(part) for f in dataclasses.fields(config) if dataclasses.is_dataclass(part := getattr(config, f.name))
    }
    assert parts and all(getattr(dedup, part.__name__, None) is part for part in parts), parts


def test_error_tree() -> None:
    assert issubclass(dedup.ConfigError, ValueError) and issubclass(dedup.ConfigError, dedup.DedupError)
    assert issubclass(dedup.TextTypeError, TypeError) and issubclass(dedup.TextTypeError, dedup.InputError)
    assert issubclass(dedup.UnknownArticleError, KeyError)
    assert issubclass(dedup.MissingExtraError, ImportError)


def test_records_are_frozen() -> None:
    article = dedup.Article(id="a", text="t")
    try:
        article.text = "u"  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("Article must be frozen")
    assert not hasattr(article, "__dict__")  # slots


def test_a_match_without_passages_keeps_every_other_field() -> None:
    from dataclasses import fields, replace

    values = {f.name: f"v{i}" for i, f in enumerate(fields(dedup.Match))}  # each field its own value
    values["shared_passages"] = (dedup.SharedPassage(0, 1, 0.9, "x"),)
    match = dedup.Match(**values)
    assert match.without_passages() == replace(match, shared_passages=())


def test_passages_listed_at_once_equal_those_built_one_by_one() -> None:
    texts = ["zero", "one", "two"]
    many = dedup.SharedPassage.many([2, 0], [1, 1], [0.5, 1.0], texts.__getitem__)
    assert many == [dedup.SharedPassage(2, 1, 0.5, "two"), dedup.SharedPassage(0, 1, 1.0, "zero")]
    assert [p.to_dict() for p in many] == [
        p.to_dict() for p in (dedup.SharedPassage(2, 1, 0.5, "two"), dedup.SharedPassage(0, 1, 1.0, "zero"))
    ]


# -- Article validation at the boundary ---------------------------------------------------------
@pytest.mark.parametrize("field", ["id", "text", "source", "url", "title"])
def test_a_lone_surrogate_is_rejected_naming_the_field(field: str) -> None:
    values = {"id": "a", "text": "some text", field: "before \udc80 after"}
    with pytest.raises(dedup.InputError, match=rf"{field} holds a lone surrogate \(U\+DC80 at character 7\); decode"):
        dedup.Article(**values)


def test_text_bytes_holding_an_encoded_surrogate_are_not_utf8() -> None:
    with pytest.raises(dedup.TextTypeError, match="not valid UTF-8"):
        dedup.Article(id="a", text=b"a \xed\xa0\x80 b")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "published",
    ["0001-01-01T00:00+05:00", "9999-12-31T23:59-05:00", datetime(1, 1, 1, 3, tzinfo=timezone(timedelta(hours=4)))],
)
def test_a_time_outside_the_years_1_to_9999_in_utc_is_rejected(published) -> None:
    with pytest.raises(dedup.InputError, match="cannot be converted to UTC"):
        dedup.Article(id="a", text="t", published_at=published)


@pytest.mark.parametrize(
    ("published", "utc"),
    [
        ("0001-01-01T00:00", datetime(1, 1, 1, tzinfo=UTC)),  # naive: read as UTC
        ("9999-12-31T23:59:59.999999", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("0001-01-01T00:00-05:00", datetime(1, 1, 1, 5, tzinfo=UTC)),
        ("9999-12-31T23:59+05:00", datetime(9999, 12, 31, 18, 59, tzinfo=UTC)),
    ],
)
def test_times_at_the_edges_that_fit_in_utc_are_kept(published: str, utc: datetime) -> None:
    assert dedup.Article(id="a", text="t", published_at=published).published_utc == utc


def test_ids_longer_than_the_limit_are_rejected_with_the_fix() -> None:
    assert dedup.Article(id="x" * MAX_ID_CHARS, text="t").id == "x" * MAX_ID_CHARS
    with pytest.raises(dedup.InputError, match="longer than 4,096 characters; use a short key") as info:
        dedup.Article(id="x" * (MAX_ID_CHARS + 1), text="t")
    assert len(str(info.value)) < 300  # the message quotes the start of the id, not all of it
    assert f"({MAX_ID_CHARS + 1:,} characters)" in str(info.value)  # the id's length, not its quoted form's


def test_nul_and_control_characters_are_kept() -> None:
    article = dedup.Article(id="a\x00b", text="one\x00two\x07", title="t\x00")
    assert (article.id, article.text, article.title) == ("a\x00b", "one\x00two\x07", "t\x00")


ANY_CHARACTER = st.characters(codec=None, categories=None)  # surrogates included


@given(
    art_id=st.text(ANY_CHARACTER, max_size=8),
    text=st.text(ANY_CHARACTER, max_size=20),
    title=st.none() | st.text(ANY_CHARACTER, max_size=8),
    published=st.none() | st.datetimes(timezones=st.none() | st.timezones()) | st.text(max_size=30),
)
def test_an_article_either_is_rejected_clearly_or_can_be_written(art_id, text, title, published) -> None:
    try:
        article = dedup.Article(id=art_id, text=text, title=title, published_at=published)
    except dedup.InputError:
        return
    for value in (article.id, article.text, article.title or ""):
        value.encode("utf-8")  # storable and printable as JSON
    if article.published_at is not None:
        assert article.published_utc is not None and article.published_utc.utcoffset() == timedelta(0)


def test_a_passage_shows_its_offsets_in_json_only_once_they_are_filled() -> None:
    from dataclasses import replace

    passage = dedup.SharedPassage(1, 2, 0.5, "", (3, 9), (4, 10))
    assert not passage.has_spans and set(passage.to_dict()) == {"a_sentence", "b_sentence", "overlap", "text"}
    filled = replace(passage, a_start=5, a_end=8, b_start=0, b_end=3, a_text="abc", b_text="abd")
    assert filled.has_spans
    assert filled.to_dict() | {} == {
        "a_sentence": 1, "b_sentence": 2, "overlap": 0.5, "text": "",
        "a_start": 5, "a_end": 8, "b_start": 0, "b_end": 3, "a_text": "abc", "b_text": "abd",
    }  # fmt: skip
    # the stored record is unchanged: the offsets are computed again when asked for
    match = dedup.Match("a", "b", True, dedup.Relation.PARTIAL, "r", 1, 1, 1, 1, 1, 1, (filled,))
    assert dedup.Match.from_record(match.to_record()).shared_passages == (dedup.SharedPassage(1, 2, 0.5, ""),)


def test_an_article_without_its_text_is_the_article_built_with_an_empty_text() -> None:
    article = dedup.Article(
        id="a1", text="Body.", published_at="2017-01-29T10:00:00", source="S", url="https://s/1", title="T"
    )
    slim = article.without_text()
    assert slim == dedup.Article(
        id="a1", text="", published_at=article.published_at, source="S", url="https://s/1", title="T"
    )
    assert slim.published_utc == article.published_utc
    assert article.text == "Body."
