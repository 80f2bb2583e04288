"""Early-warning signals of the demo: the daily ``warn`` run replayed over the demo's last weeks.

How to use it::

    .venv/bin/python manage.py load_demo           # the county
    .venv/bin/python manage.py load_demo_cases     # a year of cases with the planted cluster
    .venv/bin/python manage.py load_demo_warning   # then this (--days 28 by default)

The demo cases end at midnight on their ``end`` day and carry a planted 废弃车辆（僵尸车）
(0101) cluster in the four urban streets that grows over seven weeks and stops three weeks
before the end (``civicgrid.demo.cases``). This replays the nightly run
(``civicgrid.warning.run.run_warnings``) over the last ``days`` (28) days before that end, in
order, as the ``warn`` command would have run — every night of the last ``DAILY`` (3) days,
and once a week before that (``every``, default 7; 1 replays every night): with the default
nights 24, 17 and 10 before the end, then 3, 2 and 1 (``replay_nights``). A night's run
reads the whole year of counts and takes ~7 s at a county's year of cases, so the demo runs
six (it ran fifteen, 63 days back, in session 17): the cluster is found in its last week
(night 24: 3 days before it stops, when the county's and the streets' 0101 series are far
above their expectation), followed as it goes on (a signal continues across the week's gap:
its window spans it), and the last nights are the ordinary nightly run, whose signals are
those of "yesterday" in the warnings list. Replaying every night of the last nine weeks
(``--days 63 --every 1``) finds the cluster's temporal signal from 38 nights before the end
on; the nights between 63 and 25 before the end add signals of other categories only. The
fast Monte Carlo approximation (``fast=True``: 99 replicates and a fitted Gumbel tail) is
used unless ``full=True``. A second call does nothing (the audit event ``demo.warning`` marks
the run); the run itself is idempotent anyway.
"""

import time
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Max
from django.utils import timezone

from civicgrid.cases.models import Case
from civicgrid.core.audit import record_event
from civicgrid.core.models import AuditEvent
from civicgrid.warning.models import Signal
from civicgrid.warning.run import run_warnings

__all__ = [
    "AUDIT_ACTION",
    "DEFAULT_DAYS",
    "demo_warning_loaded",
    "generate_demo_warnings",
    "replay_nights",
]

AUDIT_ACTION = "demo.warning"
DEFAULT_DAYS = 28  # the cluster's last week and the three weeks after it
DAILY = 3  # the last nights, run every night; older ones once every ``every`` nights


@dataclass
class WarningSummary:
    first: date | None = None
    last: date | None = None
    days: int = 0
    new: int = 0
    updated: int = 0
    grown: int = 0
    signals: int = 0
    cluster_signals: int = 0  # signals of 0101, the planted category
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    by_category: dict[str, int] = field(default_factory=dict)


def demo_warning_loaded() -> bool:
    return AuditEvent.objects.filter(action=AUDIT_ACTION).exists()


def demo_end() -> date | None:
    """The day the demo cases end: from their run's audit event (``… {start}..{end}``), else
    the day after the last report (local time)."""
    from civicgrid.demo.cases import AUDIT_ACTION as CASES_ACTION

    event = AuditEvent.objects.filter(action=CASES_ACTION).order_by("-id").first()
    if event is not None and ".." in event.target_repr:
        try:
            return date.fromisoformat(event.target_repr.rsplit("..", 1)[1].strip()[:10])
        except ValueError:
            pass
    last = Case.objects.aggregate(last=Max("created"))["last"]
    return None if last is None else timezone.localdate(last) + timedelta(days=1)


def replay_nights(end: date, *, days: int = DEFAULT_DAYS, every: int = 7) -> list[date]:
    """The nights replayed, oldest first: each of the last ``DAILY`` nights before ``end``,
    and one night in ``every`` before them, counted back from the first daily one."""
    nights = []
    for before_end in range(days, 0, -1):  # 1 for the last night
        if before_end > DAILY and (before_end - DAILY) % every:
            continue
        nights.append(end - timedelta(days=before_end))
    return nights


def generate_demo_warnings(
    *,
    days: int = DEFAULT_DAYS,
    end: date | None = None,
    full: bool = False,
    every: int = 7,
    progress=None,
) -> WarningSummary:
    """Run the nightly warning over the ``days`` days before ``end`` (default: the end of the
    demo cases): each of the last ``DAILY`` nights, one night in ``every`` before them."""
    if days < 1 or every < 1:
        raise ValueError("days and every must be positive")
    end = end or demo_end()
    summary = WarningSummary()
    if end is None:
        return summary
    started = time.perf_counter()
    summary.first, summary.last = end - timedelta(days=days), end - timedelta(days=1)
    for day in replay_nights(end, days=days, every=every):
        result = run_warnings(day, fast=None if full else True)
        summary.days += 1
        summary.new += result["new"]
        summary.updated += result["updated"]
        summary.grown += result["grown"]
        summary.errors += [f"{day} {e}" for e in result["errors"]]
        if progress is not None:
            progress(
                f"[{time.perf_counter() - started:6.1f}s] {day}: {result['new']} new, "
                f"{result['updated']} updated, {result['grown']} grown "
                f"({result['scanned']} categories with cases, {result['seconds']:.1f}s)"
            )
    signals = Signal.objects.filter(last_run__gte=summary.first, last_run__lte=summary.last)
    summary.signals = signals.count()
    summary.cluster_signals = signals.filter(category__code="0101").count()
    for code in signals.values_list("category__code", flat=True):
        summary.by_category[code] = summary.by_category.get(code, 0) + 1
    summary.seconds = time.perf_counter() - started
    record_event(
        AUDIT_ACTION,
        target_type="demo",
        target_id=str(end),
        target_repr=f"demo warnings {summary.first}..{summary.last}",
        after={"signals": summary.signals, "days": days, "every": every, "full": full},
    )
    return summary
