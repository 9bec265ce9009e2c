"""The API answers the same figures as the CLI's --json, and as the views of the projection."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ledger.config import Policy
from projections import views
from projections.fold import digest
from yidi import cli

from .conftest import cli_env, get_all, get_json, open_backend_of


def cli_json(kind: str, home: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli.app, ["--data-dir", str(home), *args, "--json"], env=cli_env(kind))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("command, path", [
    ("balances", "/api/balances"),
    ("floats", "/api/floats"),
    ("statements", "/api/statements"),
    ("provinces", "/api/provinces"),
    ("summary", "/api/summary"),
])
def test_contract_endpoints_equal_the_cli(demo_client: TestClient, backend_kind: str, demo_home: Path,
                                          command: str, path: str) -> None:
    expected = cli_json(backend_kind, demo_home, command)
    got = get_json(demo_client, path)
    assert got == expected
    assert json.dumps(got) == json.dumps(expected)  # same order of keys and items, too
    assert expected, f"{command} printed nothing: the comparison would prove nothing"


def test_investigations_and_payouts_equal_the_cli(demo_client: TestClient, backend_kind: str, demo_home: Path) -> None:
    assert get_all(demo_client, "/api/investigations") == cli_json(backend_kind, demo_home, "investigations")
    assert get_all(demo_client, "/api/investigations", status="open") == cli_json(
        backend_kind, demo_home, "investigations", "--status", "open")
    # Overdue is judged at the latest fact's day by default, or at --today / ?today=.
    assert get_all(demo_client, "/api/payouts") == cli_json(backend_kind, demo_home, "payouts")
    later = get_all(demo_client, "/api/payouts", today="2025-06-30")
    assert later == cli_json(backend_kind, demo_home, "payouts", "--today", "2025-06-30")
    assert any(p["status"] == "overdue" for p in later)


def test_richer_views_equal_the_projection(demo_client: TestClient, backend_kind: str, demo_home: Path) -> None:
    policy = Policy()
    backend = open_backend_of(backend_kind, demo_home, policy)
    try:
        state = backend.projection()
        latest = views.latest_day(state)
        assert latest is not None
        today = dt.date.fromisoformat(latest)
        assert get_all(demo_client, "/api/floats/details") == views.float_details(state, policy)
        assert get_all(demo_client, "/api/statements/details") == views.statement_details(state)
        calendar = views.clearing_calendar(state, policy, today)
        assert get_all(demo_client, "/api/calendar") == calendar["statements"]
        page = get_json(demo_client, "/api/calendar", limit=1)
        assert page["months"] == calendar["months"] and page["today"] == latest
        assert get_all(demo_client, "/api/payouts") == views.payouts(state, policy, today=today)
        assert get_all(demo_client, "/api/volumes") == views.volumes(state)
        assert get_all(demo_client, "/api/volumes/daily") == views.volumes_by_day(views.volumes(state))
        rate = get_json(demo_client, "/api/direct-rate")
        assert rate["rows"] == views.direct_rate(state)
        assert rate["provinces"] == views.direct_rate_by_province(state)
        assert rate["goal_pct"] == policy.direct_settlement_goal_pct == 70
        assert get_json(demo_client, "/api/overview") == views.overview(state, policy, today)
        assert get_json(demo_client, "/api/summary")["digest"] == digest(state)
    finally:
        backend.close()


def test_the_demo_is_not_trivial(demo_client: TestClient) -> None:
    """The comparisons above mean something only if the demo has every kind of row."""
    overview = get_json(demo_client, "/api/overview")
    assert overview["settlements"] > 1000 and overview["reversals"] > 0
    assert overview["statements"] > 50 and overview["statements_outstanding"] >= 1
    assert overview["investigations_open"] >= 1
    assert overview["floats"] > 10 and overview["manual"] > 0
    assert sum(v["count"] for v in overview["payouts_by_status"].values()) > 100
    assert get_json(demo_client, "/api/floats/details", limit=1000)["items"][0]["alerts"]


def test_openapi_is_published_and_precise(demo_client: TestClient) -> None:
    spec = get_json(demo_client, "/openapi.json")
    paths = spec["paths"]
    for path in ("/api/balances", "/api/floats", "/api/floats/details", "/api/statements", "/api/statements/details",
                 "/api/calendar", "/api/investigations", "/api/payouts", "/api/volumes", "/api/volumes/daily",
                 "/api/direct-rate", "/api/provinces", "/api/summary", "/api/overview", "/api/records"):
        assert path in paths, path
    assert set(paths) - {"/api/records"} == {p for p in paths if "get" in paths[p]}
    schemas = spec["components"]["schemas"]
    float_row = schemas["FloatRow"]["properties"]
    assert set(float_row) == {"insured", "treatment", "float_fen", "outstanding_fen", "usage_pct", "level"}
    assert float_row["level"]["enum"] == ["ok", "warning", "emergency"]
    limit = next(p for p in paths["/api/investigations"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 1000 and limit["schema"]["minimum"] == 1
    post = paths["/api/records"]["post"]
    assert post["security"] == [{"bearer": []}]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    body = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert body[1]["maxItems"] == 1000
    assert {"200", "401", "403", "413", "422"} <= set(post["responses"])
    # Every GET declares its 200 body by a schema (no bare "any").
    for path, item in paths.items():
        if "get" in item:
            assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"], path


def test_dashboard_pages_and_bundled_chart_library(demo_client: TestClient) -> None:
    for path, page in [("/", "overview"), ("/floats", "floats"), ("/calendar", "calendar"),
                       ("/investigations", "investigations"), ("/payouts", "payouts"), ("/volumes", "volumes")]:
        response = demo_client.get(path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        assert f'data-page="{page}"' in response.text and "预付金 <span" in response.text
        assert "http://" not in response.text.split("<body")[0] and "https://" not in response.text.split("<body")[0]
    library = demo_client.get("/static/echarts.min.js")
    assert library.status_code == 200 and len(library.content) > 500_000
    assert b"Apache License" in library.content[:2000]
    assert demo_client.get("/static/app.js").status_code == 200
    assert demo_client.get("/static/style.css").status_code == 200
