"""A year of demo disputes for the demo county, as the real mediation actions make them.

    .venv/bin/civicgrid load_demo                       # the county first (once)
    .venv/bin/civicgrid load_demo_mediation --scale 1   # ~60,500 disputes, in bulk
    .venv/bin/civicgrid load_demo_mediation --scale 0.05 --through-actions

``scale 1`` is about 60,500 disputes, 3,755 reception-hall visitors and 14,000 12348 calls a
year for the whole county (fewer on a smaller demo county: the volume follows the number of
grids). First the registry: per township a 矛调中心, a township people's
mediation committee and three studios (marriage and family, labour, neighbourhood and
property); per village a committee; county trade committees (medical, road traffic, consumer,
property). Their mediators are existing staff of the demo county, given the mediator role (no
new logins, so nothing is hashed).

Then a simulation on a simulated clock (one event queue, so routing sees the load of the
moment): arrivals per day (fewer at weekends) with a category and a source; the township's
window registers each, routes it by category and risk — or hands it to a legal channel — and
the mediators hold one to three sessions. Whether a mediation succeeds is drawn from the
dispute's own difficulty (risk, amount, category, the kind of organisation), so the success
rate, durations, overdue share, performance, confirmations and referrals *emerge*; none is
typed in. Steps after the end stay undone: those disputes are still open. The reception-hall
visitor log, the 12348 call log and the organisations' other activities are logged alongside.

The registry and the simulation call an "actions module": by default
``demo.bulk_mediation.BulkMediation``, which writes the same rows as the actions, in bulk
(held to them by ``demo/tests/test_bulk_mediation.py``; the whole year in about a minute);
with ``through_actions`` the real ``mediation.actions`` (and ``people.actions`` for the
mediators' roles), one step at a time (~20 disputes/s). Deterministic for a seed.
Everything runs in one transaction with the audit chain's head kept in memory
(``core.audit.audit_batch``).
"""

from __future__ import annotations

import gc
import heapq
import random
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from civicgrid.core.audit import audit_batch, record_event
from civicgrid.core.models import AuditEvent
from civicgrid.core.roles import Role
from civicgrid.demo.bulk_mediation import BulkMediation
from civicgrid.demo.cases import simulated_clock
from civicgrid.demo.geometry import TOTAL_GRIDS
from civicgrid.demo.loader import GIVEN, SURNAMES, demo_is_loaded
from civicgrid.mediation import actions as A
from civicgrid.mediation.models import Activity, Dispute, MediationOrg, Mediator
from civicgrid.people.actions import do_assign_role
from civicgrid.people.models import Department, RoleAssignment
from civicgrid.people.pii import id_check_digit
from civicgrid.regions.models import Grid, Region

__all__ = [
    "DISPUTES_PER_YEAR",
    "MediationSummary",
    "demo_mediation_loaded",
    "generate_demo_mediation",
]

# The whole county (TOTAL_GRIDS grids) at scale 1, a year (MISSION.md: 60,500+ disputes,
# 3,755 reception-hall visits, 14,000+ calls to the 12348 hotline).
DISPUTES_PER_YEAR = 60_500
VISITS_PER_YEAR = 3_755
CALLS_PER_YEAR = 14_000
AUDIT_ACTION = "demo.mediation"
REGISTRY_ACTION = "demo.mediators"

# Share of intake per category (人民调解 statistics are dominated by family and neighbours).
CATEGORY_WEIGHTS = {
    "01": 20,
    "02": 24,
    "03": 9,
    "04": 7,
    "05": 3,
    "06": 7,
    "07": 2,
    "08": 1,
    "09": 1,
    "10": 9,
    "11": 0.3,
    "12": 3,
    "13": 1.5,
    "14": 5,
    "15": 5,
    "16": 0.1,
    "17": 0.6,
    "99": 2,
}
SOURCE_WEIGHTS = {
    "reception": 30,
    "grid": 24,
    "hotline_12348": 9,
    "petition": 7,
    "police": 13,
    "court": 9,
    "labour_arbitration": 2,
    "online": 6,
}
# Typical money at stake (yuan, median) per category; 0 = usually none.
AMOUNT = {
    "01": 30_000,
    "03": 50_000,
    "04": 80_000,
    "05": 60_000,
    "06": 20_000,
    "07": 40_000,
    "08": 150_000,
    "10": 25_000,
    "12": 3_000,
    "13": 60_000,
    "14": 30_000,
    "15": 5_000,
}
# How hard a category is to settle (subtracted from the chance of success).
HARDNESS = {"08": 0.25, "07": 0.15, "13": 0.15, "03": 0.1, "10": 0.08, "04": 0.05, "09": 0.1}
# The draws above, their cumulative weights made once (``choices`` draws the same).
_CATEGORIES, _CATEGORY_CUM = list(CATEGORY_WEIGHTS), list(accumulate(CATEGORY_WEIGHTS.values()))
_SOURCES, _SOURCE_CUM = list(SOURCE_WEIGHTS), list(accumulate(SOURCE_WEIGHTS.values()))
STUDIOS = (
    ("家和婚姻家庭调解工作室", ["01"]),
    ("劳动争议调解工作室", ["10"]),
    ("邻里物业调解工作室", ["02", "15"]),
)
TRADE = (
    ("医疗纠纷人民调解委员会", ["13"]),
    ("道路交通事故纠纷人民调解委员会", ["14"]),
    ("消费纠纷人民调解委员会", ["12"]),
    ("物业纠纷人民调解委员会", ["15"]),
)
TITLES = {
    "01": "婚姻家庭纠纷",
    "02": "邻里纠纷",
    "03": "宅基地边界纠纷",
    "04": "合同纠纷",
    "05": "生产经营纠纷",
    "06": "损害赔偿纠纷",
    "07": "山林土地纠纷",
    "08": "征地拆迁补偿纠纷",
    "09": "环境污染纠纷",
    "10": "拖欠工资纠纷",
    "11": "旅游纠纷",
    "12": "消费纠纷",
    "13": "医疗纠纷",
    "14": "交通事故赔偿纠纷",
    "15": "物业费纠纷",
    "16": "知识产权纠纷",
    "17": "网购纠纷",
    "99": "其他纠纷",
}


@dataclass
class MediationSummary:
    seed: int
    scale: float
    start: date
    end: date
    disputes: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)
    success_rate: float | None = None
    orgs: int = 0
    mediators: int = 0
    visits: int = 0
    calls: int = 0
    activities: int = 0
    rows: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def demo_mediation_loaded() -> bool:
    return AuditEvent.objects.filter(action=AUDIT_ACTION).exists()


def demo_registry_loaded() -> bool:
    return AuditEvent.objects.filter(action=REGISTRY_ACTION).exists()


# --------------------------------------------------------------------------- the registry


def _holders(role: str) -> dict[str, list]:
    rows = (
        RoleAssignment.objects.filter(active=True, role=role, person__user__is_active=True)
        .select_related("person__user")
        .order_by("pk")
    )
    out: dict[str, list] = {}
    for row in rows:
        out.setdefault(row.scope_code, []).append(row.person)
    return out


def _registry(rng: random.Random, admin, api) -> tuple[list[MediationOrg], int]:
    """The organisations and mediators, through ``api`` (the actions or the bulk path)."""
    county = Region.objects.filter(level=Region.Level.COUNTY).order_by("code").first()
    towns = list(Region.objects.filter(level=Region.Level.TOWN).order_by("code"))
    villages = list(Region.objects.filter(level=Region.Level.VILLAGE).order_by("code"))
    orgs = []
    for town in towns:
        short = town.name
        orgs.append(
            api.do_save_org(
                actor=admin,
                code=f"{town.code}-centre",
                name=f"{short}矛调中心",
                kind="centre",
                region_code=town.code,
                capacity=40,
            )
        )
        orgs.append(
            api.do_save_org(
                actor=admin,
                code=f"{town.code}-tc",
                name=f"{short}人民调解委员会",
                kind="committee_town",
                region_code=town.code,
                capacity=30,
            )
        )
        for i, (name, cats) in enumerate(STUDIOS, start=1):
            orgs.append(
                api.do_save_org(
                    actor=admin,
                    code=f"{town.code}-s{i}",
                    name=f"{short}{name}",
                    kind="studio",
                    region_code=town.code,
                    specialities=cats,
                    capacity=15,
                )
            )
    for village in villages:
        orgs.append(
            api.do_save_org(
                actor=admin,
                code=f"{village.code}-vc",
                name=f"{village.name}人民调解委员会",
                kind="committee_village",
                region_code=village.code,
                capacity=10,
            )
        )
    for i, (name, cats) in enumerate(TRADE, start=1):
        orgs.append(
            api.do_save_org(
                actor=admin,
                code=f"{county.code}-t{i}",
                name=f"余姚市{name}",
                kind="trade",
                region_code=county.code,
                specialities=cats,
                capacity=40,
            )
        )
    # Mediators: staff of the place (village staff, grid workers) given the mediator role.
    staff = _holders(Role.VILLAGE_STAFF)
    for scope, people in _holders(Role.GRID_WORKER).items():
        staff.setdefault(scope[:12], []).extend(people)
    used: set[int] = set(Mediator.objects.exclude(user=None).values_list("user_id", flat=True))
    kinds = [k for k in Mediator.Kind.values]
    regions = {r.code: r for r in Region.objects.all()}
    count = 0
    for org in orgs:
        if org.kind == "centre":
            continue  # the window's own staff mediate at the centre
        pool = []
        for prefix in (org.region_code, org.region_code[:9], org.region_code[:6]):
            pool = [
                p
                for code, people in staff.items()
                if code.startswith(prefix)
                for p in people
                if p.user_id not in used
            ]
            if pool:
                break
        for n in range(2 if org.kind == "committee_village" else 3):
            person = rng.choice(pool) if pool else None
            if person is None:
                break
            pool = [p for p in pool if p.pk != person.pk]
            used.add(person.user_id)
            api.do_assign_role(person, Role.MEDIATOR, region=regions[org.region_code], actor=admin)
            api.do_save_mediator(
                actor=admin,
                org=org,
                name=person.name,
                kind="peoples" if n == 0 else rng.choice(kinds),
                specialities=org.specialities,
                user=person.user,
            )
            count += 1
    return orgs, count


# --------------------------------------------------------------------------- the simulation


class _ThroughActions:
    """The real mediation actions, with the one read-back the simulation needs."""

    do_assign_role = staticmethod(do_assign_role)

    def __getattr__(self, name):
        return getattr(A, name)

    @staticmethod
    def begin_year() -> None:
        pass

    @staticmethod
    def lead_mediator_id(dispute) -> int | None:
        return (
            dispute.assignments.filter(active=True)
            .order_by("-lead", "id")
            .values_list("mediator_id", flat=True)
            .first()
        )

    @staticmethod
    def finish() -> int:
        return 0

    @staticmethod
    def close() -> None:
        pass


class _Sim:
    def __init__(self, rng, tz, clock, stop, admin, api):
        self.rng, self.tz, self.clock, self.stop, self.admin = rng, tz, clock, stop, admin
        self.A = api  # the mediation actions, or the bulk path's functions of the same names
        self.grids = list(Grid.objects.filter(kind=Grid.Kind.BASIC, active=True).order_by("code"))
        self.window = {}
        for scope, people in _holders(Role.TOWNSHIP_OPERATOR).items():
            self.window[scope] = people[0].user
        self.mediator_users = {m.pk: m.user for m in Mediator.objects.select_related("user")}
        self.staffed = set(
            Mediator.objects.filter(active=True).exclude(user=None).values_list("org_id", flat=True)
        )
        self.departments = {}
        for row in RoleAssignment.objects.filter(
            active=True, role=Role.DEPARTMENT_HANDLER
        ).select_related("person__user", "department"):
            self.departments.setdefault(row.department_id, row.person.user)
        self.department_at: dict[tuple, Department | None] = {}
        self.errors: list[str] = []
        self.error_count = 0
        self.visits = self.calls = 0

    # -- small draws
    def name(self) -> str:
        return self.rng.choice(SURNAMES) + "".join(
            self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2)))
        )

    def id_number(self, region: str) -> str:
        born = date(1950, 1, 1) + timedelta(days=self.rng.randrange(365 * 55))
        first17 = f"{region[:6]}{born:%Y%m%d}{self.rng.randrange(1000):03d}"
        return first17 + id_check_digit(first17)

    def phone(self) -> str:
        return f"1{self.rng.choice('3589')}{self.rng.randrange(10**9):09d}"

    def working_moment(self, day: date) -> datetime:
        hour = self.rng.choice((8, 9, 9, 10, 10, 11, 13, 14, 14, 15, 16))
        return datetime(day.year, day.month, day.day, hour, self.rng.randrange(60), tzinfo=self.tz)

    def later(self, moment: datetime, days: float) -> datetime:
        return moment + timedelta(days=days, minutes=self.rng.randrange(-120, 120))

    # -- one dispute's life: yields the moments of its steps
    def life(self, arrive: datetime, grid: Grid) -> Generator[datetime, None, None]:
        rng = self.rng
        town = grid.code[:9]
        window = self.window.get(town)
        if window is None:
            return
        category = rng.choices(_CATEGORIES, cum_weights=_CATEGORY_CUM)[0]
        source = rng.choices(_SOURCES, cum_weights=_SOURCE_CUM)[0]
        group = category in {"10", "08"} and rng.random() < 0.12
        people = rng.randint(10, 60) if group else rng.choice((2, 2, 2, 3, 3, 4, 5))
        median = AMOUNT.get(category, 0)
        amount = round(median * rng.lognormvariate(0, 0.9), -2) if median else 0
        if group:
            amount *= people / 3
        petitions = rng.choice((1, 1, 2, 3, 5)) if source == "petition" else 0
        threats = rng.random() < 0.015
        parties = [
            {
                "role": "applicant",
                "kind": "natural",
                "name": self.name(),
                "id_number": self.id_number(grid.code) if rng.random() < 0.7 else "",
                "phone": self.phone() if rng.random() < 0.8 else "",
            },
        ]
        if category in {"04", "05", "10", "12", "13", "15"} and rng.random() < 0.6:
            parties.append(
                {
                    "role": "respondent",
                    "kind": "legal",
                    "name": f"余姚市{rng.choice(SURNAMES)}{rng.choice(GIVEN)}有限公司",
                }
            )
        else:
            parties.append(
                {
                    "role": "respondent",
                    "kind": "natural",
                    "name": self.name(),
                    "id_number": self.id_number(grid.code) if rng.random() < 0.6 else "",
                }
            )
        yield arrive
        dispute = self.A.do_register_dispute(
            actor=window,
            title=TITLES[category],
            category=category,
            source=source,
            description=f"{parties[0]['name']}与{parties[1]['name']}发生{TITLES[category]}，"
            f"来源：{source}。",
            parties=parties,
            amount=amount,
            people_involved=people,
            scale="large" if people >= 30 else "ordinary",
            threats=threats,
            petitions=petitions,
            grid=grid,
        )
        # Triage the same or the next working day.
        yield self.later(arrive, rng.choice((0.05, 0.2, 1, 1, 2)))
        if rng.random() < 0.04 or (category == "10" and amount > 200_000 and rng.random() < 0.5):
            channel = (
                "labour_arbitration"
                if category == "10"
                else rng.choice(("court", "court", "police", "petition", "administrative_review"))
            )
            handoff = self.A.do_refer_dispute(
                dispute, actor=window, channel=channel, receiving_unit="对口单位"
            )
            yield from self.handoff(dispute, handoff.channel, window)
            return
        route, org, department = self.route_for(dispute)
        if route in {"studio", "trade", "committee"}:
            staffed = [o for o in self.A.route_candidates(dispute, route) if o.pk in self.staffed]
            org = staffed[0] if staffed else None
            if org is None:
                route = "centre"
        try:
            dispute = self.A.do_route_dispute(
                dispute, actor=window, route=route, org=org, department=department
            )
        except Exception:  # no organisation of that kind here: the centre mediates itself
            route = "centre"
            dispute = self.A.do_route_dispute(dispute, actor=window, route="centre")
        handler = self.handler(dispute, window)
        # Difficulty decides the sessions, the time and the outcome.
        p = (
            0.93
            - HARDNESS.get(category, 0)
            - {"low": 0, "medium": 0.12, "high": 0.3}[dispute.risk_level]
            + (0.03 if route in {"studio", "trade"} else 0)
        )
        p -= 0.05 if amount > 100_000 else 0
        sessions = 1 + (rng.random() > p + 0.1) + (rng.random() > p + 0.2)
        pace = rng.expovariate(1 / (4 + 6 * (1 - p)))
        moment = self.later(arrive, rng.uniform(0.5, 3))
        for _ in range(sessions):
            yield moment
            self.A.do_record_session(
                dispute,
                actor=handler,
                held_at=timezone.now(),
                place="调解室",
                attendees="双方当事人",
                notes="听取双方陈述，释法明理",
            )
            moment = self.later(moment, pace + rng.uniform(0.5, 4))
        extend_at = dispute.deadline - timedelta(days=3)
        if moment > extend_at and extend_at > timezone.now() and rng.random() < 0.6:
            yield extend_at
            self.A.do_extend_dispute(
                dispute,
                actor=handler,
                days=rng.choice((10, 15, 30)),
                reason="经双方同意延长调解期限",
            )
        yield moment
        success = rng.random() < p
        if success:
            terms = (
                ["双方自愿和解，互不追究"]
                if not amount
                else [
                    f"被申请人向申请人支付人民币{int(amount * rng.uniform(0.4, 0.9)):,}元",
                    "双方就此事再无其他纠纷",
                ]
            )
            perform_by = timezone.localdate() + timedelta(days=30) if amount else None
            self.A.do_conclude_dispute(
                dispute,
                actor=handler,
                outcome="agreement",
                terms=terms,
                amount=amount * 0.6,
                perform_by=perform_by,
            )
            yield from self.after_agreement(dispute, handler, window, bool(amount))
        else:
            outcome = rng.choices(("failed", "terminated", "withdrawn"), weights=(6, 2.5, 1.5))[0]
            self.A.do_conclude_dispute(dispute, actor=handler, outcome=outcome, note="双方分歧较大")
            yield self.later(moment, rng.uniform(1, 5))
            if outcome != "withdrawn" and rng.random() < 0.5:
                self.A.do_refer_dispute(
                    dispute, actor=window, channel="court", receiving_unit="余姚市人民法院"
                )
                yield from self.handoff(dispute, "court", window)
                return
            if outcome != "withdrawn" or rng.random() < 0.75:
                self.A.do_follow_up(
                    dispute,
                    actor=window,
                    satisfaction=rng.choices(
                        ("satisfied", "basically_satisfied", "unsatisfied"), weights=(4, 4, 2)
                    )[0],
                )
            yield self.later(timezone.now(), rng.uniform(0.5, 3))
            self.A.do_close_dispute(dispute, actor=window)

    def handoff(self, dispute, channel, window):
        from civicgrid.mediation.rules import LEGAL_CLOCKS

        days = LEGAL_CLOCKS[channel][0]
        yield self.later(timezone.now(), self.rng.uniform(0.3, 1.2) * days)
        self.A.do_record_handoff_result(
            dispute, actor=window, resolved=self.rng.random() < 0.7, result="法定途径办结"
        )
        yield self.later(timezone.now(), self.rng.uniform(0.5, 3))
        self.A.do_close_dispute(dispute, actor=window)

    def after_agreement(self, dispute, handler, window, owes: bool):
        rng = self.rng
        if owes and rng.random() < 0.2:
            yield self.later(timezone.now(), rng.uniform(1, 10))
            self.A.do_apply_confirmation(dispute, actor=handler, court="余姚市人民法院")
            yield self.later(timezone.now(), rng.uniform(5, 20))
            self.A.do_record_confirmation_result(
                dispute, actor=handler, result="confirmed" if rng.random() < 0.95 else "rejected"
            )
        if owes:
            yield self.later(timezone.now(), rng.uniform(3, 20))
            if rng.random() < 0.3:
                self.A.do_record_performance(dispute, actor=handler, kind="part")
                yield self.later(timezone.now(), rng.uniform(5, 25))
            if rng.random() < 0.06:
                self.A.do_record_performance(
                    dispute, actor=handler, kind="breach", note="逾期未履行"
                )
                yield self.later(timezone.now(), rng.uniform(1, 5))
                self.A.do_refer_dispute(
                    dispute, actor=window, channel="court", receiving_unit="余姚市人民法院"
                )
                yield from self.handoff(dispute, "court", window)
                return
        self.A.do_record_performance(dispute, actor=handler, kind="done")
        yield self.later(timezone.now(), rng.uniform(3, 15))
        satisfaction = rng.choices(
            ("satisfied", "basically_satisfied", "unsatisfied"), weights=(8, 1.6, 0.4)
        )[0]
        self.A.do_follow_up(dispute, actor=window, satisfaction=satisfaction)
        yield self.later(timezone.now(), rng.uniform(0.5, 3))
        self.A.do_close_dispute(dispute, actor=window)

    def route_for(self, dispute):
        rng, category = self.rng, dispute.category
        if dispute.risk_level == "high" and rng.random() < 0.7:
            return "centre", None, None
        if category in {"13", "14", "12"} and rng.random() < 0.8:
            return "trade", None, None
        if category == "15" and rng.random() < 0.4:
            return "trade", None, None
        if category in {"01", "10", "02", "15"} and rng.random() < 0.45:
            return "studio", None, None
        if category in {"09", "08"} and rng.random() < 0.5:
            kind = "ecology" if category == "09" else "natural_resources"
            key = (kind, dispute.region_code[:9])
            if key not in self.department_at:  # the departments do not change in the run
                self.department_at[key] = (
                    Department.objects.filter(
                        kind=kind,
                        region__code__in=[dispute.region_code[:9], dispute.region_code[:6]],
                    )
                    .order_by("-region__code")
                    .first()
                )
            department = self.department_at[key]
            if department is not None and department.pk in self.departments:
                return "department", None, department
        if rng.random() < 0.2:
            return "centre", None, None
        return "committee", None, None

    def handler(self, dispute, window):
        if dispute.route == "centre":
            return window
        if dispute.department_id:
            return self.departments[dispute.department_id]
        lead = self.A.lead_mediator_id(dispute)
        return self.mediator_users.get(lead) if lead else window

    # -- the logs
    def log_day(self, day: date, visits: float, calls: float):
        """A week's visitors and calls per township (``visits``, ``calls``: the means)."""
        rng = self.rng
        for town, window in self.window.items():
            for _ in range(max(0, round(rng.gauss(visits, 1)))):
                self.clock.set(self.working_moment(day))
                self.A.do_log_visit(
                    actor=window,
                    region_code=town,
                    name=self.name(),
                    phone=self.phone(),
                    about="咨询法律问题",
                    outcome=rng.choice(("answered", "answered", "referred")),
                )
                self.visits += 1
            for _ in range(max(0, round(rng.gauss(calls, 1)))):
                self.clock.set(self.working_moment(day))
                answered = rng.random() < 0.7
                call = self.A.do_log_call(
                    actor=window,
                    region_code=town,
                    category=rng.choices(
                        ("consultation", "complaint", "suggestion"), weights=(8, 1.5, 0.5)
                    )[0],
                    summary="来电咨询",
                    phone=self.phone(),
                    answer="已当场解答" if answered else "",
                )
                self.calls += 1
                if not answered:
                    self.A.do_transfer_call(call, actor=window, to="市司法局")
                    self.A.do_reply_call(call, actor=window, reply="已答复来电人")
                    sat = rng.choices(
                        ("satisfied", "basically_satisfied", "unsatisfied"), weights=(7, 2, 1)
                    )[0]
                    self.A.do_record_call_satisfaction(call, actor=window, satisfaction=sat)
                    if sat == "unsatisfied":
                        self.A.do_callback_call(call, actor=window, note="再次解释")

    def run(self, plans, progress):
        queue: list = []
        for n, (moment, grid) in enumerate(plans):
            heapq.heappush(queue, (moment, n, self.life(moment, grid)))
        done = 0
        started = time.perf_counter()
        while queue:
            moment, n, life = heapq.heappop(queue)
            if moment >= self.stop:
                continue  # after the end: left open
            self.clock.set(moment)
            try:
                nxt = next(life)
            except StopIteration:
                done += 1
                if progress and done % 1000 == 0:
                    elapsed = time.perf_counter() - started
                    progress(f"{done:,} disputes done ({done / elapsed:.0f}/s)")
                continue
            except Exception as exc:  # one dispute's failure must not stop the year
                self.error_count += 1
                if len(self.errors) < 10:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            heapq.heappush(queue, (max(nxt, moment), n, life))


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The year makes millions of small objects that live until their rows are written: at
    the default thresholds (a collection every 700 allocations) the cycle collector walks
    them again and again (~13 % of the bulk path's time). Fewer collections while it runs,
    and the objects from before frozen out of them."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _plans(rng, tz, grids, start: date, days: int, per_year: float):
    plans = []
    for i in range(days):
        day = start + timedelta(days=i)
        lam = per_year / 365 * (0.45 if day.weekday() >= 5 else 1.22)
        # Poisson by counting exponential gaps.
        n, t = 0, rng.expovariate(1)
        while t < lam:
            n += 1
            t += rng.expovariate(1)
        for _ in range(n):
            hour = rng.choice((8, 9, 9, 10, 10, 11, 13, 14, 14, 15, 16, 17, 19))
            moment = datetime(day.year, day.month, day.day, hour, rng.randrange(60), tzinfo=tz)
            plans.append((moment, rng.choice(grids)))
    plans.sort(key=lambda p: p[0])
    return plans


def _year(end: date | None, days: int, tz) -> tuple[date, date, datetime, datetime]:
    end = end or timezone.localdate()
    start = end - timedelta(days=days)
    begin = datetime(start.year, start.month, start.day, tzinfo=tz)
    stop = datetime(end.year, end.month, end.day, tzinfo=tz)
    return start, end, begin, stop


def _admin():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_superuser=True).order_by("pk").first()


def generate_demo_registry(
    *,
    seed: int = 1,
    days: int = 365,
    end: date | None = None,
    through_actions: bool = False,
) -> tuple[int, int]:
    """The mediation organisations and their mediators (staff of the place given the mediator
    role), at the start of the year, in a transaction of their own; returns (organisations,
    mediators). A step of its own because the year of cases reads the roles it gives (a
    grid worker who mediates acts on cases as both): ``demo`` loads it before the two years,
    which then load side by side (decision 53). ``generate_demo_mediation`` runs it first
    when it has not run."""
    if not demo_is_loaded():
        raise RuntimeError("load the demo county first (civicgrid load_demo)")
    if demo_registry_loaded():
        raise RuntimeError("the demo's mediation organisations are already loaded")
    tz = ZoneInfo(settings.TIME_ZONE)
    start, end, begin, _stop = _year(end, days, tz)
    # its own random stream: the year's is the same whether this ran apart or not
    rng = random.Random(f"registry-{seed}")
    admin = _admin()
    with transaction.atomic():
        with (
            simulated_clock(begin),
            audit_batch() as batch,
            closing(_ThroughActions() if through_actions else BulkMediation(batch)) as api,
        ):
            orgs, mediators = _registry(rng, admin, api)
            api.begin_year()  # the bulk path writes the registry here
            api.finish()
            record_event(
                REGISTRY_ACTION,
                target_type="demo",
                target_id=str(seed),
                target_repr=f"demo mediation registry seed={seed} {start}",
                after={"organisations": len(orgs), "mediators": mediators},
            )
    return len(orgs), mediators


def generate_demo_mediation(
    *,
    seed: int = 1,
    scale: float = 0.2,
    days: int = 365,
    end: date | None = None,
    progress: Callable[[str], None] | None = print,
    through_actions: bool = False,
) -> MediationSummary:
    """The registry (``generate_demo_registry``, when not loaded yet), then the year: through
    the actions one step at a time (``through_actions``, ~20 disputes/s) or through
    ``demo.bulk_mediation``, which writes the same rows in bulk."""
    if not demo_is_loaded():
        raise RuntimeError("load the demo county first (civicgrid load_demo)")
    if demo_mediation_loaded():
        raise RuntimeError("the demo disputes are already loaded")
    if scale <= 0 or days < 1:
        raise ValueError("scale and days must be positive")
    started = time.perf_counter()
    if not demo_registry_loaded():
        generate_demo_registry(seed=seed, days=days, end=end, through_actions=through_actions)
    tz = ZoneInfo(settings.TIME_ZONE)
    start, end, begin, stop = _year(end, days, tz)
    rng = random.Random(seed)
    admin = _admin()
    summary = MediationSummary(seed=seed, scale=scale, start=start, end=end)
    first_id = Dispute.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    orgs = list(MediationOrg.objects.order_by("pk"))
    summary.orgs, summary.mediators = len(orgs), Mediator.objects.count()
    with transaction.atomic():
        with (
            simulated_clock(begin) as clock,
            audit_batch() as batch,
            _fewer_collections(),
            # closed (the bulk path's writer thread joined) before the transaction ends
            closing(
                _ThroughActions() if through_actions else BulkMediation(batch, progress=progress)
            ) as api,
        ):
            api.begin_year()
            sim = _Sim(rng, tz, clock, stop, admin, api)
            per_year = DISPUTES_PER_YEAR * scale * len(sim.grids) / TOTAL_GRIDS
            plans = _plans(rng, tz, sim.grids, start, days, per_year)
            if progress:
                progress(
                    f"{summary.orgs} organisations, {summary.mediators} mediators; "
                    f"{len(plans):,} disputes planned from {start} to {end} …"
                )
            sim.run(plans, progress)
            # The logs and activities, a sample of days (weekly), scaled like the intake.
            share = scale * len(sim.grids) / TOTAL_GRIDS * 7 / 365 / max(len(sim.window), 1)
            for i in range(0, days, 7):
                day = start + timedelta(days=i)
                sim.log_day(day, VISITS_PER_YEAR * share, CALLS_PER_YEAR * share)
                for org in rng.sample(orgs, k=min(len(orgs), 3)):
                    clock.set(sim.working_moment(day))
                    api.do_log_activity(
                        actor=admin,
                        org=org,
                        day=day,
                        people_reached=rng.randint(5, 60),
                        kind=rng.choice(
                            ["correction_help", "publicity", "screening", "counselling"]
                        ),
                    )
            if progress and not through_actions:
                progress(f"simulated in {time.perf_counter() - started:.1f}s; writing …")
            summary.rows = api.finish()
            disputes = Dispute.objects.filter(pk__gt=first_id)
            summary.disputes = disputes.count()
            summary.by_state = dict(Counter(disputes.values_list("state", flat=True)))
            summary.by_outcome = dict(
                Counter(o for o in disputes.values_list("outcome", flat=True) if o)
            )
            concluded = sum(summary.by_outcome.values())
            if concluded:
                summary.success_rate = round(
                    100 * summary.by_outcome.get("agreement", 0) / concluded, 1
                )
            summary.visits, summary.calls = sim.visits, sim.calls
            summary.activities = Activity.objects.count()
            summary.errors = sim.errors
            summary.seconds = time.perf_counter() - started
            record_event(
                AUDIT_ACTION,
                target_type="demo",
                target_id=str(seed),
                target_repr=f"demo mediation seed={seed} scale={scale} {start}..{end}",
                after={"disputes": summary.disputes, "success_rate": summary.success_rate},
            )
    if progress:
        progress(
            f"done in {summary.seconds:.1f}s: {summary.disputes:,} disputes, "
            f"success rate {summary.success_rate} %, errors {sim.error_count}"
        )
    return summary
