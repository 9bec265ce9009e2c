"""Property tests: random streams of valid records through a real embedded ledger.

A stream is built month by month with hypothesis' interactive ``data()``: filings and floats
first, then per month settlements of several kinds across four pairs (one of them within a
province), cancellations and 冲正 of earlier settlements, clawbacks, top-ups, late records
dated in cleared months, interest, payments, investigation closings; then the month's
clearing run, and transfers for some of the statements the ledger's own ``statements`` view
shows. Exact re-sends, second reversals and second transfers are mixed in with the outcome
the contract gives them (duplicate / rejected).

An independent model tracks which clearing month every amount belongs to (DOMAIN.md §4, §8)
so the statements and outstanding amounts are checked against it, not only against
themselves.
"""

from __future__ import annotations

import random
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.postings import RULES
from projections import views
from projections.fold import digest, fold, merge
from tests import helpers as h

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MONTHS = ("2025-01", "2025-02", "2025-03")


@dataclass(frozen=True)
class Route:
    insured: str  # city codes as sent
    treatment: str

    @property
    def key(self) -> str:
        i, t = self.insured, self.treatment
        if i[:2] != t[:2]:
            i, t = i[:2] + "0000", t[:2] + "0000"
        return f"{i}>{t}"


ROUTES = (
    Route("420100", "440300"),  # Wuhan -> Shenzhen        420000>440000
    Route("420200", "440100"),  # Yichang -> Guangzhou     420000>440000 (same pair)
    Route("620100", "110100"),  # Lanzhou -> Beijing       620000>110000
    Route("510700", "510100"),  # Mianyang -> Chengdu      510700>510100 (intra-province)
)
PAIR_KEYS = sorted({r.key for r in ROUTES})


@dataclass
class Setl:
    record: dict[str, Any]
    key: str
    owed_fen: int
    setl_time: str
    large: bool
    reversed: bool = False
    clawed_fen: int = 0
    case_closed: bool = False


@dataclass
class Model:
    """What the contract says the ledger must hold, computed from the records alone."""

    closed: list[str] = field(default_factory=list)
    pending: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    statements: dict[tuple[str, str], list[Any]] = field(default_factory=dict)  # (period, key) -> [amount, status]
    outstanding: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    settlements: list[Setl] = field(default_factory=list)

    def period_of(self, time: str) -> str:
        period = time[:7]
        while period in self.closed:
            year, month = int(period[:4]), int(period[5:7])
            period = f"{year + month // 12}-{month % 12 + 1:02d}"
        return period

    def book(self, key: str, time: str, amount_fen: int) -> None:
        row = self.pending[(self.period_of(time), key)]
        row[0] += amount_fen
        row[1] += 1
        self.outstanding[key] += amount_fen

    def clear(self, period: str) -> None:
        for (p, key), (amount, count) in list(self.pending.items()):
            if p == period and count:
                self.statements[(period, key)] = [amount, "outstanding"]
        self.closed.append(period)


class StreamBuilder:
    """Draws a stream and feeds it, month by month, to ``backend``; remembers the expected outcome."""

    def __init__(self, data: st.DataObject, backend: Any) -> None:
        self.data = data
        self.backend = backend
        self.model = Model()
        self.stream: list[dict[str, Any]] = []
        self.expected: list[str] = []  # accepted | duplicate | rejected, per record
        self.pending_batch: list[int] = []
        self.filed: dict[Route, list[str]] = {}
        self.unfiled = {r: f"{r.insured[:4]}9900000000000{i:03d}" for i, r in enumerate(ROUTES)}
        self.seconds = 0

    # -- plumbing ------------------------------------------------------------------------
    def draw(self, strategy: st.SearchStrategy[Any], label: str = "") -> Any:
        return self.data.draw(strategy, label=label or None)

    def add(self, record: dict[str, Any], expected: str = "accepted") -> None:
        self.stream.append(record)
        self.expected.append(expected)
        self.pending_batch.append(len(self.stream) - 1)

    def flush(self) -> None:
        """Ingest the records added since the last flush; check each outcome."""
        if not self.pending_batch:
            return
        records = [self.stream[i] for i in self.pending_batch]
        wanted = [self.expected[i] for i in self.pending_batch]
        counts, rejects = h.ingest(self.backend, records)
        got_rejected = sorted(r["line"] for r in rejects)
        want_rejected = [n for n, w in enumerate(wanted, 1) if w == "rejected"]
        assert got_rejected == want_rejected, (rejects, [records[n - 1] for n in got_rejected])
        assert counts == {"accepted": wanted.count("accepted"), "duplicates": wanted.count("duplicate"),
                          "rejected": wanted.count("rejected")}
        self.pending_batch = []

    def time(self, month: str, day: int) -> str:
        self.seconds += 1
        return f"{month}-{day:02d} {10 + self.seconds // 3600 % 10:02d}:{self.seconds // 60 % 60:02d}:{self.seconds % 60:02d}"

    # -- the stream -------------------------------------------------------------------------
    def opening(self) -> None:
        for n, route in enumerate(ROUTES):
            people = [f"{route.insured[:4]}0000000000{n:02d}{i:04d}" for i in range(2)]
            self.filed[route] = people
            for psn in people:
                self.add(h.filing(psn, insured=route.insured, treatment=route.treatment,
                                  category=self.draw(st.sampled_from(["long_term", "temporary"])),
                                  begndate="2024-12-01", enddate="2025-12-31",
                                  filing_id=f"BA{psn}", recorded_at="2024-11-20 09:00:00"))
        for key in PAIR_KEYS:
            if self.draw(st.booleans(), "float"):
                insured, treatment = key.split(">")
                amount = self.draw(st.integers(1, 20_000_000), "float_fen")
                self.add(h.prepayment(insured, treatment, year=2025, amount=h.yuan(amount), recorded_at="2025-01-02 09:00:00"))

    def settlement(self, month: str, day: int) -> None:
        route = self.draw(st.sampled_from(ROUTES), "route")
        kind = self.draw(st.sampled_from(["inpatient", "inpatient", "outpatient", "emergency", "emergency_inpatient",
                                          "pharmacy_account", "pharmacy"]), "kind")
        infno, med_type = {
            "inpatient": ("2304", self.draw(st.sampled_from(["21", "22", "23"]))),
            "outpatient": ("2207", self.draw(st.sampled_from(["11", "14"]))),
            "emergency": ("2207", "13"), "emergency_inpatient": ("2304", "24"),
            "pharmacy_account": ("2102", "41"), "pharmacy": ("2102", "41"),
        }[kind]
        filed = kind in ("inpatient", "outpatient", "pharmacy")
        psn = self.draw(st.sampled_from(self.filed[route])) if filed else self.unfiled[route]
        medfee = self.draw(st.one_of(st.integers(1, 200_000), st.integers(2_990_000, 4_500_000)), "medfee_fen")
        if kind == "pharmacy_account":
            fund, acct = 0, self.draw(st.integers(1, medfee), "acct_fen")
        else:
            fund = self.draw(st.integers(1, medfee), "fund_fen")
            acct = self.draw(st.integers(0, medfee - fund), "acct_fen")
        hifmi = self.draw(st.integers(0, fund), "hifmi_fen") if fund else 0
        oth = self.draw(st.integers(0, fund - hifmi), "oth_fen") if fund - hifmi else 0
        # A late record, dated in an earlier month (possibly cleared: it goes to the first open one).
        earlier = [m for m in MONTHS if m < month]
        if earlier and self.draw(st.integers(0, 5), "late") == 0:
            when = self.time(self.draw(st.sampled_from(earlier)), self.draw(st.integers(1, 28)))
        else:
            when = self.time(month, day)
        record = h.settlement(
            infno=infno, med_type=med_type, insured=route.insured, treatment=route.treatment, psn_no=psn,
            inf_time=when, medfee=h.yuan(medfee), hifp=h.yuan(fund - hifmi - oth), hifmi=h.yuan(hifmi),
            oth=h.yuan(oth), acct=h.yuan(acct),
        )
        owed = fund + acct
        self.add(record)
        large = infno == "2304" and medfee >= 3_000_000
        self.model.settlements.append(Setl(record, route.key, owed, when, large))
        self.model.book(route.key, when, owed)

    def reversal(self, month: str, day: int) -> None:
        live = [s for s in self.model.settlements if not s.reversed and not s.clawed_fen]
        if not live:
            return
        target: Setl = self.draw(st.sampled_from(live), "reversal_of")
        when = self.time(month, day)
        by_omsgid = self.draw(st.booleans(), "2601")
        record = h.reversal_2601(target.record, inf_time=when) if by_omsgid else h.cancellation(target.record, inf_time=when)
        self.add(record)
        target.reversed = True
        target.case_closed = True
        self.model.book(target.key, when, -target.owed_fen)
        if self.draw(st.integers(0, 3), "second_reversal") == 0:  # a second, different reversal: rejected
            again = h.cancellation(target.record, inf_time=self.time(month, day))
            self.add(again, "rejected")

    def clawback(self, month: str, day: int) -> None:
        live = [s for s in self.model.settlements if not s.reversed and s.owed_fen > s.clawed_fen]
        if not live:
            return
        target: Setl = self.draw(st.sampled_from(live), "clawback_of")
        amount = self.draw(st.integers(1, target.owed_fen - target.clawed_fen), "clawback_fen")
        when = self.time(month, day)
        self.add(h.clawback(target.record["output"]["setlinfo"]["setl_id"], amount=h.yuan(amount), recorded_at=when))
        target.clawed_fen += amount
        self.model.book(target.key, when, -amount)

    def close_case(self, month: str, day: int) -> None:
        cases = [s for s in self.model.settlements if s.large and not s.case_closed]
        if not cases:
            return
        target: Setl = self.draw(st.sampled_from(cases), "case")
        self.add(h.investigation_close(target.record["output"]["setlinfo"]["setl_id"], recorded_at=self.time(month, day),
                                       outcome=self.draw(st.sampled_from(["confirmed", "adjusted", "unfounded"]))))
        target.case_closed = True

    def other(self, month: str, day: int) -> None:
        key = self.draw(st.sampled_from(PAIR_KEYS), "pair")
        insured, treatment = key.split(">")
        choice = self.draw(st.sampled_from(["top_up", "interest", "payment", "manual"]), "other")
        when = self.time(month, day)
        if choice == "top_up":
            self.add(h.prepayment(insured, treatment, year=2025, amount=h.yuan(self.draw(st.integers(0, 30_000_000))), recorded_at=when))
        elif choice == "interest":
            self.add(h.interest(insured, treatment, amount=h.yuan(self.draw(st.integers(1, 100_000))), recorded_at=when))
        elif choice == "payment":
            route = self.draw(st.sampled_from([r for r in ROUTES if r.key == key]))
            self.add(h.institution_payment(treatment, f"H{route.treatment}000001", period=month,
                                           amount=h.yuan(self.draw(st.integers(1, 1_000_000))), recorded_at=when))
        else:
            route = self.draw(st.sampled_from([r for r in ROUTES if r.key == key]))
            self.add(h.manual_reimbursement(route.insured, route.treatment, medfee="800.00", fund="500.00", recorded_at=when))

    def resend(self) -> None:
        """An exact re-send of an earlier accepted record: a duplicate, whatever happened since."""
        accepted = [i for i, w in enumerate(self.expected) if w == "accepted"]
        if accepted:
            index = self.draw(st.sampled_from(accepted), "resend")
            self.add(self.stream[index], "duplicate")

    def month(self, month: str, last: bool) -> None:
        n = self.draw(st.integers(2, 14), f"events {month}")
        days = sorted(self.draw(st.lists(st.integers(4, 28), min_size=n, max_size=n)))
        for day in days:
            action = self.draw(st.sampled_from(["settle"] * 5 + ["reverse", "reverse", "clawback", "case", "other", "other", "resend"]))
            {"settle": self.settlement, "reverse": self.reversal, "clawback": self.clawback,
             "case": self.close_case, "other": self.other}.get(action, lambda m, d: self.resend())(month, day)
        if last and self.draw(st.booleans(), "leave last month open"):
            self.flush()
            return
        clear = h.clear(month, recorded_at=h.next_day_time(month, 2, "09:00:00"))
        self.add(clear)
        self.model.clear(month)
        self.flush()
        issued = {(s["period"], f"{s['insured']}>{s['treatment']}"): s["amount_fen"]
                  for s in h.statements(self.backend) if s["period"] == month}
        assert issued == {k: v[0] for k, v in self.model.statements.items() if k[0] == month}
        for (period, key), amount in sorted(issued.items()):
            if not self.draw(st.booleans(), "transfer"):
                continue
            insured, treatment = key.split(">")
            t = h.transfer(insured, treatment, period=period, amount=h.yuan(amount),
                           recorded_at=h.next_day_time(month, 3, f"10:00:{self.seconds % 60:02d}"))
            self.add(t)
            self.model.statements[(period, key)][1] = "transferred"
            self.model.outstanding[key] -= amount
            if self.draw(st.integers(0, 3), "second transfer") == 0:
                self.add(dict(t, recorded_at=h.next_day_time(month, 3, "11:00:00")), "rejected")
            if self.draw(st.integers(0, 3), "same transfer") == 0:
                self.add(t, "duplicate")
        if self.draw(st.integers(0, 4), "resend clear") == 0:
            self.add(clear, "duplicate")
        self.flush()

    def build(self) -> None:
        self.opening()
        months = MONTHS[: self.draw(st.integers(1, len(MONTHS)), "months")]
        for i, month in enumerate(months):
            self.month(month, last=i == len(months) - 1)
        self.flush()


def run(data: st.DataObject, home: Path) -> StreamBuilder:
    backend = h.ledger_with(home)
    builder = StreamBuilder(data, backend)
    builder.build()
    return builder


def assert_matches_model(builder: StreamBuilder) -> None:
    backend, model = builder.backend, builder.model
    statements = {(s["period"], f"{s['insured']}>{s['treatment']}"): [s["amount_fen"], s["status"]] for s in h.statements(backend)}
    assert statements == model.statements
    balances = views.balances(backend.projection())
    for key in PAIR_KEYS:
        insured, treatment = key.split(">")
        assert -balances.get(f"{insured}:payable:{treatment}", 0) == model.outstanding[key]
        assert balances.get(f"{treatment}:receivable:{insured}", 0) == model.outstanding[key]
    for row in h.floats(backend):
        key = f"{row['insured']}>{row['treatment']}"
        assert row["outstanding_fen"] == model.outstanding[key]
        alerts = [a for a in h.facts(backend, "float.alert") if a["key"] == key]
        assert row["level"] == (alerts[-1]["to_level"] if alerts else "ok")
    open_cases = {c["setl_id"] for c in views.investigations(backend.projection(), "open")}
    assert open_cases == {s.record["output"]["setlinfo"]["setl_id"] for s in model.settlements if s.large and not s.case_closed}


# -- (a) the books balance ------------------------------------------------------------------------
@SETTINGS
@given(st.data())
def test_balances_sum_to_zero_and_every_fact_balances(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as home:
        builder = run(data, Path(home))
        backend = builder.backend
        for fact in backend.read_facts():
            assert sum(fen for _, fen in RULES[fact["type"]](fact)) == 0, fact
        assert sum(backend.projection().balances.values()) == 0
        assert sum(h.balances(backend).values()) == 0
        assert_matches_model(builder)
        backend.close()


# -- (b) replay gives the live projection ------------------------------------------------------------
@SETTINGS
@given(st.data())
def test_replay_gives_the_same_digest_as_the_live_projection(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as home:
        builder = run(data, Path(home))
        backend = builder.backend
        live = h.live_digest(backend)
        assert digest(fold(backend.read_facts())) == live
        backend.close()
        # The whole stream again into a new ledger, in batches of any size and split across a
        # restart at any record (the second half starts from the saved projection and an empty
        # aggregate cache: decisions read the store), gives the same outcomes and projection.
        batch = data.draw(st.sampled_from([1, 4, 1000]), label="batch_records")
        split = data.draw(st.integers(0, len(builder.stream)), label="restart at")
        first = h.ledger_with(Path(home), name="again")
        counts_1, _ = h.ingest(first, builder.stream[:split], batch_records=batch)
        first.close()
        second = h.ledger_with(Path(home), name="again")
        counts_2, _ = h.ingest(second, builder.stream[split:], batch_records=batch)
        assert {k: counts_1[k] + counts_2[k] for k in counts_1} == {
            "accepted": builder.expected.count("accepted"), "duplicates": builder.expected.count("duplicate"),
            "rejected": builder.expected.count("rejected")}
        assert h.live_digest(second) == live
        assert digest(fold(second.read_facts())) == live
        second.close()


# -- (c) re-ingesting changes nothing --------------------------------------------------------------
@SETTINGS
@given(st.data())
def test_reingesting_the_stream_or_any_record_changes_nothing(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as home:
        builder = run(data, Path(home))
        backend = builder.backend
        live, position = h.live_digest(backend), backend.last_position()
        rejected_lines = [n for n, w in enumerate(builder.expected, 1) if w == "rejected"]
        counts, rejects = h.ingest(backend, builder.stream)
        assert counts == {"accepted": 0, "duplicates": len(builder.stream) - len(rejected_lines),
                          "rejected": len(rejected_lines)}
        assert sorted(r["line"] for r in rejects) == rejected_lines
        assert h.live_digest(backend) == live and backend.last_position() == position
        index = data.draw(st.integers(0, len(builder.stream) - 1), label="record again")
        status, _ = h.outcome(backend, builder.stream[index])
        assert status == ("rejected" if builder.expected[index] == "rejected" else "duplicate")
        assert h.live_digest(backend) == live and backend.last_position() == position
        backend.close()


# -- (d) the fold does not depend on how keys interleave (nor on merging per-partition folds) ------
@SETTINGS
@given(st.data())
def test_folding_by_key_in_any_order_gives_the_same_digest(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as home:
        builder = run(data, Path(home))
        backend = builder.backend
        facts = list(backend.read_facts())
        live = h.live_digest(backend)
        by_key: dict[str, list[dict[str, Any]]] = {}
        for fact in facts:
            by_key.setdefault(fact["key"], []).append(fact)
        for key, chain in by_key.items():
            assert [f["seq"] for f in chain] == list(range(1, len(chain) + 1)), key
        order = data.draw(st.permutations(sorted(by_key)), label="key order")
        assert digest(fold(f for key in order for f in by_key[key])) == live
        # Any interleaving that keeps each key's own order.
        rng = random.Random(data.draw(st.integers(0, 2**32 - 1), label="interleave seed"))
        queues = {k: list(v) for k, v in by_key.items()}
        merged = []
        while queues:
            key = rng.choice(sorted(queues))
            merged.append(queues[key].pop(0))
            if not queues[key]:
                del queues[key]
        assert digest(fold(merged)) == live
        # Kafka-style: keys spread over partitions, each folded on its own, then merged.
        partitions = data.draw(st.integers(1, 5), label="partitions")
        assignment = {key: rng.randrange(partitions) for key in by_key}
        parts = [fold(f for f in facts if assignment[f["key"]] == p) for p in range(partitions)]
        rng.shuffle(parts)
        assert digest(merge(parts)) == live
        backend.close()
