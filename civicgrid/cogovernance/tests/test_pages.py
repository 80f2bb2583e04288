"""The pages over HTTP: registration with an SMS code, my points, boards, members, award."""

import logging
import re
from datetime import datetime

from django.test import Client
from django.urls import reverse

from civicgrid.cases.models import Case
from civicgrid.cases.tests.conftest import SHANGHAI
from civicgrid.cogovernance.models import Member, PointEntry
from civicgrid.core.roles import Role
from civicgrid.people.models import Person, RoleAssignment

PHONE = "13905749876"


def _client():
    client = Client()
    client.cookies["django_language"] = "en"
    return client


def _sent_code(caplog) -> str:
    texts = [r.getMessage() for r in caplog.records if r.name == "civicgrid.notifications"]
    return re.findall(r"\b(\d{6})\b", texts[-1])[-1]


def _form(cg, **extra):
    data = {
        "name": "李骑手",
        "phone": PHONE,
        "code": "",
        "kind": "delivery",
        "platform": "饿了么",
        "town": cg.town.pk,
        "grid": cg.world.grid.pk,
        "username": "rider-li",
        "password": "Gongzhi-2026!",
        "password2": "Gongzhi-2026!",
    }
    data.update(extra)
    return data


def test_a_rider_registers_with_an_sms_code_reports_and_sees_the_points(
    cg, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="civicgrid.notifications")
    client = _client()
    page = client.get(reverse("cogovernance_register")).content.decode()
    assert 'name="phone"' in page and "Send me a code" in page
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(reverse("cogovernance_register"), {**_form(cg), "step": "send_code"})
    assert sent.status_code == 200 and "A code was sent" in sent.content.decode()
    code = _sent_code(caplog)
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post(reverse("cogovernance_register"), _form(cg, code=wrong))
    assert "The code is wrong" in refused.content.decode()
    assert not Member.objects.filter(name="李骑手").exists()

    made = client.post(reverse("cogovernance_register"), _form(cg, code=code))
    assert made.status_code == 302 and made["Location"] == reverse("cogovernance_my_points")
    member = Member.objects.get(name="李骑手")
    person = Person.objects.get(pk=member.person_id)
    assert person.phone_masked == "139****9876" and PHONE not in person.phone_cipher
    assert member.user.username == "rider-li" and member.region_code == cg.world.grid.code
    assert RoleAssignment.objects.get(person=person).role == Role.CO_GOVERNANCE
    assert member.state == "active"

    # logged in: reports through the ordinary report page, on the co-governance channel
    form = client.get(reverse("report")).content.decode()
    assert 'value="co_governance"' in form
    lat, lng = cg.world.point()
    reported = client.post(
        reverse("report"),
        {
            "channel": "co_governance",
            "description": "路口井盖缺失",
            "category": cg.world.category.pk,
            "lat": lat,
            "lng": lng,
            "grid": "",
            "address": "",
            "idempotency_key": "k-1",
        },
    )
    assert reported.status_code == 302, reported.content.decode()[:2000]
    case = Case.objects.get(description="路口井盖缺失")
    assert case.channel == "co_governance"
    cg.accept(case)
    mine = client.get(reverse("cogovernance_my_points")).content.decode()
    assert 'id="balance">5<' in mine and case.code in mine and "Valid report accepted" in mine
    export = client.get(reverse("cogovernance_my_points_export", args=["csv"]))
    assert case.code in b"".join(export.streaming_content).decode()

    # the same number cannot register twice
    again = _client().post(reverse("cogovernance_register"), _form(cg, username="other", code=code))
    assert not Member.objects.filter(user__username="other").exists()
    assert again.status_code == 200


def test_registration_form_errors_are_shown_not_raised(cg):
    response = _client().post(
        reverse("cogovernance_register"), _form(cg, password2="different", town="999")
    )
    assert response.status_code == 200
    assert "The two passwords differ." in response.content.decode()


def test_my_points_is_for_members_only(cg, login):
    assert login(cg.world.p.lizhou).get(reverse("cogovernance_my_points")).status_code == 404
    assert _client().get(reverse("cogovernance_my_points")).status_code == 302  # to log in


def test_the_leaderboard_page_and_its_exports(cg, login, at):
    at(2026, 3, 2, 9)
    member = cg.member(name="赵志愿")
    cg.accept(cg.report(member))
    client = login(cg.world.p.lizhou)
    url = reverse("cogovernance_leaderboard") + "?period=month&year=2026&number=3&area=330281001"
    page = client.get(url).content.decode()
    assert "赵*" in page and "赵志愿" not in page
    csv = client.get(
        reverse("cogovernance_leaderboard_export", args=["csv"])
        + "?period=month&year=2026&number=3&area=330281001"
    )
    text = b"".join(csv.streaming_content).decode()
    assert "赵*" in text and ",5," in text
    xlsx = client.get(reverse("cogovernance_leaderboard_export", args=["xlsx"]))
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd")
    # bad input is a message, not an error
    assert (
        client.get(reverse("cogovernance_leaderboard") + "?year=abc&number=99").status_code == 200
    )
    assert login(cg.world.p.outsider).get(reverse("cogovernance_leaderboard")).status_code == 404
    # a member reads the board too
    assert login(member.user).get(reverse("cogovernance_leaderboard")).status_code == 200


def test_the_members_list_masks_phones_and_is_scoped(cg, login):
    from civicgrid.regions.models import Region

    ours = cg.member(name="钱热心", kind="resident")
    theirs = cg.member(name="孙快递", kind="courier", town=Region.objects.get(code="330281002"))
    client = login(cg.world.p.lizhou)
    page = client.get(reverse("cogovernance_members")).content.decode()
    assert "钱热心" in page and "孙快递" not in page
    assert ours.phone_masked in page and "****" in ours.phone_masked
    export = client.get(reverse("cogovernance_member_export", args=["csv"]))
    text = b"".join(export.streaming_content).decode()
    assert "钱热心" in text and "孙快递" not in text and ours.phone_masked in text
    assert login(cg.world.p.grid1).get(reverse("cogovernance_members")).status_code == 404
    # a member's ledger, for the staff over the member's area
    case = cg.accept(cg.report(ours))
    client = login(cg.world.p.lizhou)
    detail = client.get(reverse("cogovernance_member", args=[ours.pk])).content.decode()
    assert 'id="balance">5<' in detail and case.code in detail
    ledger = client.get(reverse("cogovernance_member_ledger_export", args=[ours.pk, "csv"]))
    assert case.code in b"".join(ledger.streaming_content).decode()
    assert client.get(reverse("cogovernance_member", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("cogovernance_member", args=[999999])).status_code == 404
    # suspend with a reason, over HTTP; another township's member is out of reach
    state = reverse("cogovernance_member_state", args=[ours.pk])
    client = login(cg.world.p.lizhou)
    client.post(state, {"state": "suspended", "reason": "恶意上报"})
    ours.refresh_from_db()
    assert ours.state == "suspended" and ours.state_reason == "恶意上报"
    assert not RoleAssignment.objects.get(person_id=ours.person_id).active
    other = reverse("cogovernance_member_state", args=[theirs.pk])
    assert client.post(other, {"state": "suspended", "reason": "x"}).status_code == 404


def test_invalidating_a_report_over_http(cg, login):
    member = cg.member()
    case = cg.accept(cg.report(member))
    url = reverse("cogovernance_invalidate", args=[case.code])
    assert login(cg.world.p.grid1).get(url).status_code == 404
    assert (
        login(cg.world.p.lizhou).get(reverse("cogovernance_invalidate", args=["nope"])).status_code
        == 404
    )
    client = login(cg.world.p.lizhou)
    assert client.post(url, {"reason": ""}).status_code == 200
    response = client.post(url, {"reason": "照片为网络图片"})
    assert response.status_code == 302
    assert sum(PointEntry.objects.filter(member=member).values_list("points", flat=True)) == 0
    assert "照片为网络图片" in client.get(url).content.decode()


def test_the_award_pages(cg, login):
    member = cg.member(name="周优秀")
    PointEntry.objects.create(
        member=member,
        points=40,
        event="accepted",
        case=cg.report(member),
        region_code=member.region_code,
        effective=datetime(2025, 5, 1, tzinfo=SHANGHAI),
        created=datetime(2025, 5, 1, tzinfo=SHANGHAI),
    )
    assert login(cg.lizhou).get(reverse("cogovernance_awards")).status_code == 404
    client = login(cg.world.p.county)
    assert client.get(reverse("cogovernance_awards")).status_code == 200
    made = client.post(reverse("cogovernance_awards"), {"year": 2025, "size": 100})
    assert made.status_code == 302
    award_url = made["Location"]
    page = client.get(award_url).content.decode()
    assert "周优秀" in page and "Confirm the list" in page
    award_pk = int(award_url.rstrip("/").split("/")[-1])
    assert client.get(reverse("cogovernance_certificates", args=[award_pk])).status_code == 404
    client.post(award_url, {"do": "confirm"})
    printed = client.get(reverse("cogovernance_award_print", args=[award_pk])).content.decode()
    assert "周优秀" in printed and "noprint" in printed
    certs = client.get(reverse("cogovernance_certificates", args=[award_pk])).content.decode()
    assert "周优秀" in certs and "2025-001" in certs
    export = client.get(reverse("cogovernance_award_export", args=[award_pk, "csv"]))
    assert "周优秀" in b"".join(export.streaming_content).decode()
    assert client.get(reverse("cogovernance_award", args=[99999])).status_code == 404
    assert login(cg.lizhou).get(award_url).status_code == 404


def test_the_points_rules_are_edited_in_the_admin(cg, login):
    from civicgrid.cogovernance.models import PointRule

    rule = PointRule.objects.get(event="closed")
    client = login(cg.world.p.admin)
    url = reverse("admin:cogovernance_pointrule_change", args=[rule.pk])
    assert client.get(reverse("admin:cogovernance_pointrule_changelist")).status_code == 200
    response = client.post(url, {"points": 4, "daily_cap": 8, "monthly_cap": "", "active": "on"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.points, rule.daily_cap, rule.monthly_cap) == (4, 8, None)
    # the ledger and the members are read-only there
    entries = reverse("admin:cogovernance_pointentry_changelist")
    assert client.get(entries).status_code == 200
    refused = client.get(reverse("admin:cogovernance_pointentry_add"))
    assert refused.status_code in {302, 403} and b"<form" not in refused.content
