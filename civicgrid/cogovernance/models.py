"""Co-governance members (流动网格员), their points ledger and the annual award (MISSION B4, E2).

Volunteers, residents and gig workers register with a proven mobile number and report through
the ordinary report page. Points are earned when their reports prove useful — accepted, confirmed
as a duplicate of a real problem, the hazard removed (the case closed) — under ``PointRule`` rows
the county edits. ``PointEntry`` is an append-only ledger: every entry names its cause (the case
and its timeline row); a correction is a new negative entry pointing at the entry it reverses.
Once a year the county proposes the top 100 "优秀共治员" from the ledger, reviews and confirms
them (``Award``, ``AwardCandidate``).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.people.models import Person
from civicgrid.regions.models import Grid

__all__ = [
    "Award",
    "AwardCandidate",
    "Event",
    "InvalidatedReport",
    "LedgerIsAppendOnly",
    "Member",
    "PointEntry",
    "PointRule",
]


class Event(models.TextChoices):
    """What earns points; each has one ``PointRule``."""

    ACCEPTED = "accepted", _("Valid report accepted")
    DUPLICATE = "duplicate", _("Duplicate report confirmed")
    CLOSED = "closed", _("Hazard removed (case closed)")


class Member(models.Model):
    """A registered co-governance member; one per mobile number."""

    class Kind(models.TextChoices):
        VOLUNTEER = "volunteer", _("Volunteer")
        RESIDENT = "resident", _("Resident")
        DELIVERY = "delivery", _("Food-delivery rider")
        COURIER = "courier", _("Courier")
        RIDE_HAILING = "ride_hailing", _("Ride-hailing driver")

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", pgettext_lazy("member", "Suspended")

    person = models.OneToOneField(
        Person, verbose_name=_("person"), on_delete=models.PROTECT, related_name="+"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login account"),
        on_delete=models.PROTECT,
        related_name="cogovernance_member",
    )
    name = models.CharField(pgettext_lazy("person", "name"), max_length=50)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    platform = models.CharField(
        _("platform"),
        max_length=40,
        blank=True,
        help_text=_("The platform a gig worker works for (e.g. Meituan, SF Express, DiDi)."),
    )
    town_code = models.CharField(_("township"), max_length=9, db_index=True)
    grid = models.ForeignKey(
        Grid, verbose_name=_("grid"), null=True, blank=True, on_delete=models.PROTECT
    )
    region_code = models.CharField(
        _("region code"),
        max_length=18,
        db_index=True,
        help_text=_("The member's grid, or township if no grid; decides who sees the member."),
    )
    phone_hash = models.CharField(max_length=64, unique=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, editable=False)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.ACTIVE, db_index=True
    )
    state_reason = models.CharField(_("reason"), max_length=200, blank=True)
    joined = models.DateTimeField(_("joined"))

    class Meta:
        verbose_name = _("co-governance member")
        verbose_name_plural = _("co-governance members")
        ordering = ["region_code", "id"]

    def __str__(self):
        return f"{self.name} ({self.phone_masked})"


class PointRule(models.Model):
    """How many points an event earns, and how many a member may earn by it per day/month."""

    event = models.CharField(
        pgettext_lazy("points", "event"), max_length=16, choices=Event.choices, unique=True
    )
    points = models.PositiveIntegerField(_("points"))
    daily_cap = models.PositiveIntegerField(
        _("daily cap"),
        null=True,
        blank=True,
        help_text=_("Most points one member earns by this rule in a day (empty: no cap)."),
    )
    monthly_cap = models.PositiveIntegerField(
        _("monthly cap"),
        null=True,
        blank=True,
        help_text=_("Most points one member earns by this rule in a month (empty: no cap)."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("points rule")
        verbose_name_plural = _("points rules")
        ordering = ["event"]

    def __str__(self):
        return f"{self.get_event_display()}: {self.points}"


class LedgerIsAppendOnly(Exception):
    """A ledger entry was to be changed or deleted; write a reversal instead."""


class _LedgerQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LedgerIsAppendOnly("points entries are never updated")

    def delete(self):
        raise LedgerIsAppendOnly("points entries are never deleted")


class PointEntry(models.Model):
    """One line of the points ledger. Written once: never updated, never deleted.

    ``effective`` is when the points count (leaderboards, the award): the moment of the cause
    for an award, and the moment of the reversed entry for a reversal, so a report found
    invalid later is taken out of the period it was counted in.
    """

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="entries"
    )
    points = models.IntegerField(_("points"))
    event = models.CharField(pgettext_lazy("points", "event"), max_length=16, choices=Event.choices)
    rule = models.ForeignKey(
        PointRule, verbose_name=_("rule"), null=True, blank=True, on_delete=models.PROTECT
    )
    case = models.ForeignKey(
        "cases.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="+"
    )
    action = models.ForeignKey(
        "cases.CaseAction",
        verbose_name=_("timeline step"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("reverses"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    effective = models.DateTimeField(_("counts on"), db_index=True)
    created = models.DateTimeField(_("recorded"))

    objects = _LedgerQuerySet.as_manager()

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "case", "event"],
                condition=Q(reverses__isnull=True),
                name="cogovernance_one_award_per_case_event",
            )
        ]

    def __str__(self):
        return f"{self.member_id} {self.points:+d} {self.event}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LedgerIsAppendOnly("points entries are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerIsAppendOnly("points entries are never deleted")


class InvalidatedReport(models.Model):
    """A report found invalid after the fact: its points were reversed; it earns no more."""

    case = models.OneToOneField(
        "cases.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=200)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("invalidated report")
        verbose_name_plural = _("invalidated reports")

    def __str__(self):
        return str(self.case_id)


class Award(models.Model):
    """The annual "优秀共治员" award of a county: proposed from the ledger, then confirmed."""

    class State(models.TextChoices):
        PROPOSED = "proposed", _("Proposed, under review")
        CONFIRMED = "confirmed", _("Confirmed")

    county_code = models.CharField(_("county"), max_length=6)
    year = models.PositiveIntegerField(_("year"))
    size = models.PositiveIntegerField(_("number of awards"), default=100)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PROPOSED
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(_("proposed"))
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)

    class Meta:
        verbose_name = _("annual award")
        verbose_name_plural = _("annual awards")
        ordering = ["-year", "county_code"]
        constraints = [
            models.UniqueConstraint(fields=["county_code", "year"], name="cogovernance_award_once")
        ]

    def __str__(self):
        return f"{self.county_code} {self.year}"


class AwardCandidate(models.Model):
    """A member in the year's ranking; the first ``size`` not excluded are the awardees."""

    award = models.ForeignKey(Award, on_delete=models.CASCADE, related_name="candidates")
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="+"
    )
    rank = models.PositiveIntegerField(_("rank in the ledger"))
    points = models.IntegerField(_("points"))
    accepted = models.PositiveIntegerField(_("accepted reports"))
    last_entry = models.DateTimeField(_("reached the total"))
    excluded_reason = models.CharField(_("reason for exclusion"), max_length=200, blank=True)
    excluded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    excluded_at = models.DateTimeField(_("excluded"), null=True, blank=True)
    final_rank = models.PositiveIntegerField(_("award number"), null=True, blank=True)

    class Meta:
        verbose_name = _("award candidate")
        verbose_name_plural = _("award candidates")
        ordering = ["award", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["award", "member"], name="cogovernance_candidate_once"),
            models.UniqueConstraint(fields=["award", "rank"], name="cogovernance_candidate_rank"),
        ]

    def __str__(self):
        return f"{self.award} #{self.rank} {self.member_id}"

    @property
    def excluded(self) -> bool:
        return self.excluded_at is not None

    @property
    def certificate_number(self) -> str:
        return f"{self.award.year}-{self.final_rank:03d}" if self.final_rank else ""
