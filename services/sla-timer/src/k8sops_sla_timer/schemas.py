"""sla-timer's API shapes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from k8sops_common.events.catalog import Priority, Tier
from k8sops_common.inputs import Integer

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
Clock = Literal["wall", "business"]


class GoalOut(BaseModel):
    budget_minutes: int = Field(description="the first-response budget")
    clock: Clock = Field(description="wall: elapsed real time; business: the engagement's working hours only")


class ResolutionOut(BaseModel):
    """Time to resolution, reported and not credited; paused while waiting on the customer."""

    started_at: datetime
    elapsed_seconds: float
    paused: bool
    within_calendar: bool
    resolved_at: datetime | None


class SlaStateOut(BaseModel):
    request_id: str
    engagement_id: str
    cluster_id: str | None
    tier: Tier
    priority: Priority
    goal: GoalOut
    started_at: datetime
    deadline: datetime
    warn_at: datetime
    elapsed_seconds: float = Field(description="budget used, on the goal's clock, up to the response or now")
    remaining_seconds: float = Field(description="negative once the deadline has passed")
    breached: bool
    paused: bool = Field(description="the contractual response clock never pauses; it stops at the first response")
    within_calendar: bool = Field(description="whether the goal's clock is running right now")
    stopped_at: datetime | None = Field(description="the first response, which stopped the clock")
    warned_at: datetime | None
    breach_recorded_at: datetime | None = Field(description="the breach as recorded (its deadline)")
    resolution: ResolutionOut
    as_of: datetime


class BreachOut(BaseModel):
    breach_id: str
    request_id: str
    engagement_id: str
    cluster_id: str | None
    tier: Tier
    priority: Priority
    deadline: datetime
    breached_at: datetime
    fired_at: datetime
    period: str


class CreditOut(BaseModel):
    credit_id: str
    breach_id: str
    engagement_id: str
    cluster_id: str | None
    request_id: str
    amount_bdt: Decimal
    period: str
    reason: str
    issued_at: datetime


class BreachPage(BaseModel):
    engagement_id: str
    period: str | None
    items: list[BreachOut]


class CreditPage(BaseModel):
    engagement_id: str
    period: str | None
    total_bdt: Decimal
    items: list[CreditOut]


class ResponseTargetOut(BaseModel):
    tier: Tier
    priority: Priority
    budget_minutes: int
    clock: Clock
    contractual: bool
    updated_at: datetime
    updated_by: str


class CreditRuleOut(BaseModel):
    tier: Tier
    percent_of_retainer: Decimal
    monthly_cap_percent_of_retainer: Decimal
    updated_at: datetime
    updated_by: str


class PoliciesOut(BaseModel):
    response_targets: list[ResponseTargetOut]
    credit_rules: list[CreditRuleOut]


class ResponseTargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Strict: JSON `true` must not become a 1-minute target.
    budget_minutes: Integer = Field(gt=0, le=60 * 24 * 30, description="at most 30 days")
    clock: Clock


class CreditRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percent_of_retainer: Decimal = Field(ge=0, le=100, decimal_places=2)
    monthly_cap_percent_of_retainer: Decimal = Field(ge=0, le=100, decimal_places=2)
