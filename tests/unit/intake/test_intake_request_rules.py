"""Request rules beside the lifecycle table: priority, comments, and upgrade progress."""

from __future__ import annotations

import pytest

from k8sops_intake.domain.lifecycle import Action, Side
from k8sops_intake.domain.requests import (
    comment_resumes,
    priority_is_settled,
    upgrade_step_action,
    upgrade_step_comment,
)


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
    ],
)
def test_upgrade_progress_moves_the_request(
    step: str, step_status: str, request_status: str, action: Action | None
) -> None:
    assert upgrade_step_action(step, step_status, request_status) is action


def test_the_steps_a_customer_must_read_leave_a_comment() -> None:
    comment = upgrade_step_comment("pre-check", "failed", "op-1", "PDB blocks drain")
    assert comment == "Upgrade blocked at pre-check (operation op-1): PDB blocks drain"
    assert upgrade_step_comment("report", "succeeded", "op-1", "done") is not None
    assert upgrade_step_comment("rollback", "rolled_back", "op-1", "x") is not None
    assert upgrade_step_comment("drain", "running", "op-1", "x") is None
