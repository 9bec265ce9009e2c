"""The rules that need history (DOMAIN.md §4, §8), through the embedded backend and ingest.

Each test builds records with ``tests.helpers``, feeds them to a real SQLite-backed ledger in
``tmp_path`` and asserts outcomes, rejects (line and field), balances, statements and floats.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger.config import Policy
from projections import views
from projections.fold import digest, fold
from tests import helpers as h
from yidi.ingest import MAX_LINE_BYTES

P, T = "420000", "440000"
PAIR = f"{P}>{T}"
PERSON = "42010000000000000001"
HOSP = "H44030000001"


def sid(record: dict[str, Any]) -> str:
    return record["output"]["setlinfo"]["setl_id"]


def s1000(**kw: Any) -> dict[str, Any]:
    """A 2304 of 1,000.00 fees: fund 600.00, account 100.00, cash 300.00; owed 700.00."""
    kw.setdefault("fixmedins_code", HOSP)
    return h.settlement(medfee="1000.00", hifp="600.00", acct="100.00", **kw)


def ledger(tmp_path: Path, policy: Policy | None = None, *records: Any):
    backend = h.ledger_with(tmp_path, policy)
    if records:
        counts, rejects = h.ingest(backend, records)
        assert counts == h.all_accepted(len(records)), rejects
    return backend


def statement_of(backend: Any, period: str, insured: str = P, treatment: str = T) -> dict[str, Any] | None:
    for s in h.statements(backend):
        if (s["period"], s["insured"], s["treatment"]) == (period, insured, treatment):
            return s
    return None


def float_of(backend: Any, insured: str = P, treatment: str = T) -> dict[str, Any]:
    rows = [f for f in h.floats(backend) if (f["insured"], f["treatment"]) == (insured, treatment)]
    assert len(rows) == 1
    return rows[0]


# == duplicates and reused ids =================================================================
def test_same_settlement_twice_is_a_duplicate_and_changes_nothing(tmp_path: Path) -> None:
    s = s1000()
    b = ledger(tmp_path, None, h.filing(), s)
    before_balances, before_digest, before_pos = h.balances(b), h.live_digest(b), b.last_position()
    counts, rejects = h.ingest(b, [s])
    assert counts == {"accepted": 0, "duplicates": 1, "rejected": 0} and rejects == []
    assert h.balances(b) == before_balances
    assert h.live_digest(b) == before_digest
    assert b.last_position() == before_pos
    assert len(h.facts(b, "settlement.recorded")) == 1


def test_same_settlement_twice_in_one_batch_counts_once(tmp_path: Path) -> None:
    s = s1000()
    b = h.ledger_with(tmp_path)
    counts, _ = h.ingest(b, [h.filing(), s, s, s])
    assert counts == {"accepted": 2, "duplicates": 2, "rejected": 0}
    assert h.balances(b)[f"{P}:payable:{T}"] == -70000


def test_same_setl_id_with_other_amounts_is_rejected_naming_each_differing_field(tmp_path: Path) -> None:
    s = s1000()
    b = ledger(tmp_path, None, h.filing(), s)
    before = h.live_digest(b)
    other = h.settlement(setl_id=sid(s), fixmedins_code=HOSP, medfee="1200.00", hifp="800.00", acct="100.00",
                         inf_time="2025-01-11 09:00:00", setl_time=s["output"]["setlinfo"]["setl_time"])
    counts, rejects = h.ingest(b, [other])
    assert counts["rejected"] == 1
    # medfee 1000->1200 (and inscp_scp_amt), hifp 600->800, fund 600->800, psn_part_amt 400->400 (unchanged),
    # cash 300->300 (unchanged): exactly these differ.
    assert set(h.reject_fields(rejects)[1]) == {"medfee_sumamt", "inscp_scp_amt", "hifp_pay", "fund_pay_sumamt"}
    assert all(error["message"] for error in rejects[0]["errors"])
    assert h.live_digest(b) == before


def test_same_setl_id_differing_in_one_field_names_only_that_field(tmp_path: Path) -> None:
    s = s1000()
    b = ledger(tmp_path, None, h.filing(), s)
    other = h.modify(s, msgid="MNEW0001", psn_type="14")
    assert h.outcome(b, other) == ("rejected", ["psn_type"])


def test_same_msgid_with_other_content_is_rejected(tmp_path: Path) -> None:
    s = s1000()
    b = ledger(tmp_path, None, h.filing(), s)
    before = h.live_digest(b)
    other = s1000(msgid=s["msgid"], setl_id="SOTHER0001", inf_time=s["inf_time"])
    status, fields = h.outcome(b, other)
    assert status == "rejected"
    assert set(fields) == {"setl_id", "mdtrt_id", "medins_setl_id"}
    assert h.live_digest(b) == before
    # A cancellation reusing a settlement's msgid is rejected too.
    status, fields = h.outcome(b, h.cancellation(s, msgid=s["msgid"], inf_time="2025-01-20 10:00:00"))
    assert status == "rejected" and fields
    assert h.live_digest(b) == before


def test_resubmission_with_a_new_msgid_but_identical_settlement_is_a_duplicate(tmp_path: Path) -> None:
    s = s1000()
    b = ledger(tmp_path, None, h.filing(), s)
    before = h.live_digest(b)
    again = h.modify(s, msgid="MRESEND000001", inf_time="2025-01-10 15:45:00")
    counts, rejects = h.ingest(b, [again])
    assert counts == {"accepted": 0, "duplicates": 1, "rejected": 0}, rejects
    assert h.live_digest(b) == before


def test_json_number_and_string_amounts_are_the_same_record(tmp_path: Path) -> None:
    s = h.settlement(medfee="120.50", hifp="0.00", acct="120.50", infno="2102")
    b = ledger(tmp_path, None, s)
    as_numbers = h.modify(s, medfee_sumamt=120.5, acct_pay=120.5, inscp_scp_amt=120.5, psn_part_amt=120.5)
    assert h.outcome(b, as_numbers) == ("duplicate", [])


# == filings =================================================================================
def test_settlement_without_filing_is_rejected_on_psn_no(tmp_path: Path) -> None:
    b = h.ledger_with(tmp_path)
    before = h.live_digest(b)
    counts, rejects = h.ingest(b, [h.prepayment(), s1000(psn_no="42010000000000000009")])
    assert counts == {"accepted": 1, "duplicates": 0, "rejected": 1}
    assert h.reject_fields(rejects) == {2: ["psn_no"]}
    assert h.facts(b, "settlement.recorded") == []
    assert h.live_digest(b) != before  # the prepayment landed, nothing else
    assert f"{P}:payable:{T}" not in h.balances(b)


@pytest.mark.parametrize("infno, med_type", [("2207", "13"), ("2304", "24")])
def test_emergencies_are_accepted_without_filing_and_flagged(tmp_path: Path, infno: str, med_type: str) -> None:
    b = h.ledger_with(tmp_path)
    s = h.settlement(infno=infno, med_type=med_type, medfee="800.00", hifp="500.00", acct="0.00")
    assert h.outcome(b, s) == ("accepted", [])
    fact = h.facts(b, "settlement.recorded")[0]
    assert fact["filing_basis"] == "emergency" and fact["filing_id"] is None
    assert h.state(b).exemptions == {f"{PAIR}|emergency": [1, 50000]}


@pytest.mark.parametrize("infno", ["2102", "2207"])
def test_account_only_settlements_are_accepted_without_filing(tmp_path: Path, infno: str) -> None:
    b = h.ledger_with(tmp_path)
    s = h.settlement(infno=infno, medfee="120.50", hifp="0.00", acct="120.50")
    assert h.outcome(b, s) == ("accepted", [])
    assert h.facts(b, "settlement.recorded")[0]["filing_basis"] == "account_only"
    # The same visit drawing on the pooled fund needs a filing.
    assert h.outcome(b, h.settlement(infno=infno, medfee="120.50", hifp="0.01", acct="120.49")) == ("rejected", ["psn_no"])


def test_a_waived_pair_needs_no_filing(tmp_path: Path) -> None:
    b = h.ledger_with(tmp_path, Policy(filing_waived_pairs=("420000>440000",)))
    assert h.outcome(b, s1000()) == ("accepted", [])
    assert h.facts(b, "settlement.recorded")[0]["filing_basis"] == "waived_pair"
    # Only that pair: Hubei -> Beijing still needs a filing; and the default policy waives nothing.
    assert h.outcome(b, s1000(treatment="110100")) == ("rejected", ["psn_no"])
    assert h.outcome(h.ledger_with(tmp_path, name="default"), s1000()) == ("rejected", ["psn_no"])


def test_filing_covers_from_begndate_to_enddate(tmp_path: Path) -> None:
    f = h.filing(PERSON, category="long_term", begndate="2025-02-01", enddate="2025-03-31", recorded_at="2025-01-20 10:00:00")
    b = ledger(tmp_path, None, f)
    cases = [("2025-01-31 23:59:59", "rejected"), ("2025-02-01 00:00:00", "accepted"),
             ("2025-03-31 23:59:59", "accepted"), ("2025-04-01 00:00:00", "rejected")]
    for when, expected in cases:
        status, fields = h.outcome(b, s1000(inf_time=when))
        assert status == expected, when
        assert fields == ([] if expected == "accepted" else ["psn_no"])
    fact = h.facts(b, "settlement.recorded")[0]
    assert (fact["filing_basis"], fact["filing_id"]) == ("filing", f["filing_id"])


def test_a_filing_covers_any_city_of_the_treatment_province_but_not_another_province(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(PERSON, insured="420100", treatment="440300"))
    assert h.outcome(b, s1000(treatment="440100")) == ("accepted", [])
    assert h.outcome(b, s1000(treatment="450100")) == ("rejected", ["psn_no"])
    assert h.outcome(b, s1000(psn_no="42010000000000000002")) == ("rejected", ["psn_no"])


@pytest.mark.parametrize("months, last_day, first_uncovered", [
    (None, "2025-06-30", "2025-07-01"), (6, "2025-06-30", "2025-07-01"), (3, "2025-03-31", "2025-04-01"),
    (12, "2025-12-31", "2026-01-01"),
])
def test_temporary_filing_without_enddate_is_valid_for_the_policy_months(
    tmp_path: Path, months: int | None, last_day: str, first_uncovered: str
) -> None:
    policy = Policy() if months is None else Policy(temporary_validity_months=months)
    f = h.filing(PERSON, category="temporary", begndate="2025-01-01", recorded_at="2024-12-20 10:00:00")
    b = ledger(tmp_path, policy, f)
    assert h.outcome(b, s1000(inf_time=f"{last_day} 12:00:00")) == ("accepted", [])
    assert h.outcome(b, s1000(inf_time=f"{first_uncovered} 12:00:00")) == ("rejected", ["psn_no"])
    assert h.facts(b, "filing.recorded")[0]["valid_until"] == last_day


def test_long_term_filing_without_enddate_stays_valid(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(PERSON, begndate="2024-10-01"))
    assert h.outcome(b, s1000(inf_time="2029-12-31 10:00:00")) == ("accepted", [])


def test_filing_cancel_ends_coverage_from_its_date(tmp_path: Path) -> None:
    f = h.filing(PERSON, category="temporary", begndate="2025-01-01", recorded_at="2024-12-20 10:00:00")
    b = ledger(tmp_path, None, f, h.filing_cancel(f["filing_id"], recorded_at="2025-02-15 09:00:00"))
    assert h.outcome(b, s1000(inf_time="2025-02-14 23:59:59")) == ("accepted", [])
    assert h.outcome(b, s1000(inf_time="2025-02-15 08:00:00")) == ("rejected", ["psn_no"])
    assert h.outcome(b, s1000(inf_time="2025-03-01 08:00:00")) == ("rejected", ["psn_no"])
    assert h.facts(b, "filing.cancelled")[0]["effective_date"] == "2025-02-15"
    assert h.state(b).filings == {PAIR: [0, 1, 1]}


def test_filing_cancel_rules(tmp_path: Path) -> None:
    f = h.filing(PERSON, category="temporary", begndate="2025-01-01", recorded_at="2024-12-20 10:00:00")
    cancel = h.filing_cancel(f["filing_id"], recorded_at="2025-02-15 09:00:00")
    b = ledger(tmp_path, None, f, cancel)
    assert h.outcome(b, cancel) == ("duplicate", [])
    assert h.outcome(b, h.filing_cancel(f["filing_id"], recorded_at="2025-02-16 09:00:00")) == ("rejected", ["filing_id"])
    assert h.outcome(b, h.filing_cancel("BANOSUCH", recorded_at="2025-02-16 09:00:00")) == ("rejected", ["filing_id"])


@pytest.mark.parametrize("lock_months, too_early, allowed", [
    (None, "2025-03-31 23:59:59", "2025-04-01 00:00:00"),
    (6, "2025-03-31 23:59:59", "2025-04-01 00:00:00"),
    (3, "2024-12-31 23:59:59", "2025-01-01 00:00:00"),
    (0, None, "2024-10-01 00:00:00"),
])
def test_long_term_filing_cannot_be_cancelled_within_the_lock(
    tmp_path: Path, lock_months: int | None, too_early: str | None, allowed: str
) -> None:
    policy = Policy() if lock_months is None else Policy(long_term_lock_months=lock_months)
    f = h.filing(PERSON, category="long_term", begndate="2024-10-01")
    b = ledger(tmp_path, policy, f)
    if too_early is not None:
        counts, rejects = h.ingest(b, [h.filing_cancel(f["filing_id"], recorded_at=too_early)])
        assert h.reject_fields(rejects) == {1: ["filing_id"]}
    assert h.outcome(b, h.filing_cancel(f["filing_id"], recorded_at=allowed)) == ("accepted", [])


def test_filing_id_reused_with_other_content_is_rejected_naming_the_fields(tmp_path: Path) -> None:
    f = h.filing(PERSON, filing_id="BA0001", begndate="2024-10-01")
    b = ledger(tmp_path, None, f)
    assert h.outcome(b, f) == ("duplicate", [])
    assert h.outcome(b, dict(f, begndate="2024-11-01", category="temporary")) == ("rejected", ["begndate", "category"])
    assert h.outcome(b, dict(f, recorded_at="2024-09-21 09:00:00")) == ("rejected", ["recorded_at"])
    assert len(h.facts(b, "filing.recorded")) == 1


def test_intra_province_pair_uses_city_codes_in_every_account(tmp_path: Path) -> None:
    psn = "51070000000000000001"
    inst = "H51010000001"
    s = h.settlement(insured="510700", treatment="510100", psn_no=psn, fixmedins_code=inst,
                     medfee="3000.00", hifp="2000.00", acct="500.00")
    b = ledger(tmp_path, None,
               h.filing(psn, insured="510700", treatment="510100"),
               h.prepayment("510700", "510100", amount="10000.00"), s)
    assert h.balances(b) == {
        "510700:prepaid:510100": 1000000, "510700:treasury": -1000000,
        "510100:treasury": 1000000, "510100:float_held:510700": -1000000,
        "510100:receivable:510700": 250000, "510100:owed_to:" + inst: -250000,
        "510700:fund:hifp_pay": 200000, "510700:fund:acct_pay": 50000, "510700:payable:510100": -250000,
    }
    assert float_of(b, "510700", "510100")["outstanding_fen"] == 250000
    # The filing to Chengdu does not cover Panzhihua (another city of the same province).
    assert h.outcome(b, h.settlement(insured="510700", treatment="510400", psn_no=psn)) == ("rejected", ["psn_no"])
    counts, rejects = h.ingest(b, [h.clear("2025-01"), h.transfer("510700", "510100", amount="2500.00"),
                                   h.institution_payment("510100", inst, amount="2500.00")])
    assert counts == h.all_accepted(3), rejects
    assert h.statements(b) == [{"period": "2025-01", "insured": "510700", "treatment": "510100",
                                "amount_fen": 250000, "status": "transferred"}]
    balances = h.balances(b)
    assert balances["510700:treasury"] == -1250000 and balances["510100:treasury"] == 1000000
    assert not any(a.startswith(("510000:", "420000:")) for a in balances)


# == reversals =================================================================================
def test_cancellation_of_an_outpatient_settlement_reverses_it_completely(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(), h.prepayment())
    before = h.balances(b)
    s = h.settlement(infno="2207", medfee="500.00", hifp="300.00", hifmi="50.00", acct="20.00", inf_time="2025-01-12 10:00:00")
    counts, rejects = h.ingest(b, [s, h.cancellation(s, inf_time="2025-01-12 11:00:00")])
    assert counts == h.all_accepted(2), rejects
    assert h.balances(b) == before
    fact = h.facts(b, "settlement.reversed")[0]
    assert (fact["infno"], fact["original_infno"], fact["owed_fen"]) == ("2208", "2207", 37000)
    assert float_of(b)["outstanding_fen"] == 0


def test_second_cancellation_is_rejected_and_an_identical_one_is_a_duplicate(tmp_path: Path) -> None:
    s = s1000()
    cancel = h.cancellation(s, inf_time="2025-01-15 10:00:00")
    b = ledger(tmp_path, None, h.filing(), s, cancel)
    before = h.live_digest(b)
    assert h.outcome(b, cancel) == ("duplicate", [])
    assert h.outcome(b, h.cancellation(s, inf_time="2025-01-16 10:00:00")) == ("rejected", ["setl_id"])
    assert h.outcome(b, h.reversal_2601(s, inf_time="2025-01-16 10:00:00")) == ("rejected", ["omsgid"])
    assert h.live_digest(b) == before


def test_cancellation_of_an_unknown_settlement_is_rejected(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing())
    never_sent = s1000()
    counts, rejects = h.ingest(b, [h.cancellation(never_sent)])
    assert h.reject_fields(rejects) == {1: ["setl_id"]}


@pytest.mark.parametrize("settle_infno, cancel_infno", [("2207", "2305"), ("2304", "2208"), ("2102", "2305"), ("2304", "2103")])
def test_a_cancellation_must_match_the_settlement_transaction(tmp_path: Path, settle_infno: str, cancel_infno: str) -> None:
    s = h.settlement(infno=settle_infno, medfee="100.00", hifp="0.00", acct="100.00")
    b = ledger(tmp_path, None, h.filing(), s)
    assert h.outcome(b, h.cancellation(s, infno=cancel_infno)) == ("rejected", ["infno"])


@pytest.mark.parametrize("field, value", [("psn_no", "42010000000000000999"), ("fixmedins_code", "H44030000999"),
                                          ("insuplc_admdvs", "420200"), ("mdtrtarea_admvs", "440100")])
def test_a_cancellation_must_match_the_settlement_parties(tmp_path: Path, field: str, value: str) -> None:
    s = s1000()
    b = ledger(tmp_path, None, h.filing(), s)
    assert h.outcome(b, h.cancellation(s, **{field: value})) == ("rejected", [field])


def test_a_cancellation_before_its_settlement_time_is_rejected(tmp_path: Path) -> None:
    s = s1000(inf_time="2025-01-10 15:30:00")
    b = ledger(tmp_path, None, h.filing(), s)
    assert h.outcome(b, h.cancellation(s, inf_time="2025-01-10 15:29:59")) == ("rejected", ["inf_time"])


def test_reversal_2601_by_omsgid_reverses(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(), h.prepayment())
    before = h.balances(b)
    s = s1000()
    counts, rejects = h.ingest(b, [s, h.reversal_2601(s, inf_time="2025-01-10 15:31:00")])
    assert counts == h.all_accepted(2), rejects
    assert h.balances(b) == before
    fact = h.facts(b, "settlement.reversed")[0]
    assert (fact["infno"], fact["omsgid"], fact["setl_id"]) == ("2601", s["msgid"], sid(s))


def test_reversal_2601_of_an_unknown_message_is_rejected(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(), s1000())
    counts, rejects = h.ingest(b, [h.reversal_2601(s1000())])
    assert h.reject_fields(rejects) == {1: ["omsgid"]}


def test_reversal_2601_must_name_the_original_transaction(tmp_path: Path) -> None:
    s = s1000()
    b = ledger(tmp_path, None, h.filing(), s)
    assert h.outcome(b, h.reversal_2601(s, oinfno="2207")) == ("rejected", ["oinfno"])


def test_reversal_after_the_month_was_cleared_belongs_to_the_next_open_month(tmp_path: Path) -> None:
    s = s1000(inf_time="2025-01-10 10:00:00")
    b = ledger(tmp_path, None, h.filing(), s, h.clear("2025-01"))
    assert statement_of(b, "2025-01")["amount_fen"] == 70000
    counts, rejects = h.ingest(b, [h.cancellation(s, inf_time="2025-02-03 10:00:00"), h.clear("2025-02")])
    assert counts == h.all_accepted(2), rejects
    assert statement_of(b, "2025-01")["amount_fen"] == 70000  # a cleared month is never reopened
    assert statement_of(b, "2025-02")["amount_fen"] == -70000
    fact = h.facts(b, "settlement.reversed")[0]
    assert (fact["period"], fact["original_period"]) == ("2025-02", "2025-01")


def test_late_reversal_dated_in_a_cleared_month_goes_to_the_first_open_month(tmp_path: Path) -> None:
    s = s1000(inf_time="2025-01-10 10:00:00")
    b = ledger(tmp_path, None, h.filing(), s, h.clear("2025-01"), h.clear("2025-02"),
               h.cancellation(s, inf_time="2025-01-30 10:00:00"), h.clear("2025-03"))
    assert statement_of(b, "2025-02") is None
    assert statement_of(b, "2025-03")["amount_fen"] == -70000


def test_january_settlement_cancelled_on_3_february_counts_in_february(tmp_path: Path) -> None:
    s = s1000(inf_time="2025-01-10 10:00:00")
    b = ledger(tmp_path, None, h.filing(), s, h.cancellation(s, inf_time="2025-02-03 10:00:00"),
               h.clear("2025-01"), h.clear("2025-02"))
    assert statement_of(b, "2025-01")["amount_fen"] == 70000
    assert statement_of(b, "2025-02")["amount_fen"] == -70000


def test_reversal_of_a_large_stay_closes_its_investigation(tmp_path: Path) -> None:
    s = h.settlement(medfee="36000.00", hifp="22000.00", hifmi="6000.00", acct="2000.00")
    b = ledger(tmp_path, None, h.filing(), s)
    assert [c["status"] for c in views.investigations(h.state(b))] == ["open"]
    assert h.outcome(b, h.cancellation(s, inf_time="2025-01-20 10:00:00")) == ("accepted", [])
    cases = views.investigations(h.state(b))
    assert [(c["setl_id"], c["status"], c["outcome"]) for c in cases] == [(sid(s), "closed", "settlement_reversed")]


# == statements ===============================================================================
def test_statement_is_settlements_minus_reversals_minus_clawbacks(tmp_path: Path) -> None:
    a = h.settlement(medfee="1000.00", hifp="600.00", acct="100.00", inf_time="2025-01-05 10:00:00")     # 700.00
    c = h.settlement(medfee="2345.67", hifp="1234.56", hifmi="111.11", acct="0.00", inf_time="2025-01-06 10:00:00")  # 1345.67
    d = h.settlement(infno="2102", medfee="88.88", hifp="0.00", acct="88.88", inf_time="2025-01-07 10:00:00")  # 88.88
    b = ledger(tmp_path, None, h.filing(), a, c, d,
               h.cancellation(c, inf_time="2025-01-20 10:00:00"),
               h.clawback(sid(a), amount="123.45", recorded_at="2025-01-25 10:00:00"),
               h.clear("2025-01"))
    assert h.statements(b) == [{"period": "2025-01", "insured": P, "treatment": T,
                                "amount_fen": 70000 + 134567 + 8888 - 134567 - 12345, "status": "outstanding"}]
    fact = h.facts(b, "statement.issued")[0]
    assert (fact["settled_fen"], fact["reversed_fen"], fact["clawed_back_fen"]) == (213455, 134567, 12345)
    assert (fact["settlements"], fact["reversals"], fact["clawbacks"]) == (3, 1, 1)
    period = h.facts(b, "period.closed")[0]
    assert (period["period"], period["statements"], period["total_fen"]) == ("2025-01", 1, 66543)


def test_statements_of_two_pairs_and_one_per_pair_with_activity(tmp_path: Path) -> None:
    gansu = "62010000000000000001"
    b = ledger(tmp_path, None,
               h.filing(), h.filing(gansu, insured="620100", treatment="110100"),
               h.prepayment("620000", "110000", amount="1000.00"),  # a float is not activity
               s1000(inf_time="2025-01-05 10:00:00"),
               h.settlement(insured="620100", treatment="110100", psn_no=gansu, medfee="500.00", hifp="400.00",
                            acct="0.00", inf_time="2025-01-06 10:00:00"),
               h.settlement(insured="620100", treatment="110100", psn_no=gansu, medfee="300.00", hifp="100.00",
                            acct="50.00", inf_time="2025-01-07 10:00:00"),
               h.settlement(infno="2207", med_type="13", insured="330100", treatment="310100", medfee="80.00",
                            hifp="40.00", acct="0.00", inf_time="2025-02-02 10:00:00"),  # February only
               h.clear("2025-01"))
    assert h.statements(b) == [
        {"period": "2025-01", "insured": "420000", "treatment": "440000", "amount_fen": 70000, "status": "outstanding"},
        {"period": "2025-01", "insured": "620000", "treatment": "110000", "amount_fen": 55000, "status": "outstanding"},
    ]
    h.ingest(b, [h.clear("2025-02")])
    assert [(s["period"], s["insured"], s["amount_fen"]) for s in h.statements(b) if s["period"] == "2025-02"] == [
        ("2025-02", "330000", 4000)]


def test_a_pair_whose_month_nets_to_zero_still_gets_its_statement(tmp_path: Path) -> None:
    s = s1000(inf_time="2025-01-05 10:00:00")
    b = ledger(tmp_path, None, h.filing(), s, h.cancellation(s, inf_time="2025-01-06 10:00:00"), h.clear("2025-01"))
    assert h.statements(b) == [{"period": "2025-01", "insured": P, "treatment": T, "amount_fen": 0, "status": "outstanding"}]


def test_clearing_an_already_cleared_month(tmp_path: Path) -> None:
    clear = h.clear("2025-01")
    b = ledger(tmp_path, None, h.filing(), s1000(), clear)
    before = h.live_digest(b)
    assert h.outcome(b, clear) == ("duplicate", [])
    counts, rejects = h.ingest(b, [h.clear("2025-01", recorded_at="2025-02-06 09:00:00")])
    assert h.reject_fields(rejects) == {1: ["period"]}
    assert h.live_digest(b) == before
    assert len(h.facts(b, "statement.issued")) == 1


def test_a_month_cannot_be_cleared_before_it_ends(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(), s1000())
    assert h.outcome(b, h.clear("2025-01", recorded_at="2025-01-31 23:59:59")) == ("rejected", ["recorded_at"])
    assert h.outcome(b, h.clear("2025-01", recorded_at="2025-02-01 00:00:00")) == ("accepted", [])


def test_records_dated_in_a_closed_month_go_to_the_first_open_month(tmp_path: Path) -> None:
    first = s1000(inf_time="2025-01-05 10:00:00")
    b = ledger(tmp_path, None, h.filing(), first, h.clear("2025-01"))
    late = h.settlement(medfee="500.00", hifp="200.00", acct="0.00", inf_time="2025-01-31 22:00:00")
    late_clawback = h.clawback(sid(first), amount="50.00", recorded_at="2025-01-31 23:00:00")
    counts, rejects = h.ingest(b, [late, late_clawback, h.clear("2025-02")])
    assert counts == h.all_accepted(3), rejects
    assert statement_of(b, "2025-01")["amount_fen"] == 70000
    assert statement_of(b, "2025-02")["amount_fen"] == 20000 - 5000
    assert h.facts(b, "settlement.recorded")[1]["period"] == "2025-02"
    # After February closes too, a January record goes to March.
    counts, _ = h.ingest(b, [h.settlement(medfee="10.00", hifp="10.00", acct="0.00", inf_time="2025-01-15 10:00:00"),
                             h.clear("2025-03")])
    assert statement_of(b, "2025-03")["amount_fen"] == 1000


def test_clearing_a_later_month_first_leaves_the_earlier_one_open(tmp_path: Path) -> None:
    jan = s1000(inf_time="2025-01-05 10:00:00")
    feb = h.settlement(medfee="500.00", hifp="200.00", acct="0.00", inf_time="2025-02-05 10:00:00")
    b = ledger(tmp_path, None, h.filing(), jan, feb, h.clear("2025-02", recorded_at="2025-03-02 09:00:00"))
    assert [(s["period"], s["amount_fen"]) for s in h.statements(b)] == [("2025-02", 20000)]
    late_jan = h.settlement(medfee="300.00", hifp="100.00", acct="0.00", inf_time="2025-01-30 10:00:00")
    h.ingest(b, [late_jan, h.clear("2025-01", recorded_at="2025-03-03 09:00:00")])
    assert statement_of(b, "2025-01")["amount_fen"] == 70000 + 10000


def test_statement_status_goes_from_outstanding_to_transferred(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(), h.prepayment(), s1000(), h.clear("2025-01"))
    assert statement_of(b, "2025-01")["status"] == "outstanding"
    assert float_of(b)["outstanding_fen"] == 70000
    assert h.outcome(b, h.transfer(period="2025-01", amount="700.00")) == ("accepted", [])
    assert statement_of(b, "2025-01")["status"] == "transferred"
    assert float_of(b)["outstanding_fen"] == 0
    assert f"{P}:payable:{T}" not in h.balances(b) and f"{T}:receivable:{P}" not in h.balances(b)


# == transfers ================================================================================
def test_transfer_must_match_an_issued_statement(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(), s1000())
    counts, rejects = h.ingest(b, [
        h.transfer(period="2025-01", amount="700.00"),                       # no statement yet
        h.clear("2025-01"),
        h.transfer(period="2025-01", amount="700.01"),                       # wrong amount
        h.transfer(period="2025-02", amount="700.00"),                       # no statement for February
        h.transfer("420000", "110000", period="2025-01", amount="700.00"),   # no statement for that pair
        h.transfer(period="2025-01", amount="700.00"),                       # the right one
    ])
    assert counts == {"accepted": 2, "duplicates": 0, "rejected": 4}
    assert h.reject_fields(rejects) == {1: ["period"], 3: ["amount"], 4: ["period"], 5: ["period"]}
    assert statement_of(b, "2025-01")["status"] == "transferred"


def test_second_transfer_is_rejected_and_an_identical_one_is_a_duplicate(tmp_path: Path) -> None:
    t = h.transfer(period="2025-01", amount="700.00")
    b = ledger(tmp_path, None, h.filing(), s1000(), h.clear("2025-01"), t)
    before = h.live_digest(b)
    assert h.outcome(b, t) == ("duplicate", [])
    assert h.outcome(b, h.transfer(period="2025-01", amount="700.00", recorded_at="2025-02-21 09:00:00")) == ("rejected", ["period"])
    assert h.live_digest(b) == before
    assert len(h.facts(b, "clearing.transferred")) == 1


def test_transfer_with_city_codes_is_the_province_pair(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(), s1000(), h.clear("2025-01"))
    assert h.outcome(b, h.transfer("420100", "440300", period="2025-01", amount="700.00")) == ("accepted", [])
    assert statement_of(b, "2025-01")["status"] == "transferred"


# == prepayments and floats ===================================================================
def test_prepayment_sets_the_float(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.prepayment(amount="50000.00"))
    assert h.floats(b) == [{"insured": P, "treatment": T, "float_fen": 5000000, "outstanding_fen": 0,
                            "usage_pct": 0.0, "level": "ok"}]


def test_annual_adjustment_moves_only_the_difference(tmp_path: Path) -> None:
    b = ledger(tmp_path, None,
               h.prepayment(year=2025, amount="50000.00", recorded_at="2025-01-06 10:00:00"),
               h.prepayment(year=2026, amount="60000.00", recorded_at="2026-01-06 10:00:00"))
    assert h.balances(b) == {f"{P}:prepaid:{T}": 6000000, f"{P}:treasury": -6000000,
                             f"{T}:treasury": 6000000, f"{T}:float_held:{P}": -6000000}
    assert [f["delta_fen"] for f in h.facts(b, "float.adjusted")] == [5000000, 1000000]
    assert float_of(b)["float_fen"] == 6000000
    # An emergency in-year top-up is one more adjustment of the same year; a past year is refused.
    assert h.outcome(b, h.prepayment(year=2026, amount="65000.00", recorded_at="2026-05-06 10:00:00")) == ("accepted", [])
    assert h.balances(b)[f"{P}:treasury"] == -6500000
    assert h.outcome(b, h.prepayment(year=2025, amount="1.00", recorded_at="2026-05-07 10:00:00")) == ("rejected", ["year"])


def test_identical_prepayment_is_a_duplicate(tmp_path: Path) -> None:
    p = h.prepayment()
    b = ledger(tmp_path, None, p)
    assert h.outcome(b, p) == ("duplicate", [])
    assert h.balances(b)[f"{P}:prepaid:{T}"] == 5000000


@pytest.mark.parametrize("owed, level", [
    ("6999.99", "ok"),  # 69.9999 %: below the threshold, however it is rounded for display
    ("7000.00", "warning"), ("8999.99", "warning"), ("9000.00", "emergency"), ("12345.67", "emergency"),
    ("0.01", "ok"),
])
def test_usage_and_level_at_the_thresholds(tmp_path: Path, owed: str, level: str) -> None:
    b = ledger(tmp_path, None, h.filing(), h.prepayment(amount="10000.00"),
               h.settlement(medfee=owed, hifp=owed, acct="0.00"))
    row = float_of(b)
    assert (row["float_fen"], row["outstanding_fen"], row["level"]) == (1000000, h.fen(owed), level)
    assert row["usage_pct"] == pytest.approx(h.fen(owed) * 100 / 1000000, abs=0.005)
    if owed in ("7000.00", "9000.00"):
        assert row["usage_pct"] == (70.0 if owed == "7000.00" else 90.0)


def test_policy_thresholds_change_the_level(tmp_path: Path) -> None:
    records = [h.filing(), h.prepayment(amount="10000.00"), h.settlement(medfee="5000.00", hifp="5000.00", acct="0.00")]
    assert float_of(ledger(tmp_path, Policy(), *records))["level"] == "ok"
    assert float_of(ledger(tmp_path / "w", Policy(float_warning_pct=50), *records))["level"] == "warning"
    strict = ledger(tmp_path / "e", Policy(float_warning_pct=40, float_emergency_pct=50), *records)
    assert float_of(strict)["level"] == "emergency"
    assert [(a["from_level"], a["to_level"]) for a in h.facts(strict, "float.alert")] == [("ok", "emergency")]


def test_float_alerts_are_recorded_when_the_level_changes(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(), h.prepayment(amount="10000.00"))
    steps = [
        h.settlement(medfee="6000.00", hifp="6000.00", acct="0.00", inf_time="2025-01-05 10:00:00"),   # 60 %: ok
        h.settlement(medfee="1000.00", hifp="900.00", acct="100.00", inf_time="2025-01-06 10:00:00"),  # 70 %: warning
        h.settlement(medfee="1000.00", hifp="1000.00", acct="0.00", inf_time="2025-01-07 10:00:00"),   # 80 %: warning
        h.settlement(medfee="1000.00", hifp="1000.00", acct="0.00", inf_time="2025-01-08 10:00:00"),   # 90 %: emergency
        h.clear("2025-01"),
        h.transfer(period="2025-01", amount="9000.00"),                                                # 0 %: ok
    ]
    counts, rejects = h.ingest(b, steps)
    assert counts == h.all_accepted(len(steps)), rejects
    alerts = [(a["from_level"], a["to_level"], a["usage_bp"], a["outstanding_fen"], a["top_up_requested"])
              for a in h.facts(b, "float.alert")]
    assert alerts == [("ok", "warning", 7000, 700000, False), ("warning", "emergency", 9000, 900000, True),
                      ("emergency", "ok", 0, 0, False)]
    assert [(a["time"], a["to_level"]) for a in views.float_details(h.state(b), b.policy)[0]["alerts"]] == [
        ("2025-01-06 10:00:00", "warning"), ("2025-01-08 10:00:00", "emergency"), ("2025-02-20 14:00:00", "ok")]


def test_a_top_up_lowers_the_level(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(), h.prepayment(amount="10000.00"),
               h.settlement(medfee="9500.00", hifp="9500.00", acct="0.00"),
               h.prepayment(amount="20000.00", recorded_at="2025-01-15 10:00:00"))
    assert float_of(b)["level"] == "ok" and float_of(b)["usage_pct"] == 47.5
    assert [a["to_level"] for a in h.facts(b, "float.alert")] == ["emergency", "ok"]


def test_a_settlement_is_never_refused_because_the_float_is_exhausted(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(), h.prepayment(amount="100.00"))
    big = h.settlement(medfee="20000.00", hifp="10000.00", acct="0.00")
    assert h.outcome(b, big) == ("accepted", [])
    row = float_of(b)
    assert (row["outstanding_fen"], row["usage_pct"], row["level"]) == (1000000, 10000.0, "emergency")
    assert h.facts(b, "float.alert")[-1]["top_up_requested"] is True
    # And with no float at all.
    nofloat = ledger(tmp_path / "n", None, h.filing())
    assert h.outcome(nofloat, big) == ("accepted", [])


# == clawbacks ==================================================================================
def test_clawback_reduces_the_next_statement(tmp_path: Path) -> None:
    s = s1000(inf_time="2025-01-10 10:00:00")
    b = ledger(tmp_path, None, h.filing(), s, h.clear("2025-01"), h.transfer(period="2025-01", amount="700.00"))
    feb = h.settlement(medfee="500.00", hifp="400.00", acct="0.00", inf_time="2025-02-10 10:00:00")
    counts, rejects = h.ingest(b, [feb, h.clawback(sid(s), amount="150.00", recorded_at="2025-02-12 10:00:00"),
                                   h.clear("2025-02")])
    assert counts == h.all_accepted(3), rejects
    assert statement_of(b, "2025-02")["amount_fen"] == 40000 - 15000
    assert h.facts(b, "clawback.recorded")[0]["period"] == "2025-02"


def test_clawback_postings(tmp_path: Path) -> None:
    s = s1000(inf_time="2025-01-10 10:00:00")
    b = ledger(tmp_path, None, h.filing(), s)
    before = h.balances(b)
    assert h.outcome(b, h.clawback(sid(s), amount="150.00")) == ("accepted", [])
    after = h.balances(b)
    assert after[f"{P}:payable:{T}"] - before[f"{P}:payable:{T}"] == 15000
    assert after[f"{P}:fund:clawback"] == -15000
    assert after[f"{T}:owed_to:{HOSP}"] - before[f"{T}:owed_to:{HOSP}"] == 15000
    assert after[f"{T}:receivable:{P}"] - before[f"{T}:receivable:{P}"] == -15000
    assert sum(after.values()) == 0


def test_clawback_cannot_exceed_what_the_settlement_owed(tmp_path: Path) -> None:
    s = s1000()
    b = ledger(tmp_path, None, h.filing(), s)
    counts, rejects = h.ingest(b, [
        h.clawback(sid(s), amount="700.01", recorded_at="2025-01-20 10:00:00"),
        h.clawback(sid(s), amount="400.00", recorded_at="2025-01-21 10:00:00"),
        h.clawback(sid(s), amount="300.01", recorded_at="2025-01-22 10:00:00"),
        h.clawback(sid(s), amount="300.00", recorded_at="2025-01-23 10:00:00"),
        h.clawback("SNOSUCH", amount="1.00", recorded_at="2025-01-24 10:00:00"),
    ])
    assert counts == {"accepted": 2, "duplicates": 0, "rejected": 3}
    assert h.reject_fields(rejects) == {1: ["amount"], 3: ["amount"], 5: ["setl_id"]}


def test_clawback_of_a_reversed_settlement_is_rejected(tmp_path: Path) -> None:
    s = s1000()
    b = ledger(tmp_path, None, h.filing(), s, h.cancellation(s, inf_time="2025-01-11 10:00:00"))
    assert h.outcome(b, h.clawback(sid(s), amount="1.00")) == ("rejected", ["setl_id"])


def test_identical_clawback_is_a_duplicate(tmp_path: Path) -> None:
    s = s1000()
    c = h.clawback(sid(s), amount="10.00")
    b = ledger(tmp_path, None, h.filing(), s, c)
    assert h.outcome(b, c) == ("duplicate", [])
    assert h.balances(b)[f"{P}:fund:clawback"] == -1000


# == investigations ============================================================================
@pytest.mark.parametrize("policy, medfee, opened", [
    (Policy(), "30000.00", True), (Policy(), "29999.99", False), (Policy(), "30000.01", True),
    (Policy(large_stay_threshold_fen=2_000_000), "20000.00", True),
    (Policy(large_stay_threshold_fen=2_000_000), "19999.99", False),
    (Policy(large_stay_threshold_fen=5_000_000), "30000.00", False),
])
def test_large_inpatient_stay_opens_an_investigation(tmp_path: Path, policy: Policy, medfee: str, opened: bool) -> None:
    s = h.settlement(medfee=medfee, hifp="10000.00", acct="0.00")
    b = ledger(tmp_path, policy, h.filing(), s)
    cases = views.investigations(h.state(b))
    if opened:
        assert [(c["setl_id"], c["status"], c["medfee_sumamt_fen"]) for c in cases] == [(sid(s), "open", h.fen(medfee))]
        assert h.facts(b, "investigation.opened")[0]["threshold_fen"] == policy.large_stay_threshold_fen
    else:
        assert cases == []


@pytest.mark.parametrize("med_type", ["21", "22", "23", "24"])
def test_every_inpatient_med_type_opens_a_case(tmp_path: Path, med_type: str) -> None:
    b = ledger(tmp_path, None, h.filing(), h.settlement(med_type=med_type, medfee="30000.00", hifp="1.00", acct="0.00"))
    assert len(views.investigations(h.state(b), "open")) == 1


@pytest.mark.parametrize("infno, med_type", [("2207", "11"), ("2207", "14"), ("2207", "13"), ("2102", "41")])
def test_outpatient_and_pharmacy_open_no_case(tmp_path: Path, infno: str, med_type: str) -> None:
    s = h.settlement(infno=infno, med_type=med_type, medfee="50000.00", hifp="10000.00", acct="0.00")
    b = ledger(tmp_path, None, h.filing(), s)
    assert views.investigations(h.state(b)) == []


def test_investigation_close_closes_the_case(tmp_path: Path) -> None:
    s = h.settlement(medfee="30000.00", hifp="20000.00", acct="0.00")
    b = ledger(tmp_path, None, h.filing(), s)
    balances = h.balances(b)
    close = h.investigation_close(sid(s), outcome="unfounded", recorded_at="2025-02-10 10:00:00")
    assert h.outcome(b, close) == ("accepted", [])
    assert h.balances(b) == balances  # closing a case posts nothing
    [case] = views.investigations(h.state(b))
    assert (case["status"], case["outcome"], case["closed_at"]) == ("closed", "unfounded", "2025-02-10 10:00:00")
    assert views.investigations(h.state(b), "open") == []
    assert h.outcome(b, close) == ("duplicate", [])
    assert h.outcome(b, h.investigation_close(sid(s), recorded_at="2025-02-11 10:00:00")) == ("rejected", ["setl_id"])
    small = h.settlement(medfee="100.00", hifp="50.00", acct="0.00")
    h.ingest(b, [small])
    assert h.outcome(b, h.investigation_close(sid(small))) == ("rejected", ["setl_id"])
    assert h.outcome(b, h.investigation_close("SNOSUCH")) == ("rejected", ["setl_id"])
    assert h.facts(b, "investigation.closed")[0]["outcome"] == "unfounded"
    assert sum(h.balances(b).values()) == 0


# == institution payments, interest, manual reimbursements ====================================
def test_institution_payment_posts_and_counts_against_what_is_due(tmp_path: Path) -> None:
    s = s1000(inf_time="2025-01-10 10:00:00")
    b = ledger(tmp_path, None, h.filing(), h.prepayment(), s, h.clear("2025-01"),
               h.transfer(period="2025-01", amount="700.00"))
    before = h.balances(b)
    pay = h.institution_payment(T, HOSP, period="2025-01", amount="400.00", recorded_at="2025-02-25 10:00:00")
    assert h.outcome(b, pay) == ("accepted", [])
    after = h.balances(b)
    assert after[f"{T}:owed_to:{HOSP}"] - before[f"{T}:owed_to:{HOSP}"] == 40000
    assert after[f"{T}:treasury"] - before[f"{T}:treasury"] == -40000
    assert h.outcome(b, pay) == ("duplicate", [])
    [row] = views.payouts(h.state(b), b.policy)
    assert (row["treatment"], row["fixmedins_code"], row["period"]) == (T, HOSP, "2025-01")
    assert (row["due_fen"], row["paid_fen"], row["outstanding_fen"]) == (70000, 40000, 30000)
    assert row["money_arrived_at"] == "2025-02-20 14:00:00"
    assert row["due_date"] == "2025-03-03"  # 7 working days after Thursday 20 February


def test_interest_accrues_to_the_treatment_province(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.prepayment(), h.interest(amount="12.34"), h.interest("420100", "440300", amount="0.66",
                                                                                    recorded_at="2025-06-21 10:00:00"))
    balances = h.balances(b)
    assert balances[f"{T}:interest"] == -1300
    assert balances[f"{T}:treasury"] == 5000000 + 1300
    assert not any(a.startswith(f"{P}:") and "interest" in a for a in balances)
    row = [r for r in views.provinces(h.state(b)) if r["code"] == T][0]
    assert row["treatment_interest_fen"] == 1300


def test_manual_reimbursements_count_for_the_direct_settlement_rate_and_post_nothing(tmp_path: Path) -> None:
    b = ledger(tmp_path, None, h.filing(), s1000(), s1000(), s1000())
    before = h.balances(b)
    counts, rejects = h.ingest(b, [h.manual_reimbursement(med_type="21"),
                                   h.manual_reimbursement(med_type="11", recorded_at="2025-01-29 10:00:00")])
    assert counts == h.all_accepted(2), rejects
    assert h.balances(b) == before
    rates = {(r["province"], r["care"]): (r["direct"], r["manual"], r["direct_rate_pct"]) for r in views.direct_rate(h.state(b))}
    assert rates == {(P, "inpatient"): (3, 1, 75.0), (P, "outpatient"): (0, 1, 0.0)}


def test_manual_reimbursement_with_a_msgid_is_deduplicated_by_it(tmp_path: Path) -> None:
    m = h.manual_reimbursement(msgid="MANUAL0001")
    b = ledger(tmp_path, None, m)
    assert h.outcome(b, m) == ("duplicate", [])
    assert h.outcome(b, dict(m, medfee_sumamt="5000.01")) == ("rejected", ["medfee_sumamt"])


# == bad input changes nothing =================================================================
def test_ingesting_only_bad_records_changes_nothing(tmp_path: Path) -> None:
    s = s1000(inf_time="2025-01-10 10:00:00")
    b = ledger(tmp_path, None, h.filing(), h.prepayment(), s, h.clear("2025-01"))
    before_digest, before_pos, before_balances = h.live_digest(b), b.last_position(), h.balances(b)
    bad = [
        b"this is not json",
        b"\xff\xfe\x00garbage\x80\x81",
        b"{" + b"\"x\": \"" + b"a" * (MAX_LINE_BYTES + 10) + b"\"}",
        b"[1, 2, 3]",
        h.modify(s1000(), medfee_sumamt="1.001"),                       # parse: three decimals
        s1000(psn_no="42010000000000000099"),                           # no filing
        h.modify(s, msgid="MOTHER", medfee_sumamt="999.00"),            # setl_id reused
        h.cancellation(s1000()),                                         # unknown setl_id
        h.reversal_2601(s1000()),                                        # unknown omsgid
        h.clear("2025-01", recorded_at="2025-02-09 09:00:00"),           # already cleared
        h.transfer(period="2025-01", amount="1.00"),                     # wrong amount
        h.clawback(sid(s), amount="700.01"),                             # too much
        h.clawback("SNOSUCH", amount="1.00"),
        h.prepayment(year=2024, amount="1.00"),                          # past year
        h.filing_cancel("BANOSUCH"),
        h.investigation_close(sid(s)),                                   # no case
    ]
    counts, rejects = h.ingest(b, bad)
    assert counts == {"accepted": 0, "duplicates": 0, "rejected": len(bad)}
    fields = h.reject_fields(rejects)
    assert fields[1] == ["record"] and fields[2] == ["record"] and fields[3] == ["record"] and fields[4] == ["record"]
    assert [r["line"] for r in rejects] == list(range(1, len(bad) + 1))
    assert h.live_digest(b) == before_digest
    assert b.last_position() == before_pos
    assert h.balances(b) == before_balances


def test_blank_lines_are_skipped_and_crlf_is_accepted(tmp_path: Path) -> None:
    import orjson

    b = h.ledger_with(tmp_path)
    counts, rejects = h.ingest(b, [b"", b"   ", orjson.dumps(h.prepayment()) + b"\r"])
    assert rejects == [] and counts["rejected"] == 0


# == the projection is the log, folded ========================================================
def test_replay_and_reopen_give_the_live_projection(tmp_path: Path) -> None:
    s = s1000(inf_time="2025-01-10 10:00:00")
    records = [h.filing(), h.prepayment(), s, h.settlement(medfee="30000.00", hifp="25000.00", acct="0.00"),
               h.clear("2025-01"), h.transfer(period="2025-01", amount="25700.00"),
               h.cancellation(s, inf_time="2025-02-02 10:00:00"), h.interest(), h.manual_reimbursement()]
    b = ledger(tmp_path, None, *records)
    live = h.live_digest(b)
    assert digest(fold(b.read_facts())) == live
    b.close()
    reopened = h.ledger_with(tmp_path)
    assert h.live_digest(reopened) == live
    counts, _ = h.ingest(reopened, records)
    assert counts == {"accepted": 0, "duplicates": len(records), "rejected": 0}
    assert h.live_digest(reopened) == live


# == regressions: bugs found by this suite (xfail at first), fixed in 0bf4d7d ====================
def test_a_resent_settlement_whose_setl_id_has_a_trailing_newline_is_not_counted_twice(tmp_path: Path) -> None:
    """Was: 'S1\\n' passed the id check ('$' matches before a newline) and settled twice."""
    s = s1000()
    b = ledger(tmp_path, None, h.filing(), s)
    before = h.balances(b)
    resent = h.modify(s, msgid="MRESEND0000001", setl_id=sid(s) + "\n")
    status, _ = h.outcome(b, resent)
    assert status != "accepted"
    assert h.balances(b) == before


def test_a_transfer_dated_before_its_statement_is_rejected_and_as_of_never_crashes(tmp_path: Path) -> None:
    """Was: accepted, and `--as-of` between the two crashed (KeyError in fold._transfer)."""
    b = h.ledger_with(tmp_path)
    counts, rejects = h.ingest(b, [h.filing(), s1000(inf_time="2025-01-10 10:00:00"),
                                   h.clear("2025-01", recorded_at="2025-02-10 09:00:00"),
                                   h.transfer(period="2025-01", amount="700.00", recorded_at="2025-02-08 09:00:00")])
    # Decided: a transfer dated before its statement was issued is rejected on recorded_at.
    assert h.reject_fields(rejects) == {4: ["recorded_at"]}
    state = b.projection_as_of("2025-02-09 00:00:00")  # must not raise
    assert sum(state.balances.values()) == 0
    assert views.statements(state) == []  # the statement was not issued yet at that time


def test_closing_a_case_before_it_was_opened_is_rejected_and_as_of_never_crashes(tmp_path: Path) -> None:
    """Was: accepted, and `--as-of` in between crashed (KeyError in fold._investigation_closed)."""
    s = h.settlement(medfee="30000.00", hifp="20000.00", acct="0.00", inf_time="2025-01-10 10:00:00")
    b = ledger(tmp_path, None, h.filing(), s)
    counts, rejects = h.ingest(b, [h.investigation_close(sid(s), recorded_at="2025-01-05 10:00:00")])
    # Decided: closing a case before it was opened is rejected on recorded_at.
    assert h.reject_fields(rejects) == {1: ["recorded_at"]}
    state = b.projection_as_of("2025-01-06 00:00:00")  # must not raise
    assert views.investigations(state) == []


def test_temporary_filing_from_the_31st_is_valid_for_six_full_months(tmp_path: Path) -> None:
    """Was: add_months clamped first, so 2025-08-31 ended 2026-02-27, short of 6 months (§4)."""
    f = h.filing(PERSON, category="temporary", begndate="2025-08-31", recorded_at="2025-08-30 10:00:00")
    b = ledger(tmp_path, None, f)
    assert h.outcome(b, s1000(inf_time="2026-02-28 10:00:00")) == ("accepted", [])
    assert h.outcome(b, s1000(inf_time="2026-03-01 10:00:00")) == ("rejected", ["psn_no"])


def test_payouts_are_overdue_relative_to_the_latest_fact_by_default(tmp_path: Path) -> None:
    """Was: views.payouts documented `today` = the latest fact's day but never applied it."""
    b = ledger(tmp_path, None, h.filing(), s1000(inf_time="2025-01-10 10:00:00"), h.clear("2025-01"),
               h.transfer(period="2025-01", amount="700.00"),           # money arrives 2025-02-20: due 2025-03-03
               h.interest(recorded_at="2025-04-01 10:00:00"))           # the latest fact, a month later
    [row] = views.payouts(h.state(b), b.policy)
    assert row["due_date"] == "2025-03-03"
    assert row["status"] == "overdue"
