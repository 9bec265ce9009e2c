"""The read API and the dashboard: the projections over HTTP (FastAPI).

    create_app(backend_factory, policy, token)  ->  a FastAPI (ASGI) application

* ``GET /api/...`` answer from the projection (``projections/views.py``): the same figures as
  the CLI's ``--json``. ``/api/balances``, ``/api/floats``, ``/api/statements`` and
  ``/api/provinces`` print exactly what ``yidi balances|floats|statements|provinces --json``
  print; the other lists are paged (``limit`` ≤ 1000, ``offset``) and filtered.
* ``POST /api/records`` records platform messages and ledger records, validated exactly as
  ``yidi ingest`` validates them; it needs ``Authorization: Bearer <token>`` and answers 403
  when no token is configured (the default: read-only).
* ``/``, ``/floats``, ``/calendar``, ``/investigations``, ``/payouts``, ``/volumes``: the
  dashboard pages (``yidi/static/``), which poll the API and update in place.

Freshness and threads: every backend call (the factory, ``catch_up``, ``record``) and every
view computation runs on one dedicated thread, so the embedded backend's SQLite connections
are used from the thread that opened them and the projection is never read while a catch-up
folds into it. Before answering, the app calls ``backend.catch_up()`` when the last call is
older than ``refresh_seconds`` (0.5 s): facts that another process records into the same
data directory show up within that time. Computed views and encoded answers are cached until
the projection changes (the cache is keyed by a generation counter bumped by every catch-up
that folded facts and by every write).
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import gc
import hmac
import inspect
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, AsyncIterator, Callable, Generic, Literal, TypeVar

import orjson
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from ledger.config import Policy
from projections import views
from projections.fold import Projection, digest

from .ingest import Ingest

API_VERSION = "1.0.0"
LIMIT_MAX = 1000  # no list answers more than this many items per request
LIMIT_DEFAULT = 100
RECORDS_MAX = 1000  # records per POST /api/records
BODY_MAX_BYTES = 16 * 2**20  # a settlement is ~1.5 kB: 1000 of them fit many times over
REFRESH_SECONDS = 0.5  # catch_up at most this often
CATCH_UP_WAIT_S = 2.0  # how long a backend whose catch_up waits (Kafka) may wait per refresh
RESPONSE_CACHE_ENTRIES = 1024  # encoded answers kept per projection generation (LRU)
POLL_MS_DEFAULT = 2000  # how often the dashboard pages poll the API
DUE_WORKING_DAYS_MAX = 60
PAGES = ("overview", "floats", "calendar", "investigations", "payouts", "volumes")

BackendFactory = Callable[[], Any]
T = TypeVar("T")

# -- response models (what /openapi.json publishes) ------------------------------------
Level = Literal["ok", "warning", "emergency"]
StatementStatus = Literal["outstanding", "transferred"]
CaseStatus = Literal["open", "closed"]
PayoutStatus = Literal["awaiting_clearing", "due", "overdue", "paid"]
Order = Literal["asc", "desc"]
CODE = r"^\d{6}$"
PAIR = r"^\d{6}>\d{6}$"
PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"
INFNO = r"^\d{4}$"


class Page(BaseModel, Generic[T]):
    total: int = Field(description="Items matching the filters (all pages).")
    limit: int
    offset: int
    items: list[T]


class FloatRow(BaseModel):
    insured: str
    treatment: str
    float_fen: int = Field(description="The pair's float (预付金), −balance of nothing: balance of P:prepaid:T.")
    outstanding_fen: int = Field(description="Settled and not yet paid by a clearing transfer: −balance of P:payable:T.")
    usage_pct: float | None = Field(description="outstanding ÷ float × 100, 2 decimals; null without a float.")
    level: Level


class FloatAlert(BaseModel):
    time: str
    from_level: str
    to_level: str
    usage_pct: float | None
    outstanding_fen: int
    float_fen: int


class FloatDetail(FloatRow):
    year: int
    alerts: list[FloatAlert] = Field(description="Every level change of the pair, oldest first.")


class Statement(BaseModel):
    period: str
    insured: str
    treatment: str
    amount_fen: int
    status: StatementStatus


class StatementDetail(Statement):
    issued_at: str
    transferred_at: str | None
    settlements: int
    reversals: int
    clawbacks: int


class CalendarStatement(StatementDetail):
    due_date: str = Field(description="Issue day + due_working_days working days.")
    days_late: int | None = Field(description="Days past due_date when transferred, or at `today` while outstanding.")
    days_open: int | None = Field(description="Days from issue to transfer, or to `today` while outstanding.")


class CalendarMonth(BaseModel):
    period: str
    closed_at: str | None
    statements: int
    total_fen: int
    issued: int
    issued_fen: int
    transferred: int
    transferred_fen: int
    outstanding: int
    outstanding_fen: int
    late: int
    max_days_late: int


class Calendar(Page[CalendarStatement]):
    today: str | None = Field(description="The day lateness is judged at: `today` or the latest fact's day.")
    due_working_days: int
    months: list[CalendarMonth]


class Case(BaseModel):
    setl_id: str
    status: CaseStatus
    opened_at: str
    closed_at: str | None
    outcome: str | None
    insured: str
    treatment: str
    fixmedins_code: str
    psn_no: str
    setl_time: str
    medfee_sumamt_fen: int


class Cases(Page[Case]):
    open: int = Field(description="Open cases in the whole queue (filters not applied).")
    closed: int
    threshold_fen: int = Field(description="Policy: an inpatient stay at or above this opens a case.")


class Payout(BaseModel):
    treatment: str
    fixmedins_code: str
    period: str
    due_fen: int
    paid_fen: int
    outstanding_fen: int
    money_arrived_at: str | None
    due_date: str | None
    status: PayoutStatus


class StatusTally(BaseModel):
    count: int
    outstanding_fen: int


class Payouts(Page[Payout]):
    today: str | None
    payout_working_days: int
    by_status: dict[str, StatusTally] = Field(description="Every payout row (filters not applied), per status.")


class VolumeRow(BaseModel):
    day: str
    insured: str
    treatment: str
    infno: str
    settlements: int
    owed_fen: int
    reversals: int
    reversed_fen: int


class VolumeDay(BaseModel):
    day: str
    settlements: int
    owed_fen: int
    reversals: int
    reversed_fen: int
    by_infno: dict[str, int] = Field(description="Settlements per transaction code (2207, 2304, 2102).")


class DirectRateRow(BaseModel):
    province: str
    care: Literal["inpatient", "outpatient"]
    direct: int
    manual: int
    direct_rate_pct: float | None


class ProvinceRate(BaseModel):
    province: str
    inpatient_direct: int
    inpatient_manual: int
    outpatient_direct: int
    outpatient_manual: int
    direct: int
    manual: int
    inpatient_rate_pct: float | None
    outpatient_rate_pct: float | None
    direct_rate_pct: float | None


class DirectRate(BaseModel):
    goal_pct: int = Field(description="Policy: the national goal for the inpatient cross-province rate.")
    provinces: list[ProvinceRate]
    rows: list[DirectRateRow]


class Province(BaseModel):
    code: str
    insured_prepaid_fen: int
    insured_payable_fen: int
    insured_fund_spent_fen: int
    treatment_float_held_fen: int
    treatment_receivable_fen: int
    treatment_owed_to_institutions_fen: int
    treatment_interest_fen: int
    treasury_fen: int


class Summary(BaseModel):
    facts: int
    facts_by_type: dict[str, int]
    accounts: int
    balance_sum_fen: int
    statements: int
    periods_closed: list[str]
    investigations_open: int
    digest: str


class Overview(BaseModel):
    facts: int
    latest_day: str | None
    today: str | None
    settlements: int
    owed_fen: int
    reversals: int
    reversed_fen: int
    floats: int
    floats_by_level: dict[str, int]
    floats_float_fen: int
    floats_outstanding_fen: int
    statements: int
    statements_outstanding: int
    statements_outstanding_fen: int
    periods_closed: list[str]
    investigations_open: int
    investigations_closed: int
    payouts_by_status: dict[str, StatusTally]
    direct: int
    manual: int
    direct_rate_pct: float | None


class Meta(BaseModel):
    api_version: str
    backend: str
    writes_enabled: bool
    poll_ms: int
    refresh_seconds: float
    limit_max: int
    float_warning_pct: int
    float_emergency_pct: int
    large_stay_threshold_fen: int
    payout_working_days: int
    due_working_days: int
    direct_settlement_goal_pct: int
    holidays: list[str]


class Health(BaseModel):
    status: Literal["ok", "lagging"]
    backend: str
    facts: int
    generation: int = Field(description="Advances whenever the projection changes.")
    lagging: str | None = Field(description="Why the last catch-up did not finish (Kafka: the worker lags).")


class FieldErrorOut(BaseModel):
    field: str
    message: str


class RejectOut(BaseModel):
    line: int = Field(description="1-based index of the record in the request body.")
    errors: list[FieldErrorOut]


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    rejects: list[RejectOut]


class Problem(BaseModel):
    detail: str


# -- query parameters ---------------------------------------------------------------------
def _limit(default: int | None) -> Any:
    return Query(default, ge=1, le=LIMIT_MAX, description=f"Items per page, at most {LIMIT_MAX}.")


OFFSET = Query(0, ge=0, le=10**9, description="Items to skip.")
DATE = r"^\d{4}-\d{2}-\d{2}$"


def _date_query(description: str, alias: str | None = None) -> Any:
    # A string checked here rather than pydantic's lax date (which takes 0 as 1970-01-01).
    return Query(None, alias=alias, pattern=DATE, description=description, json_schema_extra={"format": "date"})


TODAY = _date_query("The day lateness is judged at, YYYY-MM-DD (default: the latest fact's day, so history is stable).")


def _day(name: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _unprocessable(name, f"{value!r} is not a valid date (YYYY-MM-DD)") from None


def _unprocessable(name: str, message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors."""
    return HTTPException(422, detail=[{"type": "value_error", "loc": ["query", name], "msg": message}])


def _page(rows: list[Any], limit: int, offset: int) -> dict[str, Any]:
    return {"total": len(rows), "limit": limit, "offset": offset, "items": rows[offset:offset + limit]}


def _match(row: dict[str, Any], **wanted: Any) -> bool:
    return all(value is None or row[key] == value for key, value in wanted.items())


def _split_pair(pair: str | None) -> tuple[str | None, str | None]:
    if pair is None:
        return None, None
    insured, treatment = pair.split(">")
    return insured, treatment


def _json_response(body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(content=body, media_type="application/json", headers=headers)


def _freeze() -> None:
    """Move every object alive now out of the cyclic collector's reach (``gc.freeze``).

    A large ledger's projection is millions of long-lived dicts and lists; a full collection
    walking them takes over 100 ms (measured on 10^6 events) and stalls whatever request is
    running. The projection and the cached read models contain no reference cycles, so
    reference counting still frees them when they are replaced; freezing only spares the
    scans."""
    gc.freeze()


# -- the backend, on its own thread ---------------------------------------------------------
class Reader:
    """Owns the backend. Every call that touches it or its projection runs on one thread."""

    def __init__(self, factory: BackendFactory, policy: Policy, refresh_seconds: float) -> None:
        self.factory = factory
        self.policy = policy
        self.refresh_seconds = refresh_seconds
        self.backend: Any = None
        self.state: Projection = Projection()
        self.generation = 0
        self._fingerprint: tuple[int, str] = (-1, "")
        self._next_refresh = 0.0
        self._views: dict[Any, Any] = {}
        self._answers: OrderedDict[Any, tuple[bytes, dict[str, str] | None]] = OrderedDict()
        self._pool: ThreadPoolExecutor | None = None
        self._catch_up_takes_timeout: bool | None = None
        self.lagging: str | None = None  # why the last catch-up did not finish, if it did not

    async def start(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="yidi-backend")
        await self.run(self.open)

    async def stop(self) -> None:
        if self._pool is not None:
            await self.run(self.close)
            self._pool.shutdown(wait=True)
            self._pool = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            raise RuntimeError("the app has not started (lifespan startup did not run)")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # Everything below runs on the backend thread.
    def open(self) -> None:
        self.backend = self.factory()
        self._refresh(force=True)

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_refresh:
            return
        try:
            folded = self._catch_up()
            self.lagging = None
        except TimeoutError as exc:
            # The Kafka backend waits for its worker's read models; when they lag, answer from
            # the projection they have (and say so in /api/health) rather than fail the read.
            folded, self.lagging = 0, str(exc)
        self._next_refresh = time.monotonic() + self.refresh_seconds
        self._adopt(self.backend.projection(), changed=folded > 0)

    def _catch_up(self) -> int:
        if self._catch_up_takes_timeout is None:
            self._catch_up_takes_timeout = "timeout" in inspect.signature(self.backend.catch_up).parameters
        if self._catch_up_takes_timeout:
            return int(self.backend.catch_up(timeout=CATCH_UP_WAIT_S))
        return int(self.backend.catch_up())

    def _adopt(self, state: Projection, changed: bool) -> None:
        # Facts only ever add up: the same count is the same projection, even when a backend
        # hands out a new object for it each time.
        fingerprint = (state.facts, state.latest_time)
        if changed or fingerprint != self._fingerprint:
            self.state, self._fingerprint = state, fingerprint
            self.generation += 1
            self._views.clear()
            self._answers.clear()
            _freeze()

    def view(self, name: Any, compute: Callable[[Projection], Any]) -> Any:
        """A computed read model of the current generation (computed once per generation)."""
        if name not in self._views:
            self._views[name] = compute(self.state)
        return self._views[name]

    def answer(self, key: Any, build: Callable[[], Any], headers: Callable[[Any], dict[str, str]] | None = None
               ) -> tuple[bytes, dict[str, str] | None]:
        self._refresh()
        hit = self._answers.get(key)
        if hit is not None:
            self._answers.move_to_end(key)
            return hit
        views_before = len(self._views)
        value = build()
        answer = (orjson.dumps(value), headers(value) if headers else None)
        self._answers[key] = answer
        if len(self._answers) > RESPONSE_CACHE_ENTRIES:
            self._answers.popitem(last=False)
        if len(self._views) != views_before:
            _freeze()  # a new read model: keep it out of the collector's scans too
        return answer

    def record(self, values: list[Any]) -> dict[str, Any]:
        rejects: list[dict[str, Any]] = []
        pipeline = Ingest(self.backend, "http", rejects.append, batch_records=RECORDS_MAX)
        for index, value in enumerate(values, 1):
            pipeline.feed_value(index, value)
        pipeline.flush()
        self._next_refresh = 0.0  # fold anything recorded meanwhile at the next read
        self._adopt(self.backend.projection(), changed=pipeline.counts.accepted > 0)
        return {**pipeline.counts.to_dict(), "rejects": rejects}

    def health(self) -> dict[str, Any]:
        self._refresh()
        return {"status": "lagging" if self.lagging else "ok", "backend": getattr(self.backend, "name", "unknown"),
                "facts": self.state.facts, "generation": self.generation, "lagging": self.lagging}

    def today(self, given: dt.date | None) -> dt.date | None:
        if given is not None:
            return given
        day = self.view("latest_day", views.latest_day)
        return None if day is None else dt.date.fromisoformat(day)


class VolumeIndex:
    """The volumes read model (``"day|insured>treatment|infno" -> [settlements, owed_fen,
    reversals, reversed_fen]``) indexed for the API's filters, so that a page of a large
    ledger's volumes is found without building every row. Sorted keys are in day order,
    the order of ``views.volumes``."""

    def __init__(self, volumes: dict[str, list[int]]) -> None:
        self.volumes = volumes
        self.keys = sorted(volumes)
        self.by_pair: dict[str, list[str]] = {}
        for key in self.keys:
            self.by_pair.setdefault(key.split("|", 2)[1], []).append(key)

    def select(self, date_from: dt.date | None, date_to: dt.date | None, pair: str | None,
               insured: str | None, treatment: str | None, infno: str | None) -> list[str]:
        keys = self.by_pair.get(pair, []) if pair else self.keys
        low = bisect.bisect_left(keys, date_from.isoformat()) if date_from else 0
        # "~" sorts after the "|" that ends the day in every key of that day.
        high = bisect.bisect_left(keys, date_to.isoformat() + "~") if date_to else len(keys)
        keys = keys[low:high]
        if insured or treatment or infno:
            chosen = []
            for key in keys:
                _, key_pair, key_infno = key.split("|")
                key_insured, key_treatment = key_pair.split(">")
                if ((insured is None or key_insured == insured) and (treatment is None or key_treatment == treatment)
                        and (infno is None or key_infno == infno)):
                    chosen.append(key)
            keys = chosen
        return keys

    def row(self, key: str) -> dict[str, Any]:
        day, pair, infno = key.split("|")
        insured, treatment = pair.split(">")
        settlements, owed_fen, reversals, reversed_fen = self.volumes[key]
        return {"day": day, "insured": insured, "treatment": treatment, "infno": infno, "settlements": settlements,
                "owed_fen": owed_fen, "reversals": reversals, "reversed_fen": reversed_fen}

    def by_day(self, keys: list[str]) -> list[dict[str, Any]]:
        """Summed per day, as ``views.volumes_by_day`` sums the rows."""
        days: list[dict[str, Any]] = []
        for key in keys:
            day, _, infno = key.split("|")
            if not days or days[-1]["day"] != day:
                days.append({"day": day, "settlements": 0, "owed_fen": 0, "reversals": 0, "reversed_fen": 0,
                             "by_infno": {}})
            total = days[-1]
            settlements, owed_fen, reversals, reversed_fen = self.volumes[key]
            total["settlements"] += settlements
            total["owed_fen"] += owed_fen
            total["reversals"] += reversals
            total["reversed_fen"] += reversed_fen
            total["by_infno"][infno] = total["by_infno"].get(infno, 0) + settlements
        return days


# -- the application --------------------------------------------------------------------------
def create_app(
    backend_factory: BackendFactory,
    policy: Policy,
    token: str | None,
    *,
    refresh_seconds: float = REFRESH_SECONDS,
    poll_ms: int = POLL_MS_DEFAULT,
) -> FastAPI:
    """The API and dashboard over the backend that ``backend_factory()`` opens (at startup,
    on the backend thread; closed at shutdown). ``token`` enables ``POST /api/records``."""
    reader = Reader(backend_factory, policy, refresh_seconds)
    token = token or None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await reader.start()
        try:
            yield
        finally:
            await reader.stop()

    app = FastAPI(
        title="Yidi Ledger 异地就医结算账本 — read API",
        version=API_VERSION,
        description=(
            "Projections of the ledger over HTTP: the same figures as the CLI's `--json`. "
            "Amounts are integer fen (`*_fen`). Read-only unless a bearer token is configured "
            "(`YIDI_API_TOKEN`), which enables `POST /api/records`. See docs/api.md."
        ),
        lifespan=lifespan,
    )
    app.state.reader = reader

    async def answer(key: Any, build: Callable[[], Any],
                     headers: Callable[[Any], dict[str, str]] | None = None) -> Response:
        body, extra = await reader.run(reader.answer, key, build, headers)
        return _json_response(body, extra)

    def total_header(total: int) -> Callable[[Any], dict[str, str]]:
        return lambda _: {"X-Total-Count": str(total)}

    # -- contract mirrors -----------------------------------------------------------------
    @app.get("/api/balances", response_model=dict[str, int], tags=["contract"],
             summary="Balances per account (= yidi balances --json)")
    async def get_balances(
        prefix: str | None = Query(None, max_length=100, description="Only accounts starting with this, e.g. `440000:`."),
        limit: int | None = _limit(None), offset: int = OFFSET,
    ) -> Response:
        """account → balance in fen (Σ debits − Σ credits); accounts at 0 are left out.
        Without ``limit`` the whole map, exactly as ``yidi balances --json`` prints it."""
        def build() -> dict[str, int]:
            items = reader.view("balances", views.balances)
            if prefix is None and limit is None and offset == 0:
                return items
            keys = [k for k in items if prefix is None or k.startswith(prefix)]
            keys = keys[offset:] if limit is None else keys[offset:offset + limit]
            return {k: items[k] for k in keys}
        return await answer(("balances", prefix, limit, offset), build)

    def mirror(name: str, compute: Callable[[Projection], list[dict[str, Any]]], filters: dict[str, Any],
               limit: int | None, offset: int) -> Callable[[], list[dict[str, Any]]]:
        def build() -> list[dict[str, Any]]:
            rows = reader.view(name, compute)
            if any(v is not None for v in filters.values()):
                rows = [r for r in rows if _match(r, **filters)]
            return rows[offset:] if limit is None else rows[offset:offset + limit]
        return build

    @app.get("/api/provinces", response_model=list[Province], tags=["contract"],
             summary="Each place as insured and as treatment place (= yidi provinces --json)")
    async def get_provinces(
        code: str | None = Query(None, pattern=CODE), limit: int | None = _limit(None), offset: int = OFFSET,
    ) -> Response:
        return await answer(("provinces", code, limit, offset),
                            mirror("provinces", views.provinces, {"code": code}, limit, offset))

    @app.get("/api/floats", response_model=list[FloatRow], tags=["contract", "floats"],
             summary="Prepayment floats 预付金 (= yidi floats --json)")
    async def get_floats(
        insured: str | None = Query(None, pattern=CODE), treatment: str | None = Query(None, pattern=CODE),
        level: Level | None = None, limit: int | None = _limit(None), offset: int = OFFSET,
    ) -> Response:
        filters = {"insured": insured, "treatment": treatment, "level": level}
        return await answer(("floats", insured, treatment, level, limit, offset),
                            mirror("floats", lambda s: views.floats(s, policy), filters, limit, offset))

    @app.get("/api/statements", response_model=list[Statement], tags=["contract", "clearing"],
             summary="Clearing statements 清算单 (= yidi statements --json)")
    async def get_statements(
        period: str | None = Query(None, pattern=PERIOD), status: StatementStatus | None = None,
        insured: str | None = Query(None, pattern=CODE), treatment: str | None = Query(None, pattern=CODE),
        limit: int | None = _limit(None), offset: int = OFFSET,
    ) -> Response:
        filters = {"period": period, "status": status, "insured": insured, "treatment": treatment}
        return await answer(("statements", period, status, insured, treatment, limit, offset),
                            mirror("statements", views.statements, filters, limit, offset))

    # -- richer, paged views --------------------------------------------------------------
    @app.get("/api/floats/details", response_model=Page[FloatDetail], tags=["floats"],
             summary="Floats with their year and alert history")
    async def get_float_details(
        insured: str | None = Query(None, pattern=CODE), treatment: str | None = Query(None, pattern=CODE),
        level: list[Level] | None = Query(None, description="Repeat for several levels."),
        sort: Literal["pair", "usage"] = Query("pair", description="`usage`: highest usage first (no float last)."),
        limit: int = _limit(LIMIT_DEFAULT), offset: int = OFFSET,
    ) -> Response:
        levels = tuple(sorted(set(level))) if level else None

        def build() -> dict[str, Any]:
            rows = reader.view("float_details", lambda s: views.float_details(s, policy))
            if sort == "usage":
                rows = reader.view("float_details_by_usage", lambda _: sorted(
                    rows, key=lambda r: -1.0 if r["usage_pct"] is None else r["usage_pct"], reverse=True))
            rows = [r for r in rows
                    if _match(r, insured=insured, treatment=treatment) and (levels is None or r["level"] in levels)]
            return _page(rows, limit, offset)
        return await answer(("float_details", insured, treatment, levels, sort, limit, offset), build)

    @app.get("/api/statements/details", response_model=Page[StatementDetail], tags=["clearing"],
             summary="Statements with issue and transfer times and counts")
    async def get_statement_details(
        period: str | None = Query(None, pattern=PERIOD), status: StatementStatus | None = None,
        insured: str | None = Query(None, pattern=CODE), treatment: str | None = Query(None, pattern=CODE),
        limit: int = _limit(LIMIT_DEFAULT), offset: int = OFFSET,
    ) -> Response:
        def build() -> dict[str, Any]:
            rows = [r for r in reader.view("statement_details", views.statement_details)
                    if _match(r, period=period, status=status, insured=insured, treatment=treatment)]
            return _page(rows, limit, offset)
        return await answer(("statement_details", period, status, insured, treatment, limit, offset), build)

    @app.get("/api/calendar", response_model=Calendar, tags=["clearing"],
             summary="The clearing calendar: per month and pair issued, transferred, outstanding, days late")
    async def get_calendar(
        period: str | None = Query(None, pattern=PERIOD), status: StatementStatus | None = None,
        insured: str | None = Query(None, pattern=CODE), treatment: str | None = Query(None, pattern=CODE),
        late: bool | None = Query(None, description="Only statements late (days_late > 0), or only not late."),
        today: str | None = TODAY,
        due_working_days: int | None = Query(None, ge=0, le=DUE_WORKING_DAYS_MAX,
                                             description="Working days after issue the transfer is due "
                                                         "(default: policy clearing_transfer_working_days, 15)."),
        order: Order = Query("asc", description="By period then pair; `desc` shows the latest months first."),
        limit: int = _limit(LIMIT_DEFAULT), offset: int = OFFSET,
    ) -> Response:
        given = _day("today", today)

        due_days = policy.clearing_transfer_working_days if due_working_days is None else due_working_days

        def build() -> dict[str, Any]:
            day = reader.today(given)
            calendar = reader.view(("calendar", day, due_days),
                                   lambda s: views.clearing_calendar(s, policy, day, due_days))
            rows = [r for r in calendar["statements"]
                    if _match(r, period=period, status=status, insured=insured, treatment=treatment)
                    and (late is None or bool(r["days_late"]) == late)]
            if order == "desc":
                rows = sorted(rows, key=lambda r: r["period"], reverse=True)  # stable: pairs stay ordered
            return {**_page(rows, limit, offset), "today": calendar["today"],
                    "due_working_days": due_days, "months": calendar["months"]}
        return await answer(("calendar", period, status, insured, treatment, late, today, due_working_days,
                             order, limit, offset), build)

    @app.get("/api/investigations", response_model=Cases, tags=["investigations"],
             summary="The large-amount investigation queue 大额费用协查")
    async def get_investigations(
        status: CaseStatus | None = None,
        insured: str | None = Query(None, pattern=CODE), treatment: str | None = Query(None, pattern=CODE),
        fixmedins_code: str | None = Query(None, min_length=1, max_length=64),
        order: Order = Query("asc", description="By opening time; `desc` shows the newest first."),
        limit: int = _limit(LIMIT_DEFAULT), offset: int = OFFSET,
    ) -> Response:
        def build() -> dict[str, Any]:
            cases = reader.view("investigations", lambda s: views.investigations(s))
            rows = [c for c in cases if _match(c, status=status, insured=insured, treatment=treatment,
                                                 fixmedins_code=fixmedins_code)]
            if order == "desc":
                rows = rows[::-1]
            open_count = sum(1 for c in cases if c["status"] == "open")
            return {**_page(rows, limit, offset), "open": open_count, "closed": len(cases) - open_count,
                    "threshold_fen": policy.large_stay_threshold_fen}
        return await answer(("investigations", status, insured, treatment, fixmedins_code, order, limit, offset),
                            build)

    @app.get("/api/payouts", response_model=Payouts, tags=["payouts"],
             summary="Institution payments: due after the clearing money arrives, paid, overdue")
    async def get_payouts(
        status: list[PayoutStatus] | None = Query(None, description="Repeat for several, e.g. overdue and due."),
        treatment: str | None = Query(None, pattern=CODE),
        fixmedins_code: str | None = Query(None, min_length=1, max_length=64),
        period: str | None = Query(None, pattern=PERIOD),
        today: str | None = TODAY,
        limit: int = _limit(LIMIT_DEFAULT), offset: int = OFFSET,
    ) -> Response:
        given = _day("today", today)
        statuses = tuple(sorted(set(status))) if status else None

        def build() -> dict[str, Any]:
            day = reader.today(given)
            rows_all = reader.view(("payouts", day), lambda s: views.payouts(s, policy, today=day))
            rows = [r for r in rows_all if (statuses is None or r["status"] in statuses)
                    and _match(r, treatment=treatment, fixmedins_code=fixmedins_code, period=period)]
            tally = {k: {"count": 0, "outstanding_fen": 0} for k in ("awaiting_clearing", "due", "overdue", "paid")}
            for r in rows_all:
                tally[r["status"]]["count"] += 1
                tally[r["status"]]["outstanding_fen"] += r["outstanding_fen"]
            return {**_page(rows, limit, offset), "today": None if day is None else day.isoformat(),
                    "payout_working_days": policy.payout_working_days, "by_status": tally}
        return await answer(("payouts", statuses, treatment, fixmedins_code, period, today, limit, offset), build)

    def volume_keys(date_from: dt.date | None, date_to: dt.date | None, pair: str | None,
                    insured: str | None, treatment: str | None, infno: str | None) -> tuple[VolumeIndex, list[str]]:
        index: VolumeIndex = reader.view("volume_index", lambda s: VolumeIndex(s.volumes))
        pair_insured, pair_treatment = _split_pair(pair)
        if (insured and pair_insured and insured != pair_insured) or (
                treatment and pair_treatment and treatment != pair_treatment):
            return index, []
        return index, index.select(date_from, date_to, pair, insured or pair_insured,
                                   treatment or pair_treatment, infno)

    volume_filters = {
        "date_from": _date_query("First day, YYYY-MM-DD (inclusive).", alias="from"),
        "date_to": _date_query("Last day, YYYY-MM-DD (inclusive).", alias="to"),
        "pair": Query(None, pattern=PAIR, description="insured>treatment, e.g. 420000>440000."),
        "infno": Query(None, pattern=INFNO, description="2207 outpatient, 2304 inpatient, 2102 pharmacy."),
    }

    @app.get("/api/volumes", response_model=Page[VolumeRow], tags=["volumes"],
             summary="Settlement volumes per day, pair and transaction")
    async def get_volumes(
        date_from_text: str | None = volume_filters["date_from"], date_to_text: str | None = volume_filters["date_to"],
        pair: str | None = volume_filters["pair"],
        insured: str | None = Query(None, pattern=CODE), treatment: str | None = Query(None, pattern=CODE),
        infno: str | None = volume_filters["infno"],
        limit: int = _limit(LIMIT_DEFAULT), offset: int = OFFSET,
    ) -> Response:
        date_from, date_to = _day("from", date_from_text), _day("to", date_to_text)
        if date_from and date_to and date_from > date_to:
            raise _unprocessable("from", f"from ({date_from}) is after to ({date_to})")
        def build() -> dict[str, Any]:
            index, keys = volume_keys(date_from, date_to, pair, insured, treatment, infno)
            return {"total": len(keys), "limit": limit, "offset": offset,
                    "items": [index.row(k) for k in keys[offset:offset + limit]]}
        return await answer(("volumes", date_from, date_to, pair, insured, treatment, infno, limit, offset), build)

    @app.get("/api/volumes/daily", response_model=Page[VolumeDay], tags=["volumes"],
             summary="Settlement volumes summed per day (for charts)")
    async def get_volumes_daily(
        date_from_text: str | None = volume_filters["date_from"], date_to_text: str | None = volume_filters["date_to"],
        pair: str | None = volume_filters["pair"],
        insured: str | None = Query(None, pattern=CODE), treatment: str | None = Query(None, pattern=CODE),
        infno: str | None = volume_filters["infno"],
        order: Order = Query("asc", description="By day; `desc` gives the latest days first."),
        limit: int = _limit(LIMIT_MAX), offset: int = OFFSET,
    ) -> Response:
        date_from, date_to = _day("from", date_from_text), _day("to", date_to_text)
        if date_from and date_to and date_from > date_to:
            raise _unprocessable("from", f"from ({date_from}) is after to ({date_to})")

        def build() -> dict[str, Any]:
            def by_day() -> list[dict[str, Any]]:
                index, keys = volume_keys(date_from, date_to, pair, insured, treatment, infno)
                return index.by_day(keys)
            if (date_from, date_to, pair, insured, treatment, infno) == (None,) * 6:
                days = reader.view("volumes_by_day", lambda _: by_day())
            else:
                days = by_day()
            return _page(days[::-1] if order == "desc" else days, limit, offset)
        return await answer(("volumes_daily", date_from, date_to, pair, insured, treatment, infno, order, limit,
                             offset), build)

    @app.get("/api/direct-rate", response_model=DirectRate, tags=["volumes"],
             summary="Direct-settlement rate 直接结算率 per insured province: direct ÷ (direct + manual)")
    async def get_direct_rate() -> Response:
        return await answer(("direct_rate",), lambda: {
            "goal_pct": policy.direct_settlement_goal_pct,
            "provinces": reader.view("direct_rate_by_province", views.direct_rate_by_province),
            "rows": reader.view("direct_rate", views.direct_rate),
        })

    @app.get("/api/summary", response_model=Summary, tags=["contract"],
             summary="Counts and the projection digest (= yidi summary --json)")
    async def get_summary() -> Response:
        def build() -> dict[str, Any]:
            return {**reader.view("summary", views.summary), "digest": reader.view("digest", digest)}
        return await answer(("summary",), build)

    @app.get("/api/overview", response_model=Overview, tags=["dashboard"],
             summary="The front page's figures: totals, floats by level, outstanding statements, open cases")
    async def get_overview(today: str | None = TODAY) -> Response:
        given = _day("today", today)

        def build() -> dict[str, Any]:
            day = reader.today(given)
            payout_rows = reader.view(("payouts", day), lambda s: views.payouts(s, policy, today=day))
            return reader.view(("overview", day), lambda s: views.overview(s, policy, day, payout_rows))
        return await answer(("overview", today), build)

    @app.get("/api/meta", response_model=Meta, tags=["dashboard"], summary="Policy numbers and dashboard settings")
    async def get_meta() -> dict[str, Any]:
        return {
            "api_version": API_VERSION, "backend": getattr(reader.backend, "name", "unknown"),
            "writes_enabled": token is not None, "poll_ms": poll_ms, "refresh_seconds": refresh_seconds,
            "limit_max": LIMIT_MAX, "float_warning_pct": policy.float_warning_pct,
            "float_emergency_pct": policy.float_emergency_pct,
            "large_stay_threshold_fen": policy.large_stay_threshold_fen,
            "payout_working_days": policy.payout_working_days,
            "due_working_days": policy.clearing_transfer_working_days,
            "direct_settlement_goal_pct": policy.direct_settlement_goal_pct, "holidays": list(policy.holidays),
        }

    @app.get("/api/health", response_model=Health, tags=["dashboard"], summary="Liveness and the projection's size")
    async def get_health() -> dict[str, Any]:
        return await reader.run(reader.health)

    # -- the one write endpoint -----------------------------------------------------------
    record_schema = {
        "type": "object", "description": "A platform message (has `infno`) or a ledger record (has `type`); "
                                         "see docs/records.md.",
    }

    @app.post(
        "/api/records", response_model=IngestResult, tags=["write"],
        summary="Record platform messages and ledger records (as yidi ingest does)",
        responses={401: {"model": Problem, "description": "Missing or wrong bearer token."},
                   403: {"model": Problem, "description": "Writes disabled: no token configured."},
                   413: {"model": Problem, "description": "Body larger than the limit."},
                   422: {"model": Problem, "description": "Body is not JSON, or not a record or a list of records."}},
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "oneOf": [record_schema, {
                    "type": "array", "minItems": 1, "maxItems": RECORDS_MAX,
                    "description": "Records; an item that is not an object is rejected (field `record`), "
                                   "as `yidi ingest` rejects such a line.",
                    "items": {}}]}}}},
            "security": [{"bearer": []}],
        },
    )
    async def post_records(request: Request) -> Response:
        """One record (a JSON object) or a list of at most 1000, in the format of `yidi ingest`'s
        lines. Each is validated exactly as `yidi ingest` validates a line; `rejects[].line` is
        the record's 1-based index in the body."""
        if token is None:
            raise HTTPException(403, "writes disabled: no API token is configured (YIDI_API_TOKEN)")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > BODY_MAX_BYTES):
            raise HTTPException(413, f"body larger than {BODY_MAX_BYTES} bytes")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > BODY_MAX_BYTES:
                raise HTTPException(413, f"body larger than {BODY_MAX_BYTES} bytes")
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(422, f"body is not valid JSON: {str(exc)[:120]}") from None
        values = value if isinstance(value, list) else [value]
        if not isinstance(value, (list, dict)) or not values:
            raise HTTPException(422, "body must be a record (a JSON object) or a non-empty list of records")
        if len(values) > RECORDS_MAX:
            raise HTTPException(422, f"at most {RECORDS_MAX} records per request, got {len(values)}")
        result = await reader.run(reader.record, values)
        return _json_response(orjson.dumps(result))

    _add_bearer_scheme(app)
    _add_dashboard(app, poll_ms)
    return app


def _add_bearer_scheme(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
                "type": "http", "scheme": "bearer", "description": "The token of YIDI_API_TOKEN.",
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# -- the dashboard ------------------------------------------------------------------------------
def _add_dashboard(app: FastAPI, poll_ms: int) -> None:
    static = resources.files("yidi") / "static"
    shell = (static / "page.html").read_text(encoding="utf-8")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    def page(name: str) -> Callable[[], Any]:
        html = shell.replace("{{page}}", name).replace("{{poll_ms}}", str(int(poll_ms)))

        async def serve_page() -> HTMLResponse:
            return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
        return serve_page

    for name in PAGES:
        path = "/" if name == "overview" else f"/{name}"
        app.add_api_route(path, page(name), methods=["GET"], include_in_schema=False, response_class=HTMLResponse)
