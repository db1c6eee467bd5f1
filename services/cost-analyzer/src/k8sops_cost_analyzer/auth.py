"""Who may do what in cost-analyzer (SPEC section 3), as typed dependencies and scope checks.

A role is checked first (403, from the token alone); then the record's engagement must be in the
token (404, so records of other engagements do not reveal they exist).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from k8sops_common.auth import Principal, Role, require_any_role
from k8sops_common.auth import Reader as Reader  # the routes' read permission, shared by every service
from k8sops_common.errors import not_found

# Running analyses on demand, editing the price table.
Operator = Annotated[Principal, Depends(require_any_role(Role.OPERATOR))]
# Stating a position on a recommendation: the provider (operator, senior) or the customer admin.
PositionHolder = Annotated[Principal, Depends(require_any_role(Role.OPERATOR, Role.ADMIN))]
# Moving a recommendation: customer admins decide; operators mark accepted ones implemented.
Decider = Annotated[Principal, Depends(require_any_role(Role.ADMIN, Role.OPERATOR))]


def ensure_visible(principal: Principal, engagement_id: str, kind: str, identifier: str) -> None:
    if not principal.can_see_engagement(engagement_id):
        raise not_found(kind, identifier)


def scope(principal: Principal) -> list[str] | None:
    """The engagements a listing may show; None for auditors, who see all."""
    return None if principal.has_role(Role.AUDITOR) else sorted(principal.engagements)
