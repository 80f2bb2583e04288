"""An OpenAPI 3.1 description of the GeoReport v2 endpoints exactly as ``views`` answers them.

Served at ``/open311/v2/openapi.json`` so clients and ``.ci/schemathesis`` can read it. Every
method is described with its ``.json`` suffix; the same path with ``.xml`` answers the same
document as GeoReport XML (``text/xml``), which is stated in each operation's description.
Errors are the spec's list ``[{"code": <HTTP status>, "description": "…"}]``.
"""

from copy import deepcopy

from django.http import HttpResponseNotAllowed, JsonResponse
from django.urls import reverse

from civicgrid.open311 import views
from civicgrid.open311.actions import MAX_DESCRIPTION

__all__ = ["DOCUMENTED_ROUTES", "openapi_document", "openapi_view"]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

# URL pattern name → the path that describes it (the catch-all ``open311:?`` has no path).
DOCUMENTED_ROUTES = {
    "discovery": "/discovery.json",
    "services": "/services.json",
    "service_definition": "/services/{service_code}.json",
    "requests": "/requests.json",
    "request": "/requests/{service_request_id}.json",
    "token": "/tokens/{token}.json",
    "servicerequestupdates": "/servicerequestupdates.json",
    "photo": "/media/{pk}",
    "openapi": "/openapi.json",
}

_XML_NOTE = (
    " The same path ending in `.xml` answers the same document as GeoReport v2 XML "
    "(`text/xml`); any other suffix is a 404 error list in XML."
)
_COMMON_NOTE = (
    " An empty parameter counts as absent; a parameter containing a NUL character is a 400."
)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _query(name: str, schema: dict, description: str, **extra) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, **extra} | {
        "description": description
    }


def _path(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema or {"type": "string", "minLength": 1},
        "description": description,
    }


JURISDICTION = _query(
    "jurisdiction_id",
    {"type": "string"},
    "Optional: this endpoint serves one jurisdiction; any other value is a 404.",
    example=views.DEFAULT_JURISDICTION,
)
LOCALE = _query(
    "locale",
    {"type": "string"},
    "Extension: `en` for English service names and messages, `zh` for Chinese.",
    example="en",
)
EXTENSIONS = _query(
    "extensions",
    {"type": "boolean"},
    "Extension: `true` adds `extended_attributes` and the public timeline as `notes`.",
)
PAGE = _query(
    "page",
    {"type": "integer", "minimum": 1, "maximum": 10**9},
    "Extension: the page number (with `page_size`); paging lifts the 90-day limit.",
)
PAGE_SIZE = _query(
    "page_size",
    {"type": "integer", "minimum": 1, "maximum": views.MAX_REQUESTS},
    "Extension: requests per page (default and maximum 1,000).",
)
START_DATE = _query(
    "start_date",
    {"type": "string", "format": "date-time"},
    "Earliest requested_datetime (W3C date-time with a time zone). Without `end_date`, "
    "the 90 days after it.",
    example="2025-01-01T00:00:00+08:00",
)
END_DATE = _query(
    "end_date",
    {"type": "string", "format": "date-time"},
    "Latest requested_datetime (with a time zone). At most 90 days after `start_date` "
    "unless paging.",
    example="2025-03-31T23:59:59+08:00",
)


def _errors(description: str) -> dict:
    return {"description": description, "content": {JSON: {"schema": _ref("Errors")}}}


def _ok(description: str, schema: dict) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema}}}


BAD_REQUEST = _errors("A parameter is invalid; each problem is one error.")
NOT_FOUND = _errors("No such resource, or a `jurisdiction_id` that is not served here.")

_SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {
            "code": {"type": "integer", "description": "The HTTP status of the answer."},
            "description": {"type": "string"},
        },
    },
    "Errors": {"type": "array", "minItems": 1, "items": _ref("Error")},
    "Discovery": {
        "type": "object",
        "required": ["changeset", "contact", "key_service", "endpoints"],
        "properties": {
            "changeset": {"type": "string", "format": "date-time"},
            "contact": {"type": "string"},
            "key_service": {"type": "string"},
            "endpoints": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["specification", "url", "changeset", "type", "formats"],
                    "properties": {
                        "specification": {"type": "string"},
                        "url": {"type": "string"},
                        "changeset": {"type": "string", "format": "date-time"},
                        "type": {"type": "string", "enum": ["production", "test"]},
                        "formats": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
    "Service": {
        "type": "object",
        "required": ["service_code", "service_name", "metadata", "type"],
        "properties": {
            "service_code": {"type": "string"},
            "service_name": {"type": "string"},
            "description": {"type": "string"},
            "metadata": {
                "type": "boolean",
                "description": "Always false: no service has attributes yet.",
            },
            "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
            "keywords": {"type": "string", "description": "Comma-delimited."},
            "group": {"type": "string"},
        },
    },
    "ServiceDefinition": {
        "type": "object",
        "required": ["service_code", "attributes"],
        "properties": {
            "service_code": {"type": "string"},
            "attributes": {
                "type": "array",
                "description": "The spec's attribute list (empty while no service has any).",
                "items": {
                    "type": "object",
                    "properties": {
                        "variable": {"type": "boolean"},
                        "code": {"type": "string"},
                        "datatype": {
                            "type": "string",
                            "enum": [
                                "string",
                                "number",
                                "datetime",
                                "text",
                                "singlevaluelist",
                                "multivaluelist",
                            ],
                        },
                        "required": {"type": "boolean"},
                        "datatype_description": {"type": "string"},
                        "order": {"type": "integer"},
                        "description": {"type": "string"},
                        "values": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "key": {"type": "string"},
                                    "name": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "Note": {
        "type": "object",
        "required": ["datetime", "type", "description", "status"],
        "properties": {
            "datetime": {"type": "string", "format": "date-time"},
            "type": {"type": "string"},
            "description": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "closed"]},
        },
    },
    "Photo": {
        "type": "object",
        "properties": {
            "media_url": {"type": "string"},
            "kind": {"type": "string"},
            "width": _nullable({"type": "integer"}),
            "height": _nullable({"type": "integer"}),
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "ServiceRequest": {
        "type": "object",
        "required": ["service_request_id", "status", "requested_datetime"],
        "properties": {
            "service_request_id": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "status_notes": _nullable({"type": "string"}),
            "service_name": _nullable({"type": "string"}),
            "service_code": _nullable({"type": "string"}),
            "description": _nullable({"type": "string"}),
            "agency_responsible": _nullable({"type": "string"}),
            "service_notice": _nullable({"type": "string"}),
            "requested_datetime": {"type": "string", "format": "date-time"},
            "updated_datetime": _nullable({"type": "string", "format": "date-time"}),
            "expected_datetime": _nullable({"type": "string", "format": "date-time"}),
            "address": _nullable({"type": "string"}),
            "address_id": _nullable({"type": "string"}),
            "zipcode": _nullable({"type": "string"}),
            "lat": _nullable({"type": "number"}),
            "long": _nullable({"type": "number"}),
            "media_url": _nullable({"type": "string"}),
            "extended_attributes": {
                "type": "object",
                "description": "Only with `extensions=true`.",
                "properties": {
                    "grid": _nullable({"type": "string"}),
                    "grid_name": _nullable({"type": "string"}),
                    "channel": {"type": "string"},
                    "state": {"type": "string"},
                    "state_label": {"type": "string"},
                    "photos": {"type": "array", "items": _ref("Photo")},
                },
            },
            "notes": {
                "type": "array",
                "description": "Only with `extensions=true`: the public timeline.",
                "items": _ref("Note"),
            },
        },
    },
    "PostedRequest": {
        "type": "object",
        "required": ["service_request_id"],
        "properties": {
            "service_request_id": {"type": "string"},
            "service_notice": _nullable({"type": "string"}),
            "account_id": _nullable({"type": "string"}),
        },
    },
    "RequestUpdate": {
        "type": "object",
        "required": ["update_id", "service_request_id", "status", "updated_datetime"],
        "properties": {
            "update_id": {"type": "string"},
            "service_request_id": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "updated_datetime": {"type": "string", "format": "date-time"},
            "description": {"type": "string"},
            "media_url": _nullable({"type": "string"}),
            "external_status_code": {"type": "string"},
        },
    },
}

_POST_FIELDS = {
    "api_key": {"type": "string", "description": "The integration key (required)."},
    "jurisdiction_id": {"type": "string"},
    "service_code": {"type": "string", "description": "From GET services (required)."},
    "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "WGS-84."},
    "long": {"type": "number", "minimum": -180, "maximum": 180, "description": "WGS-84."},
    "address_string": {"type": "string", "maxLength": views.MAX_ADDRESS},
    "address_id": {"type": "string", "maxLength": views.MAX_CLIENT_ID},
    "email": {"type": "string", "description": "Accepted and not kept."},
    "device_id": {"type": "string", "maxLength": views.MAX_CLIENT_ID},
    "account_id": {"type": "string", "maxLength": views.MAX_CLIENT_ID},
    "first_name": {"type": "string"},
    "last_name": {"type": "string"},
    "phone": {"type": "string", "description": "A mainland phone number; kept sealed."},
    "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
    "media_url": {
        "type": "string",
        "format": "uri",
        "maxLength": views.MAX_URL,
        "description": "An http(s) URL, kept as text and never fetched.",
    },
    "locale": {"type": "string"},
}
_ATTRIBUTE = {
    r"^attribute\[[^\]]+\](\[\])?$": {
        "type": "string",
        "description": "`attribute[CODE]` (or `attribute[CODE][]` for lists): accepted and "
        "ignored while no service has attributes.",
    }
}


def _post_body(*, multipart: bool) -> dict:
    properties = deepcopy(_POST_FIELDS)
    if multipart:
        properties["media"] = {
            "type": "array",
            "maxItems": views.MAX_PHOTOS,
            "items": {"type": "string", "format": "binary"},
            "description": "Extension: up to five photos (JPEG, PNG or WebP).",
        }
    return {
        "type": "object",
        "required": ["api_key", "service_code"],
        "anyOf": [
            {"required": ["lat", "long"]},
            {"required": ["address_string"]},
            {"required": ["address_id"]},
        ],
        "properties": properties,
        "patternProperties": deepcopy(_ATTRIBUTE),
        "additionalProperties": False,
    }


def _get(summary: str, description: str, parameters: list, responses: dict) -> dict:
    return {
        "get": {
            "summary": summary,
            "description": description + _XML_NOTE + _COMMON_NOTE,
            "parameters": parameters,
            "responses": responses,
        }
    }


def _paths() -> dict:
    list_requests = _get(
        "Get service requests",
        "Published requests, newest first: by default those of the last 90 days, at most "
        "1,000. `service_request_id` overrides every other filter.",
        [
            JURISDICTION,
            _query(
                "service_request_id",
                {"type": "string"},
                "Comma-delimited request ids (at most 1,000).",
            ),
            _query("service_code", {"type": "string"}, "Comma-delimited service codes."),
            START_DATE,
            END_DATE,
            _query(
                "status",
                {"type": "string"},
                "`open`, `closed` or `open,closed` (case-insensitive).",
                example="open",
            ),
            PAGE,
            PAGE_SIZE,
            EXTENSIONS,
            LOCALE,
        ],
        {
            "200": _ok("The requests.", {"type": "array", "items": _ref("ServiceRequest")}),
            "400": BAD_REQUEST,
            "404": NOT_FOUND,
        },
    )
    list_requests["post"] = {
        "summary": "Post a service request",
        "description": "Creates a case at once (service type realtime): the answer carries its "
        "`service_request_id`, never a token. With the queued intake mode on (service type "
        "batch) a photo-less request is answered with a `token` instead, never both; "
        "`tokens/{token}.json` gives the id once the case is made. Give a location: `lat` "
        "and `long`, "
        "`address_string` or `address_id`. A retry with the same `X-Idempotency-Key` from "
        "the same key returns the first request." + _XML_NOTE + _COMMON_NOTE,
        "parameters": [
            JURISDICTION,
            LOCALE,
            {
                "name": "X-Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": views.MAX_IDEMPOTENCY_KEY},
                "description": "Extension: makes a retried POST safe.",
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                FORM: {"schema": _post_body(multipart=False)},
                MULTIPART: {"schema": _post_body(multipart=True)},
            },
        },
        "responses": {
            "200": _ok("The new request.", {"type": "array", "items": _ref("PostedRequest")}),
            "400": BAD_REQUEST,
            "403": _errors("`api_key` is missing, unknown, revoked or not allowed here."),
            "404": _errors("No such service, or a `jurisdiction_id` not served here."),
        },
    }
    return {
        DOCUMENTED_ROUTES["discovery"]: _get(
            "Service discovery",
            "Where the endpoint is, its formats and its changeset.",
            [JURISDICTION, LOCALE],
            {"200": _ok("The discovery.", _ref("Discovery")), "400": BAD_REQUEST, "404": NOT_FOUND},
        ),
        DOCUMENTED_ROUTES["services"]: _get(
            "Service list",
            "The active second-level categories, by code.",
            [JURISDICTION, LOCALE],
            {
                "200": _ok("The services.", {"type": "array", "items": _ref("Service")}),
                "400": BAD_REQUEST,
                "404": NOT_FOUND,
            },
        ),
        DOCUMENTED_ROUTES["service_definition"]: _get(
            "Service definition",
            "The attributes of one service.",
            [_path("service_code", "A code from the service list."), JURISDICTION, LOCALE],
            {
                "200": _ok("The definition.", _ref("ServiceDefinition")),
                "400": BAD_REQUEST,
                "404": NOT_FOUND,
            },
        ),
        DOCUMENTED_ROUTES["requests"]: list_requests,
        DOCUMENTED_ROUTES["request"]: _get(
            "Get a service request",
            "One published request, as a list of one.",
            [
                _path("service_request_id", "The request id (the case code)."),
                JURISDICTION,
                EXTENSIONS,
                LOCALE,
            ],
            {
                "200": _ok(
                    "The request.",
                    {"type": "array", "minItems": 1, "items": _ref("ServiceRequest")},
                ),
                "400": BAD_REQUEST,
                "404": NOT_FOUND,
            },
        ),
        DOCUMENTED_ROUTES["token"]: _get(
            "Get a request id from a token",
            "Tokens are issued in the queued intake mode only (service type batch); otherwise "
            "the request id comes at once and every token is a 404. `service_request_id` is "
            "null while the request waits; a refused request is a 400 with the reason.",
            [_path("token", "A token from POST requests."), JURISDICTION, LOCALE],
            {
                "200": _ok(
                    "The token and the request id, once made.",
                    {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["service_request_id", "token"],
                            "properties": {
                                "service_request_id": _nullable({"type": "string"}),
                                "token": {"type": "string"},
                            },
                        },
                    },
                ),
                "400": BAD_REQUEST,
                "404": NOT_FOUND,
            },
        ),
        DOCUMENTED_ROUTES["servicerequestupdates"]: _get(
            "Service request updates",
            "Extension (mySociety): each public timeline step after the report, oldest first, "
            "of the last 90 days by default.",
            [JURISDICTION, START_DATE, END_DATE, PAGE, PAGE_SIZE, LOCALE],
            {
                "200": _ok("The updates.", {"type": "array", "items": _ref("RequestUpdate")}),
                "400": BAD_REQUEST,
                "404": NOT_FOUND,
            },
        ),
        DOCUMENTED_ROUTES["photo"]: {
            "get": {
                "summary": "A reporter's photo",
                "description": "The photo a reporter sent with a published request (the "
                "`media_url` of a request). An unknown number is Django's 404 page; a path "
                "that is not a number is the endpoint's XML error list.",
                "parameters": [
                    _path("pk", "The photo's number.", {"type": "integer", "minimum": 0})
                ],
                "responses": {
                    "200": {
                        "description": "The photo.",
                        "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "404": {
                        "description": "No such public photo.",
                        "content": {
                            "text/html": {"schema": {"type": "string"}},
                            "text/xml": {"schema": {"type": "string"}},
                        },
                    },
                },
            }
        },
        DOCUMENTED_ROUTES["openapi"]: {
            "get": {
                "summary": "This description",
                "responses": {"200": _ok("OpenAPI 3.1.", {"type": "object"})},
            }
        },
    }


def openapi_document(server_url: str = "/open311/v2") -> dict:
    """The OpenAPI document; ``server_url`` is the absolute base of the endpoint if known."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "civicgrid Open311 GeoReport v2",
            "version": "2",
            "description": "GeoReport v2 (http://wiki.open311.org/GeoReport_v2) over the "
            "county's published cases, with the extensions page/page_size, extensions=true, "
            "servicerequestupdates, multipart media and locale. Reads need no key; POST "
            "requests needs an integration `api_key`. Every other path under the endpoint is "
            "a 404 error list (JSON when the path ends in `.json`, else XML).",
        },
        "servers": [{"url": server_url}],
        "paths": _paths(),
        "components": {"schemas": deepcopy(_SCHEMAS)},
    }


def openapi_view(request):
    """GET ``openapi.json``: this document, with the endpoint's absolute address as server."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    base = reverse("open311:openapi").rsplit("/", 1)[0]
    return JsonResponse(openapi_document(request.build_absolute_uri(base)))
