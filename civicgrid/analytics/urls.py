"""This app's pages (they extend ``web/base.html``); included at the site root by civicgrid.urls.

The reports live under ``/reports/``; the KPI pages (``kpi_urls``) and the cockpit
(``cockpit_urls``) are added when their modules are installed.
"""

from importlib import import_module

from django.urls import include, path

from civicgrid.analytics import views

urlpatterns = [
    path("reports/", views.report_list, name="analytics_reports"),
    path("reports/export.<slug:fmt>", views.report_list_export, name="analytics_reports_export"),
    path("reports/latest/<slug:kind>/", views.latest, name="analytics_latest"),
    path("reports/<int:pk>/", views.report_detail, name="analytics_report"),
    path(
        "reports/<int:pk>/download.<slug:fmt>",
        views.report_download,
        name="analytics_report_download",
    ),
    path(
        "reports/<int:pk>/tables/<slug:key>.<slug:fmt>",
        views.table_export,
        name="analytics_report_table",
    ),
    path("reports/<int:pk>/theme/", views.set_theme, name="analytics_report_theme"),
    path("reports/<int:pk>/notes/", views.write_notes, name="analytics_report_notes"),
    path("reports/<int:pk>/follow-ups/", views.mark_follow_up, name="analytics_follow_up"),
    path(
        "reports/<int:pk>/follow-ups/<int:item>/close/",
        views.close_follow_up,
        name="analytics_follow_up_close",
    ),
    path("reports/<int:pk>/regenerate/", views.regenerate, name="analytics_regenerate"),
]

for _module in ("civicgrid.analytics.kpi_urls", "civicgrid.analytics.cockpit_urls"):
    try:
        import_module(_module)
    except ModuleNotFoundError as exc:
        if exc.name != _module:  # the module exists but something it imports is missing
            raise
        continue
    urlpatterns.append(path("", include(_module)))
