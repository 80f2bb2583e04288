"""The audit trail page: only for auditors, scoped, personal data masked, exportable."""

import csv
import io

import pytest
from openpyxl import load_workbook

from civicgrid.core.audit import do_check_audit_chain
from civicgrid.core.models import AuditEvent
from civicgrid.people.actions import do_create_person


@pytest.fixture
def person(personas):
    from civicgrid.regions.models import Region

    village = Region.objects.filter(code__startswith="330281001", level="village").first()
    return do_create_person(
        name="王小明", region=village, phone="13812345678", actor=personas.admin
    )


def test_an_auditor_reads_the_trail_and_one_event_with_names_masked(login, personas, person):
    event = AuditEvent.objects.filter(target_type="people.person", target_id=str(person.pk)).get()
    client = login(personas.auditor)
    page = client.get("/audit/", {"q": str(person.pk)}).content.decode()
    assert f"/audit/{event.pk}/" in page
    assert "王小明" not in page and "王**" in page
    detail = client.get(f"/audit/{event.pk}/").content.decode()
    assert event.hash in detail and event.prev_hash in detail
    assert "王小明" not in detail and "13812345678" not in detail


def test_people_without_the_audit_permission_get_nothing(login, personas):
    event = AuditEvent.objects.order_by("-id").first()
    for user in (personas.grid1, personas.lizhou):
        client = login(user)
        assert client.get("/audit/").status_code == 404
        assert client.get(f"/audit/{event.pk}/").status_code == 404
        assert client.get("/audit/export.csv").status_code == 404
    assert "/audit/" not in login(personas.grid1).get("/").content.decode()


def test_the_trail_is_filtered_and_exported_as_shown(login, personas, person):
    client = login(personas.auditor)
    response = client.get("/audit/export.csv", {"area": "people", "region": "330281001"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][0] and len(rows) > 1
    assert all(row[3].startswith("people.") for row in rows[1:])
    assert all(row[7].startswith("330281001") for row in rows[1:])
    assert "13812345678" not in str(rows) and "王小明" not in str(rows)
    xlsx = client.get("/audit/export.xlsx", {"area": "people", "region": "330281001"})
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    assert sheet.max_row == len(rows)


def test_bad_filters_are_a_message_not_an_error(login, personas):
    client = login(personas.auditor)
    response = client.get(
        "/audit/", {"region": "abc", "start": "2026-13-45"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert "not understood" in response.content.decode()
    assert client.get("/audit/999999999/").status_code == 404
    assert client.get("/audit/export.pdf").status_code == 404


def test_the_page_shows_the_last_check_of_the_chain(login, personas):
    client = login(personas.auditor)
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    assert "not been checked yet" in client.get("/audit/", **english).content.decode()
    do_check_audit_chain()
    assert "intact" in client.get("/audit/", **english).content.decode()
