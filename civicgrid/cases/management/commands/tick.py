from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases.actions import do_supervise_case
from civicgrid.cases.models import Case, Notification
from civicgrid.cases.selectors import due_soon_cases, overdue_cases
from civicgrid.cases.workflow import InvalidTransition


def tick(now=None) -> dict[str, int]:
    """Remind about cases due soon and supervise overdue ones, each exactly once.

    Every case is claimed with a conditional UPDATE (``… WHERE overdue_supervised_at IS
    NULL``): when several nodes run ``tick`` at the same minute, exactly one wins a case.
    """
    now = now or timezone.now()
    reminded = supervised = 0
    for case in due_soon_cases(now).filter(due_soon_notified_at__isnull=True).iterator():
        with transaction.atomic():
            if (
                due_soon_cases(now)
                .filter(pk=case.pk, due_soon_notified_at__isnull=True)
                .update(due_soon_notified_at=now)
                != 1
            ):
                continue
            Notification.objects.create(
                unit_code=case.unit_code,
                channel=Notification.Channel.INBOX,
                case=case,
                event="due_soon",
                subject=_("Case %(code)s is due soon") % {"code": case.code},
                created=now,
            )
            reminded += 1
    for case in overdue_cases(now).filter(overdue_supervised_at__isnull=True).iterator():
        try:
            with transaction.atomic():
                # Claim only if it is still overdue now (not extended or closed meanwhile).
                claimed = (
                    overdue_cases(now)
                    .filter(pk=case.pk, overdue_supervised_at__isnull=True)
                    .update(overdue_supervised_at=now)
                )
                if claimed != 1:
                    continue
                do_supervise_case(
                    case,
                    actor=None,
                    level=Case.Supervised.NORMAL,
                    automatic=True,
                    reason=_("Overdue: the resolution deadline has passed."),
                )
                supervised += 1
        except InvalidTransition:
            continue  # closed between the query and the lock: nothing to supervise
    return {"reminded": reminded, "supervised": supervised}


class Command(BaseCommand):
    help = "Remind about cases due soon; supervise overdue ones (run every minute)."

    def handle(self, *args, **options):
        result = tick()
        self.stdout.write(f"reminded {result['reminded']}, supervised {result['supervised']}")
