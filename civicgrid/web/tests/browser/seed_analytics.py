"""The report test's data: three months of cases in 梨洲 and 凤山 (written directly, the report
only reads them) and last month's monthly report of the county with 0101 僵尸车 as its theme."""


def seed(data: dict) -> dict:
    import random
    from datetime import datetime, time, timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from civicgrid.analytics import actions as A
    from civicgrid.cases.models import Case, Category
    from civicgrid.regions.models import Grid, Region

    rng = random.Random(8)
    county_user = get_user_model().objects.get(username="county")
    grids = list(Grid.objects.exclude(kind="micro").filter(code__regex=r"^33028100[12]"))
    categories = list(Category.objects.filter(code__in=["0101", "0103", "0201", "0302", "0601"]))
    zombie = Category.objects.get(code="0101")
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    cases = []
    for offset in range(1, 100):
        day = today - timedelta(days=offset)
        for n in range(rng.randint(1, 4)):
            grid = rng.choice(grids)
            created = datetime.combine(day, time(9 + n), tzinfo=tz)
            closed = created + timedelta(days=rng.randint(1, 6)) if rng.random() < 0.7 else None
            cases.append(
                Case(
                    code=f"SEED-AN-{offset:03d}-{n}",
                    state="archived" if closed else "in_progress",
                    channel=rng.choice(["grid_worker", "resident", "hotline_12345"]),
                    category=zombie if rng.random() < 0.4 else rng.choice(categories),
                    description="浏览器测试数据",
                    grid=grid,
                    region_code=grid.code,
                    level="town",
                    unit_code=grid.code[:9],
                    accepted_at=created + timedelta(minutes=30),
                    resolve_deadline=created + timedelta(days=5),
                    closed_at=closed,
                    created=created,
                )
            )
    Case.objects.bulk_create(cases)
    county = Region.objects.get(level="county")
    report, _created = A.do_generate_report(
        kind="monthly", day=month, region=county, generator=A.COMMAND
    )
    A.do_set_theme(report, zombie, actor=county_user)
    A.do_write_notes(report, "城区僵尸车问题突出，建议强化整治。", actor=county_user)
    return {"monthly": report.pk}
