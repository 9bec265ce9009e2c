"""Long hostile-input run (issue 7): N mutated/garbage/history-violating records against the
embedded ledger; prints how many were fed, their outcomes, and every failure with its seed.

    python bench/fuzz_hostile.py --cases 100000 [--seed 1]

A failure is an exception from the ledger, a rejection without a named field, a rejected
record that changed the books, or an always-invalid mutation that was accepted. Re-run one
case with --seed <seed> --cases 1.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import helpers as h  # noqa: E402
from tests.faults.test_hostile import check_one  # noqa: E402
from tests.hostile import base_context, hostile_case  # noqa: E402

CASES_PER_LEDGER = 2_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    context = base_context()
    work = Path(tempfile.mkdtemp(prefix="yidi-fuzz-"))
    outcomes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    failures: list[str] = []
    started = time.perf_counter()
    backend = None
    try:
        for case in range(args.cases):
            if case % CASES_PER_LEDGER == 0:
                if backend is not None:
                    backend.close()
                backend = h.ledger_with(work, name=f"l{case}")
                h.ingest(backend, context["history"])
            seed = args.seed * 1_000_003 + case
            rng = random.Random(seed)
            kind, record = hostile_case(rng, context)
            kinds[kind] += 1
            try:
                outcomes[check_one(backend, kind, record, line_no=case + 1)] += 1
            except Exception as exc:  # report every failure, keep going
                failures.append(f"seed {seed} kind {kind}: {type(exc).__name__}: {str(exc)[:300]}")
                if len(failures) <= 3:
                    traceback.print_exc()
            if (case + 1) % 10_000 == 0:
                print(f"  {case + 1:>8,} cases  {len(failures)} failures  {time.perf_counter() - started:6.0f} s", flush=True)
    finally:
        if backend is not None:
            backend.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"cases {args.cases:,} in {time.perf_counter() - started:.0f} s; kinds {dict(sorted(kinds.items()))}")
    print(f"outcomes {dict(sorted(outcomes.items()))}")
    print(f"failures {len(failures)}")
    for line in failures[:50]:
        print("  " + line)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
