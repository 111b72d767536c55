"""Shared fixtures: the seed articles and the English test corpus."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

import dedup
from english_corpus import ARTICLES as ENGLISH

# Properties, not timings: a first example may include compiling a kernel, and CI machines are
# shared, so hypothesis's per-example deadline would fail tests for reasons they do not assert.
settings.register_profile("dedup", deadline=None)
settings.load_profile("dedup")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


def load_seeds() -> list[dedup.Article]:
    manifest = [json.loads(line) for line in (SEEDS / "manifest.jsonl").read_text().splitlines() if line]
    return [dedup.Article(id=m["id"], text=(SEEDS / m["file"]).read_text(encoding="utf-8")) for m in manifest]


def load_english() -> list[dedup.Article]:
    return [dedup.Article(id=k, text=v) for k, v in ENGLISH.items()]


@pytest.fixture(scope="session")
def seeds() -> list[dedup.Article]:
    return load_seeds()


@pytest.fixture(scope="session")
def seed_manifest() -> list[dict]:
    return [json.loads(line) for line in (SEEDS / "manifest.jsonl").read_text().splitlines() if line]


@pytest.fixture(scope="session")
def english() -> list[dedup.Article]:
    return load_english()


def groups_of(clusters: list[dedup.Cluster]) -> set[frozenset[str]]:
    return {frozenset(c.member_ids) for c in clusters}
