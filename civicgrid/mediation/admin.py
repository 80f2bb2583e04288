"""Admin pages: the registry of organisations and mediators is changed through the actions;
disputes and logs are read-only here (their pages act on them)."""

from django.contrib import admin

from civicgrid.core.admin import ScopedAdmin
from civicgrid.mediation.actions import do_save_mediator, do_save_org
from civicgrid.mediation.models import CallLog, Dispute, MediationOrg, Mediator, VisitorLog


@admin.register(MediationOrg)
class MediationOrgAdmin(ScopedAdmin):
    view_permission = "mediation.view"
    change_permission = "mediation.configure"
    list_display = ["code", "name", "kind", "region_code", "capacity", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["code", "name"]
    fields = ["code", "name", "kind", "region_code", "specialities", "capacity", "active"]

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = do_save_org(
            actor=request.user,
            code=obj.code,
            name=data["name"],
            kind=data["kind"],
            region_code=data["region_code"],
            specialities=data.get("specialities") or [],
            capacity=data["capacity"],
            active=data["active"],
        )
        obj.pk = saved.pk


@admin.register(Mediator)
class MediatorAdmin(ScopedAdmin):
    view_permission = "mediation.view"
    change_permission = "mediation.configure"
    list_display = ["name", "kind", "org", "region_code", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name"]
    fields = ["name", "kind", "org", "specialities", "region_code", "user", "active"]
    raw_id_fields = ["user", "org"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = do_save_mediator(
            actor=request.user,
            org=data["org"],
            name=data["name"],
            kind=data["kind"],
            specialities=data.get("specialities") or [],
            region_code=data.get("region_code") or "",
            user=data.get("user"),
            active=data["active"],
            mediator=Mediator.objects.get(pk=obj.pk) if change else None,
        )
        obj.pk = saved.pk


class _ReadOnly(ScopedAdmin):
    view_permission = "mediation.view"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Dispute)
class DisputeAdmin(_ReadOnly):
    list_display = ["code", "title", "category", "state", "risk_level", "region_code", "created"]
    list_filter = ["state", "category", "risk_level", "source"]
    search_fields = ["code", "title"]
    exclude = []


@admin.register(VisitorLog)
class VisitorLogAdmin(_ReadOnly):
    list_display = ["visited_at", "name", "phone_masked", "outcome", "region_code"]
    exclude = ["phone_cipher", "phone_hash"]

    def get_readonly_fields(self, request, obj=None):
        return [f for f in super().get_readonly_fields(request, obj) if f not in self.exclude]


@admin.register(CallLog)
class CallLogAdmin(_ReadOnly):
    list_display = ["received_at", "category", "caller", "phone_masked", "region_code"]
    exclude = ["phone_cipher", "phone_hash"]

    def get_readonly_fields(self, request, obj=None):
        return [f for f in super().get_readonly_fields(request, obj) if f not in self.exclude]
