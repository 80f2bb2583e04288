"""The leaders' cockpit (驾驶舱, D7): what one screen shows about one place, within one's scope.

A place is the county, a township, a village or a grid (a 6-, 9-, 12- or 15-digit code); the
screen is the same at every level and drills down to the level below, ending at the list of
cases. Everything here is an aggregate query (``values().annotate()`` / ``aggregate()``) with a
fixed number of queries per screen, whatever the number of cases; the KPIs and league tables
come from ``analytics.kpis``. Selectors return codes and numbers; the view labels them.

Who: ``analytics.view`` over the place (``core.scoping.can``). A township's leader starts at
the township and gets a 404 for the county or another township, as for any other object.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from hashlib import sha256

from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet
from django.db.models.functions import Substr, TruncDate
from django.http import Http404
from django.utils import timezone

from civicgrid.cases import workflow
from civicgrid.cases.models import Case
from civicgrid.core.scoping import can, scope_for

__all__ = [
    "CASE_POINTS_LIMIT",
    "CHILD_GROUP",
    "LEVEL_LENGTH",
    "MEASURES",
    "NUMBERS",
    "Place",
    "access_place",
    "case_points",
    "children",
    "home_code",
    "kpi_label",
    "kpi_panel",
    "leagues",
    "map_units",
    "month_bounds",
    "newest_open_cases",
    "per_tick",
    "signals",
    "tick_mark",
    "today_numbers",
    "trends",
]

PERMISSION = "analytics.view"
LEVEL_LENGTH = {"county": 6, "town": 9, "village": 12, "grid": 15}
LEVEL_OF_LENGTH = {n: level for level, n in LEVEL_LENGTH.items()}
CHILD_GROUP = {"county": "town", "town": "village", "village": "grid"}  # kpis.compute_by groups
NUMBERS = (
    "intake_today",
    "intake_yesterday",
    "open",
    "overdue",
    "closed_today",
    "urgent",
    "supervised",
)
MEASURES = ("open", "overdue", "intake30")  # what the map can colour by
TREND_DAYS = 30
# The states of ``cases.selectors.overdue_cases`` (a test holds the two together).
_LATE_STATES = sorted(workflow.OPEN_STATES - {workflow.SUSPENDED, workflow.REPORTED})
CASE_POINTS_LIMIT = 1000  # the open-cases layer: the newest this many with coordinates
LEAGUE_KPIS = (  # the league tables' columns, if kpis defines them (else its first five)
    "closed_rate",
    "on_time_rate",
    "overdue_rate",
    "sign_on_time_rate",
    "satisfaction_rate",
)


_LOOK_UP = object()  # "look the summary's mark up" (``_rollup``)


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    level: str  # county / town / village / grid
    trail: list = field(default_factory=list)  # [(code, name)] from the county down, self last

    @property
    def child_level(self) -> str | None:
        return CHILD_GROUP.get(self.level)


# --------------------------------------------------------------------------- where


def home_code(user) -> str:
    """Where a person's cockpit starts: the place all their ``analytics.view`` grants share."""
    scope = scope_for(user)
    prefixes = sorted(set(scope.prefixes(PERMISSION)))
    if scope.superuser or "" in prefixes or not prefixes:
        from civicgrid.regions.models import Region

        county = (
            Region.objects.filter(level=Region.Level.COUNTY)
            .order_by("code")
            .values_list("code", flat=True)
            .first()
        )
        return county or ""
    shortest = min(prefixes, key=len)
    if all(p.startswith(shortest) for p in prefixes):
        return shortest
    return prefixes[0]  # places with nothing in common: the first; the others by the trail


def access_place(user, code: str = "") -> Place:
    """The place ``code`` (or the person's home) if the person may see its cockpit.

    No ``analytics.view`` at all: PermissionDenied (403). A malformed code, an unknown place
    or one outside the person's places: Http404 (no existence leak).
    """
    if not scope_for(user).has(PERMISSION):
        raise PermissionDenied
    code = (code or "").strip() or home_code(user)
    if not code.isascii() or not code.isdigit() or len(code) not in LEVEL_OF_LENGTH:
        raise Http404
    if not can(user, PERMISSION, region_code=code):
        raise Http404
    from civicgrid.regions.models import Grid, Region

    codes = [code[:n] for n in (6, 9, 12, 15) if n <= len(code)]
    names = dict(Region.objects.filter(code__in=codes).values_list("code", "name"))
    if len(code) == LEVEL_LENGTH["grid"]:
        names.update(Grid.objects.filter(code=code).values_list("code", "name"))
    if code not in names:
        raise Http404
    trail = [(c, names.get(c, c)) for c in codes]
    return Place(code=code, name=names[code], level=LEVEL_OF_LENGTH[len(code)], trail=trail)


def _cases(place: Place) -> QuerySet[Case]:
    return Case.objects.filter(region_code__startswith=place.code)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def month_bounds(today: date) -> tuple[datetime, datetime, datetime]:
    """Start of last month, start of this month, start of next month (local time)."""
    this = today.replace(day=1)
    last = (this - timedelta(days=1)).replace(day=1)
    following = (this + timedelta(days=32)).replace(day=1)
    return _day_start(last), _day_start(this), _day_start(following)


# --------------------------------------------------------------------------- numbers


def _late(now: datetime) -> Q:
    """``cases.selectors.overdue_cases`` as a condition on the rows themselves: the database
    reads it from the open-cases index instead of testing ``id IN (every overdue case)``."""
    return Q(state__in=_LATE_STATES, resolve_deadline__lt=now)


def today_numbers(place: Place, now: datetime | None = None, *, mark=_LOOK_UP) -> dict[str, int]:
    """Intake today and yesterday, open, overdue, closed today, urgent and supervised (open).

    Three aggregates, each over the rows it needs: the open cases (their own index), the
    cases reported since yesterday, the cases closed today — never the place's whole history.
    Overdue is the case list's "overdue" queue (``overdue_cases``). For a county or township
    with a daily summary (``mark`` as for ``kpi_panel``): from the summary as of its last
    refresh, two queries.
    """
    now = now or timezone.now()
    summary = _rollup(place, None, mark)
    if summary is not None:
        day = timezone.localtime(now).date()
        numbers = summary.open_numbers(place.code, day)
        numbers["closed_today"] = summary.closures_by_day(day, day, place.code).get(day, 0)
        return {key: numbers[key] for key in NUMBERS}
    today = _day_start(timezone.localtime(now).date())
    yesterday = today - timedelta(days=1)
    numbers = (
        _cases(place)
        .filter(state__in=workflow.OPEN_STATES)
        .aggregate(
            open=Count("id"),
            overdue=Count("id", filter=_late(now)),
            urgent=Count("id", filter=Q(urgent=True)),
            supervised=Count("id", filter=Q(supervised__gt=0)),
        )
    )
    numbers.update(
        _cases(place)
        .filter(created__gte=yesterday)
        .aggregate(
            intake_today=Count("id", filter=Q(created__gte=today)),
            intake_yesterday=Count("id", filter=Q(created__lt=today)),
        )
    )
    numbers["closed_today"] = (
        _cases(place).filter(closed_at__gte=today, state__in=workflow.CLOSED_STATES).count()
    )
    return {key: numbers[key] for key in NUMBERS}


def trends(
    place: Place, now: datetime | None = None, days: int = TREND_DAYS, *, mark=_LOOK_UP
) -> dict:
    """Daily intake and closures of the last ``days`` days (today included): two queries.

    For a county or township with a daily summary (``analytics.rollup``, ``mark`` as for
    ``kpi_panel``), from the summary as of its last refresh (the cases reported, and the
    cases closed, per local day); else from the cases."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    first = today - timedelta(days=days - 1)
    dates = [first + timedelta(days=i) for i in range(days)]
    summary = _rollup(place, None, mark)
    if summary is not None:
        intake = summary.intake_by_day(first, today, place.code)
        closed = summary.closures_by_day(first, today, place.code)
        return {
            "days": [d.isoformat() for d in dates],
            "intake": [intake.get(d, 0) for d in dates],
            "closed": [closed.get(d, 0) for d in dates],
        }
    since = _day_start(first)
    zone = timezone.get_current_timezone()
    intake = dict(
        _cases(place)
        .filter(created__gte=since)
        .annotate(day=TruncDate("created", tzinfo=zone))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    closed = dict(
        _cases(place)
        .filter(state__in=workflow.CLOSED_STATES, closed_at__gte=since)
        .annotate(day=TruncDate("closed_at", tzinfo=zone))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    # SQLite returns the day as a string, PostgreSQL as a date.
    intake = {str(k): v for k, v in intake.items()}
    closed = {str(k): v for k, v in closed.items()}
    return {
        "days": [d.isoformat() for d in dates],
        "intake": [intake.get(d.isoformat(), 0) for d in dates],
        "closed": [closed.get(d.isoformat(), 0) for d in dates],
    }


def _counts_by(cases: QuerySet[Case], length: int, now: datetime) -> dict[str, dict]:
    """Open, overdue and 30-day intake per code prefix of ``length``: two queries (the open
    cases from their index, the last 30 days' from the creation date's)."""
    since = now - timedelta(days=30)
    unit = Substr("region_code", 1, length)
    counts: dict[str, dict] = {}
    empty = {"open": 0, "overdue": 0, "intake30": 0}
    open_rows = (
        cases.filter(state__in=workflow.OPEN_STATES)
        .values(unit=unit)
        .annotate(open=Count("id"), overdue=Count("id", filter=_late(now)))
        .order_by()
    )
    for row in open_rows:
        counts[row["unit"]] = {**empty, **row}
    recent = cases.filter(created__gte=since).values(unit=unit).annotate(intake30=Count("id"))
    for row in recent.order_by():
        counts.setdefault(row["unit"], {**empty, "unit": row["unit"]})["intake30"] = row["intake30"]
    return counts


def _units(place: Place, level: str):
    """The regions (or grids) of ``level`` inside ``place``: a queryset of code, name, geometry."""
    from civicgrid.regions.models import Grid, Region

    if level == "grid":
        return (
            Grid.objects.filter(code__startswith=place.code, active=True)
            .exclude(kind=Grid.Kind.MICRO)
            .order_by("code")
        )
    return Region.objects.filter(level=level, code__startswith=place.code).order_by("code")


def _counts_from_summary(summary, place: Place, length: int, now: datetime) -> dict[str, dict]:
    """``_counts_by`` from the daily summary (open and overdue as of its last refresh): the
    30 days' intake is the summary's whole days after the one 30 days ago, plus that day's
    cases reported from the instant 30 days ago (from the cases: one day's). Two queries."""
    since = now - timedelta(days=30)
    first = timezone.localtime(since).date()
    counts = {
        unit: {
            "unit": unit,
            "open": row["open"],
            "overdue": row["overdue"],
            "intake30": row["intake"],
        }
        for unit, row in summary.open_by(place.code, length, first).items()
    }
    empty = {"open": 0, "overdue": 0, "intake30": 0}
    edge = (
        _cases(place)
        .filter(created__gte=since, created__lt=_day_start(first + timedelta(days=1)))
        .values(unit=Substr("region_code", 1, length))
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in edge:
        counts.setdefault(row["unit"], {**empty, "unit": row["unit"]})["intake30"] += row["n"]
    return counts


def children(place: Place, now: datetime | None = None, *, mark=_LOOK_UP) -> list[dict]:
    """The places one level down with their open, overdue and 30-day intake: two queries
    (for a county or township with a daily summary, ``mark`` as for ``kpi_panel``: open and
    overdue as of the summary's last refresh)."""
    if place.child_level is None:
        return []
    now = now or timezone.now()
    summary = _rollup(place, None, mark)
    length = LEVEL_LENGTH[place.child_level]
    if summary is not None:
        counts = _counts_from_summary(summary, place, length, now)
    else:
        counts = _counts_by(_cases(place), length, now)
    empty = {"open": 0, "overdue": 0, "intake30": 0}
    return [
        {"code": code, "name": name, **{k: counts.get(code, empty)[k] for k in empty}}
        for code, name in _units(place, place.child_level).values_list("code", "name")
    ]


def newest_open_cases(place: Place, limit: int = 15) -> list[dict]:
    """At a grid: its newest open cases (code, state, category, reported, urgent): one query."""
    return list(
        _cases(place)
        .filter(state__in=workflow.OPEN_STATES)
        .order_by("-created", "-id")
        .values("code", "state", "category__name", "created", "urgent")[:limit]
    )


# --------------------------------------------------------------------------- the map


def map_units(place: Place, level: str, now: datetime | None = None) -> list[dict]:
    """The units of ``level`` (town / village / grid, below or at ``place``) with their
    boundary and counts, for the choropleth: two queries."""
    if LEVEL_LENGTH[level] < len(place.code):
        raise ValueError(level)
    now = now or timezone.now()
    counts = _counts_by(_cases(place), LEVEL_LENGTH[level], now)
    empty = {"open": 0, "overdue": 0, "intake30": 0}
    return [
        {
            "code": code,
            "name": name,
            "geometry": geometry,
            **{k: counts.get(code, empty)[k] for k in empty},
        }
        for code, name, geometry in _units(place, level)
        .filter(geometry__isnull=False)
        .values_list("code", "name", "geometry")
    ]


def case_points(user, place: Place, limit: int = CASE_POINTS_LIMIT) -> list[list]:
    """The newest open cases with coordinates: [lat, lng, code, urgent, overdue]: one query.

    Only for a person who may see the cases there (``cases.view``): the cockpit's aggregates
    need ``analytics.view`` only, single cases need more."""
    if not can(user, "cases.view", region_code=place.code):
        return []
    now = timezone.now()
    rows = (
        _cases(place)
        .filter(state__in=workflow.OPEN_STATES, lat__isnull=False, lng__isnull=False)
        .annotate(late=ExpressionWrapper(_late(now), output_field=BooleanField()))
        .order_by("-created", "-id")
        .values_list("lat", "lng", "code", "urgent", "late")[:limit]
    )
    return [[lat, lng, code, urgent, bool(late)] for lat, lng, code, urgent, late in rows]


def signals(user, place: Place) -> dict | None:
    """The early-warning signals (``warning.selectors.signals_geojson``) if that app has them."""
    try:
        from civicgrid.warning.selectors import signals_geojson
    except ImportError:
        return None
    if not scope_for(user).has("warning.view"):
        return None
    return signals_geojson(user, region_code=place.code)


# --------------------------------------------------------------------------- as of the last tick

TICK_CACHE_SECONDS = 15 * 60  # an entry outlives its tick only if no tick comes


def tick_mark() -> str | None:
    """The state of the daily summary (``analytics.rollup.version``: it changes with every
    ``tick``), or None if there is none (never refreshed, or no rollup here): one query."""
    try:
        from civicgrid.analytics import rollup
    except ImportError:
        return None
    if not rollup.available():
        return None
    return rollup.version()


def per_tick(mark: str | None, key: tuple, compute):
    """``compute()``, kept until the next ``tick`` (``mark`` from ``tick_mark``): the cockpit's
    aggregates are then as of the first request after the last tick — at most a tick (a
    minute) old, as the summary they read — instead of some seconds of aggregate queries at
    every request at 5 M cases (issue 11). Without a mark (no summary kept, e.g. no tick
    running) every call computes. ``key`` names what is computed, for whom and in which
    language; the cache is Django's default one."""
    if mark is None:
        return compute()
    from django.core.cache import cache

    name = "cockpit:" + sha256(repr((mark, key)).encode()).hexdigest()
    found = cache.get(name)
    if found is None:
        found = compute()
        cache.set(name, found, TICK_CACHE_SECONDS)
    return found


# --------------------------------------------------------------------------- KPIs and leagues


def _kpis():
    try:
        from civicgrid.analytics import kpis
    except ImportError:
        return None
    return kpis


def _attr(definition, name, default=None):
    if isinstance(definition, dict):
        return definition.get(name, default)
    return getattr(definition, name, default)


def kpi_label(code: str, definition) -> str:
    """A KPI's name in the active language (``Kpi.label``), else its name, else its code."""
    return str(_attr(definition, "label", None) or _attr(definition, "name", None) or code)


def _higher_is_better(definition) -> bool:
    direction = _attr(definition, "direction", "up")
    if isinstance(direction, (int, float)):
        return direction >= 0
    return str(direction).lower() not in {"down", "lower", "low", "-", "min", "less"}


def _number(kpi_value):
    value = _attr(kpi_value, "value") if kpi_value is not None else None
    return None if value is None else round(float(value), 2)


def _sees_all_cases(user, place: Place) -> bool:
    """Does ``user`` see every case of ``place`` (``cases.view`` over it or above, held for
    the place, not through a department)? Then "the cases this person may see" is simply the
    place's cases, and the KPIs need not test each against the visible ones."""
    scope = scope_for(user)
    return scope.superuser or any(
        "cases.view" in g.permissions
        and g.department_id is None
        and place.code.startswith(g.prefix)
        for g in scope.grants
    )


def _case_source(code: str) -> bool:
    """Is the KPI computed from the cases (and rows hanging off them), by ``cases.view``?"""
    return getattr(_kpis().KPIS[code], "source", "") == "cases"


def _rollup(place: Place, case_user, mark=_LOOK_UP):
    """The daily case summary (``analytics.rollup``, brought up to date by every ``tick``)
    if it can answer for this place and person: a county or township, a person who sees
    all its cases, and a summary refreshed at least once (``mark``: ``tick_mark()`` if the
    caller has it, else looked up). Else None (computed directly)."""
    if case_user is not None or place.level not in {"county", "town"}:
        return None
    try:
        from civicgrid.analytics import rollup
    except ImportError:
        return None
    if mark is _LOOK_UP:
        mark = tick_mark()
    return None if mark is None else rollup


def _local_days(since: datetime, until: datetime) -> tuple[date, date]:
    """The local days of ``[since, until)`` (``until`` excluded at midnight)."""
    last = timezone.localtime(until - timedelta(microseconds=1)).date()
    return timezone.localtime(since).date(), last


def _values(kpis, codes, since, until, place: Place, user, summary) -> dict:
    """``kpis.compute`` for ``codes`` over ``[since, until)`` at ``place`` as ``user`` sees it.

    The case KPIs are computed over the place's cases without the per-case visibility test
    when the person sees all of them (the same figures), and read from the daily summary
    where it has them (``summary``: exact as of its last refresh, a minute at most with
    ``tick``); the other KPIs (visits, campaigns, disputes) are computed as the person sees
    them. One query per source, as ``compute``.
    """
    case_user = None if _sees_all_cases(user, place) else user
    from_summary = [c for c in codes if summary is not None and c in summary.ROLLUP_KPIS]
    direct_cases = [c for c in codes if _case_source(c) and c not in from_summary]
    others = [c for c in codes if not _case_source(c)]
    values = {}
    if from_summary:
        first, last = _local_days(since, until)
        figures = summary.counters_by(None, first, last, region_code=place.code).get("", {})
        values.update({code: kpis.value_from(code, figures) for code in from_summary})
    for chosen, who in ((direct_cases, case_user), (others, user)):
        if chosen:
            values.update(
                kpis.compute(since, until, region_code=place.code, codes=chosen, user=who)
            )
    return values


def kpi_panel(user, place: Place, now: datetime | None = None, *, mark=_LOOK_UP) -> list[dict]:
    """Every KPI this month so far against its target, with last month's value.

    Rows: code, name, unit, value, last, target, met (True / False / None: no target or no
    value), trend ("up" / "down" / "flat" / ""), better (higher is better?). Empty if the KPI
    module is not installed. The case KPIs of a county or township come from the daily
    summary (``analytics.rollup``) when the person sees all the place's cases (``_values``);
    ``mark``: ``tick_mark()`` if the caller has it (saves a query).
    """
    kpis = _kpis()
    if kpis is None:
        return []
    now = now or timezone.now()
    last_start, this_start, _next = month_bounds(timezone.localtime(now).date())
    codes = list(kpis.KPIS)
    summary = _rollup(place, None if _sees_all_cases(user, place) else user, mark)
    current = _values(kpis, codes, this_start, now, place, user, summary)
    previous = _values(kpis, codes, last_start, this_start, place, user, summary)
    goals = kpis.targets(region_code=place.code, year=timezone.localtime(now).year)
    rows = []
    for code, definition in kpis.KPIS.items():
        value, last = _number(current.get(code)), _number(previous.get(code))
        target = goals.get(code)
        better = _higher_is_better(definition)
        met = None
        if value is not None and target is not None:
            met = value >= target if better else value <= target
        trend = ""
        if value is not None and last is not None:
            trend = "up" if value > last else "down" if value < last else "flat"
        rows.append(
            {
                "code": code,
                "name": kpi_label(code, definition),
                "unit": str(_attr(definition, "unit", "") or ""),
                "value": value,
                "last": last,
                "target": target,
                "met": met,
                "trend": trend,
                "better": better,
            }
        )
    return rows


def league_codes() -> list[str]:
    kpis = _kpis()
    if kpis is None:
        return []
    known = list(kpis.KPIS)
    chosen = [c for c in LEAGUE_KPIS if c in kpis.KPIS]
    return chosen or known[:5]


def leagues(
    user, place: Place, now: datetime | None = None, *, mark=_LOOK_UP
) -> dict[str, list[dict]]:
    """This month's league tables: the places one level down and the departments.

    Each row: key, name, and a number per ``league_codes()`` code. Empty if no KPI module.
    """
    kpis = _kpis()
    if kpis is None:
        return {"places": [], "departments": []}
    now = now or timezone.now()
    _last, this_start, _next = month_bounds(timezone.localtime(now).date())
    codes = league_codes()

    better = _higher_is_better(kpis.KPIS[codes[0]]) if codes else True

    # The league columns are case KPIs: over the place's cases when the person sees them all.
    all_cases = all(_case_source(c) for c in codes) and _sees_all_cases(user, place)
    case_user = None if all_cases else user
    summary = _rollup(place, case_user, mark)

    def computed(group):
        """``kpis.compute_by(group, …)`` rows; the case KPIs by township, village or
        department from the summary."""
        if summary is None or group not in {"county", "town", "village", "department"}:
            return kpis.compute_by(
                group, this_start, now, region_code=place.code, codes=codes, user=case_user
            )
        first, last = _local_days(this_start, now)
        if group in {"village", "department"}:
            from_summary = [c for c in codes if c in summary.UNIT_KPIS]
            read = summary.village_counters if group == "village" else summary.department_counters
            figures = read(first, last, region_code=place.code)
        else:
            from_summary = [c for c in codes if c in summary.ROLLUP_KPIS]
            needs_events = any(
                {kpis.KPIS[c].num, kpis.KPIS[c].den} & set(summary.EVENT_COUNTERS)
                for c in from_summary
            )
            figures = summary.counters_by(
                group, first, last, region_code=place.code, events=needs_events
            )
        rest = [c for c in codes if c not in from_summary]
        direct = {
            row["key"]: row
            for row in (
                kpis.compute_by(
                    group, this_start, now, region_code=place.code, codes=rest, user=case_user
                )
                if rest
                else []
            )
        }
        names = kpis.group_names(group, set(figures) | set(direct))
        rows = []
        for key in sorted(set(figures) | set(direct)):
            row = {"key": key, "name": names.get(key, key or "—")}
            row.update({c: kpis.value_from(c, figures.get(key, {})) for c in from_summary})
            row.update({c: direct[key][c] for c in rest if key in direct})
            row.update({c: kpis.value_from(c, {}) for c in rest if key not in direct})
            rows.append(row)
        return rows

    def table(group):
        rows = [
            {
                "key": row["key"],
                "name": str(row.get("name") or row["key"]),
                **{c: _number(row.get(c)) for c in codes},
            }
            for row in computed(group)
        ]
        # Ranked by the first KPI, best first; places without a value last.
        first = codes[0] if codes else None
        return sorted(
            rows,
            key=lambda r: (
                r.get(first) is None,
                -(r.get(first) or 0) if better else (r.get(first) or 0),
                r["key"],
            ),
        )

    return {
        "places": table(place.child_level) if place.child_level else [],
        "departments": table("department"),
    }
