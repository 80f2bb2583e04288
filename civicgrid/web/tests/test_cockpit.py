"""The cockpit: counts, drill-down from the county to a grid, the map's GeoJSON."""

import pytest
from django.test import Client
from django.urls import reverse

from civicgrid.cases import actions as A
from civicgrid.cases.selectors import cockpit


def _client(user):
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def cases(world):
    lat, lng = world.point()
    made = [
        A.do_report_case(actor=None, channel="resident", description=f"问题{i}", lat=lat, lng=lng)
        for i in range(3)
    ]
    A.do_accept_case(made[0], actor=world.p.lizhou, category=world.category)
    return made


def test_the_cockpit_counts_within_the_persons_scope(personas, world, cases):
    town = cockpit(personas.lizhou, "330281001")
    assert town["total"] == 3 and town["open"] == 3 and town["today"] == 3
    assert town["by_state"] == {"reported": 2, "accepted": 1}
    assert town["top_categories"][0]["category__code"] == world.category.code
    village = world.grid.village.code
    assert {c["code"]: c["open"] for c in town["children"]}[village] == 3
    assert cockpit(personas.fengshan, "")["total"] == 0
    county = cockpit(personas.county, "")
    assert county["total"] == 3
    assert [c["code"] for c in county["children"]] == ["330281"]


def test_the_cockpit_page_drills_down_to_grids(personas, world, cases):
    client = _client(personas.county)
    top = client.get(reverse("cockpit")).content.decode()
    assert "Cockpit" in top and 'id="category-chart"' in top
    village = world.grid.village.code
    page = client.get(reverse("cockpit"), {"region": village}).content.decode()
    assert world.grid.name in page and "Open cases by grid" in page
    assert client.get(reverse("cockpit"), {"region": "33028100x"}).status_code == 404
    data = client.get(reverse("cockpit_map"), {"region": village}).json()
    counts = {f["id"]: f["properties"]["open"] for f in data["features"]}
    assert counts[world.grid.code] == 3
    assert all(f["geometry"]["type"] in {"Polygon", "MultiPolygon"} for f in data["features"])


def test_a_township_operator_starts_at_their_township(personas, cases):
    page = _client(personas.lizhou).get(reverse("cockpit")).content.decode()
    assert "梨洲" in page  # the trail names the township
    other = _client(personas.fengshan).get(reverse("cockpit_map"), {"region": "330281001"})
    assert other.json()["features"] == []
