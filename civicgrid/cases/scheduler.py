"""The embedded scheduler: in the single-process demo, run ``tick``, ``send`` and
``deliver_webhooks`` every minute.

Production runs the same commands from cron or systemd timers instead; all are safe to run
on several nodes at once, so overlapping with this thread is harmless too.
"""

import logging
import threading

from django.db import close_old_connections

__all__ = ["start_background_jobs"]

log = logging.getLogger("civicgrid.scheduler")


def _run_forever(stop: threading.Event, interval: float) -> None:
    from civicgrid.cases.management.commands.send import drain
    from civicgrid.cases.management.commands.tick import tick
    from civicgrid.webhooks.delivery import deliver_webhooks

    while not stop.wait(interval):
        close_old_connections()
        try:
            result = tick()
            sent, failed = drain()
            if any(result.values()) or sent or failed:
                log.info("tick %s, sent %d, failed %d", result, sent, failed)
        except Exception:  # keep the loop alive; the next minute tries again
            log.exception("background jobs failed")
        try:  # apart, so a webhook problem cannot hold up reminders and the inbox
            webhooks = deliver_webhooks()
            if webhooks.attempted:
                log.info("webhooks: %s", webhooks)
        except Exception:
            log.exception("webhook delivery failed")
        finally:
            close_old_connections()


def start_background_jobs(interval: float = 60.0) -> threading.Event:
    stop = threading.Event()
    threading.Thread(
        target=_run_forever, args=(stop, interval), daemon=True, name="civicgrid-jobs"
    ).start()
    return stop
