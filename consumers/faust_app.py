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
import time
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
# The faust tables are views: a partition's entries are rewritten at most this often
# (and whenever the partition is loaded), not after every batch.
TABLE_REFRESH_S = float(os.environ.get("YIDI_FAUST_TABLE_REFRESH", "1.0"))


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

    setattr(cls, "_create_worker_consumer", _create_worker_consumer)
    setattr(cls, "_yidi_read_committed", True)


def _direct_delivery() -> None:
    """faust's consumer hands every message to the conductor through
    ``wait_first(callback(message), suspend_flow.wait())``: two tasks and an ``asyncio.wait``
    per message, the largest cost of a faust worker here (measured: ~3 event-loop turns per
    event). While the flow is not suspended (no rebalance in progress) the callback is
    awaited directly; during a suspension, faust's own path is kept. Same ordering, same
    back-pressure (the callback still waits on a full stream buffer)."""
    from faust.transport import consumer as consumer_module

    cls = consumer_module.Consumer
    if getattr(cls, "_yidi_direct_delivery", False):
        return

    async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover - faust internals
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        suspended = self.suspend_flow.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = consumer_module.CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset:
                                if acks_enabled_for(message.topic):
                                    await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None:
                                if self._n_acked >= commit_every:
                                    self._n_acked = 0
                                    await self.commit()
                            if suspended():
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            else:
                                await callback(message)
                            set_read_offset(tp, offset)
                    unset_flag(flag_consumer_fetching)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)

    setattr(cls, "_drain_messages", _drain_messages)
    setattr(cls, "_yidi_direct_delivery", True)


def broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


GAP_FILL_TIMEOUT_S = 60.0  # bound on reading the offsets a restarted consumer skipped
# faust drops (and acknowledges) messages that reach a stream while its flow is suspended or
# from an older consumer generation: around a (re)start or a rebalance, a run of committed
# facts can never be delivered to the agent. A gap before a later message is filled when
# that message arrives (BatchFolder); a dropped *tail* has no later message, so a timer
# checks every assigned partition that has been idle this long and reads what lies between
# its saved offset and the partition's end straight from Kafka.
TAIL_CHECK_S = float(os.environ.get("YIDI_FAUST_TAIL_CHECK", "1.0"))
TAIL_IDLE_S = float(os.environ.get("YIDI_FAUST_TAIL_IDLE", "2.0"))


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
    from faust.exceptions import PartitionsMismatch
    from faust.streams import _current_event

    _read_committed_consumers()
    if os.environ.get("YIDI_FAUST_DIRECT", "1") != "0":
        _direct_delivery()
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
        # a SIGKILLed worker's partitions are reassigned after this (default 60 s)
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
    )
    facts_topic = app.topic(facts_name, key_type=bytes, value_type=bytes, key_serializer="raw",
                            value_serializer="raw", partitions=topics.PARTITIONS, internal=False)
    alerts_topic = app.topic(topics.alerts_topic(prefix), key_type=bytes, value_type=bytes, key_serializer="raw",
                             value_serializer="raw", partitions=topics.ALERT_PARTITIONS, internal=False)
    floats_table = app.Table("floats", default=None, partitions=topics.PARTITIONS, key_type=str)
    balances_table = app.Table("balances", default=None, partitions=topics.PARTITIONS, key_type=str)
    provinces_table = app.Table("provinces", default=None, partitions=topics.PARTITIONS, key_type=str)

    models = PostgresReadModels(dsn, facts_name, schema)
    fetch = partition_reader(bootstrap, facts_name)
    folder = BatchFolder(models, policy, fetch=fetch)
    ends = end_offsets_reader(bootstrap, facts_name)
    fold_lock = asyncio.Lock()  # the agent and the tail check fold one batch at a time
    delivered: dict[int, float] = {}  # partition -> when faust last delivered a message of it
    tail_seen: dict[int, tuple[int, int]] = {}  # partition -> (saved offset, end) last found complete
    setattr(app, "yidi_folder", folder)  # for tests and benchmarks
    setattr(app, "yidi_models", models)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
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
    refreshed: dict[int, float] = {}  # partition -> when its table entries were last written

    def put(table: Any, key: str, value: Any) -> None:
        if written.get((table.name, key)) != value:
            try:
                table[key] = value
            except PartitionsMismatch:  # changelog metadata not loaded yet: next batch
                return
            written[(table.name, key)] = value

    def refresh_tables(events_by_partition: dict[int, Any], partitions: dict[int, Any]) -> None:
        if os.environ.get("YIDI_FAUST_TABLES", "1") == "0":
            return
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
        # Nothing may escape this loop body: faust acks a batch's events when the body
        # returns *or raises*, and acked offsets get committed. A batch is acked only once
        # its read models are saved; a fault we cannot repair ends the process at once
        # (os._exit), so that a restart resumes from the offsets saved with the states.
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            try:
                messages = [Message(e.message.partition, e.message.offset, e.message.value) for e in events]
                last_event = {e.message.partition: e for e in events}
                now = time.monotonic()
                delivered.update({p: now for p in last_event})
                async with fold_lock:
                    loaded_before = set(folder.parts)
                    result = await save_batch(messages)
            except BaseException as exc:  # noqa: BLE001 - incl. cancellation of an unsaved batch
                _die(exc)
            try:
                now = time.monotonic()
                fresh = {p: s for p, s in folder.parts.items() if p in last_event and (
                    p not in loaded_before or p not in refreshed or (
                        p in result.partitions and now - refreshed[p] >= TABLE_REFRESH_S))}
                refresh_tables(last_event, fresh)
                refreshed.update({p: now for p in fresh})
                if on_batch is not None:
                    on_batch(result)
            except Exception as exc:  # noqa: BLE001 - the tables are views, rebuilt next batch
                log.warning("refreshing the faust tables failed: %r", exc)

    async def save_batch(messages: list[Message]) -> Any:
        from projections.postgres_store import StaleState

        from .faust_processor import ChainGap

        delay = 0.5
        gaps = 0
        while True:
            try:
                updates, result = folder.fold(messages)
                if result.alerts:
                    await publish_alerts(result.alerts)
                models.commit(updates)
                return result
            except StaleState as exc:  # another worker moved the row: reload and redo
                folder.forget({m.partition for m in messages})
                log.warning("%s: folding the batch again", exc)
            except ChainGap as exc:
                # A state held in memory may be stale (the partition went to another worker
                # and came back): reload it from PostgreSQL and fold again. A gap that
                # persists means the consumer is past the saved offset (or a fact is missing
                # from the topic): stop rather than miscount (see docs/kafka.md).
                folder.forget({m.partition for m in messages})
                gaps += 1
                if gaps > 1:
                    raise
                log.warning("%s: reloading the partitions from PostgreSQL", exc)
            except Exception as exc:  # noqa: BLE001 - PostgreSQL or Kafka away: wait, redo
                folder.forget({m.partition for m in messages})
                log.warning("saving the read models failed (%r); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                _reconnect(models)

    @app.timer(TAIL_CHECK_S)
    async def fill_dropped_tails() -> None:
        try:
            assigned = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == facts_name)
        except Exception:  # noqa: BLE001 - not started / rebalancing: next tick
            return
        now = time.monotonic()
        idle = [p for p in assigned if now - delivered.get(p, 0.0) >= TAIL_IDLE_S]
        if not idle:
            return
        loop = asyncio.get_running_loop()
        try:
            end = await loop.run_in_executor(None, ends, idle)
        except Exception as exc:  # noqa: BLE001 - broker away: next tick
            log.info("tail check: end offsets unavailable (%r)", exc)
            return
        async with fold_lock:
            try:  # the saved offsets of partitions not loaded yet: one query, not one per partition
                unloaded = {} if all(p in folder.parts for p in idle) else models.offsets()
            except Exception as exc:  # noqa: BLE001 - PostgreSQL away: next tick
                log.warning("tail check: saved offsets unavailable (%r)", exc)
                _reconnect(models)
                return
            for p in idle:
                try:
                    folder_state = folder.parts.get(p)
                    saved = folder_state.offset if folder_state is not None else unloaded.get(p, (-1, 0))[0]
                    # after the last folded fact come at least its transaction's marker
                    if end.get(p, 0) <= saved + 2 or tail_seen.get(p) == (saved, end[p]):
                        continue
                    missing = await loop.run_in_executor(None, fetch, p, saved + 1, end[p])
                    missing = [m for m in missing if m.offset > saved]
                    if not missing:
                        tail_seen[p] = (saved, end[p])  # markers and aborted facts only
                        continue
                    log.warning("partition %s: %s committed messages after the saved offset %s were not "
                                "delivered by the consumer: folding them from the partition", p, len(missing), saved)
                    result = await save_batch(missing)
                    if on_batch is not None:
                        on_batch(result)
                except Exception as exc:  # noqa: BLE001 - retried next tick
                    log.warning("tail check of partition %s failed: %r", p, exc)
                    folder.forget({p})
                    _reconnect(models)  # PostgreSQL may have gone away while the stream was idle
                    break

    if until_caught_up is not None:
        @app.timer(0.5)
        async def check_caught_up() -> None:
            loop = asyncio.get_running_loop()
            if await loop.run_in_executor(None, until_caught_up):
                log.info("caught up: stopping")
                os.kill(os.getpid(), __import__("signal").SIGTERM)

    return app


def _die(exc: BaseException) -> None:
    """End the worker now, without letting faust ack or commit anything more (a stop
    request that lands while a batch is unsaved ends here too: exit code 70)."""
    if isinstance(exc, asyncio.CancelledError):
        log.warning("stopped while a batch was being saved: exiting without acknowledging it")
    else:
        log.critical("processor stopped: %r", exc, exc_info=exc)
    logging.shutdown()
    sys.stderr.flush()
    os._exit(70)


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


def partition_reader(bootstrap: str, topic: str) -> Any:
    """Read the committed messages of one partition in [start, end), in order.

    One plain consumer, created on first use and kept (a read is usually the one-offset
    range of a transaction marker: a seek and a fetch, not a new connection); dropped and
    made again after an error."""
    holder: dict[str, Any] = {}

    def fetch(partition: int, start: int, end: int) -> list[Message]:
        from kafka import KafkaConsumer, TopicPartition

        assert 0 <= start <= end, (partition, start, end)
        if start == end:
            return []
        consumer = holder.get("consumer")
        if consumer is None:
            consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                     isolation_level="read_committed", client_id="yidi-processor-gapfill",
                                     fetch_max_wait_ms=50)
            holder["consumer"] = consumer
        tp = TopicPartition(topic, partition)
        try:
            if consumer.assignment() != {tp}:
                consumer.assign([tp])
            consumer.seek(tp, start)
            found: list[Message] = []
            deadline = time.monotonic() + GAP_FILL_TIMEOUT_S
            while consumer.position(tp) < end:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read partition {partition} offsets {start}..{end} in time")
                # short polls: a range that ends in a transaction marker at the end of the
                # partition yields no record, only a moved position (a long poll would wait
                # its whole timeout for records that are not there)
                for records in consumer.poll(timeout_ms=1).values():
                    found.extend(Message(r.partition, r.offset, r.value) for r in records if start <= r.offset < end)
            return found
        except Exception:
            holder.pop("consumer", None)
            consumer.close()
            raise

    return fetch


def end_offsets_reader(bootstrap: str, topic: str) -> Any:
    """partitions -> their end offsets as a read_committed consumer sees them (the last
    stable offset). One consumer, created on first use, kept for the process's life."""
    holder: dict[str, Any] = {}

    def ends(partitions: list[int]) -> dict[int, int]:
        from kafka import KafkaConsumer, TopicPartition

        consumer = holder.get("consumer")
        if consumer is None:
            consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                     isolation_level="read_committed", client_id="yidi-processor-tails")
            holder["consumer"] = consumer
        try:
            found = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        except Exception:
            holder.pop("consumer", None)
            consumer.close()
            raise
        return {tp.partition: int(o) for tp, o in found.items()}

    return ends


def align_group_offsets(bootstrap: str, group: str, topic: str, saved: dict[int, tuple[int, int]],
                        wait_s: float = 15.0) -> dict[int, int]:
    """Before the processors join their consumer group, set the group's committed offset of
    every partition to the offset saved with that partition's read model + 1 (0 if none).
    Returns the partitions changed (partition -> new offset).

    faust acknowledges (so commits) messages it drops around a start or a rebalance
    (docs/kafka.md), so a committed offset can be past the saved state; the processors read
    such skipped ranges back, and this makes a restart start where the read models stand. Kafka accepts this only while the group has no
    member: a SIGKILLed worker's membership lasts up to the session timeout (10 s), so this
    waits up to ``wait_s``; with other workers alive it leaves the offsets as they are.
    """
    from kafka.admin import KafkaAdminClient
    from kafka.structs import OffsetAndMetadata

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="yidi-processors-align")
    try:
        deadline = time.monotonic() + wait_s
        while True:
            state = admin.describe_groups([group]).get(group) or {}
            if state.get("group_state") in ("Empty", "Dead", None):
                break
            if time.monotonic() > deadline:
                log.warning("consumer group %s has live members: committed offsets left as they are", group)
                return {}
            time.sleep(0.5)
        committed = admin.list_group_offsets(group).get(group) or {}
        log.info("group %s committed %s; saved %s", group,
                 sorted((tp.partition, m.offset) for tp, m in committed.items() if tp.topic == topic),
                 sorted((p, o) for p, (o, _) in saved.items()))
        from kafka import TopicPartition

        partitions = admin.describe_topics([topic])[0]["partitions"]
        changes = {}
        drops: list[Any] = []
        for part in partitions:
            tp = TopicPartition(topic, part["partition_index"])
            want = saved.get(tp.partition, (-1, 0))[0] + 1
            meta = committed.get(tp)
            if want == 0:
                # nothing saved: no committed offset at all (auto_offset_reset=earliest);
                # faust treats a committed offset of 0 as "none" in places (falsy checks)
                if meta is not None and meta.offset is not None and meta.offset >= 0:
                    drops.append(tp)
            elif meta is None or meta.offset != want:
                changes[tp] = OffsetAndMetadata(want, "", -1)
        if changes:
            log.warning("moving committed offsets of %s back to the saved read models: %s", group,
                        {tp.partition: m.offset for tp, m in changes.items()})
            admin.alter_group_offsets(group, changes)
        if drops:
            log.info("deleting committed offsets of %s for partitions with no saved state: %s", group,
                     sorted(tp.partition for tp in drops))
            admin.delete_group_offsets(group, drops)
        return {tp.partition: m.offset for tp, m in changes.items()}
    finally:
        admin.close()


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
    saved = PostgresReadModels(dsn, topics.facts_topic(prefix), schema)
    try:
        align_group_offsets(bootstrap, app.conf.id, topics.facts_topic(prefix), saved.offsets())
    except Exception as exc:  # noqa: BLE001 - a safety net; the chain check still guards
        log.warning("could not check the group's committed offsets: %r", exc)
    finally:
        saved.close()
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False, stdout=sys.stderr)
    worker.spinner = None  # no terminal spinner: stdout stays clean for scripts
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
