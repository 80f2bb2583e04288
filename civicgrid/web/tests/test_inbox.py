"""The inbox: what the actions notify reaches the person, their department and their unit."""

import csv
import io

from django.utils.timezone import now

from civicgrid.cases import actions as A
from civicgrid.cases.models import Notification


def _dispatched(world):
    lat, lng = world.point()
    case = A.do_report_case(
        actor=None, channel="resident", description="井盖缺失", lat=lat, lng=lng
    )
    case = A.do_accept_case(case, actor=world.p.lizhou, category=world.category)
    return A.do_dispatch_case(case, actor=world.p.lizhou, lead=world.town_police)


def test_a_department_sees_what_was_sent_to_it_and_others_do_not(login, world):
    case = _dispatched(world)
    sent = Notification.objects.filter(department=world.town_police, case=case, channel="inbox")
    assert sent.exists()
    client = login(world.town_police_user())
    page = client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert case.code in page and sent.first().subject in page
    other = login(world.town_law_user())
    assert case.code not in other.get("/inbox/").content.decode()


def test_personal_messages_are_marked_read(login, world, personas):
    user = personas.grid1
    Notification.objects.create(
        recipient=user, channel="inbox", event="test", subject="请核实网格内的新情况", created=now()
    )
    client = login(user)
    page = client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "请核实网格内的新情况" in page and "Mark 1 message read" in page
    assert client.post("/inbox/read/").status_code == 302
    assert not Notification.objects.filter(recipient=user, read_at__isnull=True).exists()
    assert (
        "Mark 1 message read"
        not in client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )
    assert client.get("/inbox/read/").status_code == 405


def test_the_inbox_is_exported(login, world):
    case = _dispatched(world)
    client = login(world.town_police_user())
    response = client.get("/inbox/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert any(row[2] == case.code for row in rows[1:])
    assert client.get("/inbox/export.pdf").status_code == 404
