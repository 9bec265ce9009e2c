"""Fixtures for the Kafka fault-injection tests (tests/faults/test_kafka_faults.py).

They kill and restart the REAL broker and server with ``scripts/services`` — so the services
are YIDI_TEST_KAFKA / YIDI_TEST_PG (scripts/test exports them after `scripts/services up`),
or, if unset, what ``scripts/services up`` starts here; never testcontainers (a container
is not what scripts/services kills). ``scripts/services`` runs with this process's
environment (YIDI_SERVICES_HOME, YIDI_KAFKA_PORT, YIDI_PG_CLUSTER, YIDI_PG_PORT ...), and
must name exactly the services under test, or the test fails before killing anything.
A missing service FAILS a test; nothing is skipped.

The harness itself is bench/faults_kafka.py (the long run is the same code), loaded here.
Stacks (topic prefix + schema) and helpers come from tests/integration/conftest.py.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest

from tests.integration.conftest import Services, Stack, _drop, _from_scripts, _wait_ready, new_stack

ROOT = Path(__file__).resolve().parents[2]


def load_harness() -> ModuleType:
    name = "bench_faults_kafka"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "faults_kafka.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec: dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def harness() -> ModuleType:
    return load_harness()


@pytest.fixture(scope="session")
def fault_services(harness: ModuleType) -> Iterator[Services]:
    if os.environ.get("YIDI_TEST_KAFKA") and os.environ.get("YIDI_TEST_PG"):
        found = Services(os.environ["YIDI_TEST_KAFKA"], os.environ["YIDI_TEST_PG"], "YIDI_TEST_*")
    else:
        found = _from_scripts()
    killable = harness.Services(found.kafka, found.pg)
    killable.check_managed()  # fails (never skips) if scripts/services manages something else
    errors = killable.restore()  # a previous run may have left one down
    if errors:
        pytest.fail(f"cannot start the services under test: {errors}")
    _wait_ready(found)
    yield found
    errors = killable.restore()
    if errors:
        pytest.fail(f"the services under test could not be started again: {errors}")


@pytest.fixture
def fault_stack(fault_services: Services, tmp_path: Path) -> Iterator[Stack]:
    s = new_stack(fault_services, tmp_path)
    yield s
    _drop(s)
