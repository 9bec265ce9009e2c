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
