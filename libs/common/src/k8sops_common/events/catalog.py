"""Every event type on the bus: topic, versioned data model, and the aggregate id used as key.

A breaking change to a payload is a new model with the next version; consumers accept every
version they list here, so producers and consumers can be upgraded one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, model_validator

from ..inputs import storable_text

Priority = Literal["P1", "P2", "P3", "P4"]
Tier = Literal["k8s-business", "k8s-247", "k8s-247-cluster-admin"]
RequestCategory = Literal[
    "cluster-upgrade", "workload-issue", "cost-optimization", "security-hardening", "incident", "migration"
]
RequestStatus = Literal[
    "opened",
    "acknowledged",
    "in_progress",
    "waiting_on_customer",
    "resolved",
    "closed",
    "declined",
    "cancelled",
]


# The validation context of data read from JSON bytes holding no `\u0000` escape: pydantic-core
# refuses raw control characters, invalid UTF-8 and lone surrogate escapes, so no text in it can be
# unstorable and `_storable` need not walk it (~6 µs of a consumed audit event's CPU).
STORABLE_JSON: dict[str, bool] = {"storable_json": True}


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _storable(self, info: ValidationInfo) -> Self:
        if info.context is STORABLE_JSON:
            return self
        # An event whose text PostgreSQL cannot hold is refused on receipt (and dead-lettered with
        # the reason) instead of failing the consumer's transaction. After validation, on the
        # fields: a before-validator made pydantic-core build the whole input in Python first
        # (~2 µs of a consumed event's ~25). Nested events check their own fields.
        for value in self.__dict__.values():
            storable_text(value)
        return self


class MaintenanceWindowV1(EventData):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start_local: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    duration_minutes: int = Field(gt=0, le=24 * 60)


class ClusterV1(EventData):
    cluster_id: str
    name: str
    environment: Literal["prod", "non-prod"]
    paired_cluster_id: str | None = None
    api_endpoint: str
    credentials_ref: str | None = Field(
        default=None, description="where the secret store keeps the cluster's credentials (a reference, never a secret)"
    )
    size_band: Literal["S", "M", "L", "XL"]
    workload_band: str
    monthly_retainer_bdt: Decimal


class EngagementChangedV1(EventData):
    """The whole engagement as it is now, for other services' own copies (credentials references, no secrets)."""

    engagement_id: str
    change: Literal["created", "updated", "deleted"]
    name: str
    tier: Tier
    timezone: str
    working_days: list[int] = Field(description="0 = Monday … 6 = Sunday")
    holiday_country: str | None = Field(
        default=None, description="ISO 3166-1 code, or country-subdivision as the holidays library names it (GB-ENG)"
    )
    extra_holidays: list[date] = Field(default_factory=list)
    official_holidays: list[date] = Field(
        default_factory=list, description="dates of the official holiday calendar (.ics) the engagement uploaded"
    )
    maintenance_window: MaintenanceWindowV1 | None = None
    on_call: str | None = None
    cluster_admin: str | None = None
    clusters: list[ClusterV1] = Field(default_factory=list)
    changed_at: datetime


class RequestOpenedV1(EventData):
    request_id: str
    engagement_id: str
    cluster_id: str | None = None
    category: RequestCategory
    priority: Priority
    title: str
    opened_at: datetime
    opened_by: str
    origin: Literal["api", "partner"] = "api"


class RequestUpdatedV1(EventData):
    request_id: str
    engagement_id: str
    cluster_id: str | None = None
    change: Literal["acknowledged", "status_changed", "priority_changed", "commented"]
    status: RequestStatus
    previous_status: RequestStatus | None = None
    priority: Priority
    previous_priority: Priority | None = None
    changed_at: datetime
    changed_by: str


class ActorV1(EventData):
    sub: str
    roles: list[str] = Field(default_factory=list)


class AuditTargetV1(EventData):
    kind: str
    name: str
    namespace: str | None = None
    cluster: str | None = None


class AuditEventV1(EventData):
    actor: ActorV1
    action: str = Field(min_length=1, description="verb in dotted form, e.g. request.create")
    target: AuditTargetV1
    engagement_id: str | None = None
    outcome: Literal["success", "denied", "failure"]
    authorization_ref: str | None = None
    trace_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    source_service: str
    occurred_at: datetime
    details: dict[str, str | int | bool | None] = Field(default_factory=dict)


class AuditCheckpointV1(EventData):
    """A signed head of the audit chain, for witnesses: keep them, and `python -m k8sops_audit verify
    --checkpoints FILE` fails when the database no longer holds what they vouch for."""

    head_sequence: int = Field(ge=1)
    head_link_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    entry_count: int = Field(ge=1)
    created_at: datetime
    key_id: str = Field(description="RFC 7638 thumbprint of the Ed25519 public key")
    signature: str = Field(description="base64 Ed25519 signature over signed_bytes")
    signed_bytes: str = Field(description="the canonical JSON that was signed")
    public_key_pem: str


class SlaWarningV1(EventData):
    timer_id: str
    request_id: str
    engagement_id: str
    cluster_id: str | None = None
    priority: Priority
    deadline: datetime
    warned_at: datetime


class SlaBreachedV1(EventData):
    breach_id: str
    request_id: str
    engagement_id: str
    cluster_id: str | None = None
    tier: Tier
    priority: Priority
    deadline: datetime
    breached_at: datetime


class SlaEscalatedV1(EventData):
    """Three breaches for one engagement within 30 days (in its timezone) that no earlier escalation
    covered: the senior on-call takes over. Every such pattern is escalated once."""

    escalation_id: str
    engagement_id: str
    breach_ids: list[str] = Field(description="the breaches this escalation covers; no other escalation names them")
    senior_on_call: str | None = None
    escalated_at: datetime


class CreditIssuedV1(EventData):
    """For billing: exactly one per SLA breach (one `credit_id` per `breach_id`).

    The wire is at least once: the same event (same CloudEvents `id`, same `credit_id`) may be
    delivered again, so billing keeps the first of each `credit_id`. The amount is the tier's share
    of the cluster's monthly retainer (policy defaults: k8s-business 5 %, k8s-247 10 %,
    k8s-247-cluster-admin 15 %), cut so that one cluster's credits in one period never exceed the
    monthly cap (30 % of its retainer); a breach past the cap, or of a request that names no known
    cluster, still has its credit, of 0.00, with the reason saying why.
    """

    credit_id: str = Field(description="unique per credit; billing's idempotency key")
    engagement_id: str
    cluster_id: str | None = Field(default=None, description="the cluster whose retainer is credited")
    request_id: str
    breach_id: str = Field(description="the sla.breached event's breach_id; exactly one credit per breach")
    amount_bdt: Decimal = Field(
        ge=0, decimal_places=2, description='BDT as a decimal string with two places ("15000.00"), never negative'
    )
    period: str = Field(
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="billing period YYYY-MM: the month of the missed deadline in the engagement's timezone",
    )
    reason: str = Field(description="human-readable: which target was missed, the rule applied, any cap")


class UpgradeStepV1(EventData):
    """A step of an operation on a cluster changed state; intake moves the request along with it."""

    plan_id: str = Field(description="the operation id (kept under its first name for existing consumers)")
    engagement_id: str
    cluster_id: str
    request_id: str | None = None
    step: Literal["pre-check", "stage", "production", "post-check", "report", "rollback"]
    status: Literal["pending", "running", "succeeded", "failed", "rolled_back", "waiting"]
    from_version: str
    to_version: str
    at: datetime
    detail: str = ""
    kind: Literal["upgrade", "addon", "drift-reconcile", "migration"] = Field(
        default="upgrade", description="the operation's kind; every kind shares this event"
    )
    operation_id: str | None = Field(default=None, description="same as plan_id")
    state: str | None = Field(default=None, description="the operation's state after this step, e.g. upgrading_nodes")


class DriftChangeV1(EventData):
    path: str = Field(description="the differing leaf, e.g. spec.template.spec.containers[web].image")
    desired: JsonValue = Field(default=None, description="the desired value (null: absent)")
    live: JsonValue = Field(default=None, description="the live value (null: absent)")


class DriftObjectV1(EventData):
    object: str = Field(description='kind and namespace/name, e.g. "Deployment shop/web"')
    drift: Literal["missing", "extra", "changed"]
    changes: list[DriftChangeV1] = Field(default_factory=list)


class DriftMeasuredV1(EventData):
    """The runner compared a cluster with its desired state; the cost-analyzer keeps the latest
    measurement per cluster for the quarterly health review."""

    engagement_id: str
    cluster_id: str
    measured_at: datetime
    source: Literal["baseline", "git"] = Field(description="the recorded baseline or a Git repository path")
    desired_state: str = Field(description="where the desired state came from (the baseline's reason)")
    trigger: Literal["check", "reconcile-precheck", "reconcile-postcheck"]
    operation_id: str | None = Field(default=None, description="the drift-reconcile operation, if any")
    total: int = Field(ge=0, description="drifted objects found; `objects` lists at most the first 200")
    objects: list[DriftObjectV1] = Field(default_factory=list, max_length=200)


class UpgradeReportV1(EventData):
    """An operation's final report (SPEC 6.5), for the request it came from and the partner ticket.
    Bounded: past 60,000 characters the Markdown is cut with a note and the JSON keeps
    its summary without per-node rows (`truncated`); the whole report stays on `report_path`."""

    operation_id: str
    engagement_id: str
    cluster_id: str
    request_id: str | None = Field(default=None, description="the request the operation came from, if any")
    kind: Literal["upgrade", "addon", "drift-reconcile", "migration"]
    outcome: str = Field(description="the final state: completed, rolled_back, cancelled, precheck_failed")
    from_version: str | None = None
    to_version: str | None = None
    markdown: str = Field(description="the report as Markdown, at most 60,000 characters")
    report: dict[str, Any] = Field(description="the report as JSON (without per-node rows when truncated)")
    truncated: bool = Field(default=False, description="the Markdown or the JSON was cut to fit the event")
    report_path: str = Field(description="where upgrade-runner's API serves the whole report")
    at: datetime


class CostReportV1(EventData):
    analysis_id: str
    engagement_id: str
    cluster_id: str
    kind: Literal["cost-analysis", "onboarding-assessment", "health-review"]
    findings: int = Field(ge=0)
    monthly_savings_bdt: Decimal = Field(ge=0)
    generated_at: datetime
    request_id: str | None = Field(default=None, description="the cost-optimization request it answers, if any")


@dataclass(frozen=True)
class EventType:
    topic: str
    version: int
    data_model: type[EventData]
    key_field: str
    description: str

    @property
    def name(self) -> str:
        return f"k8sops.{self.topic}.v{self.version}"


EVENT_TYPES: tuple[EventType, ...] = (
    EventType("engagement.changed", 1, EngagementChangedV1, "engagement_id", "An engagement or its clusters changed."),
    EventType("request.opened", 1, RequestOpenedV1, "request_id", "A request was opened (API or partner ticket)."),
    EventType(
        "request.updated", 1, RequestUpdatedV1, "request_id", "A request changed status, priority or got a comment."
    ),
    EventType("audit.event", 1, AuditEventV1, "engagement_id", "A state change or operator action to record."),
    EventType(
        "audit.checkpoint", 1, AuditCheckpointV1, "key_id", "The audit service signed its chain head (for witnesses)."
    ),
    EventType("sla.warning", 1, SlaWarningV1, "request_id", "80 % of a response budget has elapsed."),
    EventType("sla.breached", 1, SlaBreachedV1, "request_id", "A response deadline passed unacknowledged."),
    EventType("sla.escalated", 1, SlaEscalatedV1, "engagement_id", "A breach pattern needs the senior on-call."),
    EventType("credit.issued", 1, CreditIssuedV1, "engagement_id", "A service credit for billing."),
    EventType("upgrade.step", 1, UpgradeStepV1, "cluster_id", "An upgrade plan step changed state."),
    EventType(
        "drift.measured", 1, DriftMeasuredV1, "cluster_id", "A cluster's drift from its desired state was measured."
    ),
    EventType(
        "upgrade.report",
        1,
        UpgradeReportV1,
        "cluster_id",
        "An operation ended: its report, for the request and ticket.",
    ),
    EventType("cost.report", 1, CostReportV1, "cluster_id", "A cost analysis, assessment or health review is ready."),
)

EVENT_TYPES_BY_NAME: dict[str, EventType] = {event_type.name: event_type for event_type in EVENT_TYPES}
EVENT_TYPES_BY_MODEL: dict[type[EventData], EventType] = {et.data_model: et for et in EVENT_TYPES}
TOPICS: tuple[str, ...] = tuple(dict.fromkeys(event_type.topic for event_type in EVENT_TYPES))


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def event_type_of(data: EventData) -> EventType:
    return EVENT_TYPES_BY_MODEL[type(data)]
