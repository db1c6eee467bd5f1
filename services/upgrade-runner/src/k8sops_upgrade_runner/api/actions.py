"""Authorisations and operator actions in customer clusters (SPEC section 3)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from k8sops_common.errors import ProblemError, not_found
from k8sops_common.service import Context

from .. import authorisations, repository
from ..auth import CustomerAdmin, Operator, Reader, ensure_member, ensure_visible
from ..schemas import ID_PATTERN, ActionIn, ActionOut, AuthorisationCreate, AuthorisationOut
from .cluster_actions import perform, read_action
from .drift import visible_cluster

router = APIRouter(prefix="/v1", tags=["cluster actions"])
ClusterId = Annotated[str, Path(pattern=ID_PATTERN)]
AuthorisationId = Annotated[str, Path(pattern=ID_PATTERN, description="as `POST /v1/authorisations` answered")]
ActionId = Annotated[str, Path(pattern=ID_PATTERN, description="as `POST .../actions` answered")]

ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Wrong role, or a destructive action without a valid authorisation (problem+json says which)"},
    404: {"description": "Not in the caller's engagements, or unknown"},
    422: {"description": "Invalid body"},
}
# Reading one by id: another engagement's record answers as an unknown id does, so it does not leak.
READ_ONE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The token has no reading role (viewer, operator or auditor)"},
    404: {"description": "No such id in the caller's engagements (unknown, or another engagement's); says which"},
    422: {"description": "A malformed id: the problem names the path parameter"},
}


async def _cluster(context: Context, cluster_id: str) -> dict[str, Any]:
    async with context.database.sessions() as session:
        cluster = await repository.get_cluster(session, cluster_id)
    if cluster is None:
        raise not_found("cluster", cluster_id)
    return dict(cluster)


@router.post(
    "/authorisations",
    status_code=status.HTTP_201_CREATED,
    response_model=AuthorisationOut,
    responses=ERRORS,
    summary="An engagement admin authorises one destructive action on one target (single use, expiring)",
)
async def create_authorisation(principal: CustomerAdmin, context: Context, body: AuthorisationCreate) -> dict[str, Any]:
    ensure_member(principal, body.engagement_id, "engagement", body.engagement_id)
    cluster = await _cluster(context, body.cluster_id)
    if cluster["engagement_id"] != body.engagement_id:
        raise ProblemError(
            422,
            "Unknown cluster",
            f"Engagement {body.engagement_id!r} has no cluster {body.cluster_id!r}.",
            problem_type="unknown-cluster",
        )
    async with context.database.unit_of_work() as session:
        return dict(await authorisations.grant(session, context.outbox, principal, body))


@router.get("/engagements/{engagement_id}/authorisations", response_model=list[AuthorisationOut], responses=ERRORS)
async def list_authorisations(
    principal: Reader, context: Context, engagement_id: Annotated[str, Path(pattern=ID_PATTERN)]
) -> list[dict[str, Any]]:
    ensure_visible(principal, engagement_id, "engagement", engagement_id)
    async with context.database.sessions() as session:
        return [dict(row) for row in await repository.list_authorisations(session, engagement_id)]


@router.get(
    "/authorisations/{authorisation_id}",
    response_model=AuthorisationOut,
    responses=READ_ONE_ERRORS,
    summary="One authorisation: what it allows, who granted it and why, until when, whether it was used",
)
async def get_authorisation(principal: Reader, context: Context, authorisation_id: AuthorisationId) -> AuthorisationOut:
    async with context.database.sessions() as session:
        return await authorisations.read(session, principal, authorisation_id)


@router.post(
    "/clusters/{cluster_id}/actions",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionOut,
    responses={**ERRORS, 502: {"description": "The cluster refused or failed the action (recorded as a failure)"}},
    summary="Act in a customer cluster: cordon, uncordon, drain, restart, scale, delete pod/namespace/PVC",
)
async def create_action(principal: Operator, context: Context, cluster_id: ClusterId, body: ActionIn) -> dict[str, Any]:
    cluster = await _cluster(context, cluster_id)
    ensure_member(principal, cluster["engagement_id"], "cluster", cluster_id)
    return await perform(context, principal, cluster, body)


@router.get("/clusters/{cluster_id}/actions", response_model=list[ActionOut], responses=ERRORS)
async def list_actions(
    principal: Reader,
    context: Context,
    cluster_id: ClusterId,
    limit: Annotated[int, Query(gt=0, le=500)] = 100,
) -> list[dict[str, Any]]:
    await visible_cluster(context, principal, cluster_id)
    async with context.database.sessions() as session:
        return [dict(row) for row in await repository.list_actions(session, cluster_id, limit)]


@router.get(
    "/clusters/{cluster_id}/actions/{action_id}",
    response_model=ActionOut,
    responses=READ_ONE_ERRORS,
    summary="One action run in the cluster: who, what, on what, with which authorisation, the outcome",
)
async def get_action(principal: Reader, context: Context, cluster_id: ClusterId, action_id: ActionId) -> ActionOut:
    async with context.database.sessions() as session:
        return await read_action(session, principal, cluster_id, action_id)
