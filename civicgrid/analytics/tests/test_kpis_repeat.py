"""重复投诉率: the same phone (or account), the same category, within 30 days; public only.

One phone number reports on 1 March, 20 March (19 days later: a repeat) and 25 April (36
days after the 20th: not); another number reports once; a grid worker reports twice (work,
not complaints). Every case is accepted as 0101 except the other number's, which is 0102.
"""

from datetime import datetime

from civicgrid.analytics import kpis
from civicgrid.cases import actions as A
from civicgrid.cases.models import Category
from civicgrid.cases.tests.conftest import SHANGHAI, world  # noqa: F401 (fixture)

P, Q = "13900002222", "13900003333"


def test_repeats(world, monkeypatch):  # noqa: F811
    from django.utils import timezone

    def report(day, month, phone="", *, category=None, actor=None):
        moment = datetime(2026, month, day, 10, tzinfo=SHANGHAI)
        monkeypatch.setattr(timezone, "now", lambda: moment)
        lat, lng = world.point()
        if actor is not None:
            return A.do_report_case(
                actor=actor,
                channel="grid_worker",
                description="x",
                category=world.category,
                lat=lat,
                lng=lng,
            )
        case = A.do_report_case(
            actor=None, channel="resident", description="x", lat=lat, lng=lng, reporter_phone=phone
        )
        return A.do_accept_case(case, actor=world.p.lizhou, category=category or world.category)

    report(1, 3, P)
    report(20, 3, P)
    report(25, 4, P)
    report(21, 3, Q, category=Category.objects.get(code="0102"))
    report(2, 3, actor=world.p.grid1)
    report(3, 3, actor=world.p.grid1)

    def rate(since, until):
        value = kpis.compute(
            datetime(2026, *since, tzinfo=SHANGHAI),
            datetime(2026, *until, tzinfo=SHANGHAI),
            codes=["repeat_rate"],
        )["repeat_rate"]
        return value.numerator, value.denominator

    assert rate((3, 1), (5, 1)) == (1, 4)  # the 20 March report; grid reports left out
    assert rate((4, 1), (5, 1)) == (0, 1)  # 25 April: 36 days after the last one
    assert rate((3, 15), (3, 31)) == (1, 2)  # the earlier report may be outside the period
