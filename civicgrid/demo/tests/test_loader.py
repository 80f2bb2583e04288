"""The demo county loaded by the session fixture (scale 0.05, seed 7) through the real loader."""

import pytest
from django.core.management import call_command
from django.db.models import Count

from civicgrid.core.models import AuditEvent
from civicgrid.people.models import Department, Person, PersonKeyGroup, RoleAssignment
from civicgrid.regions.models import Grid, Region


def test_it_loads_the_real_divisions_with_synthetic_geometry(db):
    assert Region.objects.filter(level="county").get().name == "余姚市"
    assert Region.objects.filter(level="town").count() == 21
    assert Region.objects.get(code="330281001").name == "梨洲街道"
    assert not Region.objects.exclude(geometry_source="synthetic").exists()
    grids = Grid.objects.exclude(kind="micro")
    assert all(len(code) == 15 for code in grids.values_list("code", flat=True))
    micro = Grid.objects.filter(kind="micro").select_related("parent")
    assert micro.exists()
    assert all(m.code.startswith(m.parent.code) and len(m.code) == 18 for m in micro)
    assert grids.filter(kind="dedicated").exclude(purpose="").exists()


def test_it_staffs_every_grid_with_a_1_3_n_team(db):
    teams = (
        RoleAssignment.objects.filter(grid__kind__in=["basic", "dedicated"])
        .values("grid", "role")
        .annotate(n=Count("id"))
    )
    by_grid = {}
    for row in teams:
        by_grid.setdefault(row["grid"], {})[row["role"]] = row["n"]
    grid_count = Grid.objects.exclude(kind="micro").count()
    assert len(by_grid) == grid_count
    for roles in by_grid.values():
        assert roles["grid_leader"] == 1
        assert roles["grid_worker"] >= 1
        assert roles["grid_worker_pt"] + roles["liaison"] >= 3
        assert roles["co_governance"] >= 4
    assert RoleAssignment.objects.filter(role="micro_grid_leader").count() == (
        Grid.objects.filter(kind="micro").count()
    )


def test_it_sinks_department_staff_into_grids(db):
    for role in ["dept_resident", "dept_on_call"]:
        rows = RoleAssignment.objects.filter(role=role)
        assert rows.exists()
        assert all(r.grid is not None and r.department is not None for r in rows)
        # a township office serves the grid's own township
        assert all(r.department.region.code == r.grid.code[:9] for r in rows)
    assert Department.objects.filter(region__level="county").count() == 15


def test_it_tags_residents_with_key_groups_in_every_grid(db):
    grid_codes = set(Grid.objects.exclude(kind="micro").values_list("code", flat=True))
    tagged = set(PersonKeyGroup.objects.values_list("region_code", flat=True))
    assert tagged == grid_codes
    elderly = Person.objects.filter(key_groups__code="elderly_alone").first()
    assert elderly.birth_date.year <= 1951


def test_it_records_one_audit_event_and_refuses_a_second_load(db):
    event = AuditEvent.objects.get(action="demo.load")
    assert event.after["grids"] == Grid.objects.exclude(kind="micro").count()
    with pytest.raises(RuntimeError):
        from civicgrid.demo.loader import load_demo

        load_demo(seed=1, scale=0.05, progress=lambda line: None)
    call_command("load_demo", "--scale", "0.05", verbosity=0)  # a no-op, not an error
