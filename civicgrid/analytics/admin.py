"""Read-only admin pages over reports, analysts' entries and follow-up items; KPI targets are
set here by the county centre (``analytics.configure``) through ``do_set_kpi_target``."""

from django.contrib import admin

from civicgrid.core.admin import ScopedAdmin

from .actions import county_code, do_set_kpi_target
from .models import FollowUp, KpiTarget, Report, ReportEntry


class _ReadOnly(ScopedAdmin):
    view_permission = "analytics.view"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Report)
class ReportAdmin(_ReadOnly):
    list_display = ["kind", "region_name", "period_start", "period_end", "generated_at", "revision"]
    list_filter = ["kind"]
    exclude = ["content"]


@admin.register(ReportEntry)
class ReportEntryAdmin(_ReadOnly):
    region_field = "report__region_code"
    list_display = ["report", "action", "actor_name", "created"]

    def object_region_code(self, obj):
        return obj.report.region_code


@admin.register(FollowUp)
class FollowUpAdmin(_ReadOnly):
    region_field = "report__region_code"
    list_display = ["report", "case", "topic", "created", "closed_at"]

    def object_region_code(self, obj):
        return obj.report.region_code


@admin.register(KpiTarget)
class KpiTargetAdmin(ScopedAdmin):
    view_permission = "analytics.view"
    change_permission = "analytics.configure"
    reference_data = True
    list_display = ["year", "kpi", "region_code", "target", "updated"]
    list_filter = ["year"]
    fields = ["kpi", "region_code", "year", "target"]

    def scoped_queryset(self, request):  # targets are the same for everyone who sees KPIs
        return (
            KpiTarget.objects.all()
            if self.has_module_permission(request)
            else KpiTarget.objects.none()
        )

    def object_region_code(self, obj):
        return obj.region_code or county_code()

    def save_model(self, request, obj, form, change):
        saved = do_set_kpi_target(
            kpi=obj.kpi,
            region_code=obj.region_code,
            year=obj.year,
            target=obj.target,
            actor=request.user,
        )
        obj.pk = saved.pk
