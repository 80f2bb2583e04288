"""What an Open311 client sent with a request that a case has no field for."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.api.models import ApiKey
from civicgrid.cases.models import Case

__all__ = ["ServiceRequest"]


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
