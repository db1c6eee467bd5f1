"""The operation report table (migration 0006), on intake's metadata."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from ..models import metadata

STAMP = DateTime(timezone=True)

operation_reports = Table(
    "operation_reports",
    metadata,
    Column("request_id", Text, ForeignKey("requests.id"), primary_key=True),
    Column("operation_id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("from_version", Text),
    Column("to_version", Text),
    Column("markdown", Text, nullable=False),
    Column("report", JSONB, nullable=False),
    Column("truncated", Boolean, nullable=False),
    Column("report_path", Text, nullable=False),
    Column("reported_at", STAMP, nullable=False),
    Column("attached_at", STAMP, nullable=False),
)
