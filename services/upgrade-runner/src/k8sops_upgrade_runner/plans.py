"""Plans: a new operation for a cluster, from the API or from a request, and the two rules a plan
must keep (one operation per request, one live operation per cluster), each refusal naming the
operation in the way."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import SYSTEM_ACTOR, record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.errors import ProblemError
from k8sops_common.events.catalog import ActorV1, AuditTargetV1, RequestOpenedV1

from . import repository
from .domain.operation import OperationKind, State
from .domain.versions import Version
from .service import conflict, now_utc, record_step


async def create_plan(
    session: AsyncSession,
    outbox: Outbox,
    *,
    actor: Principal | ActorV1,
    engagement_id: str,
    cluster_id: str,
    request_id: str | None,
    target_version: str | None,
    emergency: bool,
    force: bool,
    kind: OperationKind = OperationKind.UPGRADE,
    spec: dict[str, Any] | None = None,
    from_version: str | None = None,
) -> RowMapping:
    """A plan for one cluster; versions are read from the cluster at pre-check when not given."""
    if target_version is not None and kind is OperationKind.UPGRADE:
        Version.parse(target_version)  # the caller turns ValueError into a 422
    refused = await plan_refusal(session, cluster_id, request_id)
    if refused is not None:
        raise refused
    now = now_utc()
    operation_id = f"op-{uuid.uuid4().hex[:16]}"
    values = {
        "operation_id": operation_id,
        "kind": kind.value,
        "engagement_id": engagement_id,
        "cluster_id": cluster_id,
        "request_id": request_id,
        "state": State.PLANNED.value,
        "from_version": from_version,
        "to_version": target_version,
        "spec": spec,
        "emergency": emergency,
        "force": force,
        "created_by": actor.sub,
        "next_run_at": now,
        "created_at": now,
        "updated_at": now,
    }
    try:
        async with session.begin_nested():
            await repository.insert_operation(session, values)
    except IntegrityError as error:  # a concurrent plan committed first: say which rule it broke
        raise await plan_refusal(session, cluster_id, request_id) or conflict(
            f"Another plan for cluster {cluster_id!r} was made at the same moment and is already gone; "
            f"list the cluster's operations (`GET /v1/operations?cluster_id={cluster_id}`), then plan again.",
            "operation-in-progress",
        ) from error
    operation = await repository.get_operation(session, operation_id)
    assert operation is not None
    await record_step(session, outbox, operation, None, actor, "plan created")
    return operation


async def plan_refusal(session: AsyncSession, cluster_id: str, request_id: str | None) -> ProblemError | None:
    """Why a new plan would break one of the two rules (one operation per request, one live operation
    per cluster), naming the operation in the way; the request's rule first, as it outlives the other."""
    if request_id is not None:
        existing = await repository.operation_of_request(session, request_id)
        if existing is not None:
            return conflict(
                f"Request {request_id!r} already has operation {existing['operation_id']} "
                f"({existing['kind']}, {existing['state']}) on cluster {existing['cluster_id']!r}; a request gets "
                "one operation: follow that one, or open a new request for another.",
                "request-has-operation",
            )
    existing = await repository.live_operation_of_cluster(session, cluster_id)
    if existing is not None:
        return conflict(
            f"Cluster {cluster_id!r} already has live operation {existing['operation_id']} "
            f"({existing['kind']}, {existing['state']}); finish or cancel it first.",
            "operation-in-progress",
        )
    return None


# A request of these categories becomes an operation of that kind on the request's cluster.
KIND_OF_CATEGORY = {"cluster-upgrade": OperationKind.UPGRADE, "migration": OperationKind.MIGRATION}
# A migration request names only the old cluster: the runner drafts the rest at pre-check.
DRAFT_MIGRATION: dict[str, Any] = {"from_request": True, "new_cluster": None, "topology": None, "workloads": []}


async def plan_from_request(session: AsyncSession, outbox: Outbox, data: RequestOpenedV1) -> None:
    """A `cluster-upgrade` request becomes an upgrade plan for its cluster (target: the next
    minor); a `migration` request a migration of its cluster, drafted from it at pre-check."""
    kind = KIND_OF_CATEGORY.get(data.category)
    if kind is None:
        return
    if await repository.operation_of_request(session, data.request_id) is not None:
        return
    if data.cluster_id is None:
        await record_audit(
            session,
            outbox,
            actor=SYSTEM_ACTOR,
            action=f"{kind.value}.plan",
            target=AuditTargetV1(kind="Request", name=data.request_id),
            engagement_id=data.engagement_id,
            outcome="failure",
            details={"reason": "the request names no cluster"},
        )
        return
    try:
        await create_plan(
            session,
            outbox,
            actor=SYSTEM_ACTOR,
            engagement_id=data.engagement_id,
            cluster_id=data.cluster_id,
            request_id=data.request_id,
            target_version=None,
            emergency=data.priority == "P1" and kind is OperationKind.UPGRADE,
            force=False,
            kind=kind,
            spec=dict(DRAFT_MIGRATION) if kind is OperationKind.MIGRATION else None,
        )
    except ProblemError as refused:
        await record_audit(
            session,
            outbox,
            actor=SYSTEM_ACTOR,
            action=f"{kind.value}.plan",
            target=AuditTargetV1(kind="Cluster", name=data.cluster_id, cluster=data.cluster_id),
            engagement_id=data.engagement_id,
            outcome="failure",
            details={"request_id": data.request_id, "reason": refused.detail},
        )
