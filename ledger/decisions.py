"""The rules of DOMAIN.md §4 and §8: one decision function per command.

Each function checks everything first and raises ``Rejected`` (naming the field) before it
emits anything, so a rejected record leaves no trace. Returning ``DUPLICATE`` means the
record is already a fact. Facts are emitted through the unit of work, which chains them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Callable

from . import codes
from .aggregates import Filing as FilingAgg
from .aggregates import Message, Person, RecordIndex, Settlement
from .chain import canonical
from .config import Policy
from .errors import FieldError, Rejected, reject
from .events import (
    ClawbackRecorded, ClearingTransferred, FilingCancelled, FilingRecorded, FloatAdjusted,
    FloatAlert, InstitutionPaid, InterestAccrued, InvestigationClosed, InvestigationOpened,
    ManualReimbursementRecorded, PeriodClosed, SettlementRecorded, SettlementReversed,
    StatementIssued,
)
from .records import (
    Cancel, Clawback, Clear, ClearingTransfer, Command, Filing, FilingCancel,
    InstitutionPayment, Interest, InvestigationClose, ManualReimbursement, Prepayment, Settle,
)
from .unit_of_work import UnitOfWork

DUPLICATE = "duplicate"
ACCEPTED = "accepted"
Source = dict[str, Any]


# -- helpers -------------------------------------------------------------------------
def next_period(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def open_period(uow: UnitOfWork, period: str) -> str:
    """The month a fact of ``period`` is cleared in: its own, or the first open one after."""
    closed = set(uow.closed_periods())
    while period in closed:
        period = next_period(period)
    return period


def period_end(period: str) -> str:
    return f"{next_period(period)}-01 00:00:00"


def add_months(date: str, months: int) -> dt.date:
    d = dt.date.fromisoformat(date)
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    day = min(d.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1])
    return dt.date(year, month, day)


def months_later_last_day(date: str, months: int) -> dt.date:
    """The last day of a validity of ``months`` months from ``date``: the day before the same
    day-of-month ``months`` later, or that month's last day if it has no such day
    (2025-08-31 + 6 months covers through 2026-02-28)."""
    start = dt.date.fromisoformat(date)
    same_day = add_months(date, months)
    if same_day.day != start.day:  # clamped: the target month is shorter
        return same_day
    return same_day - dt.timedelta(days=1)


def differing_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def reused_id(id_field: str, value: str, old: dict[str, Any], new: dict[str, Any]) -> Rejected:
    """The same business id with other content: name every field that differs (§8)."""
    fields = differing_fields(old, new)
    assert fields, "called only when the contents differ"
    return Rejected(*(
        FieldError(f, f"{id_field} {value} was already accepted with {f}={old.get(f)!r}; this record has {new.get(f)!r}")
        for f in fields
    ))


def record_digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()


def seen_record(uow: UnitOfWork, cmd: Command) -> bool:
    return uow.get(RecordIndex, record_digest(cmd.content)) is not None


def remember_record(uow: UnitOfWork, cmd: Command) -> None:
    uow.start(RecordIndex, record_digest(cmd.content), {"type": "index.record", "kind": cmd.kind})


def level_of(policy: Policy, float_fen: int, outstanding_fen: int) -> str:
    if float_fen <= 0:
        return "ok"  # no float: nothing to measure usage against
    if outstanding_fen * 100 >= policy.float_emergency_pct * float_fen:
        return "emergency"
    if outstanding_fen * 100 >= policy.float_warning_pct * float_fen:
        return "warning"
    return "ok"


def check_float_level(uow: UnitOfWork, policy: Policy, key: str, time: str) -> None:
    """Emit a float alert when the pair's usage level changes (70 % / 90 % defaults)."""
    book = uow.get_pair(key)
    float_fen = book.float_fen if book else 0
    level_now = book.level if book else "ok"
    outstanding = uow.outstanding_fen(key)
    level = level_of(policy, float_fen, outstanding)
    if level == level_now:
        return
    insured, treatment = codes.split_pair_key(key)
    uow.emit(uow.pair_book(key), FloatAlert(
        time=time, insured=insured, treatment=treatment, from_level=level_now, to_level=level,
        float_fen=float_fen, outstanding_fen=outstanding,
        usage_bp=outstanding * 10000 // float_fen if float_fen > 0 else None,
        top_up_requested=level == "emergency",
    ))


def check_message(uow: UnitOfWork, msgid: str, content: dict[str, Any]) -> bool:
    """True if this exact message was accepted already; raise if the msgid was reused."""
    msg = uow.get(Message, msgid)
    if msg is None:
        return False
    old = msg.content
    if msg.setl_id is not None and msg.infno in codes.SETTLEMENT_INFNOS:
        setl = uow.get(Settlement, msg.setl_id)
        assert setl is not None, "a settlement message indexes its settlement"
        old = setl.fact["record"]
    if old == content:
        return True
    raise reused_id("msgid", msgid, old, content)


# -- platform messages ---------------------------------------------------------------
def settle(uow: UnitOfWork, policy: Policy, cmd: Settle, source: Source) -> str:
    if check_message(uow, cmd.msgid, cmd.content):
        return DUPLICATE
    existing = uow.get(Settlement, cmd.setl_id)
    if existing is not None:
        old = {k: v for k, v in existing.fact["record"].items() if k not in ("msgid", "inf_time")}
        if old == cmd.settlement_content:
            return DUPLICATE
        raise reused_id("setl_id", cmd.setl_id, old, cmd.settlement_content)
    insured, treatment = codes.pair_parties(cmd.insured_code, cmd.treatment_code)
    key = codes.pair_key(insured, treatment)
    basis, filing_id = filing_basis(uow, policy, cmd, key)
    period = open_period(uow, cmd.setl_time[:7])
    owed = cmd.owed_fen
    setl = uow.emit_new(Settlement, cmd.setl_id, SettlementRecorded(
        time=cmd.time, insured=insured, treatment=treatment, setl_id=cmd.setl_id, msgid=cmd.msgid,
        infno=cmd.infno, insured_code=cmd.insured_code, treatment_code=cmd.treatment_code,
        fixmedins_code=cmd.fixmedins_code, psn_no=cmd.psn_no, med_type=cmd.med_type,
        setl_time=cmd.setl_time, period=period, medfee_sumamt_fen=cmd.medfee_sumamt_fen,
        fund_pay_sumamt_fen=cmd.fund_pay_sumamt_fen, acct_pay_fen=cmd.acct_pay_fen,
        psn_cash_pay_fen=cmd.psn_cash_pay_fen, owed_fen=owed, fund_parts_fen=dict(cmd.fund_parts_fen),
        filing_basis=basis, filing_id=filing_id, record=cmd.content, source=source,
    ))
    uow.start(Message, cmd.msgid, {"type": "index.message", "infno": cmd.infno, "setl_id": cmd.setl_id, "content": {}})
    inpatient = cmd.infno == "2304" or cmd.med_type in codes.INPATIENT_MED_TYPES
    if inpatient and cmd.medfee_sumamt_fen >= policy.large_stay_threshold_fen:
        uow.emit(setl, InvestigationOpened(
            time=cmd.time, insured=insured, treatment=treatment, setl_id=cmd.setl_id,
            fixmedins_code=cmd.fixmedins_code, psn_no=cmd.psn_no, setl_time=cmd.setl_time,
            medfee_sumamt_fen=cmd.medfee_sumamt_fen, threshold_fen=policy.large_stay_threshold_fen,
        ))
    uow.tally(key, period, (owed, owed, 0, 0, 1, 0, 0), owed)
    check_float_level(uow, policy, key, cmd.time)
    return ACCEPTED


def filing_basis(uow: UnitOfWork, policy: Policy, cmd: Settle, key: str) -> tuple[str, str | None]:
    """Why a settlement may be accepted: a covering filing, or an explicit exemption (§4)."""
    person = uow.get(Person, cmd.psn_no)
    filing_id = person.covering(key, cmd.setl_time[:10]) if person else None
    if filing_id is not None:
        return "filing", filing_id
    if cmd.med_type in policy.filing_exempt_emergency_med_types:
        return "emergency", None
    if cmd.med_type in policy.filing_exempt_account_only_med_types and cmd.fund_pay_sumamt_fen == 0:
        return "account_only", None
    if key in policy.filing_waived_pairs:
        return "waived_pair", None
    raise reject("psn_no", (
        f"no filing (备案) of person {cmd.psn_no} covers {cmd.setl_time[:10]} for {key}; the settlement "
        f"is not an emergency, draws on the pooled fund, and the pair does not waive filing"
    ))


def cancel(uow: UnitOfWork, policy: Policy, cmd: Cancel, source: Source) -> str:
    if check_message(uow, cmd.msgid, cmd.content):
        return DUPLICATE
    setl, id_field = _cancel_target(uow, cmd)
    fact = setl.fact
    if setl.status == "reversed":
        raise reject(id_field, f"settlement {fact['setl_id']} is already reversed")
    if cmd.infno in codes.CANCELLATION_INFNOS and codes.CANCELLATION_INFNOS[cmd.infno] != fact["infno"]:
        raise reject("infno", f"{cmd.infno} cannot cancel a {fact['infno']} settlement")
    for name, mine, theirs in (
        ("psn_no", cmd.psn_no, fact["psn_no"]),
        ("insuplc_admdvs", cmd.insured_code, fact["insured_code"]),
        ("mdtrtarea_admvs", cmd.treatment_code, fact["treatment_code"]),
        ("fixmedins_code", cmd.fixmedins_code, fact["fixmedins_code"]),
    ):
        if mine != theirs:
            raise reject(name, f"{mine} does not match the settlement's {theirs}")
    if cmd.mdtrt_id and fact["record"].get("mdtrt_id") not in (None, cmd.mdtrt_id):
        raise reject("mdtrt_id", f"{cmd.mdtrt_id} does not match the settlement's {fact['record']['mdtrt_id']}")
    if setl.clawed_back_fen:
        raise reject(id_field, f"settlement {fact['setl_id']} has clawbacks of {setl.clawed_back_fen} fen; it cannot be cancelled whole")
    if cmd.time < max(fact["setl_time"], setl.last_time):
        raise reject("inf_time", f"{cmd.time} is before the settlement ({max(fact['setl_time'], setl.last_time)})")
    period = open_period(uow, cmd.time[:7])
    owed = fact["owed_fen"]
    uow.emit(setl, SettlementReversed(
        time=cmd.time, insured=fact["insured"], treatment=fact["treatment"], setl_id=fact["setl_id"],
        msgid=cmd.msgid, infno=cmd.infno, original_infno=fact["infno"], omsgid=cmd.omsgid, fixmedins_code=fact["fixmedins_code"],
        psn_no=fact["psn_no"], med_type=fact["med_type"], period=period, original_period=fact["period"],
        owed_fen=owed, acct_pay_fen=fact["acct_pay_fen"], fund_parts_fen=fact["fund_parts_fen"], source=source,
    ))
    uow.start(Message, cmd.msgid, {"type": "index.message", "infno": cmd.infno, "setl_id": fact["setl_id"], "content": cmd.content})
    if setl.investigation == "open":
        uow.emit(setl, InvestigationClosed(
            time=cmd.time, insured=fact["insured"], treatment=fact["treatment"], setl_id=fact["setl_id"],
            outcome="settlement_reversed", note=None,
        ))
    key = codes.pair_key(fact["insured"], fact["treatment"])
    uow.tally(key, period, (-owed, 0, owed, 0, 0, 1, 0), -owed)
    check_float_level(uow, policy, key, cmd.time)
    return ACCEPTED


def _cancel_target(uow: UnitOfWork, cmd: Cancel) -> tuple[Settlement, str]:
    if cmd.omsgid is not None:  # 2601 冲正: by the original message id
        original = uow.get(Message, cmd.omsgid)
        if original is None:
            raise reject("omsgid", f"no message {cmd.omsgid} was accepted")
        if original.infno != cmd.oinfno:
            raise reject("oinfno", f"message {cmd.omsgid} was a {original.infno}, not {cmd.oinfno}")
        if original.infno not in codes.SETTLEMENT_INFNOS or original.setl_id is None:
            raise reject("oinfno", f"message {cmd.omsgid} is not a settlement; only settlements can be reversed")
        setl = uow.get(Settlement, original.setl_id)
        assert setl is not None
        return setl, "omsgid"
    assert cmd.setl_id is not None
    setl = uow.get(Settlement, cmd.setl_id)
    if setl is None:
        raise reject("setl_id", f"no settlement {cmd.setl_id} was accepted")
    return setl, "setl_id"


# -- the ledger's own records ---------------------------------------------------------
def filing(uow: UnitOfWork, policy: Policy, cmd: Filing, source: Source) -> str:
    existing = uow.get(FilingAgg, cmd.filing_id)
    if existing is not None:
        if existing.fact["record"] == cmd.content:
            return DUPLICATE
        raise reused_id("filing_id", cmd.filing_id, existing.fact["record"], cmd.content)
    insured, treatment = codes.pair_parties(cmd.insured_code, cmd.treatment_code)
    valid_until = cmd.enddate
    if cmd.category == "temporary" and cmd.enddate is None:
        valid_until = months_later_last_day(cmd.begndate, policy.temporary_validity_months).isoformat()
    key = codes.pair_key(insured, treatment)
    uow.emit_new(FilingAgg, cmd.filing_id, FilingRecorded(
        time=cmd.time, insured=insured, treatment=treatment, filing_id=cmd.filing_id, psn_no=cmd.psn_no,
        insured_code=cmd.insured_code, treatment_code=cmd.treatment_code, category=cmd.category,
        begndate=cmd.begndate, enddate=cmd.enddate, valid_until=valid_until, reason=cmd.reason,
        record=cmd.content, source=source,
    ))
    _index_person(uow, cmd.psn_no, {"type": "index.filing", "filing_id": cmd.filing_id, "pair": key,
                                    "begin": cmd.begndate, "until": valid_until})
    return ACCEPTED


def _index_person(uow: UnitOfWork, psn_no: str, body: dict[str, Any]) -> None:
    person = uow.get(Person, psn_no)
    if person is None:
        uow.start(Person, psn_no, body)
    else:
        uow.append(person, body)


def filing_cancel(uow: UnitOfWork, policy: Policy, cmd: FilingCancel, source: Source) -> str:
    if seen_record(uow, cmd):
        return DUPLICATE
    agg = uow.get(FilingAgg, cmd.filing_id)
    if agg is None:
        raise reject("filing_id", f"no filing {cmd.filing_id} was accepted")
    if agg.cancelled_on is not None:
        raise reject("filing_id", f"filing {cmd.filing_id} was already cancelled on {agg.cancelled_on}")
    fact = agg.fact
    effective = cmd.time[:10]
    if fact["category"] == "long_term":
        unlock = add_months(fact["begndate"], policy.long_term_lock_months).isoformat()
        if effective < unlock:
            raise reject("filing_id", (
                f"long-term filing {cmd.filing_id} began {fact['begndate']} and cannot be cancelled "
                f"before {unlock} ({policy.long_term_lock_months}-month lock)"
            ))
    last_day = (dt.date.fromisoformat(effective) - dt.timedelta(days=1)).isoformat()
    until = fact["valid_until"]
    until = last_day if until is None or last_day < until else until
    uow.emit(agg, FilingCancelled(
        time=cmd.time, insured=fact["insured"], treatment=fact["treatment"], filing_id=cmd.filing_id,
        psn_no=fact["psn_no"], effective_date=effective, source=source,
    ))
    _index_person(uow, fact["psn_no"], {"type": "index.filing", "filing_id": cmd.filing_id,
                                        "pair": fact["key"], "begin": fact["begndate"], "until": until})
    remember_record(uow, cmd)
    return ACCEPTED


def prepayment(uow: UnitOfWork, policy: Policy, cmd: Prepayment, source: Source) -> str:
    if seen_record(uow, cmd):
        return DUPLICATE
    key = codes.pair_key(cmd.insured, cmd.treatment)
    book = uow.pair_book(key)
    if book.float_year is not None and cmd.year < book.float_year:
        raise reject("year", f"the float of {key} is already set for {book.float_year}; {cmd.year} is past")
    uow.emit(book, FloatAdjusted(
        time=cmd.time, insured=cmd.insured, treatment=cmd.treatment, year=cmd.year,
        float_fen=cmd.amount_fen, previous_fen=book.float_fen, delta_fen=cmd.amount_fen - book.float_fen,
        source=source,
    ))
    remember_record(uow, cmd)
    check_float_level(uow, policy, key, cmd.time)
    return ACCEPTED


def clear(uow: UnitOfWork, policy: Policy, cmd: Clear, source: Source) -> str:
    """The national clearing run: close the month and issue a statement per active pair."""
    if seen_record(uow, cmd):
        return DUPLICATE
    if cmd.period in uow.closed_periods():
        raise reject("period", f"{cmd.period} is already cleared; a cleared month is never reopened")
    if cmd.time < period_end(cmd.period):
        raise reject("recorded_at", f"{cmd.time} is before the end of {cmd.period}; a month is cleared after it ends")
    uow.flush_all()  # every pair active in this batch gets its book, and the calendar knows it
    calendar = uow.calendar()
    count = total = 0
    for key in sorted(calendar.pairs):
        row = uow.pending_row(key, cmd.period)
        if not any(row[4:]):
            continue
        insured, treatment = codes.split_pair_key(key)
        uow.emit(uow.pair_book(key), StatementIssued(
            time=cmd.time, insured=insured, treatment=treatment, period=cmd.period, amount_fen=row[0],
            settled_fen=row[1], reversed_fen=row[2], clawed_back_fen=row[3], settlements=row[4],
            reversals=row[5], clawbacks=row[6],
        ))
        count += 1
        total += row[0]
    uow.emit(calendar, PeriodClosed(time=cmd.time, period=cmd.period, statements=count, total_fen=total, source=source))
    remember_record(uow, cmd)
    return ACCEPTED


def clearing_transfer(uow: UnitOfWork, policy: Policy, cmd: ClearingTransfer, source: Source) -> str:
    if seen_record(uow, cmd):
        return DUPLICATE
    key = codes.pair_key(cmd.insured, cmd.treatment)
    book = uow.get_pair(key)
    statement = book.statements.get(cmd.period) if book else None
    if book is None or statement is None:
        raise reject("period", f"no clearing statement was issued for {key} and {cmd.period}")
    if statement[1]:
        raise reject("period", f"the statement of {key} for {cmd.period} is already transferred")
    if cmd.amount_fen != statement[0]:
        raise reject("amount", f"{cmd.amount_fen} fen does not match the statement amount {statement[0]} fen")
    if cmd.time < statement[2]:
        raise reject("recorded_at", f"{cmd.time} is before the statement was issued ({statement[2]})")
    uow.emit(uow.pair_book(key), ClearingTransferred(
        time=cmd.time, insured=cmd.insured, treatment=cmd.treatment, period=cmd.period,
        amount_fen=cmd.amount_fen, source=source,
    ))
    remember_record(uow, cmd)
    check_float_level(uow, policy, key, cmd.time)
    return ACCEPTED


def institution_payment(uow: UnitOfWork, policy: Policy, cmd: InstitutionPayment, source: Source) -> str:
    if seen_record(uow, cmd):
        return DUPLICATE
    uow.emit(uow.head_book(cmd.treatment), InstitutionPaid(
        time=cmd.time, treatment=cmd.treatment, fixmedins_code=cmd.fixmedins_code, period=cmd.period,
        amount_fen=cmd.amount_fen, source=source,
    ))
    remember_record(uow, cmd)
    return ACCEPTED


def clawback(uow: UnitOfWork, policy: Policy, cmd: Clawback, source: Source) -> str:
    if seen_record(uow, cmd):
        return DUPLICATE
    setl = uow.get(Settlement, cmd.setl_id)
    if setl is None:
        raise reject("setl_id", f"no settlement {cmd.setl_id} was accepted")
    if setl.status == "reversed":
        raise reject("setl_id", f"settlement {cmd.setl_id} is reversed; nothing is left to claw back")
    fact = setl.fact
    left = fact["owed_fen"] - setl.clawed_back_fen
    if cmd.amount_fen > left:
        raise reject("amount", f"{cmd.amount_fen} fen is more than the {left} fen left on settlement {cmd.setl_id}")
    if cmd.time < max(fact["setl_time"], setl.last_time):
        raise reject("recorded_at", f"{cmd.time} is before the settlement's last fact ({max(fact['setl_time'], setl.last_time)})")
    period = open_period(uow, cmd.time[:7])
    uow.emit(setl, ClawbackRecorded(
        time=cmd.time, insured=fact["insured"], treatment=fact["treatment"], setl_id=cmd.setl_id,
        fixmedins_code=fact["fixmedins_code"], period=period, amount_fen=cmd.amount_fen,
        reason=cmd.reason, source=source,
    ))
    key = fact["key"]
    uow.tally(key, period, (-cmd.amount_fen, 0, 0, cmd.amount_fen, 0, 0, 1), -cmd.amount_fen)
    remember_record(uow, cmd)
    check_float_level(uow, policy, key, cmd.time)
    return ACCEPTED


def interest(uow: UnitOfWork, policy: Policy, cmd: Interest, source: Source) -> str:
    if seen_record(uow, cmd):
        return DUPLICATE
    key = codes.pair_key(cmd.insured, cmd.treatment)
    uow.emit(uow.pair_book(key), InterestAccrued(
        time=cmd.time, insured=cmd.insured, treatment=cmd.treatment, amount_fen=cmd.amount_fen, source=source,
    ))
    remember_record(uow, cmd)
    return ACCEPTED


def manual_reimbursement(uow: UnitOfWork, policy: Policy, cmd: ManualReimbursement, source: Source) -> str:
    if cmd.msgid is not None:
        if check_message(uow, cmd.msgid, cmd.content):
            return DUPLICATE
    elif seen_record(uow, cmd):
        return DUPLICATE
    key = codes.pair_key(cmd.insured, cmd.treatment)
    uow.emit(uow.pair_book(key), ManualReimbursementRecorded(
        time=cmd.time, insured=cmd.insured, treatment=cmd.treatment, insured_code=cmd.insured_code,
        treatment_code=cmd.treatment_code, med_type=cmd.med_type, medfee_sumamt_fen=cmd.medfee_sumamt_fen,
        fund_pay_sumamt_fen=cmd.fund_pay_sumamt_fen, msgid=cmd.msgid, source=source,
    ))
    if cmd.msgid is not None:
        uow.start(Message, cmd.msgid, {"type": "index.message", "infno": "manual", "setl_id": None, "content": cmd.content})
    else:
        remember_record(uow, cmd)
    return ACCEPTED


def investigation_close(uow: UnitOfWork, policy: Policy, cmd: InvestigationClose, source: Source) -> str:
    if seen_record(uow, cmd):
        return DUPLICATE
    setl = uow.get(Settlement, cmd.setl_id)
    if setl is None or setl.investigation is None:
        raise reject("setl_id", f"no investigation case was opened for settlement {cmd.setl_id}")
    if setl.investigation == "closed":
        raise reject("setl_id", f"the investigation of settlement {cmd.setl_id} is already closed")
    if cmd.time < setl.investigation_opened_at:
        raise reject("recorded_at", f"{cmd.time} is before the case was opened ({setl.investigation_opened_at})")
    fact = setl.fact
    uow.emit(setl, InvestigationClosed(
        time=cmd.time, insured=fact["insured"], treatment=fact["treatment"], setl_id=cmd.setl_id,
        outcome=cmd.outcome, note=cmd.note,
    ))
    remember_record(uow, cmd)
    return ACCEPTED


def lookups(cmd: Command) -> list[tuple[type[Any], str]]:
    """The aggregates a command's decision will look up by business id (for prefetching)."""
    refs: list[tuple[type[Any], str]] = []
    if isinstance(cmd, Settle):
        refs += [(Message, cmd.msgid), (Settlement, cmd.setl_id), (Person, cmd.psn_no)]
    elif isinstance(cmd, Cancel):
        refs.append((Message, cmd.msgid))
        refs.append((Message, cmd.omsgid) if cmd.omsgid else (Settlement, str(cmd.setl_id)))
    elif isinstance(cmd, Filing):
        refs += [(FilingAgg, cmd.filing_id), (Person, cmd.psn_no)]
    else:
        refs.append((RecordIndex, record_digest(cmd.content)))
        if isinstance(cmd, ManualReimbursement) and cmd.msgid:
            refs.append((Message, cmd.msgid))
    return refs


Decision = Callable[[UnitOfWork, Policy, Any, Source], str]
DECISIONS: dict[type[Command], Decision] = {
    Settle: settle,
    Cancel: cancel,
    Filing: filing,
    FilingCancel: filing_cancel,
    Prepayment: prepayment,
    Clear: clear,
    ClearingTransfer: clearing_transfer,
    InstitutionPayment: institution_payment,
    Clawback: clawback,
    Interest: interest,
    ManualReimbursement: manual_reimbursement,
    InvestigationClose: investigation_close,
}
