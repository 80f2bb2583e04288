"""Reception-hall visitor log, the 12348 call log with its clocks, the registry, activities."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from civicgrid.core.errors import ActionRefused
from civicgrid.mediation.actions import (
    do_callback_call,
    do_extend_call_reply,
    do_log_activity,
    do_log_call,
    do_log_visit,
    do_record_call_satisfaction,
    do_reply_call,
    do_save_mediator,
    do_save_org,
    do_transfer_call,
)
from civicgrid.mediation.selectors import (
    activities_visible_to,
    calls_visible_to,
    visitors_visible_to,
)
from civicgrid.mediation.tests.conftest import SHANGHAI

pytestmark = pytest.mark.django_db


def test_visitor_log(med):
    dispute = med.register()
    row = do_log_visit(
        actor=med.centre_user,
        region_code=med.town_code,
        name="张三",
        phone="13800001111",
        about="离婚财产",
        outcome="dispute",
        dispute=dispute,
    )
    assert row.phone_masked == "138****1111" and "13800001111" not in row.phone_cipher
    with pytest.raises(ValidationError):
        do_log_visit(
            actor=med.centre_user, region_code=med.town_code, name="x", about="y", outcome="dispute"
        )
    with pytest.raises(ActionRefused):
        do_log_visit(
            actor=med.p.fengshan, region_code=med.town_code, name="x", about="y", outcome="answered"
        )
    assert list(visitors_visible_to(med.centre_user)) == [row]
    assert list(visitors_visible_to(med.p.fengshan)) == []


def test_call_answered_at_once_waits_for_nothing(med):
    call = do_log_call(
        actor=med.centre_user,
        region_code=med.town_code,
        category="consultation",
        summary="问离婚程序",
        answer="告知诉讼与协议离婚程序",
    )
    assert call.open_step == "" and call.transfer_due is None and not call.is_overdue


def test_call_transfer_reply_extension_callback(med, at):
    at(2026, 3, 2, 10)  # Monday
    call = do_log_call(
        actor=med.centre_user,
        region_code=med.town_code,
        category="complaint",
        summary="投诉律所不回电话",
        phone="13900002222",
    )
    assert timezone.localtime(call.transfer_due, SHANGHAI).date() == date(2026, 3, 3)
    assert timezone.localtime(call.reply_due, SHANGHAI).date() == date(2026, 3, 9)
    assert call.open_step == "transfer"
    at(2026, 3, 3, 18)
    assert call.is_overdue
    with pytest.raises(ValidationError):
        do_reply_call(call, actor=med.centre_user, reply="x")
    call = do_transfer_call(call, actor=med.centre_user, to="市司法局律师管理科")
    assert call.open_step == "reply" and not call.is_overdue
    with pytest.raises(ValidationError, match="15 working days"):
        do_extend_call_reply(call, actor=med.centre_user, days=11, reason="需调查")
    call = do_extend_call_reply(call, actor=med.centre_user, days=10, reason="需调查")
    assert timezone.localtime(call.reply_due, SHANGHAI).date() == date(2026, 3, 23)
    call = do_reply_call(call, actor=med.centre_user, reply="已约谈律所")
    call = do_record_call_satisfaction(call, actor=med.centre_user, satisfaction="unsatisfied")
    assert call.open_step == "callback"
    # Rated on Tuesday 18:00, after hours: counts from Wednesday, due Thursday.
    assert timezone.localtime(call.callback_due, SHANGHAI).date() == date(2026, 3, 5)
    call = do_callback_call(call, actor=med.centre_user, note="再次解释，来电人表示理解")
    assert call.open_step == "" and call.callback_at
    assert list(calls_visible_to(med.p.fengshan)) == []


def test_registry_needs_configure(med):
    with pytest.raises(ActionRefused):
        do_save_org(
            actor=med.centre_user, code="X", name="x", kind="studio", region_code=med.town_code
        )
    org = do_save_org(
        actor=med.p.county,
        code="X",
        name="妇联调解工作室",
        kind="studio",
        region_code=med.town_code,
        specialities=["01"],
    )
    with pytest.raises(ValidationError):
        do_save_org(
            actor=med.p.county,
            code="Y",
            name="y",
            kind="studio",
            region_code=med.town_code,
            specialities=["77"],
        )
    person = do_save_mediator(actor=med.p.county, org=org, name="赵心理", kind="psychologist")
    assert person.region_code == med.town_code


def test_activities_are_logged_and_scoped(med):
    own = do_log_activity(
        actor=med.mediator_user,
        org=med.studio,
        mediator=med.mediator,
        kind="correction_help",
        day=timezone.localdate(),
        people_reached=3,
    )
    with pytest.raises(ActionRefused):
        do_log_activity(
            actor=med.village_mediator_user,
            org=med.studio,
            mediator=med.mediator,
            kind="publicity",
            day=timezone.localdate(),
        )
    assert own in activities_visible_to(med.centre_user)
    assert own not in activities_visible_to(med.p.fengshan)
