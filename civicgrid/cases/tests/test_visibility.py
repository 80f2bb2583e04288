"""``cases_visible_to`` gives exactly the rows of the scoping rule (issue 11, target 2).

The rule: cases in the person's places, dispatched to one of their departments (any
dispatch, active or not), or reported by them. The selector writes "dispatched OR reported"
as one ``id IN (… UNION …)`` for the database's sake; these tests hold it to the plain
``core.scoping.restrict`` form of the rule, for a department handler who also reported cases
and for the other personas.
"""

from django.urls import reverse

from civicgrid.cases import actions as A
from civicgrid.cases.models import Case
from civicgrid.cases.selectors import cases_visible_to, queue
from civicgrid.core.scoping import forget_scope, restrict
from civicgrid.people.actions import do_assign_role
from civicgrid.people.models import Person


def _rule(user) -> set[int]:
    """The rule spelled out with ``restrict`` (an OR of a subquery and a column)."""
    visible = restrict(
        Case.objects.all(),
        user,
        "cases.view",
        region_field="region_code",
        department_field="assignments__department",
    )
    if user is not None and user.is_authenticated:
        visible = visible | Case.objects.filter(reported_by=user)
    return set(visible.values_list("pk", flat=True))


def _report(world, actor, grid, description, channel="resident"):
    lat, lng = world.point(grid)
    category = world.category if actor is not None else None  # staff report classified
    return A.do_report_case(
        actor=actor,
        channel=channel,
        description=description,
        category=category,
        lat=lat,
        lng=lng,
    )


def _cases(world):
    """A Lizhou case dispatched to the township police, one left with the command room, one
    reported in Fengshan by the police handler themselves, and one by a resident there."""
    police = world.town_police_user()
    dispatched = _report(world, None, world.grid, "路灯坏了")
    dispatched = A.do_accept_case(dispatched, actor=world.p.lizhou, category=world.category)
    A.do_dispatch_case(dispatched, actor=world.p.lizhou, lead=world.town_police)
    kept = _report(world, None, world.grid, "井盖松动")
    own = _report(world, police, world.other_grid, "路边违停", channel="department")
    other = _report(world, None, world.other_grid, "垃圾未清")
    return police, {"dispatched": dispatched, "kept": kept, "own": own, "other": other}


def test_a_department_handler_who_reported_cases_sees_the_same_rows(world):
    police, cases = _cases(world)
    seen = set(cases_visible_to(police).values_list("pk", flat=True))
    assert seen == _rule(police)
    assert {cases["dispatched"].pk, cases["own"].pk} <= seen
    assert not {cases["kept"].pk, cases["other"].pk} & seen
    # Once each, whatever the number of dispatches, and combinable with other conditions.
    assert cases_visible_to(police).filter(pk=cases["dispatched"].pk).count() == 1
    open_ones = set(queue(police, "all").filter(state="dispatched").values_list("pk", flat=True))
    assert open_ones == {cases["dispatched"].pk}


def test_every_persona_sees_the_rows_of_the_rule(world):
    police, _ = _cases(world)
    p = world.p
    for user in (police, p.lizhou, p.fengshan, p.county, p.grid1, p.auditor, p.outsider):
        assert set(cases_visible_to(user).values_list("pk", flat=True)) == _rule(user), user


def test_a_person_with_a_place_and_a_department_sees_both(world):
    police, cases = _cases(world)
    # The handler also becomes a grid worker in the Fengshan grid: its cases join their view.
    person = Person.objects.get(user=police)
    do_assign_role(person, "grid_worker", grid=world.other_grid, actor=world.p.admin)
    forget_scope(police)
    seen = set(cases_visible_to(police).values_list("pk", flat=True))
    assert seen == _rule(police)
    assert {cases["dispatched"].pk, cases["own"].pk, cases["other"].pk} <= seen
    assert cases["kept"].pk not in seen


def test_the_department_inbox_lists_the_reported_and_the_dispatched_cases(world, client):
    police, cases = _cases(world)
    client.force_login(police)
    page = client.get(reverse("case_list") + "?queue=all")
    assert page.status_code == 200
    text = page.content.decode()
    assert cases["dispatched"].code in text and cases["own"].code in text
    assert cases["kept"].code not in text and cases["other"].code not in text


def test_a_department_handlers_tasks_are_the_rule(world):
    from django.db.models import Q

    from civicgrid.cases.models import Assignment
    from civicgrid.cases.selectors import DEPARTMENT_TODO, tasks_for

    police, cases = _cases(world)
    # The handler's own report closed (the selector reads the state; how it got there is
    # the lifecycle tests' business): waiting for their evaluation.
    Case.objects.filter(pk=cases["own"].pk).update(state="closed")
    Case.objects.filter(pk=cases["other"].pk).update(state="closed")
    leads = Assignment.objects.filter(
        department=world.town_police, role=Assignment.Role.LEAD, active=True
    ).values("case_id")
    rule = Case.objects.filter(
        Q(state="closed", reported_by=police) | Q(state__in=DEPARTMENT_TODO, pk__in=leads)
    )
    tasks = set(tasks_for(police).values_list("pk", flat=True))
    assert tasks == set(rule.values_list("pk", flat=True))
    assert tasks == {cases["dispatched"].pk, cases["own"].pk}


def test_the_due_soon_list_is_the_due_soon_cases_in_view(world, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from civicgrid.cases.selectors import due_soon_cases

    police, cases = _cases(world)
    deadline = Case.objects.get(pk=cases["dispatched"].pk).resolve_deadline
    found = set()
    for moment in (deadline - timedelta(minutes=30), deadline - timedelta(days=20), deadline):
        monkeypatch.setattr(timezone, "now", lambda moment=moment: moment)
        for user in (world.p.lizhou, world.p.fengshan, police):
            listed = set(queue(user, "due_soon").values_list("pk", flat=True))
            expected = due_soon_cases(moment).filter(pk__in=cases_visible_to(user).values("pk"))
            assert listed == set(expected.values_list("pk", flat=True))
            found |= listed
    assert cases["dispatched"].pk in found
