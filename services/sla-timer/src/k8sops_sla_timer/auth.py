"""Who may do what in sla-timer (SPEC section 3), as typed dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from k8sops_common.auth import Principal, Role, require_any_role
from k8sops_common.auth import Reader as Reader  # any customer role, operators, auditors (read-only)
from k8sops_common.errors import not_found

# Editing SLA policies (response targets other than the contractual ones, credit rules).
Operator = Annotated[Principal, Depends(require_any_role(Role.OPERATOR))]


def ensure_engagement_visible(principal: Principal, engagement_id: str) -> None:
    """Records of engagements outside the token answer 404, so their existence does not leak."""
    if not principal.can_see_engagement(engagement_id):
        raise not_found("engagement", engagement_id)
