"""Aggregates (eventsourcing): the consistency boundaries that decide facts.

Every aggregate event carries one attribute, ``body``: either a fact (``ledger.events``,
published and folded) or an index entry (type ``index.*``: lookups the write side needs,
never published). Aggregates only hold state and apply bodies; the decisions that span
several of them are taken in ``ledger.service`` before any event is triggered.

Ids are uuid5 of the business key, so the event store's (id, version) uniqueness is what
makes a second ``setl_id`` or ``msgid`` impossible to record twice.

    Settlement   one per setl_id    facts: settlement.*, clawback, investigation.*
    Message      one per msgid      index: which message, what it carried
    Filing       one per filing_id  facts: filing.recorded / filing.cancelled
    Person       one per psn_no     index: the person's filings, for coverage checks
    PairBook     one per pair       facts: float.*, statement.issued, clearing.transferred,
                                    interest, manual reimbursements; index: tallies and the
                                    head of the pair's hash chain
    Treasury     one per treatment  facts: institution.paid; chain head
    Calendar     one, national      facts: period.closed; chain head
    RecordIndex  one per record     index: a ledger record without a business id, by digest
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import resolve_topic

from .chain import GENESIS

NAMESPACE = uuid.UUID("6f1d3c5e-2b7a-4e8f-9a1c-0d4b5e6f7a8b")
INDEX_PREFIX = "index."


_NAMESPACE_BYTES = NAMESPACE.bytes


@functools.lru_cache(maxsize=65_536)
def aggregate_id(kind: str, key: str) -> uuid.UUID:
    """uuid5(NAMESPACE, "kind:key"), computed without uuid5's per-call overhead."""
    digest = hashlib.sha1(_NAMESPACE_BYTES + f"{kind}:{key}".encode()).digest()
    value = (int.from_bytes(digest[:16], "big") & ~(0xF000 << 64) | (5 << 76)) & ~(0xC000 << 48) | (0x8000 << 48)
    return uuid.UUID(int=value)


def is_fact(body: dict[str, Any]) -> bool:
    return not body["type"].startswith(INDEX_PREFIX)


def _construct(event: Any, aggregate: Any) -> "Book":
    """What the library's created-event ``mutate`` does, without inspecting signatures
    on every call (the hot path of ingest): our ``__init__`` always takes just ``body``."""
    assert aggregate is None
    cls = resolve_topic(event.originator_topic)
    agg = cls.__new__(cls)
    agg.__base_init__(event.originator_id, event.originator_version, event.timestamp)
    agg.__init__(event.body)
    return agg


class Book(Aggregate):
    """Base of every ledger aggregate: events carry a ``body`` applied by ``on_<type>``.

    Facts and index entries use different event classes (``Started``/``Appended`` for
    facts, ``Opened``/``Noted`` for index entries), so readers of the log can select facts
    by topic without decoding the index entries at all.
    """

    class Started(Aggregate.Created):
        body: dict[str, Any]

        def mutate(self, aggregate: Any) -> Any:
            return _construct(self, aggregate)

    class Opened(Aggregate.Created):
        body: dict[str, Any]

        def mutate(self, aggregate: Any) -> Any:
            return _construct(self, aggregate)

    class Appended(Aggregate.Event):
        body: dict[str, Any]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Book)
            aggregate.apply_body(self.body)

    class Noted(Aggregate.Event):
        body: dict[str, Any]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Book)
            aggregate.apply_body(self.body)

    def __init__(self, body: dict[str, Any]) -> None:
        self.init_state()
        self.apply_body(body)

    def init_state(self) -> None:
        """Set the aggregate's attributes before the first body is applied."""

    def apply_body(self, body: dict[str, Any]) -> None:
        handler = getattr(self, "on_" + body["type"].replace(".", "_"), None)
        if handler is not None:
            handler(body)

    def append(self, body: dict[str, Any]) -> None:
        self.trigger_event(self.Appended if is_fact(body) else self.Noted, body=body)

    @classmethod
    def start(cls, key: str, body: dict[str, Any]) -> "Book":
        event_class = cls.Started if is_fact(body) else cls.Opened
        return cls._create(event_class, id=aggregate_id(cls.KIND, key), body=body)

    KIND = "book"


class Settlement(Book):
    KIND = "setl"

    def init_state(self) -> None:
        self.status = "settled"
        self.clawed_back_fen = 0
        self.investigation: str | None = None
        self.investigation_opened_at = ""
        self.last_time = ""  # the latest time of this settlement's facts
        self.fact: dict[str, Any] = {}

    def apply_body(self, body: dict[str, Any]) -> None:
        super().apply_body(body)
        self.last_time = max(self.last_time, body["time"])

    def on_settlement_recorded(self, body: dict[str, Any]) -> None:
        self.fact = body  # bodies are never mutated once recorded

    def on_settlement_reversed(self, body: dict[str, Any]) -> None:
        self.status = "reversed"

    def on_clawback_recorded(self, body: dict[str, Any]) -> None:
        self.clawed_back_fen += body["amount_fen"]

    def on_investigation_opened(self, body: dict[str, Any]) -> None:
        self.investigation = "open"
        self.investigation_opened_at = body["time"]

    def on_investigation_closed(self, body: dict[str, Any]) -> None:
        self.investigation = "closed"


class Message(Book):
    """Index of platform messages by msgid: for 冲正 by ``omsgid`` and for reuse checks."""

    KIND = "msg"

    def init_state(self) -> None:
        self.infno = ""
        self.setl_id: str | None = None
        self.content: dict[str, Any] = {}

    def on_index_message(self, body: dict[str, Any]) -> None:
        self.infno = body["infno"]
        self.setl_id = body["setl_id"]
        self.content = body["content"]


class Filing(Book):
    KIND = "filing"

    def init_state(self) -> None:
        self.fact: dict[str, Any] = {}
        self.cancelled_on: str | None = None

    def on_filing_recorded(self, body: dict[str, Any]) -> None:
        self.fact = body

    def on_filing_cancelled(self, body: dict[str, Any]) -> None:
        self.cancelled_on = body["effective_date"]


class Person(Book):
    """Index of a person's filings: filing_id -> [pair key, first day, last day or None]."""

    KIND = "psn"

    def init_state(self) -> None:
        self.filings: dict[str, list[Any]] = {}

    def on_index_filing(self, body: dict[str, Any]) -> None:
        self.filings[body["filing_id"]] = [body["pair"], body["begin"], body["until"]]

    def covering(self, pair: str, date: str) -> str | None:
        """The filing covering ``date`` (YYYY-MM-DD) for ``pair``, if any."""
        for filing_id, (filing_pair, begin, until) in sorted(self.filings.items()):
            if filing_pair == pair and begin <= date and (until is None or date <= until):
                return filing_id
        return None


class Head(Book):
    """An aggregate that holds the head of one key's hash chain."""

    def init_state(self) -> None:
        self.seq = 0
        self.head = GENESIS

    def on_index_tally(self, body: dict[str, Any]) -> None:
        self.seq = body["seq"]
        self.head = body["head"]


class PairBook(Head):
    """The decision state of one pair: float, outstanding, open months, statements."""

    KIND = "pair"

    def init_state(self) -> None:
        super().init_state()
        self.float_fen = 0
        self.float_year: int | None = None
        self.outstanding_fen = 0
        self.level = "ok"
        # Open months: period -> [amount_fen, settled_fen, reversed_fen, clawed_back_fen,
        # settlements, reversals, clawbacks]
        self.pending: dict[str, list[int]] = {}
        # Issued statements: period -> [amount_fen, transferred (0/1), issued at]
        self.statements: dict[str, list[Any]] = {}

    def on_index_tally(self, body: dict[str, Any]) -> None:
        super().on_index_tally(body)
        self.outstanding_fen += body["outstanding_delta_fen"]
        for period, deltas in body["pending"].items():
            row = self.pending.setdefault(period, [0] * 7)
            for i, delta in enumerate(deltas):
                row[i] += delta

    def on_float_adjusted(self, body: dict[str, Any]) -> None:
        self.float_fen = body["float_fen"]
        self.float_year = body["year"]

    def on_float_alert(self, body: dict[str, Any]) -> None:
        self.level = body["to_level"]

    def on_statement_issued(self, body: dict[str, Any]) -> None:
        self.statements[body["period"]] = [body["amount_fen"], 0, body["time"]]
        self.pending.pop(body["period"], None)

    def on_clearing_transferred(self, body: dict[str, Any]) -> None:
        self.statements[body["period"]][1] = 1
        self.outstanding_fen -= body["amount_fen"]


class Treasury(Head):
    KIND = "treasury"


class Calendar(Head):
    KIND = "calendar"

    def init_state(self) -> None:
        super().init_state()
        self.closed: list[str] = []
        self.pairs: list[str] = []  # every pair that has a PairBook, for the clearing run

    def on_index_pair(self, body: dict[str, Any]) -> None:
        self.pairs.append(body["pair"])

    def on_period_closed(self, body: dict[str, Any]) -> None:
        self.closed.append(body["period"])
        self.closed.sort()


class RecordIndex(Book):
    """Remembers an accepted ledger record that has no business id, by its digest."""

    KIND = "record"


HEAD_KINDS: dict[str, type[Head]] = {"pair": PairBook, "treasury": Treasury, "calendar": Calendar}


BOOKS: tuple[type[Book], ...] = (Settlement, Message, Filing, Person, PairBook, Treasury, Calendar, RecordIndex)


def fact_topics() -> list[str]:
    """The event-store topics of fact events (for reading facts without index entries)."""
    from eventsourcing.utils import get_topic

    return sorted(get_topic(event) for book in BOOKS for event in (book.Started, book.Appended))
