"""Routing: by route kind, category, place and load; departments; the centre's own."""

import pytest
from django.core.exceptions import ValidationError

from civicgrid.mediation.actions import do_route_dispute, do_save_org, route_candidates
from civicgrid.mediation.models import MediationOrg

pytestmark = pytest.mark.django_db


def test_studio_chosen_by_category(med):
    family = med.register(category="01")
    labour = med.register(category="10")
    assert route_candidates(labour, "studio") == [med.labour]
    assert set(route_candidates(family, "studio")) == {med.studio, med.studio2}
    do_route_dispute(labour, actor=med.centre_user, route="studio")
    labour.refresh_from_db()
    assert labour.org == med.labour


def test_studio_chosen_by_load(med):
    first = med.register()
    do_route_dispute(first, actor=med.centre_user, route="studio")
    first.refresh_from_db()
    # Equal capacity and no load: the code decides (T-S1 before T-S2).
    assert first.org == med.studio
    second = med.register(title="另一起")
    do_route_dispute(second, actor=med.centre_user, route="studio")
    second.refresh_from_db()
    assert second.org == med.studio2  # T-S1 has one open dispute now
    assert [o.load for o in route_candidates(med.register(), "studio")] == [1, 1]


def test_committee_prefers_the_village(med):
    dispute = med.register(category="02")
    assert route_candidates(dispute, "committee") == [med.committee, med.town_committee]
    do_route_dispute(dispute, actor=med.centre_user, route="committee")
    dispute.refresh_from_db()
    assert dispute.org == med.committee
    assert [a.mediator for a in dispute.assignments.filter(active=True)] == [med.village_mediator]


def test_organisations_of_other_places_do_not_fit(med):
    elsewhere = med.register(grid=med.other_grid, actor=med.p.county)
    assert route_candidates(elsewhere, "studio") == []
    with pytest.raises(ValidationError, match="No organisation"):
        do_route_dispute(elsewhere, actor=med.p.county, route="studio")
    with pytest.raises(ValidationError, match="does not take"):
        do_route_dispute(elsewhere, actor=med.p.county, route="studio", org=med.studio)


def test_inactive_and_trade(med):
    trade = do_save_org(
        actor=med.p.admin,
        code="T-TR",
        name="医疗纠纷人民调解委员会",
        kind="trade",
        region_code="330281",
        specialities=["13"],
    )
    medical = med.register(category="13")
    assert route_candidates(medical, "trade") == [trade]
    do_save_org(
        actor=med.p.admin,
        code="T-TR",
        name="医疗纠纷人民调解委员会",
        kind="trade",
        region_code="330281",
        specialities=["13"],
        active=False,
    )
    assert route_candidates(medical, "trade") == []


def test_department_route(med):
    dispute = med.register(category="09")
    with pytest.raises(ValidationError):
        do_route_dispute(dispute, actor=med.centre_user, route="department")
    do_route_dispute(dispute, actor=med.centre_user, route="department", department=med.town_law)
    dispute.refresh_from_db()
    assert dispute.department == med.town_law and dispute.org is None
    from civicgrid.mediation.actions import is_handler

    assert is_handler(med.town_law_user(), dispute)
    assert not is_handler(med.town_police_user(), dispute)


def test_named_mediators_must_belong_to_the_org(med):
    dispute = med.register()
    with pytest.raises(ValidationError):
        do_route_dispute(
            dispute,
            actor=med.centre_user,
            route="studio",
            org=med.studio,
            mediators=[med.village_mediator],
        )


def test_route_kind_validated(med):
    dispute = med.register()
    for route in ("legal", "space"):
        with pytest.raises(ValidationError):
            do_route_dispute(dispute, actor=med.centre_user, route=route)
    assert MediationOrg.objects.filter(kind="centre").exists()
