"""This app's pages (they extend ``web/base.html``); included at the site root by civicgrid.urls."""

from django.urls import path

from civicgrid.incentives import views

urlpatterns = [
    path("incentives/nominate/", views.nominate, name="incentives_nominate"),
    path("incentives/queue/<slug:level>/", views.queue, name="incentives_queue"),
    path(
        "incentives/queue/<slug:level>/export.<slug:fmt>",
        views.queue_export,
        name="incentives_queue_export",
    ),
    path("incentives/nominations/", views.nomination_list, name="incentives_nominations"),
    path(
        "incentives/nominations/export.<slug:fmt>",
        views.nomination_list_export,
        name="incentives_nominations_export",
    ),
    path("incentives/nominations/<int:pk>/", views.nomination_detail, name="incentives_nomination"),
    path("incentives/nominations/<int:pk>/write-up/", views.write_up, name="incentives_write_up"),
    path("incentives/me/", views.my_rewards, name="incentives_my_rewards"),
    path(
        "incentives/me/export.<slug:fmt>",
        views.my_rewards_export,
        name="incentives_my_rewards_export",
    ),
    path("incentives/library/", views.library, name="incentives_library"),
    path(
        "incentives/library/export.<slug:fmt>",
        views.library_export,
        name="incentives_library_export",
    ),
    path("incentives/library/<int:pk>/", views.typical_case, name="incentives_typical_case"),
    path(
        "incentives/library/<int:pk>/publish/",
        views.publish_typical_case,
        name="incentives_publish_typical_case",
    ),
    path("incentives/appraisal/", views.appraisal_table, name="incentives_appraisal"),
    path(
        "incentives/appraisal/export.<slug:fmt>",
        views.appraisal_export,
        name="incentives_appraisal_export",
    ),
    path(
        "incentives/appraisal/league/<slug:by>/export.<slug:fmt>",
        views.league_export,
        name="incentives_league_export",
    ),
    path(
        "incentives/appraisal/workers/<int:user_id>/",
        views.appraisal_worker,
        name="incentives_appraisal_worker",
    ),
    path(
        "incentives/appraisal/workers/<int:user_id>/export.<slug:fmt>",
        views.appraisal_worker_export,
        name="incentives_appraisal_worker_export",
    ),
    path("incentives/scheme/", views.scheme, name="incentives_scheme"),
    path("incentives/scheme/new/", views.scheme_publish, name="incentives_scheme_publish"),
    path(
        "incentives/scheme/export.<slug:fmt>", views.scheme_export, name="incentives_scheme_export"
    ),
]
