"""Who may do what in intake (SPEC section 3), as typed dependencies and engagement-scope checks.

A role is checked first (403 `role-required`, decided from the token alone); then the record's
engagement must be in the token (404, so records of other engagements do not reveal they exist).
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends

from k8sops_common.auth import Principal, Role, require_any_role
from k8sops_common.auth import Reader as Reader  # any customer role, operators, auditors (read-only)
from k8sops_common.errors import ProblemError, not_found

from .domain.lifecycle import Side

T = TypeVar("T")

# Opening requests, commenting, answering, moving a request along its lifecycle.
Participant = Annotated[Principal, Depends(require_any_role(Role.REQUESTER, Role.OPERATOR))]
# Managing the engagement: clusters, calendar, windows, webhooks, partner links.
CustomerAdmin = Annotated[Principal, Depends(require_any_role(Role.ADMIN))]
# Taking a contract on (creating an engagement, changing its tier).
Senior = Annotated[Principal, Depends(require_any_role(Role.SENIOR))]
# Changing an engagement: the customer admin, or the provider senior for the contractual fields.
EngagementEditor = Annotated[Principal, Depends(require_any_role(Role.ADMIN, Role.SENIOR))]
# Adding to a dispute: either side; the domain decides which entry kind each may add.
DisputeParty = Annotated[Principal, Depends(require_any_role(Role.REQUESTER, Role.OPERATOR))]


def ensure_visible(principal: Principal, engagement_id: str, kind: str, identifier: str) -> None:
    """For paths that name an engagement: decided from the token alone, before any query."""
    if not principal.can_see_engagement(engagement_id):
        raise not_found(kind, identifier)


def found(record: T | None, kind: str, identifier: str) -> T:
    """A record a visibility-scoped query returned, or the 404 that does not reveal it exists."""
    if record is None:
        raise not_found(kind, identifier)
    return record


def ensure_engagement_in_token(principal: Principal, engagement_id: str) -> None:
    """For bodies that name an engagement: decided from the token alone, so nothing leaks."""
    if engagement_id not in principal.engagements:
        raise ProblemError(
            403,
            "Engagement not in token",
            f"Your token does not cover engagement {engagement_id!r}; ask its admin for access.",
            problem_type="engagement-forbidden",
        )


def side_of(principal: Principal) -> Side:
    return Side.PROVIDER if principal.is_provider else Side.CUSTOMER


def dispute_sides(principal: Principal) -> frozenset[str]:
    sides: set[str] = set()
    if principal.has_role(Role.REQUESTER):
        sides.add("customer")
    if principal.has_role(Role.ADMIN):
        sides.add("customer_admin")
    if principal.has_role(Role.OPERATOR):
        sides.add("provider")
    if principal.has_role(Role.SENIOR):
        sides.add("senior")
    return frozenset(sides)
