"""Routes of disputes."""

from __future__ import annotations

from fastapi import APIRouter, Response

from k8sops_common.service import Context, UnitOfWork

from ..auth import DisputeParty, Reader
from ..routing import CHANGING, SCOPED, IdempotencyKey, RecordId, created_response
from . import service
from .schemas import DisputeCreate, DisputeEntryIn, DisputeOut

router = APIRouter(prefix="/v1", tags=["disputes"])


@router.post("/disputes", status_code=201, response_model=DisputeOut, responses=CHANGING)
async def open_dispute(
    body: DisputeCreate,
    principal: DisputeParty,
    session: UnitOfWork,
    context: Context,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> DisputeOut:
    created = await service.open_dispute(session, context.outbox, principal, body, idempotency_key)
    return created_response(response, created)


@router.get("/disputes/{dispute_id}", response_model=DisputeOut, responses=SCOPED)
async def get_dispute(principal: Reader, session: UnitOfWork, dispute_id: RecordId) -> DisputeOut:
    return await service.get_dispute(session, principal, dispute_id)


@router.post(
    "/disputes/{dispute_id}/entries",
    response_model=DisputeOut,
    responses=CHANGING,
    summary="Add a position, a non-prod test note, the senior's engagement, or the customer admin's decision",
)
async def add_dispute_entry(
    body: DisputeEntryIn, principal: DisputeParty, session: UnitOfWork, context: Context, dispute_id: RecordId
) -> DisputeOut:
    return await service.add_dispute_entry(session, context.outbox, principal, dispute_id, body)
