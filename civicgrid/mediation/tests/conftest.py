"""A mediation world on the session's demo county: the 梨洲街道 centre (lizhou), a village
committee, two marriage studios and a labour studio, their mediators with logins."""

import pytest

from civicgrid.cases.tests.conftest import SHANGHAI, World, at  # noqa: F401 (fixtures)
from civicgrid.mediation.actions import do_register_dispute, do_save_mediator, do_save_org
from civicgrid.mediation.models import MediationOrg, Mediator

# Valid ID numbers (check digits computed).
ID_A = "330281198001010019"
ID_B = "330281198502020020"
ID_C = "330281199003030034"


def id_number(first17: str) -> str:
    from civicgrid.people.pii import id_check_digit

    return first17 + id_check_digit(first17)


class Mediation(World):
    def __init__(self, personas):
        super().__init__(personas)
        admin = personas.admin
        self.village = self.grid.village
        self.town_code = self.grid.code[:9]
        self.centre = do_save_org(
            actor=admin,
            code="T-CENTRE",
            name="梨洲街道矛调中心",
            kind=MediationOrg.Kind.CENTRE,
            region_code=self.town_code,
        )
        self.committee = do_save_org(
            actor=admin,
            code="T-VC",
            name="村人民调解委员会",
            kind=MediationOrg.Kind.COMMITTEE_VILLAGE,
            region_code=self.village.code,
        )
        self.town_committee = do_save_org(
            actor=admin,
            code="T-TC",
            name="街道人民调解委员会",
            kind=MediationOrg.Kind.COMMITTEE_TOWN,
            region_code=self.town_code,
        )
        self.studio = do_save_org(
            actor=admin,
            code="T-S1",
            name="老娘舅婚姻家庭调解工作室",
            kind=MediationOrg.Kind.STUDIO,
            region_code=self.town_code,
            specialities=["01", "02"],
            capacity=10,
        )
        self.studio2 = do_save_org(
            actor=admin,
            code="T-S2",
            name="和美家庭调解工作室",
            kind=MediationOrg.Kind.STUDIO,
            region_code=self.town_code,
            specialities=["01"],
            capacity=10,
        )
        self.labour = do_save_org(
            actor=admin,
            code="T-S3",
            name="劳动争议调解工作室",
            kind=MediationOrg.Kind.STUDIO,
            region_code=self.town_code,
            specialities=["10"],
        )
        self.mediator_user = self.staff("mediator", username="med-studio", region=self.village)
        self.mediator = do_save_mediator(
            actor=admin,
            org=self.studio,
            name="王调解",
            kind=Mediator.Kind.PEOPLES,
            specialities=["01"],
            user=self.mediator_user,
        )
        self.village_mediator_user = self.staff(
            "mediator", username="med-village", region=self.village
        )
        self.village_mediator = do_save_mediator(
            actor=admin,
            org=self.committee,
            name="李村调",
            kind=Mediator.Kind.RESPECTED_LOCAL,
            user=self.village_mediator_user,
        )

    @property
    def centre_user(self):
        return self.p.lizhou

    def register(self, **overrides):
        data = {
            "actor": self.centre_user,
            "title": "夫妻财产纠纷",
            "description": "双方因离婚财产分割发生争执。",
            "category": "01",
            "source": "reception",
            "grid": self.grid,
            "parties": [
                {
                    "role": "applicant",
                    "kind": "natural",
                    "name": "张三",
                    "id_number": ID_A,
                    "phone": "13800001111",
                },
                {"role": "respondent", "kind": "natural", "name": "李四", "id_number": ID_B},
            ],
        }
        data.update(overrides)
        return do_register_dispute(**data)


@pytest.fixture
def med(personas):
    return Mediation(personas)
