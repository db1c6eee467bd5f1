"""cost-analyzer's use cases beside running analyses: following intake's clusters, turning
cost-optimization requests into analysis jobs, recommendation positions and decisions, prices."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import SYSTEM_ACTOR, record_audit
from k8sops_common.auth import Principal, Role
from k8sops_common.bus.outbox import Outbox
from k8sops_common.events.catalog import AuditTargetV1, DriftMeasuredV1, EngagementChangedV1, RequestOpenedV1

from . import repository
from .analysis import schedule_review
from .domain.recommendation import Decider, Positions, Status, check_transition
from .domain.review import Quarter, zone_of

ANALYSIS_KINDS = ("cost-analysis", "onboarding-assessment", "health-review")


class Conflict(Exception):
    """The request cannot be carried out in the current state (a 409)."""


class KeyReused(Exception):
    """An Idempotency-Key replayed with another request (a 422)."""


def _cluster_target(cluster_id: str) -> AuditTargetV1:
    return AuditTargetV1(kind="cluster", name=cluster_id, cluster=cluster_id)


async def apply_engagement_change(session: AsyncSession, outbox: Outbox, event: EngagementChangedV1) -> None:
    """Tracks the engagement's clusters; a new one gets its onboarding assessment and its next review."""
    keep = [] if event.change == "deleted" else [c.cluster_id for c in event.clusters]
    for cluster_id in await repository.delete_clusters(session, event.engagement_id, keep, event.changed_at):
        await record_audit(
            session,
            outbox,
            actor=SYSTEM_ACTOR,
            action="cost.cluster.untrack",
            target=_cluster_target(cluster_id),
            engagement_id=event.engagement_id,
            details={"reason": f"engagement {event.change}"},
        )
    if event.change == "deleted":
        return
    zone = zone_of(event.timezone)
    for cluster in event.clusters:
        values = {
            "cluster_id": cluster.cluster_id,
            "engagement_id": event.engagement_id,
            "name": cluster.name,
            "environment": cluster.environment,
            "timezone": zone.key,
            "changed_at": event.changed_at,
        }
        before, written = await repository.upsert_cluster(session, values)
        if before is not None and not before["deleted"]:
            if written and before["timezone"] != zone.key:
                await _move_reviews(session, outbox, event.engagement_id, cluster.cluster_id, before["timezone"], zone)
            continue
        row = await repository.get_cluster(session, cluster.cluster_id)
        assert row is not None
        next_review = Quarter.of(event.changed_at, zone).next()
        await schedule_job(session, row, "onboarding-assessment", "system", event.changed_at)
        await schedule_review(session, row, next_review)
        await record_audit(
            session,
            outbox,
            actor=SYSTEM_ACTOR,
            action="cost.cluster.track",
            target=_cluster_target(cluster.cluster_id),
            engagement_id=event.engagement_id,
            details={"onboarding_assessment": "scheduled", "next_review": str(next_review), "timezone": zone.key},
        )


async def _move_reviews(
    session: AsyncSession, outbox: Outbox, engagement_id: str, cluster_id: str, previous: str, zone: ZoneInfo
) -> None:
    """The engagement moved to another timezone: a review not run yet falls due at its quarter's
    start in the new one (already past: it runs at the next poll)."""
    for job in await repository.pending_quarterly_reviews(session, cluster_id):
        due_at = Quarter.parse(job["quarter"]).starts_at(zone)
        await repository.move_job(session, job["job_id"], due_at)
        await record_audit(
            session,
            outbox,
            actor=SYSTEM_ACTOR,
            action="cost.health-review.reschedule",
            target=_cluster_target(cluster_id),
            engagement_id=engagement_id,
            details={
                "job_id": job["job_id"],
                "quarter": job["quarter"],
                "previous_timezone": previous,
                "timezone": zone.key,
                "previous_due_at": job["due_at"].isoformat(),
                "due_at": due_at.isoformat(),
            },
        )


async def open_request(session: AsyncSession, outbox: Outbox, event: RequestOpenedV1) -> None:
    """A cost-optimization request on a cluster starts an analysis of that cluster."""
    if event.category != "cost-optimization" or event.cluster_id is None:
        return
    scheduled = await repository.schedule_job(
        session,
        {
            "job_id": f"job-{uuid.uuid4().hex[:16]}",
            "dedup_key": f"request/{event.request_id}",
            "engagement_id": event.engagement_id,
            "cluster_id": event.cluster_id,
            "kind": "cost-analysis",
            "request_id": event.request_id,
            "requested_by": event.opened_by,
            "due_at": event.opened_at,
        },
    )
    if scheduled:
        await record_audit(
            session,
            outbox,
            actor=SYSTEM_ACTOR,
            action="cost.cost-analysis.schedule",
            target=_cluster_target(event.cluster_id),
            engagement_id=event.engagement_id,
            details={"request_id": event.request_id},
        )


async def record_drift(session: AsyncSession, outbox: Outbox, event: DriftMeasuredV1) -> None:
    """The cluster's latest drift measurement, for its next quarterly review; an older one that
    arrives late (another partition's replay) changes nothing."""
    stored = await repository.upsert_drift(
        session,
        {
            "cluster_id": event.cluster_id,
            "engagement_id": event.engagement_id,
            "measured_at": event.measured_at,
            "source": event.source,
            "desired_state": event.desired_state,
            "trigger": event.trigger,
            "operation_id": event.operation_id,
            "total": event.total,
            "objects": [obj.model_dump(mode="json") for obj in event.objects],
        },
    )
    if stored:
        await record_audit(
            session,
            outbox,
            actor=SYSTEM_ACTOR,
            action="cost.drift.record",
            target=_cluster_target(event.cluster_id),
            engagement_id=event.engagement_id,
            details={"drifted_objects": event.total, "measured_at": event.measured_at.isoformat()},
        )


async def schedule_job(
    session: AsyncSession,
    cluster: RowMapping,
    kind: str,
    requested_by: str,
    due_at: datetime,
    dedup_key: str | None = None,
) -> str | None:
    """A job due at `due_at`, None when its dedup key exists (the onboarding assessment: once per cluster)."""
    job_id = f"job-{uuid.uuid4().hex[:16]}"
    dedup = f"onboarding/{cluster['cluster_id']}" if kind == "onboarding-assessment" else dedup_key
    inserted = await repository.schedule_job(
        session,
        {
            "job_id": job_id,
            "dedup_key": dedup,
            "engagement_id": cluster["engagement_id"],
            "cluster_id": cluster["cluster_id"],
            "kind": kind,
            "quarter": str(Quarter.of(due_at, zone_of(cluster["timezone"]))) if kind == "health-review" else None,
            "requested_by": requested_by,
            "due_at": due_at,
        },
    )
    return job_id if inserted else None


async def request_analysis(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    cluster: RowMapping,
    kind: str,
    now: datetime,
    idempotency_key: str | None,
) -> str:
    """Schedules the job now; a replay with the same Idempotency-Key returns the first job."""
    dedup = f"api/{principal.sub}/{idempotency_key}" if idempotency_key else None
    job_id = await schedule_job(session, cluster, kind, principal.sub, now, dedup)
    if job_id is None and kind != "onboarding-assessment" and dedup is not None:
        first = await repository.job_by_dedup_key(session, dedup)
        assert first is not None
        if (first["cluster_id"], first["kind"]) != (cluster["cluster_id"], kind):
            raise KeyReused(
                f"Idempotency-Key {idempotency_key!r} was used for a {first['kind']} of {first['cluster_id']}"
            )
        return str(first["job_id"])
    if job_id is None:
        raise Conflict(f"cluster {cluster['cluster_id']!r} already has its onboarding assessment (one per cluster)")
    await record_audit(
        session,
        outbox,
        actor=principal,
        action=f"cost.{kind}.request",
        target=_cluster_target(cluster["cluster_id"]),
        engagement_id=cluster["engagement_id"],
        details={"job_id": job_id},
    )
    return job_id


async def record_position(
    session: AsyncSession, outbox: Outbox, principal: Principal, recommendation_id: str, position: str, now: datetime
) -> RowMapping:
    """Operators and seniors state the provider's position, engagement admins the customer's."""
    row = await repository.get_recommendation(session, recommendation_id, lock=True)
    assert row is not None  # the endpoint checked visibility
    side = "provider" if principal.is_provider else "customer"
    updated = await repository.update_recommendation(
        session,
        recommendation_id,
        {f"{side}_position": position, f"{side}_position_by": principal.sub, "updated_at": now},
    )
    await repository.add_history(
        session,
        {
            "recommendation_id": recommendation_id,
            "at": now,
            "actor": principal.sub,
            "action": f"{side}-position",
            "note": position,
        },
    )
    await _audit_recommendation(session, outbox, principal, row, f"cost.recommendation.position.{side}", {})
    return updated


async def decide(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    recommendation_id: str,
    to: Status,
    note: str | None,
    now: datetime,
) -> RowMapping:
    row = await repository.get_recommendation(session, recommendation_id, lock=True)
    assert row is not None  # the endpoint checked visibility
    decider = Decider.PROVIDER if principal.is_provider else Decider.CUSTOMER
    customer_position = row["customer_position"]
    if to is Status.REJECTED and decider is Decider.CUSTOMER and note:
        customer_position = note  # the reason for rejecting is the customer's position
    check_transition(Status(row["status"]), to, decider, Positions(row["provider_position"], customer_position))
    values: dict[str, Any] = {"status": str(to), "updated_at": now}
    if decider is Decider.CUSTOMER:
        cluster = await repository.get_cluster(session, row["cluster_id"])
        quarter = Quarter.of(now, zone_of(None if cluster is None else cluster["timezone"]))
        values.update(decided_at=now, decided_by=principal.sub, decided_quarter=str(quarter))
        if customer_position != row["customer_position"]:
            values.update(customer_position=customer_position, customer_position_by=principal.sub)
    updated = await repository.update_recommendation(session, recommendation_id, values)
    await repository.add_history(
        session,
        {
            "recommendation_id": recommendation_id,
            "at": now,
            "actor": principal.sub,
            "action": "decision",
            "from_status": row["status"],
            "to_status": str(to),
            "note": note,
        },
    )
    await _audit_recommendation(
        session, outbox, principal, row, "cost.recommendation.decide", {"from": row["status"], "to": str(to)}
    )
    return updated


async def _audit_recommendation(
    session: AsyncSession, outbox: Outbox, principal: Principal, row: RowMapping, action: str, details: dict[str, Any]
) -> None:
    await record_audit(
        session,
        outbox,
        actor=principal,
        action=action,
        target=AuditTargetV1(kind="recommendation", name=row["recommendation_id"], cluster=row["cluster_id"]),
        engagement_id=row["engagement_id"],
        details={"kind": row["kind"], "target": row["target"], **details},
    )


async def put_price(
    session: AsyncSession, outbox: Outbox, principal: Principal, values: dict[str, Any], now: datetime
) -> None:
    assert principal.has_role(Role.OPERATOR)
    before = await repository.put_price(session, {**values, "updated_at": now, "updated_by": principal.sub})

    def text(row: RowMapping | dict[str, Any] | None, key: str) -> str | None:
        return None if row is None else str(Decimal(str(row[key])).normalize())

    await record_audit(
        session,
        outbox,
        actor=principal,
        action="cost.price.update",
        target=AuditTargetV1(kind="instance-type", name=values["instance_type"]),
        engagement_id=None,
        details={
            "on_demand_before": text(before, "on_demand_bdt_hour"),
            "on_demand_after": text(values, "on_demand_bdt_hour"),
            "spot_before": text(before, "spot_bdt_hour"),
            "spot_after": text(values, "spot_bdt_hour"),
        },
    )
