"""engagements, clusters, request lifecycle columns, comments, scope creep, disputes, partner and
outbound webhooks; idempotency keys scoped per operation

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "engagements",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("working_days", JSONB, nullable=False),
        sa.Column("holiday_country", sa.Text),
        sa.Column("extra_holidays", JSONB, nullable=False),
        sa.Column("maintenance_window", JSONB),
        sa.Column("on_call", sa.Text),
        sa.Column("cluster_admin", sa.Text),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("updated_at", STAMP, nullable=False),
    )
    op.create_table(
        "clusters",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("engagement_id", sa.Text, sa.ForeignKey("engagements.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("environment", sa.Text, nullable=False),
        sa.Column("paired_cluster_id", sa.Text),
        sa.Column("api_endpoint", sa.Text, nullable=False),
        sa.Column("credentials_ref", sa.Text, nullable=False),
        sa.Column("size_band", sa.Text, nullable=False),
        sa.Column("workload_band", sa.Text, nullable=False),
        sa.Column("monthly_retainer_bdt", sa.Numeric(14, 2), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("updated_at", STAMP, nullable=False),
    )
    op.create_index("clusters_engagement", "clusters", ["engagement_id"])

    for column in (
        sa.Column("origin", sa.Text, nullable=False, server_default="api"),
        sa.Column("partner_id", sa.Text),
        sa.Column("partner_ticket_id", sa.Text),
        sa.Column("acknowledged_at", STAMP),
        sa.Column("acknowledged_by", sa.Text),
        sa.Column("decline_reason", sa.Text),
        sa.Column("decline_pointer", sa.Text),
        sa.Column("sla_breached_at", STAMP),
        sa.Column("upgrade_step", sa.Text),
        sa.Column("upgrade_status", sa.Text),
    ):
        op.add_column("requests", column)
    op.create_index("requests_opened_id", "requests", ["opened_at", "id"])

    # A key used for opening a request and, say, registering a webhook names two different things.
    op.add_column("idempotency_keys", sa.Column("operation", sa.Text, nullable=False, server_default="request.open"))
    op.drop_constraint("idempotency_keys_pkey", "idempotency_keys", type_="primary")
    op.create_primary_key("idempotency_keys_pkey", "idempotency_keys", ["principal_sub", "operation", "key"])

    op.create_table(
        "request_comments",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("request_id", sa.Text, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
    )
    op.create_index("request_comments_request", "request_comments", ["request_id", "created_at"])
    op.create_table(
        "scope_creep_records",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("engagement_id", sa.Text, nullable=False),
        sa.Column("request_id", sa.Text, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("pointer", sa.Text, nullable=False),
        sa.Column("declined_by", sa.Text, nullable=False),
        sa.Column("recorded_at", STAMP, nullable=False),
    )
    op.create_index("scope_creep_engagement", "scope_creep_records", ["engagement_id", "recorded_at"])
    op.create_table(
        "disputes",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("engagement_id", sa.Text, nullable=False),
        sa.Column("subject_kind", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("opened_by", sa.Text, nullable=False),
        sa.Column("opened_at", STAMP, nullable=False),
        sa.Column("decided_at", STAMP),
    )
    op.create_index("disputes_subject", "disputes", ["engagement_id", "subject_kind", "subject_id"])
    op.create_table(
        "dispute_entries",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("dispute_id", sa.Text, sa.ForeignKey("disputes.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("recorded_at", STAMP, nullable=False),
    )
    op.create_index("dispute_entries_dispute", "dispute_entries", ["dispute_id", "id"])
    op.create_table(
        "partners",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("engagement_id", sa.Text, sa.ForeignKey("engagements.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
    )
    op.create_table(
        "partner_tickets",
        sa.Column("partner_id", sa.Text, primary_key=True),
        sa.Column("ticket_id", sa.Text, primary_key=True),
        # Deferred: the ticket is claimed first, so two deliveries of one ticket make one request.
        sa.Column(
            "request_id", sa.Text, sa.ForeignKey("requests.id", deferrable=True, initially="DEFERRED"), nullable=False
        ),
    )
    op.create_table(
        "partner_messages",
        sa.Column("partner_id", sa.Text, primary_key=True),
        sa.Column("message_id", sa.Text, primary_key=True),
        sa.Column("received_at", STAMP, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("engagement_id", sa.Text, sa.ForeignKey("engagements.id"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("event_types", JSONB, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("disabled_reason", sa.Text),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
    )
    op.create_index("webhook_endpoints_engagement", "webhook_endpoints", ["engagement_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("endpoint_id", sa.Text, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
        sa.Column("message_id", sa.Text, nullable=False, unique=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", STAMP, nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("delivered_at", STAMP),
    )
    op.create_index(
        "webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_id", "id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.BigInteger, sa.ForeignKey("webhook_deliveries.id"), nullable=False),
        sa.Column("attempted_at", STAMP, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "id"])
