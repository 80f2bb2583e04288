"""The main pages' query counts are pinned, and do not grow with the number of rows shown."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from civicgrid.cases import actions as A


def _queries(client, url) -> int:
    client.get(url)  # warm caches (locator, calendar) outside the count
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def _reports(world, n):
    lat, lng = world.point()
    made = []
    for i in range(n):
        case = A.do_report_case(
            actor=None, channel="resident", description=f"井盖缺失 {i}", lat=lat, lng=lng
        )
        case = A.do_accept_case(case, actor=world.p.lizhou, category=world.category)
        made.append(A.do_dispatch_case(case, actor=world.p.lizhou, lead=world.town_police))
    return made


PAGES = {
    # url name/arguments → pinned maximum (session, user, grants, the page's own reads)
    "workbench": ("/", 16),
    "all cases": (lambda: reverse("case_list") + "?queue=all", 4),
    "intake": (lambda: reverse("case_list") + "?queue=intake&ordering=resolve_deadline", 4),
    "export": (lambda: reverse("case_export", args=["xlsx"]) + "?queue=all", 5),
    "report": (lambda: reverse("report"), 7),
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_list_pages_are_pinned_and_flat_in_the_number_of_rows(personas, world, page):
    url, pinned = PAGES[page]
    url = url() if callable(url) else url
    client = Client()
    client.force_login(personas.lizhou)
    _reports(world, 2)
    few = _queries(client, url)
    _reports(world, 12)
    many = _queries(client, url)
    assert many == few, f"{page}: {few} queries with 2 rows, {many} with 14"
    assert many <= pinned, f"{page}: {many} queries, pinned at {pinned}"


def test_the_case_page_is_pinned(personas, world):
    case = _reports(world, 1)[0]
    client = Client()
    client.force_login(world.town_police_user())
    # 16: the on-call summons panel reads the case's summonses once (more only for its owner).
    assert _queries(client, reverse("case_detail", args=[case.code])) <= 16
