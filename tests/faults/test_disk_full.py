"""A disk that fills up during ingest: the error is clear, the store stays consistent, and
running the same ingest again on a disk with room completes it exactly once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from yidi.simulator import SimulationSpec, generate_lines

SPEC = SimulationSpec(seed=21, months=2, settlements_per_month=5000, provinces=5)


def _yidi(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("YIDI_KAFKA", "YIDI_PG")}
    env["YIDI_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "yidi.cli", *args], env=env, capture_output=True, text=True)


@pytest.fixture()
def small_disk(tmp_path: Path):
    """A real 12 MiB filesystem (tmpfs), so SQLite meets ENOSPC like on a full disk."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)], capture_output=True, text=True)
    assert done.returncode == 0, f"cannot mount a tmpfs (needs root): {done.stderr}"
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_during_ingest(tmp_path: Path, small_disk: Path) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text("".join(generate_lines(SPEC)))
    lines = sum(1 for _ in open(records))

    full = _yidi(small_disk, "ingest", str(records), "--json", "--batch-records", "2000",
                 "--rejects", str(tmp_path / "rejects.jsonl"))
    assert full.returncode == 1
    assert "ingest stopped" in full.stderr and "disk is full" in full.stderr
    assert "Traceback" not in full.stderr
    partial = orjson.loads(full.stdout)
    assert 0 < partial["accepted"] < lines

    # Move the store to a disk with room: it verifies, and the same ingest completes it.
    roomy = tmp_path / "roomy"
    shutil.copytree(small_disk, roomy)
    verified = _yidi(roomy, "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    resumed = orjson.loads(_yidi(roomy, "ingest", str(records), "--json").stdout)

    clean_home = tmp_path / "clean"
    clean = orjson.loads(_yidi(clean_home, "ingest", str(records), "--json").stdout)
    assert resumed["accepted"] + partial["accepted"] == clean["accepted"]
    assert resumed["rejected"] == clean["rejected"]
    assert orjson.loads(_yidi(roomy, "balances", "--json").stdout) == orjson.loads(_yidi(clean_home, "balances", "--json").stdout)
    assert orjson.loads(_yidi(roomy, "summary", "--json").stdout)["digest"] == orjson.loads(_yidi(clean_home, "summary", "--json").stdout)["digest"]
