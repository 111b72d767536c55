"""Faults injected into a shared Redis index: killed workers, a restarted or frozen Redis, a killed lock
holder, a wrong password. Each test starts its own redis-server on a free loopback port, and every
loop here is bounded in count and time."""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import dedup
from conftest import groups_of, load_seeds
from dedup.errors import IndexLostError
from dedup.stores.redis import LEASE

# Real redis-server processes killed and restarted under workers (`pytest -m "not slow"` leaves them out).
pytestmark = pytest.mark.slow

redis = pytest.importorskip("redis", reason="the redis extra is part of the dev extra: pip install -e '.[dev]'")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
NO_PERSISTENCE = ("--save", "", "--appendonly", "no")
AOF_ALWAYS = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")


class Server:
    """A redis-server on loopback that a test can kill (-9), restart on the same port, or freeze."""

    def __init__(self, workdir: Path, options: tuple[str, ...]) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.workdir, self.options = workdir, options
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, options: tuple[str, ...] | None = None) -> None:
        command = [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += [*(options or self.options), "--dir", str(self.workdir)]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                client.close()
                return
            except redis.exceptions.AuthenticationError:
                return  # up, and asking for a password
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def client(self) -> "redis.Redis":
        return redis.Redis(port=self.port)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)")
    started: list[Server] = []
    yield started
    for server in started:
        if server.proc is not None and server.proc.poll() is None:
            os.kill(server.proc.pid, signal.SIGCONT)  # in case a test froze it
        server.kill()


def start(servers: list[Server], tmp_path: Path, options: tuple[str, ...], *extra: str) -> Server:
    workdir = tmp_path / f"redis{len(servers)}"
    workdir.mkdir()
    server = Server(workdir, options + extra)
    servers.append(server)
    server.start()
    return server


# Adds its slice, printing each id once add() has returned (acknowledged); at the end prints the
# groups it sees; a DedupError is printed with its class and the worker exits 3.
WORKER = textwrap.dedent(
    """
    import json, sys
    import dedup
    records = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
    try:
        with dedup.Deduplicator.open(sys.argv[1]) as d:
            for r in records:
                d.add(dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at")))
                print("ack", r["id"], flush=True)
            d.sync()
            print("done", json.dumps(sorted(sorted(c.member_ids) for c in d.clusters())), flush=True)
    except dedup.DedupError as exc:
        print("error", type(exc).__name__, str(exc).replace("\\n", " "), flush=True)
        sys.exit(3)
    """
)


class Worker:
    """One worker process adding one slice; its output file survives a kill -9."""

    def __init__(self, url: str, part: Path, out: Path) -> None:
        self.url, self.part, self.out, self.runs = url, part, out, 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: list[str] = []

    def start(self) -> None:
        self.runs += 1
        self._log = (self.out.parent / f"{self.out.name}.{self.runs}").open("w")
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, self.url, str(self.part)], stdout=self._log)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def finish(self) -> None:
        """Collect the output of the run that has ended."""
        self._log.close()
        self.lines += (self.out.parent / f"{self.out.name}.{self.runs}").read_text().splitlines()

    def acked(self) -> set[str]:
        return {line.split()[1] for line in self.lines if line.startswith("ack ")}

    def current_acks(self) -> int:
        text = (self.out.parent / f"{self.out.name}.{self.runs}").read_text()
        return len(self.acked()) + text.count("ack ")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    """150 articles of which about 90 are copies of another."""
    sys.path.insert(0, str(BENCH))
    import generate

    return generate.generate(150, 31)


def workers_for(url: str, records: list[dict], tmp_path: Path, count: int) -> list[Worker]:
    dedup.Deduplicator.open(url).close()  # create the index once
    workers = []
    for w in range(count):
        part = tmp_path / f"part{w}.jsonl"
        part.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[w::count]), encoding="utf-8")
        worker = Worker(url, part, tmp_path / f"worker{w}")
        worker.start()
        workers.append(worker)
    return workers


def wait_for_acks(workers: list[Worker], count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while sum(w.current_acks() for w in workers) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def run_to_the_end(workers: list[Worker], seconds: float, *, restarts: int) -> None:
    """Wait for every worker; one that stopped on an error is started again (at most ``restarts``
    times in all)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for w in workers:
            if w.proc is not None and not w.running():
                w.finish()
                failed, w.proc = w.proc.returncode != 0, None
                if failed and restarts > 0:
                    restarts -= 1
                    w.start()
        if all(w.proc is None for w in workers):
            return
        time.sleep(0.05)
    for w in workers:
        if w.running():
            w.proc.kill()
    pytest.fail(f"the workers did not finish within {seconds} s")


def assert_same_as_one_process(url: str, records: list[dict], client: "redis.Redis") -> list[str]:
    """Redis holds every article once, and the clusters one process finds adding them in log order."""
    log = [json.loads(x) for x in client.lrange("dedup:log", 0, -1)]
    added = [e["id"] for e in log if e["op"] == "add"]
    assert sorted(added) == sorted(r["id"] for r in records)  # nothing lost, nothing twice
    by_id = {r["id"]: r for r in records}
    single = dedup.Deduplicator()
    for art_id in added:
        r = by_id[art_id]
        single.add(dedup.Article(id=art_id, text=r["text"], published_at=r.get("published_at")))
    with dedup.Deduplicator.open(url) as reader:
        assert len(reader) == len(records)
        shared = {(c.member_ids, c.earliest) for c in reader.clusters()}
    assert shared == {(c.member_ids, c.earliest) for c in single.clusters()}
    return added


def test_killed_workers_lose_no_acknowledged_article(
    servers: list[Server], tmp_path: Path, records: list[dict]
) -> None:
    server = start(servers, tmp_path, NO_PERSISTENCE)
    workers = workers_for(server.url, records, tmp_path, 3)
    rng = random.Random(4)
    deadline, kills = time.monotonic() + 40, 0
    while kills < 5 and time.monotonic() < deadline and any(w.running() for w in workers):
        time.sleep(rng.uniform(0.3, 1.2))  # a random moment: preparing, waiting, adding, writing
        victim = rng.choice([w for w in workers if w.running()] or workers)
        if victim.running():
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait(timeout=10)
            victim.finish()
            victim.start()
            kills += 1
    run_to_the_end(workers, 60, restarts=0)
    acked = set().union(*(w.acked() for w in workers))
    client = server.client()
    assert_same_as_one_process(server.url, records, client)
    present = {k.decode().split(":", 2)[2] for k in client.scan_iter("dedup:article:*")}
    client.close()
    assert kills >= 3
    assert acked <= present
    print(f"kill -9 workers: {kills} kills, {sum(w.runs for w in workers)} runs, {len(acked)} acknowledged, 0 lost")


def test_redis_restarted_without_persistence_stops_every_worker(
    servers: list[Server], tmp_path: Path, records: list[dict]
) -> None:
    server = start(servers, tmp_path, NO_PERSISTENCE)
    seeds = load_seeds()
    survivor = dedup.Deduplicator.open(server.url)  # a library worker, in this process
    survivor.add(seeds[0])
    workers = workers_for(server.url, records, tmp_path, 2)
    wait_for_acks(workers, 15, 30)
    server.kill()
    server.start()
    run_to_the_end(workers, 30, restarts=0)
    errors = [line.split()[1] for w in workers for line in w.lines if line.startswith("error ")]
    acked = set().union(*(w.acked() for w in workers))
    assert errors == ["IndexLostError", "IndexLostError"]  # neither a raw ConnectionError nor silence
    assert 15 <= len(acked) < len(records)
    with dedup.Deduplicator.open(server.url) as fresh:  # a new worker starts an empty index
        fresh.add(seeds[0])
    with pytest.raises(IndexLostError, match="appendfsync always"):
        survivor.add(seeds[2])  # a copy of 000: refused, not answered "no copy"
    survivor.close()
    print(f"restart without persistence: {len(acked) + 1} acknowledged, all lost; 3 of 3 workers stopped")


def test_an_article_read_back_from_a_redis_that_lost_the_index_is_index_lost_not_unknown(
    servers: list[Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker reads back from Redis the analysis of an article it let go: when Redis restarted
    without persistence, the article is missing because the whole index is, which the worker
    says (``IndexLostError``), instead of taking the article for one another worker removed."""
    from dedup.runners.stream import replica

    monkeypatch.setattr(replica, "KEPT", 0)  # every analysis let go once written, read back when asked
    server = start(servers, tmp_path, NO_PERSISTENCE)
    seeds = load_seeds()
    worker = dedup.Deduplicator.open(server.url)
    for article in seeds[:3]:
        worker.add(article)
    assert worker.compare(seeds[0].id, seeds[2].id, with_text=False).is_copy  # read back from Redis
    server.kill()
    server.start()
    with pytest.raises(IndexLostError, match="appendfsync always"):
        worker.compare(seeds[0].id, seeds[2].id, with_text=False)
    worker.close()


def test_redis_restarted_with_aof_always_keeps_every_acknowledged_article(
    servers: list[Server], tmp_path: Path, records: list[dict]
) -> None:
    server = start(servers, tmp_path, AOF_ALWAYS)
    own = records[-10:]  # added by a library worker in this process, half before the restart
    survivor = dedup.Deduplicator.open(server.url)
    for r in own[:5]:
        survivor.add(dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at")))
    workers = workers_for(server.url, records[:-10], tmp_path, 2)
    wait_for_acks(workers, 15, 30)
    server.kill()  # SIGKILL: what the append-only file holds is all that comes back
    server.start()
    for r in own[5:]:
        survivor.add(dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at")))
    run_to_the_end(workers, 60, restarts=4)  # a worker cut off longer than its retries starts again
    acked = set().union(*(w.acked() for w in workers)) | {r["id"] for r in own}
    client = server.client()
    present = {k.decode().split(":", 2)[2] for k in client.scan_iter("dedup:article:*")}
    assert acked <= present
    assert_same_as_one_process(server.url, records, client)
    client.close()
    survivor.sync()
    with dedup.Deduplicator.open(server.url) as reader:
        assert groups_of(survivor.clusters()) == groups_of(reader.clusters())  # the survivor is right
    survivor.close()
    runs = sum(w.runs for w in workers)
    print(f"restart with appendfsync always: {runs} worker runs, {len(acked)} acknowledged, 0 lost")


def test_a_killed_lock_holder_blocks_the_others_one_lease(servers: list[Server], tmp_path: Path) -> None:
    server = start(servers, tmp_path, NO_PERSISTENCE)
    holder = subprocess.run(
        [sys.executable, "-c", "import os, signal, sys, dedup\n"
         "d = dedup.Deduplicator.open(sys.argv[1])\n"
         "d._store.lock().__enter__()\n"
         "os.kill(os.getpid(), signal.SIGKILL)\n", server.url],
        timeout=60,
    )  # fmt: skip
    assert holder.returncode == -signal.SIGKILL
    client = server.client()
    assert client.exists("dedup:lock")  # the killed worker still holds the lock
    client.close()
    with dedup.Deduplicator.open(server.url) as other:
        start_at = time.monotonic()
        other.add(load_seeds()[0])
        stall = time.monotonic() - start_at
    assert stall < LEASE + 2
    print(f"killed lock holder: the next add waited {stall:.1f} s (lease {LEASE:g} s)")


def test_a_frozen_server_is_a_store_error_in_bounded_time(servers: list[Server], tmp_path: Path) -> None:
    server = start(servers, tmp_path, NO_PERSISTENCE)
    with dedup.Deduplicator.open(f"{server.url}?socket_timeout=0.5") as d:
        os.kill(server.proc.pid, signal.SIGSTOP)
        try:
            start_at = time.monotonic()
            with pytest.raises(dedup.StoreError, match=r"did not answer in time.*socket_timeout"):
                d.add(load_seeds()[0])
            assert time.monotonic() - start_at < 6
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)


def test_a_wrong_password_is_refused_without_showing_it(servers: list[Server], tmp_path: Path) -> None:
    server = start(servers, tmp_path, NO_PERSISTENCE, "--requirepass", "right-secret-1")
    wrong = f"redis://:wrong-secret-2@127.0.0.1:{server.port}/0?namespace=pw"
    with pytest.raises(dedup.StoreError, match="refused the user name or password") as caught:
        dedup.Deduplicator.open(wrong)
    shown = []
    exc: BaseException | None = caught.value
    while exc is not None:
        shown.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    assert "wrong-secret-2" not in "\n".join(shown)
    assert "redis://:***@" in str(caught.value)
    with dedup.Deduplicator.open(f"redis://:right-secret-1@127.0.0.1:{server.port}/0?namespace=pw") as d:
        assert not d.add(load_seeds()[0]).is_copy
