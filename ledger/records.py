"""Records in, commands out: parse and validate one input record (DOMAIN.md §2, §4, §8).

``parse_record(raw, policy)`` turns one decoded JSON object into a typed command, or into a
list of ``FieldError`` naming each bad field. It is pure: no store is consulted here, so the
rules that need history (duplicates, filings, reversals, statements) live in the service.

Amounts become integer fen here and nowhere else. Every command carries ``content``: the
record normalised (amounts in fen), which is what "identical" means for duplicates and what
is named field by field when a business id is reused with other content.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from . import codes
from .config import Policy
from .errors import FieldError
from .money import AmountError, parse_yuan_to_fen

_TIME_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\Z")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_PERIOD_RE = re.compile(r"^[0-9]{4}-[0-9]{2}\Z")
MAX_TEXT_CHARS = 200  # free text (notes, names) longer than this is refused

# Header fields of a national-platform message that may appear besides the ones we use.
PLATFORM_HEADER_FIELDS = frozenset(
    """infno msgid mdtrtarea_admvs insuplc_admdvs recer_sys_code dev_no dev_safe_info cainfo
    signtype infver opter_type opter opter_name inf_time fixmedins_code fixmedins_name sign_no
    input output infcode inf_refmsgid refmsg_time respond_time err_msg warn_msg""".split()
)
SETTLEMENT_AMOUNT_FIELDS = (
    "medfee_sumamt fulamt_ownpay_amt overlmt_selfpay preselfpay_amt inscp_scp_amt act_pay_dedc "
    "hifp_pay cvlserv_pay hifes_pay hifmi_pay hifob_pay maf_pay oth_pay fund_pay_sumamt "
    "psn_part_amt acct_pay psn_cash_pay acct_mulaid_pay hosp_part_amt hifdm_pay balc"
).split()
REQUIRED_SETTLEMENT_AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay")
SETTLEMENT_TEXT_FIELDS = (
    "mdtrt_id psn_type medins_setl_id psn_name psn_cert_type certno gend naty brdy age "
    "cvlserv_flag mdtrt_cert_type exp_content"
).split()
SETTLEMENT_FIELDS = frozenset(
    SETTLEMENT_AMOUNT_FIELDS
    + SETTLEMENT_TEXT_FIELDS
    + "setl_id psn_no insutype setl_time med_type clr_optins clr_way clr_type".split()
)
_FREE_TEXT_FIELDS = tuple(n for n in SETTLEMENT_TEXT_FIELDS if n not in ("mdtrt_id", "medins_setl_id"))
# Settlement fields that identify the settlement itself (not the message carrying it).
_MESSAGE_ONLY_FIELDS = frozenset({"msgid", "inf_time"})


@dataclass(frozen=True)
class Command:
    """A validated record. ``time`` is the record's own time, the fact's time."""

    kind: str
    time: str
    content: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Settle(Command):
    msgid: str
    infno: str
    insured_code: str
    treatment_code: str
    fixmedins_code: str
    setl_id: str
    psn_no: str
    setl_time: str
    med_type: str
    medfee_sumamt_fen: int
    fund_pay_sumamt_fen: int
    acct_pay_fen: int
    psn_cash_pay_fen: int
    # (platform field, fen) for each non-zero fund part counted in fund_pay_sumamt.
    fund_parts_fen: tuple[tuple[str, int], ...]

    @property
    def owed_fen(self) -> int:
        """What the insured place owes the treatment place for this settlement (§4)."""
        return self.fund_pay_sumamt_fen + self.acct_pay_fen

    @property
    def settlement_content(self) -> dict[str, Any]:
        """The settlement without the message that carried it: what a setl_id names."""
        return {k: v for k, v in self.content.items() if k not in _MESSAGE_ONLY_FIELDS}


@dataclass(frozen=True)
class Cancel(Command):
    """2208/2305/2103 cancellation by setl_id, or 2601 冲正 by the original msgid."""

    msgid: str
    infno: str
    insured_code: str
    treatment_code: str
    fixmedins_code: str
    psn_no: str
    setl_id: str | None  # cancellations
    mdtrt_id: str | None
    omsgid: str | None  # 冲正
    oinfno: str | None


@dataclass(frozen=True)
class Filing(Command):
    filing_id: str
    psn_no: str
    insured_code: str
    treatment_code: str
    category: str
    begndate: str
    enddate: str | None
    reason: str | None


@dataclass(frozen=True)
class FilingCancel(Command):
    filing_id: str


@dataclass(frozen=True)
class Prepayment(Command):
    insured: str
    treatment: str
    year: int
    amount_fen: int


@dataclass(frozen=True)
class Clear(Command):
    period: str


@dataclass(frozen=True)
class ClearingTransfer(Command):
    insured: str
    treatment: str
    period: str
    amount_fen: int


@dataclass(frozen=True)
class InstitutionPayment(Command):
    treatment: str
    fixmedins_code: str
    period: str
    amount_fen: int


@dataclass(frozen=True)
class Clawback(Command):
    setl_id: str
    amount_fen: int
    reason: str | None


@dataclass(frozen=True)
class Interest(Command):
    insured: str
    treatment: str
    amount_fen: int


@dataclass(frozen=True)
class ManualReimbursement(Command):
    insured: str
    treatment: str
    insured_code: str
    treatment_code: str
    med_type: str
    medfee_sumamt_fen: int
    fund_pay_sumamt_fen: int
    msgid: str | None


@dataclass(frozen=True)
class InvestigationClose(Command):
    setl_id: str
    outcome: str
    note: str | None


INVESTIGATION_OUTCOMES = ("confirmed", "adjusted", "unfounded", "withdrawn")


class _Reader:
    """Reads fields of one JSON object, collecting errors instead of raising."""

    def __init__(self, data: Mapping[str, Any], policy: Policy) -> None:
        self.data = data
        self.policy = policy
        self.errors: list[FieldError] = []
        self.content: dict[str, Any] = {}

    def error(self, name: str, message: str) -> None:
        self.errors.append(FieldError(name, message))

    def _get(self, name: str, required: bool) -> Any:
        if name not in self.data or self.data[name] is None:
            if required:
                self.error(name, "is required")
            return None
        return self.data[name]

    def text(
        self,
        name: str,
        *,
        required: bool = True,
        check: Callable[[str], bool] | None = None,
        what: str = "",
        allowed: Mapping[str, str] | tuple[str, ...] | frozenset[str] | None = None,
    ) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(name, f"must be a string, not {type(value).__name__}")
            return None
        if len(value) > MAX_TEXT_CHARS:
            self.error(name, f"is longer than {MAX_TEXT_CHARS} characters")
            return None
        if allowed is not None and value not in allowed:
            self.error(name, f"unknown code {value[:20]!r}; expected one of {sorted(allowed)}")
            return None
        if check is not None and not check(value):
            self.error(name, f"is not {what}: {value[:40]!r}")
            return None
        self.content[name] = value
        return value

    def code(self, name: str, *, required: bool = True) -> str | None:
        return self.text(
            name, required=required, check=codes.is_admdvs,
            what="a 6-digit admin-division code of a known province",
        )

    def ident(self, name: str, *, required: bool = True) -> str | None:
        return self.text(
            name, required=required, check=codes.is_business_id,
            what="an id of 1-64 letters, digits or _-.:",
        )

    def amount(self, name: str, *, required: bool = True, allow_negative: bool = False) -> int | None:
        value = self.data.get(name)
        if value is None and not required:
            return None
        if value == "0.00":  # most fund parts of most settlements
            self.content[name] = 0
            return 0
        if type(value) is str:  # fast path for the usual "1234.50"
            whole, dot, cents = value.partition(".")
            if (whole.isascii() and whole.isdigit() and len(whole) <= 12
                    and (not dot or (len(cents) == 2 and cents.isascii() and cents.isdigit()))):
                fen = int(whole) * 100 + (int(cents) if dot else 0)
                self.content[name] = fen
                return fen
        value = self._get(name, required)
        if value is None:
            return None
        try:
            fen = parse_yuan_to_fen(value, allow_negative=allow_negative)
        except AmountError as exc:
            self.error(name, f"amount {exc}")
            return None
        self.content[name] = fen
        return fen

    def time(self, name: str, *, required: bool = True) -> str | None:
        value = self.text(name, required=required, check=self._valid_time, what="a time YYYY-MM-DD HH:MM:SS in range")
        return value

    def date(self, name: str, *, required: bool = True) -> str | None:
        return self.text(name, required=required, check=self._valid_date, what="a date YYYY-MM-DD in range")

    def period(self, name: str = "period") -> str | None:
        return self.text(name, check=self._valid_period, what="a month YYYY-MM in range")

    def year(self, name: str = "year") -> int | None:
        value = self._get(name, True)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, "must be an integer year")
            return None
        if not self.policy.earliest_year <= value <= self.policy.latest_year:
            self.error(name, f"year {value} is out of range")
            return None
        self.content[name] = value
        return value

    def no_extra_fields(self, allowed: frozenset[str]) -> None:
        for name in sorted(self.data):
            if name not in allowed:
                self.error(str(name)[:60], "unknown field")

    def _in_range(self, year: int) -> bool:
        return self.policy.earliest_year <= year <= self.policy.latest_year

    def _valid_time(self, value: str) -> bool:
        if not _TIME_RE.match(value):
            return False
        try:
            return self._in_range(dt.datetime.fromisoformat(value).year)
        except ValueError:
            return False

    def _valid_date(self, value: str) -> bool:
        if not _DATE_RE.match(value):
            return False
        try:
            return self._in_range(dt.date.fromisoformat(value).year)
        except ValueError:
            return False

    def _valid_period(self, value: str) -> bool:
        if not _PERIOD_RE.match(value):
            return False
        year, month = int(value[:4]), int(value[5:])
        return 1 <= month <= 12 and self._in_range(year)


@dataclass(frozen=True)
class ParseResult:
    command: Command | None
    errors: tuple[FieldError, ...]


def parse_record(raw: object, policy: Policy) -> ParseResult:
    """Validate one decoded record; exactly one of ``command`` and ``errors`` is set."""
    if not isinstance(raw, dict):
        return _fail(FieldError("record", f"must be a JSON object, not {type(raw).__name__}"))
    if "type" in raw:
        kind = raw["type"]
        parser = _OWN_PARSERS.get(kind) if isinstance(kind, str) else None
        if parser is None:
            return _fail(FieldError("type", f"unknown record type {str(kind)[:40]!r}; expected one of {sorted(_OWN_PARSERS)}"))
        return parser(raw, policy)
    if "infno" in raw:
        infno = raw["infno"] if isinstance(raw["infno"], str) else None
        if infno in codes.SETTLEMENT_INFNOS:
            return _parse_settlement(raw, policy)
        if infno in codes.CANCELLATION_INFNOS or infno == codes.REVERSAL_INFNO:
            return _parse_cancel(raw, policy)
        known = sorted([*codes.SETTLEMENT_INFNOS, *codes.CANCELLATION_INFNOS, codes.REVERSAL_INFNO])
        return _fail(FieldError("infno", f"unknown or unsupported transaction {str(raw['infno'])[:20]!r}; expected one of {known}"))
    return _fail(FieldError("record", "has neither 'infno' (platform message) nor 'type' (ledger record)"))


def _fail(*errors: FieldError) -> ParseResult:
    return ParseResult(None, tuple(errors))


def _done(reader: _Reader, build: Callable[[], Command]) -> ParseResult:
    if reader.errors:
        return ParseResult(None, tuple(reader.errors))
    return ParseResult(build(), ())


def _header(r: _Reader) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    infno = r.text("infno")
    msgid = r.ident("msgid")
    insured = r.code("insuplc_admdvs")
    treatment = r.code("mdtrtarea_admvs")
    if treatment is None and "mdtrtarea_admdvs" in r.data:
        r.error("mdtrtarea_admvs", "is required (the platform header spells it 'admvs', not 'admdvs')")
    r.text("fixmedins_code", check=codes.is_institution_code, what="an institution code")
    r.time("inf_time")
    for name in ("recer_sys_code", "infver", "opter_type", "opter", "opter_name", "fixmedins_name",
                 "sign_no", "dev_no", "dev_safe_info", "cainfo", "signtype", "infcode",
                 "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "warn_msg"):
        if name in r.data and r.data[name] is not None and not isinstance(r.data[name], (str, int)):
            r.error(name, "must be a string")
    if insured is not None and treatment is not None and insured == treatment:
        r.error("mdtrtarea_admvs", f"treatment place equals insured place {insured}: not a cross-region (异地) settlement")
    r.no_extra_fields(PLATFORM_HEADER_FIELDS | (frozenset({"mdtrtarea_admdvs"}) if treatment is None else frozenset()))
    return infno, msgid, insured, treatment, r.content.get("fixmedins_code")


def _parse_settlement(raw: dict[str, Any], policy: Policy) -> ParseResult:
    r = _Reader(raw, policy)
    infno, msgid, insured, treatment, fixmedins = _header(r)
    output = raw.get("output")
    setlinfo = output.get("setlinfo") if isinstance(output, dict) else None
    if not isinstance(output, dict) or not isinstance(setlinfo, dict):
        r.error("setlinfo", "output.setlinfo must be an object")
        return ParseResult(None, tuple(r.errors))
    for name in output:
        if name not in ("setlinfo", "setldetail"):
            r.error(str(name)[:60], "unknown field in output")
    s = _Reader(setlinfo, policy)
    setl_id = s.ident("setl_id")
    psn_no = s.ident("psn_no")
    s.ident("mdtrt_id", required=False)
    s.ident("medins_setl_id", required=False)
    s.text("insutype", required=False, allowed=codes.INSUTYPES)
    setl_time = s.time("setl_time")
    med_type = s.text("med_type", allowed=codes.MED_TYPES)
    s.code("clr_optins", required=False)
    s.text("clr_way", required=False, allowed=codes.CLR_WAYS)
    s.text("clr_type", required=False, allowed=codes.CLR_TYPES)
    content_s = s.content
    for name in _FREE_TEXT_FIELDS:
        value = setlinfo.get(name)
        if type(value) is str and len(value) <= MAX_TEXT_CHARS:  # the usual case, inline
            content_s[name] = value
        elif value is not None:
            s.text(name, required=False)
    amounts = {name: s.amount(name, required=name in REQUIRED_SETTLEMENT_AMOUNTS) for name in SETTLEMENT_AMOUNT_FIELDS}
    s.no_extra_fields(SETTLEMENT_FIELDS)
    if med_type is not None and infno in codes.MED_TYPES_BY_INFNO and med_type not in codes.MED_TYPES_BY_INFNO[infno]:
        s.error("med_type", f"med_type {med_type} does not belong to transaction {infno} (expected one of {sorted(codes.MED_TYPES_BY_INFNO[infno])})")
    parts = _check_sums(s, amounts, policy) if not s.errors else ()
    r.errors.extend(s.errors)
    content = dict(r.content)
    content.update(s.content)

    def build() -> Settle:
        assert infno and msgid and insured and treatment and fixmedins and setl_id and psn_no and setl_time and med_type
        return Settle(
            kind="settlement", time=str(r.content["inf_time"]), content=content, msgid=msgid, infno=infno,
            insured_code=insured, treatment_code=treatment, fixmedins_code=fixmedins, setl_id=setl_id,
            psn_no=psn_no, setl_time=setl_time, med_type=med_type,
            medfee_sumamt_fen=_req(amounts["medfee_sumamt"]), fund_pay_sumamt_fen=_req(amounts["fund_pay_sumamt"]),
            acct_pay_fen=_req(amounts["acct_pay"]), psn_cash_pay_fen=_req(amounts["psn_cash_pay"]),
            fund_parts_fen=parts,
        )

    return _done(r, build)


def _req(value: int | None) -> int:
    assert value is not None
    return value


def _check_sums(r: _Reader, amounts: Mapping[str, int | None], policy: Policy) -> tuple[tuple[str, int], ...]:
    """fund parts = fund_pay_sumamt; fund + account + cash = medfee_sumamt (DOMAIN.md §4).

    The table in §4 names six fund parts; the platform also counts hifes_pay (enterprise
    supplementary) in fund_pay_sumamt. Either reading is accepted when its sum holds, and
    the parts posted are the ones that make up the sum.
    """
    parts = [(name, amounts[name] or 0) for name in codes.FUND_PARTS]
    total = amounts["fund_pay_sumamt"] or 0
    six = sum(fen for _, fen in parts)
    hifes = amounts.get(codes.FUND_PART_HIFES) or 0
    if six != total:
        if hifes and six + hifes == total:
            parts.append((codes.FUND_PART_HIFES, hifes))
        else:
            r.error("fund_pay_sumamt", f"fund parts sum to {six} fen but fund_pay_sumamt is {total} fen")
            return ()
    medfee = amounts["medfee_sumamt"] or 0
    paid = total + (amounts["acct_pay"] or 0) + (amounts["psn_cash_pay"] or 0)
    if abs(paid - medfee) > policy.sum_tolerance_fen:
        r.error("medfee_sumamt", f"fund_pay_sumamt + acct_pay + psn_cash_pay = {paid} fen but medfee_sumamt is {medfee} fen")
        return ()
    return tuple((name, fen) for name, fen in parts if fen)


def _parse_cancel(raw: dict[str, Any], policy: Policy) -> ParseResult:
    r = _Reader(raw, policy)
    infno, msgid, insured, treatment, fixmedins = _header(r)
    inp = raw.get("input")
    data = inp.get("data") if isinstance(inp, dict) else None
    if not isinstance(inp, dict) or not isinstance(data, dict):
        r.error("data", "input.data must be an object")
        return ParseResult(None, tuple(r.errors))
    for name in inp:
        if name != "data":
            r.error(str(name)[:60], "unknown field in input")
    d = _Reader(data, policy)
    psn_no = d.ident("psn_no")
    setl_id = mdtrt_id = omsgid = oinfno = None
    if infno == codes.REVERSAL_INFNO:
        omsgid = d.ident("omsgid")
        oinfno = d.text("oinfno", allowed=frozenset(codes.SETTLEMENT_INFNOS))
        d.no_extra_fields(frozenset({"psn_no", "omsgid", "oinfno"}))
    else:
        setl_id = d.ident("setl_id")
        mdtrt_id = d.ident("mdtrt_id", required=False)
        d.no_extra_fields(frozenset({"psn_no", "setl_id", "mdtrt_id"}))
    r.errors.extend(d.errors)
    content = dict(r.content)
    content.update(d.content)

    def build() -> Cancel:
        assert infno and msgid and insured and treatment and fixmedins and psn_no
        return Cancel(
            kind="cancellation" if setl_id else "reversal", time=str(r.content["inf_time"]), content=content,
            msgid=msgid, infno=infno, insured_code=insured, treatment_code=treatment,
            fixmedins_code=fixmedins, psn_no=psn_no, setl_id=setl_id, mdtrt_id=mdtrt_id,
            omsgid=omsgid, oinfno=oinfno,
        )

    return _done(r, build)


def _own(raw: dict[str, Any], policy: Policy, fields: str) -> _Reader:
    r = _Reader(raw, policy)
    r.text("type")
    r.time("recorded_at")
    r.no_extra_fields(frozenset(["type", "recorded_at", *fields.split()]))
    return r


def _pair(r: _Reader, insured_name: str = "insured", treatment_name: str = "treatment") -> tuple[str, str] | None:
    """Read a pair of parties; normalise 420100 -> 440300 to 420000 -> 440000."""
    insured = r.code(insured_name)
    treatment = r.code(treatment_name)
    if insured is None or treatment is None:
        return None
    if insured == treatment:
        r.error(treatment_name, f"equals {insured_name} {insured}: a pair needs two different places")
        return None
    return codes.pair_parties(insured, treatment)


def _parse_filing(raw: dict[str, Any], policy: Policy) -> ParseResult:
    r = _own(raw, policy, "filing_id psn_no insuplc_admdvs mdtrtarea_admvs category begndate enddate reason")
    filing_id = r.ident("filing_id")
    psn_no = r.ident("psn_no")
    pair = _pair(r, "insuplc_admdvs", "mdtrtarea_admvs")
    category = r.text("category", allowed=codes.FILING_CATEGORIES)
    begndate = r.date("begndate")
    enddate = r.date("enddate", required=False)
    reason = r.text("reason", required=False)
    if begndate and enddate and enddate < begndate:
        r.error("enddate", f"{enddate} is before begndate {begndate}")
    r.content.setdefault("enddate", None)

    def build() -> Filing:
        assert filing_id and psn_no and pair and category and begndate
        return Filing(
            kind="filing", time=str(r.content["recorded_at"]), content=r.content, filing_id=filing_id,
            psn_no=psn_no, insured_code=str(r.content["insuplc_admdvs"]),
            treatment_code=str(r.content["mdtrtarea_admvs"]), category=category, begndate=begndate,
            enddate=enddate, reason=reason,
        )

    return _done(r, build)


def _parse_filing_cancel(raw: dict[str, Any], policy: Policy) -> ParseResult:
    r = _own(raw, policy, "filing_id")
    filing_id = r.ident("filing_id")
    return _done(r, lambda: FilingCancel(kind="filing_cancel", time=str(r.content["recorded_at"]), content=r.content, filing_id=str(filing_id)))


def _parse_prepayment(raw: dict[str, Any], policy: Policy) -> ParseResult:
    r = _own(raw, policy, "insured treatment year amount")
    pair = _pair(r)
    year = r.year()
    amount = r.amount("amount")

    def build() -> Prepayment:
        assert pair and year is not None and amount is not None
        return Prepayment(kind="prepayment", time=str(r.content["recorded_at"]), content=r.content,
                          insured=pair[0], treatment=pair[1], year=year, amount_fen=amount)

    return _done(r, build)


def _parse_clear(raw: dict[str, Any], policy: Policy) -> ParseResult:
    r = _own(raw, policy, "period")
    period = r.period()
    return _done(r, lambda: Clear(kind="clear", time=str(r.content["recorded_at"]), content=r.content, period=str(period)))


def _parse_transfer(raw: dict[str, Any], policy: Policy) -> ParseResult:
    r = _own(raw, policy, "insured treatment period amount")
    pair = _pair(r)
    period = r.period()
    # A negative statement (clawbacks above settlements) is paid back by a negative transfer.
    amount = r.amount("amount", allow_negative=True)

    def build() -> ClearingTransfer:
        assert pair and period and amount is not None
        return ClearingTransfer(kind="clearing_transfer", time=str(r.content["recorded_at"]), content=r.content,
                                insured=pair[0], treatment=pair[1], period=period, amount_fen=amount)

    return _done(r, build)


def _parse_institution_payment(raw: dict[str, Any], policy: Policy) -> ParseResult:
    r = _own(raw, policy, "treatment fixmedins_code period amount")
    treatment = r.code("treatment")
    fixmedins = r.text("fixmedins_code", check=codes.is_institution_code, what="an institution code")
    period = r.period()
    amount = r.amount("amount")
    if amount == 0:
        r.error("amount", "must be greater than 0")

    def build() -> InstitutionPayment:
        assert treatment and fixmedins and period and amount
        return InstitutionPayment(kind="institution_payment", time=str(r.content["recorded_at"]), content=r.content,
                                  treatment=treatment, fixmedins_code=fixmedins, period=period, amount_fen=amount)

    return _done(r, build)


def _parse_clawback(raw: dict[str, Any], policy: Policy) -> ParseResult:
    r = _own(raw, policy, "setl_id amount reason clawback_id")
    setl_id = r.ident("setl_id")
    amount = r.amount("amount")
    reason = r.text("reason", required=False)
    r.ident("clawback_id", required=False)
    if amount == 0:
        r.error("amount", "must be greater than 0")

    def build() -> Clawback:
        assert setl_id and amount
        return Clawback(kind="clawback", time=str(r.content["recorded_at"]), content=r.content,
                        setl_id=setl_id, amount_fen=amount, reason=reason)

    return _done(r, build)


def _parse_interest(raw: dict[str, Any], policy: Policy) -> ParseResult:
    r = _own(raw, policy, "insured treatment amount year")
    pair = _pair(r)
    amount = r.amount("amount")
    if "year" in raw:
        r.year()
    if amount == 0:
        r.error("amount", "must be greater than 0")

    def build() -> Interest:
        assert pair and amount
        return Interest(kind="interest", time=str(r.content["recorded_at"]), content=r.content,
                        insured=pair[0], treatment=pair[1], amount_fen=amount)

    return _done(r, build)


def _parse_manual(raw: dict[str, Any], policy: Policy) -> ParseResult:
    r = _own(raw, policy, "insuplc_admdvs mdtrtarea_admvs fixmedins_code psn_no med_type medfee_sumamt "
                          "fund_pay_sumamt msgid inf_time infno setl_id")
    pair = _pair(r, "insuplc_admdvs", "mdtrtarea_admvs")
    med_type = r.text("med_type", allowed=codes.MED_TYPES)
    medfee = r.amount("medfee_sumamt")
    fund = r.amount("fund_pay_sumamt")
    r.text("fixmedins_code", required=False, check=codes.is_institution_code, what="an institution code")
    r.ident("psn_no", required=False)
    msgid = r.ident("msgid", required=False)
    r.time("inf_time", required=False)
    r.text("infno", required=False, allowed=frozenset(codes.SETTLEMENT_INFNOS))
    r.ident("setl_id", required=False)
    if medfee is not None and fund is not None and fund > medfee:
        r.error("fund_pay_sumamt", f"{fund} fen is more than medfee_sumamt {medfee} fen")

    def build() -> ManualReimbursement:
        assert pair and med_type and medfee is not None and fund is not None
        return ManualReimbursement(
            kind="manual_reimbursement", time=str(r.content["recorded_at"]), content=r.content,
            insured=pair[0], treatment=pair[1], insured_code=str(r.content["insuplc_admdvs"]),
            treatment_code=str(r.content["mdtrtarea_admvs"]), med_type=med_type,
            medfee_sumamt_fen=medfee, fund_pay_sumamt_fen=fund, msgid=msgid,
        )

    return _done(r, build)


def _parse_investigation_close(raw: dict[str, Any], policy: Policy) -> ParseResult:
    r = _own(raw, policy, "setl_id outcome note")
    setl_id = r.ident("setl_id")
    outcome = r.text("outcome", allowed=INVESTIGATION_OUTCOMES)
    note = r.text("note", required=False)

    def build() -> InvestigationClose:
        assert setl_id and outcome
        return InvestigationClose(kind="investigation_close", time=str(r.content["recorded_at"]), content=r.content,
                                  setl_id=setl_id, outcome=outcome, note=note)

    return _done(r, build)


_OWN_PARSERS: dict[str, Callable[[dict[str, Any], Policy], ParseResult]] = {
    "filing": _parse_filing,
    "filing_cancel": _parse_filing_cancel,
    "prepayment": _parse_prepayment,
    "clear": _parse_clear,
    "clearing_transfer": _parse_transfer,
    "institution_payment": _parse_institution_payment,
    "clawback": _parse_clawback,
    "interest": _parse_interest,
    "manual_reimbursement": _parse_manual,
    "investigation_close": _parse_investigation_close,
}
RECORD_TYPES = tuple(_OWN_PARSERS)
