"""The embedded projection store: one SQLite row holding the state document and position."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

import orjson

from ledger.errors import invariant

from .fold import Projection

SCHEMA = """
CREATE TABLE IF NOT EXISTS projection (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot (
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    latest_time TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (name, position)
)
"""


class SqliteProjectionStore:
    def __init__(self, path: Path, name: str = "main") -> None:
        self.name = name
        self.conn = sqlite3.connect(str(path), timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        with self.conn:
            self.conn.executescript(SCHEMA)

    def load(self) -> tuple[Projection, int]:
        row = self.conn.execute("SELECT position, state FROM projection WHERE name = ?", (self.name,)).fetchone()
        if row is None:
            return Projection(), 0
        return Projection.from_dict(orjson.loads(row[1])), int(row[0])

    def saved_position(self) -> int:
        row = self.conn.execute("SELECT position FROM projection WHERE name = ?", (self.name,)).fetchone()
        return int(row[0]) if row else 0

    def save(self, state: Projection, position: int) -> None:
        invariant(position >= self.saved_position(), "a projection position never goes backwards")
        blob = orjson.dumps(state.to_dict())
        with self.conn:
            self.conn.execute(
                "INSERT INTO projection (name, position, state) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET position = excluded.position, state = excluded.state",
                (self.name, position, blob),
            )

    # -- snapshots for balances at a past moment (docs/audit.md) --------------------------
    def save_snapshot(self, state: Projection, position: int) -> None:
        """Keep the state as it was at ``position``; replay from it equals replay from 0."""
        blob = zlib.compress(orjson.dumps(state.to_dict()), 1)
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO snapshot (name, position, latest_time, state) VALUES (?, ?, ?, ?)",
                (self.name, position, state.latest_time, blob),
            )

    def snapshot_before(self, position: int | None = None, time: str | None = None) -> tuple[Projection, int]:
        """The latest snapshot at or before ``position``, or holding only facts up to ``time``."""
        query = "SELECT position, state FROM snapshot WHERE name = ?"
        params: list[object] = [self.name]
        if position is not None:
            query += " AND position <= ?"
            params.append(position)
        if time is not None:
            query += " AND latest_time <= ?"
            params.append(time)
        row = self.conn.execute(query + " ORDER BY position DESC LIMIT 1", params).fetchone()
        if row is None:
            return Projection(), 0
        return Projection.from_dict(orjson.loads(zlib.decompress(row[1]))), int(row[0])

    def close(self) -> None:
        self.conn.close()
