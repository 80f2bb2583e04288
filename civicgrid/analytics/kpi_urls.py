"""The KPI table page; included by ``civicgrid.analytics.urls``."""

from django.urls import path

from civicgrid.analytics import kpi_views, province_views

urlpatterns = [
    path("analytics/province/", province_views.province_table, name="analytics_province"),
    path(
        "analytics/province.<slug:fmt>",
        province_views.province_export,
        name="analytics_province_export",
    ),
    path("analytics/kpis/", kpi_views.kpi_table, name="analytics_kpis"),
    path(
        "analytics/kpis/<slug:table>.<slug:fmt>",
        kpi_views.kpi_export,
        name="analytics_kpi_export",
    ),
]
