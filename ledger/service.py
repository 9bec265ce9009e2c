"""The ledger application: batches of commands in, facts recorded atomically.

``Ledger`` is an ``eventsourcing`` application; which database it records in (SQLite for
the embedded default, PostgreSQL with the Kafka backend) is chosen by the environment the
edge passes in, never here. A batch is decided in one unit of work and saved in one
transaction, events in the order they were decided, so notification ids (positions) follow
the input order and each key's chain is in position order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence
from uuid import UUID

from eventsourcing.application import Application, LRUCache, ProcessingEvent
from eventsourcing.persistence import RecordConflictError

from .aggregates import Book, Calendar, Person, PairBook, Treasury, is_fact
from .aggregates import Filing as FilingAgg
from .config import Policy
from .decisions import ACCEPTED, DECISIONS, DUPLICATE, Source, lookups
from .errors import FieldError, Rejected, invariant
from .records import Command
from .unit_of_work import UnitOfWork

AGGREGATE_CACHE_SIZE = 50_000  # aggregates kept in memory between batches (bounded)
MAX_BATCH_RECORDS = 50_000
MAX_CONFLICT_RETRIES = 3  # re-decisions of a batch that met another writer
REJECTED = "rejected"


@dataclass(frozen=True)
class Outcome:
    status: str  # accepted | duplicate | rejected
    errors: tuple[FieldError, ...] = ()


@dataclass(frozen=True)
class BatchResult:
    outcomes: list[Outcome]
    facts: list[tuple[int, dict[str, Any]]]  # (position, fact body) in position order
    first_position: int = 0  # notification ids this batch took (facts and index events)
    last_position: int = 0


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


# Which of these aggregate ids exist in the store? One query per batch instead of one
# lookup per record; supplied by the persistence adapter (SQLite, PostgreSQL).
ExistenceProbe = Callable[[Iterable[UUID]], set[UUID]]


CACHED_KINDS = (Person, FilingAgg, PairBook, Treasury, Calendar)


class Ledger(Application):  # type: ignore[type-arg]
    name = "yidi"
    snapshotting_intervals = {PairBook: 100, Treasury: 100, Calendar: 50, Person: 20}

    def __init__(self, policy: Policy, env: Mapping[str, str], probe: ExistenceProbe | None = None) -> None:
        super().__init__(env=store_env(env))
        self.policy = policy
        self.probe = probe

    def record(self, items: Sequence[tuple[Command, Source]]) -> BatchResult:
        """Decide and record a batch; rejected commands leave no trace.

        Another writer on the same store shows up as a conflict on an aggregate version
        (optimistic concurrency); the batch is then decided again from the store.
        """
        invariant(len(items) <= MAX_BATCH_RECORDS, "batch too large")
        for attempt in range(MAX_CONFLICT_RETRIES + 1):
            try:
                return self._record_once(items)
            except RecordConflictError:
                if attempt == MAX_CONFLICT_RETRIES:
                    raise
        raise AssertionError("unreachable")

    def _record_once(self, items: Sequence[tuple[Command, Source]]) -> BatchResult:
        uow = UnitOfWork(self)
        if self.probe is not None:
            uow.prefetch(self.probe, (ref for command, _ in items for ref in lookups(command)))
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
        return self._commit(uow, outcomes)

    def _commit(self, uow: UnitOfWork, outcomes: list[Outcome]) -> BatchResult:
        aggregates: list[Book] = uow.aggregates()
        events = uow.ordered_events()
        if not events:
            return BatchResult(outcomes, [])
        # What Application.save does, minus its per-object protocol checks (the hot path):
        # events in decision order, then the aggregates for the cache and snapshots.
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.events = list(events)
        # Only long-lived aggregates go to the cache (and get snapshots): persons, filings,
        # pairs, treasuries, the calendar. Settlements and message indexes are read back
        # rarely (a cancellation, a duplicate) and would push the others out.
        processing.aggregates = {agg.id: agg for agg in aggregates if type(agg) in CACHED_KINDS}
        try:
            recordings = self._record(processing)
            self._take_snapshots(processing)
        except BaseException:
            # The cached aggregates were mutated by this batch: forget them all.
            self.forget_cache()
            raise
        facts = []
        for recording in recordings:
            body = recording.domain_event.body  # type: ignore[attr-defined]
            if is_fact(body):
                facts.append((recording.notification.id, body))
        positions = [r.notification.id for r in recordings]
        invariant(positions == sorted(positions), "a batch's events are recorded in decision order")
        return BatchResult(outcomes, facts, positions[0], positions[-1])

    def forget_cache(self) -> None:
        if self.repository.cache is not None:
            self.repository.cache = LRUCache(maxsize=AGGREGATE_CACHE_SIZE)
