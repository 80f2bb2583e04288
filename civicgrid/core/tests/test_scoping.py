"""No cross-scope read or write through any view, admin page, action or command (MISSION G1).

Personas come from the demo logins (see conftest): a county operator, two township
operators (梨洲 330281001, 凤山 330281002), two grid workers in the first grid of each of
those townships, a department handler, an auditor, and an outsider with no role.
"""

import io
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from civicgrid.core.scoping import can, restrict
from civicgrid.people.actions import do_assign_role, do_reveal_person_pii, do_update_person
from civicgrid.people.models import Person, RoleAssignment
from civicgrid.people.selectors import departments_visible_to, people_visible_to
from civicgrid.regions.actions import do_update_grid
from civicgrid.regions.models import Grid, Region
from civicgrid.regions.selectors import grids_visible_to, regions_visible_to

LIZHOU, FENGSHAN = "330281001", "330281002"


def _grid_of(user):
    return RoleAssignment.objects.get(person__user=user).grid


def _resident(prefix):
    return Person.objects.filter(is_resident=True, region_code__startswith=prefix).first()


def _first_grid(prefix):
    return (
        Grid.objects.exclude(kind="micro").filter(code__startswith=prefix).order_by("code").first()
    )


def test_it_limits_every_selector_to_the_township(personas):
    lizhou = personas.lizhou
    for queryset, field in [
        (regions_visible_to(lizhou), "code"),
        (grids_visible_to(lizhou), "code"),
        (people_visible_to(lizhou), "region_code"),
    ]:
        codes = list(queryset.values_list(field, flat=True))
        assert codes and all(code.startswith(LIZHOU) for code in codes)
    assert grids_visible_to(personas.county).count() == Grid.objects.count()


def test_it_limits_a_grid_worker_to_their_grid(personas):
    grid = _grid_of(personas.grid1)
    codes = set(people_visible_to(personas.grid1).values_list("region_code", flat=True))
    assert codes == {grid.code}
    assert not people_visible_to(personas.grid1).filter(region_code__startswith=FENGSHAN).exists()


def test_it_gives_nothing_to_an_outsider(personas):
    outsider = personas.outsider
    assert not regions_visible_to(outsider).exists()
    assert not grids_visible_to(outsider).exists()
    assert not people_visible_to(outsider).exists()
    assert not departments_visible_to(outsider).exists()
    assert not can(outsider, "regions.view")


def test_it_shows_a_department_handler_departments_but_no_people(personas):
    police = personas.police
    assert not people_visible_to(police).exists()
    assert departments_visible_to(police).filter(kind="public_security").exists()


def test_it_lets_a_township_see_the_county_departments_serving_it(personas):
    visible = departments_visible_to(personas.lizhou)
    regions = set(visible.values_list("region__code", flat=True))
    assert regions == {"330281", LIZHOU}


@pytest.mark.parametrize(
    "name, sees_lizhou, sees_fengshan",
    [
        ("county", True, True),
        ("lizhou", True, False),
        ("fengshan", False, True),
        ("outsider", False, False),
    ],
)
def test_it_scopes_the_grid_list_and_its_export(login, personas, name, sees_lizhou, sees_fengshan):
    client = login(getattr(personas, name))
    lizhou_code, fengshan_code = _first_grid(LIZHOU).code, _first_grid(FENGSHAN).code
    for url in ["/grids/", "/grids/export.csv"]:
        response = client.get(url)
        assert response.status_code == 200
        body = b"".join(response.streaming_content) if response.streaming else response.content
        body = body.decode()
        assert (lizhou_code in body) is sees_lizhou, url
        assert (fengshan_code in body) is sees_fengshan, url


def test_it_hides_out_of_scope_people_pages(login, personas):
    other = _resident(FENGSHAN)
    own = _resident(LIZHOU)
    client = login(personas.lizhou)
    assert client.get(f"/people/{own.pk}/").status_code == 200
    assert client.get(f"/people/{other.pk}/").status_code == 404
    assert client.post(f"/people/{other.pk}/reveal/").status_code == 404
    client = login(personas.grid2)
    assert client.get(f"/people/{own.pk}/").status_code == 404


ADMIN_LISTS = [
    ("/admin/regions/region/", lambda: Region.objects.get(code=FENGSHAN).name),
    ("/admin/regions/grid/", lambda: _first_grid(FENGSHAN).code),
    ("/admin/people/person/", lambda: _resident(FENGSHAN).region_code),
    ("/admin/people/roleassignment/", lambda: _first_grid(FENGSHAN).code),
    ("/admin/people/department/", lambda: "凤山派出所"),
]


@pytest.mark.parametrize("url, foreign", ADMIN_LISTS)
def test_it_scopes_admin_lists(login, personas, url, foreign):
    foreign_text = foreign()
    response = login(personas.lizhou).get(url)
    assert response.status_code == 200
    assert foreign_text not in response.content.decode()
    response = login(personas.county).get(url)
    assert response.status_code == 200
    if "person" not in url:  # the county list is paginated; people are many
        assert foreign_text in response.content.decode()


def test_it_refuses_admin_change_pages_out_of_scope(login, personas):
    grid = _first_grid(FENGSHAN)
    client = login(personas.lizhou)
    response = client.get(f"/admin/regions/grid/{grid.pk}/change/")
    assert response.status_code == 302  # "does not exist" for this user: no existence leak
    response = client.post(f"/admin/regions/grid/{grid.pk}/change/", {"name": "taken over"})
    assert response.status_code == 302
    grid.refresh_from_db()
    assert grid.name != "taken over"


def test_it_keeps_people_without_admin_access_out(login, personas):
    for name in ["grid1", "outsider", "police"]:
        response = login(getattr(personas, name)).get("/admin/regions/grid/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_it_lets_the_auditor_read_the_trail_but_not_a_township(login, personas):
    response = login(personas.auditor).get("/admin/core/auditevent/")
    assert response.status_code == 200 and "demo.load" in response.content.decode()
    assert login(personas.lizhou).get("/admin/core/auditevent/").status_code == 403


def test_it_refuses_cross_scope_writes_in_actions(personas):
    foreign_grid = _first_grid(FENGSHAN)
    with pytest.raises(PermissionDenied):
        do_update_grid(foreign_grid, actor=personas.lizhou, name="x")
    with pytest.raises(PermissionDenied):
        do_update_person(_resident(FENGSHAN), actor=personas.lizhou, name="x")
    with pytest.raises(PermissionDenied):
        do_reveal_person_pii(_resident(FENGSHAN), actor=personas.grid1)
    stranger = Person.objects.filter(user__username="outsider").first() or _resident(LIZHOU)
    with pytest.raises(PermissionDenied):
        do_assign_role(
            stranger,
            "township_operator",
            region=Region.objects.get(code=FENGSHAN),
            actor=personas.lizhou,
        )
    with pytest.raises(PermissionDenied):
        do_update_grid(_first_grid(LIZHOU), actor=personas.grid1, name="x")
    # and the in-scope write works
    assert do_update_grid(_first_grid(LIZHOU), actor=personas.lizhou, name="新名").name == "新名"


def test_it_scopes_commands(personas):
    out = io.StringIO()
    call_command("export_grids", "--as", "lizhou", stdout=out)
    codes = [f["properties"]["code"] for f in json.loads(out.getvalue())["features"]]
    assert codes and all(code.startswith(LIZHOU) for code in codes)
    with pytest.raises(CommandError, match="no active user"):
        call_command("export_grids", "--as", "nobody", stdout=io.StringIO())


def test_it_scopes_imports_by_command(personas, tmp_path):
    out = io.StringIO()
    call_command("export_grids", "--as", "county", "--region", FENGSHAN, stdout=out)
    path = tmp_path / "fengshan.geojson"
    path.write_text(out.getvalue())
    result = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_grids", str(path), "--as", "lizhou", stdout=result)
    assert "You may not change grid" in result.getvalue()


def test_it_restricts_by_department(personas):
    from civicgrid.people.models import Department

    police = personas.police
    department = RoleAssignment.objects.get(person__user=police).department
    rows = restrict(Department.objects.all(), police, "departments.view", department_field="pk")
    assert list(rows) == [department]


def test_it_refuses_admin_additions_out_of_scope_with_a_message(login, personas):
    client = login(personas.lizhou)
    target = _resident(LIZHOU)
    fengshan = Region.objects.get(code=FENGSHAN)
    before = RoleAssignment.objects.count()
    response = client.post(
        "/admin/people/roleassignment/add/",
        {
            "person": target.pk,
            "role": "township_operator",
            "region": fengshan.pk,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert RoleAssignment.objects.count() == before
    assert "您无权在此执行该操作" in response.content.decode()  # the admin speaks Chinese
    # a role with rights the operator does not hold (leaders instruct) is refused too
    lizhou = Region.objects.get(code=LIZHOU)
    client.post(
        "/admin/people/roleassignment/add/",
        {
            "person": target.pk,
            "role": "township_leader",
            "region": lizhou.pk,
        },
    )
    assert not RoleAssignment.objects.filter(person=target, role="township_leader").exists()
    # inside the township, a role within the operator's own rights works and is audited
    village = Region.objects.filter(level="village", code__startswith=LIZHOU).first()
    response = client.post(
        "/admin/people/roleassignment/add/",
        {
            "person": target.pk,
            "role": "village_staff",
            "region": village.pk,
        },
    )
    assert response.status_code == 302
    assert RoleAssignment.objects.filter(person=target, role="village_staff").exists()
    from civicgrid.core.models import AuditEvent

    assert AuditEvent.objects.order_by("-id").first().action == "people.role.assign"


def test_it_saves_admin_grid_edits_through_the_action(login, personas):
    from civicgrid.core.models import AuditEvent

    grid = _first_grid(LIZHOU)
    client = login(personas.lizhou)
    page = client.get(f"/admin/regions/grid/{grid.pk}/change/")
    assert page.status_code == 200
    response = client.post(
        f"/admin/regions/grid/{grid.pk}/change/",
        {
            "name": "改名后的网格",
            "kind": grid.kind,
            "purpose": grid.purpose,
            "active": "on",
            "geometry": json.dumps(grid.geometry),
        },
    )
    assert response.status_code == 302
    grid.refresh_from_db()
    assert grid.name == "改名后的网格"
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.actor_name, event.after["name"]) == (
        "regions.grid.update",
        "lizhou",
        "改名后的网格",
    )


def _every_scoped_admin():
    from django.contrib import admin

    from civicgrid.core.admin import ScopedAdmin

    return [
        model_admin
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, ScopedAdmin)
        and not model_admin.reference_data
        and model._meta.model_name
        not in {"keygroup", "category", "visitrule"}  # county-wide reference data
    ]


def _has_rows_in(model_admin, prefix: str) -> bool:
    """Are there rows of this admin's model in the township (seen without any scoping)?"""
    for obj in model_admin.model._base_manager.all()[:2000]:
        if model_admin.object_region_code(obj).startswith(prefix):
            return True
    return False


def test_it_scopes_every_registered_admin(rf, personas):
    """A guard for admins added later: every row a township operator's admin lists is theirs."""
    from civicgrid.cases.actions import do_report_case
    from civicgrid.core.scoping import ancestor_codes
    from civicgrid.inspection.actions import (
        do_generate_due_visits,
        do_record_visit,
        do_set_visit_override,
    )

    do_generate_due_visits()
    for prefix in (LIZHOU, FENGSHAN):  # a case, a visit, an override on each side of the line
        do_report_case(actor=None, channel="resident", description="x", grid=_first_grid(prefix))
        tagged = Person.objects.filter(
            region_code__startswith=prefix, key_group_tags__isnull=False
        ).first()
        do_record_visit(tagged, actor=personas.admin, outcome="seen")
        do_set_visit_override(tagged, actor=personas.admin, cadence="weekly", reason="x")
    admins = _every_scoped_admin()
    assert len(admins) >= 10
    request = rf.get("/admin/")
    request.user = personas.lizhou
    for model_admin in admins:
        rows = list(model_admin.get_queryset(request)[:500])
        for obj in rows:
            code = model_admin.object_region_code(obj)
            assert code.startswith(LIZHOU) or code in ancestor_codes(LIZHOU), (model_admin, code)
        if model_admin.has_view_permission(request) and _has_rows_in(model_admin, LIZHOU):
            assert rows, f"{model_admin} shows a township operator nothing"


def test_it_opens_every_admin_list_for_its_users_and_no_one_else(login, personas):
    for model_admin in _every_scoped_admin():
        meta = model_admin.model._meta
        url = f"/admin/{meta.app_label}/{meta.model_name}/"
        lizhou = login(personas.lizhou).get(url).status_code
        assert lizhou in {200, 403}, url
        assert login(personas.outsider).get(url).status_code == 302, url  # not staff: to login
