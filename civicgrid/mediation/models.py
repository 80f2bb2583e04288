"""Disputes (矛盾纠纷) and their mediation, the organisations and people who mediate, and the
reception hall's and 12348 hotline's logs (MISSION F1–F6).

A dispute has one code (一案一码) from registration to closing. Everything that happens to it
is a ``DisputeEvent`` row (the timeline), and sessions, hand-offs, judicial confirmations,
performance records and follow-up visits are rows of their own: history as data. Parties'
ID and phone numbers are sealed (``people.pii``): ciphertext, keyed hash, masked form.
Deadlines are absolute instants; "overdue" is derived (``Dispute.is_overdue``).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.people.models import Department
from civicgrid.regions.models import Grid

__all__ = [
    "Activity",
    "Agreement",
    "CallLog",
    "DISPUTE_CATEGORIES",
    "Dispute",
    "DisputeCodeCounter",
    "DisputeEvent",
    "DisputeMediator",
    "FollowUp",
    "JudicialConfirmation",
    "LegalHandoff",
    "MediationOrg",
    "MediationSession",
    "Mediator",
    "Party",
    "Performance",
    "VisitorLog",
]

# cn-standards §3.5: the 人民调解 statistical list (01–15, 16–17 extensions, 99 other).
DISPUTE_CATEGORIES = [
    ("01", _("Marriage and family")),
    ("02", _("Neighbours")),
    ("03", _("Housing and homestead")),
    ("04", _("Contract")),
    ("05", _("Production and business")),
    ("06", _("Compensation for damage")),
    ("07", _("Forest and land")),
    ("08", _("Land requisition and demolition")),
    ("09", _("Environmental pollution")),
    ("10", _("Labour")),
    ("11", _("Tourism")),
    ("12", _("Consumer")),
    ("13", _("Medical")),
    ("14", _("Road traffic accident")),
    ("15", _("Property management")),
    ("16", _("Intellectual property")),
    ("17", _("Internet")),
    ("99", _("Other disputes")),
]


class Source(models.TextChoices):
    RECEPTION = "reception", _("Reception hall visit")
    HOTLINE_12348 = "hotline_12348", _("12348 legal hotline")
    PETITION = "petition", _("Petition (letters and visits)")
    GRID = "grid", _("Grid report or case")
    POLICE = "police", _("Police call")
    COURT = "court", _("Court (pre-litigation delegation)")
    LABOUR_ARBITRATION = "labour_arbitration", _("Labour arbitration")
    ONLINE = "online", _("Online")


class Scale(models.TextChoices):
    ORDINARY = "ordinary", _("Ordinary")
    LARGE = "large", _("Large")
    MAJOR = "major", _("Major")
    ESPECIALLY_MAJOR = "especially_major", _("Especially major")


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class Route(models.TextChoices):
    CENTRE = "centre", _("First mediation at the centre")
    COMMITTEE = "committee", _("People's mediation committee")
    STUDIO = "studio", _("Mediation studio")
    TRADE = "trade", _("Trade mediation")
    DEPARTMENT = "department", _("Resident department")
    LEGAL = "legal", _("Legal channel")


class LegalChannel(models.TextChoices):
    COURT = "court", _("Court (litigation–mediation link)")
    POLICE = "police", _("Police (police–mediation link)")
    PETITION = "petition", _("Petitions (petition–mediation link)")
    LABOUR_ARBITRATION = "labour_arbitration", _("Labour arbitration")
    ADMINISTRATIVE_REVIEW = "administrative_review", _("Administrative review")


class Outcome(models.TextChoices):
    AGREEMENT = "agreement", _("Agreement")
    FAILED = "failed", _("Failed")
    TERMINATED = "terminated", _("Terminated")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("Satisfied")
    BASICALLY = "basically_satisfied", _("Basically satisfied")
    UNSATISFIED = "unsatisfied", _("Unsatisfied")


class MediationOrg(models.Model):
    """A body that mediates: the centre, a people's mediation committee, a studio, a trade body."""

    class Kind(models.TextChoices):
        CENTRE = "centre", _("Mediation centre (综治中心)")
        COMMITTEE_VILLAGE = "committee_village", _("Village people's mediation committee")
        COMMITTEE_TOWN = "committee_town", _("Township people's mediation committee")
        STUDIO = "studio", _("Branded mediation studio")
        TRADE = "trade", _("Trade / professional mediation committee")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    region_code = models.CharField(
        _("area served"), max_length=18, db_index=True, help_text=_("Region code of its area.")
    )
    specialities = models.JSONField(
        _("dispute categories"),
        default=list,
        blank=True,
        help_text=_("Category codes it takes (empty: all)."),
    )
    capacity = models.PositiveIntegerField(
        _("capacity (open disputes)"), default=20, help_text=_("Used to weigh the load.")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("mediation organisation")
        verbose_name_plural = _("mediation organisations")
        ordering = ["code"]

    def __str__(self):
        return self.name


class Mediator(models.Model):
    """A person who mediates (人民调解员 or one of the social forces)."""

    class Kind(models.TextChoices):
        PEOPLES = "peoples", _("People's mediator")
        UNION = "union", _("Trade union")
        YOUTH_LEAGUE = "youth_league", _("Youth league")
        WOMENS_FEDERATION = "womens_federation", _("Women's federation")
        SOCIAL_WORKER = "social_worker", _("Social worker")
        PSYCHOLOGIST = "psychologist", _("Psychologist")
        DEPUTY = "deputy", _("People's congress deputy")
        CPPCC = "cppcc", _("CPPCC member")
        RESPECTED_LOCAL = "respected_local", _("Respected local (乡贤)")
        LAWYER = "lawyer", _("Lawyer")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mediator",
    )
    name = models.CharField(pgettext_lazy("person", "name"), max_length=50)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    org = models.ForeignKey(
        MediationOrg,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="mediators",
    )
    specialities = models.JSONField(_("dispute categories"), default=list, blank=True)
    region_code = models.CharField(_("area"), max_length=18, db_index=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("mediator")
        verbose_name_plural = _("mediators")
        ordering = ["org_id", "name", "id"]

    def __str__(self):
        return self.name


class Dispute(models.Model):
    """One dispute, from the window to 案结事了 (一案一码). Fields follow GB/T 31000's
    矛盾纠纷排查化解 record (cn-standards §3.6)."""

    code = models.CharField(_("dispute code"), max_length=32, unique=True)
    state = models.CharField(_("state"), max_length=16, db_index=True)
    version = models.PositiveIntegerField(default=1)
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"))
    category = models.CharField(
        _("category"), max_length=2, choices=DISPUTE_CATEGORIES, db_index=True
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    source_case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("from case"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disputes",
    )
    occurred_on = models.DateField(_("occurred on"), null=True, blank=True)
    amount = models.DecimalField(
        _("amount at stake (yuan)"), max_digits=14, decimal_places=2, default=0
    )
    people_involved = models.PositiveIntegerField(_("people involved"), default=2)
    scale = models.CharField(_("scale"), max_length=20, choices=Scale.choices)
    threats = models.BooleanField(_("threats of violence or extreme acts"), default=False)
    petitions = models.PositiveIntegerField(_("petitions already made"), default=0)
    risk_level = models.CharField(_("risk level"), max_length=8, choices=RiskLevel.choices)
    risk_reasons = models.JSONField(_("risk rules met"), default=list, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    grid = models.ForeignKey(
        Grid, verbose_name=_("grid"), null=True, blank=True, on_delete=models.PROTECT
    )
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    related_open = models.ForeignKey(
        "self",
        verbose_name=_("same parties as open dispute"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    route = models.CharField(_("route"), max_length=12, choices=Route.choices, blank=True)
    org = models.ForeignKey(
        MediationOrg,
        verbose_name=_("mediating organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disputes",
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    legal_channel = models.CharField(
        _("legal channel"), max_length=24, choices=LegalChannel.choices, blank=True
    )
    deadline = models.DateTimeField(_("time limit"), null=True, blank=True, db_index=True)
    extension_days = models.PositiveIntegerField(_("extension (days)"), default=0)
    outcome = models.CharField(
        _("mediation outcome"), max_length=12, choices=Outcome.choices, blank=True
    )
    outcome_note = models.TextField(_("outcome note"), blank=True)
    concluded_at = models.DateTimeField(_("concluded"), null=True, blank=True)
    satisfaction = models.CharField(
        _("satisfaction"), max_length=20, choices=Satisfaction.choices, blank=True
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    overdue_notified_for = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The deadline whose passing was last notified (the tick claims it once).",
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registered by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created = models.DateTimeField(_("registered"), db_index=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["state", "deadline"])]

    def __str__(self):
        return self.code

    @property
    def is_overdue(self) -> bool:
        from civicgrid.mediation.workflow import CLOCK_STATES

        return (
            self.state in CLOCK_STATES
            and self.deadline is not None
            and timezone.now() > self.deadline
        )


class DisputeCodeCounter(models.Model):
    """The last sequence number of dispute codes of one county on one day."""

    prefix = models.CharField(max_length=24, unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.prefix}:{self.last}"


class Party(models.Model):
    """A party to a dispute (当事人)."""

    class Role(models.TextChoices):
        APPLICANT = "applicant", _("Applicant")
        RESPONDENT = "respondent", _("Respondent")
        THIRD = "third", _("Third party")

    class Kind(models.TextChoices):
        NATURAL = "natural", _("Natural person")
        LEGAL = "legal", _("Legal person")
        ORGANISATION = "organisation", _("Other organisation")

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(_("party role"), max_length=12, choices=Role.choices)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    name = models.CharField(pgettext_lazy("person", "name"), max_length=100)
    id_number_cipher = models.TextField(blank=True, editable=False)
    id_number_hash = models.CharField(max_length=64, blank=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=18, blank=True, editable=False)
    phone_cipher = models.TextField(blank=True, editable=False)
    phone_hash = models.CharField(max_length=64, blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True, editable=False)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    match_key = models.CharField(max_length=80, blank=True, db_index=True, editable=False)

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")
        ordering = ["dispute_id", "role", "id"]

    def __str__(self):
        return self.name


class DisputeMediator(models.Model):
    """A mediator assigned to a dispute (one row per assignment; ``active`` ends it)."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="assignments")
    mediator = models.ForeignKey(Mediator, on_delete=models.PROTECT, related_name="assignments")
    lead = models.BooleanField(_("lead"), default=False)
    active = models.BooleanField(_("active"), default=True)
    created = models.DateTimeField(_("assigned"))

    class Meta:
        verbose_name = _("mediator assignment")
        verbose_name_plural = _("mediator assignments")
        ordering = ["-lead", "id"]

    def __str__(self):
        return f"{self.dispute_id} · {self.mediator_id}"


class DisputeEvent(models.Model):
    """One step on a dispute's timeline (append-only)."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("action"), max_length=24)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("dispute event")
        verbose_name_plural = _("dispute events")
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.dispute_id} · {self.action}"


class MediationSession(models.Model):
    """A mediation session: when, where, who mediated, who attended, what was said."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="sessions")
    held_at = models.DateTimeField(_("held at"))
    place = models.CharField(_("venue"), max_length=100)
    mediators = models.ManyToManyField(Mediator, verbose_name=_("mediators"), blank=True)
    attendees = models.TextField(_("attendees"), blank=True)
    notes = models.TextField(_("session record"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField()

    class Meta:
        verbose_name = _("mediation session")
        verbose_name_plural = _("mediation sessions")
        ordering = ["held_at", "id"]

    def __str__(self):
        return f"{self.dispute_id} · {self.held_at:%Y-%m-%d}"


class Agreement(models.Model):
    """The 人民调解协议书 reached; its .docx is generated from the template on request."""

    dispute = models.OneToOneField(Dispute, on_delete=models.CASCADE, related_name="agreement")
    terms = models.JSONField(_("terms"), default=list)
    amount = models.DecimalField(
        _("amount agreed (yuan)"), max_digits=14, decimal_places=2, default=0
    )
    perform_by = models.DateField(_("to be performed by"), null=True, blank=True)
    signed_on = models.DateField(_("signed on"))
    created = models.DateTimeField()

    class Meta:
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")

    def __str__(self):
        return f"{self.dispute_id} · {self.signed_on}"


class JudicialConfirmation(models.Model):
    """司法确认: the parties' joint application to a court and its ruling."""

    class Result(models.TextChoices):
        PENDING = "pending", _("Awaiting the ruling")
        CONFIRMED = "confirmed", _("Confirmed as valid")
        REJECTED = "rejected", _("Application rejected")

    dispute = models.OneToOneField(Dispute, on_delete=models.CASCADE, related_name="confirmation")
    court = models.CharField(_("court"), max_length=100)
    applied_on = models.DateField(_("applied on"))
    result = models.CharField(
        _("result"), max_length=10, choices=Result.choices, default=Result.PENDING
    )
    result_on = models.DateField(_("decided on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("judicial confirmation")
        verbose_name_plural = _("judicial confirmations")

    def __str__(self):
        return f"{self.dispute_id} · {self.court}"


class Performance(models.Model):
    """A record of how an agreement is being performed (履行)."""

    class Kind(models.TextChoices):
        PART = "part", _("Partly performed")
        DONE = "done", _("Fully performed")
        BREACH = "breach", _("Not performed")

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="performances")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    amount_paid = models.DecimalField(
        _("amount paid (yuan)"), max_digits=14, decimal_places=2, default=0
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    created = models.DateTimeField()

    class Meta:
        verbose_name = _("performance record")
        verbose_name_plural = _("performance records")
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.dispute_id} · {self.kind}"


class LegalHandoff(models.Model):
    """A hand-off to a legal channel (诉调/警调/访调对接, labour arbitration, administrative
    review) with that procedure's own statutory clock."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="handoffs")
    channel = models.CharField(_("legal channel"), max_length=24, choices=LegalChannel.choices)
    receiving_unit = models.CharField(_("receiving unit"), max_length=100)
    note = models.TextField(_("note"), blank=True)
    deadline = models.DateTimeField(_("statutory time limit"))
    result = models.TextField(_("result"), blank=True)
    resolved = models.BooleanField(_("resolved there"), null=True)
    result_at = models.DateTimeField(_("result recorded"), null=True, blank=True)
    created = models.DateTimeField()

    class Meta:
        verbose_name = _("legal hand-off")
        verbose_name_plural = _("legal hand-offs")
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.dispute_id} · {self.channel}"


class FollowUp(models.Model):
    """回访: a visit or call after the outcome, with the parties' satisfaction."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="follow_ups")
    satisfaction = models.CharField(_("satisfaction"), max_length=20, choices=Satisfaction.choices)
    note = models.TextField(_("note"), blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField()

    class Meta:
        verbose_name = _("follow-up visit")
        verbose_name_plural = _("follow-up visits")
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.dispute_id} · {self.satisfaction}"


class Activity(models.Model):
    """Work of the social forces that is not a dispute (help to people under community
    correction, legal publicity, risk screening, counselling), logged and counted."""

    class Kind(models.TextChoices):
        CORRECTION_HELP = "correction_help", _("Help to people under community correction")
        PUBLICITY = "publicity", _("Legal publicity")
        SCREENING = "screening", _("Dispute screening (排查)")
        COUNSELLING = "counselling", _("Psychological counselling")
        OTHER = "other", _("Other")

    org = models.ForeignKey(
        MediationOrg, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="+"
    )
    mediator = models.ForeignKey(
        Mediator,
        verbose_name=_("mediator"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activities",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    day = models.DateField(_("day"))
    people_reached = models.PositiveIntegerField(_("people reached"), default=0)
    note = models.CharField(_("note"), max_length=500, blank=True)
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    created = models.DateTimeField()

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-day", "-id"]

    def __str__(self):
        return f"{self.day} · {self.kind}"


class VisitorLog(models.Model):
    """The reception hall's visitor log (来访登记)."""

    class Outcome(models.TextChoices):
        ANSWERED = "answered", _("Answered on the spot")
        REFERRED = "referred", _("Referred elsewhere")
        DISPUTE = "dispute", _("Registered as a dispute")
        CASE = "case", _("Reported as a case")

    visited_at = models.DateTimeField(_("time of visit"), db_index=True)
    name = models.CharField(pgettext_lazy("person", "name"), max_length=50)
    phone_cipher = models.TextField(blank=True, editable=False)
    phone_hash = models.CharField(max_length=64, blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True, editable=False)
    visitors = models.PositiveIntegerField(_("number of visitors"), default=1)
    about = models.TextField(_("what about"))
    outcome = models.CharField(_("visit outcome"), max_length=10, choices=Outcome.choices)
    dispute = models.ForeignKey(
        Dispute, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitor log")
        ordering = ["-visited_at", "-id"]

    def __str__(self):
        return f"{timezone.localtime(self.visited_at):%Y-%m-%d %H:%M} · {self.name}"


class CallLog(models.Model):
    """A 12348 call (话务工单): answered, or transferred within one working day with a reply
    to the caller within five (extendable to fifteen); unsatisfied callers are called back."""

    class Category(models.TextChoices):
        CONSULTATION = "consultation", _("Consultation")
        COMPLAINT = "complaint", _("Complaint")
        SUGGESTION = "suggestion", _("Suggestion")

    received_at = models.DateTimeField(_("received at"), db_index=True)
    caller = models.CharField(_("caller"), max_length=50, blank=True)
    phone_cipher = models.TextField(blank=True, editable=False)
    phone_hash = models.CharField(max_length=64, blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True, editable=False)
    category = models.CharField(_("category"), max_length=14, choices=Category.choices)
    summary = models.TextField(_("summary"))
    answer = models.TextField(_("answer given"), blank=True)
    transfer_due = models.DateTimeField(_("transfer due"), null=True, blank=True)
    transferred_to = models.CharField(_("transferred to"), max_length=100, blank=True)
    transferred_at = models.DateTimeField(_("transferred at"), null=True, blank=True)
    reply_due = models.DateTimeField(_("reply due"), null=True, blank=True)
    reply_extension_days = models.PositiveIntegerField(_("reply extension (days)"), default=0)
    reply = models.TextField(_("reply"), blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    satisfaction = models.CharField(
        _("satisfaction"), max_length=20, choices=Satisfaction.choices, blank=True
    )
    callback_due = models.DateTimeField(_("callback due"), null=True, blank=True)
    callback_at = models.DateTimeField(_("called back at"), null=True, blank=True)
    callback_note = models.TextField(_("callback note"), blank=True)
    dispute = models.ForeignKey(
        Dispute, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("12348 call")
        verbose_name_plural = _("12348 call log")
        ordering = ["-received_at", "-id"]

    def __str__(self):
        return f"{timezone.localtime(self.received_at):%Y-%m-%d %H:%M} · {self.category}"

    @property
    def open_step(self) -> str:
        """What the call waits for: "transfer", "reply", "callback" or ""."""
        if not self.answer and self.transferred_at is None:
            return "transfer"
        if self.transferred_at is not None and self.replied_at is None:
            return "reply"
        if self.satisfaction == Satisfaction.UNSATISFIED and self.callback_at is None:
            return "callback"
        return ""

    @property
    def is_overdue(self) -> bool:
        due = {
            "transfer": self.transfer_due,
            "reply": self.reply_due,
            "callback": self.callback_due,
        }.get(self.open_step)
        return due is not None and timezone.now() > due
