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
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from consumers import topics  # noqa: E402
from ledger.config import Policy  # noqa: E402
from projections.fold import Projection, apply  # noqa: E402
from yidi.embedded import EmbeddedBackend  # noqa: E402
from yidi.ingest import Ingest, read_lines  # noqa: E402
from yidi.simulator import SimulationSpec, generate_lines  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="yidi-foldcost-"))
    try:
        spec = SimulationSpec(seed=args.seed, months=12, provinces=12, malformed_share=0.0,
                              settlements_per_month=max(1, int(args.records / 12 / 1.35)))
        source = work / "records.jsonl"
        with open(source, "w") as sink:
            for n, line in enumerate(generate_lines(spec)):
                if n >= args.records:
                    break
                sink.write(line)
        (work / "ledger").mkdir()
        backend = EmbeddedBackend(work / "ledger", Policy())
        pipeline = Ingest(backend, source.name, lambda _: None)
        with open(source, "rb") as handle:
            for line_no, raw in enumerate(read_lines(handle), 1):
                pipeline.feed(line_no, raw)
        pipeline.flush()
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
