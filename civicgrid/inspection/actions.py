"""Every write of the inspection app: visit rules, overrides, due visits, visits."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
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
    Patrol,
    PatrolHouse,
    Visit,
    VisitOverride,
    VisitPhoto,
    VisitRule,
)
from civicgrid.inspection.periods import due_date, period_of
from civicgrid.people.models import House, Person, PersonKeyGroup, RoleAssignment
from civicgrid.regions.models import Grid

__all__ = [
    "MAX_VISIT_PHOTOS",
    "do_create_visit_rule",
    "do_generate_due_visits",
    "do_record_patrol",
    "do_record_visit",
    "do_set_visit_override",
    "do_update_visit_rule",
    "may_record_visit",
]

COUNTY_CODE_LENGTH = 6
_RULE_FIELDS = {"cadence", "follows_working_days", "responsible_role", "checklist", "active"}
_MAX_ANSWERS = 50
_MAX_TEXT = 4000
MAX_VISIT_PHOTOS = 6
MAX_TRACK_POINTS = 5000
MAX_PATROL_HOURS = 24


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


def do_create_visit_rule(
    key_group,
    *,
    actor,
    cadence: str,
    checklist=(),
    follows_working_days: bool = True,
    responsible_role: str = Role.GRID_WORKER,
) -> VisitRule:
    """Give a key group its visit rule (county centre); a group has one rule at most."""
    _require_county(actor, "people.change")
    if cadence not in Cadence.values:
        raise ValidationError({"cadence": _("Choose weekly, fortnightly, monthly or quarterly.")})
    if responsible_role not in Role.values:
        raise ValidationError({"responsible_role": _("Unknown role.")})
    items = _clean_checklist(list(checklist))
    with transaction.atomic():
        if VisitRule.objects.filter(key_group=key_group).exists():
            raise ValidationError({"key_group": _("This key group has a visit rule already.")})
        rule = VisitRule.objects.create(
            key_group=key_group,
            cadence=cadence,
            checklist=items,
            follows_working_days=bool(follows_working_days),
            responsible_role=responsible_role,
        )
        record_event("inspection.visit_rule.create", actor=actor, target=rule, after=snapshot(rule))
    return rule


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
    photos=(),
    raise_case: dict | None = None,
) -> Visit:
    """Record a visit; a person seen closes the due visit of that period.

    ``photos`` (uploads or bytes, at most six) are checked and re-encoded like a case's
    (``cases.photos.clean_photo``: no GPS or camera metadata is kept) before any lock is taken.

    ``raise_case`` ("found a problem") takes ``category`` and ``description`` (and optionally
    ``photos``, ``urgent``) and reports a case through the grid-worker channel at the visit's
    place, linked from the visit; the case and the visit commit together or not at all. The
    case carries the visit's photos unless ``raise_case`` names photos of its own.
    """
    if not may_record_visit(actor, person):
        raise ActionRefused(_("You may not record visits to this person."))
    data = _clean_visit(outcome, visited_at, lat, lng, answers, notes, timezone.now())
    cleaned_photos = _clean_visit_photos(photos)
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
                photos=raise_case.get("photos", cleaned_photos),
                urgent=bool(raise_case.get("urgent", False)),
                lat=data["lat"],
                lng=data["lng"],
                grid=person.grid,
                region=None if person.grid_id else _region_of(person),
                address=person.address,
            )
        visit.save()
        _save_visit_photos(visit, cleaned_photos)
        if due is not None and outcome == Visit.Outcome.SEEN and due.state != DueVisit.State.DONE:
            due.state = DueVisit.State.DONE
            due.done_at = data["visited_at"]
            due.save(update_fields=["state", "done_at"])
        record_event(
            "inspection.visit.record",
            actor=actor,
            target=visit,
            scope_code=person.region_code,
            after={**snapshot(visit), "photos": len(cleaned_photos)},
        )
    return visit


def _clean_visit_photos(photos) -> list:
    """Check and re-encode uploads (the slow part, done before the transaction)."""
    from civicgrid.cases.photos import CleanPhoto, PhotoRejected, clean_photo

    photos = list(photos or ())
    if len(photos) > MAX_VISIT_PHOTOS:
        raise ValidationError(
            {"photos": [_("At most %(n)d photos a visit.") % {"n": MAX_VISIT_PHOTOS}]}
        )
    cleaned = []
    for photo in photos:
        if isinstance(photo, CleanPhoto):
            cleaned.append(photo)
            continue
        try:
            cleaned.append(clean_photo(photo))
        except PhotoRejected as exc:
            raise ValidationError({"photos": [str(exc)]}) from None
    return cleaned


def _save_visit_photos(visit: Visit, cleaned) -> list[VisitPhoto]:
    saved = []
    for clean in cleaned:
        photo = VisitPhoto(
            visit=visit,
            content_type=clean.content_type,
            sha256=clean.sha256,
            width=clean.width,
            height=clean.height,
            taken_at=clean.taken_at,
            created=timezone.now(),
        )
        photo.file.save(
            f"visit-{visit.pk}-{clean.sha256[:12]}.{clean.extension}",
            ContentFile(clean.content),
            save=False,
        )
        photo.save()
        saved.append(photo)
    return saved


def _region_of(person: Person):
    from civicgrid.regions.models import Region

    return Region.objects.filter(code=person.region_code).first()


# --------------------------------------------------------------------------- patrols


def may_record_patrol(actor, grid: Grid) -> bool:
    """Those who may record visits in the grid may record its comprehensive walks."""
    return can(actor, "people.view", region_code=grid.code) and can(
        actor, "cases.report", region_code=grid.code
    )


def _parse_point_time(value) -> str | None:
    """A point's time as an ISO string: ISO text, or epoch milliseconds (the browser's)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value / 1000, tz=timezone.get_current_timezone())
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
    else:
        raise ValueError("not a time")
    return moment.isoformat(timespec="seconds")


def clean_track(track) -> list[list]:
    """A list of [lat, lng, time] points, or a GeoJSON LineString, as [lat, lng, time] points.

    Raises ValueError on anything else (the action turns it into a ValidationError).
    """
    if isinstance(track, dict):
        if track.get("type") != "LineString" or not isinstance(track.get("coordinates"), list):
            raise ValueError("not a LineString")
        raw = []
        for position in track["coordinates"]:
            if not isinstance(position, list | tuple) or len(position) < 2:
                raise ValueError("bad position")
            raw.append([position[1], position[0], None])
    elif isinstance(track, list | tuple):
        raw = list(track)
    elif track is None:
        raw = []
    else:
        raise ValueError("not a track")
    if len(raw) > MAX_TRACK_POINTS:
        raise ValueError("too many points")
    points = []
    for point in raw:
        if not isinstance(point, list | tuple) or not 2 <= len(point) <= 3:
            raise ValueError("bad point")
        lat, lng = point[0], point[1]
        if isinstance(lat, bool) or isinstance(lng, bool):
            raise ValueError("bad coordinate")
        lat, lng = float(lat), float(lng)
        if not (math.isfinite(lat) and math.isfinite(lng)):
            raise ValueError("bad coordinate")
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise ValueError("outside the earth")
        when = _parse_point_time(point[2]) if len(point) == 3 else None
        points.append([round(lat, 7), round(lng, 7), when])
    return points


def track_length(points) -> float:
    """Metres along the track (flat-earth steps: points are metres apart)."""
    total = 0.0
    for (lat1, lng1, _t1), (lat2, lng2, _t2) in zip(points, points[1:], strict=False):
        x = (lng2 - lng1) * 111_320 * math.cos(math.radians((lat1 + lat2) / 2))
        y = (lat2 - lat1) * 110_570
        total += math.hypot(x, y)
    return round(total, 1)


def do_record_patrol(
    grid: Grid,
    *,
    actor,
    started_at: datetime,
    ended_at: datetime | None = None,
    track=None,
    houses=(),
    notes: str = "",
) -> Patrol:
    """Record a comprehensive walk of ``grid``: when, the track walked, the houses covered.

    ``track`` is a list of [lat, lng, time] points (time as ISO text or epoch milliseconds,
    or absent) or a GeoJSON LineString; ``houses`` are House objects or ids of the grid's
    houses (others are refused). Coverage counts a house on the day the walk started.
    """
    if not may_record_patrol(actor, grid):
        raise ActionRefused(_("You may not record walks of this grid."))
    now = timezone.now()
    ended_at = ended_at or now
    errors: dict[str, list] = {}
    if started_at is None or timezone.is_naive(started_at) or timezone.is_naive(ended_at):
        errors["started_at"] = [_("Give the times with their time zone.")]
    elif ended_at < started_at:
        errors["ended_at"] = [_("The walk ends before it starts.")]
    elif ended_at > now + timedelta(minutes=5):
        errors["ended_at"] = [_("The walk ends in the future.")]
    elif started_at < now - timedelta(days=31):
        errors["started_at"] = [_("Record a walk within a month of making it.")]
    elif ended_at - started_at > timedelta(hours=MAX_PATROL_HOURS):
        errors["ended_at"] = [_("A walk lasts at most 24 hours.")]
    try:
        points = clean_track(track)
    except (TypeError, ValueError, OverflowError):
        errors["track"] = [
            _("The track is a list of [latitude, longitude, time] points or a GeoJSON line.")
        ]
        points = []
    house_ids = set()
    for house in houses or ():
        try:
            house_ids.add(int(house.pk if isinstance(house, House) else house))
        except (TypeError, ValueError):
            errors["houses"] = [_("Choose houses of the grid.")]
            break
    if house_ids and "houses" not in errors:
        found = set(House.objects.filter(pk__in=house_ids, grid=grid).values_list("pk", flat=True))
        if found != house_ids:
            errors["houses"] = [_("Choose houses of the grid.")]
    notes = (notes or "").strip()
    if len(notes) > _MAX_TEXT:
        errors["notes"] = [_("The notes are longer than 4,000 characters.")]
    if errors:
        raise ValidationError(errors)
    day = timezone.localdate(started_at)
    with transaction.atomic():
        patrol = Patrol.objects.create(
            worker=actor,
            grid=grid,
            region_code=grid.code,
            started_at=started_at,
            ended_at=ended_at,
            track=points,
            length_m=track_length(points),
            notes=notes,
        )
        PatrolHouse.objects.bulk_create(
            [
                PatrolHouse(patrol=patrol, house_id=pk, day=day, region_code=grid.code)
                for pk in sorted(house_ids)
            ]
        )
        record_event(
            "inspection.patrol.record",
            actor=actor,
            target=patrol,
            scope_code=grid.code,
            after={
                "grid": grid.code,
                "started_at": started_at.isoformat(),
                "ended_at": ended_at.isoformat(),
                "points": len(points),
                "length_m": patrol.length_m,
                "houses": sorted(house_ids),
            },
        )
    return patrol
