"""The one projection fold: facts in, balances and read models out.

``apply(state, fact)`` is deterministic and does no I/O; the embedded mode, the faust
processors and every replay call this same function, so the same facts give the same
``digest``. The state is plain JSON-ready data (string keys, ints, lists), so a store can
keep it as rows or as one document.

The state is a function of the *set* of facts per key, folded in each key's order: no
figure depends on how two keys' facts interleave. That is what lets Kafka partitions be
folded in any interleaving and still give the digest of the embedded mode.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import orjson

from ledger.codes import INPATIENT_MED_TYPES, province_of
from ledger.postings import postings_for

Body = Mapping[str, Any]
DIGEST_VERSION = 1


@dataclass
class Projection:
    """Every read model the dashboards and the CLI show. Keys are strings joined by '|'."""

    balances: dict[str, int] = field(default_factory=dict)
    facts: int = 0
    facts_by_type: dict[str, int] = field(default_factory=dict)
    # "period|insured|treatment" -> statement
    statements: dict[str, dict[str, Any]] = field(default_factory=dict)
    # period -> {closed_at, statements, total_fen}
    periods: dict[str, dict[str, Any]] = field(default_factory=dict)
    # "insured>treatment" -> {year, float_fen, adjusted_at}
    floats: dict[str, dict[str, Any]] = field(default_factory=dict)
    # "insured>treatment" -> [[time, from, to, usage_bp, outstanding_fen, float_fen], ...]
    alerts: dict[str, list[list[Any]]] = field(default_factory=dict)
    # setl_id -> investigation case
    investigations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # "day|insured>treatment|infno" -> [settlements, owed_fen, reversals, reversed_fen]
    volumes: dict[str, list[int]] = field(default_factory=dict)
    # "insured province|inpatient|outpatient" -> [direct, manual]
    direct: dict[str, list[int]] = field(default_factory=dict)
    # "treatment|institution|period" -> [due_fen, paid_fen]; and who owes that money
    dues: dict[str, list[int]] = field(default_factory=dict)
    dues_from: dict[str, list[str]] = field(default_factory=dict)
    # "insured>treatment" -> [long_term, temporary, cancelled]
    filings: dict[str, list[int]] = field(default_factory=dict)
    # "insured>treatment" -> [count, owed_fen] of settlements accepted without a filing, by basis
    exemptions: dict[str, list[int]] = field(default_factory=dict)
    # key -> [seq, hash] of the last fact folded: the chain heads (see ledger/chain.py)
    heads: dict[str, list[Any]] = field(default_factory=dict)
    # The latest fact time folded (Beijing time): "today" for views of a history.
    latest_time: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Projection":
        return cls(**{k: data[k] for k in vars(cls()) if k in data})


def _add(table: dict[str, list[int]], key: str, width: int, *deltas: tuple[int, int]) -> None:
    row = table.get(key)
    if row is None:
        row = table[key] = [0] * width
    for index, delta in deltas:
        row[index] += delta


def _pair(b: Body) -> str:
    return f"{b['insured']}>{b['treatment']}"


def _care(med_type: str) -> str:
    return "inpatient" if med_type in INPATIENT_MED_TYPES else "outpatient"


def _due(s: Projection, b: Body, period: str, delta_fen: int) -> None:
    key = f"{b['treatment']}|{b['fixmedins_code']}|{period}"
    _add(s.dues, key, 2, (0, delta_fen))
    owers = s.dues_from.setdefault(key, [])
    if b["insured"] not in owers:
        owers.append(b["insured"])
        owers.sort()


def _settlement(s: Projection, b: Body) -> None:
    pair = _pair(b)
    _add(s.volumes, f"{b['setl_time'][:10]}|{pair}|{b['infno']}", 4, (0, 1), (1, b["owed_fen"]))
    _add(s.direct, f"{province_of(b['insured'])}|{_care(b['med_type'])}", 2, (0, 1))
    _due(s, b, b["period"], b["owed_fen"])
    if b["filing_basis"] != "filing":
        _add(s.exemptions, f"{pair}|{b['filing_basis']}", 2, (0, 1), (1, b["owed_fen"]))


def _reversal(s: Projection, b: Body) -> None:
    _add(s.volumes, f"{b['time'][:10]}|{_pair(b)}|{b['original_infno']}", 4, (2, 1), (3, b["owed_fen"]))
    _add(s.direct, f"{province_of(b['insured'])}|{_care(b['med_type'])}", 2, (0, -1))
    _due(s, b, b["period"], -b["owed_fen"])


def _clawback(s: Projection, b: Body) -> None:
    _due(s, b, b["period"], -b["amount_fen"])


def _investigation_opened(s: Projection, b: Body) -> None:
    s.investigations[b["setl_id"]] = {
        "setl_id": b["setl_id"], "status": "open", "opened_at": b["time"], "closed_at": None,
        "outcome": None, "insured": b["insured"], "treatment": b["treatment"],
        "fixmedins_code": b["fixmedins_code"], "psn_no": b["psn_no"], "setl_time": b["setl_time"],
        "medfee_sumamt_fen": b["medfee_sumamt_fen"],
    }


def _investigation_closed(s: Projection, b: Body) -> None:
    case = s.investigations[b["setl_id"]]
    case.update(status="closed", closed_at=b["time"], outcome=b["outcome"])


def _filing(s: Projection, b: Body) -> None:
    _add(s.filings, _pair(b), 3, (0 if b["category"] == "long_term" else 1, 1))


def _filing_cancelled(s: Projection, b: Body) -> None:
    _add(s.filings, _pair(b), 3, (2, 1))


def _float_adjusted(s: Projection, b: Body) -> None:
    s.floats[_pair(b)] = {"year": b["year"], "float_fen": b["float_fen"], "adjusted_at": b["time"]}


def _float_alert(s: Projection, b: Body) -> None:
    s.alerts.setdefault(_pair(b), []).append(
        [b["time"], b["from_level"], b["to_level"], b["usage_bp"], b["outstanding_fen"], b["float_fen"]]
    )


def _statement(s: Projection, b: Body) -> None:
    s.statements[f"{b['period']}|{b['insured']}|{b['treatment']}"] = {
        "period": b["period"], "insured": b["insured"], "treatment": b["treatment"],
        "amount_fen": b["amount_fen"], "status": "outstanding", "issued_at": b["time"],
        "transferred_at": None, "settlements": b["settlements"], "reversals": b["reversals"],
        "clawbacks": b["clawbacks"],
    }


def _transfer(s: Projection, b: Body) -> None:
    statement = s.statements[f"{b['period']}|{b['insured']}|{b['treatment']}"]
    statement.update(status="transferred", transferred_at=b["time"])


def _period_closed(s: Projection, b: Body) -> None:
    s.periods[b["period"]] = {"closed_at": b["time"], "statements": b["statements"], "total_fen": b["total_fen"]}


def _institution_paid(s: Projection, b: Body) -> None:
    _add(s.dues, f"{b['treatment']}|{b['fixmedins_code']}|{b['period']}", 2, (1, b["amount_fen"]))


def _manual(s: Projection, b: Body) -> None:
    _add(s.direct, f"{province_of(b['insured'])}|{_care(b['med_type'])}", 2, (1, 1))


def _nothing(s: Projection, b: Body) -> None:
    return None


VIEWS: dict[str, Callable[[Projection, Body], None]] = {
    "settlement.recorded": _settlement,
    "settlement.reversed": _reversal,
    "clawback.recorded": _clawback,
    "investigation.opened": _investigation_opened,
    "investigation.closed": _investigation_closed,
    "filing.recorded": _filing,
    "filing.cancelled": _filing_cancelled,
    "float.adjusted": _float_adjusted,
    "float.alert": _float_alert,
    "statement.issued": _statement,
    "clearing.transferred": _transfer,
    "period.closed": _period_closed,
    "institution.paid": _institution_paid,
    "manual_reimbursement.recorded": _manual,
    "interest.accrued": _nothing,
}


def apply(state: Projection, fact: Body) -> None:
    """Fold one fact into ``state``: its postings into balances, then its read models."""
    balances = state.balances
    for account, fen in postings_for(fact):
        balances[account] = balances.get(account, 0) + fen
    kind = fact["type"]
    VIEWS[kind](state, fact)
    state.heads[fact["key"]] = [fact["seq"], fact["hash"]]
    if fact["time"] > state.latest_time:
        state.latest_time = fact["time"]
    state.facts += 1
    state.facts_by_type[kind] = state.facts_by_type.get(kind, 0) + 1


def fold(facts: Iterable[Body], state: Projection | None = None) -> Projection:
    state = state if state is not None else Projection()
    for fact in facts:
        apply(state, fact)
    return state


def digest(state: Projection) -> str:
    """sha256 of the canonical JSON of every read model (zero balances left out).

    Canonical: orjson with sorted keys; balances that are exactly 0 are dropped so that an
    account that came and went does not change the digest; the chain heads are left out
    (they commit to provenance, which ``yidi verify`` checks). Documented in docs/audit.md.
    """
    content = state.to_dict()
    # Heads depend on provenance (file and line are in the facts); the digest is of the books.
    del content["heads"]
    content["balances"] = {k: v for k, v in state.balances.items() if v != 0}
    content["digest_version"] = DIGEST_VERSION
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def merge(states: Iterable[Projection]) -> Projection:
    """Combine projections folded from disjoint sets of facts: Kafka partitions (split by
    key) or shards of the event store (split by aggregate).

    Sums add, per-key tables unite, a chain head is the one with the highest seq. Every
    figure is a sum, or comes from facts of one aggregate (a statement and its transfer, a
    case and its closing, a float and its alerts), so merging the folds of any such split
    gives exactly the fold of all facts.
    """
    total = Projection()
    for s in states:
        for account, fen in s.balances.items():
            total.balances[account] = total.balances.get(account, 0) + fen
        total.facts += s.facts
        for kind, n in s.facts_by_type.items():
            total.facts_by_type[kind] = total.facts_by_type.get(kind, 0) + n
        for table in ("volumes", "direct", "dues", "filings", "exemptions"):
            mine, theirs = getattr(total, table), getattr(s, table)
            for key, row in theirs.items():
                if key in mine:
                    mine[key] = [a + b for a, b in zip(mine[key], row)]
                else:
                    mine[key] = list(row)
        for key, owers in s.dues_from.items():
            total.dues_from[key] = sorted(set(total.dues_from.get(key, [])) | set(owers))
        for key, head in s.heads.items():
            if key not in total.heads or head[0] > total.heads[key][0]:
                total.heads[key] = list(head)
        total.latest_time = max(total.latest_time, s.latest_time)
        for table in ("statements", "periods", "floats", "investigations"):
            getattr(total, table).update({k: dict(v) for k, v in getattr(s, table).items()})
        for key, alerts in s.alerts.items():
            total.alerts.setdefault(key, []).extend(list(a) for a in alerts)
    return total
