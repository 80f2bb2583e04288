"""People, departments, roles, and what residents live in and belong to (MISSION A2–A4).

ID-card and phone numbers are never stored in clear text: each is kept as ciphertext
(``*_cipher``), a keyed hash for exact-match search and de-duplication (``*_hash``) and the
masked form shown to most readers (``*_masked``). See ``people.pii``.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.core.roles import Role
from civicgrid.regions.models import Grid, Region

__all__ = [
    "Department",
    "House",
    "KeyGroup",
    "Organisation",
    "Person",
    "PersonKeyGroup",
    "Place",
    "RoleAssignment",
]


class Department(models.Model):
    """A government department or one of its local offices (派出所, 市场监管所 …)."""

    class Kind(models.TextChoices):
        PUBLIC_SECURITY = "public_security", _("Public security")
        MARKET_SUPERVISION = "market_supervision", _("Market supervision")
        NATURAL_RESOURCES = "natural_resources", _("Natural resources and planning")
        JUSTICE = "justice", _("Justice")
        EMERGENCY = "emergency", _("Emergency management")
        LAW_ENFORCEMENT = "law_enforcement", _("Comprehensive law enforcement")
        HOUSING = "housing", _("Housing and construction")
        TRANSPORT = "transport", _("Transport")
        HEALTH = "health", _("Health")
        HUMAN_RESOURCES = "human_resources", _("Human resources and social security")
        PETITIONS = "petitions", _("Letters and visits")
        ECOLOGY = "ecology", _("Ecology and environment")
        CIVIL_AFFAIRS = "civil_affairs", _("Civil affairs")
        EDUCATION = "education", _("Education")
        FIRE = "fire", _("Fire and rescue")
        OTHER = "other", _("Other")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    short_name = models.CharField(_("short name"), max_length=32, blank=True)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    region = models.ForeignKey(
        Region,
        verbose_name=_("area served"),
        on_delete=models.PROTECT,
        related_name="departments",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="offices",
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]

    def __str__(self):
        return self.name


class KeyGroup(models.Model):
    """A key group residents can be tagged with (独居老人, 困境儿童, 社区矫正 …)."""

    class VisitRule(models.TextChoices):
        NONE = "", _("No rule")
        WEEKLY = "weekly", _("Weekly visit")
        MONTHLY = "monthly", _("Monthly visit")
        QUARTERLY = "quarterly", _("Quarterly visit")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=50)
    visit_rule = models.CharField(
        _("visit rule"), max_length=10, choices=VisitRule.choices, blank=True
    )
    sensitive = models.BooleanField(
        _("sensitive"),
        default=False,
        help_text=_("Membership itself is personal data (e.g. community correction)."),
    )

    class Meta:
        verbose_name = _("key group")
        verbose_name_plural = _("key groups")
        ordering = ["code"]

    def __str__(self):
        return self.name


class House(models.Model):
    """A dwelling or building unit in a grid (实有房屋)."""

    class Kind(models.TextChoices):
        OWNER_OCCUPIED = "owner", _("Owner-occupied")
        RENTED = "rented", _("Rented")
        SHOP = "shop", _("Shop / commercial")
        VACANT = "vacant", _("Vacant")

    code = models.CharField(_("house code"), max_length=32, unique=True)
    address = models.CharField(_("address"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    grid = models.ForeignKey(Grid, verbose_name=_("grid"), on_delete=models.PROTECT)
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)

    class Meta:
        verbose_name = _("house")
        verbose_name_plural = _("houses")
        ordering = ["code"]

    def __str__(self):
        return self.address


class Person(models.Model):
    """A person known to the platform: a resident, a staff member, or both."""

    class Gender(models.TextChoices):
        UNKNOWN = "", _("Unknown")
        MALE = "M", _("Male")
        FEMALE = "F", _("Female")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="person",
    )
    name = models.CharField(pgettext_lazy("person", "name"), max_length=50)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    id_number_cipher = models.TextField(blank=True, editable=False)
    id_number_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=18, blank=True, editable=False)
    phone_cipher = models.TextField(blank=True, editable=False)
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True, editable=False)
    is_resident = models.BooleanField(_("resident"), default=True)
    region_code = models.CharField(
        _("region code"),
        max_length=18,
        db_index=True,
        help_text=_("Code of the grid (or region) the person belongs to; decides who sees them."),
    )
    grid = models.ForeignKey(
        Grid, verbose_name=_("grid"), null=True, blank=True, on_delete=models.PROTECT
    )
    house = models.ForeignKey(
        House, verbose_name=_("house"), null=True, blank=True, on_delete=models.SET_NULL
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    key_groups = models.ManyToManyField(
        KeyGroup, verbose_name=_("key groups"), through="PersonKeyGroup", blank=True
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["region_code", "id"]

    def __str__(self):
        return self.name


class PersonKeyGroup(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="key_group_tags")
    key_group = models.ForeignKey(KeyGroup, verbose_name=_("key group"), on_delete=models.PROTECT)
    region_code = models.CharField(max_length=18, db_index=True)
    since = models.DateField(_("since"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("key-group tag")
        verbose_name_plural = _("key-group tags")
        constraints = [
            models.UniqueConstraint(fields=["person", "key_group"], name="person_key_group_once")
        ]

    def __str__(self):
        return f"{self.person} · {self.key_group}"


class Organisation(models.Model):
    """An enterprise, social organisation or other body in a grid (实有单位)."""

    class Kind(models.TextChoices):
        ENTERPRISE = "enterprise", _("Enterprise")
        SHOP = "shop", _("Individual business")
        SOCIAL = "social", _("Social organisation")
        PUBLIC = "public", _("Public institution")

    name = models.CharField(_("name"), max_length=100)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    grid = models.ForeignKey(Grid, verbose_name=_("grid"), on_delete=models.PROTECT)
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    address = models.CharField(_("address"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["region_code", "id"]

    def __str__(self):
        return self.name


class Place(models.Model):
    """A place that matters for safety or services (市场, 学校, 出租房, 九小场所 …)."""

    class Kind(models.TextChoices):
        MARKET = "market", _("Market")
        SCHOOL = "school", _("School")
        HOSPITAL = "hospital", _("Hospital / clinic")
        SMALL_VENUE = "small_venue", _("Small venue (九小场所)")
        RENTAL = "rental", _("Rental housing")
        CONSTRUCTION = "construction", _("Construction site")
        SCENIC = "scenic", _("Scenic spot")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    grid = models.ForeignKey(Grid, verbose_name=_("grid"), on_delete=models.PROTECT)
    region_code = models.CharField(_("region code"), max_length=18, db_index=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)

    class Meta:
        verbose_name = _("place")
        verbose_name_plural = _("places")
        ordering = ["region_code", "id"]

    def __str__(self):
        return self.name


class RoleAssignment(models.Model):
    """A person holds a role at a place (region, grid or micro-grid) and/or for a department.

    ``scope_code`` is the code of that place ("" for a global administrator): the holder's
    reach is every object whose region code starts with it.
    """

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="roles"
    )
    role = models.CharField(_("role"), max_length=24, choices=Role.choices)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT
    )
    grid = models.ForeignKey(
        Grid, verbose_name=_("grid"), null=True, blank=True, on_delete=models.PROTECT
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
    )
    scope_code = models.CharField(_("scope"), max_length=18, blank=True, db_index=True)
    active = models.BooleanField(_("active"), default=True)
    since = models.DateField(_("since"), null=True, blank=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        ordering = ["person_id", "role"]
        indexes = [models.Index(fields=["role", "scope_code"])]

    def __str__(self):
        return f"{self.person} · {self.get_role_display()}"


class PhoneChallenge(models.Model):
    """A one-time code sent by SMS to prove a resident holds a phone number (no account).

    Neither the number nor the code is stored: the number as its keyed hash (``pii``), the
    code as an HMAC. A code lives ten minutes and allows five tries.
    """

    phone_hash = models.CharField(max_length=64, db_index=True)
    code_hash = models.CharField(max_length=64)
    created = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("phone verification")
        verbose_name_plural = _("phone verifications")

    def __str__(self):
        return f"{self.phone_hash[:8]}… {self.created:%Y-%m-%d %H:%M}"
