"""A year of reports (日报送 / 周研判 / 月专题) over the demo cases, through the real actions.

How to use it::

    civicgrid load_demo                  # the county (once)
    civicgrid load_demo_cases            # a year of cases
    civicgrid load_demo_analytics        # then the reports

For the year of the demo cases (up to yesterday): every month's thematic report and every
week's analysis and every day's report of the county; of each township the last three months,
eight weeks and seven days (``--full``: the whole year too — about eight times as many
reports; the KPI tables of a township's week or month take ~0.1–0.3 s each). The county
centre plays the analyst: the theme of each county month is 0101 废弃车辆（僵尸车） when it
is among the month's five commonest kinds (the demo's 僵尸车 cluster), else the suggestion;
each county week marks its two most urgent open hard or supervised cases and, every fourth
week, a topic for follow-up, which the next week's analysis reports as closed or not.

Generated oldest first so that each week sees the previous week's items. One transaction with
the audit chain kept in memory; a second run does nothing (the run is recorded as the audit
event ``demo.analytics``).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Count, Max, Min
from django.utils import timezone

from civicgrid.analytics import actions as A
from civicgrid.analytics import reports as R
from civicgrid.analytics.models import Report
from civicgrid.cases.models import Case, Category
from civicgrid.core.audit import record_event
from civicgrid.core.models import AuditEvent
from civicgrid.core.roles import Role
from civicgrid.demo.chunks import Batches
from civicgrid.demo.loader import demo_is_loaded
from civicgrid.people.models import RoleAssignment
from civicgrid.regions.models import Region

__all__ = ["AnalyticsSummary", "demo_analytics_loaded", "generate_demo_analytics"]

AUDIT_ACTION = "demo.analytics"
TOWN_DAYS = 7
TOWN_WEEKS = 8
TOWN_MONTHS = 3
THEME = "0101"
TOPICS = [
    "城区僵尸车集中整治：与交警、综合执法联合清拖",
    "农村道路违停与占道经营回潮，复查重点路段",
    "欠薪类劳动争议节前排查",
    "工地夜间施工扰民投诉集中，约谈施工单位",
]


@dataclass
class AnalyticsSummary:
    by_kind: dict[str, int] = field(default_factory=dict)
    follow_ups: int = 0
    themes: int = 0
    seconds: float = 0.0


def demo_analytics_loaded() -> bool:
    return AuditEvent.objects.filter(action=AUDIT_ACTION).exists()


def _plan(first: date, last: date, towns: list[Region], county: Region, full: bool):
    """(kind, period start, region) in generation order: by day, daily before weekly/monthly.

    The county gets the whole year; the townships the last ``TOWN_DAYS`` days, ``TOWN_WEEKS``
    weeks and ``TOWN_MONTHS`` months (``full``: the whole year too)."""
    town_from = {
        "daily": first if full else last - timedelta(days=TOWN_DAYS - 1),
        "weekly": first if full else last - timedelta(weeks=TOWN_WEEKS),
        "monthly": first if full else (last.replace(day=1) - timedelta(days=31 * TOWN_MONTHS)),
    }

    def regions(kind: str, start: date) -> list[Region]:
        return [county, *towns] if start >= town_from[kind] else [county]

    items = []
    day = first
    while day <= last:
        items.extend(("daily", day, region) for region in regions("daily", day))
        if day.weekday() == 6:  # a week ends
            monday = day - timedelta(days=6)
            items.extend(("weekly", monday, region) for region in regions("weekly", monday))
        if (day + timedelta(days=1)).day == 1:  # a month ends
            start = day.replace(day=1)
            items.extend(("monthly", start, region) for region in regions("monthly", start))
        day += timedelta(days=1)
    return items


def generate_demo_analytics(
    *, full: bool = False, progress: Callable[[str], None] | None = print
) -> AnalyticsSummary:
    if not demo_is_loaded():
        raise RuntimeError("load the demo county first (load_demo)")
    if demo_analytics_loaded():
        raise RuntimeError("the analytics demo is already loaded")
    span = Case.objects.aggregate(first=Min("created"), last=Max("created"))
    if span["first"] is None:
        raise RuntimeError("no demo cases: run load_demo_cases first")
    started = time.perf_counter()
    county = Region.objects.get(level=Region.Level.COUNTY)
    towns = list(Region.objects.filter(level=Region.Level.TOWN).order_by("code"))
    analyst = (
        RoleAssignment.objects.filter(
            role=Role.COUNTY_OPERATOR,
            active=True,
            scope_code=county.code,
            person__user__isnull=False,
        )
        .select_related("person__user")
        .order_by("id")
        .first()
    )
    if analyst is None:
        raise RuntimeError("the demo county has no county centre operator")
    analyst = analyst.person.user
    first = timezone.localtime(span["first"]).date()
    last = min(timezone.localtime(span["last"]).date(), timezone.localdate() - timedelta(days=1))
    plan = _plan(first, last, towns, county, full)
    existing = set(Report.objects.values_list("kind", "period_start", "region_code"))
    theme = Category.objects.filter(code=THEME).first()
    summary = AnalyticsSummary()
    topic_index = 0
    last_line = 0.0
    if progress is not None:
        progress(f"{len(plan):,} reports to make from {first} to {last} …")
    with Batches() as chain:
        for index, (kind, start, region) in enumerate(plan, start=1):
            chain.checkpoint()
            if (kind, start, region.code) in existing:
                continue
            report, created = A.do_generate_report(
                kind=kind, day=start, region=region, generator=A.COMMAND
            )
            if not created:
                continue
            summary.by_kind[kind] = summary.by_kind.get(kind, 0) + 1
            if region.code == county.code and kind == "monthly" and theme is not None:
                if _is_common(region, start, theme):
                    A.do_set_theme(report, theme, actor=analyst)
                    summary.themes += 1
            if region.code == county.code and kind == "weekly":
                for row in report.content.get("hard_hot", {}).get("rows", [])[:2]:
                    case = Case.objects.filter(code=row["code"]).first()
                    if case is not None:
                        A.do_mark_follow_up(report, case=case, actor=analyst)
                        summary.follow_ups += 1
                if start.isocalendar().week % 4 == 0:
                    item = A.do_mark_follow_up(
                        report, topic=TOPICS[topic_index % len(TOPICS)], actor=analyst
                    )
                    topic_index += 1
                    summary.follow_ups += 1
                    if topic_index % 3:  # two topics in three are closed during the week
                        A.do_close_follow_up(
                            item, outcome="已按期完成，转入常态化管理", actor=analyst
                        )
            now = time.perf_counter()
            if progress is not None and (now - last_line > 2 or index == len(plan)):
                last_line = now
                progress(
                    f"[{now - started:6.1f}s] {index:,}/{len(plan):,} {kind} {start} {region.name}"
                )
        record_event(
            AUDIT_ACTION, after={"reports": summary.by_kind, "follow_ups": summary.follow_ups}
        )
    summary.seconds = time.perf_counter() - started
    return summary


def _is_common(region: Region, start: date, theme: Category) -> bool:
    since, until = R._bounds(*R.period_of("monthly", start))
    top = (
        Case.objects.filter(
            region_code__startswith=region.code, created__gte=since, created__lt=until
        )
        .values("category__code")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("category__code", flat=True)[:5]
    )
    return theme.code in list(top)
