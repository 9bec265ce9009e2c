"""Benchmark: ingest N simulated records into the embedded ledger, then replay them.

    python bench/ingest_replay.py --records 1000000 [--data-dir DIR] [--keep]
    python bench/ingest_replay.py --records 5000000     # ~1.02 * 10^7 events

Each record becomes about 2.05 stored events (the fact and its index entries). The resident
memory is printed as the stored events pass each power of ten from 10^6 (ingest) and as
the replay reads past the same positions, so "flat" can be read off directly.

Prints records/s for ingest (parse, decide, record in SQLite, fold), facts/s for a full
replay (read the log, fold every projection), the digests of both (they must be equal) and
the peak resident memory, sampled as the run goes so that a flat line shows it is streamed.
Not a test: figures depend on the machine; run it on a quiet one.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from consumers.eventlog import read_facts
from ledger.config import Policy
from projections.fold import Projection, apply, digest
from yidi.cli import tune_gc_for_bulk
from yidi.embedded import EmbeddedBackend
from yidi.ingest import Ingest, read_lines
from yidi.simulator import SimulationSpec, generate_lines


def rss_mib() -> float:
    """Current resident set size (Linux /proc), in MiB."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_children_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


class Milestones:
    """Prints the memory once as a growing count passes 10^6, 10^7, ..."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.next = 10**6

    def check(self, count: int) -> None:
        while count >= self.next:
            print(f"  {self.label} passed {self.next:,} events (at {count:,}): rss {rss_mib():.0f} MiB, "
                  f"peak rss {peak_rss_mib():.0f} MiB", flush=True)
            self.next *= 10


def write_records(path: Path, records: int, seed: int) -> int:
    months = 12
    spec = SimulationSpec(seed=seed, months=months, settlements_per_month=max(1, int(records / months / 1.35)),
                          provinces=12, malformed_share=0.001)
    count = 0
    with open(path, "w") as sink:
        for line in generate_lines(spec):
            sink.write(line)
            count += 1
            if count >= records:
                break
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    tune_gc_for_bulk()  # as `yidi ingest` does

    work = args.data_dir or Path(tempfile.mkdtemp(prefix="yidi-bench-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source = work / "records.jsonl"
    started = time.perf_counter()
    count = write_records(source, args.records, args.seed)
    print(f"simulated {count:,} records in {time.perf_counter() - started:.1f} s ({source.stat().st_size / 2**20:.0f} MiB)")

    home = work / "ledger"
    home.mkdir()
    backend = EmbeddedBackend(home, Policy())
    pipeline = Ingest(backend, source.name, lambda _: None)
    step = max(count // 10, 1)
    ingested = Milestones("ingest")
    started = time.perf_counter()
    with open(source, "rb") as handle:
        for line_no, raw in enumerate(read_lines(handle), 1):
            pipeline.feed(line_no, raw)
            if line_no % 20_000 == 0:
                ingested.check(backend.last_position())
            if line_no % step == 0:
                print(f"  {line_no:>10,} records  {line_no / (time.perf_counter() - started):>8,.0f} records/s  rss {rss_mib():7.0f} MiB", flush=True)
    pipeline.flush()
    backend.checkpoint()
    ingested.check(backend.last_position())
    events = backend.last_position()
    ingest_s = time.perf_counter() - started
    live = digest(backend.projection())
    facts = backend.projection().facts
    backend.close()
    print(f"ingest: {count:,} records in {ingest_s:.1f} s = {count / ingest_s:,.0f} records/s "
          f"({pipeline.counts.to_dict()}; {facts:,} facts = {facts / ingest_s:,.0f} facts/s; {events:,} events)")

    backend = EmbeddedBackend(home, Policy())
    started = time.perf_counter()
    single = Projection()
    replayed_to = Milestones("replay")
    for fact in read_facts(backend.recorder):
        apply(single, fact)
        if fact["position"] >= replayed_to.next:
            replayed_to.check(fact["position"])
    single_s = time.perf_counter() - started
    print(f"replay, 1 process through the eventsourcing recorder: {single.facts:,} facts in {single_s:.1f} s = "
          f"{single.facts / single_s:,.0f} facts/s")
    started = time.perf_counter()
    state = backend.replay(2)
    replay_s = time.perf_counter() - started
    replayed = state.facts
    rebuilt = digest(state)
    assert rebuilt == digest(single), "a sharded replay equals a sequential one"
    print(f"replay (`yidi replay`, 2 processes, SQL reader): {replayed:,} facts in {replay_s:.1f} s = {replayed / replay_s:,.0f} facts/s")
    print(f"digest live {live}\ndigest replay {rebuilt} {'(equal)' if live == rebuilt else '(DIFFERENT)'}")
    print(f"peak rss {peak_rss_mib():.0f} MiB (replay worker processes: {peak_children_rss_mib():.0f} MiB); store {sum(f.stat().st_size for f in home.iterdir()) / 2**20:.0f} MiB")
    backend.close()
    if not args.keep and args.data_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    if live != rebuilt:
        sys.exit(1)


if __name__ == "__main__":
    main()
