"""The tick tells the assigned mediators and the centre once when a dispute's clock runs out."""

from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from civicgrid.cases.models import Notification
from civicgrid.core.models import AuditEvent
from civicgrid.mediation.actions import (
    do_extend_dispute,
    do_record_session,
    do_remind_overdue_disputes,
    do_route_dispute,
)
from civicgrid.mediation.tests.conftest import SHANGHAI

pytestmark = pytest.mark.django_db


def _routed(med):
    dispute = med.register()
    do_route_dispute(dispute, actor=med.centre_user, route="studio", org=med.studio)
    dispute.refresh_from_db()
    return dispute


def test_overdue_notified_once_to_mediators_and_centre(med, at):
    at(2026, 3, 2, 10)
    dispute = _routed(med)  # due Thursday 2 April 17:30
    assert dispute.assignments.filter(mediator=med.mediator, active=True).exists()
    at(2026, 3, 20, 9)
    fresh = med.register(title="另一纠纷")  # registered later: not yet due
    at(2026, 4, 2, 17)
    assert do_remind_overdue_disputes(datetime(2026, 4, 2, 17, tzinfo=SHANGHAI)) == 0
    at(2026, 4, 3, 9)
    now = datetime(2026, 4, 3, 9, tzinfo=SHANGHAI)
    assert do_remind_overdue_disputes(now) == 1
    assert do_remind_overdue_disputes(now) == 0  # twice → once
    rows = Notification.objects.filter(event="mediation_overdue")
    assert {n.recipient_id for n in rows if n.recipient_id} == {med.mediator_user.pk}
    assert {n.unit_code for n in rows if n.unit_code} == {med.town_code}
    assert all(dispute.code in n.subject and n.sent_at is None for n in rows)
    assert rows.count() == 2
    events = AuditEvent.objects.filter(
        action="mediation.dispute.overdue_notified", target_id=str(dispute.pk)
    )
    assert events.count() == 1
    dispute.refresh_from_db()
    assert dispute.overdue_notified_for == dispute.deadline
    assert not AuditEvent.objects.filter(
        action="mediation.dispute.overdue_notified", target_id=str(fresh.pk)
    ).exists()


def test_a_new_deadline_is_notified_again_and_a_closed_one_never(med, at):
    at(2026, 3, 2, 10)
    dispute = _routed(med)
    do_record_session(dispute, actor=med.mediator_user, held_at=timezone.now(), place="室")
    do_extend_dispute(dispute, actor=med.mediator_user, days=10, reason="双方同意延长")
    dispute.refresh_from_db()  # due Monday 13 April
    at(2026, 4, 10, 9)
    assert do_remind_overdue_disputes(datetime(2026, 4, 10, 9, tzinfo=SHANGHAI)) == 0
    at(2026, 4, 14, 9)
    assert do_remind_overdue_disputes(datetime(2026, 4, 14, 9, tzinfo=SHANGHAI)) == 1
    # The stamp is per deadline: moving the deadline (as an extension does) owes a new notice.
    type(dispute).objects.filter(pk=dispute.pk).update(
        deadline=datetime(2026, 4, 15, 9, tzinfo=SHANGHAI)
    )
    at(2026, 4, 16, 9)
    now = datetime(2026, 4, 16, 9, tzinfo=SHANGHAI)
    assert do_remind_overdue_disputes(now) == 1
    assert do_remind_overdue_disputes(now) == 0
    # Concluded disputes have no clock.
    type(dispute).objects.filter(pk=dispute.pk).update(
        state="agreed", deadline=datetime(2026, 4, 16, 8, tzinfo=SHANGHAI)
    )
    assert do_remind_overdue_disputes(now) == 0
    assert Notification.objects.filter(event="mediation_overdue", unit_code__gt="").count() == 2


def test_mediator_list_shows_overdue_disputes(med, at, client):
    at(2026, 3, 2, 10)
    dispute = _routed(med)
    client.force_login(med.mediator_user)
    page = client.get(reverse("mediation_list")).content.decode()
    assert 'id="overdue-banner"' not in page
    at(2026, 4, 3, 9)
    client.force_login(med.mediator_user)  # a month later: a new session
    page = client.get(reverse("mediation_list")).content.decode()
    assert 'id="overdue-banner"' in page and dispute.code in page
    client.force_login(med.village_mediator_user)  # not assigned: no banner
    assert 'id="overdue-banner"' not in client.get(reverse("mediation_list")).content.decode()
