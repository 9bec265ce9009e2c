"""Posting rules: every fact to double-entry postings (DOMAIN.md §5). The one file to read.

A posting is ``(account, amount_fen)``: positive is a debit, negative a credit, so an
account's balance is Σ debits − Σ credits and the postings of every fact sum to zero.
Accounts are named ``<code>:<kind>[:<other>]`` with the codes of the pair's parties:

    P:prepaid:T      asset of P       float P advanced to T (预付款项)
    P:payable:T      liability of P   settled, not yet cleared, owed by P to T
    P:fund:<field>   expense of P     fund spending by platform field (hifp_pay, acct_pay, ...)
    P:fund:clawback  expense of P     recoveries by supervision (a negative expense)
    P:treasury       asset of P       P's provincial financial account (财政专户)
    T:float_held:P   liability of T   float received from P (暂收款项)
    T:receivable:P   asset of T       advanced for P's insured, not yet cleared
    T:owed_to:I      liability of T   owed to institution I
    T:treasury       asset of T
    T:interest       income of T      interest on floats

Rules take the fact's wire body (a dict) so that the write side, the faust processors and an
auditor's replay all run the very same function.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .errors import invariant

Posting = tuple[str, int]
Body = Mapping[str, Any]

CLAWBACK_FUND = "clawback"


def _settlement(b: Body) -> list[Posting]:
    p, t, owed = b["insured"], b["treatment"], b["owed_fen"]
    postings: list[Posting] = [
        (f"{t}:receivable:{p}", owed),
        (f"{t}:owed_to:{b['fixmedins_code']}", -owed),
    ]
    postings.extend((f"{p}:fund:{part}", fen) for part, fen in sorted(b["fund_parts_fen"].items()))
    if b["acct_pay_fen"]:
        postings.append((f"{p}:fund:acct_pay", b["acct_pay_fen"]))
    postings.append((f"{p}:payable:{t}", -owed))
    return postings


def _reversal(b: Body) -> list[Posting]:
    """The exact mirror of the settlement it reverses."""
    return [(account, -fen) for account, fen in _settlement(b)]


def _clawback(b: Body) -> list[Posting]:
    """Recovered money goes back by the original channel: P owes T less, T owes I less."""
    p, t, amount = b["insured"], b["treatment"], b["amount_fen"]
    return [
        (f"{p}:payable:{t}", amount),
        (f"{p}:fund:{CLAWBACK_FUND}", -amount),
        (f"{t}:owed_to:{b['fixmedins_code']}", amount),
        (f"{t}:receivable:{p}", -amount),
    ]


def _float_adjusted(b: Body) -> list[Posting]:
    """Only the difference to the previous float moves (a top-up, or a refund if negative)."""
    p, t, delta = b["insured"], b["treatment"], b["delta_fen"]
    return [
        (f"{p}:prepaid:{t}", delta),
        (f"{p}:treasury", -delta),
        (f"{t}:treasury", delta),
        (f"{t}:float_held:{p}", -delta),
    ]


def _clearing_transfer(b: Body) -> list[Posting]:
    p, t, amount = b["insured"], b["treatment"], b["amount_fen"]
    return [
        (f"{p}:payable:{t}", amount),
        (f"{p}:treasury", -amount),
        (f"{t}:treasury", amount),
        (f"{t}:receivable:{p}", -amount),
    ]


def _institution_paid(b: Body) -> list[Posting]:
    t, amount = b["treatment"], b["amount_fen"]
    return [(f"{t}:owed_to:{b['fixmedins_code']}", amount), (f"{t}:treasury", -amount)]


def _interest(b: Body) -> list[Posting]:
    t, amount = b["treatment"], b["amount_fen"]
    return [(f"{t}:treasury", amount), (f"{t}:interest", -amount)]


def _nothing(_: Body) -> list[Posting]:
    """Facts that move no money: filings, statements (the transfer posts), alerts, cases."""
    return []


RULES: dict[str, Callable[[Body], list[Posting]]] = {
    "settlement.recorded": _settlement,
    "settlement.reversed": _reversal,
    "clawback.recorded": _clawback,
    "float.adjusted": _float_adjusted,
    "clearing.transferred": _clearing_transfer,
    "institution.paid": _institution_paid,
    "interest.accrued": _interest,
    "investigation.opened": _nothing,
    "investigation.closed": _nothing,
    "filing.recorded": _nothing,
    "filing.cancelled": _nothing,
    "float.alert": _nothing,
    "statement.issued": _nothing,
    "manual_reimbursement.recorded": _nothing,
    "period.closed": _nothing,
}


def postings_for(body: Body) -> list[Posting]:
    """The postings of one fact; raises if they do not balance (a programmer error)."""
    postings = [(account, fen) for account, fen in RULES[body["type"]](body) if fen]
    invariant(sum(fen for _, fen in postings) == 0, f"unbalanced postings for {body['type']}: {postings}")
    return postings
