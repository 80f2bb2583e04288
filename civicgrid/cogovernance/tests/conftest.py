"""Members, their reports and the steps that earn points, on the session's demo county."""

import itertools

import pytest

from civicgrid.cases import actions as A
from civicgrid.cases.tests.conftest import at, world  # noqa: F401
from civicgrid.cogovernance.actions import do_register_member
from civicgrid.cogovernance.models import Member
from civicgrid.regions.models import Region

PASSWORD = "Gongzhi-2026!"
_serial = itertools.count(1)


class CoGov:
    """Helpers over ``world``: members of 梨洲街道 reporting problems in grid1's grid."""

    def __init__(self, world):  # noqa: F811
        self.world = world
        self.town = Region.objects.get(code="330281001")
        self.lizhou = world.p.lizhou

    def member(self, *, kind=Member.Kind.DELIVERY, grid=None, town=None, name="王小明"):
        n = next(_serial)
        return do_register_member(
            name=name,
            phone=f"1380574{n:04d}",
            kind=kind,
            town=town or self.town,
            grid=grid,
            platform="美团" if kind in {"delivery", "courier", "ride_hailing"} else "",
            username=f"member{n}",
            password=PASSWORD,
        )

    def report(self, member, text="小区门口有一辆僵尸车", grid=None):
        lat, lng = self.world.point(grid)
        return A.do_report_case(
            actor=member.user,
            channel="co_governance",
            category=self.world.category,
            description=text,
            lat=lat,
            lng=lng,
        )

    def accept(self, case):
        return A.do_accept_case(case, actor=self.lizhou)

    def close(self, case):
        case = A.do_handle_case(case, actor=self.lizhou)
        case = A.do_feedback_case(case, actor=self.lizhou, text="已处置")
        return A.do_verify_case(case, actor=self.lizhou, passed=True)

    def reject(self, case, reason="不属实"):
        return A.do_reject_case(case, actor=self.lizhou, reason=reason)

    def merge(self, duplicate, into):
        return A.do_merge_case(duplicate, into=into, actor=self.lizhou)


@pytest.fixture
def cg(world):  # noqa: F811
    return CoGov(world)


@pytest.fixture
def login(client):
    """Log ``user`` in on the test client, pages in English (tests read English)."""

    def _login(user):
        client.force_login(user)
        client.cookies["django_language"] = "en"
        return client

    return _login
