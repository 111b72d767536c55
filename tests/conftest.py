"""Shared fixtures: the seed articles, the English test corpus, and a redis-server on loopback."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
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


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A redis-server of the test module's own on a free loopback port (no persistence), as a URL."""
    pytest.importorskip("redis", reason="the redis extra is part of the dev extra: pip install -e '.[dev]'")
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    proc.terminate()
    proc.wait(timeout=10)
