"""One batch of records, decided together and committed in one transaction.

The unit of work is the identity map of the aggregates a batch touches, plus two overlays
that keep the hot path cheap:

* the per-pair tally (amounts per open month, outstanding) is accumulated in memory and
  written as one ``index.tally`` event per pair per batch, instead of one event per
  settlement on the pair's aggregate;
* the head of each key's hash chain advances as facts are emitted and is written with the
  same tally event.

Before a fact is appended to a ``PairBook`` the pair's overlay is flushed, so the book's
own state (statements, open months) never lags behind a fact that depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from .aggregates import (
    Book, Calendar, Head, PairBook, Treasury, aggregate_id,
)
from .chain import GENESIS, chain
from .events import CALENDAR_KEY, Fact
from .errors import invariant

if TYPE_CHECKING:
    from eventsourcing.application import Application

B = TypeVar("B", bound=Book)
TALLY_WIDTH = 7  # amount, settled, reversed, clawed back, settlements, reversals, clawbacks


@dataclass
class _Overlay:
    seq: int
    head: str
    outstanding_delta_fen: int = 0
    pending: dict[str, list[int]] = field(default_factory=dict)
    dirty: bool = False


class UnitOfWork:
    def __init__(self, app: "Application[UUID]") -> None:
        self.app = app
        self.loaded: dict[UUID, Book | None] = {}
        self.changed: dict[UUID, Book] = {}
        self.overlays: dict[str, _Overlay] = {}
        self.facts: list[dict[str, Any]] = []
        self.events: list[Any] = []  # every triggered event, in decision order

    # -- aggregates -----------------------------------------------------------------
    def prefetch(self, probe: Any, refs: Any) -> None:
        """Learn in one query which of the aggregates a batch will look up do not exist."""
        ids = {aggregate_id(cls.KIND, key) for cls, key in refs}
        ids -= self.loaded.keys()
        cache = self.app.repository.cache
        if cache is not None:
            ids = {i for i in ids if i not in cache.cache}
        if not ids:
            return
        existing = probe(ids)
        for missing in ids - existing:
            self.loaded[missing] = None

    def get(self, cls: type[B], key: str) -> B | None:
        agg_id = aggregate_id(cls.KIND, key)
        if agg_id not in self.loaded:
            try:
                self.loaded[agg_id] = self.app.repository.get(agg_id)
            except AggregateNotFoundError:
                self.loaded[agg_id] = None
        found = self.loaded[agg_id]
        invariant(found is None or isinstance(found, cls), f"{key} is not a {cls.__name__}")
        return found  # type: ignore[return-value]

    def get_pair(self, key: str) -> PairBook | None:
        return self.get(PairBook, key)

    def start(self, cls: type[B], key: str, body: dict[str, Any]) -> B:
        agg = cls.start(key, body)
        invariant(self.loaded.get(agg.id) is None, f"{cls.__name__} {key} exists already")
        self.loaded[agg.id] = agg
        self.changed[agg.id] = agg
        self.events.append(agg.pending_events[-1])
        return agg  # type: ignore[return-value]

    def append(self, agg: Book, body: dict[str, Any]) -> None:
        agg.append(body)
        self.changed[agg.id] = agg
        self.events.append(agg.pending_events[-1])

    # -- facts and chains -----------------------------------------------------------
    def _overlay(self, key: str) -> _Overlay:
        overlay = self.overlays.get(key)
        if overlay is None:
            holder = self._holder(key)
            overlay = _Overlay(seq=holder.seq, head=holder.head) if holder else _Overlay(seq=0, head=GENESIS)
            self.overlays[key] = overlay
        return overlay

    def _holder_class(self, key: str) -> type[Head]:
        if key == CALENDAR_KEY:
            return Calendar
        return PairBook if ">" in key else Treasury

    def _holder(self, key: str) -> Head | None:
        return self.get(self._holder_class(key), key)

    def seal(self, fact: Fact) -> dict[str, Any]:
        """Give a fact its place in its key's chain and remember it for this batch."""
        body = fact.to_body()
        overlay = self._overlay(body["key"])
        sealed = chain(body, overlay.seq + 1, overlay.head)
        overlay.seq, overlay.head, overlay.dirty = sealed["seq"], sealed["hash"], True
        self.facts.append(sealed)
        return sealed

    def emit_new(self, cls: type[B], agg_key: str, fact: Fact) -> B:
        return self.start(cls, agg_key, self.seal(fact))

    def emit(self, agg: Book, fact: Fact) -> None:
        if isinstance(agg, Head):
            self.flush(fact.key)
        self.append(agg, self.seal(fact))

    def head_book(self, key: str) -> Head:
        """The chain holder of ``key`` (PairBook, Treasury, Calendar), created if new."""
        self.flush(key, create=True)
        holder = self._holder(key)
        assert holder is not None
        return holder

    def pair_book(self, key: str) -> PairBook:
        book = self.head_book(key)
        assert isinstance(book, PairBook)
        return book

    def calendar(self) -> Calendar:
        cal = self.head_book(CALENDAR_KEY)
        assert isinstance(cal, Calendar)
        return cal

    def closed_periods(self) -> list[str]:
        cal = self.get(Calendar, CALENDAR_KEY)
        return cal.closed if cal else []

    # -- the pair tally overlay ------------------------------------------------------
    def tally(self, key: str, period: str, deltas: tuple[int, ...], outstanding_delta_fen: int) -> None:
        invariant(len(deltas) == TALLY_WIDTH, "tally row has a fixed width")
        overlay = self._overlay(key)
        row = overlay.pending.setdefault(period, [0] * TALLY_WIDTH)
        for i, delta in enumerate(deltas):
            row[i] += delta
        overlay.outstanding_delta_fen += outstanding_delta_fen
        overlay.dirty = True

    def outstanding_fen(self, key: str) -> int:
        book = self.get(PairBook, key)
        overlay = self.overlays.get(key)
        return (book.outstanding_fen if book else 0) + (overlay.outstanding_delta_fen if overlay else 0)

    def pending_row(self, key: str, period: str) -> list[int]:
        book = self.get(PairBook, key)
        row = list(book.pending.get(period, [0] * TALLY_WIDTH)) if book else [0] * TALLY_WIDTH
        overlay = self.overlays.get(key)
        if overlay and period in overlay.pending:
            row = [a + b for a, b in zip(row, overlay.pending[period])]
        return row

    def _tally_body(self, key: str, overlay: _Overlay) -> dict[str, Any]:
        return {
            "type": "index.tally", "key": key, "seq": overlay.seq, "head": overlay.head,
            "outstanding_delta_fen": overlay.outstanding_delta_fen, "pending": overlay.pending,
        }

    def flush(self, key: str, create: bool = False) -> None:
        """Write the key's overlay (tally and chain head) to its holder aggregate.

        With ``create``, a holder that does not exist yet is started even if nothing changed.
        """
        holder = self._holder(key)
        overlay = self.overlays.get(key)
        if holder is not None and (overlay is None or not overlay.dirty):
            return
        if holder is None and not create and (overlay is None or not overlay.dirty):
            return
        overlay = self._overlay(key)
        body = self._tally_body(key, overlay)
        overlay.dirty = False
        overlay.outstanding_delta_fen = 0
        overlay.pending = {}
        if holder is None:
            holder = self.start(self._holder_class(key), key, body)
            if isinstance(holder, PairBook):
                self.append(self.calendar(), {"type": "index.pair", "pair": key})
        else:
            self.append(holder, body)

    def flush_all(self) -> None:
        for key in list(self.overlays):
            self.flush(key)
        # The calendar may have gained index entries while flushing pairs.
        self.flush(CALENDAR_KEY)

    def aggregates(self) -> list[Book]:
        return list(self.changed.values())

    def ordered_events(self) -> list[Any]:
        """Drain the aggregates' pending events; return them in the order they were decided."""
        drained = sum(len(agg.collect_events()) for agg in self.changed.values())
        invariant(drained == len(self.events), "every triggered event is tracked exactly once")
        return self.events

