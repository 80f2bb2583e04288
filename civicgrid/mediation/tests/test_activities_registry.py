"""Activities that are not disputes, and the registry's add/change forms, over HTTP."""

import io
from datetime import timedelta

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from civicgrid.core.models import AuditEvent
from civicgrid.mediation.models import Activity, MediationOrg, Mediator

pytestmark = pytest.mark.django_db


def test_centre_logs_an_activity_lists_and_exports_it(med, client):
    client.force_login(med.centre_user)
    today = timezone.localdate()
    response = client.post(
        reverse("mediation_activities"),
        {
            "org": med.studio.pk,
            "mediator": med.mediator.pk,
            "kind": "correction_help",
            "day": today.isoformat(),
            "people_reached": "3",
            "note": "社区矫正对象帮教谈话",
        },
    )
    assert response.status_code == 302
    row = Activity.objects.get()
    assert (row.org, row.mediator, row.people_reached) == (med.studio, med.mediator, 3)
    assert row.region_code == med.studio.region_code
    page = client.get(reverse("mediation_activities")).content.decode()
    assert "社区矫正对象帮教谈话" in page
    response = client.get(reverse("mediation_activities") + "?export=xlsx")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert list(book.active.values)[1][4] == 3
    # Counted on the registry page (per kind, and on the mediator's row).
    page = client.get(reverse("mediation_registry")).content.decode()
    assert "<td>社区矫正对象帮扶</td><td>1</td><td>3</td>" in page
    # A day in the future is refused with a message, not a 500.
    response = client.post(
        reverse("mediation_activities"),
        {
            "org": med.studio.pk,
            "kind": "publicity",
            "day": (today + timedelta(days=3)).isoformat(),
            "people_reached": "1",
        },
    )
    assert response.status_code == 200 and Activity.objects.count() == 1


def test_mediator_logs_their_own_and_outsiders_cannot(med, client):
    client.force_login(med.mediator_user)
    page = client.get(reverse("mediation_activities")).content.decode()
    assert "activity-form" in page
    response = client.post(
        reverse("mediation_activities"),
        {
            "org": med.studio.pk,
            "mediator": med.mediator.pk,
            "kind": "counselling",
            "day": timezone.localdate().isoformat(),
            "people_reached": "1",
        },
    )
    assert response.status_code == 302
    assert Activity.objects.get().mediator == med.mediator
    assert "<td>心理疏导</td>" in client.get(reverse("mediation_activities")).content.decode()
    # Another organisation's choice is not offered to them: the form refuses it.
    client.post(
        reverse("mediation_activities"),
        {"org": med.labour.pk, "kind": "publicity", "day": timezone.localdate().isoformat()},
    )
    assert Activity.objects.count() == 1
    client.force_login(med.p.outsider)
    assert client.post(reverse("mediation_activities"), {"org": med.studio.pk}).status_code == 403
    assert "<td>心理疏导</td>" not in client.get(reverse("mediation_activities")).content.decode()


def test_county_adds_and_changes_an_org_and_a_mediator(med, client):
    county = med.p.county
    client.force_login(county)
    response = client.post(
        reverse("mediation_org_add"),
        {
            "code": "T-NEW",
            "name": "物业纠纷调解委员会",
            "kind": "trade",
            "region_code": med.town_code,
            "specialities": ["15"],
            "capacity": "8",
            "active": "on",
        },
    )
    assert response.status_code == 302
    org = MediationOrg.objects.get(code="T-NEW")
    assert org.specialities == ["15"] and org.capacity == 8
    response = client.post(
        reverse("mediation_org_edit", args=[org.pk]),
        {
            "code": "IGNORED",
            "name": "物业调委会",
            "kind": "trade",
            "region_code": med.town_code,
            "capacity": "9",
        },
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.code, org.name, org.capacity, org.active) == ("T-NEW", "物业调委会", 9, False)
    response = client.post(
        reverse("mediation_mediator_add"),
        {"org": org.pk, "name": "周调解", "kind": "lawyer", "username": "grid2"},
    )
    assert response.status_code == 302
    mediator = Mediator.objects.get(name="周调解")
    assert mediator.user.username == "grid2" and mediator.region_code == med.town_code
    response = client.post(
        reverse("mediation_mediator_edit", args=[mediator.pk]),
        {"org": org.pk, "name": "周律师", "kind": "lawyer", "username": "", "active": "on"},
    )
    mediator.refresh_from_db()
    assert (mediator.name, mediator.user_id) == ("周律师", None)
    # An unknown login is a form error, not a 500.
    response = client.post(
        reverse("mediation_mediator_add"),
        {"org": org.pk, "name": "x", "kind": "lawyer", "username": "nobody-here"},
    )
    assert response.status_code == 200 and not Mediator.objects.filter(name="x").exists()
    assert (
        AuditEvent.objects.filter(action="mediation.org.save", target_id=str(org.pk)).count() == 2
    )
    page = client.get(reverse("mediation_registry")).content.decode()
    assert reverse("mediation_org_edit", args=[org.pk]) in page


def test_registry_forms_refused_without_configure(med, client):
    client.force_login(med.centre_user)  # township centre: no configure permission
    assert client.get(reverse("mediation_org_add")).status_code == 403
    assert client.post(reverse("mediation_mediator_add"), {}).status_code == 403
    client.force_login(med.p.county)
    assert client.get(reverse("mediation_org_edit", args=[999999])).status_code == 404
    assert not MediationOrg.objects.filter(code="").exists()
