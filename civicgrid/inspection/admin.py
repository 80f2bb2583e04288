"""Admin pages: visit rules and overrides are changed through actions; visits and walks are
read-only."""

from django.contrib import admin

from civicgrid.core.admin import ScopedAdmin
from civicgrid.core.scoping import scope_for
from civicgrid.inspection.actions import do_set_visit_override, do_update_visit_rule
from civicgrid.inspection.models import DueVisit, Patrol, Visit, VisitOverride, VisitRule
from civicgrid.inspection.selectors import (
    due_visits_visible_to,
    patrols_visible_to,
    visits_visible_to,
)


@admin.register(VisitRule)
class VisitRuleAdmin(ScopedAdmin):
    """County-wide data: everyone who sees people sees the rules; the county changes them."""

    view_permission = "people.view"
    change_permission = "people.change"
    list_display = ["key_group", "cadence", "follows_working_days", "responsible_role", "active"]
    fields = [
        "key_group",
        "cadence",
        "follows_working_days",
        "responsible_role",
        "checklist",
        "active",
    ]
    readonly_fields = ["key_group"]

    def scoped_queryset(self, request):
        qs = VisitRule.objects.select_related("key_group")
        return qs if scope_for(request.user).has(self.view_permission) else qs.none()

    def object_region_code(self, obj) -> str:
        return ""

    def has_view_permission(self, request, obj=None):
        return scope_for(request.user).has(self.view_permission)

    def has_change_permission(self, request, obj=None):
        return scope_for(request.user).has(self.change_permission)

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        changes = {f: form.cleaned_data[f] for f in form.changed_data if f != "key_group"}
        if changes:
            do_update_visit_rule(obj, actor=request.user, **changes)


@admin.register(VisitOverride)
class VisitOverrideAdmin(ScopedAdmin):
    view_permission = "people.view"
    change_permission = "people.change"
    list_display = ["person", "cadence", "reason", "active", "updated"]
    list_filter = ["cadence", "active"]
    fields = ["person", "cadence", "reason", "active"]
    raw_id_fields = ["person"]

    def get_readonly_fields(self, request, obj=None):
        return ["person", "active"] if obj else ["active"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        person = obj.person if change else data["person"]
        saved = do_set_visit_override(
            person, actor=request.user, cadence=data["cadence"], reason=data["reason"]
        )
        obj.pk = saved.pk


@admin.register(DueVisit)
class DueVisitAdmin(ScopedAdmin):
    view_permission = "people.view"
    list_display = ["person", "cadence", "period_start", "due_date", "state", "assignee"]
    list_filter = ["state", "cadence"]
    list_select_related = ["person", "assignee"]
    date_hierarchy = "due_date"

    def scoped_queryset(self, request):
        return due_visits_visible_to(request.user)


@admin.register(Visit)
class VisitAdmin(ScopedAdmin):
    view_permission = "people.view"
    list_display = ["person", "visited_at", "outcome", "worker", "case"]
    list_filter = ["outcome"]
    list_select_related = ["person", "worker", "case"]
    date_hierarchy = "visited_at"

    def scoped_queryset(self, request):
        return visits_visible_to(request.user)


@admin.register(Patrol)
class PatrolAdmin(ScopedAdmin):
    """Walks are recorded on their page (``do_record_patrol``); here they are read."""

    view_permission = "people.view"
    list_display = ["grid", "worker", "started_at", "ended_at", "length_m"]
    list_select_related = ["grid", "worker"]
    date_hierarchy = "started_at"

    def scoped_queryset(self, request):
        return patrols_visible_to(request.user)
