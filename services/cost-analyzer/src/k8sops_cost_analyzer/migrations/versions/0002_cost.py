"""clusters, price table (seeded), jobs, analyses, findings, recommendations and their history

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from k8sops_cost_analyzer.domain.pricing import DEFAULT_PRICES

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SEEDED_BY = "migration 0002 (default price table)"


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(14, 2), nullable=False)


def upgrade() -> None:
    op.create_table(
        "clusters",
        sa.Column("cluster_id", sa.Text, primary_key=True),
        sa.Column("engagement_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("environment", sa.Text, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    prices = op.create_table(
        "prices",
        sa.Column("instance_type", sa.Text, primary_key=True),
        sa.Column("cpu_cores", sa.Numeric(8, 3), nullable=False),
        sa.Column("memory_gib", sa.Numeric(10, 3), nullable=False),
        sa.Column("on_demand_bdt_hour", sa.Numeric(12, 4), nullable=False),
        sa.Column("spot_bdt_hour", sa.Numeric(12, 4), nullable=False),
        _now("updated_at"),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.CheckConstraint("cpu_cores > 0 AND memory_gib > 0", name="prices_capacity_positive"),
        sa.CheckConstraint("spot_bdt_hour >= 0 AND on_demand_bdt_hour >= spot_bdt_hour", name="prices_spot_cheaper"),
    )
    # From here on prices are data: operators edit these rows, the code never reads the defaults.
    op.bulk_insert(
        prices,
        [
            {
                "instance_type": price.instance_type,
                "cpu_cores": price.cpu_cores,
                "memory_gib": price.memory_gib,
                "on_demand_bdt_hour": price.on_demand_bdt_hour,
                "spot_bdt_hour": price.spot_bdt_hour,
                "updated_by": SEEDED_BY,
            }
            for price in DEFAULT_PRICES
        ],
    )
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.Text, primary_key=True),
        sa.Column("dedup_key", sa.Text, unique=True),
        sa.Column("engagement_id", sa.Text, nullable=False),
        sa.Column("cluster_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("quarter", sa.Text),
        sa.Column("request_id", sa.Text),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("analysis_id", sa.Text),
        _now("created_at"),
    )
    op.create_index("jobs_due", "jobs", ["due_at"], postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "analyses",
        sa.Column("analysis_id", sa.Text, primary_key=True),
        sa.Column("job_id", sa.Text),
        sa.Column("engagement_id", sa.Text, nullable=False),
        sa.Column("cluster_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("quarter", sa.Text),
        sa.Column("request_id", sa.Text),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("usage_source", sa.Text, nullable=False),
        _money("monthly_savings_bdt"),
        sa.Column("findings_count", sa.Integer, nullable=False),
        sa.Column("scores", JSONB, nullable=False),
        sa.Column("report", JSONB, nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("analyses_cluster", "analyses", ["cluster_id", "kind", "generated_at"])
    op.create_table(
        "findings",
        sa.Column("finding_id", sa.Text, primary_key=True),
        sa.Column("analysis_id", sa.Text, nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        _money("monthly_savings_bdt"),
        sa.Column("effort", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("recommended", sa.Boolean, nullable=False),
        sa.Column("change", JSONB, nullable=False),
        sa.Column("recommendation_id", sa.Text),
    )
    op.create_table(
        "recommendations",
        sa.Column("recommendation_id", sa.Text, primary_key=True),
        sa.Column("engagement_id", sa.Text, nullable=False, index=True),
        sa.Column("cluster_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        _money("monthly_savings_bdt"),
        sa.Column("effort", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("provider_position", sa.Text),
        sa.Column("provider_position_by", sa.Text),
        sa.Column("customer_position", sa.Text),
        sa.Column("customer_position_by", sa.Text),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.Text),
        sa.Column("decided_quarter", sa.Text),
        sa.Column("last_analysis_id", sa.Text, nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.UniqueConstraint("cluster_id", "kind", "target", name="recommendations_one_per_target"),
    )
    op.create_table(
        "recommendation_history",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("recommendation_id", sa.Text, nullable=False, index=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("from_status", sa.Text),
        sa.Column("to_status", sa.Text),
        sa.Column("note", sa.Text),
    )
