"""The data hub (MISSION D1): imports from department systems.

* ``Source`` — a department system's file as we know it: what it feeds (``Target``), its saved
  column mapping ``{target field: source column}``, default values and what to do with a row
  that matches an existing record (update it or skip it).
* ``ImportRun`` — one uploaded file: who, when, which source, the mapping used, its state
  (``workflow.TRANSITIONS``), progress and counts of the dry run and of the import.
  ``ImportFile`` keeps the uploaded bytes, sealed like personal data, until the run ends.
  ``ImportProblem`` is the per-row error report.
* ``ExternalRecord`` — petitions (信访), police alerts (警情), 12345 work orders and cases or
  disputes from other systems, kept here (not as our cases) so analytics can count them.

Population, houses, organisations, places and key-group lists are written into the people
app's own tables (``Person``, ``House``, ``Organisation``, ``Place``, ``PersonKeyGroup``).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = [
    "ExternalRecord",
    "ImportFile",
    "ImportProblem",
    "ImportRun",
    "OnDuplicate",
    "Source",
    "Target",
]


class Target(models.TextChoices):
    POPULATION = "population", _("Population (实有人口)")
    HOUSES = "houses", _("Houses (实有房屋)")
    ORGANISATIONS = "organisations", _("Enterprises and social organisations")
    PLACES = "places", _("Places")
    KEY_GROUPS = "key_groups", _("Key-group lists")
    PETITIONS = "petitions", _("Petitions (信访)")
    POLICE_ALERTS = "police_alerts", _("Police alerts (警情)")
    WORK_ORDERS = "work_orders_12345", _("12345 work orders")
    CASES = "external_cases", _("Cases from other systems")
    DISPUTES = "external_disputes", _("Disputes from other systems")


EXTERNAL_TARGETS = {
    Target.PETITIONS,
    Target.POLICE_ALERTS,
    Target.WORK_ORDERS,
    Target.CASES,
    Target.DISPUTES,
}


class OnDuplicate(models.TextChoices):
    UPDATE = "update", _("Update the existing record")
    SKIP = "skip", _("Skip the row")


class Datum(models.TextChoices):
    WGS84 = "wgs84", _("WGS-84 (GPS, Tianditu)")
    GCJ02 = "gcj02", _("GCJ-02 (Amap, Tencent)")


class Source(models.Model):
    """A department system's file and its saved column mapping."""

    name = models.CharField(_("source"), max_length=100, unique=True)
    target = models.CharField(_("imports into"), max_length=20, choices=Target.choices)
    columns = models.JSONField(
        _("column mapping"), default=dict, help_text=_("{target field: column of the file}")
    )
    defaults = models.JSONField(_("default values"), default=dict, blank=True)
    on_duplicate = models.CharField(
        _("a row matching an existing record"),
        max_length=8,
        choices=OnDuplicate.choices,
        default=OnDuplicate.UPDATE,
    )
    datum = models.CharField(
        _("coordinates"), max_length=6, choices=Datum.choices, default=Datum.WGS84
    )
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("import source")
        verbose_name_plural = _("import sources")
        ordering = ["name"]

    def __str__(self):
        return self.name


class ImportRun(models.Model):
    """One file through dry run and import; the row stays as the record of what happened."""

    class State(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        CHECKING = "checking", _("Dry run under way")
        CHECKED = "checked", _("Dry run done")
        IMPORTING = "importing", _("Import under way")
        IMPORTED = "imported", _("Imported")
        FAILED = "failed", _("Failed: nothing imported")
        CANCELLED = "cancelled", _("Cancelled")

    # Empty until the mapping of a file from a new source is saved.
    source = models.ForeignKey(
        Source,
        verbose_name=_("source"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
    )
    target = models.CharField(_("imports into"), max_length=20, choices=Target.choices)
    mapping = models.JSONField(_("mapping used"), default=dict)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.UPLOADED
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(_("by"), max_length=150)
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    file_name = models.CharField(_("file"), max_length=200)
    file_size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    header = models.JSONField(_("columns of the file"), default=list)
    created = models.DateTimeField(_("uploaded"), db_index=True)
    checked_at = models.DateTimeField(_("dry run"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    skip_bad = models.BooleanField(_("skip bad rows"), default=False)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    new = models.PositiveIntegerField(_("new"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    errors = models.PositiveIntegerField(_("rows with errors"), default=0)
    sample = models.JSONField(_("sample of the changes"), default=list, blank=True)
    message = models.CharField(_("message"), max_length=300, blank=True)
    seconds = models.FloatField(_("seconds"), null=True, blank=True)

    class Meta:
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"{self.source or self.mapping.get('source_name', '')} · {self.file_name}"


class ImportFile(models.Model):
    """The uploaded file, sealed (Fernet, the personal-data key), deleted when the run ends."""

    run = models.OneToOneField(ImportRun, on_delete=models.CASCADE, related_name="upload")
    content = models.BinaryField()

    def __str__(self):
        return f"file of run {self.run_id}"


class ImportProblem(models.Model):
    """One problem of one row: the error report. Values of personal data are kept masked."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="problems")
    row = models.PositiveIntegerField(_("row"))
    field = models.CharField(_("field"), max_length=40, blank=True)
    column = models.CharField(_("column"), max_length=100, blank=True)
    value = models.CharField(_("value"), max_length=200, blank=True)
    message = models.CharField(_("problem"), max_length=300)

    class Meta:
        verbose_name = _("import problem")
        verbose_name_plural = _("import problems")
        ordering = ["run", "row", "id"]

    def __str__(self):
        return f"row {self.row}: {self.message}"


class ExternalRecord(models.Model):
    """A petition, police alert, 12345 work order, case or dispute of another system."""

    class Kind(models.TextChoices):
        PETITION = "petition", _("Petition (信访)")
        POLICE_ALERT = "police_alert", _("Police alert (警情)")
        WORK_ORDER_12345 = "work_order_12345", _("12345 work order")
        CASE = "case", _("Case from another system")
        DISPUTE = "dispute", _("Dispute from another system")

    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.PROTECT, related_name="records"
    )
    external_id = models.CharField(_("number in the source"), max_length=64)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, db_index=True)
    occurred_at = models.DateTimeField(_("occurred"), db_index=True)
    category = models.CharField(_("category"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=50, blank=True)
    description = models.TextField(_("description"), blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    grid = models.ForeignKey(
        "regions.Grid", verbose_name=_("grid"), null=True, blank=True, on_delete=models.PROTECT
    )
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    raw = models.JSONField(_("all fields of the row"), default=dict, blank=True)
    run = models.ForeignKey(
        ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    imported_at = models.DateTimeField(_("imported"))

    # Record-to-kind for the sources that feed this table.
    KIND_OF_TARGET = {
        Target.PETITIONS: Kind.PETITION,
        Target.POLICE_ALERTS: Kind.POLICE_ALERT,
        Target.WORK_ORDERS: Kind.WORK_ORDER_12345,
        Target.CASES: Kind.CASE,
        Target.DISPUTES: Kind.DISPUTE,
    }

    class Meta:
        verbose_name = _("external record")
        verbose_name_plural = _("external records")
        ordering = ["-occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="external_record_once_per_source"
            )
        ]
        indexes = [models.Index(fields=["kind", "region_code", "occurred_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.external_id}"
