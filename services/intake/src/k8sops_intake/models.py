"""Intake's tables (schema `intake`)."""

from __future__ import annotations

from k8sops_common.bus.tables import inbox_table, outbox_table
from sqlalchemy import Column, DateTime, Index, MetaData, Table, Text, func

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

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
    Index("requests_engagement_opened", "engagement_id", "opened_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("principal_sub", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
