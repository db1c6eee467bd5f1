"""Who may read and verify the audit trail (SPEC section 3), as typed dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from k8sops_common.auth import Principal, Role, require_any_role
from k8sops_common.auth import Reader as Reader  # the routes' read permission, shared by every service

# Verifying the chain and managing checkpoints: the provider's operators and auditors.
Verifier = Annotated[Principal, Depends(require_any_role(Role.OPERATOR, Role.AUDITOR))]
