import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from civicgrid.cases.actions import do_update_category
from civicgrid.cases.models import Category
from civicgrid.cases.taxonomy import SHIPPED_CSV, do_import_categories, export_categories_csv


def test_it_ships_the_taxonomy_with_routing_and_limits(db):
    zombie = Category.objects.get(code="0101")
    assert zombie.name == "废弃车辆（僵尸车）" and zombie.parent.name == "城市管理"
    assert zombie.department_kinds[0] == "public_security"
    assert zombie.resolve_limit("town") and zombie.sign_limit
    assert Category.objects.filter(parent=None).count() >= 18
    assert Category.objects.exclude(parent=None).count() >= 120


def test_it_round_trips_export_and_import(personas):
    text = export_categories_csv()
    assert text.splitlines()[0].startswith("code,parent_code,name")
    assert do_import_categories(text, actor=personas.county) == {
        "created": 0,
        "updated": Category.objects.count(),
    }
    shipped = SHIPPED_CSV.read_text(encoding="utf-8-sig")
    assert len(text.splitlines()) == len(shipped.splitlines())


def test_it_imports_nothing_when_a_row_is_bad(personas, tmp_path):
    text = export_categories_csv().replace(",0101,", ",0101,", 1)
    bad = text + "0199,01,新类别,New,town,spaceships,1d,,,5x,,,\n"
    path = tmp_path / "c.csv"
    path.write_text(bad, encoding="utf-8")
    out = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_categories", str(path), "--as", "county", stdout=out)
    assert "unknown department kind spaceships" in out.getvalue()
    assert "'5x' is not like 4h or 5d" in out.getvalue()
    assert not Category.objects.filter(code="0199").exists()
    good = text + "0199,01,新类别,New,town,law_enforcement,1d,,,5d,,,\n"
    path.write_text(good, encoding="utf-8")
    call_command("import_categories", str(path), "--as", "county", stdout=out)
    assert Category.objects.get(code="0199").resolve_limit_town == "5d"


def test_it_lets_only_the_county_edit_categories(personas, login):
    zombie = Category.objects.get(code="0101")
    with pytest.raises(PermissionDenied):
        do_update_category(zombie, actor=personas.lizhou, sign_limit="2h")
    with pytest.raises(ValidationError):
        do_update_category(zombie, actor=personas.county, sign_limit="soon")
    do_update_category(zombie, actor=personas.county, sign_limit="2h")
    assert Category.objects.get(code="0101").sign_limit == "2h"
    with pytest.raises(PermissionDenied):
        do_import_categories(export_categories_csv(), actor=personas.lizhou)
    response = login(personas.county).post(
        f"/admin/cases/category/{zombie.pk}/change/",
        {
            "name": zombie.name,
            "name_en": zombie.name_en,
            "default_level": "town",
            "department_kinds": '["law_enforcement"]',
            "sign_limit": "3h",
            "resolve_limit_town": "10d",
            "active": "on",
        },
    )
    assert response.status_code == 302
    zombie.refresh_from_db()
    assert (zombie.sign_limit, zombie.department_kinds) == ("3h", ["law_enforcement"])


@pytest.mark.parametrize(
    "changes",
    [
        {"department_kinds": 5},
        {"department_kinds": ["spaceships"]},
        {"sign_limit": "1.5d"},
        {"resolve_limit_town": "0h"},
    ],
)
def test_it_refuses_malformed_routing_and_limits(personas, changes):
    with pytest.raises(ValidationError):
        do_update_category(Category.objects.get(code="0101"), actor=personas.county, **changes)
