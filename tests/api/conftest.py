"""Fixtures of the API tests: a demo-sized ledger per backend, and app clients over it.

Backends: ``backend_kind`` is ``embedded`` always, and ``kafka`` too when YIDI_TEST_KAFKA is
set (scripts/test sets it with YIDI_TEST_PG). The Kafka variant opens
``yidi.kafka_backend.KafkaBackend`` and fails, never skips, when that cannot be imported.
Tests that need a ledger of their own get a copy of the demo ledger (embedded) or the shared
Kafka/PostgreSQL store with fresh ids, so every assertion is about what the test recorded.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import shutil
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import warnings

import orjson
import pytest

with warnings.catch_warnings():  # starlette's TestClient announces a future move from httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from ledger.config import Policy
from yidi.api import create_app
from yidi.embedded import EmbeddedBackend
from yidi.ingest import Ingest, read_lines
from yidi.simulator import SimulationSpec, generate_lines

TOKEN = "test-" + secrets.token_hex(16)
# The demo's own spec (yidi demo): three months, five provinces, 1 % malformed lines.
DEMO_SPEC = SimulationSpec(seed=7, months=3, settlements_per_month=400, provinces=5, malformed_share=0.01)
BACKEND_KINDS = ["embedded"] + (["kafka"] if os.environ.get("YIDI_TEST_KAFKA") else [])
KAFKA_NAMESPACE = f"apitest{secrets.token_hex(4)}"


def open_backend_of(kind: str, home: Path, policy: Policy) -> Any:
    """The backend under test. ``kafka``: the Kafka + PostgreSQL backend on the test services."""
    if kind == "embedded":
        return EmbeddedBackend(home, policy)
    from yidi.kafka_backend import KafkaBackend  # an ImportError fails the test: never a silent skip

    # One topic prefix and PostgreSQL schema per test session: the demo store starts empty.
    # Its read models are projected by `yidi worker`, which must run with the same prefix and
    # schema (YIDI_TOPIC_PREFIX, YIDI_PG_SCHEMA) for catch_up() to return.
    return KafkaBackend(kafka=os.environ["YIDI_TEST_KAFKA"], dsn=os.environ["YIDI_TEST_PG"], policy=policy,
                        prefix=KAFKA_NAMESPACE + "_", schema=KAFKA_NAMESPACE)


def cli_env(kind: str) -> dict[str, str | None]:
    """Environment for running the CLI against the same backend as the app."""
    if kind == "kafka":
        return {"YIDI_KAFKA": os.environ["YIDI_TEST_KAFKA"], "YIDI_PG": os.environ["YIDI_TEST_PG"],
                "YIDI_TOPIC_PREFIX": KAFKA_NAMESPACE + "_", "YIDI_PG_SCHEMA": KAFKA_NAMESPACE}
    return {"YIDI_KAFKA": None, "YIDI_PG": None}


def ingest_lines(backend: Any, lines: Iterable[bytes]) -> dict[str, int]:
    pipeline = Ingest(backend, "demo-records.jsonl", lambda _: None)
    for line_no, raw in enumerate(lines, 1):
        pipeline.feed(line_no, raw)
    pipeline.flush()
    return pipeline.counts.to_dict()


def write_demo_records(path: Path) -> Path:
    with open(path, "wb") as sink:
        for line in generate_lines(DEMO_SPEC):
            sink.write(line.encode())
    return path


@pytest.fixture(scope="session", params=BACKEND_KINDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def demo_records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_records(tmp_path_factory.mktemp("demo-records") / "demo-records.jsonl")


@pytest.fixture(scope="session")
def kafka_worker(backend_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """For ``kafka``: a `yidi worker` (relay + processors) projecting this session's store."""
    if backend_kind != "kafka":
        yield
        return
    env = {**os.environ, **{k: v for k, v in cli_env("kafka").items() if v is not None}}
    log = open(tmp_path_factory.mktemp("worker") / "worker.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "yidi.cli", "worker"], env=env, stdout=log, stderr=log)
    try:
        yield
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory, backend_kind: str, demo_records: Path,
              kafka_worker: None) -> Path:
    """A data directory holding the demo's ledger (for ``kafka``, the services hold it)."""
    home = tmp_path_factory.mktemp(f"demo-{backend_kind}")
    backend = open_backend_of(backend_kind, home, Policy())
    try:
        with open(demo_records, "rb") as handle:
            counts = ingest_lines(backend, read_lines(handle))
        assert counts["accepted"] > 2000 and counts["rejected"] > 0, counts
        if backend_kind == "kafka":
            backend.catch_up(timeout=180)  # the worker has projected the whole demo
            assert backend.projection().facts > 2000
    finally:
        backend.close()
    return home


@pytest.fixture
def fresh_home(tmp_path: Path, backend_kind: str, demo_home: Path) -> Path:
    """A ledger this test may write to: a copy of the demo's (embedded), or the shared store."""
    if backend_kind != "embedded":
        return demo_home
    home = tmp_path / "ledger"
    shutil.copytree(demo_home, home)
    return home


AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(backend_kind: str) -> Iterator[AppFactory]:
    """make_client(home, policy=None, token=TOKEN) -> a started TestClient (closed at teardown)."""
    clients: list[TestClient] = []

    def make(home: Path, policy: Policy | None = None, token: str | None = TOKEN, **kwargs: Any) -> TestClient:
        policy = policy or Policy()
        app = create_app(lambda: open_backend_of(backend_kind, home, policy), policy, token, **kwargs)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def demo_client(backend_kind: str, demo_home: Path) -> Iterator[TestClient]:
    """A read-only client over the demo ledger (no test writes through it)."""
    policy = Policy()
    app = create_app(lambda: open_backend_of(backend_kind, demo_home, policy), policy, None)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def client(make_client: AppFactory, fresh_home: Path) -> TestClient:
    """A client with writes enabled (token TOKEN) over a ledger of this test's own."""
    return make_client(fresh_home)


def get_json(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params={k: v for k, v in params.items() if v is not None})
    assert response.status_code == 200, f"GET {path} {params}: {response.status_code} {response.text}"
    return response.json()


def get_all(client: TestClient, path: str, page_size: int = 1000, **params: Any) -> list[Any]:
    """Every item of a paged list, page by page; checks the envelope on the way."""
    items: list[Any] = []
    offset = 0
    while True:
        page = get_json(client, path, limit=page_size, offset=offset, **params)
        assert page["limit"] == page_size and page["offset"] == offset
        items.extend(page["items"])
        offset += page_size
        if offset >= page["total"]:
            assert len(items) == page["total"]
            return items


def post_records(client: TestClient, records: Any, token: str | None = TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/records", content=orjson.dumps(records), headers={**headers, "Content-Type": "application/json"})


def unique(prefix: str) -> str:
    """A fresh id (the Kafka variant's store outlives a test run)."""
    return f"{prefix}{secrets.token_hex(6).upper()}"
