"""Load test of the read API on a ledger of 10^6 events: requests/s, p50 and p99 per endpoint.

    python bench/load_api.py [--events 1000000] [--data-dir DIR --reuse] [--rate 500] [--seconds 10]

1. Builds an embedded ledger of about ``--events`` facts with ``yidi simulate`` + ``yidi ingest``
   (12 months, 32 provinces; about 8 minutes for 10^6 on 2 cores), or reuses the one in
   ``--data-dir`` with ``--reuse``.
2. Starts ``yidi serve`` (uvicorn) on a free loopback port, read-only.
3. For each main endpoint: one cold request (computes the view), then wrk on loopback
   (Debian's ``wrk``: ``apt-get install -y wrk``), bounded in time:
   - paced: ``--connections`` connections whose requests are spaced so that together they
     offer about ``--rate`` requests/s (wrk's Lua ``delay()``); prints the rate reached, p50, p99;
   - saturated: the same connections as fast as they can (the most requests/s, and p99 then).
   Then one paced run of all endpoints mixed. Goal: p99 ≤ 50 ms at 500 requests/s.
Only 127.0.0.1 is ever contacted; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
MONTHS, PROVINCES, SEED = 12, 32, 11
FACTS_PER_SETTLEMENT = 1.42  # measured: facts per simulated settlement (filings, payouts, statements, ...)
BUILD_TIMEOUT_S = 45 * 60
SERVER_START_TIMEOUT_S = 120
GOAL_P99_MS, GOAL_RATE = 50.0, 500
PACING_HEADROOM = 1.05  # offered / wanted requests/s in the paced runs (see paced_run)

PACED_LUA = """
local interval_ms = 0
function init(args)
  -- every connection waits so that all of them together offer about `rate` requests/s
  interval_ms = tonumber(args[2]) * 1000 / tonumber(args[1])
end
function delay()
  return interval_ms
end
"""

MIXED_LUA = """
local paths = {}
local interval_ms = 0
local counter = 0
function init(args)
  interval_ms = tonumber(args[2]) * 1000 / tonumber(args[1])
  for i = 3, #args do paths[#paths + 1] = args[i] end
  counter = math.random(#paths)
end
function delay()
  return interval_ms
end
function request()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter])
end
"""


def run(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> str:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
    print(f"  {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}  ({time.perf_counter() - started:.0f} s)",
          flush=True)
    return done.stdout


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("YIDI_KAFKA", "YIDI_PG", "YIDI_API_TOKEN", "YIDI_HOME")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def yidi(*args: str) -> list[str]:
    return [sys.executable, "-m", "yidi.cli", *args]


def build_ledger(work: Path, events: int, reuse: bool) -> Path:
    ledger = work / "ledger"
    if reuse and (ledger / "events.db").exists():
        print(f"reusing the ledger in {ledger}")
        return ledger
    shutil.rmtree(ledger, ignore_errors=True)
    settlements = math.ceil(events / MONTHS / FACTS_PER_SETTLEMENT)
    records = work / "records.jsonl"
    print(f"building a ledger of about {events:,} facts ({settlements:,} settlements a month, {MONTHS} months, "
          f"{PROVINCES} provinces):", flush=True)
    run(yidi("simulate", "--seed", str(SEED), "--months", str(MONTHS), "--settlements", str(settlements),
             "--provinces", str(PROVINCES), "--out", str(records)), BUILD_TIMEOUT_S, clean_env())
    counts = run(yidi("--data-dir", str(ledger), "ingest", str(records), "--json", "--no-progress"),
                 BUILD_TIMEOUT_S, clean_env())
    print(f"  ingest: {json.loads(counts)}")
    records.unlink()
    return ledger


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 120) -> tuple[bytes, float]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
        body = response.read()
    return body, (time.perf_counter() - started) * 1000


def start_server(ledger: Path, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(yidi("--data-dir", str(ledger), "serve", "--host", HOST, "--port", str(port)),
                              env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        if server.poll() is not None:
            sys.exit(f"the server exited: {server.stderr.read().decode() if server.stderr else ''}")
        try:
            body, _ = get(f"http://{HOST}:{port}/api/health", timeout=5)
            return server
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                sys.exit("the server did not start in time")
            time.sleep(0.5)


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> dict[str, Any]:
    def latency(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        return float(m.group(1)) * UNITS_MS[m.group(2)] if m else float("nan")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rate": float(rate.group(1)) if rate else 0.0, "p50": latency("50"), "p99": latency("99"),
        "requests": int(total.group(1)) if total else 0, "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else "",
    }


def wrk(url: str, seconds: int, connections: int, script: Path | None = None, args: list[str] | None = None) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(url)
    if args:
        cmd += ["--", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        sys.exit(f"wrk failed: {done.stderr}")
    return parse_wrk(done.stdout)


def paced_run(url: str, seconds: int, connections: int, script: Path, rate: int,
              paths: list[str] | None = None) -> dict[str, Any]:
    """wrk offering about ``rate`` requests/s. A connection waits its interval after each
    answer, so it falls short by the answer's own time: offer a little more and, if the rate
    reached is still short, once more with the shortfall made up."""
    offered = rate * PACING_HEADROOM
    result: dict[str, Any] = {}
    for _ in range(2):
        result = wrk(url, seconds, connections, script, [f"{offered:.1f}", str(connections), *(paths or [])])
        if result["rate"] >= rate or result["rate"] == 0:
            break
        offered *= rate / result["rate"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the ledger here (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="reuse the ledger already in --data-dir")
    parser.add_argument("--rate", type=int, default=GOAL_RATE, help="requests/s offered in the paced runs")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=10, help="length of each paced run (saturated: half)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    work = args.data_dir or Path(tempfile.mkdtemp(prefix="yidi-load-"))
    work.mkdir(parents=True, exist_ok=True)
    ledger = build_ledger(work, args.events, args.reuse)
    port = free_port()
    server = start_server(ledger, port)
    base = f"http://{HOST}:{port}"
    try:
        summary = json.loads(get(f"{base}/api/summary")[0])
        floats = json.loads(get(f"{base}/api/floats")[0])
        pair = f"{floats[0]['insured']}>{floats[0]['treatment']}" if floats else "110000>120000"
        print(f"\nledger: {summary['facts']:,} facts, {summary['statements']:,} statements; server {base} (uvicorn, "
              f"1 process)\nwrk: 1 thread, {args.connections} connections; paced runs offer {args.rate} requests/s "
              f"for {args.seconds} s, saturated runs {max(1, args.seconds // 2)} s\n", flush=True)
        endpoints = [
            "/api/overview", "/api/summary", "/api/balances", "/api/provinces", "/api/floats", "/api/statements",
            "/api/floats/details?limit=100", "/api/floats/details?level=warning&level=emergency&sort=usage&limit=50",
            "/api/calendar?limit=100", "/api/calendar?status=outstanding&order=desc&limit=10",
            "/api/investigations?status=open&order=desc&limit=50", "/api/payouts?status=overdue&limit=100",
            "/api/volumes/daily?order=desc&limit=366", f"/api/volumes?pair={pair.replace('>', '%3E')}&limit=100",
            "/api/direct-rate",
        ]
        scripts = Path(tempfile.mkdtemp(prefix="yidi-wrk-"))
        paced, mixed = scripts / "paced.lua", scripts / "mixed.lua"
        paced.write_text(PACED_LUA)
        mixed.write_text(MIXED_LUA)
        header = (f"{'endpoint':<72} {'bytes':>9} {'cold ms':>8} | {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} | "
                  f"{'max req/s':>9} {'p99 ms':>7}  goal")
        print(header)
        print("-" * len(header))
        failures = 0
        for path in endpoints:
            body, cold_ms = get(base + path)
            at_rate = paced_run(base + path, args.seconds, args.connections, paced, args.rate)
            saturated = wrk(base + path, max(1, args.seconds // 2), args.connections)
            ok = at_rate["p99"] <= GOAL_P99_MS and at_rate["non_2xx"] == 0 and at_rate["rate"] >= args.rate * 0.98
            failures += not ok
            errors = f" non-2xx {at_rate['non_2xx'] + saturated['non_2xx']}" if at_rate["non_2xx"] + saturated["non_2xx"] else ""
            print(f"{path:<72} {len(body):>9,} {cold_ms:>8.1f} | {at_rate['rate']:>7.0f} {at_rate['p50']:>7.2f} "
                  f"{at_rate['p99']:>7.2f} | {saturated['rate']:>9.0f} {saturated['p99']:>7.2f}  "
                  f"{'ok' if ok else 'MISSED'}{errors}", flush=True)
        everything = paced_run(base + endpoints[0], args.seconds, args.connections, mixed, args.rate, endpoints)
        ok = everything["p99"] <= GOAL_P99_MS and everything["non_2xx"] == 0 and everything["rate"] >= args.rate * 0.98
        failures += not ok
        print(f"{'all of the above, mixed':<72} {'':>9} {'':>8} | {everything['rate']:>7.0f} {everything['p50']:>7.2f} "
              f"{everything['p99']:>7.2f} | {'':>9} {'':>7}  {'ok' if ok else 'MISSED'}")
        print(f"\ngoal p99 ≤ {GOAL_P99_MS:.0f} ms at {args.rate} requests/s: "
              f"{'met by every endpoint' if failures == 0 else f'missed {failures} time(s)'}")
        shutil.rmtree(scripts, ignore_errors=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if args.data_dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
