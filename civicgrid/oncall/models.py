"""Department staff posted in grids (常驻 / 随叫随驻) and the summons sent to them (MISSION A3).

A ``StaffPosting`` links a department's staff member (a person with a login and a role for
that department) to a grid for a period. A ``Summons`` is one call from a case's command room
to one posted person; its history is the append-only ``SummonsEvent`` rows, and the case's
timeline gets a row when the person is summoned, arrives and finishes.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.cases.models import Case
from civicgrid.oncall import workflow
from civicgrid.people.models import Department, Person
from civicgrid.regions.models import Grid

__all__ = ["StaffPosting", "Summons", "SummonsEvent", "SummonsPhoto"]


class StaffPosting(models.Model):
    class Kind(models.TextChoices):
        ON_CALL = "on_call", _("On call (随叫随驻)")
        RESIDENT = "resident", _("Resident (常驻)")

    person = models.ForeignKey(
        Person, verbose_name=_("staff member"), on_delete=models.PROTECT, related_name="postings"
    )
    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.PROTECT, related_name="+"
    )
    grid = models.ForeignKey(
        Grid, verbose_name=_("grid"), on_delete=models.PROTECT, related_name="staff_postings"
    )
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    starts_on = models.DateField(pgettext_lazy("posting", "from"))
    ends_on = models.DateField(pgettext_lazy("posting", "until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created = models.DateTimeField(_("created"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("staff posting")
        verbose_name_plural = _("staff postings")
        ordering = ["region_code", "department_id", "kind", "id"]
        indexes = [models.Index(fields=["grid", "department", "ends_on"])]

    def __str__(self):
        return f"{self.person.name} · {self.department} · {self.grid.name}"

    def active_on(self, day) -> bool:
        return self.starts_on <= day and (self.ends_on is None or self.ends_on >= day)


class Summons(models.Model):
    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="summonses"
    )
    posting = models.ForeignKey(
        StaffPosting, verbose_name=_("posting"), on_delete=models.PROTECT, related_name="summonses"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        on_delete=models.PROTECT,
        related_name="summonses",
    )
    staff_name = models.CharField(_("staff member"), max_length=50)
    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.PROTECT, related_name="+"
    )
    grid = models.ForeignKey(
        Grid, verbose_name=_("grid"), on_delete=models.PROTECT, related_name="+"
    )
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    state = models.CharField(
        _("state"), max_length=10, choices=list(workflow.STATE_LABELS.items()), db_index=True
    )
    request = models.CharField(_("what is needed"), max_length=300, blank=True)
    summoned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    unit_code = models.CharField(_("summoning unit"), max_length=18)
    sent_at = models.DateTimeField(pgettext_lazy("summons", "sent"), db_index=True)
    accepted_at = models.DateTimeField(pgettext_lazy("summons", "accepted"), null=True, blank=True)
    declined_at = models.DateTimeField(pgettext_lazy("summons", "declined"), null=True, blank=True)
    arrived_at = models.DateTimeField(pgettext_lazy("summons", "arrived"), null=True, blank=True)
    done_at = models.DateTimeField(pgettext_lazy("summons", "done"), null=True, blank=True)
    cancelled_at = models.DateTimeField(
        pgettext_lazy("summons", "cancelled"), null=True, blank=True
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    work_notes = models.TextField(_("work record"), blank=True)

    class Meta:
        verbose_name = _("summons")
        verbose_name_plural = _("summonses")
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["staff", "state"]), models.Index(fields=["case", "state"])]

    def __str__(self):
        return f"{self.case.code} → {self.staff_name}"

    def minutes_to(self, field: str) -> float | None:
        moment = getattr(self, field)
        return None if moment is None else (moment - self.sent_at).total_seconds() / 60


class SummonsEvent(models.Model):
    """One step of a summons (append-only)."""

    summons = models.ForeignKey(Summons, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("action"), max_length=12)
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    text = models.TextField(blank=True)
    created = models.DateTimeField()

    class Meta:
        verbose_name = _("summons step")
        verbose_name_plural = _("summons steps")
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.summons_id} {self.action}"


class SummonsPhoto(models.Model):
    """A photo of the work done (checked and re-encoded by ``cases.photos.clean_photo``)."""

    summons = models.ForeignKey(Summons, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(upload_to="oncall/%Y/%m/")
    content_type = models.CharField(max_length=40)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True)
    height = models.PositiveIntegerField(null=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField()

    class Meta:
        verbose_name = _("work photo")
        verbose_name_plural = _("work photos")

    def __str__(self):
        return self.file.name
