"""The campaign tests' data: a county campaign under way with targets in grid1's grid, one of
them already checked with a hazard (its case raised), written through the campaign actions."""


def seed(data: dict) -> dict:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from civicgrid.campaigns.actions import (
        do_activate_campaign,
        do_add_targets,
        do_create_campaign,
        do_record_check,
    )
    from civicgrid.cases.models import Category
    from civicgrid.regions.models import Grid

    users = get_user_model().objects
    county, grid1 = users.get(username="county"), users.get(username="grid1")
    grid = Grid.objects.get(code=data["own_grid"]["code"])
    today = timezone.localdate()
    campaign = do_create_campaign(
        actor=county,
        title="出租房消防安全隐患专项排查",
        category=Category.objects.get(code="0406"),
        start=today - timedelta(days=7),
        end=today + timedelta(days=30),
        region_codes=["330281001", "330281002"],
        target_types=["出租房"],
        checklist=["灭火器配备", "私拉乱接电线"],
        description="冬季火灾高发期，全面排查出租房消防安全隐患。",
    )
    campaign = do_activate_campaign(campaign, actor=county)
    targets = do_add_targets(
        campaign,
        actor=county,
        rows=[
            {
                "kind": "出租房",
                "label": f"{n}幢101室出租房",
                "address": f"阳明路{n}号",
                "grid": grid,
            }
            for n in (3, 5)
        ],
    )
    check = do_record_check(
        targets[0],
        actor=grid1,
        hazard=True,
        answers={"灭火器配备": False, "私拉乱接电线": True},
        description="出租房内私拉乱接电线，未配备灭火器",
    )
    return {
        "campaign": campaign.pk,
        "title": campaign.title,
        "checked": targets[0].label,
        "pending": targets[1].label,
        "case": check.case.code,
        "category": {"pk": Category.objects.get(code="1801").pk},
    }
