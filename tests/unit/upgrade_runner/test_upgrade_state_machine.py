"""Every transition of the upgrade state machine, and every refusal."""

from __future__ import annotations

import pytest

from k8sops_upgrade_runner.domain.operation import (
    CANCELLABLE,
    STEP_OF_STATE,
    TERMINAL,
    UPGRADE_TRANSITIONS,
    InvalidTransition,
    OperationKind,
    State,
    Trigger,
    check_signoff,
    next_state,
)

UPGRADE = OperationKind.UPGRADE

HAPPY_PATH = [
    (State.PLANNED, Trigger.START_PRECHECK, State.PRECHECKING),
    (State.PRECHECKING, Trigger.PRECHECK_PASSED, State.STAGING),
    (State.STAGING, Trigger.STAGE_PASSED, State.AWAITING_SIGNOFF),
    (State.AWAITING_SIGNOFF, Trigger.SIGNED_OFF, State.SCHEDULED),
    (State.SCHEDULED, Trigger.WINDOW_OPENED, State.UPGRADING_CONTROL_PLANE),
    (State.UPGRADING_CONTROL_PLANE, Trigger.CONTROL_PLANE_DONE, State.UPGRADING_NODES),
    (State.UPGRADING_NODES, Trigger.NODES_DONE, State.POSTCHECKING),
    (State.POSTCHECKING, Trigger.POSTCHECK_PASSED, State.COMPLETED),
]
FAILURE_PATHS = [
    (State.PRECHECKING, Trigger.PRECHECK_BLOCKED, State.PRECHECK_FAILED),
    (State.PRECHECK_FAILED, Trigger.RECHECK, State.PLANNED),
    (State.STAGING, Trigger.STAGE_FAILED, State.ROLLING_BACK),
    (State.UPGRADING_CONTROL_PLANE, Trigger.FAILED, State.ROLLING_BACK),
    (State.UPGRADING_NODES, Trigger.FAILED, State.ROLLING_BACK),
    (State.POSTCHECKING, Trigger.FAILED, State.ROLLING_BACK),
    (State.ROLLING_BACK, Trigger.ROLLBACK_DONE, State.ROLLED_BACK),
]


@pytest.mark.parametrize(("state", "trigger", "expected"), HAPPY_PATH + FAILURE_PATHS)
def test_each_transition(state: State, trigger: Trigger, expected: State) -> None:
    assert next_state(UPGRADE, state, trigger) is expected


@pytest.mark.parametrize("state", sorted(CANCELLABLE))
def test_cancel_before_anything_was_changed(state: State) -> None:
    assert next_state(UPGRADE, state, Trigger.CANCEL) is State.CANCELLED


@pytest.mark.parametrize(
    "state", [State.UPGRADING_CONTROL_PLANE, State.UPGRADING_NODES, State.ROLLING_BACK, *sorted(TERMINAL)]
)
def test_cancel_refused_once_the_cluster_is_being_changed_or_done(state: State) -> None:
    with pytest.raises(InvalidTransition, match="cannot cancel"):
        next_state(UPGRADE, state, Trigger.CANCEL)


def test_every_other_pair_is_refused() -> None:
    for state in State:
        for trigger in Trigger:
            if (state, trigger) in UPGRADE_TRANSITIONS:
                continue
            with pytest.raises(InvalidTransition):
                next_state(UPGRADE, state, trigger)


def test_terminal_states_have_no_way_out() -> None:
    assert not [pair for pair in UPGRADE_TRANSITIONS if pair[0] in TERMINAL]


def test_a_plan_without_a_staging_pair_goes_straight_to_scheduled() -> None:
    assert next_state(UPGRADE, State.PRECHECKING, Trigger.PRECHECK_PASSED, staged=False) is State.SCHEDULED


def test_a_migration_waits_for_the_checklist_and_for_the_decommission_authorisation() -> None:
    kind = OperationKind.MIGRATION
    assert next_state(kind, State.PRECHECKING, Trigger.PRECHECK_PASSED) is State.AWAITING_SIGNOFF
    assert next_state(kind, State.APPLYING, Trigger.SHIFT_INCOMPLETE) is State.SHIFT_BLOCKED
    assert next_state(kind, State.SHIFT_BLOCKED, Trigger.RECHECK) is State.APPLYING
    assert next_state(kind, State.POSTCHECKING, Trigger.POSTCHECK_PASSED) is State.AWAITING_DECOMMISSION
    with pytest.raises(InvalidTransition, match="cannot decommission an operation that is shift_blocked"):
        next_state(kind, State.SHIFT_BLOCKED, Trigger.DECOMMISSION)
    with pytest.raises(InvalidTransition):
        next_state(OperationKind.ADDON, State.AWAITING_DECOMMISSION, Trigger.DECOMMISSION)


def test_every_state_maps_to_the_upgrade_step_contract() -> None:
    assert set(STEP_OF_STATE) == set(State)
    # intake resolves the request on exactly this pair: only a completed upgrade may produce it.
    assert [state for state, step in STEP_OF_STATE.items() if step == ("report", "succeeded")] == [State.COMPLETED]


def test_signoff_must_name_the_passed_stage() -> None:
    check_signoff(State.AWAITING_SIGNOFF, "stage-1", "stage-1")
    with pytest.raises(InvalidTransition, match="passed stage of this operation is 'stage-1'"):
        check_signoff(State.AWAITING_SIGNOFF, "stage-0", "stage-1")
    with pytest.raises(InvalidTransition, match="no passed stage"):
        check_signoff(State.AWAITING_SIGNOFF, "stage-1", None)
    with pytest.raises(InvalidTransition, match="awaiting sign-off"):
        check_signoff(State.SCHEDULED, "stage-1", "stage-1")
