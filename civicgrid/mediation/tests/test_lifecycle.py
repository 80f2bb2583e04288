"""Every transition of a dispute through its action, and the refusals."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from civicgrid.core.audit import verify_chain
from civicgrid.core.errors import ActionRefused
from civicgrid.mediation import workflow
from civicgrid.mediation.actions import (
    DisputeConflict,
    do_apply_confirmation,
    do_close_dispute,
    do_conclude_dispute,
    do_extend_dispute,
    do_follow_up,
    do_record_confirmation_result,
    do_record_handoff_result,
    do_record_performance,
    do_record_session,
    do_refer_dispute,
    do_route_dispute,
)
from civicgrid.mediation.models import DisputeEvent, LegalHandoff, Outcome
from civicgrid.mediation.workflow import InvalidTransition

pytestmark = pytest.mark.django_db


def _session(med, dispute, user=None):
    return do_record_session(
        dispute,
        actor=user or med.mediator_user,
        held_at=timezone.now() - timedelta(hours=1),
        place="调解室",
        attendees="张三、李四",
        notes="双方陈述",
    )


def _to_mediation(med):
    dispute = med.register()
    do_route_dispute(dispute, actor=med.centre_user, route="studio", org=med.studio)
    _session(med, dispute)
    dispute.refresh_from_db()
    return dispute


def _agreed(med, **extra):
    dispute = _to_mediation(med)
    return do_conclude_dispute(
        dispute,
        actor=med.mediator_user,
        outcome="agreement",
        terms="李四于三十日内支付张三五万元\n房屋归张三所有",
        amount="50000",
        perform_by=timezone.localdate() + timedelta(days=30),
        **extra,
    )


def test_happy_path_to_closed_with_timeline_and_audit(med):
    dispute = _agreed(med)
    assert dispute.state == workflow.AGREED and dispute.outcome == Outcome.AGREEMENT
    do_apply_confirmation(dispute, actor=med.mediator_user, court="余姚市人民法院")
    do_record_confirmation_result(dispute, actor=med.mediator_user, result="confirmed")
    do_record_performance(dispute, actor=med.mediator_user, kind="part", amount_paid="20000")
    dispute.refresh_from_db()
    assert dispute.state == workflow.PERFORMING
    do_record_performance(dispute, actor=med.mediator_user, kind="done", amount_paid="30000")
    dispute.refresh_from_db()
    assert dispute.state == workflow.PERFORMED
    do_follow_up(dispute, actor=med.centre_user, satisfaction="satisfied", note="回访满意")
    dispute.refresh_from_db()
    assert (dispute.state, dispute.satisfaction) == (workflow.FOLLOWED_UP, "satisfied")
    do_close_dispute(dispute, actor=med.centre_user)
    dispute.refresh_from_db()
    assert dispute.state == workflow.CLOSED and dispute.closed_at is not None
    actions = list(DisputeEvent.objects.filter(dispute=dispute).values_list("action", flat=True))
    assert actions == [
        "register",
        "route",
        "session",
        "agree",
        "apply_confirmation",
        "confirmation_result",
        "perform_part",
        "perform_done",
        "follow_up",
        "close",
    ]
    assert list(verify_chain()) == []


def test_only_the_centre_routes(med):
    dispute = med.register()
    for outsider in (med.mediator_user, med.p.fengshan, med.p.grid1, med.p.auditor):
        with pytest.raises(ActionRefused):
            do_route_dispute(dispute, actor=outsider, route="studio")
    do_route_dispute(dispute, actor=med.centre_user, route="studio")
    assert dispute.__class__.objects.get(pk=dispute.pk).state == workflow.ROUTED


def test_only_assigned_mediators_record_sessions(med):
    dispute = med.register()
    do_route_dispute(dispute, actor=med.centre_user, route="studio", org=med.studio)
    with pytest.raises(ActionRefused, match="mediators of this dispute"):
        _session(med, dispute, med.village_mediator_user)
    with pytest.raises(ActionRefused):
        _session(med, dispute, med.centre_user)  # the studio mediates, not the centre
    _session(med, dispute)


def test_the_centre_mediates_its_own_first_mediation(med):
    dispute = med.register()
    do_route_dispute(dispute, actor=med.centre_user, route="centre")
    _session(med, dispute, med.centre_user)
    dispute.refresh_from_db()
    assert dispute.state == workflow.IN_MEDIATION


def test_outcome_needs_a_session_and_an_agreement_its_terms(med):
    dispute = med.register()
    do_route_dispute(dispute, actor=med.centre_user, route="studio", org=med.studio)
    with pytest.raises(InvalidTransition):
        do_conclude_dispute(dispute, actor=med.mediator_user, outcome="agreement", terms="x")
    _session(med, dispute)
    with pytest.raises(ValidationError) as info:
        do_conclude_dispute(dispute, actor=med.mediator_user, outcome="agreement", terms="  ")
    assert "terms" in info.value.message_dict
    with pytest.raises(ValidationError):
        do_conclude_dispute(dispute, actor=med.mediator_user, outcome="nonsense")


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        ("failed", workflow.FAILED),
        ("terminated", workflow.TERMINATED),
        ("withdrawn", workflow.WITHDRAWN),
    ],
)
def test_other_outcomes_then_follow_up_and_close(med, outcome, state):
    dispute = _to_mediation(med)
    do_conclude_dispute(dispute, actor=med.mediator_user, outcome=outcome, note="一方拒绝")
    dispute.refresh_from_db()
    assert dispute.state == state and dispute.outcome == outcome and dispute.concluded_at
    do_follow_up(dispute, actor=med.mediator_user, satisfaction="basically_satisfied")
    with pytest.raises(ActionRefused, match="centre"):
        do_close_dispute(dispute, actor=med.mediator_user)
    do_close_dispute(dispute, actor=med.centre_user)
    dispute.refresh_from_db()
    assert dispute.state == workflow.CLOSED


def test_withdrawn_before_routing_closes_directly(med):
    dispute = med.register()
    do_conclude_dispute(dispute, actor=med.centre_user, outcome="withdrawn")
    do_close_dispute(dispute, actor=med.centre_user)
    dispute.refresh_from_db()
    assert dispute.state == workflow.CLOSED


def test_failed_mediation_goes_to_court_with_its_own_clock(med, at):
    at(2026, 3, 2, 10)
    dispute = _to_mediation(med)
    do_conclude_dispute(dispute, actor=med.mediator_user, outcome="failed")
    with pytest.raises(ActionRefused):
        do_refer_dispute(dispute, actor=med.mediator_user, channel="court", receiving_unit="法院")
    handoff = do_refer_dispute(
        dispute, actor=med.centre_user, channel="court", receiving_unit="余姚市人民法院"
    )
    dispute.refresh_from_db()
    assert dispute.state == workflow.REFERRED and dispute.legal_channel == "court"
    # 30 days from the day after 2 March: 1 April (a Wednesday), close of business.
    assert timezone.localtime(handoff.deadline).date() == date(2026, 4, 1)
    assert dispute.deadline == handoff.deadline
    assert not dispute.assignments.filter(active=True).exists()
    do_record_handoff_result(dispute, actor=med.centre_user, resolved=True, result="法院调解结案")
    dispute.refresh_from_db()
    handoff.refresh_from_db()
    assert dispute.state == workflow.FOLLOWED_UP and handoff.resolved is True


def test_refer_straight_from_registration(med):
    dispute = med.register(category="10")
    do_refer_dispute(
        dispute, actor=med.centre_user, channel="labour_arbitration", receiving_unit="劳动仲裁院"
    )
    assert LegalHandoff.objects.get(dispute=dispute).channel == "labour_arbitration"
    with pytest.raises(ValidationError):
        do_refer_dispute(dispute, actor=med.centre_user, channel="mars", receiving_unit="x")


def test_breach_then_court(med):
    dispute = _agreed(med)
    do_record_performance(dispute, actor=med.mediator_user, kind="breach", note="未按期支付")
    dispute.refresh_from_db()
    assert dispute.state == workflow.BREACHED
    do_refer_dispute(dispute, actor=med.centre_user, channel="court", receiving_unit="法院")
    dispute.refresh_from_db()
    assert dispute.state == workflow.REFERRED


def test_judicial_confirmation_within_30_days_once(med):
    dispute = _agreed(med, signed_on=timezone.localdate() - timedelta(days=31))
    with pytest.raises(ValidationError, match="30 days"):
        do_apply_confirmation(dispute, actor=med.mediator_user, court="法院")
    with pytest.raises(ValidationError, match="No application"):
        do_record_confirmation_result(dispute, actor=med.mediator_user, result="confirmed")
    do_apply_confirmation(
        dispute,
        actor=med.mediator_user,
        court="法院",
        applied_on=timezone.localdate() - timedelta(days=2),
    )
    with pytest.raises(ValidationError, match="already"):
        do_apply_confirmation(dispute, actor=med.mediator_user, court="法院")
    do_record_confirmation_result(dispute, actor=med.mediator_user, result="rejected")
    assert dispute.confirmation.__class__.objects.get(dispute=dispute).result == "rejected"


def test_closed_and_wrong_state_refusals(med):
    dispute = med.register()
    with pytest.raises(InvalidTransition):
        do_follow_up(dispute, actor=med.centre_user, satisfaction="satisfied")
    with pytest.raises(InvalidTransition):
        do_record_performance(dispute, actor=med.centre_user, kind="done")
    with pytest.raises(InvalidTransition):
        do_close_dispute(dispute, actor=med.centre_user)
    with pytest.raises(InvalidTransition):
        do_extend_dispute(dispute, actor=med.centre_user, days=5, reason="x")


def test_stale_version_is_refused(med):
    dispute = med.register()
    with pytest.raises(DisputeConflict):
        do_route_dispute(dispute, actor=med.centre_user, route="studio", expected_version=99)


def test_reroute_moves_the_assignment(med):
    dispute = med.register()
    do_route_dispute(dispute, actor=med.centre_user, route="studio", org=med.studio)
    do_route_dispute(dispute, actor=med.centre_user, route="committee")
    dispute.refresh_from_db()
    assert dispute.org == med.committee
    active = list(dispute.assignments.filter(active=True).values_list("mediator__name", flat=True))
    assert active == ["李村调"]
    with pytest.raises(ActionRefused):
        _session(med, dispute)  # the studio's mediator no longer
    _session(med, dispute, med.village_mediator_user)
