"""Every form a person can reach, filled with odd input by hypothesis: never a 5xx (issue 12, 6).

The forms are not listed by hand: each persona's pages are crawled from the workbench (links
inside the site, a bounded number of pages), every ``<form method="post">`` found is parsed
(inputs, selects, textareas, file inputs), and hypothesis posts generated values to it — the
form's own values and options mixed with empty, huge, control-character, SQL, HTML and
script payloads, malformed numbers and dates, and junk uploads. A form added by any app is
covered as soon as a link leads to it.

Examples are derandomised (the same ones every run, as CI wants); raise
``CIVICGRID_FUZZ_EXAMPLES`` for a longer local hunt.
"""

import os
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("CIVICGRID_FUZZ_EXAMPLES", "250"))
MAX_PAGES = 120

# Not followed: leaving the session, files, the admin (Django's own), vendor assets.
SKIP = re.compile(
    r"^/(static|media|admin|i18n|logout|api/v1/docs)|log-out-everywhere|\.(csv|xlsx|docx|json|png|jpg)$"
)

ODD_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x1f\x7f",
    "'; DROP TABLE cases_case; --",
    "' OR '1'='1",
    "%_\\",
    '<script>window.__xss=1</script>"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}{% debug %}",
    "💥" * 40,
    "\ufffe\ud7ff",
    "x" * 100_000,
    "-1",
    "0",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "-0.0",
    "2025-02-30",
    "9999-12-31T23:59",
    "0001-01-01",
    "31/12/2025",
    "330281",
    "../../etc/passwd",
    "javascript:alert(1)",
]
JUNK_FILES = [
    ("photo.jpg", b"not an image at all", "image/jpeg"),
    ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png"),
    ("evil.html", b"<script>alert(1)</script>", "text/html"),
    ("empty.jpg", b"", "image/jpeg"),
    ("data.csv", "姓名,身份证\n张三,1\n".encode("gb18030"), "text/csv"),
    ("book.xlsx", b"PK\x03\x04broken", "application/octet-stream"),
]


class _Forms(HTMLParser):
    """Collects links and post forms (with their fields) of one page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.forms, self._form, self._select = [], [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            method = (a.get("method") or "get").lower()
            self._form = {"action": a.get("action") or "", "method": method, "fields": []}
        elif self._form is not None and a.get("name"):
            if tag == "input" and a.get("type") not in {"submit", "button", "reset", "image"}:
                kind = a.get("type") or "text"
                self._form["fields"].append((a["name"], kind, [a.get("value") or ""]))
            elif tag == "textarea":
                self._form["fields"].append((a["name"], "textarea", [""]))
            elif tag == "select":
                self._select = (a["name"], "select", [])
                self._form["fields"].append(self._select)
        if tag == "option" and self._select is not None and a.get("value") is not None:
            self._select[2].append(a["value"])

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None


def _crawl(client, start_pages):
    """Breadth-first over the site's own links; returns {(page, action): form}."""
    seen, queue, forms, shapes = set(), list(start_pages), {}, {}
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0)
        path = urlsplit(url).path
        # Two pages of each shape (/cases/N/, /visits/record/N/ …) are enough to find its forms.
        shape = re.sub(r"\d+", "N", path)
        if path in seen or SKIP.search(path) or shapes.get(shape, 0) >= 2:
            continue
        seen.add(path)
        shapes[shape] = shapes.get(shape, 0) + 1
        response = client.get(url)
        assert response.status_code < 500, f"GET {url} answered {response.status_code}"
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = _Forms()
        parser.feed(response.content.decode("utf-8", "replace"))
        for form in parser.forms:
            if form["method"] != "post":
                continue
            action = urljoin(url, form["action"]) if form["action"] else url
            action_path = urlsplit(action).path
            if SKIP.search(action_path):
                continue
            # One form per (action, field names): the same form on many pages is fuzzed once.
            key = (re.sub(r"\d+", "N", action_path), tuple(n for n, _k, _v in form["fields"]))
            forms.setdefault(key, (action, form["fields"]))
        for href in parser.links:
            target = urljoin(url, href)
            parts = urlsplit(target)
            if parts.netloc in ("", "testserver") and parts.path not in seen:
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return list(forms.values())


def _value(draw, kind, options):
    if kind == "file":
        name, content, content_type = draw(st.sampled_from(JUNK_FILES))
        return SimpleUploadedFile(name, content, content_type=content_type)
    own = [v for v in options if v is not None]
    return draw(
        st.one_of(
            st.sampled_from(own or [""]),
            st.sampled_from(ODD_TEXT),
            st.text(max_size=60),
        )
    )


@pytest.fixture
def crawled(personas, world):
    """Some cases in two townships so case pages have their action forms, then the forms of
    the county operator's, a township operator's, a grid worker's and a department's pages."""
    from civicgrid.cases.actions import do_report_case

    for user, grid in ((personas.grid1, world.grid), (personas.grid2, world.other_grid)):
        lat, lng = world.point(grid)
        do_report_case(
            actor=user,
            channel="grid_worker",
            description="井盖缺失 fuzz fixture",
            category=world.category,
            lat=lat,
            lng=lng,
        )
    from django.test import Client

    found = []
    for name in ("county", "lizhou", "grid1", "police", "leader", "admin"):
        user = getattr(personas, name)
        client = Client()
        client.force_login(user)
        for action, fields in _crawl(client, ["/", "/cases/", "/inbox/", "/profile/"]):
            found.append((name, action, fields))
    return found


@pytest.mark.django_db
def test_the_crawl_reaches_the_forms_of_many_apps(crawled):
    actions = {urlsplit(action).path.split("/")[1] for _name, action, _f in crawled}
    # The case pages, the reporting page and the other ends' pages are all reached.
    assert {"cases", "report"} <= actions, actions
    assert len(crawled) >= 20, len(crawled)


@pytest.mark.django_db
def test_odd_input_in_every_form_never_makes_a_server_error(crawled, personas):
    from django.test import Client

    clients = {}
    for name in {n for n, _a, _f in crawled}:
        clients[name] = Client(raise_request_exception=False)
        clients[name].force_login(getattr(personas, name))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(st.data())
    def post_odd(data):
        name, action, fields = data.draw(st.sampled_from(crawled), label="form")
        payload = {}
        for field, kind, options in fields:
            if data.draw(st.integers(0, 9)) == 0:
                continue  # sometimes a field is missing altogether
            payload[field] = _value(data.draw, kind, options)
        response = clients[name].post(action, payload)
        assert response.status_code < 500, (
            f"{name} POST {action} {sorted(payload)} answered {response.status_code}"
        )

    post_odd()
