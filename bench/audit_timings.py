"""Benchmark: audit operations on an existing embedded ledger, beside a full replay.

    python bench/ingest_replay.py --records 1000000 --data-dir /tmp/yidi-1m --keep
    python bench/audit_timings.py /tmp/yidi-1m/ledger

Prints the seconds for: a full replay (fold of every fact), `verify` (every chain, every
position, the recorded heads), balances `--as-of` a month end and `--as-of-position` (both
from the nearest snapshot), and a `trace` of one busy account, and checks that each as-of
result equals a full fold filtered the same way.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from consumers.verify import verify_event_store
from ledger.config import Policy
from projections.audit import trace
from projections.fold import Projection, apply, digest, fold
from yidi.cli import tune_gc_for_bulk
from yidi.embedded import EmbeddedBackend


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    print(f"{label:<44} {time.perf_counter() - started:8.2f} s", flush=True)
    return result


def main() -> None:
    home = Path(sys.argv[1])
    tune_gc_for_bulk()
    backend = EmbeddedBackend(home, Policy())
    state = timed("full replay (read + fold every fact)", lambda: fold(backend.read_facts()))
    print(f"  {state.facts:,} facts, digest {digest(state)[:16]}… (live {digest(backend.projection())[:16]}…)")
    verifier = timed("verify (chains, positions, heads)", lambda: verify_event_store(backend.recorder, backend.projection().heads))
    print(f"  {verifier.count:,} facts, {verifier.last_position:,} events, {len(verifier.heads)} chains")
    periods = sorted(state.periods) or [state.latest_time[:7]]
    month = periods[len(periods) // 2]
    cutoff = f"{month}-28 23:59:59"
    past = timed(f"balances --as-of '{cutoff}' (snapshot + rest)", lambda: backend.projection_as_of(cutoff))

    def filtered() -> Projection:
        s = Projection()
        for fact in backend.read_facts():
            if fact["time"] <= cutoff:
                apply(s, fact)
        return s

    same = timed("  the same by a full filtered replay", filtered)
    print(f"  equal: {digest(past) == digest(same)}")
    position = backend.position // 2
    at = timed(f"balances --as-of-position {position:,}", lambda: backend.projection_at_position(position))
    full_at = timed("  the same by a replay from 0", lambda: fold(backend.read_facts(upto=position)))
    print(f"  equal: {digest(at) == digest(full_at)}")
    account = max(state.balances, key=lambda a: abs(state.balances[a]))
    result = timed(f"trace {account}", lambda: trace(backend.read_facts(), account, limit=10))
    print(f"  {result['postings']:,} postings, sum {result['balance_fen']} = balance {state.balances[account]}")
    backend.close()


if __name__ == "__main__":
    main()
