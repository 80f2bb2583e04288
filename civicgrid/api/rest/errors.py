"""One error shape for every failure: ``{"error": {"code", "message", "fields"}}``.

Bad input is a 4xx with a code a program can switch on and a translated message a person can
read; ``fields`` maps a field name to its messages when the fault lies in particular fields.
"""

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from civicgrid.cases.actions import CaseConflict
from civicgrid.cases.workflow import InvalidTransition

__all__ = ["ERRORS", "ApiError", "ErrorOut", "install_error_handlers"]


class ErrorBody(Schema):
    code: str
    message: str
    fields: dict[str, list[str]] = {}


class ErrorOut(Schema):
    error: ErrorBody


# Every operation documents these, so clients (and schemathesis) know each 4xx's shape.
ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    429: ErrorOut,
}

_CODES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
}


class ApiError(HttpError):
    """Raised by an endpoint to answer with a particular status, code and message."""

    def __init__(self, status: int, message: str, *, code: str = "", fields=None):
        super().__init__(status, message)
        self.code = code or _CODES.get(status, "error")
        self.fields = fields or {}


def _body(code: str, message: str, fields=None) -> dict:
    return {"error": {"code": code, "message": str(message), "fields": fields or {}}}


def _field_name(loc) -> str:
    # ninja locations look like ("body", "payload", "lat") or ("query", "page").
    parts = [str(p) for p in loc if p not in {"body", "query", "path", "form", "file", "header"}]
    if parts and parts[0] in {"payload", "filters"}:
        parts = parts[1:]
    return ".".join(parts) or "__all__"


def _django_fields(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            field: [str(m) for m in DjangoValidationError(errors).messages]
            for field, errors in exc.error_dict.items()
        }
    return {"__all__": [str(m) for m in exc.messages]}


def install_error_handlers(api) -> None:
    def respond(request, status, code, message, fields=None, headers=None):
        response = api.create_response(request, _body(code, message, fields), status=status)
        for name, value in (headers or {}).items():
            response[name] = value
        return response

    @api.exception_handler(NinjaValidationError)
    def invalid_request(request, exc):
        fields: dict[str, list[str]] = {}
        for error in exc.errors:
            fields.setdefault(_field_name(error.get("loc", ())), []).append(
                str(error.get("msg", ""))
            )
        return respond(request, 400, "invalid", _("The request is not valid."), fields)

    @api.exception_handler(DjangoValidationError)
    def invalid_action(request, exc):
        fields = _django_fields(exc)
        first = next(iter(fields.values()), [_("The request is not valid.")])
        return respond(request, 400, "invalid", first[0] if first else "", fields)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        return respond(
            request,
            401,
            "unauthenticated",
            _("Log in, or send a token as “Authorization: Bearer <token>”."),
            headers={"WWW-Authenticate": 'Bearer realm="civicgrid"'},
        )

    @api.exception_handler(Throttled)
    def throttled(request, exc):
        wait = getattr(exc, "wait", None)
        headers = {"Retry-After": str(max(1, int(wait or 1)))}
        return respond(
            request, 429, "rate_limited", _("Too many requests; try again later."), None, headers
        )

    @api.exception_handler(ApiError)
    def api_error(request, exc):
        return respond(request, exc.status_code, exc.code, exc.message, exc.fields)

    @api.exception_handler(HttpError)
    def http_error(request, exc):
        return respond(
            request, exc.status_code, _CODES.get(exc.status_code, "error"), str(exc.message)
        )

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return respond(request, 404, "not_found", _("Not found."))

    @api.exception_handler(ObjectDoesNotExist)
    def no_object(request, exc):
        return respond(request, 404, "not_found", _("Not found."))

    @api.exception_handler(CaseConflict)
    def conflict(request, exc):
        return respond(request, 409, "conflict", str(exc))

    @api.exception_handler(InvalidTransition)
    def invalid_transition(request, exc):
        return respond(request, 409, "invalid_transition", str(exc))

    @api.exception_handler(PermissionDenied)
    def refused(request, exc):
        return respond(request, 403, "forbidden", str(exc) or _("You may not do this."))
