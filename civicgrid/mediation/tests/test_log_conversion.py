"""A visitor or 12348 call entry becomes a dispute or a case in one step, over HTTP."""

import pytest
from django.urls import reverse

from civicgrid.cases.models import Case
from civicgrid.core.models import AuditEvent
from civicgrid.mediation.actions import do_log_call, do_log_visit
from civicgrid.mediation.models import CallLog, Dispute, VisitorLog

pytestmark = pytest.mark.django_db


def _visit(med):
    return do_log_visit(
        actor=med.centre_user,
        region_code=med.town_code,
        name="赵六",
        phone="13800003333",
        about="邻居装修漏水\n楼下天花板受损。",
        outcome="referred",
    )


def _form(**over):
    data = {
        "title": "装修漏水纠纷",
        "category": "02",
        "source": "reception",
        "description": "邻居装修漏水",
        "amount": "0",
        "people_involved": "2",
        "scale": "ordinary",
        "petitions": "0",
        "applicant_kind": "natural",
        "applicant_name": "赵六",
        "respondent_kind": "natural",
        "respondent_name": "钱七",
    }
    data.update(over)
    return data


def test_visit_registered_as_dispute(med, client):
    visit = _visit(med)
    client.force_login(med.centre_user)
    page = client.get(reverse("mediation_visitors")).content.decode()
    assert f"?visit={visit.pk}" in page
    page = client.get(reverse("mediation_register") + f"?visit={visit.pk}").content.decode()
    assert "赵六" in page and "邻居装修漏水" in page and f"visit-{visit.pk}" in page
    assert "13800003333" not in page  # the sealed phone never goes to the page
    response = client.post(reverse("mediation_register"), _form(from_log=f"visit-{visit.pk}"))
    assert response.status_code == 302
    dispute = Dispute.objects.get(title="装修漏水纠纷")
    visit.refresh_from_db()
    assert visit.dispute == dispute and visit.outcome == VisitorLog.Outcome.DISPUTE
    applicant = dispute.parties.get(role="applicant")
    assert applicant.phone_masked == "138****3333"  # carried over from the entry
    assert dispute.region_code.startswith(med.town_code)
    assert AuditEvent.objects.filter(action="mediation.visit.to_dispute").count() == 1
    # A second time is refused, not a second dispute.
    response = client.post(reverse("mediation_register"), _form(from_log=f"visit-{visit.pk}"))
    assert response.status_code == 302 and Dispute.objects.filter(title="装修漏水纠纷").count() == 1


def test_call_registered_as_dispute_counts_as_transfer(med, client):
    call = do_log_call(
        actor=med.centre_user,
        region_code=med.town_code,
        caller="孙八",
        category="complaint",
        summary="工资被拖欠三个月",
    )
    assert call.open_step == "transfer"
    client.force_login(med.centre_user)
    page = client.get(reverse("mediation_register") + f"?call={call.pk}").content.decode()
    assert "工资被拖欠三个月" in page
    response = client.post(
        reverse("mediation_register"),
        _form(
            title="欠薪纠纷",
            category="10",
            source="hotline_12348",
            applicant_name="孙八",
            from_log=f"call-{call.pk}",
        ),
    )
    assert response.status_code == 302
    call.refresh_from_db()
    dispute = Dispute.objects.get(title="欠薪纠纷")
    assert call.dispute == dispute and dispute.source == "hotline_12348"
    assert call.transferred_to == dispute.code and call.open_step == "reply"


def test_visit_and_call_filed_as_cases(med, client):
    visit = _visit(med)
    call = do_log_call(
        actor=med.centre_user,
        region_code=med.town_code,
        caller="周九",
        phone="13900004444",
        category="complaint",
        summary="路灯坏了",
    )
    client.force_login(med.centre_user)
    assert client.post(reverse("mediation_log_case", args=["visit", visit.pk])).status_code == 302
    assert client.post(reverse("mediation_log_case", args=["call", call.pk])).status_code == 302
    visit.refresh_from_db()
    call.refresh_from_db()
    assert visit.case.channel == Case.Channel.RESIDENT and visit.outcome == VisitorLog.Outcome.CASE
    assert visit.case.description == visit.about
    assert call.case.channel == Case.Channel.HOTLINE_12348 and call.transferred_to == call.case.code
    assert call.case.region_code == med.town_code
    # Twice: no second case.
    client.post(reverse("mediation_log_case", args=["visit", visit.pk]))
    assert Case.objects.filter(description=visit.about).count() == 1
    assert AuditEvent.objects.filter(action="mediation.call.to_case").count() == 1


def test_others_cannot_convert(med, client):
    visit = _visit(med)
    client.force_login(med.p.fengshan)  # another township: not even visible
    assert client.post(reverse("mediation_log_case", args=["visit", visit.pk])).status_code == 404
    assert client.get(reverse("mediation_register") + f"?visit={visit.pk}").status_code == 404
    client.force_login(med.p.auditor)  # sees the log, may not act
    assert client.post(reverse("mediation_log_case", args=["visit", visit.pk])).status_code == 302
    visit.refresh_from_db()
    assert visit.case_id is None
    assert client.post(reverse("mediation_log_case", args=["nope", 1])).status_code == 404
    assert CallLog.objects.count() == 0
