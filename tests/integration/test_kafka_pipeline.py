"""A simulated month through yidi → PostgreSQL event store → relay → Kafka → faust →
PostgreSQL read models, compared with the embedded mode on the same file and with a replay
from Kafka: the same counts, rejects, balances (to the fen), floats, statements and digest."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections import Counter
from contextlib import redirect_stdout
from pathlib import Path

import orjson
import psycopg2
import pytest

from consumers import topics
from consumers.kafka_replay import read_topic_facts, replay_from_kafka
from ledger.config import Policy
from projections import views
from projections.fold import digest

from .conftest import Stack, embedded, simulate

pytestmark = pytest.mark.integration

READS = (("balances", "--json"), ("floats", "--json"), ("statements", "--json"), ("summary", "--json"),
         ("investigations", "--json"), ("provinces", "--json"))


@pytest.fixture(scope="module")
def run(module_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("month")
    source = simulate(work / "month.jsonl", seed=3, months=1, settlements=3000, malformed=0.01)
    emb_home = work / "embedded"
    emb_home.mkdir()
    out: dict = {"stack": module_stack, "source": source, "emb_home": emb_home}
    out["emb_counts"] = [orjson.loads(embedded(emb_home, "ingest", str(source), "--json").stdout) for _ in range(2)]
    out["emb"] = {cmd[0]: orjson.loads(embedded(emb_home, *cmd).stdout) for cmd in READS}
    out["emb_rejects"] = (emb_home / "rejects" / "month.jsonl.rejects.jsonl").read_text()
    s = module_stack
    out["kafka_counts"] = [s.yidi_json("ingest", str(source), "--json") for _ in range(2)]
    out["kafka_rejects"] = (s.home / "rejects" / "month.jsonl.rejects.jsonl").read_text()
    s.yidi("worker", "--until-caught-up", timeout=300)
    out["kafka"] = {cmd[0]: orjson.loads(s.yidi(*cmd).stdout) for cmd in READS}
    return out


def test_ingest_counts_duplicates_and_rejects_are_those_of_the_embedded_mode(run):
    first, second = run["kafka_counts"]
    assert run["kafka_counts"] == run["emb_counts"]
    assert first["accepted"] > 4000 and first["duplicates"] > 0 and first["rejected"] > 0
    assert second["accepted"] == 0 and second["duplicates"] > 4000  # the same file again: all duplicates
    # the rejects file (of the last ingest) names the same lines and fields
    assert run["kafka_rejects"] == run["emb_rejects"] and run["kafka_rejects"].count("\n") == second["rejected"]


def test_balances_floats_statements_and_digest_equal_the_embedded_mode(run):
    emb, kafka = run["emb"], run["kafka"]
    assert kafka["balances"] == emb["balances"]
    assert sum(kafka["balances"].values()) == 0 and len(kafka["balances"]) > 100
    assert kafka["floats"] == emb["floats"]
    assert kafka["statements"] == emb["statements"] and kafka["statements"]
    assert kafka["investigations"] == emb["investigations"]
    assert kafka["provinces"] == emb["provinces"]
    assert kafka["summary"] == emb["summary"]  # includes the digest of every read model


def test_replay_from_kafka_gives_the_same_digest_and_balances(run, monkeypatch):
    s: Stack = run["stack"]
    state = replay_from_kafka(s.services.kafka, s.prefix)
    assert digest(state) == run["emb"]["summary"]["digest"]
    assert views.balances(state) == run["emb"]["balances"]
    single = replay_from_kafka(s.services.kafka, s.prefix, workers=1)
    assert digest(single) == digest(state)
    # the CLI function the lead wires to `yidi replay --from-kafka`
    s.use_env(monkeypatch)
    from yidi.cli_kafka import replay_from_kafka_command

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        printed = replay_from_kafka_command(as_json=True)
    shown = json.loads(buffer.getvalue())
    assert shown["digest"] == printed["digest"] == run["emb"]["summary"]["digest"]
    assert shown["balances"] == run["emb"]["balances"] and shown["facts"] == run["emb"]["summary"]["facts"]


def test_every_fact_is_on_kafka_once_in_chain_order_with_its_position(run):
    s: Stack = run["stack"]
    seen: dict[str, int] = {}
    positions = []
    for partition, offset, fact in read_topic_facts(s.services.kafka, s.prefix):
        assert topics.partition_for(fact["key"]) == partition
        assert fact["seq"] == seen.get(fact["key"], 0) + 1, fact["id"]  # no gap, no repeat, in order
        seen[fact["key"]] = fact["seq"]
        positions.append(fact["position"])
    assert len(positions) == len(set(positions)) == run["emb"]["summary"]["facts"]


def test_kcat_reads_and_decodes_the_cloudevents_messages(run):
    s: Stack = run["stack"]
    kcat = shutil.which("kcat") or shutil.which("kafkacat")
    assert kcat, "kcat is installed by scripts/services"
    fmt = "%p\\t%o\\t%k\\t%h\\t%s\\n"
    out = subprocess.run([kcat, "-b", s.services.kafka, "-C", "-t", topics.facts_topic(s.prefix), "-o", "beginning",
                          "-e", "-q", "-X", "isolation.level=read_committed", "-f", fmt],
                         capture_output=True, timeout=120, check=True).stdout.decode()
    count = Counter()
    schemas = Path(__file__).resolve().parents[2] / "docs" / "schemas"
    for line in out.splitlines():
        partition, offset, key, headers, value = line.split("\t", 4)
        fact = json.loads(value)
        h = dict(item.split("=", 1) for item in headers.split(","))
        assert h["ce_specversion"] == "1.0" and h["ce_source"] == "/yidi/ledger"
        assert h["ce_id"] == fact["id"] == f"{key}/{fact['seq']}" and key == fact["key"]
        assert h["ce_type"] == f"cn.yidi.{fact['type']}.v{fact['v']}"
        assert h["ce_time"] == fact["time"].replace(" ", "T") + "+08:00"
        assert h["ce_dataschema"] == json.loads((schemas / f"{fact['type']}.v{fact['v']}.json").read_text())["$id"]
        assert h["content-type"] == "application/json" and int(h["yidi_position"]) == fact["position"]
        count[fact["type"]] += 1
    assert sum(count.values()) == run["emb"]["summary"]["facts"]
    assert dict(count) == run["emb"]["summary"]["facts_by_type"]


def test_topics_are_created_with_their_configuration(run):
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    s: Stack = run["stack"]
    admin = KafkaAdminClient(bootstrap_servers=s.services.kafka)
    try:
        described = {t["name"]: t for t in admin.describe_topics([topics.facts_topic(s.prefix), topics.relay_topic(s.prefix)])}
        assert len(described[topics.facts_topic(s.prefix)]["partitions"]) == 8
        assert len(described[topics.relay_topic(s.prefix)]["partitions"]) == 1
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topics.facts_topic(s.prefix)),
                                          ConfigResource(ConfigResourceType.TOPIC, topics.relay_topic(s.prefix))])
        values = {name: {k: v["value"] for k, v in conf.items()} for name, conf in configs["topic"].items()}
        assert values[topics.facts_topic(s.prefix)]["retention.ms"] == "-1"
        assert values[topics.relay_topic(s.prefix)]["cleanup.policy"] == "compact"
    finally:
        admin.close()


def test_postgres_read_models_and_dashboard_tables(run):
    s: Stack = run["stack"]
    conn = psycopg2.connect(s.services.pg)
    try:
        with conn.cursor() as cur:
            cur.execute(f'SELECT count(*), sum(facts) FROM "{s.schema}".yidi_read_partitions')
            partitions, facts = cur.fetchone()
            used = {topics.partition_for(f["key"]) for f in run_facts(run)}
            assert partitions == len(used) and facts == run["emb"]["summary"]["facts"]
            cur.execute(f'SELECT account, balance_fen FROM "{s.schema}".yidi_account_balances WHERE balance_fen <> 0')
            assert dict(cur.fetchall()) == run["emb"]["balances"]
            cur.execute(f'SELECT pair, float_fen, outstanding_fen, level FROM "{s.schema}".yidi_read_floats')
            rows = {p: (f, o, lvl) for p, f, o, lvl in cur.fetchall()}
            assert rows == {f"{r['insured']}>{r['treatment']}": (r["float_fen"], r["outstanding_fen"], r["level"])
                            for r in run["emb"]["floats"]}
    finally:
        conn.close()


def test_float_alerts_are_published_once_per_level_change(run):
    s: Stack = run["stack"]
    import asyncio

    async def read_alerts() -> list[dict]:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=s.services.kafka, isolation_level="read_committed",
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(topics.alerts_topic(s.prefix), p) for p in range(topics.ALERT_PARTITIONS)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            out = []
            async def behind() -> bool:
                return any([await consumer.position(tp) < end[tp] for tp in tps])

            while await behind():
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    out.extend(orjson.loads(r.value) | {"_headers": dict(r.headers)} for r in records)
            return out
        finally:
            await consumer.stop()

    alerts = asyncio.run(read_alerts())
    ids = [a["id"] for a in alerts]
    assert len(ids) == len(set(ids))  # a single clean run: no re-delivery
    recorded = [f for f in run_facts(run) if f["type"] == "float.alert"]
    assert recorded, "the simulated month crosses the float thresholds"
    assert sorted((a["key"], a["from_level"], a["to_level"]) for a in alerts) == sorted(
        (f["key"], f["from_level"], f["to_level"]) for f in recorded)
    for a in alerts:
        assert a["_headers"]["ce_type"] == b"cn.yidi.float.level_changed.v1"
        assert a["_headers"]["ce_id"].decode() == a["id"]


def run_facts(run: dict) -> list[dict]:
    s: Stack = run["stack"]
    return [fact for _, _, fact in read_topic_facts(s.services.kafka, s.prefix)]


def test_as_of_reads_the_postgres_event_store_like_the_embedded_mode(run):
    s: Stack = run["stack"]
    moment = "2025-01-15 12:00:00"
    emb = orjson.loads(embedded(run["emb_home"], "balances", "--json", "--as-of", moment).stdout)
    kafka = s.yidi_json("balances", "--json", "--as-of", moment)
    assert kafka == emb and kafka != run["emb"]["balances"]


def test_catch_up_is_immediate_when_caught_up_and_bounded_otherwise(run, monkeypatch):
    s: Stack = run["stack"]
    s.use_env(monkeypatch)
    from yidi.kafka_backend import KafkaBackend

    backend = KafkaBackend(s.services.kafka, s.services.pg, Policy())
    try:
        assert backend.catch_up(timeout=30) == 0
        assert digest(backend.projection()) == run["emb"]["summary"]["digest"]
    finally:
        backend.close()
