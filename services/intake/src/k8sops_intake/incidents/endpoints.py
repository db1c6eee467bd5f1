"""Incident response API: pager setup and bridge, paging policies, a request's timeline and report."""

from __future__ import annotations

from typing import Annotated, get_args

from fastapi import APIRouter, Path, Request

from k8sops_common.errors import ProblemError
from k8sops_common.events.catalog import Priority, RequestCategory, Tier
from k8sops_common.service import Context, UnitOfWork

from ..auth import EngagementEditor, Reader, Senior
from ..routing import CHANGING, SCOPED, EngagementId, RecordId
from ..settings import webhook_settings
from . import service
from .schemas import (
    IncidentReportOut,
    IncidentResponseIn,
    IncidentResponseOut,
    PagingPolicyIn,
    PagingPolicyOut,
    TimelineOut,
)

router = APIRouter(prefix="/v1", tags=["incidents"])

AUDIT_READ = {**SCOPED, 200: {"description": "Also when the audit trail cannot be read: see audit_unavailable"}}


def _authorization(request: Request) -> str:
    # Forwarded to the audit service, which applies its own engagement scoping to the same caller.
    return request.headers.get("authorization", "")


@router.get(
    "/engagements/{engagement_id}/incident-response",
    response_model=IncidentResponseOut,
    responses=SCOPED,
    summary="The engagement's pagers (named on-call, senior on-call) and bridge template; routing keys never shown",
)
async def get_incident_response(
    principal: Reader, session: UnitOfWork, engagement_id: EngagementId
) -> IncidentResponseOut:
    return await service.get_setup(session, principal, engagement_id)


@router.put(
    "/engagements/{engagement_id}/incident-response",
    response_model=IncidentResponseOut,
    responses=CHANGING,
    summary="Set the pagers and the bridge template (customer admin or provider senior); a null pager removes it",
)
async def put_incident_response(
    body: IncidentResponseIn,
    principal: EngagementEditor,
    session: UnitOfWork,
    context: Context,
    engagement_id: EngagementId,
) -> IncidentResponseOut:
    allow_private = webhook_settings(context).allow_private_targets
    return await service.put_setup(session, context.outbox, principal, engagement_id, body, allow_private)


@router.get(
    "/paging-policies",
    response_model=list[PagingPolicyOut],
    responses=SCOPED,
    summary="Who is paged when, per tier, priority and category (* is any category)",
)
async def list_paging_policies(principal: Reader, session: UnitOfWork) -> list[PagingPolicyOut]:
    return await service.list_policies(session)


@router.put(
    "/paging-policies/{tier}/{priority}/{category}",
    response_model=PagingPolicyOut,
    responses=CHANGING,
    summary="Set one paging rule (provider senior); a category rule wins over the * rule",
)
async def put_paging_policy(
    body: PagingPolicyIn,
    principal: Senior,
    session: UnitOfWork,
    context: Context,
    tier: Annotated[Tier, Path()],
    priority: Annotated[Priority, Path()],
    category: Annotated[str, Path(max_length=40, description="a request category, or * for any")],
) -> PagingPolicyOut:
    key = {"tier": tier, "priority": priority, "category": _category(category)}
    return await service.put_policy(session, context.outbox, principal, key, body)


def _category(value: str) -> str:
    if value != "*" and value not in get_args(RequestCategory):
        raise ProblemError(
            422,
            "Unknown category",
            f"{value!r} is no request category; use * or one of {', '.join(get_args(RequestCategory))}.",
            problem_type="invalid-request",
        )
    return value


@router.get(
    "/requests/{request_id}/timeline",
    response_model=TimelineOut,
    responses=AUDIT_READ,
    summary="History, pages and their acknowledgements, SLA events and cluster actions (audit trail), in order",
)
async def get_timeline(principal: Reader, context: Context, request: Request, request_id: RecordId) -> TimelineOut:
    return await service.timeline(context, principal, request_id, _authorization(request))


@router.get(
    "/requests/{request_id}/incident-report",
    response_model=IncidentReportOut,
    responses=AUDIT_READ,
    summary="Post-incident report draft (Markdown) from the timeline, and the draft attached at resolution",
)
async def get_incident_report(
    principal: Reader, context: Context, request: Request, request_id: RecordId
) -> IncidentReportOut:
    return await service.incident_report(context, principal, request_id, _authorization(request))
