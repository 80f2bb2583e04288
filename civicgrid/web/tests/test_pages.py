import pytest
from django.urls import reverse


def test_it_shows_a_chinese_login_page_by_default(client, db):
    response = client.get("/login/")
    body = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in body
    assert "登录" in body and "用户名" in body


def test_it_switches_to_english_and_remembers(client, db):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    body = client.get("/login/").content.decode()
    assert '<html lang="en">' in body and "Log in to civicgrid" in body


def test_it_sends_anonymous_visitors_to_the_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_it_logs_in_with_a_demo_account_and_shows_the_roles(client, db):
    from civicgrid.demo.loader import DEMO_PASSWORD

    response = client.post("/login/", {"username": "lizhou", "password": DEMO_PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert "指挥室" in client.get("/").content.decode()  # lands on the command-room workbench
    body = client.get(reverse("profile")).content.decode()
    assert "330281001" in body
    assert "镇街指挥室操作员" in body or "Township command-room operator" in body


def test_it_rejects_a_wrong_password_without_error(client, db):
    response = client.post("/login/", {"username": "lizhou", "password": "wrong"})
    assert response.status_code == 200
    assert "error" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/grids/?page=abc",
        "/grids/?page=99999",
        "/grids/?q=%00%ff",
        "/grids/?kind=<script>",
        "/people/999999999/",
        "/people/1/reveal/",
    ],
)
def test_it_answers_bad_input_without_a_server_error(login, personas, url):
    response = login(personas.county).get(url)
    assert response.status_code in {200, 404, 405}


def test_it_reports_health(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_it_pages_the_grid_list_with_a_fixed_number_of_queries(
    login, personas, django_assert_max_num_queries
):
    client = login(personas.county)
    with django_assert_max_num_queries(8):
        response = client.get("/grids/")
    assert response.status_code == 200


def test_it_filters_the_grid_list_and_exports_the_same_rows(login, personas):
    from civicgrid.regions.models import Grid

    dedicated = Grid.objects.filter(kind="dedicated").order_by("code").first()
    basic = Grid.objects.filter(kind="basic").order_by("code").first()
    client = login(personas.county)
    page = client.get("/grids/", {"kind": "dedicated"}).content.decode()
    assert dedicated.code in page and basic.code not in page
    page = client.get("/grids/", {"q": dedicated.name}).content.decode()
    assert dedicated.code in page and basic.code not in page
    export = client.get("/grids/export.csv", {"kind": "dedicated"})
    rows = b"".join(export.streaming_content).decode("utf-8-sig").splitlines()
    assert len(rows) == 1 + Grid.objects.filter(kind="dedicated").count()
    assert any(row.startswith(dedicated.code) for row in rows)


def test_the_grid_list_exports_to_excel(login, personas):
    import io

    from openpyxl import load_workbook

    from civicgrid.regions.models import Grid

    client = login(personas.county)
    export = client.get("/grids/export.xlsx", {"kind": "dedicated"})
    assert export["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(b"".join(export.streaming_content)))
    rows = list(book.active.iter_rows(values_only=True))
    assert len(rows) == 1 + Grid.objects.filter(kind="dedicated").count()
    assert client.get("/grids/export.pdf").status_code == 404


def test_the_case_page_counts_down_in_working_time(login, personas):
    from civicgrid.cases import actions as A
    from civicgrid.cases.models import Category
    from civicgrid.regions.models import Region

    case = A.do_report_case(
        actor=personas.lizhou,
        channel="hotline_12345",
        description="井盖缺失",
        region=Region.objects.get(code="330281001"),
    )
    case = A.do_accept_case(case, actor=personas.lizhou, category=Category.objects.get(code="0101"))
    client = login(personas.lizhou)
    client.cookies["django_language"] = "en"
    body = client.get(f"/cases/{case.code}/").content.decode()
    assert "working days" in body and " left" in body
