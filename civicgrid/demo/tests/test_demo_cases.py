"""The demo case generator on the session's small county (75 grids), over short windows."""

from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from civicgrid.cases import actions as A
from civicgrid.cases import workflow
from civicgrid.cases.models import Case, CaseAction
from civicgrid.core.audit import verify_chain
from civicgrid.demo.cases import (
    CLUSTER_CATEGORY,
    CLUSTER_TOWNS,
    demo_cases_loaded,
    generate_demo_cases,
    simulated_clock,
)

END = date(2026, 11, 2)  # a Monday


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


class _Rollback(Exception):
    pass


def _run_and_count(**options) -> dict:
    """Generate inside a savepoint, read the counts, and roll everything back."""
    counts = {}
    try:
        with transaction.atomic():
            summary = generate_demo_cases(**options)
            cases = Case.objects.all()
            counts["summary"] = (summary.cases, summary.error_count)
            counts["state"] = sorted(cases.values_list("state").annotate(n=Count("id")))
            counts["category"] = sorted(
                cases.values_list("category__code").annotate(n=Count("id")), key=str
            )
            counts["channel"] = sorted(cases.values_list("channel").annotate(n=Count("id")))
            counts["actions"] = sorted(
                CaseAction.objects.values_list("action").annotate(n=Count("id"))
            )
            counts["created"] = sorted(cases.values_list("created", flat=True))
            raise _Rollback
    except _Rollback:
        pass
    return counts


def test_it_makes_a_month_of_cases_through_the_actions_with_the_cluster(db):
    started = timezone.now()
    summary = generate_demo_cases(
        seed=3,
        days=30,
        scale=0.5,
        end=END,
        cluster_end=END - timedelta(days=3),
        cluster_weeks=3,
    )
    # the real clock is back
    assert abs((timezone.now() - started).total_seconds()) < 600
    assert summary.error_count == 0, summary.errors
    cases = Case.objects.all()
    assert summary.cases == cases.count() > 50
    first = timezone.make_aware(datetime(2026, 10, 3))
    last = timezone.make_aware(datetime(2026, 11, 2))
    assert cases.filter(created__lt=first).count() == 0
    assert cases.filter(created__gte=last).count() == 0
    assert CaseAction.objects.filter(created__gte=last).count() == 0

    states = set(cases.values_list("state", flat=True))
    assert workflow.ARCHIVED in states and len(states) >= 3
    assert states & (workflow.OPEN_STATES - {workflow.REPORTED})  # some still open at the end
    channels = set(cases.values_list("channel", flat=True))
    assert {"grid_worker", "resident", "hotline_12345"} <= channels
    assert cases.filter(channel="grid_worker").count() > cases.count() / 2

    # every timeline starts with the report, and the states chain from one step to the next
    rows = {}
    for action in CaseAction.objects.order_by("created", "id"):
        rows.setdefault(action.case_id, []).append(action)
    assert set(rows) == set(cases.values_list("pk", flat=True))
    for timeline in rows.values():
        assert timeline[0].action == "report"
        assert all(a.to_state == b.from_state for a, b in pairwise(timeline))
    # closed cases were handled: feedback (departments, command rooms) or closed on the spot
    handled = {workflow.CLOSED, workflow.ARCHIVED, workflow.REVIEW}
    for case in cases.filter(state__in=handled):
        assert {"feedback", "self_close"} & {a.action for a in rows[case.pk]}, case.code
    self_closed = cases.filter(actions__action="self_close").distinct()
    assert self_closed.exists()
    assert all(
        set(c.attachments.values_list("kind", flat=True)) >= {"before", "after"}
        for c in self_closed
    )
    assert CaseAction.objects.filter(action="dispatch").exists()
    assert CaseAction.objects.filter(action="sign").exists()

    # the 0101 cluster: mostly in the four urban streets, growing week by week
    zombie = cases.filter(category__code=CLUSTER_CATEGORY)
    assert zombie.count() >= 15
    urban = [c for c in zombie.values_list("region_code", flat=True) if c[:9] in CLUSTER_TOWNS]
    assert len(urban) >= 0.9 * zombie.count()
    cluster_start = timezone.make_aware(datetime(2026, 10, 9))
    weeks = [
        zombie.filter(
            created__gte=cluster_start + timedelta(weeks=w),
            created__lt=cluster_start + timedelta(weeks=w + 1),
        ).count()
        for w in range(3)
    ]
    assert weeks[2] >= 8 and weeks[2] > 2 * max(weeks[0], 1), weeks

    # the audit trail took every action and is intact; a second run refuses
    assert demo_cases_loaded()
    assert list(verify_chain()) == []
    with pytest.raises(RuntimeError, match="already"):
        generate_demo_cases(seed=3, days=30, scale=0.5, end=END)


def test_it_gives_the_same_cases_for_the_same_seed(db):
    options = dict(days=10, scale=0.5, end=END, cluster_scale=0)
    first = _run_and_count(seed=11, **options)
    again = _run_and_count(seed=11, **options)
    other = _run_and_count(seed=12, **options)
    assert first["summary"][0] > 5 and first["summary"][1] == 0
    assert first == again
    assert first["created"] != other["created"]


def test_an_action_that_fails_after_writing_leaves_the_audit_chain_intact(db, monkeypatch):
    # The run keeps the chain head in memory (audit_batch); an action whose savepoint is
    # rolled back after it wrote its event must not leave a gap or a broken link.
    real_sign, failed = A.do_sign_case, []

    def sign_then_fail_once(case, **kwargs):
        with transaction.atomic():
            signed = real_sign(case, **kwargs)
            if not failed:
                failed.append(signed.code)
                raise ValidationError("refused after the event was written")
        return signed

    monkeypatch.setattr(A, "do_sign_case", sign_then_fail_once)
    summary = generate_demo_cases(
        seed=3, days=12, scale=0.5, end=END, cluster_scale=0, through_actions=True
    )
    assert failed and summary.error_count == 1
    assert list(verify_chain()) == []
    signed = CaseAction.objects.filter(case__code=failed[0], action="sign")
    assert not signed.exists()


def test_it_restores_the_clock_after_an_error(db):
    real_now = timezone.now
    with pytest.raises(RuntimeError, match="boom"):
        with simulated_clock(timezone.make_aware(datetime(2025, 1, 1, 9))) as clock:
            assert timezone.now().year == 2025
            clock.set(timezone.make_aware(datetime(2025, 6, 1, 9)))
            assert timezone.now().month == 6
            raise RuntimeError("boom")
    assert timezone.now is real_now


def test_the_command_loads_once(db, capsys):
    call_command("load_demo_cases", seed=5, days=4, scale=0.3, end=END)
    out = capsys.readouterr().out
    assert "demo cases from 2026-10-29 to 2026-11-02" in out
    assert Case.objects.exists()
    count = Case.objects.count()
    call_command("load_demo_cases", seed=5, days=4, scale=0.3, end=END)
    assert "nothing to do" in capsys.readouterr().out
    assert Case.objects.count() == count
