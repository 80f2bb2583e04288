import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from civicgrid.people.actions import do_assign_role, do_create_login, do_create_person
from civicgrid.people.models import Department, Person, RoleAssignment
from civicgrid.regions.models import Region


def _someone(personas, code="330281001"):
    return Person.objects.filter(is_resident=True, region_code__startswith=code).first()


def test_it_refuses_roles_beyond_the_givers_own_rights_or_area(personas):
    lizhou = personas.lizhou
    town = Region.objects.get(code="330281001")
    county_police = Department.objects.get(code="330281-public_security")
    town_police = Department.objects.get(code="330281001-public_security")
    me = Person.objects.get(user=lizhou)
    with pytest.raises(PermissionDenied, match="themselves"):
        do_assign_role(
            me,
            "village_staff",
            region=Region.objects.filter(level="village", code__startswith="330281001").first(),
            actor=lizhou,
        )
    with pytest.raises(PermissionDenied, match="outside your area"):
        do_assign_role(
            _someone(personas), "dept_handler", department=county_police, region=town, actor=lizhou
        )
    with pytest.raises(PermissionDenied, match="rights you do not hold"):
        do_assign_role(_someone(personas), "dept_handler", department=town_police, actor=lizhou)
    with pytest.raises(PermissionDenied, match="rights you do not hold"):
        do_assign_role(_someone(personas), "township_leader", region=town, actor=lizhou)
    granted = do_assign_role(_someone(personas), "township_operator", region=town, actor=lizhou)
    assert RoleAssignment.objects.filter(pk=granted.pk, scope_code="330281001").exists()


def test_it_gives_one_login_per_person_with_a_proper_password(personas):
    person = do_create_person(
        name="新同事",
        region=Region.objects.get(code="330281001"),
        is_resident=False,
        actor=personas.admin,
    )
    with pytest.raises(ValidationError) as info:
        do_create_login(person, username="newcomer", password="123", actor=personas.admin)
    assert "password" in info.value.message_dict
    do_create_login(person, username="newcomer", password="Grid-work-2026!", actor=personas.admin)
    with pytest.raises(ValidationError, match="already has a login"):
        do_create_login(
            person, username="newcomer2", password="Grid-work-2026!", actor=personas.admin
        )
