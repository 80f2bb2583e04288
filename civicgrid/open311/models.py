"""What an Open311 client sent with a request that a case has no field for."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.api.models import ApiKey
from civicgrid.cases.models import Case

__all__ = ["QueuedRequest", "ServiceRequest"]


class ServiceRequest(models.Model):
    """A case that came in through ``POST requests``: which key sent it and the client's ids.

    The reporter's e-mail address is not kept (the phone is, sealed, on the case's reporter).
    """

    case = models.OneToOneField(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="open311"
    )
    api_key = models.ForeignKey(
        ApiKey, verbose_name=_("API key"), on_delete=models.PROTECT, related_name="+"
    )
    account_id = models.CharField(_("account id"), max_length=100, blank=True)
    device_id = models.CharField(_("device id"), max_length=100, blank=True)
    address_id = models.CharField(_("address id"), max_length=100, blank=True)
    media_url = models.URLField(_("media URL"), max_length=500, blank=True)
    created = models.DateTimeField(_("received"))

    class Meta:
        verbose_name = _("Open311 request")
        verbose_name_plural = _("Open311 requests")

    def __str__(self):
        return str(self.case_id)


class QueuedRequest(models.Model):
    """A service request taken in the queued intake mode: answered with a token at once and
    made into a case later by ``do_drain_service_requests`` (GeoReport v2's ``batch`` type).

    ``params`` holds what the client sent (the phone in clear, as on the wire) only until the
    case is made: it is emptied then, the case keeps the sealed phone.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        DONE = "done", _("case made")
        FAILED = "failed", _("refused")

    token = models.CharField(_("token"), max_length=32, unique=True)
    api_key = models.ForeignKey(
        ApiKey, verbose_name=_("API key"), on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=64, null=True, blank=True, unique=True
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.QUEUED)
    claimed_by = models.CharField(_("claimed by"), max_length=80, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    case = models.ForeignKey(
        Case,
        verbose_name=_("case"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    error = models.TextField(_("why it was refused"), blank=True)
    created = models.DateTimeField(_("received"))

    class Meta:
        verbose_name = _("queued Open311 request")
        verbose_name_plural = _("queued Open311 requests")
        indexes = [models.Index(fields=["state", "id"], name="open311_queued_state_id")]

    def __str__(self):
        return self.token
