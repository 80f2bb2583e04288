"""The leaders' cockpit (D7): its numbers against counts made here, scoping, the map's levels and
measures, the exports, drilling down from the county to the list of cases, and a query count
that does not grow with the cases."""

import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from civicgrid.cases import actions as A
from civicgrid.cases import workflow
from civicgrid.cases.models import Case

LIZHOU, FENGSHAN = "330281001", "330281002"


def _client(client, user):
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def _numbers(html: str) -> dict[str, int]:
    return {key: int(value) for key, value in re.findall(r'data-number="(\w+)"><b>(\d+)</b>', html)}


@pytest.fixture
def cases(world):
    """Cases of grid1's grid (梨洲): today, yesterday, 10 days ago; one urgent, one supervised,
    one overdue, one closed (rejected) today, and one in 凤山 (grid2's grid)."""
    lat, lng = world.point()
    now = timezone.now()

    def report(text, **extra):
        return A.do_report_case(
            actor=None, channel="resident", description=text, lat=lat, lng=lng, **extra
        )

    made = {
        "today": report("路灯不亮"),
        "urgent": report("井盖缺失", urgent=True),
        "yesterday": report("占道经营", created=now - timedelta(days=1)),
        "old": report("垃圾堆放", created=now - timedelta(days=10)),
        "closed": report("重复上报"),
    }
    A.do_reject_case(made["closed"], actor=world.p.lizhou, reason="不属于受理范围")
    made["overdue"] = A.do_accept_case(
        report("违章搭建", created=now - timedelta(days=40)),
        actor=world.p.lizhou,
        category=world.category,
    )
    Case.objects.filter(pk=made["overdue"].pk).update(resolve_deadline=now - timedelta(hours=2))
    A.do_accept_case(made["today"], actor=world.p.lizhou, category=world.category)
    A.do_supervise_case(made["today"], actor=world.p.county, level=1, reason="群众反映强烈")
    lat2, lng2 = world.point(world.other_grid)
    made["fengshan"] = A.do_report_case(
        actor=None, channel="resident", description="噪音扰民", lat=lat2, lng=lng2
    )
    return made


def _expected(prefix: str) -> dict[str, int]:
    """The same numbers counted here, case by case, in Python."""
    now = timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    rows = list(Case.objects.filter(region_code__startswith=prefix))
    is_open = [c for c in rows if c.state in workflow.OPEN_STATES]
    running = workflow.OPEN_STATES - {workflow.SUSPENDED, workflow.REPORTED}
    return {
        "intake_today": sum(c.created >= today for c in rows),
        "intake_yesterday": sum(yesterday <= c.created < today for c in rows),
        "open": len(is_open),
        "overdue": sum(
            c.state in running and c.resolve_deadline and c.resolve_deadline < now for c in rows
        ),
        "closed_today": sum(
            c.state in workflow.CLOSED_STATES and c.closed_at and c.closed_at >= today for c in rows
        ),
        "urgent": sum(c.urgent for c in is_open),
        "supervised": sum(c.supervised > 0 for c in is_open),
    }


def test_the_numbers_are_the_cases_counted_one_by_one(client, personas, world, cases):
    leader = _client(client, personas.leader)
    county = _numbers(leader.get(reverse("cockpit")).content.decode())
    assert county == _expected("330281")
    assert county["intake_today"] >= 4 and county["overdue"] == 1 and county["closed_today"] == 1
    assert county["urgent"] == 1 and county["supervised"] == 1 and county["intake_yesterday"] == 1
    town = _numbers(leader.get(reverse("cockpit"), {"region": LIZHOU}).content.decode())
    assert town == _expected(LIZHOU)
    assert town["open"] == county["open"] - 1  # the 凤山 case
    grid = _numbers(leader.get(reverse("cockpit"), {"region": world.grid.code}).content.decode())
    assert grid == _expected(world.grid.code)


def test_the_trend_counts_reports_and_closures_per_day(personas, world, cases):
    from civicgrid.analytics.cockpit import access_place, trends

    data = trends(access_place(personas.leader, LIZHOU))
    assert len(data["days"]) == 30 and data["days"][-1] == timezone.localdate().isoformat()
    assert data["intake"][-1] == _expected(LIZHOU)["intake_today"]
    assert data["intake"][-2] == 1 and data["intake"][-11] == 1
    assert data["closed"][-1] == 1 and sum(data["closed"]) == 1


def test_drilling_down_from_the_county_to_the_list_of_cases(client, personas, world, cases):
    leader = _client(client, personas.leader)
    village, grid = world.grid.village.code, world.grid.code
    page = leader.get(reverse("cockpit")).content.decode()
    assert f'href="/cockpit/?region={LIZHOU}"' in page and "梨洲" in page
    page = leader.get(reverse("cockpit"), {"region": LIZHOU}).content.decode()
    assert f'href="/cockpit/?region={village}"' in page
    page = leader.get(reverse("cockpit"), {"region": village}).content.decode()
    assert f'href="/cockpit/?region={grid}"' in page and world.grid.name in page
    page = leader.get(reverse("cockpit"), {"region": grid}).content.decode()
    assert "Newest open cases" in page and cases["today"].code in page
    assert cases["closed"].code not in page  # closed: not among the open ones
    listing = f"{reverse('case_list')}?queue=all&amp;region={grid}"
    assert listing in page
    listed = leader.get(reverse("case_list"), {"queue": "all", "region": grid}).content.decode()
    assert cases["old"].code in listed and cases["fengshan"].code not in listed
    # The trail leads back up, every level the same screen.
    for code in ("330281", LIZHOU, village):
        assert f'href="/cockpit/?region={code}"' in page
    assert 'id="cp-map"' in page and 'id="cockpit-data"' in page


def test_a_township_sees_its_own_township_only(client, personas, world, cases):
    lizhou = _client(client, personas.lizhou)
    page = lizhou.get(reverse("cockpit")).content.decode()
    assert "梨洲" in page and _numbers(page) == _expected(LIZHOU)
    for region in ("330281", FENGSHAN, world.other_grid.code, world.other_grid.village.code):
        assert lizhou.get(reverse("cockpit"), {"region": region}).status_code == 404
        assert lizhou.get(reverse("cockpit_map"), {"region": region}).status_code == 404
        export = reverse("cockpit_export", args=["children", "csv"])
        assert lizhou.get(export, {"region": region}).status_code == 404
    for bad in ("33028100x", "3302810011", "１２３４５６"):
        assert lizhou.get(reverse("cockpit"), {"region": bad}).status_code == 404
    fengshan = _client(client, personas.fengshan)
    assert _numbers(fengshan.get(reverse("cockpit")).content.decode())["open"] == 1


@pytest.mark.parametrize("username", ["grid1", "police", "outsider"])
def test_grid_workers_departments_and_outsiders_are_forbidden(client, personas, username):
    user = _client(client, getattr(personas, username))
    assert user.get(reverse("cockpit")).status_code == 403
    assert user.get(reverse("cockpit_map")).status_code == 403
    assert user.get(reverse("cockpit_export", args=["kpis", "csv"])).status_code == 403


def test_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("cockpit"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_map_by_level_and_measure(client, personas, world, cases):
    leader = _client(client, personas.leader)
    url = reverse("cockpit_map")
    towns = leader.get(url).json()
    assert towns["level"] == "town" and towns["measure"] == "open"
    values = {f["id"]: f["properties"] for f in towns["features"]}
    assert all(len(code) == 9 for code in values)
    assert values[LIZHOU]["value"] == _expected(LIZHOU)["open"]
    assert values[FENGSHAN]["value"] == 1
    assert values[LIZHOU]["url"] == f"/cockpit/?region={LIZHOU}"
    late = leader.get(url, {"level": "town", "measure": "overdue"}).json()
    assert {f["id"]: f["properties"]["value"] for f in late["features"]}[LIZHOU] == 1
    recent = leader.get(url, {"level": "village", "measure": "intake30"}).json()
    villages = {f["id"]: f["properties"]["value"] for f in recent["features"]}
    assert all(len(code) == 12 for code in villages)
    assert villages[world.grid.village.code] == 5  # all but the one reported 40 days ago
    grids = leader.get(url, {"region": LIZHOU, "level": "grid"}).json()
    by_grid = {f["id"]: f["properties"]["open"] for f in grids["features"]}
    assert by_grid[world.grid.code] == _expected(world.grid.code)["open"]
    assert world.other_grid.code not in by_grid  # 凤山's grid is outside 梨洲
    assert all(f["geometry"]["type"] in {"Polygon", "MultiPolygon"} for f in grids["features"])
    points = {p[2]: p for p in grids["cases"]}
    assert set(points) == {c.code for k, c in cases.items() if k not in {"closed", "fengshan"}}
    assert points[cases["overdue"].code][4] is True and points[cases["urgent"].code][3] is True
    assert leader.get(url, {"cases": "0"}).json()["cases"] == []
    # The early-warning layer: the warning app's signals of the place (none here), if installed.
    assert towns["signals"] is None or towns["signals"]["type"] == "FeatureCollection"
    # Coarser than the place, or unknown: a bad request.
    village = world.grid.village.code
    assert leader.get(url, {"region": village, "level": "town"}).status_code == 400
    assert leader.get(url, {"level": "province"}).status_code == 400
    assert leader.get(url, {"measure": "everything"}).status_code == 400


def test_every_table_exports_as_csv_and_excel(client, personas, world, cases):
    from openpyxl import load_workbook

    leader = _client(client, personas.leader)
    csv = leader.get(reverse("cockpit_export", args=["children", "csv"]), {"region": LIZHOU})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    lines = b"".join(csv.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Villages and communities,Open,Overdue")
    village = world.grid.village
    expected = _expected(village.code)
    assert f"{village.name},{expected['open']},{expected['overdue']},5" in lines
    kpis = leader.get(reverse("cockpit_export", args=["kpis", "csv"]), {"region": LIZHOU})
    kpi_lines = b"".join(kpis.streaming_content).decode("utf-8-sig").splitlines()
    assert kpi_lines[0].startswith("KPI,This month,Target,Met,Last month")
    page = leader.get(reverse("cockpit"), {"region": LIZHOU}).content.decode()
    assert len(kpi_lines) - 1 == page.count("data-kpi=")  # every KPI on the screen
    for table in ("kpis", "places", "departments", "children"):
        response = leader.get(reverse("cockpit_export", args=[table, "xlsx"]), {"region": LIZHOU})
        assert response.status_code == 200, table
        book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
        assert book.active.max_row >= 1
    assert leader.get(reverse("cockpit_export", args=["nothing", "csv"])).status_code == 404
    assert leader.get(reverse("cockpit_export", args=["kpis", "pdf"])).status_code == 404


def test_kpis_against_targets_from_the_kpi_module(client, personas, world, cases):
    kpis = pytest.importorskip("civicgrid.analytics.kpis")
    from civicgrid.analytics.cockpit import access_place, kpi_panel, month_bounds

    place = access_place(personas.leader, LIZHOU)
    rows = {r["code"]: r for r in kpi_panel(personas.leader, place)}
    assert set(rows) == set(kpis.KPIS)
    now = timezone.now()
    _last, start, _next = month_bounds(timezone.localdate())
    values = kpis.compute(start, now, region_code=LIZHOU, user=personas.leader)
    for code, row in rows.items():
        value = values[code].value
        assert row["value"] == (None if value is None else round(float(value), 2)), code
        if row["target"] is not None and row["value"] is not None:
            better = row["better"]
            assert row["met"] == (
                row["value"] >= row["target"] if better else row["value"] <= row["target"]
            )
    page = _client(client, personas.leader).get(reverse("cockpit"), {"region": LIZHOU})
    for code in rows:
        assert f'data-kpi="{code}"' in page.content.decode()


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_query_count_does_not_grow_with_the_cases(
    client, personas, world, cases, django_assert_max_num_queries
):
    leader = _client(client, personas.leader)
    page, data = reverse("cockpit"), f"{reverse('cockpit_map')}?level=grid"
    _queries(leader, page)  # warm: sessions, content types
    before = (_queries(leader, page), _queries(leader, data))
    lat, lng = world.point()
    for i in range(15):
        A.do_report_case(
            actor=None, channel="resident", description=f"问题{i}", lat=lat, lng=lng, urgent=i % 2
        )
    after = (_queries(leader, page), _queries(leader, data))
    assert after == before
    with django_assert_max_num_queries(40):
        leader.get(page)
    with django_assert_max_num_queries(12):
        leader.get(data)


def test_the_map_is_compressed_for_browsers_that_ask(client, personas, world, cases):
    import gzip
    import json

    leader = _client(client, personas.leader)
    url = reverse("cockpit_map")
    plain = leader.get(url, {"region": LIZHOU, "level": "grid"})
    packed = leader.get(url, {"region": LIZHOU, "level": "grid"}, HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in plain
    assert packed["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(packed.content)) == plain.json()
    assert len(packed.content) < len(plain.content) / 2
