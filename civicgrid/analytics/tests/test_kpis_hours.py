"""平均办理时长: the day-pair aggregate equals the working calendar summed case by case.

Cases accepted and closed at awkward moments — at night, at lunch, on a weekend, across the
National Day holiday and its adjusted working Saturday, across a new year, to the second —
are closed through the real actions; the KPI's total must equal the sum of
``WorkingCalendar.working_hours_between(accepted_at, closed_at)``.
"""

from datetime import datetime

import pytest

from civicgrid.analytics import kpis
from civicgrid.cases import actions as A
from civicgrid.cases.tests.conftest import SHANGHAI, world  # noqa: F401 (fixture)
from civicgrid.core.calendar import default_calendar

INTERVALS = [
    # (accepted, closed): local wall-clock tuples
    ((2026, 3, 2, 9, 0, 0), (2026, 3, 2, 16, 45, 30)),  # the same day
    ((2026, 3, 2, 12, 30, 0), (2026, 3, 3, 13, 0, 0)),  # lunch to lunch
    ((2026, 3, 6, 19, 5, 0), (2026, 3, 9, 8, 0, 0)),  # Friday night to Monday before work
    ((2026, 3, 7, 10, 0, 0), (2026, 3, 7, 11, 0, 0)),  # a Saturday: no working time
    ((2026, 9, 29, 16, 0, 17), (2026, 10, 12, 9, 30, 0)),  # across National Day
    ((2025, 12, 30, 8, 0, 0), (2026, 1, 6, 17, 59, 59)),  # across the new year
]


def _close_at(place, clock, accepted, closed):
    clock(*accepted[:4])
    lat, lng = place.point()
    case = A.do_report_case(actor=None, channel="resident", description="x", lat=lat, lng=lng)
    clock(*accepted)
    case = A.do_accept_case(case, actor=place.p.lizhou, category=place.category)
    case = A.do_handle_case(case, actor=place.p.lizhou)
    clock(*closed)
    case = A.do_feedback_case(case, actor=place.p.lizhou, text="已处理")
    return A.do_verify_case(case, actor=place.p.lizhou, passed=True)


def test_the_aggregate_equals_the_calendar(world, monkeypatch):  # noqa: F811
    from django.utils import timezone

    def clock(*parts):
        moment = datetime(*parts, tzinfo=SHANGHAI)
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    cases = [_close_at(world, clock, a, b) for a, b in INTERVALS]
    calendar = default_calendar()
    by_hand = sum(calendar.working_hours_between(c.accepted_at, c.closed_at) for c in cases)
    assert by_hand > 0
    value = kpis.compute(
        datetime(2025, 12, 1, tzinfo=SHANGHAI),
        datetime(2026, 11, 1, tzinfo=SHANGHAI),
        codes=["mean_handling_hours"],
    )["mean_handling_hours"]
    assert value.denominator == len(INTERVALS)
    assert value.numerator == pytest.approx(by_hand, abs=1e-6)
    assert value.value == pytest.approx(by_hand / len(INTERVALS), abs=1e-6)
