"""Cases (事件/案卷) and everything that happens to them: the 处置端 (MISSION B1, B5, C1–C8, G3).

A case is owned by one unit at a time — a grid, a village, a township command room or the
county centre (``level`` + ``unit_code``) — and may be dispatched to departments
(``Assignment``: one lead, any number assisting). Every action is a ``CaseAction`` row, the
timeline users see; deadlines are absolute instants computed on the working calendar, and
"overdue" is derived from them.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.people.models import Department, Person
from civicgrid.regions.models import Grid

from .workflow import OPEN_STATES

__all__ = [
    "Assignment",
    "Attachment",
    "Case",
    "CaseAction",
    "CaseCodeCounter",
    "CaseReporter",
    "Category",
    "ExtensionRequest",
    "LeaderInstruction",
    "JointMeeting",
    "JointOperation",
    "Level",
    "Notification",
    "Supervision",
]


class Level(models.TextChoices):
    GRID = "grid", _("Grid")
    VILLAGE = "village", _("Village / community")
    TOWN = "town", _("Township command room")
    COUNTY = "county", _("County centre")


LEVEL_ORDER = [Level.GRID, Level.VILLAGE, Level.TOWN, Level.COUNTY]
LEVEL_CODE_LENGTH = {Level.GRID: 15, Level.VILLAGE: 12, Level.TOWN: 9, Level.COUNTY: 6}


class Category(models.Model):
    """A node of the case taxonomy; leaves carry routing, limits and criteria."""

    code = models.CharField(_("code"), max_length=8, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    name = models.CharField(_("name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=80, blank=True)
    default_level = models.CharField(
        _("default level"), max_length=8, choices=Level.choices, blank=True
    )
    department_kinds = models.JSONField(
        _("departments (kinds, lead first)"), default=list, blank=True
    )
    sign_limit = models.CharField(_("sign-for limit"), max_length=8, blank=True)
    resolve_limit_grid = models.CharField(_("resolution limit (grid)"), max_length=8, blank=True)
    resolve_limit_village = models.CharField(
        _("resolution limit (village)"), max_length=8, blank=True
    )
    resolve_limit_town = models.CharField(
        _("resolution limit (township)"), max_length=8, blank=True
    )
    resolve_limit_county = models.CharField(
        _("resolution limit (county)"), max_length=8, blank=True
    )
    acceptance_criteria = models.TextField(_("acceptance criteria"), blank=True)
    closing_criteria = models.TextField(_("closing criteria"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def is_leaf(self) -> bool:
        return self.parent_id is not None

    def resolve_limit(self, level: str) -> str:
        return getattr(self, f"resolve_limit_{level}", "") or ""


class Case(models.Model):
    """One reported problem, from intake to archive (一案一码)."""

    class Channel(models.TextChoices):
        GRID_WORKER = "grid_worker", _("Grid worker")
        RESIDENT = "resident", _("Resident")
        CO_GOVERNANCE = "co_governance", _("Co-governance member")
        HOTLINE_12345 = "hotline_12345", _("12345 hotline")
        HOTLINE_12348 = "hotline_12348", _("12348 legal hotline")
        DEPARTMENT = "department", _("Department")
        API = "api", _("API")
        OPEN311 = "open311", _("Open311")

    class Supervised(models.IntegerChoices):
        NONE = 0, _("Not supervised")
        NORMAL = 1, _("Supervised")
        YELLOW = 2, _("Yellow card")
        RED = 3, _("Red card")

    code = models.CharField(_("case code"), max_length=24, unique=True)
    state = models.CharField(_("state"), max_length=20, db_index=True)
    version = models.PositiveIntegerField(default=1)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), null=True, blank=True, on_delete=models.PROTECT
    )
    description = models.TextField(_("description"))
    urgent = models.BooleanField(_("urgent"), default=False)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    grid = models.ForeignKey(
        Grid,
        verbose_name=_("grid"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
    )
    region_code = models.CharField(
        _("region code"),
        max_length=18,
        db_index=True,
        help_text=_("Where the problem is: the grid's code, or the region's if no grid."),
    )
    level = models.CharField(_("owning level"), max_length=8, choices=Level.choices)
    unit_code = models.CharField(_("owning unit"), max_length=18, db_index=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reported by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_cases",
    )
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    resolve_deadline = models.DateTimeField(
        _("resolution deadline"), null=True, blank=True, db_index=True
    )
    extension_days = models.PositiveIntegerField(_("extension (working days)"), default=0)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    rework_count = models.PositiveIntegerField(_("rework count"), default=0)
    reopen_count = models.PositiveIntegerField(_("reopen count"), default=0)
    escalation_count = models.PositiveIntegerField(_("escalation count"), default=0)
    supervised = models.PositiveSmallIntegerField(
        _("supervision"), choices=Supervised.choices, default=Supervised.NONE
    )
    hard_case = models.BooleanField(_("hard case (提级攻坚)"), default=False)
    hard_case_leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible leader"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    satisfaction = models.CharField(_("satisfaction"), max_length=20, blank=True)
    due_soon_notified_at = models.DateTimeField(null=True, blank=True)
    overdue_supervised_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(_("reported"), db_index=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["state", "resolve_deadline"]),
            models.Index(fields=["category", "state", "created"]),
            # The KPIs (analytics.kpis) read a period's cases from this index alone (an
            # index-only scan, on PostgreSQL and SQLite): every column their aggregates use.
            models.Index(
                fields=[
                    "created",
                    "region_code",
                    "category",
                    "state",
                    "accepted_at",
                    "closed_at",
                    "resolve_deadline",
                    "escalation_count",
                    "satisfaction",
                    "level",
                    "hard_case",
                    "id",
                ],
                name="cases_case_kpi_cohort",
            ),
            # The open cases of a place (the cockpit's open / overdue / urgent counts, the
            # overdue list): a small index that grows with the open cases, not with the years.
            models.Index(
                fields=["region_code", "state", "resolve_deadline"],
                name="cases_case_open_region",
                condition=models.Q(state__in=sorted(OPEN_STATES)),
                # the workbench's badges (urgent, supervised, escalated, hard) from the index
                include=["urgent", "supervised", "escalation_count", "hard_case"],
                opclasses=["varchar_pattern_ops", "varchar_pattern_ops", "timestamptz_ops"],
            ),
            # The open cases a unit owns (the command room's tasks, the workbench): without it
            # PostgreSQL ANDs the whole-table unit and state indexes (~0.1 s at 5 M cases).
            models.Index(
                fields=["unit_code", "level", "state"],
                name="cases_case_open_unit",
                condition=models.Q(state__in=sorted(OPEN_STATES)),
            ),
            # Closures of the last days by place (the cockpit's closed today and trend).
            models.Index(
                fields=["closed_at", "region_code"],
                name="cases_case_closed_region",
                condition=models.Q(closed_at__isnull=False),
                include=["state"],
            ),
        ]

    def __str__(self):
        return self.code


class CaseCodeCounter(models.Model):
    """The last sequence number used for case codes of one county on one day."""

    prefix = models.CharField(max_length=16, unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.prefix}:{self.last}"


class CaseReporter(models.Model):
    """Someone who reported the problem; a merged case keeps every reporter."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reporters")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT)
    name = models.CharField(_("name"), max_length=50, blank=True)
    phone_cipher = models.TextField(blank=True)
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Case.Channel.choices)
    original_case_code = models.CharField(_("reported as"), max_length=24)
    created = models.DateTimeField(_("reported"))

    class Meta:
        verbose_name = _("reporter")
        verbose_name_plural = _("reporters")
        # 重复投诉率 (analytics.kpis): the reports of a period, and each one's look-back of 30
        # days at the same phone or account.
        indexes = [
            models.Index(fields=["created"]),
            models.Index(fields=["phone_hash", "created"]),
            models.Index(fields=["user", "created"]),
        ]

    def __str__(self):
        return self.name or self.phone_masked or str(self.user_id)


class CaseAction(models.Model):
    """One step of a case's history (the timeline). Written once, never changed."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(_("action"), max_length=24)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(_("by"), max_length=150)
    role = models.CharField(_("role"), max_length=24, blank=True)
    unit_code = models.CharField(_("unit"), max_length=32, blank=True)
    from_state = models.CharField(_("from"), max_length=20, blank=True)
    to_state = models.CharField(_("to"), max_length=20)
    text = models.TextField(_("text"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("case action")
        verbose_name_plural = _("case actions")
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.case_id} {self.action} {self.from_state}→{self.to_state}"

    def get_action_label(self):
        from civicgrid.cases.workflow import ACTION_LABELS

        return ACTION_LABELS.get(self.action, self.action)


class Attachment(models.Model):
    class Kind(models.TextChoices):
        PHOTO = "photo", _("Photo")
        BEFORE = "before", _("Photo before")
        AFTER = "after", _("Photo after")
        EVIDENCE = "evidence", _("Evidence")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    action = models.ForeignKey(
        CaseAction, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    file = models.FileField(_("file"), upload_to="cases/%Y/%m/")
    content_type = models.CharField(max_length=40)
    sha256 = models.CharField(max_length=64, db_index=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    taken_at = models.DateTimeField(_("taken"), null=True, blank=True)
    created = models.DateTimeField(_("uploaded"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.file.name


class Assignment(models.Model):
    """A department's part in a case: the lead unit (主办) or an assisting unit (协办)."""

    class Role(models.TextChoices):
        LEAD = "lead", _("Lead unit")
        ASSIST = "assist", _("Assisting unit")

    class State(models.TextChoices):
        DISPATCHED = "dispatched", _("Dispatched")
        SIGNED = "signed", _("Signed for")
        RETURN_REQUESTED = "return_requested", _("Return requested")
        RETURNED = "returned", _("Returned")
        DONE = "done", _("Done")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assignments")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="assignments")
    role = models.CharField(_("role"), max_length=8, choices=Role.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices)
    dispatched_at = models.DateTimeField(_("dispatched"))
    sign_deadline = models.DateTimeField(_("sign-for deadline"), null=True, blank=True)
    signed_at = models.DateTimeField(_("signed"), null=True, blank=True)
    return_reason = models.CharField(_("return reason"), max_length=24, blank=True)
    return_text = models.TextField(_("return explanation"), blank=True)
    forced = models.BooleanField(_("forced dispatch"), default=False)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        indexes = [
            models.Index(fields=["department", "active", "state"]),
            # A case's active lead department (analytics.kpis groups the cases by it).
            models.Index(
                fields=["case", "department"],
                condition=models.Q(role="lead", active=True),
                name="cases_assign_active_lead",
            ),
        ]

    def __str__(self):
        return f"{self.case_id} → {self.department_id} ({self.role})"


class ExtensionRequest(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="extensions")
    days = models.PositiveIntegerField(_("working days"))
    reason = models.TextField(_("reason"))
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("extension request")
        verbose_name_plural = _("extension requests")

    def __str__(self):
        return f"{self.case_id} +{self.days}d {self.state}"


class Supervision(models.Model):
    """督办 with its feedback sheet (督办反馈单) that the handler must answer by a date."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="supervisions")
    level = models.PositiveSmallIntegerField(_("level"), choices=Case.Supervised.choices)
    reason = models.TextField(_("reason"))
    automatic = models.BooleanField(_("raised automatically"), default=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(_("issued"))
    answer_due = models.DateTimeField(_("answer due"))
    answer = models.TextField(_("answer"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("supervision")
        verbose_name_plural = _("supervisions")

    def __str__(self):
        return f"{self.case_id} {self.get_level_display()}"


class LeaderInstruction(models.Model):
    """领导批示单: a leader's written instruction on a case, with what must be done."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="instructions")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(_("signed by"), max_length=150)
    text = models.TextField(_("instruction"))
    required_actions = models.TextField(_("required actions"), blank=True)
    created = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("leader instruction")
        verbose_name_plural = _("leader instructions")

    def __str__(self):
        return f"{self.case_id} {self.signer_name}"


class JointMeeting(models.Model):
    """A joint meeting on a hard case (提级攻坚): who came, what was decided, what follows."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="meetings")
    held_at = models.DateTimeField(_("held"))
    chaired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    departments = models.ManyToManyField(Department, verbose_name=_("departments"), blank=True)
    decisions = models.TextField(_("decisions"))
    follow_ups = models.TextField(_("follow-ups"), blank=True)

    class Meta:
        verbose_name = _("joint meeting")
        verbose_name_plural = _("joint meetings")
        ordering = ["held_at"]

    def __str__(self):
        return f"{self.case_id} {self.held_at:%Y-%m-%d}"


class JointOperation(models.Model):
    """联合执法: a township plans an operation with several departments on linked cases."""

    class State(models.TextChoices):
        PLANNED = "planned", _("Planned")
        DONE = "done", _("Done")

    town_code = models.CharField(_("township"), max_length=9, db_index=True)
    title = models.CharField(_("title"), max_length=100)
    planned_for = models.DateTimeField(_("date"))
    place = models.CharField(_("place"), max_length=200)
    departments = models.ManyToManyField(Department, verbose_name=_("departments"))
    cases = models.ManyToManyField(
        Case, verbose_name=_("linked cases"), blank=True, related_name="joint_operations"
    )
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.PLANNED)
    results = models.TextField(_("results"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(_("created"))

    class Meta:
        verbose_name = _("joint operation")
        verbose_name_plural = _("joint operations")
        ordering = ["-planned_for"]

    def __str__(self):
        return self.title


class Notification(models.Model):
    """The outbox: written in the action's transaction, delivered after commit by ``send``."""

    class Channel(models.TextChoices):
        INBOX = "inbox", _("In-app inbox")
        SMS = "sms", _("SMS")
        WEBHOOK = "webhook", _("Webhook")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    unit_code = models.CharField(max_length=18, blank=True, db_index=True)
    reporter = models.ForeignKey(
        CaseReporter,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("An SMS to a reporter without an account; the number is read when sent."),
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    event = models.CharField(max_length=32)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["sent_at", "claimed_until"])]

    def __str__(self):
        return self.subject
