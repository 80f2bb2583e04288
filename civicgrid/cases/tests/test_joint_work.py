"""Hard cases with joint meetings, joint law-enforcement operations, and telling reporters."""

from datetime import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from civicgrid.cases import actions as A
from civicgrid.cases.management.commands.send import drain
from civicgrid.cases.models import JointOperation, Notification
from civicgrid.cases.tests.conftest import SHANGHAI


def _case(world, **extra):
    lat, lng = world.point()
    case = A.do_report_case(
        actor=None, channel="resident", description="非法加油点", lat=lat, lng=lng, **extra
    )
    return A.do_accept_case(case, actor=world.p.lizhou, category=world.category)


def test_it_records_joint_meetings_on_hard_cases_only(world):
    case = _case(world)
    with pytest.raises(PermissionDenied, match="hard cases"):
        A.do_record_joint_meeting(case, actor=world.p.leader, decisions="x")
    A.do_mark_hard_case(
        case,
        actor=world.p.leader,
        leader=world.p.leader,
        departments=[world.town_police, world.town_law],
    )
    with pytest.raises(PermissionDenied):
        A.do_record_joint_meeting(case, actor=world.p.grid1, decisions="x")
    meeting = A.do_record_joint_meeting(
        case,
        actor=world.p.leader,
        decisions="公安牵头取缔，执法中队配合",
        follow_ups="一周内复查",
        departments=[world.town_police, world.town_law],
    )
    assert set(meeting.departments.values_list("code", flat=True)) == {
        world.town_police.code,
        world.town_law.code,
    }
    assert case.actions.filter(action="joint_meeting").get().data["follow_ups"] == "一周内复查"


def test_it_plans_a_joint_operation_and_writes_its_result_into_linked_cases(world):
    first, second = _case(world), _case(world)
    when = datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)
    with pytest.raises(PermissionDenied):
        A.do_plan_joint_operation(
            actor=world.p.fengshan,
            town_code="330281001",
            title="x",
            planned_for=when,
            place="x",
            departments=[world.town_police, world.town_law],
        )
    with pytest.raises(ValidationError) as info:
        A.do_plan_joint_operation(
            actor=world.p.lizhou,
            town_code="330281001",
            title="",
            planned_for=when,
            place="x",
            departments=[world.town_police],
        )
    assert set(info.value.message_dict) == {"title", "departments"}
    operation = A.do_plan_joint_operation(
        actor=world.p.lizhou,
        town_code="330281001",
        title="非法加油点联合整治",
        planned_for=when,
        place="城东工业区",
        departments=[world.town_police, world.town_law],
        cases=[first, second],
    )
    assert Notification.objects.filter(event="joint_operation").count() == 2
    A.do_record_joint_operation_result(
        operation, actor=world.p.lizhou, results="取缔非法加油点2处，查扣油品1.2吨"
    )
    operation.refresh_from_db()
    assert operation.state == JointOperation.State.DONE
    for case in (first, second):
        row = case.actions.get(action="joint_operation")
        assert row.text.startswith("取缔") and row.data == {"operation": operation.pk}
    with pytest.raises(ValidationError, match="already recorded"):
        A.do_record_joint_operation_result(operation, actor=world.p.lizhou, results="again")


def test_it_texts_a_reporter_without_an_account_when_the_case_closes(world, caplog):
    case = _case(world, reporter_phone="13905741234")
    A.do_handle_case(case, actor=world.p.lizhou)
    A.do_feedback_case(case, actor=world.p.lizhou, text="已处理")
    A.do_verify_case(case, actor=world.p.lizhou, passed=True)
    sms = Notification.objects.get(case=case, event="closed")
    assert sms.channel == "sms" and sms.reporter.phone_masked == "139****1234"
    assert "13905741234" not in str(sms.__dict__)
    with caplog.at_level("INFO", logger="civicgrid.notifications"):
        drain()
    assert f"Case {case.code} is closed" in caplog.text and "13905741234" not in caplog.text
