"""A party's full ID and phone numbers: shown to personal-data rights only, every look audited."""

import pytest
from django.urls import reverse

from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.mediation.actions import do_reveal_party_pii
from civicgrid.mediation.tests.conftest import ID_A

pytestmark = pytest.mark.django_db


def test_centre_reveals_and_it_is_audited(med, client):
    dispute = med.register()
    applicant = dispute.parties.get(role="applicant")
    client.force_login(med.centre_user)  # township operator: people.view_pii there
    url = reverse("mediation_detail", args=[dispute.code])
    page = client.get(url).content.decode()
    assert ID_A not in page and "13800001111" not in page
    reveal = reverse("mediation_party_reveal", args=[dispute.code, applicant.pk])
    assert reveal in page
    page = client.post(reveal).content.decode()
    assert ID_A in page and "13800001111" in page
    event = AuditEvent.objects.get(action="mediation.party.view_pii")
    assert event.actor_id == med.centre_user.pk and event.target_id == str(applicant.pk)
    # A GET does not reveal (no look without a deliberate act).
    assert client.get(reveal).status_code == 405


def test_refused_to_those_without_personal_data_rights(med, client):
    dispute = med.register()
    applicant = dispute.parties.get(role="applicant")
    reveal = reverse("mediation_party_reveal", args=[dispute.code, applicant.pk])
    client.force_login(med.p.auditor)  # sees the dispute, not the numbers
    page = client.get(reverse("mediation_detail", args=[dispute.code])).content.decode()
    assert reveal not in page
    response = client.post(reveal)
    assert response.status_code == 403 and ID_A not in response.content.decode()
    with pytest.raises(ActionRefused):
        do_reveal_party_pii(applicant, actor=med.mediator_user)
    client.force_login(med.p.fengshan)  # another township: not even the dispute
    assert client.post(reveal).status_code == 404
    client.force_login(med.centre_user)
    other = med.register(title="另一纠纷")
    wrong = reverse("mediation_party_reveal", args=[other.code, applicant.pk])
    assert client.post(wrong).status_code == 404
    assert not AuditEvent.objects.filter(action="mediation.party.view_pii").exists()
