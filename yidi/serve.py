"""Serve the read API and the dashboard with uvicorn: ``yidi serve`` and ``yidi demo --serve``.

    YIDI_API_TOKEN               enables POST /api/records (Authorization: Bearer <token>);
                                 unset or empty: read-only
    YIDI_DASHBOARD_POLL_MS       how often the dashboard pages poll the API (default 2000)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

from ledger.config import Policy

from .api import POLL_MS_DEFAULT, create_app
from .bootstrap import open_backend

POLL_MS_MIN = 250
POLL_MS_MAX = 600_000


def api_token(env: Mapping[str, str] = os.environ) -> str | None:
    return env.get("YIDI_API_TOKEN") or None


def poll_ms(env: Mapping[str, str] = os.environ) -> int:
    raw = env.get("YIDI_DASHBOARD_POLL_MS")
    if not raw:
        return POLL_MS_DEFAULT
    value = int(raw)
    if not POLL_MS_MIN <= value <= POLL_MS_MAX:
        raise ValueError(f"YIDI_DASHBOARD_POLL_MS must be within {POLL_MS_MIN}..{POLL_MS_MAX}")
    return value


def run_server(
    home: Path, policy: Policy, host: str = "127.0.0.1", port: int = 8000,
    backend_factory: Callable[[], Any] | None = None,
) -> None:
    """Serve the ledger in ``home`` (or the Kafka backend when YIDI_KAFKA/YIDI_PG are set;
    ``backend_factory`` overrides the choice) until interrupted. The backend is opened at
    startup and closed at shutdown."""
    import uvicorn

    token = api_token()
    factory = backend_factory or (lambda: open_backend(home, policy))
    app = create_app(factory, policy, token, poll_ms=poll_ms())
    print(f"Yidi Ledger dashboard: http://{host}:{port}/   API: http://{host}:{port}/docs   "
          f"writes {'enabled (bearer token)' if token else 'disabled'}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
