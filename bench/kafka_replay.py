"""Benchmark: replay from Kafka (read_committed, offset 0) vs the GROUP BY peer.

    eval "$(scripts/services up)"
    python bench/kafka_replay.py --records 300000

1. N simulated records are ingested in an embedded ledger (the quickest way to a realistic,
   chained fact log) and published by the real relay to a fresh <prefix>yidi.facts
   (kafka-python transactional producer): the relay's facts/s is printed too.
2. Replay: ``read_topic_facts`` (read + decode), ``replay_from_kafka`` with 1 process and
   with one process per core (read + decode + fold + merge), digest checked equal to the
   embedded fold's.
3. The peer (bench/groupby_peer.py): the same facts' postings in one PostgreSQL table,
   balances by GROUP BY.
"""

from __future__ import annotations

import argparse
import os
import time

from groupby_peer import run_peer
from kafka_common import drop, embedded_facts, fresh_names, load_average, publish, services


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    kafka, pg = services()
    prefix, schema = fresh_names("replay")

    from consumers.kafka_replay import read_topic_facts, replay_from_kafka
    from projections.fold import digest

    started = time.perf_counter()
    backend, _ = embedded_facts(args.records)
    reference = digest(backend.projection())
    facts = backend.projection().facts
    print(f"{args.records:,} records -> {facts:,} facts in the embedded ledger ({time.perf_counter() - started:.0f} s); "
          f"{os.cpu_count()} cores, load avg {load_average()}")
    try:
        sent, seconds = publish(backend.recorder, kafka, prefix)
        assert sent == facts
        print(f"relay (kafka-python, transactional, 20k facts/txn): {sent / seconds:,.0f} facts/s")

        started = time.perf_counter()
        n = sum(1 for _ in read_topic_facts(kafka, prefix))
        read_s = time.perf_counter() - started
        assert n == facts
        print(f"read_topic_facts (aiokafka, read_committed, orjson): {n / read_s:,.0f} events/s ({read_s:.2f} s)")
        for workers in (1, os.cpu_count() or 1):
            started = time.perf_counter()
            state = replay_from_kafka(kafka, prefix, workers=workers)
            replay_s = time.perf_counter() - started
            assert state.facts == facts and digest(state) == reference, "replay digest differs from the embedded fold"
            print(f"replay_from_kafka, {workers} process(es) (read + decode + fold + merge): "
                  f"{facts / replay_s:,.0f} events/s ({replay_s:.2f} s), digest matches the embedded mode")
        peer = run_peer(pg, schema, backend.read_facts())
        print(f"peer: balances by GROUP BY over {peer['events']:,} events' postings: {peer['query_s'] * 1000:,.0f} ms "
              f"= {peer['query_events_per_s']:,.0f} events/s (after loading them at {peer['load_events_per_s']:,.0f} events/s)")
    finally:
        backend.close()
        if not args.keep:
            drop(kafka, pg, prefix, schema)


if __name__ == "__main__":
    main()
