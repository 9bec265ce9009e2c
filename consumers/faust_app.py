"""The faust-streaming processors: yidi.facts → the one fold → PostgreSQL read models,
faust tables and float alerts.

    agent ``fold`` (concurrency 1)   takes batches (``stream.take_events(n, within)``), folds
                                     them per partition with ``projections.fold.apply``
                                     (consumers/faust_processor.py), produces alerts to
                                     yidi.alerts, saves each partition's (state, offset) to
                                     PostgreSQL in one transaction, then refreshes the tables
    table ``floats``                 pair → float_fen, outstanding_fen, usage_pct, level
    table ``balances``               partition → {account: fen} (that partition's share; Σ
                                     over the 8 keys = balances per account)
    table ``provinces``              partition → {place: {insured_payable_fen, ...}} (idem)

The tables are co-partitioned with yidi.facts (a key's changelog partition is the source
partition it was folded from) and are *views*: PostgreSQL holds the truth, with the offset
in the same row, and a partition's table entries are rewritten from PostgreSQL whenever the
partition is (re)loaded. faust's own guarantee stays ``at_least_once`` (its EOS mode has
open bugs, see docs/kafka.md); the consumer is switched to ``read_committed`` so that facts
of an aborted relay transaction are never seen.

Scale out by running more workers (same YIDI_TOPIC_PREFIX): the 8 partitions are shared
among them; keep concurrency 1 (faust-streaming/faust#606).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import weakref
from typing import Any, Callable

from ledger.config import Policy
from projections import views
from projections.postgres_store import PostgresReadModels

from . import topics
from .faust_processor import BatchFolder, Message, alert_message

log = logging.getLogger("yidi.faust")

BATCH_MAX = int(os.environ.get("YIDI_FAUST_BATCH", "10000"))
BATCH_WITHIN_S = float(os.environ.get("YIDI_FAUST_WITHIN", "0.02"))


def _read_committed_consumers() -> None:
    """faust creates its aiokafka consumer with isolation_level=read_uncommitted unless it
    runs exactly_once; the relay writes in transactions, so read only committed facts."""
    from faust.transport.drivers import aiokafka as driver

    cls = driver.AIOKafkaConsumerThread
    if getattr(cls, "_yidi_read_committed", False):
        return
    original = cls._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._isolation_level = "read_committed"  # read by AIOKafkaConsumer.start()
        return consumer

    cls._create_worker_consumer = _create_worker_consumer
    cls._yidi_read_committed = True


def broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def create_app(
    bootstrap: str,
    dsn: str,
    policy: Policy,
    prefix: str | None = None,
    schema: str = "",
    datadir: str | None = None,
    on_batch: Callable[[Any], None] | None = None,
    until_caught_up: Callable[[], bool] | None = None,
) -> Any:
    """The faust App of the processors (not started)."""
    import faust
    from faust.streams import _current_event

    _read_committed_consumers()
    prefix = topics.prefix(prefix)
    facts_name = topics.facts_topic(prefix)
    app = faust.App(
        f"{prefix}yidi-processors",
        broker=broker_urls(bootstrap),
        store="memory://",
        datadir=datadir or tempfile.mkdtemp(prefix="yidi-faust-"),
        web_enabled=False,
        topic_partitions=topics.PARTITIONS,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        table_standby_replicas=0,
        stream_buffer_maxsize=max(BATCH_MAX * 2, 4096),
        broker_max_poll_records=BATCH_MAX,
        consumer_max_fetch_size=16 << 20,
        producer_acks=-1,
        producer_linger_ms=1,
        broker_commit_every=BATCH_MAX,
        broker_commit_interval=1.0,
        table_cleanup_interval=3600.0,
    )
    facts_topic = app.topic(facts_name, key_type=bytes, value_type=bytes, key_serializer="raw",
                            value_serializer="raw", partitions=topics.PARTITIONS, internal=False)
    alerts_topic = app.topic(topics.alerts_topic(prefix), key_type=bytes, value_type=bytes, key_serializer="raw",
                             value_serializer="raw", partitions=topics.ALERT_PARTITIONS, internal=False)
    floats_table = app.Table("floats", default=None, partitions=topics.PARTITIONS, key_type=str)
    balances_table = app.Table("balances", default=None, partitions=topics.PARTITIONS, key_type=str)
    provinces_table = app.Table("provinces", default=None, partitions=topics.PARTITIONS, key_type=str)

    models = PostgresReadModels(dsn, facts_name, schema)
    folder = BatchFolder(models, policy)
    app.yidi_folder = folder  # for tests and benchmarks
    app.yidi_models = models

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: Any = None, **kwargs: Any) -> None:
        parts = {tp.partition for tp in (revoked or ()) if tp.topic == facts_name}
        folder.forget(parts)

    async def publish_alerts(alerts: list[dict[str, Any]]) -> None:
        pending = []
        for alert in alerts:
            key, value, headers = alert_message(alert)
            pending.append(await alerts_topic.send(key=key, value=value, headers=headers))
        for fut in pending:
            await fut  # delivered before the batch is saved: at least once

    written: dict[tuple[str, str], Any] = {}  # what this worker last wrote, per table key

    def put(table: Any, key: str, value: Any) -> None:
        if written.get((table.name, key)) != value:
            table[key] = value
            written[(table.name, key)] = value

    def refresh_tables(events_by_partition: dict[int, Any], partitions: dict[int, Any]) -> None:
        for p, state in partitions.items():
            token = _current_event.set(weakref.ref(events_by_partition[p]))
            try:  # table writes go to changelog partition p, the partition they come from
                for row in views.floats(state.state, policy):
                    put(floats_table, f"{row['insured']}>{row['treatment']}", row)
                put(balances_table, str(p), views.balances(state.state))
                put(provinces_table, str(p), {r["code"]: r for r in views.provinces(state.state)})
            finally:
                _current_event.reset(token)

    @app.agent(facts_topic, concurrency=1)
    async def fold(stream: Any) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            messages = [Message(e.message.partition, e.message.offset, e.message.value) for e in events]
            last_event = {e.message.partition: e for e in events}
            loaded_before = set(folder.parts)
            while True:
                try:
                    updates, result = folder.fold(messages)
                    if result.alerts:
                        await publish_alerts(result.alerts)
                    models.commit(updates)
                    break
                except Exception as exc:  # a stale row, PostgreSQL away: reload and redo
                    from projections.postgres_store import StaleState

                    folder.forget({m.partition for m in messages})
                    if isinstance(exc, StaleState):
                        log.warning("%s: folding the batch again", exc)
                        continue
                    from .faust_processor import ChainGap

                    if isinstance(exc, ChainGap):
                        raise
                    log.warning("saving the read models failed (%r); retrying in 1 s", exc)
                    await asyncio.sleep(1.0)
                    _reconnect(models)
            fresh = {p: s for p, s in folder.parts.items() if p in last_event and (
                p in result.partitions or p not in loaded_before)}
            refresh_tables(last_event, fresh)
            if on_batch is not None:
                on_batch(result)

    if until_caught_up is not None:
        @app.timer(0.5)
        async def check_caught_up() -> None:
            loop = asyncio.get_running_loop()
            if await loop.run_in_executor(None, until_caught_up):
                log.info("caught up: stopping")
                os.kill(os.getpid(), __import__("signal").SIGTERM)

    return app


def _reconnect(models: PostgresReadModels) -> None:
    import psycopg2

    try:
        models.conn.close()
    except Exception:  # noqa: BLE001
        pass
    try:
        models.conn = psycopg2.connect(models.dsn, connect_timeout=10)
    except psycopg2.Error as exc:
        log.warning("PostgreSQL still unavailable: %r", exc)


def run_worker(bootstrap: str, dsn: str, policy: Policy, prefix: str | None = None, schema: str = "",
               until_caught_up: bool = False, loglevel: str = "warning") -> int:
    """Run the processors in this process until SIGTERM/SIGINT (or until caught up)."""
    import faust

    check = None
    if until_caught_up:
        from .relay import is_caught_up, open_event_store

        recorder = open_event_store(dsn, schema)
        checker_models = PostgresReadModels(dsn, topics.facts_topic(prefix), schema)

        def check() -> bool:
            try:
                return is_caught_up(bootstrap, recorder, checker_models, prefix)
            except Exception as exc:  # noqa: BLE001 - a transient failure is "not yet"
                log.info("catch-up check failed: %r", exc)
                try:
                    checker_models.conn.rollback()
                except Exception:  # noqa: BLE001
                    _reconnect(checker_models)
                return False

    topics.ensure_topics(bootstrap, prefix)
    app = create_app(bootstrap, dsn, policy, prefix, schema, until_caught_up=check)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False, stdout=sys.stderr)
    worker.spinner = None  # no terminal spinner: stdout stays clean for scripts
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
