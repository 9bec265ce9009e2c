"""Hostile input: valid records mutated into every kind of bad record, for fuzzing.

Shared by tests/faults/test_hostile.py (bounded, in CI) and bench/fuzz_hostile.py (long
run). A mutation takes a ``random.Random`` so any failure is reproduced from its seed.
"""

from __future__ import annotations

import copy
import random
from typing import Any, Callable

import orjson

from tests import helpers as h

BAD_AMOUNTS: list[Any] = [
    "1.234", "-5.00", "-0.01", float("nan"), float("inf"), 1e20, "1e3", "12,50", "", " 1.00", "1.00 ",
    "１２", "١٢٣", "0x10", True, None, [], {}, "9" * 40, 10**30, -1, 0.1 + 0.2, "NaN", "+1.00", ".5",
]
BAD_TEXT: list[Any] = [
    "", " ", "x" * 500, "420100\n", "４２０１００", "999999", "00000", 420100, 42.0, None, True, [], {"a": 1},
    "\u0000", "'; DROP TABLE stored_events; --", "\ud800" if False else "\u202e", "2025-13-40 25:00:00",
    "1899-01-01 00:00:00", "2100-01-01 00:00:00", "2025-02-30 10:00:00", "2025-01-10T15:30:00",
]


def _paths(record: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a leaf or container inside a record."""
    found: list[tuple[Any, ...]] = []
    if isinstance(record, dict):
        for key, value in record.items():
            found.append(prefix + (key,))
            found.extend(_paths(value, prefix + (key,)))
    return found


def _parent(record: Any, path: tuple[Any, ...]) -> Any:
    target = record
    for key in path[:-1]:
        target = target[key]
    return target


def drop_field(rng: random.Random, record: dict[str, Any]) -> dict[str, Any]:
    path = rng.choice(_paths(record))
    del _parent(record, path)[path[-1]]
    return record


def extra_field(rng: random.Random, record: dict[str, Any]) -> dict[str, Any]:
    containers = [p for p in _paths(record) if isinstance(_parent(record, p)[p[-1]], dict)] + [()]
    path = rng.choice(containers)
    target = record if not path else _parent(record, path)[path[-1]]
    target[rng.choice(["zzz_extra", "amount2", "备注", "SETL_ID", "setl_id "])] = rng.choice(["1", 1, None, {}])
    return record


def wrong_value(rng: random.Random, record: dict[str, Any]) -> dict[str, Any]:
    path = rng.choice([p for p in _paths(record) if not isinstance(_parent(record, p)[p[-1]], dict)])
    pool = BAD_AMOUNTS if rng.random() < 0.5 else BAD_TEXT
    _parent(record, path)[path[-1]] = rng.choice(pool)
    return record


class _NotApplicable(Exception):
    """This mutation does not apply to this record type."""


def break_sums(rng: random.Random, record: dict[str, Any]) -> dict[str, Any]:
    setlinfo = record.get("output", {}).get("setlinfo")
    if not isinstance(setlinfo, dict):
        raise _NotApplicable
    field = rng.choice(["hifp_pay", "fund_pay_sumamt", "medfee_sumamt", "acct_pay", "psn_cash_pay", "hifmi_pay"])
    fen = h.fen(str(setlinfo.get(field, "0.00")))
    setlinfo[field] = h.yuan(fen + rng.choice([1, 100, 99999]))
    return record


def same_place(rng: random.Random, record: dict[str, Any]) -> dict[str, Any]:
    for a, b in (("insuplc_admdvs", "mdtrtarea_admvs"), ("insured", "treatment")):
        if a in record and b in record:
            record[b] = record[a]
            return record
    raise _NotApplicable


MUTATIONS: dict[str, Callable[[random.Random, dict[str, Any]], dict[str, Any]]] = {
    "drop_field": drop_field,
    "extra_field": extra_field,
    "wrong_value": wrong_value,
    "break_sums": break_sums,
    "same_place": same_place,
}
# Mutations whose result can never be a valid record.
ALWAYS_INVALID = {"extra_field", "break_sums", "same_place"}


def raw_garbage(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))).replace(b"\n", b" ")
    if kind == 1:
        return "{\"infno\": \"2207\", \"msgid\": \"异地\"}".encode("gbk")  # wrong encoding
    if kind == 2:
        return b"{" * rng.randrange(1, 50)
    if kind == 3:
        return b'{"type": "clear", "period": "' + b"9" * 2_000_000 + b'"}'  # a very long line
    return orjson.dumps(rng.choice([[], 1, "record", None, 3.5]))


def history_attack(rng: random.Random, context: dict[str, Any]) -> dict[str, Any]:
    """Records valid on their own that the ledger's history must refuse."""
    choice = rng.randrange(6)
    if choice == 0:  # cancellation of an unknown settlement
        return h.cancellation(h.settlement(setl_id=f"UNKNOWN{rng.randrange(10**6)}"), inf_time="2025-01-20 10:00:00")
    if choice == 1:  # a second cancellation of a cancelled settlement, other msgid
        return h.cancellation(context["cancelled"], inf_time="2025-01-25 10:00:00")
    if choice == 2:  # a transfer that matches no statement
        return h.transfer("420000", "440000", period="2025-03", amount="123.45", recorded_at="2025-04-20 10:00:00")
    if choice == 3:  # a wrong amount for an issued statement
        return h.transfer("420000", "440000", period="2025-01", amount="1.00", recorded_at="2025-02-21 10:00:00")
    if choice == 4:  # 冲正 of an unknown message
        return h.reversal_2601(h.settlement(msgid=f"NOMSG{rng.randrange(10**6)}"), inf_time="2025-01-20 10:00:00")
    # a settlement of a person with no filing, inpatient
    return h.settlement(infno="2304", psn_no=f"9{rng.randrange(10**18):019d}"[:20], medfee="5000.00", hifp="4000.00")


def base_context() -> dict[str, Any]:
    """A small valid history, and one valid record of every type to mutate."""
    filed = h.filing(begndate="2024-10-01")
    first = h.settlement(infno="2304", medfee="36000.00", hifp="22000.00", hifmi="6000.00", acct="2000.00")
    emergency = h.settlement(infno="2207", med_type="13", insured="420200", treatment="440100",
                             psn_no="42020000000000000002", medfee="800.00", hifp="500.00", acct="0.00",
                             inf_time="2025-01-12 08:20:00")
    cancelled = h.cancellation(emergency, inf_time="2025-01-20 10:00:00")
    history = [filed, h.prepayment(), first, emergency, cancelled, h.clear("2025-01")]
    samples = [
        h.settlement(infno="2207", medfee="300.00", hifp="100.00", acct="50.00", inf_time="2025-02-03 10:00:00"),
        h.settlement(infno="2102", medfee="120.50", hifp="0.00", acct="120.50", inf_time="2025-02-03 11:00:00"),
        h.cancellation(first, inf_time="2025-02-04 10:00:00"),
        h.reversal_2601(first, inf_time="2025-02-04 11:00:00"),
        h.filing("42010000000000000077", begndate="2025-02-01"),
        h.filing_cancel(filed["filing_id"], recorded_at="2025-06-01 09:00:00"),
        h.prepayment(year=2026, amount="60000.00", recorded_at="2026-01-06 10:00:00"),
        h.clear("2025-02", recorded_at="2025-03-05 09:00:00"),
        h.institution_payment(recorded_at="2025-02-25 10:00:00"),
        h.clawback(first["output"]["setlinfo"]["setl_id"], amount="100.00", recorded_at="2025-02-10 10:00:00"),
        h.interest(recorded_at="2025-02-28 10:00:00"),
        h.manual_reimbursement(recorded_at="2025-02-11 10:00:00"),
    ]
    return {"history": history, "samples": samples, "cancelled": emergency}


def hostile_case(rng: random.Random, context: dict[str, Any]) -> tuple[str, Any]:
    """One hostile input: (kind, a raw dict or a raw line of bytes)."""
    roll = rng.random()
    if roll < 0.08:
        return "garbage", raw_garbage(rng)
    if roll < 0.2:
        return "history", history_attack(rng, context)
    name = rng.choice(sorted(MUTATIONS))
    record = copy.deepcopy(rng.choice(context["samples"]))
    try:
        return name, MUTATIONS[name](rng, record)
    except _NotApplicable:
        return "wrong_value", wrong_value(rng, record)
