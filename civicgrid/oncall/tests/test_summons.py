"""The summon flow: every transition and refusal, notifications, the case's timeline."""

import pytest
from django.core.exceptions import ValidationError

from civicgrid.cases import actions as CA
from civicgrid.cases.models import CaseAction, Notification
from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.oncall import actions as A
from civicgrid.oncall import workflow as W
from civicgrid.oncall.models import Summons, SummonsPhoto
from civicgrid.oncall.selectors import offered_staff
from civicgrid.oncall.tests.conftest import jpeg


def _timeline(case):
    return list(
        CaseAction.objects.filter(case=case, action__startswith="summon").values_list(
            "action", "from_state", "to_state"
        )
    )


def test_the_table_allows_exactly_these_steps():
    assert set(W.TRANSITIONS) == {
        ("sent", "accept"),
        ("sent", "decline"),
        ("accepted", "arrive"),
        ("arrived", "finish"),
        ("sent", "cancel"),
        ("accepted", "cancel"),
    }
    for state in W.STATE_LABELS:
        for action in W.ACTION_LABELS:
            if (state, action) not in W.TRANSITIONS:
                with pytest.raises(W.InvalidSummonsStep):
                    W.next_step(state, action)
    assert all(not W.allowed_actions(s) for s in W.FINAL_STATES)


def test_a_summons_goes_from_sent_to_done_and_the_case_shows_the_work(oncall, world, at):
    at(2026, 6, 1, 9, 0)
    staff = oncall.staff("oc-police")
    posting = oncall.post(staff)
    case = oncall.case()
    summons = A.do_summon(case, posting, actor=oncall.room, request="请派出所协助劝离")
    assert (summons.state, summons.staff, summons.department, summons.grid) == (
        "sent",
        staff,
        world.town_police,
        world.grid,
    )
    # The person summoned hears it in the app and by SMS.
    assert set(
        Notification.objects.filter(recipient=staff, case=case, event="summoned").values_list(
            "channel", flat=True
        )
    ) == {"inbox", "sms"}
    row = CaseAction.objects.get(case=case, action="summon")
    assert (row.from_state, row.to_state, row.text) == ("accepted", "accepted", "请派出所协助劝离")
    assert row.data["staff"] == "oc-police" and row.created == summons.sent_at

    at(2026, 6, 1, 9, 4)
    A.do_accept_summons(summons, actor=staff)
    at(2026, 6, 1, 9, 25)
    A.do_arrive_summons(summons, actor=staff)
    at(2026, 6, 1, 10, 10)
    A.do_finish_summons(summons, actor=staff, notes="已劝离，杂物清走", photos=[jpeg()])
    summons.refresh_from_db()
    assert summons.state == "done" and summons.work_notes == "已劝离，杂物清走"
    assert (summons.minutes_to("accepted_at"), summons.minutes_to("arrived_at")) == (4, 25)
    assert SummonsPhoto.objects.get(summons=summons).content_type == "image/jpeg"
    assert list(summons.events.values_list("action", "from_state", "to_state")) == [
        ("summon", "", "sent"),
        ("accept", "sent", "accepted"),
        ("arrive", "accepted", "arrived"),
        ("finish", "arrived", "done"),
    ]
    assert _timeline(case) == [
        ("summon", "accepted", "accepted"),
        ("summon_arrived", "accepted", "accepted"),
        ("summon_done", "accepted", "accepted"),
    ]
    done = CaseAction.objects.get(case=case, action="summon_done")
    assert done.actor == staff and done.text == "已劝离，杂物清走" and done.data["photos"] == 1
    assert CaseAction.objects.get(case=case, action="summon_arrived").data["minutes"] == 25
    # The room hears the work is done; every step is in the audit trail.
    assert Notification.objects.filter(unit_code=case.unit_code, event="summons_done").exists()
    assert AuditEvent.objects.filter(action__startswith="oncall.summons.").count() == 4
    assert AuditEvent.objects.filter(action="cases.case.summon_done").exists()


def test_who_may_take_each_step(oncall, world):
    staff, other = oncall.staff("oc-police"), oncall.staff("oc-police-2")
    posting = oncall.post(staff)
    oncall.post(other)
    case = oncall.case()
    # Only the unit that owns the case summons.
    for outsider in (world.p.grid1, world.p.fengshan, world.p.county, staff):
        with pytest.raises(ActionRefused):
            A.do_summon(case, posting, actor=outsider)
    summons = A.do_summon(case, posting, actor=oncall.room)
    # Only the person summoned answers; the room cancels.
    for wrong in (other, oncall.room):
        with pytest.raises(ActionRefused):
            A.do_accept_summons(summons, actor=wrong)
        with pytest.raises(ActionRefused):
            A.do_decline_summons(summons, actor=wrong, reason="忙")
    with pytest.raises(ActionRefused):
        A.do_cancel_summons(summons, actor=staff)
    # Steps out of order are refused with what the summons is.
    with pytest.raises(W.InvalidSummonsStep):
        A.do_arrive_summons(summons, actor=staff)
    with pytest.raises(W.InvalidSummonsStep):
        A.do_finish_summons(summons, actor=staff, notes="x")
    A.do_accept_summons(summons, actor=staff)
    with pytest.raises(W.InvalidSummonsStep):
        A.do_accept_summons(summons, actor=staff)
    with pytest.raises(W.InvalidSummonsStep):
        A.do_decline_summons(summons, actor=staff, reason="忙")
    A.do_arrive_summons(summons, actor=staff)
    with pytest.raises(W.InvalidSummonsStep):
        A.do_cancel_summons(summons, actor=oncall.room)  # on site: the work gets recorded
    with pytest.raises(ValidationError):
        A.do_finish_summons(summons, actor=staff, notes="  ")
    with pytest.raises(ValidationError):
        A.do_finish_summons(summons, actor=staff, notes="做完了", photos=[b"not a photo"])
    assert Summons.objects.get(pk=summons.pk).state == "arrived"
    A.do_finish_summons(summons, actor=staff, notes="做完了")
    with pytest.raises(W.InvalidSummonsStep):
        A.do_finish_summons(summons, actor=staff, notes="again")


def test_the_room_cancels_a_sent_or_accepted_summons(oncall):
    staff = oncall.staff("oc-police")
    posting = oncall.post(staff)
    case = oncall.case()
    first = A.do_summon(case, posting, actor=oncall.room)
    A.do_cancel_summons(first, actor=oncall.room, reason="已自行处置")
    assert Summons.objects.get(pk=first.pk).state == "cancelled"
    assert Notification.objects.filter(recipient=staff, event="summons_cancelled").count() == 2
    second = A.do_summon(case, posting, actor=oncall.room)  # a cancel frees the place
    A.do_accept_summons(second, actor=staff)
    A.do_cancel_summons(second, actor=oncall.room)
    second.refresh_from_db()
    assert second.state == "cancelled" and second.cancelled_at is not None
    with pytest.raises(W.InvalidSummonsStep):
        A.do_accept_summons(second, actor=staff)


def test_a_decline_lets_the_room_summon_the_next_person(oncall, world):
    first, second = oncall.staff("oc-police"), oncall.staff("oc-police-2", role="dept_resident")
    p1 = oncall.post(first)
    p2 = oncall.post(second, kind="resident")
    law = oncall.staff("oc-law", department=world.town_law)
    p3 = oncall.post(law, department=world.town_law)
    case = oncall.case()
    # On-call first within a department; departments by code.
    offers = offered_staff(case)
    police = dict((d.pk, rows) for d, rows in offers)[world.town_police.pk]
    assert [o.posting for o in police] == [p1, p2]
    summons = A.do_summon(case, p1, actor=oncall.room)
    # One open summons per department; another department may be summoned alongside.
    with pytest.raises(ActionRefused):
        A.do_summon(case, p2, actor=oncall.room)
    A.do_summon(case, p3, actor=oncall.room)
    with pytest.raises(ValidationError):
        A.do_decline_summons(summons, actor=first, reason=" ")
    A.do_decline_summons(summons, actor=first, reason="正在处理另一起警情")
    summons.refresh_from_db()
    assert summons.state == "declined" and summons.reason == "正在处理另一起警情"
    assert Notification.objects.filter(unit_code=case.unit_code, event="summons_declined").exists()
    # The one who declined is not summoned again; the next person is.
    with pytest.raises(ActionRefused):
        A.do_summon(case, p1, actor=oncall.room)
    police = dict((d.pk, rows) for d, rows in offered_staff(case))[world.town_police.pk]
    assert [(o.posting, o.declined) for o in police] == [(p2, False), (p1, True)]
    nxt = A.do_summon(case, p2, actor=oncall.room)
    assert nxt.state == "sent" and nxt.staff == second
    # The load counts open summonses of the person on any case.
    law_offer = dict((d.pk, rows) for d, rows in offered_staff(case))[world.town_law.pk]
    assert law_offer[0].load == 1


def test_only_staff_posted_in_the_cases_grid_now(oncall, world, at):
    staff = oncall.staff("oc-police")
    at(2026, 6, 1, 9)
    posting = oncall.post(staff)
    case = oncall.case()
    A.do_end_posting(posting, actor=oncall.room, ends_on=posting.starts_on)
    at(2026, 6, 2, 9)
    with pytest.raises(ValidationError):
        A.do_summon(case, posting, actor=oncall.room)
    assert offered_staff(case) == []


def test_closing_the_case_cancels_what_is_not_yet_on_site(oncall):
    staff, other = oncall.staff("oc-police"), oncall.staff("oc-law", department=oncall.w.town_law)
    sent = A.do_summon(oncall_case := oncall.case(), oncall.post(staff), actor=oncall.room)
    on_site = A.do_summon(
        oncall_case, oncall.post(other, department=oncall.w.town_law), actor=oncall.room
    )
    A.do_accept_summons(on_site, actor=other)
    A.do_arrive_summons(on_site, actor=other)
    CA.do_file_case(oncall_case, actor=oncall.room, reason="经核实无需处置")
    assert Summons.objects.get(pk=sent.pk).state == "cancelled"
    assert Summons.objects.get(pk=on_site.pk).state == "arrived"
    assert Notification.objects.filter(recipient=staff, event="summons_cancelled").exists()
    # Those on site still record their work (on the summons; the closed case's timeline is kept).
    A.do_finish_summons(on_site, actor=other, notes="协助清理完毕")
    assert Summons.objects.get(pk=on_site.pk).state == "done"
    assert not CaseAction.objects.filter(case=oncall_case, action="summon_done").exists()
    # Nobody is summoned to a closed case.
    with pytest.raises(ActionRefused):
        A.do_summon(
            oncall_case, oncall.post(oncall.staff("oc-3"), starts_on=None), actor=oncall.room
        )
