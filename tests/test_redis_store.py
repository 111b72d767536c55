"""The shared Redis index: several worker processes at once, against a real redis-server on loopback."""

import json
import random
import socket
import string
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dedup
from conftest import groups_of, load_seeds
from dedup.errors import IndexLostError

pytest.importorskip("redis", reason="the redis extra is part of the dev extra: pip install -e '.[dev]'")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


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
        # what the formula counts took in of an article, as any worker reads it back
        whole, counted = second._store.stored(seeds[0].id), second._store.counted(seeds[0].id)
        assert whole is not None and counted is not None and second._store.counted("no such id") is None
        assert (counted.seq, counted.source, counted.url) == (whole.seq, whole.article.source, whole.article.url)
        assert (counted.shingles == whole.doc.shingles).all() and len(counted.shingles) > 0
    finally:
        first.close()
        second.close()


def test_an_earliest_source_another_worker_answered_is_named_when_replaced(redis_url: str) -> None:
    """A worker that adds an older article than the copy another worker added says the earliest
    changed, and from which article, as one process would (the Scrapy pipeline's corrections)."""
    url = _ns_url(redis_url, "earliest")
    story = "\n".join(f"Paragraph {i} says what the port authority decided about the ferry fees." for i in range(8))
    copy = dedup.Article(id="copy", text=story + "\nShare this story.", published_at="2024-03-04T09:00:00+00:00")
    wire = dedup.Article(id="wire", text=story, published_at="2024-03-03T09:00:00+00:00")
    first, second = dedup.Deduplicator.open(url), dedup.Deduplicator.open(url)
    try:
        first.add(copy)
        verdict = second.add(wire)
        assert verdict.is_copy and verdict.cluster.earliest == "wire"
        assert verdict.earliest_changed and verdict.previous_earliests == ("copy",)
    finally:
        first.close()
        second.close()


def test_a_write_cut_by_a_lost_connection_says_its_outcome_is_unknown(redis_url: str, monkeypatch) -> None:
    """The server may run a write before the connection breaks: the error says that whether the
    article was written is not known, and adding it again once the server answers is safe."""
    import redis

    monkeypatch.setattr("dedup.stores.redis._RETRY_PAUSES", (0.0, 0.0))
    url = _ns_url(redis_url, "cut")
    seeds = load_seeds()
    with dedup.Deduplicator.open(url) as d:
        store = d._store
        write = store._write

        def written_then_cut(**kwargs):
            write(**kwargs)
            raise redis.exceptions.ConnectionError("Connection closed by server.")

        store._write = written_then_cut
        with pytest.raises(
            dedup.StoreError,
            match=r"reachable from this machine\? Whether the add of article '000_\w+' was written is not known",
        ):
            d.add(seeds[0])
        store._write = write
    with dedup.Deduplicator.open(url) as d:
        assert d.add(seeds[0]).already_indexed and len(d) == 1


def test_two_workers_taking_turns_report_the_earliest_changes_one_process_reports(redis_url: str) -> None:
    """Workers sharing an index that take turns on one syndicated story give every verdict's
    earliest source and its changes as one process does: an earliest source one worker answered
    may have been replaced by the other's adds since."""
    sys.path.insert(0, str(BENCH))
    import generate

    story = [
        dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at"), source=r.get("source"))
        for r in generate.syndicated(60, 1)
    ]
    one = dedup.Deduplicator()
    expected = [(v.cluster.earliest, v.earliest_changed, v.previous_earliests) for v in map(one.add, story)]
    url = _ns_url(redis_url, "turns")
    workers = [dedup.Deduplicator.open(url), dedup.Deduplicator.open(url)]
    try:
        got = []
        for n, article in enumerate(story):
            v = workers[n % 2].add(article)
            got.append((v.cluster.earliest, v.earliest_changed, v.previous_earliests))
    finally:
        for w in workers:
            w.close()
    assert got == expected
    assert any(changed for _, changed, _ in expected)


PARAGRAPH = (
    "the port authority said on monday that ferry fees for residents of the three islands will rise by twelve "
    "percent next spring after a review of fuel costs and crew wages found that the service had lost money for "
    "four years while councillors from the islands asked for a freeze until the new boats arrive"
).split()


def _version(art_id: str, n: int, day: int) -> dedup.Article:
    """A copy of one paragraph with its ``n``-th word changed, published on day ``day`` of March."""
    words = list(PARAGRAPH)
    words[7 * n % len(words)] = f"word{n}"
    return dedup.Article(id=art_id, text=" ".join(words), published_at=f"2024-03-{day:02d}T00:00:00+00:00")


def _answers(steps: list[tuple[int, str, object]], open_worker) -> list[dict]:
    """The verdicts of ``steps`` (worker, "add" or "remove", article or id), each worker opened
    with ``open_worker()`` when first used."""
    workers: dict[int, dedup.Deduplicator] = {}
    out = []
    try:
        for w, op, what in steps:
            d = workers.get(w) or workers.setdefault(w, open_worker())
            if op == "add":
                out.append(d.add(what).to_dict())
            else:
                d.remove(what)
    finally:
        for d in workers.values():
            d.close()
    return out


def test_merged_names_the_id_a_cluster_had_before_a_removal_as_one_process_does(redis_url: str) -> None:
    """A new copy of a cluster whose first member was removed: its verdict's ``merged`` names the
    id the cluster had until then, alike in memory and on a shared index (one worker or two),
    though a worker builds the cluster once to look up its earliest source before answering."""
    steps = [
        (0, "add", _version("a", 1, 3)),
        (1, "add", _version("b", 2, 2)),
        (0, "remove", "a"),
        (0, "add", _version("c", 3, 4)),
    ]
    expected = _answers([(0, op, what) for _, op, what in steps], dedup.Deduplicator)
    assert expected[-1]["merged"] == [dedup.stages.provenance.cluster_id("a")]
    for name, turns in (("merged-one", [(0, op, what) for _, op, what in steps]), ("merged-two", steps)):
        url = _ns_url(redis_url, name)
        assert _answers(turns, lambda url=url: dedup.Deduplicator.open(url)) == expected


def _edited(k: int) -> str:
    """A 60-word story of made-up words; ``k`` > 0: a copy with three words changed, cut short to
    48 words about one time in three (deterministic in ``k``)."""
    vocabulary = random.Random(12345)
    words = [
        "".join(vocabulary.choice(string.ascii_lowercase) for _ in range(vocabulary.randint(3, 9))) for _ in range(3000)
    ]
    pick = random.Random(1000)
    story = [pick.choice(words) for _ in range(60)]
    if k:
        edit = random.Random(90_000 + k)
        for _ in range(3):
            story[edit.randrange(len(story))] = edit.choice(words)
        if edit.random() < 0.3:
            story = story[:48]
    return " ".join(" ".join(story[i : i + 12]).capitalize() + "." for i in range(0, len(story), 12))


def test_the_answers_of_an_addition_removed_before_a_worker_read_it_are_its_answers_too(redis_url: str) -> None:
    """A copy whose addition moves the story's earliest source, removed before the other worker
    reads the log: that worker takes the answers the addition gave all the same (the members'
    earliest source), so its next copy reports the change one process reports (none)."""
    a, b, d = (dedup.Article(id=i, text=_edited(k)) for i, k in (("a", 6), ("b", 3), ("d", 2)))
    c = dedup.Article(id="c", text=b.text)  # with b's twin the earliest moves from b to a
    steps = [(0, "add", a), (0, "add", b), (0, "add", c), (0, "remove", "c"), (1, "add", d)]
    expected = _answers([(0, op, what) for _, op, what in steps], dedup.Deduplicator)
    assert [v["earliest"] for v in expected[1:3]] == ["b", "a"] and not expected[-1]["earliest_changed"]
    url = _ns_url(redis_url, "removed-answers")
    assert _answers(steps, lambda: dedup.Deduplicator.open(url)) == expected


def test_an_article_added_again_on_a_worker_reports_no_earliest_change_the_others_reported(redis_url: str) -> None:
    """Workers in turns: the earliest source moves twice as the other worker adds older copies;
    adding an article again then reports no change, as one process does (the change was reported
    with the copy that made it)."""
    a = _version("a", 1, 3)
    steps = [(1, "add", a), (0, "add", _version("b", 2, 2)), (1, "add", _version("c", 3, 1)), (0, "add", a)]
    expected = _answers([(0, op, what) for _, op, what in steps], dedup.Deduplicator)
    assert expected[2]["earliest_changed"] and not expected[3]["earliest_changed"]
    url = _ns_url(redis_url, "added-again")
    assert _answers(steps, lambda: dedup.Deduplicator.open(url)) == expected


def test_workers_answer_every_field_as_one_process_on_a_mixed_stream(redis_url: str) -> None:
    """Adds and batches of a generated mix, where the sentences of a new copy change the counts that
    group its matches: a shared index, one worker alone or two in turns, answers every verdict
    field (merged and the replaced earliest sources too) as one process does."""
    sys.path.insert(0, str(BENCH))
    import generate

    arts = {
        r["id"]: dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at"), source=r.get("source"))
        for r in generate.generate(30, 7)
    }
    steps: list[tuple[int, list[str]]] = [
        (0, ["g0000002-5"]),
        (0, ["g0000002-2", "g0000000n0"]),
        (1, ["g0000002-4"]),
        (0, ["g0000002-1"]),
        (0, ["g0000002-0"]),
        (1, ["g0000003-1", "g0000004n0", "g0000002n0"]),
        (1, ["g0000002-3"]),
    ]

    def answers(turns: list[tuple[int, list[str]]], open_worker) -> list[dict]:
        workers: dict[int, dedup.Deduplicator] = {}
        out = []
        try:
            for w, ids in turns:
                d = workers.get(w) or workers.setdefault(w, open_worker())
                out += [v.to_dict() for v in d.add_many([arts[i] for i in ids])]
        finally:
            for d in workers.values():
                d.close()
        return out

    alone = [(0, ids) for _, ids in steps]
    expected = answers(alone, dedup.Deduplicator)
    assert any(v["merged"] for v in expected) and any(v["earliest_changed"] for v in expected)
    one, two = _ns_url(redis_url, "mixed-one"), _ns_url(redis_url, "mixed-two")
    assert answers(alone, lambda: dedup.Deduplicator.open(one)) == expected
    assert answers(steps, lambda: dedup.Deduplicator.open(two)) == expected


def test_three_workers_in_turns_answer_every_field_as_one_process(redis_url: str) -> None:
    """Three workers taking turns on a generated mix answer every verdict field as one process:
    each takes the answers the others gave (written with their additions) as its own last answers,
    so ``merged`` and the replaced earliest sources name what one process would."""
    sys.path.insert(0, str(BENCH))
    import generate

    arts = [
        dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at"), source=r.get("source"))
        for r in generate.generate(400, 2)
    ]
    one = dedup.Deduplicator()
    expected = [one.add(a).to_dict() for a in arts]
    assert any(v["merged"] for v in expected) and any(v["earliest_changed"] for v in expected)
    url = _ns_url(redis_url, "three-in-turns")
    workers = [dedup.Deduplicator.open(url) for _ in range(3)]
    try:
        got = [workers[n % 3].add(a).to_dict() for n, a in enumerate(arts)]
    finally:
        for w in workers:
            w.close()
    assert got == expected


@pytest.mark.parametrize("entry", ["without answers", "with damaged answers"])
def test_a_log_written_without_answers_is_read_and_grouped_alike(redis_url: str, entry: str) -> None:
    """A log whose additions carry no answers (an index an older version wrote), or answers that
    are not ``{id: [cluster, earliest]}``: a worker reads it, finds the earliest sources again from
    the clusters, and gives the clusters one process gives."""
    sys.path.insert(0, str(BENCH))
    import generate

    arts = [
        dedup.Article(id=r["id"], text=r["text"], published_at=r.get("published_at")) for r in generate.generate(60, 5)
    ]
    one = dedup.Deduplicator()
    expected = [one.add(a).to_dict() for a in arts]
    name = "old-log-" + entry.split()[0]
    with dedup.Deduplicator.open(_ns_url(redis_url, name)) as first:
        for a in arts[:40]:
            first.add(a)
    client = _client(redis_url)
    log = client.lrange(f"{name}:log", 0, -1)
    assert all("answers" in json.loads(x) for x in log if json.loads(x)["op"] == "add")
    for n, raw in enumerate(log):
        record = json.loads(raw)
        if entry == "without answers":
            record.pop("answers", None)
        else:
            record["answers"] = {"x": ["only one"]}
        client.lset(f"{name}:log", n, json.dumps(record))
    client.close()
    with dedup.Deduplicator.open(_ns_url(redis_url, name)) as later:
        got = [later.add(a).to_dict() for a in arts[40:]]
    key = ("id", "is_copy", "copy_of", "cluster", "size", "earliest")
    assert [{k: v[k] for k in key} for v in got] == [{k: v[k] for k in key} for v in expected[40:]]
    assert any(v["is_copy"] for v in got)


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


@pytest.mark.slow
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
    assert len(stored_pairs) == len(set(stored_pairs))  # every copy written exactly once

    # the same answers as one process adding the articles in the order the log recorded them
    by_id = {r["id"]: r for r in records}
    single = dedup.Deduplicator()
    single_pairs = []
    for art_id in log:
        r = by_id[art_id]
        verdict = single.add(dedup.Article(id=art_id, text=r["text"], published_at=r.get("published_at")))
        single_pairs += [tuple(sorted((art_id, other))) for other in verdict.copy_of]
    # the copies found at each addition, and those grouping found since (``PairCache.unsaved``)
    assert set(single_pairs) <= set(stored_pairs)
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


def _client(redis_url: str):
    import redis

    return redis.Redis.from_url(redis_url)


def messages(exc: BaseException | None) -> str:
    """Every message in an exception's chain (what a traceback prints besides source lines)."""
    shown = []
    while exc is not None:
        shown.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(shown)


def _forget_namespace(redis_url: str, ns: str) -> None:
    """What a Redis restarted without persistence (or FLUSHDB) does to a namespace."""
    client = _client(redis_url)
    for key in list(client.scan_iter(f"{ns}:*")):
        client.delete(key)
    client.close()


def test_url_options_reach_redis_py(redis_url: str) -> None:
    url = f"{redis_url}?namespace=opts&socket_timeout=2.5&client_name=dedup-opts"
    with dedup.Deduplicator.open(url) as d:
        d.add(load_seeds()[0])
        assert d._store.client.connection_pool.connection_kwargs["socket_timeout"] == 2.5
        client = _client(redis_url)
        assert "dedup-opts" in {c["name"] for c in client.client_list()}  # the server sees the option
        client.close()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("/0?namespace=x&socket_timout=2", "unknown option 'socket_timout'"),
        ("/0?namespace=x&ssl_ca_certs=/ca.pem", "use a rediss:// URL"),
        ("/0?namespace=a&namespace=b", "the option 'namespace' is given twice"),
        ("/x?namespace=a", "'/x' is not a database number"),
        ("/1/2", "'/1/2' is not a database number"),
    ],
)
def test_unusable_url_options_are_refused(query: str, message: str) -> None:
    with pytest.raises(dedup.ConfigError, match=message) as caught:
        dedup.Deduplicator.open(f"redis://:hunter2-secret@127.0.0.1:1{query}")
    assert "hunter2-secret" not in str(caught.value)


def test_unreachable_server_message_hides_the_password() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(dedup.StoreError, match="cannot reach the Redis server") as caught:
        dedup.Deduplicator.open(f"redis://worker:hunter2-secret@127.0.0.1:{port}/0")
    assert "hunter2-secret" not in messages(caught.value)
    assert f"redis://worker:***@127.0.0.1:{port}/0" in str(caught.value)


@given(
    password=st.text(alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=%", min_size=1, max_size=30),
    user=st.sampled_from(["", "worker"]),
)
def test_redact_never_shows_a_password(password: str, user: str) -> None:
    from urllib.parse import quote

    from dedup.stores.redis import redact

    shown = redact(f"redis://{user}:{password}@10.0.0.7:6380/2?ssl_password={quote(password, safe='')}&namespace=n")
    assert shown == f"redis://{user}:***@10.0.0.7:6380/2?ssl_password=***&namespace=n"


def test_a_lost_index_stops_a_surviving_worker(redis_url: str) -> None:
    url = _ns_url(redis_url, "lost")
    seeds = load_seeds()
    survivor = dedup.Deduplicator.open(url)
    survivor.add_many(seeds[:3])
    _forget_namespace(redis_url, "lost")
    with pytest.raises(IndexLostError, match=r"the index is gone from Redis.*appendfsync always"):
        survivor.add(seeds[3])
    assert seeds[3].id not in survivor
    with dedup.Deduplicator.open(url) as fresh:  # a restarted worker starts a new, empty index
        fresh.add(seeds[0])
    with pytest.raises(IndexLostError, match="created again"):
        survivor.add(seeds[2])  # its copy 000 is gone: refused, not answered "no copy"
    survivor.close()


def test_lost_latest_writes_stop_a_surviving_worker(redis_url: str) -> None:
    url = _ns_url(redis_url, "behind")
    seeds = load_seeds()
    survivor = dedup.Deduplicator.open(url)
    survivor.add_many(seeds[:3])
    client = _client(redis_url)
    client.rpop("behind:log")  # what an append-only file older than the last write brings back
    client.close()
    with dedup.Deduplicator.open(url) as other:  # others add on: the log grows past the survivor
        other.add_many(seeds[3:6])
    with pytest.raises(IndexLostError, match="does not hold the 3 entries"):
        survivor.sync()
    survivor.close()


def test_a_writer_whose_lease_ran_out_cannot_write(redis_url: str) -> None:
    url = _ns_url(redis_url, "fenced")
    seeds = load_seeds()
    stale, other = dedup.Deduplicator.open(url), dedup.Deduplicator.open(url)
    other.add(seeds[0])
    # stale adds as if it held the lock without having caught up: it would miss the copy of 000
    with pytest.raises(dedup.StoreError, match="lock ran out"):
        stale._add(seeds[2])
    assert seeds[2].id not in stale
    assert stale.add(seeds[2]).copy_of == (seeds[0].id,)
    stale.close()
    other.close()


def test_the_lock_is_renewed_while_its_holder_works(redis_url: str) -> None:
    url = _ns_url(redis_url, "renewed")
    holder, waiter = dedup.Deduplicator.open(url), dedup.Deduplicator.open(url)
    holder._store.lease = waiter._store.lease = 0.4
    held = threading.Event()

    def hold() -> None:
        with holder._store.lock():
            held.set()
            time.sleep(1.5)  # several leases long

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    start = time.monotonic()
    waiter.add(load_seeds()[0])
    assert time.monotonic() - start > 1.2
    thread.join(5)
    holder.close()
    waiter.close()


def _sentence(i: int) -> str:
    words = "harbour board fishing fleet bay council palace meeting court ruling appeal market".split()
    return " ".join(f"{words[(i * 5 + j) % len(words)]}{(i * 13 + j * 7) % 50}" for j in range(12)) + "."


def test_an_id_another_worker_adds_while_a_batch_holds_it_is_counted_with_its_text(redis_url: str) -> None:
    """Worker A's ``add_many`` holds id x; worker B adds x with another text first. A catches up
    with B's x before it reaches its own (then skipped as a duplicate): A's index holds B's text
    for x, in its entry and in its boilerplate counts, as a worker that never saw A's text does,
    and B's removal of x takes it out of A's counts."""
    from dedup.stages.prepare import prepare_many
    from dedup.stages.shingle import sentence_keys

    config = dedup.DedupConfig(boilerplate=dedup.BoilerplateConfig(min_df=2, sample=4))
    url = _ns_url(redis_url, "batch-holds-x")
    a, b = dedup.Deduplicator.open(url, config), dedup.Deduplicator.open(url, config)
    mine = dedup.Article(id="x", text=f"{_sentence(1)} {_sentence(2)}")
    theirs = dedup.Article(id="x", text=f"{_sentence(3)} {_sentence(4)}")

    def progress(done: int, total: int | None) -> None:
        if total is not None and done == 1:
            b.add(theirs)

    a.add_many([dedup.Article(id="a1", text=_sentence(99)), mine], errors="skip", progress=progress)
    assert [s.id for s in a.skipped] == ["x"]
    a.add(dedup.Article(id="e0", text=" ".join(_sentence(i) for i in (1, 2, 5, 6, 7))))
    doc = prepare_many([theirs], config)[0].doc
    fingerprints, keys = a._replica.sentences("x")
    assert fingerprints.tolist() == doc.sentence_fps.tolist()
    assert keys.tolist() == sentence_keys(doc, config.shingle.k).tolist()
    mine_fps = prepare_many([mine], config)[0].doc.sentence_fps.tolist()
    with dedup.Deduplicator.open(url, config) as fresh:
        expected = [fresh._replica.boilerplate.document_frequency(fp) for fp in mine_fps]
    assert [a._replica.boilerplate.document_frequency(fp) for fp in mine_fps] == expected == [1, 1]
    b.remove("x")
    a.sync()
    with dedup.Deduplicator.open(url, config) as fresh:
        for fp in set(mine_fps) | set(doc.sentence_fps.tolist()):
            assert a._replica.boilerplate.document_frequency(fp) == fresh._replica.boilerplate.document_frequency(fp)
    a.close()
    b.close()
