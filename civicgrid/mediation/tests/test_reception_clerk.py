"""The reception-hall clerk (接待窗口工作人员, demo login ``lizhou_window``): registers, routes
and keeps the visitor and 12348 logs of the 梨洲街道 centre; refused in another township;
sees only its own township's disputes in lists and exports; no cases or people pages."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from civicgrid.core.errors import ActionRefused
from civicgrid.core.roles import Role
from civicgrid.mediation import workflow
from civicgrid.mediation.actions import (
    do_log_call,
    do_log_visit,
    do_route_dispute,
)
from civicgrid.mediation.models import CallLog, Dispute, VisitorLog
from civicgrid.mediation.tests.conftest import ID_A, ID_B

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(med):
    user = get_user_model().objects.get(username="lizhou_window")
    grants = {a.role: a.scope_code for a in user.person.roles.filter(active=True)}
    assert grants == {Role.RECEPTION_CLERK: med.town_code}
    return user


def _post(med, grid, title):
    return {
        "title": title,
        "category": "01",
        "source": "reception",
        "description": "双方因离婚财产分割发生争执。",
        "grid": grid.pk,
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


def test_the_clerk_registers_and_routes_in_their_township(med, clerk, client):
    client.force_login(clerk)
    assert client.get(reverse("mediation_register")).status_code == 200
    response = client.post(reverse("mediation_register"), _post(med, med.grid, "窗口登记纠纷"))
    dispute = Dispute.objects.get(title="窗口登记纠纷")
    assert response.status_code == 302 and dispute.registered_by == clerk
    assert dispute.region_code.startswith(med.town_code)
    client.post(
        reverse("mediation_act", args=[dispute.code, "route"]),
        {"route-route": "studio", "route-org": med.studio.pk},
    )
    dispute.refresh_from_db()
    assert dispute.state == workflow.ROUTED and dispute.org == med.studio
    # the studio mediates, not the window
    page = client.get(reverse("mediation_detail", args=[dispute.code])).content.decode()
    assert 'id="act-session"' not in page


def test_the_clerk_keeps_the_visitor_and_12348_logs(med, clerk, client):
    visit = do_log_visit(
        actor=clerk,
        region_code=med.town_code,
        name="王五",
        about="咨询宅基地政策",
        outcome="answered",
    )
    call = do_log_call(
        actor=clerk, region_code=med.town_code, category="consultation", summary="来电咨询"
    )
    assert VisitorLog.objects.filter(pk=visit.pk, recorded_by=clerk).exists()
    assert CallLog.objects.filter(pk=call.pk, recorded_by=clerk).exists()
    client.force_login(clerk)
    assert "咨询宅基地政策" in client.get(reverse("mediation_visitors")).content.decode()
    assert client.get(reverse("mediation_calls")).status_code == 200
    other_town = med.other_grid.code[:9]
    with pytest.raises(ActionRefused):
        do_log_visit(
            actor=clerk, region_code=other_town, name="赵六", about="x", outcome="answered"
        )
    with pytest.raises(ActionRefused):
        do_log_call(actor=clerk, region_code=other_town, category="consultation", summary="x")


def test_the_clerk_is_refused_in_another_township(med, clerk, client):
    with pytest.raises(ActionRefused):
        med.register(actor=clerk, grid=med.other_grid)
    client.force_login(clerk)
    response = client.post(reverse("mediation_register"), _post(med, med.other_grid, "外镇纠纷"))
    assert response.status_code == 200  # the form again: the other township's grid is no choice
    assert not Dispute.objects.filter(title="外镇纠纷").exists()
    theirs = med.register(actor=med.p.fengshan, grid=med.other_grid, title="凤山的纠纷")
    with pytest.raises(ActionRefused):
        do_route_dispute(theirs, actor=clerk, route="committee")
    assert client.get(reverse("mediation_detail", args=[theirs.code])).status_code in {403, 404}
    client.post(reverse("mediation_act", args=[theirs.code, "route"]), {"route-route": "centre"})
    theirs.refresh_from_db()
    assert theirs.state == workflow.REGISTERED


def test_lists_and_exports_show_only_their_township(med, clerk, client):
    ours = med.register(title="梨洲的纠纷")
    theirs = med.register(actor=med.p.fengshan, grid=med.other_grid, title="凤山的纠纷")
    client.force_login(clerk)
    listing = client.get(reverse("mediation_list")).content.decode()
    assert ours.code in listing and theirs.code not in listing
    for fmt in ("csv", "xlsx"):
        response = client.get(reverse("mediation_export", args=[fmt]))
        body = b"".join(response) if response.streaming else response.content
        if fmt == "xlsx":
            import io

            import openpyxl

            sheet = openpyxl.load_workbook(io.BytesIO(body)).active
            body = "\n".join(str(c.value) for row in sheet.iter_rows() for c in row).encode()
        assert response.status_code == 200
        assert ours.code.encode() in body and theirs.code.encode() not in body


def test_no_cases_or_people_beyond_registering(med, clerk, client):
    from civicgrid.core.scoping import can, scope_for

    scope = scope_for(clerk)
    for permission in ("cases.view", "cases.report", "people.view", "people.view_pii"):
        assert not scope.has(permission), permission
    assert not can(clerk, "mediation.configure", region_code=med.town_code)
    from civicgrid.cases.selectors import cases_visible_to
    from civicgrid.people.selectors import people_visible_to

    assert not cases_visible_to(clerk).exists()
    assert not people_visible_to(clerk).exists()
    with pytest.raises(PermissionDenied):
        from civicgrid.mediation.views import _require_configure_somewhere

        _require_configure_somewhere(clerk)
