import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from civicgrid.core.audit import record_event
from civicgrid.core.models import AuditEvent
from civicgrid.regions.actions import do_update_grid
from civicgrid.regions.models import Grid


def _verify():
    try:
        call_command("verify_audit", stdout=open("/dev/null", "w"))
    except CommandError as exc:
        return str(exc)
    return "intact"


def _raw_update(sql, params):
    """Tamper the way someone with database access would: around the no-update trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_no_update")
            cursor.execute(sql, params)
            cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_no_update")
        else:
            cursor.execute("DROP TRIGGER core_auditevent_no_update")
            cursor.execute(sql, params)


@pytest.fixture
def trail(personas):
    grid = Grid.objects.exclude(kind="micro").order_by("code").first()
    for n in range(3):
        do_update_grid(grid, actor=personas.county, name=f"第{n}网格")
    return list(AuditEvent.objects.order_by("id"))


def test_it_writes_a_chained_event_inside_actions(trail, personas):
    last = trail[-1]
    assert last.action == "regions.grid.update"
    assert last.actor_name == "county"
    assert last.before["name"] == "第1网格" and last.after["name"] == "第2网格"
    assert last.prev_hash == trail[-2].hash
    assert _verify() == "intact"


def test_it_detects_an_edited_event(trail):
    _raw_update(
        "UPDATE core_auditevent SET actor_name = %s WHERE id = %s", ["mallory", trail[1].pk]
    )
    assert "not intact" in _verify()


def test_it_detects_edited_before_and_after_values(trail):
    _raw_update(
        "UPDATE core_auditevent SET after = %s WHERE id = %s", ['{"name": "x"}', trail[-1].pk]
    )
    assert "not intact" in _verify()


def test_it_detects_a_deleted_event_in_the_middle(trail):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [trail[1].pk])
    assert "not intact" in _verify()


def test_it_detects_a_deleted_tail(trail):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [trail[-1].pk])
    assert "not intact" in _verify()


def test_it_refuses_updates_through_the_orm_and_the_database(trail):
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=trail[0].pk).update(action="x")
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=trail[0].pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE core_auditevent SET action = 'x' WHERE id = %s", [trail[0].pk])


def test_it_records_the_request_id_of_a_web_request(login, personas):
    from civicgrid.people.models import Person

    person = Person.objects.filter(region_code__startswith="330281001", is_resident=True).first()
    client = login(personas.lizhou)
    response = client.post(f"/people/{person.pk}/reveal/", HTTP_X_REQUEST_ID="req-12345678")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-12345678"
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.request_id, event.target_id) == (
        "people.person.view_pii",
        "req-12345678",
        str(person.pk),
    )


def test_it_chains_events_written_by_the_system(db):
    first = record_event("test.one", target_type="x", target_id="1")
    second = record_event("test.two", target_type="x", target_id="2")
    assert second.prev_hash == first.hash and second.pk == first.pk + 1
    assert _verify() == "intact"
