"""The campaign pages over HTTP: list, create, progress, targets, a worker's check, exports."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from civicgrid.campaigns.actions import do_record_check
from civicgrid.campaigns.models import Campaign, CampaignCheck, CampaignTarget


def _client(user, language="en"):
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_a_township_creates_a_campaign_in_its_township_from_the_form(world):
    client = _client(world.p.lizhou)
    page = client.get(reverse("campaign_create"))
    assert page.status_code == 200 and world.grid.code[:12] in page.content.decode()
    # a village of another township is not on offer, and a forged one is refused
    assert world.other_grid.code[:12] not in page.content.decode()
    form = {
        "title": "梨洲出租房消防隐患排查",
        "category": world.category.pk,
        "start": "2025-10-01",
        "end": "2025-10-31",
        "areas": [],
        "grid_codes": f"{world.grid.code}, {world.town_grid.code}",
        "target_types": "出租房\n群租房",
        "checklist": "灭火器\n私拉电线",
        "organiser": world.grid.code[:9],
    }
    response = client.post(reverse("campaign_create"), form)
    assert response.status_code == 302, response.content.decode()[-1500:]
    campaign = Campaign.objects.get(title="梨洲出租房消防隐患排查")
    assert campaign.scope_codes == sorted([world.grid.code, world.town_grid.code])
    assert campaign.checklist == ["灭火器", "私拉电线"] and campaign.state == "draft"
    forged = client.post(
        reverse("campaign_create"),
        {**form, "areas": [], "grid_codes": world.other_grid.code, "title": "越界"},
    )
    assert forged.status_code == 200
    assert "only within its township" in forged.content.decode()
    bad = client.post(reverse("campaign_create"), {**form, "end": "2025-09-01", "title": "倒序"})
    assert bad.status_code == 200 and "ends before it starts" in bad.content.decode()
    assert not Campaign.objects.filter(title__in=["越界", "倒序"]).exists()
    # starting it from its page
    response = client.post(reverse("campaign_act", args=[campaign.pk, "activate"]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == "active"
    again = client.post(reverse("campaign_act", args=[campaign.pk, "activate"]), follow=True)
    assert "is not possible" in again.content.decode()


def test_workers_and_departments_cannot_open_the_create_form(world):
    for who in ["grid1", "police", "auditor"]:
        assert _client(getattr(world.p, who)).get(reverse("campaign_create")).status_code == 404
    assert Client().get(reverse("campaign_list")).status_code == 302  # login first


def test_the_campaign_page_shows_progress_and_targets_in_scope(world):
    campaign = world.campaign()
    a = world.target(campaign, label="梨洲甲车")
    world.target(campaign, grid=world.other_grid, label="凤山乙车")
    check = do_record_check(a, actor=world.p.grid1, hazard=True, description="僵尸车")
    county = _client(world.p.county).get(reverse("campaign_detail", args=[campaign.pk]))
    body = county.content.decode()
    assert county.status_code == 200
    assert "梨洲甲车" in body and "凤山乙车" in body and "Close the campaign" in body
    lizhou = _client(world.p.lizhou).get(
        reverse("campaign_detail", args=[campaign.pk]), {"by": "grid"}
    )
    body = lizhou.content.decode()
    assert "梨洲甲车" in body and "凤山乙车" not in body
    assert f'data-area="{world.grid.code}"' in body and "Close the campaign" not in body
    assert "50.0%" not in body and "100.0%" in body  # one target, checked
    assert check.case.code  # the case exists; the page stays within 梨洲's figures
    assert _client(world.p.lizhou).get(reverse("campaign_detail", args=[99999])).status_code == 404
    assert (
        _client(world.p.lizhou).get(reverse("campaign_detail", args=[campaign.pk]), {"by": "x"})
    ).status_code == 200
    chinese = _client(world.p.lizhou, "zh-hans").get(reverse("campaign_detail", args=[campaign.pk]))
    assert "整改率" in chinese.content.decode()


def test_progress_and_targets_export_as_csv_and_excel(world):
    from openpyxl import load_workbook

    campaign = world.campaign()
    a = world.target(campaign, label="甲")
    world.target(campaign, grid=world.other_grid, label="乙")
    do_record_check(a, actor=world.p.grid1, hazard=True, description="僵尸车")
    client = _client(world.p.county)
    rows = _csv(client.get(reverse("campaign_progress_export", args=[campaign.pk, "csv"])))
    assert rows[0][:3] == ["area code", "area", "targets"]
    figures = {r[0]: r[2:6] for r in rows[1:]}
    assert figures[world.grid.code[:9]] == ["1", "1", "1", "0"]
    assert figures[world.other_grid.code[:9]] == ["1", "0", "0", "0"]
    assert figures["overall"] == ["2", "1", "1", "0"]
    response = client.get(
        reverse("campaign_progress_export", args=[campaign.pk, "xlsx"]), {"by": "grid"}
    )
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.values)
    assert values[1][0] == world.grid.code and values[-1][0] == "overall"
    targets = _csv(client.get(reverse("campaign_targets_export", args=[campaign.pk, "csv"])))
    assert sorted(r[1] for r in targets[1:]) == ["乙", "甲"]
    listing = _csv(client.get(reverse("campaign_export", args=["csv"])))
    assert listing[1][0] == "城区僵尸车专项整治" and listing[1][6:10] == ["2", "1", "1", "0"]
    assert client.get(reverse("campaign_export", args=["pdf"])).status_code == 404
    # 梨洲 exports only its own rows
    own = _csv(
        _client(world.p.lizhou).get(reverse("campaign_targets_export", args=[campaign.pk, "csv"]))
    )
    assert [r[1] for r in own[1:]] == ["甲"]


def test_targets_are_added_on_the_page_one_by_one_and_from_a_file(world):
    campaign = world.campaign()
    client = _client(world.p.lizhou)
    response = client.post(
        reverse("campaign_add_target", args=[campaign.pk]),
        {"kind": "车辆", "label": "红色轿车", "address": "梨洲路3号", "grid": world.grid.pk},
    )
    assert response.status_code == 302
    assert CampaignTarget.objects.filter(label="红色轿车", region_code=world.grid.code).exists()
    # a grid of another township is not a choice for 梨洲
    bad = client.post(
        reverse("campaign_add_target", args=[campaign.pk]),
        {"kind": "车辆", "label": "x", "grid": world.other_grid.pk},
    )
    assert bad.status_code == 200 and not CampaignTarget.objects.filter(label="x").exists()
    upload = io.BytesIO(
        f"类型,对象,地址,网格编码\n车辆,甲,一号,{world.grid.code}\n车辆,乙,二号,{world.town_grid.code}\n".encode()
    )
    upload.name = "targets.csv"
    response = client.post(reverse("campaign_import_targets", args=[campaign.pk]), {"file": upload})
    assert response.status_code == 302
    assert CampaignTarget.objects.filter(campaign=campaign).count() == 3
    broken = io.BytesIO("类型,对象,网格编码\n车辆,丙,000\n".encode())
    broken.name = "broken.csv"
    response = client.post(reverse("campaign_import_targets", args=[campaign.pk]), {"file": broken})
    assert response.status_code == 200 and "no grid has the code 000" in response.content.decode()
    assert CampaignTarget.objects.filter(campaign=campaign).count() == 3


def test_a_worker_checks_a_target_and_sees_the_case_code(world):
    campaign = world.campaign()
    mine = world.target(campaign, label="白色轿车")
    world.target(campaign, grid=world.other_grid, label="别人的车")
    client = _client(world.p.grid1)
    listing = client.get(reverse("campaign_my_targets")).content.decode()
    assert "白色轿车" in listing and "别人的车" not in listing
    page = client.get(reverse("campaign_target_check", args=[mine.pk]))
    assert page.status_code == 200 and "长期停放" in page.content.decode()
    missing = client.post(
        reverse("campaign_target_check", args=[mine.pk]), {"hazard": "yes", "description": ""}
    )
    assert missing.status_code == 200 and not CampaignCheck.objects.exists()
    response = client.post(
        reverse("campaign_target_check", args=[mine.pk]),
        {
            "item_0": "yes",
            "item_1": "no",
            "hazard": "yes",
            "description": "停放半年，车身积灰",
            "lat": "30.05",
            "lng": "121.15",
        },
    )
    check = CampaignCheck.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaign_check_detail", args=[check.pk])
    assert check.answers == {"长期停放": True, "占用消防通道": False}
    assert (check.lat, check.lng, check.hazard) == (30.05, 121.15, True)
    result = client.get(response["Location"]).content.decode()
    assert check.case.code in result and reverse("case_detail", args=[check.case.code]) in result
    assert client.get(reverse("case_detail", args=[check.case.code])).status_code == 200
    # after the check the target is no longer pending
    assert "白色轿车" not in client.get(reverse("campaign_my_targets")).content.decode()
    assert (
        "白色轿车"
        in client.get(reverse("campaign_my_targets"), {"state": "checked"}).content.decode()
    )
    # another grid's worker cannot open it; a bad id is a 404
    other = _client(world.p.grid2)
    assert other.get(reverse("campaign_target_check", args=[mine.pk])).status_code == 404
    assert other.get(reverse("campaign_check_detail", args=[check.pk])).status_code == 404
    exported = _csv(client.get(reverse("campaign_my_targets_export", args=["csv"])))
    assert [r[2] for r in exported[1:]] == ["白色轿车"]


@pytest.mark.parametrize("name", ["campaign_list", "campaign_my_targets"])
def test_pages_speak_chinese(world, name):
    world.campaign()
    body = _client(world.p.grid1, "zh-hans").get(reverse(name)).content.decode()
    assert "专项" in body or "排查" in body


def test_bad_input_is_refused_without_errors(world):
    campaign = world.campaign()
    target = world.target(campaign)
    client = _client(world.p.county)
    assert client.post(reverse("campaign_act", args=[campaign.pk, "explode"])).status_code == 404
    assert client.get(reverse("campaign_act", args=[campaign.pk, "close"])).status_code == 405
    assert (
        client.get(reverse("campaign_progress_export", args=[campaign.pk, "pdf"])).status_code
        == 404
    )
    assert (
        client.get(reverse("campaign_detail", args=[campaign.pk]), {"page": "x"}).status_code == 200
    )
    assert client.get(reverse("campaign_target_check", args=[999999])).status_code == 404
    junk = io.BytesIO(b"\xff\xfe\x00\x81\x82" * 10)
    junk.name = "junk.csv"
    response = client.post(reverse("campaign_import_targets", args=[campaign.pk]), {"file": junk})
    assert response.status_code == 200
    worker = _client(world.p.grid1)
    half = worker.post(
        reverse("campaign_target_check", args=[target.pk]), {"hazard": "no", "lat": "30"}
    )
    assert half.status_code == 200 and "incomplete" in half.content.decode()
    client.post(reverse("campaign_act", args=[campaign.pk, "close"]))
    closed = worker.get(reverse("campaign_target_check", args=[target.pk])).content.decode()
    assert "not under way" in closed and 'id="check-form"' not in closed
    refused = worker.post(reverse("campaign_target_check", args=[target.pk]), {"hazard": "no"})
    assert refused.status_code == 200 and not CampaignCheck.objects.exists()


def test_the_main_pages_use_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    from civicgrid.campaigns.actions import do_add_targets

    campaign = world.campaign()
    rows = [
        {"kind": "车辆", "label": f"车{n}", "grid": grid}
        for n in range(30)
        for grid in (world.grid, world.other_grid, world.town_grid)
    ]
    targets = do_add_targets(campaign, actor=world.p.county, rows=rows)
    for target in targets[:6]:
        do_record_check(target, actor=world.p.county, hazard=True, description="僵尸车")
    world.campaign(title="第二个专项")
    client = _client(world.p.county)
    with django_assert_max_num_queries(20):
        assert (
            client.get(reverse("campaign_detail", args=[campaign.pk]), {"by": "grid"}).status_code
            == 200
        )
    with django_assert_max_num_queries(12):
        assert client.get(reverse("campaign_list")).status_code == 200
    worker = _client(world.p.grid1)
    with django_assert_max_num_queries(10):
        assert worker.get(reverse("campaign_my_targets")).status_code == 200
