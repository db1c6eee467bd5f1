"""API shapes of outbound webhook endpoints and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field, StrictBool, field_validator

from ..schemas import Input

WebhookEventType = Literal[
    "request.opened",
    "request.updated",
    "sla.breached",
    "upgrade.step",
    "upgrade.report",
    "cost.report",
    "incident.report",
]
WEBHOOK_EVENT_TYPES: tuple[str, ...] = get_args(WebhookEventType)


class WebhookCreate(Input):
    url: str = Field(min_length=1, max_length=2000)
    event_types: list[WebhookEventType] = Field(min_length=1, max_length=len(WEBHOOK_EVENT_TYPES))

    @field_validator("event_types")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each event type once")
        return value


class WebhookUpdate(Input):
    enabled: StrictBool


class WebhookOut(BaseModel):
    id: str
    engagement_id: str
    url: str
    event_types: list[WebhookEventType]
    enabled: bool
    consecutive_failures: int
    disabled_reason: str | None
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Standard Webhooks secret (whsec_…) to verify our signatures; shown only here")


class DeliveryAttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: int
    message_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[DeliveryAttemptOut]
