"""Routes of requests, their comments, and the scope creep report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from k8sops_common.events.catalog import Priority, RequestCategory, RequestStatus
from k8sops_common.inputs import ID_PATTERN
from k8sops_common.service import Context, UnitOfWork

from ..auth import Participant, Reader
from ..domain.scope import OutOfScopeKind
from ..routing import CHANGING, SCOPED, EngagementId, IdempotencyKey, PageLimit, RecordId, created_response
from . import service
from .repository import RequestFilter
from .schemas import (
    CommentIn,
    CommentOut,
    PriorityChange,
    RequestCreate,
    RequestOut,
    RequestPage,
    ScopeCreepReport,
    TransitionIn,
)

router = APIRouter(prefix="/v1", tags=["requests"])
scope_router = APIRouter(prefix="/v1", tags=["scope"])


@router.post("/requests", status_code=201, response_model=RequestOut, responses=CHANGING)
async def create_request(
    body: RequestCreate,
    principal: Participant,
    session: UnitOfWork,
    context: Context,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RequestOut:
    created = await service.open_request(session, context.outbox, principal, body, idempotency_key)
    return created_response(response, created)


@router.get("/requests", response_model=RequestPage, responses=SCOPED)
async def list_requests(
    principal: Reader,
    session: UnitOfWork,
    engagement_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    cluster_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    category: RequestCategory | OutOfScopeKind | None = None,
    request_status: Annotated[RequestStatus | None, Query(alias="status")] = None,
    priority: Priority | None = None,
    opened_from: Annotated[AwareDatetime | None, Query(description="inclusive")] = None,
    opened_before: Annotated[AwareDatetime | None, Query(description="exclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: PageLimit = 50,
) -> RequestPage:
    filters = RequestFilter(
        readable_by=principal,
        engagement_id=engagement_id,
        cluster_id=cluster_id,
        category=category,
        status=request_status,
        priority=priority,
        opened_from=opened_from,
        opened_before=opened_before,
    )
    return await service.list_requests(session, principal, filters, cursor, limit)


@router.get("/requests/{request_id}", response_model=RequestOut, responses=SCOPED)
async def get_request(principal: Reader, session: UnitOfWork, request_id: RecordId) -> RequestOut:
    return await service.get_request(session, principal, request_id)


@router.patch(
    "/requests/{request_id}",
    response_model=RequestOut,
    responses=CHANGING,
    summary="Change a request's priority",
)
async def change_priority(
    body: PriorityChange, principal: Participant, session: UnitOfWork, context: Context, request_id: RecordId
) -> RequestOut:
    return await service.change_priority(session, context.outbox, principal, request_id, body)


@router.post(
    "/requests/{request_id}/transitions",
    response_model=RequestOut,
    responses=CHANGING,
    summary="Move a request along its lifecycle (acknowledge, start, wait_on_customer, resume, resolve, reopen, "
    "close, decline, cancel)",
)
async def transition_request(
    body: TransitionIn, principal: Participant, session: UnitOfWork, context: Context, request_id: RecordId
) -> RequestOut:
    return await service.move_request(session, context.outbox, principal, request_id, body)


@router.post(
    "/requests/{request_id}/comments",
    status_code=201,
    response_model=CommentOut,
    responses=CHANGING,
)
async def add_comment(
    body: CommentIn,
    principal: Participant,
    session: UnitOfWork,
    context: Context,
    response: Response,
    request_id: RecordId,
    idempotency_key: IdempotencyKey = None,
) -> CommentOut:
    created = await service.comment_on_request(session, context.outbox, principal, request_id, body, idempotency_key)
    return created_response(response, created)


@router.get("/requests/{request_id}/comments", response_model=list[CommentOut], responses=SCOPED)
async def list_comments(principal: Reader, session: UnitOfWork, request_id: RecordId) -> list[CommentOut]:
    return await service.list_comments(session, principal, request_id)


@scope_router.get(
    "/engagements/{engagement_id}/scope-creep",
    response_model=ScopeCreepReport,
    responses=SCOPED,
    summary="Out-of-scope asks of this engagement, declined automatically or by an operator",
)
async def scope_creep_report(principal: Reader, session: UnitOfWork, engagement_id: EngagementId) -> ScopeCreepReport:
    return await service.scope_creep_report(session, principal, engagement_id)
