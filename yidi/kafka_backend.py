"""The Kafka backend: PostgreSQL event store, relay to Kafka, faust processors, PostgreSQL
read models. Chosen by ``yidi.bootstrap`` when YIDI_KAFKA and YIDI_PG are both set.

    record            ledger.service.Ledger on eventsourcing's PostgreSQL persistence (the
                      write side: idempotency, rules, hash chains — the same code as embedded)
    projection()      the read models the faust processors keep (projections.postgres_store),
                      one Projection per Kafka partition, merged
    catch_up()        waits until the read models reflect every fact in the event store:
                      the relay's committed progress (yidi.relay) has reached the last fact,
                      and every partition's read model has reached the last position the
                      relay sent to it. Bounded by ``YIDI_CATCH_UP_TIMEOUT`` seconds
                      (default 60); raises ``TimeoutError`` naming what lags (is a
                      `yidi worker` running?)
    read_facts()      from the PostgreSQL event store (position order)
    projection_as_of  folded from the PostgreSQL event store (facts with time <= T)

Isolation (tests, several ledgers on one server): YIDI_PG_SCHEMA names the PostgreSQL
schema of the event store and read models; YIDI_TOPIC_PREFIX prefixes every topic.
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterator, Sequence

from consumers import topics
from consumers.eventlog import max_position, read_facts
from consumers.relay import event_store_env, ensure_schema, is_caught_up, lag, pg_schema
from ledger.config import Policy
from ledger.decisions import Source
from ledger.records import Command
from ledger.service import BatchResult, Ledger
from projections.fold import Projection, apply
from projections.postgres_store import PostgresReadModels

from .probes import postgres_probe

CATCH_UP_TIMEOUT_ENV = "YIDI_CATCH_UP_TIMEOUT"
DEFAULT_CATCH_UP_TIMEOUT_S = 60.0


class KafkaBackend:
    name = "kafka"

    def __init__(self, kafka: str, dsn: str, policy: Policy, prefix: str | None = None,
                 schema: str | None = None) -> None:
        self.kafka = kafka
        self.dsn = dsn
        self.policy = policy
        self.prefix = topics.prefix(prefix)
        self.schema = pg_schema() if schema is None else schema
        ensure_schema(dsn, self.schema)
        self.ledger = Ledger(policy, event_store_env(dsn, self.schema))
        self.ledger.probe = postgres_probe(self.ledger.recorder)
        self.models = PostgresReadModels(dsn, topics.facts_topic(self.prefix), self.schema)

    @property
    def recorder(self) -> Any:
        return self.ledger.recorder

    def record(self, items: Sequence[tuple[Command, Source]]) -> BatchResult:
        return self.ledger.record(items)

    def facts_folded(self) -> int:
        return sum(self._facts_per_partition().values())

    def _facts_per_partition(self) -> dict[int, int]:
        with self.models.conn.cursor() as cur:
            cur.execute(f"SELECT partition, facts FROM {self.models.s}.yidi_read_partitions WHERE topic = %s",
                        (self.models.topic,))
            rows = cur.fetchall()
        self.models.conn.rollback()
        return {int(p): int(n) for p, n in rows}

    def catch_up(self, timeout: float | None = None) -> int:
        """Wait until the read models reflect every fact recorded; returns how many facts
        they gained while waiting. Needs a running ``yidi worker`` (relay + processors)."""
        if timeout is None:
            timeout = float(os.environ.get(CATCH_UP_TIMEOUT_ENV, DEFAULT_CATCH_UP_TIMEOUT_S))
        before = self.facts_folded()
        deadline = time.monotonic() + timeout
        delay = 0.02
        while not is_caught_up(self.kafka, self.recorder, self.models, self.prefix):
            if time.monotonic() > deadline:
                state = lag(self.kafka, self.recorder, self.models, self.prefix)
                raise TimeoutError(
                    f"read models not caught up after {timeout:.0f} s (last fact {state['last_fact_position']}, "
                    f"relayed {state['relayed_position']}, partitions behind {state['partitions_behind']}): "
                    "is `yidi worker` running?")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        return self.facts_folded() - before

    def projection(self) -> Projection:
        return self.models.projection()

    def read_facts(self, upto: int | None = None) -> Iterator[dict[str, Any]]:
        return read_facts(self.recorder, after=0, upto=upto)

    def projection_as_of(self, time: str) -> Projection:
        state = Projection()
        for fact in read_facts(self.recorder):
            if fact["time"] <= time:
                apply(state, fact)
        return state

    def last_position(self) -> int:
        return max_position(self.recorder)

    def close(self) -> None:
        self.models.close()
        self.ledger.close()
