"""Workload migrations to a new cluster (SPEC 7a): plan one, and decommission the old cluster."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from k8sops_common.service import Context

from .. import authorisations, repository, service
from ..auth import Operator, ensure_member, not_found
from ..domain.authorisation import ClusterAction, Target
from ..domain.operation import OperationKind, State, Trigger
from ..schemas import ID_PATTERN, DecommissionIn, MigrationCreate, OperationOut
from .operations import COMMAND_ERRORS, PLAN_ERRORS, plan_kind

router = APIRouter(prefix="/v1/operations", tags=["migrations"])
OperationId = Annotated[str, Path(pattern=ID_PATTERN)]


@router.post(
    "/migration",
    status_code=status.HTTP_201_CREATED,
    response_model=OperationOut,
    responses=PLAN_ERRORS,
    summary="Migrate workloads to a new cluster: provision, CD/CI sign-off, gradual shift, validate, decommission",
)
async def create_migration(principal: Operator, context: Context, body: MigrationCreate) -> dict[str, Any]:
    ensure_member(principal, body.engagement_id, "engagement", body.engagement_id)
    spec = {
        "topology": body.topology,
        "new_cluster": body.new_cluster.model_dump(),
        "workloads": [{**w.model_dump(), "phase": "pending", "detail": ""} for w in body.workloads],
    }
    return await plan_kind(
        context,
        principal,
        body.engagement_id,
        body.cluster_id,
        body.request_id,
        OperationKind.MIGRATION,
        spec,
        body.new_cluster.version,
    )


@router.post("/{operation_id}/decommission", response_model=OperationOut, responses=COMMAND_ERRORS)
async def post_decommission(
    principal: Operator, context: Context, operation_id: OperationId, body: DecommissionIn
) -> dict[str, Any]:
    """Delete the old cluster of a validated migration: destructive, so only with an engagement
    admin's `decommission-cluster` authorisation for that cluster (403 problem+json without)."""
    async with context.database.sessions() as session:
        operation = await repository.get_operation(session, operation_id)
    if operation is None or operation["engagement_id"] not in principal.engagements:
        raise not_found("operation", operation_id)
    if operation["state"] != State.AWAITING_DECOMMISSION.value:
        raise service.conflict(f"only a validated migration can be decommissioned; this one is {operation['state']}.")
    target = Target(operation["cluster_id"], "Cluster", operation["cluster_id"])
    authorisation_id = await authorisations.consume(
        context,
        principal,
        operation["engagement_id"],
        body.authorisation_id,
        ClusterAction.DECOMMISSION_CLUSTER,
        target,
        {"operation_id": operation_id},
    )
    spec = {**operation["spec"], "decommission_authorisation_id": authorisation_id}
    async with context.database.unit_of_work() as session:
        detail = f"decommission of {operation['cluster_id']} authorised ({authorisation_id})"
        return dict(
            await service.command(
                session, context.outbox, operation_id, Trigger.DECOMMISSION, principal, detail, {"spec": spec}
            )
        )
