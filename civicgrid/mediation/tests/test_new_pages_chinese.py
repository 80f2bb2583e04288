"""The pages added for log conversion, activities, the registry forms and revealing show no
English words in Chinese (data aside)."""

import pytest
from django.urls import reverse

from civicgrid.mediation.actions import do_log_activity, do_log_call, do_log_visit
from civicgrid.web.tests.test_languages import english_words

pytestmark = pytest.mark.django_db


def test_new_pages_in_chinese(med, client):
    visit = do_log_visit(
        actor=med.centre_user,
        region_code=med.town_code,
        name="赵六",
        about="漏水",
        outcome="referred",
    )
    do_log_call(
        actor=med.centre_user, region_code=med.town_code, category="complaint", summary="欠薪"
    )
    do_log_activity(
        actor=med.centre_user, org=med.studio, kind="correction_help", day=visit.visited_at.date()
    )
    dispute = med.register()
    party = dispute.parties.get(role="applicant")
    county = med.p.county
    pages = [
        (med.centre_user, "get", reverse("mediation_visitors")),
        (med.centre_user, "get", reverse("mediation_calls")),
        (med.centre_user, "get", reverse("mediation_register") + f"?visit={visit.pk}"),
        (med.centre_user, "get", reverse("mediation_activities")),
        (med.centre_user, "post", reverse("mediation_party_reveal", args=[dispute.code, party.pk])),
        (county, "get", reverse("mediation_registry")),
        (county, "get", reverse("mediation_org_add")),
        (county, "get", reverse("mediation_org_edit", args=[med.studio.pk])),
        (county, "get", reverse("mediation_mediator_add")),
        (county, "get", reverse("mediation_mediator_edit", args=[med.mediator.pk])),
    ]
    data = {
        "MD",
        "T-S1",
        "T-CENTRE",
        "T-VC",
        "T-TC",
        "T-S2",
        "T-S3",
        "med-studio",
        "med-village",
        "lizhou",
        "county",
    }
    data.add(dispute.code)
    for user, method, url in pages:
        client.force_login(user)
        client.cookies["django_language"] = "zh-hans"
        response = getattr(client, method)(url)
        assert response.status_code == 200, url
        assert english_words(response.content.decode(), data) == set(), url
