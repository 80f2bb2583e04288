import sys

from django.core.management.base import BaseCommand, CommandError

from civicgrid.core.audit import verify_chain
from civicgrid.core.models import AuditChainHead


class Command(BaseCommand):
    help = "Check that no audit event was edited, inserted or deleted (walks the hash chain)."

    def handle(self, *args, **options):
        head = AuditChainHead.objects.filter(pk=1).first()
        total = head.count if head else 0

        def progress(done):
            sys.stderr.write(f"\r  checked {done:,} / {total:,} events")
            sys.stderr.flush()

        problems = list(verify_chain(progress=progress if total > 20000 else None))
        if total > 20000:
            sys.stderr.write("\n")
        for problem in problems:
            where = f"event {problem.event_id}" if problem.event_id else "chain"
            self.stdout.write(f"TAMPERED {where}: {problem.message}")
        if problems:
            raise CommandError(f"audit trail is not intact: {len(problems)} problem(s)")
        self.stdout.write(f"audit trail intact: {total} events")
