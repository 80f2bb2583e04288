"""The data hub pages through HTTP: upload → mapping → dry run → import → error report."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from civicgrid.datahub import actions as A
from civicgrid.datahub.models import ImportRun, Source
from civicgrid.datahub.tests.conftest import csv_bytes, id_number
from civicgrid.people.models import Person

HEADER = ["姓名", "公民身份号码", "联系电话", "地址", "纬度", "经度"]


def people_file(places, *, bad: bool = True, count: int = 2) -> bytes:
    lat, lng = places["point"]
    rows = [HEADER]
    rows += [
        [f"测试{n}", id_number("19900101", 101 + 2 * n), "", "", lat, lng] for n in range(count)
    ]
    if bad:
        rows.append(["坏行", "33028119900101000X", "12", "", lat, lng])
    return csv_bytes(rows, encoding="gb18030")


def upload(client, data: bytes, *, name="people.csv", **fields):
    post = {"file": SimpleUploadedFile(name, data), **fields}
    return client.post("/datahub/upload/", post)


def map_columns(client, run: ImportRun, **extra):
    page = client.get(f"/datahub/runs/{run.pk}/mapping/")
    form = page.context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(extra)
    return client.post(f"/datahub/runs/{run.pk}/mapping/", data)


@pytest.mark.parametrize("who", ["lizhou", "grid1", "police", "leader", "auditor", "outsider"])
def test_only_importers_see_the_data_hub(personas, login, who):
    client = login(getattr(personas, who))
    assert client.get("/datahub/").status_code == 403
    assert client.post("/datahub/upload/", {}).status_code == 403
    assert "/datahub/" not in client.get("/").content.decode()


def test_a_county_operator_maps_checks_imports_and_downloads_the_error_report(
    personas, login, places
):
    client = login(personas.county)
    page = client.get("/datahub/")
    assert page.status_code == 200 and 'href="/datahub/"' in page.content.decode()

    response = upload(client, people_file(places), source_name="公安人口库", target="population")
    run = ImportRun.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/datahub/runs/{run.pk}/mapping/"
    )
    page = client.get(response["Location"])
    assert page.context["form"]["col_id_number"].value() == "公民身份号码"
    assert page.context["form"]["name"].value() == "公安人口库"

    before = Person.objects.count()
    response = map_columns(client, run)
    assert response["Location"] == f"/datahub/runs/{run.pk}/"
    run.refresh_from_db()
    assert (run.state, run.new, run.errors) == ("checked", 2, 1)
    assert Person.objects.count() == before  # the dry run changed nothing
    page = client.get(f"/datahub/runs/{run.pk}/").content.decode()
    assert 'id="import-form"' in page and 'data-field="id_number"' in page

    # Without skipping, the bad row stops everything.
    client.post(f"/datahub/runs/{run.pk}/import/", {})
    run.refresh_from_db()
    assert run.state == "failed" and Person.objects.count() == before

    report = client.get(f"/datahub/runs/{run.pk}/problems.csv")
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert len(rows[0]) == 5  # row, field, column, value, problem (in the page's language)
    assert {(r[0], r[1]) for r in rows[1:]} == {("4", "id_number"), ("4", "phone")}
    book = load_workbook(io.BytesIO(client.get(f"/datahub/runs/{run.pk}/problems.xlsx").getvalue()))
    assert book.active.max_row == 3

    # Checked again and imported without the bad row.
    map_columns(client, run)
    client.post(f"/datahub/runs/{run.pk}/import/", {"skip_bad": "on"})
    run.refresh_from_db()
    assert (run.state, run.new) == ("imported", 2)
    assert Person.objects.count() == before + 2

    runs = client.get("/datahub/runs.csv")
    assert "people.csv" in b"".join(runs.streaming_content).decode("utf-8-sig")
    assert client.get("/datahub/runs.xlsx").status_code == 200
    sources = b"".join(client.get("/datahub/sources.csv").streaming_content).decode("utf-8-sig")
    assert "公安人口库" in sources and "公民身份号码" in sources


def test_the_saved_mapping_is_reused_for_the_next_file(personas, login, places):
    client = login(personas.county)
    upload(client, people_file(places, bad=False), source_name="人口", target="population")
    run = ImportRun.objects.get()
    map_columns(client, run, col_phone="", def_address="梨洲街道")
    source = Source.objects.get(name="人口")
    assert "phone" not in source.columns and source.defaults == {"address": "梨洲街道"}

    upload(client, people_file(places, bad=False), source=str(source.pk))
    second = ImportRun.objects.exclude(pk=run.pk).get()
    form = client.get(f"/datahub/runs/{second.pk}/mapping/").context["form"]
    assert form["def_address"].value() == "梨洲街道"
    assert form["col_name"].value() == "姓名"


def test_bad_uploads_and_mappings_are_form_errors(personas, login):
    client = login(personas.county)
    response = upload(client, b"", source_name="x", target="population")
    assert response.status_code == 200 and response.context["form"].errors
    response = upload(client, b"a,b\n1,2\n")
    assert response.context["form"].non_field_errors()
    upload(client, b"a,b\n1,2\n", source_name="x", target="population")
    run = ImportRun.objects.get()
    response = client.post(
        f"/datahub/runs/{run.pk}/mapping/",
        {"name": "x", "on_duplicate": "update", "datum": "wgs84", "col_name": "a"},
    )
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert client.get("/datahub/runs/999999/").status_code == 404
    assert client.get(f"/datahub/runs/{run.pk}/problems.pdf").status_code == 404


def test_a_large_file_runs_in_the_background_with_progress(
    personas, login, places, monkeypatch, django_capture_on_commit_callbacks
):
    ran = []
    monkeypatch.setattr(A, "SYNC_MAX_BYTES", 0)
    monkeypatch.setattr(A, "in_background", lambda work: ran.append(work))
    client = login(personas.county)
    upload(
        client, people_file(places, bad=False, count=5), source_name="大文件", target="population"
    )
    run = ImportRun.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        map_columns(client, run)
    run.refresh_from_db()
    assert run.state == "checking" and len(ran) == 1
    page = client.get(f"/datahub/runs/{run.pk}/").content.decode()
    assert 'id="run-progress"' in page and "datahub/progress.js" in page
    progress = client.get(f"/datahub/runs/{run.pk}/progress/").json()
    assert progress["running"] is True and progress["state"] == "checking"

    ran.pop()()  # the background work, here in the test's thread
    progress = client.get(f"/datahub/runs/{run.pk}/progress/").json()
    assert (progress["running"], progress["done"], progress["total"]) == (False, 5, 5)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/datahub/runs/{run.pk}/import/", {})
    ran.pop()()
    run.refresh_from_db()
    assert (run.state, run.new) == ("imported", 5)


def test_the_pages_speak_chinese(personas, login, places):
    client = login(personas.county)
    page = client.get("/datahub/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for words in ("数据中台", "上传文件", "导入记录", "数据来源及其列对应关系", "实有人口"):
        assert words in page
    upload(client, people_file(places), source_name="人口", target="population")
    run = ImportRun.objects.get()
    page = client.get(f"/datahub/runs/{run.pk}/mapping/").content.decode()
    assert "对应列" in page and "公民身份号码" in page and "保存对应关系并检查文件" in page
    map_columns(client, run)
    page = client.get(f"/datahub/runs/{run.pk}/").content.decode()
    assert "试运行完成" in page and "新增" in page and "下载错误报告" in page
    assert "Dry run" not in page and "Download the error report" not in page


def test_an_interrupted_run_can_be_checked_again(personas, login, places):
    from datetime import timedelta

    from django.utils import timezone

    client = login(personas.county)
    upload(client, people_file(places, bad=False), source_name="人口", target="population")
    run = ImportRun.objects.get()
    map_columns(client, run)
    stale = timezone.now() - timedelta(hours=1)
    ImportRun.objects.filter(pk=run.pk).update(state="importing", heartbeat=stale)
    page = client.get(f"/datahub/runs/{run.pk}/").content.decode()
    assert "Interrupted" in page or "已中断" in page
    assert client.get(f"/datahub/runs/{run.pk}/progress/").json()["running"] is False
    map_columns(client, run)
    run.refresh_from_db()
    assert run.state == "checked" and run.new == 2


def test_junk_in_a_file_is_never_a_server_error(personas, login, places):
    client = login(personas.county)
    lat, lng = places["point"]
    data = (
        f"姓名\x00,公民身份号码,纬度,经度\n张\x00三,{id_number('19900101', 901)},{lat},{lng}\n"
        f"\x00\x00,{'9' * 300},abc,\n"
    ).encode()
    response = upload(client, data, name="a\x00.csv", source_name="垃圾", target="population")
    assert response.status_code == 302
    run = ImportRun.objects.get()
    assert run.header[0] == "姓名" and "\x00" not in run.file_name
    assert map_columns(client, run).status_code == 302
    client.post(f"/datahub/runs/{run.pk}/import/", {"skip_bad": "on"})
    run.refresh_from_db()
    assert (run.state, run.new, run.errors) == ("imported", 1, 1)
    assert Person.objects.filter(name="张三").exists()
    assert client.get(f"/datahub/runs/{run.pk}/problems.xlsx").status_code == 200
