"""Tests for civicgrid.regions.geo (pure Python, no Django needed)."""

import math

import numpy as np
import pytest
import shapely
import shapely.affinity
from shapely.geometry import MultiPolygon, Polygon, box

from civicgrid.regions.geo import (
    CheckReport,
    GeometryError,
    GridLocator,
    area_m2,
    bbox_of,
    check_grid_features,
    gcj02_to_wgs84,
    gcj02_to_wgs84_many,
    geometry_from_geojson,
    geometry_to_geojson,
    wgs84_to_gcj02,
    wgs84_to_gcj02_many,
)

VILLAGE = "330281001001"
X0, Y0, STEP = 121.15, 30.04, 0.01  # 3x3 tiling around Yuyao, cells ~960 m x 1110 m


def ground_distance_m(lng1, lat1, lng2, lat2):
    """Haversine distance, good enough for sub-metre checks at these scales."""
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def cell(ix, iy):
    return box(X0 + ix * STEP, Y0 + iy * STEP, X0 + (ix + 1) * STEP, Y0 + (iy + 1) * STEP)


def grid_code(n):
    return f"{VILLAGE}{n:03d}"


def tiling():
    """[(code, polygon)] for a 3x3 tiling, codes ...001 to ...009 row by row."""
    out = []
    for iy in range(3):
        for ix in range(3):
            out.append((grid_code(iy * 3 + ix + 1), cell(ix, iy)))
    return out


def feature(code, geom):
    gj = geometry_to_geojson(geom) if not isinstance(geom, dict) else geom
    return {"type": "Feature", "properties": {"code": code}, "geometry": gj}


def village_container():
    return box(X0, Y0, X0 + 3 * STEP, Y0 + 3 * STEP)


# --- coordinate conversion -------------------------------------------------


def test_it_matches_published_reference_values():
    # Values published by independent implementations of the same formula.
    lng, lat = wgs84_to_gcj02(116.404, 39.915)
    assert lng == pytest.approx(116.41024449916938, abs=1e-9)
    assert lat == pytest.approx(39.91640428150164, abs=1e-9)
    lng, lat = wgs84_to_gcj02(116.39089, 39.90734)
    assert lng == pytest.approx(116.39713094, abs=1e-8)
    assert lat == pytest.approx(39.90874107, abs=1e-8)


def test_it_offsets_yuyao_by_a_few_hundred_metres():
    lng, lat = wgs84_to_gcj02(121.15, 30.04)
    offset = ground_distance_m(121.15, 30.04, lng, lat)
    assert 100 < offset < 700
    # GCJ-02 in this region shifts east and slightly south.
    assert lng > 121.15
    assert lat < 30.04


def test_it_is_identity_outside_china():
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(-74.0, 40.7) == (-74.0, 40.7)
    lngs, lats = gcj02_to_wgs84_many([2.35, -74.0], [48.85, 40.7])
    assert lngs.tolist() == [2.35, -74.0]
    assert lats.tolist() == [48.85, 40.7]


def test_it_round_trips_within_half_a_metre():
    rng = np.random.default_rng(7)
    lngs = rng.uniform(74, 134, 500)
    lats = rng.uniform(18, 53, 500)
    for lng, lat in zip(lngs, lats, strict=True):
        g = wgs84_to_gcj02(lng, lat)
        back = gcj02_to_wgs84(*g)
        assert ground_distance_m(lng, lat, *back) < 0.5
        assert abs(back[0] - lng) < 1e-7 and abs(back[1] - lat) < 1e-7


def test_it_vectorised_conversions_match_scalar():
    rng = np.random.default_rng(8)
    lngs = rng.uniform(100, 125, 300)
    lats = rng.uniform(20, 45, 300)
    g_lngs, g_lats = wgs84_to_gcj02_many(lngs, lats)
    w_lngs, w_lats = gcj02_to_wgs84_many(g_lngs, g_lats)
    for k in range(0, 300, 17):
        assert (g_lngs[k], g_lats[k]) == pytest.approx(wgs84_to_gcj02(lngs[k], lats[k]), abs=1e-12)
        assert (w_lngs[k], w_lats[k]) == pytest.approx(
            gcj02_to_wgs84(g_lngs[k], g_lats[k]), abs=1e-10
        )
    assert np.max(np.abs(w_lngs - lngs)) < 1e-7
    assert np.max(np.abs(w_lats - lats)) < 1e-7


# --- GridLocator -------------------------------------------------------------


@pytest.fixture
def locator():
    return GridLocator(tiling())


def test_it_locates_interior_and_outside_points(locator):
    assert len(locator) == 9
    assert locator.bounds == pytest.approx((X0, Y0, X0 + 3 * STEP, Y0 + 3 * STEP))
    # centre of cell (1, 1) -> code 005
    assert locator.locate(Y0 + 1.5 * STEP, X0 + 1.5 * STEP) == grid_code(5)
    assert locator.locate(Y0 + 0.5 * STEP, X0 + 2.5 * STEP) == grid_code(3)
    assert locator.locate(Y0 - 0.001, X0 + 0.005) is None
    assert locator.locate(Y0 + 4 * STEP, X0 + 4 * STEP) is None
    assert locator.locate(float("nan"), X0) is None


def test_it_resolves_border_points_to_first_entry(locator):
    # Shared edge between 001 (x in [X0, X0+STEP]) and 002.
    assert locator.locate(Y0 + 0.5 * STEP, X0 + STEP) == grid_code(1)
    # Corner shared by 001, 002, 004, 005.
    assert locator.locate(Y0 + STEP, X0 + STEP) == grid_code(1)
    # Outer edge still counts as inside.
    assert locator.locate(Y0, X0 + 0.5 * STEP) == grid_code(1)
    # Reversing entry order flips the winner: deterministic by entry order.
    rev = GridLocator(list(reversed(tiling())))
    assert rev.locate(Y0 + STEP, X0 + STEP) == grid_code(5)


def test_it_locates_gcj02_input(locator):
    # ~190 m west of the 005/006 border.
    lat, lng = Y0 + 1.5 * STEP, X0 + 2 * STEP - 0.002
    g_lng, g_lat = wgs84_to_gcj02(lng, lat)
    assert locator.locate(g_lat, g_lng, datum="gcj02") == grid_code(5)
    # Read as WGS-84 the same GCJ-02 numbers land ~430 m east, in cell 006.
    assert locator.locate(g_lat, g_lng) == grid_code(6)
    many = locator.locate_many([g_lat], [g_lng], datum="gcj02")
    assert many.tolist() == [grid_code(5)]
    with pytest.raises(ValueError):
        locator.locate(lat, lng, datum="bd09")


def test_it_locate_many_equals_locate_for_random_points(locator):
    rng = np.random.default_rng(3)
    n = 3000
    lats = rng.uniform(Y0 - STEP, Y0 + 4 * STEP, n)
    lngs = rng.uniform(X0 - STEP, X0 + 4 * STEP, n)
    # Put some points exactly on borders and corners, plus a NaN.
    lats[:50] = Y0 + rng.integers(0, 4, 50) * STEP
    lngs[50:100] = X0 + rng.integers(0, 4, 50) * STEP
    lats[100] = np.nan
    for datum in ("wgs84", "gcj02"):
        many = locator.locate_many(lats, lngs, datum=datum)
        assert isinstance(many, np.ndarray) and many.shape == (n,)
        single = [locator.locate(a, b, datum=datum) for a, b in zip(lats, lngs, strict=True)]
        assert many.tolist() == single
    assert many[100] is None
    found = sum(k is not None for k in many)
    assert 0 < found < n


def test_it_handles_non_string_keys_multipolygons_and_empty_locator():
    mp = MultiPolygon([box(0, 0, 1, 1), box(2, 0, 3, 1)])
    loc = GridLocator([((1, "a"), mp), (42, box(1, 0, 2, 1))])
    assert loc.locate(0.5, 2.5) == (1, "a")
    assert loc.locate(0.5, 1.5) == 42
    assert loc.locate_many([0.5, 0.5, 5], [0.5, 1.5, 5]).tolist() == [(1, "a"), 42, None]
    empty = GridLocator([])
    assert len(empty) == 0
    assert empty.locate(0, 0) is None
    assert empty.locate_many([0, 1], [0, 1]).tolist() == [None, None]
    with pytest.raises(GeometryError):
        GridLocator([("x", shapely.Point(0, 0))])


# --- geometry helpers ------------------------------------------------------------


def test_it_converts_geojson_both_ways():
    poly = Polygon([(121.123456789, 30.0), (121.2, 30.0), (121.2, 30.1), (121.123456789, 30.0)])
    gj = geometry_to_geojson(poly)
    assert gj["type"] == "Polygon"
    assert gj["coordinates"][0][0] == [121.1234568, 30.0]
    back = geometry_from_geojson({"type": "Feature", "properties": {}, "geometry": gj})
    assert back.equals_exact(poly, 1e-7)
    assert geometry_from_geojson(gj).geom_type == "Polygon"
    with pytest.raises(GeometryError):
        geometry_from_geojson({"type": "Feature", "properties": {}, "geometry": None})
    with pytest.raises(GeometryError):
        geometry_from_geojson({"type": "Polygon", "coordinates": [[[0, 0], [1]]]})


def test_it_computes_bbox_and_area():
    c = cell(0, 0)
    assert bbox_of(c) == pytest.approx([X0, Y0, X0 + STEP, Y0 + STEP])
    # 0.01 deg x 0.01 deg at 30.045N: ~963.5 m x ~1109.2 m.
    assert area_m2(c) == pytest.approx(963.5 * 1109.2, rel=2e-3)
    # A 1 km x 1 km square built in degrees.
    dlat = 1000 / 110_860
    dlng = 1000 / (111_320 * math.cos(math.radians(30.04)))
    assert area_m2(box(X0, Y0, X0 + dlng, Y0 + dlat)) == pytest.approx(1e6, rel=3e-3)


# --- check_grid_features -------------------------------------------------------------


def test_it_passes_a_clean_tiling():
    feats = [feature(code, geom) for code, geom in tiling()]
    report = check_grid_features(feats, containers={VILLAGE: village_container()})
    assert isinstance(report, CheckReport)
    assert report.ok, report.lines()
    assert report.bad_feature_indexes == []
    assert list(report) == []
    assert "no problems" in report.summary()


def test_it_catches_a_bow_tie_self_intersection():
    feats = [feature(code, geom) for code, geom in tiling()]
    x1, y1 = X0 + STEP, Y0 + STEP
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[X0, Y0], [x1, y1], [x1, Y0], [X0, y1], [X0, Y0]]],
    }
    feats[0] = feature(grid_code(1), bow_tie)
    report = check_grid_features(feats)
    assert not report.ok
    assert report.bad_feature_indexes == [0]
    (problem,) = report.for_feature(0)
    assert problem.code == "geometry_invalid"
    assert "Self-intersection" in problem.message
    assert str(problem).startswith(f"feature 0 (code {grid_code(1)}): invalid geometry")


def test_it_catches_an_overlap_with_area():
    feats = [feature(code, geom) for code, geom in tiling()]
    # Grow 001 by 0.002 deg to the east, into 002 (~0.002*0.01 deg2 ~ 21,400 m2).
    feats[0] = feature(grid_code(1), box(X0, Y0, X0 + STEP + 0.002, Y0 + STEP))
    report = check_grid_features(feats)
    assert report.bad_feature_indexes == [0, 1]
    p0 = [p for p in report.for_feature(0) if p.code == "overlap"]
    assert len(p0) == 1
    assert p0[0].other_code == grid_code(2)
    assert p0[0].area_m2 == pytest.approx(0.002 * STEP * 963.5 * 1109.2 / 1e-4, rel=5e-3)
    assert grid_code(2) in p0[0].message and "m²" in p0[0].message
    assert report.for_feature(1)[0].other_code == grid_code(1)
    # Below tolerance: nothing reported.
    quiet = check_grid_features(feats, tolerance_m2=1e6)
    assert quiet.ok


def test_it_catches_a_gap():
    feats = [feature(code, geom) for code, geom in tiling()]
    # Shrink 005 (the centre) so a ring around it is uncovered.
    feats[4] = feature(grid_code(5), cell(1, 1).buffer(-0.001, join_style="mitre"))
    report = check_grid_features(feats, containers={VILLAGE: village_container()})
    assert report.bad_feature_indexes == []
    (gap,) = report.gaps
    assert gap.code == "gap"
    assert gap.village_code == VILLAGE
    expected = area_m2(cell(1, 1)) - area_m2(cell(1, 1).buffer(-0.001, join_style="mitre"))
    assert gap.area_m2 == pytest.approx(expected, rel=1e-3)
    assert village_container().contains(shapely.Point(gap.point))
    assert not cell(1, 1).buffer(-0.001, join_style="mitre").contains(shapely.Point(gap.point))
    assert str(gap).startswith(f"village {VILLAGE}: ")
    assert not report.ok
    assert "gap=1" in report.summary()


def test_it_catches_a_duplicate_code():
    feats = [feature(code, geom) for code, geom in tiling()]
    feats[8] = feature(grid_code(1), cell(2, 2))
    report = check_grid_features(feats)
    assert report.bad_feature_indexes == [0, 8]
    assert [p.code for p in report.for_feature(8)] == ["code_duplicate"]
    assert "feature(s) 0" in report.for_feature(8)[0].message


def test_it_catches_a_part_outside_the_container():
    feats = [feature(code, geom) for code, geom in tiling()]
    # 003 sticks out 0.003 deg east of the village boundary.
    feats[2] = feature(grid_code(3), box(X0 + 2 * STEP, Y0, X0 + 3 * STEP + 0.003, Y0 + STEP))
    report = check_grid_features(feats, containers={VILLAGE: village_container()})
    assert report.bad_feature_indexes == [2]
    (p,) = report.for_feature(2)
    assert p.code == "outside_container"
    assert p.area_m2 == pytest.approx(area_m2(box(0, Y0, 0.003, Y0 + STEP)), rel=1e-3)
    assert p.point[0] > X0 + 3 * STEP
    assert report.gaps == []


def test_it_ignores_millimetre_slivers_but_not_real_gaps():
    feats = [feature(code, geom) for code, geom in tiling()]
    # The village boundary stored ~1 mm east of the grids' outline: 3.3 km long
    # strips of ~3.3 m² stick out on one side and are uncovered on the other.
    shifted = shapely.affinity.translate(village_container(), 1e-8, 0)
    report = check_grid_features(feats, containers={VILLAGE: shifted})
    assert report.ok, report.lines()
    strict = check_grid_features(feats, containers={VILLAGE: shifted}, sliver_m=0)
    assert sorted(p.code for p in strict) == [
        "gap",
        "outside_container",
        "outside_container",
        "outside_container",
    ]
    assert strict.gaps[0].area_m2 == pytest.approx(
        1e-8 * 3 * STEP * 963.5 * 1109.2 / 1e-4, rel=1e-2
    )
    # A 5 m wide missing strip is not a sliver.
    feats[2] = feature(grid_code(3), box(X0 + 2 * STEP, Y0, X0 + 3 * STEP - 5 / 96_350, Y0 + STEP))
    (gap,) = check_grid_features(feats, containers={VILLAGE: village_container()}).gaps
    assert gap.area_m2 == pytest.approx(5 * 1109.2, rel=1e-2)


def test_it_reports_bad_codes_and_geometries():
    good = cell(0, 0)
    feats = [
        feature(None, good),
        feature("33028100100", cell(1, 0)),  # 11 digits
        {"type": "Feature", "properties": {"code": grid_code(3)}, "geometry": None},
        feature(grid_code(4), {"type": "Point", "coordinates": [X0, Y0]}),
        feature(grid_code(5), box(13_500_000, 3_500_000, 13_501_000, 3_501_000)),
        "not a feature",
        feature(int(grid_code(7)), cell(0, 2)),  # integer codes are accepted
    ]
    report = check_grid_features(feats, containers={})
    codes = {i: [p.code for p in ps] for i, ps in report.by_feature().items()}
    assert codes == {
        0: ["code_missing"],
        1: ["code_invalid"],
        2: ["geometry_missing"],
        3: ["geometry_not_polygon"],
        4: ["geometry_out_of_range"],
        5: ["feature_malformed"],
    }
    assert report.counts()["code_missing"] == 1
    # Callers can add their own findings; iteration stays ordered by feature.
    report.add_problem(6, "unknown_village", "no village 330281001001")
    report.add_problem(0, "out_of_scope", "not yours")
    assert report.bad_feature_indexes == [0, 1, 2, 3, 4, 5, 6]
    assert [p.feature_index for p in report] == [0, 0, 1, 2, 3, 4, 5, 6]
    assert report.lines()[-1] == f"feature 6 (code {grid_code(7)}): no village 330281001001"
    assert "unknown_village=1" in report.summary()


def test_it_checks_1500_features_quickly():
    import time

    rng = np.random.default_rng(11)
    seeds = shapely.multipoints(rng.uniform([0, 0], [0.4, 0.4], (1500, 2)) + [X0, Y0])
    frame = box(X0, Y0, X0 + 0.4, Y0 + 0.4)
    cells = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame)), frame
    )
    # 1500 distinct 15-digit codes across two villages.
    feats = [feature(f"33028100100{1 + k // 1000}{k % 1000:03d}", c) for k, c in enumerate(cells)]
    start = time.perf_counter()
    report = check_grid_features(feats, containers={"330281001001": frame, "330281001002": frame})
    elapsed = time.perf_counter() - start
    # Both "villages" claim the whole frame, so each has a gap; no feature problems.
    assert report.bad_feature_indexes == []
    assert len(report.gaps) == 2
    assert elapsed < 5.0
