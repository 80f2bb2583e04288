"""Visit periods of each cadence, and the due date of a period on the working calendar.

A period is a closed range of local dates: a week is Monday–Sunday, a fortnight is two such
weeks counted from Monday 2024-01-01, a month and a quarter are the calendar ones. A rule that
follows the working calendar is due on the last working day of the period (a visit is not due
on a holiday); if the whole period is off, on the first working day after it.
"""

from __future__ import annotations

from datetime import date, timedelta

from civicgrid.core.calendar import WorkingCalendar, default_calendar

__all__ = ["FORTNIGHT_ANCHOR", "due_date", "period_of"]

FORTNIGHT_ANCHOR = date(2024, 1, 1)  # a Monday


def _month_end(year: int, month: int) -> date:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def period_of(cadence: str, day: date) -> tuple[date, date]:
    """The first and last day of the ``cadence`` period containing ``day``."""
    if cadence == "weekly":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if cadence == "fortnightly":
        start = FORTNIGHT_ANCHOR + timedelta(days=(day - FORTNIGHT_ANCHOR).days // 14 * 14)
        return start, start + timedelta(days=13)
    if cadence == "monthly":
        return day.replace(day=1), _month_end(day.year, day.month)
    if cadence == "quarterly":
        first_month = (day.month - 1) // 3 * 3 + 1
        return date(day.year, first_month, 1), _month_end(day.year, first_month + 2)
    raise ValueError(f"unknown cadence {cadence!r}")


def due_date(
    start: date, end: date, *, working_days: bool, calendar: WorkingCalendar | None = None
) -> date:
    """When a visit of the period [start, end] is due."""
    if not working_days:
        return end
    calendar = calendar or default_calendar()
    day = end
    while day >= start:
        if calendar.is_working_day(day):
            return day
        day -= timedelta(days=1)
    day = end + timedelta(days=1)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return day
