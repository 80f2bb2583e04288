"""A year of visits to the demo county's key-group residents (B2, "应走尽走"), and walks.

How to use it::

    civicgrid load_demo                 # the county first (once)
    civicgrid load_demo_cases           # optional: the year of cases
    civicgrid load_demo_visits          # then the year of visits (a second run does nothing)

What it makes, for every tagged resident under an active visit rule (the rules shipped by
``inspection`` migration 0002 are made here if missing):

- one due visit per period of their cadence over the last ``months`` (default 12), exactly as
  ``tick`` would have made them (``inspection.periods``; the same unique key, so a later
  ``tick`` adds nothing twice), assigned to the grid's full-time worker;
- visits by that worker: most workers visit ~95% of what they owe, a few (about one grid in
  twelve) fall behind at 60–70%; some visits find nobody at home first; the due visits of
  past periods without a visit are missed, the current period's are still due (or done);
- "found a problem": ``cases`` per ``scale`` of the recent visits report a case through
  ``do_record_visit(..., raise_case=...)`` itself (with a photo), on a simulated clock;
- comprehensive walks (全面走) of each grid in the last ``patrol_weeks`` weeks through
  ``do_record_patrol``, each with a short track and most of the grid's houses.

The year of visits is written in bulk (tens of thousands of rows in seconds) with one summary
audit event ``demo.visits``; the visits that raise cases and the walks go through the actions
(their own audit events, in one audit batch). Deterministic for a seed and a day.
"""

from __future__ import annotations

import importlib
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from civicgrid.core.audit import record_event
from civicgrid.core.models import AuditEvent
from civicgrid.demo.chunks import Batches, commit_every

__all__ = ["VisitSummary", "demo_visits_loaded", "generate_demo_visits"]

AUDIT_ACTION = "demo.visits"
SHANGHAI = ZoneInfo("Asia/Shanghai")
BEHIND_SHARE = 1 / 12  # grids whose worker falls behind
GOOD_RATE, BEHIND_RATE = (0.93, 0.98), (0.60, 0.70)
NOTES = [
    "情况稳定",
    "身体状况良好，家中整洁",
    "已提醒注意用电用气安全",
    "家属在场，沟通顺畅",
    "近期情绪稳定",
    "生活物资充足",
    "",
    "",
]
PROBLEMS = [
    ("0404", "家中电线老化裸露，存在火灾隐患"),
    ("0401", "楼道内电动自行车违规充电"),
    ("0402", "楼道堆放杂物，堵塞消防通道"),
    ("1003", "房屋墙体开裂，屋顶漏雨"),
    ("1101", "家庭收入骤减，生活困难，申请救助"),
    ("1103", "独居老人近期身体状况变差，无人照料"),
    ("0308", "燃气软管老化，存在漏气风险"),
    ("1104", "监护人外出务工，监护缺失"),
]


@dataclass
class VisitSummary:
    seed: int
    scale: float
    start: date
    end: date
    due_visits: int = 0
    visits: int = 0
    not_found: int = 0
    done: int = 0
    missed: int = 0
    cases: int = 0
    patrols: int = 0
    behind_grids: int = 0
    rules_made: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        owed = self.done + self.missed
        return self.done / owed if owed else 0.0


def demo_visits_loaded() -> bool:
    return AuditEvent.objects.filter(action=AUDIT_ACTION).exists()


def _ensure_rules() -> int:
    """The shipped visit rules, for key groups that have none (a county may have removed them)."""
    from django.contrib.auth import get_user_model

    from civicgrid.inspection.actions import do_create_visit_rule
    from civicgrid.people.models import KeyGroup

    shipped = importlib.import_module("civicgrid.inspection.migrations.0002_shipped_rules")
    groups = {g.code: g for g in KeyGroup.objects.filter(inspection_rule__isnull=True)}
    admin = get_user_model().objects.filter(is_superuser=True).order_by("id").first()
    made = 0
    for code, cadence, checklist in shipped.SHIPPED_RULES:
        if code in groups:
            do_create_visit_rule(groups[code], actor=admin, cadence=cadence, checklist=checklist)
            made += 1
    return made


def _moment(rng: random.Random, day: date) -> datetime:
    return datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.randint(0, 59),
                    tzinfo=SHANGHAI)  # fmt: skip


def _near(rng: random.Random, lat, lng):
    if lat is None or lng is None:
        return None, None
    return round(lat + rng.uniform(-0.0004, 0.0004), 6), round(
        lng + rng.uniform(-0.0004, 0.0004), 6
    )


def generate_demo_visits(
    *,
    seed: int = 1,
    scale: float = 0.2,
    months: int = 12,
    patrol_weeks: int = 8,
    end: date | None = None,
    progress=print,
) -> VisitSummary:
    """Make the demo's visits (see the module's doc); refuses when they are already loaded."""
    from civicgrid.demo.loader import demo_is_loaded

    if not demo_is_loaded():
        raise RuntimeError("the demo county is not loaded: run load_demo first")
    if demo_visits_loaded():
        raise RuntimeError("the demo visits are already loaded")
    started = time.perf_counter()
    end = end or timezone.localdate()
    start = end - timedelta(days=round(months * 365 / 12))
    summary = VisitSummary(seed=seed, scale=scale, start=start, end=end)
    rng = random.Random(seed)

    def step(message):
        progress(f"[{time.perf_counter() - started:6.1f}s] {message}")

    # One transaction; behind a serving demo short ones (``demo.chunks``): the bulk rows in
    # slices, the visits and walks through the actions with a checkpoint between two.
    with nullcontext() if commit_every() else transaction.atomic():
        summary.rules_made = _ensure_rules()
        plan = _plan(rng, start, end, summary, step)
        problems = _pick_problems(rng, plan, scale)
        _write(plan, summary, step)
        with Batches() as batch:
            _problems(rng, plan, problems, end, summary, batch, step)
            _patrols(rng, end, patrol_weeks, summary, batch, step)
            record_event(
                AUDIT_ACTION,
                target_type="demo",
                target_id=str(seed),
                target_repr=f"demo visits seed={seed} scale={scale} {start}–{end}",
                after={
                    "due_visits": summary.due_visits,
                    "visits": summary.visits,
                    "cases": summary.cases,
                    "patrols": summary.patrols,
                },
            )
    summary.seconds = time.perf_counter() - started
    step(
        f"done: {summary.due_visits:,} due visits, {summary.visits:,} visits "
        f"({summary.rate:.1%} done), {summary.cases} cases, {summary.patrols} walks"
    )
    return summary


@dataclass
class _Plan:
    dues: list = field(default_factory=list)  # DueVisit rows
    visits: list = field(default_factory=list)  # (due index, Visit row)
    problem_candidates: list = field(default_factory=list)  # (person, due index, day)


def _plan(rng, start, end, summary, step) -> _Plan:
    from civicgrid.inspection.actions import _assignees, _effective_rules
    from civicgrid.inspection.models import DueVisit, Visit
    from civicgrid.inspection.periods import due_date, period_of
    from civicgrid.people.models import Person

    effective = _effective_rules()
    people = Person.objects.select_related("house", "grid").in_bulk(list(effective))
    houses = dict(
        Person.objects.filter(pk__in=list(effective), house__isnull=False).values_list(
            "pk", "house__lat"
        )
    )
    house_lng = dict(
        Person.objects.filter(pk__in=list(effective), house__isnull=False).values_list(
            "pk", "house__lng"
        )
    )
    assignees = _assignees(
        {(code, rule.responsible_role) for rule, _c, code, _g in effective.values()}
    )
    grid_codes = sorted({code for _r, _c, code, _g in effective.values()})
    rates = {}
    for code in grid_codes:
        behind = rng.random() < BEHIND_SHARE
        summary.behind_grids += behind
        rates[code] = rng.uniform(*(BEHIND_RATE if behind else GOOD_RATE))
    step(f"{len(effective):,} residents owed visits in {len(grid_codes)} grids "
         f"({summary.behind_grids} behind)")  # fmt: skip
    due_dates: dict = {}
    plan = _Plan()
    for pid in sorted(effective):
        rule, cadence, code, grid_id = effective[pid]
        worker = assignees.get((code, rule.responsible_role))
        if worker is None:
            continue
        lat, lng = houses.get(pid), house_lng.get(pid)

        def make(day, outcome, pid=pid, worker=worker, code=code, lat=lat, lng=lng, rule=rule):
            return _visit(rng, pid, worker, code, day, lat, lng, outcome, rule)

        day = start
        while day <= end:
            ps, pe = period_of(cadence, day)
            day = pe + timedelta(days=1)
            if ps < start:
                continue
            key = (ps, pe, rule.follows_working_days)
            if key not in due_dates:
                due_dates[key] = due_date(ps, pe, working_days=rule.follows_working_days)
            due_on = due_dates[key]
            row = DueVisit(
                person_id=pid, rule=rule, cadence=cadence, period_start=ps, period_end=pe,
                due_date=due_on, grid_id=grid_id, region_code=code, assignee_id=worker,
                state=DueVisit.State.MISSED if pe < end else DueVisit.State.DUE,
            )  # fmt: skip
            index = len(plan.dues)
            plan.dues.append(row)
            last = min(due_on, end)
            span = max(0, (last - ps).days)
            visited = rng.random() < rates[code]
            if visited and ps <= end:
                when = ps + timedelta(days=rng.randint(0, span))
                if rng.random() < 0.05 and when > ps:  # nobody at home the first time
                    miss = when - timedelta(days=rng.randint(1, max(1, (when - ps).days)))
                    plan.visits.append((index, make(miss, Visit.Outcome.NOT_FOUND)))
                seen = make(when, Visit.Outcome.SEEN)
                plan.visits.append((index, seen))
                if (end - when).days <= 25:
                    plan.problem_candidates.append((people[pid], index, when, seen))
            elif pe < end and rng.random() < 0.3:  # tried, never found them
                when = ps + timedelta(days=rng.randint(0, span))
                plan.visits.append((index, make(when, Visit.Outcome.NOT_FOUND)))
    step(f"planned {len(plan.dues):,} due visits and {len(plan.visits):,} visits")
    return plan


def _visit(rng, pid, worker, code, day, lat, lng, outcome, rule):
    from civicgrid.inspection.models import Visit

    vlat, vlng = _near(rng, lat, lng)
    seen = outcome == Visit.Outcome.SEEN
    answers = (
        {item: ("attention" if rng.random() < 0.03 else "normal") for item in rule.checklist}
        if seen
        else {}
    )
    return Visit(
        worker_id=worker, person_id=pid, visited_at=_moment(rng, day), lat=vlat, lng=vlng,
        outcome=outcome, answers=answers, notes=rng.choice(NOTES) if seen else "家中无人",
        region_code=code,
    )  # fmt: skip


def _write(plan: _Plan, summary, step) -> None:
    """The planned rows in bulk; a due visit with a seen visit is done at that visit's time."""
    from civicgrid.inspection.models import DueVisit, Visit

    seen_at: dict[int, datetime] = {}
    for index, visit in plan.visits:
        if visit.outcome == Visit.Outcome.SEEN:
            seen_at[index] = min(seen_at.get(index, visit.visited_at), visit.visited_at)
    for index, moment in seen_at.items():
        plan.dues[index].state, plan.dues[index].done_at = DueVisit.State.DONE, moment
    first = min((d.period_start for d in plan.dues), default=date.max)
    # Rows tick made already (the demo's own scheduler, a run of tick): kept, and closed
    # below when the plan has them visited.
    before = set(
        DueVisit.objects.filter(period_start__gte=first).values_list(
            "person_id", "cadence", "period_start"
        )
    )
    _in_slices(DueVisit, plan.dues, ignore_conflicts=True)
    for due in plan.dues:
        if (
            due.state == DueVisit.State.DONE
            and (due.person_id, due.cadence, due.period_start) in before
        ):
            DueVisit.objects.filter(
                person_id=due.person_id,
                cadence=due.cadence,
                period_start=due.period_start,
                state=DueVisit.State.DUE,
            ).update(state=DueVisit.State.DONE, done_at=due.done_at)
    # ignore_conflicts leaves no ids: read them back by the unique key.
    ids = {
        (p, c, s): pk
        for pk, p, c, s in DueVisit.objects.filter(period_start__gte=first).values_list(
            "pk", "person_id", "cadence", "period_start"
        )
    }
    for index, visit in plan.visits:
        due = plan.dues[index]
        visit.due_visit_id = ids.get((due.person_id, due.cadence, due.period_start))
    _in_slices(Visit, [v for _i, v in plan.visits])
    summary.due_visits = len(plan.dues)
    summary.visits = len(plan.visits)
    summary.not_found = sum(1 for _i, v in plan.visits if v.outcome == Visit.Outcome.NOT_FOUND)
    summary.done = sum(1 for d in plan.dues if d.state == DueVisit.State.DONE)
    summary.missed = sum(1 for d in plan.dues if d.state == DueVisit.State.MISSED)
    step(f"wrote {summary.due_visits:,} due visits and {summary.visits:,} visits")


def _in_slices(model, rows: list, size: int = 2000, **options) -> None:
    """``bulk_create`` a slice at a time, each in its own transaction (or savepoint)."""
    for first in range(0, len(rows), size):
        with transaction.atomic():
            model.objects.bulk_create(rows[first : first + size], **options)


def _pick_problems(rng, plan: _Plan, scale: float) -> list:
    """Some recent seen visits that will find a problem: taken out of the bulk rows, they are
    recorded through the action instead (which closes their due visit)."""
    wanted = max(3, round(300 * scale))
    candidates = list(plan.problem_candidates)
    rng.shuffle(candidates)
    chosen = candidates[:wanted]
    taken = {id(visit) for *_rest, visit in chosen}
    plan.visits = [(i, v) for i, v in plan.visits if id(v) not in taken]
    return [(person, index, day) for person, index, day, _visit in chosen]


def _problems(rng, plan, candidates, end, summary, batch, step) -> None:
    """Recent visits that found a problem: recorded through the action, raising a case."""
    from django.contrib.auth import get_user_model

    from civicgrid.cases.models import Category
    from civicgrid.demo.cases import _jpeg, simulated_clock
    from civicgrid.inspection.actions import do_record_visit

    categories = Category.objects.in_bulk([c for c, _d in PROBLEMS], field_name="code")
    users = get_user_model().objects.in_bulk({plan.dues[i].assignee_id for _p, i, _d in candidates})
    now = datetime.combine(end, datetime.min.time(), tzinfo=SHANGHAI) + timedelta(hours=8)
    with simulated_clock(now) as clock:
        for person, index, day in candidates:
            batch.checkpoint()
            code, description = rng.choice(PROBLEMS)
            moment = _moment(rng, day)
            clock.set(moment + timedelta(minutes=5))
            try:
                with transaction.atomic():
                    do_record_visit(
                        person,
                        actor=users[plan.dues[index].assignee_id],
                        outcome="seen",
                        visited_at=moment,
                        lat=person.house.lat if person.house_id else None,
                        lng=person.house.lng if person.house_id else None,
                        answers={},
                        notes="走访中发现问题，已上报",
                        photos=[_jpeg((120, 110, 90), rng.randint(0, 5))],
                        raise_case={"category": categories.get(code), "description": description},
                    )
            except Exception as exc:  # a refused report must not stop the demo
                batch.resync()
                summary.errors.append(f"{person.pk}: {exc}")
                continue
            summary.cases += 1
            summary.visits += 1
    step(f"{summary.cases} visits found a problem and raised a case")


def _patrols(rng, end, weeks, summary, batch, step) -> None:
    """Comprehensive walks of each grid with a worker, about one a fortnight, most diligent."""
    from civicgrid.core.roles import Role
    from civicgrid.demo.cases import simulated_clock
    from civicgrid.inspection.actions import do_record_patrol
    from civicgrid.people.models import House, RoleAssignment
    from civicgrid.regions.models import Grid

    workers = {
        code: user
        for code, user in RoleAssignment.objects.filter(
            role=Role.GRID_WORKER, active=True, person__user__isnull=False
        )
        .order_by("-id")
        .values_list("scope_code", "person__user")
    }
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.in_bulk(set(workers.values()))
    grids = Grid.objects.filter(code__in=list(workers)).exclude(kind=Grid.Kind.MICRO)
    houses: dict[int, list] = {}
    for house in House.objects.filter(grid__in=grids).only("pk", "grid_id", "lat", "lng"):
        houses.setdefault(house.grid_id, []).append(house)
    now = datetime.combine(end, datetime.min.time(), tzinfo=SHANGHAI)
    with simulated_clock(now) as clock:
        for grid in grids.order_by("code"):
            own = houses.get(grid.pk, [])
            walks_per_fortnight = rng.choice((0, 1, 1, 1, 2))
            for week in range(0, weeks, 2):
                for _ in range(walks_per_fortnight):
                    day = end - timedelta(days=week * 7 + rng.randint(1, 13))
                    begin = _moment(rng, day).replace(hour=rng.randint(8, 14))
                    finish = begin + timedelta(minutes=rng.randint(40, 150))
                    covered = [h for h in own if rng.random() < 0.8]
                    track = [
                        [h.lat, h.lng, (begin + timedelta(minutes=5 * i)).isoformat()]
                        for i, h in enumerate(covered)
                        if h.lat is not None
                    ]
                    clock.set(finish + timedelta(minutes=1))
                    batch.checkpoint()
                    try:
                        with transaction.atomic():
                            do_record_patrol(
                                grid,
                                actor=users[workers[grid.code]],
                                started_at=begin,
                                ended_at=finish,
                                track=track,
                                houses=covered,
                                notes="",
                            )
                    except Exception as exc:  # noqa: BLE001
                        batch.resync()
                        summary.errors.append(f"walk {grid.code}: {exc}")
                        continue
                    summary.patrols += 1
    step(f"{summary.patrols} comprehensive walks")
