"""This app's pages (they extend ``web/base.html``); included at the site root by civicgrid.urls."""

from django.urls import path

from civicgrid.inspection import views

urlpatterns = [
    path("visits/due/", views.due_list, name="visit_due_list"),
    path("visits/record/<int:person_id>/", views.visit_record, name="visit_record"),
    path("visits/<int:pk>/", views.visit_detail, name="visit_detail"),
    path("visits/<int:pk>/photos/<int:photo_pk>/", views.visit_photo, name="visit_photo"),
    path("visits/compliance/", views.compliance_page, name="visit_compliance"),
    path("visits/compliance/<slug:table>/", views.compliance_page, name="visit_compliance_table"),
    path(
        "visits/compliance/<slug:table>.<slug:fmt>",
        views.compliance_export,
        name="visit_compliance_export",
    ),
    path("patrols/", views.patrol_list, name="patrol_list"),
    path("patrols/new/", views.patrol_new, name="patrol_new"),
    path("patrols/export.<slug:fmt>", views.patrol_export, name="patrol_export"),
]
