"""Deployment settings and the headers every response carries."""

import base64
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2]


def test_the_deployment_check_is_clean_in_production(tmp_path):
    env = {
        **os.environ,
        "CIVICGRID_ENV": "production",
        "CIVICGRID_VAR_DIR": str(tmp_path),
        "CIVICGRID_SECRET_KEY": secrets.token_urlsafe(50),
        "CIVICGRID_PII_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "civicgrid", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("path", ["/login/", "/track/", "/api/v1/openapi.json"])
def test_every_response_carries_a_strict_policy(client, db, path):
    response = client.get(path)
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"  # no inline scripts, no eval
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "geolocation=(self)" in response["Permissions-Policy"]


def test_the_map_tile_server_is_allowed_for_images(settings, rf):
    from django.http import HttpResponse

    from civicgrid.core.middleware import SecurityHeadersMiddleware

    settings.MAP_TILE_URL = "https://{s}.tiles.example.cn/{z}/{x}/{y}.png"
    middleware = SecurityHeadersMiddleware(lambda request: HttpResponse())
    assert "img-src 'self' data: blob: https://*.tiles.example.cn" in middleware.policy


def test_no_template_has_an_inline_script_or_event_handler():
    """The policy forbids them, so a page that used one would silently lose behaviour."""
    offending = []
    for template in PACKAGE.glob("*/templates/**/*.html"):
        text = template.read_text(encoding="utf-8")
        for match in re.finditer(r"<script\b[^>]*>", text):
            if "src=" not in match.group(0) and "application/json" not in match.group(0):
                offending.append(f"{template.relative_to(PACKAGE)}: {match.group(0)}")
        for match in re.finditer(r"<[^>]+\son[a-z]+\s*=", text):
            offending.append(f"{template.relative_to(PACKAGE)}: {match.group(0)[:60]}")
        if "javascript:" in text:
            offending.append(f"{template.relative_to(PACKAGE)}: javascript: URL")
    assert offending == []
