from datetime import date

import pytest

from civicgrid.cases.tests.conftest import SHANGHAI, World, at, jpeg  # noqa: F401 (fixtures)
from civicgrid.regions.models import Grid


class Campaigns(World):
    """The case tests' world plus a second grid of 梨洲 in another village."""

    def __init__(self, personas):
        super().__init__(personas)
        town = self.grid.code[:9]
        self.town_grid = (
            Grid.objects.filter(code__startswith=town, kind=Grid.Kind.BASIC, active=True)
            .exclude(code__startswith=self.grid.code[:12])
            .order_by("code")
            .first()
        ) or (
            Grid.objects.filter(code__startswith=town, kind=Grid.Kind.BASIC, active=True)
            .exclude(pk=self.grid.pk)
            .order_by("code")
            .first()
        )

    def campaign(self, actor=None, *, codes=None, activate=True, **extra):
        from civicgrid.campaigns.actions import do_activate_campaign, do_create_campaign

        actor = actor or self.p.county
        values = dict(
            actor=actor,
            title="城区僵尸车专项整治",
            category=self.category,
            start=date(2025, 10, 1),
            end=date(2025, 11, 30),
            region_codes=codes or [self.grid.code[:9], self.other_grid.code[:9]],
            target_types=["车辆"],
            checklist=["长期停放", "占用消防通道"],
        )
        values.update(extra)
        campaign = do_create_campaign(**values)
        if activate:
            campaign = do_activate_campaign(campaign, actor=actor)
        return campaign

    def target(self, campaign, grid=None, label="白色轿车", actor=None, **extra):
        from civicgrid.campaigns.actions import do_add_target

        values = {"kind": "车辆", "label": label, "address": "阳明路1号", "grid": grid or self.grid}
        values.update(extra)
        return do_add_target(campaign, actor=actor or self.p.county, **values)


@pytest.fixture
def world(personas):
    return Campaigns(personas)
