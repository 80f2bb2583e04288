"""Every write to people, departments and roles. Each checks scope, validates, audits."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from civicgrid.core.audit import record_event, snapshot
from civicgrid.core.context import current_client_ip
from civicgrid.core.errors import ActionRefused
from civicgrid.core.roles import ROLE_LEVEL, ROLE_PERMISSIONS, Role
from civicgrid.core.scoping import can, forget_scope, scope_for
from civicgrid.people import pii
from civicgrid.people.models import (
    Department,
    KeyGroup,
    Person,
    PersonKeyGroup,
    PhoneChallenge,
    RoleAssignment,
)
from civicgrid.regions.models import Grid, Region

__all__ = [
    "do_assign_role",
    "do_create_department",
    "do_create_login",
    "do_create_person",
    "do_reveal_person_pii",
    "do_send_phone_code",
    "do_revoke_role",
    "do_tag_person",
    "do_untag_person",
    "do_update_department",
    "do_update_person",
    "do_verify_phone_code",
]

_PII_EXCLUDE = ("id_number_cipher", "id_number_hash", "phone_cipher", "phone_hash")
_PERSON_FIELDS = {
    "name",
    "gender",
    "birth_date",
    "address",
    "is_resident",
    "grid",
    "house",
    "id_number",
    "phone",
}


def _require(actor, permission: str, *, region_code: str | None = None, department_id=None):
    if not can(actor, permission, region_code=region_code, department_id=department_id):
        raise ActionRefused(_("You are not allowed to do this here."))


def _seal_into(person: Person, *, id_number: str | None, phone: str | None) -> list[str]:
    errors, changed = {}, []
    if id_number is not None:
        if id_number.strip():
            try:
                sealed = pii.seal_id_number(id_number)
            except ValidationError as exc:
                errors["id_number"] = exc.messages
            else:
                person.id_number_cipher, person.id_number_hash = sealed.cipher, sealed.hash
                person.id_number_masked = sealed.masked
        else:
            person.id_number_cipher = person.id_number_hash = person.id_number_masked = ""
        changed += ["id_number_cipher", "id_number_hash", "id_number_masked"]
    if phone is not None:
        if phone.strip():
            try:
                sealed = pii.seal_phone(phone)
            except ValidationError as exc:
                errors["phone"] = exc.messages
            else:
                person.phone_cipher, person.phone_hash = sealed.cipher, sealed.hash
                person.phone_masked = sealed.masked
        else:
            person.phone_cipher = person.phone_hash = person.phone_masked = ""
        changed += ["phone_cipher", "phone_hash", "phone_masked"]
    if errors:
        raise ValidationError(errors)
    return changed


def do_create_department(
    *,
    code: str,
    name: str,
    kind: str,
    region: Region,
    short_name: str = "",
    parent: Department | None = None,
    actor,
) -> Department:
    if kind not in Department.Kind.values:
        raise ValidationError({"kind": _("Unknown department kind.")})
    _require(actor, "departments.change", region_code=region.code)
    with transaction.atomic():
        if Department.objects.filter(code=code).exists():
            raise ValidationError({"code": _("This code is already used.")})
        department = Department.objects.create(
            code=code, name=name, short_name=short_name, kind=kind, region=region, parent=parent
        )
        record_event(
            "people.department.create",
            actor=actor,
            target=department,
            scope_code=region.code,
            after=snapshot(department),
        )
    return department


def do_update_department(department: Department, *, actor, **changes) -> Department:
    allowed = {"name", "short_name", "kind", "active", "parent"}
    if set(changes) - allowed:
        raise ValidationError(
            _("These fields cannot be changed: %s") % ", ".join(sorted(set(changes) - allowed))
        )
    _require(actor, "departments.change", region_code=department.region.code)
    if "kind" in changes and changes["kind"] not in Department.Kind.values:
        raise ValidationError({"kind": _("Unknown department kind.")})
    parent = changes.get("parent")
    if parent is not None and (parent.pk == department.pk or parent.parent_id == department.pk):
        raise ValidationError({"parent": _("A department cannot be its own parent.")})
    with transaction.atomic():
        department = Department.objects.select_for_update().get(pk=department.pk)
        before = snapshot(department)
        for name, value in changes.items():
            setattr(department, name, value)
        department.save(update_fields=list(changes))
        record_event(
            "people.department.update",
            actor=actor,
            target=department,
            scope_code=department.region.code,
            before=before,
            after=snapshot(department),
        )
    return department


def do_create_person(
    *,
    name: str,
    grid: Grid | None = None,
    region: Region | None = None,
    id_number: str = "",
    phone: str = "",
    gender: str = "",
    birth_date=None,
    address: str = "",
    house=None,
    is_resident: bool = True,
    actor,
) -> Person:
    if not name or not name.strip():
        raise ValidationError({"name": _("A name is required.")})
    if grid is None and region is None:
        raise ValidationError({"grid": _("Say which grid or region the person belongs to.")})
    region_code = grid.code if grid is not None else region.code
    _require(actor, "people.change", region_code=region_code)
    person = Person(
        name=name.strip(),
        grid=grid,
        region_code=region_code,
        gender=gender,
        birth_date=birth_date,
        address=address,
        house=house,
        is_resident=is_resident,
    )
    _seal_into(person, id_number=id_number, phone=phone)
    with transaction.atomic():
        person.save()
        record_event(
            "people.person.create",
            actor=actor,
            target=person,
            scope_code=region_code,
            after=snapshot(person, exclude=_PII_EXCLUDE),
        )
    return person


def do_update_person(person: Person, *, actor, **changes) -> Person:
    unknown = set(changes) - _PERSON_FIELDS
    if unknown:
        raise ValidationError(_("These fields cannot be changed: %s") % ", ".join(sorted(unknown)))
    _require(actor, "people.change", region_code=person.region_code)
    new_grid = changes.get("grid")
    if new_grid is not None:
        _require(actor, "people.change", region_code=new_grid.code)
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        before = snapshot(person, exclude=_PII_EXCLUDE)
        fields = _seal_into(
            person, id_number=changes.pop("id_number", None), phone=changes.pop("phone", None)
        )
        for name, value in changes.items():
            setattr(person, name, value)
            fields.append(name)
        if new_grid is not None:
            person.region_code = new_grid.code
            fields.append("region_code")
        person.save(update_fields=[*fields, "updated"])
        record_event(
            "people.person.update",
            actor=actor,
            target=person,
            scope_code=person.region_code,
            before=before,
            after=snapshot(person, exclude=_PII_EXCLUDE),
        )
    return person


def do_reveal_person_pii(person: Person, *, actor, reason: str = "") -> dict[str, str]:
    """The clear ID and phone numbers, for a role that needs them; the access is audited."""
    _require(actor, "people.view_pii", region_code=person.region_code)
    with transaction.atomic():
        record_event(
            "people.person.view_pii",
            actor=actor,
            target=person,
            scope_code=person.region_code,
            # Where from, for the "who looked at this resident" report (people.access).
            after={"reason": reason, "ip": current_client_ip()},
        )
    return {
        "id_number": pii.reveal(person.id_number_cipher),
        "phone": pii.reveal(person.phone_cipher),
    }


def do_tag_person(person: Person, key_group: KeyGroup, *, actor, since=None, note: str = ""):
    _require(actor, "people.change", region_code=person.region_code)
    with transaction.atomic():
        tag, created = PersonKeyGroup.objects.get_or_create(
            person=person,
            key_group=key_group,
            defaults={"region_code": person.region_code, "since": since, "note": note},
        )
        if created:
            record_event(
                "people.person.tag",
                actor=actor,
                target=person,
                scope_code=person.region_code,
                after={"key_group": key_group.code},
            )
    return tag


def do_untag_person(person: Person, key_group: KeyGroup, *, actor) -> None:
    _require(actor, "people.change", region_code=person.region_code)
    with transaction.atomic():
        deleted, _rows = PersonKeyGroup.objects.filter(person=person, key_group=key_group).delete()
        if deleted:
            record_event(
                "people.person.untag",
                actor=actor,
                target=person,
                scope_code=person.region_code,
                before={"key_group": key_group.code},
            )


def role_scope_code(role: str, *, region=None, grid=None, department=None) -> str:
    """Where a role assignment reaches, or ValidationError if the place does not fit the role."""
    level = ROLE_LEVEL.get(role)
    if level is None:
        raise ValidationError({"role": _("Unknown role.")})
    place_error = ValidationError({"region": _("This role is held at a different kind of place.")})
    if level == "global":
        return ""
    if level in {"grid", "micro_grid"}:
        if grid is None or grid.is_micro != (level == "micro_grid"):
            raise place_error
        return grid.code
    if level in {"village", "town", "county"}:
        if region is None or region.level != level:
            raise place_error
        return region.code
    if level in {"department", "department_grid"}:
        if department is None:
            raise ValidationError({"department": _("This role needs a department.")})
        if level == "department_grid":
            if grid is None or grid.is_micro:
                raise place_error
            return grid.code
        return region.code if region is not None else department.region.code
    # "any": a mediator, co-governance member or auditor works at a grid or a region.
    if grid is not None:
        return grid.code
    if region is not None:
        return region.code
    raise place_error


def do_assign_role(
    person: Person,
    role: str,
    *,
    region: Region | None = None,
    grid: Grid | None = None,
    department: Department | None = None,
    since=None,
    actor,
) -> RoleAssignment:
    scope_code = role_scope_code(role, region=region, grid=grid, department=department)
    if role == Role.ADMIN:
        if not (actor is not None and actor.is_superuser):
            raise ActionRefused(_("Only a superuser can appoint administrators."))
    elif not (actor is not None and actor.is_superuser):
        _require(actor, "people.assign_role", region_code=scope_code)
        if person.user_id is not None and person.user_id == actor.pk:
            raise ActionRefused(_("Nobody gives themselves a role."))
        if department is not None and not can(
            actor, "people.assign_role", region_code=department.region.code
        ):
            raise ActionRefused(_("This department serves places outside your area."))
        # Nobody hands out more than they hold there: the role's permissions must be the
        # actor's own at that place.
        held = set()
        for grant in scope_for(actor).grants:
            if scope_code.startswith(grant.prefix):
                held |= grant.permissions
        if not ROLE_PERMISSIONS.get(role, frozenset()) <= held:
            raise ActionRefused(_("You cannot give a role with rights you do not hold here."))
    with transaction.atomic():
        assignment, created = RoleAssignment.objects.get_or_create(
            person=person,
            role=role,
            scope_code=scope_code,
            department=department,
            defaults={"region": region, "grid": grid, "since": since},
        )
        if not created and not assignment.active:
            assignment.active = True
            assignment.save(update_fields=["active"])
            created = True
        if created:
            record_event(
                "people.role.assign",
                actor=actor,
                target=assignment,
                scope_code=scope_code,
                after=snapshot(assignment),
            )
    if person.user is not None:
        forget_scope(person.user)
    return assignment


def do_revoke_role(assignment: RoleAssignment, *, actor) -> RoleAssignment:
    if assignment.role == Role.ADMIN:
        if not (actor is not None and actor.is_superuser):
            raise ActionRefused(_("Only a superuser can remove administrators."))
    else:
        _require(actor, "people.assign_role", region_code=assignment.scope_code)
    with transaction.atomic():
        assignment = RoleAssignment.objects.select_for_update().get(pk=assignment.pk)
        if assignment.active:
            assignment.active = False
            assignment.save(update_fields=["active"])
            record_event(
                "people.role.revoke",
                actor=actor,
                target=assignment,
                scope_code=assignment.scope_code,
                before={"active": True},
                after={"active": False},
            )
    return assignment


def do_create_login(person: Person, *, username: str, password: str, actor, is_staff=False):
    """Give a person a login account (staff use the workbench and, if is_staff, the admin)."""
    _require(actor, "people.assign_role", region_code=person.region_code)
    User = get_user_model()
    if person.user_id is not None:
        raise ValidationError({"username": _("This person already has a login.")})
    try:
        validate_password(password, User(username=username))
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise ValidationError({"username": _("This user name is taken.")})
        user = User.objects.create_user(username=username, password=password, is_staff=is_staff)
        Person.objects.filter(pk=person.pk).update(user=user)
        person.user = user
        record_event(
            "people.login.create",
            actor=actor,
            target=person,
            scope_code=person.region_code,
            after={"username": username},
        )
    return user


# --------------------------------------------------------------------------- phone codes

PHONE_CODE_TTL = timedelta(minutes=10)
PHONE_CODE_TRIES = 5
PHONE_CODE_INTERVAL = timedelta(seconds=60)
PHONE_CODES_PER_HOUR = 5


@dataclass(frozen=True)
class SmsMessage:
    """What an SMS sender is given (the same attributes the outbox's rows have)."""

    phone: str
    subject: str
    channel: str = "sms"
    event: str = "phone_code"


def _code_hash(phone_hash: str, code: str) -> str:
    from django.conf import settings

    key = f"phone-code:{settings.SECRET_KEY}".encode()
    return hmac.new(key, f"{phone_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def _mobile(phone: str) -> str:
    phone = pii.normalize_phone(phone)
    if not re.fullmatch(r"1[3-9]\d{9}", phone):
        raise ValidationError({"phone": [_("Enter a mobile number (11 digits) for the code.")]})
    return phone


def do_send_phone_code(phone: str) -> PhoneChallenge:
    """Send a six-digit code to a mobile number, at most once a minute and five times an hour.

    The SMS leaves after the commit, through the configured SMS sender (a logging sender in the
    demo, so the code appears in the server log).
    """
    from django.utils import timezone

    from civicgrid.cases.senders import sender_for

    try:
        phone = _mobile(phone)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None
    phone_hash = pii.blind_index("phone", phone)
    now = timezone.now()
    with transaction.atomic():
        recent = PhoneChallenge.objects.select_for_update().filter(
            phone_hash=phone_hash, created__gte=now - timedelta(hours=1)
        )
        latest = recent.order_by("-created").first()
        if latest is not None and now - latest.created < PHONE_CODE_INTERVAL:
            raise ValidationError({"phone": [_("A code was just sent; wait a minute.")]})
        if recent.count() >= PHONE_CODES_PER_HOUR:
            raise ValidationError({"phone": [_("Too many codes for this number; try later.")]})
        code = f"{secrets.randbelow(1_000_000):06d}"
        challenge = PhoneChallenge.objects.create(
            phone_hash=phone_hash,
            code_hash=_code_hash(phone_hash, code),
            created=now,
            expires_at=now + PHONE_CODE_TTL,
        )
        text = _("Your civicgrid verification code is %(code)s (valid for 10 minutes).") % {
            "code": code
        }
        message = SmsMessage(phone=phone, subject=text)
        transaction.on_commit(lambda: sender_for("sms").send(message))
    return challenge


def do_verify_phone_code(phone: str, code: str) -> str:
    """Check a code; return the normalised number, or raise ValidationError (counts a try)."""
    from django.utils import timezone

    wrong = ValidationError({"code": [_("The code is wrong or has expired.")]})
    try:
        phone = _mobile(phone)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None
    code = (code or "").strip()
    if not re.fullmatch(r"\d{6}", code):
        raise wrong
    phone_hash = pii.blind_index("phone", phone)
    now = timezone.now()
    with transaction.atomic():
        challenge = (
            PhoneChallenge.objects.select_for_update()
            .filter(phone_hash=phone_hash, used_at__isnull=True, expires_at__gt=now)
            .order_by("-created")
            .first()
        )
        if challenge is None or challenge.attempts >= PHONE_CODE_TRIES:
            raise wrong
        challenge.attempts += 1
        matched = hmac.compare_digest(challenge.code_hash, _code_hash(phone_hash, code))
        if matched:
            challenge.used_at = now
        challenge.save(update_fields=["attempts", "used_at"])
    if not matched:
        raise wrong
    return phone
