"""The summons lifecycle as a table (no database access here).

``TRANSITIONS[(state, action)] = Step(next_state, actor)``; ``actor`` is ``staff`` (the person
summoned) or ``room`` (whoever acts for the unit that owns the case: the command room).
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.core.errors import ActionRefused

__all__ = [
    "ACTION_LABELS",
    "OPEN_STATES",
    "STATE_LABELS",
    "TRANSITIONS",
    "InvalidSummonsStep",
    "Step",
    "allowed_actions",
    "next_step",
]

SENT = "sent"
ACCEPTED = "accepted"
DECLINED = "declined"
ARRIVED = "arrived"
DONE = "done"
CANCELLED = "cancelled"

STATE_LABELS = {
    SENT: _("Sent, awaiting an answer"),
    ACCEPTED: _("Accepted, on the way"),
    DECLINED: _("Declined"),
    ARRIVED: _("Arrived on site"),
    DONE: _("Work done"),
    CANCELLED: _("Cancelled"),
}

ACTION_LABELS = {
    "summon": pgettext_lazy("summons", "Summon"),
    "accept": pgettext_lazy("summons", "Accept"),
    "decline": pgettext_lazy("summons", "Decline"),
    "arrive": _("Arrived"),
    "finish": _("Work done"),
    "cancel": pgettext_lazy("summons", "Cancel"),
}


# The rows this app writes on a case's timeline (labelled by ``cases.workflow.ACTION_LABELS``;
# repeated here so that this app's catalogue carries their translations).
TIMELINE_LABELS = {
    "summon": _("On-call staff summoned"),
    "summon_arrived": _("On-call staff arrived"),
    "summon_done": _("On-call staff finished"),
}


@dataclass(frozen=True)
class Step:
    next_state: str
    actor: str


TRANSITIONS: dict[tuple[str, str], Step] = {
    (SENT, "accept"): Step(ACCEPTED, "staff"),
    (SENT, "decline"): Step(DECLINED, "staff"),
    (ACCEPTED, "arrive"): Step(ARRIVED, "staff"),
    (ARRIVED, "finish"): Step(DONE, "staff"),
    (SENT, "cancel"): Step(CANCELLED, "room"),
    (ACCEPTED, "cancel"): Step(CANCELLED, "room"),
}

# A summons in these states holds the department's place on the case (one at a time).
OPEN_STATES = frozenset({SENT, ACCEPTED, ARRIVED})
FINAL_STATES = frozenset({DECLINED, DONE, CANCELLED})


class InvalidSummonsStep(ActionRefused):
    """The step is not possible in the summons' state (a refusal: the page says why)."""

    def __init__(self, state: str, action: str):
        self.state, self.action = state, action
        super().__init__(
            _("“%(action)s” is not possible: the summons is “%(state)s”.")
            % {
                "action": ACTION_LABELS.get(action, action),
                "state": STATE_LABELS.get(state, state),
            }
        )


def allowed_actions(state: str) -> list[str]:
    return [action for (from_state, action) in TRANSITIONS if from_state == state]


def next_step(state: str, action: str) -> Step:
    step = TRANSITIONS.get((state, action))
    if step is None:
        raise InvalidSummonsStep(state, action)
    return step
