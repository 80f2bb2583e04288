"""The nomination's path as a table (no database access here).

``TRANSITIONS[(state, action)] = (next_state, who)``; ``who`` is the level that acts:
``town`` — staff of the case's township command room (review), ``county`` — the county centre
(approval and revocation). Nominating is the first step and has its own rule (the tier's
``nominators``).
"""

from django.utils.translation import gettext_lazy as _

from civicgrid.core.errors import ActionRefused

NOMINATED, REVIEWED, APPROVED, REFUSED, REVOKED = (
    "nominated",
    "reviewed",
    "approved",
    "refused",
    "revoked",
)

TRANSITIONS: dict[tuple[str, str], tuple[str, str]] = {
    (NOMINATED, "review"): (REVIEWED, "town"),
    (NOMINATED, "refuse"): (REFUSED, "town"),
    (REVIEWED, "approve"): (APPROVED, "county"),
    (REVIEWED, "refuse"): (REFUSED, "county"),
    (APPROVED, "revoke"): (REVOKED, "county"),
}

ACTION_LABELS = {
    "nominate": _("Nominate"),
    "review": _("Township review: pass"),
    "approve": _("County approval"),
    "refuse": _("Refuse"),
    "revoke": _("Revoke (report proved false)"),
}


class InvalidStep(ActionRefused):
    def __init__(self, state: str, action: str):
        from civicgrid.incentives.models import Nomination

        self.state, self.action = state, action
        allowed = [str(ACTION_LABELS[a]) for (s, a) in TRANSITIONS if s == state]
        super().__init__(
            _(
                "“%(action)s” is not possible: the nomination is “%(state)s”. "
                "Possible now: %(allowed)s."
            )
            % {
                "action": ACTION_LABELS.get(action, action),
                "state": dict(Nomination.State.choices).get(state, state),
                "allowed": ", ".join(allowed) or "—",
            }
        )


def next_step(state: str, action: str) -> tuple[str, str]:
    step = TRANSITIONS.get((state, action))
    if step is None:
        raise InvalidStep(state, action)
    return step


def allowed_actions(state: str) -> list[str]:
    return [a for (s, a) in TRANSITIONS if s == state]
