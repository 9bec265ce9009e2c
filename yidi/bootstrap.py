"""Wiring: which backend serves this process. The only module that picks adapters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ledger.config import Policy

from . import settings


def open_backend(home: Path, policy: Policy, read_only: bool = False) -> Any:
    """The Kafka + PostgreSQL backend when YIDI_KAFKA and YIDI_PG are set, else embedded."""
    selected = settings.kafka_backend()
    if selected is not None:
        from .kafka_backend import KafkaBackend  # imported only when configured

        return KafkaBackend(kafka=selected[0], dsn=selected[1], policy=policy)
    from .embedded import EmbeddedBackend

    return EmbeddedBackend(home, policy, catch_up=not read_only)
