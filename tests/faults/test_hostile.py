"""Hostile input (issue 7): every bad record gets a clear error naming its line and field,
and changes nothing; no input makes the ledger raise. Bounded here; bench/fuzz_hostile.py
runs the long version."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.verify import verify_event_store
from projections import views
from projections.fold import digest
from tests import helpers as h
from tests.hostile import ALWAYS_INVALID, base_context, hostile_case
from yidi.ingest import Ingest

CONTEXT = base_context()


def check_one(backend: Any, kind: str, record: Any, line_no: int) -> str:
    """Feed one hostile input; assert the contract; return its outcome."""
    before = digest(backend.projection())
    rejects: list[dict[str, Any]] = []
    pipeline = Ingest(backend, "hostile.jsonl", rejects.append)
    if isinstance(record, bytes):
        pipeline.feed(line_no, record)
    else:
        pipeline.feed(line_no, json.dumps(record, ensure_ascii=False).encode())
    pipeline.flush()
    counts = pipeline.counts
    if isinstance(record, bytes) and not record.strip():
        assert counts.to_dict() == {"accepted": 0, "duplicates": 0, "rejected": 0}  # blank lines are skipped
        return "skipped"
    if counts.rejected:
        assert len(rejects) == 1 and rejects[0]["line"] == line_no
        for error in rejects[0]["errors"]:
            assert isinstance(error["field"], str) and error["field"], rejects
            assert isinstance(error["message"], str) and len(error["message"]) >= 5, rejects
        assert digest(backend.projection()) == before, "a rejected record changed the books"
        return "rejected"
    assert kind not in ALWAYS_INVALID and kind not in ("garbage", "history"), (kind, record)
    assert sum(views.balances(backend.projection()).values()) == 0
    return "accepted" if counts.accepted else "duplicate"


def _ledger(tmp_path: Path) -> Any:
    backend = h.ledger_with(tmp_path)
    counts, rejects = h.ingest(backend, CONTEXT["history"])
    assert counts == h.all_accepted(len(CONTEXT["history"])), rejects
    return backend


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False))
def test_hostile_records_are_rejected_with_a_field_and_change_nothing(tmp_path_factory: Any, rng: random.Random) -> None:
    backend = _ledger(tmp_path_factory.mktemp("hostile"))
    try:
        outcomes = [check_one(backend, *hostile_case(rng, CONTEXT), line_no=n) for n in range(1, 9)]
        assert outcomes  # eight inputs, each checked above
        verify_event_store(backend.recorder, backend.projection().heads)
    finally:
        backend.close()


def test_each_garbage_kind_is_rejected_as_record(tmp_path: Path) -> None:
    backend = _ledger(tmp_path)
    lines = [b"\xff\xfe\x00garbage", "{\"infno\": \"2207\"}".encode("gbk") + b"\xb1", b"{{{{", b"[]", b"3.5",
             b'{"type": "clear", "period": "' + b"9" * 2_000_000 + b'"}']
    rejects: list[dict[str, Any]] = []
    pipeline = Ingest(backend, "garbage.jsonl", rejects.append)
    for n, line in enumerate(lines, 1):
        pipeline.feed(n, line)
    pipeline.flush()
    assert [r["line"] for r in rejects] == [1, 2, 3, 4, 5, 6]
    assert [r["errors"][0]["field"] for r in rejects] == ["record"] * 6
    assert "UTF-8" in rejects[0]["errors"][0]["message"]
    assert "longer than" in rejects[5]["errors"][0]["message"]
    backend.close()
