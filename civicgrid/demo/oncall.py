"""Demo data for department staff in grids (A3): postings and a year of summonses.

How to use it (after ``load_demo``; ``load_demo_cases`` is not needed)::

    .venv/bin/civicgrid load_demo_oncall [--scale 0.2] [--seed N]

What it makes, all through the real actions (``oncall.actions``, ``cases.actions``,
``people.actions``) on a simulated clock (``demo.cases.simulated_clock``), in one transaction
with the audit chain batched (``demo.chunks.Batches``: short ones behind a serving demo):

* postings: every department staff member the demo county sank into a grid (the loader's
  ``dept_resident`` / ``dept_on_call`` roles) is posted there as resident (常驻) or on call
  (随叫随驻) from the start of the year; in the first grid of each of the four central streets
  the township's 派出所 and 综合执法中队 staff are posted on call, and one more 派出所 member
  gets a login through the people actions (``oncall2``…``oncall4``; in 梨洲, grid1's grid,
  the demo login ``oncall``, password ``civicgrid-demo``);
* summonses: ``SUMMONS_PER_YEAR × scale`` cases over the last 365 days (about 200 at 0.2),
  each reported by a resident in a grid with posted staff, accepted by the township's command
  room, which summons the on-call person of the needed department with the least load;
  about one in eight declines (the room summons the next person), one in twenty is cancelled
  before an answer, the rest accept (median ~6 minutes, p90 ~25), arrive (median ~25 minutes
  after the call) and record their work (one in five with a photo); the room then handles,
  gives feedback, verifies and archives the case. Calls of the last hours stay open, so
  "my summons" has work waiting.

A second run does nothing (the run is recorded as the audit event ``demo.oncall``).
"""

import heapq
import io
import itertools
import math
import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from civicgrid.cases import actions as CA
from civicgrid.cases.models import Category
from civicgrid.cases.photos import clean_photo
from civicgrid.cases.workflow import InvalidTransition
from civicgrid.core.audit import record_event
from civicgrid.core.models import AuditEvent
from civicgrid.core.roles import Role
from civicgrid.demo.cases import simulated_clock
from civicgrid.demo.chunks import Batches
from civicgrid.demo.loader import DEMO_PASSWORD, GIVEN, SURNAMES, demo_is_loaded
from civicgrid.oncall import actions as A
from civicgrid.oncall import workflow as W
from civicgrid.oncall.models import StaffPosting, Summons
from civicgrid.people.actions import do_assign_role, do_create_login, do_create_person
from civicgrid.people.models import Department, RoleAssignment
from civicgrid.regions.models import Grid

__all__ = ["SUMMONS_PER_YEAR", "OnCallSummary", "demo_oncall_loaded", "generate_demo_oncall"]

AUDIT_ACTION = "demo.oncall"
SUMMONS_PER_YEAR = 1000  # cases with a summons, whole county, at --scale 1
HOT_TOWNS = ("330281001", "330281002", "330281003", "330281004")  # 梨洲 凤山 兰江 阳明
DEMO_LOGIN = "oncall"
KIND_WEIGHT = {
    "public_security": 40,
    "law_enforcement": 30,
    "market_supervision": 12,
    "emergency": 10,
    "justice": 5,
    "natural_resources": 3,
}
NEEDS = {
    "public_security": [
        "请派出所民警到场协助劝离",
        "现场有人员冲突，请民警到场",
        "疑似僵尸车需核查车主",
    ],
    "law_enforcement": ["请执法中队到场处置占道经营", "违规户外广告需现场拆除", "请到场查处违停"],
    "market_supervision": ["无证经营需现场检查", "燃气使用隐患请到场检查"],
    "emergency": ["企业动火作业需现场核查", "危化品存放隐患请到场"],
    "justice": ["邻里纠纷需司法所到场调解"],
    "natural_resources": ["疑似违法占地建房请到场核实"],
}
WORK = [
    "已到场核实，当事人已整改",
    "现场劝离，恢复秩序",
    "已联系当事人，限期整改并复查",
    "现场处置完毕，拍照留档",
    "已开具责令整改通知书",
    "会同网格员完成处置，群众满意",
]
DECLINE = ["正在处置另一起警情", "在外执行任务，无法及时到场", "休假中", "已调离该片区"]


def demo_oncall_loaded() -> bool:
    return AuditEvent.objects.filter(action=AUDIT_ACTION).exists()


@dataclass
class OnCallSummary:
    seed: int
    scale: float
    postings: int = 0
    new_logins: int = 0
    cases: int = 0
    summonses: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0


def _lognormal_minutes(rng: random.Random, median: float, p90: float) -> float:
    sigma = math.log(p90 / median) / 1.2816
    return max(0.5, rng.lognormvariate(math.log(median), sigma))


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def generate_demo_oncall(
    *, seed: int = 1, scale: float = 0.2, end: date | None = None, progress: Callable = print
) -> OnCallSummary:
    if not demo_is_loaded():
        raise RuntimeError("the demo county is not loaded: run load_demo first")
    if demo_oncall_loaded():
        raise RuntimeError("the demo summonses are already loaded")
    if scale <= 0:
        raise ValueError("scale must be positive")
    began = time.monotonic()
    rng = random.Random(seed)
    tz = ZoneInfo(settings.TIME_ZONE)
    end = end or timezone.localdate()
    start = end - timedelta(days=365)
    stop = datetime(end.year, end.month, end.day, tzinfo=tz) + timedelta(
        hours=timezone.localtime().hour if end == timezone.localdate() else 0
    )
    summary = OnCallSummary(seed=seed, scale=scale)
    admin = (
        get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    )
    if admin is None:
        raise RuntimeError("no administrator to act for the demo")

    def step(text):
        progress(f"[{time.monotonic() - began:6.1f}s] {text}")

    begin = datetime(start.year, start.month, start.day, 8, tzinfo=tz)
    with simulated_clock(begin) as clock, Batches() as chain:
        postings = _post_staff(rng, admin, start, summary)
        step(f"postings: {summary.postings} ({summary.new_logins} new logins)")
        sim = _Simulation(rng, tz, clock, chain, stop, summary, postings, start)
        sim.run(round(SUMMONS_PER_YEAR * scale), step)
        clock.set(max(clock.now(), stop))
        record_event(
            AUDIT_ACTION,
            actor=None,
            after={
                "seed": seed,
                "scale": scale,
                "cases": summary.cases,
                "summonses": summary.summonses,
            },
        )
    summary.seconds = time.monotonic() - began
    step(
        f"done: {summary.cases} cases, summonses "
        + ", ".join(f"{k} {v}" for k, v in sorted(summary.summonses.items()))
        + (f"; {summary.errors} refused steps" if summary.errors else "")
    )
    return summary


def _post_staff(rng, admin, start: date, summary: OnCallSummary) -> list[StaffPosting]:
    roles = (
        RoleAssignment.objects.filter(
            role__in=(Role.DEPARTMENT_RESIDENT, Role.DEPARTMENT_ON_CALL),
            active=True,
            grid__isnull=False,
            department__isnull=False,
            person__user__isnull=False,
        )
        .select_related("person__user", "department__region", "grid")
        .order_by("pk")
    )
    postings = []
    for role in roles:
        try:
            postings.append(
                A.do_post_staff(
                    person=role.person,
                    department=role.department,
                    grid=role.grid,
                    kind="resident" if role.role == Role.DEPARTMENT_RESIDENT else "on_call",
                    starts_on=start,
                    actor=admin,
                )
            )
        except ValidationError:
            continue  # the same person twice in one grid, or a department that does not fit
    # The hot grids: the first grid of each central street gets the township's 派出所 and
    # 综合执法中队 staff on call (they have logins already), and one more 派出所 on-call
    # member with a new login (in 梨洲, the demo login ``oncall``).
    for town in HOT_TOWNS:
        grid = (
            Grid.objects.filter(code__startswith=town)
            .exclude(kind=Grid.Kind.MICRO)
            .order_by("code")
            .first()
        )
        if grid is None:
            continue
        for kind in ("public_security", "law_enforcement"):
            department = Department.objects.filter(code=f"{town}-{kind}").first()
            if department is None:
                continue
            handlers = RoleAssignment.objects.filter(
                role=Role.DEPARTMENT_HANDLER,
                department=department,
                active=True,
                person__user__isnull=False,
            ).select_related("person__user")
            for handler in handlers[:1]:
                try:
                    postings.append(
                        A.do_post_staff(
                            person=handler.person,
                            department=department,
                            grid=grid,
                            kind="on_call",
                            starts_on=start,
                            actor=admin,
                        )
                    )
                except ValidationError:
                    pass
            if kind != "public_security":
                continue
            person = do_create_person(
                name=_name(rng),
                region=department.region,
                phone=f"139{rng.randrange(10**8):08d}",
                is_resident=False,
                actor=admin,
            )
            username = DEMO_LOGIN if town == HOT_TOWNS[0] else f"oncall{town[-1]}"
            # (A login costs a password hash, about half a second: only these few.)
            do_create_login(person, username=username, password=DEMO_PASSWORD, actor=admin)
            summary.new_logins += 1
            do_assign_role(
                person, Role.DEPARTMENT_ON_CALL, department=department, grid=grid, actor=admin
            )
            postings.append(
                A.do_post_staff(
                    person=person,
                    department=department,
                    grid=grid,
                    kind="on_call",
                    starts_on=start,
                    actor=admin,
                    note="随叫随驻",
                )
            )
    summary.postings = len(postings)
    return postings


class _Simulation:
    def __init__(self, rng, tz, clock, chain, stop, summary, postings, start):
        self.rng, self.tz, self.clock, self.chain = rng, tz, clock, chain
        self.stop, self.summary, self.start = stop, summary, start
        self.heap: list = []
        self.counter = itertools.count()
        # (grid, department) → postings, and the township command room of each town.
        self.slots: dict[tuple[int, int], list[StaffPosting]] = {}
        for p in postings:
            self.slots.setdefault((p.grid_id, p.department_id), []).append(p)
        self.rooms = {}
        for ra in (
            RoleAssignment.objects.filter(role=Role.TOWNSHIP_OPERATOR, active=True)
            .exclude(person__user__isnull=True)
            .select_related("person__user")
            .order_by("scope_code", "pk")
        ):
            current = self.rooms.get(ra.scope_code)
            # Prefer a demo login (lizhou, fengshan) as each town's room.
            if current is None or (
                ra.person.user.has_usable_password() and not current.has_usable_password()
            ):
                self.rooms[ra.scope_code] = ra.person.user
        leaves = [c for c in Category.objects.filter(active=True) if c.is_leaf]
        self.categories = {
            kind: [
                c
                for c in leaves
                if kind in (c.department_kinds or []) and c.default_level == "town"
            ]
            or [c for c in leaves if kind in (c.department_kinds or [])]
            for kind in KIND_WEIGHT
        }
        self.photo = clean_photo(_jpeg())

    def _weighted_slots(self):
        weighted = []
        for (grid_id, department_id), postings in self.slots.items():
            p = postings[0]
            if p.grid.code[:9] not in self.rooms or p.department.kind not in KIND_WEIGHT:
                continue
            if not self.categories.get(p.department.kind):
                continue
            weight = KIND_WEIGHT[p.department.kind] * (8 if len(postings) > 1 else 1)
            weighted.append(((grid_id, department_id), weight))
        return weighted

    def run(self, n_cases: int, step):
        weighted = self._weighted_slots()
        if not weighted or n_cases <= 0:
            step("no grid with posted staff and a command room: no summonses")
            return
        keys, weights = zip(*weighted, strict=True)
        span = (self.stop - datetime.combine(self.start, datetime.min.time(), self.tz)).days or 1
        for _ in range(n_cases):
            day = self.start + timedelta(days=self.rng.randrange(span))
            if day.weekday() >= 5 and self.rng.random() < 0.4:
                day = day + timedelta(days=2)
            moment = datetime(day.year, day.month, day.day, tzinfo=self.tz) + timedelta(
                minutes=self.rng.triangular(7.5 * 60, 21 * 60, 10 * 60)
            )
            key = self.rng.choices(keys, weights)[0]
            self._push(moment, self._case(key))
        # A few calls in the last hours stay open: "my summons" has work waiting.
        busiest = max(weighted, key=lambda item: (len(self.slots[item[0]]), -item[0][0]))[0]
        for minutes in (240, 150, 75, 25):
            self._push(self.stop - timedelta(minutes=minutes), self._case(busiest))
        done = 0
        while self.heap:
            self.chain.checkpoint()
            moment, _n, process = heapq.heappop(self.heap)
            if moment > self.stop:
                continue  # after the end: stays open
            self.clock.set(moment)
            try:
                following = next(process)
            except StopIteration:
                done += 1
                if done % 100 == 0:
                    step(f"{done} cases")
                continue
            except (ValidationError, PermissionDenied, InvalidTransition):
                self.summary.errors += 1
                self.chain.resync()
                continue
            self._push(moment + timedelta(minutes=following), process)

    def _push(self, moment, process):
        heapq.heappush(self.heap, (moment, next(self.counter), process))

    def _case(self, key) -> Generator[float, None, None]:
        rng = self.rng
        postings = self.slots[key]
        grid, department = postings[0].grid, postings[0].department
        room = self.rooms[grid.code[:9]]
        category = rng.choice(self.categories[department.kind])
        case = CA.do_report_case(
            actor=None,
            channel="resident",
            category=category,
            description=f"{grid.name}：{category.name}，请尽快处理",
            grid=grid,
            reporter_name=_name(rng),
            reporter_phone=f"138{rng.randrange(10**8):08d}",
        )
        self.summary.cases += 1
        yield rng.uniform(3, 20)
        case = CA.do_accept_case(case, actor=room)
        yield rng.uniform(1, 6)
        need = rng.choice(NEEDS[department.kind])
        declined: set[int] = set()
        while True:
            offered = [
                p
                for p in postings
                if p.person.user_id not in declined and p.active_on(timezone.localdate())
            ]
            if not offered:
                break
            offered.sort(
                key=lambda p: (
                    p.kind != StaffPosting.Kind.ON_CALL,
                    Summons.objects.filter(
                        staff_id=p.person.user_id, state__in=W.OPEN_STATES
                    ).count(),
                    rng.random(),
                )
            )
            posting = offered[0]
            summons = A.do_summon(case, posting, actor=room, request=need)
            self._count("sent")
            staff = posting.person.user
            roll = rng.random()
            if roll < 0.05:
                yield rng.uniform(2, 15)
                A.do_cancel_summons(summons, actor=room, reason="现场已自行处置")
                self._count(W.CANCELLED)
                break
            if roll < 0.17:
                yield _lognormal_minutes(rng, 5, 20)
                A.do_decline_summons(summons, actor=staff, reason=rng.choice(DECLINE))
                self._count(W.DECLINED)
                declined.add(staff.pk)
                yield rng.uniform(2, 8)
                continue
            # Resident staff answer a little faster (they are in the grid already).
            resident = posting.kind == StaffPosting.Kind.RESIDENT
            yield _lognormal_minutes(rng, 4 if resident else 6, 15 if resident else 25)
            A.do_accept_summons(summons, actor=staff)
            yield _lognormal_minutes(rng, 12 if resident else 20, 35 if resident else 55)
            A.do_arrive_summons(summons, actor=staff)
            yield rng.uniform(15, 120)
            photos = [self.photo] if rng.random() < 0.2 else []
            A.do_finish_summons(summons, actor=staff, notes=rng.choice(WORK), photos=photos)
            self._count(W.DONE)
            break
        yield rng.uniform(5, 30)
        case = CA.do_handle_case(case, actor=room, text="指挥室自办")
        yield rng.uniform(5, 60)
        case = CA.do_feedback_case(case, actor=room, text="已会同部门力量处置完毕")
        yield rng.uniform(30, 240)
        case = CA.do_verify_case(case, actor=room, passed=True)
        yield rng.uniform(60, 60 * 24)
        CA.do_evaluate_case(
            case,
            actor=room,
            satisfaction=rng.choice(("satisfied", "satisfied", "basically_satisfied")),
        )

    def _count(self, state: str) -> None:
        self.summary.summonses[state] = self.summary.summonses.get(state, 0) + 1


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 120, 150)).save(buffer, "JPEG")
    return buffer.getvalue()
