"""Administrative divisions and grids (MISSION A1).

Codes nest, so a subtree is a code prefix: county 330281 (6 digits) ⊃ township 330281001
(9) ⊃ village/community 330281001001 (12) ⊃ grid 330281001001003 (15) ⊃ micro-grid
330281001001003002 (18). Geometry is GeoJSON in WGS-84 with its bounding box beside it.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["GeometryVersion", "Grid", "Region"]


class GeometrySource(models.TextChoices):
    NONE = "", _("none")
    SYNTHETIC = "synthetic", _("synthetic (demo)")
    IMPORTED = "imported", _("imported")
    DRAWN = "drawn", _("drawn")


class Region(models.Model):
    """A county, township (镇/街道/乡) or village/community (村/社区)."""

    class Level(models.TextChoices):
        COUNTY = "county", _("County")
        TOWN = "town", _("Township")
        VILLAGE = "village", _("Village / community")

    CODE_LENGTH = {Level.COUNTY: 6, Level.TOWN: 9, Level.VILLAGE: 12}

    code = models.CharField(_("division code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=8, choices=Level.choices)
    division_type = models.CharField(
        _("division type"), max_length=16, blank=True, help_text=_("街道, 镇, 乡, 村, 社区 …")
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    geometry = models.JSONField(_("boundary (GeoJSON)"), null=True, blank=True)
    bbox = models.JSONField(_("bounding box"), null=True, blank=True)
    geometry_source = models.CharField(
        _("boundary source"), max_length=16, choices=GeometrySource.choices, blank=True
    )
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Grid(models.Model):
    """A basic or dedicated grid of a village, or a micro-grid inside a grid."""

    class Kind(models.TextChoices):
        BASIC = "basic", _("Basic grid")
        DEDICATED = "dedicated", _("Dedicated grid")
        MICRO = "micro", _("Micro-grid")

    class Purpose(models.TextChoices):
        NONE = "", _("—")
        INDUSTRIAL_PARK = "industrial_park", _("Industrial park")
        SCHOOL = "school", _("School")
        HOSPITAL = "hospital", _("Hospital")
        MARKET = "market", _("Market")
        SCENIC_AREA = "scenic_area", _("Scenic area")
        ENTERPRISE = "enterprise", _("Enterprise")

    code = models.CharField(_("grid code"), max_length=18, unique=True)
    name = models.CharField(_("name"), max_length=100)
    village = models.ForeignKey(
        Region,
        verbose_name=_("village / community"),
        on_delete=models.PROTECT,
        related_name="grids",
        limit_choices_to={"level": Region.Level.VILLAGE},
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent grid"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="micro_grids",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.BASIC)
    purpose = models.CharField(
        _("purpose"), max_length=20, choices=Purpose.choices, blank=True, default=""
    )
    geometry = models.JSONField(_("boundary (GeoJSON)"), null=True, blank=True)
    bbox = models.JSONField(_("bounding box"), null=True, blank=True)
    geometry_source = models.CharField(
        _("boundary source"), max_length=16, choices=GeometrySource.choices, blank=True
    )
    active = models.BooleanField(_("active"), default=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("grid")
        verbose_name_plural = _("grids")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="dedicated", purpose=""),
                name="grid_dedicated_has_purpose",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def is_micro(self) -> bool:
        return self.kind == self.Kind.MICRO


class GeometryVersion(models.Model):
    """A counter bumped by every action that changes grid boundaries.

    Each process keeps its point→grid index until it sees a newer version.
    """

    version = models.BigIntegerField(default=0)

    def __str__(self):
        return f"geometry version {self.version}"
