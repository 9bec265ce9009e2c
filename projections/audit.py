"""Auditors' views over the facts: traces of an account, and reconciliation (3201/3202).

Pure functions over an iterable of facts (from the event store or a Kafka topic).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ledger.errors import FieldError
from ledger.money import AmountError, parse_yuan_to_fen
from ledger.postings import postings_for

MAX_TRACE_ENTRIES = 100_000  # entries listed; the total always covers every posting


def _source(fact: Mapping[str, Any]) -> dict[str, Any]:
    """Where a fact came from: business ids and the input line."""
    src: dict[str, Any] = {}
    for name in ("setl_id", "msgid", "omsgid", "filing_id", "fixmedins_code", "period"):
        if fact.get(name) is not None:
            src[name] = fact[name]
    if isinstance(fact.get("source"), dict):
        src.update(fact["source"])
    return src


def trace(facts: Iterable[Mapping[str, Any]], account: str, limit: int = MAX_TRACE_ENTRIES) -> dict[str, Any]:
    """Every posting to ``account``, with its fact and source; the amounts sum to the balance."""
    entries: list[dict[str, Any]] = []
    balance = 0
    count = 0
    for fact in facts:
        for name, fen in postings_for(fact):
            if name != account:
                continue
            balance += fen
            count += 1
            if len(entries) < limit:
                entries.append({
                    "position": fact.get("position"), "id": fact["id"], "type": fact["type"],
                    "time": fact["time"], "amount_fen": fen, "balance_fen": balance, "source": _source(fact),
                })
    return {"account": account, "balance_fen": balance, "postings": count, "entries": entries,
            "truncated": count > len(entries)}


# -- reconciliation: 3201 对总账 (totals) and 3202 对明细账 (details) -----------------------
RECON_AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")


@dataclass
class ReconRequest:
    infno: str  # 3201 or 3202
    begin: str  # stmt_begndate, YYYY-MM-DD
    end: str  # stmt_enddate
    fixmedins_code: str | None  # an institution's reconciliation ...
    treatment: str | None  # ... or a province's (setl_optins / mdtrtarea_admvs)
    insured: str | None
    totals: dict[str, int]  # field -> fen, and fixmedins_setl_cnt
    details: dict[str, dict[str, int]] = field(default_factory=dict)  # setl_id -> field -> fen


def parse_recon(raw: Mapping[str, Any]) -> tuple[ReconRequest | None, list[FieldError]]:
    """A reconciliation file: one JSON object in the platform's 3201/3202 names.

    {"infno": "3201"|"3202", "fixmedins_code": ..., "input": {"data": {"setl_optins"?,
     "insuplc_admdvs"?, "stmt_begndate", "stmt_enddate", "medfee_sumamt", "fund_pay_sumamt",
     "acct_pay", "fixmedins_setl_cnt", "details"?: [{"setl_id", "medfee_sumamt",
     "fund_pay_sumamt", "acct_pay", "refd_setl_flag"?}]}}}
    """
    errors: list[FieldError] = []
    infno = raw.get("infno")
    if infno not in ("3201", "3202"):
        errors.append(FieldError("infno", "must be 3201 (totals) or 3202 (details)"))
    data = (raw.get("input") or {}).get("data") if isinstance(raw.get("input"), dict) else None
    if not isinstance(data, dict):
        return None, errors + [FieldError("data", "input.data must be an object")]
    totals: dict[str, int] = {}
    for name in RECON_AMOUNTS:
        try:
            totals[name] = parse_yuan_to_fen(data.get(name))
        except AmountError as exc:
            errors.append(FieldError(name, f"amount {exc}"))
    count = data.get("fixmedins_setl_cnt")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        errors.append(FieldError("fixmedins_setl_cnt", "must be a non-negative integer"))
    else:
        totals["fixmedins_setl_cnt"] = count
    begin, end = data.get("stmt_begndate"), data.get("stmt_enddate")
    for name, value in (("stmt_begndate", begin), ("stmt_enddate", end)):
        if not isinstance(value, str) or len(value) != 10:
            errors.append(FieldError(name, "must be a date YYYY-MM-DD"))
    details: dict[str, dict[str, int]] = {}
    for index, row in enumerate(data.get("details") or []):
        if not isinstance(row, dict) or not isinstance(row.get("setl_id"), str):
            errors.append(FieldError(f"details[{index}].setl_id", "each detail needs a setl_id"))
            continue
        if str(row.get("refd_setl_flag", "0")) == "1":
            continue  # a cancelled settlement: not part of the totals on either side
        amounts: dict[str, int] = {}
        for name in RECON_AMOUNTS:
            try:
                amounts[name] = parse_yuan_to_fen(row.get(name))
            except AmountError as exc:
                errors.append(FieldError(f"details[{index}].{name}", f"amount {exc}"))
        details[row["setl_id"]] = amounts
    if errors:
        return None, errors
    assert isinstance(infno, str) and isinstance(begin, str) and isinstance(end, str)
    return ReconRequest(
        infno=infno, begin=begin, end=end, fixmedins_code=raw.get("fixmedins_code"),
        treatment=data.get("setl_optins") or raw.get("mdtrtarea_admvs"), insured=data.get("insuplc_admdvs") or raw.get("insuplc_admdvs"),
        totals=totals, details=details,
    ), []


def _in_scope(fact: Mapping[str, Any], req: ReconRequest) -> bool:
    if not req.begin <= fact["setl_time"][:10] <= req.end:
        return False
    if req.fixmedins_code and fact["fixmedins_code"] != req.fixmedins_code:
        return False
    if req.treatment and req.treatment not in (fact["treatment"], fact["treatment_code"]):
        return False
    if req.insured and req.insured not in (fact["insured"], fact["insured_code"]):
        return False
    return True


def reconcile(facts: Iterable[Mapping[str, Any]], req: ReconRequest) -> dict[str, Any]:
    """Every difference between the file and the ledger: missing, extra, amount differs.

    The ledger side is every settlement in scope (institution or place, settlement date in
    the statement dates) that is not reversed — as the platform's totals count them.
    """
    ledger: dict[str, dict[str, int]] = {}
    reversed_ids: set[str] = set()
    for fact in facts:
        if fact["type"] == "settlement.recorded" and _in_scope(fact, req):
            ledger[fact["setl_id"]] = {
                "medfee_sumamt": fact["medfee_sumamt_fen"], "fund_pay_sumamt": fact["fund_pay_sumamt_fen"],
                "acct_pay": fact["acct_pay_fen"],
            }
        elif fact["type"] == "settlement.reversed":
            reversed_ids.add(fact["setl_id"])
    for setl_id in reversed_ids:
        ledger.pop(setl_id, None)
    differences: list[dict[str, Any]] = []
    ledger_totals = {name: sum(row[name] for row in ledger.values()) for name in RECON_AMOUNTS}
    ledger_totals["fixmedins_setl_cnt"] = len(ledger)
    for name, theirs in req.totals.items():
        if ledger_totals[name] != theirs:
            differences.append({"kind": "total_differs", "field": name, "file": theirs, "ledger": ledger_totals[name]})
    if req.infno == "3202":
        for setl_id in sorted(set(req.details) | set(ledger)):
            theirs_row, ours = req.details.get(setl_id), ledger.get(setl_id)
            if ours is None:
                differences.append({"kind": "missing_in_ledger", "setl_id": setl_id, "file": theirs_row})
            elif theirs_row is None:
                differences.append({"kind": "extra_in_ledger", "setl_id": setl_id, "ledger": ours})
            else:
                for name in RECON_AMOUNTS:
                    if theirs_row[name] != ours[name]:
                        differences.append({"kind": "amount_differs", "setl_id": setl_id, "field": name,
                                            "file": theirs_row[name], "ledger": ours[name]})
    return {"infno": req.infno, "begin": req.begin, "end": req.end, "fixmedins_code": req.fixmedins_code,
            "treatment": req.treatment, "ledger_totals": ledger_totals, "file_totals": req.totals,
            "differences": differences, "balanced": not differences}
