"""Visits to key-group residents (B2, "应走尽走"): rules, due visits per period, visit records."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.core.roles import Role
from civicgrid.people.models import KeyGroup, Person
from civicgrid.regions.models import Grid


class Cadence(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    FORTNIGHTLY = "fortnightly", _("Fortnightly")
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")


# Most frequent first: a person in several key groups is visited at the most frequent cadence.
CADENCE_ORDER = [Cadence.WEEKLY, Cadence.FORTNIGHTLY, Cadence.MONTHLY, Cadence.QUARTERLY]


class VisitRule(models.Model):
    """How often the residents of a key group are visited, by whom, and what is looked at."""

    key_group = models.OneToOneField(
        KeyGroup,
        verbose_name=_("key group"),
        on_delete=models.PROTECT,
        related_name="inspection_rule",
    )
    cadence = models.CharField(_("cadence"), max_length=12, choices=Cadence.choices)
    follows_working_days = models.BooleanField(
        _("due on working days"),
        default=True,
        help_text=_("Due on the last working day of the period instead of its last day."),
    )
    responsible_role = models.CharField(
        _("responsible role"), max_length=20, choices=Role.choices, default=Role.GRID_WORKER
    )
    checklist = models.JSONField(
        _("checklist"), default=list, blank=True, help_text=_("What to look at, one item each.")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("key-group visit rule")
        verbose_name_plural = _("key-group visit rules")
        ordering = ["key_group__code"]

    def __str__(self):
        return f"{self.key_group} · {self.get_cadence_display()}"


class VisitOverride(models.Model):
    """A person visited at another cadence than their key groups' rules (e.g. weekly)."""

    person = models.OneToOneField(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="visit_override"
    )
    cadence = models.CharField(_("cadence"), max_length=12, choices=Cadence.choices)
    reason = models.CharField(_("reason"), max_length=200)
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    active = models.BooleanField(_("active"), default=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("visit cadence override")
        verbose_name_plural = _("visit cadence overrides")

    def __str__(self):
        return f"{self.person} · {self.get_cadence_display()}"


class DueVisit(models.Model):
    """One visit owed to a person in one period; made once by ``do_generate_due_visits``."""

    class State(models.TextChoices):
        DUE = "due", _("Due")
        DONE = "done", _("Done")
        MISSED = "missed", _("Missed")

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="due_visits"
    )
    rule = models.ForeignKey(
        VisitRule, verbose_name=_("key-group visit rule"), on_delete=models.PROTECT
    )
    cadence = models.CharField(_("cadence"), max_length=12, choices=Cadence.choices)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    due_date = models.DateField(_("due date"), db_index=True)
    grid = models.ForeignKey(
        Grid, verbose_name=_("grid"), null=True, blank=True, on_delete=models.PROTECT
    )
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible worker"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    state = models.CharField(
        _("state"), max_length=8, choices=State.choices, default=State.DUE, db_index=True
    )
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("due visit")
        verbose_name_plural = _("due visits")
        ordering = ["due_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "cadence", "period_start"], name="due_visit_once_per_period"
            )
        ]
        indexes = [models.Index(fields=["period_start", "cadence"], name="due_visit_period")]

    def __str__(self):
        return f"{self.person} · {self.period_start}–{self.period_end}"


class Visit(models.Model):
    """A visit made: who, whom, when, where, what was seen, and the case it raised if any."""

    class Outcome(models.TextChoices):
        SEEN = "seen", _("Person seen")
        NOT_FOUND = "not_found", _("Person not found")

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("visited by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="visits"
    )
    due_visit = models.ForeignKey(
        DueVisit,
        verbose_name=_("due visit"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="visits",
    )
    visited_at = models.DateTimeField(_("visited at"), db_index=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    answers = models.JSONField(_("checklist answers"), default=dict, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("case raised"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-visited_at", "-id"]

    def __str__(self):
        return f"{self.person} · {self.visited_at:%Y-%m-%d}"


class VisitPhoto(models.Model):
    """A photo taken on a visit: checked and re-encoded like a case's (``cases.photos``)."""

    visit = models.ForeignKey(
        Visit, verbose_name=_("visit"), on_delete=models.CASCADE, related_name="photos"
    )
    file = models.FileField(_("file"), upload_to="visits/%Y/%m/")
    content_type = models.CharField(max_length=40)
    sha256 = models.CharField(max_length=64, db_index=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    taken_at = models.DateTimeField(_("taken"), null=True, blank=True)
    created = models.DateTimeField(_("uploaded"))

    class Meta:
        verbose_name = _("visit photo")
        verbose_name_plural = _("visit photos")
        ordering = ["id"]

    def __str__(self):
        return self.file.name


class Patrol(models.Model):
    """A comprehensive walk (全面走) of a grid: its track and the houses it covered."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("walked by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    grid = models.ForeignKey(Grid, verbose_name=_("grid"), on_delete=models.PROTECT)
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    started_at = models.DateTimeField(_("started at"), db_index=True)
    ended_at = models.DateTimeField(_("ended at"))
    track = models.JSONField(
        _("track"),
        default=list,
        blank=True,
        help_text=_("Points walked, each [latitude, longitude, time]."),
    )
    length_m = models.FloatField(_("length (m)"), default=0)
    houses = models.ManyToManyField(
        "people.House",
        verbose_name=_("houses covered"),
        through="PatrolHouse",
        related_name="+",
        blank=True,
    )
    notes = models.TextField(_("notes"), blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("patrol")
        verbose_name_plural = _("patrols")
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"{self.grid} · {self.started_at:%Y-%m-%d}"

    @property
    def track_geojson(self) -> dict:
        """The track as a GeoJSON LineString (longitude first)."""
        return {"type": "LineString", "coordinates": [[p[1], p[0]] for p in self.track]}


class PatrolHouse(models.Model):
    """A house a patrol covered; the day is kept here so coverage is one aggregate query."""

    patrol = models.ForeignKey(Patrol, on_delete=models.CASCADE, related_name="covered")
    house = models.ForeignKey("people.House", on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"), db_index=True)
    region_code = models.CharField(max_length=18, db_index=True)

    class Meta:
        verbose_name = _("house covered")
        verbose_name_plural = _("houses covered")
        constraints = [
            models.UniqueConstraint(fields=["patrol", "house"], name="patrol_house_once")
        ]
        indexes = [models.Index(fields=["house", "day"], name="patrol_house_day")]

    def __str__(self):
        return f"{self.patrol_id} · {self.house_id}"
