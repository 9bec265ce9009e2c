#!/usr/bin/env python3
"""Write docs/schemas/<type>.v<v>.json: one JSON Schema (draft 2020-12) per event type and
version, derived from the fact dataclasses of ledger/events.py (and the processors' alert).

    python scripts/gen_schemas.py          # (re)write the files
    python scripts/gen_schemas.py --check  # exit 1 if a file is missing or differs

The schema is the Kafka message value: the fact body as stored (envelope ``type``, ``v``,
``key``, ``time``, the fields, the chain fields ``seq``, ``prev``, ``hash``, ``id``) plus
``position``. ``additionalProperties`` is false: a new field is a new schema version (or a
regenerated file, reviewed), never a silent change. tests/unit/test_schemas.py validates
every event the simulator produces against these files.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consumers import topics  # noqa: E402
from consumers.faust_processor import ALERT_TYPE, ALERT_VERSION  # noqa: E402
from ledger.events import FACT_TYPES, Fact, field_names  # noqa: E402

OUT = ROOT / "docs" / "schemas"
TIME = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
HEX64 = "^[0-9a-f]{64}$"
CODE = r"^\d{6}$"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

DESCRIPTIONS = {
    "insured": "insured place (参保地): province code, or city code for an intra-province pair",
    "treatment": "treatment place (就医地): province code, or city code for an intra-province pair",
    "period": "clearing month, YYYY-MM",
    "source": "where the record came from: {file, line} or {api: ...}",
    "record": "the platform record as accepted, amounts in fen",
}


def _json_type(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        non_null = [a for a in args if a is not type(None)]
        inner = _json_type(non_null[0]) if len(non_null) == 1 else {}
        if type(None) in args:
            if "type" in inner and isinstance(inner["type"], str):
                inner = dict(inner, type=[inner["type"], "null"])
            else:
                inner = {"anyOf": [inner, {"type": "null"}]}
        return inner
    if hint is str:
        return {"type": "string"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if origin is dict:
        _, value = typing.get_args(hint)
        if value is int:
            return {"type": "object", "additionalProperties": {"type": "integer"}}
        return {"type": "object"}
    if origin is list:
        return {"type": "array"}
    return {}


def fact_schema(cls: type[Fact]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {
        "type": {"const": cls.TYPE},
        "v": {"const": cls.VERSION},
        "key": {"type": "string", "minLength": 1,
                "description": "stream key = Kafka message key: 'insured>treatment', a treatment place, or '*'"},
        "time": {"type": "string", "pattern": TIME, "description": "the record's own time, Beijing (UTC+8)"},
    }
    for name in field_names(cls):
        if name in properties:
            continue
        schema = _json_type(hints[name])
        if name.endswith("_fen") and schema.get("type") == "integer":
            schema = dict(schema, description="amount in fen (integer)")
        if name in ("insured", "treatment"):
            schema = dict(schema, pattern=CODE)
        if name in DESCRIPTIONS:
            schema = dict(schema, description=DESCRIPTIONS[name])
        properties[name] = schema
    properties.update({
        "seq": {"type": "integer", "minimum": 1, "description": "1, 2, ... within the key"},
        "prev": {"type": "string", "pattern": HEX64, "description": "hash of the key's previous fact (64 zeros first)"},
        "hash": {"type": "string", "pattern": HEX64, "description": "sha256(prev || canonical JSON of the fact)"},
        "id": {"type": "string", "description": "'<key>/<seq>': the CloudEvents ce_id, for deduplication"},
        "position": {"type": "integer", "minimum": 1, "description": "event-store notification id (Kafka messages only)"},
    })
    required = [n for n in properties if n != "position"]
    return {
        "$schema": DRAFT,
        "$id": topics.schema_url(cls.TYPE, cls.VERSION),
        "title": f"{cls.TYPE} v{cls.VERSION}",
        "description": (cls.__doc__ or cls.TYPE).strip().splitlines()[0]
        + f" CloudEvents type {topics.ce_type(cls.TYPE, cls.VERSION)}.",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def alert_schema() -> dict[str, Any]:
    level = {"enum": ["ok", "warning", "emergency"]}
    return {
        "$schema": DRAFT,
        "$id": topics.schema_url(ALERT_TYPE, ALERT_VERSION),
        "title": f"{ALERT_TYPE} v{ALERT_VERSION}",
        "description": "A pair's float usage level changed (topic yidi.alerts, derived by the faust processors). "
                       f"CloudEvents type {topics.ce_type(ALERT_TYPE, ALERT_VERSION)}.",
        "type": "object",
        "properties": {
            "type": {"const": ALERT_TYPE}, "v": {"const": ALERT_VERSION},
            "id": {"type": "string", "description": "'<pair>/<seq of the fact that caused it>': deduplicate by it"},
            "key": {"type": "string", "pattern": r"^\d{6}>\d{6}$"},
            "time": {"type": "string", "pattern": TIME},
            "insured": {"type": "string", "pattern": CODE}, "treatment": {"type": "string", "pattern": CODE},
            "from_level": level, "to_level": level,
            "float_fen": {"type": "integer"}, "outstanding_fen": {"type": "integer"},
            "usage_bp": {"type": ["integer", "null"], "description": "usage in basis points (1/100 %)"},
            "warning_pct": {"type": "integer"}, "emergency_pct": {"type": "integer"},
            "cause": {"type": "object", "properties": {
                "id": {"type": "string"}, "type": {"type": "string"}, "position": {"type": "integer"}},
                "required": ["id", "type", "position"], "additionalProperties": False},
        },
        "required": ["type", "v", "id", "key", "time", "insured", "treatment", "from_level", "to_level",
                     "float_fen", "outstanding_fen", "usage_bp", "warning_pct", "emergency_pct", "cause"],
        "additionalProperties": False,
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    out = {topics.schema_file(cls.TYPE, cls.VERSION): fact_schema(cls) for cls in FACT_TYPES.values()}
    out[topics.schema_file(ALERT_TYPE, ALERT_VERSION)] = alert_schema()
    return out


def render(schema: dict[str, Any]) -> bytes:
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2) + b"\n"


def main() -> int:
    check = "--check" in sys.argv[1:]
    OUT.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, schema in sorted(all_schemas().items()):
        path = OUT / name
        data = render(schema)
        if check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(name)
        else:
            path.write_bytes(data)
    if check and stale:
        print("stale or missing schemas (run scripts/gen_schemas.py):", ", ".join(stale), file=sys.stderr)
        return 1
    if not check:
        print(f"wrote {len(all_schemas())} schemas to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
