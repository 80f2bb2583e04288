"""The queued intake mode (OPEN311_QUEUED_INTAKE): a token at once, the case from the runner."""

import threading

import pytest
from django.core.management import call_command
from django.db import connection

from civicgrid.cases.models import Case, CaseAction, Notification
from civicgrid.core.tests.threads import alone
from civicgrid.open311.actions import do_drain_service_requests, do_queue_service_request
from civicgrid.open311.models import QueuedRequest, ServiceRequest


@pytest.fixture
def queued(settings):
    settings.OPEN311_QUEUED_INTAKE = True


@pytest.fixture
def form(world, api_key):
    lat, lng = world.point()
    return {
        "api_key": api_key[1],
        "service_code": "0101",
        "lat": str(lat),
        "long": str(lng),
        "description": "小区门口有一辆僵尸车",
    }


def token_of(answer) -> str:
    assert answer.status == 200, answer.response.content
    (item,) = answer.items()
    assert item.get("service_request_id") in (None, "")  # a token, never both (the spec)
    return item["token"]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_post_answers_with_a_token_and_the_runner_makes_the_case(queued, o311, form, fmt):
    before = Case.objects.count()
    token = token_of(o311.post(fmt, **form, phone="13905741234", first_name="三", last_name="张"))
    assert Case.objects.count() == before  # nothing made yet
    (item,) = o311.get(f"tokens/{token}", fmt).items()
    assert item["token"] == token and item["service_request_id"] in (None, "")

    assert do_drain_service_requests(node="test") == {"claimed": 1, "done": 1, "failed": 0}

    (item,) = o311.get(f"tokens/{token}", fmt).items()
    case = Case.objects.get(code=item["service_request_id"])
    assert (case.channel, case.category.code, case.description) == (
        "open311",
        "0101",
        "小区门口有一辆僵尸车",
    )
    assert case.reporters.get().phone_masked == "139****1234"
    assert ServiceRequest.objects.filter(case=case).exists()
    # The phone in clear is not kept on the queue once the case exists.
    assert QueuedRequest.objects.get(token=token).params == {}
    (shown,) = o311.get(f"requests/{case.code}", fmt).items()
    assert shown["service_request_id"] == case.code


def test_services_say_batch_while_queued(queued, o311, world):
    assert {s["type"] for s in o311.get("services").items()} == {"batch"}


def test_an_unknown_token_is_404(queued, o311, world):
    assert o311.get("tokens/nope").status == 404


def test_a_retry_gets_the_same_token_and_one_case(queued, o311, form):
    headers = {"X-Idempotency-Key": "sub-42"}
    first = token_of(o311.post(headers=headers, **form))
    assert token_of(o311.post(headers=headers, **form)) == first
    do_drain_service_requests(node="test")
    # Retried again after the case was made: still the same token, still one case.
    assert token_of(o311.post(headers=headers, **form)) == first
    assert do_drain_service_requests(node="test")["claimed"] == 0
    (item,) = o311.get(f"tokens/{first}").items()
    assert Case.objects.filter(code=item["service_request_id"]).count() == 1
    assert QueuedRequest.objects.count() == 1


def test_a_refused_request_shows_why_at_its_token(queued, o311, form):
    form.update(lat="10.0", long="10.0")  # far outside the county
    token = token_of(o311.post(**form))
    assert do_drain_service_requests(node="test")["failed"] == 1
    answer = o311.get(f"tokens/{token}")
    assert answer.status == 400
    assert answer.errors()[0]["description"]


def test_the_drain_command_empties_the_queue_in_batches(queued, o311, form):
    tokens = [token_of(o311.post(**form)) for _ in range(5)]
    call_command("drain_open311", "--batch", "2", stdout=open("/dev/null", "w"))
    rows = QueuedRequest.objects.filter(token__in=tokens)
    assert set(rows.values_list("state", flat=True)) == {"done"}
    assert len(set(rows.values_list("case_id", flat=True))) == 5


def test_tick_drains_the_queue_too(queued, o311, form):
    from civicgrid.cases.management.commands.tick import tick

    token = token_of(o311.post(**form))
    assert tick()["drained"] == 1
    row = QueuedRequest.objects.get(token=token)
    assert row.state == "done" and row.case_id is not None
    assert tick()["drained"] == 0


def test_photos_still_make_the_case_at_once(queued, o311, form):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from civicgrid.cases.tests.conftest import jpeg

    photo = SimpleUploadedFile("a.jpg", jpeg(), content_type="image/jpeg")
    answer = o311.post(files={"media": photo}, **form)
    (item,) = answer.items()
    assert Case.objects.filter(code=item["service_request_id"]).exists()


def test_two_runners_at_once_never_make_a_case_twice(world, personas):
    """Two nodes drain the same queue at the same moment (PostgreSQL row locks)."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent runners are a PostgreSQL test (SQLite serialises writers)")
    from civicgrid.api.actions import do_create_api_key
    from civicgrid.api.models import ApiKey
    from civicgrid.cases.models import Category

    category = Category.objects.get(code="0101")
    lat, lng = world.point()
    county = personas.county

    def queue():
        key, _secret = do_create_api_key(name="race", actor=county)
        return key, [
            do_queue_service_request(
                api_key=key, category=category, description=f"并发 {n}", lat=lat, lng=lng
            ).token
            for n in range(30)
        ]

    # Committed outside the test's transaction, so the runners' connections see them.
    key, tokens = alone(queue)
    try:
        barrier = threading.Barrier(2)
        results = []

        def runner(name):
            def run():
                barrier.wait()
                counts = {"done": 0}
                while True:
                    step = do_drain_service_requests(node=name, batch=4)
                    counts["done"] += step["done"]
                    if not step["claimed"]:
                        return counts

            results.append(alone(run))

        threads = [threading.Thread(target=runner, args=(n,)) for n in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        assert sum(r["done"] for r in results) == 30
        assert all(r["done"] > 0 for r in results), results  # both took part

        def outcome():
            rows = list(QueuedRequest.objects.filter(token__in=tokens))
            cases = list(Case.objects.filter(pk__in=[r.case_id for r in rows]))
            return rows, cases

        rows, cases = alone(outcome)
        assert {r.state for r in rows} == {"done"}
        assert len(cases) == 30 and len({r.case_id for r in rows}) == 30
    finally:

        def cleanup():
            rows = QueuedRequest.objects.filter(token__in=tokens)
            ids = list(rows.exclude(case=None).values_list("case_id", flat=True))
            rows.delete()
            ServiceRequest.objects.filter(case_id__in=ids).delete()
            Notification.objects.filter(case_id__in=ids).delete()
            CaseAction.objects.filter(case_id__in=ids).delete()
            for case in Case.objects.filter(pk__in=ids):
                case.reporters.all().delete()
            Case.objects.filter(pk__in=ids).delete()
            ApiKey.objects.filter(pk=key.pk).delete()

        alone(cleanup)
