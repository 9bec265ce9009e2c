"""End to end: the contract example file through the real CLI, compared with the expected JSON.

Runs ``python -m yidi.cli`` in a subprocess with ``YIDI_HOME`` set to a fresh directory,
exactly as a user would, and compares what ``ingest``, ``balances``, ``statements`` and
``floats`` print (``--json``) with ``contract-example.expected.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "examples"
EXAMPLE = EXAMPLES / "contract-example.jsonl"
EXPECTED = EXAMPLES / "contract-example.expected.json"

pytestmark = pytest.mark.skipif(not EXAMPLE.exists(), reason=f"contract example not found at {EXAMPLES}")


def yidi(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YIDI_",))}
    env["YIDI_HOME"] = str(home)
    result = subprocess.run([sys.executable, "-m", "yidi.cli", *args], capture_output=True, text=True,
                            env=env, timeout=120)
    if check:
        assert result.returncode == 0, f"yidi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def as_json(home: Path, *args: str) -> Any:
    return json.loads(yidi(home, *args).stdout)


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory after ``yidi ingest contract-example.jsonl --json`` (its output kept)."""
    home = tmp_path_factory.mktemp("yidi-home")
    result = yidi(home, "ingest", str(EXAMPLE), "--json")
    (home / "ingest-output.json").write_text(result.stdout, encoding="utf-8")
    return home


def test_ingest_counts(home: Path, expected: dict[str, Any]) -> None:
    counts = json.loads((home / "ingest-output.json").read_text(encoding="utf-8"))
    assert counts == expected["ingest"] == {"accepted": 9, "duplicates": 1, "rejected": 2}


def test_rejects_file_names_lines_6_and_9(home: Path) -> None:
    path = home / "rejects" / f"{EXAMPLE.name}.rejects.jsonl"
    rejects = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [(r["line"], [e["field"] for e in r["errors"]]) for r in rejects] == [(6, ["medfee_sumamt"]), (9, ["psn_no"])]
    for r in rejects:
        assert all(e["message"] for e in r["errors"])


def test_balances(home: Path, expected: dict[str, Any]) -> None:
    balances = as_json(home, "balances", "--json")
    for account, fen in expected["balances"].items():
        assert balances.get(account, 0) == fen, account
    # Accounts absent from the expected output are 0; an implementation may print more, never different.
    for account, fen in balances.items():
        assert isinstance(fen, int)
        if account not in expected["balances"]:
            assert fen == 0, account
    assert sum(balances.values()) == 0


def test_statements(home: Path, expected: dict[str, Any]) -> None:
    assert as_json(home, "statements", "--json") == expected["statements"]


def test_floats(home: Path, expected: dict[str, Any]) -> None:
    assert as_json(home, "floats", "--json") == expected["floats"]


def test_replay_matches_the_live_projection(home: Path) -> None:
    replay = as_json(home, "replay", "--json")
    assert replay["match"] is True and replay["digest"] == replay["live_digest"]
    assert replay["balances"] == as_json(home, "balances", "--json")


def test_balances_as_of_the_end_of_january(home: Path) -> None:
    """Fact times are the records' own: January ends before the clearing run and the payments."""
    balances = as_json(home, "balances", "--json", "--as-of", "2025-01-31 23:59:59")
    assert balances == {
        "420000:fund:acct_pay": 212050, "420000:fund:hifmi_pay": 600000, "420000:fund:hifp_pay": 2200000,
        "420000:payable:440000": -3012050, "420000:prepaid:440000": 5000000, "420000:treasury": -5000000,
        "440000:float_held:420000": -5000000, "440000:owed_to:H44030000001": -3000000,
        "440000:owed_to:P44030000009": -12050, "440000:receivable:420000": 3012050, "440000:treasury": 5000000,
    }


def test_ingesting_the_file_again_changes_nothing(tmp_path: Path, expected: dict[str, Any]) -> None:
    home = tmp_path / "again"
    yidi(home, "ingest", str(EXAMPLE), "--json")
    before = {view: as_json(home, view, "--json") for view in ("balances", "statements", "floats")}
    counts = as_json(home, "ingest", str(EXAMPLE), "--json")
    assert counts == {"accepted": 0, "duplicates": 10, "rejected": 2}
    assert {view: as_json(home, view, "--json") for view in ("balances", "statements", "floats")} == before
    assert before["statements"] == expected["statements"]


def test_clear_command_closes_the_next_month(tmp_path: Path) -> None:
    home = tmp_path / "clear"
    yidi(home, "ingest", str(EXAMPLE), "--json")
    result = as_json(home, "clear", "--period", "2025-02", "--recorded-at", "2025-03-05 09:00:00", "--json")
    assert result == {"status": "accepted", "period": "2025-02", "statements": []}
    again = yidi(home, "clear", "--period", "2025-01", "--recorded-at", "2025-03-06 09:00:00", "--json", check=False)
    assert again.returncode != 0
    assert [e["field"] for e in json.loads(again.stdout)["errors"]] == ["period"]


def test_bad_lines_in_a_file_are_rejected_on_field_record_and_line_numbers_hold(tmp_path: Path) -> None:
    from yidi.ingest import MAX_LINE_BYTES

    lines = [
        json.dumps({"type": "prepayment", "recorded_at": "2025-01-06 10:00:00", "insured": "420000",
                    "treatment": "440000", "year": 2025, "amount": "50000.00"}).encode(),
        b"this is not json",
        b"\xff\xfe\x80 binary garbage \x00\x81",
        b'{"type": "clear", "pad": "' + b"x" * (MAX_LINE_BYTES + 100) + b'"}',
        b"",
        json.dumps({"type": "clear", "recorded_at": "2025-02-05 09:00:00", "period": "2025-01"}).encode(),
    ]
    path = tmp_path / "messy.jsonl"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    home, rejects_path = tmp_path / "home", tmp_path / "messy.rejects.jsonl"
    counts = as_json(home, "ingest", str(path), "--json", "--rejects", str(rejects_path))
    assert counts == {"accepted": 2, "duplicates": 0, "rejected": 3}
    rejects = [json.loads(line) for line in rejects_path.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], [e["field"] for e in r["errors"]]) for r in rejects] == [
        (2, ["record"]), (3, ["record"]), (4, ["record"])]
    assert as_json(home, "floats", "--json")[0]["float_fen"] == 5000000


def test_ingest_from_standard_input(tmp_path: Path, expected: dict[str, Any]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIDI_")}
    env["YIDI_HOME"] = str(tmp_path / "stdin")
    result = subprocess.run([sys.executable, "-m", "yidi.cli", "ingest", "-", "--json"], input=EXAMPLE.read_bytes(),
                            capture_output=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected["ingest"]
    assert as_json(tmp_path / "stdin", "statements", "--json") == expected["statements"]
