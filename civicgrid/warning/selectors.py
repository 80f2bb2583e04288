"""Every read of the early-warning app, scoped by ``core.scoping``.

A signal is visible to a person who holds ``warning.view`` over one of its places (its grids,
or the area of a temporal signal) or over its region (the narrowest region holding all its
places): a township sees the clusters touching its grids, the county everything; a county-wide
temporal signal is the county's. Acting on it needs ``warning.handle`` over its whole region.

The cases behind a signal are recomputed, not stored: the cases of its category in its grids
(or area) reported on its days (local dates), merged duplicates and rejected reports left out
— the same cases the counts read.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from civicgrid.cases.models import Case
from civicgrid.core.scoping import can, restrict, scope_for
from civicgrid.regions.models import Grid, Region
from civicgrid.warning import workflow
from civicgrid.warning.counts import NOT_COUNTED_STATES
from civicgrid.warning.models import Signal, SignalArea

__all__ = [
    "access_signal",
    "cases_behind",
    "may_configure",
    "may_handle",
    "place_names",
    "region_names",
    "signal_series",
    "signals_for_report",
    "signals_geojson",
    "signals_visible_to",
]


def signals_visible_to(user) -> QuerySet[Signal]:
    areas = restrict(SignalArea.objects.all(), user, "warning.view", region_field="code")
    whole = restrict(Signal.objects.all(), user, "warning.view", region_field="region_code")
    return Signal.objects.filter(Q(pk__in=areas.values("signal_id")) | Q(pk__in=whole.values("pk")))


def access_signal(user, pk) -> Signal:
    """The signal if the user may see it; otherwise 404."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    signal = (
        signals_visible_to(user)
        .select_related("category", "campaign", "case")
        .filter(pk=pk)
        .first()
    )
    if signal is None:
        raise Http404
    return signal


def may_handle(user, signal: Signal) -> bool:
    return can(user, "warning.handle", region_code=signal.region_code)


def may_configure(user) -> bool:
    scope = scope_for(user)
    return scope.superuser or any(len(p) <= 6 for p in scope.prefixes("warning.configure"))


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def _behind(signal: Signal) -> QuerySet[Case]:
    cases = Case.objects.filter(
        category_id=signal.category_id,
        merged_into__isnull=True,
        created__gte=_local_midnight(signal.start),
        created__lt=_local_midnight(signal.end + timedelta(days=1)),
    ).exclude(state__in=NOT_COUNTED_STATES)
    if signal.grid_codes:
        micro = Grid.objects.filter(parent__code__in=signal.grid_codes).values("pk")
        return cases.filter(Q(grid__code__in=signal.grid_codes) | Q(grid__in=micro))
    return cases.filter(grid__isnull=False, region_code__startswith=signal.region_code)


def cases_behind(user, signal: Signal) -> QuerySet[Case]:
    """The signal's cases the user may see (``cases.view``), newest first."""
    return restrict(_behind(signal), user, "cases.view", region_field="region_code").order_by(
        "-created", "-id"
    )


def signal_series(signal: Signal, *, days_before: int = 28) -> dict:
    """Daily counts of the signal's places and category from ``days_before`` days before its
    start to its end (one aggregate query), for the chart."""
    first = signal.start - timedelta(days=days_before)
    base = Signal(
        category_id=signal.category_id,
        grid_codes=signal.grid_codes,
        region_code=signal.region_code,
        start=first,
        end=signal.end,
    )
    rows = (
        _behind(base)
        .annotate(day=TruncDate("created", tzinfo=timezone.get_default_timezone()))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    found = {}
    for day, n in rows:
        if isinstance(day, str):
            day = date.fromisoformat(day)
        found[day] = n
    span = (signal.end - first).days + 1
    days = [first + timedelta(days=i) for i in range(span)]
    return {
        "days": [d.isoformat() for d in days],
        "counts": [found.get(d, 0) for d in days],
        "start": signal.start.isoformat(),
        "end": signal.end.isoformat(),
    }


def _place_codes(signal: Signal) -> list[str]:
    if signal.grid_codes:
        return signal.village_codes or sorted({c[:12] for c in signal.grid_codes})
    return [signal.region_code]


def region_names(signals) -> dict[str, str]:
    """Names of the villages, townships and areas of ``signals``, in one query."""
    codes = set()
    for signal in signals:
        for code in _place_codes(signal):
            codes.add(code)
            if len(code) > 9:
                codes.add(code[:9])
    return dict(Region.objects.filter(code__in=codes).values_list("code", "name"))


def place_names(signal: Signal, *, limit: int = 6, names: dict | None = None) -> str:
    """Readable places: villages (with their township) of a scan signal, or the area's name.
    ``names`` (from ``region_names``) saves the query when listing many signals."""
    codes = _place_codes(signal)
    if names is None:
        names = region_names([signal])
    labels = []
    for code in codes[:limit]:
        name = names.get(code, code)
        town = names.get(code[:9]) if len(code) > 9 else None
        labels.append(f"{town}·{name}" if town else name)
    if len(codes) > limit:
        labels.append("…")
    return "、".join(labels)


def _category_name(category) -> str:
    from django.utils.translation import get_language

    if (get_language() or "").startswith("en") and category.name_en:
        return category.name_en
    return category.name


def signals_for_report(since: date, until: date, region_code: str = "") -> list[dict]:
    """Signals found or updated between ``since`` and ``until`` (inclusive, run dates) in a
    region (all when empty), strongest first — for the daily report. Not scoped by a user: the
    report's caller decides who reads it."""
    signals = Signal.objects.filter(last_run__gte=since, first_run__lte=until).select_related(
        "category"
    )
    if region_code:
        areas = SignalArea.objects.filter(code__startswith=region_code).values("signal_id")
        signals = signals.filter(Q(region_code__startswith=region_code) | Q(pk__in=areas))
    result = []
    signals = list(signals.order_by("-recurrence_days", "-id"))
    names = region_names(signals)
    for s in signals:
        result.append(
            {
                "id": s.pk,
                "category": _category_name(s.category),
                "category_code": s.category.code,
                "places": place_names(s, names=names),
                "period": f"{s.start:%Y-%m-%d}–{s.end:%Y-%m-%d}",
                "observed": s.observed,
                "expected": round(s.expected, 1),
                "relative_risk": round(s.relative_risk, 2),
                "recurrence_days": round(s.recurrence_days),
                "state": str(workflow.STATE_LABELS.get(s.state, s.state)),
                "url": reverse("warning_detail", args=[s.pk]),
            }
        )
    return result


def _geometry_of(codes) -> dict[str, dict]:
    found = dict(Grid.objects.filter(code__in=codes).values_list("code", "geometry"))
    missing = [c for c in codes if c not in found]
    if missing:
        found.update(Region.objects.filter(code__in=missing).values_list("code", "geometry"))
    return {c: g for c, g in found.items() if g}


def signals_geojson(user, region_code: str = "", *, signals=None) -> dict:
    """A GeoJSON FeatureCollection of the open signals' places the user may see (one feature per
    grid, or the area of a temporal signal), for the cockpit map; ``signals`` gives them
    instead (a signal's own map)."""
    if signals is None:
        signals = signals_visible_to(user).filter(state__in=workflow.OPEN_STATES)
        if region_code:
            areas = SignalArea.objects.filter(code__startswith=region_code).values("signal_id")
            signals = signals.filter(Q(region_code__startswith=region_code) | Q(pk__in=areas))
        signals = list(signals.select_related("category").order_by("-recurrence_days")[:200])
    places = {s.pk: (s.grid_codes or [s.region_code]) for s in signals}
    geometry = _geometry_of({c for codes in places.values() for c in codes})
    names = dict(Grid.objects.filter(code__in=list(geometry)).values_list("code", "name"))
    features = []
    for s in signals:
        url = reverse("warning_detail", args=[s.pk])
        category = _category_name(s.category)
        for code in places[s.pk]:
            if code not in geometry:
                continue
            features.append(
                {
                    "type": "Feature",
                    "geometry": geometry[code],
                    "properties": {
                        "signal": s.pk,
                        "code": code,
                        "name": f"{category} · {names.get(code, code)}",
                        "category": category,
                        "relative_risk": round(s.relative_risk, 2),
                        "recurrence_days": round(s.recurrence_days),
                        "state": s.state,
                        "url": url,
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}
