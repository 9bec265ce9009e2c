"""Paging, filters, bad parameters and the figures of the richer views (calendar, payouts,
volumes, direct-settlement rate), checked against independent computations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.config import Policy

from .conftest import AppFactory, get_all, get_json


def working_days_after(start: dt.date, n: int, holidays: set[str] = frozenset()) -> dt.date:  # type: ignore[assignment]
    """Independent of ledger.workdays: step day by day, skip Saturdays, Sundays and holidays."""
    day = start
    while n:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day.isoformat() not in holidays:
            n -= 1
    return day


# -- paging ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/floats/details", "/api/statements/details", "/api/calendar",
                                  "/api/investigations", "/api/payouts", "/api/volumes", "/api/volumes/daily"])
def test_pages_cover_the_list_exactly(demo_client: TestClient, path: str) -> None:
    first = get_json(demo_client, path, limit=1000)
    assert len(first["items"]) == min(1000, first["total"]) and first["total"] > 0
    whole = get_all(demo_client, path, page_size=1000)
    assert get_all(demo_client, path, page_size=7) == whole
    assert whole[:1000] == first["items"]
    beyond = get_json(demo_client, path, limit=5, offset=len(whole) + 10)
    assert beyond["items"] == [] and beyond["total"] == len(whole)
    assert get_json(demo_client, path, limit=3, offset=2)["items"] == whole[2:5]


@pytest.mark.parametrize("path", ["/api/floats", "/api/statements", "/api/provinces"])
def test_contract_lists_page_only_when_asked(demo_client: TestClient, path: str) -> None:
    whole = get_json(demo_client, path)
    assert isinstance(whole, list) and len(whole) > 5
    assert get_json(demo_client, path, limit=4, offset=3) == whole[3:7]
    balances = get_json(demo_client, "/api/balances")
    some = get_json(demo_client, "/api/balances", limit=10, offset=5)
    assert list(some.items()) == list(balances.items())[5:15]
    prefix = next(iter(balances)).split(":")[0] + ":"
    assert get_json(demo_client, "/api/balances", prefix=prefix) == {k: v for k, v in balances.items() if k.startswith(prefix)}


@pytest.mark.parametrize("query, field, words", [
    ("/api/investigations?limit=1001", "limit", "less than or equal to 1000"),
    ("/api/floats?limit=0", "limit", "greater than or equal to 1"),
    ("/api/payouts?offset=-1", "offset", "greater than or equal to 0"),
    ("/api/investigations?status=pending", "status", "'open' or 'closed'"),
    ("/api/payouts?status=late", "status", "overdue"),
    ("/api/calendar?period=2025-13", "period", "pattern"),
    ("/api/calendar?today=2025-02-30", "today", "not a valid date"),
    ("/api/calendar?due_working_days=61", "due_working_days", "less than or equal to 60"),
    ("/api/volumes?from=2025-02-01&to=2025-01-01", "from", "after"),
    ("/api/volumes/daily?from=yesterday", "from", "pattern"),
    ("/api/volumes?to=2025-04-31", "to", "not a valid date"),
    ("/api/overview?today=0", "today", "pattern"),
    ("/api/volumes?pair=420000-440000", "pair", "pattern"),
    ("/api/volumes?infno=22070", "infno", "pattern"),
    ("/api/floats?level=red", "level", "'ok', 'warning' or 'emergency'"),
    ("/api/floats/details?sort=size", "sort", "'pair' or 'usage'"),
    ("/api/statements?insured=42", "insured", "pattern"),
])
def test_bad_parameters_are_422_naming_the_parameter(demo_client: TestClient, query: str, field: str, words: str) -> None:
    response = demo_client.get(query)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(field in d["loc"][1:] and words in d["msg"] for d in detail), detail


# -- filters ------------------------------------------------------------------------------------------
def test_filters_select_exactly_the_matching_rows(demo_client: TestClient) -> None:
    statements = get_json(demo_client, "/api/statements")
    outstanding = [s for s in statements if s["status"] == "outstanding"]
    assert outstanding and get_json(demo_client, "/api/statements", status="outstanding") == outstanding
    period = statements[0]["period"]
    assert get_json(demo_client, "/api/statements", period=period) == [s for s in statements if s["period"] == period]
    details = get_all(demo_client, "/api/statements/details", status="transferred")
    assert details and all(d["transferred_at"] for d in details)
    assert len(details) == len(statements) - len(outstanding)

    floats = get_json(demo_client, "/api/floats")
    insured = floats[0]["insured"]
    assert get_json(demo_client, "/api/floats", insured=insured) == [f for f in floats if f["insured"] == insured]
    by_usage = get_all(demo_client, "/api/floats/details", sort="usage")
    usages = [-1 if f["usage_pct"] is None else f["usage_pct"] for f in by_usage]
    assert usages == sorted(usages, reverse=True) and len(by_usage) == len(floats)

    cases = get_all(demo_client, "/api/investigations")
    page = get_json(demo_client, "/api/investigations", status="open", order="desc")
    assert page["items"] == [c for c in cases if c["status"] == "open"][::-1]
    assert page["open"] == len([c for c in cases if c["status"] == "open"]) and page["threshold_fen"] == 3_000_000
    assert all(c["medfee_sumamt_fen"] >= 3_000_000 for c in cases)

    payouts = get_all(demo_client, "/api/payouts", today="2025-06-30")
    two = get_all(demo_client, "/api/payouts", today="2025-06-30", status=["overdue", "paid"])
    assert two == [p for p in payouts if p["status"] in ("overdue", "paid")]
    assert {p["status"] for p in two} == {"overdue", "paid"}


def test_volumes_filters_and_daily_sums(demo_client: TestClient) -> None:
    rows = get_all(demo_client, "/api/volumes")
    pair = f"{rows[0]['insured']}>{rows[0]['treatment']}"
    february: dict[str, Any] = {"from": "2025-02-01", "to": "2025-02-28"}
    chosen = get_all(demo_client, "/api/volumes", pair=pair, infno="2304", **february)
    expected = [r for r in rows if f"{r['insured']}>{r['treatment']}" == pair and r["infno"] == "2304"
                and "2025-02-01" <= r["day"] <= "2025-02-28"]
    assert chosen == expected and expected
    daily = get_all(demo_client, "/api/volumes/daily")
    assert sum(d["settlements"] for d in daily) == sum(r["settlements"] for r in rows)
    assert sum(d["owed_fen"] for d in daily) == sum(r["owed_fen"] for r in rows)
    assert sum(d["reversed_fen"] for d in daily) == sum(r["reversed_fen"] for r in rows) > 0
    one = next(d for d in daily if d["reversals"])
    same_day = [r for r in rows if r["day"] == one["day"]]
    assert one["by_infno"] == {i: sum(r["settlements"] for r in same_day if r["infno"] == i)
                               for i in sorted({r["infno"] for r in same_day})}
    overview = get_json(demo_client, "/api/overview")
    assert overview["settlements"] == sum(d["settlements"] for d in daily)
    latest = get_json(demo_client, "/api/volumes/daily", order="desc", limit=1)["items"][0]
    assert latest == daily[-1]
    last_day = get_all(demo_client, "/api/volumes", **{"from": daily[-1]["day"], "to": "9999-12-31"})
    assert last_day == [r for r in rows if r["day"] == daily[-1]["day"]] and last_day
    assert get_json(demo_client, "/api/volumes", **{"from": "0001-01-01", "to": "2000-01-01"})["total"] == 0
    # A pair filter that contradicts insured= gives nothing, not an error.
    assert get_json(demo_client, "/api/volumes", pair=pair, insured="110000")["total"] == 0


def test_direct_rate_is_direct_over_direct_plus_manual(demo_client: TestClient) -> None:
    rate = get_json(demo_client, "/api/direct-rate")
    assert rate["provinces"]
    for p in rate["provinces"]:
        rows = [r for r in rate["rows"] if r["province"] == p["province"]]
        direct, manual = sum(r["direct"] for r in rows), sum(r["manual"] for r in rows)
        assert (p["direct"], p["manual"]) == (direct, manual)
        assert p["direct_rate_pct"] == round(direct * 100 / (direct + manual), 2)
    assert any(p["manual"] > 0 and p["direct_rate_pct"] < 100 for p in rate["provinces"])


# -- the clearing calendar ---------------------------------------------------------------------------------
def test_calendar_days_late_against_today_and_due_days(demo_client: TestClient) -> None:
    page = get_json(demo_client, "/api/calendar", limit=1000)
    today = dt.date.fromisoformat(page["today"])
    assert page["today"] == get_json(demo_client, "/api/overview")["latest_day"]
    assert page["due_working_days"] == 15
    for s in page["items"]:
        issued = dt.date.fromisoformat(s["issued_at"][:10])
        due = working_days_after(issued, 15)
        assert s["due_date"] == due.isoformat()
        until = dt.date.fromisoformat(s["transferred_at"][:10]) if s["transferred_at"] else today
        assert s["days_late"] == max(0, (until - due).days)
    for m in page["months"]:
        mine = [s for s in page["items"] if s["period"] == m["period"]]
        assert m["issued"] == len(mine) == m["transferred"] + m["outstanding"]
        assert m["issued_fen"] == sum(s["amount_fen"] for s in mine) == m["total_fen"]
        assert m["late"] == sum(1 for s in mine if s["days_late"])
    # The outstanding statement keeps getting later as "today" moves on.
    outstanding = [s for s in page["items"] if s["status"] == "outstanding"]
    assert outstanding
    key = (outstanding[0]["period"], outstanding[0]["insured"], outstanding[0]["treatment"])
    later = get_json(demo_client, "/api/calendar", today="2025-12-31", status="outstanding", limit=1000)
    row = next(s for s in later["items"] if (s["period"], s["insured"], s["treatment"]) == key)
    assert row["days_late"] == (dt.date(2025, 12, 31) - dt.date.fromisoformat(row["due_date"])).days > 0
    assert get_json(demo_client, "/api/calendar", late="true", limit=1000, today="2025-12-31")["total"] >= 1
    strict = get_json(demo_client, "/api/calendar", due_working_days=0, limit=1000)
    assert all(s["due_date"] == s["issued_at"][:10] for s in strict["items"])
    assert sum(m["late"] for m in strict["months"]) == strict["total"]  # every transfer came after its issue day
    desc = get_json(demo_client, "/api/calendar", order="desc", limit=1)["items"][0]
    assert desc["period"] == page["months"][-1]["period"]


# -- payouts -----------------------------------------------------------------------------------------------
def test_payouts_due_dates_follow_working_days_and_holidays(make_client: AppFactory, demo_home: Path) -> None:
    plain = make_client(demo_home, token=None)
    rows = get_all(plain, "/api/payouts")
    waiting = [r for r in rows if r["money_arrived_at"]]
    assert waiting
    for r in waiting[:50]:
        arrived = dt.date.fromisoformat(r["money_arrived_at"][:10])
        assert r["due_date"] == working_days_after(arrived, 7).isoformat()
    due = next(r for r in rows if r["status"] in ("due", "overdue"))
    arrived = dt.date.fromisoformat(due["money_arrived_at"][:10])
    first_working = working_days_after(arrived, 1)
    holidays = (first_working.isoformat(),)
    with_holiday = make_client(demo_home, policy=Policy(holidays=holidays), token=None)
    moved = next(r for r in get_all(with_holiday, "/api/payouts") if r["fixmedins_code"] == due["fixmedins_code"]
                 and r["period"] == due["period"] and r["treatment"] == due["treatment"])
    assert moved["due_date"] == working_days_after(arrived, 7, set(holidays)).isoformat() != due["due_date"]
    # Overdue from the day after the due date on; the status filter and the tally agree.
    the_day = dt.date.fromisoformat(due["due_date"])
    on_time = get_json(plain, "/api/payouts", today=the_day.isoformat(), fixmedins_code=due["fixmedins_code"],
                       period=due["period"])["items"][0]
    late = get_json(plain, "/api/payouts", today=(the_day + dt.timedelta(days=1)).isoformat(), status="overdue",
                    limit=1000)
    assert on_time["status"] == "due"
    assert any(r["fixmedins_code"] == due["fixmedins_code"] and r["period"] == due["period"] for r in late["items"])
    assert late["by_status"]["overdue"]["count"] == late["total"]
    assert late["by_status"]["overdue"]["outstanding_fen"] == sum(r["outstanding_fen"] for r in late["items"])
