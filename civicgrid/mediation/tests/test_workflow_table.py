"""The dispute state machine as a table: every state reachable, every step labelled."""

import pytest

from civicgrid.mediation import workflow


def test_every_state_is_reachable_from_registered():
    seen, frontier = {workflow.REGISTERED}, [workflow.REGISTERED]
    while frontier:
        state = frontier.pop()
        for (source, _action), step in workflow.TRANSITIONS.items():
            if source == state and step.next_state not in seen:
                seen.add(step.next_state)
                frontier.append(step.next_state)
    assert seen == set(workflow.STATE_LABELS)


def test_every_open_state_leads_to_closed():
    def reaches_closed(state, seen=()):
        if state == workflow.CLOSED:
            return True
        return any(
            reaches_closed(step.next_state, (*seen, state))
            for (source, _a), step in workflow.TRANSITIONS.items()
            if source == state and step.next_state not in seen
        )

    assert all(reaches_closed(s) for s in workflow.OPEN_STATES)


def test_labels_and_actors():
    for (state, action), step in workflow.TRANSITIONS.items():
        assert state in workflow.STATE_LABELS and action in workflow.ACTION_LABELS
        assert step.actor in {"centre", "handler", "either"}


def test_closed_allows_nothing_and_says_so():
    assert workflow.allowed_actions(workflow.CLOSED) == []
    with pytest.raises(workflow.InvalidTransition, match="Dispute closed"):
        workflow.next_step(workflow.CLOSED, "route")


def test_refusal_names_the_possible_steps():
    with pytest.raises(workflow.InvalidTransition) as info:
        workflow.next_step(workflow.REGISTERED, "agree")
    assert "Route" in str(info.value) and "Withdraw" in str(info.value)
