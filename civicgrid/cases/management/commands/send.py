from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from civicgrid.cases.models import Notification
from civicgrid.cases.senders import sender_for

CLAIM_SECONDS = 120
MAX_ATTEMPTS = 5


def drain(batch: int = 200) -> tuple[int, int]:
    """Deliver queued notifications. Safe on several nodes at once: each row is claimed with
    a conditional UPDATE, so exactly one process sends it."""
    sent = failed = 0
    while True:
        now = timezone.now()
        ids = list(
            Notification.objects.filter(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("id")
            .values_list("id", flat=True)[:batch]
        )
        if not ids:
            return sent, failed
        for pk in ids:
            claimed = (
                Notification.objects.filter(pk=pk, sent_at__isnull=True)
                .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
                .update(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
            )
            if claimed != 1:
                continue  # another node took it
            notification = Notification.objects.get(pk=pk)
            try:
                sender_for(notification.channel).send(notification)
            except Exception as exc:  # a gateway failure must not stop the others
                # Back off: 1, 4, 9, 16 … minutes before the next try.
                delay = timedelta(minutes=(notification.attempts + 1) ** 2)
                Notification.objects.filter(pk=pk).update(
                    attempts=notification.attempts + 1,
                    last_error=str(exc)[:500],
                    claimed_until=timezone.now() + delay,
                )
                failed += 1
            else:
                with transaction.atomic():
                    Notification.objects.filter(pk=pk).update(
                        sent_at=timezone.now(), attempts=notification.attempts + 1
                    )
                sent += 1


class Command(BaseCommand):
    help = "Deliver queued notifications (in-app, SMS, webhook). Safe to run on several nodes."

    def handle(self, *args, **options):
        sent, failed = drain()
        self.stdout.write(f"sent {sent}, failed {failed}")
