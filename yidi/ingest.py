"""The ingest pipeline: JSON Lines in file order -> records -> batches -> the backend.

Stages (each bad line becomes an error record, never a traceback):
  1. read bytes per line (bounded length), decode UTF-8 and JSON;
  2. ``ledger.records.parse_record``: fields, codes, amounts, sums;
  3. the backend's ``record``: history rules (duplicates, filings, reversals, statements).
Rejected lines are written to the rejects file as {"line", "errors": [{"field", "message"}]}
in line order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any, Callable, Iterable, Protocol, Sequence

import orjson
from eventsourcing.persistence import PersistenceError

from ledger.config import Policy
from ledger.decisions import Source
from ledger.errors import FieldError
from ledger.records import Command, parse_record
from ledger.service import BatchResult

BATCH_RECORDS = 20_000  # one transaction each: larger batches coalesce the random-key index writes
MAX_LINE_BYTES = 1_000_000  # a settlement is ~1.5 kB; a megabyte line is not a record


class IngestAborted(Exception):
    """The store refused a batch (disk full, lost connection ...): nothing of it was recorded.
    Without lines (None): the store could not even be opened, nothing was recorded at all."""

    def __init__(self, first_line: int | None, last_line: int | None, counts: "Counts", cause: BaseException) -> None:
        if first_line is None:
            message = (f"the event store could not be opened: {cause}. Nothing was recorded. "
                       f"Run the same ingest again once fixed.")
        else:
            # (the connection can break after the server made the commit durable but before
            # its reply came back: the client cannot tell that from a batch never written)
            message = (
                f"the event store refused the batch of lines {first_line}-{last_line}: {cause}. "
                f"That batch was not recorded, unless the connection was lost while it was being committed "
                f"(then it was, whole); the {counts.accepted} records accepted before it are. "
                f"Run the same ingest again once fixed: recorded lines will be answered as duplicates.")
        super().__init__(message)
        self.first_line = first_line
        self.last_line = last_line
        self.counts = counts
        self.cause = cause


class Backend(Protocol):
    policy: Policy

    def record(self, items: Sequence[tuple[Command, Source]]) -> BatchResult: ...


@dataclass
class Counts:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def decode_line(raw: bytes) -> tuple[Any, FieldError | None]:
    if len(raw) > MAX_LINE_BYTES:
        return None, FieldError("record", f"line is longer than {MAX_LINE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, FieldError("record", f"line is not valid UTF-8 (byte {exc.start})")
    try:
        return orjson.loads(text), None
    except orjson.JSONDecodeError as exc:
        return None, FieldError("record", f"line is not valid JSON: {str(exc)[:120]}")


def read_lines(handle: IO[bytes]) -> Iterable[bytes]:
    """Lines without their newline; an over-long line is cut and flagged, never loaded whole."""
    while True:
        line = handle.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            # Skip the rest of the giant line in bounded chunks.
            while True:
                rest = handle.readline(MAX_LINE_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
            yield line  # longer than the limit: decode_line rejects it
            continue
        yield line.rstrip(b"\r\n")


class Ingest:
    """Feeds lines to a backend in batches; counts outcomes; reports rejects in line order."""

    def __init__(
        self,
        backend: Backend,
        source_name: str,
        on_reject: Callable[[dict[str, Any]], object],
        batch_records: int = BATCH_RECORDS,
    ) -> None:
        self.backend = backend
        self.source_name = source_name
        self.on_reject = on_reject
        self.batch_records = batch_records
        self.counts = Counts()
        self._batch: list[tuple[Command, Source]] = []
        self._lines: list[int] = []
        self._early_rejects: list[tuple[int, tuple[FieldError, ...]]] = []

    def feed(self, line_no: int, raw: bytes) -> None:
        if not raw.strip():
            return
        value, error = decode_line(raw)
        if error is not None:
            self._early_rejects.append((line_no, (error,)))
            return
        self.feed_value(line_no, value)

    def feed_value(self, line_no: int, value: Any) -> None:
        result = parse_record(value, self.backend.policy)
        if result.command is None:
            self._early_rejects.append((line_no, result.errors))
        else:
            self._batch.append((result.command, {"file": self.source_name, "line": line_no}))
            self._lines.append(line_no)
        if len(self._batch) >= self.batch_records:
            self.flush()

    def flush(self) -> None:
        rejects = self._early_rejects
        if self._batch:
            try:
                result = self.backend.record(self._batch)
            except (PersistenceError, OSError) as exc:
                raise IngestAborted(self._lines[0], self._lines[-1], self.counts, exc) from exc
            for line_no, outcome in zip(self._lines, result.outcomes):
                if outcome.status == "accepted":
                    self.counts.accepted += 1
                elif outcome.status == "duplicate":
                    self.counts.duplicates += 1
                else:
                    rejects.append((line_no, outcome.errors))
        for line_no, errors in sorted(rejects, key=lambda r: r[0]):
            self.counts.rejected += 1
            self.on_reject({"line": line_no, "errors": [e.to_dict() for e in errors]})
        self._batch, self._lines, self._early_rejects = [], [], []
