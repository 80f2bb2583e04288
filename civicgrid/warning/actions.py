"""Every write of the early-warning app: the daily run's findings, people's steps on a signal
(acknowledge, dismiss, turn into a campaign or a case) and the per-category settings. Each
checks who may act, validates, writes in one transaction and records an audit event.

Ongoing clusters (``do_store_findings``): a finding of the day continues an earlier signal of
the same category when that signal was last seen at most ``max_days`` days before (the longest
cluster the category allows) or their periods overlap or adjoin, and they share a grid
(space–time scans) or the same area (temporal detectors, a township or the county). The
signal then takes the day's numbers (the strongest of the day's findings: the rarest, then the
largest), its grids become the union of all its grids so far, and its period runs from its
first start to the latest end (the other findings of the day that overlap it only add their
method to ``methods``). It is **re-announced** — a ``grow`` step, back to *new* if it was
acknowledged or dismissed — only when it grows: it covers a grid it did not cover when last
announced, or its observed count is at least ``max(3, 20 %)`` above the count last announced.
A run for a day already stored changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases.models import Category
from civicgrid.core.audit import record_event, snapshot
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import can
from civicgrid.warning import workflow
from civicgrid.warning.models import (
    Method,
    ReportingDay,
    Signal,
    SignalArea,
    SignalStep,
    WarningSetting,
)
from civicgrid.warning.selectors import may_configure

__all__ = [
    "GROWTH_MIN_CASES",
    "GROWTH_RATIO",
    "Finding",
    "do_acknowledge_signal",
    "do_campaign_from_signal",
    "do_case_from_signal",
    "do_configure_warning",
    "do_dismiss_signal",
    "do_store_findings",
    "region_of",
]

GROWTH_MIN_CASES = 3
GROWTH_RATIO = 0.2
_LEVELS = (15, 12, 9, 6)


@dataclass(frozen=True)
class Finding:
    """One cluster above the threshold, in the app's terms (dates and codes)."""

    method: str
    places: tuple[str, ...]  # grid codes, or the one area code of a temporal series
    start: date
    end: date
    observed: int
    expected: float
    relative_risk: float
    statistic: float
    p_value: float
    recurrence_days: float

    @property
    def temporal(self) -> bool:
        return self.method == Method.TEMPORAL


def region_of(codes) -> str:
    """The narrowest region (or grid) code holding every code: their common prefix cut to a
    level (6, 9, 12 or 15 digits)."""
    codes = [c for c in codes if c]
    if not codes:
        return ""
    prefix = codes[0]
    for code in codes[1:]:
        n = 0
        while n < min(len(prefix), len(code)) and prefix[n] == code[n]:
            n += 1
        prefix = prefix[:n]
    for n in _LEVELS:
        if len(prefix) >= n:
            return prefix[:n]
    return ""


def _grows(signal: Signal, cells: int, observed: int) -> bool:
    more = max(GROWTH_MIN_CASES, math.ceil(GROWTH_RATIO * signal.announced_observed))
    return cells > signal.announced_cells or observed >= signal.announced_observed + more


MAX_RELATIVE_RISK = 999.0  # shown as such when nothing (or almost nothing) was expected


def _numbers(best: Finding) -> dict:
    return {
        "method": best.method,
        "observed": int(best.observed),
        "expected": round(float(best.expected), 4),
        "relative_risk": round(min(float(best.relative_risk), MAX_RELATIVE_RISK), 4),
        "statistic": round(float(best.statistic), 4),
        "p_value": round(float(best.p_value), 6),
        "recurrence_days": round(float(best.recurrence_days), 1),
    }


def _places(places) -> dict:
    places = sorted(set(places))
    grids = [c for c in places if len(c) >= 15]
    return {
        "grid_codes": grids,
        "village_codes": sorted({c[:12] for c in grids}),
        "town_codes": sorted({c[:9] for c in places if len(c) >= 9}),
        "region_code": region_of(places),
    }


def _matches(signal: Signal, finding: Finding, day: date, max_days: int) -> bool:
    ongoing = signal.last_run >= day - timedelta(days=max_days) or (
        signal.end >= finding.start - timedelta(days=1)
    )
    if not ongoing:
        return False
    if finding.temporal:
        return signal.is_temporal and signal.region_code == finding.places[0]
    return not signal.is_temporal and bool(set(signal.grid_codes) & set(finding.places))


def do_store_findings(
    category: Category, findings: list[Finding], day: date, *, max_days: int = 7
) -> dict:
    """Store the day's findings of one category (the daily run; no person acts). Returns the
    counts ``{"new": …, "updated": …, "grown": …}``; idempotent for a day."""
    result = {"new": 0, "updated": 0, "grown": 0}
    if not findings:
        return result
    now = timezone.now()
    with transaction.atomic():
        ongoing = list(
            Signal.objects.select_for_update()
            .filter(
                Q(last_run__gte=day - timedelta(days=max_days))
                | Q(end__gte=min(f.start for f in findings) - timedelta(days=1)),
                category=category,
                first_run__lte=day,
            )
            .order_by("id")
        )
        groups: dict[int, list[Finding]] = {}  # signal index (in ``ongoing``) → findings
        fresh: list[list[Finding]] = []
        for finding in sorted(
            findings, key=lambda f: (-f.recurrence_days, -f.observed, -len(f.places))
        ):
            index = next(
                (i for i, s in enumerate(ongoing) if _matches(s, finding, day, max_days)), None
            )
            if index is not None:
                groups.setdefault(index, []).append(finding)
                continue
            group = next(
                (
                    g
                    for g in fresh
                    if g[0].temporal == finding.temporal
                    and (
                        g[0].places == finding.places
                        if finding.temporal
                        else set(g[0].places) & set(finding.places)
                    )
                ),
                None,
            )
            if group is not None:
                group.append(finding)
            else:
                fresh.append([finding])
        for group in fresh:
            _create(category, group, day, now)
            result["new"] += 1
        for index, group in groups.items():
            outcome = _update(ongoing[index], group, day, now)
            if outcome:
                result[outcome] += 1
    return result


def _create(category, group: list[Finding], day: date, now) -> Signal:
    best = group[0]  # the strongest finding gives the numbers and the places
    places = sorted(best.places)
    values = {**_numbers(best), **_places(places)}
    signal = Signal.objects.create(
        category=category,
        methods=sorted({f.method for f in group}),
        start=min(f.start for f in group),
        end=max(f.end for f in group),
        first_run=day,
        last_run=day,
        fingerprint=Signal.make_fingerprint(category.pk, places),
        announced_cells=len(places),
        announced_observed=values["observed"],
        created=now,
        updated=now,
        **values,
    )
    SignalArea.objects.bulk_create([SignalArea(signal=signal, code=c) for c in places])
    SignalStep.objects.create(
        signal=signal,
        action="detect",
        to_state=signal.state,
        note=_describe(best),
        run_day=day,
        created=now,
    )
    record_event(
        "warning.signal.detect",
        target=signal,
        scope_code=signal.region_code,
        after={**values, "start": signal.start, "end": signal.end},
    )
    return signal


def _describe(finding: Finding) -> str:
    """The run's note on a step: the finding's numbers as JSON (the page words them in the
    reader's language, ``views.step_note``)."""
    import json

    return json.dumps(
        {
            "method": finding.method,
            "observed": int(finding.observed),
            "expected": round(float(finding.expected), 1),
            "relative_risk": round(min(float(finding.relative_risk), MAX_RELATIVE_RISK), 1),
            "recurrence_days": round(float(finding.recurrence_days)),
        },
        sort_keys=True,
    )


def _update(signal: Signal, group: list[Finding], day: date, now) -> str:
    if signal.last_run > day:
        return ""  # a later run already saw it: runs go forward
    best = group[0]
    old_places = set(signal.grid_codes) if not signal.is_temporal else {signal.region_code}
    places = sorted(old_places | set(best.places))
    values = {
        **_numbers(best),
        **_places(places),
        "methods": sorted(set(signal.methods) | {f.method for f in group}),
        "start": min([signal.start, *(f.start for f in group)]),
        "end": max([signal.end, *(f.end for f in group)]),
        "last_run": day,
    }
    changed = {k: v for k, v in values.items() if getattr(signal, k) != v}
    if not changed:
        return ""
    before = {k: getattr(signal, k) for k in changed}
    for key, value in changed.items():
        setattr(signal, key, value)
    new_places = sorted(set(places) - old_places)
    if new_places:
        SignalArea.objects.bulk_create([SignalArea(signal=signal, code=c) for c in new_places])
    outcome = "updated"
    if _grows(signal, len(places), values["observed"]):
        outcome = "grown"
        from_state = signal.state
        signal.state = workflow.next_state(from_state, "grow")
        signal.announced_cells = len(places)
        signal.announced_observed = values["observed"]
        signal.fingerprint = Signal.make_fingerprint(signal.category_id, places)
        SignalStep.objects.create(
            signal=signal,
            action="grow",
            from_state=from_state,
            to_state=signal.state,
            note=_describe(best),
            run_day=day,
            created=now,
        )
    signal.updated = now
    signal.save()
    record_event(
        f"warning.signal.{'grow' if outcome == 'grown' else 'update'}",
        target=signal,
        scope_code=signal.region_code,
        before=before,
        after=changed,
    )
    return outcome


# --------------------------------------------------------------------------- people's steps


def _may_handle(actor, signal: Signal) -> None:
    if not can(actor, "warning.handle", region_code=signal.region_code):
        raise ActionRefused(_("You may not act on early-warning signals of this area."))


def _step(
    signal: Signal, action: str, *, actor, note: str = "", extra: dict | None = None
) -> Signal:
    """Lock, check the table, move, write the history row and the audit event (in the caller's
    transaction)."""
    signal = Signal.objects.select_for_update().get(pk=signal.pk)
    _may_handle(actor, signal)
    from_state = signal.state
    signal.state = workflow.next_state(from_state, action)
    now = timezone.now()
    for key, value in (extra or {}).items():
        setattr(signal, key, value)
    signal.updated = now
    signal.save()
    SignalStep.objects.create(
        signal=signal,
        action=action,
        from_state=from_state,
        to_state=signal.state,
        actor=actor if actor is not None and actor.pk else None,
        note=note[:2000],
        created=now,
    )
    record_event(
        f"warning.signal.{action}",
        actor=actor,
        target=signal,
        scope_code=signal.region_code,
        before={"state": from_state},
        after={
            "state": signal.state,
            "note": note[:200],
            **{k: str(v) for k, v in (extra or {}).items()},
        },
    )
    return signal


def do_acknowledge_signal(signal: Signal, *, actor, note: str = "") -> Signal:
    """Someone has seen the signal and looks into it."""
    with transaction.atomic():
        return _step(signal, "acknowledge", actor=actor, note=(note or "").strip())


def do_dismiss_signal(signal: Signal, *, actor, reason: str) -> Signal:
    """Not a real problem (a reporting campaign, a duplicate burst …); the reason is required."""
    reason = (reason or "").strip()
    _may_handle(actor, signal)
    if not reason:
        raise ValidationError({"reason": _("Say why the signal is dismissed.")})
    if len(reason) > 2000:
        raise ValidationError({"reason": _("At most 2,000 characters.")})
    with transaction.atomic():
        return _step(signal, "dismiss", actor=actor, note=reason, extra={"dismiss_reason": reason})


def signal_places_label(signal: Signal) -> str:
    from civicgrid.warning.selectors import place_names

    return place_names(signal)


def do_campaign_from_signal(
    signal: Signal,
    *,
    actor,
    title: str,
    start: date,
    end: date,
    description: str = "",
    target_types=(),
    checklist=(),
) -> Signal:
    """Start a campaign (in draft) over the signal's grids (or its area) and link it."""
    from civicgrid.campaigns.actions import do_create_campaign_from_warning

    _may_handle(actor, signal)
    workflow.next_state(signal.state, "campaign")  # refuse early, before creating anything
    with transaction.atomic():
        signal = Signal.objects.select_for_update().get(pk=signal.pk)
        workflow.next_state(signal.state, "campaign")
        campaign = do_create_campaign_from_warning(
            actor=actor,
            title=title,
            category_code=signal.category.code,
            region_codes=signal.grid_codes or [signal.region_code],
            start=start,
            end=end,
            description=description,
            source={
                "warning_signal": signal.pk,
                "url": signal_url(signal),
                "category": signal.category.code,
                "period": f"{signal.start}–{signal.end}",
            },
            target_types=target_types,
            checklist=checklist,
        )
        return _step(
            signal,
            "campaign",
            actor=actor,
            note=campaign.title,
            extra={"campaign": campaign},
        )


def signal_url(signal: Signal) -> str:
    from django.urls import reverse

    return reverse("warning_detail", args=[signal.pk])


def do_case_from_signal(signal: Signal, *, actor, description: str = "") -> Signal:
    """Report one case for the whole cluster (a problem to solve at its place) and link it."""
    from civicgrid.cases.actions import do_report_case
    from civicgrid.cases.models import Case
    from civicgrid.regions.models import Grid, Region

    _may_handle(actor, signal)
    workflow.next_state(signal.state, "case")
    description = (description or "").strip() or _(
        "Early warning #%(id)s: %(observed)s cases of “%(category)s” in %(places)s from "
        "%(start)s to %(end)s, %(expected).1f expected (relative risk %(rr).1f, recurrence "
        "interval %(ri)s days). Look for a common cause."
    ) % {
        "id": signal.pk,
        "observed": signal.observed,
        "category": signal.category.name,
        "places": signal_places_label(signal),
        "start": signal.start,
        "end": signal.end,
        "expected": signal.expected,
        "rr": signal.relative_risk,
        "ri": f"{signal.recurrence_days:.0f}",
    }
    grid = region = None
    if len(signal.region_code) >= 15:
        grid = Grid.objects.filter(code=signal.region_code).first()
    else:
        region = Region.objects.filter(code=signal.region_code).first()
    with transaction.atomic():
        signal = Signal.objects.select_for_update().get(pk=signal.pk)
        workflow.next_state(signal.state, "case")
        case = do_report_case(
            actor=actor,
            channel=Case.Channel.DEPARTMENT,
            description=description,
            category=signal.category,
            grid=grid,
            region=region,
            idempotency_key=f"warning-signal-{signal.pk}",
        )
        return _step(signal, "case", actor=actor, note=case.code, extra={"case": case})


# --------------------------------------------------------------------------- settings

_SETTING_FIELDS = (
    "enabled",
    "methods",
    "max_days",
    "max_cells",
    "max_radius_km",
    "threshold_days",
    "min_cases",
    "replicates",
    "fast",
    "history_days",
)


def do_configure_warning(category: Category, *, actor, **values) -> WarningSetting:
    """Set how the daily run treats a category (the county centre)."""
    if not may_configure(actor):
        raise ActionRefused(_("Only the county centre sets early-warning parameters."))
    if not category.is_leaf:
        raise ValidationError({"category": _("Choose a category of the second level.")})
    unknown = set(values) - set(_SETTING_FIELDS)
    if unknown:
        raise ValidationError({"__all__": _("Unknown settings: %s") % ", ".join(sorted(unknown))})
    errors: dict[str, list[str]] = {}
    methods = values.get("methods")
    if methods is not None:
        methods = list(dict.fromkeys(methods))
        if not methods or any(m not in Method.values for m in methods):
            errors["methods"] = [_("Choose at least one of the methods offered.")]
        values["methods"] = methods
    limits = {
        "max_days": (1, 30),
        "max_cells": (1, 200),
        "max_radius_km": (0.1, 50),
        "threshold_days": (2, 3650),
        "min_cases": (1, 100),
        "replicates": (99, 9999),
        "history_days": (28, 730),
    }
    for key, (low, high) in limits.items():
        if key in values:
            value = values[key]
            if value is None or not low <= value <= high:
                errors[key] = [_("Between %(low)s and %(high)s.") % {"low": low, "high": high}]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        setting, _created = WarningSetting.objects.select_for_update().get_or_create(
            category=category
        )
        before = snapshot(setting)
        for key, value in values.items():
            setattr(setting, key, value)
        setting.updated_by = actor if actor is not None and actor.pk else None
        setting.save()
        record_event(
            "warning.configure",
            actor=actor,
            target=setting,
            before=before,
            after=snapshot(setting),
        )
    return setting


def do_mark_reporting_day(day: date, *, actor, kind: str, note: str = "") -> ReportingDay:
    """Mark a day whose report counts the detectors must leave out (the county centre): a
    publicity or app campaign, an outage of the reporting channels. Days ahead may be marked
    (a planned campaign); a day is marked once."""
    if not may_configure(actor):
        raise ActionRefused(_("Only the county centre marks reporting disturbances."))
    errors: dict[str, list[str]] = {}
    if kind not in ReportingDay.Kind.values:
        errors["kind"] = [_("Choose one of the kinds offered.")]
    note = (note or "").strip()
    if len(note) > 200:
        errors["note"] = [_("At most 200 characters.")]
    if not isinstance(day, date):
        errors["day"] = [_("Enter a date.")]
    elif ReportingDay.objects.filter(day=day).exists():
        errors["day"] = [_("This day is already marked.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        marked = ReportingDay.objects.create(
            day=day,
            kind=kind,
            note=note,
            created_by=actor if actor is not None and actor.pk else None,
            created=timezone.now(),
        )
        record_event("warning.mark_day", actor=actor, target=marked, after=snapshot(marked))
    return marked


def do_unmark_reporting_day(marked: ReportingDay, *, actor) -> None:
    """Take a day's mark back (the county centre); later runs count the day again."""
    if not may_configure(actor):
        raise ActionRefused(_("Only the county centre marks reporting disturbances."))
    with transaction.atomic():
        before = snapshot(marked)
        record_event("warning.unmark_day", actor=actor, target=marked, before=before)
        marked.delete()
