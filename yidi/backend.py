"""What every backend offers the edge (CLI, HTTP API, benchmarks).

    EmbeddedBackend (yidi/embedded.py)  SQLite event store, projection folded in-process
    KafkaBackend    (yidi/kafka_backend.py)  PostgreSQL event store, relay to Kafka,
                                             faust processors, PostgreSQL read models
"""

from __future__ import annotations

from typing import Any, Iterator, Protocol, Sequence

from ledger.config import Policy
from ledger.decisions import Source
from ledger.records import Command
from ledger.service import BatchResult
from projections.fold import Projection


class Backend(Protocol):
    name: str
    policy: Policy

    def record(self, items: Sequence[tuple[Command, Source]]) -> BatchResult:
        """Decide and record a batch of commands (≤ ledger.service.MAX_BATCH_RECORDS)."""

    def catch_up(self, timeout: float | None = None) -> int:
        """Bring the projection up to date with everything recorded; returns facts folded.

        ``timeout`` bounds the wait of a backend whose projection is built elsewhere (the
        Kafka backend waits for the faust workers); the embedded backend folds in place."""

    def projection(self) -> Projection:
        """The current projection (what dashboards show)."""

    def projection_as_of(self, time: str) -> Projection:
        """Every accepted fact whose own time is at or before ``time``, folded."""

    def read_facts(self, upto: int | None = None) -> Iterator[dict[str, Any]]:
        """Every fact in position order (for replay), each with its ``position``."""

    def close(self) -> None: ...
