import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from civicgrid.core.models import AuditEvent
from civicgrid.regions import geo
from civicgrid.regions.actions import do_create_grid, do_import_grids, do_update_grid
from civicgrid.regions.models import Grid, Region
from civicgrid.regions.selectors import locate_grid


def _village(prefix="330281001"):
    return Region.objects.filter(level="village", code__startswith=prefix).order_by("code").first()


def _grids(village):
    return list(Grid.objects.filter(village=village).exclude(kind="micro").order_by("code"))


@pytest.mark.parametrize(
    "code, kind, purpose, message",
    [
        ("330281001", "basic", "", "12-digit village code plus a 3-digit"),
        ("330281002001001", "basic", "", "12-digit village code plus a 3-digit"),
        ("{v}99x", "basic", "", "12-digit village code plus a 3-digit"),
        ("{v}990", "dedicated", "", "needs a purpose"),
        ("{v}990", "basic", "school", "Only dedicated grids"),
    ],
)
def test_it_validates_new_grids(personas, code, kind, purpose, message):
    village = _village()
    with pytest.raises(ValidationError, match=message):
        do_create_grid(
            code=code.format(v=village.code),
            name="新网格",
            village=village,
            kind=kind,
            purpose=purpose,
            actor=personas.lizhou,
        )


def test_it_creates_a_dedicated_grid_and_audits(personas):
    village = _village()
    grid = do_create_grid(
        code=village.code + "990",
        name="某某学校专属网格",
        village=village,
        kind="dedicated",
        purpose="school",
        actor=personas.lizhou,
    )
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.target_id, event.scope_code) == (
        "regions.grid.create",
        str(grid.pk),
        grid.code,
    )
    with pytest.raises(ValidationError, match="already used"):
        do_create_grid(code=grid.code, name="x", village=village, actor=personas.lizhou)


def test_it_rejects_a_self_intersecting_boundary(personas):
    grid = _grids(_village())[0]
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[121, 30], [121.01, 30.01], [121.01, 30], [121, 30.01], [121, 30]]],
    }
    with pytest.raises(ValidationError, match="not a valid polygon"):
        do_update_grid(grid, actor=personas.lizhou, geometry=bow_tie)
    with pytest.raises(ValidationError, match="GeoJSON polygon"):
        do_update_grid(grid, actor=personas.lizhou, geometry={"type": "Point", "coordinates": [1]})


def test_it_locates_points_and_follows_boundary_changes(personas):
    grids = [g for g in Grid.objects.exclude(kind="micro").order_by("code") if g.geometry]
    for grid in grids[:20]:
        point = geo.geometry_from_geojson(grid.geometry).representative_point()
        assert locate_grid(point.y, point.x)[0] == grid.code
    assert locate_grid(0.0, 0.0) == (None, None)
    # The same place given in GCJ-02 (as an Amap phone map reports it) finds the same grid.
    point = geo.geometry_from_geojson(grids[0].geometry).representative_point()
    gcj_lng, gcj_lat = geo.wgs84_to_gcj02(point.x, point.y)
    assert locate_grid(gcj_lat, gcj_lng, datum="gcj02")[0] == grids[0].code
    # Move grid 0's boundary onto a far-away square: the index is rebuilt without a restart.
    square = {
        "type": "Polygon",
        "coordinates": [[[120, 29], [120.01, 29], [120.01, 29.01], [120, 29.01], [120, 29]]],
    }
    do_update_grid(grids[0], actor=personas.county, geometry=square)
    assert locate_grid(29.005, 120.005)[0] == grids[0].code
    assert locate_grid(point.y, point.x)[0] != grids[0].code


def test_it_finds_micro_grids_inside_grids(db):
    micro = Grid.objects.filter(kind="micro").select_related("parent").first()
    point = geo.geometry_from_geojson(micro.geometry).representative_point()
    assert locate_grid(point.y, point.x) == (micro.parent.code, micro.code)


def _export(actor, region):
    out = io.StringIO()
    call_command("export_grids", "--as", actor, "--region", region, stdout=out)
    return json.loads(out.getvalue())


def test_it_round_trips_an_export_through_an_import(personas, tmp_path):
    village = _village()
    data = _export("county", village.code)
    data["features"][0]["properties"]["name"] = "改名网格"
    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps(data, ensure_ascii=False))
    out = io.StringIO()
    call_command("import_grids", str(path), "--as", "lizhou", stdout=out)
    assert f"created 0, updated {len(data['features'])}, skipped 0" in out.getvalue()
    assert Grid.objects.get(code=data["features"][0]["properties"]["code"]).name == "改名网格"


def test_it_imports_nothing_when_a_feature_is_bad(personas, tmp_path):
    village = max(
        Region.objects.filter(level="village", code__startswith="330281001"),
        key=lambda v: len(_grids(v)),
    )
    data = _export("county", village.code)
    first, second, third = data["features"][:3]
    # A bow-tie around the first feature's inner point; the second given the third's shape
    # (an overlap, which also leaves a gap where the second used to be).
    x, y = geo.geometry_from_geojson(first["geometry"]).representative_point().coords[0]
    d = 0.0005
    first["geometry"] = {
        "type": "Polygon",
        "coordinates": [
            [[x - d, y - d], [x + d, y + d], [x + d, y - d], [x - d, y + d], [x - d, y - d]]
        ],
    }
    first["properties"]["name"] = "坏网格"
    second["geometry"] = third["geometry"]
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(data, ensure_ascii=False))
    out = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_grids", str(path), "--as", "lizhou", stdout=out)
    report = out.getvalue()
    assert f"feature 0 (code {first['properties']['code']})" in report
    assert "self-intersection" in report.lower()
    assert f"feature 1 (code {second['properties']['code']}): overlaps feature 2" in report
    assert f"village {village.code}" in report and "not covered" in report
    assert not Grid.objects.filter(name="坏网格").exists()


def test_it_skips_bad_features_when_told(personas):
    village = _village()
    data = _export("county", village.code)
    data["features"][0]["geometry"] = {"type": "Point", "coordinates": [121, 30]}
    data["features"][1]["properties"]["name"] = "好网格"
    result = do_import_grids(data["features"], actor=personas.lizhou, skip_bad=True)
    assert result.applied and result.skipped == [data["features"][0]["properties"]["code"]]
    assert Grid.objects.get(code=data["features"][1]["properties"]["code"]).name == "好网格"


def test_it_rejects_unreadable_files(personas, tmp_path):
    path = tmp_path / "x.geojson"
    path.write_text("{not json")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_grids", str(path), "--as", "county")
    path.write_text('{"type": "Feature"}')
    with pytest.raises(CommandError, match="not a GeoJSON FeatureCollection"):
        call_command("import_grids", str(path), "--as", "county")
