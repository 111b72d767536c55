"""The ``dedup`` logger: skips, an index opened, copies found; silent unless logging is configured."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dedup
from dedup import _log
from dedup.runners.stream import state

ROOT = Path(__file__).resolve().parent.parent
TEXT = (
    "The harbour authority closed the northern pier on Tuesday after divers found cracks in two of its "
    "supporting columns. Engineers expect the repairs to take at least six weeks, and ferries will use "
    "the southern terminal until then. Local fishermen said the closure comes at the worst possible time."
)


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("dedup") and r.levelno == level]


def test_a_skipped_record_is_logged_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dedup")
    skipped: list[dedup.Skip] = []
    dedup.cluster(
        [dedup.Article(id="a", text=TEXT), dedup.Article(id="blank", text="   ")], errors="skip", skipped=skipped
    )
    assert [s.id for s in skipped] == ["blank"]
    (message,) = _messages(caplog, logging.WARNING)
    assert message.startswith("skipped article 'blank': EmptyTextError: ")


def test_a_skipped_line_of_a_file_is_logged_with_its_number(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dedup")
    path = tmp_path / "articles.jsonl"
    path.write_text(json.dumps({"id": "a", "text": TEXT}) + "\nnot json\n", encoding="utf-8")
    dedup.cluster(str(path), errors="skip", skipped=[])
    (message,) = _messages(caplog, logging.WARNING)
    assert message.startswith("skipped line 2 ")


def test_a_skip_in_a_stream_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dedup")
    d = dedup.Deduplicator()
    d.add_many([dedup.Article(id="blank", text="")], errors="skip")
    assert _messages(caplog, logging.WARNING)[0].startswith("skipped article 'blank': EmptyTextError")


def test_reopening_an_index_logs_its_path_size_and_time(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "h.sqlite"
    with dedup.Deduplicator.open(path) as d:
        d.add(dedup.Article(id="a", text=TEXT))
        d.add(dedup.Article(id="b", text=TEXT + " More."))
    caplog.set_level(logging.INFO, logger="dedup")
    with dedup.Deduplicator.open(path) as d:
        assert len(d) == 2
    state.path_of(path).unlink()  # the state saved as it closed: the next opening reads the index
    with dedup.Deduplicator.open(path) as d:
        assert len(d) == 2
    opened = [m for m in _messages(caplog, logging.INFO) if m.startswith("opened")]
    assert len(opened) == 2
    assert opened[0].startswith(f"opened the index {path}: 2 articles in ")
    assert opened[0].endswith(" s (from the state saved beside it)")
    assert opened[1].endswith(" s (read from the index)")
    (saved, _) = [m for m in _messages(caplog, logging.INFO) if m.startswith("saved")]
    assert saved.startswith(f"saved the state of 2 articles in memory beside {path}: ")


def test_a_copy_and_a_new_earliest_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dedup")
    d = dedup.Deduplicator()
    d.add(dedup.Article(id="late", text=TEXT, published_at="2024-03-06T10:00:00Z"))
    d.add(dedup.Article(id="early", text=TEXT, published_at="2024-03-05T10:00:00Z"))
    messages = _messages(caplog, logging.DEBUG)
    assert any(
        m.startswith("early is a copy of late: cluster ") and m.endswith("of 2, earliest early") for m in messages
    )
    assert any(m.endswith("changed from late to early") for m in messages)


def test_a_url_is_logged_without_its_password() -> None:
    assert _log.where("redis://:s3cret@127.0.0.1:6379/0") == "redis://***@127.0.0.1:6379/0"
    assert _log.where("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert _log.where("/var/lib/h.sqlite") == "/var/lib/h.sqlite"


_QUIET = """\
import dedup
skipped = []
dedup.cluster([dedup.Article(id="blank", text="")], errors="skip", skipped=skipped)
with dedup.Deduplicator.open("h.sqlite") as d:
    d.add(dedup.Article(id="a", text="some words of a story to index"))
with dedup.Deduplicator.open("h.sqlite") as d:
    pass
print(len(skipped), "skipped")
"""


def test_nothing_is_printed_by_default(tmp_path: Path) -> None:
    """Without logging configured, Python prints warnings of a logger with no handler to stderr;
    the package's NullHandler keeps dedup silent."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-c", _QUIET], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "1 skipped\n"
    assert run.stderr == ""
