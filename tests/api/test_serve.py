"""`yidi serve`, `yidi demo --serve` and the server's configuration from the environment."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ledger.config import Policy
from yidi import cli, serve
from yidi.api import create_app


def test_token_and_poll_interval_come_from_the_environment() -> None:
    assert serve.api_token({}) is None and serve.api_token({"YIDI_API_TOKEN": ""}) is None
    assert serve.api_token({"YIDI_API_TOKEN": "s3cret"}) == "s3cret"
    assert serve.poll_ms({}) == 2000 and serve.poll_ms({"YIDI_DASHBOARD_POLL_MS": "5000"}) == 5000
    with pytest.raises(ValueError, match="YIDI_DASHBOARD_POLL_MS"):
        serve.poll_ms({"YIDI_DASHBOARD_POLL_MS": "10"})


def test_demo_serve_leaves_the_demo_ledger_open(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    served: dict[str, Any] = {}

    def fake_run_server(home: Path, policy: Policy, **kwargs: Any) -> None:
        served.update(home=home, policy=policy, **kwargs)

    monkeypatch.setattr(serve, "run_server", fake_run_server)
    result = CliRunner().invoke(cli.app, ["--data-dir", str(tmp_path), "demo", "--serve", "--months", "2",
                                          "--settlements", "100"], env={"YIDI_KAFKA": None, "YIDI_PG": None})
    assert result.exit_code == 0, result.output
    assert served["home"] == tmp_path / "demo"
    app = create_app(served["backend_factory"], served["policy"], None)
    with TestClient(app) as client:
        summary = client.get("/api/summary").json()
        assert summary["facts"] > 100 and f"facts {summary['facts']}," in result.output
        assert client.get("/api/health").json()["backend"] == "embedded"
        assert client.get("/").status_code == 200


def test_yidi_serve_answers_on_its_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real thing: `yidi serve` (uvicorn) on a free loopback port, stopped by the test."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    servers: list[uvicorn.Server] = []
    original = uvicorn.Server.run

    def remember(self: uvicorn.Server, *args: Any, **kwargs: Any) -> None:
        servers.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(uvicorn.Server, "run", remember)
    monkeypatch.delenv("YIDI_KAFKA", raising=False)
    monkeypatch.delenv("YIDI_PG", raising=False)
    monkeypatch.setenv("YIDI_API_TOKEN", "t0ken")
    thread = threading.Thread(target=CliRunner().invoke, args=(cli.app, ["--data-dir", str(tmp_path), "serve",
                                                                         "--port", str(port)]), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/meta", timeout=2) as response:
                meta = orjson.loads(response.read())
            break
        except OSError:
            assert time.monotonic() < deadline, "yidi serve did not answer"
            time.sleep(0.1)
    assert meta["writes_enabled"] is True and meta["backend"] == "embedded"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=5) as response:
        assert "/api/records" in orjson.loads(response.read())["paths"]
    servers[0].should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive()


class LaggingBackend:
    """An embedded backend whose catch_up behaves like the Kafka backend's when its worker lags."""

    def __init__(self, home: Path) -> None:
        from yidi.embedded import EmbeddedBackend

        self.inner = EmbeddedBackend(home, Policy())
        self.name = "lagging"
        self.policy = self.inner.policy
        self.waits: list[float] = []
        self.lag = True

    def catch_up(self, timeout: float | None = None) -> int:
        self.waits.append(timeout if timeout is not None else -1.0)
        if self.lag:
            raise TimeoutError("read models not caught up after 2 s: is `yidi worker` running?")
        return self.inner.catch_up()

    def projection(self) -> Any:
        return self.inner.projection()

    def record(self, items: Any) -> Any:
        return self.inner.record(items)

    def close(self) -> None:
        self.inner.close()


def test_a_lagging_backend_is_read_as_it_is_and_reported(tmp_path: Path) -> None:
    backends: list[LaggingBackend] = []

    def factory() -> LaggingBackend:
        backends.append(LaggingBackend(tmp_path))
        return backends[-1]

    with TestClient(create_app(factory, Policy(), None, refresh_seconds=0.0)) as client:
        assert client.get("/api/balances").json() == {}
        health = client.get("/api/health").json()
        assert health["status"] == "lagging" and "yidi worker" in health["lagging"]
        assert set(backends[0].waits) == {2.0}  # a bounded wait, never the backend's long default
        backends[0].lag = False
        assert client.get("/api/health").json()["status"] == "ok"
