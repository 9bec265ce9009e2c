"""SIGKILL the relay and the faust worker mid-stream, restart them: the same balances and
digest as the embedded mode on the same file, every fact on Kafka exactly once, no fact
folded twice. Also: facts of an aborted Kafka transaction are never folded (read_committed),
and catch_up is bounded when no worker runs."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import orjson
import psycopg2
import pytest

from consumers import topics
from consumers.kafka_replay import read_topic_facts
from consumers.relay import read_progress
from ledger.config import Policy
from projections.fold import digest

from .conftest import Stack, embedded, simulate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("kill")
    source = simulate(work / "kill.jsonl", seed=8, months=2, settlements=2500, malformed=0.005)
    home = work / "embedded"
    home.mkdir()
    counts = orjson.loads(embedded(home, "ingest", str(source), "--json").stdout)
    summary = orjson.loads(embedded(home, "summary", "--json").stdout)
    balances = orjson.loads(embedded(home, "balances", "--json").stdout)
    return {"source": source, "counts": counts, "summary": summary, "balances": balances}


def wait_for(predicate, timeout: float = 120, interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def folded_facts(stack: Stack) -> int:
    conn = psycopg2.connect(stack.services.pg)
    try:
        with conn.cursor() as cur:
            cur.execute(f'SELECT coalesce(sum(facts), 0) FROM "{stack.schema}".yidi_read_partitions')
            return int(cur.fetchone()[0])
    except psycopg2.errors.UndefinedTable:
        return 0
    finally:
        conn.close()


def assert_same_as_embedded(stack: Stack, reference: dict) -> None:
    summary = stack.yidi_json("summary", "--json")
    assert summary == reference["summary"]
    assert stack.yidi_json("balances", "--json") == reference["balances"]
    assert folded_facts(stack) == reference["summary"]["facts"]  # nothing folded twice


def assert_each_fact_once_on_kafka(stack: Stack, reference: dict) -> None:
    heads: dict[str, int] = {}
    positions = []
    for _, _, fact in read_topic_facts(stack.services.kafka, stack.prefix):
        assert fact["seq"] == heads.get(fact["key"], 0) + 1, fact["id"]
        heads[fact["key"]] = fact["seq"]
        positions.append(fact["position"])
    assert len(positions) == len(set(positions)) == reference["summary"]["facts"]


def test_relay_killed_mid_stream_and_restarted(stack: Stack, reference: dict):
    assert stack.yidi_json("ingest", str(reference["source"]), "--json") == reference["counts"]
    total = reference["summary"]["facts"]
    relay = stack.spawn("worker", "--relay-only", env={"YIDI_RELAY_BATCH": "40"})
    try:
        wait_for(lambda: read_progress(stack.services.kafka, stack.prefix).facts >= total // 4,
                 what="the relay to publish a quarter of the facts")
    finally:
        relay.send_signal(signal.SIGKILL)
        relay.wait(30)
    progress = read_progress(stack.services.kafka, stack.prefix)
    assert 0 < progress.facts < total, "killed mid-stream"
    stack.yidi("worker", "--relay-only", "--until-caught-up")
    assert read_progress(stack.services.kafka, stack.prefix).facts == total
    assert_each_fact_once_on_kafka(stack, reference)
    stack.yidi("worker", "--processors-only", "--until-caught-up")
    assert_same_as_embedded(stack, reference)


def _abort_a_forged_fact(stack: Stack) -> None:
    """Write, in a Kafka transaction that is then aborted, a fact that would fold cleanly
    (next seq, right prev hash) and change the balances: a read_uncommitted consumer would
    count it; ours must not."""
    from kafka import KafkaProducer

    last = {}
    for _, _, fact in read_topic_facts(stack.services.kafka, stack.prefix):
        if fact["type"] == "settlement.recorded":
            last[fact["key"]] = fact
    fact = next(iter(last.values()))
    forged = dict(fact, seq=fact["seq"] + 1, prev=fact["hash"], id=f"{fact['key']}/{fact['seq'] + 1}",
                  setl_id="FORGED", owed_fen=fact["owed_fen"] + 123_456_789)
    producer = KafkaProducer(bootstrap_servers=stack.services.kafka, transactional_id=f"{stack.prefix}forger",
                             enable_idempotence=True)
    producer.init_transactions()
    producer.begin_transaction()
    key, value, headers = topics.encode(forged, fact["position"])
    producer.send(topics.facts_topic(stack.prefix), key=key, value=value, headers=headers)
    producer.flush()
    producer.abort_transaction()
    producer.close()


def test_faust_worker_killed_mid_stream_and_restarted(stack: Stack, reference: dict):
    assert stack.yidi_json("ingest", str(reference["source"]), "--json") == reference["counts"]
    stack.yidi("worker", "--relay-only", "--until-caught-up")
    _abort_a_forged_fact(stack)
    total = reference["summary"]["facts"]
    worker = stack.spawn("worker", "--processors-only", env={"YIDI_FAUST_BATCH": "150", "YIDI_FAUST_WITHIN": "0.01"})
    try:
        wait_for(lambda: folded_facts(stack) >= total // 4, what="the processors to fold a quarter of the facts")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    assert 0 < folded_facts(stack) < total, "killed mid-stream"
    stack.yidi("worker", "--processors-only", "--until-caught-up")
    assert_same_as_embedded(stack, reference)


def test_whole_worker_killed_while_ingesting_then_restarted(stack: Stack, reference: dict, tmp_path: Path):
    """`yidi worker` (relay child + processors) runs while the file is ingested; it is
    SIGKILLed mid-stream (its relay child dies with it) and started again."""
    worker = stack.spawn("worker", env={"YIDI_RELAY_BATCH": "200", "YIDI_FAUST_BATCH": "300"})
    try:
        ingest = stack.yidi_json("ingest", str(reference["source"]), "--json")
        assert ingest == reference["counts"]
        wait_for(lambda: folded_facts(stack) > 0, what="the processors to start folding")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    time.sleep(0.5)  # the relay child gets SIGTERM from the kernel when its parent dies
    stack.yidi("worker", "--until-caught-up")
    assert_same_as_embedded(stack, reference)
    assert_each_fact_once_on_kafka(stack, reference)


def test_catch_up_waits_for_the_worker_and_is_bounded(stack: Stack, monkeypatch: pytest.MonkeyPatch):
    from tests.helpers import filing, ingest as feed, prepayment
    from yidi.kafka_backend import KafkaBackend

    stack.use_env(monkeypatch)
    backend = KafkaBackend(stack.services.kafka, stack.services.pg, Policy())
    try:
        counts, _ = feed(backend, [prepayment(), filing()])  # type: ignore[arg-type]
        assert counts == {"accepted": 2, "duplicates": 0, "rejected": 0}
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="yidi worker"):
            backend.catch_up(timeout=1.5)
        assert time.monotonic() - started < 10
        stack.yidi("worker", "--until-caught-up")
        assert backend.catch_up(timeout=30) == 0  # the worker already folded both
        state = backend.projection()
        assert state.facts == 2 and digest(state) == digest(backend.projection_as_of("2099-01-01 00:00:00"))
    finally:
        backend.close()
