"""Every write to regions and grids. Each checks scope, validates, audits."""

import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from civicgrid.core.audit import record_event, snapshot
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import can
from civicgrid.regions import geo
from civicgrid.regions.models import GeometrySource, GeometryVersion, Grid, Region

__all__ = [
    "GridImportResult",
    "do_create_grid",
    "do_create_region",
    "do_import_grids",
    "do_update_grid",
    "do_update_region",
]

_DIGITS = re.compile(r"^\d+$")
_GRID_FIELDS = {"name", "kind", "purpose", "geometry", "active"}
_REGION_FIELDS = {"name", "division_type", "geometry"}


def _require(actor, region_code: str, permission: str = "regions.change") -> None:
    if not can(actor, permission, region_code=region_code):
        raise ActionRefused(
            _("You may not change regions or grids at %(code)s.") % {"code": region_code}
        )


def _geometry_fields(geometry) -> dict:
    """Normalised GeoJSON and its bbox, or ValidationError for a bad boundary."""
    if geometry is None:
        return {"geometry": None, "bbox": None}
    try:
        shape = geo.geometry_from_geojson(geometry)
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ValidationError({"geometry": _("The boundary is not a GeoJSON polygon.")}) from None
    if shape.is_empty or shape.geom_type not in {"Polygon", "MultiPolygon"}:
        raise ValidationError({"geometry": _("The boundary is not a GeoJSON polygon.")})
    if not shape.is_valid:
        raise ValidationError({"geometry": _("The boundary is not a valid polygon.")})
    return {"geometry": geo.geometry_to_geojson(shape), "bbox": geo.bbox_of(shape)}


def _bump_geometry_version() -> None:
    updated = GeometryVersion.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        GeometryVersion.objects.create(pk=1, version=1)


def do_create_region(
    *,
    code: str,
    name: str,
    level: str,
    parent: Region | None,
    division_type: str = "",
    geometry=None,
    actor,
) -> Region:
    expected = Region.CODE_LENGTH.get(level)
    if expected is None:
        raise ValidationError({"level": _("Unknown level.")})
    if not (_DIGITS.match(code or "") and len(code) == expected):
        raise ValidationError(
            {
                "code": _("A %(level)s code has %(n)d digits.")
                % {"level": Region.Level(level).label, "n": expected}
            }
        )
    if level != Region.Level.COUNTY:
        if parent is None or not code.startswith(parent.code):
            raise ValidationError({"parent": _("The code must start with the parent's code.")})
    _require(actor, code)
    with transaction.atomic():
        if Region.objects.filter(code=code).exists():
            raise ValidationError({"code": _("This code is already used.")})
        region = Region.objects.create(
            code=code,
            name=name,
            level=level,
            parent=parent,
            division_type=division_type,
            geometry_source=GeometrySource.DRAWN if geometry else "",
            **_geometry_fields(geometry),
        )
        record_event(
            "regions.region.create",
            actor=actor,
            target=region,
            scope_code=code,
            after=snapshot(region),
        )
    return region


def do_update_region(region: Region, *, actor, **changes) -> Region:
    unknown = set(changes) - _REGION_FIELDS
    if unknown:
        raise ValidationError(_("These fields cannot be changed: %s") % ", ".join(sorted(unknown)))
    _require(actor, region.code)
    with transaction.atomic():
        region = Region.objects.select_for_update().get(pk=region.pk)
        before = snapshot(region)
        if "geometry" in changes:
            changes.update(_geometry_fields(changes["geometry"]))
            changes["geometry_source"] = GeometrySource.DRAWN if changes["geometry"] else ""
        for name, value in changes.items():
            setattr(region, name, value)
        region.save(update_fields=[*changes, "updated"])
        record_event(
            "regions.region.update",
            actor=actor,
            target=region,
            scope_code=region.code,
            before=before,
            after=snapshot(region),
        )
    return region


def _check_grid_code(code: str, village: Region, kind: str, parent: Grid | None) -> None:
    if kind == Grid.Kind.MICRO:
        if parent is None or parent.is_micro:
            raise ValidationError({"parent": _("A micro-grid belongs to a grid.")})
        if not (_DIGITS.match(code or "") and len(code) == 18 and code.startswith(parent.code)):
            raise ValidationError(
                {"code": _("A micro-grid code is its grid's 15-digit code plus 3 digits.")}
            )
        return
    if parent is not None:
        raise ValidationError({"parent": _("Only micro-grids have a parent grid.")})
    if village.level != Region.Level.VILLAGE:
        raise ValidationError({"village": _("A grid belongs to a village or community.")})
    if not (_DIGITS.match(code or "") and len(code) == 15 and code.startswith(village.code)):
        raise ValidationError(
            {"code": _("A grid code is the 12-digit village code plus a 3-digit sequence.")}
        )


def do_create_grid(
    *,
    code: str,
    name: str,
    village: Region,
    kind: str = Grid.Kind.BASIC,
    purpose: str = "",
    parent: Grid | None = None,
    geometry=None,
    actor,
) -> Grid:
    _check_grid_code(code, village, kind, parent)
    if kind == Grid.Kind.DEDICATED and not purpose:
        raise ValidationError({"purpose": _("A dedicated grid needs a purpose.")})
    if kind != Grid.Kind.DEDICATED and purpose:
        raise ValidationError({"purpose": _("Only dedicated grids have a purpose.")})
    _require(actor, code)
    with transaction.atomic():
        if Grid.objects.filter(code=code).exists():
            raise ValidationError({"code": _("This code is already used.")})
        grid = Grid.objects.create(
            code=code,
            name=name,
            village=village,
            kind=kind,
            purpose=purpose,
            parent=parent,
            geometry_source=GeometrySource.DRAWN if geometry else "",
            **_geometry_fields(geometry),
        )
        record_event(
            "regions.grid.create", actor=actor, target=grid, scope_code=code, after=snapshot(grid)
        )
        if geometry:
            _bump_geometry_version()
    return grid


def do_update_grid(grid: Grid, *, actor, **changes) -> Grid:
    unknown = set(changes) - _GRID_FIELDS
    if unknown:
        raise ValidationError(_("These fields cannot be changed: %s") % ", ".join(sorted(unknown)))
    _require(actor, grid.code)
    with transaction.atomic():
        grid = Grid.objects.select_for_update().get(pk=grid.pk)
        before = snapshot(grid)
        if "geometry" in changes:
            changes.update(_geometry_fields(changes["geometry"]))
            changes["geometry_source"] = GeometrySource.DRAWN if changes["geometry"] else ""
        for name, value in changes.items():
            setattr(grid, name, value)
        if grid.kind == Grid.Kind.DEDICATED and not grid.purpose:
            raise ValidationError({"purpose": _("A dedicated grid needs a purpose.")})
        if grid.kind != Grid.Kind.DEDICATED:
            grid.purpose = ""
            changes.setdefault("purpose", "")
        grid.save(update_fields=[*changes, "updated"])
        record_event(
            "regions.grid.update",
            actor=actor,
            target=grid,
            scope_code=grid.code,
            before=before,
            after=snapshot(grid),
        )
        if {"geometry", "active"} & set(changes):
            _bump_geometry_version()
    return grid


@dataclass
class GridImportResult:
    report: "geo.CheckReport"
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    applied: bool = False


def _feature_code(feature) -> str:
    """The code a feature claims ("" for a feature or properties that are not objects:
    ``check_grid_features`` reports those)."""
    props = feature.get("properties") if isinstance(feature, dict) else None
    return str((props if isinstance(props, dict) else {}).get("code") or "")


def do_import_grids(features: list[dict], *, actor, skip_bad: bool = False) -> GridImportResult:
    """Create or update grids from GeoJSON features (``properties``: code, name, kind, purpose).

    The boundaries are checked first (self-intersections, overlaps, gaps, parts outside the
    village). With problems nothing is imported, unless ``skip_bad``: then the bad features
    are left out and the rest imported. Every grid written gets its own audit event.
    """
    codes = [_feature_code(f) for f in features]
    villages = {
        r.code: r
        for r in Region.objects.filter(
            level=Region.Level.VILLAGE, code__in={c[:12] for c in codes if len(c) >= 12}
        )
    }
    containers = {
        code: geo.geometry_from_geojson(v.geometry) for code, v in villages.items() if v.geometry
    }
    report = geo.check_grid_features(features, containers=containers)
    result = GridImportResult(report=report)
    bad = set(report.bad_feature_indexes)
    for index, code in enumerate(codes):
        if index not in bad and code[:12] not in villages:
            bad.add(index)
            report.add_problem(
                index,
                "unknown_village",
                _("No village or community has code %(code)s.") % {"code": code[:12]},
            )
    for index, code in enumerate(codes):
        if index not in bad and not can(actor, "regions.change", region_code=code):
            bad.add(index)
            report.add_problem(
                index, "out_of_scope", _("You may not change grid %(code)s.") % {"code": code}
            )
    # Kind, purpose and name are checked before anything is written, so that without
    # ``skip_bad`` a bad one refuses the whole file (and a name fits its column).
    for index, feature in enumerate(features):
        if index in bad:
            continue
        props = feature.get("properties") or {}
        kind = props.get("kind") or Grid.Kind.BASIC
        purpose = props.get("purpose") or ""
        name = props.get("name") or codes[index]
        if (
            kind not in Grid.Kind.values
            or kind == Grid.Kind.MICRO
            or purpose not in Grid.Purpose.values
            or (kind == Grid.Kind.DEDICATED) != bool(purpose)
        ):
            bad.add(index)
            report.add_problem(
                index,
                "bad_kind",
                _("Unknown kind or purpose (a dedicated grid, and only it, has a purpose)."),
            )
        elif not isinstance(name, str) or len(name) > 100 or "\x00" in name:
            bad.add(index)
            report.add_problem(
                index, "bad_name", _("The name must be text of at most 100 characters.")
            )
    if (bad or report.gaps) and not skip_bad:
        return result
    with transaction.atomic():
        existing = {g.code: g for g in Grid.objects.select_for_update().filter(code__in=codes)}
        for index, feature in enumerate(features):
            code = codes[index]
            if index in bad:
                result.skipped.append(code)
                continue
            props = feature.get("properties") or {}
            kind = props.get("kind") or Grid.Kind.BASIC
            purpose = props.get("purpose") or ""
            if (
                kind not in Grid.Kind.values
                or kind == Grid.Kind.MICRO
                or purpose not in Grid.Purpose.values
                or (kind == Grid.Kind.DEDICATED) != bool(purpose)
            ):
                result.skipped.append(code)
                report.add_problem(
                    index,
                    "bad_kind",
                    _("Unknown kind or purpose (a dedicated grid, and only it, has a purpose)."),
                )
                continue
            fields = _geometry_fields(feature.get("geometry"))
            grid = existing.get(code)
            if grid is None:
                grid = Grid.objects.create(
                    code=code,
                    name=props.get("name") or code,
                    village=villages[code[:12]],
                    kind=kind,
                    purpose=purpose,
                    geometry_source=GeometrySource.IMPORTED,
                    **fields,
                )
                record_event(
                    "regions.grid.import",
                    actor=actor,
                    target=grid,
                    scope_code=code,
                    after=snapshot(grid),
                )
                result.created.append(code)
            else:
                before = snapshot(grid)
                grid.name = props.get("name") or grid.name
                grid.kind, grid.purpose = kind, purpose
                grid.geometry, grid.bbox = fields["geometry"], fields["bbox"]
                grid.geometry_source = GeometrySource.IMPORTED
                grid.save(
                    update_fields=[
                        "name",
                        "kind",
                        "purpose",
                        "geometry",
                        "bbox",
                        "geometry_source",
                        "updated",
                    ]
                )
                record_event(
                    "regions.grid.import",
                    actor=actor,
                    target=grid,
                    scope_code=code,
                    before=before,
                    after=snapshot(grid),
                )
                result.updated.append(code)
        _bump_geometry_version()
    result.applied = True
    return result
