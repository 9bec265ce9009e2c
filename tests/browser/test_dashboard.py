"""The dashboard in headless Chromium: every page shows the API's figures, formatted in yuan
with thousands separators; a settlement recorded during the test appears without a reload;
screenshots go to tests/artifacts/screenshots/."""

from __future__ import annotations

import secrets
from typing import Any, Callable

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests import helpers as h

from .conftest import SCREENSHOTS, Server

WAIT_S = 15


# -- what the page should show, formatted independently of app.js --------------------------------------
def yuan(fen: int) -> str:
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}¥{whole:,}.{cents:02d}"


def count(n: int) -> str:
    return f"{n:,}"


def pct(p: float | None) -> str:
    return "—" if p is None else f"{p:.2f} %"


# -- driving the page ----------------------------------------------------------------------------------------
def open_page(browser: WebDriver, server: Server, path: str) -> None:
    browser.get(server.base + path)
    WebDriverWait(browser, WAIT_S).until(lambda d: int(d.find_element(By.TAG_NAME, "body").get_attribute(
        "data-refreshes") or 0) >= 1, message=f"{path} never finished its first refresh")
    assert not browser.find_element(By.ID, "error").is_displayed(), browser.find_element(By.ID, "error").text
    assert browser.execute_script("return typeof echarts") == "object"  # the bundled library loaded


def refreshes(browser: WebDriver) -> int:
    return int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-refreshes") or 0)


def settle(browser: WebDriver) -> None:
    """Wait for one more refresh, so the page shows data at least as new as the API's now."""
    seen = refreshes(browser)
    WebDriverWait(browser, WAIT_S).until(lambda d: refreshes(d) >= seen + 2, message="the page stopped refreshing")


def kpi(browser: WebDriver, key: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, f'[data-v="{key}"]').text


def kpi_sub(browser: WebDriver, key: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, f'[data-s="{key}"]').text


def rows(browser: WebDriver, container: str) -> list[dict[str, Any]]:
    """The rows of the table in ``container``: {"key": data-key, column: text}."""
    found = browser.execute_script("""
        return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr[data-key]')).map((tr) => {
          const row = {key: tr.dataset.key};
          tr.querySelectorAll('td[data-col]').forEach((td) => { row[td.dataset.col] = td.innerText.trim(); });
          return row;
        });""", container)
    return list(found)


def chart_points(browser: WebDriver, element_id: str, series: int = 0) -> int:
    return int(browser.execute_script(
        "const c = echarts.getInstanceByDom(document.getElementById(arguments[0]));"
        "return c ? c.getOption().series[arguments[1]].data.length : -1;", element_id, series))


def screenshot(browser: WebDriver, name: str) -> None:
    path = SCREENSHOTS / f"{name}.png"
    assert browser.save_screenshot(str(path)) and path.stat().st_size > 10_000


def wait_for(browser: WebDriver, condition: Callable[[], bool], message: str) -> None:
    WebDriverWait(browser, WAIT_S, poll_frequency=0.2).until(lambda _: condition(), message=message)


# -- one test per page ------------------------------------------------------------------------------------------
def test_overview_shows_the_api_figures(browser: WebDriver, server: Server) -> None:
    open_page(browser, server, "/")
    settle(browser)
    o = server.get("/api/overview")
    assert kpi(browser, "facts") == count(o["facts"])
    assert kpi(browser, "settlements") == count(o["settlements"])
    assert kpi(browser, "owed") == yuan(o["owed_fen"]) and "," in kpi(browser, "owed")
    assert kpi(browser, "floats") == yuan(o["floats_outstanding_fen"])
    assert kpi(browser, "statements_outstanding") == count(o["statements_outstanding"])
    assert kpi_sub(browser, "statements_outstanding") == yuan(o["statements_outstanding_fen"])
    assert kpi(browser, "investigations_open") == count(o["investigations_open"])
    assert kpi(browser, "payouts_overdue") == count(o["payouts_by_status"]["overdue"]["count"])
    assert kpi(browser, "direct_rate") == pct(o["direct_rate_pct"])
    outstanding = server.get("/api/calendar", status="outstanding", order="desc", limit=10)["items"]
    shown = rows(browser, "#outstanding")
    assert [r["key"] for r in shown] == [f"{s['period']}|{s['insured']}|{s['treatment']}" for s in outstanding]
    assert [r["amount_fen"] for r in shown] == [yuan(s["amount_fen"]) for s in outstanding] and shown
    cases = server.get("/api/investigations", status="open", order="desc", limit=10)["items"]
    shown = rows(browser, "#cases")
    assert [(r["key"], r["medfee_sumamt_fen"]) for r in shown] == [(c["setl_id"], yuan(c["medfee_sumamt_fen"]))
                                                                    for c in cases]
    assert chart_points(browser, "usage-chart") == min(10, o["floats"])
    screenshot(browser, "overview")


def test_floats_page_shows_every_float(browser: WebDriver, server: Server) -> None:
    open_page(browser, server, "/floats")
    settle(browser)
    floats = server.get("/api/floats/details", sort="usage", limit=100)
    shown = rows(browser, "#floats-table")
    assert len(shown) == len(floats["items"]) == floats["total"] > 10
    for row, f in zip(shown, floats["items"]):
        assert row["key"] == f"{f['insured']}>{f['treatment']}"
        assert row["float_fen"] == yuan(f["float_fen"]) and row["outstanding_fen"] == yuan(f["outstanding_fen"])
        assert row["usage_pct"] == pct(f["usage_pct"]) and f["level"] in row["level"]
    o = server.get("/api/overview")
    assert kpi(browser, "floats_total") == yuan(o["floats_float_fen"])
    assert kpi(browser, "floats_out") == yuan(o["floats_outstanding_fen"])
    assert chart_points(browser, "usage-chart") == min(30, floats["total"])
    # A row's alert history opens below the table.
    with_alerts = next(f for f in floats["items"] if f["alerts"])
    browser.find_element(By.CSS_SELECTOR, f'#floats-table tr[data-key="{with_alerts["insured"]}>{with_alerts["treatment"]}"]').click()
    wait_for(browser, lambda: len(rows(browser, "#alerts")) == len(with_alerts["alerts"]), "alert history not shown")
    latest = with_alerts["alerts"][-1]
    assert rows(browser, "#alerts")[0]["outstanding_fen"] == yuan(latest["outstanding_fen"])
    screenshot(browser, "floats")


def test_calendar_page_shows_months_and_statements(browser: WebDriver, server: Server) -> None:
    open_page(browser, server, "/calendar")
    settle(browser)
    page = server.get("/api/calendar", order="desc", limit=100)
    months = rows(browser, "#months")
    assert [m["key"] for m in months] == [m["period"] for m in reversed(page["months"])]
    for shown, m in zip(months, reversed(page["months"])):
        assert shown["issued_fen"] == yuan(m["issued_fen"]) and shown["outstanding_fen"] == yuan(m["outstanding_fen"])
        assert shown["transferred"] == count(m["transferred"]) and shown["late"] == count(m["late"])
    statements = rows(browser, "#statements")
    assert len(statements) == len(page["items"]) > 20
    for shown, s in zip(statements, page["items"]):
        assert shown["key"] == f"{s['period']}|{s['insured']}|{s['treatment']}"
        assert shown["amount_fen"] == yuan(s["amount_fen"]) and shown["days_late"] == count(s["days_late"])
        assert shown["due_date"] == s["due_date"]
    assert kpi(browser, "cal_today") == page["today"]
    assert chart_points(browser, "month-chart") == len(page["months"])
    screenshot(browser, "calendar")


def test_investigation_queue_shows_open_and_closed_cases(browser: WebDriver, server: Server) -> None:
    open_page(browser, server, "/investigations")
    settle(browser)
    page = server.get("/api/investigations", status="open", order="desc", limit=50)
    shown = rows(browser, "#cases")
    assert [(r["key"], r["medfee_sumamt_fen"]) for r in shown] == [
        (c["setl_id"], yuan(c["medfee_sumamt_fen"])) for c in page["items"]] and shown
    assert kpi(browser, "cases_open") == count(page["open"]) and kpi(browser, "threshold") == "¥30,000.00"
    browser.execute_script("const s = document.getElementById('status'); s.value = ''; s.dispatchEvent(new Event('change'));")
    everything = server.get("/api/investigations", order="desc", limit=50)
    wait_for(browser, lambda: len(rows(browser, "#cases")) == len(everything["items"]), "the all-cases filter did nothing")
    screenshot(browser, "investigations")


def test_payouts_page_shows_statuses_and_rows(browser: WebDriver, server: Server) -> None:
    open_page(browser, server, "/payouts")
    settle(browser)
    unpaid = server.get("/api/payouts", status=["overdue", "due", "awaiting_clearing"], limit=100)
    for status in ("overdue", "due", "awaiting_clearing", "paid"):
        assert kpi(browser, status) == count(unpaid["by_status"][status]["count"])
    assert kpi_sub(browser, "due") == f"未拨付 outstanding {yuan(unpaid['by_status']['due']['outstanding_fen'])}"
    shown = rows(browser, "#payouts")
    assert [(r["key"], r["outstanding_fen"], r["due_date"]) for r in shown] == [
        (f"{p['treatment']}|{p['fixmedins_code']}|{p['period']}", yuan(p["outstanding_fen"]), p["due_date"] or "—")
        for p in unpaid["items"]]
    browser.execute_script("const s = document.getElementById('status'); s.value = 'paid'; s.dispatchEvent(new Event('change'));")
    paid = server.get("/api/payouts", status="paid", limit=100)
    wait_for(browser, lambda: [r["key"] for r in rows(browser, "#payouts")] == [
        f"{p['treatment']}|{p['fixmedins_code']}|{p['period']}" for p in paid["items"]], "the paid filter did nothing")
    assert rows(browser, "#payouts")[0]["paid_fen"] == yuan(paid["items"][0]["paid_fen"])
    screenshot(browser, "payouts")


def test_volumes_page_shows_days_and_direct_rate(browser: WebDriver, server: Server) -> None:
    open_page(browser, server, "/volumes")
    settle(browser)
    days = server.get("/api/volumes/daily", order="desc", limit=366)
    shown = rows(browser, "#days")
    assert [r["key"] for r in shown] == [d["day"] for d in days["items"][:10]]
    for row, d in zip(shown, days["items"]):
        assert row["settlements"] == count(d["settlements"]) and row["owed_fen"] == yuan(d["owed_fen"])
        assert row["infno_2304"] == count(d["by_infno"].get("2304", 0))
    assert kpi(browser, "vol_settlements") == count(sum(d["settlements"] for d in days["items"]))
    rate = server.get("/api/direct-rate")
    shown = rows(browser, "#rates")
    assert [(r["key"], r["direct_rate_pct"], r["inpatient_rate_pct"]) for r in shown] == [
        (p["province"], pct(p["direct_rate_pct"]), pct(p["inpatient_rate_pct"])) for p in rate["provinces"]]
    assert chart_points(browser, "daily-chart") == len(days["items"])
    assert chart_points(browser, "rate-chart") == len(rate["provinces"])
    screenshot(browser, "volumes")


# -- live updates ----------------------------------------------------------------------------------------------
def filed_stay(day: str) -> list[dict[str, Any]]:
    """A filing and a ¥36,000.00 inpatient stay (owed ¥30,000.00) of a new person, Taiyuan → Nanjing."""
    psn_no = f"14010000{secrets.token_hex(6).upper()}"
    return [
        h.filing(psn_no, insured="140100", treatment="320100", begndate="2025-04-01", recorded_at="2025-04-01 08:00:00",
                 filing_id=f"BA{secrets.token_hex(8).upper()}"),
        h.settlement(infno="2304", insured="140100", treatment="320100", psn_no=psn_no, inf_time=f"{day} 10:30:00",
                     setl_id=f"S{secrets.token_hex(8).upper()}", msgid=f"M{secrets.token_hex(8).upper()}",
                     fixmedins_code="H32010000001", medfee="36000.00", hifp="22000.00", hifmi="6000.00", acct="2000.00"),
    ]


def mark_page(browser: WebDriver) -> str:
    marker = secrets.token_hex(8)
    browser.execute_script("window.__yidiMarker = arguments[0];", marker)
    return marker


def assert_not_reloaded(browser: WebDriver, marker: str) -> None:
    assert browser.execute_script("return window.__yidiMarker;") == marker, "the page was reloaded"


@pytest.mark.parametrize("page", ["overview", "floats", "volumes"])
def test_a_new_settlement_appears_without_a_reload(browser: WebDriver, server: Server, page: str) -> None:
    day = {"overview": "2025-04-26", "floats": "2025-04-27", "volumes": "2025-04-28"}[page]
    open_page(browser, server, {"overview": "/", "floats": "/floats", "volumes": "/volumes"}[page])
    settle(browser)
    marker = mark_page(browser)
    before = server.get("/api/overview")
    (pair_float,) = server.get("/api/floats", insured="140000", treatment="320000")
    assert server.post_records(filed_stay(day))["accepted"] == 2

    if page == "overview":
        wait_for(browser, lambda: kpi(browser, "settlements") == count(before["settlements"] + 1),
                 "the settlement count did not move")
        wait_for(browser, lambda: kpi(browser, "investigations_open") == count(before["investigations_open"] + 1),
                 "the new investigation case did not show")
        assert kpi(browser, "owed") == yuan(before["owed_fen"] + 3_000_000)
    elif page == "floats":
        key = "140000>320000"
        wanted = yuan(pair_float["outstanding_fen"] + 3_000_000)
        wait_for(browser, lambda: any(r["key"] == key and r["outstanding_fen"] == wanted
                                      for r in rows(browser, "#floats-table")), "the float's outstanding did not move")
    else:
        wait_for(browser, lambda: rows(browser, "#days")[0]["key"] == day, "the new day did not show")
        newest = rows(browser, "#days")[0]
        assert newest["settlements"] == "1" and newest["owed_fen"] == "¥30,000.00" and newest["infno_2304"] == "1"
    assert_not_reloaded(browser, marker)
    screenshot(browser, f"{page}-after-new-settlement")
