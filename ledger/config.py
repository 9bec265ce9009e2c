"""Every policy number in one place, with the documented default (DOMAIN.md §3-§4).

``Policy`` is a frozen record; the edge (``yidi.settings``) builds it from a TOML file or
environment variables. Tests construct their own to show that changing a number changes the
outcome.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Policy:
    # Prepayment float (预付金): k x average monthly fund settlement of Q4 last year.
    float_multiple_cross_province: int = 2
    float_multiple_intra_province: int = 2
    # Usage = outstanding / float. Warning at or above, emergency top-up at or above.
    float_warning_pct: int = 70
    float_emergency_pct: int = 90
    # A single inpatient stay with total fees at or above this opens 大额费用协查.
    large_stay_threshold_fen: int = 3_000_000
    # The treatment place pays institutions within N working days of the clearing money.
    payout_working_days: int = 7
    # A statement's clearing transfer is expected within N working days of its issue (a
    # default chosen here, not quoted from a rule): the clearing calendar's "days late".
    clearing_transfer_working_days: int = 15
    # Public holidays (no work) and make-up working days (调休, work on a weekend).
    holidays: tuple[str, ...] = ()
    makeup_workdays: tuple[str, ...] = ()
    # City calendar (seed 000): institutions apply by the 14th, city pushes by the 15th.
    institution_apply_day: int = 14
    city_push_day: int = 15
    # Filing (备案): long-term filings cannot be cancelled within N months of their start;
    # temporary filings without an end date are valid N months.
    long_term_lock_months: int = 6
    temporary_validity_months: int = 6
    # Settlements accepted without a filing (flagged): emergencies, and outpatient/pharmacy
    # settlements that draw on no pooled fund (personal account and cash only).
    filing_exempt_emergency_med_types: tuple[str, ...] = ("13", "24")
    filing_exempt_account_only_med_types: tuple[str, ...] = ("11", "41")
    # Pairs whose regional agreement waives filing, as "insured>treatment" (seed 003).
    filing_waived_pairs: tuple[str, ...] = ()
    # fund_pay_sumamt + acct_pay + psn_cash_pay may differ from medfee_sumamt by this much.
    sum_tolerance_fen: int = 0
    # National goal for the inpatient cross-province direct-settlement rate.
    direct_settlement_goal_pct: int = 70
    # Dates outside these years are input errors, not history.
    earliest_year: int = 2000
    latest_year: int = 2099

    def __post_init__(self) -> None:
        if not 0 < self.float_warning_pct <= self.float_emergency_pct:
            raise ValueError("need 0 < float_warning_pct <= float_emergency_pct")
        if self.large_stay_threshold_fen <= 0:
            raise ValueError("large_stay_threshold_fen must be positive")
        if self.payout_working_days < 0 or self.sum_tolerance_fen < 0:
            raise ValueError("payout_working_days and sum_tolerance_fen must be >= 0")
        for day in self.holidays + self.makeup_workdays:
            dt.date.fromisoformat(day)

    @property
    def holiday_dates(self) -> frozenset[dt.date]:
        return frozenset(dt.date.fromisoformat(d) for d in self.holidays)

    @property
    def makeup_dates(self) -> frozenset[dt.date]:
        return frozenset(dt.date.fromisoformat(d) for d in self.makeup_workdays)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def policy_from_mapping(values: Mapping[str, Any], base: Policy | None = None) -> Policy:
    """A Policy with ``values`` overriding ``base`` (or the defaults). Unknown keys are errors."""
    base = base or Policy()
    known = {f.name: f for f in dataclasses.fields(Policy)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ValueError(f"unknown policy setting {key!r}")
        default = getattr(base, key)
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = tuple(v.strip() for v in value.split(",") if v.strip())
            changes[key] = tuple(str(v) for v in value)
        elif isinstance(default, int):
            changes[key] = int(value)
        else:
            changes[key] = value
    return dataclasses.replace(base, **changes)


DEFAULT_POLICY = Policy()
