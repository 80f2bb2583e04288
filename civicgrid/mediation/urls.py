"""This app's pages (they extend ``web/base.html``); included at the site root by civicgrid.urls."""

from django.urls import path

from civicgrid.mediation import views

urlpatterns = [
    path("mediation/", views.dispute_list, name="mediation_list"),
    path("mediation/new/", views.dispute_register, name="mediation_register"),
    path("mediation/export.<slug:fmt>", views.dispute_export, name="mediation_export"),
    path("mediation/statistics/", views.statistics_page, name="mediation_statistics"),
    path(
        "mediation/statistics/<slug:group>.<slug:fmt>",
        views.statistics_export,
        name="mediation_statistics_export",
    ),
    path("mediation/visitors/", views.visitor_log, name="mediation_visitors"),
    path("mediation/calls/", views.call_log, name="mediation_calls"),
    path("mediation/calls/<int:pk>/<slug:step>/", views.call_step, name="mediation_call_step"),
    path("mediation/log/<slug:kind>/<int:pk>/case/", views.log_to_case, name="mediation_log_case"),
    path("mediation/activities/", views.activity_log, name="mediation_activities"),
    path("mediation/registry/org/new/", views.org_edit, name="mediation_org_add"),
    path("mediation/registry/org/<int:pk>/", views.org_edit, name="mediation_org_edit"),
    path("mediation/registry/mediator/new/", views.mediator_edit, name="mediation_mediator_add"),
    path(
        "mediation/registry/mediator/<int:pk>/",
        views.mediator_edit,
        name="mediation_mediator_edit",
    ),
    path("mediation/registry/", views.registry, name="mediation_registry"),
    path("mediation/<str:code>/", views.dispute_detail, name="mediation_detail"),
    path("mediation/<str:code>/act/<slug:action>/", views.dispute_act, name="mediation_act"),
    path(
        "mediation/<str:code>/party/<int:pk>/reveal/",
        views.party_reveal,
        name="mediation_party_reveal",
    ),
    path(
        "mediation/<str:code>/agreement.docx",
        views.agreement_download,
        name="mediation_agreement",
    ),
]
