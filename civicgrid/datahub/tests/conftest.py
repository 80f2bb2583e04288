"""Files to import, built from the session's demo county (grids, houses, villages)."""

import csv
import io
import random

import pytest

from civicgrid.people import pii

LIZHOU = "330281001"
FENGSHAN = "330281002"


def id_number(birth: str = "19800101", sequence: int = 1) -> str:
    first17 = f"330281{birth}{sequence:03d}"
    return first17 + pii.id_check_digit(first17)


def csv_bytes(rows: list[list], *, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def places(db):
    """A grid of 梨洲 with a point inside it, a house there, and a village with its name."""
    from civicgrid.people.models import House
    from civicgrid.regions import geo
    from civicgrid.regions.models import Grid
    from civicgrid.regions.selectors import locate_grid

    def point_in(grid):
        p = geo.geometry_from_geojson(grid.geometry).representative_point()
        assert locate_grid(p.y, p.x)[0] == grid.code
        return p.y, p.x

    grids = list(
        Grid.objects.filter(code__startswith=LIZHOU, kind=Grid.Kind.BASIC, active=True)
        .select_related("village")
        .order_by("code")
    )
    grid = grids[0]
    other_town = (
        Grid.objects.filter(code__startswith=FENGSHAN, kind=Grid.Kind.BASIC, active=True)
        .order_by("code")
        .first()
    )
    # A house whose address is unique in the county.
    house = next(
        h
        for h in House.objects.filter(region_code__startswith=LIZHOU).order_by("code")
        if House.objects.filter(address=h.address).count() == 1
    )
    return {
        "grid": grid,
        "point": point_in(grid),
        "other_town_grid": other_town,
        "other_town_point": point_in(other_town),
        "house": house,
        "rng": random.Random(5),
    }
