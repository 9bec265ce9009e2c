"""The embedded projection store: one SQLite row holding the state document and position."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from ledger.errors import invariant

from .fold import Projection

SCHEMA = """
CREATE TABLE IF NOT EXISTS projection (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    state BLOB NOT NULL
)
"""


class SqliteProjectionStore:
    def __init__(self, path: Path, name: str = "main") -> None:
        self.name = name
        self.conn = sqlite3.connect(str(path), timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        with self.conn:
            self.conn.execute(SCHEMA)

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

    def close(self) -> None:
        self.conn.close()
