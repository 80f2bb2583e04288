"""重复投诉率 without a phone: a repeat by the same account; reports with neither a phone nor an
account are never repeats (the look-up by phone is not made for them, so the many reports
without a phone cannot be taken for one person).

A resident's account reports on 2 and 11 March (9 days: a repeat) without a phone; three
anonymous reports without a phone on 3, 4 and 5 March are not repeats. Every case is
accepted in the same category.
"""

from datetime import datetime

from civicgrid.analytics import kpis
from civicgrid.cases import actions as A
from civicgrid.cases.models import CaseReporter
from civicgrid.cases.tests.conftest import SHANGHAI, world  # noqa: F401 (fixture)


def test_repeats_by_account_and_none_without_phone_or_account(world, monkeypatch):  # noqa: F811
    from django.utils import timezone

    def report(day, account=None):
        moment = datetime(2026, 3, day, 10, tzinfo=SHANGHAI)
        monkeypatch.setattr(timezone, "now", lambda: moment)
        lat, lng = world.point()
        case = A.do_report_case(actor=None, channel="resident", description="x", lat=lat, lng=lng)
        if account is not None:  # as if reported from the resident's own account
            CaseReporter.objects.filter(case=case).update(user=account)
        return A.do_accept_case(case, actor=world.p.lizhou, category=world.category)

    resident = world.p.outsider
    report(2, resident)
    for day in (3, 4, 5):
        report(day)
    report(11, resident)

    value = kpis.compute(
        datetime(2026, 3, 1, tzinfo=SHANGHAI),
        datetime(2026, 4, 1, tzinfo=SHANGHAI),
        codes=["repeat_rate"],
    )["repeat_rate"]
    assert (value.numerator, value.denominator) == (1, 5)
    by_town = kpis.compute_by(
        "town",
        datetime(2026, 3, 1, tzinfo=SHANGHAI),
        datetime(2026, 4, 1, tzinfo=SHANGHAI),
        codes=["repeat_rate"],
    )
    assert [(r["repeat_rate"].numerator, r["repeat_rate"].denominator) for r in by_town] == [(1, 5)]
