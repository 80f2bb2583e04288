from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError

from civicgrid.cases.models import Case
from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.inspection.actions import (
    do_create_visit_rule,
    do_generate_due_visits,
    do_record_visit,
)
from civicgrid.inspection.models import DueVisit, Visit
from civicgrid.inspection.selectors import due_list, due_visits_visible_to, visits_visible_to
from civicgrid.people.models import House

from .conftest import SHANGHAI


def test_a_seen_visit_closes_the_due_visit(world, at):
    person = world.resident("甲")
    do_generate_due_visits(now=at(2025, 10, 9, 9))
    at(2025, 10, 10, 10)
    visit = do_record_visit(
        person,
        actor=world.p.grid1,
        outcome="seen",
        lat=30.05,
        lng=121.15,
        answers={"身体状况": "良好", "用电安全": True},
        notes="一切正常",
    )
    due = DueVisit.objects.get(person=person)
    assert visit.due_visit == due and due.state == "done"
    assert due.done_at == datetime(2025, 10, 10, 10, tzinfo=SHANGHAI)
    assert visit.region_code == world.grid.code and visit.case is None
    event = AuditEvent.objects.get(action="inspection.visit.record")
    assert event.target_id == str(visit.pk) and event.scope_code == world.grid.code


def test_a_person_not_found_leaves_the_visit_owed(world, at):
    person = world.resident("甲")
    do_generate_due_visits(now=at(2025, 10, 9, 9))
    do_record_visit(person, actor=world.p.grid1, outcome="not_found", notes="家中无人")
    assert DueVisit.objects.get(person=person).state == "due"
    do_record_visit(person, actor=world.p.grid1, outcome="seen")
    assert DueVisit.objects.get(person=person).state == "done"
    assert Visit.objects.filter(person=person).count() == 2


def test_a_visit_before_tick_makes_and_closes_the_due_visit_once(world, at):
    person = world.resident("甲")
    at(2025, 10, 13, 8, 45)
    do_record_visit(person, actor=world.p.grid1, outcome="seen")
    assert do_generate_due_visits(now=at(2025, 10, 13, 9)) == 0
    due = DueVisit.objects.get(person=person)
    assert (due.period_start, due.state, due.assignee) == (
        date(2025, 10, 13),
        "done",
        world.worker(),
    )


def test_a_late_record_of_a_visit_made_in_time_closes_a_missed_period(world, at):
    person = world.resident("甲")
    do_generate_due_visits(now=at(2025, 10, 9, 9))
    do_generate_due_visits(now=at(2025, 10, 13, 9))  # last week's visit is now missed
    do_record_visit(
        person,
        actor=world.p.grid1,
        outcome="seen",
        visited_at=datetime(2025, 10, 11, 16, tzinfo=SHANGHAI),
    )
    states = dict(DueVisit.objects.filter(person=person).values_list("period_start", "state"))
    assert states == {date(2025, 10, 6): "done", date(2025, 10, 13): "due"}


def test_found_a_problem_raises_a_case_linked_to_the_visit(world, at):
    person = world.resident("甲")
    lat, lng = world.point()
    at(2025, 10, 10, 10)
    visit = do_record_visit(
        person,
        actor=world.p.grid1,
        outcome="seen",
        lat=lat,
        lng=lng,
        raise_case={"category": world.category, "description": "楼道堆放杂物，存在消防隐患"},
    )
    case = Case.objects.get(pk=visit.case_id)
    assert case.channel == "grid_worker" and case.grid == world.grid
    assert case.description == "楼道堆放杂物，存在消防隐患"
    assert case.level == "grid"  # a grid worker's report in their own grid stays there


def test_a_refused_case_leaves_no_visit_behind(world, at):
    person = world.resident("甲")
    do_generate_due_visits(now=at(2025, 10, 9, 9))
    with pytest.raises(ValidationError) as exc:
        do_record_visit(
            person,
            actor=world.p.grid1,
            outcome="seen",
            raise_case={"category": world.category, "description": " "},
        )
    assert "description" in exc.value.message_dict
    assert not Visit.objects.exists()
    assert DueVisit.objects.get(person=person).state == "due"


@pytest.mark.parametrize("who", ["grid2", "fengshan", "police", "auditor", "outsider"])
def test_it_refuses_visits_outside_the_recorders_area(world, who):
    person = world.resident("甲")
    with pytest.raises(ActionRefused):
        do_record_visit(person, actor=getattr(world.p, who), outcome="seen")
    assert not Visit.objects.exists()


@pytest.mark.parametrize("who", ["grid1", "lizhou", "county"])
def test_the_grid_and_the_areas_above_it_may_record(world, who):
    person = world.resident("甲")
    do_record_visit(person, actor=getattr(world.p, who), outcome="seen")
    assert Visit.objects.filter(person=person).count() == 1


def test_it_validates_a_visit_with_field_keys(world, at):
    person = world.resident("甲")
    at(2025, 10, 10, 10)
    with pytest.raises(ValidationError) as exc:
        do_record_visit(
            person,
            actor=world.p.grid1,
            outcome="maybe",
            lat=30.0,
            answers=["not", "a", "dict"],
            visited_at=datetime(2025, 10, 11, 10, tzinfo=SHANGHAI),
        )
    assert set(exc.value.message_dict) == {"outcome", "location", "answers", "visited_at"}


def test_visits_and_due_visits_are_seen_only_in_scope(world, at):
    person = world.resident("甲")
    do_generate_due_visits(now=at(2025, 10, 9, 9))
    do_record_visit(person, actor=world.p.grid1, outcome="seen")
    assert due_visits_visible_to(world.p.lizhou).count() == 1
    assert visits_visible_to(world.p.lizhou).count() == 1
    for user in (world.p.fengshan, world.p.grid2, world.p.outsider):
        assert not due_visits_visible_to(user).exists()
        assert not visits_visible_to(user).exists()


def test_the_due_list_starts_with_the_nearest_person(world, at):
    houses = list(House.objects.filter(grid=world.grid, lat__isnull=False).order_by("code")[:3])
    assert len(houses) == 3
    people = [world.resident(f"住户{i}", house=h) for i, h in enumerate(houses)]
    elsewhere = world.resident("远", grid=world.other_grid)
    do_generate_due_visits(now=at(2025, 10, 9, 9))
    here = houses[2]
    rows = due_list(world.p.grid1, lat=here.lat, lng=here.lng)
    assert [d.person for d in rows][0] == people[2] and rows[0].metres == pytest.approx(0)
    assert {d.person for d in rows} == set(people)  # not the other grid's resident
    assert elsewhere not in {d.person for d in rows}
    assert [d.metres for d in rows] == sorted(d.metres for d in rows)
    # Done visits leave the list.
    do_record_visit(people[2], actor=world.p.grid1, outcome="seen")
    assert people[2] not in {d.person for d in due_list(world.p.grid1, lat=0, lng=0)}


def test_the_county_gives_a_key_group_its_rule_once(world):
    from civicgrid.people.models import KeyGroup

    group = KeyGroup.objects.create(code="test_new", name="新关注")
    with pytest.raises(ActionRefused):
        do_create_visit_rule(group, actor=world.p.lizhou, cadence="weekly")
    with pytest.raises(ValidationError) as exc:
        do_create_visit_rule(group, actor=world.p.county, cadence="daily", checklist=[1])
    assert "cadence" in exc.value.message_dict
    rule = do_create_visit_rule(
        group, actor=world.p.county, cadence="fortnightly", checklist=[" 居住安全 ", ""]
    )
    assert (rule.cadence, rule.checklist, rule.responsible_role) == (
        "fortnightly",
        ["居住安全"],
        "grid_worker",
    )
    assert AuditEvent.objects.filter(action="inspection.visit_rule.create").count() == 1
    with pytest.raises(ValidationError):
        do_create_visit_rule(group, actor=world.p.county, cadence="weekly")
