"""Statistics against a hand-computed fixture.

Fixture (all in the studio's township, registered today):
  A  family, studio (王调解)  → agreement after 2 days, fully performed
  B  family, studio (王调解)  → failed after 4 days, then referred to court
  C  family, committee        → agreement after 6 days
  D  labour, committee        → still in mediation
  E  labour                   → withdrawn at registration after 0 days
By category: 01 intake 3, concluded 3, successful 2, rate 66.7 %, mean (2+4+6)/3 = 4.0 days,
performed 1 (confirmed and referred: see the last test);
10 intake 2, concluded 1, successful 0, rate 0.0, mean 0.0.
Township: intake 5, concluded 4, successful 2, rate 50.0, mean (2+4+6+0)/4 = 3.0.
"""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from civicgrid.mediation.actions import (
    do_apply_confirmation,
    do_conclude_dispute,
    do_record_confirmation_result,
    do_record_performance,
    do_record_session,
    do_refer_dispute,
    do_route_dispute,
)
from civicgrid.mediation.selectors import referrals_by_channel, statistics
from civicgrid.mediation.tests.conftest import SHANGHAI

pytestmark = pytest.mark.django_db


@pytest.fixture
def fixture(med, at):
    start = at(2026, 3, 2, 9)

    def mediate(dispute, org, user, days, outcome):
        do_route_dispute(
            dispute,
            actor=med.centre_user,
            route="studio" if org == med.studio else "committee",
            org=org,
        )
        do_record_session(dispute, actor=user, held_at=timezone.now(), place="调解室")
        if outcome:
            at(*(start + timedelta(days=days)).timetuple()[:4])
            do_conclude_dispute(dispute, actor=user, outcome=outcome, terms="赔偿一万元")
            at(2026, 3, 2, 9)
        dispute.refresh_from_db()
        return dispute

    a = mediate(med.register(title="A"), med.studio, med.mediator_user, 2, "agreement")
    mediate(med.register(title="B"), med.studio, med.mediator_user, 4, "failed")
    mediate(med.register(title="C"), med.committee, med.village_mediator_user, 6, "agreement")
    mediate(med.register(title="D", category="10"), med.committee, med.village_mediator_user, 0, "")
    e = med.register(title="E", category="10")
    do_conclude_dispute(e, actor=med.centre_user, outcome="withdrawn")
    at(2026, 3, 9, 10)
    do_record_performance(a, actor=med.mediator_user, kind="done")
    return start


def _period():
    return datetime(2026, 3, 1, tzinfo=SHANGHAI), datetime(2026, 4, 1, tzinfo=SHANGHAI)


def test_by_category(med, fixture):
    rows = {r["key"]: r for r in statistics(med.centre_user, *_period(), group="category")}
    assert rows["01"] == {
        "key": "01",
        "label": "Marriage and family",
        "intake": 3,
        "concluded": 3,
        "successful": 2,
        "success_rate": 66.7,
        "mean_days": 4.0,
        "performed": 1,
        "confirmed": 0,
        "referred": 0,
        "on_time_rate": 100.0,
        "satisfaction_rate": None,
    }
    assert rows["10"]["intake"] == 2 and rows["10"]["concluded"] == 1
    assert rows["10"]["success_rate"] == 0.0 and rows["10"]["mean_days"] == 0.0


def test_by_town_org_and_mediator(med, fixture):
    (town,) = statistics(med.centre_user, *_period(), group="town")
    assert (town["intake"], town["concluded"], town["successful"]) == (5, 4, 2)
    assert town["success_rate"] == 50.0 and town["mean_days"] == 3.0
    orgs = {r["label"]: r for r in statistics(med.centre_user, *_period(), group="org")}
    assert orgs["老娘舅婚姻家庭调解工作室"]["success_rate"] == 50.0
    assert orgs["村人民调解委员会"]["intake"] == 2 and orgs["村人民调解委员会"]["concluded"] == 1
    assert orgs["—"]["intake"] == 1  # E was never routed
    mediators = {r["label"]: r for r in statistics(med.centre_user, *_period(), group="mediator")}
    assert mediators["王调解"]["intake"] == 2 and mediators["李村调"]["successful"] == 1


def test_confirmations_and_referrals(med, fixture, at):
    from civicgrid.mediation.models import Dispute

    b = Dispute.objects.get(title="B")
    do_refer_dispute(b, actor=med.centre_user, channel="court", receiving_unit="法院")
    c = Dispute.objects.get(title="C")
    do_apply_confirmation(c, actor=med.village_mediator_user, court="法院")
    do_record_confirmation_result(c, actor=med.village_mediator_user, result="confirmed")
    rows = {r["key"]: r for r in statistics(med.centre_user, *_period(), group="category")}
    assert rows["01"]["confirmed"] == 1 and rows["01"]["referred"] == 1
    assert referrals_by_channel(med.centre_user, *_period()) == [
        {
            "channel": "court",
            "label": "Court (litigation–mediation link)",
            "handoffs": 1,
            "resolved": 0,
            "pending": 1,
        }
    ]


def test_statistics_are_scoped(med, fixture):
    assert statistics(med.p.fengshan, *_period(), group="town") == []
    mine = statistics(med.mediator_user, *_period(), group="town")
    assert mine[0]["intake"] == 2  # only the two disputes assigned to 王调解


def test_departments_and_satisfaction(med, fixture, at):
    """A dispute routed to the township's law-enforcement office, concluded after the month
    (late) and followed up satisfied; another disputes' follow-up unsatisfied."""
    from civicgrid.mediation.actions import do_follow_up
    from civicgrid.mediation.models import Dispute

    at(2026, 3, 3, 9)
    late = med.register(title="F", category="09")
    do_route_dispute(late, actor=med.centre_user, route="department", department=med.town_law)
    law = med.town_law_user()
    do_record_session(late, actor=law, held_at=timezone.now(), place="执法中队")
    at(2026, 4, 20, 10)  # the month ran out on 3 April
    do_conclude_dispute(late, actor=law, outcome="agreement", terms="停止排污")
    do_record_performance(late, actor=law, kind="done")
    do_follow_up(late, actor=med.centre_user, satisfaction="satisfied")
    do_follow_up(Dispute.objects.get(title="B"), actor=med.centre_user, satisfaction="unsatisfied")
    (department,) = statistics(med.centre_user, *_period(), group="department")
    assert (department["label"], department["intake"], department["concluded"]) == (
        med.town_law.name,
        1,
        1,
    )
    assert department["on_time_rate"] == 0.0 and department["satisfaction_rate"] == 100.0
    (town,) = statistics(med.centre_user, *_period(), group="town")
    assert town["satisfaction_rate"] == 50.0  # F satisfied, B unsatisfied
    assert town["on_time_rate"] == 80.0  # A, B, C, E on time; F late
