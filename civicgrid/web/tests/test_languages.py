"""Every page in Chinese shows no English words except data (codes, names, user names)."""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from civicgrid.cases import actions as A
from civicgrid.cases.selectors import QUEUES

# Words that are the same in both languages, or are data rather than interface.
ALLOWED = {
    "civicgrid",
    "csv",
    "excel",
    "gps",
    "api",
    "open311",
    "id",
    "jpeg",
    "png",
    "sms",
    "webhook",
}


class _Text(HTMLParser):
    """Visible text and the texts people read in attributes (labels, placeholders, titles)."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style", "code", "time"}:
            self._skip += 1
        for name, value in attrs:
            if name in {"placeholder", "title", "aria-label", "alt"} and value:
                self.parts.append(value)
            if tag == "input" and name == "value" and ("type", "submit") in attrs:
                self.parts.append(value or "")

    def handle_endtag(self, tag):
        if tag in {"script", "style", "code", "time"} and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def english_words(html: str, data: set[str]) -> set[str]:
    parser = _Text()
    parser.feed(html)
    text = " ".join(parser.parts)
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9'_-]{2,}", text))
    return {w for w in words if w.lower() not in ALLOWED and w not in data}


def _chinese_client(user):
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "zh-hans"
    return client


@pytest.fixture
def cases(world):
    """A case in each early state, so the case page shows its action forms."""
    lat, lng = world.point()
    reported = A.do_report_case(
        actor=None, channel="resident", description="路灯不亮", lat=lat, lng=lng
    )
    accepted = A.do_report_case(
        actor=None, channel="resident", description="井盖缺失", lat=lat, lng=lng
    )
    accepted = A.do_accept_case(accepted, actor=world.p.lizhou, category=world.category)
    dispatched = A.do_report_case(
        actor=None, channel="resident", description="占道经营", lat=lat, lng=lng
    )
    dispatched = A.do_accept_case(dispatched, actor=world.p.lizhou, category=world.category)
    dispatched = A.do_dispatch_case(dispatched, actor=world.p.lizhou, lead=world.town_police)
    return [reported, accepted, dispatched]


def test_pages_in_chinese_have_no_english_words(personas, world, cases):
    data = {u for u in ["lizhou", "grid1", "grid2", "police", "county", "admin", "auditor"]}
    data |= {"lz-police"}
    # The audit trail shows each object as it was named when the event was written (here by
    # tests running in English): stored data, not interface.
    data |= {"Department", "handler", "demo", "scale", "seed"}
    data |= set(get_user_model().objects.values_list("username", flat=True))  # who acted
    police = world.town_police_user()
    pages = {
        "lizhou": [
            "/",
            "/profile/",
            reverse("report"),
            reverse("grid_list"),
            reverse("cockpit"),
            reverse("operations"),
        ]
        + [f"{reverse('case_list')}?queue={q}" for q in QUEUES]
        + [reverse("case_detail", args=[c.code]) for c in cases],
        "county": [
            "/",
            reverse("case_detail", args=[cases[1].code]),
            reverse("cockpit"),
            reverse("cockpit") + "?region=" + world.grid.village.code,
            reverse("league"),
        ],
        "auditor": ["/", reverse("audit_list")],
        "grid1": ["/", reverse("report"), reverse("inbox")],
    }
    found = {}
    for username, urls in pages.items():
        client = _chinese_client(getattr(personas, username))
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (username, url)
            words = english_words(response.content.decode(), data)
            if words:
                found[(username, url)] = sorted(words)
    client = _chinese_client(police)
    response = client.get(reverse("case_detail", args=[cases[2].code]))
    words = english_words(response.content.decode(), data)
    if words:
        found[("lz-police", "case")] = sorted(words)
    visitor = Client()
    visitor.cookies["django_language"] = "zh-hans"
    for url in ["/login/", reverse("resident_report"), reverse("track")] + [
        reverse("track_case", args=[c.code]) for c in cases
    ]:
        response = visitor.get(url)
        assert response.status_code == 200, url
        words = english_words(response.content.decode(), data)
        if words:
            found[("anonymous", url)] = sorted(words)
    assert not found, found
