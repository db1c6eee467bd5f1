"""policies (seeded with the SPEC defaults), engagement copies, timers, breaches, credits, escalations

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from k8sops_sla_timer.domain.policy import DEFAULT_CREDIT_RULES, DEFAULT_RESPONSE_TARGETS

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SEEDED_BY = "migration 0002 (SPEC defaults)"


def _timestamp(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    response_targets = op.create_table(
        "response_targets",
        sa.Column("tier", sa.Text, primary_key=True),
        sa.Column("priority", sa.Text, primary_key=True),
        sa.Column("budget_minutes", sa.Integer, nullable=False),
        sa.Column("clock", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.CheckConstraint("budget_minutes > 0", name="response_targets_budget_positive"),
        sa.CheckConstraint("clock IN ('wall', 'business')", name="response_targets_clock_known"),
    )
    credit_rules = op.create_table(
        "credit_rules",
        sa.Column("tier", sa.Text, primary_key=True),
        sa.Column("percent_of_retainer", sa.Numeric(5, 2), nullable=False),
        sa.Column("monthly_cap_percent_of_retainer", sa.Numeric(5, 2), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_by", sa.Text, nullable=False),
    )
    # From here on the policies are data: operators edit these rows, the code never reads the defaults.
    op.bulk_insert(
        response_targets,
        [
            {
                "tier": str(tier),
                "priority": str(priority),
                "budget_minutes": int(target.budget.total_seconds() // 60),
                "clock": str(target.clock),
                "updated_by": SEEDED_BY,
            }
            for (tier, priority), target in DEFAULT_RESPONSE_TARGETS.items()
        ],
    )
    op.bulk_insert(
        credit_rules,
        [
            {
                "tier": str(tier),
                "percent_of_retainer": rule.percent_of_retainer,
                "monthly_cap_percent_of_retainer": rule.monthly_cap_percent_of_retainer,
                "updated_by": SEEDED_BY,
            }
            for tier, rule in DEFAULT_CREDIT_RULES.items()
        ],
    )
    op.create_table(
        "engagements",
        sa.Column("engagement_id", sa.Text, primary_key=True),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("working_days", sa.ARRAY(sa.Integer), nullable=False),
        sa.Column("holiday_country", sa.Text),
        sa.Column("extra_holidays", sa.ARRAY(sa.Date), nullable=False),
        sa.Column("on_call", sa.Text),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.text("false")),
        _timestamp("changed_at", nullable=False),
    )
    op.create_table(
        "clusters",
        sa.Column("cluster_id", sa.Text, primary_key=True),
        sa.Column("engagement_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("monthly_retainer_bdt", sa.Numeric(14, 2), nullable=False),
    )
    op.create_table(
        "timers",
        sa.Column("request_id", sa.Text, primary_key=True),
        sa.Column("engagement_id", sa.Text, nullable=False),
        sa.Column("cluster_id", sa.Text),
        sa.Column("priority", sa.Text, nullable=False),
        _timestamp("opened_at", nullable=False),
        sa.Column("tier", sa.Text),
        sa.Column("budget", sa.Interval),
        sa.Column("clock", sa.Text),
        _timestamp("warn_at"),
        _timestamp("due_at"),
        _timestamp("acknowledged_at"),
        _timestamp("warned_at"),
        _timestamp("breached_at"),
        _timestamp("next_alert_at"),
        sa.Column("resolution_clock", sa.Text),
        sa.Column("resolution_banked", sa.Interval),
        _timestamp("resolution_running_since"),
        _timestamp("resolved_at"),
    )
    op.create_index(
        "timers_next_alert", "timers", ["next_alert_at"], postgresql_where=sa.text("next_alert_at IS NOT NULL")
    )
    op.create_index("timers_engagement", "timers", ["engagement_id"])
    op.create_table(
        "parked_updates",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("request_id", sa.Text, nullable=False),
        _timestamp("changed_at", nullable=False),
        sa.Column("payload", JSONB, nullable=False),
    )
    op.create_index("parked_updates_request", "parked_updates", ["request_id"])
    op.create_table(
        "breaches",
        sa.Column("breach_id", sa.Text, primary_key=True),
        sa.Column("request_id", sa.Text, nullable=False, unique=True),
        sa.Column("engagement_id", sa.Text, nullable=False),
        sa.Column("cluster_id", sa.Text),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("priority", sa.Text, nullable=False),
        _timestamp("deadline", nullable=False),
        _timestamp("breached_at", nullable=False),
        _timestamp("fired_at", nullable=False),
        sa.Column("period", sa.Text, nullable=False),
    )
    op.create_index("breaches_engagement_breached", "breaches", ["engagement_id", "breached_at"])
    op.create_index("breaches_engagement_period", "breaches", ["engagement_id", "period"])
    op.create_table(
        "credits",
        sa.Column("credit_id", sa.Text, primary_key=True),
        sa.Column("breach_id", sa.Text, sa.ForeignKey("breaches.breach_id"), nullable=False, unique=True),
        sa.Column("engagement_id", sa.Text, nullable=False),
        sa.Column("cluster_id", sa.Text),
        sa.Column("request_id", sa.Text, nullable=False),
        sa.Column("amount_bdt", sa.Numeric(14, 2), nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _timestamp("issued_at", nullable=False),
    )
    op.create_index("credits_cluster_period", "credits", ["cluster_id", "period"])
    op.create_index("credits_engagement_period", "credits", ["engagement_id", "period"])
    op.create_table(
        "escalations",
        sa.Column("escalation_id", sa.Text, primary_key=True),
        sa.Column("engagement_id", sa.Text, nullable=False),
        sa.Column("breach_ids", sa.ARRAY(sa.Text), nullable=False),
        sa.Column("senior_on_call", sa.Text),
        _timestamp("escalated_at", nullable=False),
    )
    op.create_index("escalations_engagement_at", "escalations", ["engagement_id", "escalated_at"])
