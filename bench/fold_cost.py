"""Benchmark: the CPU cost per fact of the work every replay must do, whatever it reads from.

    python bench/fold_cost.py --records 200000

A simulated ledger is ingested (embedded), its facts are encoded as they travel on Kafka
(orjson body, with ``position``), and the script times, in CPU time of one process, (1)
decoding the bodies with orjson and (2) decoding and folding them with
``projections.fold.apply``. Reading from Kafka comes on top. The figure bounds any replay
(`yidi replay`, `yidi replay --from-kafka`, the faust processors): facts/s per core ≤ 1 ÷
(decode + fold), and on N cores at most N times that.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import time

import orjson
from kafka_common import embedded_facts  # the same simulated ledger as the Kafka benchmarks

from consumers import topics
from projections.fold import Projection, apply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    backend, work = embedded_facts(args.records, args.seed)
    try:
        values = [topics.encode({k: v for k, v in f.items() if k != "position"}, f["position"])[1]
                  for f in backend.read_facts()]
        backend.close()

        gc.collect()
        gc.freeze()  # as the replay paths run: the long-lived heap is not rescanned
        n = len(values)
        loads = orjson.loads
        started = time.process_time()
        for value in values:
            loads(value)
        decode_s = time.process_time() - started
        state = Projection()
        started = time.process_time()
        for value in values:
            apply(state, loads(value))
        both_s = time.process_time() - started
        assert state.facts == n
        per_fact_us = both_s / n * 1e6
        print(f"{n:,} facts, {sum(map(len, values)) / n:,.0f} bytes each on the wire; load average "
              f"{os.getloadavg()[0]:.2f}")
        print(f"decode (orjson): {decode_s / n * 1e6:.2f} µs/fact; decode + fold: {per_fact_us:.2f} µs/fact "
              f"(fold alone ≈ {(both_s - decode_s) / n * 1e6:.2f} µs)")
        print(f"ceiling before any read: {1e6 / per_fact_us:,.0f} facts/s per core, "
              f"{(os.cpu_count() or 1) * 1e6 / per_fact_us:,.0f} on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
