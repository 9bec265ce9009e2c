"""``yidi verify``: check a whole history against its hash chains and recorded heads."""

from __future__ import annotations

import sys
from typing import Any, Iterable, Mapping

from ledger.aggregates import INDEX_PREFIX
from ledger.chain import ChainBreak, ChainVerifier

from .eventlog import read_log


def verify_event_store(recorder: Any, recorded_heads: Mapping[str, Any]) -> ChainVerifier:
    """The embedded or PostgreSQL event store: positions gapless, every chain intact, the
    write side's own head records consistent, and the projection store's heads reached.
    Raises ``ChainBreak`` at the first fault."""
    verifier = ChainVerifier(recorded_heads)
    gapless = _gapless_positions(recorder)
    for position, body in read_log(recorder):
        kind = body.get("type") if isinstance(body, dict) else None
        if not isinstance(kind, str):
            raise ChainBreak(position, None, None, "event has no body type: not a ledger event")
        verifier.check_position(position, body.get("id"), gapless)
        if not kind.startswith(INDEX_PREFIX):
            verifier.check(body, position)
        elif kind == "index.tally":
            verifier.check_head(body["key"], body["seq"], body["head"], position)
    verifier.finish()
    return verifier


def _gapless_positions(recorder: Any) -> bool:
    """SQLite rowids (the embedded store) leave no gap unless an event is deleted. PostgreSQL
    takes notification ids from a sequence: a rolled-back insert burns ids, and a server
    restarted after a crash goes on after the values it had WAL-logged ahead (up to 32), so
    there positions only have to increase (a dropped fact still breaks its key's chain)."""
    postgres = sys.modules.get("eventsourcing.postgres")
    return postgres is None or not isinstance(recorder, postgres.PostgresApplicationRecorder)


def verify_facts(facts: Iterable[tuple[Any, dict[str, Any]]], recorded_heads: Mapping[str, Any] | None = None) -> ChainVerifier:
    """Facts from elsewhere (a Kafka topic, partition by partition): every chain intact.

    ``facts`` yields (position label, fact); order must be each key's order (true of a
    Kafka partition, which holds all of a key's facts in order)."""
    verifier = ChainVerifier(recorded_heads)
    for position, fact in facts:
        if "position" in fact:  # added by the relay to every message: not part of the fact
            fact = {k: v for k, v in fact.items() if k != "position"}
        verifier.check(fact, position)
    verifier.finish()
    return verifier
