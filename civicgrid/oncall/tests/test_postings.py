"""Postings of department staff in grids: who may post, what fits, ending, who sees them."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.oncall.actions import do_end_posting
from civicgrid.oncall.selectors import active_postings, postings_visible_to
from civicgrid.people.actions import do_create_person
from civicgrid.people.models import Department
from civicgrid.regions.models import Grid


def test_the_township_posts_a_department_staff_member_in_a_grid(oncall, world):
    user = oncall.staff("oc-police")
    posting = oncall.post(user, kind="resident", note="每周二、四驻格")
    assert (posting.grid, posting.department, posting.kind, posting.region_code) == (
        world.grid,
        world.town_police,
        "resident",
        world.grid.code,
    )
    assert posting.ends_on is None and posting.created_by == oncall.room
    assert AuditEvent.objects.filter(
        action="oncall.posting.create", target_id=str(posting.pk)
    ).exists()
    assert posting in active_postings()
    # The area's staff and the department's staff see it; another township does not.
    assert postings_visible_to(oncall.room).filter(pk=posting.pk).exists()
    assert postings_visible_to(world.town_police_user()).filter(pk=posting.pk).exists()
    assert not postings_visible_to(world.p.fengshan).filter(pk=posting.pk).exists()
    assert not postings_visible_to(world.town_law_user()).filter(pk=posting.pk).exists()


def test_only_staff_over_the_grid_may_post(oncall, world):
    user = oncall.staff("oc-police")
    for outsider in (world.p.fengshan, world.p.grid1, world.p.police, world.p.outsider):
        with pytest.raises(ActionRefused):
            _post_as(oncall, user, outsider)
    # The county may.
    assert _post_as(oncall, user, world.p.county).pk


def _post_as(oncall, user, actor):
    from civicgrid.oncall.actions import do_post_staff

    return do_post_staff(
        person=user.person,
        department=oncall.w.town_police,
        grid=oncall.w.grid,
        kind="on_call",
        actor=actor,
    )


def test_a_posting_must_fit(oncall, world):
    user = oncall.staff("oc-police")
    # Not a staff member of that department.
    with pytest.raises(ValidationError) as info:
        oncall.post(user, department=world.town_law)
    assert "person" in info.value.message_dict
    # A person without a login cannot be summoned.
    nobody = do_create_person(name="无账号", region=world.town_police.region, actor=world.p.admin)
    with pytest.raises(ValidationError):
        oncall.post(type("U", (), {"person": nobody})())
    # A department of another township does not serve this grid.
    elsewhere = Department.objects.filter(region__code="330281002").first()
    far = world.staff(
        "dept_on_call", username="oc-far", department=elsewhere, grid=_grid_in(elsewhere)
    )
    with pytest.raises(ValidationError) as info:
        oncall.post(far, department=elsewhere)
    assert "department" in info.value.message_dict
    # Not twice in the same grid for overlapping periods; a later period is fine.
    oncall.post(user, starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31))
    with pytest.raises(ValidationError):
        oncall.post(user, starts_on=date(2026, 3, 1))
    assert oncall.post(user, starts_on=date(2026, 4, 1)).pk
    with pytest.raises(ValidationError):
        oncall.post(user, starts_on=date(2027, 4, 1), ends_on=date(2027, 3, 1))
    with pytest.raises(ValidationError):
        oncall.post(user, kind="sometimes", starts_on=date(2030, 1, 1))


def _grid_in(department):
    return (
        Grid.objects.filter(code__startswith=department.region.code).exclude(kind="micro").first()
    )


def test_ending_a_posting_keeps_the_row_and_stops_offering_the_person(oncall, world, at):
    at(2026, 5, 10, 9)
    user = oncall.staff("oc-police")
    posting = oncall.post(user, starts_on=date(2026, 5, 1))
    with pytest.raises(ActionRefused):
        do_end_posting(posting, actor=world.p.fengshan)
    with pytest.raises(ValidationError):
        do_end_posting(posting, actor=oncall.room, ends_on=date(2026, 4, 30))
    do_end_posting(posting, actor=oncall.room, ends_on=date(2026, 5, 9))
    posting.refresh_from_db()
    assert posting.ends_on == date(2026, 5, 9)
    assert posting not in active_postings()
    assert not posting.active_on(date(2026, 5, 10)) and posting.active_on(date(2026, 5, 9))
    with pytest.raises(ActionRefused):
        do_end_posting(posting, actor=oncall.room)
    assert AuditEvent.objects.filter(
        action="oncall.posting.end", target_id=str(posting.pk)
    ).exists()
