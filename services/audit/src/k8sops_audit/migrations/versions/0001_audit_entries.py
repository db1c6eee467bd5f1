"""hash-chained audit entries, signed checkpoints, signing keys, outbox and inbox; append-only

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from k8sops_common.bus.tables import create_bus_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("audit_entries", "audit_checkpoints", "signing_keys")


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
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("link_hash", sa.Text, nullable=False),
    )
    op.create_index("audit_entries_engagement_seq", "audit_entries", ["engagement_id", "seq"])
    op.create_index("audit_entries_trace", "audit_entries", ["trace_id"])
    op.create_index("audit_entries_occurred", "audit_entries", ["occurred_at"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("head_sequence", sa.BigInteger, primary_key=True),
        sa.Column("head_link_hash", sa.Text, nullable=False),
        sa.Column("entry_count", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
    )
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("public_key_pem", sa.Text, nullable=False),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Refused for everyone, owner and superuser included; only disabling the trigger (or
    # session_replication_role = replica, superuser only) gets past it, and the hash chain
    # then names the altered entry.
    op.execute(
        """
        CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$
        """
    )
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_audit_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change()"
        )
