"""Money at the edge: yuan in records, integer fen everywhere else.

A record's amount is a JSON number or a string with at most two decimals. It becomes an
``int`` of fen here, once, and is never a float afterwards. JSON numbers arrive as floats
from most parsers; they are converted through their shortest repr, which is exactly what
the sender wrote for any amount with at most two decimals.
"""

from __future__ import annotations

import re

# A yuan amount: optional minus, digits, optional 1-2 decimals. Three decimals is an error.
_YUAN_RE = re.compile(r"^(-)?([0-9]+)(?:\.([0-9]{1,2}))?\Z")
_DECIMALS_RE = re.compile(r"^-?[0-9]+\.([0-9]+)\Z")

# Upper bound on any single amount: 10^12 yuan. Bigger is garbage, not a settlement.
MAX_AMOUNT_FEN = 10**14
FEN_PER_YUAN = 100


class AmountError(ValueError):
    """A yuan amount that cannot be turned into fen; the message says why."""


def parse_yuan_to_fen(value: object, *, allow_negative: bool = False) -> int:
    """Parse a yuan amount (JSON number or string) into integer fen."""
    if type(value) is str:  # the common case: "1234.50"
        match = _YUAN_RE.match(value)
        if match is not None and not match.group(1) and len(match.group(2)) <= 12:
            cents = match.group(3)
            if cents is None:
                return int(match.group(2)) * FEN_PER_YUAN
            return int(match.group(2)) * FEN_PER_YUAN + int(cents if len(cents) == 2 else cents + "0")
    if isinstance(value, bool) or value is None:
        raise AmountError("must be a number or a decimal string")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise AmountError("must be a finite number")
        text = repr(value)
        if "e" in text or "E" in text:
            raise AmountError("must be written without an exponent")
    elif isinstance(value, str):
        text = value
    else:
        raise AmountError("must be a number or a decimal string")
    match = _YUAN_RE.match(text)
    if match is None:
        decimals = _DECIMALS_RE.match(text)
        if decimals is not None and len(decimals.group(1)) > 2:
            raise AmountError(f"has more than 2 decimals: {text!r}")
        raise AmountError(f"is not a decimal amount: {text[:40]!r}")
    negative, whole, cents = match.groups()
    if len(whole) > 15:
        raise AmountError("is too large")
    fen = int(whole) * FEN_PER_YUAN + int((cents or "0").ljust(2, "0"))
    if fen > MAX_AMOUNT_FEN:
        raise AmountError("is too large")
    if negative:
        if not allow_negative and fen != 0:
            raise AmountError(f"must not be negative: {text!r}")
        fen = -fen
    return fen


def fen_to_yuan(amount_fen: int) -> str:
    """Format integer fen as a yuan string with two decimals, e.g. 3012050 -> '30120.50'."""
    sign = "-" if amount_fen < 0 else ""
    whole, cents = divmod(abs(amount_fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"


def fen_to_yuan_grouped(amount_fen: int) -> str:
    """Yuan with thousands separators for people: 3012050 -> '30,120.50'."""
    sign = "-" if amount_fen < 0 else ""
    whole, cents = divmod(abs(amount_fen), FEN_PER_YUAN)
    return f"{sign}{whole:,}.{cents:02d}"
