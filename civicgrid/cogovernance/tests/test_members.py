"""Registration and member management through the actions; the points rules."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from civicgrid.cogovernance.actions import (
    do_reactivate_member,
    do_register_member,
    do_suspend_member,
    do_update_point_rule,
)
from civicgrid.cogovernance.models import PointEntry, PointRule
from civicgrid.core.models import AuditEvent
from civicgrid.core.scoping import scope_for
from civicgrid.people.models import Person, RoleAssignment
from civicgrid.regions.models import Grid, Region


def _register(cg, **changes):
    values = dict(
        name="陈快递",
        phone="13705741111",
        kind="courier",
        town=cg.town,
        grid=None,
        platform="中通",
        username="courier-chen",
        password="Gongzhi-2026!",
    )
    values.update(changes)
    return do_register_member(**values)


def test_registration_makes_a_person_a_login_and_the_role(cg):
    member = _register(cg)
    person = Person.objects.get(pk=member.person_id)
    assert person.user == member.user and person.region_code == cg.town.code
    assert person.phone_masked == "137****1111" and "13705741111" not in person.phone_cipher
    assert person.phone_hash == member.phone_hash and not person.is_resident
    role = RoleAssignment.objects.get(person=person)
    assert (role.role, role.scope_code, role.active) == ("co_governance", cg.town.code, True)
    assert scope_for(member.user).has("cases.report")
    assert member.user.check_password("Gongzhi-2026!")
    event = AuditEvent.objects.get(action="cogovernance.member.register", target_id=str(member.pk))
    assert "13705741111" not in str(event.after) + event.target_repr


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"name": " "}, "name"),
        ({"kind": "astronaut"}, "kind"),
        ({"platform": ""}, "platform"),
        ({"phone": "12345"}, "phone"),
        ({"username": "13705741111"}, "username"),
        ({"username": "a"}, "username"),
        ({"password": "123"}, "password"),
    ],
)
def test_registration_refuses_bad_input(cg, changes, field):
    with pytest.raises(ValidationError) as info:
        _register(cg, **changes)
    assert field in info.value.message_dict


def test_registration_refuses_a_grid_of_another_township_and_a_second_registration(cg):
    other = Grid.objects.filter(code__startswith="330281002").exclude(kind="micro").first()
    with pytest.raises(ValidationError) as info:
        _register(cg, grid=other)
    assert "grid" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        _register(cg, town=Region.objects.get(code="330281"))
    assert "town" in info.value.message_dict
    _register(cg)
    with pytest.raises(ValidationError) as info:
        _register(cg, username="someone-else")
    assert "phone" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        _register(cg, phone="13705742222", username="Courier-Chen")
    assert "username" in info.value.message_dict


def test_suspension_is_for_the_township_or_county_and_revokes_the_role(cg):
    member = _register(cg)
    with pytest.raises(PermissionDenied):
        do_suspend_member(member, actor=cg.world.p.grid1, reason="x")
    with pytest.raises(PermissionDenied):
        do_suspend_member(member, actor=cg.world.p.fengshan, reason="x")
    with pytest.raises(ValidationError):
        do_suspend_member(member, actor=cg.lizhou, reason="")
    do_suspend_member(member, actor=cg.lizhou, reason="多次虚假上报")
    assert not scope_for(member.user).has("cases.report")
    do_reactivate_member(member, actor=cg.world.p.county)
    member.refresh_from_db()
    assert member.state == "active" and scope_for(member.user).has("cases.report")


def test_rules_are_changed_by_the_county_and_old_entries_keep_their_points(cg):
    member = cg.member()
    cg.accept(cg.report(member))
    rule = PointRule.objects.get(event="accepted")
    with pytest.raises(PermissionDenied):
        do_update_point_rule(rule, actor=cg.lizhou, points=10)
    with pytest.raises(ValidationError):
        do_update_point_rule(rule, actor=cg.world.p.county, points=-1)
    do_update_point_rule(rule, actor=cg.world.p.county, points=10, daily_cap=None)
    cg.accept(cg.report(member, text="又一处"))
    assert sorted(PointEntry.objects.filter(member=member).values_list("points", flat=True)) == [
        5,
        10,
    ]
    assert AuditEvent.objects.filter(action="cogovernance.rule.update").exists()
