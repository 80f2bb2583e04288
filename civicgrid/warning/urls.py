"""This app's pages (they extend ``web/base.html``); included at the site root by civicgrid.urls."""

from django.urls import path

from civicgrid.warning import views

urlpatterns = [
    path("warnings/", views.warning_list, name="warning_list"),
    path("warnings/export.<slug:fmt>", views.warning_export, name="warning_export"),
    path("warnings/map.json", views.warning_map_open, name="warning_map_open"),
    path("warnings/settings/", views.warning_settings, name="warning_settings"),
    path("warnings/reporting-days/", views.reporting_days, name="warning_reporting_days"),
    path(
        "warnings/reporting-days/export.<slug:fmt>",
        views.reporting_days_export,
        name="warning_reporting_days_export",
    ),
    path(
        "warnings/reporting-days/remove/",
        views.reporting_day_remove,
        name="warning_reporting_day_remove",
    ),
    path("warnings/settings/<str:code>/", views.warning_setting_edit, name="warning_setting_edit"),
    path("warnings/<int:pk>/", views.warning_detail, name="warning_detail"),
    path("warnings/<int:pk>/map.json", views.warning_map, name="warning_map"),
    path("warnings/<int:pk>/act/<slug:action>/", views.warning_act, name="warning_act"),
]
