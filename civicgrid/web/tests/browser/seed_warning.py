"""The early-warning browser test's data: a few 僵尸车 (0101) reports in grid1's grid over the
last days, reported by grid1 through the case action, and the signal the nightly run stores
for them (through the run's own action, ``do_store_findings``)."""


def seed(data: dict) -> dict:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from civicgrid.cases.actions import do_report_case
    from civicgrid.cases.models import Case, Category
    from civicgrid.regions.models import Grid
    from civicgrid.warning.actions import Finding, do_store_findings
    from civicgrid.warning.models import Signal

    grid1 = get_user_model().objects.get(username="grid1")
    grid = Grid.objects.get(code=data["own_grid"]["code"])
    category = Category.objects.get(code="0101")
    today = timezone.localdate()
    now = timezone.now()
    codes = []
    for n in range(6):
        case = do_report_case(
            actor=grid1,
            channel=Case.Channel.GRID_WORKER,
            description=f"小区门口一辆白色轿车长期停放，积满灰尘（{n + 1}）",
            category=category,
            grid=grid,
            created=now - timedelta(days=n % 3, minutes=n),
        )
        codes.append(case.code)
    yesterday = today
    do_store_findings(
        category,
        [
            Finding(
                method="permutation",
                places=(grid.code,),
                start=yesterday - timedelta(days=2),
                end=yesterday,
                observed=6,
                expected=0.8,
                relative_risk=7.5,
                statistic=9.1,
                p_value=0.002,
                recurrence_days=500.0,
            )
        ],
        yesterday,
    )
    signal = Signal.objects.get(category=category, first_run=yesterday)
    return {"signal": signal.pk, "cases": codes, "grid": grid.code}
