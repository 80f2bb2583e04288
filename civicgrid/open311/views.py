"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) over the cases.

Every method answers in XML or JSON by its URL suffix, rendered from one canonical document.
Bad input is answered with the spec's error list and 400, 403 or 404 — never a 500. An empty
parameter counts as absent. Extensions: ``page``/``page_size``, ``extensions=true`` (extended
attributes and the timeline as ``notes``), mySociety's ``servicerequestupdates``, multipart
``media`` photos on POST, and ``locale`` for English service names.
"""

import functools
import math
import re
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
from django.core.validators import URLValidator
from django.http import FileResponse, Http404
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from civicgrid.api.auth import authenticate_api_key
from civicgrid.cases import workflow
from civicgrid.cases.models import Attachment
from civicgrid.open311 import documents, selectors
from civicgrid.open311.actions import (
    MAX_DESCRIPTION,
    do_queue_service_request,
    do_submit_service_request,
)
from civicgrid.open311.models import QueuedRequest
from civicgrid.open311.serializers import render
from civicgrid.people.pii import normalize_phone

DEFAULT_JURISDICTION = "yuyao.gov.cn"
FORMATS = ("xml", "json")
MAX_REQUESTS = 1000  # the spec's default volume: the first 1,000 requests …
DEFAULT_WINDOW = timedelta(days=90)  # … or the most recent 90 days
MAX_IDS = 1000
MAX_PHOTOS = 5
MAX_ADDRESS = 200
MAX_CLIENT_ID = 100
MAX_URL = 500
MAX_IDEMPOTENCY_KEY = 200
# Before any taxonomy edit is audited, the shipped catalogue is the first changeset.
DEFAULT_CHANGESET = datetime(2025, 1, 1, tzinfo=UTC)
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999
_NUMBER = re.compile(r"[0-9]{1,9}")
_CJK = re.compile(r"[\u3400-\u9fff]")
# "+08:00" in an unencoded query string arrives as " 08:00".
_SPACE_OFFSET = re.compile(r"T[\d:.]+ (\d\d(:?\d\d)?)$")


class Open311Error(Exception):
    """Answer with these errors: ``status`` is the HTTP status, each error ``(code, text)``."""

    def __init__(self, status: int, *messages: str):
        super().__init__(*messages)
        self.status = status
        self.errors = [(status, str(message)) for message in messages]


def jurisdiction() -> str:
    return getattr(settings, "OPEN311_JURISDICTION", DEFAULT_JURISDICTION)


class Params:
    """Query or form parameters; an empty value is the same as a missing one."""

    def __init__(self, data):
        self.data = data

    def one(self, name: str) -> str | None:
        values = [v.strip() for v in self.data.getlist(name) if v.strip()]
        return values[-1] if values else None

    def many(self, name: str) -> list[str]:
        """A comma-delimited list; the parameter may also be repeated."""
        items = []
        for value in self.data.getlist(name):
            items += [part.strip() for part in value.split(",") if part.strip()]
        return items

    def has_nul(self) -> bool:
        return any("\x00" in v for _name, values in self.data.lists() for v in values)


def _language(params: Params) -> str | None:
    locale = (params.one("locale") or "").lower().replace("_", "-")
    if locale.startswith("en"):
        return "en"
    if locale.startswith("zh"):
        return "zh-hans"
    return None


def _params(request) -> Params:
    """The parameters of the request; the body's for a POST (jurisdiction may be in the URL)."""
    if request.method != "POST":
        return Params(request.GET)
    data = request.POST.copy()
    for name in ("jurisdiction_id", "locale"):
        if not data.get(name) and request.GET.get(name):
            data[name] = request.GET[name]
    return Params(data)


def endpoint(*methods: str):
    """Format, jurisdiction, language, method and error handling shared by every method."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def wrap(view):
        @csrf_exempt
        @functools.wraps(view)
        def run(request, fmt, **kwargs):
            fmt = fmt.lower()
            if fmt not in FORMATS:
                # XML is the one format every GeoReport client reads.
                return _error_response("xml", Open311Error(404, _("Use .xml or .json.")))
            if request.method not in allowed:
                response = _error_response(
                    fmt,
                    Open311Error(405, _("Use %(methods)s here.") % {"methods": "/".join(methods)}),
                )
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            try:
                params = _params(request)
            except (SuspiciousOperation, MultiPartParserError, RequestDataTooBig, OSError):
                return _error_response(fmt, Open311Error(400, _("The request body is unreadable.")))
            language = _language(params)
            with translation.override(language) if language else nullcontext():
                try:
                    if params.has_nul() or any("\x00" in str(v) for v in kwargs.values()):
                        raise Open311Error(400, _("Parameters may not contain NUL characters."))
                    wanted = params.one("jurisdiction_id")
                    if wanted is not None and wanted != jurisdiction():
                        raise Open311Error(
                            404,
                            _("jurisdiction_id %(id)s is not served here.") % {"id": wanted},
                        )
                    document = view(request, fmt, params, **kwargs)
                except Open311Error as error:
                    return _error_response(fmt, error)
                return render(document, fmt)

        return run

    return wrap


def _error_response(fmt: str, error: Open311Error):
    return render(documents.errors_document(error.errors), fmt, status=error.status)


@csrf_exempt
def not_found(request):
    fmt = "json" if request.path.endswith(".json") else "xml"
    return _error_response(fmt, Open311Error(404, _("There is no such resource here.")))


# --------------------------------------------------------------------------- parameters


def _datetime(params: Params, name: str, problems: list[str]) -> datetime | None:
    raw = params.one(name)
    if raw is None:
        return None
    raw = _SPACE_OFFSET.sub(lambda m: m.group(0).replace(" ", "+"), raw)
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        problems.append(
            _("%(name)s is not a date and time such as 2025-01-31T08:00:00+08:00.") % {"name": name}
        )
        return None
    if timezone.is_naive(value):
        problems.append(_("%(name)s must include a time zone, e.g. +08:00 or Z.") % {"name": name})
        return None
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        # Far years overflow when the 90-day window or a time zone is applied.
        problems.append(
            _("%(name)s must lie between the years %(first)s and %(last)s.")
            % {"name": name, "first": EARLIEST_YEAR, "last": LATEST_YEAR}
        )
        return None
    return value


def _window(params: Params, problems: list[str], *, paged: bool) -> tuple[datetime, datetime]:
    """start_date/end_date: at most 90 days apart (unless paged); the last 90 days by default."""
    start = _datetime(params, "start_date", problems)
    end = _datetime(params, "end_date", problems)
    if start and end:
        if start > end:
            problems.append(_("start_date is after end_date."))
        elif end - start > DEFAULT_WINDOW and not paged:
            problems.append(
                _("start_date and end_date may be at most 90 days apart (or use page).")
            )
    elif start:
        end = start + DEFAULT_WINDOW
    elif end:
        start = end - DEFAULT_WINDOW
    else:
        end = timezone.now()
        start = end - DEFAULT_WINDOW
    return start, end


def _number(params: Params, name: str, default: int, maximum: int, problems: list[str]) -> int:
    raw = params.one(name)
    if raw is None:
        return default
    if not _NUMBER.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        problems.append(
            _("%(name)s must be a whole number from 1 to %(max)s.") % {"name": name, "max": maximum}
        )
        return default
    return int(raw)


def _paging(params: Params, problems: list[str]) -> tuple[int, int, bool]:
    paged = params.one("page") is not None or params.one("page_size") is not None
    page = _number(params, "page", 1, 10**9, problems)
    size = _number(params, "page_size", MAX_REQUESTS, MAX_REQUESTS, problems)
    return (page - 1) * size, size, paged


def _extensions(params: Params) -> bool:
    return (params.one("extensions") or "").lower() in {"true", "1"}


def _absolute(request):
    return request.build_absolute_uri


# --------------------------------------------------------------------------- methods


@endpoint("GET")
def discovery(request, fmt, params):
    changeset = selectors.catalogue_changeset(DEFAULT_CHANGESET)
    base = reverse("open311:discovery", kwargs={"fmt": fmt}).rsplit("/", 1)[0] + "/"
    return documents.discovery_document(
        changeset=changeset,
        contact=getattr(settings, "OPEN311_CONTACT", "")
        or _("The county social governance centre."),
        key_service=getattr(settings, "OPEN311_KEY_SERVICE", "")
        or _("Ask the county centre for an API key; it is made under Integrations → API keys."),
        url=request.build_absolute_uri(base),
        kind="production" if getattr(settings, "PRODUCTION", False) else "test",
    )


@endpoint("GET")
def services(request, fmt, params):
    return documents.services_document(selectors.services())


@endpoint("GET")
def service_definition(request, fmt, params, service_code):
    category = selectors.find_service(service_code)
    if category is None:
        raise Open311Error(404, _("Service %(code)s does not exist.") % {"code": service_code})
    return documents.service_definition_document(category)


@endpoint("GET", "POST")
def service_requests(request, fmt, params):
    if request.method == "POST":
        return _create_request(request, params)
    return _list_requests(request, params)


def _list_requests(request, params):
    problems: list[str] = []
    cases = selectors.public_cases()
    ids = params.many("service_request_id")
    if ids:  # overrides every other filter, as the spec says
        if len(ids) > MAX_IDS:
            raise Open311Error(
                400, _("Ask for at most %(max)s service_request_id at once.") % {"max": MAX_IDS}
            )
        found = list(cases.filter(code__in=ids).order_by("-created", "-id"))
        return documents.requests_document(
            found, extensions=_extensions(params), absolute=_absolute(request)
        )
    offset, size, paged = _paging(params, problems)
    start, end = _window(params, problems, paged=paged)
    codes = params.many("service_code")
    if len(codes) > MAX_IDS:
        problems.append(_("Ask for at most %(max)s service_code at once.") % {"max": MAX_IDS})
    statuses = {s.lower() for s in params.many("status")}
    if statuses - {"open", "closed"}:
        problems.append(_("status must be open, closed or both (comma-delimited)."))
    if problems:
        raise Open311Error(400, *problems)
    cases = cases.filter(created__gte=start, created__lte=end)
    if codes:
        cases = cases.filter(category__code__in=codes)
    if statuses == {"open"}:
        cases = cases.filter(state__in=workflow.OPEN_STATES)
    elif statuses == {"closed"}:
        cases = cases.exclude(state__in=workflow.OPEN_STATES)
    found = list(cases.order_by("-created", "-id")[offset : offset + size])
    return documents.requests_document(
        found, extensions=_extensions(params), absolute=_absolute(request)
    )


@endpoint("GET")
def service_request(request, fmt, params, service_request_id):
    found = list(selectors.public_cases().filter(code=service_request_id))
    if not found:
        raise Open311Error(
            404, _("Service request %(id)s does not exist.") % {"id": service_request_id}
        )
    return documents.requests_document(
        found, extensions=_extensions(params), absolute=_absolute(request)
    )


@endpoint("GET")
def token(request, fmt, params, token):
    # Tokens are issued in the queued intake mode only (service type "batch").
    row = QueuedRequest.objects.select_related("case").filter(token=token).first()
    if row is None:
        raise Open311Error(404, _("Token %(token)s does not exist.") % {"token": token})
    if row.state == QueuedRequest.State.FAILED:
        raise Open311Error(400, row.error or _("The request was refused."))
    return documents.token_document(row)


@endpoint("GET")
def service_request_updates(request, fmt, params):
    problems: list[str] = []
    offset, size, paged = _paging(params, problems)
    start, end = _window(params, problems, paged=paged)
    if problems:
        raise Open311Error(400, *problems)
    rows = list(
        selectors.public_updates()
        .filter(created__gte=start, created__lte=end)
        .order_by("created", "id")[offset : offset + size]
    )
    return documents.updates_document(rows, absolute=_absolute(request))


# --------------------------------------------------------------------------- POST requests

_FIELD_NAMES = {
    "description": "description",
    "location": "lat/long",
    "reporter_phone": "phone",
    "category": "service_code",
    "photos": "media",
}


def _reporter_name(first: str, last: str) -> str:
    if _CJK.search(first + last):
        return f"{last}{first}"  # 张 + 三 → 张三
    return " ".join(part for part in (first, last) if part)


def _too_long(problems: list[str], name: str, value: str | None, limit: int) -> None:
    if value and len(value) > limit:
        problems.append(
            _("%(name)s is longer than %(max)s characters.") % {"name": name, "max": limit}
        )


def _create_request(request, params):
    secret = params.one("api_key")
    if secret is None:
        raise Open311Error(403, _("api_key is required to create a service request."))
    key = authenticate_api_key(secret)
    if key is None:
        raise Open311Error(403, _("Invalid api_key received -- can't proceed with create_request."))
    service_code = params.one("service_code")
    if service_code is None:
        raise Open311Error(400, _("service_code is required."))
    queued = getattr(settings, "OPEN311_QUEUED_INTAKE", False)
    find = selectors.find_service_cached if queued else selectors.find_service
    category = find(service_code)
    if category is None:
        raise Open311Error(404, _("Service %(code)s does not exist.") % {"code": service_code})

    problems: list[str] = []
    lat_raw, lng_raw = params.one("lat"), params.one("long")
    lat = lng = None
    if (lat_raw is None) != (lng_raw is None):
        problems.append(_("lat and long must be sent together."))
    elif lat_raw is not None:
        try:
            lat, lng = float(lat_raw), float(lng_raw)
        except ValueError:
            problems.append(_("lat and long must be decimal degrees (WGS-84)."))
        else:
            if not (math.isfinite(lat) and math.isfinite(lng)):
                problems.append(_("lat and long must be decimal degrees (WGS-84)."))
                lat = lng = None
    address = params.one("address_string") or ""
    address_id = params.one("address_id") or ""
    if lat_raw is None and lng_raw is None and not address and not address_id:
        problems.append(_("Give a location: lat and long, address_string or address_id."))
    description = params.one("description") or ""
    if len(description) > MAX_DESCRIPTION:
        problems.append(_("description is longer than 4,000 characters."))
    media_url = params.one("media_url") or ""
    if media_url:
        try:
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            problems.append(_("media_url is not an http or https URL."))
    phone = params.one("phone") or ""
    if phone:
        try:
            normalize_phone(phone)
        except ValidationError as exc:
            problems.append(f"phone: {' '.join(exc.messages)}")
    _too_long(problems, "address_string", address, MAX_ADDRESS)
    _too_long(problems, "address_id", address_id, MAX_CLIENT_ID)
    _too_long(problems, "media_url", media_url, MAX_URL)
    _too_long(problems, "account_id", params.one("account_id"), MAX_CLIENT_ID)
    _too_long(problems, "device_id", params.one("device_id"), MAX_CLIENT_ID)
    idempotency_key = request.headers.get("X-Idempotency-Key", "").strip() or None
    _too_long(problems, "X-Idempotency-Key", idempotency_key, MAX_IDEMPOTENCY_KEY)
    photos = request.FILES.getlist("media")
    if len(photos) > MAX_PHOTOS:
        problems.append(_("Send at most %(max)s photos.") % {"max": MAX_PHOTOS})
    # attribute[CODE] and attribute[CODE][] are accepted and ignored: no service has any yet.
    if problems:
        raise Open311Error(400, *problems)

    account_id = params.one("account_id") or ""
    request_fields = {
        "api_key": key,
        "category": category,
        "idempotency_key": idempotency_key,
        "description": description or category.name,
        "lat": lat,
        "lng": lng,
        "address": address,
        "address_id": address_id,
        "media_url": media_url,
        "account_id": account_id,
        "device_id": params.one("device_id") or "",
        "reporter_name": _reporter_name(
            params.one("first_name") or "", params.one("last_name") or ""
        ),
        "reporter_phone": phone,
    }
    if queued and not photos:
        row = do_queue_service_request(**request_fields)
        return documents.queued_document(row, account_id=account_id)
    try:
        case = do_submit_service_request(**request_fields, photos=photos)
    except ValidationError as exc:
        raise Open311Error(400, *_validation_messages(exc)) from None
    except PermissionDenied as exc:
        raise Open311Error(403, str(exc) or _("This API key may not do this.")) from None
    return documents.posted_document(case, account_id=account_id)


def _validation_messages(exc: ValidationError) -> list[str]:
    if not hasattr(exc, "error_dict"):
        return list(exc.messages)
    return [
        f"{_FIELD_NAMES.get(field, field)}: {' '.join(messages)}"
        for field, messages in exc.message_dict.items()
    ]


def photo(request, pk):
    """A reporter's photo of a published request. Staff photos (before/after, evidence) and
    unpublished cases stay behind the login of the web application."""
    attachment = (
        Attachment.objects.filter(
            pk=pk, kind=Attachment.Kind.PHOTO, case__in=selectors.public_cases()
        )
        .select_related("case")
        .first()
    )
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    return FileResponse(handle, content_type=attachment.content_type)
