from django.core.management.base import BaseCommand
from django.utils import timezone

from civicgrid.cases.actions import do_remind_due_soon, do_supervise_overdue
from civicgrid.cases.selectors import due_soon_cases, overdue_cases


def tick(now=None) -> dict[str, int]:
    """Remind about cases due soon and supervise overdue ones, each exactly once per deadline.

    Safe when several nodes tick at the same minute: each case is claimed by the action with
    a conditional UPDATE, so exactly one node acts on it.
    """
    now = now or timezone.now()
    reminded = sum(
        do_remind_due_soon(case, now=now)
        for case in due_soon_cases(now).filter(due_soon_notified_at__isnull=True).iterator()
    )
    supervised = sum(
        do_supervise_overdue(case, now=now)
        for case in overdue_cases(now).filter(overdue_supervised_at__isnull=True).iterator()
    )
    return {"reminded": reminded, "supervised": supervised}


class Command(BaseCommand):
    help = "Remind about cases due soon; supervise overdue ones (run every minute)."

    def handle(self, *args, **options):
        result = tick()
        self.stdout.write(f"reminded {result['reminded']}, supervised {result['supervised']}")
