"""Audit's tables (schema `audit`): the hash-chained entries and signed checkpoints, append-only."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from k8sops_common.bus.tables import inbox_table, outbox_table

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
    Column("content_hash", Text, nullable=False),
    Column("link_hash", Text, nullable=False),
    Index("audit_entries_engagement_seq", "engagement_id", "seq"),
    Index("audit_entries_trace", "trace_id"),
    Index("audit_entries_occurred", "occurred_at"),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("head_sequence", BigInteger, primary_key=True),
    Column("head_link_hash", Text, nullable=False),
    Column("entry_count", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("key_id", Text, nullable=False),
    Column("signature", Text, nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("public_key_pem", Text, nullable=False),
    Column("first_used_at", DateTime(timezone=True), nullable=False),
)
