"""Reference data: the category tree, regions, grids (GeoJSON) and departments."""

from django.db.models import Q
from django.http import Http404
from ninja import Field, Query, Router

from civicgrid.api.rest import schemas as s
from civicgrid.api.rest.errors import ERRORS
from civicgrid.cases.models import Category
from civicgrid.people.selectors import departments_visible_to
from civicgrid.regions.models import Grid
from civicgrid.regions.selectors import (
    access_grid,
    access_region,
    grids_visible_to,
    regions_visible_to,
)

router = Router(tags=["reference"])


def _user(request):
    return request.auth.user


@router.get("/categories", response={200: list[s.CategoryTreeOut], **ERRORS})
def categories(request):
    """The whole active category tree: first level with its leaves."""
    rows = list(Category.objects.filter(active=True).select_related("parent").order_by("code"))
    tops = [c for c in rows if c.parent_id is None]
    children: dict[int, list] = {}
    for c in rows:
        if c.parent_id is not None:
            children.setdefault(c.parent_id, []).append(s.category_out(c))
    return [
        {"code": t.code, "name": t.name, "name_en": t.name_en, "children": children.get(t.pk, [])}
        for t in tops
    ]


@router.get("/categories/{code}", response={200: s.CategoryOut, **ERRORS})
def category(request, code: str):
    found = Category.objects.filter(code=code, active=True).select_related("parent").first()
    if found is None:
        raise Http404
    return s.category_out(found)


class RegionFilters(s.PageQuery):
    level: str | None = Field(None, pattern="^(county|town|village)$")
    parent: s.Code | None = None
    q: s.ShortText | None = None


@router.get("/regions", response={200: s.RegionPage, **ERRORS})
def regions(request, filters: Query[RegionFilters]):
    rows = regions_visible_to(_user(request)).select_related("parent").order_by("code")
    if filters.level:
        rows = rows.filter(level=filters.level)
    if filters.parent:
        rows = rows.filter(parent__code=filters.parent)
    if filters.q:
        rows = rows.filter(Q(name__contains=filters.q) | Q(code__startswith=filters.q))
    return s.paginate(request, rows, filters, s.region_out)


@router.get("/regions/{code}", response={200: s.RegionOut, **ERRORS})
def region(request, code: str):
    return s.region_out(access_region(_user(request), code))


class GridFilters(s.PageQuery):
    region: s.Code | None = Field(None, description="A township or village code (prefix).")
    kind: str | None = Field(None, pattern="^(basic|dedicated|micro)$")
    geometry: bool = Field(True, description="Include boundaries (false: properties only).")


@router.get("/grids", response={200: s.GridCollection, **ERRORS}, url_name="grid_list")
def grids(request, filters: Query[GridFilters]):
    """Grids as a GeoJSON FeatureCollection, a page at a time (page fields as extra members)."""
    rows = grids_visible_to(_user(request)).select_related("parent").order_by("code")
    if filters.region:
        rows = rows.filter(code__startswith=filters.region)
    rows = rows.filter(kind=filters.kind) if filters.kind else rows.exclude(kind=Grid.Kind.MICRO)

    def render(grid):
        feature = s.grid_feature(grid)
        if not filters.geometry:
            feature["geometry"] = None
        return feature

    page = s.paginate(request, rows, filters, render)
    page["type"] = "FeatureCollection"
    page["features"] = page.pop("results")
    return page


@router.get("/grids/{code}", response={200: s.GridFeature, **ERRORS}, url_name="grid_detail")
def grid(request, code: str):
    return s.grid_feature(access_grid(_user(request), code))


class DepartmentFilters(s.PageQuery):
    region: s.Code | None = None
    kind: s.Code | None = None


@router.get("/departments", response={200: s.DepartmentPage, **ERRORS})
def departments(request, filters: Query[DepartmentFilters]):
    rows = departments_visible_to(_user(request)).filter(active=True).order_by("code")
    if filters.region:
        rows = rows.filter(region__code__startswith=filters.region)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    return s.paginate(request, rows, filters, s.department_out)
