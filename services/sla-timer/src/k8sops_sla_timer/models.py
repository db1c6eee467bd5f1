"""sla-timer's tables (schema `sla_timer`)."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    Interval,
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

# Policies as data: one row per tier and priority, one credit rule per tier.
response_targets = Table(
    "response_targets",
    metadata,
    Column("tier", Text, primary_key=True),
    Column("priority", Text, primary_key=True),
    Column("budget_minutes", Integer, nullable=False),
    Column("clock", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Text, nullable=False),
)

credit_rules = Table(
    "credit_rules",
    metadata,
    Column("tier", Text, primary_key=True),
    Column("percent_of_retainer", Numeric(5, 2), nullable=False),
    Column("monthly_cap_percent_of_retainer", Numeric(5, 2), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Text, nullable=False),
)

# Copies of intake's engagements: what the calendars, credits and escalations need.
engagements = Table(
    "engagements",
    metadata,
    Column("engagement_id", Text, primary_key=True),
    Column("tier", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("working_days", ARRAY(Integer), nullable=False),
    Column("holiday_country", Text),
    Column("extra_holidays", ARRAY(Date), nullable=False),
    Column("on_call", Text),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

clusters = Table(
    "clusters",
    metadata,
    Column("cluster_id", Text, primary_key=True),
    Column("engagement_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("monthly_retainer_bdt", Numeric(14, 2), nullable=False),
)

# One row per request. `tier` and `due_at` stay NULL until the engagement's calendar is known;
# `next_alert_at` is what the scheduler polls (NULL: nothing left to fire).
timers = Table(
    "timers",
    metadata,
    Column("request_id", Text, primary_key=True),
    Column("engagement_id", Text, nullable=False),
    Column("cluster_id", Text),
    Column("priority", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("tier", Text),
    Column("budget", Interval),
    Column("clock", Text),
    Column("warn_at", DateTime(timezone=True)),
    Column("due_at", DateTime(timezone=True)),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("warned_at", DateTime(timezone=True)),
    Column("breached_at", DateTime(timezone=True)),
    Column("next_alert_at", DateTime(timezone=True)),
    # Response time used under earlier priorities, and since when the current target's clock runs.
    Column("response_elapsed_before", Interval, nullable=False, server_default=text("'0'")),
    Column("response_clock_since", DateTime(timezone=True)),
    Column("resolution_clock", Text),
    Column("resolution_banked", Interval),
    Column("resolution_running_since", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    # The opening request's W3C trace context: its warnings, breach and credit join that trace.
    Column("traceparent", Text),
    Index("timers_next_alert", "next_alert_at", postgresql_where=text("next_alert_at IS NOT NULL")),
    Index("timers_engagement", "engagement_id"),
)

# request.updated events that arrived before their timer was armed, replayed once it is.
parked_updates = Table(
    "parked_updates",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("request_id", Text, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Index("parked_updates_request", "request_id"),
)

breaches = Table(
    "breaches",
    metadata,
    Column("breach_id", Text, primary_key=True),
    # One breach per request: the database refuses a second even if a scheduler bug tried.
    Column("request_id", Text, nullable=False, unique=True),
    Column("engagement_id", Text, nullable=False),
    Column("cluster_id", Text),
    Column("tier", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("breached_at", DateTime(timezone=True), nullable=False),
    Column("fired_at", DateTime(timezone=True), nullable=False),
    Column("period", Text, nullable=False),
    Index("breaches_engagement_breached", "engagement_id", "breached_at"),
    Index("breaches_engagement_period", "engagement_id", "period"),
)

credits = Table(
    "credits",
    metadata,
    Column("credit_id", Text, primary_key=True),
    Column("breach_id", Text, nullable=False, unique=True),
    Column("engagement_id", Text, nullable=False),
    Column("cluster_id", Text),
    Column("request_id", Text, nullable=False),
    Column("amount_bdt", Numeric(14, 2), nullable=False),
    Column("period", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Index("credits_cluster_period", "cluster_id", "period"),
    Index("credits_engagement_period", "engagement_id", "period"),
)

escalations = Table(
    "escalations",
    metadata,
    Column("escalation_id", Text, primary_key=True),
    Column("engagement_id", Text, nullable=False),
    Column("breach_ids", ARRAY(Text), nullable=False),
    Column("senior_on_call", Text),
    Column("escalated_at", DateTime(timezone=True), nullable=False),
    Index("escalations_engagement_at", "engagement_id", "escalated_at"),
)
