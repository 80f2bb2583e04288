"""Special campaigns (专项排查) in a browser: the township command room creates and starts a
campaign at its desk and adds a target; the grid worker checks it on a phone and a hazard
becomes a case; the township's progress table shows the check."""

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect  # noqa: E402

from civicgrid.campaigns.workflow import ACTION_LABELS, STATE_LABELS  # noqa: E402
from civicgrid.web.tests.browser.support import zh  # noqa: E402


def _figures(page, area: str) -> list[str]:
    """targets, checked, completion, hazards, rectified, rectification of one progress row."""
    row = page.locator(f"#progress-table tr[data-area='{area}'] td")
    return row.all_inner_texts()[1:]


def test_a_township_creates_a_campaign_and_sees_a_workers_check_in_its_progress(site, people):
    own = site.data["own_grid"]
    seeded = site.data["campaigns"]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    title = "校园周边安全隐患专项排查"

    # The township command room, at its desk: the list shows the county's campaign.
    room = people("lizhou")
    page = room.page
    room.go("/campaigns/")
    expect(page.locator("h1")).to_have_text(zh("Special campaigns"))
    expect(page.locator("#campaigns")).to_contain_text(seeded["title"])
    room.shot("list")

    # A new campaign over grid1's village, with target types and a checklist.
    page.locator("main a[href='/campaigns/new/']").click()
    page.wait_for_url("**/campaigns/new/")
    page.fill("input[name=title]", title)
    page.select_option("select[name=category]", str(seeded["category"]["pk"]))
    page.fill("input[name=start]", today.isoformat())
    page.fill("input[name=end]", (today + timedelta(days=30)).isoformat())
    page.check(f"input[name=areas][value='{own['code'][:12]}']")
    page.fill("textarea[name=target_types]", "学校周边\n周边商铺")
    page.fill("textarea[name=checklist]", "交通秩序\n流动摊贩")
    room.shot("create-form")
    with page.expect_navigation():
        page.locator("#campaign-form button[type=submit]").click()
    assert re.search(r"/campaigns/\d+/$", page.url), page.url
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator("#campaign-state")).to_have_text(zh(STATE_LABELS["draft"]))

    # Started, then a target in grid1's grid added from the page.
    with page.expect_navigation():
        page.get_by_role("button", name=zh(ACTION_LABELS["activate"])).click()
    expect(page.locator("#campaign-state")).to_have_text(zh(STATE_LABELS["active"]))
    page.locator("#add-target summary").click()
    page.select_option("#add-target select[name=kind]", "学校周边")
    page.fill("#add-target input[name=label]", "实验小学南门")
    page.fill("#add-target input[name=address]", "阳明路88号")
    page.select_option("#add-target select[name=grid]", str(own["pk"]))
    with page.expect_navigation():
        page.locator("#add-target button[type=submit]").click()
    expect(page.locator("#target-table")).to_contain_text("实验小学南门")
    assert _figures(page, "total")[:2] == ["1", "0"]
    room.shot("started-with-a-target")

    # The grid worker, on a phone: the target is in "my targets"; the check finds a hazard.
    worker = people("grid1", phone=True, geolocation=own["point"])
    phone = worker.page
    worker.go("/campaigns/my-targets/")
    card = phone.locator("#my-targets li").filter(has_text="实验小学南门")
    expect(card).to_have_count(1)
    expect(phone.locator("#my-targets")).to_contain_text(seeded["pending"])
    assert worker.fits_the_screen()
    worker.shot("my-targets")
    card.get_by_role("link").click()
    phone.wait_for_url(re.compile(r"/campaigns/targets/\d+/check/$"))
    phone.select_option("select[name=item_0]", "yes")
    phone.select_option("select[name=item_1]", "no")
    expect(phone.locator("#field-description")).to_be_hidden()
    phone.check("input[name=hazard][value=yes]")
    expect(phone.locator("#field-description")).to_be_visible()
    phone.fill("textarea[name=description]", "放学时段校门口流动摊贩售卖三无食品")
    phone.click("#use-location")
    expect(phone.locator("input[name=lat]")).to_have_value(re.compile(r"^\d+\.\d+$"))
    assert worker.fits_the_screen()
    worker.shot("check-form")
    with phone.expect_navigation():
        phone.locator("#check-form button[type=submit]").click()
    link = phone.locator("#case-link")
    expect(link).to_be_visible()
    code = link.inner_text().strip()
    assert re.fullmatch(r"\d{6}-\d{8}-\d{5}", code), code
    assert worker.fits_the_screen()
    worker.shot("check-recorded")
    link.click()
    phone.wait_for_url(f"**/cases/{code}/")
    expect(phone.locator("h1 code")).to_have_text(code)
    expect(phone.locator("main")).to_contain_text(f"【{title}】")
    worker.shot("case")

    # Back at the desk: the progress table shows the check and the hazard, per grid too.
    page.reload()
    assert _figures(page, "total") == ["1", "1", "100.0%", "1", "0", "0.0%"]
    page.select_option("select[name=by]", "grid")
    with page.expect_navigation():
        page.locator("#progress form button[type=submit]").click()
    assert _figures(page, own["code"])[:4] == ["1", "1", "100.0%", "1"]
    room.shot("progress")

    # The progress table as CSV, with the same figures.
    with page.expect_download() as download:
        page.locator("#progress a[href*='progress.csv']").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert rows[1][0] == own["code"] and rows[1][2:6] == ["1", "1", "1", "0"]
