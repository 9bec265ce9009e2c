"""A deterministic, streaming simulator of 异地就医直接结算 traffic (DOMAIN.md §2, §4, §8).

``generate(spec)`` yields the records of a synthetic input stream, in file order, as
JSON-ready dicts: national-platform settlement messages (2207 / 2304 / 2102), their
cancellations (2208 / 2305 / 2103) and message reversals (2601), and the ledger's own records
(``filing``, ``filing_cancel``, ``prepayment``, ``clear``, ``clearing_transfer``,
``institution_payment``, ``clawback``, ``interest``, ``manual_reimbursement``).
``generate_lines(spec)`` yields the same stream serialised with orjson, one JSON line each.

Guarantees, for the records emitted as *valid* (not the duplicates, not the malformed ones):

* Same spec, same records, byte for byte: all randomness comes from one
  ``random.Random(spec.seed)``; the clock is never read.
* Money is integer fen inside; every settlement satisfies the platform invariants (fund parts
  sum to ``fund_pay_sumamt``; ``fund_pay_sumamt + acct_pay + psn_cash_pay = medfee_sumamt``;
  ``psn_part_amt = acct_pay + psn_cash_pay``; insured place != treatment place).
* Records are in time order (``inf_time`` / ``recorded_at``). A duplicate carries its
  original's time, so it is the one record that may look earlier than its neighbours.
* A non-exempt settlement (not emergency 13/24, not a zero-fund 11/41) is preceded by a
  ``filing`` of that person, for those two cities, covering its date.
* A settlement is reversed at most once (cancellation or 2601), always later than itself and
  within the simulated months, and never after a clawback.
* Each ``clearing_transfer`` carries exactly the statement of its pair and month:
  Σ owed of the settlements whose ``setl_time`` is in the month, less Σ owed of the reversals
  whose ``inf_time`` is in the month, less the clawbacks recorded in the month
  (owed = ``fund_pay_sumamt + acct_pay``). Negative statements get no transfer; one pair's
  transfer is withheld in the last month (an outstanding statement).
* Memory stays flat: only bounded state is kept (person pools per pair, a window of recent
  settlements, pending reversals and duplicates, the sums of the months not yet paid out).

Parties: a cross-province pair is (insured province, treatment province); an intra-province
pair (省内异地) is (insured city, treatment city). ``prepayment``, ``clearing_transfer`` and
``interest`` name the pair that way; ``institution_payment.treatment`` is the treatment
province for cross-province business and the treatment city for intra-province business.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import orjson

__all__ = [
    "MALFORMED_KINDS",
    "PROVINCE_CITIES",
    "SimulationSpec",
    "fen_to_yuan",
    "generate",
    "generate_lines",
]

Record = dict[str, Any]

# --------------------------------------------------------------------------------------
# Geography: the 31 provinces + XPCC, with 2-5 real pooling-region (city) codes each.
# Municipalities list districts, the XPCC lists divisions: they play the part of cities.
# --------------------------------------------------------------------------------------
PROVINCE_CITIES: dict[str, tuple[str, ...]] = {
    "110000": ("110101", "110102", "110105", "110108"),  # 北京: 东城 西城 朝阳 海淀
    "120000": ("120101", "120103", "120104", "120116"),  # 天津: 和平 河西 南开 滨海
    "130000": ("130100", "130200", "130400", "130600"),  # 河北: 石家庄 唐山 邯郸 保定
    "140000": ("140100", "140200", "140400"),  # 山西: 太原 大同 长治
    "150000": ("150100", "150200", "150400"),  # 内蒙古: 呼和浩特 包头 赤峰
    "210000": ("210100", "210200", "210300"),  # 辽宁: 沈阳 大连 鞍山
    "220000": ("220100", "220200"),  # 吉林: 长春 吉林
    "230000": ("230100", "230200", "230600"),  # 黑龙江: 哈尔滨 齐齐哈尔 大庆
    "310000": ("310101", "310104", "310115"),  # 上海: 黄浦 徐汇 浦东
    "320000": ("320100", "320200", "320500", "320600"),  # 江苏: 南京 无锡 苏州 南通
    "330000": ("330100", "330200", "330300"),  # 浙江: 杭州 宁波 温州
    "340000": ("340100", "340200", "340300"),  # 安徽: 合肥 芜湖 蚌埠
    "350000": ("350100", "350200", "350500"),  # 福建: 福州 厦门 泉州
    "360000": ("360100", "360400", "360700"),  # 江西: 南昌 九江 赣州
    "370000": ("370100", "370200", "370600", "370700"),  # 山东: 济南 青岛 烟台 潍坊
    "410000": ("410100", "410300", "411300"),  # 河南: 郑州 洛阳 南阳
    "420000": ("420100", "420500", "420600"),  # 湖北: 武汉 宜昌 襄阳
    "430000": ("430100", "430200", "430300"),  # 湖南: 长沙 株洲 湘潭
    "440000": ("440100", "440300", "440600", "441900"),  # 广东: 广州 深圳 佛山 东莞
    "450000": ("450100", "450200", "450300"),  # 广西: 南宁 柳州 桂林
    "460000": ("460100", "460200"),  # 海南: 海口 三亚
    "500000": ("500101", "500103", "500112"),  # 重庆: 万州 渝中 渝北
    "510000": ("510100", "510400", "510700"),  # 四川: 成都 攀枝花 绵阳
    "520000": ("520100", "520300"),  # 贵州: 贵阳 遵义
    "530000": ("530100", "530300", "530400"),  # 云南: 昆明 曲靖 玉溪
    "540000": ("540100", "540200"),  # 西藏: 拉萨 日喀则
    "610000": ("610100", "610300", "610400"),  # 陕西: 西安 宝鸡 咸阳
    "620000": ("620100", "620200", "620500"),  # 甘肃: 兰州 嘉峪关 天水
    "630000": ("630100", "630200"),  # 青海: 西宁 海东
    "640000": ("640100", "640200"),  # 宁夏: 银川 石嘴山
    "650000": ("650100", "650200"),  # 新疆: 乌鲁木齐 克拉玛依
    "660000": ("660100", "660800"),  # 新疆生产建设兵团: 第一师 第八师
}

# --------------------------------------------------------------------------------------
# Bounds and shares. Money in fen, durations in seconds or days (units last in names).
# --------------------------------------------------------------------------------------
SECONDS_PER_DAY = 86_400
SECONDS_PER_HOUR = 3_600
ACTIVE_DAY_START_S = 7 * SECONDS_PER_HOUR  # settlements happen 07:00-22:00
ACTIVE_DAY_LENGTH_S = 15 * SECONDS_PER_HOUR

# Calendar of the ledger's own records (day of month, time of day).
CLEAR_DAY, CLEAR_TIME_S = 5, 9 * SECONDS_PER_HOUR  # of month M+1
TRANSFER_DAY, TRANSFER_TIME_S = 20, 14 * SECONDS_PER_HOUR  # of month M+1
INSTITUTION_PAYMENT_DAY, INSTITUTION_PAYMENT_TIME_S = 25, 10 * SECONDS_PER_HOUR  # of M+1
CLAWBACK_DAY, CLAWBACK_TIME_S = 15, 12 * SECONDS_PER_HOUR  # of month M
INTEREST_DAY, INTEREST_TIME_S = 21, 10 * SECONDS_PER_HOUR  # of month M

INTEREST_PAIRS_PER_MONTH = 2
INTEREST_MIN_FEN, INTEREST_MAX_FEN = 10_00, 500_00
MANUAL_REIMBURSEMENTS_MIN, MANUAL_REIMBURSEMENTS_MAX = 3, 6  # per month
MANUAL_INPATIENT_SHARE = 0.7
PREPAYMENT_MONTHS_OF_OWED = 2  # k: float = k x expected monthly owed amount of the pair
PREPAYMENT_ROUNDING_FEN = 1_000_00  # floats are whole thousands of yuan
PREPAYMENT_MIN_FEN = 10_000_00
CALIBRATION_SAMPLES = 2_000  # settlements drawn to estimate the mean owed amount
CALIBRATION_SEED = 20_250_101

# People and filings.
PERSONS_PER_PAIR = 64  # bounded pool of people per pair, reused across settlements
NEW_PERSON_SHARE = 0.25  # share of settlements by a person not seen before
EMPLOYEE_SHARE = 0.65  # insutype 310; the rest 390 (residents, no personal account)
EMPLOYEE_INSUTYPE, RESIDENT_INSUTYPE = "310", "390"
EMPLOYEE_PSN_TYPES = ("11", "12")  # in service, retired
RESIDENT_PSN_TYPES = ("15", "16")
LONG_TERM_FILING_SHARE = 0.6
TEMPORARY_FILING_MIN_DAYS = 184  # >= 6 calendar months from any begndate
TEMPORARY_FILING_MAX_DAYS = 366
FILING_LEAD_MIN_S, FILING_LEAD_MAX_S = 10 * 60, 2 * SECONDS_PER_HOUR  # filed before visit
FILING_CANCEL_SHARE = 0.3  # of temporary filings of people evicted from a full pool
TREATMENT_DONE_CHANCE = 0.02  # after a visit on a temporary filing: done, filing cancelled

# Reversals, clawbacks, duplicates.
QUICK_CANCEL_SHARE = 0.6  # of cancellations: within QUICK_CANCEL_MAX_S
QUICK_CANCEL_MIN_S = 60
QUICK_CANCEL_MAX_S = 2 * SECONDS_PER_DAY
MAX_CANCELLABLE_WINDOW_S = 20 * SECONDS_PER_DAY  # latest cancellation after settlement
REVERSAL_2601_MIN_S, REVERSAL_2601_MAX_S = 5, 30 * 60
RECENT_SETTLEMENTS_WINDOW = 4_096  # clawback candidates
CLAWBACK_MIN_SHARE, CLAWBACK_MAX_SHARE = 0.1, 1.0  # of the settlement's owed amount
DUPLICATE_DELAY_MIN_S, DUPLICATE_DELAY_MAX_S = 1, 6 * SECONDS_PER_HOUR
FILING_CANCEL_DELAY_S = DUPLICATE_DELAY_MAX_S + SECONDS_PER_HOUR  # after any pending copy

# Settlement shape.
LARGE_STAY_MIN_FEN, LARGE_STAY_MAX_FEN = 30_000_00, 300_000_00
PHARMACY_ACCOUNT_ONLY_SHARE = 0.7
OUTPATIENT_NO_FUND_SHARE = 0.25  # general outpatient paid without the pooled fund
ACCOUNT_USE_SHARE = 0.5  # employees paying part of their share from the personal account
EMPLOYEE_RATIO_BONUS, MAX_FUND_RATIO = 0.05, 0.9
CRITICAL_ILLNESS_SHARE_RANGE = (0.2, 0.45)  # hifmi_pay of the fund, large stays
LARGE_AMOUNT_SUBSIDY_CHANCE, LARGE_AMOUNT_SUBSIDY_RANGE = 0.5, (0.05, 0.15)  # hifob_pay
CIVIL_SERVANT_CHANCE, CIVIL_SERVANT_RANGE = 0.08, (0.03, 0.10)  # cvlserv_pay, employees
MEDICAL_ASSISTANCE_CHANCE, MEDICAL_ASSISTANCE_RANGE = 0.03, (0.05, 0.20)  # maf_pay, residents
OTHER_FUND_CHANCE, OTHER_FUND_RANGE = 0.01, (0.01, 0.05)  # oth_pay
INPATIENT_DEDUCTIBLE_MIN_FEN, INPATIENT_DEDUCTIBLE_MAX_FEN = 300_00, 1_500_00
PRESELFPAY_MAX_SHARE, FULAMT_OWNPAY_MAX_SHARE, OVERLMT_MAX_SHARE = 0.3, 0.3, 0.2
ACCOUNT_MUTUAL_AID_CHANCE = 0.05
DRG_SHARE = 0.3  # inpatient settlements cleared by DRG points (clr_way 05)
NUMERIC_RECORD_SHARE, NUMERIC_FIELD_SHARE = 0.2, 0.5  # ~10% of amounts as JSON numbers

# Institutions per treatment city.
HOSPITALS_PER_CITY = (20, 40)
PHARMACIES_PER_CITY = (8, 16)
INTRA_PAIRS_PER_PROVINCE = (1, 3)

# Identifier widths.
SETL_SEQ_MODULO = 10**8
MSGID_COUNTER_MODULO = 10**4
PSN_SEQ_WIDTH = 14
UNKNOWN_SETL_PREFIX = "999999"  # no pooling region has this code

NON_JSON_SHARE_OF_MALFORMED = 2 / 13  # generate_lines: malformed lines that are not JSON
GARBAGE_MIN_CHARS, GARBAGE_MAX_CHARS = 8, 64
# Code points for "binary" garbage: no line separators (\n \r \v \f \x1c-\x1e \x85).
_GARBAGE_CODEPOINTS = tuple(
    c for c in list(range(0x20)) + list(range(0x7F, 0x100)) if c not in (0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85)
)

AMOUNT_FIELDS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
    "acct_mulaid_pay",
    "hosp_part_amt",
)
_FUND_INDEX = AMOUNT_FIELDS.index("fund_pay_sumamt")
_ACCT_INDEX = AMOUNT_FIELDS.index("acct_pay")

CANCEL_INFNO = {"2207": "2208", "2304": "2305", "2102": "2103"}
REVERSAL_INFNO = "2601"
EMERGENCY_MED_TYPES = frozenset({"13", "24"})
ZERO_FUND_EXEMPT_MED_TYPES = frozenset({"11", "41"})

MALFORMED_KINDS: dict[str, str] = {
    # kind: the field the ledger is meant to name when it rejects the record
    "amount_3_decimals": "medfee_sumamt",  # "1234.565"
    "negative_amount": "oth_pay",  # oth_pay < 0 (hifp_pay raised so every sum still holds)
    "fund_parts_mismatch": "fund_pay_sumamt",  # hifp_pay + ... != fund_pay_sumamt
    "total_mismatch": "medfee_sumamt",  # fund + acct + cash != medfee_sumamt
    "missing_setl_id": "setl_id",
    "unknown_med_type": "med_type",  # "99"
    "same_place": "mdtrtarea_admvs",  # insured place == treatment place
    "non_numeric_amount": "hifp_pay",  # "abc"
    "bad_date": "setl_time",  # "2025-13-40 25:00:00" (inf_time too)
    "cancel_unknown_setl_id": "setl_id",  # a 2208 naming a setl_id never issued
    "inpatient_no_filing": "psn_no",  # a 2304 of a person with no filing
}
BAD_TIME = "2025-13-40 25:00:00"


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimulationSpec:
    seed: int = 1
    start_month: str = "2025-01"  # YYYY-MM
    months: int = 2
    settlements_per_month: int = 1000  # approximate count of settlement records per month
    provinces: int = 6  # how many of the 32 provinces take part
    duplicate_share: float = 0.01  # share of records re-emitted identically later
    cancel_share: float = 0.03  # share of settlements cancelled (2208/2305/2103)
    reversal_2601_share: float = 0.005  # share reversed by 2601 冲正
    large_stay_share: float = 0.02  # share of inpatient stays with medfee_sumamt >= 30000.00
    malformed_share: float = 0.0  # share of malformed records (MALFORMED_KINDS)
    intra_province_share: float = 0.15  # share of settlements between cities of one province
    lifecycle: bool = True  # prepayments, clear, transfers, payouts, clawback, interest, ...

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", self.start_month):
            raise ValueError(f"start_month must be YYYY-MM, not {self.start_month!r}")
        if self.months < 1:
            raise ValueError("months must be >= 1")
        if self.settlements_per_month < 0:
            raise ValueError("settlements_per_month must be >= 0")
        if not 1 <= self.provinces <= len(PROVINCE_CITIES):
            raise ValueError(f"provinces must be within 1..{len(PROVINCE_CITIES)}")
        for name in (
            "duplicate_share",
            "cancel_share",
            "reversal_2601_share",
            "large_stay_share",
            "intra_province_share",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1")
        if self.cancel_share + self.reversal_2601_share > 1.0:
            raise ValueError("cancel_share + reversal_2601_share must be <= 1")
        if not 0.0 <= self.malformed_share < 1.0:
            raise ValueError("malformed_share must be within 0..1 (1 excluded)")


def fen_to_yuan(fen: int) -> str:
    """Integer fen as a yuan string with exactly two decimals: 3012050 -> '30120.50'."""
    if fen < 0:
        return "-" + fen_to_yuan(-fen)
    if fen == 0:
        return "0.00"
    yuan, cents = divmod(fen, 100)
    return f"{yuan}.{cents:02d}"


def generate(spec: SimulationSpec) -> Iterator[Record]:
    """The records of the simulated stream, in file order, as JSON-ready dicts."""
    for record, _malformed in _Simulator(spec).records():
        yield record


def generate_lines(spec: SimulationSpec) -> Iterator[str]:
    """The stream as JSON lines (orjson), each ending in a newline: ``f.writelines(...)``.

    With ``malformed_share > 0``, about ``NON_JSON_SHARE_OF_MALFORMED`` of the malformed
    records are replaced by a line that is not JSON at all: control and Latin-1 "binary"
    characters, or a record's JSON cut in the middle. The garbage choices use their own
    random stream, so the rest of the file is the same as ``generate`` would give.
    """
    garbage_rng = random.Random(f"{spec.seed}:garbage")
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    for record, malformed in _Simulator(spec).records():
        if malformed and garbage_rng.random() < NON_JSON_SHARE_OF_MALFORMED:
            yield _garbage_line(garbage_rng, record)
        else:
            yield dumps(record, option=newline).decode()


def _garbage_line(rng: random.Random, record: Record) -> str:
    if rng.random() < 0.5:
        size = rng.randint(GARBAGE_MIN_CHARS, GARBAGE_MAX_CHARS)
        return "".join(chr(rng.choice(_GARBAGE_CODEPOINTS)) for _ in range(size)) + "\n"
    text = orjson.dumps(record).decode()
    return text[: max(1, len(text) // 2)] + "\n"  # an object cut short: never valid JSON


# --------------------------------------------------------------------------------------
# Internal state
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Kind:
    infno: str
    med_type: str
    clr_type: str
    weight: float
    min_fen: int
    max_fen: int
    fund_min: float
    fund_max: float

    @property
    def inpatient(self) -> bool:
        return self.infno == "2304"


_KINDS = (
    _Kind("2207", "11", "11", 0.400, 50_00, 2_000_00, 0.40, 0.70),  # general outpatient
    _Kind("2207", "13", "11", 0.040, 100_00, 3_000_00, 0.50, 0.75),  # emergency
    _Kind("2207", "14", "11", 0.140, 200_00, 8_000_00, 0.60, 0.85),  # chronic/special
    _Kind("2102", "41", "41", 0.300, 20_00, 800_00, 0.30, 0.50),  # pharmacy
    _Kind("2304", "21", "21", 0.090, 3_000_00, 29_999_99, 0.50, 0.85),  # general inpatient
    _Kind("2304", "22", "21", 0.010, 3_000_00, 29_999_99, 0.50, 0.80),  # injury
    _Kind("2304", "23", "21", 0.012, 3_000_00, 29_999_99, 0.45, 0.75),  # referred out
    _Kind("2304", "24", "21", 0.008, 3_000_00, 29_999_99, 0.50, 0.80),  # emergency to inpatient
)
_KIND_CUM = tuple(itertools.accumulate(k.weight for k in _KINDS))
_KIND_BY_MED_TYPE = {k.med_type: k for k in _KINDS}


@dataclass(slots=True)
class _Pair:
    insured: str  # province code (cross-province) or city code (intra-province)
    treatment: str
    insured_cities: tuple[str, ...]
    treatment_cities: tuple[str, ...]
    weight: float
    persons: list[_Person] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.insured, self.treatment)


@dataclass(slots=True)
class _Person:
    psn_no: str
    insured_city: str
    treatment_city: str
    insutype: str
    psn_type: str
    filing_id: str | None = None
    filing_begin_day: int = 0
    filing_end_day: int | None = None  # inclusive; None = open-ended
    temporary: bool = False

    def covered_on(self, day: int) -> bool:
        if self.filing_id is None or day < self.filing_begin_day:
            return False
        return self.filing_end_day is None or day <= self.filing_end_day


@dataclass(slots=True)
class _Settled:
    """What a later reversal or clawback needs to know of an emitted settlement."""

    infno: str
    msgid: str
    setl_id: str
    psn_no: str
    insured_city: str
    treatment_city: str
    fixmedins_code: str
    time_s: int
    owed_fen: int
    pair_key: tuple[str, str]
    payee_key: tuple[str, str]  # (treatment party, institution code)
    reversed: bool = False  # a reversal is scheduled (decided at settlement time)
    clawed: bool = False


class _Calendar:
    """Times are integer seconds since the first day of the start month, 00:00:00."""

    def __init__(self, start_month: str, months: int) -> None:
        year, month = int(start_month[:4]), int(start_month[5:7])
        self.epoch = date(year, month, 1)
        self.month_starts_s: list[int] = []
        self.periods: list[str] = []
        for _ in range(months + 2):  # the simulated months, then two for the aftermath
            first = date(year, month, 1)
            self.month_starts_s.append((first - self.epoch).days * SECONDS_PER_DAY)
            self.periods.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        self._days: dict[int, tuple[str, str]] = {}  # bounded by the simulated span

    def day(self, day_index: int) -> tuple[str, str]:
        """('YYYY-MM-DD', 'YYYYMMDD') of a day index."""
        cached = self._days.get(day_index)
        if cached is None:
            iso = (self.epoch + timedelta(days=day_index)).isoformat()
            cached = (iso, iso.replace("-", ""))
            self._days[day_index] = cached
        return cached

    def stamp(self, t: int) -> str:
        day, sec = divmod(t, SECONDS_PER_DAY)
        hour, rest = divmod(sec, SECONDS_PER_HOUR)
        minute, second = divmod(rest, 60)
        return f"{self.day(day)[0]} {hour:02d}:{minute:02d}:{second:02d}"

    def compact(self, t: int) -> str:
        day, sec = divmod(t, SECONDS_PER_DAY)
        hour, rest = divmod(sec, SECONDS_PER_HOUR)
        minute, second = divmod(rest, 60)
        return f"{self.day(day)[1]}{hour:02d}{minute:02d}{second:02d}"

    def month_of(self, t: int) -> int:
        return bisect.bisect_right(self.month_starts_s, t) - 1

    def at(self, month_index: int, day: int, time_s: int) -> int:
        return self.month_starts_s[month_index] + (day - 1) * SECONDS_PER_DAY + time_s

    def month_length_s(self, month_index: int) -> int:
        return self.month_starts_s[month_index + 1] - self.month_starts_s[month_index]


# --------------------------------------------------------------------------------------
# Amounts
# --------------------------------------------------------------------------------------
def _log_uniform_fen(rng: random.Random, low_fen: int, high_fen: int) -> int:
    value = int(math.exp(rng.uniform(math.log(low_fen), math.log(high_fen))))
    return min(max(value, low_fen), high_fen)


def _share(rng: random.Random, amount_fen: int, bounds: tuple[float, float]) -> int:
    return int(amount_fen * rng.uniform(*bounds))


def _draw_amounts(rng: random.Random, kind: _Kind, employee: bool, large: bool) -> tuple[int, ...]:
    """One settlement's amounts in fen, in AMOUNT_FIELDS order, satisfying every invariant."""
    total = (
        _log_uniform_fen(rng, LARGE_STAY_MIN_FEN, LARGE_STAY_MAX_FEN)
        if large
        else _log_uniform_fen(rng, kind.min_fen, kind.max_fen)
    )
    fund, acct = _draw_fund_and_account(rng, kind, employee, total)
    cash = total - fund - acct
    cvlserv, hifmi, hifob, maf, oth = _draw_fund_parts(rng, employee, large, fund)
    hifp = fund - cvlserv - hifmi - hifob - maf - oth
    dedc = min(cash, rng.randint(INPATIENT_DEDUCTIBLE_MIN_FEN, INPATIENT_DEDUCTIBLE_MAX_FEN)) if kind.inpatient else 0
    rest = cash - dedc
    preselfpay = int(rest * rng.random() * PRESELFPAY_MAX_SHARE)
    rest -= preselfpay
    fulamt = int(rest * rng.random() * FULAMT_OWNPAY_MAX_SHARE)
    rest -= fulamt
    overlmt = int(rest * rng.random() * OVERLMT_MAX_SHARE) if large else 0
    inscp = total - fulamt - overlmt - preselfpay
    mulaid = int(acct * rng.random()) if acct and rng.random() < ACCOUNT_MUTUAL_AID_CHANCE else 0
    amounts = (
        total, fulamt, overlmt, preselfpay, inscp, dedc,  # medfee_sumamt .. act_pay_dedc
        hifp, cvlserv, 0, hifmi, hifob, maf, oth, fund,  # hifp_pay .. fund_pay_sumamt (hifes_pay 0)
        acct + cash, acct, cash, mulaid, 0,  # psn_part_amt .. hosp_part_amt
    )  # fmt: skip
    assert hifp >= 0 and cash >= 0 and fund + acct + cash == total, amounts
    return amounts


def _draw_fund_and_account(rng: random.Random, kind: _Kind, employee: bool, total: int) -> tuple[int, int]:
    med = kind.med_type
    no_fund = (med == "41" and rng.random() < PHARMACY_ACCOUNT_ONLY_SHARE) or (
        med == "11" and rng.random() < OUTPATIENT_NO_FUND_SHARE
    )
    if no_fund:  # personal account only (employees) or cash only (residents have none)
        return 0, (total if employee else 0)
    ratio = rng.uniform(kind.fund_min, kind.fund_max)
    if employee:
        ratio = min(ratio + EMPLOYEE_RATIO_BONUS, MAX_FUND_RATIO)
    fund = max(1, int(total * ratio))
    acct = 0
    if employee and rng.random() < ACCOUNT_USE_SHARE:
        acct = int((total - fund) * rng.random())
    return fund, acct


def _draw_fund_parts(rng: random.Random, employee: bool, large: bool, fund: int) -> tuple[int, int, int, int, int]:
    """cvlserv, hifmi, hifob, maf, oth: at most 95% of the fund, the rest is hifp_pay."""
    if fund == 0:
        return 0, 0, 0, 0, 0
    cvlserv = _share(rng, fund, CIVIL_SERVANT_RANGE) if employee and rng.random() < CIVIL_SERVANT_CHANCE else 0
    hifmi = _share(rng, fund, CRITICAL_ILLNESS_SHARE_RANGE) if large else 0
    hifob = (
        _share(rng, fund, LARGE_AMOUNT_SUBSIDY_RANGE)
        if large and employee and rng.random() < LARGE_AMOUNT_SUBSIDY_CHANCE
        else 0
    )
    maf = (
        _share(rng, fund, MEDICAL_ASSISTANCE_RANGE) if not employee and rng.random() < MEDICAL_ASSISTANCE_CHANCE else 0
    )
    oth = _share(rng, fund, OTHER_FUND_RANGE) if rng.random() < OTHER_FUND_CHANCE else 0
    return cvlserv, hifmi, hifob, maf, oth


def _mean_owed_fen(spec: SimulationSpec) -> float:
    """Mean owed amount (fund + account) of one settlement, estimated by sampling."""
    rng = random.Random(CALIBRATION_SEED)
    total = 0
    for _ in range(CALIBRATION_SAMPLES):
        kind = _KINDS[bisect.bisect(_KIND_CUM, rng.random() * _KIND_CUM[-1])]
        large = kind.inpatient and rng.random() < spec.large_stay_share
        amounts = _draw_amounts(rng, kind, rng.random() < EMPLOYEE_SHARE, large)
        total += amounts[_FUND_INDEX] + amounts[_ACCT_INDEX]
    return total / CALIBRATION_SAMPLES


# --------------------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------------------
_EV_CANCEL, _EV_REVERSAL, _EV_DUPLICATE, _EV_FILING_CANCEL = 0, 1, 2, 3
_EV_CLAWBACK, _EV_INTEREST, _EV_MANUAL, _EV_CLEAR, _EV_TRANSFERS, _EV_PAYOUTS = 4, 5, 6, 7, 8, 9


class _Simulator:
    def __init__(self, spec: SimulationSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.cal = _Calendar(spec.start_month, spec.months)
        self.span_end_s = self.cal.month_starts_s[spec.months]
        self.provinces = sorted(self.rng.sample(sorted(PROVINCE_CITIES), spec.provinces))
        self.pairs = self._make_pairs()
        self.pair_cum = list(itertools.accumulate(p.weight for p in self.pairs))
        self.hospitals, self.pharmacies = self._make_institutions()
        self.heap: list[tuple[int, int, int, Any]] = []
        self.event_seq = itertools.count()
        self.out: list[tuple[Record, bool]] = []  # records of the current step
        self.recent: deque[_Settled] = deque(maxlen=RECENT_SETTLEMENTS_WINDOW)
        self.statements: dict[int, dict[tuple[str, str], int]] = {}  # month -> pair -> fen
        self.payees: dict[int, dict[tuple[str, str], int]] = {}  # month -> payee -> fen
        self.month = 0
        self.last_time_s = 0
        self.setl_seq = itertools.count(1)
        self.msg_seq = itertools.count(1)
        self.psn_seq = itertools.count(1)
        self.filing_seq = itertools.count(1)
        share = spec.malformed_share
        self.malformed_chance = share / (1.0 - share)  # per valid record: share of all = s
        self.handlers: dict[int, Callable[[int, Any], None]] = {
            _EV_CANCEL: self._emit_cancellation,
            _EV_REVERSAL: self._emit_reversal,
            _EV_DUPLICATE: self._emit_duplicate,
            _EV_FILING_CANCEL: self._emit_filing_cancel,
            _EV_CLAWBACK: self._emit_clawback,
            _EV_INTEREST: self._emit_interest,
            _EV_MANUAL: self._emit_manual_reimbursement,
            _EV_CLEAR: self._emit_clear,
            _EV_TRANSFERS: self._emit_transfers,
            _EV_PAYOUTS: self._emit_institution_payments,
        }

    # ---- set-up ------------------------------------------------------------------------
    def _make_pairs(self) -> list[_Pair]:
        rng, spec = self.rng, self.spec
        cross = [
            _Pair(p, t, PROVINCE_CITIES[p], PROVINCE_CITIES[t], rng.lognormvariate(0.0, 0.6))
            for p in self.provinces
            for t in self.provinces
            if p != t
        ]
        intra: list[_Pair] = []
        if spec.intra_province_share > 0 or not cross:
            for province in self.provinces:
                cities = PROVINCE_CITIES[province]
                ordered = [(a, b) for a in cities for b in cities if a != b]
                count = min(len(ordered), rng.randint(*INTRA_PAIRS_PER_PROVINCE))
                for a, b in sorted(rng.sample(ordered, count)):
                    intra.append(_Pair(a, b, (a,), (b,), rng.lognormvariate(0.0, 0.6)))
        intra_share = spec.intra_province_share if cross else 1.0
        if not intra:
            intra_share = 0.0
        _normalise(cross, 1.0 - intra_share)
        _normalise(intra, intra_share)
        pairs = [p for p in cross + intra if p.weight > 0]
        assert pairs, "a simulation needs at least one pair"
        return pairs

    def _make_institutions(self) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
        hospitals: dict[str, tuple[str, ...]] = {}
        pharmacies: dict[str, tuple[str, ...]] = {}
        for province in self.provinces:
            for city in PROVINCE_CITIES[province]:
                h = self.rng.randint(*HOSPITALS_PER_CITY)
                p = self.rng.randint(*PHARMACIES_PER_CITY)
                hospitals[city] = tuple(f"H{city}{i:05d}" for i in range(1, h + 1))
                pharmacies[city] = tuple(f"P{city}{i:05d}" for i in range(1, p + 1))
        return hospitals, pharmacies

    # ---- the main loop -----------------------------------------------------------------
    def records(self) -> Iterator[tuple[Record, bool]]:
        """(record, malformed) in file order."""
        out = self.out
        if self.spec.lifecycle:
            self._emit_prepayments()
        for month in range(self.spec.months):
            self.month = month
            if self.spec.lifecycle:
                self._schedule_month(month)
            for t in self._settlement_times(month):
                self._drain(t)
                self._settle(t)
                yield from out
                out.clear()
        self._drain(math.inf)
        yield from out
        out.clear()

    def _settlement_times(self, month: int) -> Iterator[int]:
        """Increasing times within the active hours of each day of the month."""
        days = self.cal.month_length_s(month) // SECONDS_PER_DAY
        active_s = days * ACTIVE_DAY_LENGTH_S
        count = self.spec.settlements_per_month
        if count <= 0:
            return
        max_gap = 2.0 * active_s / count
        start = self.cal.month_starts_s[month] + ACTIVE_DAY_START_S
        random_ = self.rng.random
        position = random_() * max_gap / 2
        while position < active_s:
            day, within = divmod(int(position), ACTIVE_DAY_LENGTH_S)
            yield start + day * SECONDS_PER_DAY + within
            position += random_() * max_gap

    def _drain(self, until: float) -> None:
        heap = self.heap
        while heap and heap[0][0] <= until:
            t, _seq, kind, payload = heapq.heappop(heap)
            self.handlers[kind](t, payload)

    def _schedule(self, t: int, kind: int, payload: Any = None) -> None:
        heapq.heappush(self.heap, (t, next(self.event_seq), kind, payload))

    def _schedule_month(self, month: int) -> None:
        cal, rng = self.cal, self.rng
        self._schedule(cal.at(month, CLAWBACK_DAY, CLAWBACK_TIME_S), _EV_CLAWBACK, month)
        self._schedule(cal.at(month, INTEREST_DAY, INTEREST_TIME_S), _EV_INTEREST, month)
        for _ in range(rng.randint(MANUAL_REIMBURSEMENTS_MIN, MANUAL_REIMBURSEMENTS_MAX)):
            self._schedule(cal.month_starts_s[month] + rng.randrange(cal.month_length_s(month)), _EV_MANUAL, month)
        self._schedule(cal.at(month + 1, CLEAR_DAY, CLEAR_TIME_S), _EV_CLEAR, month)
        self._schedule(cal.at(month + 1, TRANSFER_DAY, TRANSFER_TIME_S), _EV_TRANSFERS, month)
        self._schedule(cal.at(month + 1, INSTITUTION_PAYMENT_DAY, INSTITUTION_PAYMENT_TIME_S), _EV_PAYOUTS, month)

    def _put(self, record: Record, t: int, duplicable: bool) -> None:
        """Emit a valid record at time t; maybe schedule its duplicate; maybe a malformed one."""
        self.out.append((record, False))
        self.last_time_s = t
        rng = self.rng
        if duplicable and rng.random() < self.spec.duplicate_share:
            delay = rng.randint(DUPLICATE_DELAY_MIN_S, DUPLICATE_DELAY_MAX_S)
            self._schedule(t + delay, _EV_DUPLICATE, _clone(record))
        if self.malformed_chance and rng.random() < self.malformed_chance:
            self.out.append((self._malformed(t), True))

    # ---- settlements -------------------------------------------------------------------
    def _settle(self, t: int) -> None:
        rng = self.rng
        pair = self.pairs[bisect.bisect(self.pair_cum, rng.random() * self.pair_cum[-1])]
        kind = _KINDS[bisect.bisect(_KIND_CUM, rng.random() * _KIND_CUM[-1])]
        person = self._pick_person(pair, t)
        large = kind.inpatient and rng.random() < self.spec.large_stay_share
        amounts = _draw_amounts(rng, kind, person.insutype == EMPLOYEE_INSUTYPE, large)
        fund = amounts[_FUND_INDEX]
        exempt = kind.med_type in EMERGENCY_MED_TYPES or (fund == 0 and kind.med_type in ZERO_FUND_EXEMPT_MED_TYPES)
        if not exempt and not person.covered_on(t // SECONDS_PER_DAY):
            self._file(person, t)
        institution = self._pick_institution(person.treatment_city, pharmacy=kind.infno == "2102")
        record = self._settlement_record(t, kind, person, institution, amounts)
        owed = fund + amounts[_ACCT_INDEX]
        settled = _Settled(
            kind.infno, record["msgid"], record["output"]["setlinfo"]["setl_id"], person.psn_no,
            person.insured_city, person.treatment_city, institution, t, owed, pair.key,
            (pair.treatment, institution),
        )  # fmt: skip
        self._book(self.month, settled.pair_key, settled.payee_key, owed)
        self._put(record, t, duplicable=True)
        self._maybe_schedule_reversal(settled)
        self.recent.append(settled)
        if person.temporary and rng.random() < TREATMENT_DONE_CHANCE:
            self._treatment_done(pair, person, t)

    def _settlement_record(
        self, t: int, kind: _Kind, person: _Person, institution: str, amounts: tuple[int, ...]
    ) -> Record:
        rng, cal = self.rng, self.cal
        stamp = cal.stamp(t)
        setl_id = (
            f"{person.treatment_city}{cal.day(t // SECONDS_PER_DAY)[1][2:]}{next(self.setl_seq) % SETL_SEQ_MODULO:08d}"
        )
        info: Record = {
            "setl_id": setl_id,
            "mdtrt_id": "MD" + setl_id,
            "psn_no": person.psn_no,
            "insutype": person.insutype,
            "psn_type": person.psn_type,
            "setl_time": stamp,
            "med_type": kind.med_type,
        }
        if rng.random() < NUMERIC_RECORD_SHARE:  # the contract allows JSON numbers too
            for name, fen in zip(AMOUNT_FIELDS, amounts, strict=True):
                info[name] = fen / 100 if rng.random() < NUMERIC_FIELD_SHARE else fen_to_yuan(fen)
        else:
            for name, fen in zip(AMOUNT_FIELDS, amounts, strict=True):
                info[name] = fen_to_yuan(fen)
        info["medins_setl_id"] = "M" + setl_id
        info["clr_optins"] = person.treatment_city
        info["clr_way"] = "05" if kind.inpatient and rng.random() < DRG_SHARE else "01"
        info["clr_type"] = kind.clr_type
        return {
            "infno": kind.infno,
            "msgid": self._msgid(institution, t),
            "insuplc_admdvs": person.insured_city,
            "mdtrtarea_admvs": person.treatment_city,
            "fixmedins_code": institution,
            "inf_time": stamp,
            "output": {"setlinfo": info},
        }

    def _msgid(self, institution: str, t: int) -> str:
        return f"{institution}{self.cal.compact(t)}{next(self.msg_seq) % MSGID_COUNTER_MODULO:04d}"

    def _pick_institution(self, city: str, pharmacy: bool) -> str:
        codes = self.pharmacies[city] if pharmacy else self.hospitals[city]
        r = self.rng.random()
        return codes[int(len(codes) * r * r)]  # a few big institutions see most visits

    def _book(self, month: int, pair_key: tuple[str, str], payee_key: tuple[str, str], fen: int) -> None:
        """Add owed fen to the statement of the pair and the payout of the institution."""
        if not self.spec.lifecycle:
            return
        statement = self.statements.setdefault(month, {})
        statement[pair_key] = statement.get(pair_key, 0) + fen
        payees = self.payees.setdefault(month, {})
        payees[payee_key] = payees.get(payee_key, 0) + fen

    # ---- people and filings ------------------------------------------------------------
    def _pick_person(self, pair: _Pair, t: int) -> _Person:
        rng, pool = self.rng, pair.persons
        if pool and rng.random() >= NEW_PERSON_SHARE:
            return pool[rng.randrange(len(pool))]
        person = self._new_person(pair)
        if len(pool) < PERSONS_PER_PAIR:
            pool.append(person)
        else:
            slot = rng.randrange(len(pool))
            self._retire(pool[slot], t)
            pool[slot] = person
        return person

    def _new_person(self, pair: _Pair) -> _Person:
        rng = self.rng
        insured_city = rng.choice(pair.insured_cities)
        treatment_city = rng.choice(pair.treatment_cities)
        if rng.random() < EMPLOYEE_SHARE:
            insutype, psn_type = EMPLOYEE_INSUTYPE, rng.choice(EMPLOYEE_PSN_TYPES)
        else:
            insutype, psn_type = RESIDENT_INSUTYPE, rng.choice(RESIDENT_PSN_TYPES)
        psn_no = f"{insured_city}{next(self.psn_seq):0{PSN_SEQ_WIDTH}d}"
        return _Person(psn_no, insured_city, treatment_city, insutype, psn_type)

    def _retire(self, person: _Person, t: int) -> None:
        """A person leaves the pool for good: maybe cancel their temporary filing."""
        if not (self.spec.lifecycle and person.temporary and person.covered_on(t // SECONDS_PER_DAY)):
            return
        if self.rng.random() < FILING_CANCEL_SHARE:
            self._schedule(t + FILING_CANCEL_DELAY_S, _EV_FILING_CANCEL, person.filing_id)

    def _treatment_done(self, pair: _Pair, person: _Person, t: int) -> None:
        """A temporarily filed person goes home: out of the pool, filing cancelled."""
        if not self.spec.lifecycle or not person.covered_on(t // SECONDS_PER_DAY):
            return
        pair.persons.remove(person)
        self._schedule(t + FILING_CANCEL_DELAY_S, _EV_FILING_CANCEL, person.filing_id)

    def _file(self, person: _Person, t: int) -> None:
        """Emit a filing covering the person's visit at t, recorded shortly before it."""
        rng, cal = self.rng, self.cal
        filed_s = max(self.last_time_s, t - rng.randint(FILING_LEAD_MIN_S, FILING_LEAD_MAX_S))
        day = filed_s // SECONDS_PER_DAY
        temporary = rng.random() >= LONG_TERM_FILING_SHARE
        end_day = day + rng.randint(TEMPORARY_FILING_MIN_DAYS, TEMPORARY_FILING_MAX_DAYS) if temporary else None
        filing_id = f"BA{person.insured_city}{cal.day(day)[1]}{next(self.filing_seq):08d}"
        person.filing_id, person.filing_begin_day, person.filing_end_day = filing_id, day, end_day
        person.temporary = temporary
        record = {
            "type": "filing",
            "recorded_at": cal.stamp(filed_s),
            "filing_id": filing_id,
            "psn_no": person.psn_no,
            "insuplc_admdvs": person.insured_city,
            "mdtrtarea_admvs": person.treatment_city,
            "category": "temporary" if temporary else "long_term",
            "begndate": cal.day(day)[0],
            "enddate": cal.day(end_day)[0] if end_day is not None else None,
        }
        self._put(record, filed_s, duplicable=True)

    def _emit_filing_cancel(self, t: int, filing_id: str) -> None:
        self._put(
            {"type": "filing_cancel", "recorded_at": self.cal.stamp(t), "filing_id": filing_id}, t, duplicable=False
        )

    # ---- reversals ---------------------------------------------------------------------
    def _maybe_schedule_reversal(self, settled: _Settled) -> None:
        rng, spec = self.rng, self.spec
        draw = rng.random()
        if draw < spec.cancel_share:
            if rng.random() < QUICK_CANCEL_SHARE:
                delay = rng.randint(QUICK_CANCEL_MIN_S, QUICK_CANCEL_MAX_S)
            else:
                delay = rng.randint(QUICK_CANCEL_MAX_S, MAX_CANCELLABLE_WINDOW_S)
            kind = _EV_CANCEL
        elif draw < spec.cancel_share + spec.reversal_2601_share:
            delay, kind = rng.randint(REVERSAL_2601_MIN_S, REVERSAL_2601_MAX_S), _EV_REVERSAL
        else:
            return
        when = settled.time_s + delay
        if when >= self.span_end_s:  # would fall after the simulated months: not reversed
            return
        settled.reversed = True
        self._schedule(when, kind, settled)

    def _reversal_header(self, infno: str, t: int, s: _Settled) -> Record:
        return {
            "infno": infno,
            "msgid": self._msgid(s.fixmedins_code, t),
            "insuplc_admdvs": s.insured_city,
            "mdtrtarea_admvs": s.treatment_city,
            "fixmedins_code": s.fixmedins_code,
            "inf_time": self.cal.stamp(t),
        }

    def _emit_cancellation(self, t: int, s: _Settled) -> None:
        record = self._reversal_header(CANCEL_INFNO[s.infno], t, s)
        record["input"] = {"data": {"setl_id": s.setl_id, "mdtrt_id": "MD" + s.setl_id, "psn_no": s.psn_no}}
        self._book(self.cal.month_of(t), s.pair_key, s.payee_key, -s.owed_fen)
        self._put(record, t, duplicable=False)

    def _emit_reversal(self, t: int, s: _Settled) -> None:
        record = self._reversal_header(REVERSAL_INFNO, t, s)
        record["input"] = {"data": {"psn_no": s.psn_no, "omsgid": s.msgid, "oinfno": s.infno}}
        self._book(self.cal.month_of(t), s.pair_key, s.payee_key, -s.owed_fen)
        self._put(record, t, duplicable=False)

    def _emit_duplicate(self, t: int, record: Record) -> None:
        self.out.append((record, False))  # its own time is the original's: no last_time_s

    # ---- the ledger's own lifecycle records --------------------------------------------
    def _emit_prepayments(self) -> None:
        mean_owed = _mean_owed_fen(self.spec)
        total_weight = self.pair_cum[-1]
        year = int(self.spec.start_month[:4])
        stamp = self.cal.stamp(0)
        for pair in sorted(self.pairs, key=lambda p: p.key):
            monthly = self.spec.settlements_per_month * pair.weight / total_weight * mean_owed
            amount = PREPAYMENT_MONTHS_OF_OWED * monthly
            rounded = max(PREPAYMENT_MIN_FEN, math.ceil(amount / PREPAYMENT_ROUNDING_FEN) * PREPAYMENT_ROUNDING_FEN)
            record = {
                "type": "prepayment",
                "recorded_at": stamp,
                "insured": pair.insured,
                "treatment": pair.treatment,
                "year": year,
                "amount": fen_to_yuan(rounded),
            }
            self._put(record, 0, duplicable=False)

    def _emit_clawback(self, t: int, month: int) -> None:
        """Recover part of an earlier, accepted, never-reversed settlement."""
        recent = self.recent
        if not recent:
            return
        start = self.rng.randrange(len(recent))
        for i in range(len(recent)):
            s = recent[(start + i) % len(recent)]
            if not s.reversed and not s.clawed and s.owed_fen > 0 and s.time_s < t:
                break
        else:
            return
        s.clawed = True
        amount = max(1, int(s.owed_fen * self.rng.uniform(CLAWBACK_MIN_SHARE, CLAWBACK_MAX_SHARE)))
        amount = min(amount, s.owed_fen)
        statement = self.statements.setdefault(self.cal.month_of(t), {})
        statement[s.pair_key] = statement.get(s.pair_key, 0) - amount
        record = {
            "type": "clawback",
            "recorded_at": self.cal.stamp(t),
            "setl_id": s.setl_id,
            "amount": fen_to_yuan(amount),
        }
        self._put(record, t, duplicable=False)

    def _emit_interest(self, t: int, month: int) -> None:
        rng = self.rng
        for pair in rng.sample(self.pairs, min(INTEREST_PAIRS_PER_MONTH, len(self.pairs))):
            amount = rng.randint(INTEREST_MIN_FEN, INTEREST_MAX_FEN)
            record = {
                "type": "interest",
                "recorded_at": self.cal.stamp(t),
                "insured": pair.insured,
                "treatment": pair.treatment,
                "amount": fen_to_yuan(amount),
            }
            self._put(record, t, duplicable=False)

    def _emit_manual_reimbursement(self, t: int, month: int) -> None:
        rng = self.rng
        pair = self.pairs[bisect.bisect(self.pair_cum, rng.random() * self.pair_cum[-1])]
        person = self._new_person(pair)  # claims on paper: not one of the direct-settlement pool
        med_type = "21" if rng.random() < MANUAL_INPATIENT_SHARE else rng.choice(("11", "14"))
        kind = _KIND_BY_MED_TYPE[med_type]
        amounts = _draw_amounts(rng, kind, person.insutype == EMPLOYEE_INSUTYPE, large=False)
        record = {
            "type": "manual_reimbursement",
            "recorded_at": self.cal.stamp(t),
            "insuplc_admdvs": person.insured_city,
            "mdtrtarea_admvs": person.treatment_city,
            "fixmedins_code": self._pick_institution(person.treatment_city, pharmacy=False),
            "psn_no": person.psn_no,
            "med_type": med_type,
            "medfee_sumamt": fen_to_yuan(amounts[0]),
            "fund_pay_sumamt": fen_to_yuan(amounts[_FUND_INDEX]),
        }
        self._put(record, t, duplicable=False)

    def _emit_clear(self, t: int, month: int) -> None:
        self._put(
            {"type": "clear", "recorded_at": self.cal.stamp(t), "period": self.cal.periods[month]}, t, duplicable=False
        )

    def _emit_transfers(self, t: int, month: int) -> None:
        """One transfer per pair with a statement, of exactly its amount (>= 0)."""
        statement = self.statements.pop(month, {})
        keys = sorted(statement)
        withheld = self._withheld(month, [k for k in keys if statement[k] >= 0])
        stamp, period = self.cal.stamp(t), self.cal.periods[month]
        for key in keys:
            amount = statement[key]
            if amount < 0 or key == withheld:
                continue
            record = {
                "type": "clearing_transfer",
                "recorded_at": stamp,
                "insured": key[0],
                "treatment": key[1],
                "period": period,
                "amount": fen_to_yuan(amount),
            }
            self._put(record, t, duplicable=False)

    def _emit_institution_payments(self, t: int, month: int) -> None:
        """Pay each institution its owed amount of the month; one stays unpaid at the end."""
        payees = self.payees.pop(month, {})
        keys = [k for k in sorted(payees) if payees[k] > 0]
        withheld = self._withheld(month, keys)
        stamp, period = self.cal.stamp(t), self.cal.periods[month]
        for key in keys:
            if key == withheld:
                continue
            record = {
                "type": "institution_payment",
                "recorded_at": stamp,
                "treatment": key[0],
                "fixmedins_code": key[1],
                "period": period,
                "amount": fen_to_yuan(payees[key]),
            }
            self._put(record, t, duplicable=True)

    def _withheld(self, month: int, keys: list[tuple[str, str]]) -> tuple[str, str] | None:
        """In the last simulated month, the one key left unpaid (outstanding / overdue)."""
        if month != self.spec.months - 1 or not keys:
            return None
        return keys[self.rng.randrange(len(keys))]

    # ---- malformed records -------------------------------------------------------------
    def _malformed(self, t: int) -> Record:
        """A record the ledger must reject, naming MALFORMED_KINDS[kind].

        Apart from its one defect the record is sound: fresh ids, and an emergency visit
        (filing-exempt) so that no other rule fires first. It feeds no sum.
        """
        rng = self.rng
        kind_name = rng.choice(tuple(MALFORMED_KINDS))
        pair = self.pairs[bisect.bisect(self.pair_cum, rng.random() * self.pair_cum[-1])]
        person = self._new_person(pair)  # never pooled, never filed
        if kind_name == "cancel_unknown_setl_id":
            return self._unknown_cancellation(t, person)
        kind = _KIND_BY_MED_TYPE["21" if kind_name == "inpatient_no_filing" else rng.choice(("13", "24"))]
        amounts = list(_draw_amounts(rng, kind, person.insutype == EMPLOYEE_INSUTYPE, large=False))
        if kind_name == "negative_amount":
            amounts[AMOUNT_FIELDS.index("oth_pay")] = -rng.randint(1, 10_000)
            amounts[AMOUNT_FIELDS.index("hifp_pay")] -= amounts[AMOUNT_FIELDS.index("oth_pay")]
        elif kind_name == "fund_parts_mismatch":
            amounts[AMOUNT_FIELDS.index("hifp_pay")] += rng.randint(1, 10_000)
        elif kind_name == "total_mismatch":
            amounts[0] += rng.randint(1, 10_000)
        institution = self._pick_institution(person.treatment_city, pharmacy=False)
        record = self._settlement_record(t, kind, person, institution, tuple(amounts))
        info = record["output"]["setlinfo"]
        for name, fen in zip(AMOUNT_FIELDS, amounts, strict=True):
            info[name] = fen_to_yuan(fen)  # strings only: the defect must be the only one
        _MUTATIONS.get(kind_name, _no_mutation)(record, info)
        return record

    def _unknown_cancellation(self, t: int, person: _Person) -> Record:
        institution = self._pick_institution(person.treatment_city, pharmacy=False)
        setl_id = f"{UNKNOWN_SETL_PREFIX}{next(self.setl_seq) % SETL_SEQ_MODULO:014d}"
        return {
            "infno": "2208",
            "msgid": self._msgid(institution, t),
            "insuplc_admdvs": person.insured_city,
            "mdtrtarea_admvs": person.treatment_city,
            "fixmedins_code": institution,
            "inf_time": self.cal.stamp(t),
            "input": {"data": {"setl_id": setl_id, "mdtrt_id": "MD" + setl_id, "psn_no": person.psn_no}},
        }


def _no_mutation(record: Record, info: Record) -> None:
    """negative_amount, fund_parts_mismatch, total_mismatch, inpatient_no_filing: amounts
    or the person already carry the defect."""


def _three_decimals(record: Record, info: Record) -> None:
    info["medfee_sumamt"] = info["medfee_sumamt"] + "5"


def _missing_setl_id(record: Record, info: Record) -> None:
    del info["setl_id"]


def _unknown_med_type(record: Record, info: Record) -> None:
    info["med_type"] = "99"


def _same_place(record: Record, info: Record) -> None:
    record["mdtrtarea_admvs"] = record["insuplc_admdvs"]


def _non_numeric(record: Record, info: Record) -> None:
    info["hifp_pay"] = "abc"


def _bad_date(record: Record, info: Record) -> None:
    record["inf_time"] = info["setl_time"] = BAD_TIME


_MUTATIONS: dict[str, Callable[[Record, Record], None]] = {
    "amount_3_decimals": _three_decimals,
    "missing_setl_id": _missing_setl_id,
    "unknown_med_type": _unknown_med_type,
    "same_place": _same_place,
    "non_numeric_amount": _non_numeric,
    "bad_date": _bad_date,
}


def _normalise(pairs: list[_Pair], total: float) -> None:
    weight = sum(p.weight for p in pairs)
    for p in pairs:
        p.weight = p.weight / weight * total if weight else 0.0


def _clone(record: Record) -> Record:
    """A copy deep enough that a consumer mutating the original cannot change the copy."""
    return {k: _clone(v) if isinstance(v, dict) else v for k, v in record.items()}
