"""Synthetic demo geometry for 余姚市 (Yuyao, 330281).

No public source gives township, village or grid boundaries for Yuyao, so every polygon made
here is SYNTHETIC: a noisy blob of about 1,500 km² around 121.15°E 30.04°N, split into
townships, villages/communities, grids (网格) and micro-grids (微网格) by seeded, weighted
Voronoi subdivisions. Only the names and codes are real (see ``read_divisions``).

The module is pure Python (numpy, scipy, shapely); it does not import Django.

Guarantees of :func:`generate_geometry`:

* every polygon is a valid shapely ``Polygon`` in WGS-84 lng/lat (a few may have holes where
  a neighbour is an enclave), coordinates rounded to 6 decimals (``GRID_SIZE``);
* townships tile the county, villages tile their township, grids tile their village and
  micro-grids tile their grid. Children are clipped from their parent in full precision, then
  all polygons are noded together (a vertex lying on another polygon's edge is inserted there)
  and rounded, so shared boundaries have identical vertices and the tilings stay exact;
* the output only depends on ``(divisions, seed, scale)``.
"""

from __future__ import annotations

import csv
import heapq
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.spatial import Delaunay
from shapely import affinity
from shapely.geometry import Polygon

__all__ = [
    "COUNTY_AREA_KM2",
    "DEDICATED_PURPOSES",
    "DEFAULT_SEED",
    "GRID_SIZE",
    "TOTAL_GRIDS",
    "DemoGeometry",
    "Division",
    "Divisions",
    "GridSpec",
    "MicroGridSpec",
    "area_km2",
    "filter_divisions",
    "generate_geometry",
    "read_divisions",
    "to_km",
]

DEFAULT_SEED = 20241126
TOTAL_GRIDS = 1497  # grids (basic + dedicated) at scale=1.0; micro-grids not counted
COUNTY_AREA_KM2 = 1500.0
DEDICATED_SHARE = 0.08
MICRO_SHARE = 0.10
GRID_SIZE = 1e-6  # coordinate precision in degrees (6 decimals)

# Local equirectangular projection used for areas, distances and Voronoi diagrams.
LNG0 = 121.15
LAT0 = 30.04
KM_PER_DEG_LNG = 111.32 * math.cos(math.radians(LAT0))
KM_PER_DEG_LAT = 110.57

DEDICATED_PURPOSES = (
    "industrial_park",
    "school",
    "hospital",
    "market",
    "scenic_area",
    "enterprise",
)
# Share of the dedicated grids per purpose (sums to 1).
_PURPOSE_SHARE = {
    "industrial_park": 0.22,
    "enterprise": 0.20,
    "school": 0.22,
    "hospital": 0.10,
    "market": 0.14,
    "scenic_area": 0.12,
}
_BIG_PURPOSES = {"industrial_park", "scenic_area"}

URBAN_VILLAGE_TYPES = {"社区", "居委会", "生活区"}

# Rough township layout: (u, v, relative area, zone). u is west→east and v south→north, both
# in units of the county's semi-axes, (0, 0) being the city centre at 121.15°E 30.04°N.
# Areas are loosely based on the real ones, with the four central streets shrunk.
_TOWN_PROFILES: dict[str, tuple[float, float, float, str]] = {
    "梨洲": (-0.20, -0.02, 40.0, "urban"),
    "凤山": (-0.08, 0.16, 25.0, "urban"),
    "兰江": (0.02, -0.10, 30.0, "urban"),
    "阳明": (0.14, 0.08, 35.0, "urban"),
    "低塘": (0.40, 0.48, 45.0, "plain"),
    "朗霞": (0.12, 0.52, 55.0, "plain"),
    "临山": (-0.62, 0.58, 95.0, "plain"),
    "黄家埠": (-0.88, 0.40, 65.0, "plain"),
    "小曹娥": (-0.02, 0.88, 70.0, "plain"),
    "泗门": (-0.32, 0.76, 85.0, "plain"),
    "马渚": (-0.50, 0.18, 100.0, "plain"),
    "牟山": (-0.86, 0.02, 60.0, "plain"),
    "丈亭": (0.66, 0.02, 75.0, "hills"),
    "三七市": (0.62, 0.30, 60.0, "hills"),
    "河姆渡": (0.90, -0.14, 70.0, "hills"),
    "大隐": (0.74, -0.42, 65.0, "hills"),
    "陆埠": (0.34, -0.32, 150.0, "hills"),
    "梁弄": (-0.50, -0.36, 110.0, "mountain"),
    "大岚": (-0.08, -0.86, 85.0, "mountain"),
    "四明山": (-0.56, -0.74, 70.0, "mountain"),
    "鹿亭": (0.32, -0.72, 90.0, "mountain"),
}
_DEFAULT_TOWN_AREA = {"街道": 35.0, "镇": 75.0, "乡": 80.0}

_TOWN_ATOMS = 3000  # atoms of the township subdivision (independent of scale)
_VILLAGE_ATOMS_PER_CHILD = 16
_VILLAGE_MIN_ATOMS = 48


# --------------------------------------------------------------------------------------
# Public data classes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Division:
    """One row of ``yuyao_divisions.csv``."""

    level: str  # county | town | village
    code: str
    name: str
    parent_code: str = ""
    parent_name: str = ""
    town_type: str = ""  # 街道 / 镇 / 乡 (for towns and villages)
    village_type: str = ""  # 村 / 社区 / 居委会 / 生活区 (villages only)


@dataclass
class Divisions:
    county: Division
    towns: list[Division]
    villages: list[Division]


@dataclass
class MicroGridSpec:
    code: str  # 18 digits: parent grid code + 3-digit sequence
    name: str
    polygon: Polygon


@dataclass
class GridSpec:
    code: str  # 15 digits: 12-digit village code + 3-digit sequence
    name: str
    village_code: str
    kind: str  # "basic" | "dedicated"
    purpose: str  # "" for basic grids, one of DEDICATED_PURPOSES otherwise
    polygon: Polygon
    micro_grids: list[MicroGridSpec] = field(default_factory=list)


@dataclass
class DemoGeometry:
    county: Polygon
    towns: dict[str, Polygon]  # 9-digit code -> polygon
    villages: dict[str, Polygon]  # 12-digit code -> polygon (kept villages only)
    grids: list[GridSpec]  # sorted by code


# --------------------------------------------------------------------------------------
# Reading and filtering divisions
# --------------------------------------------------------------------------------------


def read_divisions(path: str | os.PathLike[str]) -> Divisions:
    """Parse ``yuyao_divisions.csv`` (utf-8, header row) into :class:`Divisions`."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return _coerce_divisions(list(csv.DictReader(fh)))


def _row_to_division(row: Division | Mapping[str, str]) -> Division:
    if isinstance(row, Division):
        return row
    return Division(
        level=(row.get("level") or "").strip(),
        code=(row.get("code") or "").strip(),
        name=(row.get("name") or "").strip(),
        parent_code=(row.get("parent_code") or "").strip(),
        parent_name=(row.get("parent_name") or "").strip(),
        town_type=(row.get("town_type") or "").strip(),
        village_type=(row.get("village_type") or "").strip(),
    )


def _coerce_divisions(divisions: Divisions | Iterable[Division | Mapping[str, str]]) -> Divisions:
    if isinstance(divisions, Divisions):
        return divisions
    county = None
    towns: list[Division] = []
    villages: list[Division] = []
    for raw in divisions:
        row = _row_to_division(raw)
        if row.level == "county":
            county = row
        elif row.level == "town":
            towns.append(row)
        elif row.level == "village":
            villages.append(row)
        else:
            raise ValueError(f"unknown division level {row.level!r} for {row.code}")
    if county is None:
        raise ValueError("divisions contain no county row")
    return Divisions(county=county, towns=towns, villages=villages)


def filter_divisions(divisions: Divisions | Iterable, scale: float = 1.0) -> Divisions:
    """Return the divisions kept at ``scale``: all towns, a proportional subset of villages.

    At ``scale >= 1`` every village is kept. Below, each township keeps
    ``max(1, round(n * scale))`` of its ``n`` villages, evenly spaced in code order (the choice
    does not depend on the seed).
    """
    div = _coerce_divisions(divisions)
    _check_scale(scale)
    towns = sorted(div.towns, key=lambda t: t.code)
    town_codes = {t.code for t in towns}
    by_town: dict[str, list[Division]] = {t.code: [] for t in towns}
    for v in div.villages:
        if v.parent_code not in town_codes:
            raise ValueError(f"village {v.code} has unknown township {v.parent_code}")
        by_town[v.parent_code].append(v)
    kept: list[Division] = []
    for t in towns:
        vs = sorted(by_town[t.code], key=lambda v: v.code)
        if scale >= 1.0 or not vs:
            kept.extend(vs)
            continue
        k = max(1, min(len(vs), int(round(len(vs) * scale))))
        kept.extend(vs[int((j + 0.5) * len(vs) / k)] for j in range(k))
    return Divisions(county=div.county, towns=towns, villages=kept)


def _check_scale(scale: float) -> None:
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive number, got {scale!r}")


# --------------------------------------------------------------------------------------
# Projection helpers
# --------------------------------------------------------------------------------------


def to_km(geom):
    """Project lng/lat geometry (or array of geometries) to the local km plane."""
    return shapely.transform(geom, lambda c: (c - (LNG0, LAT0)) * (KM_PER_DEG_LNG, KM_PER_DEG_LAT))


def _to_deg(geom):
    return shapely.transform(geom, lambda c: c / (KM_PER_DEG_LNG, KM_PER_DEG_LAT) + (LNG0, LAT0))


def area_km2(geom) -> float:
    """Area in km² of a lng/lat geometry (local equirectangular projection)."""
    return float(shapely.area(geom)) * KM_PER_DEG_LNG * KM_PER_DEG_LAT


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed % (1 << 63), *keys]))


# --------------------------------------------------------------------------------------
# Generic seeded partition of a polygon
# --------------------------------------------------------------------------------------


class _PartitionError(RuntimeError):
    pass


def _sample_points(poly_km, m: int, rng: np.random.Generator) -> np.ndarray:
    minx, miny, maxx, maxy = poly_km.bounds
    ratio = (maxx - minx) * (maxy - miny) / max(poly_km.area, 1e-12)
    chunks: list[np.ndarray] = []
    got = 0
    while got < m:
        k = int((m - got) * ratio * 1.3) + 16
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(k, 2))
        xy = xy[shapely.contains_xy(poly_km, xy[:, 0], xy[:, 1])]
        chunks.append(xy)
        got += len(xy)
    return np.concatenate(chunks)[:m]


def _voronoi_cells(pts: np.ndarray, poly_km) -> np.ndarray:
    minx, miny, maxx, maxy = poly_km.bounds
    pad = max(maxx - minx, maxy - miny) + 1.0
    env = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    diagram = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=env, ordered=True)
    cells = shapely.get_parts(diagram)
    if len(cells) != len(pts):
        raise _PartitionError("degenerate Voronoi diagram")
    return cells


def _lloyd(pts: np.ndarray, poly_km, rounds: int) -> np.ndarray:
    for _ in range(rounds):
        clipped = shapely.intersection(_voronoi_cells(pts, poly_km), poly_km)
        cen = shapely.get_coordinates(shapely.centroid(clipped))
        if len(cen) != len(pts):
            raise _PartitionError("empty Lloyd cell")
        outside = ~shapely.contains_xy(poly_km, cen[:, 0], cen[:, 1])
        if outside.any():
            cen[outside] = shapely.get_coordinates(shapely.point_on_surface(clipped[outside]))
        pts = cen
    return pts


def _grow(indptr, indices, lengths, seed_atoms, head_starts) -> list[int]:
    """Multi-source Dijkstra over the atom graph where region i starts ``head_starts[i]`` early.

    Atoms are claimed by the first region to reach them, so every region stays connected and
    always keeps its own seed atom.
    """
    owner = [-1] * (len(indptr) - 1)
    for i, a in enumerate(seed_atoms):
        owner[a] = i
    heap = []
    for i, a in enumerate(seed_atoms):
        for k in range(indptr[a], indptr[a + 1]):
            if owner[indices[k]] < 0:
                heap.append((lengths[k] - head_starts[i], lengths[k], indices[k], i))
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        _, d, a, i = pop(heap)
        if owner[a] >= 0:
            continue
        owner[a] = i
        h = head_starts[i]
        for k in range(indptr[a], indptr[a + 1]):
            b = indices[k]
            if owner[b] < 0:
                nd = d + lengths[k]
                push(heap, (nd - h, nd, b, i))
    return owner


def _calibrated_regions(pts, atom_area, seed_atoms, targets, rng, iterations=60) -> np.ndarray:
    """Group atoms into connected regions grown from ``seed_atoms``, areas close to ``targets``.

    Additively weighted graph Voronoi: each region gets a head start (km) which is adjusted
    until the region areas match the targets; the best assignment seen is returned.
    """
    tri = Delaunay(pts)
    indptr, indices = tri.vertex_neighbor_vertices
    src = np.repeat(np.arange(len(pts)), np.diff(indptr))
    lengths = np.hypot(*(pts[indices] - pts[src]).T)
    # Symmetric per-edge noise makes the boundaries a little less regular.
    edge_key = np.minimum(src, indices) * len(pts) + np.maximum(src, indices)
    uniq, inverse = np.unique(edge_key, return_inverse=True)
    lengths = lengths * rng.uniform(0.75, 1.25, size=len(uniq))[inverse]
    indptr_l, indices_l, lengths_l = indptr.tolist(), indices.tolist(), lengths.tolist()

    n = len(seed_atoms)
    targets = np.asarray(targets, dtype=float)
    targets = targets / targets.sum() * atom_area.sum()
    head = np.zeros(n)
    best, best_err = None, math.inf
    for _ in range(iterations):
        owner = np.asarray(_grow(indptr_l, indices_l, lengths_l, seed_atoms, head.tolist()))
        areas = np.bincount(owner, weights=atom_area, minlength=n)
        log_ratio = np.log(np.maximum(areas, 1e-12) / targets)
        err = float(np.mean(log_ratio**2))
        if err < best_err:
            best, best_err = owner, err
        if np.max(np.abs(log_ratio)) < 0.05:
            break
        head += 0.5 * (np.sqrt(targets / math.pi) - np.sqrt(areas / math.pi))
        head -= head.mean()
    return best


def _fix_parts(children: list) -> list[Polygon]:
    """Make every child a single Polygon by giving detached parts to a neighbour."""
    children = list(children)
    for _ in range(4 * len(children) + 8):
        bad = [i for i, g in enumerate(children) if g.geom_type != "Polygon" or g.is_empty]
        if not bad:
            return children
        i = bad[0]
        parts = [
            p
            for p in shapely.get_parts(children[i])
            if p.geom_type == "Polygon" and not p.is_empty and p.area > 0
        ]
        if not parts:
            raise _PartitionError("child vanished")
        parts.sort(key=lambda p: -p.area)
        children[i] = parts[0]
        others = np.array(children, dtype=object)
        boundaries = shapely.boundary(others)
        for part in parts[1:]:
            shared = shapely.length(shapely.intersection(part.boundary, boundaries))
            shared[i] = -1.0
            j = int(np.argmax(shared))
            if shared[j] <= 0:
                dist = shapely.distance(part, others)
                dist[i] = math.inf
                j = int(np.argmin(dist))
            merged = shapely.union(children[j], part)
            children[j] = merged
            others[j] = merged
            boundaries[j] = merged.boundary
    raise _PartitionError("could not make children single polygons")


def _partition(
    parent: Polygon,
    n: int,
    rng: np.random.Generator,
    *,
    choose_seeds: Callable[[np.ndarray, np.ndarray, np.random.Generator], Sequence[int]]
    | None = None,
    targets: Sequence[float] | None = None,
    atoms_per_child: int = 1,
    min_atoms: int = 0,
    lloyd: int = 2,
) -> tuple[list[Polygon], np.ndarray]:
    """Split ``parent`` (lng/lat) into ``n`` polygons tiling it (full precision).

    With ``atoms_per_child == 1`` this is a Lloyd-relaxed Voronoi diagram clipped to the parent.
    Otherwise the parent is cut in many small Voronoi "atoms" which are grouped into ``n``
    connected regions grown from ``choose_seeds(atom_points, atom_areas, rng)`` with areas
    proportional to ``targets``. Returns the children and the seed points (km).
    """
    if n == 1:
        return [parent], shapely.get_coordinates(to_km(parent.representative_point()))
    parent_km = to_km(parent)
    shapely.prepare(parent_km)
    for _attempt in range(8):
        try:
            return _partition_once(
                parent, parent_km, n, rng, choose_seeds, targets, atoms_per_child, min_atoms, lloyd
            )
        except _PartitionError:
            continue
    raise RuntimeError("could not partition polygon")


def _partition_once(parent, parent_km, n, rng, choose_seeds, targets, per_child, min_atoms, lloyd):
    m = n if per_child <= 1 else max(min_atoms, per_child * n)
    pts = _lloyd(_sample_points(parent_km, m, rng), parent_km, lloyd)
    cells = _voronoi_cells(pts, parent_km)
    if m == n:
        regions = cells
        seeds_km = pts
    else:
        atom_area = shapely.area(shapely.intersection(cells, parent_km))
        seed_atoms = list(choose_seeds(pts, atom_area, rng))
        if len(set(seed_atoms)) != n:
            raise _PartitionError("seed atoms are not distinct")
        tgt = np.ones(n) if targets is None else np.asarray(targets, dtype=float)
        owner = _calibrated_regions(pts, atom_area, seed_atoms, tgt, rng)
        regions = np.empty(n, dtype=object)
        for i in range(n):
            group = cells[owner == i]
            u = group[0] if len(group) == 1 else shapely.coverage_union_all(group)
            if not u.is_valid:
                u = shapely.union_all(group)
            regions[i] = u
        seeds_km = pts[seed_atoms]
    clipped = shapely.intersection(_to_deg(regions), parent)
    children = _fix_parts(list(clipped))
    if len(children) != n or not all(shapely.is_valid(children)):
        raise _PartitionError("invalid children")
    return children, seeds_km


def _nearest_unique(pts: np.ndarray, targets_xy: np.ndarray) -> list[int]:
    taken: set[int] = set()
    out = []
    for x, y in targets_xy:
        for a in np.argsort(np.hypot(pts[:, 0] - x, pts[:, 1] - y)):
            if int(a) not in taken:
                taken.add(int(a))
                out.append(int(a))
                break
    return out


# --------------------------------------------------------------------------------------
# County outline
# --------------------------------------------------------------------------------------


def _county_outline(seed: int) -> tuple[Polygon, float, float]:
    """Noisy star-shaped blob (km), elongated N-S; returns polygon and its semi-axes."""
    rng = _rng(seed, 1)
    b_over_a = 1.15
    a = math.sqrt(COUNTY_AREA_KM2 / (math.pi * b_over_a))
    b = a * b_over_a
    theta = np.linspace(0.0, 2 * math.pi, 400, endpoint=False)
    base = a * b / np.sqrt((b * np.cos(theta)) ** 2 + (a * np.sin(theta)) ** 2)
    log_r = np.zeros_like(theta)
    for k in range(2, 40):
        amp = (0.2 if k <= 5 else 0.1) * k**-1.0 * rng.uniform(0.5, 1.0)
        log_r += amp * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    # Some deeper bays and peninsulas so the outline is clearly non-convex.
    for j in range(4):
        centre = 2 * math.pi * (j + rng.uniform(0.15, 0.85)) / 4
        width = rng.uniform(0.1, 0.22)
        delta = np.angle(np.exp(1j * (theta - centre)))
        sign = -1.0 if j % 2 == 0 else 1.0
        log_r += sign * rng.uniform(0.12, 0.22) * np.exp(-0.5 * (delta / width) ** 2)
    r = base * np.exp(log_r - log_r.mean())
    poly = Polygon(np.column_stack((r * np.cos(theta), r * np.sin(theta))))
    f = math.sqrt(COUNTY_AREA_KM2 / poly.area)
    poly = affinity.scale(poly, f, f, origin=(0, 0))
    return poly, a * f, b * f


# --------------------------------------------------------------------------------------
# Main generator
# --------------------------------------------------------------------------------------


@dataclass
class _TownInfo:
    division: Division
    zone: str
    seat_km: np.ndarray


def _strip_suffix(name: str, suffixes: Iterable[str]) -> str:
    for s in suffixes:
        if name.endswith(s) and len(name) > len(s):
            return name[: -len(s)]
    return name


def _town_profile(town: Division, rng: np.random.Generator) -> tuple[float, float, float, str]:
    short = _strip_suffix(town.name, ("街道", "镇", "乡"))
    if short in _TOWN_PROFILES:
        return _TOWN_PROFILES[short]
    u, v = rng.uniform(-0.7, 0.7, size=2)
    area = _DEFAULT_TOWN_AREA.get(town.town_type, 70.0)
    if town.town_type == "街道" and math.hypot(u, v) < 0.35:
        zone = "urban"
    elif v < -0.35:
        zone = "mountain"
    elif u > 0.45:
        zone = "hills"
    else:
        zone = "plain"
    return float(u), float(v), area, zone


def _largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    w = np.asarray(weights, dtype=float)
    if total <= 0 or len(w) == 0:
        return [0] * len(w)
    if w.sum() <= 0:
        w = np.ones_like(w)
    ideal = total * w / w.sum()
    base = np.floor(ideal).astype(int)
    rest = total - int(base.sum())
    order = sorted(range(len(w)), key=lambda i: (-(ideal[i] - base[i]), i))
    for i in order[:rest]:
        base[i] += 1
    return base.tolist()


def generate_geometry(
    divisions: Divisions | Iterable, *, seed: int = DEFAULT_SEED, scale: float = 1.0
) -> DemoGeometry:
    """Generate the synthetic county, townships, villages, grids and micro-grids.

    ``divisions`` is a :class:`Divisions` (see :func:`read_divisions`) or an iterable of CSV rows
    (dicts) / :class:`Division` objects. ``scale < 1`` keeps every township but only the
    villages chosen by :func:`filter_divisions` and about ``round(1497 * scale)`` grids (at least
    one per kept village). The county outline and the township polygons do not depend on
    ``scale`` (up to the final rounding: vertices of the descendants are inserted in them).
    """
    _check_scale(scale)
    div = filter_divisions(divisions, scale)
    towns = div.towns
    if not towns:
        raise ValueError("divisions contain no township")

    # County ---------------------------------------------------------------------------
    county_km, semi_a, semi_b = _county_outline(seed)
    county = _to_deg(county_km)

    # Townships ------------------------------------------------------------------------
    profiles = [_town_profile(t, _rng(seed, 2, int(t.code))) for t in towns]
    shapely.prepare(county_km)
    wanted = []
    for u, v, _area, _zone in profiles:
        p = np.array([u * semi_a, v * semi_b])
        for shrink in np.linspace(1.0, 0.0, 21):
            q = p * shrink
            if shapely.contains_xy(county_km, q[0], q[1]):
                break
        wanted.append(q)
    wanted = np.array(wanted)

    def town_seeds(pts, _area, _rng_):
        return _nearest_unique(pts, wanted)

    town_polys, town_seats = _partition(
        county,
        len(towns),
        _rng(seed, 3),
        choose_seeds=town_seeds,
        targets=[p[2] for p in profiles],
        atoms_per_child=max(1, _TOWN_ATOMS // len(towns)),
        min_atoms=_TOWN_ATOMS,
        lloyd=2,
    )
    infos: dict[str, _TownInfo] = {}
    for t, prof, poly, seat in zip(towns, profiles, town_polys, town_seats, strict=True):
        if not shapely.contains_xy(to_km(poly), seat[0], seat[1]):
            seat = shapely.get_coordinates(to_km(poly.representative_point()))[0]
        infos[t.code] = _TownInfo(division=t, zone=prof[3], seat_km=np.asarray(seat))
    towns_out = {t.code: poly for t, poly in zip(towns, town_polys, strict=True)}

    # Villages -------------------------------------------------------------------------
    by_town: dict[str, list[Division]] = {t.code: [] for t in towns}
    for v in div.villages:
        by_town[v.parent_code].append(v)
    villages_out: dict[str, Polygon] = {}
    for t in towns:
        vs = by_town[t.code]
        if not vs:
            continue
        villages_out.update(_make_villages(t, towns_out[t.code], vs, infos[t.code], seed))

    # Grids ----------------------------------------------------------------------------
    villages = sorted(div.villages, key=lambda v: v.code)
    grids = _make_grids(villages, infos, villages_out, seed, scale)

    # Rounding ---------------------------------------------------------------------------
    micro = [m for g in grids for m in g.micro_grids]
    flat = [county, *towns_out.values(), *villages_out.values()]
    flat += [g.polygon for g in grids] + [m.polygon for m in micro]
    rounded = iter(_node_and_round(flat))
    county = next(rounded)
    towns_out = {code: next(rounded) for code in towns_out}
    villages_out = {code: next(rounded) for code in villages_out}
    for g in grids:
        g.polygon = next(rounded)
    for m in micro:
        m.polygon = next(rounded)
    return DemoGeometry(county=county, towns=towns_out, villages=villages_out, grids=grids)


def _node_and_round(polys: Sequence[Polygon]) -> list[Polygon]:
    """Round all polygons to GRID_SIZE without breaking the nested tilings.

    Children are clipped against their parent in full precision, so a child's boundary has
    vertices lying on its parent's (and its cousins') edges which those polygons do not have.
    Rounding such T-junctions independently would open slivers. So first every vertex that
    lies on another polygon's boundary is inserted into that boundary (noding); then shared
    boundaries have identical vertex sequences and stay identical after rounding.
    """
    arr = np.asarray(polys, dtype=object)
    coords = np.unique(shapely.get_coordinates(arr), axis=0)
    points = shapely.points(coords)
    tree = shapely.STRtree(points)
    tol = GRID_SIZE * 1e-4
    poly_idx, pt_idx = tree.query(shapely.boundary(arr), predicate="dwithin", distance=tol)
    order = np.argsort(poly_idx, kind="stable")
    poly_idx, pt_idx = poly_idx[order], pt_idx[order]
    starts = np.searchsorted(poly_idx, np.arange(len(arr) + 1))
    refs = np.array(
        [shapely.multipoints(coords[pt_idx[starts[i] : starts[i + 1]]]) for i in range(len(arr))],
        dtype=object,
    )
    noded = shapely.snap(arr, refs, tol)
    rounded = shapely.transform(noded, lambda c: np.round(c, 6))
    rounded = shapely.remove_repeated_points(rounded)
    out = []
    for g in rounded:
        if g.geom_type != "Polygon" or not g.is_valid:
            fixed = [
                p for p in shapely.get_parts(shapely.make_valid(g)) if p.geom_type == "Polygon"
            ]
            g = max(fixed, key=lambda p: p.area)
            g = shapely.set_precision(g, GRID_SIZE)
        out.append(g)
    return out


def _is_urban_village(v: Division) -> bool:
    return v.village_type in URBAN_VILLAGE_TYPES


def _make_villages(town, town_poly, vs, info, seed) -> dict[str, Polygon]:
    rng = _rng(seed, 4, int(town.code))
    urban = sorted((v for v in vs if _is_urban_village(v)), key=lambda v: v.code)
    rural = sorted((v for v in vs if not _is_urban_village(v)), key=lambda v: v.code)
    ordered = urban + rural
    n = len(ordered)
    rural_size = 0.85 if town.town_type == "街道" else 1.0
    targets = [
        (0.3 if _is_urban_village(v) else rural_size) * rng.lognormal(0.0, 0.3) for v in ordered
    ]
    seat = info.seat_km
    sigma = 0.3 * math.sqrt(area_km2(town_poly))
    n_urban = len(urban)

    def village_seeds(pts, _area, r):
        d_seat = np.hypot(pts[:, 0] - seat[0], pts[:, 1] - seat[1])
        min_d = np.full(len(pts), np.inf)
        chosen: list[int] = []
        for k in range(n):
            if k < n_urban:
                spacing = 0.35 * sigma
                w = np.exp(-0.5 * (d_seat / sigma) ** 2) * (1.0 - np.exp(-((min_d / spacing) ** 2)))
            else:
                w = np.minimum(min_d, 2.0 * sigma + d_seat) ** 2
            w[chosen] = 0.0
            if not np.isfinite(w).all() or w.sum() <= 0:
                w = np.ones(len(pts))
                w[chosen] = 0.0
            a = int(r.choice(len(pts), p=w / w.sum()))
            chosen.append(a)
            min_d = np.minimum(min_d, np.hypot(pts[:, 0] - pts[a, 0], pts[:, 1] - pts[a, 1]))
        return chosen

    polys, _ = _partition(
        town_poly,
        n,
        rng,
        choose_seeds=village_seeds,
        targets=targets,
        atoms_per_child=_VILLAGE_ATOMS_PER_CHILD,
        min_atoms=_VILLAGE_MIN_ATOMS,
        lloyd=1,
    )
    return {v.code: p for v, p in zip(ordered, polys, strict=True)}


# --------------------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------------------


def _purpose_weight(purpose: str, v: Division, zone: str) -> float:
    urban_type = _is_urban_village(v)
    street = v.town_type == "街道"
    if purpose == "industrial_park":
        return {"plain": 1.0, "hills": 0.25}.get(zone, 0.0) * (0.3 if urban_type else 1.0)
    if purpose == "enterprise":
        return {"plain": 1.0, "hills": 0.8, "urban": 0.5}.get(zone, 0.0)
    if purpose in ("school", "hospital", "market"):
        if urban_type:
            return 3.0
        return 1.0 if street else 0.0
    if purpose == "scenic_area":
        return {"mountain": 1.0, "hills": 0.15}.get(zone, 0.0)
    raise ValueError(purpose)


def _display_name(v: Division) -> str:
    """Village name as used in grid names: "XX村委会" -> "XX村"."""
    return v.name[:-2] if v.name.endswith("村委会") else v.name


def _dedicated_label(purpose: str, v: Division, k: int) -> str:
    core = _strip_suffix(v.name, ("村委会", "居委会", "生活区", "社区", "村"))
    if purpose == "industrial_park":
        return f"{core}工业园区"
    if purpose == "enterprise":
        return f"{core}重点企业"
    if purpose == "school":
        return f"{core}{('小学', '中学', '幼儿园')[k % 3]}"
    if purpose == "hospital":
        if v.town_type == "街道" and _is_urban_village(v):
            return f"{core}社区卫生服务中心"
        if v.town_type != "街道" and k == 0:
            return f"{v.parent_name}卫生院"
        return f"{core}卫生服务站"
    if purpose == "market":
        return f"{core}农贸市场"
    return f"{core}景区"


def _make_grids(villages, infos, villages_out, seed, scale) -> list[GridSpec]:
    rng = _rng(seed, 5)
    nv = len(villages)
    if nv == 0:
        return []
    total = max(int(round(TOTAL_GRIDS * scale)), nv)
    n_dedicated = min(int(round(DEDICATED_SHARE * total)), total - nv)
    n_basic = total - n_dedicated

    # Basic grids: at least one per village, more for urban communities.
    weights = []
    for v in villages:
        if v.village_type in ("社区", "居委会"):
            w = 4.0
        elif v.village_type == "生活区":
            w = 2.0
        elif v.town_type == "街道":
            w = 1.6
        else:
            w = 1.0
        weights.append(w * rng.lognormal(0.0, 0.25))
    basic = [1 + k for k in _largest_remainder(n_basic - nv, weights)]

    # Dedicated grids: purposes by share, villages by purpose-specific weights.
    per_purpose = _largest_remainder(n_dedicated, [_PURPOSE_SHARE[p] for p in DEDICATED_PURPOSES])
    dedicated: list[list[str]] = [[] for _ in villages]
    zones = [infos[v.parent_code].zone for v in villages]
    for purpose, count in zip(DEDICATED_PURPOSES, per_purpose, strict=True):
        base_w = np.array(
            [_purpose_weight(purpose, v, z) for v, z in zip(villages, zones, strict=True)]
        )
        if base_w.sum() <= 0:
            base_w = np.ones(nv)
        for _ in range(count):
            crowd = np.array([len(d) for d in dedicated], dtype=float)
            w = base_w / (1.0 + crowd) ** 2
            dedicated[int(rng.choice(nv, p=w / w.sum()))].append(purpose)

    # Geometry and naming per village.
    grids: list[GridSpec] = []
    used_names: set[str] = set()
    town_hospitals: dict[str, int] = {}
    for v, n_b, ded in zip(villages, basic, dedicated, strict=True):
        vpoly = villages_out[v.code]
        n = n_b + len(ded)
        cells, _ = _partition(vpoly, n, _rng(seed, 6, int(v.code), n), lloyd=2)
        cells = list(cells)
        # Dedicated: parks and scenic areas take large cells, the others small ones.
        by_area = sorted(range(n), key=lambda i: (-cells[i].area, i))
        taken: set[int] = set()
        ded_cells = []
        for purpose in ded:
            pool = by_area if purpose in _BIG_PURPOSES else by_area[::-1]
            i = next(i for i in pool if i not in taken)
            taken.add(i)
            ded_cells.append(cells[i])
        rest = [i for i in range(n) if i not in taken]
        rest.sort(key=lambda i: (-round(cells[i].centroid.y, 4), cells[i].centroid.x))
        seq = 0
        for k, i in enumerate(rest, start=1):
            seq += 1
            grids.append(
                GridSpec(
                    code=f"{v.code}{seq:03d}",
                    name=f"{v.parent_name}{_display_name(v)}第{k}网格",
                    village_code=v.code,
                    kind="basic",
                    purpose="",
                    polygon=cells[i],
                )
            )
        school_k = 0
        for purpose, poly in zip(ded, ded_cells, strict=True):
            seq += 1
            if purpose == "hospital":
                k = town_hospitals.get(v.parent_code, 0)
                town_hospitals[v.parent_code] = k + 1
            elif purpose == "school":
                k = school_k
                school_k += 1
            else:
                k = 0
            name = f"{_dedicated_label(purpose, v, k)}专属网格"
            if name in used_names:
                name = f"{_strip_suffix(v.parent_name, ('街道', '镇', '乡'))}{name}"
            base, dup = name, 2
            while name in used_names:
                name = f"{base}（{dup}）"
                dup += 1
            used_names.add(name)
            grids.append(
                GridSpec(
                    code=f"{v.code}{seq:03d}",
                    name=name,
                    village_code=v.code,
                    kind="dedicated",
                    purpose=purpose,
                    polygon=poly,
                )
            )

    # Micro-grids: about 10% of the grids, preferably in dense urban communities.
    n_micro = int(round(MICRO_SHARE * len(grids)))
    vt = {v.code: v for v in villages}
    w = np.array(
        [
            (3.0 if _is_urban_village(vt[g.village_code]) else 1.0)
            * (0.5 if g.kind == "dedicated" else 1.0)
            for g in grids
        ]
    )
    picked = rng.choice(len(grids), size=min(n_micro, len(grids)), replace=False, p=w / w.sum())
    for gi in sorted(int(i) for i in picked):
        g = grids[gi]
        m = int(rng.integers(2, 7))
        cells, _ = _partition(g.polygon, m, _rng(seed, 7, int(g.code), m), lloyd=2)
        cells = sorted(cells, key=lambda c: (-round(c.centroid.y, 4), c.centroid.x))
        g.micro_grids = [
            MicroGridSpec(code=f"{g.code}{k:03d}", name=f"{g.name}第{k}微网格", polygon=c)
            for k, c in enumerate(cells, start=1)
        ]
    grids.sort(key=lambda g: g.code)
    return grids
