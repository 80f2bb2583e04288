"""The reward tests' data: the "141" scheme, this year's budget of 梨洲街道, and a case of
grid1's grid that grid1 closed on the spot (so grid1, its handler, may nominate it)."""


def seed(data: dict) -> dict:
    import io
    from datetime import date

    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from PIL import Image

    from civicgrid.cases import actions as CA
    from civicgrid.cases.models import Category
    from civicgrid.incentives import actions as A
    from civicgrid.regions import geo
    from civicgrid.regions.models import Grid

    def jpeg(colour):
        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
        return buffer.getvalue()

    users = get_user_model().objects
    county, grid1 = users.get(username="county"), users.get(username="grid1")
    scheme = A.do_publish_scheme(
        county_code="330281",
        name="高价值信息“141”奖励办法",
        version="试行",
        valid_from=date(2020, 1, 1),
        tiers=[
            {
                "criterion": "hazard",
                "amount_min": 200,
                "amount_max": 1000,
                "nominators": ["handler", "command_room"],
            },
            {
                "criterion": "crime",
                "amount_min": 500,
                "amount_max": 3000,
                "nominators": ["handler", "command_room"],
            },
        ],
        actor=county,
    )
    A.do_set_town_budget(
        town_code="330281001", year=timezone.localdate().year, amount=20000, actor=county
    )
    grid = Grid.objects.get(code=data["own_grid"]["code"])
    point = geo.geometry_from_geojson(grid.geometry).representative_point()
    case = CA.do_report_case(
        actor=grid1,
        channel="grid_worker",
        category=Category.objects.get(pk=data["category"]["pk"]),
        description="出租房内堆放大量液化气钢瓶，疑似非法储存",
        lat=point.y,
        lng=point.x,
    )
    case = CA.do_accept_case(case, actor=grid1)
    case = CA.do_self_close_case(
        case,
        actor=grid1,
        text="已联合消防清运",
        before_photos=[jpeg("red")],
        after_photos=[jpeg("green")],
    )
    return {"case": case.code, "tier": scheme.tiers.get(criterion="hazard").pk}
