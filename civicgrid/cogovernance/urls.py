"""This app's pages (they extend ``web/base.html``); included at the site root by civicgrid.urls."""

from django.urls import path

from civicgrid.cogovernance import views

urlpatterns = [
    path("join/", views.register, name="cogovernance_register"),
    path("cogovernance/me/", views.my_points, name="cogovernance_my_points"),
    path(
        "cogovernance/me/export.<slug:fmt>",
        views.my_points_export,
        name="cogovernance_my_points_export",
    ),
    path("cogovernance/leaderboard/", views.leaderboard, name="cogovernance_leaderboard"),
    path(
        "cogovernance/leaderboard/export.<slug:fmt>",
        views.leaderboard_export,
        name="cogovernance_leaderboard_export",
    ),
    path("cogovernance/members/", views.member_list, name="cogovernance_members"),
    path(
        "cogovernance/members/export.<slug:fmt>",
        views.member_export,
        name="cogovernance_member_export",
    ),
    path("cogovernance/members/<int:pk>/", views.member_detail, name="cogovernance_member"),
    path(
        "cogovernance/members/<int:pk>/export.<slug:fmt>",
        views.member_ledger_export,
        name="cogovernance_member_ledger_export",
    ),
    path(
        "cogovernance/members/<int:pk>/state/",
        views.member_state,
        name="cogovernance_member_state",
    ),
    path(
        "cogovernance/cases/<str:code>/invalidate/",
        views.invalidate,
        name="cogovernance_invalidate",
    ),
    path("cogovernance/awards/", views.award_list, name="cogovernance_awards"),
    path("cogovernance/awards/<int:pk>/", views.award_detail, name="cogovernance_award"),
    path(
        "cogovernance/awards/<int:pk>/export.<slug:fmt>",
        views.award_export,
        name="cogovernance_award_export",
    ),
    path(
        "cogovernance/awards/<int:pk>/print/",
        views.award_print,
        name="cogovernance_award_print",
    ),
    path(
        "cogovernance/awards/<int:pk>/certificates/",
        views.certificates,
        name="cogovernance_certificates",
    ),
    path(
        "cogovernance/awards/<int:pk>/certificates/<int:candidate_id>/",
        views.certificates,
        name="cogovernance_certificate",
    ),
]
