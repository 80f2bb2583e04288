"""This app's pages (they extend ``web/base.html``); included at the site root by civicgrid.urls."""

from django.urls import path

from civicgrid.datahub import views

urlpatterns = [
    path("datahub/", views.index, name="datahub_index"),
    path("datahub/upload/", views.upload, name="datahub_upload"),
    path("datahub/runs.<slug:fmt>", views.runs_export, name="datahub_runs_export"),
    path("datahub/sources.<slug:fmt>", views.sources_export, name="datahub_sources_export"),
    path("datahub/runs/<int:pk>/", views.run_detail, name="datahub_run"),
    path("datahub/runs/<int:pk>/mapping/", views.mapping, name="datahub_mapping"),
    path("datahub/runs/<int:pk>/import/", views.run_import, name="datahub_import"),
    path("datahub/runs/<int:pk>/cancel/", views.run_cancel, name="datahub_cancel"),
    path("datahub/runs/<int:pk>/progress/", views.run_progress, name="datahub_progress"),
    path(
        "datahub/runs/<int:pk>/problems.<slug:fmt>",
        views.problems_export,
        name="datahub_problems_export",
    ),
]
