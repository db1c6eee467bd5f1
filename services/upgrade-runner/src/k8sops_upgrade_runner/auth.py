"""Who may do what in upgrade-runner (SPEC sections 3 and 6), as typed dependencies.

A role is checked first (403 `role-required`, from the token alone); then the record's
engagement must be in the token (404, so other engagements' records do not reveal they exist).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends

from k8sops_common.auth import Principal, Role, require_any_role
from k8sops_common.auth import Reader as Reader  # the routes' read permission, shared by every service
from k8sops_common.errors import ProblemError, not_found

# Planning and running upgrades, acting in clusters: provider operators of the engagement.
Operator = Annotated[Principal, Depends(require_any_role(Role.OPERATOR))]
# Signing off production, authorising destructive actions: the customer's engagement admin.
CustomerAdmin = Annotated[Principal, Depends(require_any_role(Role.ADMIN))]
# Cancelling before anything changed: either side.
Canceller = Annotated[Principal, Depends(require_any_role(Role.ADMIN, Role.OPERATOR))]


def ensure_visible(principal: Principal, engagement_id: str | None, kind: str, identifier: str) -> None:
    if not principal.can_see_engagement(engagement_id):
        raise not_found(kind, identifier)


def visible(principal: Principal, record: Mapping[Any, Any] | None, kind: str, identifier: str) -> dict[str, Any]:
    """The record read by id if its engagement is the caller's to see; else the 404 an unknown id gets."""
    if record is None:
        raise not_found(kind, identifier)
    ensure_visible(principal, record["engagement_id"], kind, identifier)
    return dict(record)


def ensure_member(principal: Principal, engagement_id: str, kind: str, identifier: str) -> None:
    """Acting (not just reading) needs the engagement in the token, even for auditors."""
    if engagement_id not in principal.engagements:
        raise not_found(kind, identifier)


def ensure_senior_for_force(principal: Principal) -> None:
    if not principal.has_role(Role.SENIOR):
        raise ProblemError(
            403,
            "Role required",
            "Running an upgrade past blocking pre-check findings (force) needs k8s-ops.senior.",
            problem_type="role-required",
        )
