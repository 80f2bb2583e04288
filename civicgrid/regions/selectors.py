"""Reads of regions and grids, always through the user's scope; the point→grid service."""

import threading

from django.db.models import QuerySet
from django.http import Http404

from civicgrid.core.scoping import can, restrict
from civicgrid.regions import geo
from civicgrid.regions.models import GeometryVersion, Grid, Region

__all__ = [
    "access_grid",
    "access_region",
    "get_locator",
    "grid_geometries",
    "grids_visible_to",
    "locate_grid",
    "regions_visible_to",
]


def regions_visible_to(user, permission: str = "regions.view") -> QuerySet[Region]:
    """Regions in the user's subtrees, plus the ancestors they need to place them.

    A township operator sees their township and its villages; the county row itself is
    outside a township operator's scope.
    """
    return restrict(Region.objects.all(), user, permission, region_field="code")


def grids_visible_to(user, permission: str = "regions.view") -> QuerySet[Grid]:
    return restrict(Grid.objects.select_related("village"), user, permission, region_field="code")


def access_region(user, code: str, permission: str = "regions.view") -> Region:
    """The region, if the user may use ``permission`` on it; otherwise 404 (no existence leak)."""
    region = Region.objects.filter(code=code).first()
    if region is None or not can(user, permission, region_code=region.code):
        raise Http404
    return region


def access_grid(user, code: str, permission: str = "regions.view") -> Grid:
    grid = Grid.objects.select_related("village").filter(code=code).first()
    if grid is None or not can(user, permission, region_code=grid.code):
        raise Http404
    return grid


def grid_geometries(*, micro: bool = False) -> list[tuple[str, object]]:
    """(code, shapely geometry) of every active grid with a boundary (top level or micro)."""
    rows = Grid.objects.filter(active=True, geometry__isnull=False)
    rows = rows.filter(kind=Grid.Kind.MICRO) if micro else rows.exclude(kind=Grid.Kind.MICRO)
    return [
        (code, geo.geometry_from_geojson(geometry))
        for code, geometry in rows.order_by("code").values_list("code", "geometry")
    ]


class _LocatorCache:
    """Per-process point→grid indexes, rebuilt when GeometryVersion moves on."""

    def __init__(self):
        self._lock = threading.Lock()
        self._version = None
        self._grids = None
        self._micro = None

    def get(self) -> tuple["geo.GridLocator", "geo.GridLocator"]:
        version = GeometryVersion.objects.filter(pk=1).values_list("version", flat=True).first()
        if self._grids is None or version != self._version:
            with self._lock:
                if self._grids is None or version != self._version:
                    self._grids = geo.GridLocator(grid_geometries())
                    self._micro = geo.GridLocator(grid_geometries(micro=True))
                    self._version = version
        return self._grids, self._micro


_cache = _LocatorCache()


def get_locator() -> "geo.GridLocator":
    return _cache.get()[0]


def locate_grid(lat: float, lng: float, *, datum: str = "wgs84") -> tuple[str | None, str | None]:
    """(grid code, micro-grid code) at a point; GCJ-02 input (Amap, Tencent) is converted.

    Public data: grid codes are not personal, so this needs no user.
    """
    grids, micro = _cache.get()
    grid_code = grids.locate(lat, lng, datum=datum)
    micro_code = micro.locate(lat, lng, datum=datum) if grid_code and len(micro) else None
    if micro_code and not micro_code.startswith(grid_code):
        micro_code = None
    return grid_code, micro_code
