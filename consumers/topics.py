"""Kafka topic names, partitioning and the wire form of a fact (CloudEvents 1.0, binary mode).

Topics (``YIDI_TOPIC_PREFIX`` is prepended to every name, for test isolation):

    yidi.facts    every fact, 8 partitions, retention.ms=-1 (Kafka is the audit log)
    yidi.relay    compacted, 1 partition: the relay's progress (last relayed position),
                  written in the same Kafka transaction as the facts it covers
    yidi.alerts   float level changes derived by the faust processors, 8 partitions

Partitioning: the message key is the fact's ``key`` in UTF-8 (a pair ``insured>treatment``,
a treatment place for ``institution.paid``, ``*`` for ``period.closed``), and the partition
is kafka-python's default partitioner (murmur2 of the key bytes, positive, modulo the
partition count — the same function as the Java client's and aiokafka's). Every fact of a
key lands in one partition in relay order, which is the event store's position order, so
a key's hash chain (seq 1, 2, ...) reads back in order from one partition.

Each message (CloudEvents Kafka protocol binding, binary content mode):

    key      fact["key"]
    value    orjson of the fact body as stored (with seq, prev, hash, id) + "position"
    headers  ce_specversion=1.0, ce_id=<key>/<seq>, ce_type=cn.yidi.<type>.v<v>,
             ce_source=/yidi/ledger, ce_time=<time>+08:00 (RFC 3339),
             ce_dataschema=https://yidi-ledger.org/schemas/<type>/v<v>.json,
             content-type=application/json, yidi_position=<position>
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import orjson

FACTS = "yidi.facts"
RELAY = "yidi.relay"
ALERTS = "yidi.alerts"
PARTITIONS = 8
ALERT_PARTITIONS = 8

CE_SOURCE = "/yidi/ledger"
CE_SPECVERSION = "1.0"
SCHEMA_BASE = "https://yidi-ledger.org/schemas"
TYPE_PREFIX = "cn.yidi."
CONTENT_TYPE = "application/json"
BEIJING_OFFSET = "+08:00"

PREFIX_ENV = "YIDI_TOPIC_PREFIX"

# Topic configurations (created explicitly by the relay's admin client).
FACTS_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
RELAY_CONFIG = {"cleanup.policy": "compact", "retention.ms": "-1", "min.compaction.lag.ms": "0",
                "segment.ms": "3600000"}
ALERTS_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


def prefix(explicit: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    return explicit if explicit is not None else env.get(PREFIX_ENV, "")


def facts_topic(explicit_prefix: str | None = None) -> str:
    return prefix(explicit_prefix) + FACTS


def relay_topic(explicit_prefix: str | None = None) -> str:
    return prefix(explicit_prefix) + RELAY


def alerts_topic(explicit_prefix: str | None = None) -> str:
    return prefix(explicit_prefix) + ALERTS


def ce_type(kind: str, version: int) -> str:
    return f"{TYPE_PREFIX}{kind}.v{version}"


def schema_url(kind: str, version: int) -> str:
    return f"{SCHEMA_BASE}/{kind}/v{version}.json"


def schema_file(kind: str, version: int) -> str:
    """docs/schemas/<file> for a type and version."""
    return f"{kind}.v{version}.json"


def ce_time(time: str) -> str:
    """'2025-01-10 15:30:00' (Beijing) -> '2025-01-10T15:30:00+08:00' (RFC 3339)."""
    return time.replace(" ", "T", 1) + BEIJING_OFFSET


_HEADER_CACHE: dict[tuple[str, int], list[tuple[str, bytes]]] = {}


def _type_headers(kind: str, version: int) -> list[tuple[str, bytes]]:
    cached = _HEADER_CACHE.get((kind, version))
    if cached is None:
        cached = _HEADER_CACHE[(kind, version)] = [
            ("ce_specversion", CE_SPECVERSION.encode()),
            ("ce_type", ce_type(kind, version).encode()),
            ("ce_source", CE_SOURCE.encode()),
            ("ce_dataschema", schema_url(kind, version).encode()),
            ("content-type", CONTENT_TYPE.encode()),
        ]
    return cached


def encode(fact: Mapping[str, Any], position: int) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of the message carrying ``fact`` recorded at ``position``."""
    body = dict(fact)
    body["position"] = position
    headers = list(_type_headers(fact["type"], fact["v"]))
    headers.append(("ce_id", fact["id"].encode()))
    headers.append(("ce_time", ce_time(fact["time"]).encode()))
    headers.append(("yidi_position", str(position).encode()))
    return fact["key"].encode(), orjson.dumps(body), headers


def encode_stored(body: dict[str, Any], position: int) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Like ``encode`` but takes ownership of ``body`` (no copy): the relay's hot path."""
    body["position"] = position
    headers = list(_type_headers(body["type"], body["v"]))
    headers.append(("ce_id", body["id"].encode()))
    headers.append(("ce_time", ce_time(body["time"]).encode()))
    headers.append(("yidi_position", str(position).encode()))
    return body["key"].encode(), orjson.dumps(body), headers


def decode(value: bytes) -> dict[str, Any]:
    """The fact of a message value (with ``position``)."""
    fact: dict[str, Any] = orjson.loads(value)
    return fact


def header_dict(headers: Any) -> dict[str, str]:
    return {k: (v.decode() if isinstance(v, (bytes, bytearray)) else v) for k, v in (headers or [])}


def partition_for(key: str, partitions: int = PARTITIONS) -> int:
    """The partition kafka-python's (and Java's) default partitioner picks for ``key``."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def ensure_topics(bootstrap: str, explicit_prefix: str | None = None, timeout_s: float = 30.0) -> None:
    """Create yidi.facts, yidi.relay and yidi.alerts if missing, with their configurations."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    wanted = {
        facts_topic(explicit_prefix): (PARTITIONS, FACTS_CONFIG),
        relay_topic(explicit_prefix): (1, RELAY_CONFIG),
        alerts_topic(explicit_prefix): (ALERT_PARTITIONS, ALERTS_CONFIG),
    }
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="yidi-admin",
                             request_timeout_ms=int(timeout_s * 1000))
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, partitions, 1, topic_configs=dict(config))
                   for name, (partitions, config) in wanted.items() if name not in existing]
        if missing:
            try:
                admin.create_topics(missing, timeout_ms=int(timeout_s * 1000))
            except TopicAlreadyExistsError:
                pass  # another process created it in between
    finally:
        admin.close()
