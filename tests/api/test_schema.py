"""Property test against the published OpenAPI spec (schemathesis): for every operation,
generated requests (valid and invalid) never get a 5xx, and every answer conforms to the
spec (status code, content type, body schema). Runs in-process against the ASGI app, on a
copy of the demo ledger, with writes enabled (the bearer token is sent)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from ledger.config import Policy
from yidi.api import create_app

from .conftest import TOKEN, open_backend_of

EXAMPLES_PER_OPERATION = 25
# Also: a request the spec forbids is refused (4xx), never answered as if it were valid.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]


# The spec does not depend on data: load it once, from an app that never starts.
SPEC = create_app(lambda: None, Policy(), TOKEN).openapi()
schema = schemathesis.openapi.from_dict(SPEC)


@pytest.fixture(scope="module")
def asgi_client(backend_kind: str, demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An in-process client of the app over a copy of the demo ledger; the app's lifespan
    (backend open) starts with the client and ends at teardown (backend closed)."""
    home = demo_home
    if backend_kind == "embedded":
        home = tmp_path_factory.mktemp("schema") / "ledger"
        shutil.copytree(demo_home, home)
    policy = Policy()
    app = create_app(lambda: open_backend_of(backend_kind, home, policy), policy, TOKEN)
    assert app.openapi() == SPEC
    with asgi.get_client(app) as client:  # type: ignore[arg-type]
        yield client
    asgi.shutdown_lifespans()


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_generated_request_gets_a_server_error(case: Any, asgi_client: Any) -> None:
    case.call_and_validate(session=asgi_client, base_url=f"http://{asgi.HOST}",
                           headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)
