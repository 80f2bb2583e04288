"""A year of demo cases for the demo county, made by the case workflow on a simulated clock.

How to use it::

    .venv/bin/python manage.py load_demo                   # the county first (once)
    .venv/bin/python manage.py load_demo_cases             # then a year of cases
    .venv/bin/python manage.py load_demo_cases --scale 1 --seed 7 --end 2026-11-01

``--days`` (default 365) days of cases end at midnight on ``end`` (default: today). Volume:
``--scale 1`` is about 30,000 cases a year for the whole county (the command's default is 0.2)
(``load_demo --scale 1``), in proportion to the grids loaded; about 6.3 steps a case, each
with its timeline row, audit event and notifications. Progress goes to stderr. A second run
does nothing (the run is recorded as the audit event ``demo.cases``). Python::

    from civicgrid.demo.cases import generate_demo_cases
    summary = generate_demo_cases(seed=7, days=30, scale=0.5, end=date(2026, 11, 1))

Two ways to write the same rows. By default every step goes to a ``BulkCaseWriter``
(``civicgrid.demo.bulk_cases``): the functions of ``civicgrid.cases.actions`` the simulation
calls, with the same checks and the same rows, kept in memory and inserted in chunks — a full
year (scale 1) in about 100 s of CPU on SQLite. ``through_actions=True``
(``--through-actions``) calls the actions themselves, at about 55–60 cases a second on SQLite
(nine minutes for scale 1).
``demo/tests/test_bulk_cases.py`` runs the same seed both ways and compares every table.

How it works: every case is a small process (a generator) that reports, accepts, escalates,
dispatches, signs, gives feedback, verifies and evaluates through the actions (or the bulk
writer) with the right actors (the grid's full-time worker, the village staff, one township
operator per town, the county operator, the leader, one handler per department — all existing
role holders of the demo county, demo logins preferred). A simulated clock
(``simulated_clock``: ``django.utils.timezone.now`` patched for the run, restored afterwards,
also on error) moves forward through the year; the processes wait on a heap ordered by time,
so every row — timeline, deadlines, audit trail, notifications — carries the simulated
instant. Events due after the end are not run: those cases stay open. The run is one
transaction, with the audit chain's head kept in memory (``core.audit.audit_batch``: the same
events, the head row written once at the end).

The mix: seasonality per category group (城市管理 up in summer, 消防 in winter, 自然灾害 in
the typhoon months), fewer reports on weekends, at Spring Festival and National Day; places
weighted by a population proxy (urban communities of the four central streets busiest, the
industrial parks for 安全生产, markets for 食药安全 …); most reports from grid workers, some
from residents, 12345 and co-governance members. About 5% of cases miss their deadline (and
are supervised: yellow card, red card with a leader's instruction), some are returned by a
department (退单: re-dispatched or forced), escalated to the county, sent back for rework,
reopened after an unsatisfied evaluation or reviewed by the county centre.

A planted cluster for the early warning: 废弃车辆（僵尸车） (0101) reports in the four urban
streets (梨洲, 凤山, 兰江, 阳明), 60% of them in one hot-spot grid per street, grow from 2 to 25
a week on top of the usual ones (about 2 a week at ``--scale 1``) over ``cluster_weeks`` (7)
weeks, ending ``cluster_end`` (default three weeks before the end), whatever the scale.

Deterministic for a seed (``random.Random``), given the same county, end date and database
state (case codes carry the date, so compare counts, not codes, across databases).
"""

import heapq
import io
import itertools
import math
import random
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from civicgrid.cases import actions as A
from civicgrid.cases import workflow
from civicgrid.cases.models import Assignment, Case, CaseAction, Category, Level
from civicgrid.cases.photos import clean_photo
from civicgrid.cases.selectors import suggested_departments
from civicgrid.core.audit import AuditBatch, audit_batch, record_event
from civicgrid.core.calendar import default_calendar
from civicgrid.core.models import AuditEvent
from civicgrid.core.roles import Role
from civicgrid.demo.bulk_cases import BulkCaseWriter
from civicgrid.demo.geometry import TOTAL_GRIDS
from civicgrid.demo.loader import DEMO_LOGINS, GIVEN, STREETS, SURNAMES, demo_is_loaded
from civicgrid.people.models import Department, RoleAssignment
from civicgrid.regions import geo
from civicgrid.regions.models import Grid

__all__ = [
    "CLUSTER_CATEGORY",
    "CLUSTER_TOWNS",
    "CASES_PER_YEAR",
    "CaseSummary",
    "demo_cases_loaded",
    "generate_demo_cases",
    "simulated_clock",
]

CASES_PER_YEAR = 30_000  # the whole county (TOTAL_GRIDS grids) at --scale 1
CLUSTER_CATEGORY = "0101"  # 废弃车辆（僵尸车）
CLUSTER_TOWNS = ("330281001", "330281002", "330281003", "330281004")  # 梨洲 凤山 兰江 阳明
CLUSTER_FROM, CLUSTER_TO = 2.0, 25.0  # reports a week in the four streets, start → peak
AUDIT_ACTION = "demo.cases"

# Share of the year's cases per category group, and a month profile (Jan…Dec, mean 1).
GROUP_SHARE = {
    "01": 24, "02": 14, "03": 12, "04": 8, "05": 6, "06": 5, "07": 6, "08": 3, "09": 3,
    "10": 4, "11": 3, "12": 4, "13": 1.5, "14": 1.5, "15": 1, "16": 0.5, "17": 1, "18": 1,
    "19": 2, "20": 1, "21": 1,
}  # fmt: skip
GROUP_MONTHS = {
    "01": (0.8, 0.7, 0.9, 1.0, 1.1, 1.2, 1.3, 1.3, 1.15, 1.0, 0.9, 0.8),
    "02": (1.3, 1.1, 1.0, 0.95, 0.95, 0.9, 0.9, 0.9, 0.95, 0.95, 1.0, 1.15),
    "03": (0.9, 0.7, 1.05, 1.1, 1.05, 1.1, 1.1, 1.05, 1.05, 1.0, 1.0, 1.0),
    "04": (1.45, 1.35, 1.1, 0.9, 0.8, 0.7, 0.7, 0.7, 0.8, 1.0, 1.2, 1.4),
    "07": (0.9, 0.8, 1.0, 1.1, 1.1, 1.2, 1.1, 1.0, 1.0, 1.1, 1.0, 0.9),
    "14": (0.7, 0.7, 1.0, 1.2, 1.3, 1.2, 1.1, 1.0, 1.1, 1.0, 0.9, 0.8),
    "15": (0.2, 0.2, 0.4, 0.6, 0.9, 2.0, 2.4, 2.6, 2.2, 0.8, 0.3, 0.2),
}
# Leaves within a group (default 1) and leaves with a season of their own (month: factor).
LEAF_WEIGHT = {
    "0101": 0.5, "0102": 2, "0103": 3, "0104": 1.5, "0105": 2.5, "0107": 1.5, "0110": 1.5,
    "0201": 3, "0202": 1.5, "0203": 1.5, "0204": 2, "0205": 0.6, "0206": 0.8, "0207": 0.3,
    "0301": 0.5, "0302": 1.5, "0303": 0.6, "0305": 2, "0308": 2,
    "0401": 3, "0402": 2, "0404": 2, "0405": 1.5, "0406": 1.5, "0407": 0.3,
    "0501": 2, "0502": 2.5, "0503": 0.5, "0505": 0.4, "0507": 0.3, "0509": 0.2, "0510": 1.5,
    "0601": 2, "0603": 2, "0604": 0.5, "0703": 2, "0704": 2.5, "0708": 1.5,
    "1001": 3, "1002": 1.5, "1003": 1, "1103": 1.5, "1106": 1.5,
    "1201": 3, "1202": 2, "1203": 2, "1206": 0.5, "1301": 0.2, "1601": 1, "1604": 0.3,
    "1704": 2, "1702": 0.3, "2002": 0.3, "2003": 0.3, "2101": 3,
}  # fmt: skip
LEAF_MONTHS = {
    "0203": {1: 2.2, 12: 1.8},  # wage arrears before Spring Festival
    "0401": {1: 1.5, 2: 1.4, 11: 1.3, 12: 1.5},
    "0508": {6: 2.5, 7: 3.5, 8: 3.5},  # drowning season
    "0703": {5: 1.8, 6: 2.2, 10: 2.0, 11: 1.6},  # straw burning after harvests
    "1501": {6: 2.5, 7: 2.0, 8: 1.5},  # plum rains
    "1503": {7: 2.5, 8: 3.5, 9: 3.0},  # typhoons
    "1504": {8: 2.5, 9: 2.5},
}
# Where each group happens more (grid "types": urban, rural or a dedicated grid's purpose).
GROUP_PLACES = {
    "01": {"urban": 1.8, "market": 1.5},
    "03": {"industrial_park": 5, "enterprise": 5, "urban": 0.6},
    "04": {"urban": 1.3, "industrial_park": 1.5},
    "07": {"rural": 1.6, "industrial_park": 2, "urban": 0.6},
    "08": {"market": 4, "school": 2},
    "09": {"market": 3, "urban": 1.3},
    "10": {"rural": 1.3},
    "13": {"hospital": 4},
    "14": {"rural": 2.5, "urban": 0.2, "scenic_area": 1.5},
    "15": {"rural": 1.5, "scenic_area": 2},
    "18": {"school": 5},
}
# Population proxy per grid type (the demo has no population figures per grid).
PLACE_WEIGHT = {
    "urban_street": 2.2, "urban": 1.4, "rural_street": 1.2, "rural": 1.0, "market": 1.5,
    "hospital": 0.9, "school": 0.8, "industrial_park": 1.3, "enterprise": 0.7,
    "scenic_area": 0.5,
}  # fmt: skip
URBAN_VILLAGE_TYPES = {"社区", "居委会", "生活区"}
# Share of a group's reports that come from the public (residents, 12345, co-governance).
PUBLIC_SHARE = {
    "01": 0.3, "02": 0.4, "03": 0.08, "04": 0.12, "07": 0.45, "08": 0.5, "09": 0.7,
    "11": 0.3, "12": 0.35, "13": 0.5, "19": 0.35,
}  # fmt: skip
PUBLIC_CHANNELS = (
    (Case.Channel.RESIDENT, 0.45),
    (Case.Channel.HOTLINE_12345, 0.42),
    (Case.Channel.CO_GOVERNANCE, 0.13),
)
# Hour of day of a report (weights), per channel.
HOURS = {
    Case.Channel.GRID_WORKER: {7: 1, 8: 3, 9: 5, 10: 5, 11: 3, 12: 1, 13: 1, 14: 3, 15: 5,
                               16: 4, 17: 2, 18: 1, 19: 0.5},
    Case.Channel.RESIDENT: {6: 0.5, 7: 2, 8: 3, 9: 4, 10: 4, 11: 3, 12: 2, 13: 2, 14: 3,
                            15: 3, 16: 3, 17: 3, 18: 3, 19: 3, 20: 3, 21: 2, 22: 1, 23: 0.5},
    Case.Channel.HOTLINE_12345: {0: 0.3, 1: 0.2, 2: 0.1, 3: 0.1, 4: 0.1, 5: 0.2, 6: 0.5,
                                 7: 1.5, 8: 3, 9: 4, 10: 4, 11: 3, 12: 2, 13: 2, 14: 3, 15: 3,
                                 16: 3, 17: 3, 18: 2, 19: 2, 20: 2, 21: 1.5, 22: 1, 23: 0.5},
}  # fmt: skip
HOURS[Case.Channel.CO_GOVERNANCE] = HOURS[Case.Channel.RESIDENT]
# Day factors: weekends and the long holidays (names from chinese_calendar).
WEEKEND, HOLIDAY = 0.6, 0.6
LONG_HOLIDAYS = {"Spring Festival": 0.35, "National Day": 0.5}
DAY_NORMALISER = 0.86  # mean day factor over a year, so that CASES_PER_YEAR comes out

# Handling: probabilities of the branches.
P_LATE_FIELD = 0.025  # a grid or village closes after its deadline
P_LATE_DEPT = 0.05  # a department gives feedback after the deadline
P_LATE_SIGN = 0.04
P_RETURN = 0.06
P_APPROVE_RETURN = 0.55
P_EXTENSION = 0.04
P_REWORK = 0.06
P_REJECT = 0.04  # of the public's reports: not accepted (invalid, duplicate, out of scope)
P_FILE = 0.006
P_SUSPEND = 0.01  # disputes waiting for a court or an appraisal
P_SUPERVISE = 0.015  # a normal supervision of a case that is on time
P_UNSATISFIED = 0.045
P_UNSATISFIED_AGAIN = 0.3
# Closed on the spot by the grid (by the category's default level: minor town matters too,
# e.g. a street vendor persuaded to leave), and by the village of what the grid passed up.
SELF_CLOSE = {"grid": 0.9, "village": 0.6, "town": 0.4, "county": 0.05}
VILLAGE_CLOSE = {"grid": 0.7, "village": 0.6, "town": 0.12}

DETAILS = {
    "0101": ["一辆白色轿车停放三个多月未移动，车身积灰、轮胎亏气",
             "路边一辆无牌面包车长期停放，车窗破损",
             "小区门口一辆报废电动三轮车占用车位",
             "一辆银色轿车停放半年以上，车身落满树叶，疑似僵尸车",
             "地下车库入口旁一辆旧车长期不动，挡住消防通道"],
    "0102": ["早晚高峰机动车在人行道上违停，行人只能走机动车道",
             "学校门口接送车辆乱停，堵塞出入口"],
    "0103": ["垃圾桶满溢，周边散落生活垃圾", "绿化带内有人丢弃装修垃圾袋"],
    "0104": ["空地上堆放大量建筑垃圾未清运", "河边积存生活垃圾和渣土"],
    "0105": ["早市摊贩占用人行道经营", "夜宵摊在路边摆摊，占道且油污严重",
             "水果店超出门窗店外经营"],
    "0107": ["电线杆和墙面被贴满办证、通下水道小广告"],
    "0108": ["工地夜间十点后仍在浇筑混凝土，噪声扰民"],
    "0110": ["人行道上窨井盖缺失，已临时放置锥桶", "路灯连续多晚不亮"],
    "0201": ["两户邻居因楼上漏水发生争执", "邻居在公共过道堆放杂物引发口角",
             "宠物狗夜间吠叫引起邻里矛盾"],
    "0203": ["十余名工人反映工程老板拖欠工资三个月", "员工被辞退后未拿到补偿金"],
    "0204": ["业主与物业因停车费上涨发生纠纷"],
    "0302": ["厂房内电焊作业未办理动火审批，无人监护"],
    "0305": ["工地临边洞口无防护栏杆", "脚手架搭设不规范，有坍塌风险"],
    "0308": ["餐饮店瓶装燃气未安装报警器，软管老化"],
    "0401": ["楼道内停放多辆电动自行车并飞线充电", "居民从窗口拉线给电动车充电"],
    "0402": ["消防车通道被私家车长期占用", "安全出口被货物堵塞"],
    "0404": ["出租房内私拉乱接电线，插座过载"],
    "0501": ["出租房内居住人员较多，进出异常"],
    "0502": ["新入住租户未办理居住登记"],
    "0601": ["道路出现较大坑槽，电动车易摔倒"],
    "0703": ["田间有人焚烧秸秆，浓烟影响周边"],
    "0704": ["广场舞音响音量过大，持续到晚上十点", "商铺门口促销音响声音过大"],
    "1001": ["村民在自家院内新建彩钢棚，未见规划许可", "屋顶违规加盖阳光房"],
    "1103": ["独居老人两天未出门，敲门无人应答"],
    "1201": ["老人请求帮忙代购药品"],
    "1203": ["老旧小区楼道灯损坏，老人夜间上下楼不便"],
}  # fmt: skip
FIELD_CLOSE = "已现场处置：{criteria}。整改前后照片已上传。"
DEPT_FEEDBACK = "经核查处置，{criteria}。"
ESCALATE_TO_VILLAGE = ["超出网格处置能力，上报村（社区）", "需村（社区）协调处置"]
ESCALATE_TO_TOWN = ["需职能部门处置，上报镇街指挥室", "村（社区）无法解决，请求镇街协调"]
ESCALATE_TO_COUNTY = ["涉及多个部门，需县级层面协调", "属县级部门事权，提请县社会治理中心处置"]
RETURN_TEXT = {
    "wrong_place": "经现场核实，事发地不在本辖区",
    "unclear_ownership": "该处设施权属不清，需先明确管理主体",
    "overlapping_duties": "该事项涉及多个部门职能，建议由主责部门牵头",
    "not_our_duty": "该事项不属于本部门职责范围",
    "incomplete": "上报信息不全，无法定位具体地点",
}
VERIFY_FAIL = [
    "现场复查问题仍存在，请继续整改",
    "反馈材料不全，缺少整改后照片",
    "群众反映问题未彻底解决",
]
COMMENTS = {
    "satisfied": ["处理及时，非常满意", "问题已解决，谢谢", ""],
    "basically_satisfied": ["基本解决，希望加强日常巡查", "处理有点慢"],
    "unsatisfied": ["问题又出现了", "没有实际解决", "处理结果不认可"],
}


# --------------------------------------------------------------------------- the clock


class SimulatedClock:
    """What ``timezone.now()`` returns while the clock is patched in."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs an aware datetime")
        self.current = start

    def now(self) -> datetime:
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment


@contextmanager
def simulated_clock(start: datetime) -> Iterator[SimulatedClock]:
    """Patch ``django.utils.timezone.now`` to a clock the caller moves; always restored."""
    clock = SimulatedClock(start)
    original = timezone.now
    timezone.now = clock.now
    try:
        yield clock
    finally:
        timezone.now = original


# --------------------------------------------------------------------------- results


@dataclass
class CaseSummary:
    seed: int
    scale: float
    start: date
    end: date
    cases: int = 0
    cluster_cases: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    by_level: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    supervised: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    seconds: float = 0.0
    path: str = ""  # "bulk" or "actions"

    @property
    def rate(self) -> float:
        return self.cases / self.seconds if self.seconds else 0.0


def demo_cases_loaded() -> bool:
    return AuditEvent.objects.filter(action=AUDIT_ACTION).exists()


# --------------------------------------------------------------------------- helpers


def _jpeg(colour: tuple[int, int, int], label: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 72), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((10 + label * 8, 20, 40 + label * 8, 50), fill=(255 - colour[0], 200, 90))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _normalised(profile: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(profile) / len(profile)
    return tuple(v / mean for v in profile)


def _day_factor(day: date) -> float:
    import chinese_calendar

    try:
        _holiday, name = chinese_calendar.get_holiday_detail(day)
        working = chinese_calendar.is_workday(day)
    except NotImplementedError:
        name, working = None, day.weekday() < 5
    if name in LONG_HOLIDAYS and not working:
        return LONG_HOLIDAYS[name]
    if working:
        return 1.0
    return HOLIDAY if name else WEEKEND


def _place_type(grid: Grid) -> str:
    if grid.kind == Grid.Kind.DEDICATED and grid.purpose:
        return grid.purpose
    urban = grid.village.division_type in URBAN_VILLAGE_TYPES
    street = grid.village.parent.division_type == "街道"
    return ("urban" if urban else "rural") + ("_street" if street else "")


def _generic_type(place_type: str) -> str:
    return place_type.removesuffix("_street")


# --------------------------------------------------------------------------- the cast


class _Cast:
    """The existing role holders who act in the simulation, one user object each."""

    ROLES = (
        Role.GRID_WORKER,
        Role.VILLAGE_STAFF,
        Role.TOWNSHIP_OPERATOR,
        Role.COUNTY_OPERATOR,
        Role.COUNTY_LEADER,
        Role.DEPARTMENT_HANDLER,
        Role.CO_GOVERNANCE,
    )

    def __init__(self):
        named = {username for username, *_rest in DEMO_LOGINS}
        rows = (
            RoleAssignment.objects.filter(
                active=True, role__in=self.ROLES, person__user__is_active=True
            )
            .select_related("person__user")
            .order_by("pk")
        )
        by_role: dict[str, dict] = {role: {} for role in self.ROLES}
        for row in rows:
            user = row.person.user
            key = row.department_id if row.role == Role.DEPARTMENT_HANDLER else row.scope_code
            holders = by_role[row.role]
            current = holders.get(key)
            # The first holder of each place or department, a demo login if there is one.
            if current is None or (user.username in named and current.username not in named):
                holders[key] = user
        self.grid_worker = by_role[Role.GRID_WORKER]
        self.village = by_role[Role.VILLAGE_STAFF]
        self.town = by_role[Role.TOWNSHIP_OPERATOR]
        self.handler = by_role[Role.DEPARTMENT_HANDLER]
        self.co_governance = by_role[Role.CO_GOVERNANCE]
        county_ops = by_role[Role.COUNTY_OPERATOR]
        leaders = by_role[Role.COUNTY_LEADER]
        if not county_ops or not leaders or not self.town:
            raise RuntimeError("the demo county has no county or township operators")
        self.county = next(iter(county_ops.values()))
        self.leader = next(iter(leaders.values()))

    def users(self) -> list:
        tables = (self.grid_worker, self.village, self.town, self.handler, self.co_governance)
        return [self.county, self.leader, *(u for t in tables for u in t.values())]

    def owner(self, case: Case):
        table = {
            Level.GRID: self.grid_worker,
            Level.VILLAGE: self.village,
            Level.TOWN: self.town,
        }.get(case.level)
        return self.county if table is None else table.get(case.unit_code)


# --------------------------------------------------------------------------- arrivals


@dataclass
class _Plan:
    index: int
    at: datetime
    channel: str
    category: Category
    grid: Grid
    cluster: bool = False
    rng: random.Random | None = None
    reporter: object = None  # the reporting user (None for a resident without an account)


class _Arrivals:
    """When, where and what: the year's reports, drawn before anything runs."""

    def __init__(self, rng: random.Random, tz, cast: _Cast):
        self.rng, self.tz, self.cast = rng, tz, cast
        leaves = list(
            Category.objects.filter(parent__isnull=False, active=True)
            .select_related("parent")
            .order_by("code")
        )
        self.categories = {c.code: c for c in leaves}
        self.leaves: dict[str, list[Category]] = {}
        for leaf in leaves:
            self.leaves.setdefault(leaf.parent.code, []).append(leaf)
        self.groups = [g for g in GROUP_SHARE if g in self.leaves]
        self.grids = list(
            Grid.objects.exclude(kind=Grid.Kind.MICRO)
            .filter(active=True)
            .select_related("village__parent")
            .order_by("code")
        )
        if not self.grids:
            raise RuntimeError("the demo county has no grids")
        self.types = {g.pk: _place_type(g) for g in self.grids}
        self.group_grid_weights = {}
        for group in self.groups:
            boosts = GROUP_PLACES.get(group, {})
            weights = []
            for g in self.grids:
                kind = self.types[g.pk]
                weights.append(PLACE_WEIGHT[kind] * boosts.get(_generic_type(kind), 1.0))
            self.group_grid_weights[group] = list(itertools.accumulate(weights))
        urban = [g for g in self.grids if g.code[:9] in CLUSTER_TOWNS]
        self.cluster_grids = urban
        self.cluster_weights = list(
            itertools.accumulate(PLACE_WEIGHT[self.types[g.pk]] for g in urban)
        )
        # A few hot spots: one grid per street (old estates with no parking management).
        by_town: dict[str, list[Grid]] = {}
        for g in urban:
            if self.types[g.pk] in {"urban_street", "urban"}:
                by_town.setdefault(g.code[:9], []).append(g)
        self.hotspots = [rng.choice(grids) for _town, grids in sorted(by_town.items())]
        self.points = {g.pk: self._points(g) for g in self.grids}

    def _points(self, grid: Grid) -> list[tuple[float, float]]:
        from shapely.geometry import Point

        shape = geo.geometry_from_geojson(grid.geometry)
        inner = shape.buffer(-0.0002)
        if inner.is_empty:
            inner = shape
        min_lng, min_lat, max_lng, max_lat = inner.bounds
        points = []
        for _ in range(60):
            lng = round(self.rng.uniform(min_lng, max_lng), 6)
            lat = round(self.rng.uniform(min_lat, max_lat), 6)
            if inner.contains(Point(lng, lat)):
                points.append((lat, lng))
                if len(points) == 8:
                    break
        if not points:
            centre = shape.representative_point()
            points.append((round(centre.y, 6), round(centre.x, 6)))
        return points

    def point(self, rng: random.Random, grid: Grid) -> tuple[float, float]:
        return rng.choice(self.points[grid.pk])

    def _moment(self, day: date, channel: str) -> datetime:
        hours = HOURS[channel]
        hour = self.rng.choices(list(hours), weights=list(hours.values()))[0]
        minute = self.rng.randrange(60)
        second = self.rng.randrange(60)
        return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=self.tz)

    def _channel(self, group: str) -> str:
        if self.rng.random() >= PUBLIC_SHARE.get(group, 0.25):
            return Case.Channel.GRID_WORKER
        channels, weights = zip(*PUBLIC_CHANNELS, strict=True)
        return self.rng.choices(channels, weights=weights)[0]

    def plans(
        self,
        start: date,
        days: int,
        *,
        per_year: float,
        cluster_start: date | None,
        cluster_end: date | None,
        cluster_scale: float,
    ) -> list[_Plan]:
        rng = self.rng
        per_day = per_year / 365 / DAY_NORMALISER
        share_total = sum(GROUP_SHARE[g] for g in self.groups)
        months = {g: _normalised(GROUP_MONTHS[g]) for g in GROUP_MONTHS}
        plans: list[_Plan] = []
        cluster_leaf = self.categories.get(CLUSTER_CATEGORY)
        cluster_due = 0.0
        for offset in range(days):
            day = start + timedelta(days=offset)
            factor = _day_factor(day)
            for group in self.groups:
                season = months[group][day.month - 1] if group in months else 1.0
                lam = per_day * factor * season * GROUP_SHARE[group] / share_total
                leaves = self.leaves[group]
                weights = [
                    LEAF_WEIGHT.get(c.code, 1.0) * LEAF_MONTHS.get(c.code, {}).get(day.month, 1.0)
                    for c in leaves
                ]
                for _ in range(_poisson(rng, lam)):
                    channel = self._channel(group)
                    category = rng.choices(leaves, weights=weights)[0]
                    grid = rng.choices(self.grids, cum_weights=self.group_grid_weights[group])[0]
                    plans.append(_Plan(0, self._moment(day, channel), channel, category, grid))
            if cluster_leaf is None or cluster_start is None or not self.cluster_grids:
                continue
            if cluster_start <= day < cluster_end:
                # On top of the baseline: CLUSTER_FROM in the first week growing to CLUSTER_TO
                # in the last, spread over the days without noise (a plain signal).
                weeks = max(1, -(-(cluster_end - cluster_start).days // 7))
                week = (day - cluster_start).days // 7
                growth = week / (weeks - 1) if weeks > 1 else 1.0
                weekly = CLUSTER_FROM * (CLUSTER_TO / CLUSTER_FROM) ** growth
                cluster_due += weekly / 7 * cluster_scale * (0.7 if factor < 1 else 1.12)
                count, cluster_due = int(cluster_due), cluster_due - int(cluster_due)
                for _ in range(count):
                    channel = rng.choices(
                        [
                            Case.Channel.GRID_WORKER,
                            Case.Channel.RESIDENT,
                            Case.Channel.HOTLINE_12345,
                        ],
                        weights=[0.5, 0.25, 0.25],
                    )[0]
                    if self.hotspots and rng.random() < 0.6:
                        grid = rng.choice(self.hotspots)
                    else:
                        grid = rng.choices(self.cluster_grids, cum_weights=self.cluster_weights)[0]
                    plans.append(
                        _Plan(0, self._moment(day, channel), channel, cluster_leaf, grid, True)
                    )
        plans.sort(key=lambda p: p.at)
        for index, plan in enumerate(plans):
            plan.index = index
            plan.rng = random.Random(rng.getrandbits(64))
        return plans

    def person(self, rng: random.Random) -> tuple[str, str]:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
        return name, phone

    def address(self, rng: random.Random, grid: Grid) -> str:
        street, number = rng.choice(STREETS), rng.randint(1, 300)
        return f"{grid.village.parent.name}{grid.village.name}{street}{number}号"


# --------------------------------------------------------------------------- the simulation


class _Simulation:
    def __init__(
        self,
        *,
        rng,
        tz,
        clock: SimulatedClock,
        stop: datetime,
        cast,
        arrivals,
        chain: AuditBatch,
        actions=A,
    ):
        self.rng, self.tz, self.clock, self.stop = rng, tz, clock, stop
        self.cast, self.arrivals, self.chain = cast, arrivals, chain
        # civicgrid.cases.actions, or a BulkCaseWriter (same functions, same rows, in memory)
        self.actions = actions
        self.bulk = actions if isinstance(actions, BulkCaseWriter) else None
        self.calendar = default_calendar()
        self.heap: list[tuple[datetime, int, Generator]] = []
        self.seq = itertools.count()
        self.departments = {d.pk: d for d in Department.objects.filter(active=True)}
        self._suggested: dict[tuple, list[Department]] = {}
        self.errors: list[str] = []
        self.error_count = 0
        self.reported = 0
        # Checked and re-encoded once here (the actions take a CleanPhoto as it is).
        self.photo_report = clean_photo(_jpeg((120, 130, 140), 0))
        self.photo_before = clean_photo(_jpeg((150, 90, 60), 1))
        self.photo_after = clean_photo(_jpeg((80, 160, 90), 2))
        self.photo_evidence = clean_photo(_jpeg((90, 110, 170), 3))
        # "basically_satisfied" (19 characters) does not fit Case.satisfaction (max_length 12):
        # PostgreSQL refuses it. Until the field grows, those evaluations say "satisfied".
        self.satisfaction_max_length = Case._meta.get_field("satisfaction").max_length or 999

    # ---------------------------------------------------------------- scheduling

    @property
    def now(self) -> datetime:
        return self.clock.current

    def wh(self, hours: float, start: datetime | None = None) -> datetime:
        """``hours`` working hours after ``start`` (default now)."""
        return self.calendar.add_working_hours(start or self.now, max(hours, 0.01))

    def hours(self, hours: float) -> datetime:
        return self.now + timedelta(hours=hours)

    def run(self, plans: list[_Plan], progress: Callable[[str], None] | None) -> None:
        for plan in plans:
            heapq.heappush(self.heap, (plan.at, next(self.seq), self._life(plan)))
        started = time.perf_counter()
        next_report = 1000
        while self.heap:
            moment, _seq, process = heapq.heappop(self.heap)
            if moment >= self.stop:
                break
            self.clock.set(moment)
            try:
                wake = next(process)
            except StopIteration:
                continue
            except (ValidationError, PermissionDenied, workflow.InvalidTransition) as exc:
                if self.bulk is None:
                    self.chain.resync()  # the failed action's savepoint took its events with it
                self.error_count += 1
                if len(self.errors) < 20:
                    self.errors.append(f"{moment:%Y-%m-%d %H:%M} {type(exc).__name__}: {exc}")
                continue
            heapq.heappush(self.heap, (max(wake, moment), next(self.seq), process))
            if progress is not None and self.reported >= next_report:
                elapsed = time.perf_counter() - started
                progress(
                    f"{self.reported:>8,} cases  {self.reported / elapsed:7.1f} cases/s  "
                    f"{elapsed:7.1f} s  (simulated {timezone.localtime(moment):%Y-%m-%d})"
                )
                next_report += 1000

    # ---------------------------------------------------------------- look-ups

    def lead_sign_deadline(self, case: Case) -> datetime | None:
        if self.bulk is not None:
            return self.bulk.lead_sign_deadline(case)
        return (
            Assignment.objects.filter(case=case, role=Assignment.Role.LEAD, active=True)
            .values_list("sign_deadline", flat=True)
            .first()
        )

    def reload(self, case: Case) -> Case:
        if self.bulk is not None:
            return self.bulk.reload(case)
        return Case.objects.select_related("category").get(pk=case.pk)

    def suggested(self, case: Case) -> list[Department]:
        key = (case.category_id, case.level, case.region_code[:9])
        if key not in self._suggested:
            self._suggested[key] = suggested_departments(case)
        return self._suggested[key]

    def alternative(self, tried: list[Department], case: Case) -> Department | None:
        for department in self.suggested(case):
            if department not in tried and department.pk in self.cast.handler:
                return department
        parent = self.departments.get(tried[-1].parent_id) if tried else None
        if parent is not None and parent not in tried and parent.pk in self.cast.handler:
            return parent
        return None

    def description(self, plan: _Plan, rng: random.Random, address: str) -> str:
        details = DETAILS.get(plan.category.code)
        detail = rng.choice(details) if details else plan.category.acceptance_criteria
        detail = detail or plan.category.name
        prefix = {
            Case.Channel.GRID_WORKER: "巡查发现",
            Case.Channel.RESIDENT: "群众反映",
            Case.Channel.HOTLINE_12345: "12345热线转办：市民来电反映",
            Case.Channel.CO_GOVERNANCE: "共治力量上报",
        }[plan.channel]
        return f"{prefix}，{address}：{detail}。"

    def resolve_at(self, case: Case, rng: random.Random, late_p: float) -> datetime:
        """When the handler finishes: mostly inside the deadline, ``late_p`` of the time after."""
        deadline = case.resolve_deadline or self.wh(22.5)
        if rng.random() < late_p:
            return self.wh(rng.lognormvariate(math.log(10), 0.9), max(deadline, self.now))
        span = self.calendar.working_hours_between(self.now, deadline) if deadline > self.now else 0
        fraction = min(0.8, max(0.04, rng.betavariate(1.6, 2.8)))
        return self.wh(max(0.15, fraction * span))

    # ---------------------------------------------------------------- the processes

    def _life(self, plan: _Plan) -> Generator[datetime, None, None]:
        rng = plan.rng
        case = self._report(plan, rng)
        self.reported += 1
        if case.level == Level.GRID:
            yield from self._at_grid(case, plan, rng)
        else:
            yield from self._at_town(case, plan, rng)

    def _report(self, plan: _Plan, rng: random.Random) -> Case:
        grid, channel, actor = plan.grid, plan.channel, None
        if channel == Case.Channel.GRID_WORKER:
            actor = self.cast.grid_worker.get(grid.code)
        elif channel == Case.Channel.CO_GOVERNANCE:
            actor = self.cast.co_governance.get(grid.code)
        elif channel == Case.Channel.HOTLINE_12345:
            actor = self.cast.county  # the hotline operator files it for the caller
        if actor is None:  # a grid without that role holder: the resident reports it
            channel = plan.channel = Case.Channel.RESIDENT
        address = self.arrivals.address(rng, grid)
        values = dict(
            channel=channel,
            description=self.description(plan, rng, address),
            address=address,
            created=self.now,
            urgent=rng.random() < 0.03,
        )
        lat, lng = self.arrivals.point(rng, grid)
        if channel == Case.Channel.GRID_WORKER:
            # The grid as well as the point: the action keeps it when the point is in it.
            values.update(category=plan.category, lat=lat, lng=lng, grid=grid)
            if rng.random() < 0.35:
                values["photos"] = [self.photo_report]
        elif channel == Case.Channel.CO_GOVERNANCE:
            values.update(
                lat=lat, lng=lng, grid=grid, category=plan.category if rng.random() < 0.6 else None
            )
        elif channel == Case.Channel.RESIDENT:
            name, phone = self.arrivals.person(rng)
            gcj_lng, gcj_lat = geo.wgs84_to_gcj02(lng, lat)
            values.update(
                lat=round(gcj_lat, 6),
                lng=round(gcj_lng, 6),
                datum="gcj02",
                grid=grid,
                reporter_name=name,
                reporter_phone=phone,
                category=plan.category if rng.random() < 0.4 else None,
            )
            if rng.random() < 0.3:
                values["photos"] = [self.photo_report]
        else:  # 12345: an address, no point
            name, phone = self.arrivals.person(rng)
            values.update(
                grid=grid,
                reporter_name=name,
                reporter_phone=phone,
                category=plan.category if rng.random() < 0.7 else None,
            )
        plan.reporter = actor
        return self.actions.do_report_case(actor=actor, **values)

    def _self_close(self, case: Case, plan: _Plan, actor) -> Case:
        return self.actions.do_self_close_case(
            case,
            actor=actor,
            text=FIELD_CLOSE.format(criteria=plan.category.closing_criteria.rstrip("。")),
            before_photos=[self.photo_before],
            after_photos=[self.photo_after],
        )

    def _at_grid(self, case: Case, plan: _Plan, rng: random.Random):
        worker = self.cast.owner(case)
        yield self.hours(rng.uniform(0.05, 1.0))
        case = self.actions.do_accept_case(case, actor=worker)
        level = plan.category.default_level or Level.TOWN
        if rng.random() < SELF_CLOSE.get(level, 0.1):
            yield self.resolve_at(case, rng, P_LATE_FIELD)
            case = self._self_close(case, plan, worker)
            yield from self._evaluate(case, plan, rng)
            return
        yield self.wh(rng.uniform(0.1, 1.5))
        case = self.actions.do_escalate_case(
            case, actor=worker, reason=rng.choice(ESCALATE_TO_VILLAGE)
        )
        village = self.cast.owner(case)
        yield self.wh(rng.uniform(0.3, 4))
        if rng.random() < VILLAGE_CLOSE.get(level, 0.0):
            yield self.resolve_at(case, rng, P_LATE_FIELD)
            case = self._self_close(case, plan, village)
            yield from self._evaluate(case, plan, rng)
            return
        case = self.actions.do_escalate_case(
            case, actor=village, reason=rng.choice(ESCALATE_TO_TOWN)
        )
        yield from self._at_town(case, plan, rng)

    def _at_town(self, case: Case, plan: _Plan, rng: random.Random):
        owner = self.cast.owner(case)
        yield self.wh(rng.uniform(0.2, 3.0))
        if case.state == workflow.REPORTED:
            if not plan.cluster and rng.random() < P_REJECT:
                self.actions.do_reject_case(
                    case, actor=owner, reason="经核实，该诉求不属于受理范围或为重复反映"
                )
                return
            case = self.actions.do_accept_case(case, actor=owner, category=plan.category)
        if rng.random() < P_FILE:
            yield self.wh(rng.uniform(1, 8))
            self.actions.do_file_case(case, actor=owner, reason="经核实，问题已自行解决，备案留存")
            return
        if plan.category.parent.code == "02" and rng.random() < P_SUSPEND:
            yield self.wh(rng.uniform(1, 8))
            case = self.actions.do_suspend_case(
                case, actor=owner, reason="当事人已提起诉讼，待法院判决"
            )
            yield self.wh(rng.uniform(5, 15) * 7.5)
            case = self.actions.do_resume_case(case, actor=owner)
        to_county = 0.5 if plan.category.default_level == Level.COUNTY else 0.02
        if case.level != Level.COUNTY and rng.random() < to_county:
            yield self.wh(rng.uniform(0.5, 4))
            case = self.actions.do_escalate_case(
                case, actor=owner, reason=rng.choice(ESCALATE_TO_COUNTY)
            )
            yield self.wh(rng.uniform(0.5, 3))
        case = yield from self._resolve(case, plan, rng)
        yield from self._evaluate(case, plan, rng)

    def _resolve(self, case: Case, plan: _Plan, rng: random.Random):
        """From accepted to closed by the owning unit: on the spot, itself or a department."""
        owner = self.cast.owner(case)
        if case.level in {Level.GRID, Level.VILLAGE}:
            yield self.resolve_at(case, rng, P_LATE_FIELD)
            return self._self_close(case, plan, owner)
        suggested = [d for d in self.suggested(case) if d.pk in self.cast.handler]
        lead = suggested[0] if suggested else None
        tried: list[Department] = []
        returned = False
        while lead is not None:
            assisting = [d for d in suggested[1:3] if d != lead]
            case = self.actions.do_dispatch_case(
                case, actor=owner, lead=lead, assisting=assisting, text="请按时限处置并反馈"
            )
            handler = self.cast.handler[lead.pk]
            if not returned and rng.random() < P_RETURN:
                returned = True
                yield self.wh(rng.uniform(0.3, 5))
                reason = rng.choice(list(RETURN_TEXT))
                case = self.actions.do_request_return(
                    case, actor=handler, reason=reason, text=RETURN_TEXT[reason]
                )
                yield self.wh(rng.uniform(0.5, 4))
                if rng.random() < P_APPROVE_RETURN:
                    case = self.actions.do_decide_return(
                        case, actor=owner, approve=True, text="同意退回，改派"
                    )
                    tried.append(lead)
                    lead = self.alternative(tried, case)
                    yield self.wh(rng.uniform(0.2, 2))
                    continue
                case = self.actions.do_decide_return(
                    case, actor=owner, approve=False, text="经研判属于贵单位职责，请予办理"
                )
            sign_deadline = self.lead_sign_deadline(case)
            if sign_deadline is None or rng.random() < P_LATE_SIGN:
                yield self.wh(rng.uniform(1, 12), max(self.now, sign_deadline or self.now))
            else:
                span = self.calendar.working_hours_between(self.now, sign_deadline)
                yield self.wh(max(0.05, span * rng.uniform(0.05, 0.9)))
            case = self.actions.do_sign_case(case, actor=handler)
            case = yield from self._handle(case, plan, rng, owner, handler)
            return case
        # No department (or none left): the command room handles it itself.
        case = self.actions.do_handle_case(case, actor=owner, text="由本级直接处置")
        case = yield from self._handle(case, plan, rng, owner, owner)
        return case

    def _handle(self, case: Case, plan: _Plan, rng: random.Random, owner, handler):
        """In progress → feedback → verified (rework sometimes); supervision along the way."""
        late = rng.random() < P_LATE_DEPT
        if not late and rng.random() < P_EXTENSION:
            yield self.wh(rng.uniform(2, 12))
            if (
                case.state == workflow.IN_PROGRESS
                and case.extension_days < self.actions.MAX_EXTENSION_DAYS
                and self.now < case.resolve_deadline  # extensions are asked before the deadline
            ):
                request = self.actions.do_request_extension(
                    case, actor=handler, days=rng.randint(3, 10), reason="需协调多方，申请延期"
                )
                yield self.wh(rng.uniform(0.5, 6))
                approve = rng.random() < 0.85
                self.actions.do_decide_extension(
                    request, actor=owner, approve=approve, text="同意" if approve else "不予延期"
                )
                case = self.reload(case)
        finish = self.resolve_at(case, rng, 1.0 if late else 0.0)
        deadline = case.resolve_deadline
        side: list[tuple[datetime, str]] = []
        if late and deadline is not None:
            yellow = self.wh(rng.uniform(1, 6), max(deadline, self.now))
            if yellow < finish:
                side.append((yellow, "yellow"))
            red = self.wh(rng.uniform(4, 6) * 7.5, max(deadline, self.now))
            if red < finish:
                side.append((red, "red"))
        elif rng.random() < P_SUPERVISE:
            side.append((self.wh(rng.uniform(1, 8)), "normal"))
        for moment, kind in sorted(side):
            if moment >= finish:
                continue
            yield moment
            level = {
                "normal": Case.Supervised.NORMAL,
                "yellow": Case.Supervised.YELLOW,
                "red": Case.Supervised.RED,
            }[kind]
            actor = self.cast.leader if kind == "red" else self.cast.county
            reason = {
                "normal": "群众关注度高，请加快办理",
                "yellow": "已超过办理时限，黄牌督办",
                "red": "超期严重，红牌督办，请主要负责人牵头处置",
            }[kind]
            supervision = self.actions.do_supervise_case(
                case, actor=actor, level=level, reason=reason
            )
            if kind == "red":
                self.actions.do_instruct_case(
                    case,
                    actor=self.cast.leader,
                    text="请责任单位主要负责人牵头，三日内办结并报结果",
                    required_actions="明确责任人；制定整改方案；按期反馈",
                )
            answer_at = self.wh(rng.uniform(1, 12))
            if answer_at < finish:
                yield answer_at
                self.actions.do_answer_supervision(
                    supervision, actor=handler, answer="已落实专人跟进，正在加快处置"
                )
        yield finish
        criteria = plan.category.closing_criteria.rstrip("。")
        photos = [self.photo_evidence] if rng.random() < 0.3 else []
        case = self.actions.do_feedback_case(
            case, actor=handler, text=DEPT_FEEDBACK.format(criteria=criteria), photos=photos
        )
        yield self.wh(rng.uniform(0.3, 4))
        if rng.random() < P_REWORK:
            case = self.actions.do_verify_case(
                case, actor=owner, passed=False, text=rng.choice(VERIFY_FAIL)
            )
            yield self.wh(rng.uniform(2, 12))
            case = self.actions.do_feedback_case(
                case, actor=handler, text=f"已按要求整改到位，{criteria}。", photos=photos
            )
            yield self.wh(rng.uniform(0.3, 4))
        case = self.actions.do_verify_case(
            case, actor=owner, passed=True, text="经核查，处置到位，同意结案"
        )
        return case

    def _evaluate(self, case: Case, plan: _Plan, rng: random.Random):
        """回访/评价 by the reporter, or by the owning unit calling the resident back."""
        for attempt in range(2):
            yield self.wh(rng.uniform(0.5, 16))
            evaluator = plan.reporter or self.cast.owner(case)
            p_unsatisfied = P_UNSATISFIED if attempt == 0 else P_UNSATISFIED_AGAIN
            roll = rng.random()
            satisfaction = (
                "unsatisfied"
                if roll < p_unsatisfied
                else "basically_satisfied"
                if roll < p_unsatisfied + 0.1
                else "satisfied"
            )
            if len(satisfaction) > self.satisfaction_max_length:
                satisfaction = "satisfied"  # see satisfaction_max_length
            case = self.actions.do_evaluate_case(
                case,
                actor=evaluator,
                satisfaction=satisfaction,
                comment=rng.choice(COMMENTS[satisfaction]),
            )
            if case.state == workflow.ARCHIVED:
                return
            if case.state == workflow.REVIEW:
                yield self.wh(rng.uniform(4, 20))
                self.actions.do_review_case(
                    case,
                    actor=self.cast.county,
                    reopen=False,
                    text="经复核，已按规定妥善处置，予以归档",
                )
                return
            # reopened: the owner takes it up again
            yield self.wh(rng.uniform(0.5, 4))
            case = yield from self._resolve(case, plan, rng)


# --------------------------------------------------------------------------- entry point


def generate_demo_cases(
    *,
    seed: int,
    days: int = 365,
    scale: float = 1.0,
    end: date | None = None,
    cluster_end: date | None = None,
    cluster_weeks: int = 7,
    cluster_scale: float = 1.0,
    progress: Callable[[str], None] | None = None,
    through_actions: bool = False,
) -> CaseSummary:
    """Make ``days`` days of cases ending at midnight on ``end`` (default today); see above.

    By default the steps are written by ``demo.bulk_cases.BulkCaseWriter`` (the same rows as
    the actions, in memory, written with ``bulk_create``); ``through_actions`` runs every step
    through ``civicgrid.cases.actions`` instead — as does the bulk path's refusal (see
    ``BulkCaseWriter.unsupported``), said through ``progress``.

    ``cluster_end`` (default three weeks before ``end``) and ``cluster_weeks`` place the 0101
    cluster; the part outside the window is left out. Its size does not follow ``scale`` (a
    smaller demo still shows it plainly); ``cluster_scale`` multiplies it (0 for none).
    """
    if not demo_is_loaded():
        raise RuntimeError("load the demo county first (manage.py load_demo)")
    if demo_cases_loaded():
        raise RuntimeError("the demo cases are already loaded")
    if days < 1 or scale <= 0:
        raise ValueError("days and scale must be positive")
    tz = ZoneInfo(settings.TIME_ZONE)
    end = end or timezone.localdate()
    start = end - timedelta(days=days)
    cluster_end = cluster_end or end - timedelta(days=21)
    cluster_start = cluster_end - timedelta(weeks=cluster_weeks)
    started = time.perf_counter()
    summary = CaseSummary(seed=seed, scale=scale, start=start, end=end)

    rng = random.Random(seed)
    cast = _Cast()
    arrivals = _Arrivals(rng, tz, cast)
    per_year = CASES_PER_YEAR * len(arrivals.grids) / TOTAL_GRIDS * scale
    plans = arrivals.plans(
        start,
        days,
        per_year=per_year,
        cluster_start=cluster_start,
        cluster_end=cluster_end,
        cluster_scale=cluster_scale,
    )
    if not through_actions:
        problem = BulkCaseWriter.unsupported(cast.users())
        if problem:
            through_actions = True
            if progress is not None:
                progress(f"the bulk path does not apply ({problem}): through the actions")
    summary.path = "actions" if through_actions else "bulk"
    if progress is not None:
        how = "running the actions" if through_actions else "bulk path (same rows as the actions)"
        progress(
            f"{len(plans):,} reports planned from {start} to {end} "
            f"({len(arrivals.grids)} grids, scale {scale}); {how} …"
        )
    stop = datetime(end.year, end.month, end.day, tzinfo=tz)
    first_id = (Case.objects.order_by("-pk").values_list("pk", flat=True).first()) or 0
    with transaction.atomic():
        begin = datetime(start.year, start.month, start.day, tzinfo=tz)
        # One transaction; the audit chain's head is read and written once for all of it.
        with simulated_clock(begin) as clock, audit_batch() as chain:
            actions = A if through_actions else BulkCaseWriter(chain, cast_users=cast.users())
            simulation = _Simulation(
                rng=rng,
                tz=tz,
                clock=clock,
                stop=stop,
                cast=cast,
                arrivals=arrivals,
                chain=chain,
                actions=actions,
            )
            try:
                simulation.run(plans, progress)
                if simulation.bulk is not None:
                    simulation.bulk.finish()
            except BaseException:
                if simulation.bulk is not None:
                    simulation.bulk.abort()
                raise
        cases = Case.objects.filter(pk__gt=first_id)
        summary.cases = cases.count()
        summary.cluster_cases = sum(1 for p in plans if p.cluster)
        summary.by_state = _counts(cases, "state")
        summary.by_channel = _counts(cases, "channel")
        summary.by_level = _counts(cases, "level")
        summary.actions = _counts(CaseAction.objects.filter(case_id__gt=first_id), "action")
        summary.overdue = cases.filter(
            Q(closed_at__gt=F("resolve_deadline"))
            | Q(
                closed_at__isnull=True,
                resolve_deadline__lt=stop,
                state__in=workflow.OPEN_STATES - {workflow.SUSPENDED, workflow.REPORTED},
            )
        ).count()
        summary.supervised = cases.filter(supervised__gt=0).count()
        summary.errors = simulation.errors
        summary.error_count = simulation.error_count
        summary.seconds = time.perf_counter() - started
        record_event(
            AUDIT_ACTION,
            target_type="demo",
            target_id=str(seed),
            target_repr=f"demo cases seed={seed} scale={scale} {start}..{end}",
            scope_code=arrivals.grids[0].code[:6],
            after={"cases": summary.cases, "by_state": summary.by_state, "days": days},
        )
    return summary


def _counts(queryset, field_name: str) -> dict[str, int]:
    rows = queryset.values_list(field_name).annotate(n=Count("id")).order_by("-n")
    return dict(rows.values_list(field_name, "n"))
