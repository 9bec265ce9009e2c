"""The simulator's stream, checked by replaying it with an independent reference model.

``Replay`` reads the stream the way the ledger is meant to (DOMAIN.md §4, §8): it classifies
each line (garbage, duplicate, malformed, valid), checks the settlement invariants in fen
recomputed from the strings, tracks filings, reversals and clawbacks, and rebuilds every
statement and institution payout from the records alone. The tests then compare what the
simulator emitted with what the replay derived.
"""

from __future__ import annotations

import itertools
import re
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yidi.simulator import (
    AMOUNT_FIELDS,
    MALFORMED_KINDS,
    PROVINCE_CITIES,
    SimulationSpec,
    fen_to_yuan,
    generate,
    generate_lines,
)

SETLINFO_KEYS = [
    "setl_id", "mdtrt_id", "psn_no", "insutype", "psn_type", "setl_time", "med_type",
    *AMOUNT_FIELDS, "medins_setl_id", "clr_optins", "clr_way", "clr_type",
]  # fmt: skip
FUND_PARTS = ("hifp_pay", "cvlserv_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay")
MED_TYPES = {"2207": {"11", "13", "14"}, "2304": {"21", "22", "23", "24"}, "2102": {"41"}}
CLR_TYPE = {"2207": "11", "2304": "21", "2102": "41"}
CANCELS = {"2208": "2207", "2305": "2304", "2103": "2102"}
SETTLEMENT_INFNOS = frozenset(CLR_TYPE)
DUPLICABLE = {"settlement", "filing", "institution_payment"}
TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$")
STRING_AMOUNT_RE = re.compile(r"^\d+\.\d{2}$")
NUMBER_AMOUNT_RE = re.compile(r"^\d+(\.\d{1,2})?$")
CITIES = {c for cities in PROVINCE_CITIES.values() for c in cities}

SMALL = SimulationSpec(seed=3, settlements_per_month=1_500, months=2, provinces=6)


def to_fen(value: Any) -> int:
    """Parse an amount into fen without float arithmetic; ValueError (TypeError) if not a valid amount."""
    if isinstance(value, bool) or not isinstance(value, (str, float, int)):
        raise TypeError(value)
    text = value if isinstance(value, str) else repr(value)
    pattern = STRING_AMOUNT_RE if isinstance(value, str) else NUMBER_AMOUNT_RE
    if not pattern.match(text):
        raise ValueError(text)
    whole, _, cents = text.partition(".")
    return int(whole) * 100 + int(cents.ljust(2, "0"))


def valid_time(text: Any) -> bool:
    m = TIME_RE.match(text) if isinstance(text, str) else None
    if m is None:
        return False
    month, day, hour, minute, second = (int(g) for g in m.groups()[1:])
    return 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60


def province(city: str) -> str:
    return city[:2] + "0000"


def pair_of(insured_city: str, treatment_city: str) -> tuple[str, str]:
    if province(insured_city) == province(treatment_city):
        return insured_city, treatment_city
    return province(insured_city), province(treatment_city)


def record_time(rec: dict[str, Any]) -> str:
    return str(rec["recorded_at"] if "type" in rec else rec["inf_time"])


def settlement_errors(rec: dict[str, Any]) -> list[str]:
    """Fields of a settlement message that break the contract (empty when valid)."""
    errors: list[str] = []
    info = rec.get("output", {}).get("setlinfo", {})
    infno = rec["infno"]
    for key in ("setl_id", "psn_no", "med_type", "setl_time"):
        if key not in info:
            errors.append(key)
    if rec["insuplc_admdvs"] == rec["mdtrtarea_admvs"]:
        errors.append("mdtrtarea_admvs")
    if info.get("med_type") not in MED_TYPES[infno]:
        errors.append("med_type")
    if not valid_time(info.get("setl_time")):
        errors.append("setl_time")
    if not valid_time(rec.get("inf_time")):
        errors.append("inf_time")
    fen: dict[str, int] = {}
    for name in AMOUNT_FIELDS:
        try:
            fen[name] = to_fen(info.get(name))
        except (TypeError, ValueError):
            errors.append(name)
    if not errors:
        if sum(fen[p] for p in FUND_PARTS) != fen["fund_pay_sumamt"]:
            errors.append("fund_pay_sumamt")
        if fen["fund_pay_sumamt"] + fen["acct_pay"] + fen["psn_cash_pay"] != fen["medfee_sumamt"]:
            errors.append("medfee_sumamt")
        if fen["acct_pay"] + fen["psn_cash_pay"] != fen["psn_part_amt"]:
            errors.append("psn_part_amt")
    return errors


def assert_settlement_shape(rec: dict[str, Any]) -> None:
    """The finer points of a valid settlement (fields, codes, ids)."""
    info = rec["output"]["setlinfo"]
    infno, city, inst = rec["infno"], rec["mdtrtarea_admvs"], rec["fixmedins_code"]
    assert list(info) == SETLINFO_KEYS
    assert rec["insuplc_admdvs"] in CITIES and city in CITIES
    assert rec["inf_time"] == info["setl_time"]
    assert info["clr_type"] == CLR_TYPE[infno] and info["clr_optins"] == city
    assert info["clr_way"] == "01" or (info["clr_way"] == "05" and infno == "2304")
    assert info["insutype"] in ("310", "390")
    assert to_fen(info["hifes_pay"]) == 0
    assert re.fullmatch(("P" if infno == "2102" else "H") + city + r"\d{5}", inst)
    stamp = re.sub(r"\D", "", rec["inf_time"])
    assert re.fullmatch(re.escape(inst + stamp) + r"\d{4}", rec["msgid"])
    assert re.fullmatch(r"\d{16,}", info["setl_id"])
    assert info["mdtrt_id"].startswith("MD") and info["medins_setl_id"].startswith("M")
    assert re.fullmatch(rec["insuplc_admdvs"] + r"\d{14}", info["psn_no"])


@dataclass
class Settlement:
    infno: str
    msgid: str
    header: tuple[str, str, str]
    psn_no: str
    mdtrt_id: str
    time: str
    pair: tuple[str, str]
    payee: tuple[str, str]
    owed_fen: int
    med_type: str
    medfee_fen: int
    reversed_at: str | None = None
    clawed: bool = False


@dataclass
class Replay:
    """A reference reading of the stream; raises AssertionError on any contract breach."""

    lines: int = 0
    garbage: int = 0
    duplicates: Counter[str] = field(default_factory=Counter)
    malformed: list[tuple[str, list[str]]] = field(default_factory=list)
    valid: Counter[str] = field(default_factory=Counter)
    seen: set[bytes] = field(default_factory=set)
    last_time: str = ""
    settlements: dict[str, Settlement] = field(default_factory=dict)
    by_msgid: dict[str, Settlement] = field(default_factory=dict)
    msgids: set[str] = field(default_factory=set)
    all_ids: set[str] = field(default_factory=set)
    filings: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    filing_cancelled: dict[str, str] = field(default_factory=dict)
    statements: dict[tuple[str, tuple[str, str]], int] = field(default_factory=lambda: defaultdict(int))
    payees: dict[tuple[str, tuple[str, str]], int] = field(default_factory=lambda: defaultdict(int))
    owed_by_period: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    cross_month_reversals: int = 0
    exempt_without_filing: int = 0
    numeric_amounts: int = 0
    string_amounts: int = 0

    def feed_lines(self, lines: Iterable[str]) -> Replay:
        for line in lines:
            self.lines += 1
            assert line.endswith("\n") and "\n" not in line[:-1]
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                self.garbage += 1
                continue
            self.feed(rec)
        return self

    def feed_records(self, records: Iterable[dict[str, Any]]) -> Replay:
        for rec in records:
            self.lines += 1
            self.feed(rec)
        return self

    def feed(self, rec: dict[str, Any]) -> None:
        raw = orjson.dumps(rec)
        kind = rec.get("type") or ("settlement" if rec["infno"] in SETTLEMENT_INFNOS else rec["infno"])
        if raw in self.seen:
            assert kind in DUPLICABLE, rec
            self.duplicates[kind] += 1
            return
        self.seen.add(raw)
        self.check_unique_ids(kind, rec)
        errors = self.errors(kind, rec)
        if errors:
            self.malformed.append((kind, errors))
            return
        time = record_time(rec)
        assert time >= self.last_time, (time, self.last_time, rec)
        self.last_time = time
        self.valid[kind] += 1
        getattr(self, "on_" + kind, self.keep)(rec, time)

    def check_unique_ids(self, kind: str, rec: dict[str, Any]) -> None:
        """msgid and setl_id are unique among all non-duplicate records, malformed included."""
        ids = []
        if "msgid" in rec:
            ids.append("msgid:" + rec["msgid"])
        if kind == "settlement" and "setl_id" in rec["output"]["setlinfo"]:
            ids.append("setl_id:" + rec["output"]["setlinfo"]["setl_id"])
        for business_id in ids:
            assert business_id not in self.all_ids, business_id
            self.all_ids.add(business_id)

    def errors(self, kind: str, rec: dict[str, Any]) -> list[str]:
        if kind == "settlement":
            errors = settlement_errors(rec)
            if not errors and not self.exempt(rec) and not self.covered(rec):
                errors.append("psn_no")
            return errors
        if kind in CANCELS and rec["input"]["data"]["setl_id"] not in self.settlements:
            return ["setl_id"]
        return []

    @staticmethod
    def exempt(rec: dict[str, Any]) -> bool:
        info = rec["output"]["setlinfo"]
        fund = to_fen(info["fund_pay_sumamt"])
        return info["med_type"] in ("13", "24") or (fund == 0 and info["med_type"] in ("11", "41"))

    def covered(self, rec: dict[str, Any]) -> bool:
        info = rec["output"]["setlinfo"]
        day, time = info["setl_time"][:10], info["setl_time"]
        for f in self.filings[info["psn_no"]]:
            cancelled = self.filing_cancelled.get(f["filing_id"])
            if (
                (f["insuplc_admdvs"], f["mdtrtarea_admvs"]) == (rec["insuplc_admdvs"], rec["mdtrtarea_admvs"])
                and f["begndate"] <= day
                and (f["enddate"] is None or day <= f["enddate"])
                and (cancelled is None or time < cancelled)
            ):
                return True
        return False

    def keep(self, rec: dict[str, Any], time: str) -> None:
        self.records[rec.get("type") or rec["infno"]].append(rec)

    def on_settlement(self, rec: dict[str, Any], time: str) -> None:
        assert_settlement_shape(rec)
        info = rec["output"]["setlinfo"]
        for name in AMOUNT_FIELDS:
            if isinstance(info[name], str):
                self.string_amounts += 1
            else:
                self.numeric_amounts += 1
        setl_id, msgid = info["setl_id"], rec["msgid"]
        assert setl_id not in self.settlements and msgid not in self.msgids
        owed = to_fen(info["fund_pay_sumamt"]) + to_fen(info["acct_pay"])
        pair = pair_of(rec["insuplc_admdvs"], rec["mdtrtarea_admvs"])
        s = Settlement(
            rec["infno"], msgid, (rec["insuplc_admdvs"], rec["mdtrtarea_admvs"], rec["fixmedins_code"]),
            info["psn_no"], info["mdtrt_id"], time, pair, (pair[1], rec["fixmedins_code"]), owed,
            info["med_type"], to_fen(info["medfee_sumamt"]),
        )  # fmt: skip
        self.settlements[setl_id] = self.by_msgid[msgid] = s
        self.msgids.add(msgid)
        if self.exempt(rec) and not self.covered(rec):
            self.exempt_without_filing += 1
        self.book(time[:7], s, owed)
        self.keep(rec, time)

    def book(self, period: str, s: Settlement, fen: int) -> None:
        self.statements[(period, s.pair)] += fen
        self.payees[(period, s.payee)] += fen
        self.owed_by_period[period] += fen

    def reverse(self, s: Settlement, rec: dict[str, Any], time: str) -> None:
        assert s.reversed_at is None and not s.clawed, "reversed twice, or after a clawback"
        assert time > s.time
        assert (rec["insuplc_admdvs"], rec["mdtrtarea_admvs"], rec["fixmedins_code"]) == s.header
        assert rec["msgid"] not in self.msgids and rec["msgid"].startswith(s.header[2])
        self.msgids.add(rec["msgid"])
        s.reversed_at = time
        self.cross_month_reversals += time[:7] != s.time[:7]
        self.book(time[:7], s, -s.owed_fen)
        self.keep(rec, time)

    def on_2208(self, rec: dict[str, Any], time: str) -> None:
        data = rec["input"]["data"]
        s = self.settlements[data["setl_id"]]
        assert CANCELS[rec["infno"]] == s.infno
        assert (data["psn_no"], data["mdtrt_id"]) == (s.psn_no, s.mdtrt_id)
        self.reverse(s, rec, time)

    on_2305 = on_2103 = on_2208

    def on_2601(self, rec: dict[str, Any], time: str) -> None:
        data = rec["input"]["data"]
        s = self.by_msgid[data["omsgid"]]
        assert (data["oinfno"], data["psn_no"]) == (s.infno, s.psn_no)
        self.reverse(s, rec, time)

    def on_clawback(self, rec: dict[str, Any], time: str) -> None:
        s = self.settlements[rec["setl_id"]]
        amount = to_fen(rec["amount"])
        assert s.reversed_at is None and not s.clawed and s.time < time
        assert 0 < amount <= s.owed_fen
        s.clawed = True
        self.statements[(time[:7], s.pair)] -= amount
        self.keep(rec, time)

    def on_filing(self, rec: dict[str, Any], time: str) -> None:
        assert rec["begndate"] <= time[:10]
        if rec["category"] == "long_term":
            assert rec["enddate"] is None
        else:
            assert rec["category"] == "temporary"
            y, m, d = (int(x) for x in rec["begndate"].split("-"))
            six_months_later = f"{y + (m + 5) // 12:04d}-{(m + 5) % 12 + 1:02d}-{d:02d}"
            assert rec["enddate"] >= six_months_later
        assert rec["psn_no"].startswith(rec["insuplc_admdvs"])
        self.filings[rec["psn_no"]].append(rec)
        self.keep(rec, time)

    def on_filing_cancel(self, rec: dict[str, Any], time: str) -> None:
        assert rec["filing_id"] not in self.filing_cancelled
        self.filing_cancelled[rec["filing_id"]] = time
        self.keep(rec, time)


def replay_lines(spec: SimulationSpec) -> Replay:
    return Replay().feed_lines(generate_lines(spec))


@pytest.fixture(scope="module")
def small() -> Replay:
    return replay_lines(SMALL)


def periods(spec: SimulationSpec) -> list[str]:
    year, month = int(spec.start_month[:4]), int(spec.start_month[5:])
    out = []
    for i in range(spec.months):
        y, m = divmod(month - 1 + i, 12)
        out.append(f"{year + y:04d}-{m + 1:02d}")
    return out


def next_period(period: str) -> str:
    y, m = int(period[:4]), int(period[5:])
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


# ------------------------------------------------------------------------------------------
def test_fen_to_yuan() -> None:
    assert [fen_to_yuan(v) for v in (0, 1, 10, 99, 100, 3012050, -5)] == [
        "0.00", "0.01", "0.10", "0.99", "1.00", "30120.50", "-0.05",
    ]  # fmt: skip


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_fen_to_yuan_round_trips(fen: int) -> None:
    text = fen_to_yuan(fen)
    assert re.fullmatch(r"-?\d+\.\d{2}", text)
    assert (-1 if text.startswith("-") else 1) * to_fen(text.lstrip("-")) == fen


def test_same_seed_same_lines_other_seed_other_lines() -> None:
    spec = SimulationSpec(seed=11, settlements_per_month=400, malformed_share=0.03)
    first = list(generate_lines(spec))
    assert first == list(generate_lines(spec))
    assert first != list(generate_lines(SimulationSpec(seed=12, settlements_per_month=400, malformed_share=0.03)))
    assert len(first) > 800


def test_generate_and_generate_lines_agree_without_malformed() -> None:
    spec = SimulationSpec(seed=5, settlements_per_month=300)
    lines = list(generate_lines(spec))
    assert lines == [orjson.dumps(r).decode() + "\n" for r in generate(spec)]


def test_every_valid_settlement_keeps_the_invariants(small: Replay) -> None:
    assert small.malformed == [] and small.garbage == 0
    assert small.valid["settlement"] > 2_500  # ~1,500 a month for 2 months
    assert small.string_amounts > 0 and small.numeric_amounts > 0
    numeric_share = small.numeric_amounts / (small.numeric_amounts + small.string_amounts)
    assert 0.05 < numeric_share < 0.15


def test_settlement_mix_and_sizes(small: Replay) -> None:
    by_med = Counter(s.med_type for s in small.settlements.values())
    assert set(by_med) == {"11", "13", "14", "21", "22", "23", "24", "41"}
    inpatient = [s.medfee_fen for s in small.settlements.values() if s.infno == "2304"]
    assert min(inpatient) >= 3_000_00 and max(inpatient) <= 300_000_00
    pharmacy = [s.medfee_fen for s in small.settlements.values() if s.infno == "2102"]
    assert min(pharmacy) >= 20_00 and max(pharmacy) <= 800_00
    assert small.exempt_without_filing > 0  # emergencies and account-only purchases


def test_large_stay_share_is_respected() -> None:
    replay = replay_lines(SimulationSpec(seed=9, settlements_per_month=3_000, months=1, large_stay_share=0.25))
    stays = [s for s in replay.settlements.values() if s.infno == "2304"]
    large = [s for s in stays if s.medfee_fen >= 30_000_00]
    assert 0.18 < len(large) / len(stays) < 0.32
    assert any(s.medfee_fen > 100_000_00 for s in large)


def test_ids_are_unique_among_non_duplicates(small: Replay) -> None:
    # Replay asserts uniqueness as it goes; here: duplicates exist and are of allowed kinds.
    assert sum(small.duplicates.values()) > 10
    assert set(small.duplicates) <= DUPLICABLE
    total_valid = sum(small.valid.values())
    assert 0.004 < sum(small.duplicates.values()) / total_valid < 0.02


def test_transfers_carry_exactly_the_statement_of_their_pair_and_month(small: Replay) -> None:
    months = periods(SMALL)
    transfers = {
        (r["period"], (r["insured"], r["treatment"])): to_fen(r["amount"]) for r in small.records["clearing_transfer"]
    }
    assert len(transfers) == len(small.records["clearing_transfer"])  # one per pair and month
    for key, amount in transfers.items():
        assert amount == small.statements[key], key
    for period in months:
        due = {k for k, v in small.statements.items() if k[0] == period and v >= 0}
        paid = {k for k in transfers if k[0] == period}
        assert paid <= due
        missing = due - paid
        assert len(missing) == (1 if period == months[-1] else 0), (period, missing)
    assert all(v >= 0 for v in transfers.values())
    times = {r["period"]: r["recorded_at"] for r in small.records["clearing_transfer"]}
    assert times == {p: next_period(p) + "-20 14:00:00" for p in months}


def test_institution_payments_match_owed_amounts(small: Replay) -> None:
    months = periods(SMALL)
    payments = {
        (r["period"], (r["treatment"], r["fixmedins_code"])): to_fen(r["amount"])
        for r in small.records["institution_payment"]
    }
    assert len(payments) == len(small.records["institution_payment"])
    for key, amount in payments.items():
        assert amount == small.payees[key] > 0, key
    for period in months:
        owed = {k for k, v in small.payees.items() if k[0] == period and v > 0}
        unpaid = owed - {k for k in payments if k[0] == period}
        assert len(unpaid) == (1 if period == months[-1] else 0)
    parties = {k[1][0] for k in payments}
    assert any(p.endswith("0000") for p in parties) and any(not p.endswith("0000") for p in parties)


def test_clearing_calendar_and_lifecycle_records(small: Replay) -> None:
    months = periods(SMALL)
    clears = small.records["clear"]
    assert [c["period"] for c in clears] == months
    assert [c["recorded_at"] for c in clears] == [next_period(p) + "-05 09:00:00" for p in months]
    clawbacks = small.records["clawback"]
    assert [c["recorded_at"][:10] for c in clawbacks] == [p + "-15" for p in months]
    interest = small.records["interest"]
    assert len(interest) == 2 * len(months) and all(to_fen(r["amount"]) <= 500_00 for r in interest)
    manual = small.records["manual_reimbursement"]
    assert 3 * len(months) <= len(manual) <= 6 * len(months)
    assert all(to_fen(r["fund_pay_sumamt"]) <= to_fen(r["medfee_sumamt"]) for r in manual)
    assert small.records["filing_cancel"], "a temporary filing is cancelled now and then"
    temporary = {f["filing_id"] for fs in small.filings.values() for f in fs if f["category"] == "temporary"}
    assert set(small.filing_cancelled) <= temporary


def test_settlements_of_next_month_come_before_its_clear(small: Replay) -> None:
    feb_early = [s for s in small.settlements.values() if "2025-02-01" <= s.time < "2025-02-05 09:00:00"]
    assert feb_early, "the next month's first days are settled before the clear record"


def test_prepayments_cover_the_pairs_at_about_twice_monthly_owed() -> None:
    spec = SimulationSpec(seed=4, settlements_per_month=6_000, months=1, provinces=5)
    replay = replay_lines(spec)
    prepayments = {(r["insured"], r["treatment"]): r for r in replay.records["prepayment"]}
    assert {s.pair for s in replay.settlements.values()} <= set(prepayments)
    assert {r["year"] for r in prepayments.values()} == {2025}
    floats = sum(to_fen(r["amount"]) for r in prepayments.values())
    assert 0.7 < floats / (2 * replay.owed_by_period["2025-01"]) < 1.5


def test_reversals_cancellations_and_cross_month(small: Replay) -> None:
    cancels = sum(len(small.records[i]) for i in CANCELS)
    n = small.valid["settlement"]
    assert 0.015 < cancels / n < 0.045
    assert small.records["2601"]
    assert small.cross_month_reversals > 0


def test_clawbacks_never_touch_reversed_settlements() -> None:
    spec = SimulationSpec(seed=6, settlements_per_month=400, months=3, cancel_share=0.6, reversal_2601_share=0.3)
    replay = replay_lines(spec)  # Replay asserts: no clawback of a reversed settlement, no reversal after one
    clawed = [s for s in replay.settlements.values() if s.clawed]
    assert len(clawed) == 3 and all(s.reversed_at is None for s in clawed)
    end_of_span = next_period(periods(spec)[-1])
    assert all(s.reversed_at < end_of_span for s in replay.settlements.values() if s.reversed_at)


def test_every_non_exempt_settlement_is_preceded_by_a_covering_filing(small: Replay) -> None:
    # Replay classes an uncovered non-exempt settlement as malformed ("psn_no"): none here.
    assert not [m for m in small.malformed if "psn_no" in m[1]]
    reused = Counter(s.psn_no for s in small.settlements.values())
    assert reused.most_common(1)[0][1] >= 4, "filed persons come back"


def test_malformed_share_is_roughly_respected_and_every_kind_appears() -> None:
    spec = SimulationSpec(seed=21, settlements_per_month=4_000, months=1, malformed_share=0.05)
    replay = replay_lines(spec)
    bad = len(replay.malformed) + replay.garbage
    assert 0.04 < bad / replay.lines < 0.06
    assert replay.garbage > 0
    reported = {f for _kind, fields in replay.malformed for f in fields}
    assert set(MALFORMED_KINDS.values()) <= reported
    # the rejected records feed no sum: the transfers still match the valid records
    for r in replay.records["clearing_transfer"]:
        assert to_fen(r["amount"]) == replay.statements[(r["period"], (r["insured"], r["treatment"]))]


def test_without_lifecycle_only_platform_messages_and_filings() -> None:
    replay = replay_lines(SimulationSpec(seed=2, settlements_per_month=500, lifecycle=False))
    kinds = set(replay.valid)
    assert kinds <= {"settlement", "filing", "2208", "2305", "2103", "2601"}
    assert replay.malformed == []


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    months=st.integers(1, 3),
    settlements=st.integers(0, 250),
    provinces=st.integers(1, 32),
    intra=st.sampled_from([0.0, 0.15, 1.0]),
    cancel=st.floats(0.0, 0.3),
    reversal=st.floats(0.0, 0.1),
    start=st.sampled_from(["2024-11", "2025-01", "2025-12"]),
)
def test_any_spec_gives_a_consistent_stream(
    seed: int, months: int, settlements: int, provinces: int, intra: float, cancel: float, reversal: float, start: str
) -> None:
    spec = SimulationSpec(
        seed=seed, start_month=start, months=months, settlements_per_month=settlements, provinces=provinces,
        intra_province_share=intra, cancel_share=cancel, reversal_2601_share=reversal, duplicate_share=0.05,
    )  # fmt: skip
    replay = replay_lines(spec)
    assert replay.malformed == [] and replay.garbage == 0
    for r in replay.records["clearing_transfer"]:
        assert to_fen(r["amount"]) == replay.statements[(r["period"], (r["insured"], r["treatment"]))]
    assert [c["period"] for c in replay.records["clear"]] == periods(spec)
    if provinces == 1 or intra == 1.0:
        assert all(len(set(map(province, s.pair))) == 1 for s in replay.settlements.values())
    if intra == 0.0 and provinces > 1:
        assert all(s.pair[0].endswith("0000") for s in replay.settlements.values())


def test_two_hundred_thousand_records_in_flat_memory() -> None:
    spec = SimulationSpec(seed=8, settlements_per_month=100_000, months=3, provinces=10, malformed_share=0.01)
    lines = generate_lines(spec)
    tracemalloc.start()
    try:
        assert sum(1 for _ in itertools.islice(lines, 50_000)) == 50_000
        early_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        assert sum(1 for _ in itertools.islice(lines, 150_000)) == 150_000
        late_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert late_peak < 16 * 2**20, f"peak {late_peak / 2**20:.1f} MiB"
    assert late_peak < 1.5 * early_peak, f"memory grows with the stream: {early_peak} -> {late_peak}"
