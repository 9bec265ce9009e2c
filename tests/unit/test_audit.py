"""Audit (issue 5) on the embedded store: tampering located, balances as of past moments,
traces, reconciliation against 3201/3202 files, beancount export accepted by bean-check."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

import yidi.embedded as embedded
from consumers.verify import verify_event_store
from ledger.chain import ChainBreak
from ledger.config import Policy
from projections import views
from projections.audit import parse_recon, reconcile, trace
from projections.fold import digest
from tests.helpers import ingest, ledger_with
from yidi.simulator import SimulationSpec, generate

YEAR_SPEC = SimulationSpec(seed=5, start_month="2025-01", months=12, settlements_per_month=40, provinces=4)


def _months(records: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Split a time-ordered record stream into (month, records of that month)."""
    chunks: list[tuple[str, list[dict[str, Any]]]] = []
    for record in records:
        month = (record.get("inf_time") or record.get("recorded_at"))[:7]
        if not chunks or chunks[-1][0] != month:
            # A duplicate re-sent later keeps its earlier time: keep it with the current chunk.
            if chunks and month < chunks[-1][0]:
                chunks[-1][1].append(record)
                continue
            chunks.append((month, []))
        chunks[-1][1].append(record)
    return chunks


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A simulated year ingested month by month, with what the live system showed after each."""
    tmp = tmp_path_factory.mktemp("year")
    records = list(generate(YEAR_SPEC))
    old = embedded.SNAPSHOT_EVERY_FACTS
    embedded.SNAPSHOT_EVERY_FACTS = 97  # snapshots must be used, and replay from them proven equal
    try:
        backend = ledger_with(tmp)
        live: list[dict[str, Any]] = []
        for month, chunk in _months(records):
            counts, rejects = ingest(backend, chunk)
            assert counts["rejected"] == 0, rejects[:3]
            state = backend.projection()
            live.append({
                "month": month, "position": backend.position, "digest": digest(state),
                "balances": views.balances(state), "floats": views.floats(state, backend.policy),
                "statements": views.statements(state),
            })
        backend.checkpoint()
        yield {"home": backend.home, "backend": backend, "live": live, "records": records}
        backend.close()
    finally:
        embedded.SNAPSHOT_EVERY_FACTS = old


def _month_end(month: str) -> str:
    import calendar

    year, m = int(month[:4]), int(month[5:7])
    return f"{month}-{calendar.monthrange(year, m)[1]:02d} 23:59:59"


def test_year_has_snapshots_and_twelve_months(year: dict[str, Any]) -> None:
    conn = sqlite3.connect(year["home"] / "projections.db")
    snapshots = conn.execute("SELECT COUNT(*) FROM snapshot").fetchone()[0]
    conn.close()
    assert snapshots >= 5
    assert [m["month"] for m in year["live"]][:12] == [f"2025-{i:02d}" for i in range(1, 13)]


def test_balances_as_of_every_month_end_equal_the_live_ones(year: dict[str, Any]) -> None:
    backend = year["backend"]
    for shown in year["live"][:12]:
        past = backend.projection_as_of(_month_end(shown["month"]))
        assert views.balances(past) == shown["balances"], shown["month"]
        assert views.floats(past, backend.policy) == shown["floats"], shown["month"]
        assert views.statements(past) == shown["statements"], shown["month"]
        assert digest(past) == shown["digest"], shown["month"]


def test_balances_as_of_position_equal_the_live_ones(year: dict[str, Any]) -> None:
    backend = year["backend"]
    for shown in year["live"]:
        assert digest(backend.projection_at_position(shown["position"])) == shown["digest"], shown["month"]


def test_as_of_before_any_fact_is_empty(year: dict[str, Any]) -> None:
    assert views.balances(year["backend"].projection_as_of("2024-12-31 23:59:59")) == {}


def test_traces_sum_to_their_balances(year: dict[str, Any]) -> None:
    backend = year["backend"]
    balances = views.balances(backend.projection())
    busiest = sorted(balances, key=lambda a: -abs(balances[a]))[:6]
    for account in busiest:
        result = trace(backend.read_facts(), account)
        assert result["balance_fen"] == balances[account]
        assert sum(e["amount_fen"] for e in result["entries"]) == balances[account]
        assert result["entries"][-1]["balance_fen"] == balances[account]
        assert all(e["source"] for e in result["entries"])


def test_trace_as_of_a_month_end(year: dict[str, Any]) -> None:
    backend = year["backend"]
    shown = year["live"][2]
    cutoff = _month_end(shown["month"])
    for account, fen in list(shown["balances"].items())[:5]:
        result = trace((f for f in backend.read_facts() if f["time"] <= cutoff), account)
        assert result["balance_fen"] == fen


# -- tampering ----------------------------------------------------------------------------------
def _copy_ledger(year: dict[str, Any], tmp_path: Path) -> Path:
    home = tmp_path / "copy"
    shutil.copytree(year["home"], home)  # db and its WAL together: the original is idle
    return home


def _verify(home: Path) -> ChainBreak | None:
    backend = embedded.EmbeddedBackend(home, Policy(), catch_up=False)
    try:
        verify_event_store(backend.recorder, backend.store.load()[0].heads)
    except ChainBreak as broken:
        return broken
    finally:
        backend.store.close()
        backend.ledger.close()
    return None


def _facts_rows(conn: sqlite3.Connection, key: str | None = None) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for rowid, state in conn.execute("SELECT rowid, state FROM stored_events ORDER BY rowid"):
        body = orjson.loads(state)["body"]
        if not body["type"].startswith("index.") and (key is None or body["key"] == key):
            rows.append((rowid, body))
    return rows


def _rewrite(conn: sqlite3.Connection, rowid: int, body: dict[str, Any]) -> None:
    state = orjson.loads(conn.execute("SELECT state FROM stored_events WHERE rowid = ?", (rowid,)).fetchone()[0])
    state["body"] = body
    conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (orjson.dumps(state), rowid))
    conn.commit()


def test_clean_history_verifies(year: dict[str, Any], tmp_path: Path) -> None:
    assert _verify(_copy_ledger(year, tmp_path)) is None


def test_edited_amount_is_located(year: dict[str, Any], tmp_path: Path) -> None:
    home = _copy_ledger(year, tmp_path)
    conn = sqlite3.connect(home / "events.db")
    rowid, body = [r for r in _facts_rows(conn) if r[1]["type"] == "settlement.recorded"][50]
    body["owed_fen"] += 100
    _rewrite(conn, rowid, body)
    broken = _verify(home)
    assert broken is not None and broken.position == rowid and broken.fact_id == body["id"]
    assert "edited" in broken.problem


def test_dropped_event_is_located(year: dict[str, Any], tmp_path: Path) -> None:
    home = _copy_ledger(year, tmp_path)
    conn = sqlite3.connect(home / "events.db")
    rowid, _ = _facts_rows(conn)[30]
    conn.execute("DELETE FROM stored_events WHERE rowid = ?", (rowid,))
    conn.commit()
    broken = _verify(home)
    assert broken is not None and broken.position == rowid + 1 and "missing" in broken.problem


def test_dropped_fact_with_positions_renumbered_is_located(year: dict[str, Any], tmp_path: Path) -> None:
    """A careful forger closes the gap; the key's chain still shows the hole."""
    home = _copy_ledger(year, tmp_path)
    conn = sqlite3.connect(home / "events.db")
    key = _facts_rows(conn)[40][1]["key"]
    rows = _facts_rows(conn, key)
    dropped_rowid, dropped = rows[5]
    next_rowid, following = rows[6]
    # Replace the dropped fact's row by an index-looking no-op so positions stay gapless.
    state = orjson.loads(conn.execute("SELECT state FROM stored_events WHERE rowid = ?", (dropped_rowid,)).fetchone()[0])
    state["body"] = {"type": "index.record", "kind": "noop"}
    conn.execute("UPDATE stored_events SET state = ?, topic = 'ledger.aggregates:RecordIndex.Opened' WHERE rowid = ?",
                 (orjson.dumps(state), dropped_rowid))
    conn.commit()
    broken = _verify(home)
    assert broken is not None and broken.fact_id == following["id"] and broken.position == next_rowid
    assert f"seq {following['seq']}" in broken.problem and "missing" in broken.problem


def test_inserted_fact_is_located(year: dict[str, Any], tmp_path: Path) -> None:
    home = _copy_ledger(year, tmp_path)
    conn = sqlite3.connect(home / "events.db")
    rowid, body = [r for r in _facts_rows(conn) if r[1]["type"] == "settlement.recorded"][10]
    topic, state = conn.execute("SELECT topic, state FROM stored_events WHERE rowid = ?", (rowid,)).fetchone()
    forged = orjson.loads(state)
    forged["body"]["setl_id"] = "FORGED0001"
    last = conn.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0]
    conn.execute("INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
                 (last + 1, "f" * 32, 1, topic, orjson.dumps(forged)))
    conn.commit()
    broken = _verify(home)
    assert broken is not None and broken.position == last + 1 and broken.fact_id == body["id"]


def test_swapped_events_are_located(year: dict[str, Any], tmp_path: Path) -> None:
    home = _copy_ledger(year, tmp_path)
    conn = sqlite3.connect(home / "events.db")
    key = _facts_rows(conn)[60][1]["key"]
    (first_rowid, first), (second_rowid, second) = _facts_rows(conn, key)[8:10]
    _rewrite(conn, first_rowid, second)
    _rewrite(conn, second_rowid, first)
    broken = _verify(home)
    assert broken is not None and broken.position == first_rowid and broken.fact_id == second["id"]
    assert "out of order" in broken.problem or "missing" in broken.problem


def test_truncated_log_is_detected(year: dict[str, Any], tmp_path: Path) -> None:
    home = _copy_ledger(year, tmp_path)
    conn = sqlite3.connect(home / "events.db")
    rows = _facts_rows(conn)
    cut_rowid, cut = rows[-20]
    conn.execute("DELETE FROM stored_events WHERE rowid >= ?", (cut_rowid,))
    conn.commit()
    broken = _verify(home)
    assert broken is not None and broken.position is None
    assert "dropped from the end" in broken.problem


def test_cli_verify_exit_codes(year: dict[str, Any], tmp_path: Path) -> None:
    home = _copy_ledger(year, tmp_path)
    env = {**os.environ, "YIDI_HOME": str(home)}
    env.pop("YIDI_KAFKA", None)
    env.pop("YIDI_PG", None)
    ok = subprocess.run([sys.executable, "-m", "yidi.cli", "verify", "--json"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    report = orjson.loads(ok.stdout)
    assert report["ok"] is True and report["facts"] == year["backend"].projection().facts
    conn = sqlite3.connect(home / "events.db")
    rowid, body = _facts_rows(conn)[3]
    body["time"] = "2020-01-01 00:00:00"
    _rewrite(conn, rowid, body)
    bad = subprocess.run([sys.executable, "-m", "yidi.cli", "verify", "--json"], env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    assert orjson.loads(bad.stdout) == {"ok": False, "position": rowid, "id": body["id"], "key": body["key"],
                                         "problem": "hash does not match the fact's content: the fact was edited"}


# -- reconciliation ------------------------------------------------------------------------------
def _recon_file(backend: Any, institution: str, month: str) -> dict[str, Any]:
    """A 3202 file as the institution would send it, built from the ledger's own facts."""
    settled = {f["setl_id"]: f for f in backend.read_facts() if f["type"] == "settlement.recorded"
               and f["fixmedins_code"] == institution and f["setl_time"][:7] == month}
    for f in backend.read_facts():
        if f["type"] == "settlement.reversed":
            settled.pop(f["setl_id"], None)
    details = [{"setl_id": s, "medfee_sumamt": f["medfee_sumamt_fen"] / 100, "fund_pay_sumamt": f"{f['fund_pay_sumamt_fen'] / 100:.2f}",
                "acct_pay": f"{f['acct_pay_fen'] / 100:.2f}", "refd_setl_flag": "0"} for s, f in sorted(settled.items())]
    return {"infno": "3202", "fixmedins_code": institution, "input": {"data": {
        "stmt_begndate": f"{month}-01", "stmt_enddate": f"{month}-31",
        "medfee_sumamt": f"{sum(f['medfee_sumamt_fen'] for f in settled.values()) / 100:.2f}",
        "fund_pay_sumamt": f"{sum(f['fund_pay_sumamt_fen'] for f in settled.values()) / 100:.2f}",
        "acct_pay": f"{sum(f['acct_pay_fen'] for f in settled.values()) / 100:.2f}",
        "fixmedins_setl_cnt": len(settled), "details": details}}}


def _busiest_institution(backend: Any, month: str) -> str:
    counts: dict[str, int] = {}
    for f in backend.read_facts():
        if f["type"] == "settlement.recorded" and f["setl_time"][:7] == month:
            counts[f["fixmedins_code"]] = counts.get(f["fixmedins_code"], 0) + 1
    return max(sorted(counts), key=lambda k: counts[k])


def test_reconciliation_of_matching_file_is_balanced(year: dict[str, Any]) -> None:
    backend = year["backend"]
    institution = _busiest_institution(backend, "2025-03")
    request, errors = parse_recon(orjson.loads(orjson.dumps(_recon_file(backend, institution, "2025-03"))))
    assert errors == [] and request is not None
    result = reconcile(backend.read_facts(), request)
    assert result["balanced"] is True and result["ledger_totals"]["fixmedins_setl_cnt"] >= 3


def test_reconciliation_reports_exactly_the_planted_differences(year: dict[str, Any]) -> None:
    backend = year["backend"]
    institution = _busiest_institution(backend, "2025-03")
    file = _recon_file(backend, institution, "2025-03")
    details = file["input"]["data"]["details"]
    removed = details.pop(0)  # the ledger has it, the file does not
    changed = details[0]
    changed["fund_pay_sumamt"] = f"{float(changed['fund_pay_sumamt']) + 1:.2f}"
    details.append({"setl_id": "NOTINLEDGER01", "medfee_sumamt": "10.00", "fund_pay_sumamt": "5.00", "acct_pay": "0.00"})
    request, _ = parse_recon(file)
    assert request is not None
    result = reconcile(backend.read_facts(), request)
    detail_diffs = [d for d in result["differences"] if d["kind"] != "total_differs"]
    assert detail_diffs == sorted([
        {"kind": "extra_in_ledger", "setl_id": removed["setl_id"], "ledger": {
            "medfee_sumamt": round(removed["medfee_sumamt"] * 100), "fund_pay_sumamt": round(float(removed["fund_pay_sumamt"]) * 100),
            "acct_pay": round(float(removed["acct_pay"]) * 100)}},
        {"kind": "amount_differs", "setl_id": changed["setl_id"], "field": "fund_pay_sumamt",
         "file": round(float(changed["fund_pay_sumamt"]) * 100), "ledger": round(float(changed["fund_pay_sumamt"]) * 100) - 100},
        {"kind": "missing_in_ledger", "setl_id": "NOTINLEDGER01", "file": {"medfee_sumamt": 1000, "fund_pay_sumamt": 500, "acct_pay": 0}},
    ], key=lambda d: d["setl_id"])
    assert result["balanced"] is False


def test_reconciliation_totals_3201(year: dict[str, Any]) -> None:
    backend = year["backend"]
    institution = _busiest_institution(backend, "2025-05")
    file = _recon_file(backend, institution, "2025-05")
    file["infno"] = "3201"
    del file["input"]["data"]["details"]
    file["input"]["data"]["fixmedins_setl_cnt"] += 1
    request, _ = parse_recon(file)
    assert request is not None
    result = reconcile(backend.read_facts(), request)
    assert result["differences"] == [{"kind": "total_differs", "field": "fixmedins_setl_cnt",
                                      "file": result["ledger_totals"]["fixmedins_setl_cnt"] + 1,
                                      "ledger": result["ledger_totals"]["fixmedins_setl_cnt"]}]


def test_reconciliation_file_errors_name_fields() -> None:
    request, errors = parse_recon({"infno": "3299", "input": {"data": {"medfee_sumamt": "1.234"}}})
    assert request is None
    fields = {e.field for e in errors}
    assert {"infno", "medfee_sumamt", "fund_pay_sumamt", "fixmedins_setl_cnt", "stmt_begndate"} <= fields


# -- export ---------------------------------------------------------------------------------------
def _bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("bean-check")
    return subprocess.run([str(exe), str(path)], capture_output=True, text=True)


def test_beancount_export_passes_bean_check(year: dict[str, Any], tmp_path: Path) -> None:
    env = {**os.environ, "YIDI_HOME": str(year["home"])}
    path = tmp_path / "books.beancount"
    run = subprocess.run([sys.executable, "-m", "yidi.cli", "export", "beancount", "--out", str(path)],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    text = path.read_text()
    assert sum(1 for line in text.splitlines() if line[:1].isdigit() and " balance " in line) >= 12 * 10  # month-end assertions for many accounts
    check = _bean_check(path)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    # The assertions are real: break one and bean-check must refuse the file.
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line[:1].isdigit() and " balance " in line)
    amount = lines[index].split()[-2]
    lines[index] = lines[index].replace(f" {amount} CNY", f" {int(float(amount)) + 7}.00 CNY")
    broken = tmp_path / "broken.beancount"
    broken.write_text("\n".join(lines) + "\n")
    assert _bean_check(broken).returncode != 0


def test_beancount_export_of_one_period_passes_bean_check(year: dict[str, Any], tmp_path: Path) -> None:
    env = {**os.environ, "YIDI_HOME": str(year["home"])}
    path = tmp_path / "march.beancount"
    run = subprocess.run([sys.executable, "-m", "yidi.cli", "export", "beancount", "--period", "2025-03", "--out", str(path)],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    text = path.read_text()
    assert '"opening"' in text and "2025-04-01 balance" in text and "2025-05-01" not in text
    check = _bean_check(path)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]


def test_replay_digest_equals_live(year: dict[str, Any]) -> None:
    backend = year["backend"]
    from projections.fold import fold

    assert digest(fold(backend.read_facts())) == digest(backend.projection()) == year["live"][-1]["digest"]


def test_hledger_export_passes_hledger_check(year: dict[str, Any], tmp_path: Path) -> None:
    env = {**os.environ, "YIDI_HOME": str(year["home"])}
    path = tmp_path / "books.journal"
    run = subprocess.run([sys.executable, "-m", "yidi.cli", "export", "hledger", "--out", str(path)],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    hledger = shutil.which("hledger")
    assert hledger, "hledger (Debian package) is installed by scripts/setup"
    check = subprocess.run([hledger, "-f", str(path), "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr[-2000:]
    total = subprocess.run([hledger, "-f", str(path), "balance", "--flat", "-O", "csv"], capture_output=True, text=True)
    rows = [line.split(",") for line in total.stdout.strip().splitlines()[1:]]
    balances = {r[0].strip('"'): r[1].strip('"') for r in rows if r[0].strip('"') != "total"}
    live = views.balances(year["backend"].projection())
    assert {a: round(float(v.split()[0]) * 100) for a, v in balances.items() if float(v.split()[0]) != 0} == live
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if " = " in line)
    lines[index] = lines[index].rsplit(" = ", 1)[0] + " = 1.00 CNY"
    broken = tmp_path / "broken.journal"
    broken.write_text("\n".join(lines) + "\n")
    assert subprocess.run([hledger, "-f", str(broken), "check"], capture_output=True, text=True).returncode != 0
