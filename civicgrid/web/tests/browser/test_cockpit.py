"""The county leader's cockpit on a wall display (1920×1080), a laptop (1366×768) and a phone:
one screen without scrolling, the map and the trend drawn, and a click-through from the county to
a township, a village, a grid and the list of its cases."""

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect  # noqa: E402

from civicgrid.web.tests.browser.support import zh  # noqa: E402


def _drawn(page):
    expect(page.locator("#cp-map")).to_have_attribute("data-ready", "1")
    expect(page.locator("#cp-trend")).to_have_attribute("data-ready", "1")
    expect(page.locator("#cp-trend canvas")).to_have_count(1)


def _no_scrolling(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollHeight <= window.innerHeight + 1"
        " && document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_county_leader_clicks_from_the_county_to_the_cases(site, people):
    seeded = site.data["cockpit"]
    leader = people("leader")
    page = leader.page

    for name, width, height in [("wall", 1920, 1080), ("laptop", 1366, 768)]:
        page.set_viewport_size({"width": width, "height": height})
        leader.go("/cockpit/")
        _drawn(page)
        expect(page.locator("h1")).to_contain_text(zh("Cockpit"))
        expect(page.locator("[data-number=overdue] b")).not_to_have_text("0")
        assert _no_scrolling(page), f"{name}: the cockpit does not fit {width}×{height}"
        leader.shot(name)

    # Refreshing (by itself every five minutes, or now) replaces the panels in place.
    page.evaluate("document.getElementById('cp-numbers').dataset.stale = '1'")
    page.locator("[data-refresh]").click()
    expect(page.locator("#cp-numbers[data-stale]")).to_have_count(0)
    expect(page.locator("[data-cockpit]")).not_to_have_attribute("data-refreshing", "1")
    expect(page.locator("[data-number=overdue] b")).not_to_have_text("0")
    _drawn(page)

    # The map by village, coloured by the overdue cases; the open cases as points.
    page.select_option("[data-map-level]", "village")
    page.select_option("[data-map-measure]", "overdue")
    expect(page.locator("#cp-map")).to_have_attribute("data-ready", "1")
    expect(page.locator("#cp-map .cp-legend")).to_be_visible()
    leader.shot("map-villages-overdue")

    # County → township → village → grid → the list of the grid's cases: the same screen.
    page.locator("#cp-children a", has_text=seeded["town"]["name"]).click()
    expect(page.locator(".trail b")).to_have_text(seeded["town"]["name"])
    _drawn(page)
    page.locator("#cp-children a", has_text=seeded["village"]["name"]).click()
    expect(page.locator(".trail b")).to_have_text(seeded["village"]["name"])
    _drawn(page)
    leader.shot("village")
    page.locator("#cp-children a", has_text=seeded["grid"]["name"]).click()
    expect(page.locator(".trail b")).to_have_text(seeded["grid"]["name"])
    _drawn(page)
    expect(page.locator("#cp-children")).to_contain_text(seeded["newest"])
    assert _no_scrolling(page)
    leader.shot("grid")
    page.locator("[data-case-list]").click()
    page.wait_for_url(lambda url: "/cases/" in url and seeded["grid"]["code"] in url)
    expect(page.locator("main")).to_contain_text(seeded["newest"])
    expect(page.locator("main")).to_contain_text(seeded["overdue"])
    leader.shot("case-list")

    # On a phone the same screen is one column, nothing wider than the screen.
    phone = people("leader", phone=True)
    phone.go("/cockpit/")
    _drawn(phone.page)
    assert phone.fits_the_screen()
    phone.shot("phone")
