"""Campaigns through their actions: the state table, refusals, scope, targets, checks."""

from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError

from civicgrid.campaigns import workflow
from civicgrid.campaigns.actions import (
    do_activate_campaign,
    do_add_targets,
    do_add_targets_from_csv,
    do_close_campaign,
    do_create_campaign,
    do_create_campaign_from_warning,
    do_record_check,
    organiser_units,
)
from civicgrid.campaigns.models import Campaign, CampaignCheck, CampaignStep, CampaignTarget
from civicgrid.campaigns.selectors import (
    access_campaign,
    campaigns_visible_to,
    my_targets,
    targets_visible_to,
)
from civicgrid.cases.models import Case
from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent

from .conftest import SHANGHAI


def test_the_state_table_is_draft_active_closed():
    assert workflow.TRANSITIONS == {("draft", "activate"): "active", ("active", "close"): "closed"}
    assert workflow.allowed_actions("draft") == ["activate"]
    assert workflow.allowed_actions("closed") == []


def test_a_campaign_goes_from_draft_to_active_to_closed(world):
    campaign = world.campaign(activate=False)
    assert (campaign.state, campaign.organiser_level, campaign.region_code) == (
        "draft",
        "county",
        "330281",
    )
    assert campaign.scope_codes == sorted([world.grid.code[:9], world.other_grid.code[:9]])
    campaign = do_activate_campaign(campaign, actor=world.p.county)
    assert campaign.state == "active" and campaign.activated_at is not None
    campaign = do_close_campaign(campaign, actor=world.p.county, note="按期完成")
    assert campaign.state == "closed" and campaign.closed_at is not None
    steps = list(campaign.steps.values_list("action", "from_state", "to_state"))
    assert steps == [
        ("create", "", "draft"),
        ("activate", "draft", "active"),
        ("close", "active", "closed"),
    ]
    actions = set(
        AuditEvent.objects.filter(
            target_id=str(campaign.pk), target_type="campaigns.campaign"
        ).values_list("action", flat=True)
    )
    assert actions == {
        "campaigns.campaign.create",
        "campaigns.campaign.activate",
        "campaigns.campaign.close",
    }


def test_a_refused_step_names_the_state_and_what_is_possible(world):
    campaign = world.campaign(activate=False)
    with pytest.raises(workflow.InvalidTransition) as info:
        do_close_campaign(campaign, actor=world.p.county)
    assert "Draft" in str(info.value) and "Start the campaign" in str(info.value)
    campaign = do_activate_campaign(campaign, actor=world.p.county)
    with pytest.raises(workflow.InvalidTransition):
        do_activate_campaign(campaign, actor=world.p.county)
    do_close_campaign(campaign, actor=world.p.county)
    with pytest.raises(workflow.InvalidTransition) as info:
        do_activate_campaign(Campaign.objects.get(pk=campaign.pk), actor=world.p.county)
    assert "Closed" in str(info.value)
    assert CampaignStep.objects.filter(campaign=campaign).count() == 3


def test_a_township_organises_only_within_its_township(world):
    town = world.grid.code[:9]
    own = world.campaign(world.p.lizhou, codes=[town, world.grid.code])
    assert (own.organiser_level, own.region_code, own.scope_codes) == ("town", town, [town])
    with pytest.raises(ActionRefused, match="only within its township"):
        world.campaign(world.p.lizhou, codes=[world.other_grid.code[:9]])
    with pytest.raises(ActionRefused, match="only within its township"):
        world.campaign(world.p.lizhou, codes=[town, world.other_grid.code])
    # fengshan may neither start nor close 梨洲's campaign; the county centre may.
    with pytest.raises(ActionRefused):
        do_close_campaign(own, actor=world.p.fengshan)
    do_close_campaign(own, actor=world.p.county)
    assert not Campaign.objects.filter(region_code=world.other_grid.code[:9]).exists()


@pytest.mark.parametrize("who", ["grid1", "police", "auditor", "outsider"])
def test_only_the_county_and_township_command_rooms_organise(world, who):
    assert organiser_units(getattr(world.p, who)) == []
    with pytest.raises(ActionRefused):
        world.campaign(getattr(world.p, who), activate=False)
    assert not Campaign.objects.exists()


def test_a_campaign_is_validated_field_by_field(world):
    with pytest.raises(ValidationError) as info:
        do_create_campaign(
            actor=world.p.county,
            title=" ",
            category=world.category.parent,
            start=date(2025, 10, 5),
            end=date(2025, 10, 1),
            region_codes=["999999999"],
            checklist=["x" * 101],
        )
    assert set(info.value.message_dict) == {
        "title",
        "category",
        "end",
        "region_codes",
        "checklist",
    }


def test_a_warning_becomes_a_draft_campaign_with_its_source(world):
    campaign = do_create_campaign_from_warning(
        actor=world.p.county,
        title="城区僵尸车集中整治",
        category_code="0101",
        region_codes=["330281001", "330281002"],
        start=date(2025, 10, 1),
        end=date(2025, 10, 31),
        description="研判发现城区僵尸车报告连续七周上升",
        source="warning:0101:330281001",
    )
    assert (campaign.state, campaign.category.code, campaign.source) == (
        "draft",
        "0101",
        "warning:0101:330281001",
    )
    assert campaign.steps.get().note == "warning:0101:330281001"
    with pytest.raises(ValidationError):
        do_create_campaign_from_warning(
            actor=world.p.county,
            title="x",
            category_code="9999",
            region_codes=["330281001"],
            start=date(2025, 10, 1),
            end=date(2025, 10, 31),
            source="warning:1",
        )
    with pytest.raises(ActionRefused):
        do_create_campaign_from_warning(
            actor=world.p.lizhou,
            title="x",
            category_code="0101",
            region_codes=["330281002"],
            start=date(2025, 10, 1),
            end=date(2025, 10, 31),
            source={"warning": 7},
        )


def test_targets_are_added_inside_the_scope_by_those_who_report_there(world):
    campaign = world.campaign(codes=[world.grid.code[:9]])
    target = world.target(campaign, actor=world.p.grid1)
    assert (target.region_code, target.state, target.added_by) == (
        world.grid.code,
        "pending",
        world.p.grid1,
    )
    assert AuditEvent.objects.filter(action="campaigns.target.add").count() == 1
    with pytest.raises(ActionRefused):  # another grid of the township
        world.target(campaign, grid=world.town_grid, actor=world.p.grid1)
    with pytest.raises(ValidationError, match="outside the campaign"):
        world.target(campaign, grid=world.other_grid)
    with pytest.raises(ValidationError, match="type must be one of"):
        world.target(campaign, kind="房屋")
    # a place instead of a grid: the grid is found from the point
    lat, lng = world.point()
    placed = do_add_targets(
        campaign,
        actor=world.p.lizhou,
        rows=[{"kind": "车辆", "label": "面包车", "lat": lat, "lng": lng}],
    )[0]
    assert placed.grid == world.grid and (placed.lat, placed.lng) == (lat, lng)
    do_close_campaign(campaign, actor=world.p.county)
    with pytest.raises(ActionRefused, match="closed"):
        world.target(Campaign.objects.get(pk=campaign.pk))


def test_targets_come_from_a_csv_all_or_nothing(world):
    campaign = world.campaign()
    good = (
        "类型,对象,地址,网格编码\n"
        f"车辆,浙B12345 白色轿车,阳明路1号,{world.grid.code}\n"
        f"车辆,无牌面包车,舜水路2号,{world.other_grid.code}\n"
    )
    targets = do_add_targets_from_csv(campaign, actor=world.p.county, data=good.encode("utf-8-sig"))
    assert [t.region_code for t in targets] == [world.grid.code, world.other_grid.code]
    event = AuditEvent.objects.get(action="campaigns.target.add_many")
    assert event.after["count"] == 2
    bad = f"type,object,grid_code\n车辆,甲,{world.grid.code}\n,乙,123\n车辆,,\n"
    with pytest.raises(ValidationError) as info:
        do_add_targets_from_csv(campaign, actor=world.p.county, data=bad)
    messages = info.value.messages
    assert (
        len(messages) == 2 and messages[0].startswith("Row 2") and messages[1].startswith("Row 3")
    )
    assert CampaignTarget.objects.filter(campaign=campaign).count() == 2
    with pytest.raises(ValidationError, match="header"):
        do_add_targets_from_csv(campaign, actor=world.p.county, data="a,b\n1,2\n")
    with pytest.raises(ActionRefused, match="Row 2"):  # 梨洲 may not add in 凤山
        do_add_targets_from_csv(
            campaign,
            actor=world.p.lizhou,
            data=f"type,object,grid_code\n车辆,甲,{world.grid.code}\n车辆,乙,{world.other_grid.code}\n",
        )
    assert CampaignTarget.objects.filter(campaign=campaign).count() == 2


def test_a_check_without_a_hazard_marks_the_target_checked(world, at):
    campaign = world.campaign()
    target = world.target(campaign)
    at(2025, 10, 10, 10)
    check = do_record_check(
        target,
        actor=world.p.grid1,
        hazard=False,
        answers={"长期停放": False, "占用消防通道": False},
        notes="车主已开走",
        lat=30.05,
        lng=121.15,
    )
    target.refresh_from_db()
    assert target.state == "checked" and check.case is None
    assert check.checked_at == datetime(2025, 10, 10, 10, tzinfo=SHANGHAI)
    assert AuditEvent.objects.filter(action="campaigns.check.record").count() == 1


def test_a_hazard_becomes_a_case_tagged_with_the_campaign(world, at):
    campaign = world.campaign()
    lat, lng = world.point()
    target = world.target(campaign, lat=lat, lng=lng)
    at(2025, 10, 10, 10)
    check = do_record_check(
        target,
        actor=world.p.grid1,
        hazard=True,
        answers={"长期停放": True},
        description="车身积灰、轮胎亏气，停放超过三个月",
    )
    case = Case.objects.get(pk=check.case_id)
    assert case.campaign_check == check
    assert (case.category, case.grid, case.channel, case.level) == (
        world.category,
        world.grid,
        "grid_worker",
        "grid",
    )
    assert case.description == "【城区僵尸车专项整治】车身积灰、轮胎亏气，停放超过三个月"
    assert (case.lat, case.lng, case.address) == (lat, lng, "阳明路1号")


def test_a_refused_case_leaves_no_check_behind(world):
    campaign = world.campaign()
    target = world.target(campaign)
    with pytest.raises(ValidationError) as info:
        do_record_check(target, actor=world.p.grid1, hazard=True, description=" ")
    assert "description" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        do_record_check(
            target, actor=world.p.grid1, hazard=False, answers={"不在清单": True}, lat=1
        )
    assert set(info.value.message_dict) == {"answers", "location"}
    target.refresh_from_db()
    assert target.state == "pending" and not CampaignCheck.objects.exists()


def test_checks_only_while_under_way_and_in_the_checkers_area(world, at):
    campaign = world.campaign(activate=False)
    target = world.target(campaign)
    with pytest.raises(ActionRefused, match="under way"):
        do_record_check(target, actor=world.p.grid1, hazard=False)
    do_activate_campaign(campaign, actor=world.p.county)
    target = CampaignTarget.objects.get(pk=target.pk)
    for who in ["grid2", "fengshan", "auditor", "outsider"]:
        with pytest.raises(ActionRefused):
            do_record_check(target, actor=getattr(world.p, who), hazard=False)
    at(2025, 9, 30, 10)
    with pytest.raises(ValidationError, match="not started"):
        do_record_check(target, actor=world.p.grid1, hazard=False)
    at(2025, 10, 2, 10)
    do_record_check(target, actor=world.p.lizhou, hazard=False)
    do_close_campaign(campaign, actor=world.p.county)
    with pytest.raises(ActionRefused, match="under way"):
        do_record_check(CampaignTarget.objects.get(pk=target.pk), actor=world.p.grid1, hazard=False)
    assert CampaignCheck.objects.count() == 1


def test_workers_see_only_the_targets_in_their_grids(world):
    campaign = world.campaign()
    mine = world.target(campaign, label="甲")
    world.target(campaign, grid=world.town_grid, label="乙")
    theirs = world.target(campaign, grid=world.other_grid, label="丙")
    assert list(my_targets(world.p.grid1)) == [mine]
    assert list(my_targets(world.p.grid2)) == [theirs]
    assert set(targets_visible_to(world.p.lizhou).values_list("label", flat=True)) == {"甲", "乙"}
    assert set(my_targets(world.p.lizhou).values_list("label", flat=True)) == {"甲", "乙"}
    assert not targets_visible_to(world.p.outsider).exists()
    # a draft's targets are nobody's work yet
    draft = world.campaign(activate=False)
    world.target(draft, label="丁")
    assert list(my_targets(world.p.grid1)) == [mine]


def test_campaigns_are_seen_where_they_reach(world):
    county_wide = world.campaign()
    lizhou_own = world.campaign(world.p.lizhou, codes=[world.grid.code[:9]], title="梨洲燃气排查")
    fengshan_own = world.campaign(
        world.p.fengshan, codes=[world.other_grid.code[:9]], title="凤山河道排查"
    )
    seen = {
        who: set(campaigns_visible_to(getattr(world.p, who)).values_list("pk", flat=True))
        for who in ["grid1", "grid2", "lizhou", "county", "auditor", "outsider"]
    }
    assert seen["grid1"] == seen["lizhou"] == {county_wide.pk, lizhou_own.pk}
    assert seen["grid2"] == {county_wide.pk, fengshan_own.pk}
    assert seen["county"] == seen["auditor"] == {county_wide.pk, lizhou_own.pk, fengshan_own.pk}
    assert seen["outsider"] == set()
    access_campaign(world.p.lizhou, lizhou_own.pk)
    from django.http import Http404

    with pytest.raises(Http404):
        access_campaign(world.p.lizhou, fengshan_own.pk)
    with pytest.raises(Http404):
        access_campaign(world.p.lizhou, "abc")
