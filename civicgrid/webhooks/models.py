"""Outbound webhooks: who is told about which case events, and the log of every delivery.

A ``WebhookDelivery`` is written in the same transaction as the case action it reports (the
outbox), then POSTed by ``deliver_webhooks`` with an HMAC-SHA256 signature; failures are
retried with exponential backoff and the row keeps the outcome (the delivery log).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.cases.models import Case
from civicgrid.people.models import Department

__all__ = ["ALL_EVENTS", "WebhookDelivery", "WebhookSubscription"]

ALL_EVENTS = "*"


class WebhookSubscription(models.Model):
    """An outside system that receives signed POSTs for the case events it chose.

    The signing secret is stored encrypted (Fernet under ``CIVICGRID_PII_KEY``) because it is
    needed in clear to sign; it is shown once, when made or rotated.
    """

    name = models.CharField(_("name"), max_length=100)
    target_url = models.CharField(_("target URL"), max_length=500)
    secret_cipher = models.TextField()
    secret_prefix = models.CharField(
        _("secret prefix"),
        max_length=8,
        help_text=_("The first characters of the signing secret, to recognise it."),
    )
    events = models.JSONField(
        _("events"),
        default=list,
        help_text=_("Case actions to send (report, dispatch, sign …), or “*” for all."),
    )
    region_code = models.CharField(
        _("region code"),
        max_length=18,
        blank=True,
        db_index=True,
        help_text=_("Only cases in this area; empty for the whole county."),
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Only cases dispatched to this department; empty for any."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created = models.DateTimeField(_("created"))
    secret_rotated_at = models.DateTimeField(_("secret rotated"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["-created", "-id"]

    def __str__(self):
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class WebhookDelivery(models.Model):
    """One event for one subscription: the outbox row, then the record of how it went."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("webhook delivery", "Pending")
        RETRYING = "retrying", _("Failed, retrying")
        DELIVERED = "delivered", _("Delivered")
        GAVE_UP = "gave_up", _("Gave up")

    subscription = models.ForeignKey(
        WebhookSubscription,
        verbose_name=_("subscription"),
        on_delete=models.PROTECT,
        related_name="deliveries",
    )
    event = models.CharField(_("event"), max_length=24)
    case = models.ForeignKey(
        Case,
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    payload = models.JSONField(_("payload"))
    created = models.DateTimeField(_("created"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(
        _("next attempt"),
        null=True,
        blank=True,
        help_text=_("While an attempt runs, the end of its claim."),
    )
    last_status_code = models.PositiveSmallIntegerField(
        _("last HTTP status"), null=True, blank=True
    )
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    response_ms = models.PositiveIntegerField(_("response time (ms)"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.event} → {self.subscription_id} #{self.pk}"
