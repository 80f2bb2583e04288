"""Integration keys: made and revoked by the county centre, stored as hashes, audited."""

import hashlib
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from civicgrid.api.actions import do_create_api_key, do_revoke_api_key
from civicgrid.api.auth import authenticate_api_key
from civicgrid.api.models import ApiKey
from civicgrid.core.models import AuditEvent


def test_the_county_centre_makes_a_key_whose_secret_is_never_stored(personas):
    key, secret = do_create_api_key(name="12345 platform", actor=personas.county)
    assert len(secret) >= 40 and key.prefix == secret[:8]
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = ApiKey.objects.filter(pk=key.pk).values()[0]
    assert secret not in str(stored)
    event = AuditEvent.objects.get(action="api.api_key.create", target_id=str(key.pk))
    assert event.actor == personas.county and secret not in str(event.after)
    assert event.after["prefix"] == key.prefix
    assert str(key) == f"12345 platform ({key.prefix}…)"


@pytest.mark.parametrize("who", ["grid1", "lizhou", "police", "auditor", "outsider"])
def test_only_the_county_centre_or_a_superuser_manages_keys(personas, who):
    with pytest.raises(PermissionDenied):
        do_create_api_key(name="x", actor=getattr(personas, who))
    key, _secret = do_create_api_key(name="x", actor=personas.admin)
    with pytest.raises(PermissionDenied):
        do_revoke_api_key(key, actor=getattr(personas, who))


@pytest.mark.parametrize(
    "values, field",
    [
        ({"name": "  "}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"region_code": "999999"}, "region_code"),
    ],
)
def test_it_validates_the_key(personas, values, field):
    with pytest.raises(ValidationError) as info:
        do_create_api_key(**{"name": "ok", **values}, actor=personas.county)
    assert field in info.value.message_dict


def test_only_a_superuser_makes_a_key_acting_as_a_superuser(personas):
    with pytest.raises(ValidationError):
        do_create_api_key(name="root", actor=personas.county, user=personas.admin)
    key, _secret = do_create_api_key(name="root", actor=personas.admin, user=personas.admin)
    assert key.user == personas.admin


def test_it_authenticates_by_the_secret_and_not_after_revocation(personas):
    key, secret = do_create_api_key(
        name="town app", actor=personas.county, user=personas.grid1, region_code="330281001"
    )
    assert authenticate_api_key(secret) == key
    for wrong in [None, "", secret[:-1], secret + "x", secret.upper(), "\x00", 42, "x" * 10_000]:
        assert authenticate_api_key(wrong) is None
    do_revoke_api_key(key, actor=personas.county)
    do_revoke_api_key(key, actor=personas.county)  # twice changes nothing
    assert authenticate_api_key(secret) is None
    assert (
        AuditEvent.objects.filter(action="api.api_key.revoke", target_id=str(key.pk)).count() == 1
    )


def test_a_key_of_a_deactivated_account_stops_working(personas):
    grid1 = personas.grid1
    key, secret = do_create_api_key(name="grid app", actor=personas.county, user=grid1)
    grid1.is_active = False
    grid1.save(update_fields=["is_active"])
    assert authenticate_api_key(secret) is None


def test_it_notes_the_last_use_at_most_once_a_minute(personas, monkeypatch):
    key, secret = do_create_api_key(name="app", actor=personas.county)
    assert key.last_used_at is None
    start = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: start)
    authenticate_api_key(secret)
    key.refresh_from_db()
    assert key.last_used_at == start
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(seconds=30))
    authenticate_api_key(secret)
    key.refresh_from_db()
    assert key.last_used_at == start
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(seconds=61))
    authenticate_api_key(secret)
    key.refresh_from_db()
    assert key.last_used_at == start + timedelta(seconds=61)


def test_the_admin_lists_keys_and_makes_one_through_the_action(client, personas):
    client.force_login(personas.county)
    response = client.post(
        "/admin/api/apikey/add/",
        {"name": "hotline", "user": "", "department": "", "region_code": ""},
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(name="hotline")
    shown = [str(m) for m in response.context["messages"]]
    assert any(key.prefix in m for m in shown)
    secret = next(w for m in shown for w in m.split() if w.startswith(key.prefix))
    assert authenticate_api_key(secret) == key
    assert AuditEvent.objects.filter(action="api.api_key.create", target_id=str(key.pk)).exists()
    assert client.get("/admin/api/apikey/").status_code == 200
    assert client.get(f"/admin/api/apikey/{key.pk}/change/").status_code == 200
    response = client.post(
        "/admin/api/apikey/",
        {"action": "revoke", "_selected_action": [key.pk]},
        follow=True,
    )
    key.refresh_from_db()
    assert key.revoked_at is not None
    client.force_login(personas.grid1)
    assert client.get("/admin/api/apikey/").status_code in {302, 403}  # not for them


# --------------------------------------------------------------------------- the key cache


def test_a_known_key_is_read_from_the_process_cache(personas, django_assert_num_queries):
    key, secret = do_create_api_key(name="app", actor=personas.county, user=personas.grid1)
    assert authenticate_api_key(secret) == key  # read, cached, last use noted
    with django_assert_num_queries(0):
        again = authenticate_api_key(secret)
    assert again == key and again.user == personas.grid1
    # Each call gets its own copy: what one request memoises on the user does not leak.
    again.user.noted_by_a_request = True
    assert not hasattr(authenticate_api_key(secret).user, "noted_by_a_request")


def test_a_revocation_in_this_process_stops_a_cached_key_at_once(personas):
    key, secret = do_create_api_key(name="app", actor=personas.county)
    assert authenticate_api_key(secret) == key
    do_revoke_api_key(key, actor=personas.county)
    assert authenticate_api_key(secret) is None


def test_a_deactivated_account_stops_its_cached_key_at_once(personas):
    grid1 = personas.grid1
    key, secret = do_create_api_key(name="grid app", actor=personas.county, user=grid1)
    assert authenticate_api_key(secret) == key
    grid1.is_active = False
    grid1.save(update_fields=["is_active"])
    assert authenticate_api_key(secret) is None


def test_a_revocation_elsewhere_takes_effect_within_the_ttl(personas, monkeypatch, settings):
    """Another process revoked the key (no signal reaches this one): the cached row is used
    until it is API_KEY_CACHE_SECONDS old, then the key is refused."""
    import civicgrid.api.auth as auth

    settings.API_KEY_CACHE_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    key, secret = do_create_api_key(name="app", actor=personas.county)
    assert authenticate_api_key(secret) == key
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())  # no signal
    clock[0] += 4.9
    assert authenticate_api_key(secret) == key
    clock[0] += 0.2
    assert authenticate_api_key(secret) is None
    assert authenticate_api_key(secret) is None


def test_a_cached_token_expires_on_time(personas, monkeypatch):
    from civicgrid.api.actions import do_create_personal_token

    start = timezone.now()
    key, secret = do_create_personal_token(
        name="short", actor=personas.grid1, expires_at=start + timedelta(seconds=30)
    )
    monkeypatch.setattr(timezone, "now", lambda: start)
    assert authenticate_api_key(secret) == key
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(seconds=31))
    assert authenticate_api_key(secret) is None


def test_the_cache_can_be_turned_off(personas, settings, django_assert_num_queries):
    settings.API_KEY_CACHE_SECONDS = 0
    key, secret = do_create_api_key(name="app", actor=personas.county)
    assert authenticate_api_key(secret) == key
    with django_assert_num_queries(1):
        assert authenticate_api_key(secret) == key
