"""The dispute lifecycle 登记—分流—调解—履行—回访—结案 as a table (no database access here).

``TRANSITIONS[(state, action)] = Step(next_state, actor)``; ``actor`` says who may take it:

* ``centre``  — the 综治中心 / 矛调中心 window of the dispute's area (``mediation.route`` over
  the dispute's place): triage, routing, legal hand-offs, closing;
* ``handler`` — whoever mediates it: a mediator assigned to the dispute, the staff of the
  department it was routed to, or the centre itself when the route is the centre
  (先行调解);
* ``either``  — the centre or the handler (withdrawal, follow-up visit).

Guards that need the dispute (a session before an outcome, the terms of an agreement, the
30-day limit for judicial confirmation) live in the actions; this table is the whole graph.

Reference: cn-standards §7.2 (REGISTERED → TRIAGED → PRE_MEDIATION | REFERRED → MEDIATING →
AGREED | FAILED → JUDICIAL_CONFIRMATION → PERFORMING → RETURN_VISIT → CLOSED).
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

__all__ = [
    "ACTION_LABELS",
    "CLOSED_STATES",
    "CONCLUDED_OUTCOMES",
    "OPEN_STATES",
    "STATE_LABELS",
    "TRANSITIONS",
    "InvalidTransition",
    "Step",
    "allowed_actions",
    "next_step",
]

REGISTERED = "registered"
ROUTED = "routed"
IN_MEDIATION = "in_mediation"
AGREED = "agreed"
FAILED = "failed"
TERMINATED = "terminated"
WITHDRAWN = "withdrawn"
PERFORMING = "performing"
PERFORMED = "performed"
BREACHED = "breached"
REFERRED = "referred"
FOLLOWED_UP = "followed_up"
CLOSED = "closed"

STATE_LABELS = {
    REGISTERED: _("Registered"),
    ROUTED: _("Routed, awaiting mediation"),
    IN_MEDIATION: _("In mediation"),
    AGREED: _("Agreement reached"),
    FAILED: _("Mediation failed"),
    TERMINATED: _("Mediation terminated"),
    WITHDRAWN: _("Withdrawn"),
    PERFORMING: _("Agreement being performed"),
    PERFORMED: _("Agreement performed"),
    BREACHED: _("Agreement not performed"),
    REFERRED: _("Handed to a legal channel"),
    FOLLOWED_UP: _("Followed up"),
    CLOSED: _("Dispute closed"),
}

ACTION_LABELS = {
    "register": _("Register the dispute"),
    "route": _("Route"),
    "reroute": _("Route again"),
    "refer": _("Hand to a legal channel"),
    "session": _("Record a session"),
    "extend": _("Extend the time limit"),
    "agree": _("Record an agreement"),
    "fail": _("Record failure"),
    "terminate": _("Terminate"),
    "withdraw": _("Withdraw"),
    "perform_part": _("Record partial performance"),
    "perform_done": _("Record full performance"),
    "breach": _("Record non-performance"),
    "apply_confirmation": _("Apply for judicial confirmation"),
    "confirmation_result": _("Record the judicial confirmation result"),
    "handoff_result": _("Record the legal channel's result"),
    "follow_up": _("Follow-up visit"),
    "close": _("Close the dispute"),
}


@dataclass(frozen=True)
class Step:
    next_state: str
    actor: str


TRANSITIONS: dict[tuple[str, str], Step] = {
    (REGISTERED, "route"): Step(ROUTED, "centre"),
    (REGISTERED, "refer"): Step(REFERRED, "centre"),
    (REGISTERED, "withdraw"): Step(WITHDRAWN, "either"),
    (ROUTED, "reroute"): Step(ROUTED, "centre"),
    (ROUTED, "refer"): Step(REFERRED, "centre"),
    (ROUTED, "session"): Step(IN_MEDIATION, "handler"),
    (ROUTED, "withdraw"): Step(WITHDRAWN, "either"),
    (IN_MEDIATION, "session"): Step(IN_MEDIATION, "handler"),
    (IN_MEDIATION, "extend"): Step(IN_MEDIATION, "handler"),
    (IN_MEDIATION, "agree"): Step(AGREED, "handler"),
    (IN_MEDIATION, "fail"): Step(FAILED, "handler"),
    (IN_MEDIATION, "terminate"): Step(TERMINATED, "handler"),
    (IN_MEDIATION, "withdraw"): Step(WITHDRAWN, "either"),
    (AGREED, "apply_confirmation"): Step(AGREED, "handler"),
    (AGREED, "confirmation_result"): Step(AGREED, "handler"),
    (AGREED, "perform_part"): Step(PERFORMING, "handler"),
    (AGREED, "perform_done"): Step(PERFORMED, "handler"),
    (AGREED, "breach"): Step(BREACHED, "handler"),
    (PERFORMING, "apply_confirmation"): Step(PERFORMING, "handler"),
    (PERFORMING, "confirmation_result"): Step(PERFORMING, "handler"),
    (PERFORMING, "perform_part"): Step(PERFORMING, "handler"),
    (PERFORMING, "perform_done"): Step(PERFORMED, "handler"),
    (PERFORMING, "breach"): Step(BREACHED, "handler"),
    (FAILED, "refer"): Step(REFERRED, "centre"),
    (TERMINATED, "refer"): Step(REFERRED, "centre"),
    (BREACHED, "refer"): Step(REFERRED, "centre"),
    (PERFORMED, "follow_up"): Step(FOLLOWED_UP, "either"),
    (FAILED, "follow_up"): Step(FOLLOWED_UP, "either"),
    (TERMINATED, "follow_up"): Step(FOLLOWED_UP, "either"),
    (WITHDRAWN, "follow_up"): Step(FOLLOWED_UP, "either"),
    (BREACHED, "follow_up"): Step(FOLLOWED_UP, "either"),
    (REFERRED, "handoff_result"): Step(FOLLOWED_UP, "centre"),
    (FOLLOWED_UP, "close"): Step(CLOSED, "centre"),
    (WITHDRAWN, "close"): Step(CLOSED, "centre"),
}

CLOSED_STATES = frozenset({CLOSED})
OPEN_STATES = frozenset(STATE_LABELS) - CLOSED_STATES
# States whose mediation clock is running (the one-month default, or the hand-off's).
CLOCK_STATES = frozenset({REGISTERED, ROUTED, IN_MEDIATION, REFERRED})
# The outcomes that conclude a mediation; success rate = agreements / all of these.
CONCLUDED_OUTCOMES = ("agreement", "failed", "terminated", "withdrawn")


class InvalidTransition(Exception):
    """The action is not possible in the dispute's current state; the message says what is."""

    def __init__(self, state: str, action: str):
        self.state, self.action = state, action
        allowed = ", ".join(str(ACTION_LABELS.get(a, a)) for a in allowed_actions(state)) or "—"
        super().__init__(
            _(
                "“%(action)s” is not possible: the dispute is “%(state)s”. "
                "Possible now: %(allowed)s."
            )
            % {
                "action": ACTION_LABELS.get(action, action),
                "state": STATE_LABELS.get(state, state),
                "allowed": allowed,
            }
        )


def allowed_actions(state: str) -> list[str]:
    return [action for (from_state, action) in TRANSITIONS if from_state == state]


def next_step(state: str, action: str) -> Step:
    step = TRANSITIONS.get((state, action))
    if step is None:
        raise InvalidTransition(state, action)
    return step
