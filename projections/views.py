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
    if today is None and state.latest_time:
        today = dt.date.fromisoformat(state.latest_time[:10])
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


# -- dashboards and the HTTP API (yidi/api.py) -------------------------------------------
# Appended for the read API; the functions above are the CLI's contract and stay as they are.

# The clearing transfer of a statement is expected within policy.clearing_transfer_working_days
# working days of its issue (weekends and policy holidays do not count); the API takes it
# as a parameter (`due_working_days`).


def latest_day(state: Projection) -> str | None:
    """The latest fact's day (YYYY-MM-DD): the fold's ``latest_time``; for a state saved
    before the fold kept it, the latest day in any dated read model (settlement and reversal
    days, statements issued and transferred, months closed, cases, floats and alerts). Views
    that judge lateness use it as "today" by default, so the same history gives the same
    answer whatever the wall clock says."""
    if state.latest_time:
        return state.latest_time[:10]
    days = [key[:10] for key in state.volumes]
    for s in state.statements.values():
        days.append(s["issued_at"][:10])
        if s["transferred_at"]:
            days.append(s["transferred_at"][:10])
    days.extend(p["closed_at"][:10] for p in state.periods.values())
    for c in state.investigations.values():
        days.append(c["opened_at"][:10])
        if c["closed_at"]:
            days.append(c["closed_at"][:10])
    days.extend(f["adjusted_at"][:10] for f in state.floats.values())
    days.extend(a[0][:10] for alerts in state.alerts.values() for a in alerts)
    return max(days) if days else None


def clearing_calendar(
    state: Projection, policy: Policy, today: dt.date | None,
    due_working_days: int | None = None,
) -> dict[str, Any]:
    """The clearing calendar: per month the statements issued, transferred and outstanding,
    and per statement its transfer due date and days late.

    due_date = issue day + ``due_working_days`` working days. days_late = days past the due
    date at which the transfer arrived, or, while outstanding, at ``today`` (0 when not
    late; None while outstanding if ``today`` is None).
    """
    if due_working_days is None:
        due_working_days = policy.clearing_transfer_working_days
    rows = []
    months: dict[str, dict[str, Any]] = {}
    for period, p in sorted(state.periods.items()):
        months[period] = _calendar_month(period, p["closed_at"], p["statements"], p["total_fen"])
    for _, s in sorted(state.statements.items()):
        issued = dt.date.fromisoformat(s["issued_at"][:10])
        due = add_working_days(issued, due_working_days, policy)
        until = dt.date.fromisoformat(s["transferred_at"][:10]) if s["transferred_at"] else today
        days_late = None if until is None else max(0, (until - due).days)
        row = {**s, "due_date": due.isoformat(), "days_late": days_late,
               "days_open": None if until is None else max(0, (until - issued).days)}
        rows.append(row)
        month = months.setdefault(s["period"], _calendar_month(s["period"], None, 0, 0))
        kind = "transferred" if s["status"] == "transferred" else "outstanding"
        month[kind] += 1
        month[f"{kind}_fen"] += s["amount_fen"]
        month["issued"] += 1
        month["issued_fen"] += s["amount_fen"]
        if days_late:
            month["late"] += 1
            month["max_days_late"] = max(month["max_days_late"], days_late)
    return {
        "today": None if today is None else today.isoformat(), "due_working_days": due_working_days,
        "months": [months[k] for k in sorted(months)], "statements": rows,
    }


def _calendar_month(period: str, closed_at: str | None, statements: int, total_fen: int) -> dict[str, Any]:
    return {
        "period": period, "closed_at": closed_at, "statements": statements, "total_fen": total_fen,
        "issued": 0, "issued_fen": 0, "transferred": 0, "transferred_fen": 0,
        "outstanding": 0, "outstanding_fen": 0, "late": 0, "max_days_late": 0,
    }


def volumes(state: Projection) -> list[dict[str, Any]]:
    """Settlement volumes per day, pair and transaction (infno), in fen; reversals counted on
    their own day under the original's transaction."""
    rows = []
    for key, (settlements, owed_fen, reversals, reversed_fen) in sorted(state.volumes.items()):
        day, pair, infno = key.split("|")
        insured, treatment = pair.split(">")
        rows.append({
            "day": day, "insured": insured, "treatment": treatment, "infno": infno,
            "settlements": settlements, "owed_fen": owed_fen, "reversals": reversals, "reversed_fen": reversed_fen,
        })
    return rows


def volumes_by_day(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``volumes`` rows summed per day, with the settlement count per transaction."""
    days: dict[str, dict[str, Any]] = {}
    for r in rows:
        day = days.get(r["day"])
        if day is None:
            day = days[r["day"]] = {"day": r["day"], "settlements": 0, "owed_fen": 0, "reversals": 0,
                                    "reversed_fen": 0, "by_infno": {}}
        for k in ("settlements", "owed_fen", "reversals", "reversed_fen"):
            day[k] += r[k]
        day["by_infno"][r["infno"]] = day["by_infno"].get(r["infno"], 0) + r["settlements"]
    return [days[k] for k in sorted(days)]


def _rate_pct(direct: int, manual: int) -> float | None:
    total = direct + manual
    return round(direct * 100 / total, 2) if total > 0 else None


def direct_rate_by_province(state: Projection) -> list[dict[str, Any]]:
    """直接结算率 per insured province: direct ÷ (direct + manual), inpatient, outpatient, all."""
    rows: dict[str, dict[str, Any]] = {}
    for key, (direct, manual) in state.direct.items():
        province, care = key.split("|")
        row = rows.setdefault(province, {
            "province": province, "inpatient_direct": 0, "inpatient_manual": 0,
            "outpatient_direct": 0, "outpatient_manual": 0,
        })
        row[f"{care}_direct"] += direct
        row[f"{care}_manual"] += manual
    out = []
    for province in sorted(rows):
        r = rows[province]
        r["direct"] = r["inpatient_direct"] + r["outpatient_direct"]
        r["manual"] = r["inpatient_manual"] + r["outpatient_manual"]
        r["inpatient_rate_pct"] = _rate_pct(r["inpatient_direct"], r["inpatient_manual"])
        r["outpatient_rate_pct"] = _rate_pct(r["outpatient_direct"], r["outpatient_manual"])
        r["direct_rate_pct"] = _rate_pct(r["direct"], r["manual"])
        out.append(r)
    return out


def overview(state: Projection, policy: Policy, today: dt.date | None,
             payout_rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The figures of a settlement office's front page. ``payout_rows``: ``payouts(state,
    policy, today)`` when the caller has it already (it is the costly part)."""
    float_rows = floats(state, policy)
    levels = {"ok": 0, "warning": 0, "emergency": 0}
    for f in float_rows:
        levels[f["level"]] += 1
    settled = {"settlements": 0, "owed_fen": 0, "reversals": 0, "reversed_fen": 0}
    for settlements, owed_fen, reversals, reversed_fen in state.volumes.values():
        settled["settlements"] += settlements
        settled["owed_fen"] += owed_fen
        settled["reversals"] += reversals
        settled["reversed_fen"] += reversed_fen
    outstanding = [s for s in state.statements.values() if s["status"] == "outstanding"]
    if payout_rows is None:
        payout_rows = payouts(state, policy, today)
    by_status: dict[str, dict[str, int]] = {
        k: {"count": 0, "outstanding_fen": 0} for k in ("awaiting_clearing", "due", "overdue", "paid")
    }
    for p in payout_rows:
        by_status[p["status"]]["count"] += 1
        by_status[p["status"]]["outstanding_fen"] += p["outstanding_fen"]
    direct = sum(d for d, _ in state.direct.values())
    manual = sum(m for _, m in state.direct.values())
    return {
        "facts": state.facts, "latest_day": latest_day(state),
        "today": None if today is None else today.isoformat(), **settled,
        "floats": len(float_rows), "floats_by_level": levels,
        "floats_float_fen": sum(f["float_fen"] for f in float_rows),
        "floats_outstanding_fen": sum(f["outstanding_fen"] for f in float_rows),
        "statements": len(state.statements), "statements_outstanding": len(outstanding),
        "statements_outstanding_fen": sum(s["amount_fen"] for s in outstanding),
        "periods_closed": sorted(state.periods),
        "investigations_open": sum(1 for c in state.investigations.values() if c["status"] == "open"),
        "investigations_closed": sum(1 for c in state.investigations.values() if c["status"] == "closed"),
        "payouts_by_status": by_status,
        "direct": direct, "manual": manual, "direct_rate_pct": _rate_pct(direct, manual),
    }
