"""Every (state, action) of the table, taken through its action by the right person, lands in
the table's next state; the same step by someone else is refused."""

from datetime import timedelta

import pytest
from django.utils import timezone

from civicgrid.core.errors import ActionRefused
from civicgrid.mediation import actions as A
from civicgrid.mediation import workflow as W

pytestmark = pytest.mark.django_db


def _session(d, u):
    return A.do_record_session(d, actor=u, held_at=timezone.now() - timedelta(hours=1), place="室")


DO = {
    "route": lambda d, u, m: A.do_route_dispute(d, actor=u, route="studio", org=m.studio),
    "reroute": lambda d, u, m: A.do_route_dispute(d, actor=u, route="studio", org=m.studio),
    "refer": lambda d, u, m: A.do_refer_dispute(d, actor=u, channel="court", receiving_unit="法院"),
    "session": lambda d, u, m: _session(d, u),
    "extend": lambda d, u, m: A.do_extend_dispute(d, actor=u, days=5, reason="双方同意"),
    "agree": lambda d, u, m: A.do_conclude_dispute(d, actor=u, outcome="agreement", terms="和解"),
    "fail": lambda d, u, m: A.do_conclude_dispute(d, actor=u, outcome="failed"),
    "terminate": lambda d, u, m: A.do_conclude_dispute(d, actor=u, outcome="terminated"),
    "withdraw": lambda d, u, m: A.do_conclude_dispute(d, actor=u, outcome="withdrawn"),
    "apply_confirmation": lambda d, u, m: A.do_apply_confirmation(d, actor=u, court="法院"),
    "confirmation_result": lambda d, u, m: A.do_record_confirmation_result(
        d, actor=u, result="confirmed"
    ),
    "perform_part": lambda d, u, m: A.do_record_performance(d, actor=u, kind="part"),
    "perform_done": lambda d, u, m: A.do_record_performance(d, actor=u, kind="done"),
    "breach": lambda d, u, m: A.do_record_performance(d, actor=u, kind="breach"),
    "handoff_result": lambda d, u, m: A.do_record_handoff_result(
        d, actor=u, resolved=False, result="未化解"
    ),
    "follow_up": lambda d, u, m: A.do_follow_up(d, actor=u, satisfaction="satisfied"),
    "close": lambda d, u, m: A.do_close_dispute(d, actor=u),
}

# How to reach each state: (state before, action).
PATH = {
    W.ROUTED: (W.REGISTERED, "route"),
    W.IN_MEDIATION: (W.ROUTED, "session"),
    W.AGREED: (W.IN_MEDIATION, "agree"),
    W.PERFORMING: (W.AGREED, "perform_part"),
    W.PERFORMED: (W.AGREED, "perform_done"),
    W.BREACHED: (W.AGREED, "breach"),
    W.FAILED: (W.IN_MEDIATION, "fail"),
    W.TERMINATED: (W.IN_MEDIATION, "terminate"),
    W.WITHDRAWN: (W.REGISTERED, "withdraw"),
    W.REFERRED: (W.REGISTERED, "refer"),
    W.FOLLOWED_UP: (W.PERFORMED, "follow_up"),
}


def _actor(med, who):
    return med.mediator_user if who == "handler" else med.centre_user


def _take(med, dispute, action):
    step = W.TRANSITIONS[(dispute.state, action)]
    DO[action](dispute, _actor(med, step.actor), med)
    dispute.refresh_from_db()
    return dispute


def _reach(med, state):
    if state == W.REGISTERED:
        return med.register()
    before, action = PATH[state]
    dispute = _reach(med, before)
    return _take(med, dispute, action)


def test_the_paths_cover_every_state():
    assert set(PATH) | {W.REGISTERED, W.CLOSED} == set(W.STATE_LABELS)
    assert set(DO) == set(W.ACTION_LABELS) - {"register"}


@pytest.mark.parametrize(("state", "action"), sorted(W.TRANSITIONS))
def test_transition(med, state, action):
    dispute = _reach(med, state)
    if action == "confirmation_result":
        A.do_apply_confirmation(dispute, actor=med.mediator_user, court="法院")
        dispute.refresh_from_db()
    step = W.TRANSITIONS[(state, action)]
    with pytest.raises(ActionRefused):
        DO[action](dispute, med.p.fengshan, med)  # another township's window
    if step.actor == "centre":
        with pytest.raises(ActionRefused):
            DO[action](dispute, med.mediator_user, med)
    if step.actor == "handler":
        with pytest.raises(ActionRefused):
            DO[action](dispute, med.village_mediator_user, med)
    assert _take(med, dispute, action).state == step.next_state
