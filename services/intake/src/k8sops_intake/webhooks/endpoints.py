"""Routes of outbound webhook endpoints and their deliveries."""

from __future__ import annotations

from fastapi import APIRouter, Response

from k8sops_common.service import Context, UnitOfWork

from ..auth import CustomerAdmin
from ..routing import CHANGING, SCOPED, EngagementId, IdempotencyKey, PageLimit, RecordId, created_response
from ..settings import webhook_settings
from . import service
from .schemas import DeliveryOut, WebhookCreate, WebhookCreated, WebhookOut, WebhookUpdate

router = APIRouter(prefix="/v1", tags=["webhooks"])


@router.post(
    "/engagements/{engagement_id}/webhooks",
    status_code=201,
    response_model=WebhookCreated,
    responses=CHANGING,
)
async def register_webhook(
    body: WebhookCreate,
    principal: CustomerAdmin,
    session: UnitOfWork,
    context: Context,
    response: Response,
    engagement_id: EngagementId,
    idempotency_key: IdempotencyKey = None,
) -> WebhookCreated:
    allow_private = webhook_settings(context).allow_private_targets
    created = await service.register_webhook(
        session, context.outbox, principal, engagement_id, body, idempotency_key, allow_private
    )
    return created_response(response, created)


@router.get("/engagements/{engagement_id}/webhooks", response_model=list[WebhookOut], responses=SCOPED)
async def list_webhooks(principal: CustomerAdmin, session: UnitOfWork, engagement_id: EngagementId) -> list[WebhookOut]:
    return await service.list_webhooks(session, principal, engagement_id)


@router.patch(
    "/engagements/{engagement_id}/webhooks/{webhook_id}",
    response_model=WebhookOut,
    responses=CHANGING,
    summary="Enable (e.g. after fixing the receiver) or disable an endpoint",
)
async def update_webhook(
    body: WebhookUpdate,
    principal: CustomerAdmin,
    session: UnitOfWork,
    context: Context,
    engagement_id: EngagementId,
    webhook_id: RecordId,
) -> WebhookOut:
    return await service.update_webhook(session, context.outbox, principal, engagement_id, webhook_id, body)


@router.get(
    "/engagements/{engagement_id}/webhooks/{webhook_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=SCOPED,
    summary="Recent deliveries with every attempt",
)
async def list_deliveries(
    principal: CustomerAdmin,
    session: UnitOfWork,
    engagement_id: EngagementId,
    webhook_id: RecordId,
    limit: PageLimit = 50,
) -> list[DeliveryOut]:
    return await service.list_deliveries(session, principal, engagement_id, webhook_id, limit)
