from civicgrid.cases import actions as A
from civicgrid.cases.models import Category
from civicgrid.regions.models import Grid


def _case(personas):
    grid = Grid.objects.exclude(kind="micro").filter(code__startswith="330281001").first()
    case = A.do_report_case(
        actor=None,
        channel="resident",
        description="路灯不亮",
        grid=grid,
        reporter_phone="13905741234",
    )
    return A.do_accept_case(case, actor=personas.lizhou, category=Category.objects.get(code="0101"))


def test_it_shows_the_timeline_to_those_in_scope_only(login, personas):
    case = _case(personas)
    page = login(personas.lizhou).get(f"/cases/{case.code}/").content.decode()
    assert case.code in page and "路灯不亮" in page and "139****1234" in page
    assert "13905741234" not in page
    steps = page[page.index('<ol class="timeline">') :]
    assert steps.index("上报") < steps.index("受理")  # the timeline in Chinese, in order
    assert login(personas.fengshan).get(f"/cases/{case.code}/").status_code == 404
    assert login(personas.lizhou).get("/cases/no-such-case/").status_code == 404


def test_it_prints_supervision_and_instruction_sheets(login, personas):
    case = _case(personas)
    sheet = A.do_supervise_case(
        case, actor=personas.county, level=3, reason="红牌督办：群众反映强烈"
    )
    note = A.do_instruct_case(case, actor=personas.leader, text="请限期解决")
    client = login(personas.lizhou)
    page = client.get(f"/cases/{case.code}/supervision/{sheet.pk}/print/").content.decode()
    assert "督办反馈单" in page and "红牌督办：群众反映强烈" in page
    page = client.get(f"/cases/{case.code}/instruction/{note.pk}/print/").content.decode()
    assert "领导批示单" in page and "请限期解决" in page
    assert client.get(f"/cases/{case.code}/instruction/{sheet.pk + 999}/print/").status_code == 404
    assert (
        login(personas.fengshan)
        .get(f"/cases/{case.code}/supervision/{sheet.pk}/print/")
        .status_code
        == 404
    )


def test_it_serves_case_photos_only_to_those_who_see_the_case(login, personas, tmp_path, settings):
    from civicgrid.cases.tests.conftest import jpeg

    settings.MEDIA_ROOT = tmp_path
    grid = Grid.objects.exclude(kind="micro").filter(code__startswith="330281001").first()
    case = A.do_report_case(
        actor=None, channel="resident", description="x", grid=grid, photos=[jpeg()]
    )
    photo = case.attachments.get()
    url = f"/cases/{case.code}/attachments/{photo.pk}/"
    response = login(personas.lizhou).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    assert login(personas.fengshan).get(url).status_code == 404
    assert url in login(personas.lizhou).get(f"/cases/{case.code}/").content.decode()


def test_it_answers_odd_case_codes_with_not_found(login, personas):
    for code in ["²", "١٢", "0", "x" * 300]:
        assert login(personas.county).get(f"/cases/{code}/").status_code == 404
