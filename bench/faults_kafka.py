"""Fault injection on the Kafka backend: SIGKILL the relay, a faust worker, the Kafka broker
and PostgreSQL (each, and two at once) at random moments while simulated records are
ingested, restart them, and check the books at the end.

    eval "$(scripts/services up)"
    python bench/faults_kafka.py --cycles 100 --records 1000000 --seed 2024

The services under test are YIDI_KAFKA / YIDI_PG (or YIDI_TEST_KAFKA / YIDI_TEST_PG); they
are killed and started with ``scripts/services kill-kafka|start-kafka|kill-pg|start-pg``
run with the same environment (YIDI_SERVICES_HOME, YIDI_KAFKA_PORT, YIDI_PG_CLUSTER,
YIDI_PG_PORT ...). Before anything is killed, ``scripts/services env`` must name exactly
the services under test, or the run stops. Both are started again before the run ends,
whatever happens. A second pair for development:

    export YIDI_SERVICES_HOME=/tmp/faults-services YIDI_KAFKA_PORT=29092 \\
           YIDI_KAFKA_CONTROLLER_PORT=29093 YIDI_PG_CLUSTER=faults YIDI_PG_PORT=5433
    eval "$(scripts/services up)"

A run (one ledger: its own topic prefix and PostgreSQL schema, dropped at the end unless
--keep):

1. a seeded simulated stream (with malformed records and duplicates) is cut into cycles,
   each cycle into chunk files; the same chunks are ingested, in order, into an embedded
   ledger: the reference (counts per chunk, facts, balances, digest);
2. a relay (`yidi worker --relay-only`) and --workers faust workers (`yidi worker
   --processors-only`) run as subprocesses, restarted by the harness whenever they exit on
   their own (what a supervisor does; counted and reported);
3. each cycle ingests its chunks (`yidi ingest CHUNK --json`, one subprocess per chunk); an
   ingest that fails (PostgreSQL died) is run again on the same file until it succeeds; at a
   random moment of the cycle (a seeded fraction of the expected ingest time; with
   --pg-during-ingest a PostgreSQL kill waits for a running ingest) the cycle's targets are
   SIGKILLed — relay, one worker, the broker, PostgreSQL, or two at once — and restarted
   after a seeded downtime; the cycle ends when the read models have caught up, checked by
   Σ facts folded == facts in the event store;
4. at the end the long-running processes are stopped and `yidi worker --until-caught-up`
   runs; then: per chunk, accepted over all attempts == the embedded ingest's accepted (and
   the last attempt's rejected and accepted + duplicates match it; a batch reported refused
   but committed — PostgreSQL died after the commit, before its reply — is found in the
   store by position and counted with its attempt); the facts (id → hash) of
   the event store == the embedded ledger's (every accepted record in the books once, no
   trace of a rejected one); the fact ids on the topic and their multiplicity; the read
   models' facts per partition and chain heads; `yidi balances --json` == embedded ==
   `yidi replay --from-kafka --json`; the `yidi summary --json` digest == embedded == the
   replay digest; `yidi verify` and `yidi verify --from-kafka` pass.

It prints the seed first (re-run a failure with the same --seed), the plan, a line per
cycle, then faults injected by kind, events lost and doubled (goal 0) and the time. Exit 0
when every check passes, 1 otherwise. tests/faults/test_kafka_faults.py runs a few cycles of
the same harness in CI.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import itertools
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import urlparse

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SERVICES_SCRIPT = ROOT / "scripts" / "services"
KINDS = ("relay", "worker", "broker", "pg")
PAIRS = tuple(itertools.combinations(KINDS, 2))
OPTIONS: tuple[tuple[str, ...], ...] = tuple((k,) for k in KINDS) + PAIRS
RESTART_ORDER = ("pg", "broker", "relay", "worker")  # servers first, then the clients


class HarnessFailure(AssertionError):
    """A check failed (or the pipeline never caught up): the message says which and how to re-run."""


def log(message: str) -> None:
    sys.stdout.write(f"[faults {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stdout.flush()


def _tail(path: Path, lines: int = 25) -> str:
    try:
        data = path.read_bytes()[-20000:].decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


# -- the services under test ----------------------------------------------------------------
def _endpoint(url: str) -> tuple[str, int, str]:
    if "://" not in url:
        url = "kafka://" + url
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if host == "localhost":
        host = "127.0.0.1"
    return host, int(parsed.port or 0), (parsed.path or "").lstrip("/")


@dataclasses.dataclass
class Services:
    """The broker and server under test, and scripts/services to kill and start them."""

    kafka: str
    pg: str
    script: Path = SERVICES_SCRIPT

    def _env(self) -> dict[str, str]:
        # scripts/services reads YIDI_SERVICES_HOME, YIDI_KAFKA_PORT, YIDI_PG_CLUSTER, ...
        # from the environment: the same one the harness was started with.
        return {k: v for k, v in os.environ.items() if k not in ("YIDI_KAFKA", "YIDI_PG")}

    def run(self, command: str, timeout: float = 240) -> subprocess.CompletedProcess:
        done = subprocess.run([str(self.script), command], capture_output=True, text=True, timeout=timeout,
                              env=self._env())
        if done.returncode != 0:
            raise HarnessFailure(f"scripts/services {command} exited {done.returncode}:\n{done.stderr[-3000:]}")
        return done

    def check_managed(self) -> None:
        """scripts/services (with this environment) must manage exactly the services under test:
        never kill a broker or a server that is not the one checked."""
        printed = self.run("env", timeout=30).stdout
        exports = dict(re.findall(r"^export (YIDI_KAFKA|YIDI_PG)=(\S+)$", printed, re.M))
        if set(exports) != {"YIDI_KAFKA", "YIDI_PG"}:
            raise HarnessFailure(f"scripts/services env printed no export lines: {printed!r}")
        if _endpoint(exports["YIDI_KAFKA"])[:2] != _endpoint(self.kafka)[:2] or \
                _endpoint(exports["YIDI_PG"]) != _endpoint(self.pg):
            raise HarnessFailure(
                f"scripts/services (YIDI_SERVICES_HOME, YIDI_KAFKA_PORT, YIDI_PG_CLUSTER, YIDI_PG_PORT of this "
                f"environment) manages {exports['YIDI_KAFKA']} and {exports['YIDI_PG']}, not the services under "
                f"test {self.kafka} and {self.pg}: refusing to kill anything")

    def kill(self, kind: str) -> None:
        self.run("kill-kafka" if kind == "broker" else "kill-pg", timeout=60)

    def start(self, kind: str) -> None:
        self.run("start-kafka" if kind == "broker" else "start-pg")

    def restore(self) -> list[str]:
        """Start both (idempotent); returns the errors, if any (each is tried)."""
        errors = []
        for kind in ("pg", "broker"):
            try:
                self.start(kind)
            except Exception as exc:  # noqa: BLE001 - try the other one too
                errors.append(f"{kind}: {exc}")
        return errors

    def pg_up(self) -> bool:
        import psycopg2

        try:
            psycopg2.connect(self.pg, connect_timeout=3).close()
            return True
        except psycopg2.Error:
            return False

    def wait_ready(self, timeout: float = 120) -> None:
        from kafka.admin import KafkaAdminClient

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                if not self.pg_up():
                    raise ConnectionError(f"PostgreSQL {self.pg} does not answer")
                KafkaAdminClient(bootstrap_servers=self.kafka, request_timeout_ms=10_000).close()
                return
            except Exception as exc:  # noqa: BLE001
                last = exc
                time.sleep(0.5)
        raise HarnessFailure(f"services not reachable ({self.kafka}, {self.pg}): {last!r}")


def services_from_env() -> Services:
    kafka = os.environ.get("YIDI_KAFKA") or os.environ.get("YIDI_TEST_KAFKA")
    pg = os.environ.get("YIDI_PG") or os.environ.get("YIDI_TEST_PG")
    if not kafka or not pg:
        raise SystemExit('set YIDI_KAFKA and YIDI_PG (or YIDI_TEST_*): eval "$(scripts/services up)"')
    return Services(kafka, pg)


# -- the workload --------------------------------------------------------------------------
@dataclasses.dataclass
class Attempt:
    rc: int | None
    counts: dict[str, Any] | None
    seconds: float
    error: str = ""
    start_position: int | None = None  # the event store's last position when the attempt started

    @property
    def refused(self) -> tuple[int, int] | None:
        """The lines of the batch the store refused (IngestAborted), if any."""
        c = self.counts or {}
        return (int(c["first_line"]), int(c["last_line"])) if c.get("first_line") is not None else None


@dataclasses.dataclass
class Chunk:
    path: Path
    records: int
    expected: dict[str, int] = dataclasses.field(default_factory=dict)  # the embedded ingest's counts
    attempts: list[Attempt] = dataclasses.field(default_factory=list)

    @property
    def accepted_total(self) -> int:
        return sum(int((a.counts or {}).get("accepted", 0)) for a in self.attempts)


def simulate(path: Path, records: int, seed: int, malformed: float = 0.01) -> int:
    """``records`` lines of a seeded simulated stream (12 months; duplicates, cancellations,
    reversals, the whole lifecycle, and ``malformed`` rejected lines)."""
    from yidi.simulator import SimulationSpec, generate_lines

    months = 12
    provinces = 12 if records >= 100_000 else 8
    spec = SimulationSpec(seed=seed, months=months, provinces=provinces, malformed_share=malformed,
                          settlements_per_month=max(50, int(records / months / 1.3)))
    count = 0
    with open(path, "w") as sink:
        for line in generate_lines(spec):
            sink.write(line)
            count += 1
            if count >= records:
                break
    return count


def cut(source: Path, work: Path, cycles: int, chunk_records: int, records: int) -> list[list[Chunk]]:
    """The stream (``records`` lines) cut into ``cycles`` consecutive parts, each into chunk
    files of at most ``chunk_records`` lines (c<cycle>-<n>.jsonl)."""
    per_cycle = -(-records // cycles)
    plan: list[list[Chunk]] = [[] for _ in range(cycles)]
    sink = None
    with open(source, "rb") as lines:
        for index, line in enumerate(lines):
            c, within = divmod(index, per_cycle)
            if within % chunk_records == 0:
                if sink is not None:
                    sink.close()
                path = work / f"c{c:03d}-{within // chunk_records:03d}.jsonl"
                plan[c].append(Chunk(path, 0))
                sink = open(path, "wb")
            assert sink is not None
            sink.write(line)
            plan[c][-1].records += 1
    if sink is not None:
        sink.close()
    return [chunks for chunks in plan if chunks]


@dataclasses.dataclass
class Reference:
    balances: dict[str, int]
    summary: dict[str, Any]
    facts: dict[str, str]  # id -> hash
    rejected_lines: set[tuple[str, int]]


def embedded_reference(home: Path, cycles: list[list[Chunk]], batch_records: int) -> Reference:
    """The same chunk files, in the same order, ingested into an embedded ledger (the
    `yidi ingest` pipeline, in this process): counts per chunk, facts, balances, digest."""
    from ledger.config import Policy
    from projections import views
    from projections.fold import digest
    from yidi.embedded import EmbeddedBackend
    from yidi.ingest import Ingest, read_lines

    home.mkdir(parents=True, exist_ok=True)
    backend = EmbeddedBackend(home, Policy())
    rejected: set[tuple[str, int]] = set()
    try:
        for chunk in itertools.chain.from_iterable(cycles):
            name = chunk.path.name

            def on_reject(r: dict[str, Any], n: str = name) -> None:
                rejected.add((n, int(r["line"])))

            pipeline = Ingest(backend, name, on_reject, batch_records)
            with open(chunk.path, "rb") as handle:
                for line_no, raw in enumerate(read_lines(handle), 1):
                    pipeline.feed(line_no, raw)
            pipeline.flush()
            chunk.expected = pipeline.counts.to_dict()
        state = backend.projection()
        summary = views.summary(state)
        summary["digest"] = digest(state)
        balances = views.balances(state)
        facts = {f["id"]: f["hash"] for f in backend.read_facts()}
    finally:
        backend.close()
    return Reference(balances, orjson.loads(orjson.dumps(summary)), facts, rejected)


# -- the ledger's processes ----------------------------------------------------------------
def yidi_args(*args: str) -> list[str]:
    return [sys.executable, "-m", "yidi.cli", *args]


class Fleet:
    """The relay and the faust workers as subprocesses; a supervisor thread restarts any that
    exits on its own (as `restart: unless-stopped` does in docker/compose.yml)."""

    def __init__(self, env: dict[str, str], home: Path, workers: int) -> None:
        self.env = env
        self.home = home
        self.names = ["relay"] + [f"worker-{i}" for i in range(workers)]
        self.procs: dict[str, subprocess.Popen] = {}
        self.lock = threading.RLock()
        self.held: set[str] = set()  # being killed/restarted by the injector
        self.self_exits: list[dict[str, Any]] = []
        self.starts: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._not_before: dict[str, float] = {}

    def logfile(self, name: str) -> Path:
        return self.home / f"{name}.log"

    def start(self, name: str) -> None:
        args = ("worker", "--relay-only") if name == "relay" else ("worker", "--processors-only")
        with open(self.logfile(name), "ab") as out:
            out.write(f"\n===== {time.strftime('%H:%M:%S')} harness starts {name} =====\n".encode())
            out.flush()
            self.procs[name] = subprocess.Popen(yidi_args(*args), env=self.env, cwd=str(self.home), stdout=out,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        self.starts[name] += 1

    def start_all(self) -> None:
        with self.lock:
            for name in self.names:
                self.start(name)
        self._thread = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._thread.start()

    def kill(self, name: str) -> None:
        with self.lock:
            self.held.add(name)
            proc = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(30)

    def restart(self, name: str) -> None:
        with self.lock:
            self.start(name)
            self.held.discard(name)

    def _supervise(self) -> None:
        while not self._stop.wait(0.25):
            with self.lock:
                for name, proc in self.procs.items():
                    if name in self.held or self._stop.is_set():
                        continue
                    code = proc.poll()
                    if code is None:
                        continue
                    now = time.monotonic()
                    if name not in self._not_before:
                        tail = _tail(self.logfile(name), 12)
                        self.self_exits.append({"name": name, "code": code, "at": time.strftime("%H:%M:%S"),
                                                "tail": tail})
                        log(f"{name} exited on its own (code {code}); restarting it")
                        self._not_before[name] = now + 1.0  # a crash loop costs ~1 start/s at most
                    if now >= self._not_before[name]:
                        del self._not_before[name]
                        self.start(name)

    def stop_all(self, timeout: float = 60) -> dict[str, int | None]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        codes: dict[str, int | None] = {}
        with self.lock:
            for proc in self.procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for name, proc in self.procs.items():
                try:
                    codes[name] = proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    codes[name] = proc.wait(10)
        return codes


# -- looking at the pipeline ---------------------------------------------------------------
class Probe:
    """Reads the event store, the relay's progress and the read models, reconnecting after a
    PostgreSQL restart; any failure reads as "not caught up yet"."""

    def __init__(self, kafka: str, pg: str, prefix: str, schema: str) -> None:
        self.kafka, self.pg, self.prefix, self.schema = kafka, pg, prefix, schema
        self.recorder: Any = None
        self.models: Any = None
        self.last_error = ""

    def _open(self) -> None:
        from consumers import topics
        from consumers.relay import open_event_store
        from projections.postgres_store import PostgresReadModels

        if self.recorder is None:
            self.recorder = open_event_store(self.pg, self.schema)
        if self.models is None:
            self.models = PostgresReadModels(self.pg, topics.facts_topic(self.prefix), self.schema)

    def reset(self) -> None:
        if self.models is not None:
            try:
                self.models.close()
            except Exception:  # noqa: BLE001
                pass
        if self.recorder is not None:
            try:
                self.recorder.datastore.close()
            except Exception:  # noqa: BLE001
                pass
        self.recorder = self.models = None

    def _guard(self, fn: Callable[[], Any], default: Any) -> Any:
        try:
            self._open()
            return fn()
        except Exception as exc:  # noqa: BLE001 - a service is down: "not yet"
            self.last_error = repr(exc)[:300]
            self.reset()
            return default

    def caught_up(self) -> bool:
        from consumers.relay import is_caught_up

        return bool(self._guard(lambda: is_caught_up(self.kafka, self.recorder, self.models, self.prefix), False))

    def lag(self) -> dict[str, Any]:
        from consumers.relay import lag

        return self._guard(lambda: lag(self.kafka, self.recorder, self.models, self.prefix),
                           {"error": self.last_error})

    def counts(self) -> tuple[int, int] | None:
        """(facts in the event store, facts folded by the read models)."""
        from ledger.aggregates import fact_topics

        def run() -> tuple[int, int]:
            from psycopg.sql import SQL, Identifier

            ds = self.recorder.datastore
            statement = SQL("SELECT count(*) AS n FROM {}.{} WHERE topic = ANY(%s)").format(
                Identifier(ds.schema), Identifier(self.recorder.events_table_name))
            with ds.get_connection() as conn, conn.cursor() as cur:
                cur.execute(statement, (fact_topics(),))
                stored = int(cur.fetchone()["n"])
            with self.models.conn.cursor() as cur:
                cur.execute(f"SELECT coalesce(sum(facts), 0) FROM {self.models.s}.yidi_read_partitions "
                            "WHERE topic = %s", (self.models.topic,))
                folded = int(cur.fetchone()[0])
            self.models.conn.rollback()
            return stored, folded

        return self._guard(run, None)

    def last_position(self) -> int | None:
        from consumers.eventlog import max_position

        return self._guard(lambda: max_position(self.recorder), None)

    def close(self) -> None:
        self.reset()


# -- a run -----------------------------------------------------------------------------------
@dataclasses.dataclass
class CyclePlan:
    kinds: tuple[str, ...]
    worker: int  # which worker, if "worker" is a target
    at: float  # fraction of the cycle's expected duration at which the targets are killed
    downtime: float  # seconds between the kill and the restart
    settle: float = 0.0  # with --pg-during-ingest: how far into the ingest attempt (fraction)

    def label(self) -> str:
        return "+".join(f"worker-{self.worker}" if k == "worker" else k for k in self.kinds)


def make_plan(rng: random.Random, cycles: int, workers: int, options: Sequence[tuple[str, ...]] | None = None,
              max_downtime: float = 3.0) -> list[CyclePlan]:
    """Targets per cycle: ``options`` in order if given (CI), else every single kind and every
    pair in turn, shuffled in blocks of 10 (balanced coverage over a long run)."""
    if options is None:
        kinds: list[tuple[str, ...]] = []
        while len(kinds) < cycles:
            block = list(OPTIONS)
            rng.shuffle(block)
            kinds.extend(block)
    else:
        kinds = [tuple(o) for o in options]
        if len(kinds) < cycles:
            kinds += [rng.choice(OPTIONS) for _ in range(cycles - len(kinds))]
    plans = [CyclePlan(k, rng.randrange(workers), rng.uniform(0.05, 0.95), rng.uniform(0.0, max_downtime))
             for k in kinds[:cycles]]
    for plan in plans:  # drawn after the rest: the plans of a seed stay what they were
        plan.settle = rng.uniform(0.1, 0.9)
    return plans


@dataclasses.dataclass
class Config:
    records: int = 10_000
    cycles: int = 5
    seed: int = 1
    workers: int = 2
    chunk_records: int = 1000
    batch_records: int = 250  # records per ingest transaction (smaller: more partial chunks)
    relay_batch: int = 500  # YIDI_RELAY_BATCH: facts per Kafka transaction
    faust_batch: int = 500  # YIDI_FAUST_BATCH
    malformed: float = 0.01
    options: Sequence[tuple[str, ...]] | None = None
    max_downtime: float = 3.0
    pg_during_ingest: bool = False  # a PostgreSQL kill waits for a running `yidi ingest` (CI)
    catch_up_timeout: float = 240.0
    ingest_timeout: float = 600.0
    ingest_attempts: int = 40


@dataclasses.dataclass
class Report:
    seed: int
    records: int
    cycles: int
    faults: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    faults_injected: int = 0
    faults_during_ingest: int = 0  # cycles whose faults hit while a `yidi ingest` ran
    fault_cycles: list[str] = dataclasses.field(default_factory=list)
    ingest_attempts: int = 0
    ingest_failed_attempts: int = 0
    batches_in_doubt: int = 0  # refused batches that were committed all the same (reply lost)
    self_exits: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    figures: dict[str, int] = dataclasses.field(default_factory=dict)
    lost: int = 0
    doubled: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    facts: int = 0

    def fail(self, message: str) -> None:
        log(f"CHECK FAILED: {message}")
        self.failures.append(message)

    def text(self) -> str:
        exits = collections.Counter(f"{e['name'].split('-')[0]} code {e['code']}" for e in self.self_exits)
        lines = [
            f"seed {self.seed}: {self.records:,} records, {self.facts:,} facts, {self.cycles} cycles in "
            f"{self.seconds:.0f} s",
            f"faults injected: {self.faults_injected} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(self.faults.items()))}; "
            f"{sum(1 for c in self.fault_cycles if '+' in c)} cycles with two at once; "
            f"{self.faults_during_ingest} of {len(self.fault_cycles)} cycles hit while a `yidi ingest` ran)",
            f"ingest attempts: {self.ingest_attempts} ({self.ingest_failed_attempts} failed and re-run; "
            f"{self.batches_in_doubt} refused batches found committed: the reply to their commit was lost)",
            f"processes that exited on their own and were restarted: {len(self.self_exits)}"
            + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(exits.items()))})" if exits else ""),
            "events lost: {lost} (event store {store_missing}, topic {topic_lost}, read models {rm_lost})".format(
                lost=self.lost, **self.figures) if self.figures else f"events lost: {self.lost}",
            ("events doubled: {doubled} (event store {store_doubled} + {store_extra} extra + {store_differs} "
             "differing, topic {topic_doubled} + {topic_extra} extra, read models {rm_doubled})").format(
                doubled=self.doubled, **self.figures) if self.figures else f"events doubled: {self.doubled}",
            f"checks: {'all passed' if not self.failures else f'{len(self.failures)} FAILED'}",
        ]
        lines += [f"  FAILED: {f}" for f in self.failures]
        return "\n".join(lines)


class Run:
    def __init__(self, services: Services, config: Config, work: Path, prefix: str | None = None,
                 schema: str | None = None) -> None:
        tag = uuid.uuid4().hex[:8]
        self.services = services
        self.config = config
        self.work = work
        self.prefix = prefix or f"faults-{tag}."
        self.schema = schema or f"faults_{tag}"
        self.home = work / "kafka-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(config.seed)
        self.report = Report(config.seed, config.records, config.cycles)
        self.fleet: Fleet | None = None
        self.probe = Probe(services.kafka, services.pg, self.prefix, self.schema)
        self.positions = Probe(services.kafka, services.pg, self.prefix, self.schema)  # the ingest thread's
        self.ingest_estimate = max(3.0, config.records / config.cycles / 1500)
        self.current: str | None = None  # the chunk being ingested, if any
        self.current_index = -1  # its index in the cycle
        self.last_attempt_s = 2.0  # how long the last ingest attempt took

    # the environment of every `yidi` subprocess: the Kafka backend of this run
    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("YIDI_")}
        env.update({
            "YIDI_KAFKA": self.services.kafka, "YIDI_PG": self.services.pg,
            "YIDI_TOPIC_PREFIX": self.prefix, "YIDI_PG_SCHEMA": self.schema,
            "YIDI_HOME": str(self.home), "YIDI_CATCH_UP_TIMEOUT": "120",
            "YIDI_RELAY_BATCH": str(self.config.relay_batch), "YIDI_FAUST_BATCH": str(self.config.faust_batch),
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        })
        return env

    def yidi(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(yidi_args(*args), capture_output=True, text=True, timeout=timeout, env=self.env,
                              cwd=str(self.home))

    # -- ingest ------------------------------------------------------------------------------
    def ingest(self, chunk: Chunk) -> None:
        """`yidi ingest CHUNK --json` until it succeeds; every attempt's counts are kept."""
        cfg = self.config
        for attempt in range(cfg.ingest_attempts):
            # PostgreSQL up and the store's last position noted: what an attempt commits lies
            # between its start position and the next attempt's (nothing else writes there)
            deadline = time.monotonic() + 120
            while not self.services.pg_up() and time.monotonic() < deadline:
                time.sleep(0.3)
            start_position = self.positions.last_position()
            started = time.monotonic()
            self.current = f"{chunk.path.name} attempt {attempt + 1}"
            try:
                done = self.yidi("ingest", str(chunk.path), "--json", "--no-progress",
                                 "--batch-records", str(cfg.batch_records),
                                 "--rejects", str(self.home / "rejects" / f"{chunk.path.name}.{attempt}.jsonl"),
                                 timeout=cfg.ingest_timeout)
                rc, out, err = done.returncode, done.stdout, done.stderr
            except subprocess.TimeoutExpired as exc:
                rc, out, err = None, (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or ""), "timeout"
            counts = None
            try:
                counts = orjson.loads(out) if out.strip() else None
            except orjson.JSONDecodeError:
                counts = None
            chunk.attempts.append(Attempt(rc, counts, time.monotonic() - started,
                                          "" if rc == 0 else (err or "")[-1500:], start_position))
            self.last_attempt_s = time.monotonic() - started
            self.report.ingest_attempts += 1
            if rc == 0:
                self.current = None
                return
            self.report.ingest_failed_attempts += 1
            first = (err or "").strip().splitlines()[-1:] or [""]
            log(f"ingest {chunk.path.name} attempt {attempt + 1} failed (exit {rc}, "
                f"{'counts ' + str(counts) if counts else 'no counts'}): {first[0][:160]}")
            time.sleep(0.2)
        raise HarnessFailure(f"ingest of {chunk.path.name} did not succeed in {cfg.ingest_attempts} attempts")

    # -- faults ------------------------------------------------------------------------------
    def inject(self, plan: CyclePlan) -> None:
        assert self.fleet is not None
        names = {"relay": "relay", "worker": f"worker-{plan.worker}"}
        during = self.current
        log(f"  SIGKILL {plan.label()}" + (f" (during ingest of {during})" if during else " (between ingests)"))
        if during:
            self.report.faults_during_ingest += 1
        for kind in plan.kinds:
            if kind in names:
                self.fleet.kill(names[kind])
            else:
                self.services.kill(kind)
            self.report.faults[kind] += 1
            self.report.faults_injected += 1
        self.report.fault_cycles.append(plan.label())
        time.sleep(plan.downtime)
        for kind in sorted(plan.kinds, key=RESTART_ORDER.index):
            if kind in names:
                self.fleet.restart(names[kind])
            else:
                self.services.start(kind)
        log(f"  restarted {plan.label()} (down {plan.downtime:.1f} s)")

    def _create_tables(self) -> None:
        """The event store's and the read models' tables, before any process starts: several
        first starts at once race on CREATE TABLE IF NOT EXISTS (one of them fails once and is
        restarted) — a deployment's setup step, not a fault under test."""
        from consumers import topics
        from consumers.relay import open_event_store
        from projections.postgres_store import PostgresReadModels

        open_event_store(self.services.pg, self.schema).datastore.close()
        PostgresReadModels(self.services.pg, topics.facts_topic(self.prefix), self.schema).close()

    def wait_caught_up(self, what: str) -> float:
        started = time.monotonic()
        deadline = started + self.config.catch_up_timeout
        while not self.probe.caught_up():
            if time.monotonic() > deadline:
                raise HarnessFailure(f"{what}: the read models did not catch up within "
                                     f"{self.config.catch_up_timeout:.0f} s: {self.probe.lag()} "
                                     f"(last error {self.probe.last_error})\n{self.diagnose()}\n{self._log_tails()}")
            time.sleep(0.25)
        return time.monotonic() - started

    def diagnose(self) -> str:
        """Where the pipeline stands: per partition of yidi.facts, the committed end (LSO), the
        processors' committed offset, the read model's offset; the group's members."""
        from kafka import KafkaConsumer, TopicPartition
        from kafka.admin import KafkaAdminClient

        from consumers import topics

        lines = []
        try:
            topic = topics.facts_topic(self.prefix)
            group = f"{self.prefix}yidi-processors"
            consumer = KafkaConsumer(bootstrap_servers=self.services.kafka, isolation_level="read_committed",
                                     group_id=None, enable_auto_commit=False)
            tps = [TopicPartition(topic, p) for p in range(topics.PARTITIONS)]
            ends = consumer.end_offsets(tps)
            consumer.close()
            admin = KafkaAdminClient(bootstrap_servers=self.services.kafka)
            committed = admin.list_consumer_group_offsets(group)
            described = admin.describe_consumer_groups([group])
            admin.close()
            saved = {}
            if self.probe.models is not None or self.probe._guard(lambda: True, False):
                saved = self.probe._guard(lambda: self.probe.models.offsets(), {})
            for tp in tps:
                c = committed.get(tp)
                lines.append(f"  partition {tp.partition}: end (LSO) {ends.get(tp)}, group committed "
                             f"{c.offset if c else None}, read model offset/position {saved.get(tp.partition)}")
            for g in described:
                lines.append(f"  group {getattr(g, 'group', group)} state {getattr(g, 'state', '?')}")
                for m in getattr(g, "members", []) or []:
                    lines.append(f"    member {getattr(m, 'client_id', '?')} {getattr(m, 'client_host', '')}: "
                                 f"{getattr(m, 'member_assignment', '')}")
        except Exception as exc:  # noqa: BLE001 - diagnostics only
            lines.append(f"  (diagnostics failed: {exc!r})")
        return "\n".join(lines)

    def _log_tails(self) -> str:
        if self.fleet is None:
            return ""
        return "\n".join(f"--- {name}.log ---\n{_tail(self.fleet.logfile(name))}" for name in self.fleet.names)

    def cycle(self, index: int, chunks: list[Chunk], plan: CyclePlan) -> None:
        started = time.monotonic()
        errors: list[BaseException] = []

        def feed() -> None:
            try:
                for n, chunk in enumerate(chunks):
                    self.current_index = n
                    self.ingest(chunk)
            except BaseException as exc:  # noqa: BLE001 - reported by the cycle
                errors.append(exc)

        feeder = threading.Thread(target=feed, name=f"ingest-{index}", daemon=True)
        feeder.start()
        if self.config.pg_during_ingest and "pg" in plan.kinds:
            # make sure this one hits an ingest (whose failed attempt must be re-run): the
            # attempt of a seeded chunk of the cycle, a seeded fraction into it
            target = min(len(chunks) - 1, int(plan.at * len(chunks)))
            waited = time.monotonic()
            while (self.current is None or self.current_index < target) and feeder.is_alive():
                time.sleep(0.005)
            time.sleep(plan.settle * self.last_attempt_s)
            delay = time.monotonic() - waited
        else:
            delay = plan.at * self.ingest_estimate
            time.sleep(delay)
        self.inject(plan)
        feeder.join()
        if errors:
            raise errors[0]
        ingested = time.monotonic() - started
        # the next cycle's moment is drawn over (a little more than) this one's ingest time:
        # most faults hit while records are being recorded, relayed and folded. Only the
        # ingest attempts count: the cycle's own wait for its kill moment and the restarts
        # must not feed back into the next wait (they once grew it to 100 s a cycle)
        busy = sum(a.seconds for chunk in chunks for a in chunk.attempts)
        self.ingest_estimate = 0.5 * self.ingest_estimate + 0.5 * 1.2 * busy
        waited = self.wait_caught_up(f"cycle {index} ({plan.label()})")
        counts = self.probe.counts()
        log(f"cycle {index + 1}/{self.config.cycles}: {plan.label():<16} at {delay:5.1f} s, "
            f"{sum(c.records for c in chunks):,} records in {ingested:.1f} s, caught up {waited:.1f} s later; "
            f"facts stored/folded {counts}")
        if counts is None or counts[0] != counts[1]:
            self.report.fail(f"cycle {index}: after catching up, facts in the event store / folded by the read "
                             f"models = {counts}\n{self.diagnose()}\n{self.unfolded()}")

    def unfolded(self, limit: int = 12) -> str:
        """The facts the read models have not folded although they are on the topic: where they
        are (partition, offset) against each partition's saved offset."""
        from consumers.kafka_replay import read_topic_facts

        try:
            heads: dict[str, int] = {}
            saved: dict[int, int] = {}
            for p, st in self.probe._guard(lambda: self.probe.models.load(), {}).items():
                saved[p] = st.offset
                for key, head in st.state.heads.items():
                    heads[key] = head[0]
            missing = [(p, o, f["id"]) for p, o, f in read_topic_facts(self.services.kafka, self.prefix)
                       if f["seq"] > heads.get(f["key"], 0)]
            below = [m for m in missing if m[1] <= saved.get(m[0], -1)]
            lines = [f"  {len(missing)} facts on the topic not in the read models, {len(below)} of them at or "
                     f"below their partition's saved offset (skipped, not pending)"]
            lines += [f"    partition {p} offset {o}: {i} (saved offset {saved.get(p)})" for p, o, i in missing[:limit]]
            return "\n".join(lines)
        except Exception as exc:  # noqa: BLE001 - diagnostics only
            return f"  (could not list the unfolded facts: {exc!r})"

    # -- the whole run -----------------------------------------------------------------------
    def execute(self) -> Report:
        cfg = self.config
        started = time.monotonic()
        log(f"SEED {cfg.seed}  (re-run: --seed {cfg.seed}; records {cfg.records:,}, cycles {cfg.cycles}, "
            f"workers {cfg.workers})  prefix {self.prefix} schema {self.schema}")
        self.services.check_managed()
        self.services.wait_ready()
        source = self.work / "records.jsonl"
        n = simulate(source, cfg.records, cfg.seed, cfg.malformed)
        parts = cut(source, self.work, cfg.cycles, cfg.chunk_records, n)
        plans = make_plan(self.rng, cfg.cycles, cfg.workers, cfg.options, cfg.max_downtime)
        log("plan: " + ", ".join(p.label() for p in plans))
        t = time.monotonic()
        reference = embedded_reference(self.work / "embedded", parts, cfg.batch_records)
        log(f"reference: {n:,} records ingested embedded in {time.monotonic() - t:.1f} s: "
            f"{reference.summary['facts']:,} facts, {len(reference.rejected_lines)} rejected lines")
        self.report.facts = reference.summary["facts"]
        self._create_tables()
        self.fleet = Fleet(self.env, self.home, cfg.workers)
        try:
            self.fleet.start_all()
            for index, (chunks, plan) in enumerate(zip(parts, plans)):
                self.cycle(index, chunks, plan)
        finally:
            codes = self.fleet.stop_all()
            self.report.self_exits = list(self.fleet.self_exits)
            errors = self.services.restore()
            if errors:
                self.report.fail(f"could not restart the services: {errors}")
        log(f"long-running processes stopped ({codes}); `yidi worker --until-caught-up`")
        done = self.yidi("worker", "--until-caught-up", timeout=cfg.catch_up_timeout + 120)
        if done.returncode != 0:
            self.report.fail(f"yidi worker --until-caught-up exited {done.returncode}: {done.stderr[-2000:]}")
        self.check(parts, reference)
        self.report.seconds = time.monotonic() - started
        self.probe.close()
        return self.report

    # -- the checks ----------------------------------------------------------------------------
    def _json(self, *args: str) -> Any:
        done = self.yidi(*args)
        if done.returncode != 0:
            self.report.fail(f"yidi {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
            return None
        return orjson.loads(done.stdout)

    def replay_from_kafka(self) -> Any:
        """`yidi replay --from-kafka --json`; until that flag is wired, the function it runs
        (yidi.cli_kafka.replay_from_kafka_command), in a subprocess all the same."""
        help_text = self.yidi("replay", "--help").stdout
        if "--from-kafka" in help_text:
            return self._json("replay", "--from-kafka", "--json")
        code = "from yidi.cli_kafka import replay_from_kafka_command as r; r(as_json=True)"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                              env=self.env, cwd=str(self.home))
        if done.returncode != 0:
            self.report.fail(f"replay_from_kafka_command exited {done.returncode}: {done.stderr[-2000:]}")
            return None
        return orjson.loads(done.stdout)

    def check_counts(self, parts: list[list[Chunk]], lines_at: dict[str, list[tuple[int, int]]]) -> None:
        """Per chunk: accepted over all attempts == the embedded ingest's accepted; the last
        attempt's rejected, and accepted + duplicates, equal the embedded ones.

        A batch the store refused (PostgreSQL killed) is normally not recorded. If the server
        died while committing it, it may have been (the reply was lost): its accepted records
        are then answered as duplicates by the next attempt. Such a batch is found in the
        store — lines of the refused range recorded between the attempt's start and the next
        attempt's start — and its records are counted with its attempt ("in doubt, committed")."""
        report = self.report
        for chunk in itertools.chain.from_iterable(parts):
            attempts = chunk.attempts
            last = attempts[-1].counts or {}
            unknown = [a for a in attempts if a.counts is None]
            if unknown:
                report.fail(f"{chunk.path.name}: {len(unknown)} ingest attempt(s) ended without printing counts "
                            f"(exit {[a.rc for a in unknown]}): {unknown[0].error[-600:]}")
            committed_in_doubt = 0
            for attempt, following in zip(attempts, attempts[1:]):
                if attempt.refused is None:
                    continue
                first, last_line = attempt.refused
                if attempt.start_position is None or following.start_position is None:
                    report.fail(f"{chunk.path.name}: cannot tell whether the refused lines {first}-{last_line} "
                                f"were committed (no start positions)")
                    continue
                found = {line for line, position in lines_at.get(chunk.path.name, ())
                         if first <= line <= last_line and attempt.start_position < position <= following.start_position}
                if found:
                    committed_in_doubt += len(found)
                    report.batches_in_doubt += 1
                    log(f"{chunk.path.name}: the batch of lines {first}-{last_line} reported as refused was "
                        f"committed ({len(found)} records): the connection broke during its commit")
            if chunk.accepted_total + committed_in_doubt != chunk.expected["accepted"]:
                report.fail(f"{chunk.path.name}: accepted over {len(attempts)} attempts "
                            f"{[(a.counts or {}).get('accepted') for a in attempts]} = {chunk.accepted_total}"
                            f" (+ {committed_in_doubt} committed in doubt), embedded {chunk.expected}")
            if last.get("rejected") != chunk.expected["rejected"] or \
                    last.get("accepted", 0) + last.get("duplicates", 0) != \
                    chunk.expected["accepted"] + chunk.expected["duplicates"]:
                report.fail(f"{chunk.path.name}: last attempt {last}, embedded {chunk.expected}")

    def check(self, parts: list[list[Chunk]], ref: Reference) -> None:
        from consumers import topics
        from consumers.eventlog import read_facts
        from consumers.kafka_replay import read_topic_facts
        from consumers.relay import open_event_store
        from projections.postgres_store import PostgresReadModels

        report = self.report
        # 2. facts: embedded reference vs event store vs topic vs read models
        recorder = open_event_store(self.services.pg, self.schema)
        stored: dict[str, str] = {}
        store_count: collections.Counter[str] = collections.Counter()
        sources: set[tuple[str, int]] = set()
        lines_at: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)  # file -> (line, position)
        store_heads: dict[str, int] = {}
        store_per_partition: collections.Counter[int] = collections.Counter()
        for fact in read_facts(recorder):
            store_count[fact["id"]] += 1
            stored[fact["id"]] = fact["hash"]
            src = fact.get("source") or {}
            if "file" in src and "line" in src:
                sources.add((src["file"], int(src["line"])))
                lines_at[src["file"]].append((int(src["line"]), fact["position"]))
            store_heads[fact["key"]] = max(store_heads.get(fact["key"], 0), fact["seq"])
            store_per_partition[topics.partition_for(fact["key"])] += 1
        recorder.datastore.close()
        self.check_counts(parts, lines_at)
        on_topic: collections.Counter[str] = collections.Counter()
        topic_hash: dict[str, str] = {}
        for _, _, fact in read_topic_facts(self.services.kafka, self.prefix):
            on_topic[fact["id"]] += 1
            topic_hash[fact["id"]] = fact["hash"]
        models = PostgresReadModels(self.services.pg, topics.facts_topic(self.prefix), self.schema)
        try:
            partitions = models.load()
        finally:
            models.close()
        rm_heads: dict[str, int] = {}
        rm_facts: collections.Counter[int] = collections.Counter()
        for p, st in partitions.items():
            rm_facts[p] = st.facts
            for key, head in st.state.heads.items():
                rm_heads[key] = head[0]
        figures = {
            "store_missing": len(ref.facts.keys() - stored.keys()),
            "store_extra": len(stored.keys() - ref.facts.keys()),
            "store_doubled": sum(n - 1 for n in store_count.values()),
            "store_differs": sum(1 for i, h in stored.items() if i in ref.facts and ref.facts[i] != h),
            "topic_lost": len(stored.keys() - on_topic.keys()),
            "topic_doubled": sum(n - 1 for n in on_topic.values()),
            "topic_extra": len(on_topic.keys() - stored.keys()),
            "topic_differs": sum(1 for i, h in topic_hash.items() if i in stored and stored[i] != h),
            "rm_lost": sum(max(0, seq - rm_heads.get(key, 0)) for key, seq in store_heads.items()),
            "rm_extra": sum(max(0, seq - store_heads.get(key, 0)) for key, seq in rm_heads.items()),
            "rm_doubled": sum(max(0, rm_facts[p] - store_per_partition[p]) for p in set(rm_facts) | set(store_per_partition)),
            "rejected_traces": len(sources & ref.rejected_lines),
        }
        report.figures = figures
        report.lost = figures["store_missing"] + figures["topic_lost"] + figures["rm_lost"]
        report.doubled = (figures["store_doubled"] + figures["store_extra"] + figures["store_differs"]
                          + figures["topic_doubled"] + figures["topic_extra"] + figures["topic_differs"]
                          + figures["rm_doubled"] + figures["rm_extra"])
        for name, value in figures.items():
            if value:
                report.fail(f"{name} = {value}")
        if sum(rm_facts.values()) != len(ref.facts):
            report.fail(f"read models folded {sum(rm_facts.values())} facts, the embedded ledger holds {len(ref.facts)}")

        # 3. balances and digests: read models, embedded, replay from Kafka
        balances = self._json("balances", "--json")
        summary = self._json("summary", "--json")
        replay = self.replay_from_kafka()
        if balances != ref.balances:
            report.fail(f"`yidi balances --json` differs from the embedded ledger in "
                        f"{_diff_count(balances, ref.balances)} accounts")
        if summary != ref.summary:
            report.fail(f"`yidi summary --json` {_short(summary)} differs from the embedded {_short(ref.summary)}")
        if replay is None or replay.get("balances") != ref.balances:
            report.fail("`yidi replay --from-kafka --json` balances differ from the embedded ledger's")
        if replay is None or replay.get("digest") != ref.summary["digest"] or replay.get("facts") != len(ref.facts):
            report.fail(f"replay from Kafka: digest {replay and replay.get('digest')}, facts "
                        f"{replay and replay.get('facts')}; embedded {ref.summary['digest']}, {len(ref.facts)}")

        # 4. the audit commands
        for args in (("verify", "--json"), ("verify", "--from-kafka", "--json")):
            done = self.yidi(*args)
            result = orjson.loads(done.stdout) if done.stdout.strip().startswith("{") else None
            if done.returncode != 0 or not result or not result.get("ok") or result.get("facts") != len(ref.facts):
                report.fail(f"yidi {' '.join(args)} exited {done.returncode}: {done.stdout[-600:]} {done.stderr[-600:]}")

    def cleanup(self) -> None:
        import psycopg2
        from kafka.admin import KafkaAdminClient

        try:
            conn = psycopg2.connect(self.services.pg)
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            conn.close()
        except Exception as exc:  # noqa: BLE001 - cleanup only
            log(f"could not drop schema {self.schema}: {exc!r}")
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.services.kafka)
            mine = [t for t in admin.list_topics() if t.startswith(self.prefix)]
            if mine:
                admin.delete_topics(mine)
            admin.close()
        except Exception as exc:  # noqa: BLE001
            log(f"could not delete topics {self.prefix}*: {exc!r}")


def _diff_count(a: Any, b: dict[str, int]) -> int:
    if not isinstance(a, dict):
        return len(b)
    return sum(1 for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def _short(summary: Any) -> str:
    if not isinstance(summary, dict):
        return repr(summary)
    return f"(facts {summary.get('facts')}, digest {str(summary.get('digest'))[:12]})"


def run(services: Services, config: Config, work: Path, keep: bool = False, prefix: str | None = None,
        schema: str | None = None) -> Report:
    """One run; the services are started again before it returns, whatever happened."""
    harness = Run(services, config, work, prefix, schema)
    started = time.monotonic()
    try:
        return harness.execute()
    except BaseException as exc:
        harness.report.seconds = time.monotonic() - started
        harness.report.fail(f"{type(exc).__name__}: {str(exc)[:500]}")
        setattr(exc, "report", harness.report)  # the figures so far, for the caller
        raise
    finally:
        errors = services.restore()
        if errors:
            log(f"WARNING: services not restored: {errors}")
        if not keep:
            harness.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    parser.add_argument("--workers", type=int, default=2, help="faust workers (--processors-only)")
    parser.add_argument("--chunk-records", type=int, default=5000, help="records per `yidi ingest` file")
    parser.add_argument("--batch-records", type=int, default=1000, help="records per ingest transaction")
    parser.add_argument("--relay-batch", type=int, default=2000, help="YIDI_RELAY_BATCH")
    parser.add_argument("--faust-batch", type=int, default=2000, help="YIDI_FAUST_BATCH")
    parser.add_argument("--max-downtime", type=float, default=3.0, help="seconds a killed target stays down at most")
    parser.add_argument("--pg-during-ingest", action="store_true",
                        help="a PostgreSQL kill waits for a running `yidi ingest` (then a seeded moment into it)")
    parser.add_argument("--catch-up-timeout", type=float, default=300.0)
    parser.add_argument("--work", type=Path, default=None, help="work directory (default: a fresh one in $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the topics, schema and work directory")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    config = Config(records=args.records, cycles=args.cycles, seed=seed, workers=args.workers,
                    chunk_records=args.chunk_records, batch_records=args.batch_records,
                    relay_batch=args.relay_batch, faust_batch=args.faust_batch,
                    max_downtime=args.max_downtime, catch_up_timeout=args.catch_up_timeout,
                    pg_during_ingest=args.pg_during_ingest)
    work = args.work or Path(os.environ.get("TMPDIR", "/tmp")) / f"yidi-faults-{seed}-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True, exist_ok=True)
    command = (f"python bench/faults_kafka.py --cycles {args.cycles} --records {args.records} --seed {seed} "
               f"--workers {args.workers} --chunk-records {args.chunk_records} --batch-records {args.batch_records}")
    log(f"command: {command}")
    try:
        report = run(services_from_env(), config, work, keep=args.keep)
    except HarnessFailure as exc:
        log(f"FAILED (seed {seed}): {exc}")
        partial = getattr(exc, "report", None)
        if partial is not None:
            print("(figures up to the failure)\n" + partial.text())
        print(f"command: {command}")
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(report.text())
    print(f"command: {command}")
    return 0 if not report.failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
