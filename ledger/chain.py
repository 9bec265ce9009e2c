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


class ChainBreak(Exception):
    """The first place where a history does not verify."""

    def __init__(self, position: int | None, fact_id: str | None, key: str | None, problem: str) -> None:
        super().__init__(f"position {position}, id {fact_id}: {problem}")
        self.position = position
        self.fact_id = fact_id
        self.key = key
        self.problem = problem

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "id": self.fact_id, "key": self.key, "problem": self.problem}


class ChainVerifier:
    """Checks facts one by one, in position order; raises ``ChainBreak`` at the first fault.

    Detects an edited fact (its hash), a dropped or inserted fact (the key's seq and prev
    hash no longer follow), a reordered pair (seq goes backwards), and, with ``finish``
    against the recorded heads, a truncated tail.
    """

    def __init__(self, recorded_heads: Mapping[str, Any] | None = None) -> None:
        self.heads: dict[str, tuple[int, str]] = {}  # key -> (seq, hash)
        self.count = 0
        self.last_position = 0
        # Heads recorded elsewhere (the projection store): the log must reach them.
        self.recorded = {k: (int(v[0]), str(v[1])) for k, v in (recorded_heads or {}).items()}

    def check_position(self, position: int, fact_id: str | None = None, gapless: bool = True) -> None:
        """Every event of the log, facts and index entries: positions are gapless (or, with
        ``gapless=False``, at least increasing: see consumers.verify)."""
        if position != self.last_position + 1 and (gapless or position <= self.last_position):
            what = "missing" if position > self.last_position + 1 else "repeated"
            raise ChainBreak(position, fact_id, None,
                             f"position {position} follows {self.last_position}: events {what} in the log")
        self.last_position = position

    def check_head(self, key: str, seq: int, head: str, position: int | None = None) -> None:
        """A head recorded in the log itself (the write side's tally) must match the chain."""
        if self.heads.get(key, (0, GENESIS)) != (seq, head):
            raise ChainBreak(position, f"{key}/{seq}", key,
                             f"the head recorded for key {key} (seq {seq}) does not match the facts before it")

    def check(self, fact: Mapping[str, Any], position: int | None = None) -> None:
        key = fact.get("key")
        fact_id = fact.get("id")
        if not isinstance(key, str) or not isinstance(fact.get("seq"), int):
            raise ChainBreak(position, fact_id, None, "fact has no key or seq: not a chained fact")
        seq, head = self.heads.get(key, (0, GENESIS))
        if fact["seq"] != seq + 1:
            what = "missing before it" if fact["seq"] > seq + 1 else "repeated or out of order"
            raise ChainBreak(position, fact_id, key, f"seq {fact['seq']} of key {key} follows seq {seq}: facts {what}")
        if fact.get("prev") != head:
            raise ChainBreak(position, fact_id, key, f"prev hash does not match the previous fact of key {key}")
        if fact_hash(head, fact) != fact.get("hash"):
            raise ChainBreak(position, fact_id, key, "hash does not match the fact's content: the fact was edited")
        if fact_id != f"{key}/{fact['seq']}":
            raise ChainBreak(position, fact_id, key, "id does not match key and seq")
        recorded = self.recorded.get(key)
        if recorded is not None and recorded[0] == fact["seq"] and recorded[1] != fact["hash"]:
            raise ChainBreak(position, fact_id, key, "the fact differs from the one the projection store recorded")
        self.heads[key] = (fact["seq"], fact["hash"])
        self.count += 1

    def finish(self) -> None:
        """The log must reach every head recorded beside it: a shorter log was truncated."""
        for key, (seq, _) in sorted(self.recorded.items()):
            found = self.heads.get(key, (0, GENESIS))[0]
            if found < seq:
                raise ChainBreak(None, f"{key}/{found + 1}", key,
                                 f"the log ends at seq {found} of key {key} but seq {seq} was recorded: facts were dropped from the end")
