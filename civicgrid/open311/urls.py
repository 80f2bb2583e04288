"""GeoReport v2 routes: ``<resource>[/<id>].<format>``, the id before the format suffix."""

from django.urls import re_path

from civicgrid.open311 import openapi, views

app_name = "open311"

_FORMAT = r"\.(?P<fmt>[^./]+)$"

urlpatterns = [
    re_path(r"^openapi\.json$", openapi.openapi_view, name="openapi"),
    re_path(r"^media/(?P<pk>\d+)$", views.photo, name="photo"),
    re_path(r"^discovery" + _FORMAT, views.discovery, name="discovery"),
    re_path(r"^services" + _FORMAT, views.services, name="services"),
    re_path(
        r"^services/(?P<service_code>[^/]+?)" + _FORMAT,
        views.service_definition,
        name="service_definition",
    ),
    re_path(r"^requests" + _FORMAT, views.service_requests, name="requests"),
    re_path(
        r"^requests/(?P<service_request_id>[^/]+?)" + _FORMAT,
        views.service_request,
        name="request",
    ),
    re_path(r"^tokens/(?P<token>[^/]+?)" + _FORMAT, views.token, name="token"),
    re_path(
        r"^servicerequestupdates" + _FORMAT,
        views.service_request_updates,
        name="servicerequestupdates",
    ),
    # Anything else under the endpoint is an unknown resource: the spec's 404 error list.
    re_path(r"^", views.not_found),
]
