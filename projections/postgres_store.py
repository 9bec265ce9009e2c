"""The Kafka backend's read models in PostgreSQL (psycopg2), exactly once per partition.

One row per (topic, partition) holds the ``Projection`` folded from that partition's facts
together with the Kafka offset and the event-store position of the last fact folded. The
faust processor replaces the row in the same transaction as the convenience tables below,
and checks (``SELECT ... FOR UPDATE``) that nobody advanced the row since it was loaded: a
processor killed at any point, or a partition that moved to another worker during a
rebalance, resumes from a (state, offset) pair that belong together — never counting a fact
twice nor losing one.

    <schema>.yidi_read_partitions   topic, partition, offset, position, facts, state (json),
                                    updated_at                        — the source of truth
    <schema>.yidi_read_balances     topic, partition, account, balance_fen (that partition's
                                    share; Σ over partitions = the account's balance)
    <schema>.yidi_read_floats       topic, pair, partition, float_fen, outstanding_fen,
                                    usage_pct, level (thresholds of the worker's policy)
    <schema>.yidi_account_balances  view: account, balance_fen (Σ over partitions)
    <schema>.yidi_province_balances view: topic, code, kind, balance_fen (Σ per place and kind)

``merge`` of the partition rows is the projection of all facts (``projections.fold.merge``:
every figure is a sum or belongs to one key, and a key lives in one partition).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import orjson

from .fold import Projection, merge

TABLES = """
CREATE TABLE IF NOT EXISTS {s}.yidi_read_partitions (
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint  NOT NULL,
    position    bigint  NOT NULL,
    facts       bigint  NOT NULL,
    state       json    NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS {s}.yidi_read_balances (
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    account     text    NOT NULL,
    balance_fen bigint  NOT NULL,
    PRIMARY KEY (topic, partition, account)
);
CREATE TABLE IF NOT EXISTS {s}.yidi_read_floats (
    topic           text    NOT NULL,
    pair            text    NOT NULL,
    partition       integer NOT NULL,
    float_fen       bigint  NOT NULL,
    outstanding_fen bigint  NOT NULL,
    usage_pct       numeric(12, 2),
    level           text    NOT NULL,
    PRIMARY KEY (topic, pair)
);
CREATE OR REPLACE VIEW {s}.yidi_account_balances AS
    SELECT topic, account, sum(balance_fen)::bigint AS balance_fen
    FROM {s}.yidi_read_balances GROUP BY topic, account;
CREATE OR REPLACE VIEW {s}.yidi_province_balances AS
    SELECT topic, split_part(account, ':', 1) AS code, split_part(account, ':', 2) AS kind,
           sum(balance_fen)::bigint AS balance_fen
    FROM {s}.yidi_read_balances GROUP BY 1, 2, 3;
"""


class StaleState(Exception):
    """A partition row moved on since this process loaded it (another worker, a restart)."""


@dataclass
class PartitionState:
    partition: int
    offset: int = -1  # Kafka offset of the last fact folded (-1: none)
    position: int = 0  # event-store position of the last fact folded
    facts: int = 0
    state: Projection = field(default_factory=Projection)


@dataclass
class PartitionUpdate:
    """What one batch changed in one partition."""

    current: PartitionState
    expected_offset: int  # the offset the row must still have (optimistic check)
    balances: dict[str, int] = field(default_factory=dict)  # changed accounts -> new balance
    floats: list[dict[str, Any]] = field(default_factory=list)  # this partition's float rows


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresReadModels:
    """Per-partition projections and dashboard tables of one facts topic."""

    def __init__(self, dsn: str, topic: str, schema: str = "") -> None:
        import psycopg2

        self.dsn = dsn
        self.topic = topic
        self.schema = schema or "public"
        self.s = _quote_ident(self.schema)
        self.conn = psycopg2.connect(dsn, connect_timeout=10)
        self.conn.autocommit = False
        self._create()

    def _create(self) -> None:
        import psycopg2

        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('yidi-read-models-ddl'))")
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.s}")
            cur.execute(TABLES.format(s=self.s))
        self.conn.commit()
        try:  # fast compression for the state documents, where the server supports it
            with self.conn.cursor() as cur:
                cur.execute(f"ALTER TABLE {self.s}.yidi_read_partitions ALTER COLUMN state SET COMPRESSION lz4")
            self.conn.commit()
        except psycopg2.Error:
            self.conn.rollback()

    # -- reading ------------------------------------------------------------------------
    def load(self, partitions: Iterable[int] | None = None) -> dict[int, PartitionState]:
        """Saved state of the given partitions (all saved ones if None)."""
        with self.conn.cursor() as cur:
            if partitions is None:
                cur.execute(f'SELECT partition, "offset", position, facts, state::text FROM {self.s}.yidi_read_partitions '
                            "WHERE topic = %s", (self.topic,))
            else:
                cur.execute(f'SELECT partition, "offset", position, facts, state::text FROM {self.s}.yidi_read_partitions '
                            "WHERE topic = %s AND partition = ANY(%s)", (self.topic, list(partitions)))
            rows = cur.fetchall()
        self.conn.rollback()  # end the read transaction
        out = {}
        for part, offset, position, facts, state in rows:
            out[part] = PartitionState(part, int(offset), int(position), int(facts),
                                       Projection.from_dict(orjson.loads(state)))
        return out

    def offsets(self) -> dict[int, tuple[int, int]]:
        """partition -> (offset, position) of every saved partition."""
        with self.conn.cursor() as cur:
            cur.execute(f'SELECT partition, "offset", position FROM {self.s}.yidi_read_partitions WHERE topic = %s',
                        (self.topic,))
            rows = cur.fetchall()
        self.conn.rollback()
        return {int(p): (int(o), int(pos)) for p, o, pos in rows}

    def projection(self) -> Projection:
        """Every partition's projection merged: the projection of all facts folded so far."""
        states = self.load()
        return merge(s.state for _, s in sorted(states.items()))

    def account_balances(self) -> dict[str, int]:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT account, balance_fen FROM {self.s}.yidi_account_balances WHERE topic = %s "
                        "AND balance_fen <> 0 ORDER BY account", (self.topic,))
            rows = cur.fetchall()
        self.conn.rollback()
        return {a: int(b) for a, b in rows}

    # -- writing ------------------------------------------------------------------------
    def commit(self, updates: Mapping[int, PartitionUpdate]) -> None:
        """Save the batch's partitions and dashboard rows in one transaction.

        Raises ``StaleState`` (nothing saved) if a row is not at its expected offset.
        """
        from psycopg2.extras import execute_values

        if not updates:
            return
        parts = sorted(updates)
        try:
            with self.conn.cursor() as cur:
                cur.execute(f'SELECT partition, "offset" FROM {self.s}.yidi_read_partitions '
                            "WHERE topic = %s AND partition = ANY(%s) ORDER BY partition FOR UPDATE",
                            (self.topic, parts))
                saved = {int(p): int(o) for p, o in cur.fetchall()}
                for p in parts:
                    if saved.get(p, -1) != updates[p].expected_offset:
                        raise StaleState(f"partition {p}: saved offset {saved.get(p, -1)}, "
                                         f"expected {updates[p].expected_offset}")
                rows = []
                for p in parts:
                    c = updates[p].current
                    rows.append((self.topic, p, c.offset, c.position, c.facts,
                                 orjson.dumps(c.state.to_dict()).decode()))
                execute_values(
                    cur,
                    f'INSERT INTO {self.s}.yidi_read_partitions (topic, partition, "offset", position, facts, state) '
                    "VALUES %s ON CONFLICT (topic, partition) DO UPDATE SET "
                    '"offset" = EXCLUDED."offset", position = EXCLUDED.position, facts = EXCLUDED.facts, '
                    "state = EXCLUDED.state, updated_at = now()",
                    rows, template="(%s, %s, %s, %s, %s, %s::json)")
                balance_rows = [(self.topic, p, account, fen)
                                for p in parts for account, fen in updates[p].balances.items()]
                if balance_rows:
                    execute_values(
                        cur,
                        f"INSERT INTO {self.s}.yidi_read_balances (topic, partition, account, balance_fen) VALUES %s "
                        "ON CONFLICT (topic, partition, account) DO UPDATE SET balance_fen = EXCLUDED.balance_fen",
                        balance_rows, page_size=2000)
                float_rows = [(self.topic, f["insured"] + ">" + f["treatment"], p, f["float_fen"], f["outstanding_fen"],
                               f["usage_pct"], f["level"]) for p in parts for f in updates[p].floats]
                if float_rows:
                    execute_values(
                        cur,
                        f"INSERT INTO {self.s}.yidi_read_floats (topic, pair, partition, float_fen, outstanding_fen, "
                        "usage_pct, level) VALUES %s ON CONFLICT (topic, pair) DO UPDATE SET "
                        "partition = EXCLUDED.partition, float_fen = EXCLUDED.float_fen, "
                        "outstanding_fen = EXCLUDED.outstanding_fen, usage_pct = EXCLUDED.usage_pct, "
                        "level = EXCLUDED.level",
                        float_rows, page_size=2000)
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise

    def reset(self) -> None:
        """Forget every read model of this topic (tests, rebuilds)."""
        with self.conn.cursor() as cur:
            for table in ("yidi_read_partitions", "yidi_read_balances", "yidi_read_floats"):
                cur.execute(f"DELETE FROM {self.s}.{table} WHERE topic = %s", (self.topic,))
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class PostgresProjectionStore:
    """``ProjectionStore`` view of the read models: ``load`` gives the merged projection and
    the highest event-store position folded in any partition. Saving goes per partition
    through ``PostgresReadModels.commit`` (the faust processor); ``save`` is not offered."""

    def __init__(self, dsn: str, topic: str, schema: str = "") -> None:
        self.models = PostgresReadModels(dsn, topic, schema)

    def load(self) -> tuple[Projection, int]:
        states = self.models.load()
        position = max((s.position for s in states.values()), default=0)
        return merge(s.state for _, s in sorted(states.items())), position

    def save(self, state: Projection, position: int) -> None:
        raise NotImplementedError("the Kafka read models are saved per partition by the faust processor")

    def close(self) -> None:
        self.models.close()
