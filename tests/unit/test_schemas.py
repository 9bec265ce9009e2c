"""docs/schemas: one JSON Schema per event type and version, checked against every fact the
simulator produces (as stored, and as published on Kafka with ``position``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from consumers import topics
from consumers.faust_processor import ALERT_TYPE, ALERT_VERSION, BatchFolder, Message
from ledger.config import Policy
from ledger.events import FACT_TYPES
from tests.helpers import ingest, investigation_close, ledger_with
from yidi.simulator import SimulationSpec, generate

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"


def load(kind: str, version: int) -> dict:
    return json.loads((SCHEMAS / topics.schema_file(kind, version)).read_text())


def validator(kind: str, version: int) -> jsonschema.Draft202012Validator:
    schema = load(kind, version)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_every_fact_type_has_a_schema_whose_id_is_its_dataschema_url():
    for kind, cls in FACT_TYPES.items():
        schema = load(kind, cls.VERSION)
        assert schema["$id"] == topics.schema_url(kind, cls.VERSION) == (
            f"https://yidi-ledger.org/schemas/{kind}/v{cls.VERSION}.json")
        assert schema["properties"]["type"] == {"const": kind}
    assert load(ALERT_TYPE, ALERT_VERSION)["$id"] == topics.schema_url(ALERT_TYPE, ALERT_VERSION)


def test_schema_files_are_what_the_generator_writes():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_schemas.py"), "--check"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.fixture(scope="module")
def simulated_facts(tmp_path_factory) -> list[dict]:
    backend = ledger_with(tmp_path_factory.mktemp("schemas"))
    spec = SimulationSpec(seed=5, months=3, settlements_per_month=700, provinces=5, malformed_share=0.01)
    counts, _ = ingest(backend, generate(spec))
    assert counts["accepted"] > 2000 and counts["rejected"] > 0 and counts["duplicates"] > 0
    # the simulator never closes an investigation: close one, so that every type is covered
    opened = next(f for f in backend.read_facts() if f["type"] == "investigation.opened")
    closed, _ = ingest(backend, [investigation_close(opened["setl_id"], recorded_at="2025-04-10 10:00:00")])
    assert closed["accepted"] == 1
    facts = list(backend.read_facts())
    backend.close()
    return facts


def test_every_simulated_fact_validates_as_stored_and_as_published(simulated_facts):
    validators = {kind: validator(kind, cls.VERSION) for kind, cls in FACT_TYPES.items()}
    seen = Counter()
    for fact in simulated_facts:
        stored = {k: v for k, v in fact.items() if k != "position"}
        validators[fact["type"]].validate(stored)
        key, value, headers = topics.encode(stored, fact["position"])
        published = json.loads(value)
        validators[fact["type"]].validate(published)
        h = dict((k, v.decode()) for k, v in headers)
        assert h["ce_dataschema"] == load(fact["type"], fact["v"])["$id"]
        assert key.decode() == published["key"] and h["ce_id"] == published["id"]
        seen[fact["type"]] += 1
    # the simulator exercises every fact type the ledger has
    assert set(seen) == set(FACT_TYPES), set(FACT_TYPES) - set(seen)


def test_a_fact_with_an_unknown_field_or_a_float_amount_is_invalid(simulated_facts):
    fact = next(f for f in simulated_facts if f["type"] == "settlement.recorded")
    v = validator("settlement.recorded", 1)
    with pytest.raises(jsonschema.ValidationError):
        v.validate(dict(fact, surprise=1))
    with pytest.raises(jsonschema.ValidationError):
        v.validate(dict(fact, owed_fen=12.5))
    with pytest.raises(jsonschema.ValidationError):
        v.validate({k: x for k, x in fact.items() if k != "hash"})


class _NoStore:
    def load(self, partitions):
        return {}


def test_the_processors_alerts_validate(simulated_facts):
    folder = BatchFolder(_NoStore(), Policy())  # type: ignore[arg-type]
    offsets: Counter = Counter()
    messages = []
    for fact in simulated_facts:
        p = topics.partition_for(fact["key"])
        messages.append(Message(p, offsets[p], topics.encode(fact, fact["position"])[1]))
        offsets[p] += 1
    _, result = folder.fold(messages)
    assert result.folded == len(simulated_facts)
    assert result.alerts, "the simulated floats cross 70 % / 90 %"
    v = validator(ALERT_TYPE, ALERT_VERSION)
    for alert in result.alerts:
        v.validate(alert)
    # one alert per level change the ledger itself recorded (same default thresholds)
    recorded = [f for f in simulated_facts if f["type"] == "float.alert"]
    assert sorted((a["key"], a["to_level"]) for a in result.alerts) == sorted(
        (f["key"], f["to_level"]) for f in recorded)
