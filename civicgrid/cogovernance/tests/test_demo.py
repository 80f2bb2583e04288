"""The demo: members, reports through the case actions, points from the real listener."""

from datetime import date

import pytest
from django.core.management import call_command

from civicgrid.cases.models import Case
from civicgrid.cogovernance.models import Award, Member, PointEntry
from civicgrid.demo.cogovernance import generate_demo_cogovernance


def test_the_demo_makes_members_reports_points_and_an_award(db):
    summary = generate_demo_cogovernance(
        seed=3, scale=0.02, days=120, end=date(2026, 6, 1), progress=None
    )
    assert summary.members == Member.objects.count() >= 21  # one a township at least
    assert summary.reports > 0 and summary.errors == 0
    cases = Case.objects.filter(
        channel="co_governance", reported_by__cogovernance_member__isnull=False
    )
    assert cases.count() == summary.reports
    assert {"closed", "rejected"} <= set(cases.values_list("state", flat=True))
    entries = PointEntry.objects.filter(reverses__isnull=True)
    assert entries.count() > 0
    # every award was written by the listener for a step of a case the member reported
    for entry in entries.select_related("action", "case__reported_by", "member"):
        assert entry.action.case_id == entry.case_id
        assert entry.action.action in {"accept", "merge", "verify_pass"}
        assert entry.case.reported_by_id == entry.member.user_id
    assert (
        not PointEntry.objects.filter(case__state="rejected", reverses__isnull=True)
        .exclude(reversed_by__isnull=False)
        .filter(event="accepted")
        .exists()
    )
    award = Award.objects.get(year=2026)
    assert award.candidates.count() > 0 and award.state == "proposed"
    with pytest.raises(RuntimeError):
        generate_demo_cogovernance(seed=3, scale=0.02, days=120, progress=None)
    call_command("load_demo_cogovernance", "--scale", "0.02")  # says so and does nothing
    assert Member.objects.count() == summary.members
