"""Recording a cluster's desired state (the drift baseline) and reading its drift now."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import RowMapping

from k8sops_common.audit import record_audit
from k8sops_common.auth import Principal
from k8sops_common.events.catalog import ActorV1
from k8sops_common.service import ServiceContext

from .. import repository, service
from ..domain.drift import DriftFinding, drift, key_of, normalise
from .cluster import ClusterClient

GIT_REASON = "git "


async def record_baseline(
    context: ServiceContext,
    client: ClusterClient,
    cluster: Mapping[Any, Any],
    actor: Principal | ActorV1,
    reason: str,
) -> dict[str, Any]:
    """The live managed objects become the desired state."""
    return await store_baseline(context, cluster, actor, reason, await client.managed_objects())


async def store_baseline(
    context: ServiceContext,
    cluster: Mapping[Any, Any],
    actor: Principal | ActorV1,
    reason: str,
    objects: list[dict[str, Any]],
) -> dict[str, Any]:
    """`objects` become the cluster's desired state; the rows and the audit event commit together."""
    now = service.now_utc()
    rows = [
        {
            "cluster_id": cluster["cluster_id"],
            "object_key": key_of(obj),
            "object": normalise(obj),
            "recorded_at": now,
            "recorded_by": actor.sub,
            "reason": reason,
        }
        for obj in {key_of(obj): obj for obj in objects}.values()
    ]
    async with context.database.unit_of_work() as session:
        await repository.replace_baseline(session, cluster["cluster_id"], rows)
        await record_audit(
            session,
            context.outbox,
            actor=actor,
            action="drift.baseline_recorded",
            target=service.cluster_target(cluster, cluster["cluster_id"]),
            engagement_id=cluster["engagement_id"],
            details={"objects": len(rows), "reason": reason},
        )
    return {"cluster_id": cluster["cluster_id"], "objects": len(rows), "recorded_at": now, "reason": reason}


async def desired_state(context: ServiceContext, cluster_id: str) -> list[RowMapping]:
    async with context.database.sessions() as session:
        return await repository.baseline_of(session, cluster_id)


async def current_drift(context: ServiceContext, client: ClusterClient, cluster_id: str) -> list[DriftFinding] | None:
    """None when no baseline was ever recorded for the cluster."""
    baseline = await desired_state(context, cluster_id)
    if not baseline:
        return None
    # A Git path declares some objects, not the whole cluster: what it does not declare is not extra.
    from_git = baseline[0]["reason"].startswith(GIT_REASON)
    return drift([row["object"] for row in baseline], await client.managed_objects(), report_extra=not from_git)
