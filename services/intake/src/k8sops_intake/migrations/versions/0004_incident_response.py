"""incident response: paging policies, pager targets and bridge per engagement, pages, the incident
log, post-incident report drafts; deliveries keep an ordering key

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

STAMP = sa.DateTime(timezone=True)

# SPEC 7b defaults, documented in the README: wall-clock tiers page P1 and P2 at once, the business
# tier pages P1 and P2 only inside its coverage hours; P3/P4 wait in the queue.
DEFAULT_POLICIES = [
    {"tier": tier, "priority": priority, "category": "*", "mode": mode, "escalate": mode != "never"}
    for tier, paged_mode in (
        ("k8s-247", "immediately"),
        ("k8s-247-cluster-admin", "immediately"),
        ("k8s-business", "business_hours"),
    )
    for priority, mode in (("P1", paged_mode), ("P2", paged_mode), ("P3", "never"), ("P4", "never"))
]


def upgrade() -> None:
    # Deliveries sharing a key are sent one after the other: a page's acknowledge never overtakes its trigger.
    op.add_column("webhook_deliveries", sa.Column("ordering_key", sa.Text))
    op.create_index("webhook_deliveries_ordering", "webhook_deliveries", ["ordering_key", "id"])
    policies = op.create_table(
        "paging_policies",
        sa.Column("tier", sa.Text, primary_key=True),
        sa.Column("priority", sa.Text, primary_key=True),
        sa.Column("category", sa.Text, primary_key=True),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("escalate", sa.Boolean, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False, server_default="default"),
        sa.Column("updated_at", STAMP, nullable=False, server_default=sa.func.now()),
    )
    op.bulk_insert(policies, DEFAULT_POLICIES)
    op.create_table(
        "incident_setups",
        sa.Column("engagement_id", sa.Text, sa.ForeignKey("engagements.id"), primary_key=True),
        sa.Column("bridge_template", sa.Text),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.Column("updated_at", STAMP, nullable=False),
    )
    op.create_table(
        "pager_targets",
        sa.Column("engagement_id", sa.Text, sa.ForeignKey("engagements.id"), primary_key=True),
        sa.Column("role", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("webhook_endpoint_id", sa.Text, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
        sa.Column("routing_key", sa.Text),
    )
    op.create_table(
        "pages",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Text, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("event_action", sa.Text, nullable=False),
        sa.Column("dedup_key", sa.Text, nullable=False),
        sa.Column("webhook_endpoint_id", sa.Text, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
        sa.Column("delivery_id", sa.BigInteger, sa.ForeignKey("webhook_deliveries.id"), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        # Exactly one of each action per page, however often the causing event is delivered.
        sa.UniqueConstraint("request_id", "role", "dedup_key", "event_action", name="pages_once"),
    )
    op.create_table(
        "incident_log",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Text, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("at", STAMP, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("details", JSONB, nullable=False),
    )
    op.create_index("incident_log_request", "incident_log", ["request_id", "at", "id"])
    op.create_table(
        "incident_reports",
        sa.Column("request_id", sa.Text, sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("markdown", sa.Text, nullable=False),
        sa.Column("drafted_at", STAMP, nullable=False),
    )
