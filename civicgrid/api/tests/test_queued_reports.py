"""POST /api/v1/cases: the 201 answer from memory, and the queued intake mode (API_QUEUED_INTAKE:
202 with a receipt, the case made by the queue's runner)."""

import base64

import pytest

from civicgrid.api.actions import do_create_api_key, do_create_personal_token, do_revoke_api_key
from civicgrid.api.tests.test_rest import Api, as_user, error_of
from civicgrid.cases.models import Case, CaseCodeCounter
from civicgrid.cases.tests.conftest import jpeg
from civicgrid.core.audit import verify_chain
from civicgrid.open311.actions import do_drain_service_requests
from civicgrid.open311.models import QueuedRequest


@pytest.fixture
def queued(settings):
    settings.API_QUEUED_INTAKE = True


def test_the_201_answer_is_the_case_as_read_back(personas, world):
    api = as_user(personas.lizhou)
    lat, lng = world.point()
    for photos in ([], [base64.b64encode(jpeg()).decode()]):
        made = api.post(
            "/cases",
            {"description": "路灯不亮", "lat": lat, "lng": lng, "photos": photos,
             "reporter_name": "张三", "reporter_phone": "13905741234"},
        )  # fmt: skip
        assert made.status_code == 201, made.content
        assert made.json() == api.get(f"/cases/{made.json()['code']}").json()
        assert len(made.json()["attachments"]) == len(photos)


def test_a_queued_report_gets_a_receipt_and_the_runner_makes_the_case(queued, personas, world):
    api = as_user(personas.grid1)
    lat, lng = world.point()
    before = Case.objects.count()
    answer = api.post(
        "/cases",
        {"description": "井盖缺失", "category": "0101", "lat": lat, "lng": lng,
         "reporter_name": "张三", "reporter_phone": "13905741234", "idempotency_key": "r-1"},
    )  # fmt: skip
    assert answer.status_code == 202, answer.content
    receipt = answer.json()
    assert receipt["state"] == "queued" and receipt["case"] is None
    assert Case.objects.count() == before
    assert api.get(receipt["url"].removeprefix("/api/v1")).json()["state"] == "queued"
    # A retry gets the same receipt.
    again = api.post(
        "/cases",
        {"description": "井盖缺失", "category": "0101", "lat": lat, "lng": lng,
         "idempotency_key": "r-1"},
    )  # fmt: skip
    assert again.status_code == 202 and again.json()["receipt"] == receipt["receipt"]

    assert do_drain_service_requests(node="test") == {"claimed": 1, "done": 1, "failed": 0}
    shown = api.get(f"/receipts/{receipt['receipt']}").json()
    assert shown["state"] == "done"
    case = Case.objects.get(code=shown["case"])
    assert (case.channel, case.category.code, case.reported_by) == ("api", "0101", personas.grid1)
    assert case.reporters.get().phone_masked == "139****1234"
    assert QueuedRequest.objects.get(token=receipt["receipt"]).params == {}
    # The same report sent at once afterwards with the same key is that case (200).
    with pytest.MonkeyPatch.context() as patch:
        from django.conf import settings

        patch.setattr(settings, "API_QUEUED_INTAKE", False)
        retried = api.post(
            "/cases",
            {"description": "井盖缺失", "category": "0101", "lat": lat, "lng": lng,
             "idempotency_key": "r-1"},
        )  # fmt: skip
    assert retried.status_code == 200 and retried.json()["code"] == case.code


def test_only_the_sender_sees_a_receipt(queued, personas, world):
    lat, lng = world.point()
    made = as_user(personas.grid1).post("/cases", {"description": "x", "lat": lat, "lng": lng})
    assert made.status_code == 202
    error_of(as_user(personas.grid2).get(f"/receipts/{made.json()['receipt']}"), 404, "not_found")
    error_of(as_user(personas.grid1).get("/receipts/nope"), 404, "not_found")
    error_of(Api().get(f"/receipts/{made.json()['receipt']}"), 401, "unauthenticated")


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"category": "9999"}, 400, "category"),
        ({"lat": None, "lng": None}, 400, "location"),
        ({"lng": None}, 400, "location"),
        ({"grid": "999999999999999"}, 400, "grid"),
        ({"channel": "carrier_pigeon"}, 400, "channel"),
    ],
)
def test_what_is_cheap_to_check_is_refused_at_once(queued, personas, world, body, status, field):
    lat, lng = world.point()
    before = QueuedRequest.objects.count()
    answer = as_user(personas.grid1).post(
        "/cases", {"description": "x", "lat": lat, "lng": lng, **body}
    )
    assert answer.status_code == status, answer.content
    assert field in answer.json()["error"]["fields"]
    assert QueuedRequest.objects.count() == before


def test_who_may_not_report_is_refused_at_once(queued, personas, world):
    lat, lng = world.point()
    error_of(as_user(personas.auditor).post("/cases", {"description": "x", "lat": lat, "lng": lng}),
             403, "forbidden")  # fmt: skip


def test_the_runner_refuses_what_the_action_refuses_and_says_why(queued, personas, world):
    _key, secret = do_create_api_key(
        name="Fengshan app", actor=personas.admin, user=personas.county, region_code="330281002"
    )
    outside = Api(secret).post(  # a point in the world's grid, outside Fengshan
        "/cases", {"description": "路灯不亮", "lat": world.point()[0], "lng": world.point()[1]}
    )
    nowhere = as_user(personas.grid1).post("/cases", {"description": "x", "lat": 1.0, "lng": 1.0})
    revoked_key, revoked_secret = do_create_personal_token(name="t", actor=personas.grid1)
    lat, lng = world.point()
    late = Api(revoked_secret).post("/cases", {"description": "x", "lat": lat, "lng": lng})
    do_revoke_api_key(revoked_key, actor=personas.grid1)
    assert {outside.status_code, nowhere.status_code, late.status_code} == {202}
    before = Case.objects.count()
    assert do_drain_service_requests(node="test")["failed"] == 3
    assert Case.objects.count() == before
    assert "330281002" not in QueuedRequest.objects.get(token=outside.json()["receipt"]).error
    for answer in (outside, nowhere):
        row = QueuedRequest.objects.get(token=answer.json()["receipt"])
        assert row.state == "failed" and row.error and row.params == {}


def test_photos_and_sessions_are_still_made_at_once(queued, personas, world, client):
    lat, lng = world.point()
    photo = base64.b64encode(jpeg()).decode()
    answer = as_user(personas.grid1).post(
        "/cases", {"description": "x", "lat": lat, "lng": lng, "photos": [photo]}
    )
    assert answer.status_code == 201, answer.content
    client.force_login(personas.grid1)
    session = Api(client=client).post("/cases", {"description": "y", "lat": lat, "lng": lng})
    assert session.status_code in (201, 403), session.content  # CSRF applies to sessions


def test_a_batch_keeps_codes_gapless_and_the_chain_whole(queued, personas, world):
    """Rows refused after their case was made (a key limited to another area) between made
    ones: their savepoints give the code and the audit events back."""
    api = as_user(personas.grid1)
    _key, secret = do_create_api_key(
        name="Fengshan app", actor=personas.admin, user=personas.county, region_code="330281002"
    )
    elsewhere = Api(secret)
    sent = []
    for number in range(7):
        lat, lng = world.point()
        sender = elsewhere if number % 3 == 0 else api  # 0, 3, 6 are refused
        sent.append(sender.post("/cases", {"description": f"第{number}件", "lat": lat, "lng": lng}))
    assert all(answer.status_code == 202 for answer in sent)
    assert do_drain_service_requests(node="test", per_transaction=4) == {
        "claimed": 7, "done": 4, "failed": 3,
    }  # fmt: skip
    made = Case.objects.filter(
        pk__in=QueuedRequest.objects.filter(state="done").values("case_id")
    ).order_by("code")
    numbers = [int(case.code.rsplit("-", 1)[1]) for case in made]
    assert numbers == list(range(numbers[0], numbers[0] + 4))
    prefix = made[0].code.rsplit("-", 1)[0]
    assert CaseCodeCounter.objects.get(prefix=prefix).last == numbers[-1]
    assert list(verify_chain()) == []
