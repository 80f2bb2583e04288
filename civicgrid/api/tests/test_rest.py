"""The REST API /api/v1/: authentication, the full 派—办—馈—评 loop, errors, paging, limits."""

import base64
import json
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from civicgrid.api.actions import do_create_api_key, do_create_personal_token
from civicgrid.cases.actions import do_report_case
from civicgrid.cases.models import Case, CaseAction
from civicgrid.cases.tests.conftest import jpeg
from civicgrid.regions.models import Grid, Region

BASE = "/api/v1"


class Api:
    """A JSON client holding one bearer token (or none)."""

    def __init__(self, token=None, client=None):
        self.client = client or Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path, **params):
        return self.client.get(f"{BASE}{path}", params, headers=self.headers)

    def post(self, path, body=None, raw=None):
        data = raw if raw is not None else json.dumps(body or {})
        return self.client.post(
            f"{BASE}{path}", data, content_type="application/json", headers=self.headers
        )

    def delete(self, path):
        return self.client.delete(f"{BASE}{path}", headers=self.headers)


def reported_in(town_code: str, actor, n: int = 1) -> list[Case]:
    """Cases reported by telephone in a township (owned by its command room)."""
    region = Region.objects.get(code=town_code)
    return [
        do_report_case(
            actor=actor,
            channel="hotline_12345",
            description=f"路面坑洼 {i}",
            region=region,
            address="人民路",
        )
        for i in range(n)
    ]


def as_user(user) -> Api:
    _key, secret = do_create_personal_token(name="test script", actor=user)
    return Api(secret)


def error_of(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


# ------------------------------------------------------------------- schema and docs


def test_the_openapi_schema_and_docs_are_served_locally(client):
    response = client.get(f"{BASE}/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ["/api/v1/cases", "/api/v1/cases/{code}/dispatch", "/api/v1/grids"]:
        assert path in schema["paths"]
    errors = schema["paths"]["/api/v1/cases/{code}/dispatch"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "429"} <= set(errors)
    docs = client.get(f"{BASE}/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "cdn." not in html
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200


# ------------------------------------------------------------------- authentication


def test_requests_without_valid_credentials_get_401_in_the_error_shape(personas):
    error_of(Api().get("/cases"), 401, "unauthenticated")
    error_of(Api("not-a-token").get("/cases"), 401, "unauthenticated")
    response = Api().get("/cases")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_personal_token_acts_as_its_owner_with_their_scope(personas):
    reported_in("330281001", personas.lizhou)
    reported_in("330281002", personas.fengshan)
    api = as_user(personas.lizhou)
    me = api.get("/me").json()
    assert me["username"] == "lizhou" and me["via"] == "token"
    assert me["scopes"] == ["330281001"]
    codes = {c["region_code"][:9] for c in api.get("/cases", page_size=200).json()["results"]}
    assert codes == {"330281001"}


def test_session_login_works_and_writes_need_the_csrf_token(personas):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(personas.lizhou)
    assert browser.get(f"{BASE}/me").json()["via"] == "session"
    response = browser.post(
        f"{BASE}/tokens", json.dumps({"name": "x"}), content_type="application/json"
    )
    assert response.status_code == 403
    browser.get("/")  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        f"{BASE}/tokens",
        json.dumps({"name": "my script"}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201, response.content
    assert response.json()["token"]


def test_tokens_are_listed_without_secrets_revoked_and_expire(personas):
    api = as_user(personas.grid1)
    made = api.post("/tokens", {"name": "phone app"})
    assert made.status_code == 201
    secret, token_id = made.json()["token"], made.json()["id"]
    listed = api.get("/tokens").json()
    assert {t["name"] for t in listed} == {"test script", "phone app"}
    assert all("token" not in t for t in listed)
    second = Api(secret)
    assert second.get("/me").status_code == 200
    revoked = api.delete(f"/tokens/{token_id}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    error_of(second.get("/me"), 401, "unauthenticated")
    # Someone else's token is not found, not revoked.
    other = as_user(personas.grid2)
    mine = api.get("/tokens").json()[0]["id"]
    error_of(other.delete(f"/tokens/{mine}"), 404, "not_found")
    # An expired token stops working.
    key, secret = do_create_personal_token(
        name="short", actor=personas.grid1, expires_at=timezone.now() + timedelta(seconds=1)
    )
    type(key).objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    error_of(Api(secret).get("/me"), 401, "unauthenticated")


def test_an_integration_key_is_narrowed_to_its_area(personas, world):
    reported_in("330281001", personas.lizhou)
    reported_in("330281002", personas.fengshan)
    _key, secret = do_create_api_key(
        name="Fengshan app", actor=personas.admin, user=personas.county, region_code="330281002"
    )
    api = Api(secret)
    assert api.get("/me").json()["via"] == "key"
    results = api.get("/cases", page_size=200).json()["results"]
    assert results and all(c["region_code"].startswith("330281002") for c in results)
    lizhou_case = Case.objects.filter(region_code__startswith="330281001").first()
    error_of(api.get(f"/cases/{lizhou_case.code}"), 404, "not_found")
    # A report outside its area is refused and leaves nothing behind.
    lat, lng = world.point()
    before = Case.objects.count()
    response = api.post("/cases", {"description": "路灯不亮", "lat": lat, "lng": lng})
    error_of(response, 403, "forbidden")
    assert Case.objects.count() == before


def test_a_key_without_a_service_account_reaches_no_cases(personas):
    _key, secret = do_create_api_key(name="kiosk", actor=personas.admin)
    api = Api(secret)
    error_of(api.get("/cases"), 403, "forbidden")
    assert api.get("/categories").status_code == 200


# ------------------------------------------------------------------- the loop


def test_the_whole_loop_through_the_api(personas, world):
    lizhou, police = as_user(personas.lizhou), as_user(world.town_police_user())
    lat, lng = world.point()
    photo = base64.b64encode(jpeg()).decode()
    made = lizhou.post(
        "/cases",
        {
            "description": "小区门口有一辆僵尸车，车主电话13905741234",
            "lat": lat,
            "lng": lng,
            "photos": [photo],
            "idempotency_key": "form-1",
        },
    )
    assert made.status_code == 201, made.content
    case = made.json()
    code = case["code"]
    assert (case["state"], case["level"], case["unit_code"]) == ("reported", "town", "330281001")
    assert case["channel"] == "api" and case["grid"] == world.grid.code
    assert case["description"].endswith("139****1234")
    assert len(case["attachments"]) == 1
    picture = lizhou.get(case["attachments"][0]["url"].removeprefix(BASE))
    assert picture.status_code == 200 and picture["Content-Type"] == "image/jpeg"
    # The retried submission returns the first case.
    again = lizhou.post(
        "/cases",
        {
            "description": "小区门口有一辆僵尸车",
            "lat": lat,
            "lng": lng,
            "idempotency_key": "form-1",
        },
    )
    assert again.status_code == 200 and again.json()["code"] == code

    step = lizhou.post(f"/cases/{code}/accept", {"category": "0101", "expected_version": 1})
    assert step.status_code == 200, step.content
    assert step.json()["state"] == "accepted" and step.json()["resolve_deadline"]
    # A stale version is a conflict; an impossible step says what is possible.
    error_of(lizhou.post(f"/cases/{code}/accept", {"expected_version": 1}), 409, "conflict")
    error_of(lizhou.post(f"/cases/{code}/sign", {}), 409, "invalid_transition")
    error_of(police.get(f"/cases/{code}"), 404, "not_found")  # not dispatched to them yet

    step = lizhou.post(
        f"/cases/{code}/dispatch", {"lead": world.town_police.code, "text": "请处置"}
    )
    assert step.json()["state"] == "dispatched"
    assert police.get("/tasks").json()["count"] >= 1
    assert code in {c["code"] for c in police.get("/tasks", page_size=200).json()["results"]}
    error_of(lizhou.post(f"/cases/{code}/sign", {}), 403, "forbidden")
    assert police.post(f"/cases/{code}/sign", {}).json()["state"] == "in_progress"
    step = police.post(f"/cases/{code}/feedback", {"text": "车辆已拖走", "photos": [photo]})
    assert step.json()["state"] == "feedback"
    assert len(step.json()["attachments"]) == 2
    step = lizhou.post(f"/cases/{code}/verify", {"passed": True})
    assert step.json()["state"] == "closed"
    step = lizhou.post(f"/cases/{code}/evaluate", {"satisfaction": "satisfied"})
    assert step.json()["state"] == "archived"

    timeline = lizhou.get(f"/cases/{code}/timeline").json()
    assert [e["action"] for e in timeline] == [
        "report",
        "accept",
        "dispatch",
        "sign",
        "feedback",
        "verify_pass",
        "evaluate",
    ]
    assert list(CaseAction.objects.filter(case__code=code).values_list("action", flat=True)) == [
        e["action"] for e in timeline
    ]


def test_supervision_extension_and_escalation_through_the_api(personas, world):
    lizhou, police = as_user(personas.lizhou), as_user(world.town_police_user())
    county = as_user(personas.county)
    lat, lng = world.point()
    code = lizhou.post("/cases", {"description": "占道经营", "lat": lat, "lng": lng}).json()["code"]
    lizhou.post(f"/cases/{code}/accept", {"category": "0101"})
    lizhou.post(f"/cases/{code}/dispatch", {"lead": world.town_police.code})
    police.post(f"/cases/{code}/sign", {})
    detail = police.post(f"/cases/{code}/extensions", {"days": 2, "reason": "等待车主回复"}).json()
    extension = detail["extensions"][0]
    assert extension["state"] == "pending"
    decided = lizhou.post(
        f"/cases/{code}/extensions/{extension['id']}/decide", {"approve": True}
    ).json()
    assert decided["extension_days"] == 2
    supervised = county.post(f"/cases/{code}/supervise", {"level": 2, "reason": "群众反映强烈"})
    assert supervised.status_code == 200, supervised.content
    sheet = supervised.json()["supervisions"][0]
    assert supervised.json()["supervised"] == 2
    answered = police.post(
        f"/cases/{code}/supervisions/{sheet['id']}/answer", {"answer": "已加派人手"}
    ).json()
    assert answered["supervisions"][0]["answered_at"]
    error_of(police.post(f"/cases/{code}/supervise", {"level": 1, "reason": "x"}), 403, "forbidden")


# ------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"description": "x", "lat": 91, "lng": 121}, "lat"),
        ({"description": "x", "category": "9999"}, "category"),
        ({"description": "x\x00y"}, "description"),
        ({"description": "x", "photos": ["not base64!"]}, "photos"),
        ({"description": "x", "photos": [base64.b64encode(b"GIF89a").decode()]}, "photos"),
        ({"description": "x", "channel": "carrier-pigeon"}, "channel"),
    ],
)
def test_bad_reports_are_400_with_the_field_named(personas, body, field):
    response = as_user(personas.lizhou).post("/cases", {"region": "330281001", **body})
    error = error_of(response, 400, "invalid")
    assert field in error["fields"], error


def test_malformed_json_and_bad_parameters_are_400(personas):
    api = as_user(personas.lizhou)
    error_of(api.post("/cases", raw="{not json"), 400, "invalid")
    error_of(api.post("/cases", raw="[1, 2]"), 400, "invalid")
    error = error_of(api.get("/cases", page=0), 400, "invalid")
    assert "page" in error["fields"]
    error_of(api.get("/cases", page_size=1000), 400, "invalid")
    error_of(api.get("/cases", ordering="password"), 400, "invalid")
    error_of(api.get("/cases", created_after="yesterday"), 400, "invalid")
    error_of(api.get("/cases/NO-SUCH-CASE"), 404, "not_found")
    error_of(api.get("/cases/99999999999999999999999"), 404, "not_found")


def test_locating_or_classifying_with_an_empty_code_is_400_not_500(personas):
    # found by schemathesis once the run kept its token: "" reached the actions as None
    (case,) = reported_in("330281001", personas.lizhou)
    api = as_user(personas.lizhou)
    for action, field in (("locate", "grid"), ("classify", "category")):
        for value in ("", None):
            response = api.post(f"/cases/{case.code}/{action}", {field: value})
            error = error_of(response, 400, "invalid")
            assert field in error["fields"]
        assert not CaseAction.objects.filter(case=case, action=action).exists()
    case.refresh_from_db()
    assert case.grid_id is None and case.category_id is None


def test_cases_in_other_places_are_not_found(personas):
    [other] = reported_in("330281002", personas.fengshan)
    api = as_user(personas.lizhou)
    error_of(api.get(f"/cases/{other.code}"), 404, "not_found")
    error_of(api.post(f"/cases/{other.code}/accept", {}), 404, "not_found")


# ------------------------------------------------------------------- paging and filters


def test_lists_are_paged_with_links(personas):
    reported_in("330281001", personas.lizhou, 3)
    reported_in("330281002", personas.fengshan, 2)
    api = as_user(personas.county)
    first = api.get("/cases", page_size=2).json()
    assert first["count"] == Case.objects.count() and len(first["results"]) == 2
    assert first["previous"] is None and "page=2" in first["next"]
    second = api.client.get(first["next"], headers=api.headers).json()
    assert not {c["code"] for c in first["results"]} & {c["code"] for c in second["results"]}
    past = api.get("/cases", page=first["pages"] + 1).json()
    assert past["results"] == [] and past["next"] is None
    town = api.get("/cases", region="330281002", page_size=200).json()
    assert town["count"] == 2
    assert all(c["region_code"].startswith("330281002") for c in town["results"])
    assert api.get("/cases", state="archived").json()["count"] == 0
    assert api.get("/cases", state=["reported", "archived"]).json()["count"] == 5


def test_reference_data(personas):
    api = as_user(personas.lizhou)
    tree = api.get("/categories").json()
    assert any(c["code"] == "01" and c["children"] for c in tree)
    assert api.get("/categories/0101").json()["parent"] == "01"
    grids = api.get("/grids", page_size=2).json()
    assert grids["type"] == "FeatureCollection" and len(grids["features"]) == 2
    assert (
        grids["count"]
        == Grid.objects.filter(code__startswith="330281001").exclude(kind="micro").count()
    )
    feature = grids["features"][0]
    assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    assert feature["properties"]["code"].startswith("330281001")
    assert api.get(f"/grids/{feature['id']}").json()["id"] == feature["id"]
    assert api.get("/grids/330281002001001").status_code == 404
    towns = api.get("/regions", level="village").json()
    assert towns["count"] >= 1
    assert all(r["code"].startswith("330281001") for r in towns["results"])
    departments = api.get("/departments", page_size=200).json()["results"]
    assert "330281001-public_security" in {d["code"] for d in departments}


# ------------------------------------------------------------------- rate limit


@override_settings(API_RATE_PER_MINUTE=3)
def test_each_token_is_rate_limited(personas):
    api, other = as_user(personas.lizhou), as_user(personas.lizhou)
    for _ in range(3):
        assert api.get("/me").status_code == 200
    limited = api.get("/me")
    error_of(limited, 429, "rate_limited")
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert other.get("/me").status_code == 200
