"""Shared helpers of the Kafka benchmarks (bench/kafka_*.py, bench/groupby_peer.py).

The services come from YIDI_KAFKA / YIDI_PG (or YIDI_TEST_*; `eval "$(scripts/services up)"`).
Every run uses a fresh topic prefix and PostgreSQL schema, dropped at the end unless --keep.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def services() -> tuple[str, str]:
    kafka = os.environ.get("YIDI_KAFKA") or os.environ.get("YIDI_TEST_KAFKA")
    pg = os.environ.get("YIDI_PG") or os.environ.get("YIDI_TEST_PG")
    if not kafka or not pg:
        raise SystemExit('set YIDI_KAFKA and YIDI_PG: eval "$(scripts/services up)"')
    return kafka, pg


def fresh_names(tag: str) -> tuple[str, str]:
    token = uuid.uuid4().hex[:8]
    return f"bench-{tag}-{token}.", f"bench_{tag}_{token}"


def simulate(path: Path, records: int, seed: int = 11, provinces: int = 12, months: int = 12) -> int:
    from yidi.simulator import SimulationSpec, generate_lines

    spec = SimulationSpec(seed=seed, months=months, settlements_per_month=max(1, int(records / months / 1.35)),
                          provinces=provinces, malformed_share=0.0)
    count = 0
    with open(path, "w") as sink:
        for line in generate_lines(spec):
            sink.write(line)
            count += 1
            if count >= records:
                break
    return count


def embedded_facts(records: int, seed: int = 11, months: int = 12) -> tuple[Any, Path]:
    """An embedded ledger holding ``records`` simulated records (SQLite: the fastest way to
    make a realistic, chained fact log); returns (backend, its directory)."""
    from ledger.config import Policy
    from yidi.embedded import EmbeddedBackend
    from yidi.ingest import Ingest, read_lines

    work = Path(tempfile.mkdtemp(prefix="yidi-kbench-"))
    source = work / "records.jsonl"
    simulate(source, records, seed, months=months)
    home = work / "ledger"
    home.mkdir()
    backend = EmbeddedBackend(home, Policy())
    pipeline = Ingest(backend, source.name, lambda _: None)
    with open(source, "rb") as handle:
        for line_no, raw in enumerate(read_lines(handle), 1):
            pipeline.feed(line_no, raw)
    pipeline.flush()
    return backend, work


def publish(recorder: Any, kafka: str, prefix: str) -> tuple[int, float]:
    """Relay every fact of ``recorder`` (any eventsourcing application recorder) to
    <prefix>yidi.facts with the real relay; returns (facts, seconds)."""
    from consumers.relay import Relay

    relay = Relay(recorder, kafka, prefix, transactional_id=f"{prefix}bench-relay")
    relay.start()
    started = time.perf_counter()
    total = 0
    try:
        while True:
            sent = relay.run_once()
            if not sent:
                break
            total += sent
    finally:
        relay.close()
    return total, time.perf_counter() - started


def drop(kafka: str, pg: str, prefix: str, schema: str | None) -> None:
    import psycopg2
    from kafka.admin import KafkaAdminClient

    if schema:
        conn = psycopg2.connect(pg)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()
    admin = KafkaAdminClient(bootstrap_servers=kafka)
    mine = [t for t in admin.list_topics() if t.startswith(prefix)]
    if mine:
        admin.delete_topics(mine)
    admin.close()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(pct / 100 * (len(ordered) - 1)))))
    return ordered[index]


def load_average() -> str:
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "?"


def facts_of(backend: Any) -> Iterator[dict[str, Any]]:
    return backend.read_facts()
