"""Code tables of the national platform (DOMAIN.md §2) and the parties of a pair."""

from __future__ import annotations

import re

# The 31 provinces plus XPCC (新疆生产建设兵团), by the first two digits of the code.
PROVINCE_PREFIXES: frozenset[str] = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 66".split()
)

SETTLEMENT_INFNOS = {"2207": "outpatient", "2304": "inpatient", "2102": "pharmacy"}
CANCELLATION_INFNOS = {"2208": "2207", "2305": "2304", "2103": "2102"}
REVERSAL_INFNO = "2601"

INSUTYPES = {
    "310": "employee basic",
    "320": "civil-servant subsidy",
    "330": "large-amount subsidy",
    "390": "urban-rural resident basic",
    "392": "resident critical illness",
    "510": "maternity",
}
MED_TYPES = {
    "11": "general outpatient",
    "13": "emergency",
    "14": "chronic/special outpatient",
    "21": "general inpatient",
    "22": "injury inpatient",
    "23": "referred-out inpatient",
    "24": "emergency-to-inpatient",
    "41": "pharmacy purchase",
}
# Which med_type each settlement transaction may carry.
MED_TYPES_BY_INFNO = {
    "2207": frozenset({"11", "13", "14"}),
    "2304": frozenset({"21", "22", "23", "24"}),
    "2102": frozenset({"41"}),
}
INPATIENT_MED_TYPES = frozenset({"21", "22", "23", "24"})
CLR_TYPES = {"11": "outpatient", "21": "inpatient", "41": "pharmacy", "99": "other"}
CLR_WAYS = {
    "01": "by item",
    "02": "single disease",
    "03": "per bed-day",
    "04": "per capita",
    "05": "DRG points",
    "99": "other",
}
FILING_CATEGORIES = ("long_term", "temporary")

# Fund parts of fund_pay_sumamt (DOMAIN.md §4), in posting order. hifes_pay (enterprise
# supplementary) is counted in the sum only when the sender counted it (see records.py).
FUND_PARTS = ("hifp_pay", "cvlserv_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay")
FUND_PART_HIFES = "hifes_pay"

_ADMDVS_RE = re.compile(r"^[0-9]{6}\Z")
_INSTITUTION_RE = re.compile(r"^[A-Z0-9]{1,30}\Z")
_ID_RE = re.compile(r"^[A-Za-z0-9_\-.:]{1,64}\Z")


def is_admdvs(code: object) -> bool:
    """A 6-digit admin-division code of a known province."""
    return isinstance(code, str) and bool(_ADMDVS_RE.match(code)) and code[:2] in PROVINCE_PREFIXES


def is_institution_code(code: object) -> bool:
    return isinstance(code, str) and bool(_INSTITUTION_RE.match(code))


def is_business_id(value: object) -> bool:
    """setl_id, msgid, filing_id, psn_no ...: 1-64 characters of a safe alphabet."""
    return isinstance(value, str) and bool(_ID_RE.match(value))


def province_of(code: str) -> str:
    return code[:2] + "0000"


def pair_parties(insured: str, treatment: str) -> tuple[str, str]:
    """The parties that owe each other: provinces across provinces, cities within one.

    420100 -> 440300 is the pair 420000 -> 440000; 510700 -> 510100 stays city to city.
    """
    if insured[:2] != treatment[:2]:
        return province_of(insured), province_of(treatment)
    return insured, treatment


def pair_key(insured: str, treatment: str) -> str:
    """The stable key of a pair, used for Kafka partitioning and aggregate ids."""
    return f"{insured}>{treatment}"


def split_pair_key(key: str) -> tuple[str, str]:
    insured, _, treatment = key.partition(">")
    return insured, treatment
