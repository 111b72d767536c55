"""The shared Redis index: several worker processes at once, against a real redis-server on loopback."""

import json
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import dedup
from conftest import groups_of, load_seeds

pytest.importorskip("redis", reason="the redis extra is part of the dev extra: pip install -e '.[dev]'")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
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


def _ns_url(redis_url: str, name: str) -> str:
    return f"{redis_url}?namespace={name}"


def test_reopened_shared_index_answers_the_same(redis_url: str) -> None:
    url = _ns_url(redis_url, "reopen")
    seeds = load_seeds()
    with dedup.Deduplicator.open(url) as d:
        d.add_many(seeds[:3])
    with dedup.Deduplicator.open(url) as d:
        assert len(d) == 3
        v = d.add(seeds[3])
        assert not v.is_copy
        d.remove(seeds[0].id)
    with dedup.Deduplicator.open(url) as d:
        assert seeds[0].id not in d and len(d) == 3
        assert d.add(seeds[0]).copy_of == ("002_2c2c9388f5a9e12b",)


def test_two_handles_see_each_others_articles(redis_url: str) -> None:
    url = _ns_url(redis_url, "two")
    seeds = load_seeds()
    first, second = dedup.Deduplicator.open(url), dedup.Deduplicator.open(url)
    try:
        first.add(seeds[0])
        verdict = second.add(seeds[2])  # second has never seen 000: it catches up before adding
        assert verdict.copy_of == ("000_ab6823a46153965b",)
        assert groups_of(first.clusters()) == groups_of(second.clusters())
    finally:
        first.close()
        second.close()


WORKER = textwrap.dedent(
    """
    import json, sys
    import dedup
    records = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
    with dedup.Deduplicator.open(sys.argv[1]) as d:
        for r in records:
            d.add(dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at")))
    """
)


def test_concurrent_workers_find_every_copy_exactly_once(redis_url: str, tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    import redis

    import generate

    records = generate.generate(240, 21)
    url = _ns_url(redis_url, "workers")
    dedup.Deduplicator.open(url).close()  # create the namespace once
    workers = []
    for w in range(3):
        part = tmp_path / f"part{w}.jsonl"
        part.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[w::3]), encoding="utf-8")
        workers.append(subprocess.Popen([sys.executable, "-c", WORKER, url, str(part)]))
    for proc in workers:
        assert proc.wait(timeout=300) == 0

    client = redis.Redis.from_url(redis_url)
    log = [json.loads(x)["id"] for x in client.lrange("workers:log", 0, -1)]
    assert sorted(log) == sorted(r["id"] for r in records)  # nothing lost, nothing twice
    stored_pairs = []
    for art_id in log:
        for m in json.loads(client.get(f"workers:matches:{art_id}")):
            stored_pairs.append(tuple(sorted((m["a"], m["b"]))))
    client.close()
    assert len(stored_pairs) == len(set(stored_pairs))  # every copy found exactly once

    # the same answers as one process adding the articles in the order the log recorded them
    by_id = {r["id"]: r for r in records}
    single = dedup.Deduplicator()
    single_pairs = []
    for art_id in log:
        r = by_id[art_id]
        verdict = single.add(dedup.Article(id=art_id, text=r["text"], published_at=r.get("published_at")))
        single_pairs += [tuple(sorted((art_id, other))) for other in verdict.copy_of]
    assert sorted(stored_pairs) == sorted(single_pairs)
    with dedup.Deduplicator.open(url) as reader:
        assert len(reader) == len(records)
        assert {(c.member_ids, c.earliest) for c in reader.clusters()} == {
            (c.member_ids, c.earliest) for c in single.clusters()
        }


def test_unreachable_server_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(dedup.StoreError, match="cannot reach the Redis server"):
        dedup.Deduplicator.open(f"redis://127.0.0.1:{port}/0")
