import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from PIL import Image

from civicgrid.cases.models import Category
from civicgrid.people.actions import do_assign_role, do_create_login, do_create_person
from civicgrid.people.models import Department, RoleAssignment

SHANGHAI = ZoneInfo("Asia/Shanghai")


def jpeg(colour="red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return buffer.getvalue()


class World:
    """The persons and places a case test needs, on the session's demo county."""

    def __init__(self, personas):
        self.p = personas
        self.grid = RoleAssignment.objects.get(person__user=personas.grid1).grid
        self.other_grid = RoleAssignment.objects.get(person__user=personas.grid2).grid
        self.category = Category.objects.get(code="0101")  # 废弃车辆（僵尸车）
        self.town_police = Department.objects.get(code="330281001-public_security")
        self.town_law = Department.objects.get(code="330281001-law_enforcement")
        self.county_police = Department.objects.get(code="330281-public_security")
        self._users = {}

    def point(self, grid=None):
        from civicgrid.regions import geo

        shape = geo.geometry_from_geojson((grid or self.grid).geometry)
        point = shape.representative_point()
        return point.y, point.x

    def staff(self, role, *, username, department=None, region=None, grid=None):
        if username not in self._users:
            admin = self.p.admin
            place = department.region if department else region
            person = do_create_person(
                name=username, region=place, grid=grid, actor=admin, is_resident=False
            )
            do_create_login(person, username=username, password="Grid-work-2026!", actor=admin)
            do_assign_role(
                person, role, department=department, region=region, grid=grid, actor=admin
            )
            self._users[username] = person.user_id
        return get_user_model().objects.get(pk=self._users[username])

    def town_police_user(self):
        return self.staff("dept_handler", username="lz-police", department=self.town_police)

    def town_law_user(self):
        return self.staff("dept_handler", username="lz-law", department=self.town_law)

    def village_user(self):
        return self.staff("village_staff", username="village1", region=self.grid.village)


@pytest.fixture
def world(personas):
    return World(personas)


@pytest.fixture
def at(monkeypatch):
    """Freeze "now" for the actions: at(2025, 9, 30, 16) sets Shanghai local time."""
    from django.utils import timezone

    def _at(*args):
        moment = datetime(*args, tzinfo=SHANGHAI)
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return _at
