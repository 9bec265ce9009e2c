"""Working days: weekends and configured holidays do not count; make-up days (调休) do."""

from __future__ import annotations

import datetime as dt

from .config import Policy

MAX_WORKING_DAYS = 366  # bound on any working-day arithmetic


def is_working_day(day: dt.date, policy: Policy) -> bool:
    iso = day.isoformat()
    if iso in policy.makeup_workdays:
        return True
    return day.weekday() < 5 and iso not in policy.holidays


def add_working_days(start: dt.date, days: int, policy: Policy) -> dt.date:
    """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
    if not 0 <= days <= MAX_WORKING_DAYS:
        raise ValueError(f"working days must be within 0..{MAX_WORKING_DAYS}")
    day, left = start, days
    while left:
        day += dt.timedelta(days=1)
        if is_working_day(day, policy):
            left -= 1
    return day
