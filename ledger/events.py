"""The facts: every event the ledger records, immutable and versioned.

Each fact is a frozen dataclass with a ``TYPE`` (stable public name, e.g.
``settlement.recorded``) and a ``VERSION``. ``to_body()`` gives the wire form, a plain dict
that is stored in the event store, published on Kafka and folded by the projections:

    {"type": ..., "v": ..., "key": ..., "time": ..., <fields>}

``key`` is the stream the fact belongs to and the Kafka message key: the pair
``"insured>treatment"`` for everything between two places, the treatment place's code for
payments to institutions, and ``"*"`` for the national clearing calendar. ``time`` is the
record's own time (``inf_time`` or ``recorded_at``, Beijing time), never the wall clock.

When a fact is committed the service adds the chain fields ``seq`` (1, 2, ... within the
key), ``prev`` and ``hash`` (see ``ledger.chain``), and ``id`` = ``"<key>/<seq>"``.
Amounts are integer fen and their names end in ``_fen``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .codes import pair_key

CALENDAR_KEY = "*"


@dataclass(frozen=True)
class Fact:
    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    time: str

    @property
    def key(self) -> str:
        raise NotImplementedError

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.TYPE, "v": self.VERSION, "key": self.key}
        body.update(vars(self))
        return body


@dataclass(frozen=True)
class PairFact(Fact):
    insured: str
    treatment: str

    @property
    def key(self) -> str:
        return pair_key(self.insured, self.treatment)


@dataclass(frozen=True)
class SettlementRecorded(PairFact):
    """A direct settlement (2207/2304/2102) accepted; the insured place now owes ``owed_fen``."""

    TYPE: ClassVar[str] = "settlement.recorded"
    setl_id: str
    msgid: str
    infno: str
    insured_code: str  # as sent: a city or province code
    treatment_code: str
    fixmedins_code: str
    psn_no: str
    med_type: str
    setl_time: str
    period: str  # clearing month: setl_time's month, or the first open month after it
    medfee_sumamt_fen: int
    fund_pay_sumamt_fen: int
    acct_pay_fen: int
    psn_cash_pay_fen: int
    owed_fen: int  # fund_pay_sumamt + acct_pay
    fund_parts_fen: dict[str, int]  # non-zero fund parts, by platform field
    filing_basis: str  # "filing" | "emergency" | "account_only" | "waived_pair"
    filing_id: str | None
    record: dict[str, Any]  # the platform record as accepted, amounts in fen
    source: dict[str, Any]  # where it came from: {"file", "line"} or {"api": ...}


@dataclass(frozen=True)
class SettlementReversed(PairFact):
    """A settlement cancelled whole (2208/2305/2103) or reversed by 冲正 (2601)."""

    TYPE: ClassVar[str] = "settlement.reversed"
    setl_id: str
    msgid: str
    infno: str  # 2208 / 2305 / 2103, or 2601
    original_infno: str  # the settlement's: 2207 / 2304 / 2102
    omsgid: str | None
    fixmedins_code: str
    psn_no: str
    med_type: str
    period: str  # the reversal's own month (or first open month after it)
    original_period: str
    owed_fen: int
    acct_pay_fen: int
    fund_parts_fen: dict[str, int]
    source: dict[str, Any]


@dataclass(frozen=True)
class ClawbackRecorded(PairFact):
    """Supervision recovered money on a settlement (监管追回); it returns to the insured place."""

    TYPE: ClassVar[str] = "clawback.recorded"
    setl_id: str
    fixmedins_code: str
    period: str
    amount_fen: int
    reason: str | None
    source: dict[str, Any]


@dataclass(frozen=True)
class InvestigationOpened(PairFact):
    """A large inpatient stay (大额费用协查) for the insured place to look into."""

    TYPE: ClassVar[str] = "investigation.opened"
    setl_id: str
    fixmedins_code: str
    psn_no: str
    setl_time: str
    medfee_sumamt_fen: int
    threshold_fen: int


@dataclass(frozen=True)
class InvestigationClosed(PairFact):
    TYPE: ClassVar[str] = "investigation.closed"
    setl_id: str
    outcome: str  # confirmed | adjusted | unfounded | withdrawn | settlement_reversed
    note: str | None


@dataclass(frozen=True)
class FilingRecorded(PairFact):
    """异地就医备案: person ``psn_no`` may be treated in ``treatment`` from ``begndate``."""

    TYPE: ClassVar[str] = "filing.recorded"
    filing_id: str
    psn_no: str
    insured_code: str
    treatment_code: str
    category: str  # long_term | temporary
    begndate: str
    enddate: str | None
    valid_until: str | None  # last covered day; None = until cancelled
    reason: str | None
    record: dict[str, Any]
    source: dict[str, Any]


@dataclass(frozen=True)
class FilingCancelled(PairFact):
    TYPE: ClassVar[str] = "filing.cancelled"
    filing_id: str
    psn_no: str
    effective_date: str  # first day no longer covered
    source: dict[str, Any]


@dataclass(frozen=True)
class FloatAdjusted(PairFact):
    """预付金: the float of the pair set to ``float_fen`` for ``year``; only the difference moves."""

    TYPE: ClassVar[str] = "float.adjusted"
    year: int
    float_fen: int
    previous_fen: int
    delta_fen: int
    source: dict[str, Any]


@dataclass(frozen=True)
class FloatAlert(PairFact):
    """The float's usage level changed (ok / warning / emergency)."""

    TYPE: ClassVar[str] = "float.alert"
    from_level: str
    to_level: str
    float_fen: int
    outstanding_fen: int
    usage_bp: int | None  # usage in basis points (1/100 %); None when there is no float
    top_up_requested: bool


@dataclass(frozen=True)
class StatementIssued(PairFact):
    """The national clearing statement (清分) of one pair for one month. Final once issued."""

    TYPE: ClassVar[str] = "statement.issued"
    period: str
    amount_fen: int
    settled_fen: int
    reversed_fen: int
    clawed_back_fen: int
    settlements: int
    reversals: int
    clawbacks: int


@dataclass(frozen=True)
class ClearingTransferred(PairFact):
    """清算资金划拨: the insured province's account paid the statement to the treatment's."""

    TYPE: ClassVar[str] = "clearing.transferred"
    period: str
    amount_fen: int
    source: dict[str, Any]


@dataclass(frozen=True)
class InterestAccrued(PairFact):
    """Interest on the pair's float, earned by the treatment place."""

    TYPE: ClassVar[str] = "interest.accrued"
    amount_fen: int
    source: dict[str, Any]


@dataclass(frozen=True)
class ManualReimbursementRecorded(PairFact):
    """手工报销: counted for the direct-settlement rate; no money moves between places."""

    TYPE: ClassVar[str] = "manual_reimbursement.recorded"
    insured_code: str
    treatment_code: str
    med_type: str
    medfee_sumamt_fen: int
    fund_pay_sumamt_fen: int
    msgid: str | None
    source: dict[str, Any]


@dataclass(frozen=True)
class InstitutionPaid(Fact):
    """The treatment place paid a designated institution."""

    TYPE: ClassVar[str] = "institution.paid"
    treatment: str
    fixmedins_code: str
    period: str
    amount_fen: int
    source: dict[str, Any]

    @property
    def key(self) -> str:
        return self.treatment


@dataclass(frozen=True)
class PeriodClosed(Fact):
    """The national clearing run for a month: the month is closed for every pair."""

    TYPE: ClassVar[str] = "period.closed"
    period: str
    statements: int
    total_fen: int
    source: dict[str, Any]

    @property
    def key(self) -> str:
        return CALENDAR_KEY


FACT_TYPES: dict[str, type[Fact]] = {
    cls.TYPE: cls
    for cls in (
        SettlementRecorded, SettlementReversed, ClawbackRecorded, InvestigationOpened,
        InvestigationClosed, FilingRecorded, FilingCancelled, FloatAdjusted, FloatAlert,
        StatementIssued, ClearingTransferred, InterestAccrued, ManualReimbursementRecorded,
        InstitutionPaid, PeriodClosed,
    )
}
CHAIN_FIELDS = ("seq", "prev", "hash", "id")


def field_names(cls: type[Fact]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))
