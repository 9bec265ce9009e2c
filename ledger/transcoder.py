"""orjson transcoder for the event store: fast, and the stored state stays plain JSON.

Stored event state is JSON a person (or kcat, or psql) can read. The library's own event
attributes (``timestamp``) and snapshot metadata are turned back into their types here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from eventsourcing.persistence import Transcoder

_DATETIME_KEYS = ("timestamp", "_created_on", "_modified_on")


def _default(obj: Any) -> Any:
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return sorted(obj)
    raise TypeError(f"cannot store {type(obj).__name__}")


def _revive(data: dict[str, Any]) -> None:
    for key in _DATETIME_KEYS:
        value = data.get(key)
        if isinstance(value, str):
            data[key] = dt.datetime.fromisoformat(value)


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj, default=_default)

    def decode(self, data: bytes) -> Any:
        value = orjson.loads(data)
        if isinstance(value, dict):
            _revive(value)
            state = value.get("state")
            if isinstance(state, dict):
                _revive(state)
        return value
