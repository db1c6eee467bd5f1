"""Intake's tables (schema `intake`)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from k8sops_common.bus.tables import inbox_table, outbox_table

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

engagements = Table(
    "engagements",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("tier", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("working_days", JSONB, nullable=False),
    Column("holiday_country", Text),
    Column("extra_holidays", JSONB, nullable=False),
    # Dates of the uploaded official holiday calendar (.ics), as ISO strings.
    Column("official_holidays", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("maintenance_window", JSONB),
    Column("on_call", Text),
    Column("cluster_admin", Text),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

clusters = Table(
    "clusters",
    metadata,
    Column("id", Text, primary_key=True),
    Column("engagement_id", Text, ForeignKey("engagements.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("environment", Text, nullable=False),
    Column("paired_cluster_id", Text),
    Column("api_endpoint", Text, nullable=False),
    # A reference into the provider's secret store; never returned, never in events or logs.
    Column("credentials_ref", Text, nullable=False),
    Column("size_band", Text, nullable=False),
    Column("workload_band", Text, nullable=False),
    Column("monthly_retainer_bdt", Numeric(14, 2), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("clusters_engagement", "engagement_id"),
)

requests = Table(
    "requests",
    metadata,
    Column("id", Text, primary_key=True),
    Column("engagement_id", Text, nullable=False),
    Column("cluster_id", Text),
    Column("category", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("opened_by", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("origin", Text, nullable=False, server_default="api"),
    Column("partner_id", Text),
    Column("partner_ticket_id", Text),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("acknowledged_by", Text),
    Column("decline_reason", Text),
    Column("decline_pointer", Text),
    Column("sla_breached_at", DateTime(timezone=True)),
    Column("upgrade_step", Text),
    Column("upgrade_status", Text),
    Index("requests_engagement_opened", "engagement_id", "opened_at"),
    Index("requests_opened_id", "opened_at", "id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("principal_sub", Text, primary_key=True),
    Column("operation", Text, primary_key=True, server_default="request.open"),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

request_comments = Table(
    "request_comments",
    metadata,
    Column("id", Text, primary_key=True),
    Column("request_id", Text, ForeignKey("requests.id"), nullable=False),
    Column("author", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("request_comments_request", "request_id", "created_at"),
)

scope_creep_records = Table(
    "scope_creep_records",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("engagement_id", Text, nullable=False),
    Column("request_id", Text, ForeignKey("requests.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("pointer", Text, nullable=False),
    Column("declined_by", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("scope_creep_engagement", "engagement_id", "recorded_at"),
)

disputes = Table(
    "disputes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("engagement_id", Text, nullable=False),
    Column("subject_kind", Text, nullable=False),
    Column("subject_id", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("opened_by", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    Index("disputes_subject", "engagement_id", "subject_kind", "subject_id"),
)

dispute_entries = Table(
    "dispute_entries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("dispute_id", Text, ForeignKey("disputes.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("dispute_entries_dispute", "dispute_id", "id"),
)

partners = Table(
    "partners",
    metadata,
    Column("id", Text, primary_key=True),
    Column("engagement_id", Text, ForeignKey("engagements.id"), nullable=False),
    Column("name", Text, nullable=False),
    # The HMAC key must be readable to verify signatures; it is shown once, at registration.
    Column("secret", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

partner_tickets = Table(
    "partner_tickets",
    metadata,
    Column("partner_id", Text, primary_key=True),
    Column("ticket_id", Text, primary_key=True),
    Column("request_id", Text, ForeignKey("requests.id", deferrable=True, initially="DEFERRED"), nullable=False),
)

partner_messages = Table(
    "partner_messages",
    metadata,
    Column("partner_id", Text, primary_key=True),
    Column("message_id", Text, primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Text, primary_key=True),
    Column("engagement_id", Text, ForeignKey("engagements.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("event_types", JSONB, nullable=False),
    Column("secret", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("disabled_reason", Text),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("webhook_endpoints_engagement", "engagement_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("endpoint_id", Text, ForeignKey("webhook_endpoints.id"), nullable=False),
    # The webhook-id: the same on every attempt, so receivers deduplicate retries.
    Column("message_id", Text, nullable=False, unique=True),
    Column("event_type", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    # Deliveries with one key go out in id order (a page's acknowledge never overtakes its trigger).
    Column("ordering_key", Text),
    Index("webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index("webhook_deliveries_endpoint", "endpoint_id", "id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Index("webhook_attempts_delivery", "delivery_id", "id"),
)
