"""Reading facts back from the event store's notification log, in position order.

The log holds every aggregate event; facts are those whose body type is not ``index.*``.
Bodies are decoded straight from the stored JSON (no domain objects), which is what makes
replay fast. A fact read here is the same dict the service recorded, with ``position`` set
to its notification id.
"""

from __future__ import annotations

from typing import Any, Iterator

import orjson

from ledger.aggregates import fact_topics

PAGE_SIZE = 5_000  # notifications read per query


def read_facts(recorder: Any, after: int = 0, upto: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield facts with position > ``after`` (and <= ``upto``), each with its ``position``."""
    start = after + 1
    topics = fact_topics()
    loads = orjson.loads
    while True:
        page = recorder.select_notifications(start=start, limit=PAGE_SIZE, stop=upto, topics=topics)
        if not page:
            return
        for notification in page:
            body = loads(notification.state)["body"]
            body["position"] = notification.id
            yield body
        start = page[-1].id + 1
        if upto is not None and start > upto:
            return


def max_position(recorder: Any) -> int:
    return int(recorder.max_notification_id() or 0)


def read_log(recorder: Any, after: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every event of the log, facts and index entries: (position, body)."""
    start = after + 1
    loads = orjson.loads
    while True:
        page = recorder.select_notifications(start=start, limit=PAGE_SIZE)
        if not page:
            return
        for notification in page:
            yield notification.id, loads(notification.state)["body"]
        start = page[-1].id + 1


def read_facts_sqlite(db_path: str, after: int = 0, upto: int | None = None,
                      shard: tuple[int, int] | None = None) -> Iterator[dict[str, Any]]:
    """The embedded store's facts, read with plain SQL (no event objects): the replay path.

    ``shard=(i, n)`` keeps the facts of aggregates whose id falls in shard i of n. Each
    aggregate's facts stay together and in order, which is all the fold needs (see
    projections.fold.merge), so n processes can fold n shards side by side.
    """
    import sqlite3

    topics = fact_topics()
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
    try:
        marks = ",".join("?" * len(topics))
        where = f"rowid > ? AND rowid <= ? AND topic IN ({marks})"
        params: list[Any] = [0, upto if upto is not None else 2**62, *topics]
        if shard is not None:
            # The first hex digit of the aggregate id picks the shard.
            digits = [f"{d:x}" for d in range(16) if d % shard[1] == shard[0]]
            where += f" AND substr(originator_id, 1, 1) IN ({','.join('?' * len(digits))})"
            params += digits
        loads = orjson.loads
        start = after
        while True:
            params[0] = start
            rows = conn.execute(
                f"SELECT rowid, state FROM stored_events WHERE {where} ORDER BY rowid LIMIT {PAGE_SIZE}", params
            ).fetchall()
            if not rows:
                return
            for rowid, state in rows:
                body = loads(state)["body"]
                body["position"] = rowid
                yield body
            start = rows[-1][0]
    finally:
        conn.close()
