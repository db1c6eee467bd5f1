"""API shapes of requests, their comments, and the scope creep report."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from k8sops_common.events.catalog import Priority, RequestCategory, RequestStatus

from ..domain.lifecycle import Action
from ..domain.scope import OutOfScopeKind
from ..schemas import Identifier, Input


class RequestCreate(Input):
    engagement_id: Identifier
    cluster_id: Identifier | None = None
    category: RequestCategory | OutOfScopeKind = Field(
        description="an in-scope category, or an out-of-scope one, which is declined with a pointer at once"
    )
    priority: Priority
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)


class RequestOut(BaseModel):
    id: str
    engagement_id: str
    cluster_id: str | None
    category: RequestCategory | OutOfScopeKind
    priority: Priority
    status: RequestStatus
    title: str
    description: str
    opened_by: str
    opened_at: datetime
    updated_at: datetime | None = None
    origin: Literal["api", "partner"] = "api"
    partner_id: str | None = None
    partner_ticket_id: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    decline_reason: str | None = None
    decline_pointer: str | None = None
    sla_breached_at: datetime | None = None
    upgrade_step: str | None = None
    upgrade_status: str | None = None


class RequestPage(BaseModel):
    items: list[RequestOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class TransitionIn(Input):
    action: Action
    reason: str | None = Field(default=None, max_length=2000)


class PriorityChange(Input):
    priority: Priority
    reason: str | None = Field(default=None, max_length=2000)


class CommentIn(Input):
    body: str = Field(min_length=1, max_length=20_000)


class CommentOut(BaseModel):
    id: str
    request_id: str
    author: str
    side: Literal["provider", "customer"]
    body: str
    created_at: datetime


class ScopeCreepRecord(BaseModel):
    request_id: str
    kind: str
    reason: str
    pointer: str
    declined_by: str
    recorded_at: datetime


class ScopeCreepReport(BaseModel):
    engagement_id: str
    total: int
    by_kind: dict[str, int]
    records: list[ScopeCreepRecord]
