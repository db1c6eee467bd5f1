"""Audit's tables (schema `audit`)."""

from __future__ import annotations

from k8sops_common.bus.tables import inbox_table, outbox_table
from sqlalchemy import BigInteger, Column, DateTime, Index, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("event_id", Text, nullable=False, unique=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("source_service", Text, nullable=False),
    Column("actor_sub", Text, nullable=False),
    Column("actor_roles", JSONB, nullable=False),
    Column("action", Text, nullable=False),
    Column("target_kind", Text, nullable=False),
    Column("target_name", Text, nullable=False),
    Column("target_namespace", Text),
    Column("target_cluster", Text),
    Column("engagement_id", Text),
    Column("outcome", Text, nullable=False),
    Column("authorization_ref", Text),
    Column("trace_id", Text),
    Column("details", JSONB, nullable=False),
    Index("audit_entries_engagement_seq", "engagement_id", "seq"),
    Index("audit_entries_trace", "trace_id"),
)
