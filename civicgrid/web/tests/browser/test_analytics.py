"""The monthly thematic report (月专题) on a laptop and on a phone, in Chinese: its charts are
drawn (ECharts, from the JSON block), its tables fit, and nothing is blocked or broken."""

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect  # noqa: E402


def _check(person, pk):
    page = person.page
    person.go(f"/reports/{pk}/")
    expect(page.locator("h1")).to_contain_text("月专题")
    expect(page.locator("main")).to_contain_text("专题：废弃车辆")
    expect(page.locator("main")).to_contain_text("城区僵尸车问题突出")
    charts = page.locator(".report-chart")
    assert charts.count() >= 3
    for i in range(charts.count()):
        expect(charts.nth(i)).to_have_attribute("data-ready", "1")
        assert charts.nth(i).locator("canvas").count() == 1
    expect(page.locator("#table-kpis table")).to_contain_text("办结率")


def test_the_monthly_report_on_a_laptop_and_a_phone(site, people):
    pk = site.data["analytics"]["monthly"]
    county = people("county")
    county.page.set_viewport_size({"width": 1366, "height": 768})
    _check(county, pk)
    county.shot("monthly-1366")
    with county.page.expect_download() as download:
        county.page.locator("a[href$='download.docx']").click()
    assert download.value.suggested_filename.endswith(".docx")

    leader = people("leader", phone=True)
    _check(leader, pk)
    assert leader.fits_the_screen()
    leader.shot("monthly-phone")
