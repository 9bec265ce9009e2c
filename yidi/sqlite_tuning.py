"""The embedded event store's SQLite, tuned: a page cache sized for a year of history.

eventsourcing opens its SQLite connections itself; this factory (named by
``PERSISTENCE_MODULE``) gives each new connection a larger page cache. Durability is
unchanged (WAL, synchronous FULL). What slows a growing store is its primary-key index over
random (uuid5) aggregate ids: every batch dirties index pages all over the file, and each
commit writes them. A larger page cache keeps them in memory, and checkpointing the WAL
less often writes a page changed by several batches once (bench/ingest_replay.py).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteFactory

PAGE_CACHE_KIB = 64 * 1024  # per connection, allocated only as pages are read
WAL_AUTOCHECKPOINT_PAGES = 16_384  # checkpoint every 64 MiB of WAL instead of 4 MiB


class TunedSQLiteConnectionPool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection._sqlite_conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
        connection._sqlite_conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        return connection


class TunedSQLiteFactory(SQLiteFactory):
    def __init__(self, env: Any) -> None:
        super().__init__(env)
        old = self.datastore.pool
        self.datastore.pool = TunedSQLiteConnectionPool(
            db_name=old.db_name, lock_timeout=old.lock_timeout, pool_size=old.pool_size,
            max_overflow=old.max_overflow, pool_timeout=old.pool_timeout, max_age=old.max_age,
            pre_ping=old.pre_ping,
        )
        old.close()
