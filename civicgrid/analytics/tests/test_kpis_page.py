"""The KPI table page: permission, scope, figures of the hand-counted fixture, exports."""

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from civicgrid.analytics.tests.test_kpis import kpi_world  # noqa: F401 (fixture)
from civicgrid.cases.tests.conftest import at  # noqa: F401 (fixture)

MARCH = {"start": "2026-03-01", "end": "2026-03-31"}
URL = "/analytics/kpis/"


def _get(client, user, **params):
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client.get(URL, params)


def _row(page: str, code: str) -> str:
    start = page.index(f'id="kpi-{code}"')
    return page[start : page.index("</tr>", start)]


def test_the_url_is_where_the_brief_says():
    assert reverse("analytics_kpis") == URL


def test_the_county_sees_a_township_against_its_targets(client, kpi_world):  # noqa: F811
    response = _get(client, kpi_world.p.county, region="330281001", **MARCH)
    assert response.status_code == 200
    page = response.content.decode()
    assert "KPIs · 梨洲街道" in page
    closed = _row(page, "closed_rate")
    assert "Closure rate" in closed and "50.0 %" in closed and "3 / 6" in closed
    assert "≥ 90.0 %" in closed and "not met" in closed
    hours = _row(page, "mean_handling_hours")
    assert "23.2 h" in hours and "69.5 / 3" in hours and "≤ 37.5 h" in hours and ">met<" in hours
    assert "—" in _row(page, "campaign_rectification_rate")
    # grouped by village by default under a township; by department on request
    assert "Per village / community" in page
    page = _get(client, kpi_world.p.county, group="department", **MARCH).content.decode()
    assert kpi_world.town_police.name in page and "Per department (lead)" in page


def test_a_department_filter(client, kpi_world):  # noqa: F811
    response = _get(
        client,
        kpi_world.p.county,
        region="330281001",
        department=kpi_world.town_police.code,
        **MARCH,
    )
    assert "1 / 3" in _row(response.content.decode(), "return_rate")


def test_grid_workers_and_outsiders_are_refused(client, personas):
    for user in (personas.grid1, personas.outsider, personas.police):
        assert _get(client, user).status_code == 403
        assert client.get(reverse("analytics_kpi_export", args=["kpis", "csv"])).status_code == 403
    client.logout()
    assert client.get(URL).status_code == 302


def test_a_township_operator_sees_only_their_township(client, kpi_world):  # noqa: F811
    lizhou = kpi_world.p.lizhou
    for other in ("330281002", "330281", "330281002001"):
        assert _get(client, lizhou, region=other, **MARCH).status_code == 404
        response = client.get(
            reverse("analytics_kpi_export", args=["kpis", "csv"]), {"region": other}
        )
        assert response.status_code == 404
    page = _get(client, lizhou, **MARCH).content.decode()
    assert "KPIs · 梨洲街道" in page and "3 / 6" in _row(page, "closed_rate")
    assert "凤山" not in page
    # the fengshan operator asking for the county's own page gets only 凤山's cases
    page = _get(client, kpi_world.p.fengshan, **MARCH).content.decode()
    assert "1 / 2" in _row(page, "closed_rate")


def test_a_bad_period_is_a_form_error_not_a_500(client, personas):
    response = _get(client, personas.county, start="2026-13-01")
    assert response.status_code == 200 and "not understood" in response.content.decode()
    response = _get(client, personas.county, start="2026-03-31", end="2026-03-01")
    assert response.status_code == 200 and "not understood" in response.content.decode()
    assert client.get(reverse("analytics_kpi_export", args=["kpis", "pdf"])).status_code == 404
    assert client.get(reverse("analytics_kpi_export", args=["people", "csv"])).status_code == 404


def test_the_default_period_is_last_month(client, personas, at):  # noqa: F811
    at(2026, 4, 15, 10)
    page = _get(client, personas.county).content.decode()
    assert "2026-03-01" in page and "2026-03-31" in page


def test_exports(client, kpi_world):  # noqa: F811
    _get(client, kpi_world.p.county)
    params = {"region": "330281001", **MARCH}
    response = client.get(reverse("analytics_kpi_export", args=["kpis", "csv"]), params)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = {row[1]: row for row in csv.reader(io.StringIO(text))}
    assert rows["code"][0] == "KPI"
    assert rows["closed_rate"][2:6] == ["50.0", "%", "3.0", "6.0"]
    assert rows["closed_rate"][6:8] == ["90.0", "not met"]
    response = client.get(
        reverse("analytics_kpi_export", args=["groups", "xlsx"]),
        {"group": "town", "region": "330281", **MARCH},
    )
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = list(book.active.iter_rows(values_only=True))
    assert sheet[0][:3] == ("code", "name", "Acceptance rate")
    towns = {row[0]: row for row in sheet[1:]}
    assert set(towns) == {"330281001", "330281002"}
    closed = sheet[0].index("Closure rate")
    assert towns["330281001"][closed] == 50.0 and towns["330281002"][closed] == 50.0


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_page_renders_in_both_languages(client, personas, language):
    client.force_login(personas.county)
    client.cookies["django_language"] = language
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'lang="{language}"' in page
    assert ("办结率" if language == "zh-hans" else "Closure rate") in page


def test_page_queries(client, kpi_world, django_assert_max_num_queries):  # noqa: F811
    """A fixed number of queries, whatever the number of rows."""
    client.force_login(kpi_world.p.county)
    with django_assert_max_num_queries(30):
        response = client.get(URL, {"region": "330281", **MARCH})
    assert response.status_code == 200
