"""The year's eight special inspection campaigns (专项排查) of the demo county, through the
real campaign and case actions.

How to use it::

    civicgrid load_demo                    # the county first (once)
    civicgrid load_demo_cases              # optional: the year of ordinary cases
    civicgrid load_demo_campaigns          # then the campaigns (--scale 0.2 by default)

The Yuyao report says: "今年以来开展专项排查行动8次，排查报送对应专项问题隐患8000余起". At
``--scale 1`` on the whole county the campaigns find about 8,000 hazards (``HAZARDS_PER_YEAR``),
in proportion to the grids loaded; the default 0.2 about 1,600. Each campaign is created by its
organiser (the county centre, or 梨洲街道 for the school-surroundings campaign), started on its
first day, given targets in its grids by the township command rooms (one bulk action per
township), and checked by each grid's full-time worker on working days through the period;
a hazard raises a case (grid-worker channel, the campaign's category) which the worker accepts
and, in most cases, closes on the spot with before/after photos within days, and which is
then evaluated (archived). Campaigns close on their last day; the 僵尸车 campaign — made from
the analysis end's warning through ``do_create_campaign_from_warning`` — is still under way,
so its latest hazards are still open.

A simulated clock (``civicgrid.demo.cases.simulated_clock``) moves through the year so every
row carries its simulated instant; events after the real "now" are not run. One transaction
(short ones behind a serving demo), the audit chain's head held in memory
(``demo.chunks.Batches``). A second run does nothing
(the audit event ``demo.campaigns`` marks the run). Deterministic for a seed, given the same
county and end date.
"""

from __future__ import annotations

import heapq
import io
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from civicgrid.campaigns import actions as C
from civicgrid.campaigns.models import CampaignTarget
from civicgrid.cases import actions as A
from civicgrid.cases import workflow as case_workflow
from civicgrid.cases.models import Category
from civicgrid.core.audit import record_event
from civicgrid.core.models import AuditEvent
from civicgrid.core.roles import Role
from civicgrid.demo.cases import simulated_clock
from civicgrid.demo.chunks import Batches
from civicgrid.demo.geometry import TOTAL_GRIDS
from civicgrid.demo.loader import DEMO_LOGINS, STREETS
from civicgrid.people.models import RoleAssignment
from civicgrid.regions import geo
from civicgrid.regions.models import Grid

__all__ = [
    "AUDIT_ACTION",
    "CAMPAIGNS",
    "HAZARDS_PER_YEAR",
    "CampaignSummary",
    "demo_campaigns_loaded",
    "generate_demo_campaigns",
]

AUDIT_ACTION = "demo.campaigns"
HAZARDS_PER_YEAR = 8000  # the whole county (TOTAL_GRIDS grids) at scale 1
URBAN_TOWNS = ("330281001", "330281002", "330281003", "330281004")  # 梨洲 凤山 兰江 阳明
LIZHOU = "330281001"
P_CHECKED_CLOSED = 0.97  # targets checked by the time a campaign closes
P_SELF_CLOSE = 0.88  # hazards fixed on the spot by the grid (the rest stay in hand)
P_EVALUATED = 0.5


@dataclass(frozen=True)
class Theme:
    key: str
    title: str
    category: str
    month_day: tuple[int, int]  # first day (the latest such day that fits before the end)
    days: int
    share: float  # of the year's hazards
    hazard_rate: float  # hazards per target checked
    target_types: tuple[str, ...]
    checklist: tuple[str, ...]
    hazards: tuple[str, ...]
    description: str
    scope: str = "county"  # "county", "urban" (the four central streets), "rural", "lizhou"
    places: tuple[tuple[str, float], ...] = ()  # grid types checked more
    from_warning: bool = False


CAMPAIGNS: tuple[Theme, ...] = (
    Theme(
        "zombie_cars",
        "城区“僵尸车”专项整治",
        "0101",
        (0, 0),  # relative: the last 45 days, still under way
        60,
        0.10,
        0.5,
        ("车辆",),
        ("停放超过30日", "车身破损积灰", "占用公共车位或消防通道", "已联系车主"),
        (
            "车辆停放三个月以上，车身积灰、轮胎亏气，已张贴限期挪车告知书",
            "无牌轿车长期停放，车窗破损，占用小区公共车位",
            "报废电动三轮车占用消防通道，车主无法联系",
        ),
        "研判发现城区僵尸车报告连续七周上升，集中在老旧小区和背街小巷，开展专项整治。",
        scope="urban",
        places=(("urban_street", 2.0), ("urban", 1.5), ("market", 1.3)),
        from_warning=True,
    ),
    Theme(
        "rented_fire",
        "出租房消防安全隐患专项排查",
        "0406",
        (1, 6),
        45,
        0.20,
        0.35,
        ("出租房", "群租房"),
        ("灭火器配备", "私拉乱接电线", "安全出口畅通", "电动车室内充电", "烟感报警器"),
        (
            "出租房内私拉乱接电线，插座过载，未配备灭火器",
            "群租房隔断使用易燃材料，安全出口被杂物堵塞",
            "租户在室内为电动自行车电瓶充电",
        ),
        "冬春火灾高发期，对全市出租房开展消防安全隐患“地毯式”排查。",
        places=(("urban", 1.6), ("industrial_park", 1.8), ("urban_street", 1.4)),
    ),
    Theme(
        "ebike_charging",
        "电动自行车违规停放充电专项整治",
        "0401",
        (3, 10),
        40,
        0.18,
        0.4,
        ("住宅楼道", "小区车棚"),
        ("楼道停放", "飞线充电", "入户充电", "车棚充电设施"),
        (
            "楼道内停放多辆电动自行车并飞线充电",
            "居民从窗口拉线给电动车充电",
            "车棚充电桩损坏，居民私接插座充电",
        ),
        "落实电动自行车全链条安全整治，排查楼道停放和违规充电。",
        places=(("urban_street", 1.8), ("urban", 1.6)),
    ),
    Theme(
        "gas",
        "燃气安全专项排查",
        "0308",
        (4, 15),
        45,
        0.14,
        0.35,
        ("餐饮店", "瓶装燃气用户"),
        ("燃气报警器", "软管老化", "气瓶存放", "通风条件"),
        (
            "餐饮店瓶装燃气未安装报警器，软管老化开裂",
            "气瓶与灶具同室存放，超量储存",
            "燃气管道私自改装，接口处有异味",
        ),
        "开展城镇燃气安全排查整治，重点排查餐饮场所和瓶装燃气用户。",
        places=(("market", 3.0), ("urban_street", 1.5), ("urban", 1.3)),
    ),
    Theme(
        "work_safety",
        "安全生产大排查大整治",
        "0305",
        (6, 1),
        30,
        0.12,
        0.3,
        ("企业", "工地"),
        ("安全防护设施", "特种作业持证", "临边洞口防护", "消防器材"),
        (
            "工地临边洞口无防护栏杆",
            "脚手架搭设不规范，有坍塌风险",
            "车间电焊作业人员无证上岗",
        ),
        "“安全生产月”期间对企业和在建工地开展安全生产大排查。",
        places=(("industrial_park", 5.0), ("enterprise", 5.0), ("urban", 0.6)),
    ),
    Theme(
        "rivers",
        "汛期河道安全隐患排查",
        "1402",
        (6, 10),
        40,
        0.06,
        0.3,
        ("河段", "堤坝", "水闸"),
        ("堤岸稳定", "防护栏", "警示标志", "河道行洪障碍"),
        (
            "河岸局部坍塌，护栏缺失",
            "河道内堆放杂物影响行洪",
            "临水区域缺少防溺水警示牌",
        ),
        "梅雨和台风季前排查河道、堤坝和水闸安全隐患。",
        scope="rural",
        places=(("rural", 1.5), ("scenic_area", 2.0)),
    ),
    Theme(
        "illegal_building",
        "违章搭建专项整治",
        "1001",
        (8, 15),
        45,
        0.16,
        0.35,
        ("房屋", "院落"),
        ("新增搭建", "规划许可", "占用公共空间", "结构安全"),
        (
            "村民在自家院内新建彩钢棚，未见规划许可",
            "屋顶违规加盖阳光房",
            "沿街店铺违规搭建雨棚占用人行道",
        ),
        "开展“治危拆违”行动，排查新增违章搭建。",
        places=(("rural", 1.6), ("rural_street", 1.4)),
    ),
    Theme(
        "schools",
        "秋季开学校园周边安全专项排查",
        "1801",
        (8, 20),
        30,
        0.04,
        0.35,
        ("学校周边", "校外培训机构", "周边商铺"),
        ("交通秩序", "流动摊贩", "三无食品", "消防通道"),
        (
            "校门口流动摊贩售卖三无食品",
            "上下学高峰校门口车辆乱停，缺少护学岗",
            "校外培训机构安全出口被堵",
        ),
        "秋季开学前后，梨洲街道对辖区校园周边开展安全隐患排查。",
        scope="lizhou",
        places=(("school", 5.0), ("urban_street", 1.3)),
    ),
)

TARGET_NAMES = {
    "车辆": lambda rng: (
        f"浙B{''.join(rng.choice('ACDEFGHJKLMNPQRSTUVWXYZ0123456789') for _ in range(5))} "
        f"{rng.choice(['白色', '黑色', '银色', '红色', '蓝色'])}"
        f"{rng.choice(['轿车', 'SUV', '面包车', '电动三轮车'])}"
    ),
    "出租房": lambda rng: f"{rng.randint(1, 30)}幢{rng.randint(1, 6)}0{rng.randint(1, 4)}室出租房",
    "群租房": lambda rng: f"{rng.randint(1, 30)}幢{rng.randint(1, 6)}0{rng.randint(1, 4)}室群租房",
    "住宅楼道": lambda rng: f"{rng.randint(1, 40)}幢{rng.randint(1, 4)}单元楼道",
    "小区车棚": lambda rng: f"{rng.choice(['东区', '西区', '南区', '北区'])}车棚",
    "餐饮店": lambda rng: rng.choice(["小吃店", "面馆", "快餐店", "烧烤店", "饭店"]),
    "瓶装燃气用户": lambda rng: f"{rng.randint(1, 200)}号瓶装燃气用户",
    "企业": lambda rng: f"{rng.choice(['机械', '塑料', '五金', '电器', '模具'])}有限公司",
    "工地": lambda rng: f"{rng.choice(['住宅', '厂房', '道路', '安置房'])}项目工地",
    "河段": lambda rng: (
        f"{rng.choice(['姚江', '候青江', '中舜江', '四塘横江'])}{rng.randint(1, 12)}号河段"
    ),
    "堤坝": lambda rng: f"{rng.randint(1, 9)}号堤坝",
    "水闸": lambda rng: f"{rng.randint(1, 9)}号水闸",
    "房屋": lambda rng: f"{rng.randint(1, 300)}号民房",
    "院落": lambda rng: f"{rng.randint(1, 300)}号院落",
    "学校周边": lambda rng: f"{rng.choice(['实验小学', '中心小学', '初级中学', '幼儿园'])}周边",
    "校外培训机构": lambda rng: f"{rng.choice(['艺术', '英语', '编程', '书法'])}培训机构",
    "周边商铺": lambda rng: f"{rng.choice(['文具店', '小卖部', '奶茶店'])}",
}
CLOSE_TEXT = "已现场督促整改到位，整改前后照片已上传。"


@dataclass
class CampaignSummary:
    seed: int
    scale: float
    start: date
    end: date
    campaigns: int = 0
    targets: int = 0
    checks: int = 0
    hazards: int = 0
    rectified: int = 0
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def demo_campaigns_loaded() -> bool:
    return AuditEvent.objects.filter(action=AUDIT_ACTION).exists()


# --------------------------------------------------------------------------- helpers


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (96, 72), colour).save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def _place_type(grid: Grid) -> str:
    if grid.kind == Grid.Kind.DEDICATED and grid.purpose:
        return grid.purpose
    urban = grid.village.division_type in {"社区", "居委会", "生活区"}
    street = grid.village.parent.division_type == "街道"
    return ("urban" if urban else "rural") + ("_street" if street else "")


def _points(rng: random.Random, grid: Grid) -> list[tuple[float, float]]:
    from shapely.geometry import Point

    shape = geo.geometry_from_geojson(grid.geometry)
    inner = shape.buffer(-0.0002)
    if inner.is_empty:
        inner = shape
    min_lng, min_lat, max_lng, max_lat = inner.bounds
    points = []
    for _ in range(40):
        lng = round(rng.uniform(min_lng, max_lng), 6)
        lat = round(rng.uniform(min_lat, max_lat), 6)
        if inner.contains(Point(lng, lat)):
            points.append((lat, lng))
            if len(points) == 6:
                break
    if not points:
        centre = shape.representative_point()
        points.append((round(centre.y, 6), round(centre.x, 6)))
    return points


def _holders(role: str) -> dict[str, object]:
    """Place code → the first active holder of ``role`` there (a demo login if any)."""
    named = {username for username, *_rest in DEMO_LOGINS}
    holders: dict[str, object] = {}
    rows = (
        RoleAssignment.objects.filter(active=True, role=role, person__user__is_active=True)
        .select_related("person__user")
        .order_by("pk")
    )
    for row in rows:
        user, current = row.person.user, holders.get(row.scope_code)
        if current is None or (user.username in named and current.username not in named):
            holders[row.scope_code] = user
    return holders


def _start_of(theme: Theme, end: date) -> date:
    if theme.month_day == (0, 0):
        return end - timedelta(days=45)
    month, day = theme.month_day
    start = date(end.year, month, day)
    if start + timedelta(days=theme.days) > end:
        start = date(end.year - 1, month, day)
    return start


def _working_moment(rng: random.Random, day: date, tz) -> datetime:
    hour = rng.choice((9, 9, 10, 10, 11, 14, 14, 15, 15, 16, 17))
    return datetime(
        day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=tz
    )


# --------------------------------------------------------------------------- the run


class _Run:
    def __init__(self, *, rng, tz, clock, now, end, scale, summary, chain, progress):
        self.rng, self.tz, self.clock, self.now, self.end = rng, tz, clock, now, end
        self.scale, self.summary, self.chain, self.progress = scale, summary, chain, progress
        self.heap: list = []
        self.seq = itertools.count()
        self.grids = list(
            Grid.objects.exclude(kind=Grid.Kind.MICRO)
            .filter(active=True)
            .select_related("village__parent")
            .order_by("code")
        )
        if not self.grids:
            raise RuntimeError("the demo county has no grids")
        self.types = {g.pk: _place_type(g) for g in self.grids}
        self.workers = _holders(Role.GRID_WORKER)
        self.towns = _holders(Role.TOWNSHIP_OPERATOR)
        county = _holders(Role.COUNTY_OPERATOR)
        if not county or not self.towns:
            raise RuntimeError("the demo county has no county or township operators")
        self.county = next(iter(county.values()))
        self.points: dict[int, list] = {}
        self.photo_before = self.photo_after = None
        self.checks: dict[int, object] = {}  # target id → the hazard check (its case)

    def at(self, moment: datetime, step: Callable[[], None]) -> None:
        heapq.heappush(self.heap, (moment, next(self.seq), step))

    def drain(self, until: datetime) -> None:
        while self.heap and self.heap[0][0] <= until:
            moment, _seq, step = heapq.heappop(self.heap)
            if moment > self.now:
                continue
            self.clock.set(moment)
            try:
                step()
            except (ValidationError, PermissionDenied, case_workflow.InvalidTransition) as exc:
                self.chain.resync()  # the failed action's savepoint took its events with it
                self.summary.error_count += 1
                if len(self.summary.errors) < 20:
                    self.summary.errors.append(f"{moment:%Y-%m-%d %H:%M} {exc}")
            self.chain.checkpoint()

    def grids_for(self, theme: Theme) -> list[Grid]:
        grids = [g for g in self.grids if g.code[:15] in self.workers]
        if theme.scope == "urban":
            grids = [g for g in grids if g.code[:9] in URBAN_TOWNS]
        elif theme.scope == "rural":
            grids = [g for g in grids if not self.types[g.pk].startswith("urban")]
        elif theme.scope == "lizhou":
            grids = [g for g in grids if g.code.startswith(LIZHOU)]
        return grids

    def point(self, grid: Grid) -> tuple[float, float]:
        if grid.pk not in self.points:
            self.points[grid.pk] = _points(self.rng, grid)
        return self.rng.choice(self.points[grid.pk])

    # ---------------------------------------------------------------- one campaign

    def campaign(self, theme: Theme, hazards: int) -> None:
        rng = self.rng
        grids = self.grids_for(theme)
        if not grids or hazards <= 0:
            return
        start = _start_of(theme, self.end)
        last = start + timedelta(days=theme.days - 1)
        category = Category.objects.get(code=theme.category)
        organiser = self.towns.get(LIZHOU) if theme.scope == "lizhou" else self.county
        if organiser is None:
            return
        towns = sorted({g.code[:9] for g in grids})
        areas = towns if theme.scope != "lizhou" else [LIZHOU]
        self.clock.set(datetime.combine(start, datetime.min.time(), self.tz) + timedelta(hours=8))
        values = dict(
            actor=organiser,
            title=theme.title,
            start=start,
            end=last,
            region_codes=areas,
            description=theme.description,
            target_types=theme.target_types,
            checklist=theme.checklist,
        )
        if theme.from_warning:
            campaign = C.do_create_campaign_from_warning(
                category_code=theme.category,
                source=f"研判预警：{category.name}报告连续七周上升（{'、'.join(areas)}）",
                **values,
            )
        else:
            campaign = C.do_create_campaign(category=category, **values)
        self.summary.campaigns += 1
        self.clock.set(datetime.combine(start, datetime.min.time(), self.tz) + timedelta(hours=8.5))
        campaign = C.do_activate_campaign(campaign, actor=organiser)
        # Targets: enough that hazard_rate of the checked ones are hazards.
        count = max(hazards, round(hazards / theme.hazard_rate))
        boost = dict(theme.places)
        weights = list(
            itertools.accumulate(
                boost.get(
                    self.types[g.pk], boost.get(self.types[g.pk].removesuffix("_street"), 1.0)
                )
                for g in grids
            )
        )
        chosen = rng.choices(grids, cum_weights=weights, k=count)
        by_town: dict[str, list[dict]] = {}
        for grid in chosen:
            kind = rng.choice(theme.target_types)
            lat, lng = self.point(grid)
            by_town.setdefault(grid.code[:9], []).append(
                {
                    "kind": kind,
                    "label": TARGET_NAMES[kind](rng) if kind in TARGET_NAMES else kind,
                    "address": f"{grid.village.name}{rng.choice(STREETS)}{rng.randint(1, 300)}号",
                    "grid": grid,
                    "lat": lat,
                    "lng": lng,
                }
            )
        targets: list[CampaignTarget] = []
        for town, rows in sorted(by_town.items()):
            actor = self.towns.get(town) or organiser
            targets += C.do_add_targets(campaign, actor=actor, rows=rows)
        self.summary.targets += len(targets)
        # Checks through the period (the active one: up to now), hazards among them.
        period_end = min(last, self.now.date())
        days = max(1, (period_end - start).days + 1)
        share = P_CHECKED_CLOSED if last < self.now.date() else 0.75
        checked = [t for t in targets if rng.random() < share]
        hazard_ids = {t.pk for t in rng.sample(checked, min(hazards, len(checked)))}
        for target in checked:
            # most checks in the first two thirds of the period
            offset = min(days - 1, int(abs(rng.gauss(0, days / 2.2))))
            moment = _working_moment(rng, start + timedelta(days=offset), self.tz)
            target.campaign = campaign  # shared: closing it below stops its checks
            self.at(moment, self._check_step(theme, target, target.pk in hazard_ids))
        close_at = datetime.combine(last, datetime.min.time(), self.tz) + timedelta(hours=18)

        def close():
            closed = C.do_close_campaign(campaign, actor=organiser)
            campaign.state, campaign.closed_at = closed.state, closed.closed_at

        self.at(close_at, close)

    def _check_step(self, theme: Theme, target: CampaignTarget, hazard: bool):
        campaign = target.campaign
        worker = self.workers.get(target.region_code)
        rng = random.Random(self.rng.getrandbits(64))

        def step():
            if campaign.state != "active":
                return
            answers = {item: hazard and rng.random() < 0.5 for item in campaign.checklist}
            lat, lng = (target.lat, target.lng) if target.lat is not None else (None, None)
            check = C.do_record_check(
                target,
                actor=worker,
                hazard=hazard,
                answers=answers,
                lat=lat,
                lng=lng,
                notes="" if hazard else rng.choice(["", "", "未发现问题", "已宣传提醒"]),
                description=rng.choice(theme.hazards) if hazard else "",
            )
            self.summary.checks += 1
            if hazard:
                self.summary.hazards += 1
                self._follow_up(check.case, worker, rng)

        return step

    def _follow_up(self, case, worker, rng: random.Random) -> None:
        """Accept within hours; most closed on the spot within days, then evaluated."""
        from civicgrid.cases.photos import clean_photo

        if self.photo_before is None:
            self.photo_before = clean_photo(_jpeg((150, 90, 60)))
            self.photo_after = clean_photo(_jpeg((80, 160, 90)))
        now = self.clock.current
        accepted = now + timedelta(hours=rng.uniform(0.3, 4))
        state = {"case": case}

        def accept():
            state["case"] = A.do_accept_case(state["case"], actor=worker)

        self.at(accepted, accept)
        if rng.random() >= P_SELF_CLOSE:
            return
        closed = accepted + timedelta(days=rng.choice((0.5, 1, 1, 2, 3, 5, 8, 12)))

        def close():
            if state["case"].state != case_workflow.ACCEPTED:
                return
            state["case"] = A.do_self_close_case(
                state["case"],
                actor=worker,
                text=CLOSE_TEXT,
                before_photos=[self.photo_before],
                after_photos=[self.photo_after],
            )

        self.at(closed, close)
        if rng.random() >= P_EVALUATED:
            return

        def evaluate():
            if state["case"].state == case_workflow.CLOSED:
                state["case"] = A.do_evaluate_case(
                    state["case"], actor=worker, satisfaction="satisfied"
                )

        self.at(closed + timedelta(days=rng.uniform(1, 4)), evaluate)


def generate_demo_campaigns(
    *,
    seed: int = 1,
    scale: float = 0.2,
    end: date | None = None,
    progress: Callable[[str], None] | None = print,
) -> CampaignSummary | None:
    """The year's eight campaigns ending on ``end`` (default today); None if already loaded."""
    from civicgrid.demo.loader import demo_is_loaded

    if not demo_is_loaded():
        raise RuntimeError("the demo county is not loaded: run load_demo first")
    if demo_campaigns_loaded():
        if progress:
            progress("the demo campaigns are already loaded; nothing to do")
        return None
    tz = ZoneInfo(settings.TIME_ZONE)
    real_now = timezone.now()
    end = end or timezone.localdate(real_now)
    now = min(real_now, datetime.combine(end, datetime.min.time(), tz))
    rng = random.Random(seed)
    grids = Grid.objects.exclude(kind=Grid.Kind.MICRO).filter(active=True).count()
    total = HAZARDS_PER_YEAR * scale * grids / TOTAL_GRIDS
    summary = CampaignSummary(seed=seed, scale=scale, start=end - timedelta(days=365), end=end)
    started = time.perf_counter()
    shares = sum(t.share for t in CAMPAIGNS)
    with Batches() as chain, simulated_clock(now) as clock:
        run = _Run(
            rng=rng,
            tz=tz,
            clock=clock,
            now=now,
            end=end,
            scale=scale,
            summary=summary,
            chain=chain,
            progress=progress,
        )
        plans = sorted(CAMPAIGNS, key=lambda t: _start_of(t, end))
        for theme in plans:
            start = _start_of(theme, end)
            # what happened before this campaign was set up, in time order
            run.drain(datetime.combine(start, datetime.min.time(), tz) + timedelta(hours=8))
            run.campaign(theme, round(total * theme.share / shares))
            if progress:
                progress(
                    f"[{time.perf_counter() - started:6.1f}s] {theme.title}: "
                    f"{summary.targets:,} targets so far"
                )
        run.drain(now)
        clock.set(now)
        from civicgrid.campaigns.models import CampaignCheck
        from civicgrid.campaigns.selectors import RECTIFIED_STATES

        summary.rectified = CampaignCheck.objects.filter(
            hazard=True, case__state__in=RECTIFIED_STATES
        ).count()
        summary.seconds = time.perf_counter() - started
        record_event(
            AUDIT_ACTION,
            target_type="campaigns.campaign",
            target_repr=f"{summary.campaigns} demo campaigns",
            after={
                "seed": seed,
                "scale": scale,
                "end": end.isoformat(),
                "campaigns": summary.campaigns,
                "targets": summary.targets,
                "checks": summary.checks,
                "hazards": summary.hazards,
            },
        )
    if progress:
        progress(
            f"[{summary.seconds:6.1f}s] {summary.campaigns} campaigns, {summary.targets:,} "
            f"targets, {summary.checks:,} checks, {summary.hazards:,} hazards "
            f"({summary.rectified:,} rectified)"
        )
    return summary
