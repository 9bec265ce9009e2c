"""Posting rules (DOMAIN.md §5, §8; ledger/postings.py): exact postings for every fact type.

Fact bodies come from driving a real ledger through records (one module-scoped scenario
that produces every fact type), never written by hand, except for the negative tests of
``postings_for`` itself.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ledger.events import FACT_TYPES
from ledger.postings import RULES, postings_for
from projections.fold import VIEWS
from tests import helpers as h

P, T = "420000", "440000"
HOSP, PHARM = "H44030000001", "P44030000009"
PERSON = "42010000000000000001"

BIG = h.settlement(infno="2304", psn_no=PERSON, fixmedins_code=HOSP, inf_time="2025-01-10 15:30:00",
                   medfee="36000.00", hifp="22000.00", hifmi="6000.00", acct="2000.00", setl_id="SBIG")
SMALL = h.settlement(infno="2207", psn_no=PERSON, fixmedins_code=HOSP, inf_time="2025-01-12 08:20:00",
                     medfee="800.00", hifp="500.00", acct="0.00", setl_id="SSMALL")
PHARMACY = h.settlement(infno="2102", psn_no="42010000000000000005", fixmedins_code=PHARM,
                        inf_time="2025-01-16 09:30:00", medfee="120.50", hifp="0.00", acct="120.50", setl_id="SPHARM")
TEMP_FILING = h.filing("42010000000000000003", category="temporary", begndate="2025-01-01",
                       filing_id="BATEMP", recorded_at="2024-12-30 10:00:00")

SCENARIO = [
    h.filing(PERSON, filing_id="BALONG"),                                        # filing.recorded
    TEMP_FILING,
    h.filing_cancel("BATEMP", recorded_at="2025-01-05 10:00:00"),                # filing.cancelled
    h.prepayment(P, T, year=2025, amount="40000.00", recorded_at="2025-01-06 10:00:00"),  # float.adjusted
    BIG,                                                                          # settlement.recorded, investigation.opened, float.alert
    SMALL,
    PHARMACY,
    h.cancellation(BIG, inf_time="2025-01-20 10:00:00"),                          # settlement.reversed, investigation.closed
    h.clawback("SSMALL", amount="100.00", recorded_at="2025-01-25 10:00:00"),     # clawback.recorded
    h.manual_reimbursement(recorded_at="2025-01-28 10:00:00"),                    # manual_reimbursement.recorded
    h.clear("2025-01"),                                                           # statement.issued, period.closed
    h.transfer(P, T, period="2025-01", amount="520.50"),                          # clearing.transferred
    h.institution_payment(T, HOSP, period="2025-01", amount="400.00"),            # institution.paid
    h.interest(P, T, amount="12.34", recorded_at="2025-03-21 10:00:00"),          # interest.accrued
    h.prepayment(P, T, year=2026, amount="30000.00", recorded_at="2026-01-06 10:00:00"),  # refund of 10,000
]


@pytest.fixture(scope="module")
def all_facts(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    backend = h.ledger_with(tmp_path_factory.mktemp("postings"))
    counts, rejects = h.ingest(backend, SCENARIO)
    assert rejects == [] and counts == h.all_accepted(len(SCENARIO))
    result = list(backend.read_facts())
    backend.close()
    return result


def only(facts: list[dict[str, Any]], kind: str, **match: Any) -> dict[str, Any]:
    found = [f for f in facts if f["type"] == kind and all(f.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"{kind} {match}: {len(found)} facts"
    return found[0]


def same(postings: list[tuple[str, int]], expected: list[tuple[str, int]]) -> None:
    assert Counter(postings) == Counter(expected)
    assert sum(fen for _, fen in postings) == 0


# -- coverage -----------------------------------------------------------------------------
def test_rules_cover_exactly_the_fact_types() -> None:
    assert set(RULES) == set(FACT_TYPES)


def test_the_fold_has_a_view_for_exactly_the_fact_types() -> None:
    assert set(VIEWS) == set(FACT_TYPES)


def test_the_scenario_produces_every_fact_type(all_facts: list[dict[str, Any]]) -> None:
    assert {f["type"] for f in all_facts} == set(FACT_TYPES)


def test_every_fact_balances(all_facts: list[dict[str, Any]]) -> None:
    for fact in all_facts:
        postings = postings_for(fact)
        assert sum(fen for _, fen in postings) == 0, fact["type"]
        assert all(fen != 0 for _, fen in postings), "zero postings are dropped"
        raw = RULES[fact["type"]](fact)
        assert sum(fen for _, fen in raw) == 0


# -- money-moving facts -------------------------------------------------------------------
def test_settlement_posts_receivable_owed_to_fund_parts_and_payable(all_facts: list[dict[str, Any]]) -> None:
    fact = only(all_facts, "settlement.recorded", setl_id="SBIG")
    assert fact["owed_fen"] == 3000000  # fund 28,000.00 + account 2,000.00; cash never cleared
    same(postings_for(fact), [
        (f"{T}:receivable:{P}", 3000000),
        (f"{T}:owed_to:{HOSP}", -3000000),
        (f"{P}:fund:hifp_pay", 2200000),
        (f"{P}:fund:hifmi_pay", 600000),
        (f"{P}:fund:acct_pay", 200000),
        (f"{P}:payable:{T}", -3000000),
    ])


def test_settlement_without_account_payment_posts_no_account_line(all_facts: list[dict[str, Any]]) -> None:
    fact = only(all_facts, "settlement.recorded", setl_id="SSMALL")
    same(postings_for(fact), [
        (f"{T}:receivable:{P}", 50000), (f"{T}:owed_to:{HOSP}", -50000),
        (f"{P}:fund:hifp_pay", 50000), (f"{P}:payable:{T}", -50000),
    ])


def test_account_only_pharmacy_settlement_posts_the_account_as_fund_spending(all_facts: list[dict[str, Any]]) -> None:
    fact = only(all_facts, "settlement.recorded", setl_id="SPHARM")
    same(postings_for(fact), [
        (f"{T}:receivable:{P}", 12050), (f"{T}:owed_to:{PHARM}", -12050),
        (f"{P}:fund:acct_pay", 12050), (f"{P}:payable:{T}", -12050),
    ])


def test_reversal_posts_the_exact_mirror_of_its_settlement(all_facts: list[dict[str, Any]]) -> None:
    settled = postings_for(only(all_facts, "settlement.recorded", setl_id="SBIG"))
    reversed_ = postings_for(only(all_facts, "settlement.reversed", setl_id="SBIG"))
    same(reversed_, [(account, -fen) for account, fen in settled])


def test_clawback_returns_by_the_original_channel(all_facts: list[dict[str, Any]]) -> None:
    fact = only(all_facts, "clawback.recorded", setl_id="SSMALL")
    same(postings_for(fact), [
        (f"{P}:payable:{T}", 10000), (f"{P}:fund:clawback", -10000),
        (f"{T}:owed_to:{HOSP}", 10000), (f"{T}:receivable:{P}", -10000),
    ])


def test_prepayment_moves_the_float_between_treasuries(all_facts: list[dict[str, Any]]) -> None:
    fact = only(all_facts, "float.adjusted", year=2025)
    assert (fact["float_fen"], fact["previous_fen"], fact["delta_fen"]) == (4000000, 0, 4000000)
    same(postings_for(fact), [
        (f"{P}:prepaid:{T}", 4000000), (f"{P}:treasury", -4000000),
        (f"{T}:treasury", 4000000), (f"{T}:float_held:{P}", -4000000),
    ])


def test_annual_adjustment_moves_only_the_difference_a_refund_here(all_facts: list[dict[str, Any]]) -> None:
    fact = only(all_facts, "float.adjusted", year=2026)
    assert (fact["float_fen"], fact["previous_fen"], fact["delta_fen"]) == (3000000, 4000000, -1000000)
    same(postings_for(fact), [
        (f"{P}:prepaid:{T}", -1000000), (f"{P}:treasury", 1000000),
        (f"{T}:treasury", -1000000), (f"{T}:float_held:{P}", 1000000),
    ])


def test_clearing_transfer_settles_payable_and_receivable_through_the_treasuries(all_facts: list[dict[str, Any]]) -> None:
    fact = only(all_facts, "clearing.transferred", period="2025-01")
    # January: 30,000.00 + 500.00 + 120.50 settled, 30,000.00 reversed, 100.00 clawed back.
    assert fact["amount_fen"] == 52050
    same(postings_for(fact), [
        (f"{P}:payable:{T}", 52050), (f"{P}:treasury", -52050),
        (f"{T}:treasury", 52050), (f"{T}:receivable:{P}", -52050),
    ])


def test_institution_payment_posts_owed_to_against_the_treasury(all_facts: list[dict[str, Any]]) -> None:
    fact = only(all_facts, "institution.paid")
    same(postings_for(fact), [(f"{T}:owed_to:{HOSP}", 40000), (f"{T}:treasury", -40000)])


def test_interest_is_income_of_the_treatment_place(all_facts: list[dict[str, Any]]) -> None:
    fact = only(all_facts, "interest.accrued")
    same(postings_for(fact), [(f"{T}:treasury", 1234), (f"{T}:interest", -1234)])


@pytest.mark.parametrize("kind", ["filing.recorded", "filing.cancelled", "float.alert", "statement.issued",
                                  "period.closed", "investigation.opened", "investigation.closed",
                                  "manual_reimbursement.recorded"])
def test_facts_that_move_no_money_post_nothing(all_facts: list[dict[str, Any]], kind: str) -> None:
    found = [f for f in all_facts if f["type"] == kind]
    assert found, kind
    for fact in found:
        assert postings_for(fact) == []


def test_statement_issued_carries_the_amount_but_posts_nothing(all_facts: list[dict[str, Any]]) -> None:
    fact = only(all_facts, "statement.issued", period="2025-01")
    assert (fact["amount_fen"], fact["settled_fen"], fact["reversed_fen"], fact["clawed_back_fen"]) == (52050, 3062050, 3000000, 10000)
    assert (fact["settlements"], fact["reversals"], fact["clawbacks"]) == (3, 1, 1)
    assert postings_for(fact) == []


def test_balances_of_the_scenario(tmp_path: Any) -> None:
    backend = h.ledger_with(tmp_path)
    h.ingest(backend, SCENARIO)
    balances = h.balances(backend)
    assert sum(balances.values()) == 0
    assert f"{T}:owed_to:{HOSP}" not in balances
    assert balances == {
        f"{P}:fund:acct_pay": 200000 + 12050 - 200000,
        f"{P}:fund:hifp_pay": 2200000 + 50000 - 2200000,
        f"{P}:fund:clawback": -10000,
        f"{P}:prepaid:{T}": 3000000,
        f"{P}:treasury": -3000000 - 52050,
        f"{T}:float_held:{P}": -3000000,
        # f"{T}:owed_to:{HOSP}": -50,000 + 10,000 clawed back + 40,000 paid = 0, left out
        f"{T}:owed_to:{PHARM}": -12050,
        f"{T}:treasury": 3000000 + 52050 - 40000 + 1234,
        f"{T}:interest": -1234,
    }


# -- variants driven through their own small ledgers ----------------------------------------
def test_intra_province_settlement_posts_to_city_accounts(tmp_path: Any) -> None:
    backend = h.ledger_with(tmp_path)
    psn = "51070000000000000001"
    s = h.settlement(insured="510700", treatment="510100", psn_no=psn, fixmedins_code="H51010000001",
                     medfee="300.00", hifp="200.00", acct="50.00")
    counts, _ = h.ingest(backend, [h.filing(psn, insured="510700", treatment="510100"), s])
    assert counts == h.all_accepted(2)
    fact = only(h.facts(backend), "settlement.recorded")
    same(postings_for(fact), [
        ("510100:receivable:510700", 25000), ("510100:owed_to:H51010000001", -25000),
        ("510700:fund:hifp_pay", 20000), ("510700:fund:acct_pay", 5000), ("510700:payable:510100", -25000),
    ])


def test_enterprise_supplement_counted_in_the_fund_is_posted_as_its_own_fund(tmp_path: Any) -> None:
    backend = h.ledger_with(tmp_path)
    s = h.settlement(medfee="1000.00", hifp="600.00", acct="100.00", fixmedins_code=HOSP,
                     hifes_pay="50.00", fund_pay_sumamt="650.00", psn_cash_pay="250.00")
    counts, rejects = h.ingest(backend, [h.filing(), s])
    assert counts == h.all_accepted(2), rejects
    same(postings_for(only(h.facts(backend), "settlement.recorded")), [
        (f"{T}:receivable:{P}", 75000), (f"{T}:owed_to:{HOSP}", -75000),
        (f"{P}:fund:hifp_pay", 60000), (f"{P}:fund:hifes_pay", 5000), (f"{P}:fund:acct_pay", 10000),
        (f"{P}:payable:{T}", -75000),
    ])


def test_every_fund_part_is_posted_to_its_own_account(tmp_path: Any) -> None:
    backend = h.ledger_with(tmp_path)
    s = h.settlement(medfee="2200.00", hifp="100.00", cvlserv="200.00", hifmi="300.00", hifob="400.00",
                     maf="500.00", oth="600.00", acct="0.00", fixmedins_code=HOSP)
    h.ingest(backend, [h.filing(), s])
    same(postings_for(only(h.facts(backend), "settlement.recorded")), [
        (f"{T}:receivable:{P}", 210000), (f"{T}:owed_to:{HOSP}", -210000),
        (f"{P}:fund:hifp_pay", 10000), (f"{P}:fund:cvlserv_pay", 20000), (f"{P}:fund:hifmi_pay", 30000),
        (f"{P}:fund:hifob_pay", 40000), (f"{P}:fund:maf_pay", 50000), (f"{P}:fund:oth_pay", 60000),
        (f"{P}:payable:{T}", -210000),
    ])


def test_negative_statement_is_repaid_by_a_negative_transfer(tmp_path: Any) -> None:
    backend = h.ledger_with(tmp_path)
    s = h.settlement(medfee="1000.00", hifp="600.00", acct="100.00", fixmedins_code=HOSP, inf_time="2025-01-10 10:00:00")
    counts, rejects = h.ingest(backend, [
        h.filing(), s, h.clear("2025-01"), h.transfer(period="2025-01", amount="700.00"),
        h.clawback(s["output"]["setlinfo"]["setl_id"], amount="300.00", recorded_at="2025-02-10 10:00:00"),
        h.clear("2025-02"), h.transfer(period="2025-02", amount="-300.00"),
    ])
    assert counts == h.all_accepted(7), rejects
    fact = only(h.facts(backend), "clearing.transferred", period="2025-02")
    same(postings_for(fact), [
        (f"{P}:payable:{T}", -30000), (f"{P}:treasury", 30000),
        (f"{T}:treasury", -30000), (f"{T}:receivable:{P}", 30000),
    ])
    balances = h.balances(backend)
    assert f"{P}:payable:{T}" not in balances and f"{T}:receivable:{P}" not in balances


# -- postings_for guards its invariant ----------------------------------------------------------
def test_postings_for_refuses_an_unbalanced_fact(all_facts: list[dict[str, Any]]) -> None:
    fact = dict(only(all_facts, "settlement.recorded", setl_id="SBIG"))
    fact["owed_fen"] += 1  # tampered: the fund parts no longer add up to what is owed
    with pytest.raises(AssertionError):
        postings_for(fact)


def test_postings_for_unknown_fact_type_fails_loudly() -> None:
    with pytest.raises(KeyError):
        postings_for({"type": "settlement.exploded"})
