"""`yidi`: the command line. Thin: parse options, open a backend, print a view."""

from __future__ import annotations

import datetime as dt
import gc
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import orjson
import typer
from rich.console import Console
from rich.table import Table

from ledger.decisions import period_end
from ledger.money import fen_to_yuan_grouped
from ledger.records import parse_record
from projections import views
from projections.fold import Projection, digest, fold

from . import settings
from .bootstrap import open_backend
from ledger.service import MAX_BATCH_RECORDS

from .ingest import BATCH_RECORDS, Counts, Ingest, IngestAborted, read_lines

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Yidi Ledger 异地就医结算账本")
out = Console()
err = Console(stderr=True)
BEIJING = dt.timezone(dt.timedelta(hours=8))


class Ctx:
    def __init__(self, data_dir: Optional[str], config: Optional[str]) -> None:
        self.home = settings.data_dir(data_dir)
        self.policy = settings.load_policy(self.home, config)

    @contextmanager
    def backend(self) -> Iterator[Any]:
        backend = open_backend(self.home, self.policy)
        try:
            yield backend
        finally:
            backend.close()

    @contextmanager
    def backend_for_audit(self) -> Iterator[Any]:
        """A backend that changes nothing when opened (no catch-up, no checkpoint)."""
        backend = open_backend(self.home, self.policy, read_only=True)
        try:
            yield backend
        finally:
            backend.store.close() if hasattr(backend, "store") else None
            backend.ledger.close() if hasattr(backend, "ledger") else backend.close()


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Data directory (default $YIDI_HOME or ~/.local/share/yidi)."),
    config: Optional[str] = typer.Option(None, "--config", help="TOML file with a [policy] table."),
) -> None:
    try:
        ctx.obj = Ctx(data_dir, config)
    except (OSError, ValueError) as exc:  # unusable data dir, bad TOML, unknown policy setting
        err.print(f"[red]configuration error[/]: {exc}")
        raise typer.Exit(code=2)


def _json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _yuan(fen: int | None) -> str:
    return "" if fen is None else fen_to_yuan_grouped(fen)


AS_OF_HELP = "Only facts whose own time is at or before 'YYYY-MM-DD HH:MM:SS'."
MAX_POSITION = 2**62  # positions are SQLite/PostgreSQL 64-bit integers
AS_OF_POSITION_HELP = "The state right after the fact at this position (notification id) was recorded."


Json = Annotated[bool, typer.Option("--json", help="Print JSON (the contract of docs/records.md).")]
AsOf = Annotated[Optional[str], typer.Option("--as-of", help=AS_OF_HELP)]
AsOfPosition = Annotated[Optional[int], typer.Option("--as-of-position", min=0, max=MAX_POSITION, help=AS_OF_POSITION_HELP)]


def _state(c: Ctx, as_of: Optional[str] = None, as_of_position: Optional[int] = None) -> Projection:
    if as_of is not None and not _valid_time(as_of):
        err.print(f"[red]--as-of must be 'YYYY-MM-DD HH:MM:SS', not {as_of!r}[/]")
        raise typer.Exit(code=2)
    with c.backend() as backend:
        if as_of_position is not None:
            return backend.projection_at_position(as_of_position)
        if as_of is not None:
            return backend.projection_as_of(as_of)
        return backend.projection()


def _check_period(period: Optional[str]) -> None:
    if period is None:
        return
    if not (len(period) == 7 and period[4] == "-" and period[:4].isascii() and period[:4].isdigit()
            and period[5:].isascii() and period[5:].isdigit() and 1 <= int(period[5:]) <= 12):
        err.print(f"[red]--period must be YYYY-MM, not {period!r}[/]")
        raise typer.Exit(code=2)


def _valid_time(value: str) -> bool:
    try:
        return len(value) == 19 and dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S") is not None
    except ValueError:
        return False


# -- ingest ---------------------------------------------------------------------------
@app.command()
def ingest(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="JSON Lines file of records ('-' for standard input)."),
    as_json: bool = typer.Option(False, "--json", help="Print {accepted, duplicates, rejected}."),
    rejects: Optional[Path] = typer.Option(None, "--rejects", help="Where rejected lines are written (default <data dir>/rejects/<file>.rejects.jsonl)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on a terminal."),
    batch_records: int = typer.Option(BATCH_RECORDS, "--batch-records", min=1, max=MAX_BATCH_RECORDS,
                                      help="Records decided and recorded per transaction."),
) -> None:
    """Record a file of platform messages and ledger records, in file order."""
    c: Ctx = ctx.obj
    if str(file) != "-" and not file.is_file():
        err.print(f"[red]no such file: {file}[/]")
        raise typer.Exit(code=2)
    name = "stdin" if str(file) == "-" else file.name
    rejects_path = rejects or c.home / "rejects" / f"{name}.rejects.jsonl"
    rejects_path.parent.mkdir(parents=True, exist_ok=True)
    handle = sys.stdin.buffer if str(file) == "-" else open(file, "rb")
    total_bytes = None if str(file) == "-" else file.stat().st_size
    started = time.perf_counter()
    try:
        counts = _ingest_file(c, handle, name, total_bytes, rejects_path, progress, batch_records)
    except IngestAborted as aborted:
        err.print(f"[red]ingest stopped[/]: {aborted}")
        if as_json:
            _json({**aborted.counts.to_dict(), "error": str(aborted), "first_line": aborted.first_line,
                   "last_line": aborted.last_line})
        raise typer.Exit(code=1)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()
    seconds = time.perf_counter() - started
    if as_json:
        _json(counts)
    else:
        out.print(f"accepted {counts['accepted']}, duplicates {counts['duplicates']}, rejected {counts['rejected']}"
                  f" in {seconds:.1f} s")
    if counts["rejected"]:
        err.print(f"rejected lines: {rejects_path}")


def tune_gc_for_bulk() -> None:
    """Long runs keep large, long-lived caches; full collections over them cost ~30 % of
    ingest time and find nothing (the ledger's objects form no cycles). Collect young
    objects only, and rarely (measured in bench/ingest_replay.py)."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


@contextmanager
def _ingest_backend(c: Ctx) -> Iterator[Any]:
    """The backend, or IngestAborted (nothing recorded) when the store cannot be opened."""
    try:
        backend = open_backend(c.home, c.policy)
    except Exception as exc:  # noqa: BLE001 - PostgreSQL down, unreadable data dir ...: no record was tried
        raise IngestAborted(None, None, Counts(), exc) from exc
    try:
        yield backend
    finally:
        backend.close()


def _ingest_file(c: Ctx, handle: Any, name: str, total_bytes: Optional[int], rejects_path: Path,
                 progress: bool, batch_records: int = BATCH_RECORDS) -> dict[str, int]:
    tune_gc_for_bulk()
    with _ingest_backend(c) as backend, open(rejects_path, "wb") as rejects_out:
        pipeline = Ingest(backend, name, lambda r: rejects_out.write(orjson.dumps(r) + b"\n"), batch_records)
        show = progress and err.is_terminal and total_bytes is not None
        if show:
            from rich.progress import BarColumn, Progress, TransferSpeedColumn, TimeRemainingColumn

            with Progress("[progress.description]{task.description}", BarColumn(), TransferSpeedColumn(),
                          TimeRemainingColumn(), console=err) as bar:
                task = bar.add_task(f"ingest {name}", total=total_bytes)
                for line_no, raw in enumerate(read_lines(handle), 1):
                    pipeline.feed(line_no, raw)
                    if line_no % 1000 == 0:
                        bar.update(task, completed=handle.tell())
                pipeline.flush()
                bar.update(task, completed=total_bytes)
        else:
            for line_no, raw in enumerate(read_lines(handle), 1):
                pipeline.feed(line_no, raw)
            pipeline.flush()
    return pipeline.counts.to_dict()


# -- reading commands ------------------------------------------------------------------
@app.command()
def balances(
    ctx: typer.Context,
    as_json: Json = False,
    as_of: AsOf = None,
    as_of_position: AsOfPosition = None,
) -> None:
    """Balances per account (Σ debits − Σ credits, fen); without --json, per province too."""
    state = _state(ctx.obj, as_of, as_of_position)
    if as_json:
        _json(views.balances(state))
        return
    _print_provinces(state)
    table = Table("account", "balance (yuan)", title="Accounts 账户余额")
    for account, fen in views.balances(state).items():
        table.add_row(account, _yuan(fen))
    out.print(table)


@app.command()
def provinces(
    ctx: typer.Context,
    as_json: Json = False,
    as_of: AsOf = None,
    as_of_position: AsOfPosition = None,
) -> None:
    """Each place as insured place and as treatment place."""
    state = _state(ctx.obj, as_of, as_of_position)
    if as_json:
        _json(views.provinces(state))
    else:
        _print_provinces(state)


def _print_provinces(state: Projection) -> None:
    table = Table("place", "prepaid 预付", "payable 应付", "fund spent 基金支出", "float held 暂收",
                  "receivable 应收", "owed to inst. 应付机构", "treasury 财政专户",
                  title="Balances per place 各地余额 (yuan)")
    for row in views.provinces(state):
        table.add_row(row["code"], *(_yuan(row[k]) for k in (
            "insured_prepaid_fen", "insured_payable_fen", "insured_fund_spent_fen", "treatment_float_held_fen",
            "treatment_receivable_fen", "treatment_owed_to_institutions_fen", "treasury_fen")))
    out.print(table)


@app.command()
def floats(
    ctx: typer.Context,
    as_json: Json = False,
    as_of: AsOf = None,
    as_of_position: AsOfPosition = None,
) -> None:
    """Prepayment floats (预付金): amount, outstanding, usage and level."""
    c: Ctx = ctx.obj
    state = _state(c, as_of, as_of_position)
    if as_json:
        _json(views.floats(state, c.policy))
        return
    _print_floats(state, c)


def _print_floats(state: Projection, c: Ctx) -> None:
    table = Table("insured", "treatment", "float 预付金", "outstanding 未清算", "usage", "level", "alerts",
                  title=f"Floats 预付金 (warning ≥ {c.policy.float_warning_pct} %, emergency ≥ {c.policy.float_emergency_pct} %)")
    for row in views.float_details(state, c.policy):
        style = {"ok": "green", "warning": "yellow", "emergency": "bold red"}[row["level"]]
        usage = "" if row["usage_pct"] is None else f"{row['usage_pct']:.2f} %"
        alerts = ", ".join(f"{a['time'][:10]} {a['to_level']}" for a in row["alerts"][-3:])
        table.add_row(row["insured"], row["treatment"], _yuan(row["float_fen"]), _yuan(row["outstanding_fen"]),
                      usage, f"[{style}]{row['level']}[/]", alerts)
    out.print(table)


@app.command()
def statements(
    ctx: typer.Context,
    as_json: Json = False,
    as_of: AsOf = None,
    as_of_position: AsOfPosition = None,
) -> None:
    """Clearing statements (清分) per month and pair, outstanding or transferred."""
    state = _state(ctx.obj, as_of, as_of_position)
    if as_json:
        _json(views.statements(state))
        return
    _print_statements(state)


def _print_statements(state: Projection, period: Optional[str] = None) -> None:
    title = "Clearing statements 清算单" + (f" — {period}" if period else "")
    table = Table("period", "insured", "treatment", "amount (yuan)", "status", "issued", "transferred", title=title)
    for s in views.statement_details(state):
        if period is not None and s["period"] != period:
            continue
        style = "green" if s["status"] == "transferred" else "yellow"
        table.add_row(s["period"], s["insured"], s["treatment"], _yuan(s["amount_fen"]),
                      f"[{style}]{s['status']}[/]", s["issued_at"][:10], (s["transferred_at"] or "")[:10])
    out.print(table)


@app.command()
def investigations(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json"),
    status: Optional[str] = typer.Option(None, help="open | closed"),
) -> None:
    """The large-amount investigation queue (大额费用协查)."""
    if status not in (None, "open", "closed"):
        err.print(f"[red]--status must be open or closed, not {status!r}[/]")
        raise typer.Exit(code=2)
    state = _state(ctx.obj)
    cases = views.investigations(state, status)
    if as_json:
        _json(cases)
        return
    _print_investigations(cases)


def _print_investigations(cases: list[dict[str, Any]]) -> None:
    table = Table("setl_id", "insured", "treatment", "institution", "fees (yuan)", "opened", "status",
                  title="Large-amount investigations 大额费用协查")
    for case in cases:
        table.add_row(case["setl_id"], case["insured"], case["treatment"], case["fixmedins_code"],
                      _yuan(case["medfee_sumamt_fen"]), case["opened_at"][:10],
                      case["status"] + (f" ({case['outcome']})" if case["outcome"] else ""))
    out.print(table)


@app.command()
def payouts(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json"),
    today: Optional[str] = typer.Option(None, "--today", help="Judge overdue as of this date (default: the latest fact's day)."),
) -> None:
    """Institution payments: due after the clearing money arrives, paid, overdue."""
    c: Ctx = ctx.obj
    state = _state(c)
    try:
        day = dt.date.fromisoformat(today) if today else None
    except ValueError:
        err.print(f"[red]--today must be YYYY-MM-DD, not {today!r}[/]")
        raise typer.Exit(code=2)
    rows = views.payouts(state, c.policy, today=day)
    if as_json:
        _json(rows)
        return
    table = Table("treatment", "institution", "period", "due", "paid", "due date", "status", title="Institution payouts 机构拨付")
    for r in rows:
        table.add_row(r["treatment"], r["fixmedins_code"], r["period"], _yuan(r["due_fen"]), _yuan(r["paid_fen"]),
                      r["due_date"] or "", r["status"])
    out.print(table)


@app.command()
def summary(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Counts of facts, accounts, statements and open cases; the projection digest."""
    state = _state(ctx.obj)
    data = views.summary(state)
    data["digest"] = digest(state)
    if as_json:
        _json(data)
    else:
        for key, value in data.items():
            out.print(f"{key}: {value}")


# -- writing commands --------------------------------------------------------------------
@app.command()
def clear(
    ctx: typer.Context,
    period: str = typer.Option(..., "--period", help="The month to clear, YYYY-MM."),
    recorded_at: Optional[str] = typer.Option(None, "--recorded-at", help="Time of the clearing run (default: the first moment after the month, e.g. 2025-02-01 00:00:00 for 2025-01)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run the national clearing for a month: close it and issue one statement per active pair."""
    c: Ctx = ctx.obj
    _check_period(period)
    # The clearing run closes the month as of its end, in the ledger's own time: loading
    # last year's history today must not date last year's statements today.
    when = recorded_at or period_end(period)
    record = {"type": "clear", "recorded_at": when, "period": period}
    parsed = parse_record(record, c.policy)
    if parsed.command is None:
        _fail(parsed.errors, as_json)
    with c.backend() as backend:
        result = backend.record([(parsed.command, {"cli": "clear"})])
        outcome = result.outcomes[0]
        if outcome.status == "rejected":
            _fail(outcome.errors, as_json)
        issued = [s for s in views.statements(backend.projection()) if s["period"] == period]
    if as_json:
        _json({"status": outcome.status, "period": period, "statements": issued})
    else:
        out.print(f"{period}: {outcome.status}, {len(issued)} statements")
        for s in issued:
            out.print(f"  {s['insured']} -> {s['treatment']}: {_yuan(s['amount_fen'])} ({s['status']})")


def _fail(errors: Any, as_json: bool) -> None:
    if as_json:
        _json({"status": "rejected", "errors": [e.to_dict() for e in errors]})
    else:
        for e in errors:
            err.print(f"[red]rejected[/]: {e.field}: {e.message}")
    raise typer.Exit(code=1)


@app.command()
def replay(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print digest, counts and balances."),
    workers: int = typer.Option(2, "--workers", min=1, max=8, help="Processes folding shards of the store."),
    from_kafka: bool = typer.Option(False, "--from-kafka", help="Fold the Kafka topic from offset 0 (read_committed) instead."),
) -> None:
    """Rebuild every projection from the stored events; print its digest beside the live one."""
    c: Ctx = ctx.obj
    tune_gc_for_bulk()
    if from_kafka:
        from .cli_kafka import replay_from_kafka_command

        try:
            replay_from_kafka_command(as_json, workers=workers)
        except LookupError as exc:  # no such topic: nothing was ever relayed there
            err.print(f"[red]{exc}[/]")
            raise typer.Exit(code=1)
        return
    with c.backend() as backend:
        started = time.perf_counter()
        state = backend.replay(workers) if hasattr(backend, "replay") else fold(backend.read_facts())
        seconds = time.perf_counter() - started
        live = digest(backend.projection())
    rebuilt = digest(state)
    if as_json:
        _json({"facts": state.facts, "digest": rebuilt, "live_digest": live, "match": rebuilt == live,
               "seconds": round(seconds, 3), "balances": views.balances(state)})
    else:
        rate = state.facts / seconds if seconds > 0 else 0.0
        out.print(f"replayed {state.facts} facts in {seconds:.2f} s ({rate:,.0f} facts/s)")
        out.print(f"digest {rebuilt}")
        out.print(f"live   {live}  {'[green]match[/]' if rebuilt == live else '[red]DIFFERENT[/]'}")
    if rebuilt != live:
        raise typer.Exit(code=1)


# -- audit ------------------------------------------------------------------------------
@app.command()
def verify(
    ctx: typer.Context,
    from_kafka: bool = typer.Option(False, "--from-kafka", help="Check the Kafka topic instead of the event store."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check the whole history: hash chains, gapless positions, recorded heads."""
    from consumers.verify import verify_event_store, verify_facts
    from ledger.chain import ChainBreak

    c: Ctx = ctx.obj
    started = time.perf_counter()
    try:
        if from_kafka:
            from consumers.kafka_replay import read_topic_facts

            kafka = settings.kafka_backend()
            if kafka is None:
                err.print("[red]--from-kafka needs YIDI_KAFKA and YIDI_PG[/]")
                raise typer.Exit(code=2)
            verifier = verify_facts((((p, o), f) for p, o, f in read_topic_facts(kafka[0])))
        else:
            with c.backend_for_audit() as backend:
                recorded = backend.store.load()[0].heads if hasattr(backend, "store") else {}
                verifier = verify_event_store(backend.recorder, recorded)
    except ChainBreak as broken:
        if as_json:
            _json({"ok": False, **broken.to_dict()})
        else:
            err.print(f"[red]TAMPERED[/] at position {broken.position}, id {broken.fact_id}: {broken.problem}")
        raise typer.Exit(code=1)
    heads = {key: {"seq": seq, "hash": head} for key, (seq, head) in sorted(verifier.heads.items())}
    if as_json:
        _json({"ok": True, "facts": verifier.count, "events": verifier.last_position, "heads": heads})
    else:
        out.print(f"verified {verifier.count} facts ({verifier.last_position} events) in "
                  f"{time.perf_counter() - started:.2f} s: every chain intact")
        for key, head in heads.items():
            out.print(f"  {key:<16} seq {head['seq']:>8}  {head['hash']}")


@app.command()
def trace(
    ctx: typer.Context,
    account: str = typer.Argument(..., help="An account, e.g. 420000:payable:440000"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help=AS_OF_HELP),
    limit: int = typer.Option(1000, "--limit", min=1, max=100_000, help="Entries listed (the total covers all)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The facts and postings that make an account's balance, with their source records."""
    from projections.audit import trace as trace_account

    c: Ctx = ctx.obj
    if as_of is not None and not _valid_time(as_of):
        err.print(f"[red]--as-of must be 'YYYY-MM-DD HH:MM:SS', not {as_of!r}[/]")
        raise typer.Exit(code=2)
    with c.backend() as backend:
        facts = (f for f in backend.read_facts() if as_of is None or f["time"] <= as_of)
        result = trace_account(facts, account, limit)
    if as_json:
        _json(result)
        return
    table = Table("position", "time", "fact", "amount", "balance", "source", title=f"Trace {account}")
    for e in result["entries"]:
        src = " ".join(f"{k}={v}" for k, v in e["source"].items())
        table.add_row(str(e["position"]), e["time"], e["type"], _yuan(e["amount_fen"]), _yuan(e["balance_fen"]), src)
    out.print(table)
    out.print(f"{result['postings']} postings, balance {_yuan(result['balance_fen'])} yuan")


@app.command()
def reconcile(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A 3201 (totals) or 3202 (details) reconciliation request, JSON."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Compare an institution's or a place's totals/details (对总账/对明细账) with the ledger."""
    from projections.audit import parse_recon, reconcile as run_reconcile

    c: Ctx = ctx.obj
    try:
        raw = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        err.print(f"[red]cannot read {file}: {exc}[/]")
        raise typer.Exit(code=2)
    request, errors = parse_recon(raw if isinstance(raw, dict) else {})
    if request is None:
        _fail(errors, as_json)
        return
    with c.backend() as backend:
        result = run_reconcile(backend.read_facts(), request)
    if as_json:
        _json(result)
    else:
        out.print(f"{request.infno} {request.begin}..{request.end}: "
                  f"{'balanced' if result['balanced'] else str(len(result['differences'])) + ' differences'}")
        for d in result["differences"]:
            out.print("  " + " ".join(f"{k}={v}" for k, v in d.items()))
    if not result["balanced"]:
        raise typer.Exit(code=3)


@app.command()
def export(
    ctx: typer.Context,
    fmt: str = typer.Argument(..., help="beancount | hledger"),
    period: Optional[str] = typer.Option(None, "--period", help="Only this month (opening balances carried in)."),
    output: Path = typer.Option(Path("-"), "--out", "-o", help="Output file ('-' for standard output)."),
) -> None:
    """Write the books for accounting tools (bean-check / Fava, hledger)."""
    from projections.export import BookExport

    c: Ctx = ctx.obj
    _check_period(period)
    if fmt not in ("beancount", "hledger"):
        err.print("[red]format must be beancount or hledger[/]")
        raise typer.Exit(code=2)
    sink = sys.stdout if str(output) == "-" else open(output, "w", encoding="utf-8")
    with c.backend() as backend:
        for line in BookExport(fmt, period).lines(backend.read_facts()):
            sink.write(line + "\n")
    if sink is not sys.stdout:
        sink.close()
        err.print(f"wrote {output}")


# -- simulator and demo ------------------------------------------------------------------
@app.command()
def simulate(
    seed: int = typer.Option(1, "--seed"),
    months: int = typer.Option(2, "--months"),
    settlements: int = typer.Option(1000, "--settlements", help="Settlement records per month (about)."),
    provinces_n: int = typer.Option(6, "--provinces"),
    start: str = typer.Option("2025-01", "--start", help="First month, YYYY-MM."),
    malformed: float = typer.Option(0.0, "--malformed-share", help="Share of malformed records, e.g. 0.01."),
    output: Path = typer.Option(Path("-"), "--out", "-o", help="Output file ('-' for standard output)."),
) -> None:
    """Write a realistic record stream (JSON Lines) for a few months."""
    from .simulator import SimulationSpec, generate_lines

    spec = SimulationSpec(seed=seed, start_month=start, months=months, settlements_per_month=settlements,
                          provinces=provinces_n, malformed_share=malformed)
    sink = sys.stdout.buffer if str(output) == "-" else open(output, "wb")
    count = 0
    for line in generate_lines(spec):  # each line ends with its newline
        sink.write(line.encode())
        count += 1
    if sink is not sys.stdout.buffer:
        sink.close()
        err.print(f"wrote {count} records to {output}")


@app.command()
def demo(
    ctx: typer.Context,
    months: int = typer.Option(3, "--months"),
    settlements: int = typer.Option(400, "--settlements", help="Settlement records per month."),
    seed: int = typer.Option(7, "--seed"),
    serve: bool = typer.Option(False, "--serve", help="Leave the demo's data open in the dashboard."),
) -> None:
    """Simulate a few months and run the whole life cycle on a fresh embedded ledger."""
    from .embedded import EmbeddedBackend
    from .simulator import SimulationSpec, generate_lines

    c: Ctx = ctx.obj
    home = c.home / "demo"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    spec = SimulationSpec(seed=seed, months=months, settlements_per_month=settlements, provinces=5, malformed_share=0.01)
    path = home / "demo-records.jsonl"
    with open(path, "wb") as sink:
        for line in generate_lines(spec):
            sink.write(line.encode())
    started = time.perf_counter()
    backend = EmbeddedBackend(home, c.policy)
    rejects_path = home / "demo-records.rejects.jsonl"
    with open(rejects_path, "wb") as rejects_out, open(path, "rb") as handle:
        pipeline = Ingest(backend, path.name, lambda r: rejects_out.write(orjson.dumps(r) + b"\n"))
        for line_no, raw in enumerate(read_lines(handle), 1):
            pipeline.feed(line_no, raw)
        pipeline.flush()
    state = backend.projection()
    counts = pipeline.counts
    out.rule(f"Yidi Ledger demo 异地就医结算账本 — {months} months, seed {seed}")
    out.print(f"records: accepted {counts.accepted}, duplicates {counts.duplicates}, rejected {counts.rejected} "
              f"(see {rejects_path.name}) in {time.perf_counter() - started:.1f} s")
    _print_provinces(state)
    _print_floats(state, c)
    periods = sorted(state.periods)
    if periods:
        _print_statements(state, periods[-1])
    outstanding = [s for s in views.statements(state) if s["status"] == "outstanding"]
    out.print(f"statements: {len(state.statements)} issued for {len(periods)} months, {len(outstanding)} outstanding")
    _print_investigations(views.investigations(state)[:10])
    data = views.summary(state)
    out.print(f"facts {data['facts']}, accounts {data['accounts']}, Σ balances {data['balance_sum_fen']} fen, "
              f"digest {digest(state)[:16]}…")
    out.print(f"data: {home}  (try: yidi --data-dir {home} balances --json)")
    backend.close()
    if serve:
        from .serve import run_server

        run_server(home, c.policy, backend_factory=lambda: EmbeddedBackend(home, c.policy))


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
) -> None:
    """Serve the read API (OpenAPI at /openapi.json) and the dashboard over HTTP.

    Read-only unless YIDI_API_TOKEN is set (then POST /api/records takes a bearer token).
    """
    from .serve import run_server

    c: Ctx = ctx.obj
    run_server(c.home, c.policy, host=host, port=port)


from .cli_kafka import register  # noqa: E402 - `yidi worker` (Kafka backend)

register(app)


def run() -> None:
    app()


if __name__ == "__main__":
    run()
