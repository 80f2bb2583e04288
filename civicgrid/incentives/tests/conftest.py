"""A reward scheme on the session's demo county and closed cases to nominate."""

from datetime import date

import pytest
from django.utils import timezone

from civicgrid.cases import actions as CA
from civicgrid.cases.tests.conftest import SHANGHAI, at, jpeg, world  # noqa: F401
from civicgrid.incentives import actions as A

LIZHOU = "330281001"
FENGSHAN = "330281002"

TIERS = [
    {
        "criterion": "hazard",
        "amount_min": 200,
        "amount_max": 1000,
        "nominators": ["handler", "command_room"],
    },
    {
        "criterion": "opinion",
        "amount_min": 200,
        "amount_max": 800,
        "nominators": ["handler", "command_room"],
    },
    {"criterion": "loss", "amount_min": 500, "amount_max": 2000, "nominators": ["command_room"]},
    {
        "criterion": "crime",
        "amount_min": 500,
        "amount_max": 3000,
        "nominators": ["handler", "command_room"],
    },
]


class Rewards:
    def __init__(self, world):  # noqa: F811
        self.world = world
        self.p = world.p
        county = self.p.county
        self.scheme = A.do_publish_scheme(
            county_code="330281",
            name="“141”高价值信息奖励办法",
            version="试行",
            valid_from=date(2020, 1, 1),
            tiers=TIERS,
            actor=county,
        )
        year = timezone.localdate().year
        A.do_set_town_budget(town_code=LIZHOU, year=year, amount=5000, actor=county)
        A.do_set_town_budget(town_code=FENGSHAN, year=year, amount=5000, actor=county)

    def tier(self, criterion="hazard"):
        return self.scheme.tiers.get(criterion=criterion)

    def closed_case(self, text="楼道里堆放液化气罐，存在重大火灾隐患", *, evaluate=False):
        """A grid worker's report closed on the spot by grid1 (the grid owns it)."""
        grid1 = self.p.grid1
        lat, lng = self.world.point()
        case = CA.do_report_case(
            actor=grid1,
            channel="grid_worker",
            category=self.world.category,
            description=text,
            lat=lat,
            lng=lng,
        )
        case = CA.do_accept_case(case, actor=grid1)
        case = CA.do_self_close_case(
            case, actor=grid1, text="已清理", before_photos=[jpeg()], after_photos=[jpeg("green")]
        )
        if evaluate:
            case = CA.do_evaluate_case(case, actor=grid1, satisfaction="satisfied")
        return case

    def open_case(self):
        grid1 = self.p.grid1
        lat, lng = self.world.point()
        return CA.do_report_case(
            actor=grid1,
            channel="grid_worker",
            category=self.world.category,
            description="路口井盖缺失",
            lat=lat,
            lng=lng,
        )

    def nominate(self, case=None, *, actor=None, amount=500, criterion="hazard"):
        return A.do_nominate_case(
            case or self.closed_case(),
            tier=self.tier(criterion),
            amount=amount,
            evidence="消除了一处重大火灾隐患，避免了人员伤亡",
            actor=actor or self.p.grid1,
        )

    def approved(self, case=None, amount=500):
        nomination = self.nominate(case, amount=amount)
        nomination = A.do_review_nomination(nomination, actor=self.p.lizhou)
        return A.do_approve_nomination(nomination, actor=self.p.county)


@pytest.fixture
def rewards(world):  # noqa: F811
    return Rewards(world)
