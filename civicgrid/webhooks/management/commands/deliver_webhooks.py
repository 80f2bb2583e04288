from django.core.management.base import BaseCommand, CommandError

from civicgrid.webhooks.delivery import deliver_webhooks


class Command(BaseCommand):
    help = (
        "Post the queued webhook deliveries that are due (run every minute). "
        "Safe to run on several nodes at once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch", type=int, default=100, help="rows claimed per round (default 100)"
        )

    def handle(self, *args, batch, verbosity, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1")

        def progress(result):
            if verbosity > 0:
                self.stdout.write(f"… {result}")

        result = deliver_webhooks(batch=batch, progress=progress)
        self.stdout.write(f"done: {result}")
