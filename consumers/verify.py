"""``yidi verify``: check a whole history against its hash chains and recorded heads."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ledger.aggregates import INDEX_PREFIX
from ledger.chain import ChainBreak, ChainVerifier

from .eventlog import read_log


def verify_event_store(recorder: Any, recorded_heads: Mapping[str, Any]) -> ChainVerifier:
    """The embedded or PostgreSQL event store: positions gapless, every chain intact, the
    write side's own head records consistent, and the projection store's heads reached.
    Raises ``ChainBreak`` at the first fault."""
    verifier = ChainVerifier(recorded_heads)
    for position, body in read_log(recorder):
        kind = body.get("type") if isinstance(body, dict) else None
        if not isinstance(kind, str):
            raise ChainBreak(position, None, None, "event has no body type: not a ledger event")
        verifier.check_position(position, body.get("id"))
        if not kind.startswith(INDEX_PREFIX):
            verifier.check(body, position)
        elif kind == "index.tally":
            verifier.check_head(body["key"], body["seq"], body["head"], position)
    verifier.finish()
    return verifier


def verify_facts(facts: Iterable[tuple[Any, dict[str, Any]]], recorded_heads: Mapping[str, Any] | None = None) -> ChainVerifier:
    """Facts from elsewhere (a Kafka topic, partition by partition): every chain intact.

    ``facts`` yields (position label, fact); order must be each key's order (true of a
    Kafka partition, which holds all of a key's facts in order)."""
    verifier = ChainVerifier(recorded_heads)
    for position, fact in facts:
        verifier.check(fact, position)
    verifier.finish()
    return verifier
