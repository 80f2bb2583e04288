"""What goes into a daily (日报送), weekly (周研判) and monthly (月专题) report.

Each ``build_*`` function returns the report's content as plain JSON (numbers, codes, names),
computed by aggregate queries over the cases of one region (the county or a township) and
kept as a snapshot by ``actions.do_generate_report``. Nothing here writes.

Periods are local calendar days (Asia/Shanghai): a day; a week Monday–Sunday; a calendar
month. "Open at the end" of a period means reported before its end, not closed by then
(``closed_at`` empty or later) and not rejected, merged or filed — so a report generated
late (a backfill) shows the period as it was, as far as the data allows. Supervision and
hard-case flags are those at generation time.

Hot places (daily): a grid or village is *hot* when its count of the day ``x`` reaches
``max(3, ceil(m + 3·√m))``, ``m`` being its mean daily count over the 28 days before — a
Poisson three-sigma rule that ignores places with one or two reports.
"""

import math
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Min, Q
from django.db.models.functions import Substr
from django.utils import timezone

from civicgrid.cases import workflow
from civicgrid.cases.models import Assignment, Case, Category, LeaderInstruction
from civicgrid.regions.models import Grid, Region

__all__ = [
    "CONTENT_VERSION",
    "HOT_MIN_COUNT",
    "HOT_SIGMAS",
    "build",
    "build_daily",
    "build_monthly",
    "build_theme",
    "build_weekly",
    "period_of",
    "previous_period",
    "report_regions",
]

CONTENT_VERSION = 1
HOT_MIN_COUNT = 3
HOT_SIGMAS = 3.0
HOT_BASELINE_DAYS = 28
KEY_ITEMS_LIMIT = 20
TREND_WEEKS = 8
THEME_WEEKS = 26
NOT_OPEN = (workflow.REJECTED, workflow.MERGED, workflow.FILED)
# KPIs shown in the department and township league tables (those the KPI module defines).
LEAGUE_KPIS = (
    "accept_rate",
    "closed_rate",
    "on_time_rate",
    "overdue_rate",
    "rework_rate",
    "return_rate",
    "sign_on_time_rate",
    "satisfaction_rate",
    "mean_handling_hours",
)


# --------------------------------------------------------------------------- periods


def period_of(kind: str, day: date) -> tuple[date, date]:
    """The period of ``kind`` that contains ``day``: (first day, last day)."""
    if kind == "daily":
        return day, day
    if kind == "weekly":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if kind == "monthly":
        start = day.replace(day=1)
        return start, _add_months(start, 1) - timedelta(days=1)
    raise ValueError(kind)


def previous_period(kind: str, start: date) -> tuple[date, date]:
    return period_of(kind, start - timedelta(days=1))


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Aware instants [start 00:00, the day after end 00:00) in local time."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def report_regions() -> list[Region]:
    """The regions that get reports: the county, then each township."""
    return list(
        Region.objects.filter(level__in=[Region.Level.COUNTY, Region.Level.TOWN]).order_by(
            "level", "code"
        )
    )


# --------------------------------------------------------------------------- helpers


def _cases(region_code: str):
    return Case.objects.filter(region_code__startswith=region_code)


def _open_at(moment: datetime) -> Q:
    return (
        Q(created__lt=moment)
        & ~Q(state__in=NOT_OPEN)
        & (Q(closed_at__isnull=True) | Q(closed_at__gte=moment))
    )


def _pct_change(now: float, before: float) -> float | None:
    if not before:
        return None
    return round((now - before) / before * 100, 1)


def _kpi_json(value) -> dict:
    return {
        "value": None if value.value is None else round(float(value.value), 4),
        "numerator": value.numerator,
        "denominator": value.denominator,
    }


def _kpis():
    try:
        from civicgrid.analytics import kpis
    except ImportError:  # the KPI module is not installed: reports without KPI tables
        return None
    return kpis


def _kpi_defs(kpis) -> list[dict]:
    rows = []
    for code, kpi in kpis.KPIS.items():
        rows.append(
            {
                "code": code,
                "name": str(getattr(kpi, "name", code)),
                "unit": str(getattr(kpi, "unit", "")),
                "direction": str(getattr(kpi, "direction", "")),
            }
        )
    return rows


def _league(kpis, group: str, since, until, region_code: str, *, totals=None) -> dict:
    """A league table of ``group`` (LEAGUE_KPIS). With ``totals`` (a dict), every KPI is
    computed per group and the region's own values are put there: the groups partition the
    region's records, so numerators and denominators add up (one query set instead of two)."""
    if kpis is None:
        return {"codes": [], "rows": []}
    codes = [c for c in LEAGUE_KPIS if c in kpis.KPIS] or list(kpis.KPIS)[:8]
    rows = kpis.compute_by(
        group, since, until, region_code=region_code, codes=None if totals is not None else codes
    )
    if totals is not None:
        for code, kpi in kpis.KPIS.items():
            num = sum(r[code].numerator for r in rows if code in r)
            den = sum(r[code].denominator for r in rows if code in r)
            value = kpi.scale * num / den if den else None
            totals[code] = _kpi_json(kpis.KpiValue(code, value, num, den))
    out = []
    for row in rows:
        item = {"key": str(row["key"]), "name": str(row["name"])}
        if "accept_rate" in row:  # its denominator: the cases reported
            item["cases"] = int(row["accept_rate"].denominator)
        for code in codes:
            if code in row:
                item[code] = _kpi_json(row[code])
        out.append(item)
    return {"codes": codes, "rows": out}


def _names_of_categories(codes) -> dict[str, str]:
    return dict(Category.objects.filter(code__in=set(codes)).values_list("code", "name"))


def _names_of_regions(codes) -> dict[str, str]:
    return dict(Region.objects.filter(code__in=set(codes)).values_list("code", "name"))


def _case_item(row: dict, end: datetime) -> dict:
    deadline = row.get("resolve_deadline")
    return {
        "code": row["code"],
        "category": row.get("category__name") or "",
        "place": row.get("grid__name") or row.get("region_code", ""),
        "state": row["state"],
        "created": timezone.localtime(row["created"]).isoformat(timespec="minutes"),
        "deadline": timezone.localtime(deadline).isoformat(timespec="minutes") if deadline else "",
        "overdue": bool(deadline and deadline < end and not row.get("closed_at")),
        "supervised": row.get("supervised", 0),
        "hard_case": row.get("hard_case", False),
        "urgent": row.get("urgent", False),
    }


_ITEM_FIELDS = (
    "id",
    "code",
    "category__name",
    "grid__name",
    "region_code",
    "state",
    "created",
    "resolve_deadline",
    "closed_at",
    "supervised",
    "hard_case",
    "urgent",
)


def _items(queryset, end: datetime, limit: int = KEY_ITEMS_LIMIT) -> dict:
    rows = list(queryset.order_by("-supervised", "resolve_deadline", "id").values(*_ITEM_FIELDS))
    return {"count": len(rows), "rows": [_case_item(r, end) for r in rows[:limit]]}


def _counts_between(queryset, field: str, starts: list[date], end: date) -> list[int]:
    """Counts of ``field`` in each local period [starts[i], starts[i+1]) (the last up to
    ``end`` inclusive), in one aggregate query of filtered counts: no per-row date function,
    which on SQLite is a Python call per row."""
    edges = [_bounds(day, day)[0] for day in starts] + [_bounds(end, end)[1]]
    counts = queryset.filter(**{f"{field}__gte": edges[0], f"{field}__lt": edges[-1]}).aggregate(
        **{
            f"n{i}": Count("id", filter=Q(**{f"{field}__gte": a, f"{field}__lt": b}))
            for i, (a, b) in enumerate(zip(edges, edges[1:], strict=False))
        }
    )
    return [counts[f"n{i}"] or 0 for i in range(len(starts))]


def _signals(since: date, until: date, region_code: str) -> list[dict]:
    try:
        from civicgrid.warning.selectors import signals_for_report
    except ImportError:
        return []
    try:
        with transaction.atomic():  # a failing source must not break the report's transaction
            signals = list(signals_for_report(since, until, region_code=region_code))
    except Exception:  # noqa: BLE001 — a broken source must not stop the report
        import logging

        logging.getLogger(__name__).exception("early-warning signals failed")
        return []
    import json

    return json.loads(json.dumps(list(signals), default=str))


def _header(kind: str, region: Region, start: date, end: date) -> dict:
    return {
        "kind": kind,
        "version": CONTENT_VERSION,
        "region": {"code": region.code, "name": region.name, "level": region.level},
        "period": {"start": start.isoformat(), "end": end.isoformat()},
    }


def _child_level(region: Region) -> tuple[str, int]:
    """The group one level below ``region`` for place tables: (kpis group, code length)."""
    return ("town", 9) if region.level == Region.Level.COUNTY else ("village", 12)


# --------------------------------------------------------------------------- daily


def build_daily(region: Region, day: date) -> dict:
    since, until = _bounds(day, day)
    cases = _cases(region.code)
    reported = cases.filter(created__gte=since, created__lt=until).exclude(state=workflow.MERGED)
    content = _header("daily", region, day, day)
    intake = reported.count()
    prev_since = since - timedelta(days=HOT_BASELINE_DAYS)
    baseline_total = (
        cases.filter(created__gte=prev_since, created__lt=since)
        .exclude(state=workflow.MERGED)
        .count()
    )
    newly_overdue = cases.filter(resolve_deadline__gte=since, resolve_deadline__lt=until).filter(
        Q(closed_at__isnull=True) | Q(closed_at__gt=F("resolve_deadline"))
    )
    content["totals"] = {
        "intake": intake,
        "intake_mean28": round(baseline_total / HOT_BASELINE_DAYS, 1),
        "closed": cases.filter(closed_at__gte=since, closed_at__lt=until).count(),
        "newly_overdue": newly_overdue.count(),
        "open": cases.filter(_open_at(until)).count(),
        "urgent": reported.filter(urgent=True).count(),
    }
    content["by_channel"] = [
        {"key": r["channel"], "count": r["n"]}
        for r in reported.values("channel").annotate(n=Count("id")).order_by("-n", "channel")
    ]
    content["by_category"] = [
        {"code": r["category__code"] or "", "name": r["category__name"] or "", "count": r["n"]}
        for r in reported.values("category__code", "category__name")
        .annotate(n=Count("id"))
        .order_by("-n", "category__code")
    ]
    content["closed_by_category"] = [
        {"code": r["category__code"] or "", "name": r["category__name"] or "", "count": r["n"]}
        for r in cases.filter(closed_at__gte=since, closed_at__lt=until)
        .values("category__code", "category__name")
        .annotate(n=Count("id"))
        .order_by("-n", "category__code")[:15]
    ]
    content["hot_places"] = {
        "rule": {
            "min_count": HOT_MIN_COUNT,
            "sigmas": HOT_SIGMAS,
            "baseline_days": HOT_BASELINE_DAYS,
        },
        "rows": _hot_places(cases, since, until),
    }
    content["signals"] = _signals(day, day, region.code)
    open_now = cases.filter(_open_at(until))
    content["key_items"] = {
        "urgent": _items(open_now.filter(urgent=True), until),
        "red_card": _items(open_now.filter(supervised=Case.Supervised.RED), until),
        "hard": _items(open_now.filter(hard_case=True), until),
        "instructions": _items(
            open_now.filter(
                id__in=LeaderInstruction.objects.filter(created__lt=until).values("case_id")
            ),
            until,
        ),
        "newly_overdue": _items(newly_overdue, until),
    }
    return content


def _hot_places(cases, since: datetime, until: datetime) -> list[dict]:
    base_since = since - timedelta(days=HOT_BASELINE_DAYS)
    rows = []
    for level, expression in (
        ("village", Substr("region_code", 1, 12)),
        ("grid", F("grid__code")),
    ):
        today = dict(
            cases.filter(created__gte=since, created__lt=until)
            .exclude(state=workflow.MERGED)
            .annotate(place=expression)
            .values("place")
            .annotate(n=Count("id"))
            .filter(n__gte=HOT_MIN_COUNT)
            .values_list("place", "n")
        )
        today.pop(None, None)
        if not today:
            continue
        before = dict(
            cases.filter(created__gte=base_since, created__lt=since)
            .exclude(state=workflow.MERGED)
            .annotate(place=expression)
            .filter(place__in=list(today))
            .values("place")
            .annotate(n=Count("id"))
            .values_list("place", "n")
        )
        if level == "village":
            names = _names_of_regions(today)
        else:
            names = dict(Grid.objects.filter(code__in=list(today)).values_list("code", "name"))
        for code, n in today.items():
            mean = before.get(code, 0) / HOT_BASELINE_DAYS
            threshold = max(HOT_MIN_COUNT, math.ceil(mean + HOT_SIGMAS * math.sqrt(mean)))
            if n >= threshold:
                rows.append(
                    {
                        "level": level,
                        "code": code,
                        "name": names.get(code, code),
                        "count": n,
                        "mean28": round(mean, 2),
                        "threshold": threshold,
                    }
                )
    rows.sort(key=lambda r: (-r["count"], r["code"]))
    return rows


# --------------------------------------------------------------------------- weekly


def build_weekly(region: Region, monday: date, *, follow_ups=None) -> dict:
    """``follow_ups``: the items marked on last week's report of this region (rows of
    ``FollowUp`` with their case), which this report records as closed or not."""
    start, end = period_of("weekly", monday)
    since, until = _bounds(start, end)
    cases = _cases(region.code)
    content = _header("weekly", region, start, end)
    first_monday = start - timedelta(weeks=TREND_WEEKS)
    trend_since = _bounds(first_monday, first_monday)[0]
    live = cases.exclude(state=workflow.MERGED)
    weeks = TREND_WEEKS + 1
    mondays = [first_monday + timedelta(weeks=i) for i in range(weeks)]
    intake_series = _counts_between(live, "created", mondays, end)
    closed_series = _counts_between(cases, "closed_at", mondays, end)
    previous = intake_series[:-1]
    mean_prev = sum(previous) / len(previous) if previous else 0
    content["trend"] = {
        "weeks": [(first_monday + timedelta(weeks=i)).isoformat() for i in range(weeks)],
        "intake": intake_series,
        "closed": closed_series,
    }
    content["totals"] = {
        "intake": intake_series[-1],
        "intake_previous_week": intake_series[-2],
        "intake_mean_previous": round(mean_prev, 1),
        "change_vs_mean_pct": _pct_change(intake_series[-1], mean_prev),
        "closed": closed_series[-1],
        "open": cases.filter(_open_at(until)).count(),
        "overdue_open": cases.filter(_open_at(until), resolve_deadline__lt=until).count(),
    }
    this_week = dict(
        live.filter(created__gte=since, created__lt=until)
        .values("category__code")
        .annotate(n=Count("id"))
        .values_list("category__code", "n")
    )
    before = dict(
        live.filter(created__gte=trend_since, created__lt=since)
        .values("category__code")
        .annotate(n=Count("id"))
        .values_list("category__code", "n")
    )
    names = _names_of_categories([c for c in set(this_week) | set(before) if c])
    trends = []
    for code in set(this_week) | set(before):
        n = this_week.get(code, 0)
        mean = before.get(code, 0) / TREND_WEEKS
        trends.append(
            {
                "code": code or "",
                "name": names.get(code, ""),
                "count": n,
                "mean_previous": round(mean, 1),
                "change_pct": _pct_change(n, mean),
            }
        )
    trends.sort(key=lambda r: (-r["count"], -r["mean_previous"], r["code"]))
    content["category_trends"] = trends[:15]
    rising = [r for r in trends if r["count"] >= 3 and r["count"] >= 1.5 * r["mean_previous"]]
    rising.sort(key=lambda r: (-(r["count"] - r["mean_previous"]), r["code"]))
    content["rising"] = rising[:5]
    open_end = cases.filter(_open_at(until))
    content["hard_hot"] = _items(
        open_end.filter(Q(hard_case=True) | Q(supervised__gt=0) | Q(urgent=True)),
        until,
        limit=40,
    )
    content["follow_ups_last_week"] = [_follow_up_state(f, until) for f in (follow_ups or [])]
    kpis = _kpis()
    group, _length = _child_level(region)
    totals: dict = {}
    content["departments"] = _league(kpis, "department", since, until, region.code)
    content["places"] = _league(kpis, group, since, until, region.code, totals=totals)
    content["kpis"] = totals
    return content


def _follow_up_state(follow_up, until: datetime) -> dict:
    case = follow_up.case
    if case is not None:
        closed = bool(case.closed_at and case.closed_at < until) or case.state in NOT_OPEN
        state = case.state
    else:
        # a topic is closed by an analyst, during the week or until this report is made
        closed = follow_up.closed_at is not None
        state = "closed" if closed else "open"
    return {
        "id": follow_up.pk,
        "case": case.code if case else "",
        "topic": follow_up.topic,
        "state": state,
        "closed": closed,
        "outcome": follow_up.outcome,
    }


# --------------------------------------------------------------------------- monthly


def build_monthly(region: Region, first: date, *, theme: Category | None = None) -> dict:
    start, end = period_of("monthly", first)
    since, until = _bounds(start, end)
    cases = _cases(region.code)
    live = cases.exclude(state=workflow.MERGED)
    content = _header("monthly", region, start, end)
    kpis = _kpis()

    # KPI table: this month, last month, the same month last year, the year's target.
    last_start = _add_months(start, -1)
    year_start = _add_months(start, -12)
    periods = {
        "this": (since, until),
        "last_month": _bounds(last_start, start - timedelta(days=1)),
        "last_year": _bounds(year_start, _add_months(year_start, 1) - timedelta(days=1)),
    }
    table = []
    group, length = _child_level(region)
    this_month: dict = {}
    content["places"] = _league(kpis, group, since, until, region.code, totals=this_month)
    if kpis is not None:
        values = {
            k: kpis.compute(a, b, region_code=region.code)
            for k, (a, b) in periods.items()
            if k != "this"
        }
        target_region = "" if region.level == Region.Level.COUNTY else region.code
        targets = kpis.targets(target_region, start.year)
        for definition in _kpi_defs(kpis):
            code = definition["code"]
            row = dict(definition)
            row["this"] = this_month.get(code)
            for key in ("last_month", "last_year"):
                value = values[key].get(code)
                row[key] = _kpi_json(value) if value is not None else None
            row["target"] = targets.get(code)
            table.append(row)
    content["kpi_table"] = table

    # Twelve months of intake and closures (13 points, this month last).
    trend_start = _add_months(start, -12)
    months = [_add_months(trend_start, i) for i in range(13)]
    intake = _counts_between(live, "created", months, end)
    closed = _counts_between(cases, "closed_at", months, end)
    content["trend"] = {
        "months": [m.strftime("%Y-%m") for m in months],
        "intake": intake,
        "closed": closed,
    }
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    content["daily"] = {
        "days": [d.isoformat() for d in days],
        "intake": _counts_between(live, "created", days, end),
    }
    content["totals"] = {
        "intake": intake[-1],
        "intake_last_month": intake[-2],
        "intake_last_year": intake[0],
        "change_vs_last_month_pct": _pct_change(intake[-1], intake[-2]),
        "change_vs_last_year_pct": _pct_change(intake[-1], intake[0]),
        "closed": closed[-1],
        "open": cases.filter(_open_at(until)).count(),
    }

    # Place × top-level category heat table.
    heat_rows = (
        live.filter(created__gte=since, created__lt=until)
        .annotate(place=Substr("region_code", 1, length), top=Substr("category__code", 1, 2))
        .values("place", "top")
        .annotate(n=Count("id"))
        .values_list("place", "top", "n")
    )
    places = Region.objects.filter(
        code__startswith=region.code, level=("town" if length == 9 else "village")
    ).values_list("code", "name")
    tops = list(
        Category.objects.filter(parent__isnull=True).order_by("code").values_list("code", "name")
    )
    matrix = {}
    for place, top, n in heat_rows:
        matrix[(place, top or "")] = matrix.get((place, top or ""), 0) + n
    content["heat"] = {
        "columns": [{"code": c, "name": n} for c, n in tops],
        "rows": [
            {
                "code": code,
                "name": name,
                "values": [matrix.get((code, c), 0) for c, _n in tops],
                "total": sum(v for (p, _t), v in matrix.items() if p == code),
            }
            for code, name in places
        ],
    }
    content["departments"] = _league(kpis, "department", since, until, region.code)

    # The theme: chosen by the analyst, or suggested — the category that rose most.
    suggested = False
    if theme is None:
        theme = _suggest_theme(live, since, until, periods["last_month"])
        suggested = True
    content["theme"] = build_theme(region, start, theme) if theme else None
    if content["theme"]:
        content["theme"]["suggested"] = suggested
    return content


def _suggest_theme(live, since, until, last_month) -> Category | None:
    now = dict(
        live.filter(created__gte=since, created__lt=until, category__isnull=False)
        .values("category_id")
        .annotate(n=Count("id"))
        .values_list("category_id", "n")
    )
    if not now:
        return None
    before = dict(
        live.filter(created__gte=last_month[0], created__lt=last_month[1], category__in=list(now))
        .values("category_id")
        .annotate(n=Count("id"))
        .values_list("category_id", "n")
    )
    best = max(now, key=lambda c: (now[c] - before.get(c, 0), now[c], -c))
    return Category.objects.get(pk=best)


def build_theme(region: Region, first: date, theme: Category) -> dict:
    """The monthly theme in depth: where, since when, who handles it, how fast, what changed."""
    start, end = period_of("monthly", first)
    since, until = _bounds(start, end)
    last_since, last_until = _bounds(_add_months(start, -1), start - timedelta(days=1))
    year_since, year_until = _bounds(
        _add_months(start, -12), _add_months(start, -11) - timedelta(days=1)
    )
    cases = (
        _cases(region.code)
        .exclude(state=workflow.MERGED)
        .filter(
            category_id__in=list(
                Category.objects.filter(code__startswith=theme.code).values_list("id", flat=True)
            )
        )
    )
    month = cases.filter(created__gte=since, created__lt=until)
    last = cases.filter(created__gte=last_since, created__lt=last_until)
    duration = ExpressionWrapper(F("closed_at") - F("created"), output_field=DurationField())

    def handling(queryset) -> float | None:
        value = queryset.filter(closed_at__isnull=False).aggregate(d=Avg(duration))["d"]
        return round(value.total_seconds() / 86400, 1) if value is not None else None

    def places(queryset, expression, length_or_none):
        return dict(
            queryset.annotate(place=expression)
            .values("place")
            .annotate(n=Count("id"))
            .values_list("place", "n")
        )

    village_now = places(month, Substr("region_code", 1, 12), 12)
    village_last = places(last, Substr("region_code", 1, 12), 12)
    grid_now = places(month.filter(grid__isnull=False), F("grid__code"), None)
    village_names = _names_of_regions(set(village_now) | set(village_last))
    grid_names = dict(Grid.objects.filter(code__in=list(grid_now)).values_list("code", "name"))
    top_villages = sorted(village_now.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    top_grids = sorted(grid_now.items(), key=lambda kv: (-kv[1], kv[0]))[:10]

    first_monday = start - timedelta(days=start.weekday()) - timedelta(weeks=THEME_WEEKS - 1)
    # the weeks up to the one holding the month's last day
    weeks = ((end - first_monday).days // 7) + 1
    weekly = _counts_between(
        cases, "created", [first_monday + timedelta(weeks=i) for i in range(weeks)], end
    )
    first_seen = cases.aggregate(m=Min("created"))["m"]

    departments = []
    for row in (
        Assignment.objects.filter(
            role=Assignment.Role.LEAD, case__in=month.values("id"), department__isnull=False
        )
        .values("department__code", "department__name")
        .annotate(
            n=Count("case", distinct=True),
            closed=Count("case", filter=Q(case__closed_at__isnull=False), distinct=True),
            returned=Count("id", filter=Q(state=Assignment.State.RETURNED)),
        )
        .order_by("-n", "department__code")[:10]
    ):
        departments.append(
            {
                "code": row["department__code"],
                "name": row["department__name"],
                "count": row["n"],
                "closed": row["closed"],
                "returned": row["returned"],
            }
        )
    count_now, count_last = month.count(), last.count()
    count_year = cases.filter(created__gte=year_since, created__lt=year_until).count()
    closed_now = month.filter(closed_at__isnull=False, closed_at__lt=until).count()
    new_places = sorted(set(village_now) - set(village_last))
    gone_places = sorted(set(village_last) - set(village_now))
    return {
        "category": {"code": theme.code, "name": theme.name},
        "count": count_now,
        "count_last_month": count_last,
        "count_last_year": count_year,
        "change_vs_last_month_pct": _pct_change(count_now, count_last),
        "change_vs_last_year_pct": _pct_change(count_now, count_year),
        "closed": closed_now,
        "open": month.filter(_open_at(until)).count(),
        "handling_days": handling(month),
        "handling_days_last_month": handling(last),
        "first_seen": timezone.localtime(first_seen).date().isoformat() if first_seen else "",
        "villages": [
            {"code": c, "name": village_names.get(c, c), "count": n} for c, n in top_villages
        ],
        "grids": [{"code": c, "name": grid_names.get(c, c), "count": n} for c, n in top_grids],
        "weekly": {
            "weeks": [(first_monday + timedelta(weeks=i)).isoformat() for i in range(weeks)],
            "counts": weekly,
        },
        "departments": departments,
        "new_places": [{"code": c, "name": village_names.get(c, c)} for c in new_places][:20],
        "gone_places": [{"code": c, "name": village_names.get(c, c)} for c in gone_places][:20],
    }


# --------------------------------------------------------------------------- dispatch


def build(kind: str, region: Region, start: date, **extra) -> dict:
    if kind == "daily":
        return build_daily(region, start)
    if kind == "weekly":
        return build_weekly(region, start, **extra)
    if kind == "monthly":
        return build_monthly(region, start, **extra)
    raise ValueError(kind)
