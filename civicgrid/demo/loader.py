"""Load the demo county: Yuyao's real divisions, synthetic geometry, synthetic people.

Everything is bulk-inserted in one transaction (the whole county loads in well under two
minutes) and is deterministic for a seed. Geometry and people are invented; see
``data/PROVENANCE.md``. The load itself is one audit event (``demo.load``) with its counts:
writing ~40,000 per-row events for invented data would only bury real ones.
"""

import datetime
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from civicgrid.core.audit import record_event
from civicgrid.core.roles import Role
from civicgrid.demo import geometry as demo_geometry
from civicgrid.people import pii
from civicgrid.people.models import (
    Department,
    House,
    KeyGroup,
    Organisation,
    Person,
    PersonKeyGroup,
    Place,
    RoleAssignment,
)
from civicgrid.regions import geo
from civicgrid.regions.actions import _bump_geometry_version
from civicgrid.regions.models import GeometrySource, Grid, Region

__all__ = ["DEMO_LOGINS", "DEMO_PASSWORD", "DemoSummary", "demo_is_loaded", "load_demo"]

DIVISIONS_CSV = Path(__file__).parent / "data" / "yuyao_divisions.csv"
DEMO_PASSWORD = "civicgrid-demo"
BATCH = 2000

# username, role, where (a township code, "first_grid:<town>", "county"), department kind,
# description shown when the demo starts.
DEMO_LOGINS = [
    ("admin", Role.ADMIN, "county", None, "系统管理员 administrator (superuser)"),
    ("county", Role.COUNTY_OPERATOR, "county", None, "县社会治理中心操作员 county centre operator"),
    ("leader", Role.COUNTY_LEADER, "county", None, "县社会治理中心领导 county centre leader"),
    ("lizhou", Role.TOWNSHIP_OPERATOR, "330281001", None, "梨洲街道指挥室 township operator"),
    ("fengshan", Role.TOWNSHIP_OPERATOR, "330281002", None, "凤山街道指挥室 township operator"),
    (
        "lizhou_window",
        Role.RECEPTION_CLERK,
        "330281001",
        None,
        "梨洲街道矛调中心接待窗口 reception-hall clerk",
    ),
    ("grid1", Role.GRID_WORKER, "first_grid:330281001", None, "梨洲街道专职网格员 grid worker"),
    ("grid2", Role.GRID_WORKER, "first_grid:330281002", None, "凤山街道专职网格员 grid worker"),
    ("police", Role.DEPARTMENT_HANDLER, "county", "public_security", "公安局 department handler"),
    ("auditor", Role.AUDITOR, "county", None, "审计员 auditor"),
]

COUNTY_DEPARTMENTS = [
    ("public_security", "余姚市公安局", "公安"),
    ("market_supervision", "余姚市市场监督管理局", "市场监管"),
    ("natural_resources", "余姚市自然资源和规划局", "资规"),
    ("justice", "余姚市司法局", "司法"),
    ("emergency", "余姚市应急管理局", "应急管理"),
    ("law_enforcement", "余姚市综合行政执法局", "综合执法"),
    ("housing", "余姚市住房和城乡建设局", "住建"),
    ("transport", "余姚市交通运输局", "交通"),
    ("health", "余姚市卫生健康局", "卫健"),
    ("human_resources", "余姚市人力资源和社会保障局", "人社"),
    ("petitions", "余姚市信访局", "信访"),
    ("ecology", "宁波市生态环境局余姚分局", "生态环境"),
    ("civil_affairs", "余姚市民政局", "民政"),
    ("education", "余姚市教育局", "教育"),
    ("fire", "余姚市消防救援大队", "消防"),
]
# Township offices of county departments (派出所, 市场监管所, 司法所, 综合执法中队…).
TOWN_OFFICES = [
    ("public_security", "派出所"),
    ("market_supervision", "市场监管所"),
    ("justice", "司法所"),
    ("law_enforcement", "综合执法中队"),
    ("natural_resources", "自然资源所"),
    ("emergency", "应急管理站"),
]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖"
    "田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国红梅志文斌海波宁晨浩宇欣怡佳琪子涵雨轩"
)
STREETS = "阳明路 新建路 南雷路 舜水路 谭家岭路 北滨江路 城东路 梁周线 兰墅路 东旱门路".split()
ORG_SUFFIX = [
    "机械有限公司",
    "电器有限公司",
    "塑料制品厂",
    "农业合作社",
    "超市",
    "餐饮店",
    "五金商行",
]
PLACE_KINDS = ["small_venue", "rental", "market", "construction", "small_venue", "rental"]


@dataclass
class DemoSummary:
    seed: int
    scale: float
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def demo_is_loaded() -> bool:
    return Region.objects.filter(level=Region.Level.COUNTY).exists()


class _People:
    """Invented but well-formed personal data, reproducible from the seed."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.serial = 0

    def name(self) -> str:
        given = "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(SURNAMES) + given

    def identity(self, *, min_age=18, max_age=70):
        self.serial += 1
        age_days = self.rng.randint(min_age * 365, max_age * 365)
        birth = datetime.date(2026, 6, 30) - datetime.timedelta(days=age_days)
        gender = self.rng.choice("MF")
        sequence = self.rng.randrange(0, 500) * 2 + (1 if gender == "M" else 0)
        first17 = f"330281{birth:%Y%m%d}{sequence:03d}"
        number = first17 + pii.id_check_digit(first17)
        phone = f"1{self.rng.choice('3578')}{self.rng.randrange(10**9):09d}"
        return birth, gender, pii.seal_id_number(number), pii.seal_phone(phone)

    def person(
        self,
        *,
        region_code,
        grid_id,
        is_resident,
        user_id=None,
        min_age=18,
        max_age=70,
        name=None,
        address="",
        house_id=None,
    ):
        birth, gender, id_sealed, phone_sealed = self.identity(min_age=min_age, max_age=max_age)
        return Person(
            user_id=user_id,
            name=name or self.name(),
            gender=gender,
            birth_date=birth,
            id_number_cipher=id_sealed.cipher,
            id_number_hash=id_sealed.hash,
            id_number_masked=id_sealed.masked,
            phone_cipher=phone_sealed.cipher,
            phone_hash=phone_sealed.hash,
            phone_masked=phone_sealed.masked,
            is_resident=is_resident,
            region_code=region_code,
            grid_id=grid_id,
            address=address,
            house_id=house_id,
        )


def load_demo(*, seed: int, scale: float = 1.0, progress=print) -> DemoSummary:
    if demo_is_loaded():
        raise RuntimeError("the demo county is already loaded")
    started = time.perf_counter()
    summary = DemoSummary(seed=seed, scale=scale)

    def step(message):
        progress(f"[{time.perf_counter() - started:6.1f}s] {message}")

    step("generating synthetic geometry …")
    divisions = demo_geometry.read_divisions(DIVISIONS_CSV)
    shapes = demo_geometry.generate_geometry(divisions, seed=seed, scale=scale)
    with transaction.atomic():
        regions = _load_regions(divisions, shapes)
        step(f"regions: {len(regions)}")
        grids, micro = _load_grids(shapes, regions)
        step(f"grids: {len(grids)} (+{len(micro)} micro-grids)")
        departments = _load_departments(regions)
        step(f"departments: {len(departments)}")
        counts = _load_people(random.Random(seed), regions, grids, micro, departments, step)
        _bump_geometry_version()
        summary.counts = {
            "towns": sum(1 for r in regions.values() if r.level == Region.Level.TOWN),
            "villages": sum(1 for r in regions.values() if r.level == Region.Level.VILLAGE),
            "grids": len(grids),
            "micro_grids": len(micro),
            "departments": len(departments),
            **counts,
        }
        record_event(
            "demo.load",
            target_type="demo",
            target_id=str(seed),
            target_repr=f"demo county seed={seed} scale={scale}",
            scope_code=divisions.county.code,
            after=summary.counts,
        )
    summary.seconds = time.perf_counter() - started
    step("done")
    return summary


def _geo_fields(polygon) -> dict:
    return {
        "geometry": geo.geometry_to_geojson(polygon),
        "bbox": geo.bbox_of(polygon),
        "geometry_source": GeometrySource.SYNTHETIC,
    }


def _load_regions(divisions, shapes) -> dict[str, Region]:
    county = Region.objects.create(
        code=divisions.county.code,
        name=divisions.county.name,
        level=Region.Level.COUNTY,
        division_type="县级市",
        **_geo_fields(shapes.county),
    )
    towns = Region.objects.bulk_create(
        [
            Region(
                code=t.code,
                name=t.name,
                level=Region.Level.TOWN,
                division_type=t.town_type,
                parent=county,
                **_geo_fields(shapes.towns[t.code]),
            )
            for t in divisions.towns
        ]
    )
    by_code = {county.code: county, **{t.code: t for t in towns}}
    villages = Region.objects.bulk_create(
        [
            Region(
                code=v.code,
                name=v.name,
                level=Region.Level.VILLAGE,
                division_type=v.village_type,
                parent=by_code[v.parent_code],
                **_geo_fields(shapes.villages[v.code]),
            )
            for v in divisions.villages
            if v.code in shapes.villages
        ],
        batch_size=BATCH,
    )
    by_code.update({v.code: v for v in villages})
    return by_code


def _load_grids(shapes, regions) -> tuple[list[Grid], list[Grid]]:
    grids = Grid.objects.bulk_create(
        [
            Grid(
                code=g.code,
                name=g.name,
                village=regions[g.village_code],
                kind=g.kind,
                purpose=g.purpose,
                **_geo_fields(g.polygon),
            )
            for g in shapes.grids
        ],
        batch_size=BATCH,
    )
    by_code = {g.code: g for g in grids}
    micro = Grid.objects.bulk_create(
        [
            Grid(
                code=m.code,
                name=m.name,
                village=regions[g.village_code],
                parent=by_code[g.code],
                kind=Grid.Kind.MICRO,
                **_geo_fields(m.polygon),
            )
            for g in shapes.grids
            for m in g.micro_grids
        ],
        batch_size=BATCH,
    )
    return grids, micro


def _load_departments(regions) -> dict[tuple[str, str], Department]:
    county = next(r for r in regions.values() if r.level == Region.Level.COUNTY)
    towns = sorted(
        (r for r in regions.values() if r.level == Region.Level.TOWN), key=lambda r: r.code
    )
    heads = Department.objects.bulk_create(
        [
            Department(
                code=f"{county.code}-{kind}", name=name, short_name=short, kind=kind, region=county
            )
            for kind, name, short in COUNTY_DEPARTMENTS
        ]
    )
    by_key = {
        (kind, county.code): d
        for kind, d in zip((k for k, _n, _s in COUNTY_DEPARTMENTS), heads, strict=True)
    }
    short_town = {
        t.code: t.name.removesuffix("街道").removesuffix("镇").removesuffix("乡") for t in towns
    }
    offices = Department.objects.bulk_create(
        [
            Department(
                code=f"{town.code}-{kind}",
                name=f"{short_town[town.code]}{suffix}",
                short_name=suffix,
                kind=kind,
                region=town,
                parent=by_key[(kind, county.code)],
            )
            for town in towns
            for kind, suffix in TOWN_OFFICES
        ]
    )
    for office in offices:
        by_key[(office.kind, office.region.code)] = office
    return by_key


def _load_people(rng, regions, grids, micro, departments, step) -> dict[str, int]:
    people = _People(rng)
    User = get_user_model()
    no_login = make_password(None)  # staff accounts exist but log in only once given a password
    demo_hash = make_password(DEMO_PASSWORD)
    county = next(r for r in regions.values() if r.level == Region.Level.COUNTY)
    towns = sorted(
        (r for r in regions.values() if r.level == Region.Level.TOWN), key=lambda r: r.code
    )
    villages = sorted(
        (r for r in regions.values() if r.level == Region.Level.VILLAGE), key=lambda r: r.code
    )
    micro_by_grid: dict[int, list[Grid]] = {}
    for m in micro:
        micro_by_grid.setdefault(m.parent_id, []).append(m)

    # (person, role, scope_code, region, grid, department, username or None, password hash)
    staff: list[tuple] = []

    def add(
        role, *, region=None, grid=None, department=None, username=None, pw=no_login, name=None
    ):
        place_code = grid.code if grid is not None else (region.code if region else county.code)
        person = people.person(
            region_code=place_code, grid_id=grid.pk if grid else None, is_resident=False, name=name
        )
        scope = "" if role == Role.ADMIN else place_code
        staff.append((person, role, scope, region, grid, department, username, pw))

    # "1+3+N" teams: 1 grid leader; full-time, part-time and liaison members; instructor;
    # N co-governance members (volunteers, couriers, riders); a leader per micro-grid.
    for index, grid in enumerate(grids):
        add(Role.GRID_LEADER, grid=grid)
        add(Role.GRID_WORKER, grid=grid)
        for _ in range(2):
            add(Role.GRID_WORKER_PART_TIME, grid=grid)
        for _ in range(2):
            add(Role.LIAISON, grid=grid)
        add(Role.GRID_INSTRUCTOR, grid=grid)
        for _ in range(4 + index % 3):
            add(Role.CO_GOVERNANCE, grid=grid)
        for m in micro_by_grid.get(grid.pk, []):
            add(Role.MICRO_GRID_LEADER, grid=m)
    grid_staff = len(staff)
    for village in villages:
        for _ in range(2):
            add(Role.VILLAGE_STAFF, region=village)
    for town in towns:
        for _ in range(2):
            add(Role.TOWNSHIP_OPERATOR, region=town)
        add(Role.TOWNSHIP_LEADER, region=town)
        add(Role.MEDIATOR, region=town)
    for _ in range(4):
        add(Role.COUNTY_OPERATOR, region=county)
    add(Role.COUNTY_LEADER, region=county)
    for (_kind, place), department in departments.items():
        for _ in range(3 if place == county.code else 1):
            add(Role.DEPARTMENT_HANDLER, region=department.region, department=department)
    # "网格+": ~360 resident and ~180 on-call department staff sunk into grids (scaled).
    office_kinds = [kind for kind, _suffix in TOWN_OFFICES]
    n_resident = max(len(towns), round(360 * len(grids) / demo_geometry.TOTAL_GRIDS))
    n_on_call = max(len(towns), round(180 * len(grids) / demo_geometry.TOTAL_GRIDS))
    for count, role in (
        (n_resident, Role.DEPARTMENT_RESIDENT),
        (n_on_call, Role.DEPARTMENT_ON_CALL),
    ):
        for i in range(count):
            grid = grids[(i * 7919 + (0 if role == Role.DEPARTMENT_RESIDENT else 3)) % len(grids)]
            office = departments[(office_kinds[i % len(office_kinds)], grid.code[:9])]
            add(role, grid=grid, department=office)
    # The named demo logins.
    first_grid = {}
    for grid in grids:
        first_grid.setdefault(grid.code[:9], grid)
    for username, role, where, dept_kind, _desc in DEMO_LOGINS:
        if where.startswith("first_grid:"):
            add(role, grid=first_grid[where.split(":")[1]], username=username, pw=demo_hash)
        elif dept_kind:
            add(
                role,
                region=county,
                department=departments[(dept_kind, county.code)],
                username=username,
                pw=demo_hash,
            )
        else:
            region = county if where == "county" else regions[where]
            add(role, region=region, username=username, pw=demo_hash)
    step(f"staff: {len(staff)} people ({grid_staff} in grid teams)")

    named = {s[6] for s in staff if s[6]}
    users = User.objects.bulk_create(
        [
            User(
                username=s[6] or f"u{i:06d}",
                password=s[7],
                is_staff=s[6] in {"admin", "county", "lizhou", "fengshan", "auditor"},
                is_superuser=s[6] == "admin",
            )
            for i, s in enumerate(staff)
        ],
        batch_size=BATCH,
    )
    for user, s in zip(users, staff, strict=True):
        s[0].user = user
    persons = Person.objects.bulk_create([s[0] for s in staff], batch_size=BATCH)
    RoleAssignment.objects.bulk_create(
        [
            RoleAssignment(
                person=p, role=s[1], scope_code=s[2], region=s[3], grid=s[4], department=s[5]
            )
            for p, s in zip(persons, staff, strict=True)
        ],
        batch_size=BATCH,
    )
    step(f"logins and roles: {len(users)} accounts, demo logins {sorted(named)}")

    counts = _load_residents(people, grids, step)
    counts.update({"staff": len(staff), "grid_staff": grid_staff})
    return counts


def _load_residents(people: _People, grids, step) -> dict[str, int]:
    rng = people.rng
    key_groups = list(KeyGroup.objects.order_by("code"))
    houses, orgs, places = [], [], []
    for grid in grids:
        street = rng.choice(STREETS)
        for n in range(5):
            lng, lat = _point_in(grid, rng)
            houses.append(
                House(
                    code=f"{grid.code}H{n + 1:03d}",
                    address=f"{grid.village.name}{street}{rng.randint(1, 300)}号",
                    kind=rng.choice(House.Kind.values),
                    grid=grid,
                    region_code=grid.code,
                    lng=lng,
                    lat=lat,
                )
            )
        for n in range(2):
            orgs.append(
                Organisation(
                    name=f"余姚市{rng.choice(SURNAMES)}{rng.choice(GIVEN)}{rng.choice(ORG_SUFFIX)}",
                    credit_code=f"91330281{rng.randrange(10**10):010d}",
                    kind=rng.choice(Organisation.Kind.values),
                    grid=grid,
                    region_code=grid.code,
                    address=f"{grid.village.name}{street}",
                )
            )
            lng, lat = _point_in(grid, rng)
            places.append(
                Place(
                    name=f"{grid.village.name}{n + 1}号场所",
                    kind=PLACE_KINDS[(n + len(places)) % len(PLACE_KINDS)],
                    grid=grid,
                    region_code=grid.code,
                    lng=lng,
                    lat=lat,
                )
            )
    houses = House.objects.bulk_create(houses, batch_size=BATCH)
    Organisation.objects.bulk_create(orgs, batch_size=BATCH)
    Place.objects.bulk_create(places, batch_size=BATCH)
    step(f"houses {len(houses)}, organisations {len(orgs)}, places {len(places)}")

    residents, tags = [], []
    for g_index, grid in enumerate(grids):
        grid_houses = houses[g_index * 5 : (g_index + 1) * 5]
        for n in range(8):
            house = grid_houses[n % 5]
            tagged = key_groups[(g_index * 3 + n) % len(key_groups)] if n < 4 else None
            ages = (
                (75, 95)
                if tagged and tagged.code == "elderly_alone"
                else (
                    (3, 16)
                    if tagged and tagged.code in {"children_in_difficulty", "left_behind_child"}
                    else (18, 80)
                )
            )
            residents.append(
                people.person(
                    region_code=grid.code,
                    grid_id=grid.pk,
                    is_resident=True,
                    min_age=ages[0],
                    max_age=ages[1],
                    address=house.address,
                    house_id=house.pk,
                )
            )
            tags.append(tagged)
    residents = Person.objects.bulk_create(residents, batch_size=BATCH)
    PersonKeyGroup.objects.bulk_create(
        [
            PersonKeyGroup(
                person=p, key_group=kg, region_code=p.region_code, since=datetime.date(2025, 1, 1)
            )
            for p, kg in zip(residents, tags, strict=True)
            if kg is not None
        ],
        batch_size=BATCH,
    )
    step(f"residents {len(residents)} ({sum(1 for t in tags if t)} with key-group tags)")
    return {
        "residents": len(residents),
        "houses": len(houses),
        "organisations": len(orgs),
        "places": len(places),
        "key_group_tags": sum(1 for t in tags if t),
    }


def _point_in(grid: Grid, rng: random.Random) -> tuple[float, float]:
    """A point inside the grid's box, nudged to its centre until it falls inside."""
    min_lng, min_lat, max_lng, max_lat = grid.bbox
    shape = geo.geometry_from_geojson(grid.geometry)
    for _ in range(20):
        lng, lat = rng.uniform(min_lng, max_lng), rng.uniform(min_lat, max_lat)
        if shape.contains(geo_point(lng, lat)):
            return round(lng, 6), round(lat, 6)
    centre = shape.representative_point()
    return round(centre.x, 6), round(centre.y, 6)


def geo_point(lng, lat):
    from shapely.geometry import Point

    return Point(lng, lat)
