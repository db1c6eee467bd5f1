"""Routes of partner links and the inbound partner webhooks."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from k8sops_common.events.envelope import utc_now
from k8sops_common.service import Context, UnitOfWork

from ..auth import CustomerAdmin
from ..routing import CHANGING, SCOPED, EngagementId, IdempotencyKey, RecordId, created_response, inline_schema
from . import service
from .schemas import PartnerCreate, PartnerCreated, PartnerOut, PartnerTicketEvent, PartnerTicketReceipt

router = APIRouter(prefix="/v1", tags=["partners"])


@router.post(
    "/engagements/{engagement_id}/partners",
    status_code=201,
    response_model=PartnerCreated,
    responses=CHANGING,
)
async def register_partner(
    body: PartnerCreate,
    principal: CustomerAdmin,
    session: UnitOfWork,
    context: Context,
    response: Response,
    engagement_id: EngagementId,
    idempotency_key: IdempotencyKey = None,
) -> PartnerCreated:
    created = await service.register_partner(session, context.outbox, principal, engagement_id, body, idempotency_key)
    return created_response(response, created)


@router.get("/engagements/{engagement_id}/partners", response_model=list[PartnerOut], responses=SCOPED)
async def list_partners(principal: CustomerAdmin, session: UnitOfWork, engagement_id: EngagementId) -> list[PartnerOut]:
    return await service.list_partners(session, principal, engagement_id)


@router.post(
    "/partners/{partner_id}/webhooks",
    status_code=201,
    response_model=PartnerTicketReceipt,
    summary="A partner ticket created or updated (Standard Webhooks signature, no bearer token)",
    responses={
        200: {"description": "An existing ticket's request, updated if anything changed"},
        401: {"description": "Missing headers, bad signature, or a timestamp outside 5 minutes"},
        404: {"description": "No such partner"},
        409: {"description": "This webhook-id was received before"},
        413: {"description": "Body larger than 256 KiB"},
        422: {"description": "The signed body is not a ticket event"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(PartnerTicketEvent)}},
        },
        "parameters": [
            {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
            for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        ],
    },
)
async def receive_partner_webhook(
    request: Request, session: UnitOfWork, context: Context, response: Response, partner_id: RecordId
) -> PartnerTicketReceipt:
    body = await request.body()  # the exact bytes that were signed
    headers = {name: request.headers.get(name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    received = await service.receive_partner_webhook(session, context.outbox, partner_id, headers, body, utc_now())
    if not received.is_new:
        response.status_code = status.HTTP_200_OK
    return received.value
