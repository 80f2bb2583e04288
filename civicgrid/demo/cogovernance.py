"""Co-governance members with a year of reports and points, made through the real actions.

How to use it::

    civicgrid load_demo                       # the county first (once)
    civicgrid load_demo_cogovernance          # then members, their reports and points

``--scale 0.2`` (the default) registers about 300 members (1,500 × scale) across the townships
— riders, couriers and ride-hailing drivers of the usual platforms, volunteers and residents —
through ``cogovernance.actions.do_register_member`` (one shared demo password hash:
``civicgrid-demo``), and has them report three or four problems each over the year ending at
``end`` (default today), a few of them very active. Every report goes through
``cases.actions.do_report_case`` on the co-governance channel and the township command room
then accepts (≈70 %), rejects (≈12 %) or merges it into someone else's recent open report of
the same place (up to 10 %: a confirmed duplicate); most accepted cases are handled and
verified closed a few days later. So every point comes from the real listener on
``case_action_recorded`` — caps included. About 1 % of the accepted reports are later found
invalid (``do_invalidate_report``) and their points reversed. Finally the county centre
proposes the "优秀共治员" award of the year of ``end``.

Runs on a simulated clock (``demo.cases.simulated_clock``) in one transaction with the audit
chain's head kept in memory (``demo.chunks.Batches``: short ones behind a serving demo);
about 35 s of CPU at scale 0.2 on SQLite (~930 reports). A second run does nothing (the run
is recorded as the audit event ``demo.cogovernance``). Deterministic for a seed.
"""

import heapq
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from civicgrid.cases import actions as CA
from civicgrid.cases.models import Case, Category
from civicgrid.cases.workflow import InvalidTransition
from civicgrid.cogovernance import actions as A
from civicgrid.cogovernance.models import Award, Member, PointEntry
from civicgrid.core.audit import record_event
from civicgrid.core.models import AuditEvent
from civicgrid.core.roles import Role
from civicgrid.demo.cases import simulated_clock
from civicgrid.demo.chunks import Batches
from civicgrid.demo.loader import DEMO_LOGINS, DEMO_PASSWORD, GIVEN, SURNAMES, demo_is_loaded
from civicgrid.people.models import RoleAssignment
from civicgrid.regions.models import Grid, Region

__all__ = ["demo_cogovernance_loaded", "generate_demo_cogovernance"]

AUDIT_ACTION = "demo.cogovernance"
MEMBERS_AT_SCALE_1 = 1500
REPORTS_PER_MEMBER = 3.5

KINDS = [
    (Member.Kind.DELIVERY, 0.35, ["美团", "饿了么"]),
    (Member.Kind.COURIER, 0.20, ["顺丰", "中通", "圆通", "京东物流", "邮政EMS"]),
    (Member.Kind.RIDE_HAILING, 0.10, ["滴滴出行", "曹操出行", "T3出行"]),
    (Member.Kind.VOLUNTEER, 0.20, [""]),
    (Member.Kind.RESIDENT, 0.15, [""]),
]

PROBLEMS = [
    "路边有一辆僵尸车，落满灰尘，轮胎没气",
    "小区门口井盖破损，夜里很危险",
    "电动车在楼道里充电，飞线穿过窗户",
    "路灯坏了好几天，路口一片黑",
    "人行道上堆满建筑垃圾",
    "沿街店铺占道经营，行人只能走机动车道",
    "河道里漂着很多垃圾，有异味",
    "出租房里住了很多人，疑似群租",
    "消防通道被私家车堵住",
    "工地夜间施工噪音扰民",
    "护栏被撞歪了，没人修",
    "广告牌松动，刮风时摇晃",
]
REJECT_REASONS = [
    "经核实不属实",
    "不属于本平台受理范围",
    "描述不清，无法核实",
    "已由相关单位处理完毕",
]
INVALID_REASONS = ["照片为网络图片，现场核实无此问题", "同一问题换角度重复上报刷分"]


@dataclass
class CogovernanceSummary:
    seed: int
    scale: float
    start: date
    end: date
    members: int = 0
    reports: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    entries: int = 0
    points: int = 0
    invalidated: int = 0
    award_candidates: int = 0
    errors: int = 0
    seconds: float = 0.0


def demo_cogovernance_loaded() -> bool:
    return AuditEvent.objects.filter(action=AUDIT_ACTION).exists()


def _township_operators() -> dict[str, object]:
    named = {username for username, *_rest in DEMO_LOGINS}
    found: dict[str, object] = {}
    rows = (
        RoleAssignment.objects.filter(
            active=True, role=Role.TOWNSHIP_OPERATOR, person__user__is_active=True
        )
        .select_related("person__user")
        .order_by("pk")
    )
    for row in rows:
        user, current = row.person.user, found.get(row.scope_code)
        if current is None or (user.username in named and current.username not in named):
            found[row.scope_code] = user
    return found


def _county_operator():
    row = (
        RoleAssignment.objects.filter(
            active=True, role=Role.COUNTY_OPERATOR, person__user__is_active=True
        )
        .select_related("person__user")
        .order_by("pk")
        .first()
    )
    return row.person.user if row else None


class _Run:
    def __init__(self, *, rng, clock, chain, operators, categories, grids_by_town, stop):
        self.rng, self.clock, self.chain = rng, clock, chain
        self.operators, self.categories = operators, categories
        self.grids_by_town, self.stop = grids_by_town, stop
        self.queue: list = []
        self.counter = itertools.count()
        self.errors = 0
        self.recent_by_town: dict[str, list[Case]] = {}

    def at(self, moment: datetime, step, *args):
        if moment < self.stop:
            heapq.heappush(self.queue, (moment, next(self.counter), step, args))

    def run(self, progress, every: int = 1000):
        done = 0
        while self.queue:
            moment, _n, step, args = heapq.heappop(self.queue)
            self.clock.set(moment)
            try:
                with transaction.atomic():
                    step(*args)
            except (ValidationError, PermissionDenied, InvalidTransition):
                self.errors += 1
                self.chain.resync()
            self.chain.checkpoint()
            done += 1
            if progress is not None and done % every == 0:
                progress(f"  {done:,} steps, now at {moment:%Y-%m-%d}")

    # the steps ----------------------------------------------------------------

    def report(self, member: Member, grid: Grid):
        rng = self.rng
        now = self.clock.now()
        town = grid.code[:9]
        roll = rng.random()
        target = None
        if roll < 0.10:
            # a duplicate: someone else's recent report of the same place
            recent = [
                c
                for c in self.recent_by_town.get(town, [])[-20:]
                if c.reported_by_id != member.user_id and now - c.created < timedelta(days=20)
            ]
            if recent:
                target = rng.choice(recent)
                grid = target.grid
        case = CA.do_report_case(
            actor=member.user,
            channel=Case.Channel.CO_GOVERNANCE,
            category=target.category if target else rng.choice(self.categories),
            description=rng.choice(PROBLEMS),
            grid=grid,
        )
        decide = now + timedelta(hours=rng.uniform(1, 40))
        if target is not None:
            self.at(decide, self.merge, case, target)
        elif roll < 0.22:
            self.at(decide, self.reject, case)
        elif roll < 0.92:
            self.at(decide, self.accept, case)
        # else: still waiting for the command room
        self.recent_by_town.setdefault(town, []).append(case)

    def _operator(self, case: Case):
        return self.operators[case.unit_code]

    def accept(self, case: Case):
        case = CA.do_accept_case(case, actor=self._operator(case))
        rng = self.rng
        if rng.random() < 0.85:
            start = self.clock.now() + timedelta(days=rng.uniform(0.5, 8))
            self.at(start, self.close, case)
        if rng.random() < 0.01:
            self.at(self.clock.now() + timedelta(days=rng.uniform(5, 30)), self.invalidate, case)

    def reject(self, case: Case):
        CA.do_reject_case(case, actor=self._operator(case), reason=self.rng.choice(REJECT_REASONS))

    def merge(self, case: Case, target: Case):
        target = Case.objects.get(pk=target.pk)
        if target.state not in {"reported", "accepted", "in_progress"}:
            self.accept(case)  # the earlier report is settled: this one stands on its own
            return
        CA.do_merge_case(case, into=target, actor=self._operator(case))

    def close(self, case: Case):
        actor = self._operator(case)
        case = CA.do_handle_case(case, actor=actor)
        case = CA.do_feedback_case(case, actor=actor, text="已协调处置完毕")
        CA.do_verify_case(case, actor=actor, passed=True)

    def invalidate(self, case: Case):
        A.do_invalidate_report(
            case, actor=self._operator(case), reason=self.rng.choice(INVALID_REASONS)
        )


def _phone(rng: random.Random, used: set[str]) -> str:
    while True:
        phone = f"19{rng.randint(0, 9)}{rng.randint(0, 99_999_999):08d}"
        if phone not in used:
            used.add(phone)
            return phone


def generate_demo_cogovernance(
    *,
    seed: int = 1,
    scale: float = 0.2,
    end: date | None = None,
    days: int = 365,
    progress: Callable[[str], None] | None = print,
) -> CogovernanceSummary:
    """Register members, run a year of their reports through the case actions, propose the
    award; see the module's text. Raises RuntimeError if the county is missing or this demo is
    already loaded."""
    if not demo_is_loaded():
        raise RuntimeError("load the demo county first (load_demo)")
    if demo_cogovernance_loaded():
        raise RuntimeError("the co-governance demo is already loaded")
    if scale <= 0 or days < 1:
        raise ValueError("scale and days must be positive")
    started = time.perf_counter()
    tz = ZoneInfo(settings.TIME_ZONE)
    end = end or timezone.localdate()
    start = end - timedelta(days=days)
    summary = CogovernanceSummary(seed=seed, scale=scale, start=start, end=end)
    rng = random.Random(seed)

    operators = _township_operators()
    county_user = _county_operator()
    towns = list(
        Region.objects.filter(level=Region.Level.TOWN, code__in=operators).order_by("code")
    )
    grids_by_town: dict[str, list[Grid]] = {}
    for grid in Grid.objects.filter(active=True).exclude(kind=Grid.Kind.MICRO).order_by("code"):
        grids_by_town.setdefault(grid.code[:9], []).append(grid)
    towns = [t for t in towns if grids_by_town.get(t.code)]
    categories = list(
        Category.objects.filter(
            parent__isnull=False, active=True, default_level__in=["town", ""]
        ).order_by("code")
    )
    if not towns or not categories or county_user is None:
        raise RuntimeError("the demo county has no township operators, grids or categories")

    n_members = max(len(towns), round(MEMBERS_AT_SCALE_1 * scale))
    weights = [len(grids_by_town[t.code]) for t in towns]
    kinds = [k for k, _w, _p in KINDS]
    kind_weights = [w for _k, w, _p in KINDS]
    platforms = {k: p for k, _w, p in KINDS}
    password_hash = make_password(DEMO_PASSWORD)
    used_phones: set[str] = set()
    begin = datetime(start.year, start.month, start.day, tzinfo=tz)
    stop = datetime(end.year, end.month, end.day, tzinfo=tz)
    first_case = Case.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    first_entry = PointEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    serial = Member.objects.count()
    if progress is not None:
        progress(f"registering {n_members:,} co-governance members in {len(towns)} townships …")

    with simulated_clock(begin) as clock, Batches() as chain:
        run = _Run(
            rng=rng,
            clock=clock,
            chain=chain,
            operators=operators,
            categories=categories,
            grids_by_town=grids_by_town,
            stop=stop,
        )
        members = []
        for _ in range(n_members):
            town = rng.choices(towns, weights)[0]
            kind = rng.choices(kinds, kind_weights)[0]
            grid = rng.choice(grids_by_town[town.code]) if rng.random() < 0.6 else None
            # joined during the first quarter of the year, most in its first weeks
            clock.set(begin + timedelta(days=rng.expovariate(1 / 20) % 90))
            serial += 1
            name = rng.choice(SURNAMES) + "".join(
                rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2)))
            )
            member = A.do_register_member(
                name=name,
                phone=_phone(rng, used_phones),
                kind=kind,
                town=town,
                grid=grid,
                platform=rng.choice(platforms[kind]),
                username=f"gz{serial:05d}",
                password_hash=password_hash,
            )
            members.append(member)
            chain.checkpoint()
            # a heavy tail: most report a few times, some every week or more
            activity = rng.paretovariate(1.6) * REPORTS_PER_MEMBER * 0.4
            n_reports = min(150, round(activity))
            for _ in range(n_reports):
                span = (stop - member.joined).total_seconds()
                moment = member.joined + timedelta(seconds=rng.uniform(0, span))
                moment = moment.replace(hour=rng.choice((8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19)))
                place = member.grid or rng.choice(grids_by_town[town.code])
                run.at(moment, run.report, member, place)
        summary.members = len(members)
        if progress is not None:
            progress(f"running {len(run.queue):,} reports through the case actions …")
        run.run(progress)

        clock.set(stop - timedelta(hours=1))
        award_year = (stop - timedelta(days=1)).year
        county_code = towns[0].code[:6]
        if not Award.objects.filter(county_code=county_code, year=award_year).exists():
            award = A.do_propose_award(county_code=county_code, year=award_year, actor=county_user)
            summary.award_candidates = award.candidates.count()
        cases = Case.objects.filter(pk__gt=first_case, channel=Case.Channel.CO_GOVERNANCE)
        summary.reports = cases.count()
        summary.by_state = {}
        for state in cases.values_list("state", flat=True):
            summary.by_state[state] = summary.by_state.get(state, 0) + 1
        entries = PointEntry.objects.filter(pk__gt=first_entry)
        summary.entries = entries.count()
        summary.points = sum(entries.values_list("points", flat=True))
        summary.invalidated = (
            entries.filter(reverses__isnull=False).values("case").distinct().count()
        )
        summary.errors = run.errors
        summary.seconds = time.perf_counter() - started
        record_event(
            AUDIT_ACTION,
            target_type="demo",
            target_id=str(seed),
            target_repr=f"demo co-governance seed={seed} scale={scale} {start}..{end}",
            scope_code=county_code,
            after={
                "members": summary.members,
                "reports": summary.reports,
                "entries": summary.entries,
                "points": summary.points,
            },
        )
    return summary
