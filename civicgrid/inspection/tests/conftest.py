import pytest

from civicgrid.cases.tests.conftest import SHANGHAI, World, at  # noqa: F401 (fixtures)
from civicgrid.inspection.models import VisitRule
from civicgrid.people.actions import do_create_person, do_tag_person
from civicgrid.people.models import House, KeyGroup


class Inspection(World):
    """The case tests' world plus a key group of our own, the only one with an active rule."""

    def __init__(self, personas):
        super().__init__(personas)
        VisitRule.objects.update(active=False)  # the demo's tagged residents stay out of sums
        self.group = KeyGroup.objects.create(code="test_watch", name="测试关注")
        self.rule = VisitRule.objects.create(
            key_group=self.group, cadence="weekly", checklist=["身体状况", "用电安全"]
        )

    def resident(self, name, *, grid=None, group=None, house=None):
        grid = grid or self.grid
        if house is None:
            house = House.objects.filter(grid=grid).order_by("code").first()
        person = do_create_person(
            name=name, grid=grid, house=house, address="测试路1号", actor=self.p.admin
        )
        do_tag_person(person, group or self.group, actor=self.p.admin)
        return person

    def worker(self, grid=None):
        from civicgrid.people.models import RoleAssignment

        grid = grid or self.grid
        return (
            RoleAssignment.objects.filter(role="grid_worker", scope_code=grid.code, active=True)
            .order_by("id")[0]
            .person.user
        )


@pytest.fixture
def world(personas):
    return Inspection(personas)
