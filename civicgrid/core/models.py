"""The audit trail: an append-only, hash-chained log written inside actions."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = [
    "AuditChainHead",
    "AuditCheck",
    "AuditEvent",
    "LoginAttempt",
    "TotpDevice",
    "TotpRecoveryCode",
]


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("audit events are append-only")

    def delete(self):
        raise TypeError("audit events are append-only")


class AuditEvent(models.Model):
    """One thing someone did, with what it changed. Never updated or deleted.

    ``hash`` covers every column and ``prev_hash`` (the previous event's hash), so editing or
    removing any row breaks the chain; ``civicgrid verify_audit`` walks it.
    """

    created = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.CharField(_("object type"), max_length=64, blank=True)
    target_id = models.CharField(_("object id"), max_length=64, blank=True)
    target_repr = models.CharField(_("object"), max_length=200, blank=True)
    scope_code = models.CharField(_("region code"), max_length=18, blank=True, db_index=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self):
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action}"


class AuditChainHead(models.Model):
    """The single row that serialises appends and remembers the newest hash.

    Locking it makes concurrent writers append one after another, and comparing it with the
    newest event detects a deleted tail.
    """

    last_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    count = models.BigIntegerField(default=0)

    def __str__(self):
        return f"audit chain head #{self.last_id}"


class AuditCheck(models.Model):
    """One walk of the hash chain: when, how many events, what was wrong.

    ``tick`` makes one a day (``day`` is unique, so several nodes ticking at once check once);
    ``civicgrid verify_audit`` adds one each time it is run (``day`` empty).
    """

    day = models.DateField(_("day"), null=True, blank=True, unique=True)
    started = models.DateTimeField(_("started"))
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    events = models.BigIntegerField(_("events checked"), default=0)
    problems = models.IntegerField(_("problems"), default=0)
    first_problem = models.TextField(_("first problem"), blank=True)

    class Meta:
        verbose_name = _("audit chain check")
        verbose_name_plural = _("audit chain checks")
        ordering = ["-started", "-id"]

    def __str__(self):
        return f"{self.started:%Y-%m-%d %H:%M} · {self.events} · {self.problems}"

    @property
    def intact(self) -> bool:
        return self.finished is not None and self.problems == 0


class LoginAttempt(models.Model):
    """Every password login tried, for lockout and for "who logged in from where"."""

    username = models.CharField(_("user name"), max_length=150, db_index=True)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True, db_index=True)
    at = models.DateTimeField(_("time"), db_index=True)
    succeeded = models.BooleanField(_("succeeded"), default=False)
    locked = models.BooleanField(
        _("refused by the lock"),
        default=False,
        help_text=_("Tried while the account or address was locked; does not extend the lock."),
    )

    class Meta:
        verbose_name = _("login attempt")
        verbose_name_plural = _("login attempts")
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.ip or ''} {self.succeeded}"


class TotpDevice(models.Model):
    """A person's authenticator app (RFC 6238 TOTP), the second factor of their logins.

    The shared secret is sealed like personal data (``people.pii``: Fernet, rotated by
    ``rotate_pii_key``). Until ``confirmed`` is set (a first code entered) it is only an
    enrolment in progress. ``last_step`` is the newest 30-second step whose code was accepted:
    a code is never accepted twice. Wrong codes are counted in ``failures``; every
    ``LOGIN_MAX_FAILURES`` in a row lock the step for ``LOGIN_LOCK_MINUTES``.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login account"),
        on_delete=models.CASCADE,
        related_name="totp_device",
    )
    secret_cipher = models.TextField(editable=False)
    created = models.DateTimeField(_("created"))
    confirmed = models.DateTimeField(_("confirmed"), null=True, blank=True)
    last_step = models.BigIntegerField(default=0, editable=False)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)
    failures = models.PositiveIntegerField(default=0, editable=False)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("second factor")
        verbose_name_plural = _("second factors")

    def __str__(self):
        return f"{self.user} · {'TOTP' if self.confirmed else '…'}"


class TotpRecoveryCode(models.Model):
    """A one-time code for when the phone is lost; stored only as a keyed hash."""

    device = models.ForeignKey(TotpDevice, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64, db_index=True)
    used = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")

    def __str__(self):
        return f"{self.device_id} · {self.code_hash[:8]}…"


class DailyJob(models.Model):
    """A job ``tick`` runs once a day on whichever node claims it first (the early-warning
    run, the reports): the (name, day) row is inserted before the work — unique, so a node
    that loses the race does nothing — and finished (with a one-line result) after it. A
    claim left unfinished by a killed node is taken over after ``STALE_AFTER``."""

    name = models.CharField(_("job"), max_length=32)
    day = models.DateField(_("day"))
    started = models.DateTimeField(_("started"))
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    result = models.CharField(_("result"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("daily job")
        verbose_name_plural = _("daily jobs")
        constraints = [models.UniqueConstraint(fields=["name", "day"], name="core_dailyjob_once")]

    def __str__(self):
        return f"{self.name} {self.day}"
