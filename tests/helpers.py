"""Shared test helpers: record builders in the contract format, and a ledger to feed them to.

Every builder returns a *raw dict* exactly as a line of a JSON Lines input file would decode
(amounts as yuan strings with two decimals), so tests exercise the same parsing the CLI does.
Fund splits are computed in integer fen: pass ``medfee``, the fund parts and ``acct``; the
builder fills ``fund_pay_sumamt`` and ``psn_cash_pay`` so that the sums of DOMAIN.md §4 hold.

Overrides: any keyword that is not a builder parameter replaces (or adds) that field — in the
message header if it is a header field, otherwise in ``setlinfo`` / ``input.data``. Pass
``DROP`` as the value to remove a field.
"""

from __future__ import annotations

import copy
import itertools
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from ledger.config import Policy
from ledger.records import PLATFORM_HEADER_FIELDS
from projections import views
from projections.fold import Projection, digest
from yidi.embedded import EmbeddedBackend
from yidi.ingest import Ingest

DROP = object()  # sentinel: remove the field

_ids = itertools.count(1)

# Short names of the fund parts accepted by ``settlement`` -> platform field.
FUND_PART_FIELDS = {
    "hifp": "hifp_pay",
    "cvlserv": "cvlserv_pay",
    "hifmi": "hifmi_pay",
    "hifob": "hifob_pay",
    "maf": "maf_pay",
    "oth": "oth_pay",
}
DEFAULT_MED_TYPE = {"2207": "11", "2304": "21", "2102": "41"}
DEFAULT_CLR_TYPE = {"11": "11", "13": "11", "14": "11", "21": "21", "22": "21", "23": "21", "24": "21", "41": "41"}
CANCEL_INFNO = {"2207": "2208", "2304": "2305", "2102": "2103"}

_YUAN = re.compile(r"^(\d+)(?:\.(\d{1,2}))?$")


# -- money -------------------------------------------------------------------------------
def fen(yuan: str | int) -> int:
    """'1000.50' -> 100050 (test-side parser, independent of ledger.money)."""
    if isinstance(yuan, int):
        return yuan * 100
    m = _YUAN.match(yuan)
    assert m, f"test helper: bad yuan {yuan!r}"
    return int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))


def yuan(amount_fen: int) -> str:
    """100050 -> '1000.50'."""
    sign = "-" if amount_fen < 0 else ""
    whole, cents = divmod(abs(amount_fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def next_id() -> int:
    return next(_ids)


def _apply(target: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for name, value in overrides.items():
        if value is DROP:
            target.pop(name, None)
        else:
            target[name] = value


def _split_overrides(overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    header = {k: v for k, v in overrides.items() if k in PLATFORM_HEADER_FIELDS or k == "mdtrtarea_admdvs"}
    body = {k: v for k, v in overrides.items() if k not in header}
    return header, body


def next_day_time(period: str, day: int = 5, clock: str = "09:00:00") -> str:
    """A time in the month after ``period`` ('2025-01' -> '2025-02-05 09:00:00')."""
    year, month = int(period[:4]), int(period[5:7])
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}-{day:02d} {clock}"


# -- platform messages --------------------------------------------------------------------
def settlement(
    *,
    infno: str = "2304",
    insured: str = "420100",
    treatment: str = "440300",
    fixmedins_code: str | None = None,
    inf_time: str = "2025-01-10 15:30:00",
    setl_time: str | None = None,
    msgid: str | None = None,
    setl_id: str | None = None,
    psn_no: str = "42010000000000000001",
    med_type: str | None = None,
    insutype: str = "310",
    medfee: str = "1000.00",
    hifp: str = "600.00",
    cvlserv: str = "0.00",
    hifmi: str = "0.00",
    hifob: str = "0.00",
    maf: str = "0.00",
    oth: str = "0.00",
    acct: str = "100.00",
    cash: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A 2207 / 2304 / 2102 settlement message whose sums hold (cash filled in unless given)."""
    n = next_id()
    med_type = med_type or DEFAULT_MED_TYPE[infno]
    fixmedins_code = fixmedins_code or ("P" if infno == "2102" else "H") + treatment + "000001"
    parts_fen = {
        "hifp_pay": fen(hifp), "cvlserv_pay": fen(cvlserv), "hifmi_pay": fen(hifmi),
        "hifob_pay": fen(hifob), "maf_pay": fen(maf), "oth_pay": fen(oth),
    }
    fund_fen = sum(parts_fen.values())
    medfee_fen, acct_fen = fen(medfee), fen(acct)
    cash_fen = fen(cash) if cash is not None else medfee_fen - fund_fen - acct_fen
    assert cash is not None or cash_fen >= 0, "test helper: fund + acct exceed medfee"
    setl_time = setl_time or inf_time
    setl_id = setl_id or f"S{treatment}{n:010d}"
    setlinfo: dict[str, Any] = {
        "setl_id": setl_id, "mdtrt_id": "MD" + setl_id, "psn_no": psn_no, "insutype": insutype,
        "psn_type": "11", "setl_time": setl_time, "med_type": med_type,
        "medfee_sumamt": medfee, "fulamt_ownpay_amt": "0.00", "overlmt_selfpay": "0.00",
        "preselfpay_amt": "0.00", "inscp_scp_amt": medfee, "act_pay_dedc": "0.00",
        "hifp_pay": yuan(parts_fen["hifp_pay"]), "cvlserv_pay": yuan(parts_fen["cvlserv_pay"]),
        "hifes_pay": "0.00", "hifmi_pay": yuan(parts_fen["hifmi_pay"]), "hifob_pay": yuan(parts_fen["hifob_pay"]),
        "maf_pay": yuan(parts_fen["maf_pay"]), "oth_pay": yuan(parts_fen["oth_pay"]),
        "fund_pay_sumamt": yuan(fund_fen), "psn_part_amt": yuan(medfee_fen - fund_fen),
        "acct_pay": acct, "psn_cash_pay": yuan(cash_fen), "acct_mulaid_pay": "0.00",
        "hosp_part_amt": "0.00", "medins_setl_id": "M" + setl_id, "clr_optins": treatment,
        "clr_way": "01", "clr_type": DEFAULT_CLR_TYPE.get(med_type, "99"),
    }
    record: dict[str, Any] = {
        "infno": infno,
        "msgid": msgid or f"M{treatment}{n:012d}",
        "insuplc_admdvs": insured,
        "mdtrtarea_admvs": treatment,
        "fixmedins_code": fixmedins_code,
        "inf_time": inf_time,
        "output": {"setlinfo": setlinfo},
    }
    header, body = _split_overrides(overrides)
    _apply(record, header)
    _apply(setlinfo, body)
    return record


def modify(record: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """A copy of a platform message with fields replaced (header, else setlinfo / input.data)."""
    result = copy.deepcopy(dict(record))
    header, body = _split_overrides(overrides)
    _apply(result, header)
    if body:
        if isinstance(result.get("output"), dict) and isinstance(result["output"].get("setlinfo"), dict):
            _apply(result["output"]["setlinfo"], body)
        else:
            _apply(result["input"]["data"], body)
    return result


def owed_fen(record: Mapping[str, Any]) -> int:
    """What a settlement record makes the insured place owe (fund_pay_sumamt + acct_pay)."""
    s = record["output"]["setlinfo"]
    return fen(s["fund_pay_sumamt"]) + fen(s["acct_pay"])


def cancellation(
    original: Mapping[str, Any],
    *,
    inf_time: str | None = None,
    msgid: str | None = None,
    infno: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The platform cancellation (2208 / 2305 / 2103) of ``original``, by its setl_id."""
    s = original["output"]["setlinfo"]
    data: dict[str, Any] = {"setl_id": s["setl_id"], "mdtrt_id": s.get("mdtrt_id"), "psn_no": s["psn_no"]}
    if data["mdtrt_id"] is None:
        del data["mdtrt_id"]
    record: dict[str, Any] = {
        "infno": infno or CANCEL_INFNO[original["infno"]],
        "msgid": msgid or f"C{next_id():015d}",
        "insuplc_admdvs": original["insuplc_admdvs"],
        "mdtrtarea_admvs": original["mdtrtarea_admvs"],
        "fixmedins_code": original["fixmedins_code"],
        "inf_time": inf_time or original["inf_time"],
        "input": {"data": data},
    }
    header, body = _split_overrides(overrides)
    _apply(record, header)
    _apply(data, body)
    return record


def reversal_2601(
    original: Mapping[str, Any],
    *,
    inf_time: str | None = None,
    msgid: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """冲正 (2601) of ``original`` by its message id (omsgid) and transaction (oinfno)."""
    data: dict[str, Any] = {
        "psn_no": original["output"]["setlinfo"]["psn_no"],
        "omsgid": original["msgid"],
        "oinfno": original["infno"],
    }
    record: dict[str, Any] = {
        "infno": "2601",
        "msgid": msgid or f"R{next_id():015d}",
        "insuplc_admdvs": original["insuplc_admdvs"],
        "mdtrtarea_admvs": original["mdtrtarea_admvs"],
        "fixmedins_code": original["fixmedins_code"],
        "inf_time": inf_time or original["inf_time"],
        "input": {"data": data},
    }
    header, body = _split_overrides(overrides)
    _apply(record, header)
    _apply(data, body)
    return record


# -- the ledger's own records ---------------------------------------------------------------
def _own(kind: str, recorded_at: str, fields: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    record = {"type": kind, "recorded_at": recorded_at, **fields}
    _apply(record, overrides)
    return record


def filing(
    psn_no: str = "42010000000000000001",
    *,
    insured: str = "420100",
    treatment: str = "440300",
    category: str = "long_term",
    begndate: str = "2024-10-01",
    enddate: str | None = None,
    filing_id: str | None = None,
    recorded_at: str = "2024-09-20 09:00:00",
    **overrides: Any,
) -> dict[str, Any]:
    return _own("filing", recorded_at, {
        "filing_id": filing_id or f"BA{insured}{next_id():010d}", "psn_no": psn_no,
        "insuplc_admdvs": insured, "mdtrtarea_admvs": treatment, "category": category,
        "begndate": begndate, "enddate": enddate,
    }, overrides)


def filing_cancel(filing_id: str, *, recorded_at: str = "2025-06-01 09:00:00", **overrides: Any) -> dict[str, Any]:
    return _own("filing_cancel", recorded_at, {"filing_id": filing_id}, overrides)


def prepayment(
    insured: str = "420000",
    treatment: str = "440000",
    *,
    year: Any = 2025,
    amount: str = "50000.00",
    recorded_at: str = "2025-01-06 10:00:00",
    **overrides: Any,
) -> dict[str, Any]:
    return _own("prepayment", recorded_at, {"insured": insured, "treatment": treatment, "year": year, "amount": amount}, overrides)


def clear(period: str = "2025-01", *, recorded_at: str | None = None, **overrides: Any) -> dict[str, Any]:
    return _own("clear", recorded_at or next_day_time(period, 5, "09:00:00"), {"period": period}, overrides)


def transfer(
    insured: str = "420000",
    treatment: str = "440000",
    *,
    period: str = "2025-01",
    amount: str = "0.00",
    recorded_at: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    return _own("clearing_transfer", recorded_at or next_day_time(period, 20, "14:00:00"),
                {"insured": insured, "treatment": treatment, "period": period, "amount": amount}, overrides)


def institution_payment(
    treatment: str = "440000",
    fixmedins_code: str = "H44030000001",
    *,
    period: str = "2025-01",
    amount: str = "100.00",
    recorded_at: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    return _own("institution_payment", recorded_at or next_day_time(period, 25, "10:00:00"),
                {"treatment": treatment, "fixmedins_code": fixmedins_code, "period": period, "amount": amount}, overrides)


def clawback(
    setl_id: str,
    *,
    amount: str = "100.00",
    recorded_at: str = "2025-01-25 10:00:00",
    reason: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"setl_id": setl_id, "amount": amount}
    if reason is not None:
        fields["reason"] = reason
    return _own("clawback", recorded_at, fields, overrides)


def interest(
    insured: str = "420000",
    treatment: str = "440000",
    *,
    amount: str = "12.34",
    recorded_at: str = "2025-03-21 10:00:00",
    **overrides: Any,
) -> dict[str, Any]:
    return _own("interest", recorded_at, {"insured": insured, "treatment": treatment, "amount": amount}, overrides)


def manual_reimbursement(
    insured: str = "420100",
    treatment: str = "440300",
    *,
    med_type: str = "21",
    medfee: str = "5000.00",
    fund: str = "3000.00",
    recorded_at: str = "2025-01-28 10:00:00",
    **overrides: Any,
) -> dict[str, Any]:
    return _own("manual_reimbursement", recorded_at, {
        "insuplc_admdvs": insured, "mdtrtarea_admvs": treatment, "med_type": med_type,
        "medfee_sumamt": medfee, "fund_pay_sumamt": fund,
    }, overrides)


def investigation_close(
    setl_id: str,
    *,
    outcome: str = "confirmed",
    recorded_at: str = "2025-02-10 10:00:00",
    **overrides: Any,
) -> dict[str, Any]:
    return _own("investigation_close", recorded_at, {"setl_id": setl_id, "outcome": outcome}, overrides)


# -- the ledger ------------------------------------------------------------------------------
def ledger_with(tmp_path: Path, policy: Policy | None = None, name: str = "ledger") -> EmbeddedBackend:
    """A fresh embedded ledger (SQLite event store + projection) under ``tmp_path``."""
    home = Path(tmp_path) / name
    home.mkdir(parents=True, exist_ok=True)
    return EmbeddedBackend(home, policy or Policy())


def ingest(
    backend: EmbeddedBackend,
    records: Iterable[Any],
    *,
    batch_records: int | None = None,
    source: str = "test.jsonl",
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Feed raw dicts (``feed_value``) or raw bytes lines (``feed``) in order, then flush.

    Returns the counts ``{accepted, duplicates, rejected}`` and the reject records
    ``{"line": n, "errors": [{"field", "message"}]}`` (lines numbered from 1).
    """
    rejects: list[dict[str, Any]] = []
    kwargs = {} if batch_records is None else {"batch_records": batch_records}
    pipeline = Ingest(backend, source, rejects.append, **kwargs)
    for line_no, record in enumerate(records, 1):
        if isinstance(record, (bytes, bytearray)):
            pipeline.feed(line_no, bytes(record))
        else:
            pipeline.feed_value(line_no, copy.deepcopy(record))
    pipeline.flush()
    return pipeline.counts.to_dict(), rejects


def outcome(backend: EmbeddedBackend, record: Any) -> tuple[str, list[str]]:
    """Ingest one record alone: ('accepted' | 'duplicate' | 'rejected', [fields named])."""
    counts, rejects = ingest(backend, [record])
    if counts["accepted"]:
        return "accepted", []
    if counts["duplicates"]:
        return "duplicate", []
    assert counts["rejected"] == 1 and len(rejects) == 1
    return "rejected", [e["field"] for e in rejects[0]["errors"]]


def reject_fields(rejects: list[dict[str, Any]]) -> dict[int, list[str]]:
    """{line: [field, ...]} of the reject records."""
    return {r["line"]: [e["field"] for e in r["errors"]] for r in rejects}


def all_accepted(n: int = 1) -> dict[str, int]:
    """The ingest counts of ``n`` records that were all accepted."""
    return {"accepted": n, "duplicates": 0, "rejected": 0}


# -- reading ---------------------------------------------------------------------------------
def state(backend: EmbeddedBackend) -> Projection:
    return backend.projection()


def balances(backend: EmbeddedBackend) -> dict[str, int]:
    return views.balances(backend.projection())


def statements(backend: EmbeddedBackend) -> list[dict[str, Any]]:
    return views.statements(backend.projection())


def floats(backend: EmbeddedBackend) -> list[dict[str, Any]]:
    return views.floats(backend.projection(), backend.policy)


def facts(backend: EmbeddedBackend, kind: str | None = None) -> list[dict[str, Any]]:
    return [f for f in backend.read_facts() if kind is None or f["type"] == kind]


def live_digest(backend: EmbeddedBackend) -> str:
    return digest(backend.projection())


def statement_amounts(backend: EmbeddedBackend) -> dict[tuple[str, str, str], int]:
    """{(period, insured, treatment): amount_fen}."""
    return {(s["period"], s["insured"], s["treatment"]): s["amount_fen"] for s in statements(backend)}
