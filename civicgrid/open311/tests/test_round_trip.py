"""A 311 client reports a problem; the county handles it; the client sees it closed."""

import pytest

from civicgrid.cases import actions as A
from civicgrid.cases.models import Case


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_posted_request_is_handled_and_then_shown_closed_with_notes(o311, world, api_key, fmt):
    lat, lng = world.point()
    posted = o311.post(
        fmt,
        api_key=api_key[1],
        service_code="0101",
        lat=str(lat),
        long=str(lng),
        description="小区门口有一辆僵尸车，停了三个月",
        phone="13905741234",
    )
    assert posted.status == 200
    (item,) = posted.items()
    code = item["service_request_id"]
    case = Case.objects.get(code=code)

    (seen,) = o311.get(f"requests/{code}", fmt).items()
    assert seen["status"] == "open"

    lizhou, police = world.p.lizhou, world.town_police_user()
    case = A.do_accept_case(case, actor=lizhou)
    case = A.do_dispatch_case(case, actor=lizhou, lead=world.town_police, text="请派出所处理")
    (seen,) = o311.get(f"requests/{code}", fmt).items()
    assert (seen["status"], seen["agency_responsible"]) == ("open", world.town_police.name)
    assert seen["expected_datetime"]
    case = A.do_sign_case(case, actor=police)
    case = A.do_feedback_case(case, actor=police, text="车辆已由车主开走")
    case = A.do_verify_case(case, actor=lizhou, passed=True)
    assert case.state == "closed"

    answer = o311.get(f"requests/{code}", fmt, extensions="true")
    (seen,) = answer.items()
    assert seen["status"] == "closed"
    assert seen["agency_responsible"] == world.town_police.name
    assert seen["service_notice"] in (None, "")  # no promise for a closed request
    if fmt == "xml":
        notes = [{c.tag: c.text for c in note} for note in answer.data.find("request/notes")]
    else:
        notes = seen["notes"]
    assert [n["type"] for n in notes] == [
        "report",
        "accept",
        "dispatch",
        "sign",
        "feedback",
        "verify_pass",
    ]
    assert notes[-1]["status"] == "closed" and notes[0]["status"] == "open"
    assert any("车辆已由车主开走" in n["description"] for n in notes)
    # The dispatcher's instruction to the department is internal.
    assert not any("请派出所处理" in n["description"] for n in notes)

    # The listing and the updates feed agree.
    closed = o311.get("requests", fmt, status="closed").items()
    assert code in [i["service_request_id"] for i in closed]
    still_open = o311.get("requests", fmt, status="open").items()
    assert code not in [i["service_request_id"] for i in still_open]
    updates = o311.get("servicerequestupdates", fmt).items()
    mine = [u for u in updates if u["service_request_id"] == code]
    assert [u["status"] for u in mine] == ["open", "open", "open", "open", "closed"]
    assert mine[-1]["external_status_code"] == "closed"
