"""A signal's life as a table (no database access here).

new → acknowledged → campaign / case / dismissed; a new signal may also go straight to a
campaign, a case or dismissal. ``TRANSITIONS[(state, action)] = next_state``. The daily run
itself takes one step: ``grow`` puts an acknowledged or dismissed signal back to *new* when its
cluster grows (see ``civicgrid.warning.run``); a signal already turned into a campaign or a case
keeps its state and only records the growth.
"""

from django.utils.translation import gettext_lazy as _

from civicgrid.core.errors import ActionRefused

__all__ = [
    "ACTION_LABELS",
    "OPEN_STATES",
    "STATE_LABELS",
    "TRANSITIONS",
    "InvalidTransition",
    "allowed_actions",
    "next_state",
]

NEW = "new"
ACKNOWLEDGED = "acknowledged"
CAMPAIGN = "campaign"
CASE = "case"
DISMISSED = "dismissed"

STATE_LABELS = {
    NEW: _("New"),
    ACKNOWLEDGED: _("Acknowledged"),
    CAMPAIGN: _("Turned into a campaign"),
    CASE: _("Turned into a case"),
    DISMISSED: _("Dismissed"),
}
# Open: still needs someone's decision (shown on the cockpit map).
OPEN_STATES = frozenset({NEW, ACKNOWLEDGED})

ACTION_LABELS = {
    "detect": _("Detected"),
    "grow": _("Grew"),
    "acknowledge": _("Acknowledge"),
    "dismiss": _("Dismiss"),
    "campaign": _("Turn into a campaign"),
    "case": _("Turn into a case"),
}

TRANSITIONS: dict[tuple[str, str], str] = {
    (NEW, "acknowledge"): ACKNOWLEDGED,
    (NEW, "dismiss"): DISMISSED,
    (NEW, "campaign"): CAMPAIGN,
    (NEW, "case"): CASE,
    (ACKNOWLEDGED, "dismiss"): DISMISSED,
    (ACKNOWLEDGED, "campaign"): CAMPAIGN,
    (ACKNOWLEDGED, "case"): CASE,
    # the daily run, when the cluster grows
    (ACKNOWLEDGED, "grow"): NEW,
    (DISMISSED, "grow"): NEW,
    (NEW, "grow"): NEW,
    (CAMPAIGN, "grow"): CAMPAIGN,
    (CASE, "grow"): CASE,
}
SYSTEM_ACTIONS = frozenset({"detect", "grow"})


class InvalidTransition(ActionRefused):
    """The step is not possible in the signal's current state; the message says what is."""

    def __init__(self, state: str, action: str):
        from django.utils.translation import gettext

        self.state, self.action = state, action
        allowed = ", ".join(str(ACTION_LABELS[a]) for a in allowed_actions(state)) or "—"
        super().__init__(
            gettext(
                "“%(action)s” is not possible: the signal is “%(state)s”. Possible now: "
                "%(allowed)s."
            )
            % {
                "action": ACTION_LABELS.get(action, action),
                "state": STATE_LABELS.get(state, state),
                "allowed": allowed,
            }
        )


def allowed_actions(state: str) -> list[str]:
    """What a person may do with a signal in ``state`` (the run's own steps left out)."""
    return [a for (s, a) in TRANSITIONS if s == state and a not in SYSTEM_ACTIONS]


def next_state(state: str, action: str) -> str:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition(state, action) from None
