"""The province KPI table page: who may open it, what they see, the figures of the rollup."""

from django.urls import reverse

from civicgrid.analytics import rollup
from civicgrid.analytics.tests.test_rollup import cases_world  # noqa: F401 (fixture)
from civicgrid.cases.tests.conftest import at  # noqa: F401 (fixture)

MARCH = {"start": "2026-03-01", "end": "2026-03-31"}
URL = "/analytics/province/"


def _get(client, user, **params):
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client.get(URL, params)


def _row(page: str, key: str) -> str:
    start = page.index(f'id="place-{key}"')
    return page[start : page.index("</tr>", start)]


def test_the_url():
    assert reverse("analytics_province") == URL


def test_the_county_sees_its_row_from_the_rollup(client, cases_world):  # noqa: F811
    page = _get(client, cases_world.p.county, **MARCH).content.decode()
    assert "Nothing to show." in page  # not refreshed yet: the daily summary is empty
    rollup.refresh()
    response = _get(client, cases_world.p.county, **MARCH)
    assert response.status_code == 200
    row = _row(response.content.decode(), "330281")
    # as counted by hand in test_kpis (梨洲): 9 reported; accepted 6 / 9, closed 3 / 6, on
    # time 2 / 6, overdue 3 / 6, reworked 1 / 3, escalated 1 / 6, returned 1 / 4, signed on
    # time 2 / 4, satisfied 2 / 2, repeats 1 / 8, duplicates 1 / 9, closed at grid or village
    # 1 / 3, hard cases closed 1 / 2, handling 69.5 h / 3
    values = (
        "66.7 %, 50.0 %, 33.3 %, 50.0 %, 33.3 %, 16.7 %, 25.0 %, 50.0 %, 100.0 %, 12.5 %, "
        "11.1 %, 33.3 %, 50.0 %, 23.2 h"
    )
    cells = "".join(f"<td>{v}</td>" for v in values.split(", "))
    assert f"<td>余姚市</td><td>9</td>{cells}" in row
    assert "Closure rate" in page or "办结率" in page


def test_a_township_operator_sees_their_township_only(client, cases_world):  # noqa: F811
    rollup.refresh()
    page = _get(client, cases_world.p.lizhou, **MARCH).content.decode()
    assert "梨洲" in _row(page, "330281001")
    assert 'id="place-330281"' not in page and 'id="place-330281002"' not in page


def test_refused_and_bad_input(client, personas):
    for user in (personas.grid1, personas.outsider, personas.police):
        assert _get(client, user).status_code == 403
    client.logout()
    assert client.get(URL).status_code == 302
    for bad in (
        {"start": "2026-13-01"},
        {"start": "2026-03-31", "end": "2026-03-01"},
        {"start": "2020-01-01", "end": "2026-03-01"},
    ):
        response = _get(client, personas.county, **bad)
        assert response.status_code == 200 and "not understood" in response.content.decode()


def test_the_table_exports_as_csv_and_excel(client, cases_world):  # noqa: F811
    import csv
    import io

    from openpyxl import load_workbook

    rollup.refresh()
    client.force_login(cases_world.p.county)
    client.cookies["django_language"] = "en"
    page = client.get(URL, MARCH).content.decode()
    assert "/analytics/province.csv?start=2026-03-01" in page

    response = client.get("/analytics/province.csv", MARCH)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["code", "name", "cases reported", rows[0][3]]
    county = next(r for r in rows[1:] if r[0] == "330281")
    # the same figures as the page (test above): 9 reported, accepted 6 / 9 = 66.7 %
    assert county[1:6] == ["余姚市", "9", "66.7", "6", "9"]

    response = client.get("/analytics/province.xlsx", MARCH)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[1][:6] == ["330281", "余姚市", 9, 66.7, 6, 9]

    # the same scope as the page: a township operator gets their township only
    client.force_login(cases_world.p.lizhou)
    text = b"".join(client.get("/analytics/province.csv", MARCH).streaming_content).decode()
    assert "330281001" in text and "330281002" not in text and "\n330281," not in text
    assert client.get("/analytics/province.pdf", MARCH).status_code == 404


def test_the_export_is_refused_like_the_page(client, personas):
    for user in (personas.grid1, personas.outsider, personas.police):
        client.force_login(user)
        assert client.get("/analytics/province.csv").status_code == 403
    client.logout()
    assert client.get("/analytics/province.csv").status_code == 302
