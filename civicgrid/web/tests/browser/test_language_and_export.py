"""Switching the language, and downloading a case list as Excel, in a real browser."""

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect  # noqa: E402

from civicgrid.cases.workflow import STATE_LABELS  # noqa: E402
from civicgrid.web.tests.browser.support import zh  # noqa: E402


def _switch_language(person, code: str):
    with person.page.expect_navigation():
        person.page.select_option("header select[name=language]", code)


def test_it_switches_language_and_remembers_it(people):
    visitor = people("")  # a browser set to Chinese, not logged in
    page = visitor.page
    html = page.locator("html")
    visitor.go("/login/")
    expect(html).to_have_attribute("lang", "zh-hans")
    expect(page.locator("label[for=id_username]")).to_have_text(zh("User name"))
    visitor.shot("login-zh")

    _switch_language(visitor, "en")
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator("label[for=id_username]")).to_have_text("User name")
    expect(page.locator("main h1")).to_have_text("Log in to civicgrid")
    visitor.shot("login-en")

    # Logging in keeps the choice: the workbench and the next pages are in English.
    visitor.username = "lizhou"
    visitor.log_in(remember=False)
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_have_text("Township command room")
    visitor.shot("workbench-en")
    visitor.go("/cases/?queue=all")
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_have_text("All cases")
    expect(page.locator("header nav a[href='/']")).to_have_text("Workbench")
    visitor.shot("cases-en")
    later = page.context.new_page()  # another tab, later
    later.goto(visitor.site.url + "/")
    expect(later.locator("html")).to_have_attribute("lang", "en")
    later.close()

    # And back to Chinese from the workbench.
    visitor.go("/")
    _switch_language(visitor, "zh-hans")
    expect(html).to_have_attribute("lang", "zh-hans")
    expect(page.locator("main h1")).to_have_text(zh("Township command room"))
    visitor.shot("workbench-zh")
    visitor.go("/cases/?queue=all")
    expect(html).to_have_attribute("lang", "zh-hans")
    expect(page.locator("main h1")).to_have_text(zh("All cases"))


def test_it_downloads_the_filtered_case_list_as_a_valid_xlsx(site, people, tmp_path):
    from openpyxl import load_workbook

    code = site.data["cases"]["export"]
    room = people("lizhou")
    room.go(f"/cases/?queue=all&q={code}")
    expect(room.page.locator(f"a[href='/cases/{code}/']")).to_be_visible()
    room.shot("filtered-list")
    with room.page.expect_download() as download_info:
        room.page.locator("a[href*='export.xlsx']").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename == "cases-all.xlsx"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    assert path.read_bytes()[:2] == b"PK"  # a zip container, as .xlsx is

    book = load_workbook(path, read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    header = ["case code", "state", "category", "description", "region code", "grid"]
    assert list(rows[0][: len(header)]) == [zh(h) for h in header]
    assert [row[0] for row in rows[1:]] == [code]  # the filter on screen applies
    assert rows[1][1] == zh(STATE_LABELS["reported"])
    assert rows[1][3] == "舜水路口废弃三轮车占用人行道，请求清理"
