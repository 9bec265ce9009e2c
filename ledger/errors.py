"""Errors in user data are values, not exceptions (beancount style)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of one record. ``field`` is the platform's field name."""

    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class Rejected(Exception):
    """Raised by an aggregate or the ledger service when a record breaks a rule.

    Carries the field errors; the record changes nothing.
    """

    def __init__(self, *errors: FieldError) -> None:
        assert errors, "a rejection names at least one field"
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors: tuple[FieldError, ...] = errors


def reject(field: str, message: str) -> Rejected:
    return Rejected(FieldError(field, message))


def invariant(condition: bool, message: str) -> None:
    """Programmer-error check that survives ``python -O`` (unlike ``assert``)."""
    if not condition:
        raise AssertionError(message)
