"""Grouping by department: each case once, under its active lead (one join, not a look-up per
case). Assisting units and a lead that returned the case carry nothing.

c1 is dispatched to 派出所 with 综合执法 assisting; c2 to 派出所, returned and re-dispatched to
综合执法; c3 is accepted and never dispatched (no department's). Every case is accepted and
closed through the actions, so the hours source is grouped too.
"""

from datetime import datetime

from civicgrid.analytics import kpis
from civicgrid.cases import actions as A
from civicgrid.cases.tests.conftest import SHANGHAI, world  # noqa: F401 (fixture)

SINCE, UNTIL = datetime(2026, 3, 1, tzinfo=SHANGHAI), datetime(2026, 4, 1, tzinfo=SHANGHAI)


def test_each_case_once_under_its_active_lead(world, monkeypatch):  # noqa: F811
    from django.utils import timezone

    def clock(day, hour):
        moment = datetime(2026, 3, day, hour, tzinfo=SHANGHAI)
        monkeypatch.setattr(timezone, "now", lambda: moment)

    lizhou, police, law = world.p.lizhou, world.town_police_user(), world.town_law_user()
    clock(2, 9)
    cases = []
    for _ in range(3):
        lat, lng = world.point()
        case = A.do_report_case(actor=None, channel="resident", description="x", lat=lat, lng=lng)
        cases.append(A.do_accept_case(case, actor=lizhou, category=world.category))
    c1, c2, c3 = cases
    A.do_dispatch_case(c1, actor=lizhou, lead=world.town_police, assisting=[world.town_law])
    A.do_dispatch_case(c2, actor=lizhou, lead=world.town_police)
    A.do_request_return(c2, actor=police, reason="not_our_duty")
    A.do_decide_return(c2, actor=lizhou, approve=True)
    A.do_dispatch_case(c2, actor=lizhou, lead=world.town_law)
    clock(2, 10)
    A.do_sign_case(c1, actor=police)
    A.do_sign_case(c2, actor=law)
    clock(3, 11)
    A.do_feedback_case(c1, actor=police, text="已处理")
    A.do_feedback_case(c2, actor=law, text="已处理")

    rows = {r["key"]: r for r in kpis.compute_by("department", SINCE, UNTIL)}
    assert set(rows) == {world.town_police.code, world.town_law.code}
    for department in (world.town_police, world.town_law):
        row = rows[department.code]
        assert row["accept_rate"].denominator == 1  # one case each: no row doubled by the join
        alone = kpis.compute(SINCE, UNTIL, department=department)
        for code in ("accept_rate", "closed_rate", "mean_handling_hours", "return_rate"):
            assert row[code] == alone[code], code
    # the dispatch KPIs count every lead dispatch to the department, active or not
    assert rows[world.town_police.code]["return_rate"].denominator == 2
    assert rows[world.town_law.code]["return_rate"].denominator == 1
    # the county's figures are the sum of the departments' plus the undispatched case
    county = kpis.compute(SINCE, UNTIL)
    assert county["accept_rate"].denominator == 3
