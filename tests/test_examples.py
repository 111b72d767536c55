"""The examples run as their docstrings show them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pages import page

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
STORY = (
    "The harbour authority closed the northern pier on Tuesday after divers found cracks in two of its "
    "supporting columns.\nEngineers expect the repairs to take at least six weeks, and ferries will use "
    "the southern terminal until then.\nLocal fishermen said the closure comes at the worst possible time."
)


def _run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_crawl_sqlite_reads_a_relative_folder_of_pages(tmp_path: Path) -> None:
    pytest.importorskip("trafilatura", reason="the html extra is part of the dev extra: pip install -e '.[dev]'")
    folder = tmp_path / "html"
    folder.mkdir()
    (folder / "a.html").write_text(page("Pier closed", STORY, date="2024-03-05"), encoding="utf-8")
    (folder / "b.html").write_text(page("Pier closed", STORY, date="2024-03-06", site="Bay Post"), encoding="utf-8")
    first = _run_example("crawl_sqlite.py", "html", "h.sqlite", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "a: new story" in first.stdout
    assert "b: copy of a; earliest a" in first.stdout
    again = _run_example("crawl_sqlite.py", "html", "h.sqlite", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "2 articles already indexed in h.sqlite" in again.stdout
    assert "a: seen before" in again.stdout
