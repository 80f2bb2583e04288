"""Deadlines on the working calendar, extensions, supervision, the tick and the outbox."""

from datetime import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import transaction

from civicgrid.cases import actions as A
from civicgrid.cases.management.commands.send import drain
from civicgrid.cases.management.commands.tick import tick
from civicgrid.cases.models import Case, Notification, Supervision
from civicgrid.cases.selectors import deadline_status, due_soon_cases, overdue_cases
from civicgrid.cases.tests.conftest import SHANGHAI


def _accepted(world, at, *when):
    at(*when)
    lat, lng = world.point()
    case = A.do_report_case(actor=None, channel="resident", description="僵尸车", lat=lat, lng=lng)
    return A.do_accept_case(case, actor=world.p.lizhou, category=world.category)


def test_it_counts_the_deadline_in_working_days_across_national_day(world, at):
    # 0101 at township level: 15 working days, counted from the day after acceptance.
    case = _accepted(world, at, 2025, 9, 30, 16, 0)
    # Oct 1–8 2025 are holidays; Oct 11 (a Saturday) is a working day.
    # Oct 9, 10, 11, 13–17, 20–24, 27, 28: the 15th working day is Oct 28.
    assert case.resolve_deadline == datetime(2025, 10, 28, 17, 30, tzinfo=SHANGHAI)


def test_it_counts_a_friday_report_past_the_weekend(world, at):
    case = _accepted(world, at, 2026, 3, 6, 16, 0)  # a Friday
    assert case.resolve_deadline == datetime(2026, 3, 27, 17, 30, tzinfo=SHANGHAI)
    assert case.resolve_deadline.weekday() == 4


def test_it_gives_a_sign_for_deadline_in_working_hours(world, at):
    case = _accepted(world, at, 2026, 3, 6, 16, 0)
    A.do_dispatch_case(case, actor=world.p.lizhou, lead=world.town_police)
    assignment = case.assignments.get()
    # 0101: sign for within 1 working day → end of the next working day (Monday).
    assert assignment.sign_deadline == datetime(2026, 3, 9, 17, 30, tzinfo=SHANGHAI)
    at(2026, 3, 10, 9, 0)
    A.do_sign_case(case, actor=world.town_police_user())
    assert case.actions.get(action="sign").data == {"on_time": False}


def test_it_extends_by_approved_working_days_up_to_a_cap(world, at):
    case = _accepted(world, at, 2026, 3, 6, 16, 0)
    police = world.town_police_user()
    A.do_dispatch_case(case, actor=world.p.lizhou, lead=world.town_police)
    A.do_sign_case(case, actor=police)
    before = Case.objects.get(pk=case.pk).resolve_deadline
    request = A.do_request_extension(case, actor=police, days=3, reason="等待车主回国")
    with pytest.raises(ValidationError, match="already waiting"):
        A.do_request_extension(case, actor=police, days=1, reason="x")
    with pytest.raises(PermissionDenied):
        A.do_decide_extension(request, actor=police, approve=True)
    A.do_decide_extension(request, actor=world.p.lizhou, approve=True)
    case.refresh_from_db()
    assert case.resolve_deadline == datetime(2026, 4, 1, 17, 30, tzinfo=SHANGHAI)
    assert case.resolve_deadline > before and case.extension_days == 3
    with pytest.raises(ValidationError, match="20 working days"):
        A.do_request_extension(case, actor=police, days=18, reason="x")
    rejected = A.do_request_extension(case, actor=police, days=2, reason="再等等")
    A.do_decide_extension(rejected, actor=world.p.lizhou, approve=False)
    case.refresh_from_db()
    assert case.extension_days == 3 and case.resolve_deadline.day == 1


def test_it_derives_overdue_and_due_soon_from_the_deadline(world, at):
    case = _accepted(world, at, 2026, 3, 6, 16, 0)
    assert deadline_status(case, datetime(2026, 3, 10, 9, tzinfo=SHANGHAI)) == "on_time"
    assert deadline_status(case, datetime(2026, 3, 27, 15, tzinfo=SHANGHAI)) == "due_soon"
    late = datetime(2026, 3, 30, 9, tzinfo=SHANGHAI)
    assert deadline_status(case, late) == "overdue"
    assert case in overdue_cases(late)
    assert case in due_soon_cases(datetime(2026, 3, 27, 15, tzinfo=SHANGHAI))


def test_it_reminds_and_supervises_overdue_cases_exactly_once(world, at):
    case = _accepted(world, at, 2026, 3, 6, 16, 0)
    at(2026, 3, 27, 15, 0)
    assert tick()["reminded"] >= 1
    assert tick()["reminded"] == 0
    assert Notification.objects.filter(case=case, event="due_soon").count() == 1
    at(2026, 3, 30, 9, 0)
    first = tick()
    assert first["supervised"] >= 1 and tick()["supervised"] == 0
    supervision = Supervision.objects.get(case=case)
    assert supervision.automatic and supervision.level == Case.Supervised.NORMAL
    case.refresh_from_db()
    assert case.supervised == Case.Supervised.NORMAL
    assert case.actions.filter(action="supervise", actor__isnull=True).count() == 1


def test_it_runs_supervision_with_a_feedback_sheet_and_leader_instructions(world, at):
    case = _accepted(world, at, 2026, 3, 6, 16, 0)
    police = world.town_police_user()
    A.do_dispatch_case(case, actor=world.p.lizhou, lead=world.town_police)
    A.do_sign_case(case, actor=police)
    with pytest.raises(PermissionDenied):
        A.do_supervise_case(case, actor=world.p.fengshan, level=2, reason="x")
    supervision = A.do_supervise_case(
        case, actor=world.p.county, level=Case.Supervised.YELLOW, reason="群众反映强烈"
    )
    case.refresh_from_db()
    assert case.supervised == Case.Supervised.YELLOW
    assert supervision.answer_due == datetime(2026, 3, 10, 17, 30, tzinfo=SHANGHAI)
    with pytest.raises(PermissionDenied):
        A.do_answer_supervision(supervision, actor=world.p.lizhou, answer="x")
    A.do_answer_supervision(supervision, actor=police, answer="已约谈车主，三日内拖离")
    with pytest.raises(ValidationError, match="already answered"):
        A.do_answer_supervision(supervision, actor=police, answer="again")
    with pytest.raises(PermissionDenied):
        A.do_instruct_case(case, actor=world.p.lizhou, text="x")
    instruction = A.do_instruct_case(
        case, actor=world.p.leader, text="请公安、执法联合处置", required_actions="三日内反馈"
    )
    assert instruction.signer_name == "leader"
    timeline = list(case.actions.values_list("action", flat=True))
    assert timeline[-3:] == ["supervise", "answer_supervision", "instruct"]


def test_it_marks_a_hard_case_with_a_leader_and_several_departments(world):
    case = _accepted(world, lambda *a: None, 2026, 3, 6)
    A.do_mark_hard_case(
        case,
        actor=world.p.leader,
        leader=world.p.leader,
        departments=[world.town_police, world.town_law],
        text="提级攻坚",
    )
    case.refresh_from_db()
    assert case.hard_case and case.hard_case_leader == world.p.leader
    assert case.assignments.filter(active=True).count() == 2


def test_it_writes_notifications_only_for_committed_actions(world):
    case = _accepted(world, lambda *a: None, 2026, 3, 6)
    before = Notification.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        A.do_dispatch_case(case, actor=world.p.lizhou, lead=world.town_police)
        raise RuntimeError("the request failed after the action")
    assert Notification.objects.count() == before
    case.refresh_from_db()
    assert case.state == "accepted"
    A.do_dispatch_case(case, actor=world.p.lizhou, lead=world.town_police)
    assert Notification.objects.filter(case=case, event="dispatched").count() == 1
    sent, failed = drain()
    assert sent >= 1 and failed == 0
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
    call_command("send", stdout=open("/dev/null", "w"))


def test_it_refuses_an_extension_asked_after_the_deadline(world, at):
    case = _accepted(world, at, 2026, 3, 6, 16, 0)
    police = world.town_police_user()
    A.do_dispatch_case(case, actor=world.p.lizhou, lead=world.town_police)
    A.do_sign_case(case, actor=police)
    at(2026, 3, 30, 9, 0)
    with pytest.raises(ValidationError, match="before the deadline"):
        A.do_request_extension(case, actor=police, days=2, reason="来不及")
