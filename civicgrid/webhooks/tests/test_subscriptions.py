"""Subscriptions: made, rotated and revoked by the county centre, secrets sealed, audited."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from civicgrid.core.models import AuditEvent
from civicgrid.people.pii import reveal
from civicgrid.webhooks.actions import (
    do_create_subscription,
    do_revoke_subscription,
    do_rotate_secret,
)
from civicgrid.webhooks.models import WebhookDelivery, WebhookSubscription
from civicgrid.webhooks.selectors import deliveries_visible_to, subscriptions_visible_to

URL = "https://hooks.example.org/civicgrid"


def test_the_county_centre_subscribes_and_sees_the_secret_once(personas):
    subscription, secret = do_create_subscription(
        name="city platform",
        target_url=URL,
        events=["report", " accept ", "report"],
        actor=personas.county,
    )
    assert len(secret) >= 40 and subscription.secret_prefix == secret[:6]
    assert subscription.events == ["accept", "report"]
    stored = WebhookSubscription.objects.filter(pk=subscription.pk).values()[0]
    assert secret not in str(stored) and reveal(stored["secret_cipher"]) == secret
    event = AuditEvent.objects.get(
        action="webhooks.subscription.create", target_id=str(subscription.pk)
    )
    assert event.actor == personas.county and secret not in str(event.after)
    assert event.after["target_url"] == URL and event.after["events"] == ["accept", "report"]
    assert str(subscription) == "city platform" and subscription.active


def test_all_events_is_a_star(personas):
    subscription, _secret = do_create_subscription(
        name="all", target_url=URL, events=["report", "*"], actor=personas.admin
    )
    assert subscription.events == ["*"]


@pytest.mark.parametrize("who", ["grid1", "lizhou", "police", "auditor", "outsider"])
def test_only_the_county_centre_or_a_superuser_manages_webhooks(personas, who):
    user = getattr(personas, who)
    with pytest.raises(PermissionDenied):
        do_create_subscription(name="x", target_url=URL, events=["*"], actor=user)
    subscription, _secret = do_create_subscription(
        name="x", target_url=URL, events=["*"], actor=personas.admin
    )
    with pytest.raises(PermissionDenied):
        do_rotate_secret(subscription, actor=user)
    with pytest.raises(PermissionDenied):
        do_revoke_subscription(subscription, actor=user)
    assert not subscriptions_visible_to(user).exists()
    assert not deliveries_visible_to(user).exists()
    assert subscriptions_visible_to(personas.county).filter(pk=subscription.pk).exists()


@pytest.mark.parametrize(
    "values, field",
    [
        ({"name": "  "}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"name": None}, "name"),
        ({"target_url": ""}, "target_url"),
        ({"target_url": "ftp://example.org/x"}, "target_url"),
        ({"target_url": "javascript:alert(1)"}, "target_url"),
        ({"target_url": "https://"}, "target_url"),
        ({"target_url": "https://example.org:99999/x"}, "target_url"),
        ({"target_url": "https://example.org:port/x"}, "target_url"),
        ({"target_url": "https://user:pw@example.org/x"}, "target_url"),
        ({"target_url": "https://example.org/a b"}, "target_url"),
        ({"target_url": "https://example.org/\x00"}, "target_url"),
        ({"target_url": "https://example.org/#top"}, "target_url"),
        ({"target_url": "https://example.org/" + "x" * 500}, "target_url"),
        ({"target_url": 42}, "target_url"),
        ({"events": []}, "events"),
        ({"events": ["report", "burn"]}, "events"),
        ({"events": None}, "events"),
        ({"events": 7}, "events"),
        ({"region_code": "999999"}, "region_code"),
    ],
)
def test_it_validates_the_subscription(personas, values, field):
    with pytest.raises(ValidationError) as info:
        do_create_subscription(
            **{"name": "ok", "target_url": URL, "events": ["*"], **values}, actor=personas.county
        )
    assert field in info.value.message_dict


def test_it_accepts_intranet_receivers(personas):
    for url in ["http://10.0.3.7:8080/hooks", "http://ops-server/hooks", "https://[::1]/x"]:
        subscription, _secret = do_create_subscription(
            name="intranet", target_url=url, events=["*"], actor=personas.county
        )
        assert subscription.target_url == url


def test_rotating_replaces_the_secret_and_is_audited(personas):
    subscription, old = do_create_subscription(
        name="x", target_url=URL, events=["*"], actor=personas.county
    )
    subscription, new = do_rotate_secret(subscription, actor=personas.county)
    assert new != old and reveal(subscription.secret_cipher) == new
    assert subscription.secret_prefix == new[:6] and subscription.secret_rotated_at is not None
    event = AuditEvent.objects.get(action="webhooks.subscription.rotate_secret")
    assert event.before == {"secret_prefix": old[:6]} and event.after == {"secret_prefix": new[:6]}
    assert new not in str(event.after)


def test_revoking_is_final_and_audited_once(personas):
    subscription, _secret = do_create_subscription(
        name="x", target_url=URL, events=["*"], actor=personas.county
    )
    do_revoke_subscription(subscription, actor=personas.county)
    do_revoke_subscription(subscription, actor=personas.county)  # twice changes nothing
    subscription.refresh_from_db()
    assert not subscription.active
    assert AuditEvent.objects.filter(action="webhooks.subscription.revoke").count() == 1
    with pytest.raises(ValidationError):
        do_rotate_secret(subscription, actor=personas.county)


def test_the_admin_subscribes_through_the_action_and_shows_the_secret_once(client, personas):
    client.force_login(personas.county)
    add = "/admin/webhooks/webhooksubscription/add/"
    assert client.get(add).status_code == 200
    response = client.post(
        add,
        {"name": "city", "target_url": URL, "events": ["report", "dispatch"], "region_code": ""},
        follow=True,
    )
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get(name="city")
    assert subscription.events == ["dispatch", "report"]
    shown = [str(m) for m in response.context["messages"]]
    secret = next(w for m in shown for w in m.split() if w.startswith(subscription.secret_prefix))
    assert reveal(subscription.secret_cipher) == secret
    assert client.get("/admin/webhooks/webhooksubscription/").status_code == 200
    page = f"/admin/webhooks/webhooksubscription/{subscription.pk}/change/"
    assert client.get(page).status_code == 200
    assert secret not in client.get(page).content.decode()
    response = client.post(
        "/admin/webhooks/webhooksubscription/",
        {"action": "rotate_secret", "_selected_action": [subscription.pk]},
        follow=True,
    )
    subscription.refresh_from_db()
    assert subscription.secret_prefix in " ".join(str(m) for m in response.context["messages"])
    client.post(
        "/admin/webhooks/webhooksubscription/",
        {"action": "revoke", "_selected_action": [subscription.pk]},
        follow=True,
    )
    subscription.refresh_from_db()
    assert not subscription.active
    assert client.get("/admin/webhooks/webhookdelivery/").status_code == 200
    client.force_login(personas.grid1)
    assert client.get("/admin/webhooks/webhooksubscription/").status_code in {302, 403}
    assert client.get("/admin/webhooks/webhookdelivery/").status_code in {302, 403}


@pytest.mark.parametrize(
    "values",
    [
        {"name": "bad", "target_url": "ftp://x/", "events": ["report"]},
        {"name": "bad", "target_url": "https://user:pw@x.org/", "events": ["report"]},
        {"name": "bad", "target_url": URL, "events": ["nonsense"]},
        {"name": "bad", "target_url": URL, "events": ["report"], "region_code": "1"},
        {"name": "bad", "target_url": URL, "events": ["report"], "department": "abc"},
    ],
)
def test_the_admin_answers_bad_input_with_a_message_not_a_500(client, personas, values):
    client.force_login(personas.county)
    response = client.post("/admin/webhooks/webhooksubscription/add/", values, follow=True)
    assert response.status_code == 200
    assert not WebhookSubscription.objects.filter(name="bad").exists()


def test_the_delivery_log_shows_a_delivery(client, personas, world):
    do_create_subscription(name="x", target_url=URL, events=["*"], actor=personas.county)
    world.report()
    delivery = WebhookDelivery.objects.get()
    client.force_login(personas.county)
    page = client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200 and delivery.payload["case"]["code"] in page.content.decode()
