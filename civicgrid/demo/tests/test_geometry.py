"""Tests for the synthetic Yuyao demo geometry (pure Python, no Django needed)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import shapely

from civicgrid.demo import geometry as geo
from civicgrid.demo.geometry import (
    DEDICATED_PURPOSES,
    DemoGeometry,
    Divisions,
    area_km2,
    filter_divisions,
    generate_geometry,
    read_divisions,
)

DIVISIONS_CSV = Path(__file__).resolve().parents[1] / "data" / "yuyao_divisions.csv"

URBAN_STREETS = ("梨洲街道", "凤山街道", "兰江街道", "阳明街道")
MOUNTAIN_TOWNS = ("梁弄镇", "大岚镇", "四明山镇", "鹿亭乡")
PLAIN_TOWNS = (
    "泗门镇",
    "小曹娥镇",
    "临山镇",
    "黄家埠镇",
    "朗霞街道",
    "低塘街道",
    "马渚镇",
    "牟山镇",
)


@pytest.fixture(scope="module")
def divisions() -> Divisions:
    return read_divisions(DIVISIONS_CSV)


@pytest.fixture(scope="module")
def full(divisions) -> DemoGeometry:
    return generate_geometry(divisions)


@pytest.fixture(scope="module")
def small(divisions) -> DemoGeometry:
    return generate_geometry(divisions, scale=0.05)


def _all_polygons(g: DemoGeometry) -> list:
    polys = [g.county, *g.towns.values(), *g.villages.values()]
    for grid in g.grids:
        polys.append(grid.polygon)
        polys.extend(m.polygon for m in grid.micro_grids)
    return polys


def _wkb(g: DemoGeometry) -> list[bytes]:
    out = [shapely.to_wkb(g.county)]
    out += [code.encode() + shapely.to_wkb(p) for code, p in sorted(g.towns.items())]
    out += [code.encode() + shapely.to_wkb(p) for code, p in sorted(g.villages.items())]
    for grid in g.grids:
        out.append(f"{grid.code}|{grid.name}|{grid.kind}|{grid.purpose}".encode())
        out.append(shapely.to_wkb(grid.polygon))
        for m in grid.micro_grids:
            out.append(f"{m.code}|{m.name}".encode() + shapely.to_wkb(m.polygon))
    return out


def _assert_tiles(parent, children, label: str) -> None:
    children = list(children)
    assert children, label
    union = shapely.union_all(children)
    gap = shapely.symmetric_difference(union, parent).area / parent.area
    assert gap < 1e-6, f"{label}: union differs from parent by {gap:.2e} (relative area)"
    arr = np.array(children, dtype=object)
    tree = shapely.STRtree(arr)
    left, right = tree.query(arr, predicate="intersects")
    mask = left < right
    overlap = shapely.area(shapely.intersection(arr[left[mask]], arr[right[mask]])).sum()
    assert overlap / parent.area < 1e-9, f"{label}: children overlap by {overlap / parent.area:.2e}"


def test_it_reads_divisions(divisions):
    assert divisions.county.code == "330281"
    assert len(divisions.towns) == 21
    assert len(divisions.villages) == 326
    assert all(len(t.code) == 9 and t.code.startswith("330281") for t in divisions.towns)
    assert all(len(v.code) == 12 for v in divisions.villages)
    assert {t.town_type for t in divisions.towns} == {"街道", "镇", "乡"}


def test_it_generates_the_expected_counts_and_codes(divisions, full):
    assert len(full.towns) == 21
    assert set(full.towns) == {t.code for t in divisions.towns}
    assert len(full.villages) == 326
    assert set(full.villages) == {v.code for v in divisions.villages}
    assert len(full.grids) == geo.TOTAL_GRIDS == 1497

    codes = [g.code for g in full.grids]
    assert len(set(codes)) == len(codes)
    assert codes == sorted(codes)
    per_village = defaultdict(list)
    for g in full.grids:
        assert len(g.code) == 15 and g.code.isdigit()
        assert g.code[:12] == g.village_code
        assert g.village_code in full.villages
        assert g.kind in ("basic", "dedicated")
        per_village[g.village_code].append(int(g.code[12:]))
    assert set(per_village) == set(full.villages)
    for seqs in per_village.values():
        assert sorted(seqs) == list(range(1, len(seqs) + 1))

    micro_codes = []
    for g in full.grids:
        if g.micro_grids:
            assert 2 <= len(g.micro_grids) <= 6
        for k, m in enumerate(g.micro_grids, start=1):
            assert m.code == f"{g.code}{k:03d}" and len(m.code) == 18
            micro_codes.append(m.code)
    assert len(set(micro_codes)) == len(micro_codes)
    with_micro = sum(1 for g in full.grids if g.micro_grids)
    assert 0.08 <= with_micro / len(full.grids) <= 0.12

    names = [g.name for g in full.grids]
    assert len(set(names)) == len(names)


def test_it_gives_urban_communities_more_grids(divisions, full):
    vtypes = {v.code: v for v in divisions.villages}
    counts = Counter(g.village_code for g in full.grids)
    urban = [counts[c] for c, v in vtypes.items() if v.village_type in ("社区", "居委会")]
    rural = [
        counts[c] for c, v in vtypes.items() if v.village_type == "村" and v.town_type != "街道"
    ]
    street_villages = [
        counts[c] for c, v in vtypes.items() if v.village_type == "村" and v.town_type == "街道"
    ]
    assert min(counts.values()) >= 1
    assert np.mean(urban) > 1.5 * np.mean(rural)
    assert np.mean(street_villages) > np.mean(rural)


def test_it_tiles_every_level(full):
    _assert_tiles(full.county, full.towns.values(), "county")
    villages_by_town = defaultdict(list)
    for code, poly in full.villages.items():
        villages_by_town[code[:9]].append(poly)
    assert set(villages_by_town) == set(full.towns)
    for code, polys in villages_by_town.items():
        _assert_tiles(full.towns[code], polys, f"town {code}")
    grids_by_village = defaultdict(list)
    for g in full.grids:
        grids_by_village[g.village_code].append(g.polygon)
    for code, polys in grids_by_village.items():
        _assert_tiles(full.villages[code], polys, f"village {code}")
    for g in full.grids:
        if g.micro_grids:
            _assert_tiles(g.polygon, [m.polygon for m in g.micro_grids], f"grid {g.code}")


def test_it_makes_valid_rounded_polygons(full, small):
    for g in (full, small):
        polys = _all_polygons(g)
        assert all(p.geom_type == "Polygon" for p in polys)
        assert all(shapely.is_valid(polys))
        assert not any(shapely.is_empty(polys))
        coords = shapely.get_coordinates(polys)
        assert np.array_equal(coords, np.round(coords, 6))
        assert coords[:, 0].min() > 120.5 and coords[:, 0].max() < 121.8
        assert coords[:, 1].min() > 29.5 and coords[:, 1].max() < 30.6


def test_it_makes_a_plausible_county(full):
    county = full.county
    assert 1350 <= area_km2(county) <= 1650
    assert abs(county.centroid.x - 121.15) < 0.1
    assert abs(county.centroid.y - 30.04) < 0.1
    # irregular, not a convex blob
    assert county.area / county.convex_hull.area < 0.97
    assert len(shapely.get_coordinates(county)) > 100


def test_it_makes_urban_streets_small_and_mountain_towns_large(divisions, full):
    by_name = {t.name: full.towns[t.code] for t in divisions.towns}
    street_max = max(area_km2(by_name[n]) for n in URBAN_STREETS)
    mountain_min = min(area_km2(by_name[n]) for n in MOUNTAIN_TOWNS)
    assert street_max < mountain_min
    # the plain and the coast are north of the Siming mountains, the streets in between
    lat = {n: p.centroid.y for n, p in by_name.items()}
    assert min(lat[n] for n in ("泗门镇", "小曹娥镇", "临山镇")) > max(
        lat[n] for n in URBAN_STREETS
    )
    assert min(lat[n] for n in URBAN_STREETS) > max(lat[n] for n in ("大岚镇", "四明山镇"))
    lng = {n: p.centroid.x for n, p in by_name.items()}
    assert lng["河姆渡镇"] > lng["梨洲街道"] > lng["牟山镇"]
    streets = shapely.union_all([by_name[n] for n in URBAN_STREETS])
    assert streets.distance(full.county.centroid) < 0.05


def test_it_places_dedicated_grids_by_purpose(divisions, full):
    towns = {t.code: t for t in divisions.towns}
    villages = {v.code: v for v in divisions.villages}
    dedicated = [g for g in full.grids if g.kind == "dedicated"]
    assert set(g.purpose for g in dedicated) == set(DEDICATED_PURPOSES)
    assert 0.07 <= len(dedicated) / len(full.grids) <= 0.09
    assert all(g.purpose == "" for g in full.grids if g.kind == "basic")
    for g in dedicated:
        assert g.name.endswith("专属网格")
        village = villages[g.village_code]
        town = towns[village.parent_code].name
        if g.purpose == "industrial_park":
            assert town in PLAIN_TOWNS or town in (
                "丈亭镇",
                "三七市镇",
                "河姆渡镇",
                "大隐镇",
                "陆埠镇",
            )
        if g.purpose == "scenic_area":
            assert town in MOUNTAIN_TOWNS or town in (
                "丈亭镇",
                "三七市镇",
                "河姆渡镇",
                "大隐镇",
                "陆埠镇",
            )
        if g.purpose in ("school", "hospital", "market"):
            assert (
                village.village_type in ("社区", "居委会", "生活区") or village.town_type == "街道"
            )
    parks = Counter(
        towns[villages[g.village_code].parent_code].name
        for g in dedicated
        if g.purpose == "industrial_park"
    )
    assert sum(parks[n] for n in PLAIN_TOWNS) > 0.7 * sum(parks.values())


def test_it_is_deterministic(divisions, small):
    again = generate_geometry(divisions, scale=0.05)
    assert _wkb(again) == _wkb(small)
    other = generate_geometry(divisions, scale=0.05, seed=7)
    assert not shapely.equals_exact(other.county, small.county, 0)
    assert _wkb(other) != _wkb(small)


def test_it_is_deterministic_at_full_scale(divisions, full):
    again = generate_geometry(divisions)
    assert _wkb(again) == _wkb(full)


def test_it_generates_a_small_county(divisions):
    g = generate_geometry(divisions, scale=0.05)

    assert len(g.towns) == 21
    kept = filter_divisions(divisions, 0.05).villages
    assert set(g.villages) == {v.code for v in kept}
    per_town = Counter(v.parent_code for v in kept)
    total_per_town = Counter(v.parent_code for v in divisions.villages)
    for code, n in total_per_town.items():
        assert per_town[code] == max(1, round(n * 0.05))
    expected = max(round(geo.TOTAL_GRIDS * 0.05), len(kept))
    assert len(g.grids) == expected
    assert set(g.grids[i].village_code for i in range(len(g.grids))) == set(g.villages)
    assert {g.code[:12] for g in g.grids} <= set(g.villages)
    # same townships at another scale (up to the 6-decimal rounding of inserted vertices)
    other = generate_geometry(divisions, scale=0.2).towns
    for code, poly in g.towns.items():
        assert shapely.symmetric_difference(other[code], poly).area / poly.area < 1e-4


def test_it_tiles_at_small_scales(divisions):
    for scale in (0.05, 0.3):
        g = generate_geometry(divisions, scale=scale, seed=11)
        _assert_tiles(g.county, g.towns.values(), f"county@{scale}")
        by_town = defaultdict(list)
        for code, poly in g.villages.items():
            by_town[code[:9]].append(poly)
        for code, polys in by_town.items():
            _assert_tiles(g.towns[code], polys, f"town {code}@{scale}")
        by_village = defaultdict(list)
        for grid in g.grids:
            by_village[grid.village_code].append(grid.polygon)
        for code, polys in by_village.items():
            _assert_tiles(g.villages[code], polys, f"village {code}@{scale}")
        assert len(g.grids) == max(round(1497 * scale), len(g.villages))


def test_it_accepts_raw_csv_rows(divisions, small):
    rows = [
        {
            "level": d.level,
            "code": d.code,
            "name": d.name,
            "parent_code": d.parent_code,
            "parent_name": d.parent_name,
            "town_type": d.town_type,
            "village_type": d.village_type,
        }
        for d in [divisions.county, *divisions.towns, *divisions.villages]
    ]
    assert _wkb(generate_geometry(rows, scale=0.05)) == _wkb(small)


def test_it_handles_unknown_township_names(divisions):
    renamed = {
        t.code: geo.Division(**{**t.__dict__, "name": f"新{t.code[-3:]}镇"})
        for t in divisions.towns
    }
    div = Divisions(
        county=divisions.county,
        towns=list(renamed.values()),
        villages=divisions.villages,
    )
    g = generate_geometry(div, scale=0.05)
    assert len(g.towns) == 21
    _assert_tiles(g.county, g.towns.values(), "county")
    assert all(p.geom_type == "Polygon" and p.is_valid for p in g.towns.values())


def test_it_rejects_a_bad_scale(divisions):
    for bad in (0, -1, math.nan):
        with pytest.raises(ValueError):
            generate_geometry(divisions, scale=bad)
