"""The ledger application: batches of commands in, facts recorded atomically.

``Ledger`` is an ``eventsourcing`` application; which database it records in (SQLite for
the embedded default, PostgreSQL with the Kafka backend) is chosen by the environment the
edge passes in, never here. A batch is decided in one unit of work and saved in one
transaction, events in the order they were decided, so notification ids (positions) follow
the input order and each key's chain is in position order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from eventsourcing.application import Application, LRUCache

from .aggregates import Book, Calendar, Person, PairBook, Treasury, is_fact
from .config import Policy
from .decisions import ACCEPTED, DECISIONS, DUPLICATE, Source
from .errors import FieldError, Rejected, invariant
from .records import Command
from .unit_of_work import UnitOfWork

AGGREGATE_CACHE_SIZE = 20_000  # aggregates kept in memory between batches (bounded)
MAX_BATCH_RECORDS = 5_000
REJECTED = "rejected"


@dataclass(frozen=True)
class Outcome:
    status: str  # accepted | duplicate | rejected
    errors: tuple[FieldError, ...] = ()


@dataclass(frozen=True)
class BatchResult:
    outcomes: list[Outcome]
    facts: list[tuple[int, dict[str, Any]]]  # (position, fact body) in position order


def store_env(base: Mapping[str, str]) -> dict[str, str]:
    """The eventsourcing settings every backend shares; ``base`` names the persistence."""
    env = {
        "TRANSCODER_TOPIC": "ledger.transcoder:OrjsonTranscoder",
        "AGGREGATE_CACHE_MAXSIZE": str(AGGREGATE_CACHE_SIZE),
        # Single writer per store: the cache is authoritative, and a stale entry can only
        # cause an optimistic-concurrency conflict, after which the cache is dropped.
        "AGGREGATE_CACHE_FASTFORWARD": "n",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }
    env.update(base)
    return env


class Ledger(Application):  # type: ignore[type-arg]
    name = "yidi"
    snapshotting_intervals = {PairBook: 100, Treasury: 100, Calendar: 50, Person: 20}

    def __init__(self, policy: Policy, env: Mapping[str, str]) -> None:
        super().__init__(env=store_env(env))
        self.policy = policy

    def record(self, items: Sequence[tuple[Command, Source]]) -> BatchResult:
        """Decide and record a batch; rejected commands leave no trace."""
        invariant(len(items) <= MAX_BATCH_RECORDS, "batch too large")
        uow = UnitOfWork(self)
        outcomes: list[Outcome] = []
        for command, source in items:
            try:
                status = DECISIONS[type(command)](uow, self.policy, command, source)
            except Rejected as rejected:
                outcomes.append(Outcome(REJECTED, rejected.errors))
                continue
            invariant(status in (ACCEPTED, DUPLICATE), f"unknown status {status}")
            outcomes.append(Outcome(status))
        uow.flush_all()
        return BatchResult(outcomes, self._commit(uow))

    def _commit(self, uow: UnitOfWork) -> list[tuple[int, dict[str, Any]]]:
        aggregates: list[Book] = uow.aggregates()
        events = uow.ordered_events()
        if not events:
            return []
        try:
            recordings = self.save(*events, *aggregates)
        except BaseException:
            # The cached aggregates were mutated by this batch: forget them all.
            self.forget_cache()
            raise
        facts = []
        for recording in recordings:
            body = recording.domain_event.body  # type: ignore[attr-defined]
            if is_fact(body):
                facts.append((recording.notification.id, body))
        return facts

    def forget_cache(self) -> None:
        if self.repository.cache is not None:
            self.repository.cache = LRUCache(maxsize=AGGREGATE_CACHE_SIZE)
