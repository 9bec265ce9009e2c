"""Benchmark: faust processors, events/s per worker, beside the GROUP BY peer.

    eval "$(scripts/services up)"
    python bench/kafka_faust.py --records 200000 [--workers 1] [--batch 10000]

N simulated records are ingested in an embedded ledger and published by the real relay to
a fresh topic; then `yidi worker --processors-only --until-caught-up` (``--workers`` of them,
sharing the 8 partitions) folds everything into the PostgreSQL read models. The rate is
taken between 10 % and 90 % of the facts folded (PostgreSQL polled every 0.2 s), so that
start-up (group join, table recovery) is left out; the wall time is printed too. The digest
of the read models is checked equal to the embedded fold's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from groupby_peer import run_peer
from kafka_common import ROOT, drop, embedded_facts, fresh_names, load_average, publish, services


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10_000, help="stream.take batch size (YIDI_FAUST_BATCH)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    kafka, pg = services()
    prefix, schema = fresh_names("faust")

    import psycopg2

    from projections.fold import digest
    from projections.postgres_store import PostgresReadModels

    backend, work = embedded_facts(args.records)
    facts = backend.projection().facts
    reference = digest(backend.projection())
    procs: list[subprocess.Popen] = []
    try:
        publish(backend.recorder, kafka, prefix)
        env = {**os.environ, "YIDI_KAFKA": kafka, "YIDI_PG": pg, "YIDI_TOPIC_PREFIX": prefix, "YIDI_PG_SCHEMA": schema,
               "YIDI_FAUST_BATCH": str(args.batch), "PYTHONPATH": str(ROOT)}
        # the event store of this prefix is empty (the facts came from the embedded ledger):
        # run the workers without --until-caught-up and watch the read models instead
        models = PostgresReadModels(pg, f"{prefix}yidi.facts", schema)
        started = time.perf_counter()
        for i in range(args.workers):
            procs.append(subprocess.Popen([sys.executable, "-m", "yidi.cli", "worker", "--processors-only"], env=env,
                                          stdout=open(work / f"faust-{i}.log", "wb"), stderr=subprocess.STDOUT))
        conn = psycopg2.connect(pg)
        conn.autocommit = True
        samples = []
        while True:
            with conn.cursor() as cur:
                cur.execute(f'SELECT coalesce(sum(facts), 0) FROM "{schema}".yidi_read_partitions')
                done = int(cur.fetchone()[0])
            samples.append((time.perf_counter(), done))
            if done >= facts:
                break
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a worker exited early, see {work}")
            time.sleep(0.2)
        wall = time.perf_counter() - started
        t10 = next(t for t, n in samples if n >= facts * 0.1)
        n10 = next(n for t, n in samples if n >= facts * 0.1)
        t90 = next(t for t, n in samples if n >= facts * 0.9)
        n90 = next(n for t, n in samples if n >= facts * 0.9)
        rate = (n90 - n10) / (t90 - t10) if t90 > t10 else float("nan")
        state = models.projection()
        assert digest(state) == reference, "the read models differ from the embedded fold"
        print(f"faust processors, {args.workers} worker(s), batch {args.batch}, {facts:,} facts, "
              f"{os.cpu_count()} cores, load avg {load_average()}")
        print(f"  steady rate (10 %→90 %): {rate:,.0f} events/s in total, {rate / args.workers:,.0f} events/s per worker; "
              f"wall time incl. start-up {wall:.1f} s; digest matches the embedded mode")
        peer = run_peer(pg, schema + "_peer", backend.read_facts())
        print(f"  peer: INSERT events + postings {peer['load_events_per_s']:,.0f} events/s, "
              f"then balances by GROUP BY {peer['query_s'] * 1000:,.0f} ms")
        models.close()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        backend.close()
        if not args.keep:
            drop(kafka, pg, prefix, schema)
            drop(kafka, pg, prefix, schema + "_peer")


if __name__ == "__main__":
    main()
