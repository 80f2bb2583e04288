"""Points rules are edited here by the county centre; members, the ledger and awards are read."""

from django.contrib import admin

from civicgrid.core.admin import ScopedAdmin
from civicgrid.core.scoping import scope_for

from .actions import MANAGE_PERMISSION, do_update_point_rule
from .models import Award, Member, PointEntry, PointRule


@admin.register(PointRule)
class PointRuleAdmin(ScopedAdmin):
    """One rule per event; the county centre changes points and caps (``do_update_point_rule``)."""

    reference_data = True
    view_permission = "cases.view"
    change_permission = "cases.configure"
    list_display = ["event", "points", "daily_cap", "monthly_cap", "active"]
    fields = ["event", "points", "daily_cap", "monthly_cap", "active"]
    readonly_fields = ["event"]

    def scoped_queryset(self, request):
        return PointRule.objects.all()

    def has_view_permission(self, request, obj=None):
        return scope_for(request.user).has(self.view_permission)

    def has_change_permission(self, request, obj=None):
        return scope_for(request.user).has(self.change_permission)

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        changes = {f: form.cleaned_data[f] for f in form.changed_data if f in form.cleaned_data}
        if changes:
            do_update_point_rule(obj, actor=request.user, **changes)


class _ReadOnly(ScopedAdmin):
    view_permission = MANAGE_PERMISSION

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Member)
class MemberAdmin(_ReadOnly):
    list_display = ["id", "name", "phone_masked", "kind", "platform", "region_code", "state"]
    list_filter = ["kind", "state"]
    search_fields = ["name", "region_code", "platform"]
    exclude = ["phone_hash"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Member._meta.fields if f.name != "phone_hash"]


@admin.register(PointEntry)
class PointEntryAdmin(_ReadOnly):
    list_display = ["id", "created", "member", "points", "event", "case", "reverses"]
    list_filter = ["event"]
    date_hierarchy = "effective"
    list_select_related = ["member", "case", "reverses"]


@admin.register(Award)
class AwardAdmin(_ReadOnly):
    region_field = "county_code"
    list_display = ["year", "county_code", "size", "state", "proposed_at", "confirmed_at"]
