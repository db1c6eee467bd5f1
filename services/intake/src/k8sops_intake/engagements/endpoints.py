"""Routes of engagements and clusters: check who may act, hand over to the service."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from k8sops_common.service import Context, UnitOfWork

from ..auth import CustomerAdmin, EngagementEditor, Reader, Senior
from ..routing import AUTH, CHANGING, SCOPED, EngagementId, IdempotencyKey, RecordId, created_response
from . import service
from .schemas import ClusterCreate, ClusterOut, ClusterUpdate, EngagementCreate, EngagementOut, EngagementUpdate

router = APIRouter(prefix="/v1", tags=["engagements"])


@router.post(
    "/engagements",
    status_code=201,
    response_model=EngagementOut,
    responses=CHANGING,
    summary="Take on an engagement (provider senior; the engagement id must be in the token)",
)
async def create_engagement(
    body: EngagementCreate,
    principal: Senior,
    session: UnitOfWork,
    context: Context,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> EngagementOut:
    created = await service.create_engagement(session, context.outbox, principal, body, idempotency_key)
    return created_response(response, created)


@router.get("/engagements", response_model=list[EngagementOut], responses=AUTH)
async def list_engagements(principal: Reader, session: UnitOfWork) -> list[EngagementOut]:
    return await service.list_engagements(session, principal)


@router.get("/engagements/{engagement_id}", response_model=EngagementOut, responses=SCOPED)
async def get_engagement(principal: Reader, session: UnitOfWork, engagement_id: EngagementId) -> EngagementOut:
    return await service.get_engagement(session, principal, engagement_id)


@router.patch(
    "/engagements/{engagement_id}",
    response_model=EngagementOut,
    responses=CHANGING,
    summary="Change an engagement (customer admin; the tier only by the provider senior)",
)
async def update_engagement(
    body: EngagementUpdate,
    principal: EngagementEditor,
    session: UnitOfWork,
    context: Context,
    engagement_id: EngagementId,
) -> EngagementOut:
    return await service.update_engagement(session, context.outbox, principal, engagement_id, body)


@router.put(
    "/engagements/{engagement_id}/holiday-calendar",
    response_model=EngagementOut,
    responses={**SCOPED, 422: {"description": "Not a usable iCalendar file; the detail names the event to fix"}},
    summary="Upload the official holiday calendar as an iCalendar (.ics) file (customer admin)",
    openapi_extra={"requestBody": {"required": True, "content": {"text/calendar": {"schema": {"type": "string"}}}}},
)
async def upload_holiday_calendar(
    request: Request, principal: CustomerAdmin, session: UnitOfWork, context: Context, engagement_id: EngagementId
) -> EngagementOut:
    ics = await request.body()
    return await service.upload_holiday_calendar(session, context.outbox, principal, engagement_id, ics)


@router.post(
    "/engagements/{engagement_id}/clusters",
    status_code=201,
    response_model=ClusterOut,
    responses=CHANGING,
)
async def add_cluster(
    body: ClusterCreate,
    principal: CustomerAdmin,
    session: UnitOfWork,
    context: Context,
    response: Response,
    engagement_id: EngagementId,
    idempotency_key: IdempotencyKey = None,
) -> ClusterOut:
    created = await service.add_cluster(session, context.outbox, principal, engagement_id, body, idempotency_key)
    return created_response(response, created)


@router.get(
    "/engagements/{engagement_id}/clusters/{cluster_id}",
    response_model=ClusterOut,
    responses=SCOPED,
)
async def get_cluster(
    principal: Reader, session: UnitOfWork, engagement_id: EngagementId, cluster_id: RecordId
) -> ClusterOut:
    return await service.get_cluster(session, principal, engagement_id, cluster_id)


@router.patch(
    "/engagements/{engagement_id}/clusters/{cluster_id}",
    response_model=ClusterOut,
    responses=CHANGING,
)
async def update_cluster(
    body: ClusterUpdate,
    principal: CustomerAdmin,
    session: UnitOfWork,
    context: Context,
    engagement_id: EngagementId,
    cluster_id: RecordId,
) -> ClusterOut:
    return await service.update_cluster(session, context.outbox, principal, engagement_id, cluster_id, body)


@router.delete(
    "/engagements/{engagement_id}/clusters/{cluster_id}",
    status_code=204,
    response_class=Response,
    responses=CHANGING,
)
async def remove_cluster(
    principal: CustomerAdmin, session: UnitOfWork, context: Context, engagement_id: EngagementId, cluster_id: RecordId
) -> Response:
    await service.remove_cluster(session, context.outbox, principal, engagement_id, cluster_id)
    return Response(status_code=204)
