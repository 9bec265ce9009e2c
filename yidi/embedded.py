"""The embedded default: events in SQLite through eventsourcing, projections folded in-process.

    <data dir>/events.db        the event store (eventsourcing SQLite recorder)
    <data dir>/projections.db   the folded projection with its position, and snapshots

The projection is saved with its position, so a crash between a batch and its checkpoint
is repaired by catching up from the notification log at the next start. Every
``SNAPSHOT_EVERY_FACTS`` facts a snapshot is kept, so a balance at a past moment replays
at most that many facts (docs/audit.md).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Iterator, Sequence

from consumers.eventlog import max_position, read_facts, read_facts_sqlite
from consumers.replay import parallel_fold_sqlite
from ledger.config import Policy
from ledger.decisions import Source
from ledger.records import Command
from ledger.service import BatchResult, Ledger
from projections.fold import Projection, apply
from projections.sqlite_store import SqliteProjectionStore

from .probes import sqlite_probe

EVENTS_DB = "events.db"
PROJECTIONS_DB = "projections.db"
CHECKPOINT_EVERY_FACTS = 200_000  # save the projection at least this often during ingest
SNAPSHOT_EVERY_FACTS = 100_000  # keep a snapshot for as-of queries this often
REPLAY_WORKERS = 2  # processes folding shards of the store in `yidi replay` (cores here)


class EmbeddedBackend:
    name = "embedded"

    def __init__(self, home: Path, policy: Policy, catch_up: bool = True) -> None:
        self.home = home
        self.policy = policy
        self.ledger = Ledger(policy, {
            "PERSISTENCE_MODULE": "yidi.sqlite_tuning:TunedSQLiteFactory",
            "SQLITE_DBNAME": str(home / EVENTS_DB),
            "SQLITE_LOCK_TIMEOUT": "30",
        })
        self.ledger.probe = sqlite_probe(self.ledger.recorder)
        self.store = SqliteProjectionStore(home / PROJECTIONS_DB)
        self.state, self.position = self.store.load()
        self._unsaved_facts = 0
        if catch_up:
            self.catch_up()
        self._log_end = max_position(self.recorder)

    @property
    def recorder(self) -> Any:
        return self.ledger.recorder

    def _apply(self, fact: dict[str, Any], position: int) -> None:
        apply(self.state, fact)
        self.position = position
        self._unsaved_facts += 1
        if self.state.facts % SNAPSHOT_EVERY_FACTS == 0:
            self.store.save_snapshot(self.state, position)

    def catch_up(self, timeout: float | None = None) -> int:
        """Fold every fact recorded after the saved position; returns how many.

        The state is saved every CHECKPOINT_EVERY_FACTS facts and at close, not at every
        catch-up: a dashboard refreshing twice a second must not rewrite it each time."""
        count = self._fold_new()
        if self._unsaved_facts >= CHECKPOINT_EVERY_FACTS:
            self.checkpoint()
        return count

    def _fold_new(self) -> int:
        # Read back from the log: another process may have recorded in between, and the
        # log is the order of record.
        count = 0
        for fact in read_facts(self.recorder, after=self.position):
            self._apply(fact, fact["position"])
            count += 1
        return count

    def record(self, items: Sequence[tuple[Command, Source]]) -> BatchResult:
        result = self.ledger.record(items)
        if result.facts and result.first_position == self._log_end + 1:
            # Nobody wrote in between: the batch's own facts are the log's next facts.
            for position, fact in result.facts:
                self._apply(fact, position)
        elif result.facts:
            self._fold_new()
        self._log_end = max(self._log_end, result.last_position)
        if self._unsaved_facts >= CHECKPOINT_EVERY_FACTS:
            self.checkpoint()
        return result

    def checkpoint(self) -> None:
        self.store.save(self.state, self.position)
        self._unsaved_facts = 0

    def projection(self) -> Projection:
        return self.state

    def read_facts(self, upto: int | None = None) -> Iterator[dict[str, Any]]:
        return read_facts_sqlite(str(self.home / EVENTS_DB), upto=upto)

    def replay(self, workers: int = REPLAY_WORKERS) -> Projection:
        """Fold every stored fact from position 1, on ``workers`` processes."""
        return parallel_fold_sqlite(str(self.home / EVENTS_DB), workers)

    def projection_as_of(self, time: str) -> Projection:
        """Every accepted fact whose own time is at or before ``time``, folded in log order."""
        state, position = self.store.snapshot_before(time=time)
        for fact in read_facts_sqlite(str(self.home / EVENTS_DB), after=position):
            if fact["time"] <= time:
                apply(state, fact)
        return state

    def projection_at_position(self, position: int) -> Projection:
        """The projection exactly as it stood after the fact at ``position`` was folded."""
        state, start = self.store.snapshot_before(position=position)
        for fact in read_facts_sqlite(str(self.home / EVENTS_DB), after=start, upto=position):
            apply(state, fact)
        return state

    def last_position(self) -> int:
        return max_position(self.recorder)

    def close(self) -> None:
        try:
            if self._unsaved_facts:
                self.checkpoint()
        except (sqlite3.Error, OSError):
            pass  # e.g. disk full: the next start catches up from the event log instead
        finally:
            self.store.close()
            self.ledger.close()
