"""`yidi worker` and `yidi replay --from-kafka`: the Kafka backend's processes.

    yidi worker                      the relay (a child process) and the faust processors
    yidi worker --relay-only         event store → Kafka only
    yidi worker --processors-only    Kafka → read models only
    ... --until-caught-up            exit 0 once everything recorded has been projected
                                     (relay: published; processors: folded and saved)

Both need YIDI_KAFKA and YIDI_PG (and honour YIDI_TOPIC_PREFIX, YIDI_PG_SCHEMA). Registered
on the main CLI by ``register(app)``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from typing import Any

import orjson
import typer

from . import settings

log = logging.getLogger("yidi.worker")
PR_SET_PDEATHSIG = 1


def _services() -> tuple[str, str]:
    selected = settings.kafka_backend()
    if selected is None:
        typer.echo("yidi worker needs YIDI_KAFKA and YIDI_PG (e.g. eval \"$(scripts/services env)\")", err=True)
        raise typer.Exit(code=2)
    return selected


def _die_with_parent() -> None:
    """In the relay child: get SIGTERM when the parent worker dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="[%(asctime)s] %(name)s %(levelname)s %(message)s")
    logging.getLogger("yidi").setLevel(logging.INFO)
    for noisy in ("kafka", "aiokafka", "faust", "mode"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)


def worker(
    ctx: typer.Context,
    until_caught_up: bool = typer.Option(False, "--until-caught-up", help="Exit once everything recorded has been projected."),
    relay_only: bool = typer.Option(False, "--relay-only", help="Run only the relay (event store → Kafka)."),
    processors_only: bool = typer.Option(False, "--processors-only", help="Run only the faust processors (Kafka → read models)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at INFO level."),
) -> None:
    """Run the Kafka backend's relay and faust processors (needs YIDI_KAFKA and YIDI_PG)."""
    if relay_only and processors_only:
        typer.echo("--relay-only and --processors-only exclude each other", err=True)
        raise typer.Exit(code=2)
    kafka, dsn = _services()
    _logging(verbose)
    if relay_only:
        from consumers.relay import run_relay

        raise typer.Exit(code=run_relay(kafka, dsn, until_caught_up=until_caught_up))

    from consumers.faust_app import run_worker
    from consumers.relay import pg_schema

    policy = ctx.obj.policy
    child = None
    if not processors_only:
        args = [sys.executable, "-m", "yidi.cli", "worker", "--relay-only"]
        if until_caught_up:
            args.append("--until-caught-up")
        if verbose:
            args.append("--verbose")
        child = subprocess.Popen(args, preexec_fn=_die_with_parent)
    code = 0
    try:
        code = run_worker(kafka, dsn, policy, schema=pg_schema(), until_caught_up=until_caught_up,
                          loglevel="info" if verbose else "warning")
    finally:
        if child is not None:
            if not until_caught_up and child.poll() is None:
                child.send_signal(signal.SIGTERM)
            try:
                child_code = child.wait(timeout=120)
            except subprocess.TimeoutExpired:
                child.kill()
                child_code = child.wait()
            code = code or child_code
    raise typer.Exit(code=code)


def replay_from_kafka_command(as_json: bool, prefix: str | None = None, workers: int | None = None) -> dict[str, Any]:
    """`yidi replay --from-kafka`: fold every committed fact of yidi.facts from offset 0 and
    print the digest (and, with --json, the balances). Returns what it printed."""
    from consumers.kafka_replay import replay_from_kafka
    from projections import views
    from projections.fold import digest

    selected = settings.kafka_backend()
    kafka = selected[0] if selected else os.environ.get("YIDI_KAFKA")
    if not kafka:
        typer.echo("yidi replay --from-kafka needs YIDI_KAFKA", err=True)
        raise typer.Exit(code=2)
    started = time.perf_counter()
    state = replay_from_kafka(kafka, prefix, workers=workers)
    seconds = time.perf_counter() - started
    result = {"source": "kafka", "facts": state.facts, "digest": digest(state), "seconds": round(seconds, 3),
              "facts_per_s": round(state.facts / seconds) if seconds > 0 else None}
    if as_json:
        result["balances"] = views.balances(state)
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(f"replayed {state.facts} facts from Kafka in {seconds:.2f} s "
                         f"({result['facts_per_s'] or 0:,} facts/s)\ndigest {result['digest']}\n")
    return result


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
