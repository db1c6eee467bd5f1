"""Cluster actions and the customer authorisations destructive ones need (SPEC section 3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DEFAULT_AUTHORISATION_TTL = timedelta(hours=1)


class ClusterAction(StrEnum):
    CORDON = "cordon"
    UNCORDON = "uncordon"
    DRAIN = "drain"
    RESTART_WORKLOAD = "restart-workload"
    SCALE = "scale"
    DELETE_POD = "delete-pod"
    DELETE_NAMESPACE = "delete-namespace"
    DELETE_PVC = "delete-pvc"
    EMERGENCY_UPGRADE = "emergency-upgrade"
    # A drift reconcile that deletes objects found in the cluster but not in its desired state.
    DELETE_DRIFT_EXTRAS = "delete-drift-extras"
    # The last step of a migration: deleting the old cluster.
    DECOMMISSION_CLUSTER = "decommission-cluster"


ALWAYS_DESTRUCTIVE = frozenset(
    {
        ClusterAction.DELETE_NAMESPACE,
        ClusterAction.DELETE_PVC,
        ClusterAction.EMERGENCY_UPGRADE,
        ClusterAction.DELETE_DRIFT_EXTRAS,
        ClusterAction.DECOMMISSION_CLUSTER,
    }
)


def is_destructive(action: ClusterAction, *, replicas: int | None = None, window_open: bool = True) -> bool:
    """Deleting a namespace or PVC, scaling to zero, draining outside the window, an emergency
    upgrade outside the window: the customer's admin must authorise these."""
    if action in ALWAYS_DESTRUCTIVE:
        return True
    if action is ClusterAction.SCALE:
        return replicas == 0
    if action is ClusterAction.DRAIN:
        return not window_open
    return False


@dataclass(frozen=True)
class Target:
    cluster_id: str
    kind: str
    name: str
    namespace: str | None = None

    def describe(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} in cluster {self.cluster_id}"


@dataclass(frozen=True)
class Authorisation:
    authorisation_id: str
    engagement_id: str
    action: ClusterAction
    target: Target
    granted_by: str
    expires_at: datetime
    used_at: datetime | None


def authorisation_problem(
    authorisation: Authorisation | None, action: ClusterAction, target: Target, now: datetime
) -> str | None:
    """Why `authorisation` does not cover `action` on `target` now (None: it does)."""
    wanted = f"an engagement admin's authorisation for {action.value} on {target.describe()}"
    if authorisation is None:
        return f"This action needs {wanted}; none was given (authorisation_id)."
    if authorisation.used_at is not None:
        used = authorisation.used_at.isoformat()
        return (
            f"Authorisation {authorisation.authorisation_id} was already used at {used}; single-use: ask for {wanted}."
        )
    if now >= authorisation.expires_at:
        expired = authorisation.expires_at.isoformat()
        return f"Authorisation {authorisation.authorisation_id} expired at {expired}; ask for {wanted}."
    if authorisation.action is not action or authorisation.target != target:
        return (
            f"Authorisation {authorisation.authorisation_id} is for {authorisation.action.value} on "
            f"{authorisation.target.describe()}, not {action.value} on {target.describe()}."
        )
    return None
