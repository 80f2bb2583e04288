"""The grouped menu in a real browser: a drop-down on a laptop, a row that opens in place on a
phone; one group open at a time; a click on a page in a group goes there."""

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect  # noqa: E402

from civicgrid.web.tests.browser.support import zh  # noqa: E402


def test_county_operator_finds_the_pages_under_their_groups(site, people):
    county = people("county")
    page = county.page
    page.set_viewport_size({"width": 1366, "height": 768})
    county.go("/")
    menu = page.locator("header nav")
    analysis = menu.locator("details.nav-group", has_text=zh("Analysis"))
    system = menu.locator("details.nav-group", has_text=zh("System"))
    cockpit = analysis.locator("a[href='/cockpit/']")

    # The menu is one line at 1366 px, and the pages in a group are hidden until it opens.
    tops = page.evaluate(
        "[...document.querySelectorAll('header nav > a, header nav > details > summary')]"
        ".map(e => Math.round(e.getBoundingClientRect().top))"
    )
    assert max(tops) - min(tops) < 8, tops
    expect(cockpit).to_be_hidden()
    analysis.locator("summary").click()
    expect(cockpit).to_be_visible()
    county.shot("analysis-open")

    # Opening another group closes the first; Escape closes all.
    system.locator("summary").click()
    expect(system.locator("a[href='/grids/']")).to_be_visible()
    expect(cockpit).to_be_hidden()
    page.keyboard.press("Escape")
    expect(system.locator("a[href='/grids/']")).to_be_hidden()

    analysis.locator("summary").click()
    with page.expect_navigation():
        cockpit.click()
    assert page.url.endswith("/cockpit/")
    expect(menu.locator("details.nav-group[data-current] summary")).to_have_text(zh("Analysis"))

    # On a phone the group opens in place, in the row that scrolls sideways.
    page.set_viewport_size({"width": 360, "height": 740})
    county.go("/")
    analysis.locator("summary").click()
    kpis = analysis.locator("a[href='/analytics/kpis/']")
    kpis.scroll_into_view_if_needed()
    expect(kpis).to_be_visible()
    county.shot("phone-analysis-open")
    with page.expect_navigation():
        kpis.click()
    assert page.url.endswith("/analytics/kpis/")
