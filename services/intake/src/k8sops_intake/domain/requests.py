"""Rules that move a request besides the lifecycle table: priority changes, comments, and the
progress of the operation (upgrade, add-on, drift reconcile, migration) that works on it (SPEC
sections 4 and 7a)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .lifecycle import TERMINAL_STATUSES, Action, Side

KIND_NAMES = {"upgrade": "Upgrade", "addon": "Add-on", "drift-reconcile": "Drift reconcile", "migration": "Migration"}

# Steps the customer must read on the request itself: blocking findings, the outcome.
COMMENTED_STEPS = {
    ("pre-check", "failed"): "{kind} blocked at pre-check",
    ("report", "succeeded"): "{kind} completed; the report is on the operation",
    ("rollback", "rolled_back"): "{kind} rolled back; the report is on the operation",
}

# A migration's `(stage, succeeded)` is the CD/CI checklist waiting for sign-off and its
# `(post-check, succeeded)` is validation waiting for the decommission authorisation, so its
# steps are read by the operation's `state` instead.
MIGRATION_WAITS = frozenset({"awaiting_signoff", "awaiting_decommission"})
MIGRATION_RESUMES = frozenset({"scheduled", "decommissioning"})
CHECKLIST_REF = re.compile(r"\bchecklist-[0-9A-Za-z]+\b")


@dataclass(frozen=True)
class OperationStep:
    """The fields of an `upgrade.step` event the rules read."""

    kind: str
    step: str
    status: str
    state: str | None
    operation_id: str
    detail: str


def priority_is_settled(status: str) -> bool:
    """Once resolved (or final) a request's priority no longer matters, so it cannot change."""
    return status in TERMINAL_STATUSES or status == "resolved"


def comment_resumes(side: Side, status: str) -> bool:
    """The customer's comment is the answer the provider waited for."""
    return side is Side.CUSTOMER and status == "waiting_on_customer"


def upgrade_step_action(step: OperationStep, request_status: str) -> Action | None:
    """The operation's own progress moves the request: work has started, the customer is
    waited on (a migration's sign-off or decommission authorisation), or it is done."""
    if step.kind == "migration" and step.state is not None:
        if step.state in MIGRATION_WAITS and request_status == "in_progress":
            return Action.WAIT_ON_CUSTOMER
        if step.state in MIGRATION_RESUMES and request_status == "waiting_on_customer":
            return Action.RESUME
    if step.status == "running" and request_status == "acknowledged":
        return Action.START
    if step.step == "report" and step.status == "succeeded" and request_status == "in_progress":
        return Action.RESOLVE
    return None


def upgrade_step_comment(step: OperationStep) -> str | None:
    """The comment a step leaves on its request, if it is one the customer must read."""
    kind = KIND_NAMES.get(step.kind, step.kind)
    where = f"(operation {step.operation_id})"
    if step.kind == "migration" and step.state == "awaiting_signoff":
        found = CHECKLIST_REF.search(step.detail)
        checklist = f"CD/CI checklist {found.group(0)}" if found else "CD/CI checklist"
        return (
            f"Migration waits for your sign-off {where}: the draft plan and the {checklist} wait for sign-off "
            f"at POST /v1/operations/{step.operation_id}/sign-off. {step.detail}"
        )
    if step.kind == "migration" and step.state == "shift_blocked":
        return f"Migration shift blocked {where}: {step.detail}"
    if step.kind == "migration" and step.state == "awaiting_decommission":
        return (
            f"Migration validated {where}: decommissioning the old cluster needs an engagement admin's "
            f"decommission-cluster authorisation. {step.detail}"
        )
    headline = COMMENTED_STEPS.get((step.step, step.status))
    return None if headline is None else f"{headline.format(kind=kind)} {where}: {step.detail}"


def report_comment(kind: str, operation_id: str, outcome: str, truncated: bool, request_id: str, path: str) -> str:
    """The provider's comment pointing at an operation's report attached to the request."""
    name = KIND_NAMES.get(kind, kind)
    cut = " (cut to fit the event; the whole report is on upgrade-runner's API)" if truncated else ""
    return (
        f"{name} report of operation {operation_id} attached, outcome {outcome}{cut}: "
        f"GET /v1/requests/{request_id}/operation-reports; upgrade-runner API: {path}"
    )
