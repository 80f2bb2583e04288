"""Jobs ``tick`` runs once a day across all nodes (see ``core.models.DailyJob``)."""

from collections.abc import Callable
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from civicgrid.core.models import DailyJob

STALE_AFTER = timedelta(hours=2)  # a claim a killed node left behind is taken over after this


def run_once_a_day(name: str, day: date, job: Callable[[], str], *, now=None) -> str | None:
    """Run ``job`` for ``day`` unless another run claimed it; returns its result line, or None
    when there was nothing to do (done, or being done elsewhere)."""
    now = now or timezone.now()
    claim = DailyJob.objects.filter(name=name, day=day).first()
    if claim is None:
        try:
            with transaction.atomic():
                claim = DailyJob.objects.create(name=name, day=day, started=now)
        except IntegrityError:
            return None  # another node claimed it a moment ago
    elif claim.finished is not None:
        return None
    else:
        # Unfinished: a node is working on it, or died. Take over a stale claim only, with a
        # conditional UPDATE so that exactly one node does.
        taken = DailyJob.objects.filter(
            pk=claim.pk, finished__isnull=True, started__lt=now - STALE_AFTER
        ).update(started=now)
        if taken != 1:
            return None
    result = str(job() or "")[:200]
    DailyJob.objects.filter(pk=claim.pk).update(finished=timezone.now(), result=result)
    return result
