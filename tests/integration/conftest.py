"""Fixtures for the Kafka + PostgreSQL integration tests: REAL servers, never mocks.

Where the services come from, in order:
  1. a Docker engine (``docker info`` succeeds): testcontainers' Kafka and PostgreSQL;
  2. YIDI_TEST_KAFKA / YIDI_TEST_PG (scripts/test exports them after `scripts/services up`);
  3. otherwise ``scripts/services up`` is run here and its export lines are read.
A test that needs a service FAILS when none can be had; it is never skipped.

Each test gets its own topic prefix (YIDI_TOPIC_PREFIX) and PostgreSQL schema
(YIDI_PG_SCHEMA), so tests never see each other's events; both are deleted afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass
class Services:
    kafka: str
    pg: str
    origin: str
    _containers: list[Any] = field(default_factory=list)


def _from_testcontainers() -> Services:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    kafka = KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft()
    kafka.with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
    kafka.with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
    kafka.with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
    kafka.start()
    pg = PostgresContainer("postgres:15", username="yidi", password="yidi", dbname="yidi")
    pg.start()
    url = pg.get_connection_url(driver=None)
    return Services(kafka.get_bootstrap_server(), url, "testcontainers", [kafka, pg])


def _from_scripts() -> Services:
    run = subprocess.run([str(ROOT / "scripts" / "services"), "up"], capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        pytest.fail(f"scripts/services up failed ({run.returncode}):\n{run.stderr[-3000:]}")
    values = dict(re.findall(r"^export (YIDI_KAFKA|YIDI_PG)=(\S+)$", run.stdout, re.M))
    if set(values) != {"YIDI_KAFKA", "YIDI_PG"}:
        pytest.fail(f"scripts/services up printed no export lines:\n{run.stdout}")
    return Services(values["YIDI_KAFKA"], values["YIDI_PG"], "scripts/services")


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    if _docker_engine():
        found = _from_testcontainers()
    elif os.environ.get("YIDI_TEST_KAFKA") and os.environ.get("YIDI_TEST_PG"):
        found = Services(os.environ["YIDI_TEST_KAFKA"], os.environ["YIDI_TEST_PG"], "YIDI_TEST_*")
    else:
        found = _from_scripts()
    _wait_ready(found)
    yield found
    for container in found._containers:
        container.stop()


def _wait_ready(s: Services, timeout: float = 90) -> None:
    import psycopg2
    from kafka.admin import KafkaAdminClient

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            psycopg2.connect(s.pg, connect_timeout=5).close()
            KafkaAdminClient(bootstrap_servers=s.kafka, request_timeout_ms=10_000).close()
            return
        except Exception as exc:  # noqa: BLE001
            last = exc
            time.sleep(1)
    pytest.fail(f"services from {s.origin} not reachable ({s.kafka}, {s.pg}): {last!r}")


@dataclass
class Stack:
    """One isolated ledger on the shared servers: its own topics and schema."""

    services: Services
    prefix: str
    schema: str
    home: Path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("YIDI_")}
        env.update({
            "YIDI_KAFKA": self.services.kafka, "YIDI_PG": self.services.pg,
            "YIDI_TOPIC_PREFIX": self.prefix, "YIDI_PG_SCHEMA": self.schema,
            "YIDI_HOME": str(self.home), "YIDI_CATCH_UP_TIMEOUT": "120",
            "PYTHONPATH": str(ROOT),
        })
        return env

    def yidi(self, *args: str, timeout: float = 300, env: dict[str, str] | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
        run = subprocess.run([sys.executable, "-m", "yidi.cli", *args], capture_output=True, text=True,
                             timeout=timeout, env={**self.env, **(env or {})}, cwd=str(self.home))
        if check and run.returncode != 0:
            raise AssertionError(f"yidi {' '.join(args)} exited {run.returncode}:\n{run.stderr[-4000:]}")
        return run

    def yidi_json(self, *args: str, **kwargs: Any) -> Any:
        return orjson.loads(self.yidi(*args, **kwargs).stdout)

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.home / f"worker-{time.monotonic_ns()}.log", "wb")
        return subprocess.Popen([sys.executable, "-m", "yidi.cli", *args], env={**self.env, **(env or {})},
                                stdout=log, stderr=subprocess.STDOUT, cwd=str(self.home))

    def use_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for k, v in self.env.items():
            if k.startswith("YIDI_"):
                monkeypatch.setenv(k, v)


def _drop(stack: Stack) -> None:
    import psycopg2
    from kafka.admin import KafkaAdminClient

    try:
        conn = psycopg2.connect(stack.services.pg)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{stack.schema}" CASCADE')
        conn.close()
    except Exception:  # noqa: BLE001 - cleanup only
        pass
    try:
        admin = KafkaAdminClient(bootstrap_servers=stack.services.kafka)
        mine = [t for t in admin.list_topics() if t.startswith(stack.prefix)]
        if mine:
            admin.delete_topics(mine)
        admin.close()
    except Exception:  # noqa: BLE001
        pass


def new_stack(services: Services, base: Path) -> Stack:
    tag = uuid.uuid4().hex[:10]
    home = base / f"kafka-{tag}"
    home.mkdir(parents=True)
    return Stack(services, f"t{tag}.", f"t_{tag}", home)


@pytest.fixture
def stack(services: Services, tmp_path: Path) -> Iterator[Stack]:
    s = new_stack(services, tmp_path)
    yield s
    _drop(s)


@pytest.fixture(scope="module")
def module_stack(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = new_stack(services, tmp_path_factory.mktemp("module"))
    yield s
    _drop(s)


def embedded(tmp: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
    """Run `yidi` on the embedded backend (YIDI_KAFKA/YIDI_PG unset) with data in ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIDI_")}
    env.update({"YIDI_HOME": str(tmp), "PYTHONPATH": str(ROOT)})
    run = subprocess.run([sys.executable, "-m", "yidi.cli", *args], capture_output=True, text=True,
                         timeout=kwargs.get("timeout", 300), env=env, cwd=str(tmp))
    if run.returncode != 0:
        raise AssertionError(f"embedded yidi {' '.join(args)} exited {run.returncode}:\n{run.stderr[-4000:]}")
    return run


def simulate(path: Path, seed: int = 3, months: int = 1, settlements: int = 3000, malformed: float = 0.01) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIDI_")}
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run([sys.executable, "-m", "yidi.cli", "simulate", "--seed", str(seed), "--months", str(months),
                    "--settlements", str(settlements), "--provinces", "6", "--malformed-share", str(malformed),
                    "--out", str(path)], check=True, capture_output=True, env=env, timeout=120)
    return path
