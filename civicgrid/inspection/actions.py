"""Every write of the inspection app: visit rules, overrides, due visits, visits."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core.audit import record_event, snapshot
from civicgrid.core.errors import ActionRefused
from civicgrid.core.roles import Role
from civicgrid.core.scoping import can, scope_for
from civicgrid.inspection.models import (
    CADENCE_ORDER,
    Cadence,
    DueVisit,
    Visit,
    VisitOverride,
    VisitRule,
)
from civicgrid.inspection.periods import due_date, period_of
from civicgrid.people.models import Person, PersonKeyGroup, RoleAssignment

__all__ = [
    "do_generate_due_visits",
    "do_record_visit",
    "do_set_visit_override",
    "do_update_visit_rule",
    "may_record_visit",
]

COUNTY_CODE_LENGTH = 6
_RULE_FIELDS = {"cadence", "follows_working_days", "responsible_role", "checklist", "active"}
_MAX_ANSWERS = 50
_MAX_TEXT = 4000


# --------------------------------------------------------------------------- rules


def _require_county(actor, permission: str) -> None:
    scope = scope_for(actor)
    if scope.superuser:
        return
    if not any(len(prefix) <= COUNTY_CODE_LENGTH for prefix in scope.prefixes(permission)):
        raise ActionRefused(_("Only the county centre may change visit rules."))


def _clean_checklist(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError({"checklist": _("The checklist is a list of items.")})
    items = [item.strip() for item in value if item.strip()]
    if len(items) > _MAX_ANSWERS or any(len(item) > 100 for item in items):
        raise ValidationError({"checklist": _("At most 50 items of at most 100 characters each.")})
    return items


def do_update_visit_rule(rule: VisitRule, *, actor, **changes) -> VisitRule:
    """Change a key group's visit rule (county centre). Periods already generated keep theirs."""
    _require_county(actor, "people.change")
    unknown = set(changes) - _RULE_FIELDS
    if unknown:
        raise ValidationError(_("These fields cannot be changed: %s") % ", ".join(sorted(unknown)))
    if "cadence" in changes and changes["cadence"] not in Cadence.values:
        raise ValidationError({"cadence": _("Choose weekly, fortnightly, monthly or quarterly.")})
    if "responsible_role" in changes and changes["responsible_role"] not in Role.values:
        raise ValidationError({"responsible_role": _("Unknown role.")})
    if "checklist" in changes:
        changes["checklist"] = _clean_checklist(changes["checklist"])
    with transaction.atomic():
        rule = VisitRule.objects.select_for_update().get(pk=rule.pk)
        before = snapshot(rule)
        for field, value in changes.items():
            setattr(rule, field, value)
        rule.save(update_fields=sorted(changes) or None)
        record_event(
            "inspection.visit_rule.update",
            actor=actor,
            target=rule,
            before=before,
            after=snapshot(rule),
        )
    return rule


def do_set_visit_override(person: Person, *, actor, cadence: str, reason: str = ""):
    """Visit ``person`` at ``cadence`` whatever their key groups say; "" ends the override."""
    if not can(actor, "people.change", region_code=person.region_code):
        raise ActionRefused(_("You may not change this person's visits."))
    reason = (reason or "").strip()
    if cadence and cadence not in Cadence.values:
        raise ValidationError({"cadence": _("Choose weekly, fortnightly, monthly or quarterly.")})
    if cadence and not reason:
        raise ValidationError({"reason": _("Say why this person is visited differently.")})
    if len(reason) > 200:
        raise ValidationError({"reason": _("At most 200 characters.")})
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        override = VisitOverride.objects.filter(person=person).first()
        before = snapshot(override) if override else None
        if not cadence:
            if override is None or not override.active:
                return override
            override.active = False
            override.save(update_fields=["active", "updated"])
        elif override is None:
            override = VisitOverride.objects.create(
                person=person, cadence=cadence, reason=reason, region_code=person.region_code
            )
        else:
            override.cadence, override.reason, override.active = cadence, reason, True
            override.region_code = person.region_code
            override.save(update_fields=["cadence", "reason", "active", "region_code", "updated"])
        record_event(
            "inspection.visit_override.set",
            actor=actor,
            target=override,
            scope_code=person.region_code,
            before=before,
            after=snapshot(override),
        )
    return override


# --------------------------------------------------------------------------- due visits


def _effective_rules(person_ids=None) -> dict[int, tuple[VisitRule, str, str, int | None]]:
    """person id → (the rule governing their visits, the cadence, their place code, their grid
    id), for tagged residents.

    Of several key groups the most frequent cadence wins (then the lowest key-group code);
    an active override replaces the cadence and keeps that rule's checklist and role.
    """
    rules = {
        r.key_group_id: r for r in VisitRule.objects.filter(active=True).select_related("key_group")
    }
    if not rules:
        return {}
    tags = PersonKeyGroup.objects.filter(key_group_id__in=rules, person__is_resident=True)
    overrides = VisitOverride.objects.filter(active=True)
    if person_ids is not None:
        tags = tags.filter(person_id__in=person_ids)
        overrides = overrides.filter(person_id__in=person_ids)

    def rank(rule: VisitRule):
        return (CADENCE_ORDER.index(rule.cadence), rule.key_group.code)

    chosen: dict[int, VisitRule] = {}
    places: dict[int, tuple[str, int | None]] = {}
    rows = tags.values_list("person_id", "key_group_id", "person__region_code", "person__grid_id")
    for person_id, key_group_id, region_code, grid_id in rows:
        rule = rules[key_group_id]
        places[person_id] = (region_code, grid_id)
        if person_id not in chosen or rank(rule) < rank(chosen[person_id]):
            chosen[person_id] = rule
    result = {pid: (rule, rule.cadence, *places[pid]) for pid, rule in chosen.items()}
    for person_id, cadence in overrides.values_list("person_id", "cadence"):
        if person_id in result:
            result[person_id] = (result[person_id][0], cadence, *result[person_id][2:])
    return result


def _assignees(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(grid code, role) → the user holding that role there longest (lowest assignment id)."""
    if not pairs:
        return {}
    codes = {code for code, _role in pairs}
    roles = {role for _code, role in pairs}
    rows = (
        RoleAssignment.objects.filter(
            active=True, scope_code__in=codes, role__in=roles, person__user__isnull=False
        )
        .order_by("-id")
        .values_list("scope_code", "role", "person__user_id")
    )
    return {(code, role): user_id for code, role, user_id in rows}


def _new_due_visit(person, rule, cadence, day, assignee_id=None) -> DueVisit:
    start, end = period_of(cadence, day)
    return DueVisit(
        person_id=person.pk if isinstance(person, Person) else person,
        rule=rule,
        cadence=cadence,
        period_start=start,
        period_end=end,
        due_date=due_date(start, end, working_days=rule.follows_working_days),
        assignee_id=assignee_id,
    )


def do_generate_due_visits(*, now: datetime | None = None) -> int:
    """Owe every tagged resident one visit in the period containing ``now``; mark past ones missed.

    Exactly once per person per period: the unique constraint (person, cadence, period start)
    turns a second run, or a concurrent one on another node, into a no-op (INSERT … ON
    CONFLICT DO NOTHING). Returns how many rows this run tried to add (0 when nothing was
    missing). A system action: one summary audit event when it adds rows.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    missed = DueVisit.objects.filter(state=DueVisit.State.DUE, period_end__lt=today).update(
        state=DueVisit.State.MISSED
    )
    effective = _effective_rules()
    if not effective:
        return 0
    starts = {cadence: period_of(cadence, today)[0] for cadence in Cadence.values}
    # No IN list of persons: a county's tagged residents would exceed SQLite's parameter limit.
    existing = set(
        DueVisit.objects.filter(period_start__in=set(starts.values())).values_list(
            "person_id", "cadence", "period_start"
        )
    )
    wanted = [
        (pid, *values)
        for pid, values in effective.items()
        if (pid, values[1], starts[values[1]]) not in existing
    ]
    if not wanted:
        return 0
    assignees = _assignees({(code, rule.responsible_role) for _p, rule, _c, code, _g in wanted})
    rows = []
    for pid, rule, cadence, region_code, grid_id in wanted:
        row = _new_due_visit(
            pid, rule, cadence, today, assignees.get((region_code, rule.responsible_role))
        )
        row.grid_id, row.region_code = grid_id, region_code
        rows.append(row)
    with transaction.atomic():
        DueVisit.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
        record_event(
            "inspection.due_visits.generate",
            target_type="inspection.duevisit",
            target_repr=f"{today:%Y-%m-%d}",
            after={"day": today.isoformat(), "attempted": len(rows), "marked_missed": missed},
        )
    return len(rows)


def _due_visit_for(person: Person, day: date) -> DueVisit | None:
    """The person's due visit of the period containing ``day``, made now if tick has not yet."""
    effective = _effective_rules([person.pk]).get(person.pk)
    if effective is None:
        return None
    rule, cadence, _code, _grid = effective
    draft = _new_due_visit(person, rule, cadence, day)
    assignee = _assignees({(person.region_code, rule.responsible_role)}).get(
        (person.region_code, rule.responsible_role)
    )
    due, _created = DueVisit.objects.get_or_create(
        person=person,
        cadence=cadence,
        period_start=draft.period_start,
        defaults={
            "rule": rule,
            "period_end": draft.period_end,
            "due_date": draft.due_date,
            "grid_id": person.grid_id,
            "region_code": person.region_code,
            "assignee_id": assignee,
            "state": DueVisit.State.DUE if draft.period_end >= day else DueVisit.State.MISSED,
        },
    )
    return due


# --------------------------------------------------------------------------- visits


def may_record_visit(actor, person: Person) -> bool:
    """The person's grid workers, and village/township/county staff over the person's place."""
    return can(actor, "people.view", region_code=person.region_code) and can(
        actor, "cases.report", region_code=person.region_code
    )


def _clean_visit(outcome, visited_at, lat, lng, answers, notes, now) -> dict:
    errors = {}
    if outcome not in Visit.Outcome.values:
        errors["outcome"] = [_("Say whether the person was seen.")]
    if visited_at is None:
        visited_at = now
    elif timezone.is_naive(visited_at):
        errors["visited_at"] = [_("Give the time with its time zone.")]
    elif visited_at > now + timedelta(minutes=5):
        errors["visited_at"] = [_("The visit time is in the future.")]
    elif visited_at < now - timedelta(days=31):
        errors["visited_at"] = [_("Record a visit within a month of making it.")]
    if (lat is None) != (lng is None):
        errors["location"] = [_("Give both latitude and longitude, or neither.")]
    elif lat is not None:
        try:
            lat, lng = float(lat), float(lng)
        except (TypeError, ValueError):
            errors["location"] = [_("The location is not a pair of numbers.")]
        else:
            if not (-90 <= lat <= 90 and -180 <= lng <= 180):
                errors["location"] = [_("The location is outside the earth's coordinates.")]
    answers = answers if answers is not None else {}
    if (
        not isinstance(answers, dict)
        or len(answers) > _MAX_ANSWERS
        or not all(isinstance(k, str) and len(k) <= 100 for k in answers)
        or not all(isinstance(v, str | bool | int | None) for v in answers.values())
        or any(isinstance(v, str) and len(v) > 500 for v in answers.values())
    ):
        errors["answers"] = [_("Answer each checklist item with a short text, yes or no.")]
    notes = (notes or "").strip()
    if len(notes) > _MAX_TEXT:
        errors["notes"] = [_("The notes are longer than 4,000 characters.")]
    if errors:
        raise ValidationError(errors)
    return {
        "outcome": outcome,
        "visited_at": visited_at,
        "lat": lat,
        "lng": lng,
        "answers": answers,
        "notes": notes,
    }


def do_record_visit(
    person: Person,
    *,
    actor,
    outcome: str,
    visited_at: datetime | None = None,
    lat: float | None = None,
    lng: float | None = None,
    answers: dict | None = None,
    notes: str = "",
    raise_case: dict | None = None,
) -> Visit:
    """Record a visit; a person seen closes the due visit of that period.

    ``raise_case`` ("found a problem") takes ``category`` and ``description`` (and optionally
    ``photos``, ``urgent``) and reports a case through the grid-worker channel at the visit's
    place, linked from the visit; the case and the visit commit together or not at all.
    """
    if not may_record_visit(actor, person):
        raise ActionRefused(_("You may not record visits to this person."))
    data = _clean_visit(outcome, visited_at, lat, lng, answers, notes, timezone.now())
    if raise_case is not None:
        unknown = set(raise_case) - {"category", "description", "photos", "urgent"}
        if unknown or not isinstance(raise_case.get("description", ""), str):
            raise ValidationError({"raise_case": _("A case needs a category and a description.")})
    day = timezone.localdate(data["visited_at"])
    with transaction.atomic():
        due = _due_visit_for(person, day)
        if due is not None:
            due = DueVisit.objects.select_for_update().get(pk=due.pk)
        visit = Visit(
            worker=actor,
            person=person,
            due_visit=due,
            region_code=person.region_code,
            **data,
        )
        if raise_case is not None:
            from civicgrid.cases.actions import do_report_case

            visit.case = do_report_case(
                actor=actor,
                channel="grid_worker",
                category=raise_case.get("category"),
                description=raise_case.get("description", ""),
                photos=raise_case.get("photos", ()),
                urgent=bool(raise_case.get("urgent", False)),
                lat=data["lat"],
                lng=data["lng"],
                grid=person.grid,
                region=None if person.grid_id else _region_of(person),
                address=person.address,
            )
        visit.save()
        if due is not None and outcome == Visit.Outcome.SEEN and due.state != DueVisit.State.DONE:
            due.state = DueVisit.State.DONE
            due.done_at = data["visited_at"]
            due.save(update_fields=["state", "done_at"])
        record_event(
            "inspection.visit.record",
            actor=actor,
            target=visit,
            scope_code=person.region_code,
            after=snapshot(visit),
        )
    return visit


def _region_of(person: Person):
    from civicgrid.regions.models import Region

    return Region.objects.filter(code=person.region_code).first()
