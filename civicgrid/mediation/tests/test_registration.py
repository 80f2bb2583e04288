"""One door: registration from every source, parties sealed, place → grid, duplicates."""

import pytest
from django.core.exceptions import ValidationError

from civicgrid.cases.actions import do_report_case
from civicgrid.core.errors import ActionRefused
from civicgrid.mediation.models import Party, Source
from civicgrid.mediation.tests.conftest import ID_A, ID_B, ID_C
from civicgrid.people.pii import reveal

pytestmark = pytest.mark.django_db


def test_code_is_readable_unique_and_sortable(med, at):
    at(2026, 3, 2, 10)
    first, second = med.register(), med.register()
    assert first.code == "MD-330281-20260302-00001"
    assert second.code == "MD-330281-20260302-00002"
    at(2026, 3, 3, 9)
    third = med.register()
    assert sorted([third.code, second.code, first.code]) == [first.code, second.code, third.code]


def test_parties_are_sealed_and_masked(med):
    dispute = med.register()
    applicant = dispute.parties.get(role="applicant")
    assert applicant.id_number_masked == "330281********0019"
    assert applicant.phone_masked == "138****1111"
    assert ID_A not in applicant.id_number_cipher and reveal(applicant.id_number_cipher) == ID_A
    assert applicant.match_key.startswith("id:")


@pytest.mark.parametrize("source", Source.values)
def test_every_source_is_accepted(med, source):
    assert med.register(source=source).source == source


def test_point_is_placed_in_its_grid(med):
    lat, lng = med.point(med.other_grid)
    dispute = med.register(grid=None, lat=lat, lng=lng, actor=med.p.county)
    assert dispute.grid == med.other_grid and dispute.region_code == med.other_grid.code


def test_case_link_gives_the_place(med):
    lat, lng = med.point()
    case = do_report_case(
        actor=med.p.grid1,
        channel="grid_worker",
        description="邻里争吵",
        category=med.category,
        lat=lat,
        lng=lng,
    )
    dispute = med.register(grid=None, source="grid", source_case=case, category="02")
    assert dispute.source_case == case and dispute.region_code == case.region_code


def test_validation_collects_every_error(med):
    with pytest.raises(ValidationError) as info:
        med.register(
            title="",
            category="42",
            source="pigeon",
            amount="lots",
            grid=None,
            parties=[{"role": "applicant", "kind": "natural", "name": "张三", "id_number": "123"}],
        )
    errors = info.value.message_dict
    assert {"title", "category", "source", "amount", "parties", "location"} <= set(errors)
    assert any("Party 1" in e for e in errors["parties"])


def test_needs_applicant_and_respondent(med):
    with pytest.raises(ValidationError, match="applicant and one respondent"):
        med.register(parties=[{"role": "applicant", "kind": "natural", "name": "张三"}])


def test_registration_is_scoped(med):
    with pytest.raises(ActionRefused):
        med.register(actor=med.p.fengshan)  # another township's window
    with pytest.raises(ActionRefused):
        med.register(actor=med.mediator_user)
    with pytest.raises(ActionRefused):
        med.register(actor=med.p.grid1)


def test_same_parties_as_an_open_dispute_are_flagged(med):
    first = med.register()
    again = med.register(
        parties=[
            {"role": "applicant", "kind": "natural", "name": "李四", "id_number": ID_B},
            {
                "role": "respondent",
                "kind": "natural",
                "name": "张三",
                "phone": "13800001111",
                "id_number": ID_A,
            },
        ]
    )
    assert again.related_open == first
    other = med.register(
        parties=[
            {"role": "applicant", "kind": "natural", "name": "张三", "id_number": ID_A},
            {"role": "respondent", "kind": "natural", "name": "王五", "id_number": ID_C},
        ]
    )
    assert other.related_open is None  # one shared party of two is not "the same parties"


def test_company_parties_match_by_credit_code(med):
    company = {
        "role": "respondent",
        "kind": "legal",
        "name": "某某建筑公司",
        "credit_code": "91330281MA2AAAAA1X",
    }
    first = med.register(
        category="10",
        parties=[
            {"role": "applicant", "kind": "natural", "name": "工人甲", "id_number": ID_C},
            company,
        ],
    )
    second = med.register(
        category="10",
        parties=[
            {"role": "applicant", "kind": "natural", "name": "工人甲", "id_number": ID_C},
            company,
        ],
    )
    assert second.related_open == first
    assert Party.objects.filter(dispute=second, kind="legal").get().match_key.startswith("org:")


def test_closed_disputes_are_not_flagged(med):
    from civicgrid.mediation.actions import do_close_dispute, do_conclude_dispute

    first = med.register()
    do_conclude_dispute(first, actor=med.centre_user, outcome="withdrawn")
    do_close_dispute(first, actor=med.centre_user)
    assert med.register().related_open is None
