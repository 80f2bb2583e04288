"""Every write of the reports: generating a snapshot, choosing the monthly theme, notes,
weekly follow-up items. Each checks who may act, validates, writes in one transaction with an
analyst's entry (``ReportEntry``, append-only) and an audit event.

Who may act: the ``reports`` command (no actor) generates; a person needs
``analytics.analyse`` over the report's region (the county centre for the county's and every
township's reports, a township command room for its own).
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases.models import Case, Category
from civicgrid.core.audit import record_event
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import can
from civicgrid.regions.models import Region

from . import reports
from .models import FollowUp, KpiTarget, Report, ReportEntry

__all__ = [
    "COMMAND",
    "county_code",
    "do_close_follow_up",
    "do_set_kpi_target",
    "do_generate_report",
    "do_mark_follow_up",
    "do_set_theme",
    "do_write_notes",
]

COMMAND = "reports command"


def _name(user) -> str:
    return user.get_full_name() or user.get_username() if user is not None else COMMAND


def _check(actor, region_code: str) -> None:
    if actor is not None and not can(actor, "analytics.analyse", region_code=region_code):
        raise ActionRefused(_("You may not write reports of this area."))


def _entry(report, action, actor, *, text="", data=None, generator="") -> ReportEntry:
    return ReportEntry.objects.create(
        report=report,
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_name=generator or _name(actor),
        text=text,
        data=data or {},
        created=timezone.now(),
    )


def _summary(report: Report) -> dict:
    totals = report.content.get("totals", {})
    return {
        "kind": report.kind,
        "period": report.period_start.isoformat(),
        "region": report.region_code,
        "revision": report.revision,
        "intake": totals.get("intake"),
    }


def _previous_follow_ups(region_code: str, start: date):
    prev_start, _end = reports.previous_period("weekly", start)
    return list(
        FollowUp.objects.filter(
            report__kind=Report.Kind.WEEKLY,
            report__region_code=region_code,
            report__period_start=prev_start,
        )
        .select_related("case")
        .order_by("created", "id")
    )


def _content(kind: str, region: Region, start: date, theme) -> dict:
    if kind == Report.Kind.WEEKLY:
        return reports.build_weekly(
            region, start, follow_ups=_previous_follow_ups(region.code, start)
        )
    if kind == Report.Kind.MONTHLY:
        return reports.build_monthly(region, start, theme=theme)
    return reports.build_daily(region, start)


def do_generate_report(
    *,
    kind: str,
    day: date,
    region: Region,
    actor=None,
    generator: str = "",
    regenerate: bool = False,
) -> tuple[Report, bool]:
    """The report of ``kind`` for the period holding ``day`` in ``region``.

    Without ``regenerate`` an existing report is returned unchanged (``created`` False): a
    snapshot is not recomputed by accident. With it, the content is computed again, the
    revision raised and the old summary kept in the audit trail.
    """
    if kind not in Report.Kind.values:
        raise ValidationError({"kind": _("Unknown kind of report.")})
    if region.level not in (Region.Level.COUNTY, Region.Level.TOWN):
        raise ValidationError({"region": _("Reports are made for the county and townships.")})
    _check(actor, region.code)
    start, end = reports.period_of(kind, day)
    if end >= timezone.localdate() and kind == Report.Kind.DAILY:
        raise ValidationError({"day": _("A day is reported once it is over.")})
    generator = generator or _name(actor)
    with transaction.atomic():
        existing = (
            Report.objects.select_for_update()
            .filter(kind=kind, period_start=start, region_code=region.code)
            .first()
        )
        if existing is not None and not regenerate:
            return existing, False
        theme = existing.theme_category if existing is not None else None
        content = _content(kind, region, start, theme)
        now = timezone.now()
        if existing is None:
            try:
                with transaction.atomic():
                    report = Report.objects.create(
                        kind=kind,
                        period_start=start,
                        period_end=end,
                        region_code=region.code,
                        region_name=region.name,
                        content=content,
                        version=reports.CONTENT_VERSION,
                        generated_at=now,
                        generator=generator,
                        generated_by=actor if actor is not None and actor.pk else None,
                    )
            except IntegrityError:  # made meanwhile by another run
                return Report.objects.get(
                    kind=kind, period_start=start, region_code=region.code
                ), False
            record_event(
                "analytics.report_generated",
                actor=actor,
                target=report,
                scope_code=region.code,
                after=_summary(report),
            )
            return report, True
        before = _summary(existing)
        existing.content = content
        existing.version = reports.CONTENT_VERSION
        existing.revision += 1
        existing.generated_at = now
        existing.generator = generator
        existing.generated_by = actor if actor is not None and actor.pk else None
        existing.save()
        _entry(existing, ReportEntry.Action.REGENERATE, actor, data=before, generator=generator)
        record_event(
            "analytics.report_regenerated",
            actor=actor,
            target=existing,
            scope_code=region.code,
            before=before,
            after=_summary(existing),
        )
        return existing, True


def do_set_theme(report: Report, category: Category, *, actor) -> Report:
    """The analyst's theme of a monthly report; its in-depth section is computed now."""
    _check(actor, report.region_code)
    if actor is None:
        raise ActionRefused(_("A person chooses the theme."))
    if report.kind != Report.Kind.MONTHLY:
        raise ValidationError({"theme": _("Only a monthly report has a theme.")})
    if category is None:
        raise ValidationError({"theme": _("Choose a category.")})
    region = Region.objects.get(code=report.region_code)
    with transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report.pk)
        before = (report.content.get("theme") or {}).get("category")
        content = dict(report.content)
        content["theme"] = reports.build_theme(region, report.period_start, category)
        content["theme"]["suggested"] = False
        report.content = content
        report.theme_category = category
        report.save(update_fields=["content", "theme_category"])
        after = {"code": category.code, "name": category.name}
        _entry(report, ReportEntry.Action.THEME, actor, text=category.name, data=after)
        record_event(
            "analytics.theme_set",
            actor=actor,
            target=report,
            scope_code=report.region_code,
            before=before,
            after=after,
        )
    return report


def do_write_notes(report: Report, notes: str, *, actor) -> Report:
    _check(actor, report.region_code)
    if actor is None:
        raise ActionRefused(_("A person writes the notes."))
    notes = (notes or "").strip()
    if len(notes) > 5000:
        raise ValidationError({"notes": _("At most 5,000 characters.")})
    with transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report.pk)
        before = report.notes
        report.notes = notes
        report.save(update_fields=["notes"])
        _entry(report, ReportEntry.Action.NOTE, actor, text=notes)
        record_event(
            "analytics.notes_written",
            actor=actor,
            target=report,
            scope_code=report.region_code,
            before={"notes_length": len(before)},
            after={"notes_length": len(notes)},
        )
    return report


def do_mark_follow_up(report: Report, *, actor, case: Case | None = None, topic: str = ""):
    """Mark a case or a topic of a weekly analysis to follow up next week."""
    _check(actor, report.region_code)
    if actor is None:
        raise ActionRefused(_("A person marks follow-up items."))
    if report.kind != Report.Kind.WEEKLY:
        raise ValidationError({"topic": _("Only a weekly analysis has follow-up items.")})
    topic = (topic or "").strip()
    if case is None and not topic:
        raise ValidationError({"topic": _("Give a case code or a topic.")})
    if len(topic) > 200:
        raise ValidationError({"topic": _("At most 200 characters.")})
    if case is not None and not case.region_code.startswith(report.region_code):
        raise ValidationError({"case": _("This case is not in the report's area.")})
    with transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report.pk)
        if case is not None and report.follow_ups.filter(case=case).exists():
            raise ValidationError({"case": _("This case is already marked.")})
        item = FollowUp.objects.create(
            report=report, case=case, topic=topic, created_by=actor, created=timezone.now()
        )
        data = {"follow_up": item.pk, "case": case.code if case else "", "topic": topic}
        _entry(report, ReportEntry.Action.FOLLOW_UP, actor, text=topic, data=data)
        record_event(
            "analytics.follow_up_marked",
            actor=actor,
            target=report,
            scope_code=report.region_code,
            after=data,
        )
    return item


def do_close_follow_up(item: FollowUp, *, actor, outcome: str = "") -> FollowUp:
    """Close a topic item (a case item is closed when its case is)."""
    report = item.report
    _check(actor, report.region_code)
    if actor is None:
        raise ActionRefused(_("A person closes follow-up items."))
    if item.case_id is not None:
        raise ValidationError({"outcome": _("A case item closes with its case.")})
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationError({"outcome": _("Say what came of it.")})
    with transaction.atomic():
        item = FollowUp.objects.select_for_update().get(pk=item.pk)
        if item.closed_at is not None:
            raise ValidationError({"outcome": _("This item is already closed.")})
        item.closed_at = timezone.now()
        item.outcome = outcome[:2000]
        item.save(update_fields=["closed_at", "outcome"])
        data = {"follow_up": item.pk, "topic": item.topic}
        _entry(report, ReportEntry.Action.FOLLOW_UP_CLOSED, actor, text=item.outcome, data=data)
        record_event(
            "analytics.follow_up_closed",
            actor=actor,
            target=report,
            scope_code=report.region_code,
            after=data,
        )
    return item


def county_code() -> str:
    return (
        Region.objects.filter(level=Region.Level.COUNTY).values_list("code", flat=True).first()
        or ""
    )


def do_set_kpi_target(*, kpi: str, region_code: str, year: int, target: float, actor) -> KpiTarget:
    """Set (or change) the target of one KPI for a year, county-wide or for one region."""
    region_code = (region_code or "").strip()
    if actor is None or not can(
        actor, "analytics.configure", region_code=region_code or county_code()
    ):
        raise ActionRefused(_("You may not set KPI targets here."))
    try:
        from civicgrid.analytics.kpis import KPIS
    except ImportError:  # pragma: no cover - the KPI module is part of the app
        KPIS = {}
    errors = {}
    if KPIS and kpi not in KPIS:
        errors["kpi"] = _("Unknown KPI.")
    if region_code and not Region.objects.filter(code=region_code).exists():
        errors["region_code"] = _("Unknown region.")
    if not 2000 <= int(year) <= 2100:
        errors["year"] = _("Give a year between 2000 and 2100.")
    if target is None or target < 0:
        errors["target"] = _("Give a target of zero or more.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row = (
            KpiTarget.objects.select_for_update()
            .filter(kpi=kpi, region_code=region_code, year=year)
            .first()
        )
        before = None if row is None else row.target
        if row is None:
            row = KpiTarget.objects.create(
                kpi=kpi, region_code=region_code, year=year, target=target
            )
        else:
            row.target = target
            row.save(update_fields=["target", "updated"])
        record_event(
            "analytics.kpi_target_set",
            actor=actor,
            target=row,
            scope_code=region_code,
            before=before,
            after=target,
        )
    return row
