"""This app's pages (they extend ``web/base.html``); included at the site root by civicgrid.urls."""

from django.urls import path

from civicgrid.campaigns import views

urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/export.<slug:fmt>", views.campaign_export, name="campaign_export"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/my-targets/", views.campaign_my_targets, name="campaign_my_targets"),
    path(
        "campaigns/my-targets/export.<slug:fmt>",
        views.campaign_my_targets_export,
        name="campaign_my_targets_export",
    ),
    path(
        "campaigns/targets/<int:pk>/check/",
        views.campaign_target_check,
        name="campaign_target_check",
    ),
    path("campaigns/checks/<int:pk>/", views.campaign_check_detail, name="campaign_check_detail"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/act/<slug:action>/", views.campaign_act, name="campaign_act"),
    path("campaigns/<int:pk>/targets/add/", views.campaign_add_target, name="campaign_add_target"),
    path(
        "campaigns/<int:pk>/targets/import/",
        views.campaign_import_targets,
        name="campaign_import_targets",
    ),
    path(
        "campaigns/<int:pk>/progress.<slug:fmt>",
        views.campaign_progress_export,
        name="campaign_progress_export",
    ),
    path(
        "campaigns/<int:pk>/targets.<slug:fmt>",
        views.campaign_targets_export,
        name="campaign_targets_export",
    ),
]
