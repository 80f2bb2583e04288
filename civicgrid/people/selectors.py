"""Reads of people, departments and roles, always through the user's scope."""

from django.db.models import QuerySet
from django.http import Http404

from civicgrid.core.scoping import can, restrict
from civicgrid.people.models import (
    Department,
    House,
    Organisation,
    Person,
    PersonKeyGroup,
    Place,
    RoleAssignment,
)

__all__ = [
    "access_person",
    "departments_visible_to",
    "houses_visible_to",
    "key_group_tags_visible_to",
    "organisations_visible_to",
    "people_visible_to",
    "places_visible_to",
    "role_assignments_visible_to",
]


def people_visible_to(user, permission: str = "people.view") -> QuerySet[Person]:
    return restrict(Person.objects.all(), user, permission, region_field="region_code")


def access_person(user, person_id, permission: str = "people.view") -> Person:
    try:
        person = Person.objects.filter(pk=int(person_id)).first()
    except (TypeError, ValueError):
        person = None
    if person is None or not can(user, permission, region_code=person.region_code):
        raise Http404
    return person


def houses_visible_to(user) -> QuerySet[House]:
    return restrict(House.objects.all(), user, "people.view", region_field="region_code")


def organisations_visible_to(user) -> QuerySet[Organisation]:
    return restrict(Organisation.objects.all(), user, "people.view", region_field="region_code")


def places_visible_to(user) -> QuerySet[Place]:
    return restrict(Place.objects.all(), user, "people.view", region_field="region_code")


def key_group_tags_visible_to(user) -> QuerySet[PersonKeyGroup]:
    return restrict(PersonKeyGroup.objects.all(), user, "people.view", region_field="region_code")


def departments_visible_to(user, permission: str = "departments.view") -> QuerySet[Department]:
    """Departments serving places in the user's scope, and the user's own departments."""
    return restrict(
        Department.objects.select_related("region"),
        user,
        permission,
        region_field="region__code",
        department_field="pk",
        include_ancestors=True,
    )


def role_assignments_visible_to(user) -> QuerySet[RoleAssignment]:
    return restrict(
        RoleAssignment.objects.select_related("person", "department"),
        user,
        "people.view",
        region_field="scope_code",
    )
