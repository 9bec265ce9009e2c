"""Configuration from the environment and an optional TOML file: the only place that reads them.

    YIDI_HOME      data directory of the embedded default (default ~/.local/share/yidi)
    YIDI_CONFIG    a TOML file with a [policy] table (default: <data dir>/yidi.toml if present)
    YIDI_POLICY_<SETTING>  overrides one policy setting, e.g. YIDI_POLICY_FLOAT_WARNING_PCT=75
    YIDI_KAFKA, YIDI_PG    select the Kafka + PostgreSQL backend (both must be set)
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

from ledger.config import Policy, policy_from_mapping

DEFAULT_HOME = Path.home() / ".local" / "share" / "yidi"
CONFIG_NAME = "yidi.toml"


def data_dir(explicit: str | Path | None = None, env: Mapping[str, str] = os.environ) -> Path:
    path = Path(explicit) if explicit else Path(env["YIDI_HOME"]) if env.get("YIDI_HOME") else DEFAULT_HOME
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_policy(home: Path, config: str | Path | None = None, env: Mapping[str, str] = os.environ) -> Policy:
    values: dict[str, Any] = {}
    path = Path(config) if config else Path(env["YIDI_CONFIG"]) if env.get("YIDI_CONFIG") else home / CONFIG_NAME
    if path.exists():
        with open(path, "rb") as handle:
            values.update(tomllib.load(handle).get("policy", {}))
    elif config or env.get("YIDI_CONFIG"):
        raise FileNotFoundError(f"configuration file {path} does not exist")
    for f in dataclasses.fields(Policy):
        override = env.get(f"YIDI_POLICY_{f.name.upper()}")
        if override is not None:
            values[f.name] = override
    return policy_from_mapping(values)


def kafka_backend(env: Mapping[str, str] = os.environ) -> tuple[str, str] | None:
    kafka, pg = env.get("YIDI_KAFKA"), env.get("YIDI_PG")
    if kafka and pg:
        return kafka, pg
    return None
