"""Keys that outside systems (a 311 app, a city hotline platform) use to write to civicgrid,
and personal tokens people make for their own scripts (kind ``personal``, acting as them).

Only the SHA-256 of a key's secret is stored; the secret is shown once, when the key is made.
A key acts as its service account (``user``) or, without one, as an anonymous integration.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.people.models import Department

__all__ = ["ApiKey"]


class ApiKey(models.Model):
    class Kind(models.TextChoices):
        INTEGRATION = "integration", _("Integration key")
        PERSONAL = "personal", _("Personal token")

    kind = models.CharField(
        _("kind"), max_length=12, choices=Kind.choices, default=Kind.INTEGRATION
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(
        _("prefix"), max_length=8, help_text=_("The first characters of the key, to recognise it.")
    )
    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acts as"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The service account the key acts as; empty for an anonymous integration."),
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    region_code = models.CharField(
        _("region code"),
        max_length=18,
        blank=True,
        help_text=_("Reports through this key must lie in this area; empty for the whole county."),
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
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(
        _("expires"),
        null=True,
        blank=True,
        help_text=_("A personal token stops working at this time; empty for never."),
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        from django.utils import timezone

        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )
