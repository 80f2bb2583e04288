"""The working calendar behind case deadlines: SLAs in 工作日 (working days) and 工作时 (hours).

A day is a working day when China's statutory calendar says so: weekends and statutory holidays
(法定节假日) are off, and the adjusted working days (调休, a Saturday or Sunday worked in exchange
for a longer holiday) are on. The statutory data comes from the ``chinesecalendar`` package
(import name ``chinese_calendar``), which only knows the years it was published with. For a day
outside its coverage the calendar falls back to "Monday to Friday are working days";
``WorkingCalendar.covers(day)`` tells a caller when that happened, so it can warn. A county's own
days off (or extra working days) are local overrides on top (``extra_holidays`` /
``extra_workdays``); they win over both the package and the fallback.

Working time is the office periods on working days (08:30–12:00 and 13:30–17:30 by default, so
7.5 hours a day). Each period is half-open: 08:30 is working time, 12:00 is not. Everything is
computed on the calendar's local wall clock (``Asia/Shanghai`` by default): an aware datetime in
any zone is converted to it first, and every result is aware in it. Naive datetimes are refused.

Conventions (see ``WorkingCalendar.add_working_days`` for the day rule):

- A clock started outside working time starts at the next working moment (a report filed at
  19:00 starts counting at 08:30 on the next working day; one filed at 12:10 at 13:30).
- ``add_working_hours(start, h)`` is the first instant at which ``h`` working hours have
  elapsed, so a clock that runs out exactly at a period's end returns that end (12:00, 17:30),
  not the start of the next period.

Speed: per-year tables of cumulative working-day counts are built once and cached, so the hour
and day arithmetic costs a few look-ups per call (one more per calendar year spanned), whatever
the length of the interval; a tick over 100,000 open cases needs no per-day or per-minute loop.

This module does not need Django. ``default_calendar()`` reads the optional ``CIVICGRID_CALENDAR``
setting lazily when Django settings are configured, and uses the defaults otherwise.
"""

from __future__ import annotations

import functools
import math
import warnings
from bisect import bisect_left
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = ["WorkingCalendar", "default_calendar"]

DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_PERIODS = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))

_US_PER_HOUR = 3_600_000_000
_US_PER_SECOND = 1_000_000


# --------------------------------------------------------------------------- statutory data


@functools.cache
def _statutory_year(year: int) -> tuple[bool, ...] | None:
    """The package's working-day flags for every day of ``year``, or None outside its coverage.

    The package validates every call by scanning its whole table, so the answers are computed
    once per year and shared by every calendar.
    """
    first = date(year, 1, 1)
    try:
        chinese_calendar.is_workday(first)
    except NotImplementedError:
        return None
    n_days = (date(year + 1, 1, 1) - first).days if year < date.max.year else 365
    flags = []
    for i in range(n_days):
        day = first + timedelta(days=i)
        try:
            flags.append(bool(chinese_calendar.is_workday(day)))
        except NotImplementedError:  # the package knows a year only as a whole; be safe anyway
            flags.append(day.weekday() < 5)
    return tuple(flags)


# --------------------------------------------------------------------------- helpers


def _as_time(value: time | str) -> time:
    if isinstance(value, str):
        value = time.fromisoformat(value)
    if not isinstance(value, time):
        raise TypeError(f"expected a datetime.time or 'HH:MM', got {value!r}")
    if value.tzinfo is not None:
        raise ValueError("working periods are local wall-clock times: give naive times")
    return value


def _as_date(value: date | str) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        raise TypeError(f"expected a datetime.date or 'YYYY-MM-DD', got {value!r}")
    return value


def _time_us(value: time) -> int:
    """Microseconds since midnight."""
    return ((value.hour * 60 + value.minute) * 60 + value.second) * _US_PER_SECOND + (
        value.microsecond
    )


def _us_time(us: int) -> time:
    seconds, micro = divmod(us, _US_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, second, micro)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


# --------------------------------------------------------------------------- the calendar


class WorkingCalendar:
    """Working days and working hours on China's statutory calendar plus local overrides.

    ``tz``: a zone name or a ``tzinfo`` (default ``Asia/Shanghai``). ``periods``: the office
    periods of a working day, as ``(start, end)`` pairs of naive ``time`` (or ``"HH:MM"``),
    sorted, non-overlapping, within one day. ``extra_holidays`` / ``extra_workdays``: dates (or
    ISO strings) that are off / on whatever the statutory calendar says; a date in both is an
    error.
    """

    def __init__(
        self,
        *,
        tz: str | tzinfo = DEFAULT_TZ,
        periods: Iterable[tuple[time | str, time | str]] = DEFAULT_PERIODS,
        extra_holidays: Iterable[date | str] = (),
        extra_workdays: Iterable[date | str] = (),
    ):
        self.tz: tzinfo = ZoneInfo(tz) if isinstance(tz, str) else tz
        if not isinstance(self.tz, tzinfo):
            raise TypeError(f"tz must be a zone name or a tzinfo, got {tz!r}")

        spans: list[tuple[int, int]] = []
        for pair in periods:
            start, end = (_as_time(t) for t in pair)
            s, e = _time_us(start), _time_us(end)
            if s >= e:
                raise ValueError(f"a working period must end after it starts: {start}–{end}")
            if spans and s < spans[-1][1]:
                raise ValueError("working periods must be sorted and must not overlap")
            spans.append((s, e))
        if not spans:
            raise ValueError("a working day needs at least one working period")
        self.periods: tuple[tuple[time, time], ...] = tuple(
            (_us_time(s), _us_time(e)) for s, e in spans
        )
        self._spans = tuple(spans)
        # _before[i]: working microseconds in the periods before period i.
        self._before = tuple(sum(e - s for s, e in spans[:i]) for i in range(len(spans) + 1))
        self._day_us = self._before[-1]

        self.extra_holidays = frozenset(_as_date(d) for d in extra_holidays)
        self.extra_workdays = frozenset(_as_date(d) for d in extra_workdays)
        both = self.extra_holidays & self.extra_workdays
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(f"dates both extra holidays and extra workdays: {listed}")

        # year -> (ordinal of 1 January, cum): cum[i] = working days among the year's first i days
        self._cum: dict[int, tuple[int, list[int]]] = {}

    def __repr__(self) -> str:
        periods = ", ".join(f"{s:%H:%M}–{e:%H:%M}" for s, e in self.periods)
        return f"<WorkingCalendar {self.tz} [{periods}]>"

    @property
    def hours_per_day(self) -> float:
        """Working hours in one working day (7.5 with the default periods)."""
        return self._day_us / _US_PER_HOUR

    # ------------------------------------------------------------------- days

    def covers(self, day: date) -> bool:
        """True when the statutory data knows ``day``; False means the Mon–Fri fallback is used.

        Local overrides do not change the answer: it is about the national arrangement only.
        """
        return _statutory_year(self._local_date(day).year) is not None

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day (an aware datetime is read as its local date)."""
        return self._works(self._local_date(day))

    def _local_date(self, day: date) -> date:
        if isinstance(day, datetime):
            _require_aware(day, "day")
            return day.astimezone(self.tz).date()
        if not isinstance(day, date):
            raise TypeError(f"expected a date, got {type(day).__name__}")
        return day

    def _works(self, day: date) -> bool:
        cum, i = self._index(day)
        return cum[i + 1] > cum[i]

    def _index(self, day: date) -> tuple[list[int], int]:
        """(``day``'s year table, ``day``'s index in its year)."""
        entry = self._cum.get(day.year)
        if entry is None:
            entry = self._build_year(day.year)
        return entry[1], day.toordinal() - entry[0]

    def _year_cum(self, year: int) -> list[int]:
        entry = self._cum.get(year)
        return (entry if entry is not None else self._build_year(year))[1]

    def _build_year(self, year: int) -> tuple[int, list[int]]:
        statutory = _statutory_year(year)
        first = date(year, 1, 1)
        n_days = (date(year + 1, 1, 1) - first).days if year < date.max.year else 365
        cum = [0] * (n_days + 1)
        for i in range(n_days):
            day = first + timedelta(days=i)
            if day in self.extra_workdays:
                works = True
            elif day in self.extra_holidays:
                works = False
            elif statutory is None:
                works = day.weekday() < 5
            else:
                works = statutory[i]
            cum[i + 1] = cum[i] + works
        entry = (first.toordinal(), cum)
        self._cum[year] = entry
        return entry

    def _count_before(self, day: date) -> int:
        """Working days in ``day``'s year strictly before ``day``."""
        cum, i = self._index(day)
        return cum[i]

    def _count_between(self, first: date, stop: date) -> int:
        """Working days in [first, stop)."""
        if stop <= first:
            return 0
        a = self._count_before(first)
        if first.year == stop.year:
            return self._count_before(stop) - a
        total = self._year_cum(first.year)[-1] - a
        for year in range(first.year + 1, stop.year):
            total += self._year_cum(year)[-1]
        return total + self._count_before(stop)

    def _nth_working_day_after(self, day: date, n: int) -> date:
        """The n-th working day strictly after ``day`` (n >= 1)."""
        year = day.year
        cum, i = self._index(day)
        need = n + cum[i + 1]  # counted from 1 January of `year`
        while need > cum[-1]:
            need -= cum[-1]
            year += 1
            cum = self._year_cum(year)
        index = bisect_left(cum, need) - 1  # first day whose running count reaches `need`
        return date(year, 1, 1) + timedelta(days=index)

    def _next_working_day(self, day: date) -> date:
        """``day`` itself when it is a working day, else the next one."""
        if self._works(day):
            return day
        return self._nth_working_day_after(day, 1)

    # ------------------------------------------------------------------- wall clock

    def _local(self, moment: datetime, name: str) -> datetime:
        _require_aware(moment, name)
        return moment.astimezone(self.tz).replace(tzinfo=None)

    def _aware(self, day: date, us: int) -> datetime:
        return datetime.combine(day, _us_time(us), tzinfo=self.tz)

    def _worked_until(self, us: int) -> int:
        """Working microseconds of a working day from midnight to the wall time ``us``."""
        done = 0
        for s, e in self._spans:
            if us <= s:
                break
            done += min(us, e) - s
        return done

    def _wall_at(self, offset: int) -> int:
        """The earliest wall time (µs since midnight) at which ``offset`` µs have been worked.

        ``0 < offset <= hours of a day``; a boundary offset returns a period's end.
        """
        pairs = zip(self._spans, self._before[:-1], self._before[1:], strict=True)
        for (s, _e), before, after in pairs:
            if offset <= after:
                return s + offset - before
        raise AssertionError("offset beyond the working day")  # pragma: no cover

    def _next_moment_local(self, local: datetime) -> datetime:
        """The next working moment, on naive local wall-clock datetimes."""
        day = local.date()
        if self._works(day):
            us = _time_us(local.time())
            for s, e in self._spans:
                if us < s:
                    return datetime.combine(day, _us_time(s))
                if us < e:
                    return local
            day = self._nth_working_day_after(day, 1)
        else:
            day = self._next_working_day(day)
        return datetime.combine(day, _us_time(self._spans[0][0]))

    # ------------------------------------------------------------------- public arithmetic

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` itself if it is working time, else the start of the next working period."""
        local = self._next_moment_local(self._local(moment, "moment"))
        return local.replace(tzinfo=self.tz)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The instant at which ``hours`` working hours have elapsed since ``start``.

        The clock starts at ``next_working_moment(start)``; ``hours`` may be fractional (kept to
        the microsecond) and must be >= 0; 0 returns ``next_working_moment(start)``. A clock
        that runs out exactly at a period's end returns that end (e.g. 17:30, not 08:30 the next
        working day).
        """
        if isinstance(hours, bool) or not isinstance(hours, int | float):
            raise TypeError(f"hours must be a number, got {hours!r}")
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"hours must be a finite number >= 0, got {hours!r}")
        begin = self._next_moment_local(self._local(start, "start"))
        amount = round(hours * _US_PER_HOUR)
        if amount == 0:
            return begin.replace(tzinfo=self.tz)
        day = begin.date()
        target = self._worked_until(_time_us(begin.time())) + amount
        if target <= self._day_us:
            return self._aware(day, self._wall_at(target))
        rest = target - self._day_us
        days_on, offset = divmod(rest, self._day_us)
        if offset == 0:  # runs out at the end of a day: that end, not the next day's start
            days_on, offset = days_on - 1, self._day_us
        return self._aware(self._nth_working_day_after(day, days_on + 1), self._wall_at(offset))

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The deadline of a ``days``-working-day SLA for a case received at ``start``.

        Convention (自受理次日起计算): the day of receipt does not count; the period runs from
        the next day, in working days, and ends at the close of business (the last period's end,
        17:30 by default) of the ``days``-th working day after the day of receipt. A case
        received outside working time (at night, at lunch after the morning period, on a
        weekend or a holiday) counts as received at the next working moment, so its day of
        receipt is that working day. Hence with the defaults:

        - Monday 10:00, 1 day → Tuesday 17:30;
        - Friday 16:00, 1 day → Monday 17:30 (the next working day if Monday is a holiday);
        - Monday 18:00, 1 day → Wednesday 17:30 (received Tuesday 08:30);
        - Saturday, 1 day → Tuesday 17:30 (received Monday 08:30; Monday is not counted);
        - ``days=0`` → the close of business on the day of receipt (即办件, same-day handling).

        Why: 民法典 §201 and the procedural laws do not count the day on which a period starts
        (开始的当日不计入，自下一日开始计算); 行政许可法 §82 counts administrative time limits in
        working days without statutory holidays; government service centres treat an
        application submitted outside working time as received on the next working day
        (非工作时间提交的，顺延至下一个工作日受理); and 民法典 §203 makes the last day end at the
        close of business where there are business hours (有业务时间的，停止业务活动的时间为
        截止时间). It also keeps the day rule consistent with the hour rule: both clocks start
        at the next working moment.
        """
        if isinstance(days, bool) or not isinstance(days, int):
            raise TypeError(f"days must be an int, got {days!r}")
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        received = self._next_moment_local(self._local(start, "start")).date()
        due = received if days == 0 else self._nth_working_day_after(received, days)
        return self._aware(due, self._spans[-1][1])

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours from ``start`` to ``end``; negative when ``end`` is before ``start``.

        Consistent with ``add_working_hours``: ``working_hours_between(s, add_working_hours(s,
        h)) == h`` to the microsecond for any ``s``.
        """
        a, b = self._local(start, "start"), self._local(end, "end")
        if b < a:
            return -self._between_us(b, a) / _US_PER_HOUR
        return self._between_us(a, b) / _US_PER_HOUR

    def _between_us(self, a: datetime, b: datetime) -> int:
        """Working microseconds in [a, b) on naive local datetimes, a <= b."""
        da, db = a.date(), b.date()
        ua, ub = self._worked_until(_time_us(a.time())), self._worked_until(_time_us(b.time()))
        if da == db:
            return ub - ua if self._works(da) else 0
        total = self._count_between(da + timedelta(days=1), db) * self._day_us
        if self._works(da):
            total += self._day_us - ua
        if self._works(db):
            total += ub
        return total


# --------------------------------------------------------------------------- default instance


def _settings_options() -> dict:
    """The optional ``CIVICGRID_CALENDAR`` Django setting, or {} without configured Django.

    Keys (all optional): ``tz``, ``periods`` (pairs of ``"HH:MM"``), ``extra_holidays`` and
    ``extra_workdays`` (ISO dates). The zone defaults to Asia/Shanghai, not ``TIME_ZONE``: the
    statutory calendar runs on Beijing time whatever zone the site displays.
    """
    try:
        from django.conf import settings
    except ImportError:  # pragma: no cover - Django is a dependency, but keep this usable alone
        return {}
    if not settings.configured:
        return {}
    options = dict(getattr(settings, "CIVICGRID_CALENDAR", None) or {})
    unknown = set(options) - {"tz", "periods", "extra_holidays", "extra_workdays"}
    if unknown:
        raise ValueError(f"unknown CIVICGRID_CALENDAR keys: {', '.join(sorted(unknown))}")
    return options


@functools.cache
def default_calendar() -> WorkingCalendar:
    """The shared calendar, built once (``default_calendar.cache_clear()`` rebuilds it)."""
    calendar = WorkingCalendar(**_settings_options())
    today = datetime.now(calendar.tz).date()
    if not calendar.covers(today):
        warnings.warn(
            f"chinesecalendar {chinese_calendar.__version__} has no statutory holidays for "
            f"{today.year}: working days fall back to Monday–Friday; upgrade the package",
            RuntimeWarning,
            stacklevel=2,
        )
    return calendar
