import sys

from django.core.management.base import BaseCommand, CommandError

from civicgrid.core.audit import do_check_audit_chain, verify_chain
from civicgrid.core.models import AuditChainHead


class Command(BaseCommand):
    help = (
        "Check that no audit event was edited, inserted or deleted (walks the hash chain); "
        "the result is kept for the audit page."
    )

    def handle(self, *args, **options):
        head = AuditChainHead.objects.filter(pk=1).first()
        total = head.count if head else 0

        def progress(done):
            sys.stderr.write(f"\r  checked {done:,} / {total:,} events")
            sys.stderr.flush()

        check = do_check_audit_chain(progress=progress if total > 20000 else None)
        if total > 20000:
            sys.stderr.write("\n")
        if check.problems:
            for problem in verify_chain():
                where = f"event {problem.event_id}" if problem.event_id else "chain"
                self.stdout.write(f"TAMPERED {where}: {problem.message}")
            raise CommandError(f"audit trail is not intact: {check.problems} problem(s)")
        self.stdout.write(f"audit trail intact: {total} events")
