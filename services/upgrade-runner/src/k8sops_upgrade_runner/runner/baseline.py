"""Recording a cluster's desired state (the drift baseline) and reading its drift now."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import RowMapping

from k8sops_common.audit import record_audit
from k8sops_common.auth import Principal
from k8sops_common.events.catalog import ActorV1, DriftChangeV1, DriftMeasuredV1, DriftObjectV1
from k8sops_common.service import ServiceContext

from .. import repository, service
from ..domain.drift import DriftFinding, drift, key_of, normalise
from .cluster import ClusterClient

GIT_REASON = "git "
DriftTrigger = Literal["check", "reconcile-precheck", "reconcile-postcheck"]
# The event carries at most this many objects (the total says how many drifted), and values of
# at most this many characters of JSON (a changed ConfigMap can hold megabytes).
EVENT_OBJECTS = 200
EVENT_VALUE_CHARS = 1000


def clipped(value: Any) -> Any:
    text = json.dumps(value)
    return value if len(text) <= EVENT_VALUE_CHARS else f"{text[:EVENT_VALUE_CHARS]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Measurement:
    """The drift of a cluster now, and where its desired state came from."""

    findings: list[DriftFinding]
    reason: str
    recorded_at: datetime

    def event(
        self,
        cluster: Mapping[Any, Any],
        trigger: DriftTrigger,
        at: datetime,
        operation_id: str | None = None,
    ) -> DriftMeasuredV1:
        """`drift.measured`: how the quarterly review (cost-analyzer) learns of the cluster's drift."""
        return DriftMeasuredV1(
            engagement_id=cluster["engagement_id"],
            cluster_id=cluster["cluster_id"],
            measured_at=at,
            source="git" if self.reason.startswith(GIT_REASON) else "baseline",
            desired_state=self.reason[:500],
            trigger=trigger,
            operation_id=operation_id,
            total=len(self.findings),
            objects=[
                DriftObjectV1(
                    object=f.object,
                    drift=f.drift,
                    changes=[
                        DriftChangeV1(path=c.path, desired=clipped(c.desired), live=clipped(c.live)) for c in f.changes
                    ],
                )
                for f in self.findings[:EVENT_OBJECTS]
            ],
        )


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


async def current_drift(context: ServiceContext, client: ClusterClient, cluster_id: str) -> Measurement | None:
    """None when no baseline was ever recorded for the cluster."""
    baseline = await desired_state(context, cluster_id)
    if not baseline:
        return None
    # A Git path declares some objects, not the whole cluster: what it does not declare is not extra.
    reason = baseline[0]["reason"]
    findings = drift(
        [row["object"] for row in baseline],
        await client.managed_objects(),
        report_extra=not reason.startswith(GIT_REASON),
    )
    return Measurement(findings, reason, baseline[0]["recorded_at"])
