"""Audit's read API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from k8sops_common.auth import Principal, Role, require_any_role
from k8sops_common.service import UnitOfWork
from pydantic import BaseModel

from . import repository

router = APIRouter(prefix="/v1", tags=["audit"])

Reader = Annotated[Principal, Depends(require_any_role(Role.VIEWER, Role.OPERATOR, Role.AUDITOR))]


class AuditEntryOut(BaseModel):
    seq: int
    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    source_service: str
    actor_sub: str
    actor_roles: list[str]
    action: str
    target_kind: str
    target_name: str
    target_namespace: str | None
    target_cluster: str | None
    engagement_id: str | None
    outcome: str
    authorization_ref: str | None
    trace_id: str | None
    details: dict[str, Any]


class AuditEntryPage(BaseModel):
    items: list[AuditEntryOut]


@router.get("/audit/entries", response_model=AuditEntryPage)
async def list_entries(
    principal: Reader,
    session: UnitOfWork,
    trace_id: Annotated[str, Query(pattern=r"^[0-9a-f]{32}$")],
) -> AuditEntryPage:
    rows = await repository.entries_for_trace(session, trace_id)
    visible = [row for row in rows if principal.can_see_engagement(row["engagement_id"])]
    return AuditEntryPage(items=[AuditEntryOut.model_validate(row) for row in visible])
