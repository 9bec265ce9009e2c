"""The processors' batch logic, free of faust: fold a batch of Kafka messages per partition
with the one pure fold, derive float alerts, save each partition with its offset.

Exactly once, per partition (the faust worker is at-least-once; this makes the *effect*
idempotent):

* The partition's (state, offset) is loaded from PostgreSQL when the partition is first
  seen, and saved back in one transaction per batch, with a check that the row still has
  the offset it was loaded with (``SELECT ... FOR UPDATE``). A message at or below the saved
  offset is skipped: re-delivery after a crash or a rebalance counts nothing twice.
* A fact whose (key, seq) is already folded — the partition's chain heads say so — is
  skipped as well (defence in depth against a duplicate publication); a fact whose seq or
  ``prev`` hash does not follow its key's head stops the processor (a gap is a lost fact:
  better no figure than a wrong one).
* If the save fails (a stale row, PostgreSQL down), the in-memory states of the batch's
  partitions are dropped and the batch is folded again from what PostgreSQL holds.

Float alerts: after each fact that can move a pair's float usage, the level (ok / warning /
emergency, thresholds of the worker's policy — ``ledger.decisions.level_of``, as
``projections.views.floats``) is compared with the level before it; a change is an alert
``float.level_changed`` with id ``<pair>/<seq>`` of the fact that caused it. Alerts are a
function of the facts alone (not of batch boundaries) and are produced before the batch's
save: at least once, deduplicated by id downstream.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import orjson

from ledger.config import Policy
from ledger.decisions import level_of
from projections import views
from projections.fold import apply
from projections.postgres_store import PartitionState, PartitionUpdate, PostgresReadModels, StaleState

from . import topics

log = logging.getLogger("yidi.processor")

# Facts that can change a pair's float usage (its prepaid or payable account).
LEVEL_TYPES = frozenset({"settlement.recorded", "settlement.reversed", "clawback.recorded",
                         "clearing.transferred", "float.adjusted"})
ALERT_TYPE = "float.level_changed"
ALERT_VERSION = 1
ALERT_SOURCE = "/yidi/processors"


class ChainGap(Exception):
    """A fact does not follow its key's last folded fact: something was skipped or lost."""

    def __init__(self, message: str, partition: int = -1) -> None:
        super().__init__(message)
        self.partition = partition


@dataclass
class Message:
    partition: int
    offset: int
    value: bytes


@dataclass
class BatchResult:
    folded: int = 0
    skipped: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    partitions: dict[int, PartitionState] = field(default_factory=dict)


def _level(state: Any, policy: Policy, insured: str, treatment: str) -> tuple[str, int, int]:
    balances = state.balances
    float_fen = balances.get(f"{insured}:prepaid:{treatment}", 0)
    outstanding = -balances.get(f"{insured}:payable:{treatment}", 0)
    return level_of(policy, float_fen, outstanding), float_fen, outstanding


def alert_message(alert: dict[str, Any]) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    headers = [
        ("ce_specversion", topics.CE_SPECVERSION.encode()),
        ("ce_id", alert["id"].encode()),
        ("ce_type", topics.ce_type(ALERT_TYPE, ALERT_VERSION).encode()),
        ("ce_source", ALERT_SOURCE.encode()),
        ("ce_time", topics.ce_time(alert["time"]).encode()),
        ("ce_dataschema", topics.schema_url(ALERT_TYPE, ALERT_VERSION).encode()),
        ("content-type", topics.CONTENT_TYPE.encode()),
    ]
    return alert["key"].encode(), orjson.dumps(alert), headers


# Reads the committed messages of one partition with offsets in [start, end), in order.
FetchRange = Callable[[int, int, int], list["Message"]]


class BatchFolder:
    def __init__(self, models: PostgresReadModels, policy: Policy, fetch: FetchRange | None = None) -> None:
        self.models = models
        self.policy = policy
        self.parts: dict[int, PartitionState] = {}
        # faust drops (and acknowledges) messages that reach a stream while its flow is
        # suspended, around a (re)start or a rebalance (docs/kafka.md), so the offsets it
        # delivers can jump over committed facts. The saved offset is the truth: whenever a
        # partition's next message is not the one after the saved offset, the offsets in
        # between are read straight from the partition (usually they hold only the marker
        # that ends a transaction) and whatever facts they hold are folded first.
        # Partitions in ``trusted`` skip those reads. The faust app does not use it: trusting
        # a partition after a "settled" batch (flow active, no rebalance) was tried and a
        # kill test then lost a dropped run at start-up (ChainGap), so every jump is read.
        self.fetch = fetch
        self.trusted: set[int] = set()
        self.range_reads = 0  # how many such reads were made (for tests and benchmarks)

    def forget(self, partitions: Iterable[int] | None = None) -> None:
        if partitions is None:
            self.parts.clear()
        else:
            for p in partitions:
                self.parts.pop(p, None)

    def _ensure_loaded(self, partitions: Iterable[int]) -> None:
        missing = [p for p in partitions if p not in self.parts]
        if missing:
            loaded = self.models.load(missing)
            for p in missing:
                self.parts[p] = loaded.get(p) or PartitionState(p)

    def fold(self, messages: Sequence[Message]) -> tuple[dict[int, PartitionUpdate], BatchResult]:
        """Fold ``messages`` (any partitions, each partition in offset order) in memory."""
        by_partition: dict[int, list[Message]] = defaultdict(list)
        for m in messages:
            by_partition[m.partition].append(m)
        self._ensure_loaded(by_partition)
        result = BatchResult()
        updates: dict[int, PartitionUpdate] = {}
        policy = self.policy
        loads = orjson.loads
        for p, msgs in sorted(by_partition.items()):
            st = self.parts[p]
            expected = st.offset
            state = st.state
            before = dict(state.balances)
            heads = state.heads
            touched = False
            queue = list(msgs)
            filled_before: set[int] = set()
            i = 0
            while i < len(queue):
                m = queue[i]
                i += 1
                if m.offset <= st.offset:
                    result.skipped += 1  # re-delivered: already in the saved state
                    continue
                if m.offset > st.offset + 1 and self.fetch is not None and p not in self.trusted \
                        and m.offset not in filled_before:
                    filled_before.add(m.offset)
                    self.range_reads += 1
                    missing = [x for x in self.fetch(p, st.offset + 1, m.offset) if x.offset > st.offset]
                    if missing:
                        log.warning("partition %s: offsets %s..%s were not delivered by the consumer: "
                                    "read %s facts from the partition", p, st.offset + 1, m.offset - 1, len(missing))
                        queue[i - 1:i - 1] = missing
                        i -= 1
                        continue
                fact = loads(m.value)
                key = fact["key"]
                head = heads.get(key)
                seq = fact["seq"]
                head_seq = head[0] if head else 0
                if seq <= head_seq:
                    result.skipped += 1  # a duplicate publication of a folded fact
                    st.offset = m.offset
                    touched = True
                    continue
                if seq != head_seq + 1 or fact["prev"] != (head[1] if head else "0" * 64):
                    raise ChainGap(f"partition {p} offset {m.offset}: fact {fact.get('id')} does not follow "
                                   f"{key}/{head_seq}", p)
                kind = fact["type"]
                if kind in LEVEL_TYPES:
                    insured, treatment = fact["insured"], fact["treatment"]
                    level_before, _, _ = _level(state, policy, insured, treatment)
                    apply(state, fact)
                    level_after, float_fen, outstanding = _level(state, policy, insured, treatment)
                    if level_after != level_before:
                        result.alerts.append({
                            "type": ALERT_TYPE, "v": ALERT_VERSION, "id": f"{key}/{seq}", "key": key,
                            "time": fact["time"], "insured": insured, "treatment": treatment,
                            "from_level": level_before, "to_level": level_after, "float_fen": float_fen,
                            "outstanding_fen": outstanding,
                            "usage_bp": outstanding * 10000 // float_fen if float_fen > 0 else None,
                            "warning_pct": policy.float_warning_pct, "emergency_pct": policy.float_emergency_pct,
                            "cause": {"id": fact["id"], "type": kind, "position": fact["position"]},
                        })
                else:
                    apply(state, fact)
                st.offset = m.offset
                st.position = fact["position"]
                st.facts += 1
                result.folded += 1
                touched = True
            if touched:
                changed = {a: v for a, v in state.balances.items() if before.get(a) != v}
                updates[p] = PartitionUpdate(st, expected, changed, views.floats(state, policy))
                result.partitions[p] = st
        return updates, result

    def process(self, messages: Sequence[Message],
                publish_alerts: Callable[[list[dict[str, Any]]], None] | None = None,
                attempts: int = 3) -> BatchResult:
        """Fold, publish the alerts, save; on a stale row or a failed save, reload and redo."""
        for attempt in range(attempts):
            try:
                updates, result = self.fold(messages)
                if result.alerts and publish_alerts is not None:
                    publish_alerts(result.alerts)
                self.models.commit(updates)
                return result
            except StaleState as exc:
                log.warning("stale read model (%s): reloading and folding the batch again", exc)
                self.forget({m.partition for m in messages})
            except BaseException:
                # the in-memory states went ahead of what PostgreSQL holds: drop them
                self.forget({m.partition for m in messages})
                raise
        raise StaleState("the read models kept moving under this processor")
