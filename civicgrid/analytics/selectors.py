"""Scoped reads of reports.

Who sees which report: ``analytics.view`` over the report's region. County roles (the
centre, the county leader, the auditor) see the county's and every township's reports; a
township's roles see their township's reports only — not the county's, whose key items and
tables name other townships' cases and places.
"""

from civicgrid.core.scoping import can, restrict

from .models import FollowUp, Report

__all__ = ["follow_ups_of", "may_analyse", "report_for", "reports_visible_to"]


def reports_visible_to(user):
    return restrict(Report.objects.all(), user, "analytics.view", region_field="region_code")


def report_for(user, pk: int) -> Report | None:
    return reports_visible_to(user).filter(pk=pk).select_related("theme_category").first()


def may_analyse(user, report: Report) -> bool:
    return can(user, "analytics.analyse", region_code=report.region_code)


def follow_ups_of(report: Report):
    return (
        FollowUp.objects.filter(report=report)
        .select_related("case", "created_by")
        .order_by("created", "id")
    )
