"""Tamper evidence: each fact is chained to the previous fact of its key.

One chain per key (a pair, a treatment place, the clearing calendar) because the key is
what Kafka orders: a partition keeps the order of a key, not across keys, so a per-key
chain can be checked on the embedded store, on PostgreSQL and on Kafka alike.

    hash = sha256(prev_hash || canonical_json(body without seq/prev/hash/id))

``canonical_json`` is orjson with sorted keys: deterministic across runs and machines.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

import orjson

from .events import CHAIN_FIELDS

GENESIS = "0" * 64


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def fact_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    content = {k: v for k, v in body.items() if k not in CHAIN_FIELDS}
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(content)).hexdigest()


def chain(body: dict[str, Any], seq: int, prev_hash: str) -> dict[str, Any]:
    """Add the chain fields to a fresh ``body`` (one without them): seq, prev, hash, id."""
    assert "hash" not in body, "a body is chained once"
    digest = hashlib.sha256(prev_hash.encode("ascii") + canonical(body)).hexdigest()
    body["seq"] = seq
    body["prev"] = prev_hash
    body["hash"] = digest
    body["id"] = f"{body['key']}/{seq}"
    return body
