"""The one-month mediation clock on the working calendar, extensions, overdue, legal clocks."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from civicgrid.core.errors import ActionRefused
from civicgrid.mediation.actions import do_extend_dispute, do_record_session, do_route_dispute
from civicgrid.mediation.rules import legal_deadline, mediation_deadline, period_end
from civicgrid.mediation.tests.conftest import SHANGHAI

pytestmark = pytest.mark.django_db


def local(moment):
    return timezone.localtime(moment, SHANGHAI)


def test_one_month_from_the_day_after():
    from datetime import datetime

    # Monday 2 March 2026 → Thursday 2 April 2026, 17:30.
    end = local(mediation_deadline(datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)))
    assert (end.date(), end.hour, end.minute) == (date(2026, 4, 2), 17, 30)


def test_month_end_and_holidays_move_to_the_next_working_day():
    from datetime import datetime

    # Received Friday 30 January: February has no 30th, so its last day, 28 February 2026 —
    # a Saturday worked in exchange for the Spring Festival (调休), so it stands.
    end = local(period_end(datetime(2026, 1, 30, 10, tzinfo=SHANGHAI), months=1))
    assert end.date() == date(2026, 2, 28)
    # 2026-09-01 + 1 month = 1 October, National Day: the first working day after it.
    end = local(mediation_deadline(datetime(2026, 9, 1, 10, tzinfo=SHANGHAI)))
    assert end.date() == date(2026, 10, 8)


def test_received_at_night_counts_from_the_next_working_day():
    from datetime import datetime

    # Friday 6 March 19:00 → received Monday 9 March → due Thursday 9 April.
    end = local(mediation_deadline(datetime(2026, 3, 6, 19, tzinfo=SHANGHAI)))
    assert end.date() == date(2026, 4, 9)


def test_legal_clocks():
    from datetime import datetime

    start = datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
    assert local(legal_deadline("labour_arbitration", start)).date() == date(2026, 4, 16)
    assert local(legal_deadline("petition", start)).date() == date(2026, 5, 6)  # 1 May holiday


def test_extension_and_overdue(med, at):
    at(2026, 3, 2, 10)
    dispute = med.register()
    assert local(dispute.deadline).date() == date(2026, 4, 2)
    do_route_dispute(dispute, actor=med.centre_user, route="studio", org=med.studio)
    do_record_session(dispute, actor=med.mediator_user, held_at=timezone.now(), place="调解室")
    with pytest.raises(ActionRefused):
        do_extend_dispute(dispute, actor=med.centre_user, days=10, reason="双方同意")
    do_extend_dispute(dispute, actor=med.mediator_user, days=10, reason="双方同意延长")
    dispute.refresh_from_db()
    assert local(dispute.deadline).date() == date(2026, 4, 13)  # 12 April is a Sunday
    with pytest.raises(ValidationError, match="30 days"):
        do_extend_dispute(dispute, actor=med.mediator_user, days=21, reason="再延")
    at(2026, 4, 13, 17)
    dispute.refresh_from_db()
    assert not dispute.is_overdue
    at(2026, 4, 13, 18)
    assert dispute.is_overdue
    with pytest.raises(ValidationError, match="before the time limit"):
        do_extend_dispute(dispute, actor=med.mediator_user, days=5, reason="再延")
    from civicgrid.mediation.selectors import disputes_visible_to, filter_disputes

    assert dispute in filter_disputes(disputes_visible_to(med.centre_user), overdue=True)
    assert timedelta(0) < dispute.deadline - dispute.created
