"""The processors' batch folder when the consumer does not deliver every committed message.

faust drops (and acknowledges) messages that reach a stream while its flow is suspended,
around a (re)start or a rebalance; after a SIGKILL this was seen as runs of hundreds of
facts per partition never delivered. The folder must notice every jump in a partition's
offsets, read the skipped range from the partition, and fold the facts it holds, so the
read models equal the fold of every fact. The partition here is a list laid out as the
relay writes it: facts in transactions, each ended by a marker that takes an offset.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers import topics
from consumers.faust_processor import BatchFolder, ChainGap, Message
from ledger.config import Policy
from projections.fold import Projection, apply, digest
from projections.postgres_store import PartitionState
from tests.helpers import ingest, ledger_with
from yidi.simulator import SimulationSpec, generate

TRANSACTION_FACTS = 7  # facts per relay transaction (then one offset for its marker)


class _Store:
    """The saved states: what PostgreSQL would hold (load only; saving is not under test)."""

    def __init__(self) -> None:
        self.saved: dict[int, PartitionState] = {}

    def load(self, partitions):
        return {p: self.saved[p] for p in partitions if p in self.saved}


@pytest.fixture(scope="module")
def facts(tmp_path_factory) -> list[dict]:
    backend = ledger_with(tmp_path_factory.mktemp("gaps"))
    spec = SimulationSpec(seed=17, months=2, settlements_per_month=250, provinces=4, malformed_share=0.0)
    ingest(backend, generate(spec))
    out = list(backend.read_facts())
    backend.close()
    return out


def lay_out(facts: list[dict]) -> dict[int, list[Message]]:
    """Each partition's committed messages, with the offsets a transaction marker takes."""
    partitions: dict[int, list[Message]] = defaultdict(list)
    next_offset: dict[int, int] = defaultdict(int)
    for start in range(0, len(facts), TRANSACTION_FACTS * topics.PARTITIONS):
        touched = set()
        for fact in facts[start:start + TRANSACTION_FACTS * topics.PARTITIONS]:
            p = topics.partition_for(fact["key"])
            partitions[p].append(Message(p, next_offset[p], topics.encode(fact, fact["position"])[1]))
            next_offset[p] += 1
            touched.add(p)
        for p in touched:
            next_offset[p] += 1  # the commit marker
    return partitions


def reader(partitions: dict[int, list[Message]]):
    reads: list[tuple[int, int, int]] = []

    def fetch(p: int, start: int, end: int) -> list[Message]:
        reads.append((p, start, end))
        return [m for m in partitions[p] if start <= m.offset < end]

    return fetch, reads


def reference(facts: list[dict]) -> str:
    state = Projection()
    for fact in facts:
        apply(state, fact)
    return digest(state)


def folded(folder: BatchFolder) -> str:
    from projections.fold import merge

    return digest(merge(s.state for _, s in sorted(folder.parts.items())))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_runs_the_consumer_never_delivered_are_read_back_and_folded(facts, data):
    partitions = lay_out(facts)
    fetch, reads = reader(partitions)
    folder = BatchFolder(_Store(), Policy(), fetch=fetch)  # type: ignore[arg-type]
    delivered = []
    for p, messages in sorted(partitions.items()):
        # drop up to three runs per partition, anywhere (the first message, the middle)
        keep = [True] * len(messages)
        for _ in range(data.draw(st.integers(0, 3), label=f"runs[{p}]")):
            a = data.draw(st.integers(0, len(messages) - 2), label="from")
            b = data.draw(st.integers(a + 1, min(len(messages) - 1, a + 60)), label="to")
            keep[a:b] = [False] * (b - a)
        delivered.extend(m for m, k in zip(messages, keep) if k)
    # interleave the partitions as a consumer would (each in offset order), in batches
    delivered.sort(key=lambda m: (m.offset, m.partition))
    size = data.draw(st.integers(1, 400), label="batch")
    total = 0
    for i in range(0, len(delivered), size):
        _, result = folder.fold(delivered[i:i + size])
        total += result.folded
    assert total == sum(len(m) for m in partitions.values()) == len(facts)  # the last message of each partition is kept
    assert folded(folder) == reference(facts)
    assert all(start < end for _, start, end in reads)


def test_a_dropped_run_followed_by_the_first_fact_of_a_new_key_is_still_found(facts):
    """The case that once escaped: after the dropped run comes a key's *first* fact, which
    follows its (empty) chain, so only the offset jump tells that facts are missing."""
    partitions = lay_out(facts)
    first_of_key: dict[int, int] = {}
    seen_keys: set[str] = set()
    import orjson

    for p, messages in sorted(partitions.items()):
        for n, m in enumerate(messages):
            key = orjson.loads(m.value)["key"]
            if key not in seen_keys:
                seen_keys.add(key)
                if n > 3 and p not in first_of_key:
                    first_of_key[p] = n
    p, n = next(iter(sorted(first_of_key.items())))
    messages = partitions[p]
    delivered = messages[:1] + messages[n:]  # messages 1..n-1 never delivered
    fetch, reads = reader(partitions)
    folder = BatchFolder(_Store(), Policy(), fetch=fetch)  # type: ignore[arg-type]
    _, result = folder.fold(delivered)
    assert result.folded == len(messages)
    assert (p, messages[1].offset, messages[n].offset) in reads

    # without a reader the same delivery is refused, never folded short
    blind = BatchFolder(_Store(), Policy())  # type: ignore[arg-type]
    with pytest.raises(ChainGap):
        blind.fold(delivered)


def test_a_marker_alone_between_two_messages_costs_a_read_that_finds_nothing(facts):
    partitions = lay_out(facts)
    fetch, reads = reader(partitions)
    folder = BatchFolder(_Store(), Policy(), fetch=fetch)  # type: ignore[arg-type]
    p, messages = max(partitions.items(), key=lambda kv: len(kv[1]))
    _, result = folder.fold(messages)
    assert result.folded == len(messages)
    jumps = sum(1 for a, b in zip(messages, messages[1:]) if b.offset > a.offset + 1)
    assert jumps > 0 and len(reads) == jumps == folder.range_reads


def test_a_trusted_partition_takes_its_jumps_as_markers_without_reading(facts):
    """Between rebalances faust drops nothing, so the processor trusts a partition once a
    settled delivery was checked: no read per transaction marker (they cost ~1 ms each and,
    at a marker that ends the partition, a whole poll)."""
    partitions = lay_out(facts)
    fetch, reads = reader(partitions)
    folder = BatchFolder(_Store(), Policy(), fetch=fetch)  # type: ignore[arg-type]
    p, messages = max(partitions.items(), key=lambda kv: len(kv[1]))
    folder.trusted.add(p)
    _, result = folder.fold(messages)
    assert result.folded == len(messages) and reads == [] and folder.range_reads == 0
    folder.trusted.clear()  # a rebalance: the next jump is read again
    folder.forget()
    _, result = folder.fold(messages)
    assert folder.range_reads > 0 and result.folded == len(messages)
