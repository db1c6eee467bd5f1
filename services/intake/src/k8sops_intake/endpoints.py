"""Intake's REST API: thin routes that check who may act and hand over to the service layer."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel

from k8sops_common.events.catalog import Priority, RequestCategory, RequestStatus
from k8sops_common.events.envelope import utc_now
from k8sops_common.service import Context, UnitOfWork

from . import service
from .auth import CustomerAdmin, DisputeParty, EngagementEditor, Participant, Reader, Senior
from .domain.scope import OutOfScopeKind
from .schemas import (
    ID_PATTERN,
    ClusterCreate,
    ClusterOut,
    ClusterUpdate,
    CommentIn,
    CommentOut,
    DeliveryOut,
    DisputeCreate,
    DisputeEntryIn,
    DisputeOut,
    EngagementCreate,
    EngagementOut,
    EngagementUpdate,
    PartnerCreate,
    PartnerCreated,
    PartnerOut,
    PartnerTicketEvent,
    PartnerTicketReceipt,
    PriorityChange,
    RequestCreate,
    RequestOut,
    RequestPage,
    ScopeCreepReport,
    TransitionIn,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)
from .settings import webhook_settings

T = TypeVar("T")


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` inlined, for a body the route reads as raw bytes."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


# Body size is limited for every service by the kit (k8sops_common.request_limits), chunked or not.
router = APIRouter(prefix="/v1")

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, description="replays return the first result"),
]
EngagementId = Annotated[str, Path(pattern=ID_PATTERN)]
RecordId = Annotated[str, Path(pattern=ID_PATTERN)]

Responses = dict[int | str, dict[str, Any]]
AUTH: Responses = {
    401: {"description": "No or invalid bearer token"},
    403: {"description": "The token lacks the role (or, for a body naming an engagement, that engagement)"},
    413: {"description": "Body larger than 256 KiB"},
    422: {"description": "Invalid input; the problem lists each field"},
}
SCOPED: Responses = {**AUTH, 404: {"description": "No such record in the caller's engagements"}}
CHANGING: Responses = {**SCOPED, 409: {"description": "Conflicts with the record's current state"}}


def _created(response: Response, created: service.Created[T]) -> T:
    if not created.is_new:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return created.value


# --- engagements and clusters -------------------------------------------------------------------


@router.post(
    "/engagements",
    status_code=201,
    response_model=EngagementOut,
    responses=CHANGING,
    tags=["engagements"],
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
    return _created(response, created)


@router.get("/engagements", response_model=list[EngagementOut], responses=AUTH, tags=["engagements"])
async def list_engagements(principal: Reader, session: UnitOfWork) -> list[EngagementOut]:
    return await service.list_engagements(session, principal)


@router.get("/engagements/{engagement_id}", response_model=EngagementOut, responses=SCOPED, tags=["engagements"])
async def get_engagement(principal: Reader, session: UnitOfWork, engagement_id: EngagementId) -> EngagementOut:
    return await service.get_engagement(session, principal, engagement_id)


@router.patch(
    "/engagements/{engagement_id}",
    response_model=EngagementOut,
    responses=CHANGING,
    tags=["engagements"],
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
    tags=["engagements"],
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
    tags=["engagements"],
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
    return _created(response, created)


@router.get(
    "/engagements/{engagement_id}/clusters/{cluster_id}",
    response_model=ClusterOut,
    responses=SCOPED,
    tags=["engagements"],
)
async def get_cluster(
    principal: Reader, session: UnitOfWork, engagement_id: EngagementId, cluster_id: RecordId
) -> ClusterOut:
    return await service.get_cluster(session, principal, engagement_id, cluster_id)


@router.patch(
    "/engagements/{engagement_id}/clusters/{cluster_id}",
    response_model=ClusterOut,
    responses=CHANGING,
    tags=["engagements"],
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
    tags=["engagements"],
)
async def remove_cluster(
    principal: CustomerAdmin, session: UnitOfWork, context: Context, engagement_id: EngagementId, cluster_id: RecordId
) -> Response:
    await service.remove_cluster(session, context.outbox, principal, engagement_id, cluster_id)
    return Response(status_code=204)


@router.get(
    "/engagements/{engagement_id}/scope-creep",
    response_model=ScopeCreepReport,
    responses=SCOPED,
    tags=["scope"],
    summary="Out-of-scope asks of this engagement, declined automatically or by an operator",
)
async def scope_creep_report(principal: Reader, session: UnitOfWork, engagement_id: EngagementId) -> ScopeCreepReport:
    return await service.scope_creep_report(session, principal, engagement_id)


# --- requests ------------------------------------------------------------------------------------


@router.post("/requests", status_code=201, response_model=RequestOut, responses=CHANGING, tags=["requests"])
async def create_request(
    body: RequestCreate,
    principal: Participant,
    session: UnitOfWork,
    context: Context,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RequestOut:
    created = await service.open_request(session, context.outbox, principal, body, idempotency_key)
    return _created(response, created)


@router.get("/requests", response_model=RequestPage, responses=SCOPED, tags=["requests"])
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
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RequestPage:
    filters = {
        "cluster_id": cluster_id,
        "category": category,
        "status": request_status,
        "priority": priority,
        "opened_from": opened_from,
        "opened_before": opened_before,
    }
    return await service.list_requests(session, principal, engagement_id, filters, cursor, limit)


@router.get("/requests/{request_id}", response_model=RequestOut, responses=SCOPED, tags=["requests"])
async def get_request(principal: Reader, session: UnitOfWork, request_id: RecordId) -> RequestOut:
    return RequestOut.model_validate(await service.visible_request(session, principal, request_id))


@router.patch(
    "/requests/{request_id}",
    response_model=RequestOut,
    responses=CHANGING,
    tags=["requests"],
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
    tags=["requests"],
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
    tags=["requests"],
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
    return _created(response, created)


@router.get("/requests/{request_id}/comments", response_model=list[CommentOut], responses=SCOPED, tags=["requests"])
async def list_comments(principal: Reader, session: UnitOfWork, request_id: RecordId) -> list[CommentOut]:
    return await service.list_comments(session, principal, request_id)


# --- disputes ------------------------------------------------------------------------------------


@router.post("/disputes", status_code=201, response_model=DisputeOut, responses=CHANGING, tags=["disputes"])
async def open_dispute(
    body: DisputeCreate,
    principal: DisputeParty,
    session: UnitOfWork,
    context: Context,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> DisputeOut:
    created = await service.open_dispute(session, context.outbox, principal, body, idempotency_key)
    return _created(response, created)


@router.get("/disputes/{dispute_id}", response_model=DisputeOut, responses=SCOPED, tags=["disputes"])
async def get_dispute(principal: Reader, session: UnitOfWork, dispute_id: RecordId) -> DisputeOut:
    return await service.get_dispute(session, principal, dispute_id)


@router.post(
    "/disputes/{dispute_id}/entries",
    response_model=DisputeOut,
    responses=CHANGING,
    tags=["disputes"],
    summary="Add a position, a non-prod test note, the senior's engagement, or the customer admin's decision",
)
async def add_dispute_entry(
    body: DisputeEntryIn, principal: DisputeParty, session: UnitOfWork, context: Context, dispute_id: RecordId
) -> DisputeOut:
    return await service.add_dispute_entry(session, context.outbox, principal, dispute_id, body)


# --- partner links and inbound partner webhooks --------------------------------------------------


@router.post(
    "/engagements/{engagement_id}/partners",
    status_code=201,
    response_model=PartnerCreated,
    responses=CHANGING,
    tags=["partners"],
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
    return _created(response, created)


@router.get(
    "/engagements/{engagement_id}/partners", response_model=list[PartnerOut], responses=SCOPED, tags=["partners"]
)
async def list_partners(principal: CustomerAdmin, session: UnitOfWork, engagement_id: EngagementId) -> list[PartnerOut]:
    return await service.list_partners(session, principal, engagement_id)


@router.post(
    "/partners/{partner_id}/webhooks",
    status_code=201,
    response_model=PartnerTicketReceipt,
    tags=["partners"],
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


# --- outbound webhooks ---------------------------------------------------------------------------


@router.post(
    "/engagements/{engagement_id}/webhooks",
    status_code=201,
    response_model=WebhookCreated,
    responses=CHANGING,
    tags=["webhooks"],
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
    return _created(response, created)


@router.get(
    "/engagements/{engagement_id}/webhooks", response_model=list[WebhookOut], responses=SCOPED, tags=["webhooks"]
)
async def list_webhooks(principal: CustomerAdmin, session: UnitOfWork, engagement_id: EngagementId) -> list[WebhookOut]:
    return await service.list_webhooks(session, principal, engagement_id)


@router.patch(
    "/engagements/{engagement_id}/webhooks/{webhook_id}",
    response_model=WebhookOut,
    responses=CHANGING,
    tags=["webhooks"],
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
    tags=["webhooks"],
    summary="Recent deliveries with every attempt",
)
async def list_deliveries(
    principal: CustomerAdmin,
    session: UnitOfWork,
    engagement_id: EngagementId,
    webhook_id: RecordId,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[DeliveryOut]:
    return await service.list_deliveries(session, principal, engagement_id, webhook_id, limit)
