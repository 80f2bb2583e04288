import re
import uuid

from civicgrid.core.context import client_ip_var, request_id_var

__all__ = ["RequestIdMiddleware", "SecurityHeadersMiddleware"]

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Give every request an id (or keep a sane one from X-Request-ID) for logs and audit rows."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request.request_id)
        ip_token = client_ip_var.set(request.META.get("REMOTE_ADDR", "")[:45])
        try:
            response = self.get_response(request)
        finally:
            client_ip_var.reset(ip_token)
            request_id_var.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


def _tile_source(url: str) -> str:
    """The map tile server as a CSP source (``https://*.example.com`` for ``{s}`` hosts)."""
    from urllib.parse import urlsplit

    parts = urlsplit((url or "").replace("{s}", "SUBDOMAIN"))
    if not (parts.scheme and parts.netloc):
        return ""
    return f" {parts.scheme}://{parts.netloc.replace('SUBDOMAIN.', '*.', 1)}"


class SecurityHeadersMiddleware:
    """Content-Security-Policy, Referrer-Policy and Permissions-Policy on every response.

    Scripts only from this site (no inline scripts, no ``eval``); styles from this site and
    inline (printable sheets carry their own); images also from the map tile server, data: and
    blob: (photo previews); the page may use the device's position and camera (reporting,
    visits), nothing else. The policy is built once from settings.
    """

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        tiles = _tile_source(settings.MAP_TILE_URL)
        self.policy = "; ".join(
            [
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self' 'unsafe-inline'",
                f"img-src 'self' data: blob:{tiles}",
                "connect-src 'self'",
                "font-src 'self' data:",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ]
        )

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.policy)
        response.setdefault("Referrer-Policy", "same-origin")
        response.setdefault(
            "Permissions-Policy", "geolocation=(self), camera=(self), microphone=(), payment=()"
        )
        return response
