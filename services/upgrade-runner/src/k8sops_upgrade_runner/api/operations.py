"""Operations (upgrade plans): thin routes that check who may act, then call the service layer.

Each command commits before its response is sent (an explicit unit of work inside the route).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.auth import Principal
from k8sops_common.errors import ProblemError
from k8sops_common.service import Context, ServiceContext

from .. import plans, repository, service
from ..auth import Canceller, CustomerAdmin, Operator, Reader, ensure_member, ensure_senior_for_force, visible
from ..domain.operation import OperationKind, Trigger
from ..schemas import ID_PATTERN, NodeOut, OperationOut, OperationPage, PlanCreate, SignOffIn, StartIn, StepOut
from .commands import sign_off, start_now

router = APIRouter(prefix="/v1/operations", tags=["operations"])
OperationId = Annotated[str, Path(pattern=ID_PATTERN)]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not in the caller's engagements, or unknown"}}
COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    403: {"description": "The caller's role may not do this (problem+json names the role or authorisation)"},
    409: {"description": "The operation's state does not allow this (problem+json says which state it is in)"},
}
# Creating an operation: the 409s name the operation in the way and which rule it is.
PLAN_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMAND_ERRORS,
    409: {
        "description": "`request-has-operation`: the request already has an operation (one per request); "
        "`operation-in-progress`: the cluster has a live operation (one at a time). The detail names it."
    },
    422: {"description": "Invalid body or unknown cluster"},
}


async def _visible(context: Context, principal: Principal, operation_id: str) -> dict[str, Any]:
    async with context.database.sessions() as session:
        operation = await repository.get_operation(session, operation_id)
    return visible(principal, operation, "operation", operation_id)


async def known_cluster(session: AsyncSession, engagement_id: str, cluster_id: str) -> None:
    cluster = await repository.get_cluster(session, cluster_id)
    if cluster is None or cluster["engagement_id"] != engagement_id:
        raise ProblemError(
            422,
            "Unknown cluster",
            f"Engagement {engagement_id!r} has no cluster {cluster_id!r} (as last announced by intake).",
            problem_type="unknown-cluster",
        )


async def plan_kind(
    context: ServiceContext,
    principal: Principal,
    engagement_id: str,
    cluster_id: str,
    request_id: str | None,
    kind: OperationKind,
    spec: dict[str, Any],
    target_version: str | None = None,
) -> dict[str, Any]:
    """Plans an operation of a kind other than `upgrade` (committed before the response)."""
    async with context.database.unit_of_work() as session:
        await known_cluster(session, engagement_id, cluster_id)
        operation = await plans.create_plan(
            session,
            context.outbox,
            actor=principal,
            engagement_id=engagement_id,
            cluster_id=cluster_id,
            request_id=request_id,
            target_version=target_version,
            emergency=False,
            force=False,
            kind=kind,
            spec=spec,
        )
    return dict(operation)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OperationOut,
    responses=PLAN_ERRORS,
    summary="Plan an upgrade of one cluster (pre-check starts at once)",
)
async def create_plan(principal: Operator, context: Context, body: PlanCreate) -> dict[str, Any]:
    ensure_member(principal, body.engagement_id, "engagement", body.engagement_id)
    if body.force:
        ensure_senior_for_force(principal)
    async with context.database.unit_of_work() as session:
        await known_cluster(session, body.engagement_id, body.cluster_id)
        operation = await plans.create_plan(
            session,
            context.outbox,
            actor=principal,
            engagement_id=body.engagement_id,
            cluster_id=body.cluster_id,
            request_id=body.request_id,
            target_version=body.target_version,
            emergency=body.emergency,
            force=body.force,
        )
    return dict(operation)


@router.get("", response_model=OperationPage, summary="Operations in the caller's engagements, newest first")
async def list_operations(
    principal: Reader,
    context: Context,
    cluster_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(gt=0, le=200)] = 50,
) -> dict[str, Any]:
    engagements = None if principal.can_see_engagement(None) else principal.engagements
    async with context.database.sessions() as session:
        rows = await repository.list_operations(session, engagements, cluster_id, limit)
    return {"items": [dict(row) for row in rows]}


@router.get("/{operation_id}", response_model=OperationOut, responses=NOT_FOUND)
async def get_operation(principal: Reader, context: Context, operation_id: OperationId) -> dict[str, Any]:
    return await _visible(context, principal, operation_id)


@router.get("/{operation_id}/steps", response_model=list[StepOut], responses=NOT_FOUND, summary="Step history")
async def get_steps(principal: Reader, context: Context, operation_id: OperationId) -> list[dict[str, Any]]:
    await _visible(context, principal, operation_id)
    async with context.database.sessions() as session:
        return [dict(row) for row in await repository.steps_of(session, operation_id)]


@router.get("/{operation_id}/nodes", response_model=list[NodeOut], responses=NOT_FOUND, summary="Per-node progress")
async def get_nodes(principal: Reader, context: Context, operation_id: OperationId) -> list[dict[str, Any]]:
    await _visible(context, principal, operation_id)
    async with context.database.sessions() as session:
        return [dict(row) for row in await repository.nodes_of(session, operation_id)]


@router.get(
    "/{operation_id}/report",
    responses={
        **NOT_FOUND,
        200: {"content": {"application/json": {}, "text/markdown": {}}},
        409: {"description": "No report yet: the operation has not finished"},
    },
    summary="The report, JSON or Markdown (`?format=markdown`)",
)
async def get_report(
    principal: Reader,
    context: Context,
    operation_id: OperationId,
    format: Annotated[str, Query(pattern="^(json|markdown)$")] = "json",
) -> Any:
    operation = await _visible(context, principal, operation_id)
    if operation["report"] is None:
        raise service.conflict(
            f"Operation {operation_id} is {operation['state']}; its report comes when it finishes.", "no-report"
        )
    if format == "markdown":
        return Response(operation["report_markdown"], media_type="text/markdown; charset=utf-8")
    return operation["report"]


@router.post("/{operation_id}/sign-off", response_model=OperationOut, responses=COMMAND_ERRORS)
async def post_sign_off(
    principal: CustomerAdmin, context: Context, operation_id: OperationId, body: SignOffIn
) -> dict[str, Any]:
    """The customer's go for production, naming the passed non-prod stage it saw."""
    operation = await _visible(context, principal, operation_id)
    ensure_member(principal, operation["engagement_id"], "operation", operation_id)
    return await sign_off(context, principal, operation_id, body)


@router.post("/{operation_id}/start", response_model=OperationOut, responses=COMMAND_ERRORS)
async def post_start(principal: Operator, context: Context, operation_id: OperationId, body: StartIn) -> dict[str, Any]:
    """Start a scheduled production upgrade now: inside the window, or an emergency with authorisation."""
    operation = await _visible(context, principal, operation_id)
    ensure_member(principal, operation["engagement_id"], "operation", operation_id)
    return await start_now(context, principal, operation_id, body)


@router.post("/{operation_id}/cancel", response_model=OperationOut, responses=COMMAND_ERRORS)
async def post_cancel(principal: Canceller, context: Context, operation_id: OperationId) -> dict[str, Any]:
    operation = await _visible(context, principal, operation_id)
    ensure_member(principal, operation["engagement_id"], "operation", operation_id)
    async with context.database.unit_of_work() as session:
        return dict(
            await service.command(session, context.outbox, operation_id, Trigger.CANCEL, principal, "cancelled")
        )


@router.post("/{operation_id}/recheck", response_model=OperationOut, responses=COMMAND_ERRORS)
async def post_recheck(principal: Operator, context: Context, operation_id: OperationId) -> dict[str, Any]:
    """After a fix: run the pre-check again."""
    operation = await _visible(context, principal, operation_id)
    ensure_member(principal, operation["engagement_id"], "operation", operation_id)
    async with context.database.unit_of_work() as session:
        return dict(
            await service.command(session, context.outbox, operation_id, Trigger.RECHECK, principal, "re-check")
        )
