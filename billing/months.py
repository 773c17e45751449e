"""Month arithmetic for billing: a month is its first day (a date); its bounds are UTC midnights."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def current_month() -> dt.date:
    return first_of_month(timezone.now().date())


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def previous_month(month: dt.date) -> dt.date:
    return first_of_month(month - dt.timedelta(days=1))


def months_back(until: dt.date, count: int) -> list[dt.date]:
    """`count` first-of-months ending with `until`, oldest first."""
    months = [until]
    while len(months) < count:
        months.append(previous_month(months[-1]))
    return months[::-1]


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(month, dt.time(), tzinfo=dt.UTC)
    return start, dt.datetime.combine(next_month(month), dt.time(), tzinfo=dt.UTC)


def parse_month(text: str) -> dt.date:
    """'YYYY-MM' → the first day of that month; a readable ValueError otherwise."""
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m").date()
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"Give the month as YYYY-MM (for example 2026-10), not {text!r}.") from exc
