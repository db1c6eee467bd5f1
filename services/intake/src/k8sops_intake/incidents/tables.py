"""The incident tables (migration 0004), on intake's metadata."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, ForeignKey, Integer, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from ..models import metadata

STAMP = DateTime(timezone=True)

paging_policies = Table(
    "paging_policies",
    metadata,
    Column("tier", Text, primary_key=True),
    Column("priority", Text, primary_key=True),
    Column("category", Text, primary_key=True),  # a request category, or "*" for any
    Column("mode", Text, nullable=False),
    Column("escalate", Boolean, nullable=False),
    Column("updated_by", Text, nullable=False),
    Column("updated_at", STAMP, nullable=False),
)

incident_setups = Table(
    "incident_setups",
    metadata,
    Column("engagement_id", Text, ForeignKey("engagements.id"), primary_key=True),
    Column("bridge_template", Text),
    Column("updated_by", Text, nullable=False),
    Column("updated_at", STAMP, nullable=False),
)

pager_targets = Table(
    "pager_targets",
    metadata,
    Column("engagement_id", Text, ForeignKey("engagements.id"), primary_key=True),
    Column("role", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    # Pages travel as deliveries of this endpoint: signed, retried, logged, auto-disabled like any webhook.
    Column("webhook_endpoint_id", Text, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("routing_key", Text),  # write-only, like a cluster's credentials reference
)

pages = Table(
    "pages",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("request_id", Text, ForeignKey("requests.id"), nullable=False),
    Column("role", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("event_action", Text, nullable=False),
    Column("dedup_key", Text, nullable=False),
    Column("webhook_endpoint_id", Text, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("delivery_id", BigInteger, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("created_at", STAMP, nullable=False),
)

incident_log = Table(
    "incident_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("request_id", Text, ForeignKey("requests.id"), nullable=False),
    Column("at", STAMP, nullable=False),
    Column("kind", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("details", JSONB, nullable=False),
)

incident_reports = Table(
    "incident_reports",
    metadata,
    Column("request_id", Text, ForeignKey("requests.id"), primary_key=True),
    Column("markdown", Text, nullable=False),
    Column("drafted_at", STAMP, nullable=False),
)

incident_jobs = Table(
    "incident_jobs",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("request_id", Text, ForeignKey("requests.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("due_at", STAMP, nullable=False),  # a claim moves it on by the lease
    Column("attempts", Integer, nullable=False),
    Column("done_at", STAMP),
    Column("created_at", STAMP, nullable=False),
)
