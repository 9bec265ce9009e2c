"""Read models derived from a folded ``Projection``: what the CLI, the API and the
dashboards print. Pure functions; the policy thresholds are applied here, at read time, so
changing a threshold changes every view without a replay.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ledger.config import Policy
from ledger.decisions import level_of
from ledger.workdays import add_working_days

from .fold import Projection

LIST_LIMIT_MAX = 10_000


def balances(state: Projection) -> dict[str, int]:
    """account -> balance in fen (Σ debits − Σ credits); accounts at 0 are left out."""
    return {account: fen for account, fen in sorted(state.balances.items()) if fen != 0}


def _split(account: str) -> tuple[str, str, str]:
    code, kind, *rest = account.split(":", 2)
    return code, kind, rest[0] if rest else ""


def provinces(state: Projection) -> list[dict[str, Any]]:
    """Each place's position, as insured place and as treatment place, in fen.

    insured side:   prepaid (floats advanced), payable (settled, not cleared), fund_spent
    treatment side: float_held, receivable (advanced, not cleared), owed_to_institutions,
                    interest; and the treasury, shared.
    """
    rows: dict[str, dict[str, int]] = {}
    names = {
        "prepaid": ("insured_prepaid_fen", 1), "payable": ("insured_payable_fen", -1),
        "fund": ("insured_fund_spent_fen", 1), "float_held": ("treatment_float_held_fen", -1),
        "receivable": ("treatment_receivable_fen", 1), "owed_to": ("treatment_owed_to_institutions_fen", -1),
        "interest": ("treatment_interest_fen", -1), "treasury": ("treasury_fen", 1),
    }
    for account, fen in state.balances.items():
        code, kind, _ = _split(account)
        name, sign = names[kind]
        row = rows.setdefault(code, {v[0]: 0 for v in names.values()})
        row[name] += sign * fen
    return [{"code": code, **row} for code, row in sorted(rows.items())]


def usage_pct(outstanding_fen: int, float_fen: int) -> float | None:
    """outstanding ÷ float × 100, rounded half up to 2 decimals (integer arithmetic)."""
    if float_fen <= 0:
        return None
    basis_points, rest = divmod(outstanding_fen * 10000 * 2 + float_fen, 2 * float_fen)
    return basis_points / 100


def floats(state: Projection, policy: Policy) -> list[dict[str, Any]]:
    rows = []
    for pair in sorted(state.floats):
        insured, treatment = pair.split(">")
        float_fen = state.balances.get(f"{insured}:prepaid:{treatment}", 0)
        outstanding = -state.balances.get(f"{insured}:payable:{treatment}", 0)
        rows.append({
            "insured": insured, "treatment": treatment, "float_fen": float_fen,
            "outstanding_fen": outstanding, "usage_pct": usage_pct(outstanding, float_fen),
            "level": level_of(policy, float_fen, outstanding),
        })
    return rows


def float_details(state: Projection, policy: Policy) -> list[dict[str, Any]]:
    """Floats with their year and alert history, for dashboards."""
    rows = floats(state, policy)
    for row in rows:
        pair = f"{row['insured']}>{row['treatment']}"
        row["year"] = state.floats[pair]["year"]
        row["alerts"] = [
            {"time": a[0], "from_level": a[1], "to_level": a[2],
             "usage_pct": None if a[3] is None else a[3] / 100, "outstanding_fen": a[4], "float_fen": a[5]}
            for a in state.alerts.get(pair, [])
        ]
    return rows


def statements(state: Projection) -> list[dict[str, Any]]:
    """The contract list: {period, insured, treatment, amount_fen, status}."""
    return [
        {k: s[k] for k in ("period", "insured", "treatment", "amount_fen", "status")}
        for _, s in sorted(state.statements.items())
    ]


def statement_details(state: Projection) -> list[dict[str, Any]]:
    return [dict(s) for _, s in sorted(state.statements.items())]


def investigations(state: Projection, status: str | None = None) -> list[dict[str, Any]]:
    cases = sorted(state.investigations.values(), key=lambda c: (c["opened_at"], c["setl_id"]))
    return [dict(c) for c in cases if status is None or c["status"] == status]


def _arrival(state: Projection, treatment: str, period: str, owers: list[str]) -> str | None:
    """When the clearing money for this institution's period had all arrived, if it has."""
    times = []
    for insured in owers:
        statement = state.statements.get(f"{period}|{insured}|{treatment}")
        if statement is None or statement["transferred_at"] is None:
            return None
        times.append(statement["transferred_at"])
    return max(times) if times else None


def payouts(state: Projection, policy: Policy, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Institution payments per (treatment, institution, period): due, paid, due date, overdue.

    Due date = the day the clearing money arrived + N working days (default 7; weekends and
    the configured holidays do not count). ``today`` defaults to the latest fact's day, so
    history replays the same whatever the wall clock says.
    """
    rows = []
    for key, (due_fen, paid_fen) in sorted(state.dues.items()):
        treatment, institution, period = key.split("|")
        arrived = _arrival(state, treatment, period, state.dues_from.get(key, []))
        due_date = None
        if arrived is not None:
            due_date = add_working_days(dt.date.fromisoformat(arrived[:10]), policy.payout_working_days, policy).isoformat()
        outstanding = due_fen - paid_fen
        status = "paid" if outstanding <= 0 else "awaiting_clearing" if due_date is None else "due"
        if status == "due" and today is not None and today.isoformat() > str(due_date):
            status = "overdue"
        rows.append({
            "treatment": treatment, "fixmedins_code": institution, "period": period,
            "due_fen": due_fen, "paid_fen": paid_fen, "outstanding_fen": outstanding,
            "money_arrived_at": arrived, "due_date": due_date, "status": status,
        })
    return rows


def direct_rate(state: Projection) -> list[dict[str, Any]]:
    rows = []
    for key, (direct, manual) in sorted(state.direct.items()):
        province, care = key.split("|")
        total = direct + manual
        rows.append({
            "province": province, "care": care, "direct": direct, "manual": manual,
            "direct_rate_pct": round(direct * 100 / total, 2) if total > 0 else None,
        })
    return rows


def summary(state: Projection) -> dict[str, Any]:
    return {
        "facts": state.facts, "facts_by_type": dict(sorted(state.facts_by_type.items())),
        "accounts": sum(1 for v in state.balances.values() if v),
        "balance_sum_fen": sum(state.balances.values()),
        "statements": len(state.statements), "periods_closed": sorted(state.periods),
        "investigations_open": sum(1 for c in state.investigations.values() if c["status"] == "open"),
    }
