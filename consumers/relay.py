"""The relay: facts from the event store's notification log to Kafka, exactly once.

    PostgreSQL event store ──(positions > R, facts only)──► one Kafka transaction:
        the facts → yidi.facts (key = fact key)  +  {"position": R'} → yidi.relay

Why nothing is lost, reordered or counted twice:

* Source order. The PostgreSQL recorder takes an EXCLUSIVE lock on the events table for
  every insert, so notification ids are allocated and committed in one order: a reader that
  has seen position R can never later find a committed event below R. (Ids may have gaps —
  a rolled-back insert burns sequence values — which is harmless: the relay asks for
  "position > R", not "R + 1".)
* One transaction per batch. The facts of positions R+1..R' and the progress record R' are
  written in one Kafka transaction (kafka-python, idempotent + transactional producer).
  A read_committed consumer sees all of them or none.
* Restart. A new relay first calls ``init_transactions()`` with the same
  ``transactional.id``: the broker bumps the producer epoch (fencing any zombie) and aborts
  an unfinished transaction of the previous incarnation (or finishes one that was already
  committing). Only then does it read its progress from ``yidi.relay`` with read_committed,
  and continue after it. A fact is therefore committed to Kafka exactly once, whatever
  instant the relay was killed at.
* Consumers still deduplicate by (key, seq) — the chain fields every fact carries — as
  defence in depth (e.g. a second relay started with another transactional id).

Only one relay may run per event store and topic prefix; a second one with the same
``transactional.id`` fences the first (which then exits with ``ProducerFencedError``).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import unquote, urlparse

import orjson

from ledger.aggregates import fact_topics

from . import topics

log = logging.getLogger("yidi.relay")

BATCH_FACTS = int(os.environ.get("YIDI_RELAY_BATCH", "20000"))  # facts per Kafka transaction at most
POLL_INTERVAL_S = 0.005  # idle wait between two looks at the notification log
FLUSH_TIMEOUT_S = 30.0  # a batch not acknowledged by then fails (the relay restarts)
SCHEMA_ENV = "YIDI_PG_SCHEMA"
TRANSACTIONAL_ID_ENV = "YIDI_RELAY_TRANSACTIONAL_ID"


# -- the event store ----------------------------------------------------------------------
def parse_dsn(dsn: str) -> dict[str, str]:
    """postgresql://user:password@host:port/dbname -> its parts."""
    url = urlparse(dsn)
    if url.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"YIDI_PG must be a postgresql:// URL, not {dsn!r}")
    return {
        "user": unquote(url.username or ""), "password": unquote(url.password or ""),
        "host": url.hostname or "127.0.0.1", "port": str(url.port or 5432),
        "dbname": (url.path or "/").lstrip("/") or "postgres",
    }


def pg_schema(env: Mapping[str, str] = os.environ) -> str:
    """The PostgreSQL schema for the event store and read models ('' = public)."""
    return env.get(SCHEMA_ENV, "").strip()


def _recorder_class() -> Any:
    """eventsourcing's PostgreSQL application recorder, inserting without pipeline mode.

    The library sends a batch's events in psycopg's pipeline mode; with batches of several
    MB (thousands of events) that intermittently deadlocks here (server waiting in
    ClientRead, client waiting in ``Pipeline.sync``: psycopg/psycopg#685). The same
    statements in one ordinary transaction — LOCK TABLE (commit order = id order), NOTIFY,
    INSERT ... RETURNING notification_id — cost one round trip more and never hang.
    """
    from eventsourcing.postgres import PostgresApplicationRecorder

    from psycopg.sql import SQL, Identifier

    class PostgresRecorderNoPipeline(PostgresApplicationRecorder):
        def _create_table(self, curs: Any) -> None:
            # eventsourcing runs its DDL (CREATE TABLE IF NOT EXISTS, CREATE OR REPLACE
            # FUNCTION ...) whenever a process opens the store: two at once fail with "tuple
            # concurrently updated" (or a duplicate pg_type row on a fresh schema). One at a
            # time, for as long as this transaction lasts.
            curs.execute("SELECT pg_advisory_xact_lock(hashtext('yidi-event-store-ddl'))")
            super()._create_table(curs)

        def insert_events(self, stored_events: Any, **kwargs: Any) -> Any:
            if not stored_events:
                return []
            with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor(binary=True) as curs:
                self._insert_events(curs, stored_events, **kwargs)
                self._insert_stored_events(curs, stored_events, **kwargs)
                return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

        def _insert_stored_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
            # Four plain arrays in binary instead of one array of a composite type dumped
            # as text (psycopg escapes every bytea state with a regex there): same rows,
            # same order, a few times less client CPU.
            self._lock_table(curs)
            self._notify_channel(curs)
            statement = SQL(
                "INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[]) "
                "RETURNING notification_id").format(
                Identifier(self.datastore.schema), Identifier(self.events_table_name))
            curs.execute(statement, (
                [e.originator_id for e in stored_events], [e.originator_version for e in stored_events],
                [e.topic for e in stored_events], [e.state for e in stored_events]))

    return PostgresRecorderNoPipeline


RECORDER_TOPIC = "consumers.relay:PostgresRecorderNoPipeline"


def __getattr__(name: str) -> Any:  # the recorder class is built lazily (psycopg import)
    if name == "PostgresRecorderNoPipeline":
        cls = _recorder_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


def event_store_env(dsn: str, schema: str | None = None) -> dict[str, str]:
    """The eventsourcing settings of the PostgreSQL event store named by ``dsn``."""
    parts = parse_dsn(dsn)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts["dbname"], "POSTGRES_HOST": parts["host"],
        "POSTGRES_PORT": parts["port"], "POSTGRES_USER": parts["user"],
        "POSTGRES_PASSWORD": parts["password"],
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "4",
        "POSTGRES_LOCK_TIMEOUT": "30",
        "APPLICATION_RECORDER_TOPIC": RECORDER_TOPIC,
    }
    schema = pg_schema() if schema is None else schema
    if schema:
        env["POSTGRES_SCHEMA"] = schema
    return env


def ensure_schema(dsn: str, schema: str) -> None:
    """CREATE SCHEMA IF NOT EXISTS (eventsourcing does not create schemas)."""
    if not schema:
        return
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    except psycopg2.errors.UniqueViolation:
        pass  # created concurrently
    finally:
        conn.close()


def open_event_store(dsn: str, schema: str | None = None) -> Any:
    """The PostgreSQL application recorder of the ledger's event store (tables created)."""
    from eventsourcing.persistence import InfrastructureFactory
    from eventsourcing.utils import Environment

    from ledger.service import Ledger, store_env

    schema = pg_schema() if schema is None else schema
    ensure_schema(dsn, schema)
    env = Environment(name=Ledger.name, env=store_env(event_store_env(dsn, schema)))
    factory = InfrastructureFactory.construct(env)
    return factory.application_recorder()


def last_fact_position(recorder: Any) -> int:
    """Position of the last fact in the event store (index events left out), 0 if none."""
    datastore = recorder.datastore
    from psycopg.sql import SQL, Identifier

    statement = SQL("SELECT notification_id FROM {}.{} WHERE topic = ANY(%s) ORDER BY notification_id DESC LIMIT 1").format(
        Identifier(datastore.schema), Identifier(recorder.events_table_name))
    with datastore.get_connection() as conn, conn.cursor() as cur:
        cur.execute(statement, (fact_topics(),))
        row = cur.fetchone()
    return int(row["notification_id"]) if row else 0


# -- progress ---------------------------------------------------------------------------
@dataclass
class Progress:
    """What the relay has committed to Kafka: the last position, and per partition the
    position of the last fact sent there (what a reader must reach to have everything)."""

    position: int = 0
    partitions: dict[int, int] = field(default_factory=dict)
    facts: int = 0

    def to_bytes(self, transactional_id: str) -> bytes:
        return orjson.dumps({"position": self.position, "facts": self.facts,
                             "partitions": {str(p): v for p, v in sorted(self.partitions.items())},
                             "transactional_id": transactional_id, "at": time.time()})

    @classmethod
    def from_bytes(cls, value: bytes) -> "Progress":
        data = orjson.loads(value)
        return cls(int(data["position"]), {int(p): int(v) for p, v in data.get("partitions", {}).items()},
                   int(data.get("facts", 0)))


def read_progress(bootstrap: str, prefix: str | None = None, timeout_s: float = 30.0) -> Progress:
    """The last committed progress record in yidi.relay (read_committed), or zero."""
    from kafka import KafkaConsumer, TopicPartition

    topic = topics.relay_topic(prefix)
    key = topics.facts_topic(prefix).encode()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed", group_id=None,
                             enable_auto_commit=False, client_id="yidi-relay-progress",
                             request_timeout_ms=int(timeout_s * 1000) + 5000, fetch_max_wait_ms=50)
    try:
        tp = TopicPartition(topic, 0)
        if consumer.partitions_for_topic(topic) is None:
            return Progress()
        consumer.assign([tp])
        end = consumer.end_offsets([tp])[tp]  # read_committed: the last stable offset
        begin = consumer.beginning_offsets([tp])[tp]
        window = 64
        while True:
            start = max(begin, end - window)
            consumer.seek(tp, start)
            found: bytes | None = None
            deadline = time.monotonic() + timeout_s
            while consumer.position(tp) < end:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read {topic} up to offset {end}")
                for records in consumer.poll(timeout_ms=200, max_records=10_000).values():
                    for record in records:
                        if record.key == key and record.value is not None:
                            found = record.value
            if found is not None:
                return Progress.from_bytes(found)
            if start <= begin:
                return Progress()
            window *= 8  # only aborted or foreign records in the window: look further back
    finally:
        consumer.close()


# -- catching up ------------------------------------------------------------------------
def lag(bootstrap: str, recorder: Any, models: Any, prefix: str | None = None) -> dict[str, Any]:
    """How far the read models are behind the event store (all zeros: caught up)."""
    target = last_fact_position(recorder)
    progress = read_progress(bootstrap, prefix)
    offsets = models.offsets()
    behind = {p: pos for p, pos in progress.partitions.items() if offsets.get(p, (-1, 0))[1] < pos}
    return {
        "last_fact_position": target,
        "relayed_position": progress.position,
        "relay_behind": max(0, target - progress.position),
        "partitions_behind": sorted(behind),
        "caught_up": progress.position >= target and not behind,
    }


def is_caught_up(bootstrap: str, recorder: Any, models: Any, prefix: str | None = None) -> bool:
    target = last_fact_position(recorder)
    progress = read_progress(bootstrap, prefix)
    if progress.position < target:
        return False
    offsets = models.offsets()
    return all(offsets.get(p, (-1, 0))[1] >= pos for p, pos in progress.partitions.items())



# -- the relay --------------------------------------------------------------------------
class Relay:
    def __init__(
        self,
        recorder: Any,
        bootstrap: str,
        prefix: str | None = None,
        transactional_id: str | None = None,
        batch_facts: int = BATCH_FACTS,
    ) -> None:
        self.recorder = recorder
        self.bootstrap = bootstrap
        self.prefix = topics.prefix(prefix)
        self.facts_topic = topics.facts_topic(self.prefix)
        self.relay_topic = topics.relay_topic(self.prefix)
        self.transactional_id = (transactional_id or os.environ.get(TRANSACTIONAL_ID_ENV)
                                 or f"{self.prefix}yidi-relay")
        self.batch_facts = batch_facts
        self.producer: Any = None
        self.progress = Progress()
        self._topics = fact_topics()
        self._partition_of: dict[str, int] = {}
        self.on_commit: Callable[[Progress, int], None] | None = None  # for tests and benchmarks

    # lifecycle
    def start(self) -> None:
        from kafka import KafkaProducer

        topics.ensure_topics(self.bootstrap, self.prefix)
        self.producer = KafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=f"yidi-relay-{os.getpid()}",
            transactional_id=self.transactional_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            batch_size=1 << 20,
            max_request_size=16 << 20,
            request_timeout_ms=30_000,
            transaction_timeout_ms=60_000,
            max_in_flight_requests_per_connection=5,
        )
        # Fences any earlier incarnation and resolves its open transaction BEFORE the
        # progress is read: what we read afterwards is final.
        self.producer.init_transactions()
        self.progress = read_progress(self.bootstrap, self.prefix)
        log.info("relay %s starts after position %d", self.transactional_id, self.progress.position)

    def close(self) -> None:
        if self.producer is not None:
            try:
                self.producer.close(timeout=5)
            finally:
                self.producer = None

    def partition_of(self, key: str) -> int:
        part = self._partition_of.get(key)
        if part is None:
            part = self._partition_of[key] = topics.partition_for(key)
        return part

    # work
    def read_batch(self) -> list[Any]:
        return list(self.recorder.select_notifications(
            start=self.progress.position + 1, limit=self.batch_facts, topics=self._topics))

    def run_once(self) -> int:
        """Publish the next batch of facts in one transaction; returns how many."""
        notifications = self.read_batch()
        if not notifications:
            return 0
        producer = self.producer
        send = producer.send
        topic = self.facts_topic
        loads = orjson.loads
        partitions = dict(self.progress.partitions)
        futures = []
        flushed = False
        producer.begin_transaction()
        try:
            for n in notifications:
                body = loads(n.state)["body"]
                key, value, headers = topics.encode_stored(body, n.id)
                part = self.partition_of(body["key"])
                partitions[part] = n.id
                futures.append(send(topic, value=value, key=key, headers=headers, partition=part))
            new = Progress(notifications[-1].id, partitions, self.progress.facts + len(notifications))
            futures.append(send(self.relay_topic, value=new.to_bytes(self.transactional_id), key=topic.encode(),
                                partition=0))
            # kafka-python commits a transaction even when some of its records failed (batches
            # expired while the broker was away): every record must be acknowledged first.
            producer.flush(timeout=FLUSH_TIMEOUT_S)
            flushed = True
            failed = next((f for f in futures if f.failed()), None)
            if failed is not None:
                raise failed.exception
            producer.commit_transaction()
        except BaseException:
            # Whatever happened, nothing of this batch counts: abort if we still can (not if
            # the producer is stuck: that abort would wait forever); a new incarnation's
            # init_transactions() aborts it otherwise.
            if flushed:
                try:
                    producer.abort_transaction()
                except Exception:  # noqa: BLE001 - the original error is what matters
                    pass
            raise
        self.progress = new
        if self.on_commit is not None:
            self.on_commit(new, len(notifications))
        return len(notifications)

    def caught_up(self) -> bool:
        return self.progress.position >= last_fact_position(self.recorder)

    def run(self, should_stop: Callable[[], bool] = lambda: False, until_caught_up: bool = False,
            poll_interval: float = POLL_INTERVAL_S) -> None:
        idle_since: float | None = None
        while not should_stop():
            sent = self.run_once()
            if sent:
                idle_since = None
                continue
            if until_caught_up and self.caught_up():
                return
            if idle_since is None:
                idle_since = time.monotonic()
            # back off gently when idle for long (bounded: latency stays ~poll_interval..50 ms)
            idle = time.monotonic() - idle_since
            time.sleep(poll_interval if idle < 1.0 else min(0.05, poll_interval * 10))


def run_relay(bootstrap: str, dsn: str, prefix: str | None = None, until_caught_up: bool = False,
              transactional_id: str | None = None) -> int:
    """The relay process: restart on transient failures (Kafka or PostgreSQL down); exit on
    fencing (another relay took over) or when caught up if asked. Returns an exit code."""
    from kafka.errors import KafkaError, ProducerFencedError

    stopping = {"flag": False}

    def stop(signum: int, frame: Any) -> None:
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    recorder = open_event_store(dsn)
    backoff = 0.5
    while not stopping["flag"]:
        relay = Relay(recorder, bootstrap, prefix, transactional_id)
        try:
            relay.start()
            backoff = 0.5
            relay.run(lambda: stopping["flag"], until_caught_up=until_caught_up)
            return 0
        except ProducerFencedError:
            log.error("relay %s was fenced by a newer relay with the same transactional.id: exiting",
                      relay.transactional_id)
            return 3
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("relay: Kafka error %r; restarting in %.1f s", exc, backoff)
        except Exception as exc:  # PostgreSQL errors come wrapped by eventsourcing
            if "Fenced" in type(exc).__name__:
                return 3
            log.warning("relay: error %r; restarting in %.1f s", exc, backoff)
        finally:
            relay.close()
        time.sleep(backoff)
        backoff = min(backoff * 2, 5.0)
    return 0
