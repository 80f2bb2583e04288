"""Early-warning settings per category, the signals the daily run finds, and their history.

A signal is one unusual cluster of cases of one category: a set of grids over some days for
the space–time scans, or a township / the county for the temporal detectors. The daily run
(``civicgrid.warning.run``) creates it, updates it while the cluster goes on, and re-announces
it only when it grows; people acknowledge, dismiss or act on it (``civicgrid.warning.actions``).
"""

import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.warning import workflow

__all__ = ["Method", "ReportingDay", "Signal", "SignalArea", "SignalStep", "WarningSetting"]


class Method(models.TextChoices):
    PERMUTATION = "permutation", _("Space–time permutation scan")
    POISSON = "poisson", _("Expectation-based Poisson scan")
    TEMPORAL = "temporal", _("Temporal detector (EARS / GLM-CUSUM)")


SCAN_METHODS = (Method.PERMUTATION, Method.POISSON)


class WarningSetting(models.Model):
    """How the daily run treats one category. A category without a row uses the defaults."""

    category = models.OneToOneField(
        "cases.Category",
        verbose_name=_("category"),
        on_delete=models.CASCADE,
        related_name="warning_setting",
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    methods = models.JSONField(
        _("methods"), default=list, help_text=_("Which detectors run for this category.")
    )
    max_days = models.PositiveSmallIntegerField(_("longest cluster (days)"), default=7)
    max_cells = models.PositiveSmallIntegerField(_("largest cluster (grids)"), default=10)
    max_radius_km = models.FloatField(_("largest cluster radius (km)"), default=2.0)
    threshold_days = models.PositiveIntegerField(
        _("alarm threshold (recurrence interval, days)"),
        default=100,
        help_text=_(
            "A cluster is signalled when it would happen by chance less than once in so many days."
        ),
    )
    min_cases = models.PositiveSmallIntegerField(
        _("fewest cases for a signal"),
        default=5,
        help_text=_("No signal for a cluster of fewer cases, however unusual (sparse categories)."),
    )
    replicates = models.PositiveIntegerField(_("Monte Carlo replicates"), default=999)
    fast = models.BooleanField(
        _("fast approximation"),
        default=False,
        help_text=_("Fewer replicates with a fitted tail instead of the full Monte Carlo run."),
    )
    history_days = models.PositiveSmallIntegerField(_("history used (days)"), default=365)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    DEFAULT_METHODS = [m.value for m in Method]

    class Meta:
        verbose_name = _("early-warning setting")
        verbose_name_plural = _("early-warning settings")
        ordering = ["category__code"]

    def __str__(self):
        return f"{self.category} · {self.threshold_days}"

    @property
    def active_methods(self) -> list[str]:
        return [m for m in (self.methods or self.DEFAULT_METHODS) if m in Method.values]


class Signal(models.Model):
    """One unusual cluster of one category's cases."""

    category = models.ForeignKey(
        "cases.Category", verbose_name=_("category"), on_delete=models.PROTECT, related_name="+"
    )
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    methods = models.JSONField(_("found by"), default=list)
    grid_codes = models.JSONField(_("grids"), default=list)  # empty for a temporal signal
    village_codes = models.JSONField(_("villages"), default=list)
    town_codes = models.JSONField(_("townships"), default=list)
    region_code = models.CharField(
        _("region code"),
        max_length=18,
        db_index=True,
        help_text=_("The narrowest region holding every place of the signal."),
    )
    start = models.DateField(_("from"))
    end = models.DateField(_("to"))
    observed = models.PositiveIntegerField(_("observed"))
    expected = models.FloatField(_("expected"))
    relative_risk = models.FloatField(_("relative risk"))
    statistic = models.FloatField(_("statistic"), default=0)
    p_value = models.FloatField(_("p-value"))
    recurrence_days = models.FloatField(_("recurrence interval (days)"))
    first_run = models.DateField(_("first found on"), db_index=True)
    last_run = models.DateField(_("last updated on"), db_index=True)
    fingerprint = models.CharField(_("fingerprint"), max_length=40, db_index=True)
    announced_cells = models.PositiveIntegerField(default=0)
    announced_observed = models.PositiveIntegerField(default=0)
    state = models.CharField(
        _("state"),
        max_length=16,
        choices=list(workflow.STATE_LABELS.items()),
        default=workflow.NEW,
        db_index=True,
    )
    dismiss_reason = models.TextField(_("reason for dismissal"), blank=True)
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="warning_signals",
    )
    case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="warning_signals",
    )
    created = models.DateTimeField(_("created"))
    updated = models.DateTimeField(_("updated"))

    class Meta:
        verbose_name = _("early-warning signal")
        verbose_name_plural = _("early-warning signals")
        ordering = ["-last_run", "-recurrence_days", "-id"]
        indexes = [models.Index(fields=["category", "last_run"])]

    def __str__(self):
        return f"#{self.pk} {self.category.code} {self.start}–{self.end}"

    @property
    def is_temporal(self) -> bool:
        return not self.grid_codes

    @property
    def is_open(self) -> bool:
        return self.state in workflow.OPEN_STATES

    @staticmethod
    def make_fingerprint(category_id: int, places) -> str:
        """The announced footprint: category and places (grids, or the region of a series)."""
        text = f"{category_id}|{','.join(sorted(places))}"
        return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (an identifier, not security)


class SignalArea(models.Model):
    """A place a signal covers (a grid code, or the region of a temporal signal), for scoping."""

    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="areas")
    code = models.CharField(max_length=18, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["signal", "code"], name="warning_area_once"),
        ]

    def __str__(self):
        return f"{self.signal_id} {self.code}"


class SignalStep(models.Model):
    """A signal's history (append-only): found, grew, acknowledged, dismissed, acted on."""

    signal = models.ForeignKey(
        Signal, verbose_name=_("signal"), on_delete=models.CASCADE, related_name="steps"
    )
    action = models.CharField(_("action"), max_length=16)
    from_state = models.CharField(_("from"), max_length=16, blank=True)
    to_state = models.CharField(_("to"), max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    run_day = models.DateField(_("run of"), null=True, blank=True)
    created = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("signal step")
        verbose_name_plural = _("signal steps")
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.signal_id} {self.action}"


class ReportingDay(models.Model):
    """A day whose report counts say nothing about problems (reference §5.1): a publicity push
    or an app campaign (reports everywhere rise), or an outage of the reporting channels (they
    fall). The county centre marks it; every detector of the daily run leaves it out."""

    class Kind(models.TextChoices):
        PUBLICITY = "publicity", _("Publicity or app campaign (more reports)")
        OUTAGE = "outage", _("Outage of the reporting channels (fewer reports)")
        OTHER = "other", _("Other reporting disturbance")

    day = models.DateField(_("day"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("marked by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created = models.DateTimeField(_("marked at"))

    class Meta:
        verbose_name = _("reporting disturbance day")
        verbose_name_plural = _("reporting disturbance days")
        ordering = ["-day"]

    def __str__(self):
        return f"{self.day} {self.get_kind_display()}"
