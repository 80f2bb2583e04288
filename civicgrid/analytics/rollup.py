"""The case KPIs of many counties at once, from a daily rollup (issue 11: a province, 50 M cases).

``analytics.kpis`` reads the case table for every question; over a province's year (50
million cases) even its index-only scan takes minutes. ``CaseDayRollup`` keeps, per local day
reported and township, the case counters of the KPIs (``ROLLUP_COUNTERS``), and
``province_kpis`` sums them per county (or township): a few hundred thousand rows (days ×
townships) whatever the number of cases.

Kept exact as of the last ``refresh`` (the time in ``RollupMark.upto``, shown on the page).
A day's counters change only when one of its cases changes — and every change to a case
records a step on its timeline (``CaseAction``, written by the cases actions in the same
transaction) — or when "now" passes the deadline of one of its open cases (the open-and-
overdue counter). So ``refresh`` recomputes whole (delete, one ``INSERT … SELECT``
aggregate) the days of the cases with a step since the last refresh and of the open cases
whose deadline fell since then. The mark is read back ``MARGIN`` earlier than it was taken,
so a step written by a transaction that committed after the refresh started is still seen.
``refresh(full=True)`` rebuilds everything.

Only for a zone at a fixed UTC offset (Asia/Shanghai) on SQLite or PostgreSQL (the local day
is plain arithmetic, as in ``kpis._LocalClock``); ``available()`` says whether it applies.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import CharField, Count, F, Q, Sum, Value
from django.db.models.functions import Substr
from django.utils import timezone

from civicgrid.analytics import kpis
from civicgrid.analytics.models import CaseDayRollup, RollupMark
from civicgrid.cases import workflow

__all__ = [
    "ROLLUP_COUNTERS",
    "ROLLUP_KPIS",
    "as_of",
    "available",
    "counters_by",
    "province_kpis",
    "province_kpis_direct",
    "refresh",
    "version",
]

NAME = "case_day"
MARGIN = timedelta(minutes=10)
_refreshed_here = 0  # refreshes made by this process (see ``as_of``)
_NOT_DUE = (workflow.REJECTED, workflow.MERGED, workflow.SUSPENDED)
# A case is open (closed_at empty) in exactly these states: every step into another state
# stamps closed_at (reject, merge, close, file) and reopening clears it.
_OPEN_DUE = sorted(workflow.OPEN_STATES - set(_NOT_DUE))
ROLLUP_COUNTERS = (
    "intake",
    "accepted",
    "due",
    "closed",
    "on_time",
    "closed_late",
    "escalated",
    "evaluated",
    "satisfied",
    "merged",
    "self_closed",
    "hard",
    "hard_closed",
    "overdue_open",
)
# The KPIs whose counters the rollup (plus the live overdue count) gives.
_GIVEN = {*ROLLUP_COUNTERS, "overdue", "overdue_open"}
ROLLUP_KPIS = tuple(
    code for code, k in kpis.KPIS.items() if k.source == "cases" and {k.num, k.den} <= _GIVEN
)
_LEVEL_LENGTH = {"county": 6, "town": 9}


def _offset() -> int | None:
    from civicgrid.core.calendar import default_calendar

    tz = default_calendar().tz
    now = timezone.now()
    return kpis._fixed_offset(tz, now - timedelta(days=3650), now + timedelta(days=3650))


def available() -> bool:
    return _offset() is not None and connection.vendor in {"sqlite", "postgresql"}


def _day_number(day: date) -> int:
    return (day - kpis._EPOCH).days


def _start_of(day_number: int, offset: int) -> datetime:
    """The instant local day ``day_number`` begins."""
    return datetime.fromtimestamp(day_number * 86400 - offset, tz=UTC)


def _aggregate(cases, offset: int, now: datetime):
    due = ~Q(state__in=_NOT_DUE)
    closed = due & Q(closed_at__isnull=False)
    accepted = Q(accepted_at__isnull=False)
    return (
        cases.values(
            day=kpis._LocalClock("created", offset, "day"), town=Substr("region_code", 1, 9)
        )
        .annotate(
            intake=Count("id"),
            accepted=Count("id", filter=accepted),
            due=Count("id", filter=due),
            closed=Count("id", filter=closed),
            on_time=Count("id", filter=closed & Q(closed_at__lte=F("resolve_deadline"))),
            closed_late=Count("id", filter=closed & Q(closed_at__gt=F("resolve_deadline"))),
            escalated=Count("id", filter=accepted & Q(escalation_count__gt=0)),
            evaluated=Count("id", filter=~Q(satisfaction="")),
            satisfied=Count("id", filter=Q(satisfaction__in=["satisfied", "basically_satisfied"])),
            merged=Count("id", filter=Q(state=workflow.MERGED)),
            self_closed=Count("id", filter=closed & Q(level__in=["grid", "village"])),
            hard=Count("id", filter=due & Q(hard_case=True)),
            hard_closed=Count("id", filter=closed & Q(hard_case=True)),
            overdue_open=Count(
                "id", filter=due & Q(closed_at__isnull=True, resolve_deadline__lt=now)
            ),
        )
        .order_by()
    )


def _insert(cases, offset: int, now: datetime) -> None:
    """One ``INSERT … SELECT`` of the aggregate (the rows never pass through Python)."""
    sql, params = _aggregate(cases, offset, now).query.sql_with_params()
    table = CaseDayRollup._meta.db_table
    q = connection.ops.quote_name
    columns = ", ".join(q(c) for c in ("day", "town_code", *ROLLUP_COUNTERS))
    selected = ", ".join(q(c) for c in ("day", "town", *ROLLUP_COUNTERS))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(table)} ({columns}) SELECT {selected} FROM ({sql}) AS agg", params
        )


def _runs(days: list[int]) -> list[tuple[int, int]]:
    """Sorted day numbers as [first, last] runs of consecutive days."""
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][1] + 1:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(a, b) for a, b in runs]


def refresh(*, full: bool = False) -> dict[str, int]:
    """Bring the rollup up to date: the days whose cases changed since the last refresh (all
    days the first time, or with ``full``). Safe to run concurrently (the mark row is locked).
    Returns ``{"days": recomputed days (-1: all), "rows": rollup rows now}``."""
    from civicgrid.cases.models import Case, CaseAction

    offset = _offset()
    if offset is None or not available():
        return {"days": 0, "rows": 0}
    with transaction.atomic():
        mark, _created = RollupMark.objects.select_for_update().get_or_create(name=NAME)
        started = timezone.now()
        if full or mark.upto is None:
            CaseDayRollup.objects.all().delete()
            _insert(Case.objects.all(), offset, started)
            recomputed = -1
        else:
            since = mark.upto - MARGIN
            touched = CaseAction.objects.filter(created__gte=since).values("case_id")
            fell_due = Case.objects.filter(
                state__in=_OPEN_DUE,
                closed_at__isnull=True,
                resolve_deadline__gte=since,
                resolve_deadline__lt=started,
            )
            day = kpis._LocalClock("created", offset, "day")
            days = set()
            for rows in (
                Case.objects.filter(Q(pk__in=touched) | Q(created__gte=since)),
                fell_due,
            ):
                days.update(rows.values_list(day, flat=True).distinct().order_by())
            days = sorted(days)
            for first, last in _runs(days):
                CaseDayRollup.objects.filter(day__gte=first, day__lte=last).delete()
                _insert(
                    Case.objects.filter(
                        created__gte=_start_of(first, offset),
                        created__lt=_start_of(last + 1, offset),
                    ),
                    offset,
                    started,
                )
            recomputed = len(days)
        mark.upto = started
        mark.save(update_fields=["upto"])
    global _refreshed_here
    _refreshed_here += 1
    return {"days": recomputed, "rows": CaseDayRollup.objects.count()}


def _rows(figures: dict, level: str) -> list[dict]:
    names = kpis.group_names(level, figures)
    return [
        {
            "key": key,
            "name": names.get(key, key),
            **{code: kpis.value_from(code, figures[key]) for code in ROLLUP_KPIS},
        }
        for key in sorted(figures)
    ]


def as_of() -> datetime | None:
    """When the rollup was last brought up to date (None: never, it is empty)."""
    return RollupMark.objects.filter(name=NAME).values_list("upto", flat=True).first()


def version() -> str | None:
    """A name for the summary's current state, different after every refresh — for caches
    of figures kept "as of the last refresh" (the cockpit's). None if never refreshed.

    The refresh time, and the number of refreshes this process made (two refreshes at the
    same instant — a frozen clock in tests — still differ). One query."""
    upto = as_of()
    return None if upto is None else f"{upto.isoformat()}#{_refreshed_here}"


def counters_by(
    group: str | None, start: date, end: date, *, region_code: str = ""
) -> dict[str, dict[str, int]]:
    """The summed ``ROLLUP_COUNTERS`` (and ``overdue`` = closed late + open and overdue) of
    the cases reported on the local days ``start`` … ``end`` (inclusive) under
    ``region_code``, per county or township (``group`` "county" / "town") or in all
    (``group`` None: key ""), as ``kpis.counters_by`` gives them: one query."""
    if len(region_code) > 9:
        raise ValueError("the rollup goes down to townships")
    rows = CaseDayRollup.objects.filter(day__gte=_day_number(start), day__lte=_day_number(end))
    if region_code:
        rows = rows.filter(town_code__startswith=region_code)
    key = Substr("town_code", 1, _LEVEL_LENGTH[group]) if group else Value("", CharField())
    figures: dict[str, dict] = {}
    sums = {name: Sum(name) for name in ROLLUP_COUNTERS}
    for row in rows.values(key=key).annotate(**sums).order_by():
        if row["intake"] is None:  # no rows at all (an aggregate without groups)
            continue
        row["overdue"] = row["closed_late"] + row["overdue_open"]
        figures[row.pop("key")] = row
    return figures


def province_kpis(
    start: date, end: date, *, region_code: str = "", level: str = "county"
) -> list[dict]:
    """The case KPIs (``ROLLUP_KPIS``) per county (or ``level="town"``) of the places under
    ``region_code`` ("" = all), for the cases reported on the local days ``start`` … ``end``
    (inclusive), from the rollup as of its last ``refresh``: rows ``{"key", "name", <code>:
    KpiValue}`` sorted by key, as ``kpis.compute_by`` gives them. Two queries."""
    return _rows(counters_by(level, start, end, region_code=region_code), level)


def province_kpis_direct(
    start: date, end: date, *, region_code: str = "", level: str = "county"
) -> list[dict]:
    """The same table computed from the cases (``kpis.compute_by``): the reference."""
    zone = timezone.get_current_timezone()
    since = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return [
        {k: v for k, v in row.items() if k in {"key", "name", *ROLLUP_KPIS}}
        for row in kpis.compute_by(
            level, since, until, region_code=region_code, codes=list(ROLLUP_KPIS)
        )
    ]
