"""The obvious alternative, for comparison: the events in one PostgreSQL table, balances by
GROUP BY. Run alone, or imported by the Kafka benchmarks (same facts, same server).

    python bench/groupby_peer.py --records 200000

Measures, on the same facts as the Kafka path:
  * load: INSERT the facts (jsonb) and their postings (one row per posting, the natural
    relational design) in batches of 5,000 — the peer's "ingest", events/s;
  * query: SELECT account, sum(fen) FROM postings GROUP BY account — what a dashboard asks
    for its balances; events/s = events covered ÷ query time (the peer's "replay");
  * visible-balance latency at a given table size = one GROUP BY (no incremental state).
Balances are checked equal to the fold's, to the fen.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Iterable

from kafka_common import ROOT, drop, embedded_facts, fresh_names, load_average, services  # noqa: F401

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE {s}.peer_events (position bigint PRIMARY KEY, key text NOT NULL, type text NOT NULL, body jsonb NOT NULL);
CREATE TABLE {s}.peer_postings (position bigint NOT NULL, account text NOT NULL, fen bigint NOT NULL);
"""


class Peer:
    def __init__(self, pg: str, schema: str) -> None:
        import psycopg2

        self.conn = psycopg2.connect(pg)
        self.s = f'"{schema}"'
        with self.conn.cursor() as cur:
            cur.execute(SCHEMA_SQL.format(s=self.s))
        self.conn.commit()

    def insert(self, facts: list[dict[str, Any]]) -> None:
        import orjson
        from psycopg2.extras import execute_values

        from ledger.postings import postings_for

        events = [(f["position"], f["key"], f["type"], orjson.dumps(f).decode()) for f in facts]
        postings = [(f["position"], account, fen) for f in facts for account, fen in postings_for(f)]
        with self.conn.cursor() as cur:
            execute_values(cur, f"INSERT INTO {self.s}.peer_events VALUES %s", events,
                           template="(%s, %s, %s, %s::jsonb)", page_size=5000)
            execute_values(cur, f"INSERT INTO {self.s}.peer_postings VALUES %s", postings, page_size=5000)
        self.conn.commit()

    def balances(self) -> dict[str, int]:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT account, sum(fen)::bigint FROM {self.s}.peer_postings GROUP BY account")
            rows = cur.fetchall()
        self.conn.commit()
        return {a: int(b) for a, b in rows if b != 0}

    def close(self) -> None:
        self.conn.close()


def run_peer(pg: str, schema: str, facts: Iterable[dict[str, Any]], batch: int = 5000) -> dict[str, float]:
    from projections import views
    from projections.fold import Projection, apply

    peer = Peer(pg, schema)
    state = Projection()
    load_seconds = 0.0
    chunk: list[dict[str, Any]] = []
    count = 0
    for fact in facts:
        apply(state, fact)  # the reference figures (not timed)
        chunk.append(fact)
        if len(chunk) >= batch:
            started = time.perf_counter()
            peer.insert(chunk)
            load_seconds += time.perf_counter() - started
            count += len(chunk)
            chunk = []
    if chunk:
        started = time.perf_counter()
        peer.insert(chunk)
        load_seconds += time.perf_counter() - started
        count += len(chunk)
    with peer.conn.cursor() as cur:
        cur.execute(f"ANALYZE {peer.s}.peer_postings")
    peer.conn.commit()
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        balances = peer.balances()
        timings.append(time.perf_counter() - started)
    assert balances == views.balances(state), "the GROUP BY peer disagrees with the fold"
    query = min(timings)
    settlements = state.facts_by_type.get("settlement.recorded", 0)
    peer.close()
    return {"events": count, "settlements": settlements, "load_s": load_seconds, "load_events_per_s": count / load_seconds,
            "load_settlements_per_s": settlements / load_seconds, "query_s": query, "query_events_per_s": count / query}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    kafka, pg = services()
    prefix, schema = fresh_names("peer")
    backend, _ = embedded_facts(args.records)
    try:
        r = run_peer(pg, schema, backend.read_facts())
        print(f"GROUP BY peer, {r['events']:,} events ({r['settlements']:,} settlements), load avg {load_average()}")
        print(f"  load (INSERT events + postings): {r['load_events_per_s']:,.0f} events/s "
              f"= {r['load_settlements_per_s']:,.0f} settlements/s")
        print(f"  balances by GROUP BY: {r['query_s'] * 1000:,.0f} ms = {r['query_events_per_s']:,.0f} events/s")
    finally:
        backend.close()
        if not args.keep:
            drop(kafka, pg, prefix, schema)


if __name__ == "__main__":
    main()
