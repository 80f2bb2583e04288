"""The pages over HTTP: register, list (scoped, masked), detail with actions, agreement
download, statistics and exports; bad input never a 500."""

import io
from datetime import timedelta

import docx
import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from civicgrid.mediation import workflow
from civicgrid.mediation.actions import do_conclude_dispute, do_record_session, do_route_dispute
from civicgrid.mediation.models import Dispute
from civicgrid.mediation.tests.conftest import ID_A, ID_B

pytestmark = pytest.mark.django_db


def _register_post(med, **extra):
    data = {
        "title": "宅基地边界纠纷",
        "category": "03",
        "source": "reception",
        "description": "两户因宅基地边界争执，张三电话13800001111。",
        "grid": med.grid.pk,
        "amount": "0",
        "people_involved": "2",
        "scale": "ordinary",
        "petitions": "0",
        "applicant_kind": "natural",
        "applicant_name": "张三",
        "applicant_id": ID_A,
        "applicant_phone": "13800001111",
        "respondent_kind": "natural",
        "respondent_name": "李四",
        "respondent_id": ID_B,
    }
    data.update(extra)
    return data


def test_register_page(med, client):
    client.force_login(med.centre_user)
    assert client.get(reverse("mediation_register")).status_code == 200
    response = client.post(reverse("mediation_register"), _register_post(med))
    dispute = Dispute.objects.get(title="宅基地边界纠纷")
    assert response.status_code == 302
    assert response["Location"] == reverse("mediation_detail", args=[dispute.code])
    page = client.get(response["Location"]).content.decode()
    assert dispute.code in page and "330281********0019" in page
    assert ID_A not in page and "13800001111" not in page and "138****1111" in page


def test_register_page_shows_errors_without_500(med, client):
    client.force_login(med.centre_user)
    response = client.post(
        reverse("mediation_register"),
        _register_post(med, applicant_id="123", grid="", category="03", case_code="NOPE"),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "No case has this code" in page
    response = client.post(reverse("mediation_register"), _register_post(med, applicant_id="123"))
    assert response.status_code == 200 and "当事人 1" in response.content.decode()  # Chinese
    assert not Dispute.objects.exists()


def test_register_needs_the_permission(med, client):
    client.force_login(med.mediator_user)
    assert client.get(reverse("mediation_register")).status_code == 403
    client.logout()
    assert client.get(reverse("mediation_register")).status_code == 302  # to the login


def test_village_mediator_sees_only_their_disputes(med, client):
    mine = med.register(title="我的纠纷")
    do_route_dispute(mine, actor=med.centre_user, route="committee")
    other = med.register(title="别人的纠纷")
    client.force_login(med.village_mediator_user)
    page = client.get(reverse("mediation_list")).content.decode()
    assert mine.code in page and other.code not in page
    assert client.get(reverse("mediation_detail", args=[other.code])).status_code == 404
    assert client.get(reverse("mediation_detail", args=[mine.code])).status_code == 200
    client.force_login(med.p.fengshan)
    assert mine.code not in client.get(reverse("mediation_list")).content.decode()
    client.force_login(med.centre_user)
    page = client.get(reverse("mediation_list")).content.decode()
    assert mine.code in page and other.code in page


def test_detail_actions_follow_the_workflow(med, client):
    dispute = med.register()
    client.force_login(med.centre_user)
    page = client.get(reverse("mediation_detail", args=[dispute.code])).content.decode()
    assert 'id="act-route"' in page and 'id="act-session"' not in page
    url = reverse("mediation_act", args=[dispute.code, "route"])
    client.post(url, {"route-route": "studio", "route-org": med.studio.pk})
    dispute.refresh_from_db()
    assert dispute.state == workflow.ROUTED and dispute.org == med.studio
    # The centre may not record the studio's session: the form is not shown, a POST refused.
    page = client.get(reverse("mediation_detail", args=[dispute.code])).content.decode()
    assert 'id="act-session"' not in page
    client.post(
        reverse("mediation_act", args=[dispute.code, "session"]),
        {"session-held_at": "2026-01-01T10:00", "session-place": "x"},
    )
    dispute.refresh_from_db()
    assert dispute.state == workflow.ROUTED
    client.force_login(med.mediator_user)
    held = timezone.localtime() - timedelta(hours=1)
    response = client.post(
        reverse("mediation_act", args=[dispute.code, "session"]),
        {"session-held_at": held.strftime("%Y-%m-%dT%H:%M"), "session-place": "调解室"},
        follow=True,
    )
    dispute.refresh_from_db()
    assert dispute.state == workflow.IN_MEDIATION
    assert "调解室" in response.content.decode()


def test_bad_action_and_bad_code_are_404(med, client):
    dispute = med.register()
    client.force_login(med.centre_user)
    assert client.post(reverse("mediation_act", args=[dispute.code, "fly"])).status_code == 404
    assert client.get(reverse("mediation_detail", args=["MD-nope"])).status_code == 404
    assert client.get(reverse("mediation_agreement", args=[dispute.code])).status_code == 404
    assert client.get(reverse("mediation_export", args=["pdf"])).status_code == 404


def test_agreement_download(med, client):
    dispute = med.register()
    do_route_dispute(dispute, actor=med.centre_user, route="studio", org=med.studio)
    do_record_session(dispute, actor=med.mediator_user, held_at=timezone.now(), place="调解室")
    do_conclude_dispute(
        dispute, actor=med.mediator_user, outcome="agreement", terms="李四赔偿张三一千元"
    )
    client.force_login(med.mediator_user)
    response = client.get(reverse("mediation_agreement", args=[dispute.code]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(response.content)).paragraphs)
    assert "1. 李四赔偿张三一千元" in text and dispute.code in text


def test_statistics_page_and_excel(med, client):
    dispute = med.register()
    do_route_dispute(dispute, actor=med.centre_user, route="studio", org=med.studio)
    do_record_session(dispute, actor=med.mediator_user, held_at=timezone.now(), place="调解室")
    do_conclude_dispute(dispute, actor=med.mediator_user, outcome="agreement", terms="和解")
    client.force_login(med.centre_user)
    page = client.get(reverse("mediation_statistics")).content.decode()
    assert "老娘舅婚姻家庭调解工作室" in page and "100.0" in page
    response = client.get(
        reverse("mediation_statistics_export", args=["org", "xlsx"]), HTTP_ACCEPT_LANGUAGE="en"
    )
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(book.active.values)
    assert rows[0][:3] == ("name", "intake", "concluded")
    assert ("老娘舅婚姻家庭调解工作室", 1, 1, 1, 100.0) == rows[1][:5]
    assert client.get(reverse("mediation_statistics") + "?start=bad").status_code == 200
    client.force_login(med.p.grid1)
    assert client.get(reverse("mediation_statistics")).status_code == 403


def test_list_export_and_chinese(med, client):
    med.register()
    client.force_login(med.centre_user)
    response = client.get(reverse("mediation_export", args=["csv"]))
    body = b"".join(response.streaming_content).decode()
    assert "MD-330281" in body
    client.cookies["django_language"] = "zh-hans"
    page = client.get(reverse("mediation_list"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "纠纷" in page
