"""激励 (MISSION E1, E2): the "141" high-value report rewards, typical cases and appraisal.

* ``RewardScheme`` / ``RewardTier`` / ``TownBudget`` — the scheme is data: tiers with their
  criterion, amount range and who may nominate; a new version closes the old one's validity
  (``valid_to``) instead of replacing rows, so past nominations keep the tier they were judged by.
* ``Nomination`` — one case, or one mediated dispute (exactly one of the two), put forward for a
  reward; it moves through ``workflow.TRANSITIONS``
  (nominated → reviewed by the township → approved by the county, or refused with a reason;
  approved → revoked when the report proves false). ``NominationStep`` is its timeline.
* ``RewardEntry`` — the append-only ledger of money owed to reporters: an approval writes one
  entry per reporter, a revocation writes reversing entries; rows are never updated or deleted.
* ``TypicalCase`` — a written-up approved case (典型案例), published to the internal library.
* ``AppraisalIndicator`` — the configurable weights of the grid-worker appraisal.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

__all__ = [
    "AppraisalIndicator",
    "Criterion",
    "LedgerIsAppendOnly",
    "Nomination",
    "NominationStep",
    "RewardEntry",
    "RewardScheme",
    "RewardTier",
    "TownBudget",
    "TypicalCase",
]


class Criterion(models.TextChoices):
    HAZARD = "hazard", _("Removed a major hazard (消除重大隐患)")
    OPINION = "opinion", _("Defused a public-opinion risk (化解舆情风险)")
    LOSS = "loss", _("Avoided a major loss (避免重大损失)")
    CRIME = "crime", _("Led to solving a crime (破获违法犯罪线索)")


class Nominator(models.TextChoices):
    HANDLER = "handler", _("The case's handler")
    COMMAND_ROOM = "command_room", _("The township command room")
    # A dispute is nominated by the centre that handles it (``mediation.route`` over its place).
    CENTRE = "centre", _("The dispute's mediation centre")


class RewardScheme(models.Model):
    """One version of the reward scheme of a county, valid over a span of days."""

    county_code = models.CharField(_("county"), max_length=6, db_index=True)
    name = models.CharField(_("name"), max_length=100)
    version = models.CharField(_("version"), max_length=40)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    created = models.DateTimeField(_("created"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    replaces = models.OneToOneField(
        "self",
        verbose_name=_("replaces"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
    )

    class Meta:
        verbose_name = _("reward scheme")
        verbose_name_plural = _("reward schemes")
        ordering = ["county_code", "-valid_from", "-id"]

    def __str__(self):
        return f"{self.name} ({self.version})"


class RewardTier(models.Model):
    scheme = models.ForeignKey(
        RewardScheme, verbose_name=_("scheme"), on_delete=models.PROTECT, related_name="tiers"
    )
    criterion = models.CharField(_("criterion"), max_length=10, choices=Criterion.choices)
    name = models.CharField(_("name"), max_length=60)
    description = models.TextField(_("what qualifies"), blank=True)
    amount_min = models.PositiveIntegerField(_("lowest amount (yuan)"))
    amount_max = models.PositiveIntegerField(_("highest amount (yuan)"))
    nominators = models.JSONField(_("who may nominate"), default=list)
    review_level = models.CharField(_("reviewed by"), max_length=8, default="town")
    approval_level = models.CharField(_("approved by"), max_length=8, default="county")

    class Meta:
        verbose_name = _("reward tier")
        verbose_name_plural = _("reward tiers")
        ordering = ["scheme", "amount_min", "id"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "criterion"], name="tier_once_per_scheme"),
            models.CheckConstraint(
                condition=Q(amount_min__lte=models.F("amount_max")), name="tier_amount_range"
            ),
        ]

    def __str__(self):
        return f"{self.name} ¥{self.amount_min}–{self.amount_max}"


class TownBudget(models.Model):
    """The money a township may pay out in rewards in one calendar year."""

    town_code = models.CharField(_("township"), max_length=9)
    year = models.PositiveIntegerField(_("year"))
    amount = models.PositiveIntegerField(_("budget (yuan)"))
    updated = models.DateTimeField(_("updated"))

    class Meta:
        verbose_name = _("township budget")
        verbose_name_plural = _("township budgets")
        ordering = ["-year", "town_code"]
        constraints = [
            models.UniqueConstraint(fields=["town_code", "year"], name="budget_once_per_year")
        ]

    def __str__(self):
        return f"{self.town_code} {self.year}: ¥{self.amount}"


class Nomination(models.Model):
    class State(models.TextChoices):
        NOMINATED = "nominated", _("Awaiting township review")
        REVIEWED = "reviewed", _("Awaiting county approval")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")
        REVOKED = "revoked", _("Revoked")

    # Exactly one of ``case`` and ``dispute``: a report's case or a mediated dispute.
    case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    dispute = models.ForeignKey(
        "mediation.Dispute",
        verbose_name=_("dispute"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    tier = models.ForeignKey(RewardTier, verbose_name=_("tier"), on_delete=models.PROTECT)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, db_index=True)
    version = models.PositiveIntegerField(default=1)
    evidence = models.TextField(_("outcome evidence"))
    amount = models.PositiveIntegerField(_("amount (yuan)"))
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    town_code = models.CharField(_("township"), max_length=9, db_index=True)
    nominated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("nominated by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    nominated_as = models.CharField(_("nominated as"), max_length=14, choices=Nominator.choices)
    nominated_at = models.DateTimeField(_("nominated"), db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True, db_index=True)
    refusal_reason = models.TextField(_("reason for refusal or revocation"), blank=True)

    class Meta:
        verbose_name = _("nomination")
        verbose_name_plural = _("nominations")
        ordering = ["-nominated_at", "-id"]
        constraints = [
            # One case, one reward: only a refused nomination lets the case be put forward
            # again; a revoked one stays as the record that the report proved false.
            models.UniqueConstraint(
                fields=["case"], condition=~Q(state="refused"), name="one_reward_per_case"
            ),
            models.UniqueConstraint(
                fields=["dispute"], condition=~Q(state="refused"), name="one_reward_per_dispute"
            ),
            models.CheckConstraint(
                condition=Q(case__isnull=False, dispute__isnull=True)
                | Q(case__isnull=True, dispute__isnull=False),
                name="nomination_case_or_dispute",
            ),
        ]
        indexes = [models.Index(fields=["town_code", "state"], name="nomination_town_state")]

    def __str__(self):
        return f"{self.subject_code} {self.get_state_display()}"

    @property
    def subject(self):
        """The case or the dispute put forward."""
        return self.case if self.case_id else self.dispute

    @property
    def subject_code(self) -> str:
        subject = self.subject
        return subject.code if subject is not None else ""

    @property
    def subject_url(self) -> str:
        from django.urls import reverse

        if self.case_id:
            return reverse("case_detail", args=[self.case.code])
        return reverse("mediation_detail", args=[self.dispute.code])


class NominationStep(models.Model):
    """One step of a nomination's history. Written once, never changed."""

    nomination = models.ForeignKey(Nomination, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(_("action"), max_length=16)
    from_state = models.CharField(_("from"), max_length=10, blank=True)
    to_state = models.CharField(_("to"), max_length=10)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(_("by"), max_length=150)
    text = models.TextField(_("text"), blank=True)
    amount = models.PositiveIntegerField(_("amount (yuan)"), null=True, blank=True)
    created = models.DateTimeField(_("time"))

    class Meta:
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.nomination_id} {self.action}"

    def get_action_label(self):
        from civicgrid.incentives.workflow import ACTION_LABELS

        return ACTION_LABELS.get(self.action, self.action)


class LedgerIsAppendOnly(Exception):
    """Reward entries are never changed or removed; a reversal is a new entry."""


class _LedgerQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LedgerIsAppendOnly("reward entries are never updated")

    def delete(self):
        raise LedgerIsAppendOnly("reward entries are never deleted")


class RewardEntry(models.Model):
    """Money recorded for a reporter (positive) or taken back by a revocation (negative)."""

    class Kind(models.TextChoices):
        AWARD = "award", _("Reward")
        REVERSAL = "reversal", _("Reversal")

    nomination = models.ForeignKey(Nomination, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    recipient_name = models.CharField(_("recipient"), max_length=150)
    channel = models.CharField(_("reported as"), max_length=16, blank=True)
    amount = models.IntegerField(_("amount (yuan)"))
    town_code = models.CharField(_("township"), max_length=9, db_index=True)
    year = models.PositiveIntegerField(_("budget year"))
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    reason = models.TextField(_("reason"), blank=True)
    created = models.DateTimeField(_("recorded"), db_index=True)

    objects = _LedgerQuerySet.as_manager()

    class Meta:
        verbose_name = _("reward entry")
        verbose_name_plural = _("reward entries")
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["town_code", "year"], name="reward_entry_budget")]

    def __str__(self):
        return f"{self.recipient_name} {self.amount:+d}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise LedgerIsAppendOnly("reward entries are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerIsAppendOnly("reward entries are never deleted")


class TypicalCase(models.Model):
    """典型案例: an approved high-value case written up without personal data."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    nomination = models.OneToOneField(
        Nomination, on_delete=models.PROTECT, related_name="typical_case"
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, db_index=True)
    title = models.CharField(_("title"), max_length=120)
    summary = models.TextField(_("summary"))
    found = models.TextField(_("what was found"))
    handled = models.TextField(_("how it was handled"))
    lessons = models.TextField(_("lessons"))
    category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    criterion = models.CharField(_("criterion"), max_length=10, choices=Criterion.choices)
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    town_code = models.CharField(_("township"), max_length=9, db_index=True)
    county_code = models.CharField(_("county"), max_length=6, db_index=True)
    year = models.PositiveIntegerField(_("year"), db_index=True)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    written_at = models.DateTimeField(_("written"))
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField(_("published"), null=True, blank=True)

    class Meta:
        verbose_name = _("typical case")
        verbose_name_plural = _("typical cases")
        ordering = ["-year", "-published_at", "-id"]

    def __str__(self):
        return self.title


class AppraisalIndicator(models.Model):
    """One weighted indicator of the grid-worker appraisal (score = Σ weight × count)."""

    class Key(models.TextChoices):
        VALID_REPORTS = "valid_reports", _("Valid reports (accepted)")
        HIGH_VALUE = "high_value", _("High-value reports (rewarded)")
        VISITS_ON_TIME = "visits_on_time", _("Visits done on time")
        SELF_CLOSED = "self_closed", _("Cases closed on the spot")
        SATISFIED = "satisfied", _("Reports with a satisfied reporter")
        OVERDUE = "overdue", _("Overdue cases of the grid")

    key = models.CharField(_("indicator"), max_length=16, choices=Key.choices, unique=True)
    weight = models.DecimalField(_("weight"), max_digits=6, decimal_places=2)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("appraisal indicator")
        verbose_name_plural = _("appraisal indicators")
        ordering = ["id"]

    def __str__(self):
        return f"{self.get_key_display()} × {self.weight}"
