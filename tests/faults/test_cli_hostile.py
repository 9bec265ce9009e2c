"""Hostile arguments to every CLI entry point: a clear message and exit code, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests import helpers as h
from yidi.cli import app

RUNNER = CliRunner()
COMMANDS: list[list[str]] = [
    ["balances", "--json", "--as-of"], ["balances", "--as-of-position"], ["floats", "--as-of"],
    ["statements", "--as-of"], ["clear", "--period"], ["clear", "--period", "2025-01", "--recorded-at"],
    ["trace"], ["trace", "420000:treasury", "--as-of"], ["payouts", "--today"], ["export"],
    ["export", "beancount", "--period"], ["investigations", "--status"], ["reconcile"], ["ingest"],
]
NASTY = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "-1", "2025-13", "2025-01-01", "9" * 30, "2025-02-30 10:00:00", "../../etc/passwd",
                     "\x00", "-", "--json", "NaN", "1e309", "２０２５-01", "2025-01\n"]),
)


def _ledger(tmp_path: Path) -> Path:
    backend = h.ledger_with(tmp_path)
    h.ingest(backend, [h.filing(), h.prepayment(), h.settlement(), h.clear("2025-01")])
    backend.close()
    return backend.home


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(COMMANDS), value=NASTY)
def test_hostile_arguments_never_raise(tmp_path_factory: Any, command: list[str], value: str) -> None:
    home = _ledger(tmp_path_factory.mktemp("cli"))
    result = RUNNER.invoke(app, ["--data-dir", str(home), *command, value], catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        command, value, repr(result.exception), result.output[-500:])
    assert result.exit_code in (0, 1, 2, 3), (command, value, result.exit_code, result.output[-500:])
    assert "Traceback" not in result.output
