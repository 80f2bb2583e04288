"""A grid worker's visit on a phone: the due list nearest first, the visit with its checklist,
a photo and notes, and a problem found raised as a case in the same tap."""

import re

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect  # noqa: E402

from civicgrid.web.tests.browser.support import jpeg, zh  # noqa: E402


def test_a_grid_worker_completes_a_due_visit_and_raises_a_case(site, people):
    seeded = site.data["inspection"]
    category = site.data["category"]
    grid1 = people("grid1", phone=True, geolocation=seeded["house"])
    page = grid1.page

    # The due list asks where the worker stands and lists the nearest first.
    grid1.go("/visits/due/")
    page.wait_for_url(re.compile(r"lat=[\d.]+&lng=[\d.]+"))
    expect(page.locator("#due-where")).to_have_attribute("data-located", "1")
    cards = page.locator("ol.due-list > li")
    expect(cards.first).to_contain_text("0" + zh("%(m)d m").replace("%(m)d", ""))
    mine = cards.filter(has_text=seeded["name"])
    expect(mine).to_have_count(1)
    assert grid1.fits_the_screen()
    grid1.shot("due-list")

    # The visit: person seen, the rule's checklist, notes, a photo, GPS, a problem found.
    mine.locator(f"a[href='/visits/record/{seeded['person']}/']").click()
    page.wait_for_url(f"**/visits/record/{seeded['person']}/")
    expect(page.locator("h1")).to_have_text(zh("Record a visit"))
    expect(page.locator("input[name=lat]")).to_have_value(re.compile(r"^\d+\.\d+$"))
    page.check("input[name=outcome][value=seen]")
    page.select_option("select[name=answer_0]", "normal")
    page.select_option("select[name=answer_1]", "attention")
    page.select_option("select[name=answer_2]", "normal")
    page.fill("textarea[name=notes]", "老人精神尚可，厨房电线老化")
    page.set_input_files(
        "input[name=photos]",
        files=[{"name": "IMG_0100.jpg", "mimeType": "image/jpeg", "buffer": jpeg("olive")}],
    )
    page.fill("textarea[name=description]", "厨房电线老化裸露，存在用电安全隐患")
    expect(page.locator("input[name=found_problem]")).to_be_checked()  # typing ticks it
    page.select_option("select[name=category]", str(category["pk"]))
    assert grid1.fits_the_screen()
    grid1.shot("visit-form")
    with page.expect_navigation():
        page.locator("#visit-form button[type=submit]").click()

    # The visit page: the case raised, its code linking to the case page, the photo.
    assert re.search(r"/visits/\d+/$", page.url), page.url
    visit_url = page.url
    expect(page.locator(".messages .success")).to_have_count(2)
    link = page.locator(".case-raised a[href^='/cases/']")
    expect(link).to_have_count(1)
    code = link.inner_text().strip()
    expect(page.locator(".messages")).to_contain_text(code)
    expect(page.locator("img.thumb")).to_have_count(1)
    assert page.locator("img.thumb").evaluate("img => img.naturalWidth") > 0
    expect(page.locator("main")).to_contain_text(zh("Needs attention"))
    assert grid1.fits_the_screen()
    grid1.shot("visit")

    # The case exists, carries the visit's description and photo, and is the visit's.
    link.click()
    page.wait_for_url(f"**/cases/{code}/")
    expect(page.locator("h1 code")).to_have_text(code)
    expect(page.locator("main")).to_contain_text("厨房电线老化裸露")
    expect(page.locator("ol.timeline a[href*='/attachments/']")).to_have_count(1)
    grid1.shot("case")

    # Done: the visit has left the due list.
    grid1.go("/visits/due/?when=week&lat={}&lng={}".format(*seeded["house"]))
    expect(page.locator("ol.due-list > li").filter(has_text=seeded["name"])).to_have_count(0)
    grid1.shot("due-list-after")
    grid1.go(visit_url.removeprefix(site.url))
    expect(page.locator(".case-raised")).to_contain_text(code)


def test_a_grid_worker_records_a_walk_and_sees_the_coverage(site, people):
    seeded = site.data["inspection"]
    grid1 = people("grid1", phone=True, geolocation=seeded["house"])
    page = grid1.page
    grid1.go("/patrols/new/")
    expect(page.locator("h1")).to_have_text(zh("Record a walk"))
    page.click("#patrol-start")
    expect(page.locator("input[name=started_at]")).to_have_value(re.compile(r"^\d{4}-\d\d-\d\dT"))
    expect(page.locator("#patrol-points")).not_to_have_text("0")  # the phone's GPS, followed
    boxes = page.locator("input[name=houses]")
    assert boxes.count() >= 2
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#patrol-stop")
    expect(page.locator("input[name=ended_at]")).to_have_value(re.compile(r"^\d{4}-\d\d-\d\dT"))
    assert grid1.fits_the_screen()
    grid1.shot("walk-form")
    with page.expect_navigation():
        page.locator("#patrol-form button[type=submit]").click()
    expect(page.locator(".messages .success")).to_be_visible()
    expect(page.locator("main table tbody tr").first).to_contain_text(site.data["own_grid"]["code"])
    grid1.shot("walks")

    # Coverage this month: the worker's own grid, two of its houses walked at least.
    grid1.go("/visits/compliance/coverage/?by=grid")
    row = page.locator("main table tbody tr").filter(has_text=site.data["own_grid"]["code"])
    expect(row).to_have_count(1)
    covered = int(row.locator("td").nth(3).inner_text())
    assert covered >= 2
    assert grid1.fits_the_screen()
    grid1.shot("coverage")
    grid1.go("/visits/compliance/?by=worker")
    expect(page.locator("main table tbody tr").first).not_to_have_class("muted")
    grid1.shot("compliance")
