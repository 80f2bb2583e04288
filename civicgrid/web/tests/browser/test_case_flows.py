"""The closed loop 派—办—馈—评 in a real browser, as the people who do it click through it."""

import re

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect  # noqa: E402

from civicgrid.cases.workflow import ACTION_LABELS, STATE_LABELS  # noqa: E402
from civicgrid.web.tests.browser.support import jpeg, zh  # noqa: E402


def _labels(*actions: str) -> list[str]:
    return [zh(ACTION_LABELS[a]) for a in actions]


def _in_order(wanted: list[str], seen: list[str]) -> bool:
    steps = iter(seen)
    return all(any(label == step for step in steps) for label in wanted)


def _case_link(person, code):
    return person.page.locator(f"a[href='/cases/{code}/']").first


def test_it_closes_the_loop_from_a_phone_report_to_the_evaluation(site, people):
    data = site.data
    town_police = data["departments"]["330281001-public_security"]
    neighbour = data["neighbour_grid"]

    # A grid worker on patrol in the next grid reports from the phone: photo, GPS, category.
    grid1 = people("grid1", phone=True, geolocation=neighbour["point"])
    page = grid1.page
    grid1.go("/")
    expect(page.locator("h1")).to_have_text(zh("Grid worker"))
    grid1.shot("workbench")
    page.locator("main a[href='/report/']").click()
    page.wait_for_url("**/report/")
    page.fill(
        "textarea[name=description]", "竹山村路口一辆无牌面包车停放两个多月，车身积灰，轮胎瘪了"
    )
    page.fill("#category-search", "僵尸车")
    offered = page.locator("select[name=category] option:not([hidden])")
    expect(offered).to_have_count(2)  # the empty choice and the one that matches
    page.select_option("select[name=category]", str(data["category"]["pk"]))
    page.set_input_files(
        "input[name=photo]",
        files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": jpeg("gray")}],
    )
    page.click("#use-location")
    expect(page.locator("input[name=lat]")).to_have_value(re.compile(r"^\d+\.\d+$"))
    expect(page.locator("#location-status")).to_contain_text(f"{neighbour['point'][0]:.6f}")
    assert grid1.fits_the_screen()
    grid1.shot("report-filled")
    with page.expect_navigation():
        page.locator("#report-form button[type=submit]").click()
    code = re.search(r"/cases/([^/]+)/$", page.url).group(1)
    expect(page.locator(".messages .success")).to_contain_text(code)
    # Outside the worker's own grid: the township command room owns it, unaccepted.
    card = page.locator("main section.card").first
    expect(card).to_contain_text(neighbour["name"])
    expect(card).to_contain_text("330281001")
    assert grid1.state() == zh(STATE_LABELS["reported"])
    expect(page.locator("ol.timeline a[href*='/attachments/']")).to_have_count(1)
    assert grid1.actions() == []  # the worker reported it; the command room acts on it
    assert grid1.fits_the_screen()
    grid1.shot("reported")

    # The township command room finds it in its intake queue, accepts and dispatches it.
    room = people("lizhou")
    room.go("/")
    expect(room.page.locator("h1")).to_have_text(zh("Township command room"))
    room.shot("workbench")
    room.go("/cases/?queue=intake")
    expect(_case_link(room, code)).to_be_visible()
    room.shot("intake-queue")
    _case_link(room, code).click()
    room.page.wait_for_url(f"**/cases/{code}/")
    assert {"accept", "reject", "merge"} <= set(room.actions())
    room.act("accept", shot="accept")
    # The dispatch form suggests the category's department: the township police station.
    lead = room.page.locator("select[name=dispatch-lead]")
    expect(lead).to_have_value(str(town_police["pk"]))
    room.act("dispatch", shot="dispatch", text="请派出所核查车辆信息并依法处置")
    assert room.state() == zh(STATE_LABELS["dispatched"])

    # The police station signs for it, asks for more time, and reports back with a photo.
    police = people("lz-police")
    police.go("/")
    expect(police.page.locator("h1")).to_have_text(zh("Department inbox"))
    expect(_case_link(police, code)).to_be_visible()
    police.shot("inbox")
    police.open_case(code)
    police.act("sign", shot="sign")
    police.act(
        "request_extension",
        shot="request-extension",
        days="3",
        reason="车主电话停机，需张贴公告七日后方可拖移",
    )
    room.open_case(code)
    room.act("decide_extension", shot="extension-approved", approve="1", text="同意延期")
    police.open_case(code)
    police.act(
        "feedback",
        shot="feedback",
        text="公告期满，已将车辆拖移至停车场，现场恢复通行",
        photo=jpeg("darkgreen"),
    )
    assert police.state() == zh(STATE_LABELS["feedback"])

    # The command room verifies and closes; the reporter evaluates on the phone.
    room.open_case(code)
    room.act("verify_pass", shot="verified", text="现场核查，车辆已拖离")
    assert room.state() == zh(STATE_LABELS["closed"])
    grid1.open_case(code)
    grid1.act("evaluate", shot="evaluated", satisfaction="satisfied", comment="处理及时")
    assert grid1.state() == zh(STATE_LABELS["archived"])
    steps = grid1.timeline()
    assert _in_order(
        _labels(
            "report",
            "accept",
            "dispatch",
            "sign",
            "request_extension",
            "decide_extension",
            "feedback",
            "verify_pass",
            "evaluate",
        ),
        steps,
    ), steps
    expect(grid1.page.locator("ol.timeline a[href*='/attachments/']")).to_have_count(2)
    assert grid1.fits_the_screen()


def test_it_returns_a_case_and_forces_a_dispatch(site, people):
    code = site.data["cases"]["return"]
    departments = site.data["departments"]
    police_pk = str(departments["330281001-public_security"]["pk"])
    law = departments["330281001-law_enforcement"]

    room = people("lizhou")
    room.open_case(code)
    room.act("accept")
    room.act("dispatch", lead=police_pk, assisting=[], text="请派出所处置")

    # The police station says it is not theirs; the command room agrees and re-dispatches.
    police = people("lz-police")
    police.open_case(code)
    assert set(police.actions()) >= {"sign", "request_return"}
    police.act(
        "request_return",
        shot="request-return",
        reason="not_our_duty",
        text="车辆停放于小区内部道路，不属于公安交通管理范围",
    )
    assert police.state() == zh(STATE_LABELS["return_requested"])
    room.open_case(code)
    room.act("approve_return", shot="return-approved", text="同意退回，改派综合执法")
    assert room.state() == zh(STATE_LABELS["accepted"])
    room.act("dispatch", lead=str(law["pk"]), assisting=[], text="请综合执法中队处置")

    # Law enforcement asks to return it too; this time the command room refuses (强制派发).
    enforcement = people("lz-law")
    enforcement.open_case(code)
    enforcement.act(
        "request_return",
        shot="request-return",
        reason="overlapping_duties",
        text="涉及车辆权属认定，建议由公安处置",
    )
    room.open_case(code)
    room.act("reject_return", shot="forced-dispatch", text="经研判属于贵单位职责，请予办理")
    assert room.state() == zh(STATE_LABELS["dispatched"])
    departments_table = room.page.locator("main section.card", has_text=law["name"])
    expect(departments_table).to_contain_text(zh("forced dispatch"))

    # A forced dispatch cannot be returned again: the department signs for it.
    enforcement.open_case(code)
    assert "request_return" not in enforcement.actions()
    enforcement.act("sign", shot="signed")
    assert enforcement.state() == zh(STATE_LABELS["in_progress"])
    assert _in_order(
        _labels("dispatch", "request_return", "approve_return", "dispatch", "request_return")
        + _labels("reject_return", "sign"),
        enforcement.timeline(),
    )


def test_it_escalates_to_the_county_and_answers_a_red_card(site, people):
    data = site.data
    county_police = data["departments"]["330281-public_security"]

    # A 12345 call taken by the township command room at its desk.
    room = people("lizhou")
    room.go("/report/")
    page = room.page
    page.fill("textarea[name=description]", "梨洲街道多处道路长期停放废弃车辆，居民多次反映未果")
    page.select_option("select[name=category]", str(data["category"]["pk"]))
    page.select_option("select[name=grid]", str(data["own_grid"]["pk"]))
    page.select_option("select[name=channel]", "hotline_12345")
    page.fill("input[name=address]", "梨洲街道竹山村村口")
    room.shot("report-filled")
    with page.expect_navigation():
        page.locator("#report-form button[type=submit]").click()
    code = re.search(r"/cases/([^/]+)/$", page.url).group(1)
    room.act("accept")
    room.act("escalate", shot="escalate", reason="涉及多个村，街道无法协调，提请县级中心处置")
    assert "330281" in page.locator("main section.card").first.locator("dd code").all_inner_texts()
    assert not {"dispatch", "escalate", "handle"} & set(room.actions())  # the county's now

    # The county centre sees it among the escalated cases and dispatches the county police.
    centre = people("county")
    centre.go("/cases/?queue=escalated")
    expect(_case_link(centre, code)).to_be_visible()
    centre.shot("escalated-queue")
    centre.open_case(code)
    centre.act(
        "dispatch", shot="dispatch", lead=str(county_police["pk"]), text="请市公安局牵头处置"
    )

    police = people("police")
    police.open_case(code)
    police.act("sign")

    # The leader issues a red card; the police answer the supervision feedback sheet.
    leader = people("leader")
    leader.open_case(code)
    leader.act("supervise", shot="red-card", level="3", reason="群众多次反映，红牌督办，限期办结")
    expect(leader.page.locator("main")).to_contain_text(zh("Red card"))
    police.open_case(code)
    police.act(
        "answer_supervision",
        shot="answer",
        answer="已成立专班，三日内完成全部废弃车辆清理",
    )
    police.page.locator("a[href*='/supervision/']").first.click()
    police.page.wait_for_url("**/print/")
    sheet = police.page.locator("table.sheet")
    expect(sheet).to_contain_text("群众多次反映，红牌督办，限期办结")
    expect(sheet).to_contain_text("已成立专班，三日内完成全部废弃车辆清理")
    police.shot("supervision-sheet")
