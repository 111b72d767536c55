"""The README and the docs site keep the promises that rot: commands users copy, links, length.

The site itself is built with ``mkdocs build --strict`` in ``.ci/run``; these tests check what that
build does not: the README (which is not part of the site), the commands the README shows, and the
error tree written out in the operations page.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import dedup
from dedup.fronts.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"

SETUP_COMMANDS = (
    "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/dedup cluster seeds --format table",
    "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/python -m pytest",
)
MAX_README_WORDS = 2500

# A run's date (an ISO date not followed by a time of day, as example records carry), a time of day
# in UTC, a commit hash (7 to 40 hex digits with at least one digit and one letter, not part of a
# longer name such as a seed file's), and the word "session".
DIARY = {
    "a date": re.compile(r"\b(?:19|20)\d\d-\d\d-\d\d\b(?!T)"),
    "a UTC time": re.compile(r"\b\d{1,2}:\d\d(?::\d\d)?\s*UTC\b"),
    "a commit hash": re.compile(r"(?<![\w-])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}(?![\w-])"),
    "the word 'session'": re.compile(r"\bsessions?\b", re.IGNORECASE),
}

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _readme() -> str:
    return README.read_text(encoding="utf-8")


def _code_blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def _doc_pages() -> list[Path]:
    return sorted(DOCS.glob("**/*.md"))


@pytest.mark.parametrize("command", SETUP_COMMANDS)
def test_readme_shows_each_setup_command_verbatim(command: str) -> None:
    assert any(command in block.splitlines() for block in _code_blocks(_readme(), "sh")), command


def test_ci_runs_the_readme_test_command_and_builds_the_docs_strictly() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert SETUP_COMMANDS[1] in ci.splitlines()
    assert re.search(r"^\.venv/bin/mkdocs build --strict --site-dir \S+$", ci, re.MULTILINE)


@pytest.mark.parametrize("what", sorted(DIARY))
def test_readme_has_no_diary(what: str) -> None:
    found = DIARY[what].findall(_readme())
    assert not found, f"the README holds {what}: {found}; history goes in CHANGELOG.md, figures in docs/"


@pytest.mark.parametrize("page", _doc_pages(), ids=lambda p: p.name)
def test_docs_have_no_run_dates_or_hashes(page: Path) -> None:
    """The docs describe the code as it is: figures, but no dates of runs nor commits ("session" is
    a Spark term there)."""
    text = page.read_text(encoding="utf-8")
    found = [hit for what in ("a date", "a UTC time", "a commit hash") for hit in DIARY[what].findall(text)]
    assert not found, f"{page.name} holds {found}; history goes in CHANGELOG.md"


def test_readme_stays_short() -> None:
    words = len(_readme().split())
    assert words < MAX_README_WORDS, f"the README has {words} words; move details to docs/"


@pytest.mark.parametrize("page", [README, *_doc_pages()], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        path = target.split("#", 1)[0]
        if not path or re.match(r"^[a-z][a-z0-9+.-]*:", path):
            continue  # an anchor in the same page, or a URL
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.name} links to missing files: {broken}"


def _cli_lines() -> list[str]:
    """The arguments of every ``dedup cluster`` / ``dedup stream`` call in the README's shell blocks."""
    calls = []
    for block in _code_blocks(_readme(), "sh"):
        for line in block.splitlines():
            line = line.split(" #", 1)[0]
            for part in line.split("|"):
                match = re.search(r"(?:^|[\s/])dedup ((?:cluster|stream)\b[^>]*)", part)
                if match:
                    calls.append(match.group(1).strip())
    return calls


def test_readme_shows_cli_calls() -> None:
    assert {call.split()[0] for call in _cli_lines()} == {"cluster", "stream"}


def _exact_parser() -> argparse.ArgumentParser:
    """The CLI's parser, refusing abbreviated options: the README spells every option in full."""
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.allow_abbrev = False
    return parser


@pytest.mark.parametrize("call", _cli_lines())
def test_readme_cli_calls_parse(call: str) -> None:
    args = shlex.split(call)
    if "--help" in args:
        with pytest.raises(SystemExit) as exited:
            _exact_parser().parse_args(args)
        assert exited.value.code == 0
    else:
        _exact_parser().parse_args(args)  # an unknown option or a wrong value exits with status 2


def test_readme_python_examples_run(tmp_path: Path) -> None:
    """The README's Python blocks, in order, as one script (in a child process: it runs the kernels)."""
    (tmp_path / "seeds").symlink_to(ROOT / "seeds")
    seed = sorted((ROOT / "seeds").glob("*.txt"))[1]
    prelude = (
        f"url = 'https://example.com/story'\ntext = open({str(seed)!r}, encoding='utf-8').read()\n"
        "fetched_at = '2017-01-30T08:00:00+00:00'\n"
    )
    script = prelude + "\n".join(_code_blocks(_readme(), "python"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "earliest:" in done.stdout


def test_operations_page_shows_the_error_tree_of_errors_py() -> None:
    doc = (ROOT / "src" / "dedup" / "errors.py").read_text(encoding="utf-8")
    tree = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    expected = "\n".join(line[4:] for line in tree.splitlines())
    page = (DOCS / "operations.md").read_text(encoding="utf-8")
    assert f"```\n{expected}\n```" in page, "copy the tree at the top of src/dedup/errors.py into docs/operations.md"


def test_the_design_page_scores_the_seeds_as_the_verifier_does(seeds) -> None:
    """The table of the seeds' pairs in the design page is what the verifier says of them now."""
    rows = re.findall(r"^\| (\d{3})–(\d{3}) \| (.*) \|$", (DOCS / "design.md").read_text(encoding="utf-8"), re.M)
    assert len(rows) == 10
    d = dedup.Deduplicator()
    for article in seeds:
        d.add(article)
    ids = {a.id[:3]: a.id for a in seeds}
    for x, y, shown in rows:
        m = d.compare(ids[x], ids[y])
        decision = f"{m.relation.value} ({m.rule.replace('_', ' ')})" if m.is_copy else "not a copy"
        figures = f"{m.jaccard:.3f} | {m.containment_a:.3f} | {m.containment_b:.3f} | {len(m.shared_passages)}"
        assert shown == f"{figures} | {m.passage_coverage_a:.2f} / {m.passage_coverage_b:.2f} | {decision}", (x, y)


def test_changelog_page_includes_the_changelog() -> None:
    page = (DOCS / "changelog.md").read_text(encoding="utf-8")
    assert '--8<-- "CHANGELOG.md"' in page
