"""The case KPIs of many counties at once, from a daily rollup (issue 11: a province, 50 M cases).

``analytics.kpis`` reads the case table for every question; over a province's year (50
million cases) even its index-only scan takes minutes. ``CaseDayRollup`` keeps, per local day
reported and township, the counters of every case KPI (``ROLLUP_COUNTERS``: the cases', the
working hours of the closed ones, their lead dispatches and verifications), and
``province_kpis`` sums them per county (or township): a few hundred thousand rows (days ×
townships) whatever the number of cases. Beside it, for the cockpit (issue 11, target 2: its
first request after a tick reads no case): ``DepartmentDayRollup`` (the same by the cases'
lead department), ``PlaceDayRollup`` (by village, with the cases open now: overdue, urgent,
supervised) and ``EventDayRollup`` (by the local day something happened: public reports
received and their repeats, cases closed).

Kept exact as of the last ``refresh`` (the time in ``RollupMark.upto``, shown on the page).
A day's counters change only when one of its cases changes — and every change to a case
records a step on its timeline (``CaseAction``, written by the cases actions in the same
transaction) — or when "now" passes the deadline of one of its open cases (the open-and-
overdue counters). So ``refresh`` recomputes whole (delete, one ``INSERT … SELECT``
aggregate) the days of the cases with a step since the last refresh and of the open cases
whose deadline fell since then. ``EventDayRollup``'s days are those of the touched cases'
reports and of the later reports (30 days) by the same phones or accounts (a repeat looks
back at them), and the days the touched cases were closed, now or before a reopening (the
steps into a closed state). The mark is read back ``MARGIN`` earlier than it was taken, so
a step written by a transaction that committed after the refresh started is still seen.
``refresh(full=True)`` rebuilds everything (also needed after a change of the working
calendar's settings: the handling hours are computed with it).

Only for a zone at a fixed UTC offset (Asia/Shanghai) on SQLite or PostgreSQL (the local day
is plain arithmetic, as in ``kpis._LocalClock``); ``available()`` says whether it applies.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    FilteredRelation,
    Max,
    Min,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Substr
from django.utils import timezone

from civicgrid.analytics import kpis
from civicgrid.analytics.models import (
    CaseDayRollup,
    DepartmentDayRollup,
    EventDayRollup,
    PlaceDayRollup,
    RollupMark,
)
from civicgrid.cases import workflow

__all__ = [
    "UNIT_COUNTERS",
    "UNIT_KPIS",
    "EVENT_COUNTERS",
    "PLACE_COUNTERS",
    "ROLLUP_COUNTERS",
    "ROLLUP_KPIS",
    "closures_by_day",
    "as_of",
    "available",
    "counters_by",
    "department_counters",
    "intake_by_day",
    "open_by",
    "open_numbers",
    "province_kpis",
    "province_kpis_direct",
    "refresh",
    "version",
    "village_counters",
]

NAME = "case_day"
MARGIN = timedelta(minutes=10)
_refreshed_here = 0  # refreshes made by this process (see ``as_of``)
_NOT_DUE = (workflow.REJECTED, workflow.MERGED, workflow.SUSPENDED)
# A case is open (closed_at empty) in exactly these states: every step into another state
# stamps closed_at (reject, merge, close, file) and reopening clears it.
_OPEN_DUE = sorted(workflow.OPEN_STATES - set(_NOT_DUE))
_CASE_COUNTERS = (  # ``_aggregate``'s
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
ROLLUP_COUNTERS = (
    *_CASE_COUNTERS,
    "hours",
    "timed",
    "dispatched",
    "signed_on_time",
    "returns",
    "verified",
    "verify_failed",
)
# Per department (``DepartmentDayRollup``) and per village (``PlaceDayRollup``): the case
# counters and the lead dispatches' (the league tables' KPIs: ``UNIT_KPIS``).
UNIT_COUNTERS = (*_CASE_COUNTERS, "dispatched", "signed_on_time", "returns")
# Per village also: the cases open now, overdue, urgent, supervised (the cockpit's numbers).
_OPEN_COUNTERS = ("open", "late", "urgent", "supervised")
PLACE_COUNTERS = (*UNIT_COUNTERS, *_OPEN_COUNTERS)
# Per local day the event happened (``EventDayRollup``): public reports, closures.
EVENT_COUNTERS = ("reports", "repeats", "closures")
# The KPIs whose counters the rollup (plus the live overdue count) gives.
_GIVEN = {*ROLLUP_COUNTERS, *EVENT_COUNTERS, "overdue", "overdue_open"}
ROLLUP_KPIS = tuple(
    code for code, k in kpis.KPIS.items() if k.source == "cases" and {k.num, k.den} <= _GIVEN
)
UNIT_KPIS = tuple(
    code
    for code in ROLLUP_KPIS
    if {kpis.KPIS[code].num, kpis.KPIS[code].den} <= {*UNIT_COUNTERS, "overdue"}
)
_LEVEL_LENGTH = {"county": 6, "town": 9}
# The states of ``cases.selectors.overdue_cases`` (as ``cockpit._LATE_STATES``).
_LATE_STATES = sorted(workflow.OPEN_STATES - {workflow.SUSPENDED, workflow.REPORTED})


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


_TOWN = ("town", 9)  # the key of a part's rows: (name, length of the region code)
_VILLAGE = ("village", 12)


def _aggregate(cases, offset: int, now: datetime, unit=_TOWN, **keys):
    """The case counters (``kpis._src_cases``') of ``cases`` per local day reported and
    township (or village: ``unit``) and ``keys``."""
    due = ~Q(state__in=_NOT_DUE)
    closed = due & Q(closed_at__isnull=False)
    accepted = Q(accepted_at__isnull=False)
    return (
        cases.values(
            day=kpis._LocalClock("created", offset, "day"),
            **{unit[0]: Substr("region_code", 1, unit[1])},
            **keys,
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


def _window(field: str, since: datetime | None, until: datetime | None) -> Q:
    """``since <= field < until`` (None: no bound)."""
    q = Q()
    if since is not None:
        q &= Q(**{f"{field}__gte": since})
    if until is not None:
        q &= Q(**{f"{field}__lt": until})
    return q


def _by_case_day(rows, offset: int, unit=_TOWN, **keys):
    """Rows hanging off a case, by the local day their case was reported and its township
    (or village: ``unit``)."""
    return rows.values(
        day=kpis._LocalClock("case__created", offset, "day"),
        **{unit[0]: Substr("case__region_code", 1, unit[1])},
        **keys,
    )


def _assignments(window: Q, offset: int, unit=_TOWN, **keys):
    """``kpis._src_assignments``' counters of the lead dispatches of the cases reported in
    ``window`` (a condition on ``case__created``), whenever made."""
    from civicgrid.cases.models import Assignment

    rows = Assignment.objects.filter(window, role=Assignment.Role.LEAD)
    return (
        _by_case_day(rows, offset, unit, **keys)
        .annotate(
            dispatched=Count("id"),
            signed_on_time=Count("id", filter=Q(signed_at__lte=F("sign_deadline"))),
            returns=Count("id", filter=~Q(return_reason="")),
        )
        .order_by()
    )


def _verifications(window: Q, offset: int):
    """``kpis._src_verifications``' counters of the verifications of the cases reported in
    ``window``, whenever made."""
    from civicgrid.cases.models import CaseAction

    rows = CaseAction.objects.filter(window, action__in=["verify_pass", "verify_fail"])
    return (
        _by_case_day(rows, offset)
        .annotate(verified=Count("id"), verify_failed=Count("id", filter=Q(action="verify_fail")))
        .order_by()
    )


def _hours(cases, offset: int) -> tuple[str, list, tuple] | None:
    """``SELECT day, town, hours, timed``: the working hours from acceptance to closure of the
    closed cases among ``cases`` (``kpis._src_hours``' cases), summed per local day reported
    and township, in the database. None if there is no such case.

    Per case as ``kpis._working_hours`` (the figure of ``WorkingCalendar.
    working_hours_between``), with A, B the local days accepted and closed, a, b the working
    seconds of those days before the two moments (``kpis._worked``), H a working day's,
    w(d) 1 for a working day, c(d) the working days before day d:
    A = B: w(A)·(b − a); else w(A)·(H − a) + w(B)·b + (B > A: H·(c(B) − c(A) − w(A))).
    w and c come from the working calendar as a table of the days spanned, written into the
    statement (``VALUES``): a change of the calendar's settings needs ``refresh(full=True)``.
    """
    from civicgrid.core.calendar import default_calendar

    calendar = default_calendar()
    day_a = kpis._LocalClock("accepted_at", offset, "day")
    day_b = kpis._LocalClock("closed_at", offset, "day")
    timed = cases.filter(~Q(state__in=_NOT_DUE), closed_at__isnull=False, accepted_at__isnull=False)
    span = timed.aggregate(a0=Min(day_a), a1=Max(day_a), b0=Min(day_b), b1=Max(day_b))
    if span["a0"] is None:
        return None
    first, last = min(span["a0"], span["b0"]), max(span["a1"], span["b1"])
    days, before = [], 0
    for number in range(first, last + 1):
        works = int(calendar.is_working_day(kpis._EPOCH + timedelta(days=number)))
        days.append(f"({int(number)}, {works}, {before})")
        before += works
    rows = timed.values(
        day=kpis._LocalClock("created", offset, "day"),
        town=Substr("region_code", 1, 9),
        da=day_a,
        db=day_b,
        wa=kpis._worked(kpis._LocalClock("accepted_at", offset, "second"), calendar),
        wb=kpis._worked(kpis._LocalClock("closed_at", offset, "second"), calendar),
    ).order_by()
    inner, params = rows.query.sql_with_params()
    h = float(calendar.hours_per_day) * 3600.0
    per_case = (
        "CASE WHEN r.db = r.da THEN ca.w * (r.wb - r.wa) "
        f"ELSE ca.w * ({h!r} - r.wa) + cb.w * r.wb "
        f"+ CASE WHEN r.db > r.da THEN {h!r} * (cb.c - ca.c - ca.w) ELSE 0 END END"
    )
    sql = (
        f"WITH cal (d, w, c) AS (VALUES {', '.join(days)}) "
        f"SELECT r.day AS day, r.town AS town, SUM({per_case}) / 3600.0 AS hours, "
        "COUNT(*) AS timed "
        f"FROM ({inner}) r JOIN cal ca ON ca.d = r.da JOIN cal cb ON cb.d = r.db "
        "GROUP BY r.day, r.town"
    )
    return sql, list(params), ("hours", "timed")


def _reports(window: Q, offset: int):
    """``kpis._src_reporters``' counters of the public reports received in ``window`` (a
    condition on ``created``), by the local day received and the case's township."""
    from civicgrid.cases.models import CaseReporter

    earlier = CaseReporter.objects.filter(
        channel__in=kpis.PUBLIC_CHANNELS,
        case__category_id=OuterRef("case__category_id"),
        created__lt=OuterRef("created"),
        created__gte=OuterRef("created") - timedelta(days=kpis.REPEAT_WINDOW_DAYS),
    )
    by_phone = earlier.filter(phone_hash=OuterRef("phone_hash")).exclude(phone_hash="")
    by_account = earlier.filter(user_id=OuterRef("user_id"))
    return (
        CaseReporter.objects.filter(window, channel__in=kpis.PUBLIC_CHANNELS)
        .annotate(by_phone=Exists(by_phone), by_account=Exists(by_account))
        .values(
            day=kpis._LocalClock("created", offset, "day"),
            town=Substr("case__region_code", 1, 9),
        )
        .annotate(
            reports=Count("id"),
            repeats=Count(
                "id",
                filter=(~Q(phone_hash="") & Q(by_phone=True))
                | (Q(user_id__isnull=False) & Q(by_account=True)),
            ),
        )
        .order_by()
    )


def _closures(window: Q, offset: int):
    """The cases closed now (in a closed state, as ``cockpit.trends`` counts them) whose
    ``closed_at`` is in ``window``, by the local day closed and township."""
    from civicgrid.cases.models import Case

    return (
        Case.objects.filter(window, state__in=workflow.CLOSED_STATES, closed_at__isnull=False)
        .values(day=kpis._LocalClock("closed_at", offset, "day"), town=Substr("region_code", 1, 9))
        .annotate(closures=Count("id"))
        .order_by()
    )


def _lead_department(cases):
    """``cases`` that have an active lead department, annotated with its code (``lead``), as
    ``kpis`` groups cases by department (a case has at most one active lead)."""
    active = FilteredRelation(
        "assignments", condition=Q(assignments__role="lead", assignments__active=True)
    )
    return cases.annotate(lead_row=active).filter(lead_row__department__isnull=False)


def _insert(model, counters: tuple, parts: list, keys=(("town", "town_code"),)) -> None:
    """One ``INSERT … SELECT`` of the parts summed per (day, township). A part is a query, or
    ``(sql, params, names)``, giving ``day``, ``town`` and some of ``counters`` (0 for the
    others in its rows; ``UNION ALL``, then ``SUM``): the rows never pass through Python."""
    q = connection.ops.quote_name
    aliases = [f"c{i}" for i in range(len(counters))]
    key_select = ", ".join(f"p.{q(alias)} AS {alias}" for alias, _column in keys)
    key_names = ", ".join(f"u.{alias}" for alias, _column in keys)
    selects, params = [], []
    for part in parts:
        if part is None:
            continue
        if isinstance(part, tuple):
            sql, part_params, names = part
        else:
            sql, part_params = part.query.sql_with_params()
            names = set(part.query.annotations)
        columns = ", ".join(
            f"{f'p.{q(c)}' if c in names else '0'} AS {a}"
            for c, a in zip(counters, aliases, strict=True)
        )
        selects.append(f"SELECT p.{q('day')} AS day, {key_select}, {columns} FROM ({sql}) p")
        params.extend(part_params)
    if not selects:
        return
    table = q(model._meta.db_table)
    columns = ", ".join(q(c) for c in ("day", *(c for _a, c in keys), *counters))
    sums = ", ".join(f"SUM(u.{a})" for a in aliases)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT u.day, {key_names}, {sums} "
            f"FROM ({' UNION ALL '.join(selects)}) u GROUP BY u.day, {key_names}",
            params,
        )


_DAY_TABLES = (CaseDayRollup, DepartmentDayRollup, PlaceDayRollup)  # by day reported


def _case_days(since: datetime | None, until: datetime | None, offset: int, now: datetime):
    """Insert the rows of ``_DAY_TABLES`` of the cases reported in ``[since, until)``.

    The cases are read once per grouping: by village (``PlaceDayRollup``; the townships'
    case and dispatch counters are then its rows summed), by department, and by township
    for the counters kept by township only (working hours, verifications)."""
    from civicgrid.cases.models import Case

    cases = Case.objects.filter(_window("created", since, until))
    by_case = _window("case__created", since, until)
    _insert(
        PlaceDayRollup,
        PLACE_COUNTERS,
        [
            _aggregate(cases, offset, now, _VILLAGE),
            _assignments(by_case, offset, _VILLAGE),
            # only the open cases: their rows alone are read (the rest from an index)
            _open(cases.filter(state__in=workflow.OPEN_STATES), offset, now),
        ],
        keys=(("village", "village_code"),),
    )
    villages = PlaceDayRollup.objects.filter(
        day__gte=_local_day(since, offset) if since else -(10**6),
        day__lt=_local_day(until, offset) if until else 10**6,
    )
    by_town = (
        villages.values("day", town=Substr("village_code", 1, 9))
        .annotate(**{name: Sum(name) for name in UNIT_COUNTERS})
        .order_by()
    )
    _insert(
        CaseDayRollup,
        ROLLUP_COUNTERS,
        [by_town, _hours(cases, offset), _verifications(by_case, offset)],
    )
    _insert(
        DepartmentDayRollup,
        UNIT_COUNTERS,
        [
            _aggregate(_lead_department(cases), offset, now, dept=F("lead_row__department__code")),
            _assignments(by_case, offset, dept=F("department__code")),
        ],
        keys=(("town", "town_code"), ("dept", "department_code")),
    )


def _open(cases, offset: int, now: datetime):
    """Per local day reported and village, the cases open now (``cockpit.today_numbers``'
    conditions, "overdue" as of ``now``)."""
    opened = Q(state__in=workflow.OPEN_STATES)
    return (
        cases.values(
            day=kpis._LocalClock("created", offset, "day"), village=Substr("region_code", 1, 12)
        )
        .annotate(
            open=Count("id", filter=opened),
            late=Count("id", filter=Q(state__in=_LATE_STATES, resolve_deadline__lt=now)),
            urgent=Count("id", filter=opened & Q(urgent=True)),
            supervised=Count("id", filter=opened & Q(supervised__gt=0)),
        )
        .order_by()
    )


def _event_days(since: datetime | None, until: datetime | None, offset: int):
    """Insert the ``EventDayRollup`` rows of the local days in ``[since, until)``."""
    _insert(
        EventDayRollup,
        EVENT_COUNTERS,
        [
            _reports(_window("created", since, until), offset),
            _closures(_window("closed_at", since, until), offset),
        ],
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


_MANY = 1000  # touched reporters' phones / accounts looked up by name; more: by time alone
_CLOSING_SLACK = timedelta(minutes=5)  # closed_at is stamped just before the step's time


def _local_day(moment: datetime, offset: int) -> int:
    return int((moment.timestamp() + offset) // 86400)


def _touched_event_days(touched, since: datetime, offset: int) -> set[int]:
    """The local days whose ``EventDayRollup`` row may have changed since ``since``.

    - the days the touched cases' reports were received (a new report, a report moved by a
      merge, a case reclassified or moved: its reports' repeat flags and township), and the
      days of the later reports (30 days) by the same phones or accounts, whose repeat flag
      looks back at them;
    - the days the touched cases were closed: now (``closed_at``) and before (each step
      into a closed state: reopening clears ``closed_at``, the step says when it was set).
    """
    from civicgrid.cases.models import Case, CaseAction, CaseReporter

    day = kpis._LocalClock("created", offset, "day")
    mine = CaseReporter.objects.filter(Q(case_id__in=touched) | Q(created__gte=since))
    days = set(mine.values_list(day, flat=True).distinct().order_by())
    reporters = list(mine.values_list("phone_hash", "user_id", "created").order_by())
    if reporters:
        phones = {p for p, _u, _c in reporters if p}
        users = {u for _p, u, _c in reporters if u is not None}
        times = [c for _p, _u, c in reporters]
        later = CaseReporter.objects.filter(
            created__gt=min(times),
            created__lte=max(times) + timedelta(days=kpis.REPEAT_WINDOW_DAYS),
        )
        if len(phones) + len(users) <= _MANY:
            later = later.filter(Q(phone_hash__in=phones) | Q(user_id__in=users))
        days.update(later.values_list(day, flat=True).distinct().order_by())
    closed = Case.objects.filter(pk__in=touched, closed_at__isnull=False)
    days.update(
        closed.values_list(kpis._LocalClock("closed_at", offset, "day"), flat=True)
        .distinct()
        .order_by()
    )
    steps = CaseAction.objects.filter(case_id__in=touched, to_state__in=workflow.CLOSED_STATES)
    for moment in steps.values_list("created", flat=True).order_by():
        days.update({_local_day(moment, offset), _local_day(moment - _CLOSING_SLACK, offset)})
    return days


def refresh(*, full: bool = False) -> dict[str, int]:
    """Bring the rollup up to date: the days whose cases changed since the last refresh (all
    days the first time, or with ``full``). Safe to run concurrently (the mark row is locked).
    Returns ``{"days": recomputed days (-1: all), "rows": rollup rows now}`` (days and rows
    of ``CaseDayRollup``; the other tables are refreshed with it), and ``"updated"``: the
    other days whose overdue counters a deadline passing changed."""
    from civicgrid.cases.models import Case, CaseAction

    offset = _offset()
    if offset is None or not available():
        return {"days": 0, "rows": 0}
    with transaction.atomic():
        mark, _created = RollupMark.objects.select_for_update().get_or_create(name=NAME)
        started = timezone.now()
        if full or mark.upto is None:
            for model in (*_DAY_TABLES, EventDayRollup):
                model.objects.all().delete()
            _case_days(None, None, offset, started)
            _event_days(None, None, offset)
            if connection.vendor == "postgresql":  # the planner's figures of the new rows
                with connection.cursor() as cursor:
                    tables = (*_DAY_TABLES, EventDayRollup)
                    cursor.execute("ANALYZE " + ", ".join(m._meta.db_table for m in tables))
            recomputed = -1
        else:
            since = mark.upto - MARGIN
            touched = CaseAction.objects.filter(created__gte=since).values("case_id")
            day = kpis._LocalClock("created", offset, "day")
            days = set()
            # (two queries: with an OR of the two, PostgreSQL reads the whole table)
            for changed in (
                Case.objects.filter(pk__in=touched),
                Case.objects.filter(created__gte=since),
            ):
                days.update(changed.values_list(day, flat=True).distinct().order_by())
            days = sorted(days)
            for first, last in _runs(days):
                for model in _DAY_TABLES:
                    model.objects.filter(day__gte=first, day__lte=last).delete()
                _case_days(_start_of(first, offset), _start_of(last + 1, offset), offset, started)
            # The open cases whose deadline fell since the last refresh, on the other days:
            # only their overdue counters change (every row is as of the last refresh).
            fell_due = Case.objects.annotate(day=day).filter(
                ~Q(day__in=days),
                state__in=_OPEN_DUE,
                closed_at__isnull=True,
                resolve_deadline__gte=mark.upto,
                resolve_deadline__lt=started,
            )
            updated = _fell_due(fell_due)
            for first, last in _runs(sorted(_touched_event_days(touched, since, offset))):
                EventDayRollup.objects.filter(day__gte=first, day__lte=last).delete()
                _event_days(_start_of(first, offset), _start_of(last + 1, offset), offset)
            recomputed = len(days)
        mark.upto = started
        mark.save(update_fields=["upto"])
    global _refreshed_here
    _refreshed_here += 1
    result = {"days": recomputed, "rows": CaseDayRollup.objects.count()}
    if recomputed >= 0:
        result["updated"] = updated
    return result


def _fell_due(cases) -> int:
    """Add ``cases`` (open, their deadline passed since the last refresh, their day not
    recomputed) to the overdue counters of their rows (``overdue_open``; ``late`` if in
    ``_LATE_STATES``): one ``UPDATE … FROM`` per table. Returns the days updated."""
    days = sorted(cases.values_list("day", flat=True).distinct().order_by())
    if not days:
        return 0
    late = Count("id", filter=Q(state__in=_LATE_STATES))
    deltas = (
        (CaseDayRollup, cases.values("day", town=Substr("region_code", 1, 9)), {}),
        (
            PlaceDayRollup,
            cases.values("day", village=Substr("region_code", 1, 12)),
            {"late": late},
        ),
        (
            DepartmentDayRollup,
            _lead_department(cases).values(
                "day",
                town=Substr("region_code", 1, 9),
                dept=F("lead_row__department__code"),
            ),
            {},
        ),
    )
    keys = {"town": "town_code", "village": "village_code", "dept": "department_code"}
    q = connection.ops.quote_name
    for model, rows, more in deltas:
        rows = rows.annotate(overdue_open=Count("id"), **more).order_by()
        sql, params = rows.query.sql_with_params()
        table = q(model._meta.db_table)
        sets = ", ".join(f"{q(c)} = {table}.{q(c)} + d.{q(c)}" for c in ("overdue_open", *more))
        match = " AND ".join(
            f"{table}.{q(column)} = d.{q(alias)}"
            for alias, column in (("day", "day"), *keys.items())
            if alias in rows.query.values_select or alias in rows.query.annotations
        )
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {sets} FROM ({sql}) d WHERE {match}", params)
    return len(days)


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


def _sums(model, counters, start: date, end: date, region_code: str, key):
    rows = model.objects.filter(day__gte=_day_number(start), day__lte=_day_number(end))
    if region_code:
        rows = rows.filter(town_code__startswith=region_code)
    return rows.values(key=key).annotate(**{name: Sum(name) for name in counters}).order_by()


def counters_by(
    group: str | None, start: date, end: date, *, region_code: str = "", events: bool = True
) -> dict[str, dict[str, int]]:
    """The summed ``ROLLUP_COUNTERS`` (and ``overdue`` = closed late + open and overdue) of
    the cases reported on the local days ``start`` … ``end`` (inclusive) under
    ``region_code``, and the ``EVENT_COUNTERS`` of those days (``events``), per county or
    township (``group`` "county" / "town") or in all (``group`` None: key ""), as
    ``kpis.counters_by`` gives them: one query, two with ``events``."""
    if len(region_code) > 9:
        raise ValueError("the rollup goes down to townships")
    key = Substr("town_code", 1, _LEVEL_LENGTH[group]) if group else Value("", CharField())
    figures: dict[str, dict] = {}
    for row in _sums(CaseDayRollup, ROLLUP_COUNTERS, start, end, region_code, key):
        if row["intake"] is None:  # no rows at all (an aggregate without groups)
            continue
        row["overdue"] = row["closed_late"] + row["overdue_open"]
        figures[row.pop("key")] = row
    if events:
        for row in _sums(EventDayRollup, EVENT_COUNTERS, start, end, region_code, key):
            if row["reports"] is None:
                continue
            name = row.pop("key")
            figures.setdefault(name, {}).update(row)
    return figures


def _unit_figures(rows) -> dict[str, dict]:
    figures: dict[str, dict] = {}
    for row in rows:
        row["overdue"] = row["closed_late"] + row["overdue_open"]
        figures[row.pop("key")] = row
    return figures


def department_counters(start: date, end: date, *, region_code: str = "") -> dict[str, dict]:
    """``kpis.counters_by("department", …)`` for the ``UNIT_COUNTERS``: per department code
    (the cases' active lead; the lead dispatches' department), for the cases reported on the
    local days ``start`` … ``end`` under ``region_code``: one query."""
    key = F("department_code")
    return _unit_figures(_sums(DepartmentDayRollup, UNIT_COUNTERS, start, end, region_code, key))


def village_counters(start: date, end: date, *, region_code: str) -> dict[str, dict]:
    """``kpis.counters_by("village", …)`` for the ``UNIT_COUNTERS``: per village code, for
    the cases reported on the local days ``start`` … ``end`` under ``region_code``: one
    query."""
    rows = PlaceDayRollup.objects.filter(
        day__gte=_day_number(start),
        day__lte=_day_number(end),
        village_code__startswith=region_code,
    )
    sums = {name: Sum(name) for name in UNIT_COUNTERS}
    return _unit_figures(rows.values(key=F("village_code")).annotate(**sums).order_by())


def open_numbers(region_code: str, today: date) -> dict[str, int]:
    """Under ``region_code``: the cases open now (``open``), overdue, urgent and supervised
    among them, and those reported ``today`` and the day before — as of the last refresh
    (``cockpit.today_numbers``' figures but closed today): one query."""
    today_number = _day_number(today)
    rows = PlaceDayRollup.objects.filter(village_code__startswith=region_code)
    found = rows.aggregate(
        open=Sum("open"),
        overdue=Sum("late"),
        urgent=Sum("urgent"),
        supervised=Sum("supervised"),
        intake_today=Sum("intake", filter=Q(day=today_number)),
        intake_yesterday=Sum("intake", filter=Q(day=today_number - 1)),
    )
    return {key: value or 0 for key, value in found.items()}


def open_by(region_code: str, length: int, after: date) -> dict[str, dict[str, int]]:
    """Per code prefix of ``length`` (9: township, 12: village) under ``region_code``: the
    cases open now, overdue (``open``, ``overdue``) and those reported on the local days
    after ``after`` (``intake``), as of the last refresh: one query."""
    rows = (
        PlaceDayRollup.objects.filter(village_code__startswith=region_code)
        .values(unit=Substr("village_code", 1, length))
        .annotate(
            open=Sum("open"),
            overdue=Sum("late"),
            intake=Sum("intake", filter=Q(day__gt=_day_number(after))),
        )
        .order_by()
    )
    return {row.pop("unit"): {k: v or 0 for k, v in row.items()} for row in rows}


def _daily(model, counter: str, start: date, end: date, region_code: str) -> dict[date, int]:
    rows = model.objects.filter(
        day__gte=_day_number(start), day__lte=_day_number(end), town_code__startswith=region_code
    )
    return {
        kpis._EPOCH + timedelta(days=day): n
        for day, n in rows.values_list("day").annotate(n=Sum(counter)).order_by()
    }


def intake_by_day(start: date, end: date, region_code: str) -> dict[date, int]:
    """The cases reported on each local day ``start`` … ``end`` under ``region_code`` (a
    county or township), as of the last refresh: one query."""
    return _daily(CaseDayRollup, "intake", start, end, region_code)


def closures_by_day(start: date, end: date, region_code: str) -> dict[date, int]:
    """The cases closed on each local day ``start`` … ``end`` under ``region_code`` and in a
    closed state (``cockpit.trends``), as of the last refresh: one query."""
    return _daily(EventDayRollup, "closures", start, end, region_code)


def province_kpis(
    start: date, end: date, *, region_code: str = "", level: str = "county"
) -> list[dict]:
    """The case KPIs (``ROLLUP_KPIS``) per county (or ``level="town"``) of the places under
    ``region_code`` ("" = all), for the cases reported on the local days ``start`` … ``end``
    (inclusive), from the rollup as of its last ``refresh``: rows ``{"key", "name", <code>:
    KpiValue}`` sorted by key, as ``kpis.compute_by`` gives them. Three queries."""
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
