"""Pluggable notification senders. The inbox needs no delivery; SMS and webhooks go through
a gateway interface whose default implementation logs (set CIVICGRID_SMS_SENDER /
CIVICGRID_WEBHOOK_SENDER to a dotted path of a class with ``send(notification)``)."""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

__all__ = ["LoggingSender", "sender_for"]

log = logging.getLogger("civicgrid.notifications")


class InboxSender:
    def send(self, notification) -> None:
        """In-app: the row itself is the message; nothing to deliver."""


class LoggingSender:
    def send(self, notification) -> None:
        log.info("notify %s %s: %s", notification.channel, notification.event, notification.subject)


def sender_for(channel: str):
    if channel == "inbox":
        return InboxSender()
    path = getattr(settings, f"CIVICGRID_{channel.upper()}_SENDER", "")
    return import_string(path)() if path else LoggingSender()
