"""The reception-hall, 12348 and registry pages over HTTP."""

import io

import openpyxl
import pytest
from django.urls import reverse

from civicgrid.mediation.models import CallLog, VisitorLog

pytestmark = pytest.mark.django_db


def test_visitor_log_page(med, client):
    client.force_login(med.centre_user)
    response = client.post(
        reverse("mediation_visitors"),
        {
            "name": "张三",
            "phone": "13800001111",
            "visitors": "2",
            "about": "咨询离婚",
            "outcome": "answered",
        },
    )
    assert response.status_code == 302
    row = VisitorLog.objects.get()
    assert row.region_code == med.town_code and row.phone_masked == "138****1111"
    page = client.get(reverse("mediation_visitors")).content.decode()
    assert "138****1111" in page and "13800001111" not in page and "张*" in page
    response = client.get(reverse("mediation_visitors") + "?export=xlsx")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert list(book.active.values)[1][1] == "张三"
    client.force_login(med.p.fengshan)
    assert "138****1111" not in client.get(reverse("mediation_visitors")).content.decode()
    client.force_login(med.p.auditor)  # sees, cannot log
    assert client.post(reverse("mediation_visitors"), {"name": "x"}).status_code == 403


def test_call_page_steps(med, client):
    client.force_login(med.centre_user)
    client.post(
        reverse("mediation_calls"),
        {"caller": "王五", "phone": "13900002222", "category": "complaint", "summary": "投诉"},
    )
    call = CallLog.objects.get()
    assert call.open_step == "transfer"
    step = lambda s, **data: client.post(reverse("mediation_call_step", args=[call.pk, s]), data)  # noqa: E731
    step("reply", text="x")  # not yet: refused with a message, no 500
    call.refresh_from_db()
    assert call.replied_at is None
    step("transfer", text="市司法局")
    step("extend", days="3", text="需调查")
    step("reply", text="已答复")
    step("satisfaction", satisfaction="unsatisfied")
    step("callback", text="再次解释")
    call.refresh_from_db()
    assert (call.transferred_to, call.reply_extension_days, call.satisfaction) == (
        "市司法局",
        3,
        "unsatisfied",
    )
    assert call.callback_at is not None and call.open_step == ""
    assert client.post(reverse("mediation_call_step", args=[call.pk, "fly"])).status_code == 404
    client.force_login(med.p.fengshan)
    assert client.post(reverse("mediation_call_step", args=[call.pk, "reply"])).status_code == 404


def test_registry_page(med, client):
    from civicgrid.mediation.actions import do_route_dispute

    do_route_dispute(med.register(), actor=med.centre_user, route="studio", org=med.studio)
    client.force_login(med.centre_user)
    page = client.get(reverse("mediation_registry"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "老娘舅婚姻家庭调解工作室" in page and "王调解" in page
    response = client.get(reverse("mediation_registry") + "?export=xlsx")
    rows = list(
        openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.values
    )
    studio = next(r for r in rows if r[0] == "T-S1")
    assert studio[6] == 1 and studio[9] == 1  # one open dispute, one mediator
    client.force_login(med.mediator_user)
    assert client.get(reverse("mediation_registry")).status_code == 403
