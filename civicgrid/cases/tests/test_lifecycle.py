"""The closed loop 派—办—馈—评 through the actions, with the refusals along the way."""

import re
from datetime import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from civicgrid.cases import actions as A
from civicgrid.cases.models import Attachment, Case, CaseAction, CaseReporter, Notification
from civicgrid.cases.selectors import cases_visible_to, suggested_departments
from civicgrid.cases.tests.conftest import SHANGHAI, jpeg
from civicgrid.cases.workflow import InvalidTransition
from civicgrid.core.models import AuditEvent


def _report_by_resident(world, **extra):
    lat, lng = world.point()
    values = dict(
        actor=None,
        channel="resident",
        description="小区门口有一辆僵尸车，停了三个月",
        lat=lat,
        lng=lng,
        reporter_name="张三",
        reporter_phone="13905741234",
    )
    values.update(extra)
    return A.do_report_case(**values)


def test_it_takes_a_grid_workers_report_into_the_grid(world):
    lat, lng = world.point()
    case = A.do_report_case(
        actor=world.p.grid1,
        channel="grid_worker",
        category=world.category,
        description="废弃车辆",
        lat=lat,
        lng=lng,
        photos=[jpeg()],
        idempotency_key="phone-123",
    )
    assert re.fullmatch(r"330281-\d{8}-\d{5}", case.code)
    assert (case.state, case.level, case.unit_code, case.grid) == (
        "reported",
        "grid",
        world.grid.code,
        world.grid,
    )
    assert case.attachments.get().kind == Attachment.Kind.PHOTO
    assert case.actions.get().action == "report"
    assert AuditEvent.objects.filter(action="cases.case.report", target_id=str(case.pk)).exists()
    # The phone retries the same submission: the first case comes back, nothing new is made.
    again = A.do_report_case(
        actor=world.p.grid1,
        channel="grid_worker",
        category=world.category,
        description="废弃车辆",
        lat=lat,
        lng=lng,
        idempotency_key="phone-123",
    )
    assert again.pk == case.pk and Case.objects.filter(description="废弃车辆").count() == 1


def test_it_gives_codes_that_sort_by_time(world):
    first, second = _report_by_resident(world), _report_by_resident(world)
    assert first.code < second.code


def test_it_routes_a_residents_report_to_the_township_and_masks_the_phone(world):
    case = _report_by_resident(world)
    assert (case.level, case.unit_code, case.category) == ("town", "330281001", None)
    reporter = case.reporters.get()
    assert reporter.phone_masked == "139****1234" and "13905741234" not in reporter.phone_cipher


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"description": "  "}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"lat": 10.0, "lng": 10.0}, "location"),
        ({"lat": "north", "lng": 1}, "location"),
        ({"reporter_phone": "12"}, "reporter_phone"),
        ({"channel": "fax"}, "channel"),
    ],
)
def test_it_rejects_bad_reports_field_by_field(world, extra, field):
    with pytest.raises(ValidationError) as info:
        _report_by_resident(world, **extra)
    assert field in info.value.message_dict


def test_it_requires_a_category_from_staff_channels(world):
    lat, lng = world.point()
    with pytest.raises(ValidationError) as info:
        A.do_report_case(
            actor=world.p.grid1, channel="grid_worker", description="x", lat=lat, lng=lng
        )
    assert "category" in info.value.message_dict


def test_it_runs_the_whole_loop_with_rework_reopen_and_review(world):
    case = _report_by_resident(world)
    lizhou, police = world.p.lizhou, world.town_police_user()
    case = A.do_accept_case(case, actor=lizhou, category=world.category)
    assert case.state == "accepted" and case.resolve_deadline > case.accepted_at
    suggested = suggested_departments(case)
    assert suggested[0] == world.town_police and world.town_law in suggested
    case = A.do_dispatch_case(case, actor=lizhou, lead=suggested[0], assisting=suggested[1:])
    assert case.state == "dispatched"
    assert Notification.objects.filter(case=case, department=world.town_police).exists()
    case = A.do_sign_case(case, actor=police)
    case = A.do_feedback_case(case, actor=police, text="已联系车主", photos=[jpeg("blue")])
    case = A.do_verify_case(case, actor=lizhou, passed=False, text="车还在")
    assert (case.state, case.rework_count) == ("in_progress", 1)
    case = A.do_feedback_case(case, actor=police, text="车辆已拖走")
    case = A.do_verify_case(case, actor=lizhou, passed=True)
    assert case.state == "closed" and case.closed_at is not None
    # The reporter (a resident without an account) is called back by the command room.
    case = A.do_evaluate_case(case, actor=lizhou, satisfaction="unsatisfied", comment="又停回来了")
    assert (case.state, case.reopen_count) == ("accepted", 1)
    case = A.do_handle_case(case, actor=lizhou)
    case = A.do_feedback_case(case, actor=lizhou, text="协调物业加装挡车桩")
    case = A.do_verify_case(case, actor=lizhou, passed=True)
    case = A.do_evaluate_case(case, actor=lizhou, satisfaction="unsatisfied")
    assert case.state == "review"
    with pytest.raises(PermissionDenied):
        A.do_review_case(case, actor=lizhou, reopen=False, text="x")
    case = A.do_review_case(case, actor=world.p.county, reopen=False, text="已妥善处理，归档")
    assert case.state == "archived"
    steps = list(case.actions.values_list("action", flat=True))
    assert steps == [
        "report",
        "accept",
        "dispatch",
        "sign",
        "feedback",
        "verify_fail",
        "feedback",
        "verify_pass",
        "reopen",
        "handle",
        "feedback",
        "verify_pass",
        "refer_review",
        "review_archive",
    ]
    # the timeline's states chain: every step starts where the previous one ended
    rows = list(case.actions.order_by("created", "id"))
    assert all(a.to_state == b.from_state for a, b in zip(rows, rows[1:], strict=False))
    assert AuditEvent.objects.filter(
        target_id=str(case.pk), target_type="cases.case"
    ).count() == len(rows)


def test_it_closes_on_the_spot_with_photos_and_archives_when_satisfied(world):
    grid1 = world.p.grid1
    lat, lng = world.point()
    case = A.do_report_case(
        actor=grid1,
        channel="grid_worker",
        category=world.category,
        description="楼道杂物",
        lat=lat,
        lng=lng,
    )
    case = A.do_accept_case(case, actor=grid1)
    with pytest.raises(ValidationError, match="before"):
        A.do_self_close_case(
            case, actor=grid1, text="已清理", before_photos=[jpeg()], after_photos=[]
        )
    case = A.do_self_close_case(
        case, actor=grid1, text="已清理", before_photos=[jpeg("red")], after_photos=[jpeg("green")]
    )
    assert case.state == "closed"
    kinds = sorted(case.attachments.values_list("kind", flat=True))
    assert kinds == ["after", "before"]
    case = A.do_evaluate_case(case, actor=grid1, satisfaction="satisfied")
    assert case.state == "archived"


def test_it_explains_a_refused_transition(world):
    case = _report_by_resident(world)
    with pytest.raises(InvalidTransition) as info:
        A.do_sign_case(case, actor=world.town_police_user())
    message = str(info.value)
    assert "Reported" in message and "Accept" in message and "Reject" in message


def test_it_lets_only_the_owning_unit_act(world):
    case = _report_by_resident(world)
    for outsider in [world.p.grid1, world.p.fengshan, world.p.county, world.p.police]:
        with pytest.raises(PermissionDenied):
            A.do_accept_case(case, actor=outsider, category=world.category)
    case = A.do_accept_case(case, actor=world.p.lizhou, category=world.category)
    case = A.do_dispatch_case(case, actor=world.p.lizhou, lead=world.town_police)
    with pytest.raises(PermissionDenied):
        A.do_sign_case(case, actor=world.p.police)  # the county police is not the lead
    with pytest.raises(PermissionDenied):
        A.do_sign_case(case, actor=world.town_law_user())


def test_it_rejects_with_a_reason_and_tells_the_reporter(world):
    lat, lng = world.point()
    case = A.do_report_case(
        actor=world.p.grid1, channel="co_governance", description="x", lat=lat, lng=lng
    )
    with pytest.raises(ValidationError):
        A.do_reject_case(case, actor=world.p.lizhou, reason="")
    case = A.do_reject_case(case, actor=world.p.lizhou, reason="不属于本平台受理范围")
    assert case.state == "rejected"
    assert Notification.objects.filter(
        case=case, recipient=world.p.grid1, event="rejected"
    ).exists()


def test_it_handles_a_return_then_a_forced_dispatch(world):
    lizhou, police = world.p.lizhou, world.town_police_user()
    case = A.do_accept_case(_report_by_resident(world), actor=lizhou, category=world.category)
    case = A.do_dispatch_case(case, actor=lizhou, lead=world.town_police)
    with pytest.raises(ValidationError):
        A.do_request_return(case, actor=police, reason="busy")
    case = A.do_request_return(case, actor=police, reason="not_our_duty", text="应由执法中队处理")
    case = A.do_decide_return(case, actor=lizhou, approve=True)
    assert case.state == "accepted" and not case.assignments.filter(active=True).exists()
    case = A.do_dispatch_case(case, actor=lizhou, lead=world.town_law)
    law = world.town_law_user()
    case = A.do_request_return(case, actor=law, reason="overlapping_duties")
    case = A.do_decide_return(case, actor=lizhou, approve=False, text="属本部门职责，须办理")
    assert case.state == "dispatched" and case.assignments.get(active=True).forced
    with pytest.raises(PermissionDenied, match="must be handled"):
        A.do_request_return(case, actor=law, reason="not_our_duty")
    assert A.do_sign_case(case, actor=law).state == "in_progress"
    returns = case.assignments.filter(state="returned").values_list("department__code", flat=True)
    assert list(returns) == [world.town_police.code]


def test_it_escalates_up_three_levels_and_assigns_down(world):
    grid1, village = world.p.grid1, world.village_user()
    lat, lng = world.point()
    case = A.do_report_case(
        actor=grid1,
        channel="grid_worker",
        category=world.category,
        description="违建",
        lat=lat,
        lng=lng,
    )
    case = A.do_accept_case(case, actor=grid1)
    first_deadline = case.resolve_deadline
    case = A.do_escalate_case(case, actor=grid1, reason="网格无法处置")
    assert (case.level, case.unit_code) == ("village", world.grid.code[:12])
    with pytest.raises(PermissionDenied):
        A.do_escalate_case(case, actor=grid1, reason="again")  # no longer the owner
    case = A.do_escalate_case(case, actor=village, reason="需镇街协调")
    case = A.do_escalate_case(case, actor=world.p.lizhou, reason="需市级部门")
    assert (case.level, case.unit_code, case.escalation_count) == ("county", "330281", 3)
    assert case.resolve_deadline >= first_deadline
    with pytest.raises(PermissionDenied, match="top level"):
        A.do_escalate_case(case, actor=world.p.county, reason="x")
    with pytest.raises(ValidationError):
        A.do_assign_case_down(case, actor=world.p.county, unit_code="330281002")  # elsewhere
    due = datetime(2030, 1, 4, 17, 30, tzinfo=SHANGHAI)
    case = A.do_assign_case_down(
        case, actor=world.p.county, unit_code="330281001", text="请镇街牵头处置", deadline=due
    )
    assert (case.level, case.unit_code, case.resolve_deadline) == ("town", "330281001", due)
    levels = [
        a.data.get("to_unit") for a in case.actions.filter(action__in=["escalate", "assign_down"])
    ]
    assert levels == [world.grid.code[:12], "330281001", "330281", "330281001"]


def test_it_merges_duplicates_and_tells_every_reporter(world):
    grid1 = world.p.grid1
    lat, lng = world.point()
    first = A.do_report_case(
        actor=grid1,
        channel="co_governance",
        category=world.category,
        description="僵尸车",
        lat=lat,
        lng=lng,
        photos=[jpeg()],
    )
    second = A.do_report_case(
        actor=world.p.grid2,
        channel="co_governance",
        category=world.category,
        description="同一辆僵尸车",
        lat=lat + 0.0002,
        lng=lng,
        photos=[jpeg("blue")],
    )
    from civicgrid.cases.selectors import duplicate_candidates

    assert duplicate_candidates(second) == [first]
    A.do_merge_case(second, into=first, actor=world.p.lizhou)
    second.refresh_from_db()
    assert (second.state, second.merged_into) == ("merged", first)
    assert first.reporters.count() == 2 and first.attachments.count() == 2
    first = A.do_accept_case(first, actor=world.p.lizhou)
    first = A.do_handle_case(first, actor=world.p.lizhou)
    first = A.do_feedback_case(first, actor=world.p.lizhou, text="已拖离")
    A.do_verify_case(first, actor=world.p.lizhou, passed=True)
    told = set(
        Notification.objects.filter(case=first, event="closed").values_list(
            "recipient__username", flat=True
        )
    )
    assert told == {"grid1", "grid2"}


def test_it_refuses_a_stale_form_with_a_conflict_message(world):
    case = _report_by_resident(world)
    seen = case.version
    A.do_classify_case(case, actor=world.p.lizhou, category=world.category, expected_version=seen)
    with pytest.raises(A.CaseConflict, match="Someone else changed"):
        A.do_accept_case(case, actor=world.p.lizhou, expected_version=seen)


def test_it_scopes_who_sees_cases(world):
    case = _report_by_resident(world)
    assert cases_visible_to(world.p.lizhou).filter(pk=case.pk).exists()
    assert cases_visible_to(world.p.county).filter(pk=case.pk).exists()
    assert not cases_visible_to(world.p.fengshan).filter(pk=case.pk).exists()
    assert not cases_visible_to(world.p.outsider).filter(pk=case.pk).exists()
    police = world.town_police_user()
    assert not cases_visible_to(police).filter(pk=case.pk).exists()
    case = A.do_accept_case(case, actor=world.p.lizhou, category=world.category)
    A.do_dispatch_case(case, actor=world.p.lizhou, lead=world.town_police)
    assert list(cases_visible_to(police).filter(pk=case.pk)) == [case]  # once, not per join


def test_it_starts_a_case_with_one_reporter_and_one_action(world):
    case = _report_by_resident(world)
    assert CaseReporter.objects.filter(case=case).count() == 1
    assert CaseAction.objects.filter(case=case).count() == 1


def test_it_takes_an_address_only_report_to_the_county_centre(world):
    case = A.do_report_case(
        actor=world.p.county,
        channel="hotline_12345",
        description="来电反映噪音扰民",
        address="余姚市某小区3幢",
    )
    assert (case.level, case.unit_code, case.region_code, case.grid) == (
        "county",
        "330281",
        "330281",
        None,
    )
    with pytest.raises(ValidationError) as info:
        A.do_report_case(actor=world.p.county, channel="hotline_12345", description="x")
    assert "location" in info.value.message_dict


def test_it_places_a_hotline_case_and_assigns_it_down(world):
    case = A.do_report_case(
        actor=world.p.county,
        channel="hotline_12345",
        description="来电反映噪音扰民",
        address="余姚市某小区3幢",
    )
    with pytest.raises(PermissionDenied):
        A.do_locate_case(case, actor=world.p.lizhou, grid=world.grid)
    case = A.do_locate_case(case, actor=world.p.county, grid=world.grid)
    assert (case.region_code, case.grid) == (world.grid.code, world.grid)
    case = A.do_accept_case(case, actor=world.p.county, category=world.category)
    case = A.do_assign_case_down(case, actor=world.p.county, unit_code="330281001")
    assert (case.level, case.unit_code) == ("town", "330281001")
    assert cases_visible_to(world.p.lizhou).filter(pk=case.pk).exists()


def test_it_counts_returns_per_department(world):
    from civicgrid.cases.selectors import return_counts_by_department

    lizhou, police = world.p.lizhou, world.town_police_user()
    for approve in (True, False):
        lat, lng = world.point()
        case = A.do_report_case(actor=None, channel="resident", description="x", lat=lat, lng=lng)
        case = A.do_accept_case(case, actor=lizhou, category=world.category)
        case = A.do_dispatch_case(case, actor=lizhou, lead=world.town_police)
        case = A.do_request_return(case, actor=police, reason="wrong_place")
        A.do_decide_return(case, actor=lizhou, approve=approve)
    counts = {row["department__code"]: row for row in return_counts_by_department()}
    row = counts[world.town_police.code]
    assert (row["requested"], row["approved"], row["forced"]) == (2, 1, 1)


def test_it_merges_only_into_a_case_of_the_same_unit(world):
    lat, lng = world.point()
    here = A.do_report_case(actor=None, channel="resident", description="x", lat=lat, lng=lng)
    flat, flng = world.point(world.other_grid)
    there = A.do_report_case(actor=None, channel="resident", description="x", lat=flat, lng=flng)
    with pytest.raises(PermissionDenied, match="your unit owns"):
        A.do_merge_case(here, into=there, actor=world.p.lizhou)
    assert not there.reporters.exclude(original_case_code=there.code).exists()


def test_it_dispatches_a_reopened_case_afresh(world):
    lizhou, police = world.p.lizhou, world.town_police_user()
    case = A.do_accept_case(_report_by_resident(world), actor=lizhou, category=world.category)
    case = A.do_dispatch_case(case, actor=lizhou, lead=world.town_police)
    case = A.do_sign_case(case, actor=police)
    case = A.do_feedback_case(case, actor=police, text="已处理")
    case = A.do_verify_case(case, actor=lizhou, passed=True)
    case = A.do_evaluate_case(case, actor=lizhou, satisfaction="unsatisfied")
    assert case.state == "accepted" and not case.assignments.filter(active=True).exists()
    supervision = A.do_supervise_case(case, actor=world.p.county, level=1, reason="重启后督办")
    A.do_answer_supervision(supervision, actor=lizhou, answer="本级重新处置")  # the owner answers


def test_it_routes_a_classified_report_to_its_categorys_level(world):
    from civicgrid.cases.models import Category

    lat, lng = world.point()
    by_level = {}
    for level in ["grid", "village", "town", "county"]:
        category = Category.objects.filter(default_level=level).exclude(parent=None).first()
        case = A.do_report_case(
            actor=None, channel="resident", description="x", lat=lat, lng=lng, category=category
        )
        by_level[level] = (case.level, case.unit_code)
    code = world.grid.code
    assert by_level == {
        "grid": ("grid", code),
        "village": ("village", code[:12]),
        "town": ("town", code[:9]),
        "county": ("county", code[:6]),
    }
    # the owner of each can act on it
    village_case = Case.objects.filter(level="village").latest("id")
    assert A.do_accept_case(village_case, actor=world.village_user()).state == "accepted"
