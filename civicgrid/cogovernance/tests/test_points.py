"""Points come from the real case actions through the listener; caps, reversal, the ledger."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from civicgrid.cogovernance.actions import do_invalidate_report, do_suspend_member
from civicgrid.cogovernance.models import (
    Event,
    InvalidatedReport,
    LedgerIsAppendOnly,
    PointEntry,
    PointRule,
)
from civicgrid.core.models import AuditEvent


def balance(member):
    return sum(PointEntry.objects.filter(member=member).values_list("points", flat=True))


def test_a_report_earns_nothing_until_accepted_then_accept_and_close_points(cg, at):
    at(2026, 3, 2, 9)
    member = cg.member()
    case = cg.report(member)
    assert balance(member) == 0
    case = cg.accept(case)
    entry = PointEntry.objects.get(member=member)
    assert (entry.points, entry.event, entry.case, entry.rule.event) == (
        5,
        "accepted",
        case,
        "accepted",
    )
    assert entry.action.action == "accept" and entry.action.case_id == case.pk
    case = cg.close(case)
    assert case.state == "closed"
    closed = PointEntry.objects.get(member=member, event=Event.CLOSED)
    assert closed.points == 3 and closed.action.action == "verify_pass"
    assert balance(member) == 8


def test_a_rejected_report_earns_nothing(cg):
    member = cg.member()
    cg.reject(cg.report(member))
    assert not PointEntry.objects.filter(member=member).exists()


def test_a_closed_case_reopened_and_closed_again_earns_once(cg):
    from civicgrid.cases import actions as A

    member = cg.member()
    case = cg.close(cg.accept(cg.report(member)))
    case = A.do_evaluate_case(case, actor=cg.lizhou, satisfaction="unsatisfied")
    assert case.state == "accepted"
    cg.close(case)
    assert PointEntry.objects.filter(member=member, event=Event.CLOSED).count() == 1
    assert balance(member) == 8


def test_a_confirmed_duplicate_earns_the_duplicate_points(cg):
    first, second = cg.member(), cg.member()
    original = cg.accept(cg.report(first))
    duplicate = cg.report(second, text="又看到那辆僵尸车")
    cg.merge(duplicate, original)
    entry = PointEntry.objects.get(member=second)
    assert (entry.event, entry.points, entry.case_id) == ("duplicate", 1, duplicate.pk)
    assert entry.action.to_state == "merged"
    # the surviving case is closed: only its own reporter earns the hazard-removed points
    cg.close(original)
    assert balance(first) == 5 + 3 and balance(second) == 1


def test_ones_own_duplicate_earns_nothing(cg):
    member = cg.member()
    original = cg.accept(cg.report(member))
    cg.merge(cg.report(member, text="再报一次"), original)
    assert list(PointEntry.objects.filter(member=member).values_list("event", flat=True)) == [
        "accepted"
    ]


def test_rejecting_the_case_takes_back_its_duplicates_points(cg):
    first, second = cg.member(), cg.member()
    original = cg.report(first)
    duplicate = cg.report(second)
    cg.merge(duplicate, original)
    assert balance(second) == 1
    cg.reject(original)
    assert balance(first) == 0 and balance(second) == 0
    reversal = PointEntry.objects.get(member=second, points=-1)
    assert reversal.reverses.member == second and "rejected" in reversal.reason


def test_the_daily_cap_cuts_the_award_and_the_next_day_starts_afresh(cg, at):
    PointRule.objects.filter(event="accepted").update(points=5, daily_cap=12, monthly_cap=None)
    member = cg.member()
    at(2026, 3, 2, 9)
    cases = [cg.report(member, text=f"问题{i}") for i in range(4)]
    for case in cases:
        cg.accept(case)
    points = list(
        PointEntry.objects.filter(member=member).order_by("id").values_list("points", flat=True)
    )
    assert points == [5, 5, 2]  # 12 a day: the third is cut, the fourth earns nothing
    at(2026, 3, 3, 9)
    cg.accept(cg.report(member, text="第二天"))
    assert balance(member) == 17


def test_the_monthly_cap_counts_the_calendar_month(cg, at):
    PointRule.objects.filter(event="accepted").update(points=5, daily_cap=None, monthly_cap=10)
    member = cg.member()
    for day in (3, 10, 20):
        at(2026, 3, day, 10)
        cg.accept(cg.report(member, text=f"三月{day}日"))
    assert balance(member) == 10
    at(2026, 4, 1, 10)
    cg.accept(cg.report(member, text="四月"))
    assert balance(member) == 15


def test_reversals_do_not_give_cap_room_back(cg, at):
    PointRule.objects.filter(event="accepted").update(points=5, daily_cap=5, monthly_cap=None)
    member = cg.member()
    at(2026, 3, 2, 9)
    first = cg.accept(cg.report(member))
    do_invalidate_report(first, actor=cg.lizhou, reason="虚假上报")
    cg.accept(cg.report(member, text="另一处"))
    assert balance(member) == 0


def test_an_inactive_or_zero_rule_awards_nothing(cg):
    PointRule.objects.filter(event="accepted").update(active=False)
    member = cg.member()
    cg.accept(cg.report(member))
    assert balance(member) == 0


def test_a_suspended_member_earns_nothing(cg):
    member = cg.member()
    case = cg.report(member)
    do_suspend_member(member, actor=cg.lizhou, reason="恶意刷分")
    cg.accept(case)
    assert balance(member) == 0


def test_invalidating_a_report_reverses_every_entry_it_caused(cg):
    first, second = cg.member(), cg.member()
    case = cg.accept(cg.report(first))
    cg.merge(cg.report(second), case)
    case = cg.close(case)
    assert balance(first) == 8 and balance(second) == 1
    with pytest.raises(PermissionDenied):
        do_invalidate_report(case, actor=cg.world.p.grid1, reason="x")
    with pytest.raises(ValidationError):
        do_invalidate_report(case, actor=cg.lizhou, reason=" ")
    reversals = do_invalidate_report(case, actor=cg.lizhou, reason="现场核实为虚假")
    assert sorted(r.points for r in reversals) == [-5, -3, -1]
    assert all(r.reverses.points == -r.points and r.actor == cg.lizhou for r in reversals)
    assert balance(first) == 0 and balance(second) == 0
    # the original entries are still there, unchanged
    assert PointEntry.objects.filter(reverses__isnull=True, member__in=[first, second]).count() == 3
    assert InvalidatedReport.objects.get(case=case).reason == "现场核实为虚假"
    assert AuditEvent.objects.filter(action="cogovernance.report.invalidate").exists()
    with pytest.raises(ValidationError):
        do_invalidate_report(case, actor=cg.lizhou, reason="again")


def test_an_invalidated_report_earns_nothing_later(cg):
    member = cg.member()
    case = cg.report(member)
    do_invalidate_report(case, actor=cg.lizhou, reason="照片与现场不符")
    cg.close(cg.accept(case))
    assert balance(member) == 0


def test_the_ledger_is_append_only(cg):
    member = cg.member()
    cg.accept(cg.report(member))
    entry = PointEntry.objects.get(member=member)
    entry.points = 500
    with pytest.raises(LedgerIsAppendOnly):
        entry.save()
    with pytest.raises(LedgerIsAppendOnly):
        entry.delete()
    with pytest.raises(LedgerIsAppendOnly):
        PointEntry.objects.filter(pk=entry.pk).update(points=500)
    with pytest.raises(LedgerIsAppendOnly):
        PointEntry.objects.filter(pk=entry.pk).delete()
    # and the database itself refuses an update
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE cogovernance_pointentry SET points = 500 WHERE id = %s", [entry.pk]
            )
    assert PointEntry.objects.get(pk=entry.pk).points == 5


def test_one_award_per_case_and_event_is_a_database_rule(cg):
    member = cg.member()
    cg.accept(cg.report(member))
    entry = PointEntry.objects.get(member=member)
    with pytest.raises(IntegrityError), transaction.atomic():
        PointEntry.objects.create(
            member=member,
            points=5,
            event=entry.event,
            case=entry.case,
            region_code=entry.region_code,
            effective=entry.effective,
            created=entry.created,
        )
