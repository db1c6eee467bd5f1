"""Intake's API shapes. Inputs forbid unknown fields, so a typo is a 422 instead of silently ignored."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal, get_args
from zoneinfo import available_timezones

import holidays
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from k8sops_common.events.catalog import Priority, RequestCategory, RequestStatus, Tier
from k8sops_common.inputs import Integer, storable_text

from .domain.disputes import EntryKind
from .domain.lifecycle import Action
from .domain.scope import OutOfScopeKind

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
Person = Annotated[str, Field(min_length=1, max_length=200)]
WebhookEventType = Literal[
    "request.opened", "request.updated", "sla.breached", "upgrade.step", "cost.report", "incident.report"
]
WEBHOOK_EVENT_TYPES: tuple[str, ...] = get_args(WebhookEventType)
Environment = Literal["prod", "non-prod"]
SizeBand = Literal["S", "M", "L", "XL"]
WorkloadBand = Literal["<50", "50-200", "200-1000", ">1000"]
# Tiers that name a cluster admin (SPEC section 3); the others have none to name.
TIERS_WITH_CLUSTER_ADMIN = frozenset({"k8s-247-cluster-admin"})


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        # PostgreSQL text holds neither NUL nor unpaired surrogates; refuse them here, not with a 500.
        return value if not isinstance(value, str) else storable_text(value)


@cache
def _supported_regions() -> frozenset[str]:
    # "BD", and "GB-ENG", "AU-NSW", … for the subdivisions the `holidays` library knows.
    supported = holidays.list_supported_countries()
    return frozenset(supported) | {
        f"{country}-{subdivision}" for country, subs in supported.items() for subdivision in subs
    }


@cache
def _iana_timezones() -> frozenset[str]:
    # The system's tz folder also holds files that are not zones of the IANA database.
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


def _known_timezone(name: str) -> str:
    if name not in _iana_timezones():
        raise ValueError(f"{name!r} is not an IANA timezone (e.g. Asia/Dhaka)")
    return name


def _known_country(code: str | None) -> str | None:
    if code is not None and code not in _supported_regions():
        raise ValueError(
            f"{code!r} is not a country code (e.g. BD) or country-subdivision (e.g. GB-ENG) with a holiday calendar"
        )
    return code


def _working_days(days: list[int]) -> list[int]:
    if len(set(days)) != len(days):
        raise ValueError("each weekday once")
    return sorted(days)


Timezone = Annotated[str, Field(max_length=64), AfterValidator(_known_timezone)]
HolidayCountry = Annotated[
    str | None,
    Field(max_length=32, description="ISO 3166-1 code, or with a subdivision as the holidays library names it: GB-ENG"),
    AfterValidator(_known_country),
]
WorkingDays = Annotated[
    list[Annotated[Integer, Field(ge=0, le=6)]], Field(min_length=1, max_length=7), AfterValidator(_working_days)
]


class MaintenanceWindow(Input):
    weekday: Integer = Field(ge=0, le=6, description="0 = Monday")
    start_local: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM in the engagement's timezone")
    duration_minutes: Integer = Field(gt=0, le=24 * 60)


class EngagementFields(Input):
    timezone: Timezone = "UTC"
    working_days: WorkingDays = Field(default_factory=lambda: [0, 1, 2, 3, 4], description="0 = Monday")
    holiday_country: HolidayCountry = None
    extra_holidays: list[date] = Field(default_factory=list, max_length=366)
    maintenance_window: MaintenanceWindow | None = None
    on_call: Person | None = None
    cluster_admin: Person | None = None


class EngagementCreate(EngagementFields):
    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    tier: Tier

    @model_validator(mode="after")
    def _cluster_admin_needs_tier(self) -> EngagementCreate:
        if self.cluster_admin is not None and self.tier not in TIERS_WITH_CLUSTER_ADMIN:
            raise ValueError(f"tier {self.tier} has no named cluster admin; leave cluster_admin empty")
        return self


class EngagementUpdate(Input):
    """Only the fields sent change; null clears an optional field. `tier` is the provider's to change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    tier: Tier | None = None
    timezone: Timezone | None = None
    working_days: WorkingDays | None = None
    holiday_country: HolidayCountry = None
    extra_holidays: list[date] | None = Field(default=None, max_length=366)
    maintenance_window: MaintenanceWindow | None = None
    on_call: Person | None = None
    cluster_admin: Person | None = None

    @field_validator("name", "tier", "timezone", "working_days", "extra_holidays")
    @classmethod
    def _required_fields_stay_set(cls, value: object) -> object:
        if value is None:
            raise ValueError("this field cannot be cleared; send a value or leave it out")
        return value


class ClusterFields(Input):
    name: str = Field(min_length=1, max_length=200)
    environment: Environment
    paired_cluster_id: Identifier | None = Field(default=None, description="a prod cluster's non-prod staging pair")
    api_endpoint: str = Field(pattern=r"^https?://[^\s/@]+(:\d+)?(/\S*)?$", max_length=500)
    size_band: SizeBand
    workload_band: WorkloadBand
    monthly_retainer_bdt: Decimal = Field(ge=0, le=Decimal("999999999999.99"), decimal_places=2)


class ClusterCreate(ClusterFields):
    id: Identifier
    credentials_ref: str = Field(
        min_length=1, max_length=500, description="where the provider's secret store keeps the credentials; write-only"
    )


class ClusterUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    environment: Environment | None = None
    paired_cluster_id: Identifier | None = None
    api_endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s/@]+(:\d+)?(/\S*)?$", max_length=500)
    credentials_ref: str | None = Field(default=None, min_length=1, max_length=500, description="write-only")
    size_band: SizeBand | None = None
    workload_band: WorkloadBand | None = None
    monthly_retainer_bdt: Decimal | None = Field(default=None, ge=0, le=Decimal("999999999999.99"), decimal_places=2)

    @field_validator(
        "name", "environment", "api_endpoint", "credentials_ref", "size_band", "workload_band", "monthly_retainer_bdt"
    )
    @classmethod
    def _required_fields_stay_set(cls, value: object) -> object:
        if value is None:
            raise ValueError("this field cannot be cleared; send a value or leave it out")
        return value


class ClusterOut(BaseModel):
    """A cluster as clients see it: the credentials reference is write-only and never shown."""

    id: str
    engagement_id: str
    name: str
    environment: Environment
    paired_cluster_id: str | None
    api_endpoint: str
    size_band: SizeBand
    workload_band: str
    monthly_retainer_bdt: Decimal
    created_at: datetime
    updated_at: datetime


class EngagementOut(BaseModel):
    id: str
    name: str
    tier: Tier
    timezone: str
    working_days: list[int]
    holiday_country: str | None
    extra_holidays: list[date]
    official_holidays: list[date] = Field(description="dates of the uploaded official holiday calendar (.ics)")
    maintenance_window: MaintenanceWindow | None
    on_call: str | None
    cluster_admin: str | None
    clusters: list[ClusterOut]
    created_by: str
    created_at: datetime
    updated_at: datetime


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


class DisputeCreate(Input):
    engagement_id: Identifier
    subject_kind: Literal["request", "recommendation"]
    subject_id: Identifier
    summary: str = Field(min_length=1, max_length=2000)


class DisputeEntryIn(Input):
    kind: EntryKind
    text: str = Field(min_length=1, max_length=20_000)


class DisputeEntryOut(BaseModel):
    kind: EntryKind
    text: str
    author: str
    recorded_at: datetime


class DisputeOut(BaseModel):
    id: str
    engagement_id: str
    subject_kind: Literal["request", "recommendation"]
    subject_id: str
    summary: str
    status: Literal["open", "decided"]
    opened_by: str
    opened_at: datetime
    decided_at: datetime | None
    history: list[DisputeEntryOut]
    earlier_disputes: list[str] = Field(description="ids of earlier disputes on the same subject, oldest first")


class PartnerCreate(Input):
    id: Identifier
    name: str = Field(min_length=1, max_length=200)


class PartnerOut(BaseModel):
    id: str
    engagement_id: str
    name: str
    webhook_path: str
    created_at: datetime


class PartnerCreated(PartnerOut):
    secret: str = Field(description="Standard Webhooks secret (whsec_…); shown only in this response")


class PartnerTicket(Input):
    id: str = Field(min_length=1, max_length=200, pattern=r"^\S+$")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    category: RequestCategory | OutOfScopeKind
    priority: Priority
    cluster_id: Identifier | None = None
    status: Literal["open", "cancelled"] = "open"


class PartnerTicketEvent(Input):
    event: Literal["ticket.created", "ticket.updated"]
    ticket: PartnerTicket


class PartnerTicketReceipt(BaseModel):
    request_id: str
    created: bool
    status: RequestStatus


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
