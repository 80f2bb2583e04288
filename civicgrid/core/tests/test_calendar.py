"""The working calendar behind case deadlines: 工作日 / 工作时 on China's statutory calendar.

Plain functions, no database. Dates are checked against the installed ``chinesecalendar``
package as well as spelled out, so a package upgrade that changed a past arrangement shows up.
"""

import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from civicgrid.core.calendar import WorkingCalendar, default_calendar

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()


def at(y, m, d, hh=0, mm=0, ss=0, us=0):
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=SH)


def _reference_hours(cal, start, end):
    """Working hours in [start, end) by walking day by day and period by period (start <= end)."""
    a = start.astimezone(cal.tz).replace(tzinfo=None)
    b = end.astimezone(cal.tz).replace(tzinfo=None)
    total = timedelta()
    day = a.date()
    while day <= b.date():
        if cal.is_working_day(day):
            for ps, pe in cal.periods:
                lo = max(a, datetime.combine(day, ps))
                hi = min(b, datetime.combine(day, pe))
                if hi > lo:
                    total += hi - lo
        day += timedelta(days=1)
    return total / timedelta(hours=1)


# --------------------------------------------------------------------------- statutory days


def test_it_follows_national_day_2025_and_its_adjusted_working_days():
    off = [date(2025, 10, d) for d in range(1, 9)]
    on = [date(2025, 9, 28), date(2025, 9, 30), date(2025, 10, 9), date(2025, 10, 11)]
    for day in off:
        assert not CAL.is_working_day(day), day
        assert chinese_calendar.is_holiday(day), day
    for day in on:
        assert CAL.is_working_day(day), day
        assert chinese_calendar.is_workday(day), day
    assert date(2025, 9, 28).weekday() == 6 and date(2025, 10, 11).weekday() == 5  # 调休
    assert not CAL.is_working_day(date(2025, 9, 27))  # the Saturday before stays off
    assert not CAL.is_working_day(date(2025, 10, 12))
    assert CAL.covers(date(2025, 10, 1))

    # Received Friday 26 Sep, 1 working day: due on the adjusted working Sunday.
    assert CAL.add_working_days(at(2025, 9, 26, 16), 1) == at(2025, 9, 28, 17, 30)
    # Received on the last day before the holiday: due on the first day after it.
    assert CAL.add_working_days(at(2025, 9, 30, 10), 1) == at(2025, 10, 9, 17, 30)
    assert CAL.add_working_days(at(2025, 9, 30, 10), 3) == at(2025, 10, 11, 17, 30)
    # 1.5 h left on 30 Sep, the other 1.5 h on 9 Oct.
    assert CAL.add_working_hours(at(2025, 9, 30, 16), 3) == at(2025, 10, 9, 10)
    assert CAL.working_hours_between(at(2025, 9, 30, 8, 30), at(2025, 10, 9, 8, 30)) == 7.5


def test_it_follows_spring_festival_2026_as_the_installed_package_has_it():
    # chinesecalendar 1.11: 15–23 Feb off (nine days), Saturdays 14 and 28 Feb worked.
    for i in range(15, 24):
        assert not CAL.is_working_day(date(2026, 2, i))
        assert chinese_calendar.is_holiday(date(2026, 2, i))
    for day in (date(2026, 2, 13), date(2026, 2, 14), date(2026, 2, 24), date(2026, 2, 28)):
        assert CAL.is_working_day(day) and chinese_calendar.is_workday(day)
    assert date(2026, 2, 14).weekday() == 5 and date(2026, 2, 28).weekday() == 5
    assert CAL.covers(date(2026, 2, 17))

    assert CAL.add_working_days(at(2026, 2, 13, 10), 1) == at(2026, 2, 14, 17, 30)
    assert CAL.add_working_days(at(2026, 2, 14, 10), 1) == at(2026, 2, 24, 17, 30)
    # Received during the holiday: received on 24 Feb, which does not count.
    assert CAL.add_working_days(at(2026, 2, 18, 10), 1) == at(2026, 2, 25, 17, 30)
    assert CAL.working_hours_between(at(2026, 2, 14, 8, 30), at(2026, 2, 24, 17, 30)) == 15
    assert CAL.add_working_hours(at(2026, 2, 14, 17), 1) == at(2026, 2, 24, 9)


def test_it_skips_an_ordinary_weekend():
    friday = date(2025, 11, 14)
    assert friday.weekday() == 4
    assert not CAL.is_working_day(date(2025, 11, 15))
    assert not CAL.is_working_day(date(2025, 11, 16))
    assert CAL.add_working_hours(at(2025, 11, 14, 16), 3) == at(2025, 11, 17, 10)
    assert CAL.working_hours_between(at(2025, 11, 14, 17), at(2025, 11, 17, 9)) == 1
    assert CAL.working_hours_between(at(2025, 11, 15, 9), at(2025, 11, 16, 17)) == 0
    assert CAL.next_working_moment(at(2025, 11, 15, 10)) == at(2025, 11, 17, 8, 30)


# --------------------------------------------------------------------------- hours


def test_it_starts_a_clock_started_outside_working_hours_at_the_next_working_moment():
    monday = (2025, 11, 17)
    nwm = CAL.next_working_moment
    assert nwm(at(*monday, 7)) == at(*monday, 8, 30)
    assert nwm(at(*monday, 8, 30)) == at(*monday, 8, 30)  # periods are half-open
    assert nwm(at(*monday, 11, 59, 59)) == at(*monday, 11, 59, 59)
    assert nwm(at(*monday, 12)) == at(*monday, 13, 30)
    assert nwm(at(*monday, 17, 30)) == at(2025, 11, 18, 8, 30)
    assert nwm(at(*monday, 23, 59)) == at(2025, 11, 18, 8, 30)

    assert CAL.add_working_hours(at(*monday, 7), 1) == at(*monday, 9, 30)
    assert CAL.add_working_hours(at(*monday, 12, 10), 1) == at(*monday, 14, 30)
    assert CAL.add_working_hours(at(*monday, 18), 1) == at(2025, 11, 18, 9, 30)
    assert CAL.add_working_hours(at(*monday, 18), 0) == at(2025, 11, 18, 8, 30)
    assert CAL.working_hours_between(at(*monday, 7), at(*monday, 9, 30)) == 1
    assert CAL.working_hours_between(at(*monday, 12, 10), at(*monday, 13, 0)) == 0


def test_it_adds_fractional_hours_across_lunch():
    monday = (2025, 11, 17)
    # 45 min before lunch, 30 min after.
    assert CAL.add_working_hours(at(*monday, 11, 15), 1.25) == at(*monday, 14)
    assert CAL.add_working_hours(at(*monday, 11, 54), 0.1) == at(*monday, 12)
    assert CAL.add_working_hours(at(*monday, 11, 57), 0.1) == at(*monday, 13, 33)
    # A clock that runs out at a period's end returns that end.
    assert CAL.add_working_hours(at(*monday, 8, 30), 3.5) == at(*monday, 12)
    assert CAL.add_working_hours(at(*monday, 8, 30), 7.5) == at(*monday, 17, 30)
    assert CAL.add_working_hours(at(*monday, 8, 30), 15) == at(2025, 11, 18, 17, 30)
    assert CAL.add_working_hours(at(*monday, 8, 30), 1 / 3) == at(*monday, 8, 50)
    assert CAL.working_hours_between(at(*monday, 11, 15), at(*monday, 14)) == 1.25
    assert CAL.hours_per_day == 7.5


def test_it_counts_between_negatively_backwards():
    a, b = at(2025, 11, 14, 16), at(2025, 11, 17, 10)
    assert CAL.working_hours_between(a, b) == 3
    assert CAL.working_hours_between(b, a) == -3
    assert CAL.working_hours_between(a, a) == 0


def test_it_works_in_its_own_zone_whatever_zone_it_is_given():
    start = datetime(2025, 11, 17, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    due = CAL.add_working_hours(start, 1)
    assert due == at(2025, 11, 17, 11) and due.tzinfo == SH
    assert CAL.add_working_days(start, 1).tzinfo == SH
    assert CAL.next_working_moment(start).tzinfo == SH
    # Sunday 20:00 UTC is Monday 04:00 in Shanghai.
    assert CAL.is_working_day(datetime(2025, 11, 16, 20, tzinfo=UTC))
    assert CAL.working_hours_between(start, datetime(2025, 11, 17, 3, tzinfo=UTC)) == 1


# --------------------------------------------------------------------------- days


def test_it_counts_working_days_from_the_day_after_receipt():
    assert CAL.add_working_days(at(2025, 11, 17, 10), 1) == at(2025, 11, 18, 17, 30)  # Mon
    assert CAL.add_working_days(at(2025, 11, 14, 16), 1) == at(2025, 11, 17, 17, 30)  # Fri
    # Friday before the Dragon Boat holiday (Mon 2 June 2025 off): due Tuesday.
    assert not CAL.is_working_day(date(2025, 6, 2))
    assert CAL.add_working_days(at(2025, 5, 30, 16), 1) == at(2025, 6, 3, 17, 30)
    # Received on a Saturday: received Monday 08:30, Monday not counted, due Tuesday.
    assert CAL.add_working_days(at(2025, 11, 15, 11), 1) == at(2025, 11, 18, 17, 30)
    # Received after hours: received the next working day.
    assert CAL.add_working_days(at(2025, 11, 17, 18), 1) == at(2025, 11, 19, 17, 30)
    assert CAL.add_working_days(at(2025, 11, 17, 7), 1) == at(2025, 11, 18, 17, 30)
    assert CAL.add_working_days(at(2025, 11, 17, 12, 30), 1) == at(2025, 11, 18, 17, 30)
    # 0 days: close of business on the day of receipt (即办件).
    assert CAL.add_working_days(at(2025, 11, 17, 10), 0) == at(2025, 11, 17, 17, 30)
    assert CAL.add_working_days(at(2025, 11, 15, 10), 0) == at(2025, 11, 17, 17, 30)
    # 5 working days from a Wednesday skip the weekend; 15 cross a month end.
    assert CAL.add_working_days(at(2025, 11, 19, 9), 5) == at(2025, 11, 26, 17, 30)
    assert CAL.add_working_days(at(2025, 11, 19, 9), 15) == at(2025, 12, 10, 17, 30)
    # Across a year end into the next covered year (1–3 Jan 2026 off, 4 Jan worked).
    assert CAL.add_working_days(at(2025, 12, 31, 9), 1) == at(2026, 1, 4, 17, 30)
    with pytest.raises(ValueError):
        CAL.add_working_days(at(2025, 11, 17, 10), -1)
    with pytest.raises(TypeError):
        CAL.add_working_days(at(2025, 11, 17, 10), 1.5)


def test_it_agrees_with_the_package_over_two_years():
    day = date(2025, 1, 1)
    while day.year < 2027:
        assert CAL.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)
    assert len(chinese_calendar.get_workdays(date(2025, 1, 1), date(2026, 12, 31))) == (
        CAL.working_hours_between(at(2025, 1, 1), at(2027, 1, 1)) / 7.5
    )


# --------------------------------------------------------------------------- edges


def test_it_refuses_naive_datetimes():
    naive = datetime(2025, 11, 17, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_working_hours(naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_working_days(naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.next_working_moment(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.working_hours_between(naive, at(2025, 11, 17, 11))
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.working_hours_between(at(2025, 11, 17, 11), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.is_working_day(naive)
    with pytest.raises(ValueError):
        CAL.add_working_hours(at(2025, 11, 17, 10), -1)
    with pytest.raises(ValueError):
        CAL.add_working_hours(at(2025, 11, 17, 10), float("nan"))


def test_it_falls_back_to_monday_to_friday_outside_the_package_coverage():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2040, 10, 1))
    assert not CAL.covers(date(2040, 10, 1))
    assert not CAL.covers(at(2040, 10, 1, 9))
    assert CAL.covers(date(2025, 10, 1))
    # 1 Oct 2040 is a Monday: a working day by the fallback, whatever the State Council says.
    assert CAL.is_working_day(date(2040, 10, 1))
    assert not CAL.is_working_day(date(2040, 9, 30))  # Sunday
    assert CAL.add_working_days(at(2040, 9, 28, 10), 1) == at(2040, 10, 1, 17, 30)  # Fri
    assert CAL.add_working_hours(at(2040, 9, 28, 17), 1) == at(2040, 10, 1, 9)
    # Spanning the edge of the coverage: 31 Dec 2026 (Thu) → 1 Jan 2027 (Fri, fallback).
    assert CAL.covers(date(2026, 12, 31)) and not CAL.covers(date(2027, 1, 1))
    assert CAL.add_working_days(at(2026, 12, 31, 10), 1) == at(2027, 1, 1, 17, 30)
    # And before it (the package starts in 2004).
    assert not CAL.covers(date(2003, 6, 2)) and CAL.is_working_day(date(2003, 6, 2))


def test_it_applies_local_extra_holidays_and_workdays():
    county = WorkingCalendar(
        extra_holidays=[date(2025, 11, 18)], extra_workdays=["2025-11-22", date(2040, 10, 1)]
    )
    assert not county.is_working_day(date(2025, 11, 18))
    assert county.is_working_day(date(2025, 11, 22))  # a Saturday
    assert CAL.is_working_day(date(2025, 11, 18))  # the national calendar is untouched
    assert county.add_working_days(at(2025, 11, 17, 10), 1) == at(2025, 11, 19, 17, 30)
    assert county.add_working_days(at(2025, 11, 21, 10), 1) == at(2025, 11, 22, 17, 30)
    assert county.working_hours_between(at(2025, 11, 17, 8, 30), at(2025, 11, 19, 8, 30)) == 7.5
    # A local holiday can also remove a statutory 调休 working day.
    holiday = WorkingCalendar(extra_holidays=[date(2025, 10, 11)])
    assert not holiday.is_working_day(date(2025, 10, 11))
    assert not county.covers(date(2040, 10, 1))  # covers() is about the national data only
    with pytest.raises(ValueError, match="both"):
        WorkingCalendar(extra_holidays=[date(2025, 1, 2)], extra_workdays=["2025-01-02"])


def test_it_takes_other_periods_and_refuses_bad_ones():
    cal = WorkingCalendar(periods=(("09:00", "12:00"), (time(14), time(18))))
    assert cal.hours_per_day == 7
    assert cal.add_working_days(at(2025, 11, 17, 10), 1) == at(2025, 11, 18, 18)
    assert cal.add_working_hours(at(2025, 11, 17, 11), 2) == at(2025, 11, 17, 15)
    with pytest.raises(ValueError):
        WorkingCalendar(periods=((time(12), time(9)),))
    with pytest.raises(ValueError):
        WorkingCalendar(periods=((time(9), time(12)), (time(11), time(14))))
    with pytest.raises(ValueError):
        WorkingCalendar(periods=())


def test_it_keeps_one_default_calendar_and_reads_settings_lazily(settings):
    default_calendar.cache_clear()
    try:
        settings.CIVICGRID_CALENDAR = {"extra_holidays": ["2025-11-18"]}
        cal = default_calendar()
        assert default_calendar() is cal
        assert not cal.is_working_day(date(2025, 11, 18))
        assert str(cal.tz) == "Asia/Shanghai"
    finally:
        default_calendar.cache_clear()


def test_it_is_fast_enough_for_a_tick_over_many_cases():
    cal = WorkingCalendar()
    cases = [at(2025, 1, 1) + timedelta(minutes=37 * i) for i in range(20_000)]
    now = at(2026, 3, 1, 10)
    began = clock.perf_counter()
    for received in cases:
        cal.working_hours_between(received, now)
        cal.add_working_days(received, 15)
        cal.add_working_hours(received, 40)
    assert clock.perf_counter() - began < 10  # ~0.5 s here: per-day loops would take minutes


# --------------------------------------------------------------------------- properties

try:
    import hypothesis
    from hypothesis import strategies as st
except ImportError:  # the "test" extra installs it; without it only the examples above run
    hypothesis = None

if hypothesis is not None:
    _instants = st.datetimes(
        min_value=datetime(2024, 12, 1), max_value=datetime(2027, 2, 1), timezones=st.just(UTC)
    )

    @hypothesis.settings(max_examples=300, deadline=None)
    @hypothesis.given(start=_instants, hours=st.floats(min_value=0, max_value=400))
    def test_it_round_trips_hours(start, hours):
        due = CAL.add_working_hours(start, hours)
        assert due >= start
        assert CAL.working_hours_between(start, due) == pytest.approx(hours, abs=1e-6)
        if hours > 0:
            assert CAL.next_working_moment(start) <= due
            # The earliest such instant: one microsecond less is not enough.
            assert CAL.working_hours_between(start, due - timedelta(microseconds=1)) < hours

    @hypothesis.settings(max_examples=200, deadline=None)
    @hypothesis.given(
        start=_instants,
        span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)),
        extra=st.sets(st.dates(date(2024, 12, 1), date(2027, 4, 1)), max_size=10),
    )
    def test_it_counts_hours_like_a_day_by_day_walk(start, span, extra):
        cal = WorkingCalendar(extra_holidays=extra)
        end = start + span
        expected = _reference_hours(cal, start, end)
        assert cal.working_hours_between(start, end) == pytest.approx(expected, abs=1e-9)
        assert cal.working_hours_between(end, start) == pytest.approx(-expected, abs=1e-9)

    @hypothesis.settings(max_examples=200, deadline=None)
    @hypothesis.given(start=_instants, days=st.integers(min_value=0, max_value=60))
    def test_it_ends_a_day_deadline_at_close_of_business_of_a_working_day(start, days):
        due = CAL.add_working_days(start, days)
        local = due.astimezone(SH)
        assert local.time() == time(17, 30) and CAL.is_working_day(local.date())
        received = CAL.next_working_moment(start).date()
        counted = sum(
            CAL.is_working_day(received + timedelta(days=i))
            for i in range(1, (local.date() - received).days + 1)
        )
        assert counted == days
