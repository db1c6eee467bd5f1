"""cost-analyzer's API bodies and answers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

AnalysisKind = Literal["cost-analysis", "onboarding-assessment", "health-review"]
DecisionStatus = Literal["accepted", "implemented", "rejected", "not_adopted", "accepted_as_is"]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AnalysisRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: AnalysisKind = "cost-analysis"


class JobOut(_Out):
    job_id: str
    engagement_id: str
    cluster_id: str
    kind: str
    quarter: str | None
    request_id: str | None
    requested_by: str
    due_at: datetime
    status: str
    attempts: int
    last_error: str | None
    analysis_id: str | None


class AnalysisOut(_Out):
    analysis_id: str
    engagement_id: str
    cluster_id: str
    kind: str
    quarter: str | None
    request_id: str | None
    requested_by: str
    usage_source: str
    monthly_savings_bdt: Decimal = Field(description="recommended savings, BDT per month")
    findings_count: int
    scores: dict[str, int]
    generated_at: datetime


class FindingOut(_Out):
    finding_id: str
    kind: str
    target: str
    title: str
    detail: str
    monthly_savings_bdt: Decimal
    effort: str
    severity: str
    recommended: bool
    change: dict[str, Any]
    recommendation_id: str | None


class HistoryOut(_Out):
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None


class RecommendationOut(_Out):
    recommendation_id: str
    engagement_id: str
    cluster_id: str
    kind: str
    target: str
    title: str
    detail: str
    monthly_savings_bdt: Decimal
    effort: str
    status: str
    provider_position: str | None
    provider_position_by: str | None
    customer_position: str | None
    customer_position_by: str | None
    decided_at: datetime | None
    decided_by: str | None
    decided_quarter: str | None
    last_analysis_id: str
    created_at: datetime
    updated_at: datetime
    history: list[HistoryOut] = []


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    position: str = Field(min_length=3, max_length=4000, description="the side's view, in its own words")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: DecisionStatus
    note: str | None = Field(default=None, max_length=4000, description="why; for a rejection, the customer's position")


class PriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cpu_cores: Decimal = Field(gt=0, le=1000)
    memory_gib: Decimal = Field(gt=0, le=100_000)
    on_demand_bdt_hour: Decimal = Field(gt=0, le=1_000_000, decimal_places=4)
    spot_bdt_hour: Decimal = Field(ge=0, le=1_000_000, decimal_places=4)

    @model_validator(mode="after")
    def _spot_not_dearer(self) -> PriceIn:
        if self.spot_bdt_hour > self.on_demand_bdt_hour:
            raise ValueError("spot_bdt_hour must not exceed on_demand_bdt_hour")
        return self


class PriceOut(_Out):
    instance_type: str
    cpu_cores: Decimal
    memory_gib: Decimal
    on_demand_bdt_hour: Decimal
    spot_bdt_hour: Decimal
    updated_at: datetime
    updated_by: str
