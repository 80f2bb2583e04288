"""Every KPI of the platform as data, and one way to compute them (MISSION D6).

``KPIS`` defines each indicator once — code, names, formula in words and symbols, numerator,
denominator, unit, direction, default target, cohort and source app — and ``docs/kpis.md``
explains them for people. ``compute`` gives the values for one area, department and period;
``compute_by`` the same per township, village, grid, department or category; ``targets`` the
target of each KPI (the defaults below, overridden by ``analytics.KpiTarget`` rows).

How it is computed: every KPI is ``numerator / denominator`` of two *counters*, and each
counter comes from one *source* — one aggregate query (``values().annotate()``) over one
table (cases, lead dispatches, case actions, reporters, due visits, campaign checks, campaign
targets, disputes). ``compute`` runs one query per source the requested KPIs need, so the
number of queries is fixed whatever the number of rows. The mean handling time in working
hours reads one more aggregate, grouped by (day accepted, day closed), and combines it with
the working calendar in Python: exact to the second (see ``_working_hours``).

Cohort: the cases *reported* in ``[since, until)`` (decision 23), with the exceptions each
KPI states in ``cohort`` (visits by due date, campaign checks by check time, reporters by
report time, disputes by registration time). Values are percentages (0–100) for unit "%"
and working hours for unit "h"; ``None`` when the denominator is zero.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache, partial

from django.apps import apps
from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import (
    Cast,
    ExtractHour,
    ExtractMinute,
    ExtractSecond,
    Greatest,
    Least,
    Substr,
    TruncDate,
)
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from civicgrid.cases import workflow

__all__ = [
    "GROUPS",
    "KPIS",
    "Kpi",
    "KpiValue",
    "compute",
    "compute_by",
    "counters_by",
    "group_names",
    "is_met",
    "targets",
    "value_from",
]

REPEAT_WINDOW_DAYS = 30  # 重复投诉: the same reporter, same category, within this many days
# Complaints come from the public; a grid worker's or a department's reports are work.
PUBLIC_CHANNELS = ("resident", "hotline_12345", "hotline_12348", "open311")

GROUPS = ("county", "town", "village", "grid", "department", "category")


@dataclass(frozen=True)
class Kpi:
    """One indicator: ``numerator`` / ``denominator`` of two counters (× 100 for a rate)."""

    code: str
    name_zh: str  # the Chinese name as used in the standards and reports (also the translation)
    name: Promise  # English msgid, translated to ``name_zh``
    formula: Promise  # in words
    symbols: str  # in symbols; the letters are defined in docs/kpis.md
    numerator: Promise
    denominator: Promise
    num: str  # counter names
    den: str
    unit: str  # "%" or "h" (working hours)
    direction: str  # "higher" or "lower" is better
    target: float | None
    target_source: str  # where the default target comes from, or "assumed"
    source: str  # the app the data comes from
    cohort: Promise
    departments: bool = True  # meaningful for one department?

    @property
    def scale(self) -> float:
        return 100.0 if self.unit == "%" else 1.0

    @property
    def label(self) -> str:
        """The name in the active language: the standards' Chinese name in Chinese."""
        from django.utils.translation import get_language

        return self.name_zh if (get_language() or "").startswith("zh") else str(self.name)


@dataclass(frozen=True)
class KpiValue:
    code: str
    value: float | None
    numerator: float
    denominator: float


_CASES = _("Cases reported in the period.")

KPIS: dict[str, Kpi] = {
    k.code: k
    for k in [
        Kpi(
            code="accept_rate",
            name_zh="受理率",
            name=_("Acceptance rate"),
            formula=_("Cases accepted (立案) ÷ cases reported."),
            symbols="A / N × 100%",
            numerator=_("cases accepted"),
            denominator=_("cases reported"),
            num="accepted",
            den="intake",
            unit="%",
            direction="higher",
            target=None,
            target_source="monitoring only (cn-standards §5.2 有效上报率)",
            source="cases",
            cohort=_CASES,
        ),
        Kpi(
            code="closed_rate",
            name_zh="办结率",
            name=_("Closure rate"),
            formula=_(
                "Cases closed ÷ cases due to be closed (reported, less rejected, merged "
                "duplicates and suspended cases)."
            ),
            symbols="C / D × 100%,  D = N − R − M − S",
            numerator=_("cases closed (closed, under review, archived or filed)"),
            denominator=_("cases due to be closed"),
            num="closed",
            den="due",
            unit="%",
            direction="higher",
            target=90.0,
            target_source="cn-standards §5.1 (金华 结案率 ≥ 90 %, S14)",
            source="cases",
            cohort=_CASES,
        ),
        Kpi(
            code="on_time_rate",
            name_zh="按期办结率",
            name=_("On-time closure rate"),
            formula=_("Cases closed by their resolution deadline ÷ cases due to be closed."),
            symbols="Cₜ / D × 100%",
            numerator=_("cases closed no later than their deadline"),
            denominator=_("cases due to be closed"),
            num="on_time",
            den="due",
            unit="%",
            direction="higher",
            target=70.0,
            target_source="cn-standards §5.1 (金华 按期结案率 ≥ 70 %, S14)",
            source="cases",
            cohort=_CASES,
        ),
        Kpi(
            code="overdue_rate",
            name_zh="超期率",
            name=_("Overdue rate"),
            formula=_(
                "Cases closed after their deadline plus open cases past it now ÷ cases due "
                "to be closed."
            ),
            symbols="(Cₗ + Oₗ) / D × 100%",
            numerator=_("cases closed late or open and overdue"),
            denominator=_("cases due to be closed"),
            num="overdue",
            den="due",
            unit="%",
            direction="lower",
            target=5.0,
            target_source="assumed",
            source="cases",
            cohort=_CASES,
        ),
        Kpi(
            code="rework_rate",
            name_zh="返工率",
            name=_("Rework rate"),
            formula=_("Verifications failed ÷ verifications made (feedback checked)."),
            symbols="Vf / (Vp + Vf) × 100%",
            numerator=_("verifications failed (sent back for rework)"),
            denominator=_("verifications made"),
            num="verify_failed",
            den="verified",
            unit="%",
            direction="lower",
            target=5.0,
            target_source="assumed (福州 2022 Q2: 0.11 %, cn-standards §5.1)",
            source="cases",
            cohort=_("Verifications of the cases reported in the period, whenever made."),
        ),
        Kpi(
            code="escalation_rate",
            name_zh="提级率",
            name=_("Escalation rate"),
            formula=_("Accepted cases escalated at least once ÷ cases accepted."),
            symbols="E / A × 100%",
            numerator=_("accepted cases escalated to a higher level"),
            denominator=_("cases accepted"),
            num="escalated",
            den="accepted",
            unit="%",
            direction="lower",
            target=10.0,
            target_source="assumed",
            source="cases",
            cohort=_CASES,
        ),
        Kpi(
            code="return_rate",
            name_zh="退单率",
            name=_("Return rate"),
            formula=_("Lead dispatches the department asked to return ÷ lead dispatches."),
            symbols="Rq / P × 100%",
            numerator=_("return requests by the lead department"),
            denominator=_("lead dispatches"),
            num="returns",
            den="dispatched",
            unit="%",
            direction="lower",
            target=5.0,
            target_source="assumed",
            source="cases",
            cohort=_("Lead dispatches of the cases reported in the period."),
        ),
        Kpi(
            code="sign_on_time_rate",
            name_zh="签收及时率",
            name=_("Signed on time"),
            formula=_("Lead dispatches signed for by the sign-for deadline ÷ lead dispatches."),
            symbols="Pₜ / P × 100%",
            numerator=_("lead dispatches signed for in time"),
            denominator=_("lead dispatches"),
            num="signed_on_time",
            den="dispatched",
            unit="%",
            direction="higher",
            target=95.0,
            target_source="assumed",
            source="cases",
            cohort=_("Lead dispatches of the cases reported in the period."),
        ),
        Kpi(
            code="satisfaction_rate",
            name_zh="满意率",
            name=_("Satisfaction rate"),
            formula=_("(Satisfied + basically satisfied) ÷ cases evaluated."),
            symbols="(Ys + Yb) / Y × 100%",
            numerator=_("cases evaluated satisfied or basically satisfied"),
            denominator=_("cases evaluated"),
            num="satisfied",
            den="evaluated",
            unit="%",
            direction="higher",
            target=90.0,
            target_source="assumed (cn-standards §5.3: local definitions vary)",
            source="cases",
            cohort=_CASES,
        ),
        Kpi(
            code="repeat_rate",
            name_zh="重复投诉率",
            name=_("Repeat complaint rate"),
            formula=_(
                "Public reports by someone who reported a case of the same category in the 30 "
                "days before ÷ public reports (residents, hotlines, Open311)."
            ),
            symbols="Q / N_r × 100%",
            numerator=_("repeat reports (same phone or account, same category, 30 days)"),
            denominator=_("public reports received"),
            num="repeats",
            den="reports",
            unit="%",
            direction="lower",
            target=5.0,
            target_source="assumed",
            source="cases",
            cohort=_("Public reports (merged duplicates included) made in the period."),
        ),
        Kpi(
            code="duplicate_rate",
            name_zh="重复件率",
            name=_("Duplicate rate"),
            formula=_("Cases merged into another as duplicates ÷ cases reported."),
            symbols="M / N × 100%",
            numerator=_("cases merged as duplicates"),
            denominator=_("cases reported"),
            num="merged",
            den="intake",
            unit="%",
            direction="lower",
            target=None,
            target_source="monitoring only",
            source="cases",
            cohort=_CASES,
        ),
        Kpi(
            code="self_closed_rate",
            name_zh="自办结率",
            name=_("Closed by grid or village"),
            formula=_("Closed cases owned by a grid or a village when closed ÷ cases closed."),
            symbols="Cg / C × 100%",
            numerator=_("cases closed at grid or village level"),
            denominator=_("cases closed"),
            num="self_closed",
            den="closed",
            unit="%",
            direction="higher",
            target=None,
            target_source="monitoring only",
            source="cases",
            cohort=_CASES,
        ),
        Kpi(
            code="hard_case_closed_rate",
            name_zh="提级攻坚办结率",
            name=_("Hard cases closed"),
            formula=_("Hard cases (提级攻坚) closed ÷ hard cases due to be closed."),
            symbols="Hc / H × 100%",
            numerator=_("hard cases closed"),
            denominator=_("hard cases due to be closed"),
            num="hard_closed",
            den="hard",
            unit="%",
            direction="higher",
            target=80.0,
            target_source="assumed",
            source="cases",
            cohort=_CASES,
        ),
        Kpi(
            code="mean_handling_hours",
            name_zh="平均办理时长",
            name=_("Mean handling time"),
            formula=_("Working hours from acceptance to closure, averaged over closed cases."),
            symbols="Σ wh(acceptedᵢ, closedᵢ) / C",
            numerator=_("working hours from acceptance to closure, summed"),
            denominator=_("cases closed"),
            num="hours",
            den="timed",
            unit="h",
            direction="lower",
            target=37.5,
            target_source="assumed (five working days)",
            source="cases",
            cohort=_CASES,
        ),
        Kpi(
            code="visit_completion_rate",
            name_zh="走访完成率",
            name=_("Visits completed"),
            formula=_("Due visits done ÷ visits due (key-group visits, 应走尽走)."),
            symbols="Wd / W × 100%",
            numerator=_("due visits done (person seen)"),
            denominator=_("visits due"),
            num="visits_done",
            den="visits_due",
            unit="%",
            direction="higher",
            target=95.0,
            target_source="assumed (cn-standards §5.2 gives the formula only)",
            source="inspection",
            cohort=_("Due visits whose due date falls in the period."),
            departments=False,
        ),
        Kpi(
            code="campaign_completion_rate",
            name_zh="专项排查完成率",
            name=_("Campaign targets checked"),
            formula=_("Campaign targets checked ÷ campaign targets."),
            symbols="Tc / T × 100%",
            numerator=_("targets checked"),
            denominator=_("targets"),
            num="targets_checked",
            den="targets",
            unit="%",
            direction="higher",
            target=95.0,
            target_source="assumed",
            source="campaigns",
            cohort=_("Targets of the campaigns whose period overlaps the period."),
            departments=False,
        ),
        Kpi(
            code="campaign_rectification_rate",
            name_zh="专项排查整改率",
            name=_("Campaign hazards rectified"),
            formula=_("Hazards whose case is closed or archived ÷ hazards found."),
            symbols="Zr / Z × 100%",
            numerator=_("hazards rectified (case closed or archived)"),
            denominator=_("hazards found"),
            num="rectified",
            den="hazards",
            unit="%",
            direction="higher",
            target=90.0,
            target_source="assumed",
            source="campaigns",
            cohort=_("Campaign checks that found a hazard in the period."),
        ),
        Kpi(
            code="mediation_success_rate",
            name_zh="化解成功率",
            name=_("Mediation success rate"),
            formula=_(
                "Disputes concluded with an agreement ÷ disputes concluded (agreement, "
                "failed, terminated or withdrawn)."
            ),
            symbols="Ga / G × 100%",
            numerator=_("disputes concluded with an agreement"),
            denominator=_("disputes concluded"),
            num="agreements",
            den="concluded",
            unit="%",
            direction="higher",
            target=95.0,
            target_source="cn-standards §5.4 (吴兴 化解率 95 %, NEWS)",
            source="mediation",
            cohort=_("Disputes registered in the period."),
        ),
    ]
}

# Which source query gives each counter.
_SOURCE_OF = {
    **dict.fromkeys(
        [
            "intake",
            "accepted",
            "due",
            "closed",
            "on_time",
            "overdue",
            "overdue_open",
            "escalated",
            "evaluated",
            "satisfied",
            "merged",
            "self_closed",
            "hard",
            "hard_closed",
        ],
        "cases",
    ),
    **dict.fromkeys(["hours", "timed"], "hours"),
    **dict.fromkeys(["dispatched", "signed_on_time", "returns", "returned"], "assignments"),
    **dict.fromkeys(["verified", "verify_failed"], "verifications"),
    **dict.fromkeys(["reports", "repeats"], "reporters"),
    **dict.fromkeys(["visits_due", "visits_done"], "visits"),
    **dict.fromkeys(["targets", "targets_checked"], "campaign_targets"),
    **dict.fromkeys(["hazards", "rectified"], "campaign_checks"),
    **dict.fromkeys(["concluded", "agreements"], "disputes"),
}


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class _Filter:
    since: datetime
    until: datetime
    region_code: str
    department_id: int | None
    user: object
    department_given: bool


def _department_id(department) -> tuple[int | None, bool]:
    """(id, given): a Department, its code or its id; an unknown code matches nothing."""
    if department is None or department == "":
        return None, False
    if hasattr(department, "pk"):
        return department.pk, True
    Department = apps.get_model("people", "Department")
    pk = Department.objects.filter(code=str(department)).values_list("pk", flat=True).first()
    return (pk if pk is not None else -1), True


def _unrestricted(user) -> bool:
    from civicgrid.core.scoping import scope_for

    return user is None or scope_for(user).superuser


def _lead_cases(department_id: int):
    Assignment = apps.get_model("cases", "Assignment")
    return Assignment.objects.filter(
        department_id=department_id, role=Assignment.Role.LEAD, active=True
    ).values("case_id")


def _lead_department_code(case_path: str) -> dict:
    """Annotations giving ``key``: the code of the case's active lead department, by one LEFT
    JOIN of the lead assignment (``case_path``: "" from a case, "case" from a row hanging off
    one). A case has at most one active lead — a dispatch deactivates the case's assignments
    before creating the new ones (``cases.actions``) — so the join keeps one row per row."""
    assignments = f"{case_path}__assignments" if case_path else "assignments"
    lead = Q(**{f"{assignments}__role": "lead", f"{assignments}__active": True})
    return {
        "active_lead": FilteredRelation(assignments, condition=lead),
        "key": F("active_lead__department__code"),
    }


def _visible_cases(user):
    from civicgrid.cases.selectors import cases_visible_to

    return cases_visible_to(user).values("pk")


# Per source: (model, time field, region path, case path or None, group expressions).
_REGION_LENGTH = {"county": 6, "town": 9, "village": 12, "grid": 15}


def _group_key(source: str, group: str | None) -> dict | None:
    """The annotations giving the ``key`` a source's rows are grouped by (with the join it
    needs, for a department), or None if the grouping does not apply to the source."""
    key = _group_expression(source, group)
    if key is None or isinstance(key, dict):
        return key
    return {"key": key}


def _group_expression(source: str, group: str | None):
    if group is None:
        return Value("")
    region = {
        "cases": "region_code",
        "hours": "region_code",
        "assignments": "case__region_code",
        "verifications": "case__region_code",
        "reporters": "case__region_code",
        "visits": "region_code",
        "campaign_targets": "region_code",
        "campaign_checks": "region_code",
        "disputes": "region_code",
    }[source]
    if group in _REGION_LENGTH:
        return Substr(region, 1, _REGION_LENGTH[group])
    if group == "department":
        return {
            "cases": _lead_department_code(""),
            "hours": _lead_department_code(""),
            "assignments": F("department__code"),
            "verifications": _lead_department_code("case"),
            "reporters": _lead_department_code("case"),
            "campaign_checks": _lead_department_code("case"),
            "disputes": F("department__code"),
        }.get(source)
    if group == "category":
        return {
            "cases": F("category__code"),
            "hours": F("category__code"),
            "assignments": F("case__category__code"),
            "verifications": F("case__category__code"),
            "reporters": F("case__category__code"),
            "campaign_checks": F("case__category__code"),
            "campaign_targets": F("campaign__category__code"),
        }.get(source)
    raise ValueError(f"unknown group {group!r}")


def _cases(f: _Filter) -> QuerySet:
    Case = apps.get_model("cases", "Case")
    rows = Case.objects.filter(created__gte=f.since, created__lt=f.until)
    if f.region_code:
        rows = rows.filter(region_code__startswith=f.region_code)
    if f.department_given:
        rows = rows.filter(pk__in=_lead_cases(f.department_id))
    if not _unrestricted(f.user):
        rows = rows.filter(pk__in=_visible_cases(f.user))
    return rows


def _case_related(model_label: str, f: _Filter, *, by_case_time: bool = True) -> QuerySet:
    """Rows of a table hanging off a case, for the cases of the filter."""
    model = apps.get_model(*model_label.split("."))
    rows = model.objects.all()
    if by_case_time:
        rows = rows.filter(case__created__gte=f.since, case__created__lt=f.until)
    if f.region_code:
        rows = rows.filter(case__region_code__startswith=f.region_code)
    if f.department_given and model_label != "cases.Assignment":
        rows = rows.filter(case_id__in=_lead_cases(f.department_id))
    if not _unrestricted(f.user):
        rows = rows.filter(case_id__in=_visible_cases(f.user))
    return rows


# --------------------------------------------------------------------------- sources


def _src_cases(f: _Filter, key) -> list[dict]:
    now = timezone.now()
    due = ~Q(state__in=[workflow.REJECTED, workflow.MERGED, workflow.SUSPENDED])
    closed = due & Q(closed_at__isnull=False)
    late_open = due & Q(closed_at__isnull=True, resolve_deadline__lt=now)
    accepted = Q(accepted_at__isnull=False)
    return list(
        _cases(f)
        .annotate(**key)
        .values("key")
        .annotate(
            intake=Count("id"),
            accepted=Count("id", filter=accepted),
            due=Count("id", filter=due),
            closed=Count("id", filter=closed),
            on_time=Count("id", filter=closed & Q(closed_at__lte=F("resolve_deadline"))),
            overdue=Count(
                "id",
                filter=(closed & Q(closed_at__gt=F("resolve_deadline"))) | late_open,
            ),
            overdue_open=Count("id", filter=late_open),
            escalated=Count("id", filter=accepted & Q(escalation_count__gt=0)),
            evaluated=Count("id", filter=~Q(satisfaction="")),
            satisfied=Count("id", filter=Q(satisfaction__in=["satisfied", "basically_satisfied"])),
            merged=Count("id", filter=Q(state=workflow.MERGED)),
            self_closed=Count("id", filter=closed & Q(level__in=["grid", "village"])),
            hard=Count("id", filter=due & Q(hard_case=True)),
            hard_closed=Count("id", filter=closed & Q(hard_case=True)),
        )
        .order_by()
    )


def _seconds_of_day(field: str, tz):
    return (
        Cast(ExtractHour(field, tzinfo=tz), FloatField()) * 3600.0
        + Cast(ExtractMinute(field, tzinfo=tz), FloatField()) * 60.0
        + Cast(ExtractSecond(field, tzinfo=tz), FloatField())
    )


class _LocalClock(Func):
    """The local day (days since 1970-01-01) or second of the day of a datetime column, for a
    zone at a fixed UTC offset, in the database's own arithmetic (no per-row Python function
    on SQLite, unlike Django's time-zone-aware Trunc/Extract there)."""

    def __init__(self, field: str, offset: int, part: str):
        super().__init__(F(field))
        self.offset, self.part = offset, part
        self.output_field = IntegerField() if part == "day" else FloatField()

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        local = f"(CAST(strftime('%%s', {sql}) AS INTEGER) + %s)"
        op = "/" if self.part == "day" else "%%"
        return f"({local} {op} 86400)", [*params, self.offset]

    def as_postgresql(self, compiler, connection, **extra):
        # date_part gives a double precision; EXTRACT gives a numeric since PostgreSQL 14,
        # several times slower to compute on every row (microseconds are kept either way).
        sql, params = compiler.compile(self.source_expressions[0])
        local = f"(date_part('epoch', {sql}) + %s)"
        if self.part == "day":
            return f"FLOOR({local} / 86400)::integer", [*params, self.offset]
        return f"({local} - 86400 * FLOOR({local} / 86400))", [*params, self.offset] * 2


def _fixed_offset(tz, since: datetime, until: datetime) -> int | None:
    """The zone's UTC offset in seconds if it is the same all through the years spanned."""
    offsets = {
        datetime(year, month, 1, tzinfo=tz).utcoffset()
        for year in range(since.year - 1, until.year + 2)
        for month in (1, 4, 7, 10)
    }
    if len(offsets) != 1:
        return None
    return int(offsets.pop().total_seconds())


def _worked(t, calendar):
    """Working seconds of a working day from midnight to the wall time ``t`` (seconds)."""
    total = None
    for start, end in calendar.periods:
        s = start.hour * 3600 + start.minute * 60 + start.second
        e = end.hour * 3600 + end.minute * 60 + end.second
        part = Greatest(Value(0.0), Least(t, Value(float(e))) - Value(float(s)))
        total = part if total is None else total + part
    return total


def _src_hours(f: _Filter, key) -> list[dict]:
    """Working hours from acceptance to closure of the closed cases, summed per group.

    One aggregate grouped by (group, local day accepted, local day closed) with the count and
    the summed "worked so far that day" at both ends; then, per row, the calendar adds the
    whole working days in between (``_working_hours``). Rows are bounded by the number of
    distinct day pairs, not by the number of cases. On SQLite and PostgreSQL, with a zone at
    a fixed offset (Asia/Shanghai), the local clock is plain arithmetic on the epoch; else
    Django's time-zone-aware functions.
    """
    from django.db import connection

    from civicgrid.core.calendar import default_calendar

    calendar = default_calendar()
    due = ~Q(state__in=[workflow.REJECTED, workflow.MERGED, workflow.SUSPENDED])
    rows = _cases(f).filter(due, closed_at__isnull=False, accepted_at__isnull=False)
    offset = _fixed_offset(calendar.tz, f.since, f.until)
    if offset is not None and connection.vendor in {"sqlite", "postgresql"}:
        day_a = _LocalClock("accepted_at", offset, "day")
        day_b = _LocalClock("closed_at", offset, "day")
        t_a = _LocalClock("accepted_at", offset, "second")
        t_b = _LocalClock("closed_at", offset, "second")
    else:
        day_a = TruncDate("accepted_at", tzinfo=calendar.tz)
        day_b = TruncDate("closed_at", tzinfo=calendar.tz)
        t_a = _seconds_of_day("accepted_at", calendar.tz)
        t_b = _seconds_of_day("closed_at", calendar.tz)
    rows = (
        rows.annotate(**key, day_a=day_a, day_b=day_b)
        .values("key", "day_a", "day_b")
        .annotate(
            n=Count("id"),
            worked_a=Sum(_worked(t_a, calendar)),
            worked_b=Sum(_worked(t_b, calendar)),
        )
        .order_by()
    )
    totals: dict = defaultdict(lambda: {"hours": 0.0, "timed": 0})
    days = cache(partial(_days, calendar))
    for row in rows:
        total = totals[row["key"]]
        total["timed"] += row["n"]
        total["hours"] += _working_hours(calendar, row, days)
    return [{"key": k, **v} for k, v in totals.items()]


_EPOCH = date(1970, 1, 1)


def _as_date(value) -> date:
    if isinstance(value, int):
        return _EPOCH + timedelta(days=value)
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _working_hours(calendar, row, days=None) -> float:
    """Working hours of ``n`` intervals starting on day A and ending on day B, from the sums.

    For one interval: if A == B, worked(b) − worked(a) on a working day, else 0; otherwise
    (a working day A: hours of a day − worked(a)) + whole working days strictly between ×
    hours of a day + (a working day B: worked(b)). Linear in worked(a) and worked(b), so the
    sums over the group give the exact total — the same figure as summing
    ``WorkingCalendar.working_hours_between`` case by case. ``days``: ``_days(calendar, A,
    B)``, cached by the caller (the groups share their pairs of days).
    """
    n = row["n"]
    day_a, day_b = _as_date(row["day_a"]), _as_date(row["day_b"])
    a, b = float(row["worked_a"] or 0) / 3600, float(row["worked_b"] or 0) / 3600
    working_a, working_b, between = (days or partial(_days, calendar))(day_a, day_b)
    if day_a == day_b:
        return b - a if working_a else 0.0
    hours = 0.0
    if working_a:
        hours += n * calendar.hours_per_day - a
    if working_b:
        hours += b
    return hours + n * between


def _days(calendar, day_a: date, day_b: date) -> tuple[bool, bool, float]:
    """(day A is a working day, day B is, working hours of the whole days strictly between)."""
    between = 0.0
    if (day_b - day_a).days > 1:
        tz = calendar.tz
        between = calendar.working_hours_between(
            datetime.combine(day_a + timedelta(days=1), time.min, tzinfo=tz),
            datetime.combine(day_b, time.min, tzinfo=tz),
        )
    return calendar.is_working_day(day_a), calendar.is_working_day(day_b), between


def _src_assignments(f: _Filter, key) -> list[dict]:
    Assignment = apps.get_model("cases", "Assignment")
    rows = _case_related("cases.Assignment", f).filter(role=Assignment.Role.LEAD)
    if f.department_given:
        rows = rows.filter(department_id=f.department_id)
    return list(
        rows.annotate(**key)
        .values("key")
        .annotate(
            dispatched=Count("id"),
            signed_on_time=Count("id", filter=Q(signed_at__lte=F("sign_deadline"))),
            returns=Count("id", filter=~Q(return_reason="")),
            returned=Count("id", filter=Q(state=Assignment.State.RETURNED)),
        )
        .order_by()
    )


def _src_verifications(f: _Filter, key) -> list[dict]:
    rows = _case_related("cases.CaseAction", f).filter(action__in=["verify_pass", "verify_fail"])
    return list(
        rows.annotate(**key)
        .values("key")
        .annotate(
            verified=Count("id"),
            verify_failed=Count("id", filter=Q(action="verify_fail")),
        )
        .order_by()
    )


def _src_reporters(f: _Filter, key) -> list[dict]:
    CaseReporter = apps.get_model("cases", "CaseReporter")
    rows = _case_related("cases.CaseReporter", f, by_case_time=False).filter(
        created__gte=f.since, created__lt=f.until, channel__in=PUBLIC_CHANNELS
    )
    # Two EXISTS (same phone, same account) rather than one with OR: each can use its index
    # (``phone_hash, created`` and ``user, created``: bounded by the 30 days).
    earlier = CaseReporter.objects.filter(
        channel__in=PUBLIC_CHANNELS,
        case__category_id=OuterRef("case__category_id"),
        created__lt=OuterRef("created"),
        created__gte=OuterRef("created") - timedelta(days=REPEAT_WINDOW_DAYS),
    )
    by_phone = earlier.filter(phone_hash=OuterRef("phone_hash")).exclude(phone_hash="")
    by_account = earlier.filter(user_id=OuterRef("user_id"))
    return list(
        rows.annotate(**key, by_phone=Exists(by_phone), by_account=Exists(by_account))
        .values("key")
        .annotate(
            reports=Count("id"),
            # A report without a phone (or an account) is not looked up by it: the look-up
            # would walk every other report without one before finding it excluded.
            repeats=Count(
                "id",
                filter=(~Q(phone_hash="") & Q(by_phone=True))
                | (Q(user_id__isnull=False) & Q(by_account=True)),
            ),
        )
        .order_by()
    )


def _local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def _src_visits(f: _Filter, key) -> list[dict]:
    if f.department_given:
        return []
    from civicgrid.inspection.models import DueVisit
    from civicgrid.inspection.selectors import due_visits_visible_to

    rows = DueVisit.objects.all() if _unrestricted(f.user) else due_visits_visible_to(f.user)
    rows = rows.filter(due_date__gte=_local_day(f.since), due_date__lt=_local_day(f.until))
    if f.region_code:
        rows = rows.filter(region_code__startswith=f.region_code)
    return list(
        rows.annotate(**key)
        .values("key")
        .annotate(
            visits_due=Count("id"),
            visits_done=Count("id", filter=Q(state=DueVisit.State.DONE)),
        )
        .order_by()
    )


def _src_campaign_targets(f: _Filter, key) -> list[dict]:
    if f.department_given:
        return []
    from civicgrid.campaigns.models import CampaignTarget
    from civicgrid.campaigns.selectors import targets_visible_to

    rows = CampaignTarget.objects.all() if _unrestricted(f.user) else targets_visible_to(f.user)
    rows = rows.filter(
        campaign__start__lt=_local_day(f.until), campaign__end__gte=_local_day(f.since)
    ).exclude(campaign__state="draft")
    if f.region_code:
        rows = rows.filter(region_code__startswith=f.region_code)
    return list(
        rows.annotate(**key)
        .values("key")
        .annotate(
            targets=Count("id"),
            targets_checked=Count("id", filter=Q(state=CampaignTarget.State.CHECKED)),
        )
        .order_by()
    )


def _src_campaign_checks(f: _Filter, key) -> list[dict]:
    from civicgrid.campaigns.models import CampaignCheck
    from civicgrid.campaigns.selectors import RECTIFIED_STATES, checks_visible_to

    rows = CampaignCheck.objects.all() if _unrestricted(f.user) else checks_visible_to(f.user)
    rows = rows.filter(hazard=True, checked_at__gte=f.since, checked_at__lt=f.until)
    if f.region_code:
        rows = rows.filter(region_code__startswith=f.region_code)
    if f.department_given:
        rows = rows.filter(case_id__in=_lead_cases(f.department_id))
    return list(
        rows.annotate(**key)
        .values("key")
        .annotate(
            hazards=Count("id"),
            rectified=Count("id", filter=Q(case__state__in=RECTIFIED_STATES)),
        )
        .order_by()
    )


def _src_disputes(f: _Filter, key) -> list[dict]:
    from civicgrid.mediation.models import Dispute
    from civicgrid.mediation.selectors import disputes_visible_to
    from civicgrid.mediation.workflow import CONCLUDED_OUTCOMES

    rows = Dispute.objects.all() if _unrestricted(f.user) else disputes_visible_to(f.user)
    rows = rows.filter(created__gte=f.since, created__lt=f.until)
    if f.region_code:
        rows = rows.filter(region_code__startswith=f.region_code)
    if f.department_given:
        rows = rows.filter(department_id=f.department_id)
    return list(
        rows.annotate(**key)
        .values("key")
        .annotate(
            concluded=Count("id", filter=Q(outcome__in=CONCLUDED_OUTCOMES)),
            agreements=Count("id", filter=Q(outcome="agreement")),
        )
        .order_by()
    )


_SOURCES = {
    "cases": _src_cases,
    "hours": _src_hours,
    "assignments": _src_assignments,
    "verifications": _src_verifications,
    "reporters": _src_reporters,
    "visits": _src_visits,
    "campaign_targets": _src_campaign_targets,
    "campaign_checks": _src_campaign_checks,
    "disputes": _src_disputes,
}


# --------------------------------------------------------------------------- public API


def _codes(codes) -> list[str]:
    if codes is None:
        return list(KPIS)
    unknown = [c for c in codes if c not in KPIS]
    if unknown:
        raise ValueError(f"unknown KPI codes: {', '.join(unknown)}")
    return [c for c in KPIS if c in set(codes)]


def counters_by(
    group: str | None,
    since: datetime,
    until: datetime,
    *,
    region_code: str = "",
    department=None,
    counters=(),
    user=None,
) -> dict[str, dict[str, float]]:
    """The raw counters (``Kpi.num`` / ``Kpi.den`` names, e.g. ``closed``, ``overdue_open``)
    per group key ("" when ``group`` is None): one aggregate query per source needed."""
    if group is not None and group not in GROUPS:
        raise ValueError(f"unknown group {group!r}")
    department_id, given = _department_id(department)
    f = _Filter(since, until, region_code or "", department_id, user, given)
    sources = {_SOURCE_OF[c] for c in counters}
    result: dict[str, dict[str, float]] = defaultdict(dict)
    for source in _SOURCES:
        if source not in sources:
            continue
        key = _group_key(source, group)
        if key is None:  # the grouping does not apply to this source (visits by category …)
            continue
        for row in _SOURCES[source](f, key):
            name = row.pop("key")
            if group == "department" and not name:
                continue  # handled by the owning unit itself: no department's
            result["" if name is None else name].update(row)
    return result


def value_from(code: str, figures: dict) -> KpiValue:
    """The KPI ``code`` from a dict of counters (a row of ``counters_by``)."""
    kpi = KPIS[code]
    num = figures.get(kpi.num, 0) or 0
    den = figures.get(kpi.den, 0) or 0
    value = kpi.scale * num / den if den else None
    return KpiValue(kpi.code, value, float(num), float(den))


def compute(
    since: datetime,
    until: datetime,
    *,
    region_code: str = "",
    department=None,
    codes=None,
    user=None,
) -> dict[str, KpiValue]:
    """The KPIs (all, or ``codes``) for one area and/or department over ``[since, until)``.

    ``user``: only what that user may see (their visible cases, visits, checks, disputes);
    None: everything (system use). ``department``: a Department or its code; KPIs that do not
    apply to a department (``Kpi.departments`` False) have a zero denominator then.
    """
    wanted = _codes(codes)
    counters = {n for c in wanted for n in (KPIS[c].num, KPIS[c].den)}
    figures = counters_by(
        None,
        since,
        until,
        region_code=region_code,
        department=department,
        counters=counters,
        user=user,
    ).get("", {})
    return {code: value_from(code, figures) for code in wanted}


def group_names(group: str, keys) -> dict[str, str]:
    keys = [k for k in keys if k]
    if group in {"county", "town", "village"}:
        model = apps.get_model("regions", "Region")
    elif group == "grid":
        model = apps.get_model("regions", "Grid")
    elif group == "department":
        model = apps.get_model("people", "Department")
    else:
        model = apps.get_model("cases", "Category")
    return dict(model.objects.filter(code__in=keys).values_list("code", "name"))


def compute_by(
    group: str,
    since: datetime,
    until: datetime,
    *,
    region_code: str = "",
    department=None,
    codes=None,
    user=None,
) -> list[dict]:
    """The KPIs per township, village, grid, department (the case's active lead) or category.

    Rows ``{"key", "name", <code>: KpiValue, …}``, sorted by key, one per key that has any
    figure. Sources a grouping does not apply to (visits by department or category, disputes
    by category — their categories are another taxonomy) give zero denominators.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}")
    wanted = _codes(codes)
    counters = {n for c in wanted for n in (KPIS[c].num, KPIS[c].den)}
    figures = counters_by(
        group,
        since,
        until,
        region_code=region_code,
        department=department,
        counters=counters,
        user=user,
    )
    names = group_names(group, figures)
    rows = []
    for key in sorted(figures):
        row = {"key": key, "name": names.get(key, key or "—")}
        row.update({code: value_from(code, figures[key]) for code in wanted})
        rows.append(row)
    return rows


def targets(region_code: str = "", year: int | None = None) -> dict[str, float]:
    """The target of each KPI that has one, for ``region_code`` in ``year`` (default: this year).

    Defaults come from ``KPIS``; rows of ``analytics.KpiTarget`` (kpi, region_code, year,
    target) override them — the row of the longest region code that contains ``region_code``
    wins (blank = the whole county).
    """
    result = {code: kpi.target for code, kpi in KPIS.items() if kpi.target is not None}
    year = year or timezone.localdate().year
    try:
        KpiTarget = apps.get_model("analytics", "KpiTarget")
    except LookupError:
        return result
    prefixes = {region_code[:n] for n in range(len(region_code) + 1)}
    rows = (
        KpiTarget.objects.filter(kpi__in=list(KPIS), year=year, region_code__in=prefixes)
        .values_list("kpi", "region_code", "target")
        .order_by()
    )
    best: dict[str, tuple[int, float]] = {}
    for kpi, code, target in rows:
        if kpi not in best or len(code) > best[kpi][0]:
            best[kpi] = (len(code), float(target))
    result.update({kpi: target for kpi, (_length, target) in best.items()})
    return result


def is_met(code: str, value: float | None, target: float | None) -> bool | None:
    """Whether ``value`` meets ``target`` in the KPI's direction; None if either is missing."""
    if value is None or target is None:
        return None
    return value >= target if KPIS[code].direction == "higher" else value <= target
