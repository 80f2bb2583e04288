from datetime import date

from civicgrid.cases.management.commands.tick import tick
from civicgrid.core.models import AuditEvent
from civicgrid.inspection.actions import (
    do_generate_due_visits,
    do_set_visit_override,
    do_update_visit_rule,
)
from civicgrid.inspection.models import DueVisit, VisitRule
from civicgrid.people.models import KeyGroup


def test_it_owes_each_tagged_resident_one_visit_per_period(world, at):
    first, second = world.resident("甲"), world.resident("乙", grid=world.other_grid)
    events = AuditEvent.objects.filter(action="inspection.due_visits.generate")
    already = events.count()  # the PostgreSQL race test commits its runs' events
    now = at(2025, 10, 9, 9)
    assert do_generate_due_visits(now=now) == 2
    rows = DueVisit.objects.order_by("person_id")
    assert [(d.person, d.cadence, d.period_start, d.period_end, d.due_date) for d in rows] == [
        (first, "weekly", date(2025, 10, 6), date(2025, 10, 12), date(2025, 10, 11)),
        (second, "weekly", date(2025, 10, 6), date(2025, 10, 12), date(2025, 10, 11)),
    ]
    assert rows[0].region_code == world.grid.code and rows[0].grid == world.grid
    assert rows[0].assignee == world.worker() and rows[0].state == "due"
    assert events.count() == already + 1
    # Again in the same week, through tick: nothing new, no new event.
    assert tick(now=at(2025, 10, 10, 17))["due_visits"] == 0
    assert DueVisit.objects.count() == 2
    assert events.count() == already + 1


def test_it_marks_last_periods_open_visits_missed_and_owes_the_new_period(world, at):
    person = world.resident("甲")
    do_generate_due_visits(now=at(2025, 10, 9, 9))
    assert do_generate_due_visits(now=at(2025, 10, 13, 0, 1)) == 1
    assert list(
        DueVisit.objects.filter(person=person)
        .order_by("period_start")
        .values_list("period_start", "state")
    ) == [(date(2025, 10, 6), "missed"), (date(2025, 10, 13), "due")]


def test_it_follows_the_calendar_only_where_the_rule_says_so(world, at):
    world.resident("甲")
    do_update_visit_rule(world.rule, actor=world.p.county, follows_working_days=False)
    do_generate_due_visits(now=at(2025, 9, 30, 9))
    assert DueVisit.objects.get().due_date == date(2025, 10, 5)  # a holiday, but the last day


def test_it_visits_at_the_most_frequent_cadence_of_a_persons_groups(world, at):
    monthly = KeyGroup.objects.create(code="test_monthly", name="月访")
    VisitRule.objects.create(key_group=monthly, cadence="monthly", checklist=["生活"])
    only_monthly = world.resident("月", group=monthly)
    both = world.resident("双", group=monthly)
    from civicgrid.people.actions import do_tag_person

    do_tag_person(both, world.group, actor=world.p.admin)
    do_generate_due_visits(now=at(2025, 10, 20, 9))
    by_person = {d.person_id: d for d in DueVisit.objects.all()}
    assert by_person[only_monthly.pk].cadence == "monthly"
    assert by_person[only_monthly.pk].due_date == date(2025, 10, 31)
    assert by_person[both.pk].cadence == "weekly" and by_person[both.pk].rule == world.rule


def test_it_applies_a_persons_override(world, at):
    person = world.resident("矫")
    do_set_visit_override(person, actor=world.p.lizhou, cadence="quarterly", reason="病重住院")
    do_generate_due_visits(now=at(2025, 10, 20, 9))
    due = DueVisit.objects.get(person=person)
    assert (due.cadence, due.period_start, due.due_date) == (
        "quarterly",
        date(2025, 10, 1),
        date(2025, 12, 31),
    )
    # Ending the override brings back the rule's cadence from the next run.
    do_set_visit_override(person, actor=world.p.lizhou, cadence="")
    do_generate_due_visits(now=at(2025, 10, 21, 9))
    assert set(DueVisit.objects.filter(person=person).values_list("cadence", flat=True)) == {
        "quarterly",
        "weekly",
    }


def test_it_refuses_an_override_outside_scope_or_without_reason(world):
    import pytest
    from django.core.exceptions import ValidationError

    from civicgrid.core.errors import ActionRefused

    person = world.resident("甲")
    with pytest.raises(ActionRefused):
        do_set_visit_override(person, actor=world.p.fengshan, cadence="weekly", reason="x")
    with pytest.raises(ValidationError) as exc:
        do_set_visit_override(person, actor=world.p.lizhou, cadence="weekly")
    assert "reason" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        do_set_visit_override(person, actor=world.p.lizhou, cadence="daily", reason="x")
    assert "cadence" in exc.value.message_dict


def test_only_the_county_changes_visit_rules(world):
    import pytest
    from django.core.exceptions import ValidationError

    from civicgrid.core.errors import ActionRefused

    with pytest.raises(ActionRefused):
        do_update_visit_rule(world.rule, actor=world.p.lizhou, cadence="monthly")
    with pytest.raises(ValidationError) as exc:
        do_update_visit_rule(world.rule, actor=world.p.county, checklist="all of it")
    assert "checklist" in exc.value.message_dict
    rule = do_update_visit_rule(world.rule, actor=world.p.county, checklist=[" 门窗 ", ""])
    assert rule.checklist == ["门窗"]
    assert AuditEvent.objects.filter(action="inspection.visit_rule.update").count() == 1
