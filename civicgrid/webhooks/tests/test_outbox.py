"""Case actions queue deliveries in their own transaction, for the subscriptions that match."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction

from civicgrid.cases import actions as A
from civicgrid.cases.models import CaseAction
from civicgrid.cases.workflow import InvalidTransition
from civicgrid.webhooks.actions import (
    do_create_subscription,
    do_revoke_subscription,
    enqueue_case_event,
)
from civicgrid.webhooks.models import WebhookDelivery


def _subscribe(world, events=("*",), **extra):
    subscription, _secret = do_create_subscription(
        name="city platform",
        target_url="https://hooks.example.org/civicgrid",
        events=list(events),
        actor=world.p.county,
        **extra,
    )
    return subscription


def test_a_subscribed_action_queues_exactly_one_delivery(world):
    subscription = _subscribe(world, events=["accept"])
    case = world.report()
    assert not WebhookDelivery.objects.exists()  # "report" was not chosen
    case = A.do_accept_case(case, actor=world.p.lizhou, category=world.category)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.subscription, delivery.event, delivery.case) == (subscription, "accept", case)
    assert delivery.status == "pending" and delivery.attempts == 0
    assert delivery.next_attempt_at is not None
    row = CaseAction.objects.get(case=case, action="accept")
    assert delivery.payload["action_id"] == row.pk
    case_part = delivery.payload["case"]
    assert (case_part["code"], case_part["status"], case_part["previous_status"]) == (
        case.code,
        "accepted",
        "reported",
    )
    assert case_part["category"] == world.category.code
    assert case_part["grid_code"] == world.grid.code == case_part["region_code"]
    assert case_part["resolve_deadline"].endswith("+08:00")
    assert delivery.payload["occurred_at"].endswith("+08:00")


def test_the_report_itself_is_an_event(world):
    _subscribe(world, events=["report"])
    case = world.report()
    assert list(WebhookDelivery.objects.values_list("event", "case")) == [("report", case.pk)]


def test_every_subscription_that_matches_gets_its_own_delivery(world):
    first = _subscribe(world)
    second = _subscribe(world, events=["report", "accept"])
    _subscribe(world, events=["dispatch"])
    world.accepted()
    assert sorted(WebhookDelivery.objects.values_list("subscription", "event")) == sorted(
        [(first.pk, "report"), (first.pk, "accept"), (second.pk, "report"), (second.pk, "accept")]
    )


def test_a_rolled_back_action_leaves_no_delivery(world):
    _subscribe(world)
    case = world.report()
    WebhookDelivery.objects.all().delete()
    with pytest.raises(RuntimeError), transaction.atomic():
        A.do_accept_case(case, actor=world.p.lizhou, category=world.category)
        assert WebhookDelivery.objects.filter(event="accept").count() == 1
        raise RuntimeError("the caller fails after the action")
    assert not WebhookDelivery.objects.exists()


def test_a_refused_or_impossible_action_leaves_no_delivery(world):
    _subscribe(world)
    case = world.report()
    WebhookDelivery.objects.all().delete()
    with pytest.raises(PermissionDenied):
        A.do_accept_case(case, actor=world.p.grid2, category=world.category)
    with pytest.raises(InvalidTransition):
        A.do_sign_case(case, actor=world.town_police_user())
    assert not WebhookDelivery.objects.exists()


def test_a_region_scope_keeps_other_townships_cases_out(world):
    _subscribe(world, region_code="330281002")  # 凤山; the world's grid is in 梨洲
    world.accepted()
    assert not WebhookDelivery.objects.exists()
    mine = _subscribe(world, region_code=world.grid.code[:9])
    world.report()
    assert list(WebhookDelivery.objects.values_list("subscription", flat=True)) == [mine.pk]


def test_a_department_scope_sees_only_cases_dispatched_to_it(world):
    police = _subscribe(world, department=world.town_police)
    case = world.accepted()
    assert not WebhookDelivery.objects.exists()
    case = A.do_dispatch_case(case, actor=world.p.lizhou, lead=world.town_law)
    assert not WebhookDelivery.objects.exists()
    other = world.accepted()
    A.do_dispatch_case(other, actor=world.p.lizhou, lead=world.town_police)
    assert list(WebhookDelivery.objects.values_list("subscription", "event", "case")) == [
        (police.pk, "dispatch", other.pk)
    ]


def test_a_revoked_subscription_gets_nothing_more(world):
    subscription = _subscribe(world)
    world.report()
    queued = WebhookDelivery.objects.get()
    do_revoke_subscription(subscription, actor=world.p.county)
    queued.refresh_from_db()
    assert (queued.status, queued.next_attempt_at) == ("gave_up", None)
    world.accepted()
    assert WebhookDelivery.objects.count() == 1


def test_a_revocation_in_another_process_is_seen_at_once(world):
    subscription = _subscribe(world)
    world.report()  # this process now holds the subscription in its short-lived cache
    # Another process revokes it: the row changes, this process's cache does not.
    type(subscription).objects.filter(pk=subscription.pk).update(revoked_at=subscription.created)
    world.report()
    assert WebhookDelivery.objects.count() == 1


def test_with_no_subscriptions_an_action_costs_no_query(world, django_assert_num_queries):
    case = world.report()
    row = case.actions.get()
    enqueue_case_event(case, row)  # loads the (empty) list once
    with django_assert_num_queries(0):
        for _ in range(100):
            assert enqueue_case_event(case, row) == 0


def test_the_payload_holds_no_personal_data(world):
    _subscribe(world)
    case = world.accepted(
        reporter_name="王小明",
        reporter_phone="13905749876",
        address="阳明街道1号",
        description="停了三个月的车，车主电话13905741234",
    )
    A.do_dispatch_case(case, actor=world.p.lizhou, lead=world.town_police, text="请联系张三")
    text = json.dumps(
        list(WebhookDelivery.objects.values_list("payload", flat=True)), ensure_ascii=False
    )
    reporter = case.reporters.get()
    for secret in [
        "王小明",
        "13905749876",
        "13905741234",  # the number written into the description
        reporter.phone_masked,
        "停了三个月",
        "张三",
        "阳明街道",
        world.p.lizhou.username,
    ]:
        assert secret not in text
    assert set(WebhookDelivery.objects.first().payload) == {
        "event",
        "action_id",
        "occurred_at",
        "case",
    }
