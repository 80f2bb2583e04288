"""The cases app's fixtures, and an on-call world on top: a case of 梨洲街道 in grid1's grid
and department staff of the township's police station and law-enforcement squadron."""

import pytest

from civicgrid.cases import actions as CA
from civicgrid.cases.tests import conftest as cases_conftest
from civicgrid.oncall.actions import do_post_staff

at = cases_conftest.at
world = cases_conftest.world
jpeg = cases_conftest.jpeg


class OnCall:
    def __init__(self, w):
        self.w = w
        self.room = w.p.lizhou  # the 梨洲 command room: owns the township's cases

    def staff(self, username, department=None, role="dept_on_call"):
        return self.w.staff(
            role, username=username, department=department or self.w.town_police, grid=self.w.grid
        )

    def post(self, user, *, kind="on_call", department=None, grid=None, **extra):
        return do_post_staff(
            person=user.person,
            department=department or self.w.town_police,
            grid=grid or self.w.grid,
            kind=kind,
            actor=self.room,
            **extra,
        )

    def case(self, **extra):
        lat, lng = self.w.point()
        values = dict(
            actor=None,
            channel="resident",
            description="楼道里堆满杂物，有消防隐患，电话13905741234",
            lat=lat,
            lng=lng,
            reporter_name="张三",
            reporter_phone="13905741234",
        )
        values.update(extra)
        case = CA.do_report_case(**values)
        return CA.do_accept_case(case, actor=self.room, category=self.w.category)


@pytest.fixture
def oncall(world):  # noqa: F811
    return OnCall(world)
