"""One durable operation on a customer cluster, and the upgrade kind's state machine.

Every multi-step change to a cluster is an operation with a `kind` (SPEC 7a): they share the
persisted steps, the per-cluster lease, windows, sign-offs, authorisations, reports and audit.
Every kind has its machine in `MACHINES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class OperationKind(StrEnum):
    UPGRADE = "upgrade"
    ADDON = "addon"
    DRIFT_RECONCILE = "drift-reconcile"
    MIGRATION = "migration"


class State(StrEnum):
    PLANNED = "planned"
    PRECHECKING = "prechecking"
    PRECHECK_FAILED = "precheck_failed"
    STAGING = "staging"
    AWAITING_SIGNOFF = "awaiting_signoff"
    SCHEDULED = "scheduled"
    UPGRADING_CONTROL_PLANE = "upgrading_control_plane"
    UPGRADING_NODES = "upgrading_nodes"
    APPLYING = "applying"
    SHIFT_BLOCKED = "shift_blocked"
    AWAITING_DECOMMISSION = "awaiting_decommission"
    DECOMMISSIONING = "decommissioning"
    POSTCHECKING = "postchecking"
    COMPLETED = "completed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"


class Trigger(StrEnum):
    """What moves an operation: the runner's own progress, or a person's command."""

    START_PRECHECK = "start_precheck"
    PRECHECK_PASSED = "precheck_passed"
    PRECHECK_BLOCKED = "precheck_blocked"
    STAGE_PASSED = "stage_passed"
    STAGE_FAILED = "stage_failed"
    SIGNED_OFF = "signed_off"
    WINDOW_OPENED = "window_opened"
    CONTROL_PLANE_DONE = "control_plane_done"
    NODES_DONE = "nodes_done"
    APPLIED = "applied"
    SHIFT_INCOMPLETE = "shift_incomplete"
    DECOMMISSION = "decommission"
    DECOMMISSIONED = "decommissioned"
    POSTCHECK_PASSED = "postcheck_passed"
    FAILED = "failed"
    ROLLBACK_DONE = "rollback_done"
    RECHECK = "recheck"
    CANCEL = "cancel"


class InvalidTransition(ValueError):
    """The trigger does not apply in the operation's current state; the message says why."""


TERMINAL = frozenset({State.COMPLETED, State.ROLLED_BACK, State.CANCELLED})
# Nothing in the cluster has been changed in these states, so a cancel is safe.
CANCELLABLE = frozenset({State.PLANNED, State.PRECHECK_FAILED, State.AWAITING_SIGNOFF, State.SCHEDULED})
# States in which the runner has work to do without waiting for anybody.
RUNNER_STATES = frozenset(
    {
        State.PLANNED,
        State.PRECHECKING,
        State.STAGING,
        State.SCHEDULED,
        State.UPGRADING_CONTROL_PLANE,
        State.UPGRADING_NODES,
        State.APPLYING,
        State.POSTCHECKING,
        State.ROLLING_BACK,
        State.DECOMMISSIONING,
    }
)

UPGRADE_TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (State.PLANNED, Trigger.START_PRECHECK): State.PRECHECKING,
    (State.PRECHECKING, Trigger.PRECHECK_BLOCKED): State.PRECHECK_FAILED,
    (State.PRECHECKING, Trigger.PRECHECK_PASSED): State.STAGING,
    (State.PRECHECK_FAILED, Trigger.RECHECK): State.PLANNED,
    (State.STAGING, Trigger.STAGE_PASSED): State.AWAITING_SIGNOFF,
    (State.STAGING, Trigger.STAGE_FAILED): State.ROLLING_BACK,
    (State.AWAITING_SIGNOFF, Trigger.SIGNED_OFF): State.SCHEDULED,
    (State.SCHEDULED, Trigger.WINDOW_OPENED): State.UPGRADING_CONTROL_PLANE,
    (State.UPGRADING_CONTROL_PLANE, Trigger.CONTROL_PLANE_DONE): State.UPGRADING_NODES,
    (State.UPGRADING_CONTROL_PLANE, Trigger.FAILED): State.ROLLING_BACK,
    (State.UPGRADING_NODES, Trigger.NODES_DONE): State.POSTCHECKING,
    (State.UPGRADING_NODES, Trigger.FAILED): State.ROLLING_BACK,
    (State.POSTCHECKING, Trigger.POSTCHECK_PASSED): State.COMPLETED,
    (State.POSTCHECKING, Trigger.FAILED): State.ROLLING_BACK,
    (State.ROLLING_BACK, Trigger.ROLLBACK_DONE): State.ROLLED_BACK,
    **{(state, Trigger.CANCEL): State.CANCELLED for state in CANCELLABLE},
}

# Operations that apply objects (a drift reconcile; an add-on rollout adds a stage): checked, applied inside
# the window (server-side apply), verified as the post-check; a failed one puts back what it can.
APPLY_TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (State.PLANNED, Trigger.START_PRECHECK): State.PRECHECKING,
    (State.PRECHECKING, Trigger.PRECHECK_BLOCKED): State.PRECHECK_FAILED,
    (State.PRECHECKING, Trigger.PRECHECK_PASSED): State.SCHEDULED,
    (State.PRECHECK_FAILED, Trigger.RECHECK): State.PLANNED,
    (State.SCHEDULED, Trigger.WINDOW_OPENED): State.APPLYING,
    (State.APPLYING, Trigger.APPLIED): State.POSTCHECKING,
    (State.APPLYING, Trigger.FAILED): State.ROLLING_BACK,
    (State.POSTCHECKING, Trigger.POSTCHECK_PASSED): State.COMPLETED,
    (State.POSTCHECKING, Trigger.FAILED): State.ROLLING_BACK,
    (State.ROLLING_BACK, Trigger.ROLLBACK_DONE): State.ROLLED_BACK,
    **{(state, Trigger.CANCEL): State.CANCELLED for state in CANCELLABLE},
}

# An add-on rollout follows the upgrade's rules on production: staged on the paired non-prod
# cluster first and signed off by the customer before it runs in the window (`next_state` skips
# stage and sign-off for a cluster without a pair, as for an upgrade).
ADDON_TRANSITIONS: dict[tuple[State, Trigger], State] = {
    **APPLY_TRANSITIONS,
    (State.PRECHECKING, Trigger.PRECHECK_PASSED): State.STAGING,
    (State.STAGING, Trigger.STAGE_PASSED): State.AWAITING_SIGNOFF,
    (State.STAGING, Trigger.STAGE_FAILED): State.ROLLING_BACK,
    (State.AWAITING_SIGNOFF, Trigger.SIGNED_OFF): State.SCHEDULED,
}

# A workload migration (SPEC 7a's five steps): topology recorded with the plan; the new cluster
# provisioned at pre-check; the CD/CI checklist signed off like a stage; workloads shifted one by
# one inside the window (a workload that fails is moved back, and the shift waits for a re-check);
# validation; the old cluster decommissioned only under the customer's authorisation.
MIGRATION_TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (State.PLANNED, Trigger.START_PRECHECK): State.PRECHECKING,
    (State.PRECHECKING, Trigger.PRECHECK_BLOCKED): State.PRECHECK_FAILED,
    (State.PRECHECKING, Trigger.PRECHECK_PASSED): State.AWAITING_SIGNOFF,
    (State.PRECHECK_FAILED, Trigger.RECHECK): State.PLANNED,
    (State.AWAITING_SIGNOFF, Trigger.SIGNED_OFF): State.SCHEDULED,
    (State.SCHEDULED, Trigger.WINDOW_OPENED): State.APPLYING,
    (State.APPLYING, Trigger.APPLIED): State.POSTCHECKING,
    (State.APPLYING, Trigger.SHIFT_INCOMPLETE): State.SHIFT_BLOCKED,
    (State.SHIFT_BLOCKED, Trigger.RECHECK): State.APPLYING,
    (State.POSTCHECKING, Trigger.SHIFT_INCOMPLETE): State.SHIFT_BLOCKED,
    (State.POSTCHECKING, Trigger.POSTCHECK_PASSED): State.AWAITING_DECOMMISSION,
    (State.AWAITING_DECOMMISSION, Trigger.DECOMMISSION): State.DECOMMISSIONING,
    (State.DECOMMISSIONING, Trigger.DECOMMISSIONED): State.COMPLETED,
    **{(state, Trigger.CANCEL): State.CANCELLED for state in CANCELLABLE},
}

MACHINES: dict[OperationKind, dict[tuple[State, Trigger], State]] = {
    OperationKind.UPGRADE: UPGRADE_TRANSITIONS,
    OperationKind.ADDON: ADDON_TRANSITIONS,
    OperationKind.DRIFT_RECONCILE: APPLY_TRANSITIONS,
    OperationKind.MIGRATION: MIGRATION_TRANSITIONS,
}


def next_state(kind: OperationKind, state: State, trigger: Trigger, *, staged: bool = True) -> State:
    """The state after `trigger`; a plan without a staging pair (a non-prod cluster) skips the
    stage and the sign-off, because it *is* the stage."""
    machine = MACHINES.get(kind)
    if machine is None:
        raise InvalidTransition(f"operations of kind {kind!s} cannot run yet")
    target = machine.get((state, trigger))
    if target is None:
        raise InvalidTransition(f"cannot {trigger.value.replace('_', ' ')} an operation that is {state.value}")
    if target is State.STAGING and not staged:
        return State.SCHEDULED
    return target


StepName = Literal["pre-check", "stage", "production", "post-check", "report", "rollback"]
StepStatus = Literal["pending", "running", "succeeded", "failed", "rolled_back", "waiting"]

# How each state reads on the `upgrade.step` contract that intake consumes.
STEP_OF_STATE: dict[State, tuple[StepName, StepStatus]] = {
    State.PLANNED: ("pre-check", "pending"),
    State.PRECHECKING: ("pre-check", "running"),
    State.PRECHECK_FAILED: ("pre-check", "failed"),
    State.STAGING: ("stage", "running"),
    State.AWAITING_SIGNOFF: ("stage", "succeeded"),
    State.SCHEDULED: ("production", "waiting"),
    State.UPGRADING_CONTROL_PLANE: ("production", "running"),
    State.UPGRADING_NODES: ("production", "running"),
    State.APPLYING: ("production", "running"),
    State.SHIFT_BLOCKED: ("production", "waiting"),
    State.AWAITING_DECOMMISSION: ("post-check", "succeeded"),
    State.DECOMMISSIONING: ("production", "running"),
    State.POSTCHECKING: ("post-check", "running"),
    State.COMPLETED: ("report", "succeeded"),
    State.ROLLING_BACK: ("rollback", "running"),
    State.ROLLED_BACK: ("rollback", "rolled_back"),
    State.CANCELLED: ("production", "failed"),
}


@dataclass(frozen=True)
class SignOff:
    """A customer's go for production, tied to the stage it saw."""

    signed_by: str
    stage_ref: str


def check_signoff(state: State, stage_ref: str | None, passed_stage_ref: str | None) -> None:
    """Sign-off is only for an operation waiting for it, and must name the stage that passed."""
    if state is not State.AWAITING_SIGNOFF:
        raise InvalidTransition(f"only an operation awaiting sign-off can be signed off; this one is {state.value}")
    if passed_stage_ref is None:
        raise InvalidTransition("no passed stage on the paired non-prod cluster to sign off")
    if stage_ref != passed_stage_ref:
        raise InvalidTransition(
            f"the sign-off names stage {stage_ref!r}, but the passed stage of this operation is {passed_stage_ref!r}"
        )
