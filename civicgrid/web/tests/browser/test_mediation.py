"""One-stop dispute intake and mediation in the browser: a reception-hall clerk (the 梨洲街道
centre's window, ``lizhou_window``) registers a dispute and routes it to a studio; the studio's
mediator records two sessions and an agreement on a phone and downloads the agreement; the
statistics page counts it."""

import io
from datetime import timedelta

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect  # noqa: E402

from civicgrid.web.tests.browser.support import zh  # noqa: E402

ID_A = "330281198001010019"
ID_B = "330281198502020020"


def test_register_route_mediate_agree_download_and_count(site, people, tmp_path):
    from django.utils import timezone

    from civicgrid.mediation.workflow import STATE_LABELS

    seeded = site.data["mediation"]
    clerk = people("lizhou_window")
    page = clerk.page

    # 1. The window registers the dispute.
    clerk.go("/mediation/new/")
    page.fill("#id_title", "夫妻离婚财产纠纷")
    page.select_option("#id_category", "01")
    page.select_option("#id_source", "reception")
    page.fill("#id_description", "双方因离婚后房屋和存款分割发生争执，多次争吵。")
    page.select_option("#id_grid", str(seeded["grid"]))
    page.fill("#id_amount", "80000")
    page.fill("#id_applicant_name", "张三")
    page.fill("#id_applicant_id", ID_A)
    page.fill("#id_applicant_phone", "13800001111")
    page.fill("#id_respondent_name", "李四")
    page.fill("#id_respondent_id", ID_B)
    clerk.shot("register-form")
    with page.expect_navigation():
        page.locator("#register-form button[type=submit]").click()
    expect(page.locator(".messages .success")).to_be_visible()
    code = page.locator("h1 code").inner_text().strip()
    assert code.startswith("MD-330281-")
    expect(page.locator("#dispute-state")).to_have_text(zh(STATE_LABELS["registered"]))
    body = page.locator("main").inner_text()
    assert "330281********0019" in body and ID_A not in body and "138****1111" in body

    # 2. … and routes it to the marriage-and-family studio.
    clerk.act("route", shot="route", route="studio", org=str(seeded["studio"]))
    expect(page.locator("#dispute-state")).to_have_text(zh(STATE_LABELS["routed"]))
    assert "session" not in clerk.actions()  # the studio mediates, not the window

    # 3. The studio's mediator, on a phone: two sessions and the agreement.
    mediator = people("med-studio", phone=True)
    mpage = mediator.page
    mediator.go("/mediation/")
    expect(mpage.locator(f"a[href='/mediation/{code}/']")).to_have_count(1)
    mediator.go(f"/mediation/{code}/")
    now = timezone.localtime()
    for hours, notes in ((3, "首次调解：双方陈述诉求"), (1, "第二次调解：就房屋归属达成一致")):
        held = (now - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")
        mediator.act(
            "session",
            shot=f"session-{hours}",
            held_at=held,
            place="梨洲街道调解室",
            attendees="张三、李四",
            notes=notes,
        )
    expect(mpage.locator("tr.session")).to_have_count(2)
    expect(mpage.locator("#dispute-state")).to_have_text(zh(STATE_LABELS["in_mediation"]))
    mediator.act(
        "agree",
        shot="agree",
        terms="房屋归张三所有\n张三于三十日内补偿李四人民币八万元",
        amount="80000",
    )
    expect(mpage.locator("#dispute-state")).to_have_text(zh(STATE_LABELS["agreed"]))
    assert mediator.fits_the_screen()

    # 4. The agreement, downloaded and read.
    with mpage.expect_download() as info:
        mpage.locator("#agreement-download").click()
    path = tmp_path / "agreement.docx"
    info.value.save_as(path)
    import docx

    text = "\n".join(p.text for p in docx.Document(io.BytesIO(path.read_bytes())).paragraphs)
    assert (
        code in text
        and "1. 房屋归张三所有" in text
        and "2. 张三于三十日内补偿李四人民币八万元" in text
    )
    assert "调解组织：老娘舅婚姻家庭调解工作室" in text and ID_A not in text

    # 5. The statistics count it: one intake, one agreement, 100 % at the studio.
    clerk.go("/mediation/statistics/")
    row = page.locator("#stats-org tbody tr", has_text=seeded["studio_name"])
    expect(row).to_have_count(1)
    cells = row.locator("td").all_inner_texts()
    assert cells[1:5] == ["1", "1", "1", "100.0"], cells
    clerk.shot("statistics")
