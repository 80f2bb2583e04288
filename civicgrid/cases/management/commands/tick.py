import io
from datetime import timedelta

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from civicgrid.analytics import rollup
from civicgrid.cases.actions import do_remind_due_soon, do_supervise_overdue
from civicgrid.cases.selectors import due_soon_cases, overdue_cases
from civicgrid.core.audit import do_check_audit_chain
from civicgrid.core.daily import run_once_a_day
from civicgrid.core.partitions import ensure_partitions
from civicgrid.inspection.actions import do_generate_due_visits
from civicgrid.mediation.actions import do_remind_overdue_disputes
from civicgrid.open311.actions import do_drain_service_requests


def tick(now=None) -> dict[str, int]:
    """Remind about cases due soon and supervise overdue ones, each exactly once per deadline.

    Safe when several nodes tick at the same minute: each case is claimed by the action with
    a conditional UPDATE, so exactly one node acts on it.
    """
    now = now or timezone.now()
    ensure_partitions(now)  # PostgreSQL: the months ahead of the partitioned tables exist
    # The province KPI table's daily summary: the days whose cases changed since last time.
    summary = rollup.refresh()
    reminded = sum(
        do_remind_due_soon(case, now=now)
        for case in due_soon_cases(now).filter(due_soon_notified_at__isnull=True).iterator()
    )
    supervised = sum(
        do_supervise_overdue(case, now=now)
        for case in overdue_cases(now).filter(overdue_supervised_at__isnull=True).iterator()
    )
    # Owe this period's key-group visits (B2); a no-op once the period's rows exist.
    due_visits = do_generate_due_visits(now=now)
    # Disputes past their time limit: mediators and the centre told once per deadline.
    disputes = do_remind_overdue_disputes(now)
    # Queued Open311 reports (OPEN311_QUEUED_INTAKE) made into cases, a batch per tick;
    # `drain_open311 --follow` on one or more nodes keeps up with a busy day.
    drained = do_drain_service_requests(now=now)["done"]
    # Walk the audit hash chain once a day (the first tick of the day on any node).
    audit = do_check_audit_chain(now=now, daily=True)
    # The analysis end, once a day for the day before: the early-warning run, then the
    # reports (the daily report includes the night's signals). Each claimed by one node.
    today = timezone.localdate(now)
    warned = run_once_a_day("warn", today, lambda: _warn(today - timedelta(days=1)), now=now)
    reported = run_once_a_day("reports", today, lambda: _reports(today), now=now)
    return {
        "reminded": reminded,
        "supervised": supervised,
        "due_visits": due_visits,
        "overdue_disputes": disputes,
        "drained": drained,
        "summary_days": summary["days"],
        "audit_checked": int(audit is not None),
        "warned": int(warned is not None),
        "reported": int(reported is not None),
    }


def _warn(day) -> str:
    from civicgrid.warning.run import run_warnings

    return str(run_warnings(day))


def _reports(today) -> str:
    out = io.StringIO()
    call_command("reports", date=today.isoformat(), stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


class Command(BaseCommand):
    help = (
        "Remind about cases due soon; supervise overdue ones; owe key-group visits; tell "
        "mediators about overdue disputes; once a day check the audit chain, run the early warning "
        "and make the due reports (run every minute)."
    )

    def handle(self, *args, **options):
        result = tick()
        self.stdout.write(
            f"reminded {result['reminded']}, supervised {result['supervised']}, "
            f"due visits {result['due_visits']}, overdue disputes {result['overdue_disputes']}, "
            f"audit chain checked {result['audit_checked']}, early warning run "
            f"{result['warned']}, reports run {result['reported']}"
        )
