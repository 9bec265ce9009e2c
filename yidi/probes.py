"""Existence probes: which aggregate ids a store already holds, in one query per batch.

Adapters over the eventsourcing recorders' own tables; the ledger service takes the probe
as a plain function, so the domain never sees SQL.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable
from uuid import UUID

PROBE_CHUNK = 500  # ids per query (SQLite allows 999 parameters)


def _chunks(ids: list[UUID]) -> Iterable[list[UUID]]:
    for start in range(0, len(ids), PROBE_CHUNK):
        yield ids[start:start + PROBE_CHUNK]


def sqlite_probe(recorder: Any) -> Callable[[Iterable[UUID]], set[UUID]]:
    table = recorder.events_table_name

    def probe(ids: Iterable[UUID]) -> set[UUID]:
        found: set[UUID] = set()
        with recorder.datastore.transaction(commit=False) as cursor:
            for chunk in _chunks(list(ids)):
                marks = ",".join("?" * len(chunk))
                cursor.execute(
                    f"SELECT originator_id FROM {table} WHERE originator_version = 1 AND originator_id IN ({marks})",
                    [i.hex for i in chunk],
                )
                found.update(UUID(row[0]) for row in cursor.fetchall())
        return found

    return probe


def postgres_probe(recorder: Any) -> Callable[[Iterable[UUID]], set[UUID]]:
    # eventsourcing keeps the schema on the datastore ("public" unless POSTGRES_SCHEMA is set)
    schema = getattr(recorder.datastore, "schema", "") or "public"
    table = f'"{schema}"."{recorder.events_table_name}"'

    def probe(ids: Iterable[UUID]) -> set[UUID]:
        found: set[UUID] = set()
        with recorder.datastore.transaction(commit=False) as cursor:
            for chunk in _chunks(list(ids)):
                cursor.execute(
                    f"SELECT originator_id FROM {table} WHERE originator_version = 1 AND originator_id = ANY(%s)",
                    (chunk,),
                )
                for row in cursor.fetchall():
                    value = row["originator_id"] if isinstance(row, dict) else row[0]
                    found.add(value if isinstance(value, UUID) else UUID(str(value)))
        return found

    return probe
