"""Rules that move a request besides the lifecycle table: priority changes, comments, and the
progress of the upgrade or report that works on it (SPEC section 4)."""

from __future__ import annotations

from .lifecycle import TERMINAL_STATUSES, Action, Side

# Upgrade steps the customer must read on the request itself: blocking findings, the outcome.
COMMENTED_STEPS = {
    ("pre-check", "failed"): "Upgrade blocked at pre-check",
    ("report", "succeeded"): "Upgrade completed; the report is on the operation",
    ("rollback", "rolled_back"): "Upgrade rolled back; the report is on the operation",
}


def priority_is_settled(status: str) -> bool:
    """Once resolved (or final) a request's priority no longer matters, so it cannot change."""
    return status in TERMINAL_STATUSES or status == "resolved"


def comment_resumes(side: Side, status: str) -> bool:
    """The customer's comment is the answer the provider waited for."""
    return side is Side.CUSTOMER and status == "waiting_on_customer"


def upgrade_step_action(step: str, step_status: str, request_status: str) -> Action | None:
    """The upgrade's own progress moves the request: work has started, or the report is out."""
    if step_status == "running" and request_status == "acknowledged":
        return Action.START
    if step == "report" and step_status == "succeeded" and request_status == "in_progress":
        return Action.RESOLVE
    return None


def upgrade_step_comment(step: str, step_status: str, plan_id: str, detail: str) -> str | None:
    """The comment an upgrade step leaves on its request, if it is one the customer must read."""
    headline = COMMENTED_STEPS.get((step, step_status))
    return None if headline is None else f"{headline} (operation {plan_id}): {detail}"
