"""Early warning in a browser: the county centre's operator opens the warnings list, a 僵尸车
signal, sees its grid on the map, its daily chart and the cases behind it, and acknowledges it;
the list on a phone."""

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect  # noqa: E402

from civicgrid.warning.workflow import STATE_LABELS  # noqa: E402
from civicgrid.web.tests.browser.support import zh  # noqa: E402


def test_the_county_opens_a_signal_sees_map_and_cases_and_acknowledges_it(site, people):
    seeded = site.data["warning"]
    operator = people("county")
    page = operator.page
    operator.go("/warnings/")
    expect(page.locator("h1")).to_have_text(zh("Early-warning signals"))
    row = page.locator("#signals tbody tr").filter(has_text=f"#{seeded['signal']}")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(zh(STATE_LABELS["new"]))
    operator.shot("list")

    with page.expect_navigation():
        row.locator("a").first.click()
    expect(page.locator("#signal-state")).to_have_text(zh(STATE_LABELS["new"]))
    # the map has drawn the signal's grid, the chart its days
    expect(page.locator("#signal-map")).to_have_attribute("data-ready", "1")
    expect(page.locator("#signal-map canvas")).not_to_have_count(0)  # Leaflet drew the layer
    geojson = page.request.get(site.url + page.locator("#signal-map").get_attribute("data-geojson"))
    features = geojson.json()["features"]
    assert [f["properties"]["code"] for f in features] == [seeded["grid"]]
    expect(page.locator("#signal-chart")).to_have_attribute("data-ready", "1")
    expect(page.locator("#signal-chart canvas")).to_have_count(1)
    cases = page.locator("#signal-cases tbody a")
    expect(cases.filter(has_text=seeded["cases"][0])).to_have_count(1)
    assert set(seeded["cases"]) <= set(cases.all_inner_texts())  # (and other 0101 reports)
    operator.shot("signal")

    page.fill("#actions textarea[name=note]", "已通知梨洲街道城管中队核查")
    with page.expect_navigation():
        page.locator("#acknowledge").click()
    expect(page.locator(".messages .success")).to_be_visible()
    expect(page.locator("#signal-state")).to_have_text(zh(STATE_LABELS["acknowledged"]))
    expect(page.locator("ol.timeline")).to_contain_text("已通知梨洲街道城管中队核查")
    operator.shot("acknowledged")

    # a case behind it opens the case
    with page.expect_navigation():
        page.locator("#signal-cases tbody a").first.click()
    assert "/cases/" in page.url
    assert not operator.problems, operator.problems

    # the list on a phone: the signal is still open (acknowledged) and the page fits
    phone = people("county", phone=True)
    phone.go("/warnings/")
    expect(phone.page.locator("#signals")).to_contain_text(f"#{seeded['signal']}")
    expect(phone.page.locator("#signals")).to_contain_text(zh(STATE_LABELS["acknowledged"]))
    phone.shot("list-phone")
    assert phone.fits_the_screen()
    assert not phone.problems, phone.problems


def test_the_county_marks_a_publicity_day_on_a_phone(site, people):
    """The centre's operator, on a phone, marks tomorrow's 随手拍 promotion from the settings;
    the day is listed and the page fits the screen."""
    phone = people("county", phone=True)
    page = phone.page
    phone.go("/warnings/settings/")
    with page.expect_navigation():
        page.get_by_role("link", name=zh("Reporting disturbances")).click()
    expect(page.locator("h1")).to_have_text(zh("Reporting disturbances"))
    page.fill("#mark-day input[name=day]", "2026-12-01")
    page.select_option("#mark-day select[name=kind]", "publicity")
    page.fill("#mark-day input[name=note]", "随手拍有奖推广")
    with page.expect_navigation():
        page.locator("#mark-day button[type=submit]").click()
    expect(page.locator(".messages .success")).to_be_visible()
    row = page.locator("#reporting-days tbody tr").filter(has_text="2026-12-01")
    expect(row).to_contain_text("随手拍有奖推广")
    expect(row).to_contain_text(zh("Publicity or app campaign (more reports)"))
    phone.shot("reporting-day-phone")
    assert phone.fits_the_screen()
    assert not phone.problems, phone.problems
