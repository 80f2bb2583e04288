"""The case lifecycle 派—办—馈—评 as a table (no database access here).

``TRANSITIONS[(state, action)] = Step(next_state, actor)``; ``actor`` says who may take it:

* ``owner``   — someone acting for the unit that owns the case (its grid, village,
  township command room or the county centre);
* ``lead``    — the lead department of the active dispatch;
* ``handler`` — whoever is handling it: the lead department, or the owner if it handles
  the case itself;
* ``reporter_or_owner`` — the reporter, or the owner recording a return visit (回访);
* ``county``  — the county centre (review after a second dissatisfaction).

Guards that need the case (levels, photos, counts) live in the actions; this table is the
whole graph and can be tested and drawn on its own.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

__all__ = [
    "ACTION_LABELS",
    "CLOSED_STATES",
    "OPEN_STATES",
    "STATE_LABELS",
    "TRANSITIONS",
    "InvalidTransition",
    "Step",
    "allowed_actions",
    "next_step",
]

REPORTED = "reported"
ACCEPTED = "accepted"
REJECTED = "rejected"
MERGED = "merged"
DISPATCHED = "dispatched"
RETURN_REQUESTED = "return_requested"
IN_PROGRESS = "in_progress"
FEEDBACK = "feedback"
CLOSED = "closed"
REVIEW = "review"
ARCHIVED = "archived"
SUSPENDED = "suspended"
FILED = "filed"

STATE_LABELS = {
    REPORTED: _("Reported"),
    ACCEPTED: _("Accepted"),
    REJECTED: _("Rejected"),
    MERGED: _("Merged into another case"),
    DISPATCHED: _("Dispatched, awaiting sign-for"),
    RETURN_REQUESTED: _("Return requested"),
    IN_PROGRESS: _("In progress"),
    FEEDBACK: _("Feedback given, awaiting verification"),
    CLOSED: _("Closed, awaiting evaluation"),
    REVIEW: _("Under centre review"),
    ARCHIVED: _("Archived"),
    SUSPENDED: _("Suspended"),
    FILED: _("Filed without action"),
}

ACTION_LABELS = {
    "report": _("Report"),
    "classify": _("Classify"),
    "locate": _("Set the place"),
    "accept": _("Accept"),
    "reject": _("Reject"),
    "merge": _("Merge as duplicate"),
    "dispatch": _("Dispatch"),
    "handle": _("Handle at this level"),
    "self_close": _("Close on the spot"),
    "escalate": _("Escalate"),
    "assign_down": _("Assign down"),
    "suspend": _("Suspend"),
    "resume": _("Resume"),
    "file": _("File without action"),
    "sign": _("Sign for"),
    "request_return": _("Request return"),
    "approve_return": _("Approve return"),
    "reject_return": _("Reject return (forced dispatch)"),
    "feedback": _("Give feedback"),
    "request_extension": _("Request extension"),
    "decide_extension": _("Decide extension"),
    "verify_pass": _("Verify: pass"),
    "verify_fail": _("Verify: fail (rework)"),
    "evaluate": _("Evaluate"),
    "reopen": _("Reopen"),
    "refer_review": _("Refer to centre review"),
    "review_archive": _("Review: archive"),
    "review_reopen": _("Review: reopen"),
    "supervise": _("Supervise"),
    "answer_supervision": _("Answer supervision"),
    "instruct": _("Leader instruction"),
    "hard_case": _("Mark as hard case"),
    "joint_meeting": _("Joint meeting"),
    "joint_operation": _("Joint operation result"),
    "summon": _("On-call staff summoned"),
    "summon_arrived": _("On-call staff arrived"),
    "summon_done": _("On-call staff finished"),
}


@dataclass(frozen=True)
class Step:
    next_state: str
    actor: str


TRANSITIONS: dict[tuple[str, str], Step] = {
    (REPORTED, "classify"): Step(REPORTED, "owner"),
    (REPORTED, "locate"): Step(REPORTED, "owner"),
    (ACCEPTED, "locate"): Step(ACCEPTED, "owner"),
    (REPORTED, "accept"): Step(ACCEPTED, "owner"),
    (REPORTED, "reject"): Step(REJECTED, "owner"),
    (REPORTED, "merge"): Step(MERGED, "owner"),
    (ACCEPTED, "dispatch"): Step(DISPATCHED, "owner"),
    (ACCEPTED, "handle"): Step(IN_PROGRESS, "owner"),
    (ACCEPTED, "self_close"): Step(CLOSED, "owner"),
    (ACCEPTED, "escalate"): Step(ACCEPTED, "owner"),
    (ACCEPTED, "assign_down"): Step(ACCEPTED, "owner"),
    (ACCEPTED, "suspend"): Step(SUSPENDED, "owner"),
    (ACCEPTED, "file"): Step(FILED, "owner"),
    (ACCEPTED, "merge"): Step(MERGED, "owner"),
    (SUSPENDED, "resume"): Step(ACCEPTED, "owner"),
    (DISPATCHED, "sign"): Step(IN_PROGRESS, "lead"),
    (DISPATCHED, "request_return"): Step(RETURN_REQUESTED, "lead"),
    (RETURN_REQUESTED, "approve_return"): Step(ACCEPTED, "owner"),
    (RETURN_REQUESTED, "reject_return"): Step(DISPATCHED, "owner"),
    (IN_PROGRESS, "feedback"): Step(FEEDBACK, "handler"),
    (IN_PROGRESS, "request_extension"): Step(IN_PROGRESS, "handler"),
    (IN_PROGRESS, "decide_extension"): Step(IN_PROGRESS, "owner"),
    (IN_PROGRESS, "escalate"): Step(ACCEPTED, "owner"),
    (FEEDBACK, "verify_pass"): Step(CLOSED, "owner"),
    (FEEDBACK, "verify_fail"): Step(IN_PROGRESS, "owner"),
    (CLOSED, "evaluate"): Step(ARCHIVED, "reporter_or_owner"),
    (CLOSED, "reopen"): Step(ACCEPTED, "reporter_or_owner"),
    (CLOSED, "refer_review"): Step(REVIEW, "reporter_or_owner"),
    (REVIEW, "review_archive"): Step(ARCHIVED, "county"),
    (REVIEW, "review_reopen"): Step(ACCEPTED, "county"),
}

CLOSED_STATES = frozenset({REJECTED, MERGED, CLOSED, REVIEW, ARCHIVED, FILED})
OPEN_STATES = frozenset(STATE_LABELS) - CLOSED_STATES

# Side events other apps record on an open case's timeline (``do_record_side_event``):
# the on-call summons of department staff (``oncall``).
RECORDED_SIDE_ACTIONS = frozenset({"summon", "summon_arrived", "summon_done"})

# Actions that never change the state, allowed while a case is open.
SIDE_ACTIONS = (
    frozenset(
        {
            "supervise",
            "answer_supervision",
            "instruct",
            "hard_case",
            "joint_meeting",
            "joint_operation",
        }
    )
    | RECORDED_SIDE_ACTIONS
)


class InvalidTransition(Exception):
    """The action is not possible in the case's current state; the message says what is."""

    def __init__(self, state: str, action: str):
        self.state, self.action = state, action
        allowed = ", ".join(str(ACTION_LABELS.get(a, a)) for a in allowed_actions(state)) or "—"
        super().__init__(
            _("“%(action)s” is not possible: the case is “%(state)s”. Possible now: %(allowed)s.")
            % {
                "action": ACTION_LABELS.get(action, action),
                "state": STATE_LABELS.get(state, state),
                "allowed": allowed,
            }
        )


def allowed_actions(state: str) -> list[str]:
    actions = [action for (from_state, action) in TRANSITIONS if from_state == state]
    if state in OPEN_STATES:
        # Summons steps are written by the oncall app, not taken on the case itself.
        actions += sorted(SIDE_ACTIONS - RECORDED_SIDE_ACTIONS)
    return actions


def next_step(state: str, action: str) -> Step:
    if action in SIDE_ACTIONS:
        if state not in OPEN_STATES:
            raise InvalidTransition(state, action)
        return Step(state, "any")
    step = TRANSITIONS.get((state, action))
    if step is None:
        raise InvalidTransition(state, action)
    return step
