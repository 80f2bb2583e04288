"""Pages of the people app: who looked at a resident's data, a resident's rights."""

from django.urls import path

from civicgrid.people import views

urlpatterns = [
    path("people/<int:person_id>/access/", views.person_access, name="person_access"),
    path(
        "people/<int:person_id>/access/export.<slug:fmt>",
        views.person_access_export,
        name="person_access_export",
    ),
    path("people/<int:person_id>/rights/", views.person_rights, name="person_rights"),
    path(
        "people/<int:person_id>/rights/export.<slug:fmt>",
        views.person_rights_export,
        name="person_rights_export",
    ),
    path("people/<int:person_id>/rights/erase/", views.person_erase, name="person_erase"),
]
