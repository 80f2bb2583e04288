"""Special inspection campaigns (专项排查, B3): campaigns, the objects they check, the checks.

A campaign covers areas (``CampaignArea``: township, village or grid codes); its targets sit
in grids inside them; a worker's check of a target that finds a hazard raises a case (of the
campaign's category) linked from the check — that link is the case's campaign tag, and the
case's own state says whether the hazard is rectified (nothing is copied).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.campaigns import workflow
from civicgrid.regions.models import Grid

__all__ = ["Campaign", "CampaignArea", "CampaignCheck", "CampaignStep", "CampaignTarget"]


class Campaign(models.Model):
    """A theme checked across an area for a period (僵尸车整治, 出租房消防隐患 …)."""

    class State(models.TextChoices):
        DRAFT = workflow.DRAFT, workflow.STATE_LABELS[workflow.DRAFT]
        ACTIVE = workflow.ACTIVE, workflow.STATE_LABELS[workflow.ACTIVE]
        CLOSED = workflow.CLOSED, workflow.STATE_LABELS[workflow.CLOSED]

    class OrganiserLevel(models.TextChoices):
        COUNTY = "county", _("County centre")
        TOWN = "town", _("Township")

    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("case category of findings"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    target_types = models.JSONField(
        _("target object types"), default=list, blank=True, help_text=_("One type each.")
    )
    checklist = models.JSONField(
        _("checklist"), default=list, blank=True, help_text=_("What to check, one item each.")
    )
    organiser_level = models.CharField(
        _("organised by"), max_length=8, choices=OrganiserLevel.choices
    )
    region_code = models.CharField(
        _("organiser's region code"), max_length=12, db_index=True
    )  # the county's or the township's code
    state = models.CharField(
        _("state"), max_length=8, choices=State.choices, default=State.DRAFT, db_index=True
    )
    source = models.CharField(
        _("source"),
        max_length=300,
        blank=True,
        help_text=_("What the campaign was made from, e.g. an early warning."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created = models.DateTimeField(_("created"))
    activated_at = models.DateTimeField(_("started"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("special campaign")
        verbose_name_plural = _("special campaigns")
        ordering = ["-start", "-id"]

    def __str__(self):
        return self.title

    @property
    def scope_codes(self) -> list[str]:
        return sorted(area.code for area in self.areas.all())


class CampaignArea(models.Model):
    """One area a campaign covers: a township, village or grid code (a subtree)."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="areas"
    )
    code = models.CharField(_("region or grid code"), max_length=18, db_index=True)

    class Meta:
        verbose_name = _("campaign area")
        verbose_name_plural = _("campaign areas")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "code"], name="campaign_area_once")
        ]

    def __str__(self):
        return self.code


class CampaignStep(models.Model):
    """A campaign's history: created, started, closed (append-only)."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="steps"
    )
    action = models.CharField(_("action"), max_length=16)
    from_state = models.CharField(_("from"), max_length=8, blank=True)
    to_state = models.CharField(_("to"), max_length=8)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    created = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("campaign step")
        verbose_name_plural = _("campaign steps")
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.campaign} · {self.action}"


class CampaignTarget(models.Model):
    """An object to check in a grid (a car, a rented house, a shop …)."""

    class State(models.TextChoices):
        PENDING = "pending", _("To check")
        CHECKED = "checked", _("Checked")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="targets"
    )
    kind = models.CharField(_("type"), max_length=40)
    label = models.CharField(_("object"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    grid = models.ForeignKey(Grid, verbose_name=_("grid"), on_delete=models.PROTECT)
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    state = models.CharField(
        _("state"), max_length=8, choices=State.choices, default=State.PENDING, db_index=True
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("added by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created = models.DateTimeField(_("added"))

    class Meta:
        verbose_name = _("campaign target")
        verbose_name_plural = _("campaign targets")
        ordering = ["region_code", "id"]
        indexes = [models.Index(fields=["campaign", "region_code"], name="campaign_target_area")]

    def __str__(self):
        return f"{self.label} ({self.kind})"


class CampaignCheck(models.Model):
    """A worker's check of a target: answers, a hazard or not, and the case it raised."""

    target = models.ForeignKey(
        CampaignTarget, verbose_name=_("target"), on_delete=models.CASCADE, related_name="checks"
    )
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="checks"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("checked by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    checked_at = models.DateTimeField(_("checked at"), db_index=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    answers = models.JSONField(_("checklist answers"), default=dict, blank=True)
    hazard = models.BooleanField(_("hazard found"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    case = models.OneToOneField(
        "cases.Case",
        verbose_name=_("case raised"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaign_check",
    )
    created = models.DateTimeField(_("recorded"))

    class Meta:
        verbose_name = _("campaign check")
        verbose_name_plural = _("campaign checks")
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(fields=["campaign", "region_code"], name="campaign_check_area")]

    def __str__(self):
        return f"{self.target} · {self.checked_at:%Y-%m-%d}"
