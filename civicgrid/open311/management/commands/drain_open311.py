"""Make cases of the Open311 requests queued in the queued intake mode (issue 11)."""

import os
import socket
import time

from django.core.management.base import BaseCommand

from civicgrid.open311.actions import do_drain_service_requests
from civicgrid.open311.models import QueuedRequest


class Command(BaseCommand):
    help = (
        "Make cases of queued Open311 requests, in batches; safe to run on several nodes at "
        "once (rows are claimed by a conditional update)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=100, help="requests per claim")
        parser.add_argument("--node", default="", help="this runner's name in the claims")
        parser.add_argument(
            "--follow",
            type=float,
            default=0,
            metavar="SECONDS",
            help="keep running, looking for new requests every SECONDS when the queue is empty",
        )

    def handle(self, *args, batch, follow, node, **options):
        node = node or f"{socket.gethostname()}:{os.getpid()}"
        totals = {"claimed": 0, "done": 0, "failed": 0}
        started = time.perf_counter()
        while True:
            counts = do_drain_service_requests(node=node, batch=max(1, batch))
            for name, value in counts.items():
                totals[name] += value
            if counts["claimed"]:
                continue
            if not follow:
                break
            time.sleep(follow)
        seconds = time.perf_counter() - started
        left = QueuedRequest.objects.filter(state=QueuedRequest.State.QUEUED).count()
        self.stdout.write(
            f"{totals['done']} cases made, {totals['failed']} refused in {seconds:.1f} s; "
            f"{left} still queued"
        )
