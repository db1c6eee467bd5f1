"""API shapes of incident response: pager setup and bridge, paging policies, timeline, report."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from k8sops_common.events.catalog import Priority, RequestCategory, Tier

from ..schemas import Input
from .domain import PagerKind, PagingMode, bridge_template_problem


class PagerIn(Input):
    kind: PagerKind = Field(description="events-api-v2 (PagerDuty-compatible) or standard-webhooks (signed)")
    url: str = Field(
        min_length=1, max_length=2000, description="e.g. https://events.pagerduty.com/v2/enqueue for PagerDuty"
    )
    routing_key: str | None = Field(
        default=None, min_length=1, max_length=200, description="Events API v2 integration key; write-only"
    )

    @model_validator(mode="after")
    def _routing_key_matches_kind(self) -> PagerIn:
        if self.kind == "events-api-v2" and self.routing_key is None:
            raise ValueError("an events-api-v2 pager needs its routing_key")
        if self.kind == "standard-webhooks" and self.routing_key is not None:
            raise ValueError("a standard-webhooks pager has no routing_key; it verifies our signature instead")
        return self


class IncidentResponseIn(Input):
    bridge_template: str | None = Field(
        default=None, max_length=500, description="bridge URL with {request_id} / {engagement_id} placeholders"
    )
    on_call: PagerIn | None = Field(default=None, description="paged when a request's paging policy says so")
    senior_on_call: PagerIn | None = Field(default=None, description="paged at the SLA warning and at a breach")

    @field_validator("bridge_template")
    @classmethod
    def _usable_template(cls, value: str | None) -> str | None:
        problem = bridge_template_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value


class PagerOut(BaseModel):
    kind: PagerKind
    url: str
    webhook_id: str = Field(description="its deliveries: GET /v1/engagements/{id}/webhooks/{webhook_id}/deliveries")
    enabled: bool
    secret: str | None = Field(
        default=None, description="standard-webhooks only, shown once when the pager is set up or changed"
    )


class IncidentResponseOut(BaseModel):
    engagement_id: str
    bridge_template: str | None
    on_call: PagerOut | None
    senior_on_call: PagerOut | None
    updated_by: str | None
    updated_at: datetime | None


class PagingPolicyIn(Input):
    mode: PagingMode = Field(description="immediately, business_hours (the engagement's coverage) or never")
    escalate: bool = Field(description="page the senior on-call at the SLA warning and at a breach if unacknowledged")


class PagingPolicyOut(BaseModel):
    tier: Tier
    priority: Priority
    category: RequestCategory | Literal["*"]
    mode: PagingMode
    escalate: bool
    updated_by: str
    updated_at: datetime


class TimelineEntryOut(BaseModel):
    at: datetime
    kind: str
    actor: str
    summary: str
    source: Literal["intake", "audit"]
    details: dict[str, Any]


class TimelineOut(BaseModel):
    request_id: str
    entries: list[TimelineEntryOut]
    audit_unavailable: str | None = Field(
        description="why cluster actions from the audit trail are missing, or null when they are all here"
    )


class IncidentReportOut(BaseModel):
    request_id: str
    markdown: str = Field(description="the draft rendered now from the full timeline, cluster actions included")
    attached_markdown: str | None = Field(
        description="the draft attached at resolution and filed to the partner ticket (intake's own record only)"
    )
    attached_at: datetime | None
