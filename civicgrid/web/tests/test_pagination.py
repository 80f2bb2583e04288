"""Case lists page without counting more than ``CAP`` rows; the exports stay complete."""

import csv
import io

import pytest
from django.urls import reverse

from civicgrid.cases import actions as A
from civicgrid.cases.models import Case
from civicgrid.web import pagination
from civicgrid.web.pagination import capped_page


def _reports(world, n):
    lat, lng = world.point()
    return [
        A.do_report_case(actor=None, channel="resident", description=f"路灯 {i}", lat=lat, lng=lng)
        for i in range(n)
    ]


@pytest.fixture
def thirteen(world):
    return _reports(world, 13)


def test_a_short_list_is_counted_exactly_without_a_count_query(thirteen, django_assert_num_queries):
    rows = Case.objects.order_by("-created", "-id")
    with django_assert_num_queries(1):
        page = capped_page(rows, "1", per_page=20, cap=5)
    assert (page.paginator.count, page.paginator.num_pages) == (13, 1)
    assert not page.has_next() and not page.has_previous()


def test_a_long_list_stops_counting_at_the_cap(thirteen, django_assert_num_queries):
    rows = Case.objects.order_by("-created", "-id")
    with django_assert_num_queries(2):
        first = capped_page(rows, None, per_page=3, cap=5)
    assert (first.paginator.count, first.paginator.num_pages) == ("5+", "2+")
    assert first.has_next() and first.next_page_number() == 2
    # Below the cap the count is exact.
    exact = capped_page(rows, 1, per_page=3, cap=100)
    assert (exact.paginator.count, exact.paginator.num_pages) == (13, 5)
    # Paging on past the cap reaches every row, once, in order.
    seen, number = [], 1
    while True:
        page = capped_page(rows, number, per_page=3, cap=5)
        seen += [case.pk for case in page]
        if not page.has_next():
            break
        number = page.next_page_number()
    assert seen == list(rows.values_list("pk", flat=True))
    assert (page.number, page.paginator.count, page.paginator.num_pages) == (5, 13, 5)


@pytest.mark.parametrize("number", ["0", "-3", "abc", "", "99"])
def test_it_never_fails_on_a_bad_page_number(thirteen, number):
    rows = Case.objects.order_by("-created", "-id")
    page = capped_page(rows, number, per_page=5, cap=5)
    assert page.number == (3 if number == "99" else 1)
    assert len(page.object_list) == (3 if number == "99" else 5)


def test_the_list_page_says_capped_and_the_export_has_every_row(
    client, personas, thirteen, monkeypatch
):
    monkeypatch.setattr(pagination, "CAP", 5)
    monkeypatch.setattr(pagination, "PER_PAGE", 4)
    client.force_login(personas.lizhou)
    page = client.get(reverse("case_list"), {"queue": "all", "page": "2"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "5+" in text and "page=3" in text and "page=1" in text
    codes = [c.code for c in Case.objects.order_by("-created", "-id")]
    assert all(code in text for code in codes[4:8])
    assert not any(code in text for code in codes[:4] + codes[8:])
    export = client.get(reverse("case_export", args=["csv"]), {"queue": "all"})
    body = b"".join(export.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))[1:]
    assert sorted(r[0] for r in rows) == sorted(codes)
