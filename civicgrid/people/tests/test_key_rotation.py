"""rotate_pii_key: everything sealed is re-encrypted under the new key, the search index stays."""

import base64
import os
import secrets
import subprocess
import sys
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command

from civicgrid.core.models import AuditEvent
from civicgrid.people import pii
from civicgrid.people.actions import do_create_person, do_reveal_person_pii
from civicgrid.people.management.commands.rotate_pii_key import sealed_columns
from civicgrid.people.models import Person

ID_NUMBER = "33028119800101002" + pii.id_check_digit("33028119800101002")
PHONE = "13905747777"


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _all_ciphers():
    for model, columns in sealed_columns():
        for row in model._base_manager.values_list(*columns):
            yield from (c for c in row if c)


def _rotate(**kwargs) -> str:
    out = StringIO()
    call_command("rotate_pii_key", stdout=out, **kwargs)
    return out.getvalue()


@pytest.fixture
def rotated_settings(settings):
    """The list after an operator put a new key first: CIVICGRID_PII_KEYS=new,old."""
    old = settings.PII_KEY
    settings.PII_INDEX_KEY = getattr(settings, "PII_INDEX_KEY", "") or old
    settings.PII_KEY, settings.PII_OLD_KEYS = _key(), [old, *settings.PII_OLD_KEYS]
    return settings


def test_the_sealed_columns_of_every_app_are_found():
    labels = {(m._meta.label, tuple(c)) for m, c in sealed_columns()}
    assert ("people.Person", ("id_number_cipher", "phone_cipher")) in labels
    assert ("cases.CaseReporter", ("phone_cipher",)) in labels
    assert ("mediation.Party", ("id_number_cipher", "phone_cipher")) in labels
    assert ("core.TotpDevice", ("secret_cipher",)) in labels
    assert ("webhooks.WebhookSubscription", ("secret_cipher",)) in labels


def test_rotation_re_encrypts_everything_and_the_old_key_can_go(personas, settings):
    county = personas.county
    grid = personas.grid1.person.grid
    person = do_create_person(
        name="王五", grid=grid, id_number=ID_NUMBER, phone=PHONE, actor=county
    )
    old_key = settings.PII_KEY
    settings.PII_INDEX_KEY = getattr(settings, "PII_INDEX_KEY", "") or old_key
    new_key = _key()
    settings.PII_KEY, settings.PII_OLD_KEYS = new_key, [old_key]

    # A run interrupted earlier had already done this one person.
    Person.objects.filter(pk=person.pk).update(
        id_number_cipher=pii.reseal(person.id_number_cipher),
        phone_cipher=pii.reseal(person.phone_cipher),
    )
    before = sum(1 for c in _all_ciphers() if not pii.is_sealed_with_current_key(c))
    assert before > 0
    with pytest.raises(CommandError):
        _rotate(check=True)

    output = _rotate(batch=200)
    assert f"{before} values re-encrypted" in output
    assert "people.Person:" in output  # progress per table
    new_only = Fernet(new_key.encode())
    for cipher in _all_ciphers():
        new_only.decrypt(cipher.encode())  # raises InvalidToken if anything was left behind
    assert _rotate(check=True).strip().endswith("0 values under old keys")
    event = AuditEvent.objects.filter(action="core.pii.rotate_key").latest("id")
    assert event.after == {"values_resealed": before}

    settings.PII_OLD_KEYS = []  # the old key is removed
    person.refresh_from_db()
    assert do_reveal_person_pii(person, actor=county) == {"id_number": ID_NUMBER, "phone": PHONE}
    # The search index did not move: its key is separate.
    assert Person.objects.filter(phone_hash=pii.blind_index("phone", PHONE)).get() == person
    assert pii.seal_phone(PHONE).hash == person.phone_hash
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(person.phone_cipher.encode())

    events = AuditEvent.objects.count()
    assert _rotate().strip().endswith("nothing to do: every value is under the first key")
    assert AuditEvent.objects.count() == events  # a second run is a no-op


def test_rotation_refuses_when_the_index_key_moved_with_the_list(rotated_settings, personas):
    do_create_person(
        name="赵六", grid=personas.grid1.person.grid, phone=PHONE, actor=personas.county
    )
    rotated_settings.PII_INDEX_KEY = rotated_settings.PII_KEY
    with pytest.raises(CommandError, match="CIVICGRID_PII_INDEX_KEY"):
        _rotate()


def _settings_in_a_fresh_interpreter(**env) -> subprocess.CompletedProcess:
    code = (
        "from civicgrid import settings as s; "
        "print(s.PII_KEY[:4], [k[:4] for k in s.PII_OLD_KEYS], s.PII_INDEX_KEY[:4])"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "CIVICGRID_PII_OLD_KEYS": "", "CIVICGRID_PII_INDEX_KEY": "", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_key_list_setting_and_its_older_spelling():
    a, b, c = "AAAA" + _key()[4:], "BBBB" + _key()[4:], "CCCC" + _key()[4:]
    old_style = _settings_in_a_fresh_interpreter(
        CIVICGRID_PII_KEY=a, CIVICGRID_PII_OLD_KEYS=b, CIVICGRID_PII_KEYS=""
    )
    assert old_style.stdout.split() == ["AAAA", "['BBBB']", "AAAA"], old_style.stderr
    listed = _settings_in_a_fresh_interpreter(CIVICGRID_PII_KEYS=f"{c},{a}", CIVICGRID_PII_KEY=a)
    assert listed.stdout.split() == ["CCCC", "['AAAA']", "AAAA"], listed.stderr  # index kept
    production = _settings_in_a_fresh_interpreter(
        CIVICGRID_ENV="production",
        CIVICGRID_SECRET_KEY="x" * 60,
        CIVICGRID_PII_KEYS=f"{c},{a}",
        CIVICGRID_PII_KEY="",
    )
    assert "CIVICGRID_PII_INDEX_KEY: required" in production.stderr
