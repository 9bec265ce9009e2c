"""POST /api/records: bearer token, validation exactly as `yidi ingest`, read-after-write, and
facts recorded by another process showing up without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests import helpers as h
from yidi import cli

from .conftest import TOKEN, AppFactory, cli_env, get_all, get_json, post_records, unique

# A demo pair with a float: Taiyuan (山西) insured, treated in Nanjing (江苏).
INSURED_CITY, TREATMENT_CITY, PAIR = "140100", "320100", ("140000", "320000")


def filed_inpatient_stay(day: str = "2025-04-25", medfee: str = "36000.00") -> tuple[dict[str, Any], dict[str, Any]]:
    """A filing and an inpatient settlement of ¥36,000.00 (owed ¥30,000.00) of a new person."""
    psn_no = unique("14010000")
    filing = h.filing(psn_no, insured=INSURED_CITY, treatment=TREATMENT_CITY, begndate="2025-04-01",
                      recorded_at="2025-04-01 08:00:00", filing_id=unique("BA140100"))
    settlement = h.settlement(infno="2304", insured=INSURED_CITY, treatment=TREATMENT_CITY, psn_no=psn_no,
                              inf_time=f"{day} 10:30:00", setl_id=unique("S320100"), msgid=unique("M320100"),
                              fixmedins_code="H32010000001", medfee=medfee, hifp="22000.00", hifmi="6000.00",
                              acct="2000.00")
    return filing, settlement


def float_of(client: TestClient, insured: str, treatment: str) -> dict[str, Any]:
    (row,) = get_json(client, "/api/floats", insured=insured, treatment=treatment)
    return row


# -- auth ------------------------------------------------------------------------------------------------
def test_writes_are_disabled_without_a_configured_token(make_client: AppFactory, fresh_home: Path) -> None:
    client = make_client(fresh_home, token=None)
    before = get_json(client, "/api/summary")["facts"]
    response = post_records(client, list(filed_inpatient_stay()), token="anything")
    assert response.status_code == 403 and "writes disabled" in response.json()["detail"]
    assert get_json(client, "/api/meta")["writes_enabled"] is False
    assert get_json(client, "/api/summary")["facts"] == before


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x"])
def test_a_missing_or_wrong_token_is_401(client: TestClient, authorization: str | None) -> None:
    before = get_json(client, "/api/summary")["facts"]
    headers = {"Authorization": authorization} if authorization else {}
    response = client.post("/api/records", content=orjson.dumps(list(filed_inpatient_stay())), headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert get_json(client, "/api/summary")["facts"] == before


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 422, "not valid JSON"),
    (b"42", 422, "a record (a JSON object)"),
    (b"[]", 422, "non-empty list"),
    (orjson.dumps([{"type": "clear"}] * 1001), 422, "at most 1000 records"),
    (b" " * (16 * 2**20 + 1), 413, "larger than"),
])
def test_bodies_that_are_not_records_are_refused_whole(client: TestClient, body: bytes, status: int, words: str) -> None:
    response = client.post("/api/records", content=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == status and words in response.json()["detail"], response.text


# -- validation ------------------------------------------------------------------------------------------
def test_records_are_validated_exactly_as_yidi_ingest_does(client: TestClient, tmp_path: Path) -> None:
    filing, stay = filed_inpatient_stay()
    three_decimals = h.modify(filed_inpatient_stay()[1], medfee_sumamt="36000.001")
    no_filing = h.settlement(infno="2304", insured=INSURED_CITY, treatment=TREATMENT_CITY, psn_no=unique("14010000"),
                             inf_time="2025-04-26 09:00:00", setl_id=unique("S"), msgid=unique("M"))
    reused_id = h.modify(stay, msgid=unique("M"), medfee_sumamt="36001.00", psn_cash_pay="6001.00")
    records: list[Any] = [
        filing, stay, stay, three_decimals, no_filing, reused_id, 42, {"type": "clear", "period": "2025-04"},
        h.manual_reimbursement(INSURED_CITY, TREATMENT_CITY, recorded_at="2025-04-27 10:00:00", msgid=unique("MR")),
        {**h.filing(unique("P"), insured="420100", treatment="420100"), "filing_id": unique("BA")},
    ]
    response = post_records(client, records)
    assert response.status_code == 200, response.text
    got = response.json()

    # The same records as lines of a file, through the CLI, into an empty ledger.
    source = tmp_path / "same.jsonl"
    source.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    rejects = tmp_path / "rejects.jsonl"
    result = CliRunner().invoke(cli.app, ["--data-dir", str(tmp_path / "cli-ledger"), "ingest", str(source),
                                          "--json", "--rejects", str(rejects)], env=cli_env("embedded"))
    assert result.exit_code == 0, result.output
    expected = json.loads(result.stdout)
    expected_rejects = [json.loads(line) for line in rejects.read_text().splitlines()]

    assert {k: got[k] for k in ("accepted", "duplicates", "rejected")} == expected
    assert got["rejects"] == expected_rejects
    assert expected == {"accepted": 3, "duplicates": 1, "rejected": 6}
    assert [r["line"] for r in got["rejects"]] == [4, 5, 6, 7, 8, 10]
    fields = {r["line"]: {e["field"] for e in r["errors"]} for r in got["rejects"]}
    assert fields[4] == {"medfee_sumamt"} and fields[5] == {"psn_no"} and "medfee_sumamt" in fields[6]
    assert fields[7] == {"record"} and fields[8] == {"recorded_at"} and "mdtrtarea_admvs" in fields[10]


# -- read after write ------------------------------------------------------------------------------------
def test_a_recorded_settlement_shows_at_once_in_every_view(client: TestClient) -> None:
    before_float = float_of(client, *PAIR)
    before = get_json(client, "/api/overview")
    facts_before = get_json(client, "/api/summary")["facts"]
    filing, stay = filed_inpatient_stay(day="2025-04-25")
    setl_id = stay["output"]["setlinfo"]["setl_id"]

    response = post_records(client, [filing, stay])
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": 0, "rejects": []}

    after_float = float_of(client, *PAIR)
    assert after_float["outstanding_fen"] == before_float["outstanding_fen"] + 3_000_000
    after = get_json(client, "/api/overview")
    assert after["settlements"] == before["settlements"] + 1
    assert after["owed_fen"] == before["owed_fen"] + 3_000_000
    assert after["investigations_open"] == before["investigations_open"] + 1
    assert get_json(client, "/api/summary")["facts"] >= facts_before + 3  # filing, settlement, case (+ alerts)
    case = next(c for c in get_all(client, "/api/investigations", status="open") if c["setl_id"] == setl_id)
    assert case["medfee_sumamt_fen"] == 3_600_000 and (case["insured"], case["treatment"]) == PAIR
    (day,) = get_json(client, "/api/volumes", pair=">".join(PAIR), infno="2304",
                      **{"from": "2025-04-25", "to": "2025-04-25"})["items"]
    assert day["settlements"] >= 1 and day["owed_fen"] >= 3_000_000

    close = h.investigation_close(setl_id, outcome="adjusted", recorded_at="2025-04-25 16:00:00")
    assert post_records(client, close).json()["accepted"] == 1
    closed = get_json(client, "/api/investigations", status="closed", limit=1000)
    case = next(c for c in closed["items"] if c["setl_id"] == setl_id)
    assert case["outcome"] == "adjusted" and case["closed_at"] == "2025-04-25 16:00:00"
    assert closed["open"] == after["investigations_open"] - 1 and closed["total"] == closed["closed"] >= 1

    cancel = h.cancellation(stay, inf_time="2025-04-26 09:00:00", msgid=unique("C"))
    assert post_records(client, [cancel]).json()["accepted"] == 1
    assert float_of(client, *PAIR)["outstanding_fen"] == before_float["outstanding_fen"]
    reversed_day = get_json(client, "/api/volumes/daily", **{"from": "2025-04-26", "to": "2025-04-26"})["items"][0]
    assert reversed_day["reversals"] >= 1 and reversed_day["reversed_fen"] >= 3_000_000


def test_facts_recorded_by_another_process_show_up(client: TestClient, backend_kind: str, fresh_home: Path,
                                                   tmp_path: Path) -> None:
    before = get_json(client, "/api/overview")["settlements"]
    source = tmp_path / "elsewhere.jsonl"
    source.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in filed_inpatient_stay(day="2025-04-28")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIDI_")}
    env.update({k: v for k, v in cli_env(backend_kind).items() if v is not None})
    done = subprocess.run([sys.executable, "-m", "yidi.cli", "--data-dir", str(fresh_home), "ingest", str(source),
                           "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout)["accepted"] == 2, done.stdout + done.stderr
    deadline = time.monotonic() + 5.0
    while get_json(client, "/api/overview")["settlements"] != before + 1:
        assert time.monotonic() < deadline, "the other process's settlement never showed up"
        time.sleep(0.1)
