"""The transition table on its own (no database): the shape the actions and tests rely on."""

import pytest

from civicgrid.cases import workflow as W


def _reachable(start):
    seen, todo = {start}, [start]
    while todo:
        state = todo.pop()
        for (from_state, _action), step in W.TRANSITIONS.items():
            if from_state == state and step.next_state not in seen:
                seen.add(step.next_state)
                todo.append(step.next_state)
    return seen


def test_every_state_is_reachable_from_reported():
    assert _reachable(W.REPORTED) == set(W.STATE_LABELS)


def test_every_open_state_can_still_end():
    for state in W.OPEN_STATES:
        assert _reachable(state) & W.CLOSED_STATES, state


def test_the_final_states_have_no_way_out():
    final = {W.REJECTED, W.MERGED, W.ARCHIVED, W.FILED}
    assert not [key for key in W.TRANSITIONS if key[0] in final]
    assert all(not W.allowed_actions(state) for state in final)


def test_each_action_has_one_kind_of_actor_and_a_label():
    kinds = {}
    for (_state, action), step in W.TRANSITIONS.items():
        assert kinds.setdefault(action, step.actor) == step.actor, action
        assert step.next_state in W.STATE_LABELS
        assert action in W.ACTION_LABELS
    assert set(kinds.values()) <= {"owner", "lead", "handler", "reporter_or_owner", "county"}
    assert W.SIDE_ACTIONS <= set(W.ACTION_LABELS) and not W.SIDE_ACTIONS & set(kinds)


def test_side_actions_keep_the_state_only_while_open():
    for state in W.STATE_LABELS:
        for action in W.SIDE_ACTIONS:
            if state in W.OPEN_STATES:
                assert W.next_step(state, action).next_state == state
            else:
                with pytest.raises(W.InvalidTransition):
                    W.next_step(state, action)


def test_an_impossible_step_says_what_is_possible():
    with pytest.raises(W.InvalidTransition) as info:
        W.next_step(W.ARCHIVED, "reopen")
    assert (info.value.state, info.value.action) == (W.ARCHIVED, "reopen")
    assert "—" in str(info.value)  # nothing is possible on an archived case
