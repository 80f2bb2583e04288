"""A resident's data: who looked at it, a copy for them, and its erasure without losing history."""

import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from civicgrid.cases.actions import do_report_case
from civicgrid.cases.models import Case, CaseReporter
from civicgrid.cogovernance.actions import do_register_member
from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.mediation.actions import (
    do_close_dispute,
    do_conclude_dispute,
    do_register_dispute,
    do_reveal_party_pii,
)
from civicgrid.mediation.models import Party
from civicgrid.people import pii, rights
from civicgrid.people.actions import do_create_person, do_tag_person
from civicgrid.people.models import KeyGroup, Person, RoleAssignment
from civicgrid.regions.models import Region

ID_NUMBER = "33028119850505003" + pii.id_check_digit("33028119850505003")
PHONE = "13905748888"


class Resident:
    """A resident of grid1's grid (梨洲) who reported a case and is a party to a dispute."""

    def __init__(self, personas):
        self.p = personas
        self.grid = RoleAssignment.objects.get(person__user=personas.grid1).grid
        self.person = do_create_person(
            name="陈小梅",
            grid=self.grid,
            id_number=ID_NUMBER,
            phone=PHONE,
            address="梨洲街道 1 号",
            actor=personas.lizhou,
        )
        self.key_group = KeyGroup.objects.order_by("code").first()
        do_tag_person(self.person, self.key_group, actor=personas.lizhou, note="独居")
        self.case = do_report_case(
            actor=None,
            channel="resident",
            description="路灯坏了",
            grid=self.grid,
            reporter_name="陈女士",
            reporter_phone=PHONE,
        )
        self.dispute = do_register_dispute(
            actor=personas.lizhou,
            title="邻里纠纷",
            description="漏水",
            category="01",
            source="reception",
            grid=self.grid,
            parties=[
                {"role": "applicant", "kind": "natural", "name": "陈小梅", "id_number": ID_NUMBER},
                {"role": "respondent", "kind": "natural", "name": "王某"},
            ],
        )

    def close_dispute(self):
        d = do_conclude_dispute(self.dispute, actor=self.p.lizhou, outcome="withdrawn", note="撤回")
        self.dispute = do_close_dispute(d, actor=self.p.lizhou, note="结案")


@pytest.fixture
def resident(personas):
    return Resident(personas)


def _client(user, ip="10.1.2.3"):
    client = Client(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=ip)
    client.force_login(user)
    return client


# --------------------------------------------------------------------------- who looked


def test_every_unmasked_look_is_listed_with_who_when_and_where_from(personas, resident):
    person = resident.person
    _client(personas.lizhou, ip="10.9.8.7").post(reverse("person_reveal", args=[person.pk]))
    party = Party.objects.get(dispute=resident.dispute, role="applicant")
    do_reveal_party_pii(party, actor=personas.lizhou, reason="调解需要")
    other = do_create_person(
        name="别人", grid=resident.grid, phone="13905740000", actor=personas.lizhou
    )
    _client(personas.lizhou).post(reverse("person_reveal", args=[other.pk]))

    page = _client(personas.auditor).get(reverse("person_access", args=[person.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Full ID and phone numbers shown" in text and "10.9.8.7" in text
    assert "Numbers of a dispute party shown" in text and resident.dispute.code in text
    assert text.count("<tr>") == 1 + 2  # header + two looks (not the other person's)

    export = _client(personas.auditor).get(reverse("person_access_export", args=[person.pk, "csv"]))
    body = b"".join(export.streaming_content).decode("utf-8-sig")
    assert body.count("\n") == 3 and "lizhou" in body and "10.9.8.7" in body
    xlsx = _client(personas.lizhou).get(reverse("person_access_export", args=[person.pk, "xlsx"]))
    assert xlsx.status_code == 200

    # A grid worker sees the person but not this report; another township sees neither.
    assert (
        _client(personas.grid1).get(reverse("person_access", args=[person.pk])).status_code == 404
    )
    assert (
        _client(personas.fengshan).get(reverse("person_access", args=[person.pk])).status_code
        == 404
    )
    detail = _client(personas.auditor).get(reverse("person_detail", args=[person.pk]))
    assert reverse("person_access", args=[person.pk]) in detail.content.decode()


# --------------------------------------------------------------------------- a copy


def test_a_copy_of_everything_held_unmasked_and_audited(personas, resident):
    person = resident.person
    client = _client(personas.lizhou, ip="10.4.4.4")
    assert client.get(reverse("person_rights", args=[person.pk])).status_code == 200
    assert client.get(reverse("person_rights_export", args=[person.pk, "json"])).status_code == 405
    response = client.post(reverse("person_rights_export", args=[person.pk, "json"]))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert data["person"]["id_number"] == ID_NUMBER and data["person"]["phone"] == PHONE
    assert data["person"]["address"] == "梨洲街道 1 号"
    assert [k["note"] for k in data["key_groups"]] == ["独居"]
    assert [c["case"] for c in data["reported_cases"]] == [resident.case.code]
    assert data["reported_cases"][0]["phone_given"] == PHONE
    assert [d["dispute"] for d in data["disputes"]] == [resident.dispute.code]
    event = AuditEvent.objects.filter(action="people.person.export_data").latest("id")
    assert event.target_id == str(person.pk) and event.after == {"ip": "10.4.4.4"}

    xlsx = client.post(reverse("person_rights_export", args=[person.pk, "xlsx"]))
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)))
    assert {"person", "key_groups", "reported_cases", "disputes", "points"} <= set(book.sheetnames)
    assert book["person"]["E2"].value == ID_NUMBER

    # Department staff and other townships cannot ask for it; a plain grid worker neither.
    for user in (personas.police, personas.fengshan, personas.auditor):
        url = reverse("person_rights_export", args=[person.pk, "json"])
        assert _client(user).post(url).status_code == 404, user
    with pytest.raises(ActionRefused):
        rights.do_export_person_data(person, actor=personas.grid2)


def test_a_copy_for_a_co_governance_member_has_their_points(personas):
    grid = RoleAssignment.objects.get(person__user=personas.grid1).grid
    member = do_register_member(
        name="骑手小周",
        phone="13905741111",
        kind="delivery",
        platform="美团",
        town=Region.objects.get(code=grid.code[:9]),
        grid=grid,
        username="rider-zhou",
        password="Rider-pass-2026",
    )
    data = rights.do_export_person_data(member.person, actor=personas.county)
    assert data["cogovernance"][0]["name"] == "骑手小周"
    assert data["person"]["phone"] == "13905741111" and data["person"]["login"] == "rider-zhou"

    rights.do_erase_person(member.person, actor=personas.county, reason="2026-03-01 申请")
    member.refresh_from_db()
    member.user.refresh_from_db()
    assert member.name == rights.pseudonym(member.person) and member.state == "suspended"
    assert not member.user.is_active and not member.user.has_usable_password()
    assert member.user.username == f"erased-{member.user.pk}"


# --------------------------------------------------------------------------- erasure


def test_erasure_waits_for_open_disputes_then_removes_the_data_and_keeps_history(
    personas, resident
):
    person = resident.person
    cases_before = Case.objects.count()
    url = reverse("person_erase", args=[person.pk])
    # A township operator may copy the data but not erase it.
    assert _client(personas.lizhou).post(url, {"reason": "x", "confirm": "on"}).status_code == 404
    county = _client(personas.county)
    page = county.get(reverse("person_rights", args=[person.pk])).content.decode()
    assert "open disputes" in page and resident.dispute.code in page
    refused = county.post(url, {"reason": "2026-03-01 书面申请", "confirm": "on"})
    assert refused.status_code == 400 and "open disputes" in refused.content.decode()
    assert Person.objects.get(pk=person.pk).name == "陈小梅"
    assert county.post(url, {"reason": "", "confirm": "on"}).status_code == 400

    resident.close_dispute()
    done = county.post(url, {"reason": "2026-03-01 书面申请", "confirm": "on"})
    assert done.status_code == 302

    person.refresh_from_db()
    name = rights.pseudonym(person)
    assert person.name == name and person.address == "" and person.birth_date is None
    assert (person.id_number_cipher, person.id_number_hash, person.id_number_masked) == ("", "", "")
    assert (person.phone_cipher, person.phone_hash, person.phone_masked) == ("", "", "")
    assert not person.key_group_tags.exists()
    assert not Person.objects.filter(phone_hash=pii.blind_index("phone", PHONE)).exists()
    reporter = CaseReporter.objects.get(case=resident.case)
    assert (reporter.name, reporter.phone_cipher, reporter.phone_hash) == (name, "", "")
    party = Party.objects.get(dispute=resident.dispute, role="applicant")
    assert (party.name, party.id_number_cipher, party.id_number_hash) == (name, "", "")
    assert Party.objects.get(dispute=resident.dispute, role="respondent").name == "王某"
    # History and statistics stay.
    assert Case.objects.count() == cases_before
    assert Case.objects.filter(pk=resident.case.pk, reporters__isnull=False).exists()
    event = AuditEvent.objects.filter(action="people.person.erase").get()
    assert event.actor == personas.county and event.target_repr == name
    assert event.after["reporter_rows"] == 1 and event.after["dispute_parties"] == 1
    assert "陈小梅" not in json.dumps(event.after, ensure_ascii=False)

    again = county.get(reverse("person_rights", args=[person.pk])).content.decode()
    assert "has been erased" in again
    with pytest.raises(Exception, match="already been erased"):
        rights.do_erase_person(person, actor=personas.county, reason="again")


def test_staff_are_not_erased(personas):
    with pytest.raises(Exception, match="staff role"):
        rights.do_erase_person(personas.grid1.person, actor=personas.admin, reason="request")


def test_the_pages_speak_chinese(personas, resident):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(personas.county)
    rights_page = client.get(reverse("person_rights", args=[resident.person.pk])).content.decode()
    assert "个人信息副本" in rights_page and "未结纠纷" in rights_page
    access = client.get(reverse("person_access", args=[resident.person.pk])).content.decode()
    assert "谁查看过此人的信息" in access
