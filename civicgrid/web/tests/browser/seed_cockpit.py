"""The cockpit's browser test data: cases in grid1's grid (梨洲), one urgent and one overdue,
one a few days old, and one in another township; names of the places to click through."""


def seed(data: dict) -> dict:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from civicgrid.cases import actions as A
    from civicgrid.cases.models import Case, Category
    from civicgrid.regions import geo
    from civicgrid.regions.models import Grid

    lizhou = get_user_model().objects.get(username="lizhou")
    grid = Grid.objects.select_related("village__parent").get(code=data["own_grid"]["code"])
    lat, lng = data["own_grid"]["point"]
    category = Category.objects.get(pk=data["category"]["pk"])
    now = timezone.now()

    def report(text, **extra):
        return A.do_report_case(
            actor=None, channel="resident", description=text, lat=lat, lng=lng, **extra
        )

    newest = report("小区门口路灯不亮，夜间出行不便", urgent=True)
    report("河道漂浮垃圾较多", created=now - timedelta(days=3))
    late = A.do_accept_case(
        report("人行道地砖松动", created=now - timedelta(days=20)), actor=lizhou, category=category
    )
    Case.objects.filter(pk=late.pk).update(resolve_deadline=now - timedelta(hours=3))
    other = (
        Grid.objects.filter(kind=Grid.Kind.BASIC, active=True, geometry__isnull=False)
        .exclude(code__startswith=grid.code[:9])
        .order_by("code")
        .first()
    )
    point = geo.geometry_from_geojson(other.geometry).representative_point()
    A.do_report_case(
        actor=None, channel="resident", description="噪音扰民", lat=point.y, lng=point.x
    )
    village, town = grid.village, grid.village.parent
    return {
        "town": {"code": town.code, "name": town.name},
        "village": {"code": village.code, "name": village.name},
        "grid": {"code": grid.code, "name": grid.name},
        "newest": newest.code,
        "overdue": late.code,
    }
