"""The readers: a bad line or file is a Skip with its number or name, never an exception."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
from dedup.fronts.io import article_from_dict, parse_line, read_articles, read_folder, read_jsonl


def _read(data: bytes) -> tuple[list[dedup.Article], list[dedup.Skip]]:
    skips: list[dedup.Skip] = []
    return list(read_jsonl(io.BytesIO(data), skips.append)), skips


# -- the fuzz: whatever the lines hold, each is an Article or a Skip with its number -----------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(codec=None, categories=None)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
FIELD_VALUES = JSON_VALUES | st.sampled_from(
    ["0001-01-01T00:00+05:00", "9999-12-31T23:59-05:00", "2017-01-29T10:00", "x" * 5000, "\x00", " "]
)
ARTICLE_LIKE = st.fixed_dictionaries(
    {"id": FIELD_VALUES, "text": FIELD_VALUES},
    optional={"published_at": FIELD_VALUES, "source": FIELD_VALUES, "url": FIELD_VALUES, "title": FIELD_VALUES},
)


def _json_line(value: object) -> bytes:
    # surrogates go out as \\udXXX escapes, as a crawler's JSON encoder writes them
    return json.dumps(value).encode("ascii")


HOSTILE_LINES = st.one_of(
    st.binary(max_size=40),
    JSON_VALUES.map(_json_line),
    ARTICLE_LIKE.map(_json_line),
    st.integers(1_000, 50_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(4_301, 6_000).map(lambda digits: b'{"id": ' + b"7" * digits + b', "text": "t"}'),
    st.sampled_from([b"\xef\xbb\xbf", b"\xef\xbb\xbf{", b"{\xef\xbb\xbf}", b"\x00", b"\r", b"  \t "]),
).map(lambda line: line.replace(b"\n", b""))


@st.composite
def jsonl_files(draw: st.DrawFn) -> tuple[bytes, dict[int, str]]:
    """JSON Lines mixing good articles with hostile lines; the good ones by line number."""
    lines: list[bytes] = []
    good: dict[int, str] = {}
    for i in range(draw(st.integers(0, 12))):
        if draw(st.booleans()):
            art_id = f"good-{i}"
            record = {"id": art_id, "text": draw(st.text(min_size=1, max_size=30).filter(str.strip))}
            line = json.dumps(record, ensure_ascii=draw(st.booleans())).encode("utf-8")
            if i == 0 and draw(st.booleans()):
                line = b"\xef\xbb\xbf" + line  # a byte order mark: written by editors, accepted
            good[i + 1] = art_id
        else:
            line = draw(HOSTILE_LINES)
        lines.append(line)
    end = draw(st.sampled_from([b"\n", b"\r\n"]))
    return end.join(lines) + (end if lines and draw(st.booleans()) else b""), good


@settings(max_examples=300)
@given(jsonl_files())
def test_every_line_is_an_article_or_a_skip_with_its_number(case: tuple[bytes, dict[int, str]]) -> None:
    data, good = case
    articles, skips = _read(data)  # never raises
    numbered = [n for n, raw in enumerate(io.BytesIO(data), 1) if raw.strip()]
    skipped = [s.line for s in skips]
    assert len(set(skipped)) == len(skipped) and set(skipped) <= set(numbered)
    assert len(articles) + len(skips) == len(numbered)
    assert not set(good) & set(skipped)
    assert [a.id for a in articles if a.id.startswith("good-")] == [good[n] for n in sorted(good)]
    for skip in skips:
        assert skip.message and skip.error in {"InputError", "InvalidRecordError", "TextTypeError"}
    # the engine and ``dedup stream`` read lines with these two and catch DedupError only
    for number, raw in enumerate(io.BytesIO(data), 1):
        if raw.strip():
            with contextlib.suppress(dedup.InputError):
                article_from_dict(parse_line(raw, number), where=f"line {number}")


# -- the cases the fuzz covers, one by one, with the message a user reads ------------------------
@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"[" * 200_000 + b"]" * 200_000, "line 7: JSON nested too deeply to read"),
        (b'{"id": ' + b"1" * 5_000 + b', "text": "t"}', "line 7: a number in it cannot be read (Exceeds the limit"),
        (b'{"id": "a\\ud800", "text": "t"}', "id holds a lone surrogate"),
        (b'{"id": "a", "text": "t", "published_at": "0001-01-01T00:00+05:00"}', "cannot be converted to UTC"),
        (b"\xff{}", "line 7: not valid UTF-8"),
        (b"{", "line 7: invalid JSON"),
        (
            b'{"id": "a", "text": "t"',
            "line 7: invalid JSON (Expecting ',' delimiter at the end of the line: is it cut short?)",
        ),
        (b'{"id": "a", "text": "t', "line 7: invalid JSON (Unterminated string starting at column 21)"),
        (b'{"id": "a", "text": "t\tu"}', "line 7: invalid JSON (Invalid control character at column 23)"),
        (b'{"id": "a" "text": "t"}', "line 7: invalid JSON (Expecting ',' delimiter at column 12)"),
    ],
)
def test_a_bad_line_is_skipped_with_its_number(line: bytes, message: str) -> None:
    articles, skips = _read(b'{"id": "a", "text": "t"}\n' * 6 + line + b'\n{"id": "b", "text": "u"}\n')
    assert [a.id for a in articles] == ["a"] * 6 + ["b"]
    assert [s.line for s in skips] == [7] and message in skips[0].message


def test_a_byte_order_mark_starts_a_line_without_harm() -> None:
    assert parse_line(b'\xef\xbb\xbf{"id": 1}\n', 1) == {"id": 1}
    articles, skips = _read(b'\xef\xbb\xbf{"id": "a", "text": "t"}\n\xef\xbb\xbf{"id": "b", "text": "u"}\n')
    assert ([a.id for a in articles], skips) == (["a", "b"], [])


def test_an_unexpected_failure_in_one_record_is_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    real = dedup.fronts.io.article_from_dict

    def flaky(record: object, *, where: str = "record") -> dedup.Article:
        if isinstance(record, dict) and record.get("id") == "boom":
            raise RuntimeError("something no one foresaw")
        return real(record, where=where)

    monkeypatch.setattr(dedup.fronts.io, "article_from_dict", flaky)
    articles, skips = _read(b'{"id": "boom", "text": "t"}\n{"id": "b", "text": "u"}\n')
    assert [a.id for a in articles] == ["b"]
    assert [(s.line, s.id, s.error) for s in skips] == [(1, "boom", "InvalidRecordError")]
    assert "RuntimeError: something no one foresaw" in skips[0].message


def test_the_folder_reader_skips_what_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("some words")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "nowhere")
    (tmp_path / "folder.txt").mkdir()
    skips: list[dedup.Skip] = []
    assert [a.id for a in read_folder(tmp_path, skips.append)] == ["good"]
    assert sorted(s.id for s in skips if s.id) == ["dangling", "folder"]


def test_a_path_that_cannot_be_read_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(dedup.InputError, match="no such file or folder"):
        list(read_articles(str(tmp_path / "missing.jsonl"), print))
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(dedup.InputError, match="cannot be read"):
        list(read_articles(str(tmp_path / "loop"), print))


def test_a_files_skipped_lines_are_listed_in_their_order(tmp_path: Path) -> None:
    """``skipped`` lists a file's unusable lines in their order, whatever made each unusable."""
    path = tmp_path / "in.jsonl"
    lines = [{"id": "a", "text": "  "}, None, {"id": "b", "text": "Words enough to make an article of their own."}]
    path.write_text("".join("{oops\n" if r is None else json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    skipped: list[dedup.Skip] = []
    dedup.cluster(str(path), errors="skip", skipped=skipped)
    assert [(s.line, s.error) for s in skipped] == [(1, "EmptyTextError"), (2, "InvalidRecordError")]
