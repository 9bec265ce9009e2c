"""Replay from Kafka: every fact of yidi.facts from offset 0, read_committed, folded with the
one pure fold — what an auditor runs to rebuild the books from the audit log alone.

``read_topic_facts`` yields (partition, offset, fact), each partition in offset order (the
partitions are fetched together and interleave; a key lives in one partition, so every
key's chain comes in order).
``replay_from_kafka`` folds them; with ``workers > 1`` the partitions are split among
processes, each folds its share and the per-partition projections are merged
(``projections.fold.merge``): the fold is order-independent across keys, so the digest is
the same as a single-process fold — and as the embedded mode's.

The reader is aiokafka's consumer (C record parsing) with large fetches; values are decoded
with orjson.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from typing import Any, Iterable, Iterator

import orjson

from projections.fold import Projection, apply, merge

from . import topics

FETCH_MAX_BYTES = 64 << 20
PARTITION_FETCH_BYTES = 32 << 20


def _consumer(bootstrap: str) -> Any:
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        isolation_level="read_committed", auto_offset_reset="earliest",
        fetch_max_bytes=FETCH_MAX_BYTES, max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
        fetch_max_wait_ms=50, check_crcs=False,
    )


async def _partitions(consumer: Any, topic: str) -> list[int]:
    cluster = await consumer._client.fetch_all_metadata()
    parts = cluster.partitions_for_topic(topic)
    if parts is None:
        raise LookupError(f"no topic {topic} on the broker")
    return sorted(parts)


def topic_partitions(bootstrap: str, prefix: str | None = None) -> list[int]:
    async def run() -> list[int]:
        consumer = _consumer(bootstrap)
        await consumer.start()
        try:
            return await _partitions(consumer, topics.facts_topic(prefix))
        finally:
            await consumer.stop()

    return asyncio.run(run())


def read_topic_values(bootstrap: str, prefix: str | None = None,
                      partitions: Iterable[int] | None = None) -> Iterator[tuple[int, int, bytes]]:
    """(partition, offset, raw value) of every committed message, each partition in offset order."""
    from aiokafka import TopicPartition

    topic = topics.facts_topic(prefix)
    loop = asyncio.new_event_loop()

    async def start() -> tuple[Any, list[int]]:
        consumer = _consumer(bootstrap)
        await consumer.start()
        parts = list(partitions) if partitions is not None else await _partitions(consumer, topic)
        return consumer, parts

    async def open_partitions(consumer: Any, tps: list[Any]) -> dict[Any, int]:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        return {tp: int(end) for tp, end in (await consumer.end_offsets(tps)).items()}  # read_committed: LSO

    async def next_batch(consumer: Any, ends: dict[Any, int]) -> dict[Any, list[Any]] | None:
        pending = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
        if not pending:
            return None
        return await consumer.getmany(*pending, timeout_ms=1000, max_records=200_000)

    consumer, parts = loop.run_until_complete(start())
    try:
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return
        # every partition is fetched at once (the fetcher pipelines them); each partition's
        # records still come in offset order
        ends = loop.run_until_complete(open_partitions(consumer, tps))
        while True:
            batch = loop.run_until_complete(next_batch(consumer, ends))
            if batch is None:
                break
            for tp, records in batch.items():
                end = ends[tp]
                p = tp.partition
                for record in records:
                    if record.offset < end:
                        yield p, record.offset, record.value
    finally:
        loop.run_until_complete(consumer.stop())
        loop.close()


def read_topic_facts(bootstrap: str, prefix: str | None = None) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(partition, offset, fact) for every fact, all partitions from offset 0, read_committed,
    in per-partition offset order. Each fact carries its ``position``."""
    loads = orjson.loads
    for p, offset, value in read_topic_values(bootstrap, prefix):
        yield p, offset, loads(value)


def fold_partitions(bootstrap: str, prefix: str | None, partitions: Iterable[int]) -> Projection:
    state = Projection()
    loads = orjson.loads
    for _, _, value in read_topic_values(bootstrap, prefix, partitions):
        apply(state, loads(value))
    return state


def _fold_worker(args: tuple[str, str | None, list[int]]) -> bytes:
    bootstrap, prefix, parts = args
    return orjson.dumps(fold_partitions(bootstrap, prefix, parts).to_dict())


def replay_from_kafka(bootstrap: str, prefix: str | None = None, workers: int | None = None) -> Projection:
    """The projection of every committed fact in yidi.facts, folded with projections.fold."""
    prefix = topics.prefix(prefix)
    parts = topic_partitions(bootstrap, prefix)
    if workers is None:
        workers = min(len(parts), os.cpu_count() or 1)
    workers = max(1, min(workers, len(parts)))
    if workers == 1:
        return fold_partitions(bootstrap, prefix, parts)
    shares = [parts[i::workers] for i in range(workers)]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        blobs = pool.map(_fold_worker, [(bootstrap, prefix, share) for share in shares])
    return merge(Projection.from_dict(orjson.loads(blob)) for blob in blobs)
