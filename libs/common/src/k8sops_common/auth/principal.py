"""Who is calling: a typed principal with roles and the engagements it may see."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "k8s-ops.viewer"
    REQUESTER = "k8s-ops.requester"
    ADMIN = "k8s-ops.admin"
    OPERATOR = "k8s-ops.operator"
    SENIOR = "k8s-ops.senior"
    AUDITOR = "k8s-ops.auditor"


# A role grants everything the roles it includes grant (SPEC section 3).
INCLUDED_ROLES: dict[Role, frozenset[Role]] = {
    Role.VIEWER: frozenset({Role.VIEWER}),
    Role.REQUESTER: frozenset({Role.VIEWER, Role.REQUESTER}),
    Role.ADMIN: frozenset({Role.VIEWER, Role.REQUESTER, Role.ADMIN}),
    Role.OPERATOR: frozenset({Role.OPERATOR}),
    Role.SENIOR: frozenset({Role.OPERATOR, Role.SENIOR}),
    Role.AUDITOR: frozenset({Role.AUDITOR}),
}
PROVIDER_ROLES = frozenset({Role.OPERATOR, Role.SENIOR})


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: frozenset[Role]
    engagements: frozenset[str]

    @property
    def effective_roles(self) -> frozenset[Role]:
        granted: set[Role] = set()
        for role in self.roles:
            granted |= INCLUDED_ROLES[role]
        return frozenset(granted)

    def has_role(self, role: Role) -> bool:
        return role in self.effective_roles

    @property
    def is_provider(self) -> bool:
        return bool(self.roles & PROVIDER_ROLES)

    def can_see_engagement(self, engagement_id: str | None) -> bool:
        """Customers and operators see only the engagements in their token; auditors see all."""
        if self.has_role(Role.AUDITOR):
            return True
        return engagement_id is not None and engagement_id in self.engagements

    @property
    def role_names(self) -> list[str]:
        return sorted(role.value for role in self.roles)
