"""A campaign's life as a table (no database access here): draft → active → closed.

``TRANSITIONS[(state, action)] = next_state``. Who may take a step is the organiser (checked
in the actions); a step not in the table is refused with the current state and what is
possible now.
"""

from django.utils.translation import gettext_lazy as _

from civicgrid.core.errors import ActionRefused

__all__ = [
    "ACTION_LABELS",
    "STATE_LABELS",
    "TRANSITIONS",
    "InvalidTransition",
    "allowed_actions",
    "next_state",
]

DRAFT = "draft"
ACTIVE = "active"
CLOSED = "closed"

STATE_LABELS = {
    DRAFT: _("Draft"),
    ACTIVE: _("Under way"),
    CLOSED: _("Closed"),
}

ACTION_LABELS = {
    "activate": _("Start the campaign"),
    "close": _("Close the campaign"),
}

TRANSITIONS: dict[tuple[str, str], str] = {
    (DRAFT, "activate"): ACTIVE,
    (ACTIVE, "close"): CLOSED,
}


class InvalidTransition(ActionRefused):
    """The step is not possible in the campaign's current state; the message says what is."""

    def __init__(self, state: str, action: str):
        from django.utils.translation import gettext

        self.state, self.action = state, action
        allowed = ", ".join(str(ACTION_LABELS[a]) for a in allowed_actions(state)) or "—"
        super().__init__(
            gettext(
                "“%(action)s” is not possible: the campaign is “%(state)s”. Possible now: "
                "%(allowed)s."
            )
            % {
                "action": ACTION_LABELS.get(action, action),
                "state": STATE_LABELS.get(state, state),
                "allowed": allowed,
            }
        )


def allowed_actions(state: str) -> list[str]:
    return [action for (from_state, action) in TRANSITIONS if from_state == state]


def next_state(state: str, action: str) -> str:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition(state, action) from None
