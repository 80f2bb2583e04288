"""The data hub in a browser: the county centre's operator uploads a small CSV from the police
population system, maps its columns, reads the dry run, imports the good rows and downloads
the error report."""

import csv
import io

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect  # noqa: E402

from civicgrid.people.pii import id_check_digit  # noqa: E402
from civicgrid.web.tests.browser.support import zh  # noqa: E402


def _id(birth: str, sequence: int) -> str:
    first17 = f"330281{birth}{sequence:03d}"
    return first17 + id_check_digit(first17)


def _file(seeded: dict) -> bytes:
    lat, lng = seeded["point"]
    rows = [
        ["姓名", "公民身份号码", "联系电话", "地址", "纬度", "经度"],
        ["陈浏览", _id("19820304", 511), "13911112222", "", lat, lng],
        ["林浏览", _id("19750607", 613), "", f"余姚市{seeded['house_address']}", "", ""],
        ["错号码", "330281198203040000", "139", "", lat, lng],
    ]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("gb18030")


def test_the_county_centre_imports_a_population_file_and_downloads_the_errors(
    site, people, tmp_path
):
    seeded = site.data["datahub"]
    operator = people("county")
    page = operator.page
    operator.go("/datahub/")
    expect(page.locator("main h1")).to_have_text(zh("Data hub"))
    expect(page.locator("header nav a[href='/datahub/']")).to_have_count(1)

    # Upload: a new source, population.
    page.set_input_files(
        "#upload-form input[name=file]",
        files=[{"name": "人口.csv", "mimeType": "text/csv", "buffer": _file(seeded)}],
    )
    page.fill("#upload-form input[name=source_name]", "公安实有人口库")
    page.select_option("#upload-form select[name=target]", "population")
    operator.shot("upload")
    with page.expect_navigation():
        page.locator("#upload-form button[type=submit]").click()

    # Mapping: suggested from the Chinese header.
    expect(page.locator("main h1")).to_have_text(zh("Map the columns"))
    expect(page.locator("select[name=col_id_number]")).to_have_value("公民身份号码")
    expect(page.locator("select[name=col_phone]")).to_have_value("联系电话")
    expect(page.locator("select[name=col_lat]")).to_have_value("纬度")
    assert operator.fits_the_screen()
    operator.shot("mapping")
    with page.expect_navigation():
        page.locator("#mapping-form button[type=submit]").click()

    # The dry run: two new, one row with problems; nothing written yet.
    expect(page.locator("#run-state")).to_have_text(zh("Dry run done"))
    expect(page.locator("[data-count=new] strong")).to_have_text("2")
    expect(page.locator("[data-count=errors] strong")).to_have_text("1")
    expect(page.locator("#problems")).to_contain_text("4")
    operator.shot("dry-run")

    # Import the good rows.
    page.check("#import-form input[name=skip_bad]")
    with page.expect_navigation():
        page.locator("#import-form button[type=submit]").click()
    expect(page.locator("#run-state")).to_have_text(zh("Imported"))
    expect(page.locator("[data-count=new] strong")).to_have_text("2")
    operator.shot("imported")

    # The error report.
    with page.expect_download() as download_info:
        page.locator("#problems-csv").click()
    download = download_info.value
    assert download.failure() is None
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert {row[0] for row in rows[1:]} == {"4"}
    assert {row[1] for row in rows[1:]} == {"id_number", "phone"}
    assert "330281198203040000" not in path.read_text(encoding="utf-8-sig")  # masked

    # The past imports list shows it.
    operator.go("/datahub/")
    expect(page.locator("#runs")).to_contain_text("人口.csv")
    operator.shot("runs")
    assert not operator.problems, operator.problems
