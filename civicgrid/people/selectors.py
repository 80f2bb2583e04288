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
    "access_person_report",
    "person_data_accesses",
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


# --------------------------------------------------------------------------- who looked

# Events that show someone a person's data unmasked (issue 12: "who looked at this resident").
PERSON_ACCESS_EVENTS = ("people.person.view_pii", "people.person.export_data")
PARTY_ACCESS_EVENTS = ("mediation.party.view_pii",)


def access_person_report(user, person_id) -> Person:
    """The person, for an auditor there or whoever gives roles there (a township's or the
    county's operators); 404 for anyone else."""
    person = access_person(user, person_id)
    if not (
        can(user, "audit.view", region_code=person.region_code)
        or can(user, "people.assign_role", region_code=person.region_code)
    ):
        raise Http404
    return person


def person_data_accesses(person: Person):
    """Every unmasked access to ``person``'s data, newest first: reveals and copies of the
    person record, and reveals of dispute parties with the same ID or phone number."""
    from django.apps import apps
    from django.db.models import Q

    from civicgrid.core.models import AuditEvent

    condition = Q(
        target_type="people.person", target_id=str(person.pk), action__in=PERSON_ACCESS_EVENTS
    )
    numbers = Q(pk__in=[])
    if person.id_number_hash:
        numbers |= Q(id_number_hash=person.id_number_hash)
    if person.phone_hash:
        numbers |= Q(phone_hash=person.phone_hash)
    party_ids = [
        str(pk)
        for pk in apps.get_model("mediation", "Party")
        ._base_manager.filter(numbers)
        .values_list("pk", flat=True)[:1000]
    ]
    if party_ids:
        condition |= Q(
            target_type="mediation.party", target_id__in=party_ids, action__in=PARTY_ACCESS_EVENTS
        )
    return AuditEvent.objects.filter(condition).order_by("-id")
