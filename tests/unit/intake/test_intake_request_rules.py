"""Request rules beside the lifecycle table: priority, comments, and operation progress."""

from __future__ import annotations

import pytest

from k8sops_intake.domain.lifecycle import Action, Side
from k8sops_intake.domain.requests import (
    OperationStep,
    comment_resumes,
    priority_is_settled,
    report_comment,
    upgrade_step_action,
    upgrade_step_comment,
)


def upgrade(step: str, status: str, detail: str = "x", kind: str = "upgrade") -> OperationStep:
    return OperationStep(kind, step, status, None, "op-1", detail)


# How the runner reads each migration state on the upgrade.step contract (its STEP_OF_STATE).
MIGRATION_STEPS = {
    "prechecking": ("pre-check", "running"),
    "precheck_failed": ("pre-check", "failed"),
    "awaiting_signoff": ("stage", "succeeded"),
    "scheduled": ("production", "waiting"),
    "applying": ("production", "running"),
    "shift_blocked": ("production", "waiting"),
    "postchecking": ("post-check", "running"),
    "awaiting_decommission": ("post-check", "succeeded"),
    "decommissioning": ("production", "running"),
    "completed": ("report", "succeeded"),
}


def migration(state: str, detail: str = "x") -> OperationStep:
    step, status = MIGRATION_STEPS[state]
    return OperationStep("migration", step, status, state, "op-1", detail)


@pytest.mark.parametrize("status", ["resolved", "closed", "declined", "cancelled"])
def test_no_priority_change_once_resolved(status: str) -> None:
    assert priority_is_settled(status)


@pytest.mark.parametrize("status", ["opened", "acknowledged", "in_progress", "waiting_on_customer"])
def test_priority_changes_while_work_is_open(status: str) -> None:
    assert not priority_is_settled(status)


def test_only_a_customer_comment_resumes_a_waiting_request() -> None:
    assert comment_resumes(Side.CUSTOMER, "waiting_on_customer")
    assert not comment_resumes(Side.PROVIDER, "waiting_on_customer")
    assert not comment_resumes(Side.CUSTOMER, "in_progress")


@pytest.mark.parametrize(
    ("step", "step_status", "request_status", "action"),
    [
        ("drain", "running", "acknowledged", Action.START),
        ("drain", "running", "in_progress", None),
        ("drain", "running", "opened", None),
        ("report", "succeeded", "in_progress", Action.RESOLVE),
        ("report", "succeeded", "acknowledged", None),
        ("pre-check", "failed", "acknowledged", None),
        ("rollback", "rolled_back", "in_progress", None),
        # For an upgrade a passed stage and a passed post-check move nothing.
        ("stage", "succeeded", "in_progress", None),
        ("post-check", "succeeded", "in_progress", None),
    ],
)
def test_upgrade_progress_moves_the_request(
    step: str, step_status: str, request_status: str, action: Action | None
) -> None:
    assert upgrade_step_action(upgrade(step, step_status), request_status) is action


@pytest.mark.parametrize(
    ("state", "request_status", "action"),
    [
        ("prechecking", "acknowledged", Action.START),
        ("awaiting_signoff", "in_progress", Action.WAIT_ON_CUSTOMER),
        ("awaiting_signoff", "waiting_on_customer", None),
        ("scheduled", "waiting_on_customer", Action.RESUME),
        ("scheduled", "in_progress", None),
        ("shift_blocked", "in_progress", None),
        ("awaiting_decommission", "in_progress", Action.WAIT_ON_CUSTOMER),
        ("decommissioning", "waiting_on_customer", Action.RESUME),
        ("decommissioning", "in_progress", None),
        ("completed", "in_progress", Action.RESOLVE),
        ("completed", "resolved", None),
    ],
)
def test_a_migration_moves_the_request_by_its_state(state: str, request_status: str, action: Action | None) -> None:
    assert upgrade_step_action(migration(state), request_status) is action


def test_the_steps_a_customer_must_read_leave_a_comment() -> None:
    comment = upgrade_step_comment(upgrade("pre-check", "failed", "PDB blocks drain"))
    assert comment == "Upgrade blocked at pre-check (operation op-1): PDB blocks drain"
    assert upgrade_step_comment(upgrade("report", "succeeded")) is not None
    assert upgrade_step_comment(upgrade("rollback", "rolled_back")) is not None
    assert upgrade_step_comment(upgrade("drain", "running")) is None


@pytest.mark.parametrize(
    ("kind", "name"), [("upgrade", "Upgrade"), ("addon", "Add-on"), ("drift-reconcile", "Drift reconcile")]
)
def test_comments_name_the_operation_kind(kind: str, name: str) -> None:
    assert upgrade_step_comment(upgrade("rollback", "rolled_back", kind=kind)) == (
        f"{name} rolled back; the report is on the operation (operation op-1): x"
    )
    assert f"{name} completed" in str(upgrade_step_comment(upgrade("report", "succeeded", kind=kind)))


def test_a_migration_asks_for_sign_off_naming_the_checklist_and_the_endpoint() -> None:
    detail = "new cluster shop-v2 running 1.31.2; the CD/CI checklist checklist-0a1b2c3d4e5f waits for sign-off"
    comment = str(upgrade_step_comment(migration("awaiting_signoff", detail)))
    assert "draft plan and the CD/CI checklist checklist-0a1b2c3d4e5f wait for sign-off" in comment
    assert "POST /v1/operations/op-1/sign-off" in comment


def test_a_migration_comments_a_blocked_shift_and_the_decommission_authorisation() -> None:
    blocked = upgrade_step_comment(migration("shift_blocked", "moved back to the old cluster: Deployment a/web"))
    assert blocked == "Migration shift blocked (operation op-1): moved back to the old cluster: Deployment a/web"
    assert "decommission-cluster authorisation" in str(upgrade_step_comment(migration("awaiting_decommission")))
    assert str(upgrade_step_comment(migration("completed"))).startswith("Migration completed")
    for quiet in ("scheduled", "decommissioning", "applying", "postchecking"):
        assert upgrade_step_comment(migration(quiet)) is None


def test_an_attached_operation_report_is_pointed_at_by_a_comment() -> None:
    comment = report_comment("addon", "op-9", "rolled_back", False, "req-1", "/v1/operations/op-9/report")
    assert comment == (
        "Add-on report of operation op-9 attached, outcome rolled_back: "
        "GET /v1/requests/req-1/operation-reports; upgrade-runner API: /v1/operations/op-9/report"
    )
    assert "cut to fit the event" in report_comment("upgrade", "op-1", "completed", True, "req-1", "/x")
