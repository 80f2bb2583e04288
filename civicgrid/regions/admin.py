from django.contrib import admin

from civicgrid.core.admin import ScopedAdmin
from civicgrid.regions.actions import (
    do_create_grid,
    do_create_region,
    do_update_grid,
    do_update_region,
)
from civicgrid.regions.models import Grid, Region
from civicgrid.regions.selectors import grids_visible_to, regions_visible_to


@admin.register(Region)
class RegionAdmin(ScopedAdmin):
    view_permission = "regions.view"
    change_permission = "regions.change"
    region_field = "code"
    list_display = ["code", "name", "level", "division_type", "geometry_source"]
    list_filter = ["level", "division_type"]
    search_fields = ["code", "name"]
    readonly_fields = ["bbox", "geometry_source", "updated"]
    fields = [
        "code",
        "name",
        "level",
        "division_type",
        "parent",
        "geometry",
        "bbox",
        "geometry_source",
        "updated",
    ]
    raw_id_fields = ["parent"]

    def scoped_queryset(self, request):
        return regions_visible_to(request.user).select_related("parent")

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "code", "level", "parent"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changes = {
                f: data[f] for f in form.changed_data if f in {"name", "division_type", "geometry"}
            }
            if changes:
                do_update_region(obj, actor=request.user, **changes)
        else:
            created = do_create_region(
                code=data["code"],
                name=data["name"],
                level=data["level"],
                parent=data.get("parent"),
                division_type=data.get("division_type", ""),
                geometry=data.get("geometry"),
                actor=request.user,
            )
            obj.pk = created.pk


@admin.register(Grid)
class GridAdmin(ScopedAdmin):
    view_permission = "regions.view"
    change_permission = "regions.change"
    region_field = "code"
    list_display = ["code", "name", "kind", "purpose", "village", "active"]
    list_filter = ["kind", "purpose", "active"]
    search_fields = ["code", "name"]
    raw_id_fields = ["village", "parent"]
    readonly_fields = ["bbox", "geometry_source", "updated"]
    fields = [
        "code",
        "name",
        "village",
        "parent",
        "kind",
        "purpose",
        "active",
        "geometry",
        "bbox",
        "geometry_source",
        "updated",
    ]

    def scoped_queryset(self, request):
        return grids_visible_to(request.user)

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "code", "village", "parent"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            editable = {"name", "kind", "purpose", "active", "geometry"}
            changes = {f: data[f] for f in form.changed_data if f in editable}
            if changes:
                do_update_grid(obj, actor=request.user, **changes)
        else:
            created = do_create_grid(
                code=data["code"],
                name=data["name"],
                village=data["village"],
                kind=data["kind"],
                purpose=data.get("purpose") or "",
                parent=data.get("parent"),
                geometry=data.get("geometry"),
                actor=request.user,
            )
            obj.pk = created.pk
