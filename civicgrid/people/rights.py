"""A resident's rights over their personal data (PIPL arts. 45 and 47): a copy, and erasure.

``do_export_person_data`` gathers everything the platform holds about one person — the person
record unmasked, their house, key-group tags, the cases they reported, the disputes they are a
party to, their co-governance membership and points, the visits paid to them — for someone
holding ``people.change`` and ``people.view_pii`` where the person lives; the copy is audited
like a reveal. ``export_workbook`` turns it into an .xlsx with one sheet per part.

``do_erase_person`` (``people.erase``: the county centre) removes the personal data and keeps
the history: the name becomes a pseudonym, ID and phone numbers (cipher text, search hash and
masked copy) are removed, as are date of birth, gender, address, house and key-group tags; the
reporter rows of their cases, their dispute-party rows (closed disputes only), the reception
hall's and 12348's rows with their phone number and a co-governance membership are
pseudonymised the same way, and a login account is closed. Cases, disputes, visits and points
stay, so every count and statistic is unchanged. Free text written by staff (case timelines,
visit notes, mediation records) and the audit trail are not rewritten: they may still name the
person (the trail is kept for accountability and shows names masked). Refused while the person
is a party to an open dispute (the mediation needs them until it closes) or holds a staff role.
"""

from __future__ import annotations

import json
import tempfile

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core.audit import record_event
from civicgrid.core.context import current_client_ip
from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.core.roles import Role
from civicgrid.core.scoping import can
from civicgrid.people import pii
from civicgrid.people.models import Person, PersonKeyGroup, RoleAssignment

__all__ = [
    "ERASE_EVENT",
    "do_erase_person",
    "do_export_person_data",
    "export_json",
    "export_workbook",
    "is_erased",
    "pseudonym",
]

ERASE_EVENT = "people.person.erase"
EXPORT_EVENT = "people.person.export_data"


def pseudonym(person: Person) -> str:
    """What an erased person is called from then on (the same in every table)."""
    return f"P{person.pk:07d}"


def is_erased(person: Person) -> bool:
    return AuditEvent.objects.filter(
        action=ERASE_EVENT, target_type="people.person", target_id=str(person.pk)
    ).exists()


def _hash_match(model, person: Person, *, id_field="id_number_hash", phone_field="phone_hash"):
    """Rows of ``model`` holding the person's ID or phone number (by the search index)."""
    condition = Q(pk__in=[])
    if person.id_number_hash and id_field:
        condition |= Q(**{id_field: person.id_number_hash})
    if person.phone_hash and phone_field:
        condition |= Q(**{phone_field: person.phone_hash})
    return model._base_manager.filter(condition)


def _parties(person: Person):
    Party = apps.get_model("mediation", "Party")
    return _hash_match(Party, person).select_related("dispute")


def _reporter_rows(person: Person):
    CaseReporter = apps.get_model("cases", "CaseReporter")
    condition = Q(person=person)
    if person.phone_hash:
        condition |= Q(phone_hash=person.phone_hash)
    if person.user_id:
        condition |= Q(user_id=person.user_id)
    return CaseReporter.objects.filter(condition)


def _member(person: Person):
    Member = apps.get_model("cogovernance", "Member")
    return Member.objects.filter(person=person).first()


# --------------------------------------------------------------------------- export


def do_export_person_data(person: Person, *, actor) -> dict:
    """Everything held about ``person``, unmasked, as plain data (audited as an access)."""
    for permission in ("people.change", "people.view_pii"):
        if not can(actor, permission, region_code=person.region_code):
            raise ActionRefused(_("You are not allowed to do this here."))
    with transaction.atomic():
        record_event(
            EXPORT_EVENT,
            actor=actor,
            target=person,
            scope_code=person.region_code,
            after={"ip": current_client_ip()},
        )
    return _gather(person)


def _gather(person: Person) -> dict:
    house = person.house
    data = {
        "person": {
            "id": person.pk,
            "name": person.name,
            "gender": person.get_gender_display() if person.gender else "",
            "birth_date": person.birth_date,
            "id_number": pii.reveal(person.id_number_cipher),
            "phone": pii.reveal(person.phone_cipher),
            "resident": person.is_resident,
            "region_code": person.region_code,
            "address": person.address,
            "login": person.user.get_username() if person.user_id else "",
            "created": person.created,
            "updated": person.updated,
        },
        "houses": (
            [
                {
                    "code": house.code,
                    "address": house.address,
                    "kind": house.get_kind_display(),
                    "grid": house.grid.code,
                }
            ]
            if house is not None
            else []
        ),
        "key_groups": [
            {"key_group": tag.key_group.name, "since": tag.since, "note": tag.note}
            for tag in PersonKeyGroup.objects.filter(person=person).select_related("key_group")
        ],
        "reported_cases": [
            {
                "case": r.case.code,
                "reported": r.created,
                "channel": r.get_channel_display(),
                "name_given": r.name,
                "phone_given": pii.reveal(r.phone_cipher) if r.phone_cipher else "",
                "state": r.case.state,
                "description": r.case.description,
            }
            for r in _reporter_rows(person).select_related("case").order_by("created", "id")
        ],
        "disputes": [
            {
                "dispute": p.dispute.code,
                "title": p.dispute.title,
                "state": p.dispute.state,
                "party_role": p.get_role_display(),
                "name_given": p.name,
                "address_given": p.address,
            }
            for p in _parties(person).order_by("dispute__code", "id")
        ],
        "cogovernance": [],
        "points": [],
        "visits": [],
    }
    member = _member(person)
    if member is not None:
        data["cogovernance"] = [
            {
                "name": member.name,
                "kind": member.get_kind_display(),
                "platform": member.platform,
                "region_code": member.region_code,
                "state": member.get_state_display(),
                "joined": member.joined,
            }
        ]
        data["points"] = [
            {
                "points": e.points,
                "event": e.get_event_display(),
                "case": e.case.code,
                "counts_on": e.effective,
                "reason": e.reason,
            }
            for e in member.entries.select_related("case").order_by("effective", "id")
        ]
    Visit = apps.get_model("inspection", "Visit")
    data["visits"] = [
        {"visited_at": v.visited_at, "outcome": v.get_outcome_display(), "notes": v.notes}
        for v in Visit.objects.filter(person=person).order_by("visited_at", "id")
    ]
    return data


def _plain(value):
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        return timezone.localtime(value).replace(tzinfo=None)
    return value


def export_json(data: dict) -> bytes:
    def default(value):
        return _plain(value).isoformat() if hasattr(value, "isoformat") else str(value)

    return json.dumps(data, ensure_ascii=False, indent=2, default=default).encode()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    value = _plain(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # never a formula in a spreadsheet we hand out
    if value is None or isinstance(value, str | int | float | bool) or hasattr(value, "year"):
        return value
    return str(value)


def export_workbook(data: dict):
    """An .xlsx file (an open temporary file, at its start) with one sheet per part."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for part, rows in data.items():
        rows = [rows] if isinstance(rows, dict) else rows
        sheet = book.create_sheet(title=part[:31])
        if rows:
            header = list(rows[0])
            sheet.append(header)
            for row in rows:
                sheet.append([_cell(row.get(k)) for k in header])
    handle = tempfile.TemporaryFile()
    book.save(handle)
    handle.seek(0)
    return handle


# --------------------------------------------------------------------------- erasure


def erasure_obstacles(person: Person) -> list[str]:
    """Why ``person`` cannot be erased now (empty: they can)."""
    from civicgrid.mediation.workflow import OPEN_STATES

    reasons = []
    if is_erased(person):
        reasons.append(_("This person's data has already been erased."))
    open_codes = sorted(
        set(
            _parties(person)
            .filter(dispute__state__in=OPEN_STATES)
            .values_list("dispute__code", flat=True)
        )
    )
    if open_codes:
        reasons.append(
            _(
                "They are a party to open disputes (%(codes)s): the mediation needs their "
                "details until it is closed. Erase after the disputes close."
            )
            % {"codes": ", ".join(open_codes)}
        )
    staff = (
        RoleAssignment.objects.filter(person=person, active=True)
        .exclude(role=Role.CO_GOVERNANCE)
        .exists()
    )
    if staff:
        reasons.append(
            _("They hold a staff role: take their roles away first (staff records are kept).")
        )
    return reasons


def do_erase_person(person: Person, *, actor, reason: str) -> dict[str, int]:
    """Erase ``person``'s personal data on their request; history and counts stay. Audited."""
    if not can(actor, "people.erase", region_code=person.region_code):
        raise ActionRefused(_("You are not allowed to do this here."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say which request this is (date, reference).")]})
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        problems = erasure_obstacles(person)
        if problems:
            raise ValidationError(problems)
        name = pseudonym(person)
        cleared_phone = {"phone_cipher": "", "phone_hash": "", "phone_masked": ""}
        cleared_id = {"id_number_cipher": "", "id_number_hash": "", "id_number_masked": ""}
        # Rows found by the person's numbers: before those numbers are removed.
        VisitorLog = apps.get_model("mediation", "VisitorLog")
        CallLog = apps.get_model("mediation", "CallLog")
        counts = {
            "reporter_rows": _reporter_rows(person).update(name=name, **cleared_phone),
            "dispute_parties": _parties(person).update(
                name=name, address="", match_key="", **cleared_id, **cleared_phone
            ),
            "visitor_log_rows": _hash_match(VisitorLog, person, id_field=None).update(
                name=name, **cleared_phone
            ),
            "call_log_rows": _hash_match(CallLog, person, id_field=None).update(
                caller=name, **cleared_phone
            ),
            "key_group_tags": PersonKeyGroup.objects.filter(person=person).delete()[0],
            "cogovernance_member": 0,
            "login_closed": 0,
        }
        member = _member(person)
        if member is not None:
            Member = type(member)
            counts["cogovernance_member"] = Member.objects.filter(pk=member.pk).update(
                name=name,
                phone_hash=f"erased:{member.pk}",  # unique, and matches no number
                phone_masked="",
                state=Member.State.SUSPENDED,
                state_reason=_("Personal data erased on request"),
            )
        if person.user_id:
            user = person.user
            user.username = f"erased-{user.pk}"
            user.first_name = user.last_name = user.email = ""
            user.is_active = False
            user.set_unusable_password()
            user.save()
            counts["login_closed"] = 1
        for field, value in {
            "name": name,
            "gender": "",
            "birth_date": None,
            "address": "",
            "house": None,
            **cleared_id,
            **cleared_phone,
        }.items():
            setattr(person, field, value)
        person.save()
        record_event(
            ERASE_EVENT,
            actor=actor,
            target=person,
            scope_code=person.region_code,
            after={"reason": reason, **counts},
        )
    return counts  # a closed account's sessions no longer authenticate (inactive user)
