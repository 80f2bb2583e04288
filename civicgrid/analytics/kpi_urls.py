"""The KPI table page; included by ``civicgrid.analytics.urls``."""

from django.urls import path

from civicgrid.analytics import kpi_views

urlpatterns = [
    path("analytics/kpis/", kpi_views.kpi_table, name="analytics_kpis"),
    path(
        "analytics/kpis/<slug:table>.<slug:fmt>",
        kpi_views.kpi_export,
        name="analytics_kpi_export",
    ),
]
