"""Reads of the data hub, through the importer's scope."""

from django.db.models import QuerySet
from django.http import Http404

from civicgrid.core.scoping import can, restrict
from civicgrid.datahub.models import ExternalRecord, ImportRun, Source

__all__ = [
    "access_run",
    "access_source",
    "external_records_visible_to",
    "runs_visible_to",
    "sources_visible_to",
]

PERMISSION = "datahub.import"


def runs_visible_to(user) -> QuerySet[ImportRun]:
    return restrict(
        ImportRun.objects.select_related("source"), user, PERMISSION, region_field="region_code"
    )


def sources_visible_to(user) -> QuerySet[Source]:
    return restrict(Source.objects.all(), user, PERMISSION, region_field="region_code")


def access_run(user, pk) -> ImportRun:
    run = ImportRun.objects.select_related("source").filter(pk=pk).first()
    if run is None or not can(user, PERMISSION, region_code=run.region_code):
        raise Http404
    return run


def access_source(user, pk) -> Source:
    source = Source.objects.filter(pk=pk).first()
    if source is None or not can(user, PERMISSION, region_code=source.region_code):
        raise Http404
    return source


def external_records_visible_to(
    user, permission: str = "analytics.view"
) -> QuerySet[ExternalRecord]:
    """Petitions, police alerts, 12345 orders … of the user's area (for analytics)."""
    return restrict(ExternalRecord.objects.all(), user, permission, region_field="region_code")
