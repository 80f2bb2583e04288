"""The site's 500 handler: a database that cannot be reached is a 503, not a crash.

Django calls ``handler500`` inside the ``except`` block that caught the error, wherever it was
raised (a view, a middleware loading the session, a context processor), so the exception is
still in ``sys.exc_info()``. When it is the database's (``OperationalError``: refused
connection, server gone, ``database is locked``; ``InterfaceError``: connection closed) the
answer is ``503 Service Unavailable`` with ``Retry-After``, in JSON for the APIs and plain
HTML elsewhere (no template: rendering the site's base template needs the database). The
connection is not reused after an error (Django closes it at the end of the request and
``CONN_HEALTH_CHECKS`` tests a kept one), so the site recovers by itself when the database
is back — no restart.
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.defaults import server_error as django_server_error

logger = logging.getLogger("civicgrid.errors")

RETRY_AFTER_SECONDS = 30


def database_unavailable() -> bool:
    error = sys.exc_info()[1]
    while error is not None:
        if isinstance(error, OperationalError | InterfaceError):
            return True
        error = error.__cause__ or error.__context__
    return False


def server_error(request, *args, **kwargs):
    if not database_unavailable():
        return django_server_error(request, *args, **kwargs)
    logger.warning("database unavailable: %s %s answered 503", request.method, request.path)
    message = _(
        "The service is briefly unavailable (the database cannot be reached). "
        "Nothing you sent was half saved; please try again in a moment."
    )
    if request.path.startswith("/api/"):  # the REST API's one error shape
        response = JsonResponse(
            {"error": {"code": "unavailable", "message": message, "fields": {}}}, status=503
        )
    elif request.path.startswith("/open311/") and request.path.endswith(".xml"):
        response = HttpResponse(
            '<?xml version="1.0" encoding="utf-8"?><errors><error><code>503</code>'
            f"<description>{escape(message)}</description></error></errors>",
            status=503,
            content_type="text/xml; charset=utf-8",
        )
    elif request.path.startswith("/open311/"):  # GeoReport v2 errors are a list
        response = JsonResponse([{"code": 503, "description": message}], safe=False, status=503)
    else:
        title = _("Service unavailable")
        response = HttpResponse(
            f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            f"<body><h1>{escape(title)}</h1><p>{escape(message)}</p></body></html>",
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
