"""audit entries, outbox and inbox

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from k8sops_common.bus.tables import create_bus_tables
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_bus_tables(op)
    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_service", sa.Text, nullable=False),
        sa.Column("actor_sub", sa.Text, nullable=False),
        sa.Column("actor_roles", JSONB, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target_kind", sa.Text, nullable=False),
        sa.Column("target_name", sa.Text, nullable=False),
        sa.Column("target_namespace", sa.Text),
        sa.Column("target_cluster", sa.Text),
        sa.Column("engagement_id", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("authorization_ref", sa.Text),
        sa.Column("trace_id", sa.Text),
        sa.Column("details", JSONB, nullable=False),
    )
    op.create_index("audit_entries_engagement_seq", "audit_entries", ["engagement_id", "seq"])
    op.create_index("audit_entries_trace", "audit_entries", ["trace_id"])
