"""A year of "141" high-value report rewards and a dozen typical cases, through the real actions.

How to use it::

    civicgrid load_demo                       # the county first (once)
    civicgrid load_demo_cases --scale 0.2     # a year of cases
    civicgrid load_demo_incentives            # then the rewards

The county centre publishes the scheme (a 试行 version from the start of the year of cases, a
正式 version from its middle with higher amounts — the first keeps its history) and sets every
township's yearly budget. Then about 640 × scale closed or archived demo cases whose reporters
have accounts are nominated, each at a moment after it closed: by the grid that handled it or by
the township command room, with a tier chosen by the case's kind (fire and gas risks → 消除重大
隐患, petitions and disputes → 化解舆情风险, pollution and construction → 避免重大损失, illegal
business → 破获违法犯罪线索). The township leader reviews (≈7 % refused), the county approves (≈4 %
refused) and ≈2 % of the rewards are later revoked as false reports. Finally twelve approved
cases are written up as typical cases — invented stories, clearly marked 虚构 — and published.

Runs on a simulated clock in one transaction with the audit chain kept in memory; a few seconds
at scale 0.2. A second run does nothing (the run is recorded as the audit event
``demo.incentives``). Deterministic for a seed.
"""

import heapq
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from civicgrid.cases.models import Case, CaseReporter
from civicgrid.core.audit import record_event
from civicgrid.core.models import AuditEvent
from civicgrid.core.roles import Role
from civicgrid.demo.cases import simulated_clock
from civicgrid.demo.chunks import Batches
from civicgrid.demo.loader import demo_is_loaded
from civicgrid.incentives import actions as A
from civicgrid.incentives.models import Nomination, Nominator
from civicgrid.people.models import RoleAssignment
from civicgrid.regions.models import Region

__all__ = ["demo_incentives_loaded", "generate_demo_incentives"]

AUDIT_ACTION = "demo.incentives"
REWARDS_AT_SCALE_1 = 640

TIERS_TRIAL = [
    {
        "criterion": "hazard",
        "amount_min": 200,
        "amount_max": 1000,
        "nominators": ["handler", "command_room"],
    },
    {
        "criterion": "opinion",
        "amount_min": 200,
        "amount_max": 800,
        "nominators": ["handler", "command_room"],
    },
    {"criterion": "loss", "amount_min": 300, "amount_max": 2000, "nominators": ["command_room"]},
    {
        "criterion": "crime",
        "amount_min": 500,
        "amount_max": 3000,
        "nominators": ["handler", "command_room"],
    },
]
TIERS_FINAL = [
    {**t, "amount_min": t["amount_min"] + 100, "amount_max": t["amount_max"] + 500}
    for t in TIERS_TRIAL
]
# The tier a case's category suggests (by words in its name); the rest are spread.
CRITERION_WORDS = [
    ("hazard", ("消防", "燃气", "火", "电", "危", "隐患", "安全", "井盖", "坍塌")),
    ("opinion", ("信访", "纠纷", "矛盾", "舆情", "欠薪", "群体")),
    ("loss", ("污染", "违建", "建设", "水", "环境", "河")),
    ("crime", ("非法", "违法", "传销", "赌", "诈骗", "治安")),
]
EVIDENCE = {
    "hazard": [
        "现场排除液化气泄漏隐患，避免了一起可能的燃爆事故。",
        "及时发现并封堵违规电动车充电飞线，消除楼道火灾隐患。",
        "发现老旧房屋墙体开裂，及时转移住户，避免人员伤亡。",
    ],
    "opinion": [
        "及早发现拖欠农民工工资苗头，协调企业当日兑付，避免群体性上访。",
        "邻里纠纷在网格内调处化解，未形成网络舆情。",
        "提前掌握拆迁户不满情绪，组织联合接访，化解舆情风险。",
    ],
    "loss": [
        "发现河道排污口异常，及时处置，避免下游养殖户重大损失。",
        "发现违规开挖危及燃气管线，及时制止，避免管线破损。",
        "台风前发现广告牌松动，及时加固，避免财产损失。",
    ],
    "crime": [
        "联络员提供线索，公安机关据此捣毁一处传销窝点。",
        "网格员发现异常出租屋，协助查获一处非法赌博场所。",
        "发现可疑人员诱骗老人购买保健品，协助破获诈骗案件。",
    ],
}
REFUSALS = [
    "成效证明材料不足",
    "属日常工作范畴，未达到高价值信息认定标准",
    "同一隐患已由其他渠道先行发现",
]
REVOCATIONS = ["经复核，上报情况与事实不符", "经查，信息为编造，奖励予以撤销"]

# Twelve invented typical cases (fictional people and places; no personal data).
STORIES = [
    ("楼道液化气罐隐患及时消除", "hazard"),
    ("一条线索捣毁传销窝点", "crime"),
    ("欠薪苗头早发现 群体上访化于未萌", "opinion"),
    ("河道异常排污及时处置", "loss"),
    ("电动车飞线充电隐患清零", "hazard"),
    ("老旧危房住户提前转移", "hazard"),
    ("违规开挖险伤燃气管线被制止", "loss"),
    ("出租屋内非法赌博线索查实", "crime"),
    ("邻里漏水纠纷网格内化解", "opinion"),
    ("台风前松动广告牌加固", "loss"),
    ("保健品诈骗老人线索核实", "crime"),
    ("拆迁补偿矛盾提前介入", "opinion"),
]


@dataclass
class IncentivesSummary:
    seed: int
    scale: float
    nominations: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    paid: int = 0
    typical_cases: int = 0
    errors: int = 0
    seconds: float = 0.0


def demo_incentives_loaded() -> bool:
    return AuditEvent.objects.filter(action=AUDIT_ACTION).exists()


def _users_by_unit(role) -> dict[str, object]:
    found = {}
    rows = (
        RoleAssignment.objects.filter(active=True, role=role, person__user__is_active=True)
        .select_related("person__user")
        .order_by("pk")
    )
    for row in rows:
        found.setdefault(row.scope_code, row.person.user)
    return found


def _criterion(case: Case, rng: random.Random) -> str:
    name = case.category.name if case.category_id else ""
    for criterion, words in CRITERION_WORDS:
        if any(w in name for w in words):
            return criterion if rng.random() < 0.8 else rng.choice([c for c, _w in CRITERION_WORDS])
    return rng.choices(["hazard", "opinion", "loss", "crime"], [45, 25, 20, 10])[0]


def _story(title: str, criterion: str, town: str, n: int) -> dict:
    place = f"{town}某社区"
    return {
        "title": f"{title}（虚构案例）",
        "summary": f"本案例为演示用虚构案例。{place}网格员在日常巡查中发现问题并及时上报，"
        f"经处置取得明显成效，获评高价值信息。",
        "found": f"网格员在{place}巡查时发现异常情况（第{n}号演示案例，人物与地点均为虚构），"
        "现场核实后通过平台一键上报。",
        "handled": "镇街指挥室当日受理，会同相关部门联合处置；处置完毕后回访核实，群众满意。",
        "lessons": {
            "hazard": "隐患排查要盯住楼道、出租房等重点部位，做到早发现、早处置。",
            "opinion": "矛盾纠纷要抓早抓小，网格内能化解的不上交。",
            "loss": "巡查中留意环境和设施异常，及时上报可以避免重大损失。",
            "crime": "群众和联络员是发现违法犯罪线索的重要力量，线索核实要快。",
        }[criterion],
    }


def generate_demo_incentives(
    *, seed: int = 1, scale: float = 0.2, progress: Callable[[str], None] | None = print
) -> IncentivesSummary:
    """Scheme, budgets, a year of nominations and twelve typical cases; see the module's text.
    Raises RuntimeError if the county or its cases are missing or this demo is loaded."""
    if not demo_is_loaded():
        raise RuntimeError("load the demo county first (load_demo)")
    if demo_incentives_loaded():
        raise RuntimeError("the incentives demo is already loaded")
    if scale <= 0:
        raise ValueError("scale must be positive")
    started = time.perf_counter()
    rng = random.Random(seed)
    summary = IncentivesSummary(seed=seed, scale=scale)
    county = Region.objects.filter(level=Region.Level.COUNTY).order_by("code").first()
    operators = _users_by_unit(Role.TOWNSHIP_OPERATOR)
    leaders = _users_by_unit(Role.TOWNSHIP_LEADER)
    county_user = _users_by_unit(Role.COUNTY_OPERATOR).get(county.code) if county else None
    if county is None or county_user is None or not operators:
        raise RuntimeError("the demo county has no county centre or township operators")
    with_reporter = CaseReporter.objects.filter(user__isnull=False).values("case_id")
    candidates = list(
        Case.objects.filter(
            state__in=A.NOMINABLE_STATES,
            closed_at__isnull=False,
            region_code__startswith=county.code,
            pk__in=with_reporter,
        )
        .select_related("category")
        .order_by("closed_at", "pk")
    )
    candidates = [c for c in candidates if c.region_code[:9] in operators]
    if not candidates:
        raise RuntimeError("no closed demo cases with reporters: run load_demo_cases first")
    wanted = max(12, round(REWARDS_AT_SCALE_1 * scale))
    chosen = sorted(
        rng.sample(candidates, min(len(candidates), round(wanted * 1.12))),
        key=lambda c: (c.closed_at, c.pk),
    )
    first_day = timezone.localtime(candidates[0].closed_at).date()
    last_day = timezone.localtime(candidates[-1].closed_at).date()
    middle = first_day + (last_day - first_day) / 2
    tz = timezone.get_current_timezone()
    if progress is not None:
        progress(f"nominating {len(chosen):,} of {len(candidates):,} closed cases …")

    def moment(day: date, hour: float) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(hours=hour)

    begin = moment(first_day - timedelta(days=1), 9)
    stop = timezone.now()
    approved: list[Nomination] = []
    with simulated_clock(begin) as clock, Batches() as chain:

        def attempt(step, *args, **kwargs):
            try:
                with transaction.atomic():
                    return step(*args, **kwargs)
            except (ValidationError, PermissionDenied):
                summary.errors += 1
                chain.resync()
                return None

        A.do_publish_scheme(
            county_code=county.code,
            name="高价值信息“141”奖励办法",
            version="试行",
            valid_from=first_day - timedelta(days=1),
            tiers=TIERS_TRIAL,
            actor=county_user,
        )
        budget = round(40000 * max(1.0, scale))
        for year in range(first_day.year, last_day.year + 2):
            for town in sorted(operators):
                A.do_set_town_budget(town_code=town, year=year, amount=budget, actor=county_user)
        queue: list = []
        counter = itertools.count()

        def later(when: datetime, step, *args):
            if when < stop:  # what falls after today still waits
                heapq.heappush(queue, (when, next(counter), step, args))

        def publish_final():
            A.do_publish_scheme(
                county_code=county.code,
                name="高价值信息“141”奖励办法",
                version="正式版",
                valid_from=middle,
                tiers=TIERS_FINAL,
                actor=county_user,
            )

        def nominate(case):
            town = case.region_code[:9]
            scheme = A.scheme_on(county.code, timezone.localdate())
            criterion = _criterion(case, rng)
            tier = scheme.tiers.get(criterion=criterion)
            nominator = operators[town]
            if case.level == "grid" and Nominator.HANDLER in tier.nominators:
                reporter = case.reporters.filter(user__isnull=False).first()
                if reporter and A.may_nominate_as(reporter.user, case, tier):
                    nominator = reporter.user
            steps = (tier.amount_max - tier.amount_min) // 100
            amount = tier.amount_min + 100 * min(
                steps, int(rng.expovariate(1 / max(1.0, steps / 3)))
            )
            nomination = attempt(
                A.do_nominate_case,
                case,
                tier=tier,
                amount=amount,
                evidence=rng.choice(EVIDENCE[criterion]),
                actor=nominator,
            )
            if nomination is not None:
                summary.nominations += 1
                reviewer = leaders.get(town) if nominator == operators[town] else operators[town]
                later(clock.now() + timedelta(days=rng.uniform(1, 5)), review, nomination, reviewer)

        def review(nomination, reviewer):
            if rng.random() < 0.07:
                attempt(
                    A.do_refuse_nomination, nomination, actor=reviewer, reason=rng.choice(REFUSALS)
                )
            elif attempt(
                A.do_review_nomination, nomination, actor=reviewer, text="经核实，情况属实"
            ):
                later(clock.now() + timedelta(days=rng.uniform(1, 7)), approve, nomination)

        def approve(nomination):
            if rng.random() < 0.04:
                attempt(
                    A.do_refuse_nomination,
                    nomination,
                    actor=county_user,
                    reason=rng.choice(REFUSALS),
                )
                return
            done = attempt(A.do_approve_nomination, nomination, actor=county_user, text="同意")
            if done is not None:
                approved.append(done)
                if rng.random() < 0.02:  # proves false later
                    later(clock.now() + timedelta(days=rng.uniform(10, 60)), revoke, done)

        def revoke(nomination):
            if attempt(
                A.do_revoke_nomination,
                nomination,
                actor=county_user,
                reason=rng.choice(REVOCATIONS),
            ):
                approved.remove(nomination)

        later(moment(middle, 9), publish_final)
        for case in chosen:
            later(
                timezone.localtime(case.closed_at) + timedelta(days=rng.uniform(1, 12)),
                nominate,
                case,
            )
        while queue:
            chain.checkpoint()
            when, _n, step, args = heapq.heappop(queue)
            clock.set(when)
            step(*args)
        clock.set(max(clock.now(), stop - timedelta(hours=6)))
        # Twelve typical cases, one per story, from approved nominations of matching tiers.
        towns = dict(Region.objects.filter(level=Region.Level.TOWN).values_list("code", "name"))
        pool = list(approved)
        rng.shuffle(pool)
        for n, (title, criterion) in enumerate(STORIES, start=1):
            match = next((x for x in pool if x.tier.criterion == criterion), None) or (
                pool[0] if pool else None
            )
            if match is None:
                break
            pool.remove(match)
            clock.set(clock.now() + timedelta(hours=3))
            typical = attempt(
                A.do_write_typical_case,
                match,
                actor=operators[match.town_code],
                **_story(title, criterion, towns.get(match.town_code, ""), n),
            )
            if typical and attempt(A.do_publish_typical_case, typical, actor=county_user):
                summary.typical_cases += 1
        record_event(
            AUDIT_ACTION,
            actor=county_user,
            target_type="demo",
            target_id="incentives",
            scope_code=county.code,
            after={"seed": seed, "scale": scale, "nominations": summary.nominations},
        )
    rows = Nomination.objects.values_list("state", flat=True)
    for state in rows:
        summary.by_state[state] = summary.by_state.get(state, 0) + 1
    summary.paid = sum(1 for s in rows if s == "approved")
    summary.seconds = time.perf_counter() - started
    if progress is not None:
        progress(f"  done in {summary.seconds:.1f}s")
    return summary
