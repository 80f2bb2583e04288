"""Every write of the campaigns app: campaigns and their steps, targets, checks.

Who may do what:

* create, start and close a campaign: the county centre anywhere in the county, a township
  command room (or leader) only within its own township — a role held *at* that unit with
  ``cases.handle`` (``core.scoping.acts_for_unit``), as for the unit's cases;
* add targets: whoever may report cases over the target's grid (``cases.report``: the grid's
  workers, village, township and county staff), while the campaign is not closed;
* record a check: the same people, while the campaign is under way. A hazard raises a case
  through ``cases.actions.do_report_case`` (the campaign's category, the target's grid and
  place, the grid-worker channel) in the check's transaction, linked from the check.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.campaigns import workflow
from civicgrid.campaigns.models import (
    Campaign,
    CampaignArea,
    CampaignCheck,
    CampaignStep,
    CampaignTarget,
)
from civicgrid.core.audit import record_event, snapshot
from civicgrid.core.errors import ActionRefused
from civicgrid.core.roles import ROLE_LEVEL
from civicgrid.core.scoping import can, scope_for
from civicgrid.regions.models import Grid, Region

__all__ = [
    "MAX_IMPORT_ROWS",
    "do_activate_campaign",
    "do_add_target",
    "do_add_targets",
    "do_add_targets_from_csv",
    "do_close_campaign",
    "do_create_campaign",
    "do_create_campaign_from_warning",
    "do_record_check",
    "may_check",
    "may_manage",
    "organiser_units",
]

COUNTY_CODE_LENGTH, TOWN_CODE_LENGTH = 6, 9
MAX_IMPORT_ROWS = 5000
_MAX_ITEMS = 50
_MAX_TEXT = 4000
_PERMISSION = "cases.handle"

# CSV columns: the first name of each is the one the template file uses.
CSV_COLUMNS = {
    "kind": ("type", "kind", "类型", "对象类型"),
    "label": ("object", "label", "name", "对象", "名称"),
    "address": ("address", "地址"),
    "grid": ("grid_code", "grid", "网格编码", "网格"),
    "lat": ("lat", "latitude", "纬度"),
    "lng": ("lng", "longitude", "经度"),
}


# --------------------------------------------------------------------------- who


def _county_code() -> str:
    county = Region.objects.filter(level=Region.Level.COUNTY).order_by("code").first()
    return county.code if county else ""


def organiser_units(actor) -> list[tuple[str, str]]:
    """The units ``actor`` organises campaigns for: ("county", code) and/or ("town", code)."""
    scope = scope_for(actor)
    units: list[tuple[str, str]] = []
    if scope.superuser or any(
        g.prefix == "" and _PERMISSION in g.permissions for g in scope.grants
    ):
        units.append((Campaign.OrganiserLevel.COUNTY, _county_code()))
    for grant in scope.grants:
        if _PERMISSION not in grant.permissions:
            continue
        level = ROLE_LEVEL.get(grant.role)
        if level == "county" and len(grant.prefix) == COUNTY_CODE_LENGTH:
            units.append((Campaign.OrganiserLevel.COUNTY, grant.prefix))
        elif level == "town" and len(grant.prefix) == TOWN_CODE_LENGTH:
            units.append((Campaign.OrganiserLevel.TOWN, grant.prefix))
    return sorted(set(units), key=lambda unit: (len(unit[1]), unit[1]))


def _may_organise_at(actor, code: str) -> bool:
    """A county unit over ``code`` or the township unit that is ``code``'s township."""
    return any(code.startswith(unit_code) for _level, unit_code in organiser_units(actor))


def may_manage(actor, campaign: Campaign) -> bool:
    """Start or close: the organising township, or the county centre over it."""
    return _may_organise_at(actor, campaign.region_code)


def may_check(actor, target: CampaignTarget) -> bool:
    return can(actor, "cases.report", region_code=target.region_code)


# --------------------------------------------------------------------------- cleaning


def _clean_items(value, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list | tuple) or not all(isinstance(i, str) for i in value):
        raise ValidationError({field: _("Give a list of short items.")})
    items = list(dict.fromkeys(item.strip() for item in value if item.strip()))
    if len(items) > _MAX_ITEMS or any(len(item) > 100 for item in items):
        raise ValidationError({field: _("At most 50 items of at most 100 characters each.")})
    return items


def _clean_point(lat, lng) -> tuple[float | None, float | None, str]:
    """(lat, lng, error): both or neither, numbers on the earth."""
    if lat in (None, "") and lng in (None, ""):
        return None, None, ""
    if lat in (None, "") or lng in (None, ""):
        return None, None, _("Give both latitude and longitude, or neither.")
    try:
        lat, lng = float(lat), float(lng)
    except (TypeError, ValueError):
        return None, None, _("The location is not a pair of numbers.")
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None, None, _("The location is outside the earth's coordinates.")
    return lat, lng, ""


def _scope_codes(region_codes, grids) -> tuple[list[str], list[str]]:
    """The areas as codes (redundant ones dropped) and the codes that name nothing."""
    codes = []
    for code in region_codes or ():
        code = str(code).strip()
        if code:
            codes.append(code)
    for grid in grids or ():
        codes.append(grid.code if isinstance(grid, Grid) else str(grid).strip())
    codes = sorted(set(codes))
    known = set(Region.objects.filter(code__in=codes).values_list("code", flat=True))
    known |= set(
        Grid.objects.filter(code__in=codes, active=True)
        .exclude(kind=Grid.Kind.MICRO)
        .values_list("code", flat=True)
    )
    unknown = [c for c in codes if c not in known]
    # A grid inside a township already listed adds nothing.
    kept = [c for c in codes if not any(c != o and c.startswith(o) for o in codes)]
    return kept, unknown


# --------------------------------------------------------------------------- campaigns


def do_create_campaign(
    *,
    actor,
    title: str,
    category,
    start: date,
    end: date,
    region_codes=(),
    grids=(),
    target_types=(),
    checklist=(),
    description: str = "",
    organiser_code: str | None = None,
    source: str = "",
) -> Campaign:
    """A campaign in draft over townships, villages and/or grids (codes or ``Grid`` objects).

    The organiser is the county centre or a township command room the actor acts for
    (``organiser_code`` picks one when the actor has several); a township's campaign stays
    inside the township.
    """
    units = organiser_units(actor)
    if not units:
        raise ActionRefused(
            _("Only the county centre or a township command room organises campaigns.")
        )
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = [_("Give the campaign a title.")]
    elif len(title) > 100:
        errors["title"] = [_("At most 100 characters.")]
    description = (description or "").strip()
    if len(description) > _MAX_TEXT:
        errors["description"] = [_("The description is longer than 4,000 characters.")]
    if category is None or not getattr(category, "is_leaf", False) or not category.active:
        errors["category"] = [_("Choose an active category of the second level.")]
    if not isinstance(start, date) or not isinstance(end, date):
        errors["start"] = [_("Give the start and end dates.")]
    elif end < start:
        errors["end"] = [_("The campaign ends before it starts.")]
    codes, unknown = _scope_codes(region_codes, grids)
    if unknown:
        errors["region_codes"] = [_("Unknown areas: %s") % ", ".join(unknown[:10])]
    elif not codes:
        errors["region_codes"] = [_("Choose the areas the campaign covers.")]
    try:
        target_types = _clean_items(target_types, "target_types")
        checklist = _clean_items(checklist, "checklist")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if organiser_code:
        unit = next((u for u in units if u[1] == organiser_code), None)
        if unit is None:
            raise ActionRefused(_("You do not act for this organiser."))
    else:
        # The narrowest unit that holds every area: a township's own campaign is the township's.
        unit = next(
            (u for u in reversed(units) if all(c.startswith(u[1]) for c in codes)), units[0]
        )
    outside = [c for c in codes if not c.startswith(unit[1])]
    if outside:
        if unit[0] == Campaign.OrganiserLevel.TOWN:
            raise ActionRefused(_("A township organises campaigns only within its township."))
        raise ActionRefused(_("These areas are outside the county: %s") % ", ".join(outside))
    now = timezone.now()
    if isinstance(source, dict | list):
        source = json.dumps(source, ensure_ascii=False, sort_keys=True)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            title=title,
            description=description,
            category=category,
            start=start,
            end=end,
            target_types=target_types,
            checklist=checklist,
            organiser_level=unit[0],
            region_code=unit[1],
            source=str(source or "")[:300],
            created_by=actor if actor is not None and actor.pk else None,
            created=now,
        )
        CampaignArea.objects.bulk_create([CampaignArea(campaign=campaign, code=c) for c in codes])
        CampaignStep.objects.create(
            campaign=campaign,
            action="create",
            to_state=campaign.state,
            actor=campaign.created_by,
            note=campaign.source,
            created=now,
        )
        record_event(
            "campaigns.campaign.create",
            actor=actor,
            target=campaign,
            scope_code=campaign.region_code,
            after={**snapshot(campaign), "areas": codes},
        )
    return campaign


def do_create_campaign_from_warning(
    *,
    actor,
    title: str,
    category_code: str,
    region_codes,
    start: date,
    end: date,
    description: str = "",
    source,
    target_types=(),
    checklist=(),
) -> Campaign:
    """Turn an early warning of the analysis end into a campaign (in draft, to be completed
    with targets and a checklist and started by its organiser). ``source`` names the warning
    (text, or a dict stored as JSON) and is kept on the campaign and its first step."""
    from civicgrid.cases.models import Category

    if not source:
        raise ValidationError({"source": _("Name the warning the campaign comes from.")})
    category = Category.objects.filter(code=str(category_code)).first()
    if category is None:
        raise ValidationError({"category": _("Unknown category %s.") % category_code})
    return do_create_campaign(
        actor=actor,
        title=title,
        category=category,
        start=start,
        end=end,
        region_codes=region_codes,
        description=description,
        source=source,
        target_types=target_types,
        checklist=checklist,
    )


def _step(campaign: Campaign, action: str, *, actor, note: str = "") -> Campaign:
    if not may_manage(actor, campaign):
        raise ActionRefused(_("Only the campaign's organiser may start or close it."))
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        from_state = campaign.state
        campaign.state = workflow.next_state(from_state, action)
        now = timezone.now()
        if action == "activate":
            campaign.activated_at = now
        elif action == "close":
            campaign.closed_at = now
        campaign.save(update_fields=["state", "activated_at", "closed_at"])
        CampaignStep.objects.create(
            campaign=campaign,
            action=action,
            from_state=from_state,
            to_state=campaign.state,
            actor=actor if actor is not None and actor.pk else None,
            note=note[:300],
            created=now,
        )
        record_event(
            f"campaigns.campaign.{action}",
            actor=actor,
            target=campaign,
            scope_code=campaign.region_code,
            before={"state": from_state},
            after={"state": campaign.state},
        )
    return campaign


def do_activate_campaign(campaign: Campaign, *, actor) -> Campaign:
    """Start the campaign: its targets appear in the workers' lists and checks are taken."""
    return _step(campaign, "activate", actor=actor)


def do_close_campaign(campaign: Campaign, *, actor, note: str = "") -> Campaign:
    """End the campaign: no more checks; hazards already raised go on as cases."""
    return _step(campaign, "close", actor=actor, note=note or "")


# --------------------------------------------------------------------------- targets


def _clean_target(campaign: Campaign, row: dict, areas: list[str]) -> tuple[dict, list[str]]:
    from civicgrid.regions.selectors import locate_grid

    problems = []
    kind = str(row.get("kind") or "").strip()
    label = str(row.get("label") or "").strip()
    address = str(row.get("address") or "").strip()
    if campaign.target_types and kind not in campaign.target_types:
        problems.append(
            _("the type must be one of: %s") % "、".join(campaign.target_types)
            if kind
            else _("give the type (one of: %s)") % "、".join(campaign.target_types)
        )
    elif not kind or len(kind) > 40:
        problems.append(_("give the type in at most 40 characters"))
    if not label or len(label) > 100:
        problems.append(_("name the object in at most 100 characters"))
    if len(address) > 200:
        problems.append(_("the address is longer than 200 characters"))
    lat, lng, point_error = _clean_point(row.get("lat"), row.get("lng"))
    if point_error:
        problems.append(point_error)
    grid = row.get("grid")
    if isinstance(grid, str):
        code = grid.strip()
        grid = Grid.objects.filter(code=code).first() if code else None
        if code and grid is None:
            problems.append(_("no grid has the code %s") % code)
    if grid is None and lat is not None and not point_error:
        grid_code, _micro = locate_grid(lat, lng)
        grid = Grid.objects.filter(code=grid_code).first() if grid_code else None
        if grid is None:
            problems.append(_("the place is not inside any grid"))
    if grid is None and not problems:
        problems.append(_("give the grid code or the place"))
    if grid is not None:
        if grid.is_micro or not grid.active:
            problems.append(_("choose an active grid, not a micro-grid"))
        elif not any(grid.code.startswith(area) for area in areas):
            problems.append(_("grid %s is outside the campaign's areas") % grid.code)
    data = {
        "kind": kind,
        "label": label,
        "address": address,
        "lat": lat,
        "lng": lng,
        "grid": grid,
    }
    return data, problems


def do_add_targets(campaign: Campaign, *, actor, rows) -> list[CampaignTarget]:
    """Add objects to check (each a dict: kind, label, address, grid (a ``Grid`` or code),
    lat, lng; the grid is found from the place when only the place is given). All or none:
    a problem in any row is reported row by row and nothing is added."""
    rows = list(rows)
    if not rows:
        raise ValidationError(_("There are no targets to add."))
    if len(rows) > MAX_IMPORT_ROWS:
        raise ValidationError(_("At most 5,000 targets at a time."))
    if campaign.state == workflow.CLOSED:
        raise ActionRefused(_("The campaign is closed: no targets can be added."))
    areas = campaign.scope_codes
    cleaned, problems = [], []
    for number, row in enumerate(rows, start=1):
        data, row_problems = _clean_target(campaign, row, areas)
        if not row_problems and not can(actor, "cases.report", region_code=data["grid"].code):
            raise ActionRefused(
                _("You may not add targets in grid %s.") % data["grid"].code
                if len(rows) == 1
                else _("Row %(row)d: you may not add targets in grid %(grid)s.")
                % {"row": number, "grid": data["grid"].code}
            )
        if row_problems:
            if len(rows) == 1:
                problems.extend(row_problems)
            else:
                problems.append(
                    _("Row %(row)d: %(problems)s")
                    % {"row": number, "problems": "; ".join(row_problems)}
                )
        cleaned.append(data)
    if problems:
        raise ValidationError(problems[:50])
    now = timezone.now()
    who = actor if actor is not None and actor.pk else None
    targets = [
        CampaignTarget(
            campaign=campaign,
            region_code=data["grid"].code,
            added_by=who,
            created=now,
            **data,
        )
        for data in cleaned
    ]
    with transaction.atomic():
        # The campaign may have closed meanwhile.
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.state == workflow.CLOSED:
            raise ActionRefused(_("The campaign is closed: no targets can be added."))
        targets = CampaignTarget.objects.bulk_create(targets, batch_size=500)
        if len(targets) == 1:
            record_event(
                "campaigns.target.add",
                actor=actor,
                target=targets[0],
                scope_code=targets[0].region_code,
                after=snapshot(targets[0]),
            )
        else:
            grids = sorted({t.region_code for t in targets})
            record_event(
                "campaigns.target.add_many",
                actor=actor,
                target=campaign,
                scope_code=campaign.region_code,
                after={"count": len(targets), "grids": grids[:200], "grid_count": len(grids)},
            )
    return targets


def do_add_target(campaign: Campaign, *, actor, **fields) -> CampaignTarget:
    """One object to check (see ``do_add_targets``)."""
    return do_add_targets(campaign, actor=actor, rows=[fields])[0]


def _header_map(header: list[str]) -> dict[str, int]:
    lookup = {}
    for index, name in enumerate(header):
        name = (name or "").strip().lstrip("\ufeff").lower()
        for field, names in CSV_COLUMNS.items():
            if name in names and field not in lookup:
                lookup[field] = index
    return lookup


def do_add_targets_from_csv(campaign: Campaign, *, actor, data) -> list[CampaignTarget]:
    """Targets from a CSV file (bytes or text, UTF-8 with or without BOM, or GB18030) with a
    header row naming the columns: type, object, address, grid_code, lat, lng (or their
    Chinese names 类型, 对象, 地址, 网格编码, 纬度, 经度). All rows or none."""
    if isinstance(data, bytes):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                data = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValidationError(_("The file is not UTF-8 or GB18030 text."))
    if "\x00" in data:  # no text column can hold it (PostgreSQL refuses it)
        raise ValidationError(_("The file is not a CSV table: %s") % "NUL (0x00)")
    try:
        reader = list(csv.reader(io.StringIO(data)))
    except csv.Error as exc:
        raise ValidationError(_("The file is not a CSV table: %s") % exc) from None
    reader = [row for row in reader if any(cell.strip() for cell in row)]
    if len(reader) < 2:
        raise ValidationError(_("The file has no rows under its header."))
    columns = _header_map(reader[0])
    if "label" not in columns or ("grid" not in columns and "lat" not in columns):
        raise ValidationError(
            _("The header must name at least the object and the grid code or the place.")
        )
    rows = []
    for cells in reader[1:]:
        rows.append(
            {
                field: (cells[index].strip() if index < len(cells) else "")
                for field, index in columns.items()
            }
        )
    return do_add_targets(campaign, actor=actor, rows=rows)


# --------------------------------------------------------------------------- checks


def _clean_answers(campaign: Campaign, answers) -> dict:
    answers = answers if answers is not None else {}
    if (
        not isinstance(answers, dict)
        or len(answers) > _MAX_ITEMS
        or not all(isinstance(k, str) and len(k) <= 100 for k in answers)
        or not all(isinstance(v, str | bool | int | None) for v in answers.values())
        or any(isinstance(v, str) and len(v) > 500 for v in answers.values())
    ):
        raise ValidationError(
            {"answers": _("Answer each checklist item with a short text, yes or no.")}
        )
    if campaign.checklist:
        unknown = [k for k in answers if k not in campaign.checklist]
        if unknown:
            raise ValidationError(
                {"answers": _("Not on the checklist: %s") % "、".join(unknown[:5])}
            )
    return answers


def do_record_check(
    target: CampaignTarget,
    *,
    actor,
    hazard: bool,
    answers: dict | None = None,
    notes: str = "",
    lat: float | None = None,
    lng: float | None = None,
    checked_at: datetime | None = None,
    description: str = "",
    photos=(),
    urgent: bool = False,
) -> CampaignCheck:
    """Record a check of ``target``; a hazard raises a case described by ``description``.

    The case is of the campaign's category, at the target's grid (and place, when the target
    has one), reported on the grid-worker channel; its description starts with the
    campaign's title in 【】. The check and the case commit together or not at all.
    """
    campaign = target.campaign
    if not may_check(actor, target):
        raise ActionRefused(_("You may not check targets in this grid."))
    if campaign.state != workflow.ACTIVE:
        raise ActionRefused(
            _("Checks are recorded only while the campaign is under way; it is “%s”.")
            % workflow.STATE_LABELS.get(campaign.state, campaign.state)
        )
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    if checked_at is None:
        checked_at = now
    elif timezone.is_naive(checked_at):
        errors["checked_at"] = [_("Give the time with its time zone.")]
    elif checked_at > now + timedelta(minutes=5):
        errors["checked_at"] = [_("The check time is in the future.")]
    elif checked_at < now - timedelta(days=31):
        errors["checked_at"] = [_("Record a check within a month of making it.")]
    if "checked_at" not in errors and timezone.localdate(checked_at) < campaign.start:
        errors["checked_at"] = [_("The campaign had not started then.")]
    lat, lng, point_error = _clean_point(lat, lng)
    if point_error:
        errors["location"] = [point_error]
    try:
        answers = _clean_answers(campaign, answers)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    notes = (notes or "").strip()
    if len(notes) > _MAX_TEXT:
        errors["notes"] = [_("The notes are longer than 4,000 characters.")]
    description = (description or "").strip()
    if hazard and not description:
        errors["description"] = [_("Describe the hazard: it becomes a case.")]
    elif len(description) > 3800:
        errors["description"] = [_("The description is longer than 3,800 characters.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        check = CampaignCheck(
            target=target,
            campaign=campaign,
            worker=actor,
            checked_at=checked_at,
            lat=lat,
            lng=lng,
            answers=answers,
            hazard=bool(hazard),
            notes=notes,
            region_code=target.region_code,
            created=now,
        )
        if hazard:
            from civicgrid.cases.actions import do_report_case

            check.case = do_report_case(
                actor=actor,
                channel="grid_worker",
                category=campaign.category,
                description=f"【{campaign.title}】{description}",
                lat=target.lat,
                lng=target.lng,
                grid=target.grid,
                address=(target.address or target.label)[:200],
                photos=photos,
                urgent=bool(urgent),
            )
        check.save()
        # A conditional update: two checks of one target at once both leave it "checked".
        CampaignTarget.objects.filter(pk=target.pk, state=CampaignTarget.State.PENDING).update(
            state=CampaignTarget.State.CHECKED
        )
        target.state = CampaignTarget.State.CHECKED
        record_event(
            "campaigns.check.record",
            actor=actor,
            target=check,
            scope_code=target.region_code,
            after=snapshot(check),
        )
    return check
