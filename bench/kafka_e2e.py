"""Benchmark: end-to-end ingest through yidi → PostgreSQL event store → relay → Kafka →
faust → PostgreSQL read models, in settlements/s, and the latency from record to visible
balance (p50/p99) at a steady 2,000 settlements/s; beside the GROUP BY peer.

    eval "$(scripts/services up)"
    python bench/kafka_e2e.py --records 120000 --rate 2000 --latency-seconds 20

One simulated stream (12 provinces, a year) is cut in two: the first part is recorded at a
paced rate (batches every 50 ms) while a `yidi worker` (relay + processors) runs; for each
batch, the time from its commit in the event store to the moment every partition it touched
shows its last position in PostgreSQL (``yidi_read_partitions``, polled every 2 ms) is the
latency of each settlement in it. The rest is then recorded as fast as the ledger goes and
the throughput is settlements ÷ (first record → read models caught up).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson

from groupby_peer import run_peer
from kafka_common import ROOT, drop, fresh_names, load_average, percentile, services, simulate

BATCH_INTERVAL_S = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=120_000)
    parser.add_argument("--rate", type=int, default=2000, help="settlements/s of the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    kafka, pg = services()
    prefix, schema = fresh_names("e2e")
    os.environ.update({"YIDI_TOPIC_PREFIX": prefix, "YIDI_PG_SCHEMA": schema})

    import psycopg2

    from consumers import topics
    from ledger.config import Policy
    from ledger.records import parse_record
    from yidi.kafka_backend import KafkaBackend

    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"yidi-{schema}"
    work.mkdir(parents=True, exist_ok=True)
    source = work / "records.jsonl"
    simulate(source, args.records)
    policy = Policy()
    items = []
    for line_no, raw in enumerate(open(source, "rb"), 1):
        parsed = parse_record(orjson.loads(raw), policy)
        if parsed.command is not None:
            items.append((parsed.command, {"file": source.name, "line": line_no}))
    is_settlement = [type(c).__name__ == "Settle" for c, _ in items]

    backend = KafkaBackend(kafka, pg, policy, prefix, schema)
    env = {**os.environ, "YIDI_KAFKA": kafka, "YIDI_PG": pg, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-m", "yidi.cli", "worker"], env=env,
                              stdout=open(work / "worker.log", "wb"), stderr=subprocess.STDOUT)
    try:
        # warm up: the worker joins its group and sees a first fact
        first = items[:200]
        backend.record(first)
        backend.catch_up(timeout=120)
        cursor = len(first)

        # -- latency at a steady rate --------------------------------------------------
        per_batch_settlements = max(1, int(args.rate * BATCH_INTERVAL_S))
        pending: list[tuple[float, dict[int, int], int]] = []  # (t_commit, partition->position, settlements)
        latencies: list[float] = []
        lock = threading.Lock()
        stop = threading.Event()

        def poll() -> None:
            conn = psycopg2.connect(pg)
            conn.autocommit = True
            cur = conn.cursor()
            while not stop.is_set() or pending:
                cur.execute(f'SELECT partition, position FROM "{schema}".yidi_read_partitions WHERE topic = %s',
                            (topics.facts_topic(prefix),))
                seen = dict(cur.fetchall())
                now = time.perf_counter()
                with lock:
                    keep = []
                    for t_commit, need, n in pending:
                        if all(seen.get(p, 0) >= pos for p, pos in need.items()):
                            latencies.extend([now - t_commit] * n)
                        else:
                            keep.append((t_commit, need, n))
                    pending[:] = keep
                if stop.is_set() and time.perf_counter() > deadline:
                    break
                time.sleep(0.002)
            conn.close()

        deadline = float("inf")
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        started = time.perf_counter()
        next_tick = started
        paced_settlements = 0
        while time.perf_counter() - started < args.latency_seconds and cursor < len(items):
            batch, settled = [], 0
            while settled < per_batch_settlements and cursor < len(items):
                batch.append(items[cursor])
                settled += is_settlement[cursor]
                cursor += 1
            result = backend.record(batch)
            t_commit = time.perf_counter()
            need: dict[int, int] = {}
            for position, fact in result.facts:
                need[topics.partition_for(fact["key"])] = position
            accepted = sum(1 for (c, _), o in zip(batch, result.outcomes)
                           if type(c).__name__ == "Settle" and o.status == "accepted")
            paced_settlements += accepted
            if need:
                with lock:
                    pending.append((t_commit, need, accepted))
            next_tick += BATCH_INTERVAL_S
            time.sleep(max(0.0, next_tick - time.perf_counter()))
        paced_s = time.perf_counter() - started
        deadline = time.perf_counter() + 60
        stop.set()
        poller.join()
        print(f"end-to-end, {os.cpu_count()} cores, load avg {load_average()}")
        print(f"  latency at {paced_settlements / paced_s:,.0f} settlements/s for {paced_s:.0f} s "
              f"({len(latencies):,} settlements): record → visible balance "
              f"p50 {percentile(latencies, 50) * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms")

        # -- throughput --------------------------------------------------------------
        rest = items[cursor:]
        settlements = 0
        started = time.perf_counter()
        for i in range(0, len(rest), 4000):
            chunk = rest[i:i + 4000]
            result = backend.record(chunk)
            settlements += sum(1 for (c, _), o in zip(chunk, result.outcomes)
                               if type(c).__name__ == "Settle" and o.status == "accepted")
        recorded_s = time.perf_counter() - started
        backend.catch_up(timeout=1800)
        total_s = time.perf_counter() - started
        print(f"  throughput: {settlements:,} settlements ({len(rest):,} records) recorded in {recorded_s:.1f} s "
              f"({settlements / recorded_s:,.0f}/s into PostgreSQL); visible in the read models after "
              f"{total_s:.1f} s = {settlements / total_s:,.0f} settlements/s end to end")
        peer = run_peer(pg, schema + "_peer", backend.read_facts())
        print(f"  peer (events + postings INSERTed into one table): {peer['load_settlements_per_s']:,.0f} settlements/s; "
              f"its visible balance = one GROUP BY over {peer['events']:,} events: {peer['query_s'] * 1000:,.0f} ms")
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        backend.close()
        if not args.keep:
            drop(kafka, pg, prefix, schema)
            drop(kafka, pg, prefix, schema + "_peer")


if __name__ == "__main__":
    main()
