"""The browser tests' server database: migrate, the small demo county, and what the tests need.

Run in its own process (``python -m civicgrid.web.tests.browser.seed``) with the server's
``CIVICGRID_VAR_DIR``; prints one JSON object the tests read (places, departments, cases).
Everything is written through the same commands and actions the app uses.
"""

import json
import sys

EXTRA_SEEDS = [
    "inspection",
    "campaigns",
    "cogovernance",
    "oncall",
    "mediation",
    "incentives",
    "xss",
    "cockpit",
    "warning",
    "datahub",
    "analytics",
]
SCALE, SEED = 0.05, 7  # the size the rest of the suite tests on (civicgrid/conftest.py)
STAFF_PASSWORD = "Grid-work-2026!"
# Township offices with no demo login: their handlers are created here (username → dept).
STAFF = {
    "lz-police": "330281001-public_security",
    "lz-law": "330281001-law_enforcement",
}


def main() -> None:
    import io

    import django

    django.setup()
    from django.core.management import call_command

    quiet = {"verbosity": 0, "stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command("migrate", **quiet)
    call_command("load_demo", scale=SCALE, seed=SEED, **quiet)
    data = _seed()
    # Each app's browser tests may seed their own data: seed_<app>.py next to this file,
    # with ``seed(data) -> dict`` (what it returns is stored under data[<app>]).
    import importlib

    for app in EXTRA_SEEDS:
        try:
            module = importlib.import_module(f"civicgrid.web.tests.browser.seed_{app}")
        except ModuleNotFoundError:
            continue
        data[app] = module.seed(data)
    json.dump(data, sys.stdout)


def _seed() -> dict:
    from django.contrib.auth import get_user_model

    from civicgrid.cases import actions as A
    from civicgrid.cases.models import Category
    from civicgrid.core.roles import Role
    from civicgrid.people.actions import do_assign_role, do_create_login, do_create_person
    from civicgrid.people.models import Department, RoleAssignment
    from civicgrid.regions import geo
    from civicgrid.regions.models import Grid
    from civicgrid.regions.selectors import locate_grid

    User = get_user_model()
    admin, lizhou = User.objects.get(username="admin"), User.objects.get(username="lizhou")
    for username, code in STAFF.items():
        department = Department.objects.get(code=code)
        person = do_create_person(
            name=username, region=department.region, is_resident=False, actor=admin
        )
        do_create_login(person, username=username, password=STAFF_PASSWORD, actor=admin)
        do_assign_role(person, Role.DEPARTMENT_HANDLER, department=department, actor=admin)

    own = RoleAssignment.objects.get(person__user__username="grid1").grid
    own_shape = geo.geometry_from_geojson(own.geometry)

    def inside(grid) -> tuple[float, float] | None:
        point = geo.geometry_from_geojson(grid.geometry).representative_point()
        return (point.y, point.x) if locate_grid(point.y, point.x)[0] == grid.code else None

    # grid1 on a walk sees a problem in the next grid of the same township: a grid worker's
    # report outside their own grid goes to the township command room (cases.actions
    # _intake_owner), which accepts and dispatches it.
    neighbours = sorted(
        Grid.objects.filter(code__startswith=own.code[:9], kind=Grid.Kind.BASIC, active=True)
        .exclude(pk=own.pk)
        .order_by("code"),
        key=lambda g: geo.geometry_from_geojson(g.geometry).distance(own_shape),
    )
    neighbour, point = next((g, p) for g in neighbours if (p := inside(g)))

    category = Category.objects.get(code="0101")  # 废弃车辆（僵尸车）: township level

    def hotline_case(description: str) -> str:
        """A 12345 call the township command room files: reported, owned by the township."""
        return A.do_report_case(
            actor=lizhou,
            channel="hotline_12345",
            description=description,
            category=category,
            grid=neighbour,
            address="梨洲街道阳明路18号",
        ).code

    departments = {
        code: {"pk": d.pk, "name": d.name}
        for code in [
            *STAFF.values(),
            "330281-public_security",
        ]
        for d in [Department.objects.get(code=code)]
    }
    return {
        "password": STAFF_PASSWORD,
        "own_grid": {"pk": own.pk, "code": own.code, "name": own.name, "point": inside(own)},
        "neighbour_grid": {
            "pk": neighbour.pk,
            "code": neighbour.code,
            "name": neighbour.name,
            "point": point,
        },
        "category": {"code": category.code, "name": category.name, "pk": category.pk},
        "departments": departments,
        "cases": {
            "return": hotline_case("阳明路18号门口一辆无牌面包车停放两个多月，车身积灰"),
            "export": hotline_case("舜水路口废弃三轮车占用人行道，请求清理"),
        },
    }


if __name__ == "__main__":
    main()
