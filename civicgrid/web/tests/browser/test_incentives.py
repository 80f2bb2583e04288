"""A high-value report rewarded: the grid worker nominates on a phone, the township command room
reviews, the county centre approves, and the reward shows in the worker's own list."""

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect  # noqa: E402


def test_nomination_review_approval_and_my_rewards(site, people):
    seeded = site.data["incentives"]
    code = seeded["case"]

    # The grid worker who closed the case nominates it from a phone.
    grid1 = people("grid1", phone=True)
    page = grid1.page
    grid1.go(f"/incentives/nominate/?code={code}")
    expect(page.locator("main section.card h2")).to_have_text(code)
    page.select_option("select[name=tier]", str(seeded["tier"]))
    page.fill("input[name=amount]", "5000")  # above the tier: refused with the range
    page.fill("textarea[name=evidence]", "清除液化气钢瓶12只，消除了重大火灾隐患")
    page.locator("main form[method=post] button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("200")
    expect(page.locator("main")).to_contain_text("1000")
    page.fill("input[name=amount]", "600")
    with page.expect_navigation():
        page.locator("main form[method=post] button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text(code)
    expect(page.locator("main")).to_contain_text("待镇街审核")
    assert grid1.fits_the_screen()
    grid1.shot("nominated")

    # The township command room finds it in its queue and passes it.
    lizhou = people("lizhou")
    lizhou.go("/incentives/queue/review/")
    lizhou.page.locator(f"main table a:text-is('{code}')").click()
    expect(lizhou.page.locator("h1")).to_contain_text(code)
    lizhou.page.locator("form:has(input[name=do][value=review]) input[name=text]").fill(
        "经核实属实"
    )
    with lizhou.page.expect_navigation():
        lizhou.page.locator("form:has(input[name=do][value=review]) button").click()
    expect(lizhou.page.locator("main")).to_contain_text("待县级审批")
    lizhou.shot("reviewed")

    # The county centre approves a smaller amount within the tier.
    county = people("county")
    county.go("/incentives/queue/approval/")
    county.page.locator(f"main table a:text-is('{code}')").click()
    county.page.locator("form:has(input[name=do][value=approve]) input[name=amount]").fill("500")
    with county.page.expect_navigation():
        county.page.locator("form:has(input[name=do][value=approve]) button").click()
    expect(county.page.locator("main")).to_contain_text("已批准")
    expect(county.page.locator("main table")).to_contain_text("500")
    county.shot("approved")

    # The worker sees the reward in their own list.
    grid1.go("/incentives/me/")
    expect(page.locator("main table")).to_contain_text(code)
    expect(page.locator(".stats")).to_contain_text("500")
    assert grid1.fits_the_screen()
    grid1.shot("my-rewards")
