"""The distribution: its name in every install command, its extras, and the version in one place."""

from __future__ import annotations

import re
import tomllib
import warnings
from pathlib import Path

import pytest

import dedup

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# "pip install 'news-dedup[html]'", "pip install news-dedup", "pip install -e '.[dev]'"
_INSTALL = re.compile(r"pip install (?:-e )?['\"]?(?P<name>[\w.-]+?)(?:\[(?P<extras>[\w,-]+)\])?['\"]?(?=[\s)`]|$)")


def _install_commands() -> list[tuple[str, str, list[str]]]:
    """(file, distribution, extras) of each ``pip install`` in the library and the examples."""
    found = []
    for path in sorted([*(ROOT / "src").rglob("*.py"), *(ROOT / "examples").rglob("*.py")]):
        for match in _INSTALL.finditer(path.read_text(encoding="utf-8")):
            extras = match["extras"].split(",") if match["extras"] else []
            found.append((str(path.relative_to(ROOT)), match["name"], extras))
    return found


def test_the_distribution_is_news_dedup() -> None:
    assert PYPROJECT["project"]["name"] == "news-dedup"  # "dedup" on the package index is another project
    assert PYPROJECT["project"]["scripts"]["dedup"] == "dedup.fronts.cli:main"


def test_every_install_command_names_news_dedup_and_an_existing_extra() -> None:
    commands = _install_commands()
    named = {file for file, _, _ in commands}
    # the messages of MissingExtraError for each extra, and the Scrapy pipeline's
    assert {"src/dedup/fronts/html.py", "src/dedup/stores/redis.py", "src/dedup/runners/spark.py"} <= named
    assert "src/dedup/fronts/scrapy.py" in named
    extras = PYPROJECT["project"]["optional-dependencies"]
    for file, name, wanted in commands:
        assert name == "news-dedup", f"{file}: pip install {name}"
        assert wanted, f"{file}: an install command without an extra"
        for extra in wanted:
            assert extra in extras, f"{file}: no extra {extra!r} in pyproject.toml"


def test_the_dev_extra_installs_every_other_runtime_extra() -> None:
    dev = PYPROJECT["project"]["optional-dependencies"]["dev"]
    selves = [r for r in dev if r.startswith("news-dedup[")]
    assert len(selves) == 1
    installed = set(selves[0].removeprefix("news-dedup[").removesuffix("]").split(","))
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    # datasets pulls a large tree of its own; its test runs where it is installed
    assert installed == extras - {"dev", "bench", "datasets"}


def test_core_dependencies_are_imported_by_the_library() -> None:
    """A core dependency that nothing under src/ imports is weight on every install."""
    imports = {"scikit-learn": "sklearn", "confusable-homoglyphs": "confusable_homoglyphs"}
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.py"))
    for requirement in PYPROJECT["project"]["dependencies"]:
        name = re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0]
        module = imports.get(name, name)
        assert re.search(rf"^\s*(?:from|import) {module}\b", source, re.MULTILINE), f"{name} is not used by dedup"


def test_the_version_is_written_once() -> None:
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "dedup.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?(?:\.dev\d+)?", dedup.__version__)


def test_setuptools_reads_the_version_from_dedup() -> None:
    """The version setuptools builds with, read as a build reads it, is ``dedup.__version__``."""
    pyprojecttoml = pytest.importorskip("setuptools.config.pyprojecttoml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # setuptools calls its [tool.setuptools] table beta
        built = pyprojecttoml.read_configuration(ROOT / "pyproject.toml", expand=True)
    assert built["project"]["name"] == "news-dedup"
    assert built["project"]["version"] == dedup.__version__
