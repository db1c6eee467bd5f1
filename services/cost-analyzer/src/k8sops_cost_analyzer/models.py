"""cost-analyzer's tables (schema `cost_analyzer`)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, MetaData, Numeric, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB

from k8sops_common.bus.tables import inbox_table, outbox_table

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


def _now(name: str) -> Column:
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now())


# Copies of intake's clusters: which engagement owns each and whether it still exists.
clusters = Table(
    "clusters",
    metadata,
    Column("cluster_id", Text, primary_key=True),
    Column("engagement_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("environment", Text, nullable=False),
    Column("timezone", Text, nullable=False, server_default="UTC"),  # the engagement's, for its quarters
    Column("deleted", Boolean, nullable=False, server_default="false"),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

# The price table: data, edited by operators, seeded with the defaults by the migration.
prices = Table(
    "prices",
    metadata,
    Column("instance_type", Text, primary_key=True),
    Column("cpu_cores", Numeric(8, 3), nullable=False),
    Column("memory_gib", Numeric(10, 3), nullable=False),
    Column("on_demand_bdt_hour", Numeric(12, 4), nullable=False),
    Column("spot_bdt_hour", Numeric(12, 4), nullable=False),
    _now("updated_at"),
    Column("updated_by", Text, nullable=False),
)

# Durable work: analyses due now or later (the next quarterly review), claimed with SKIP LOCKED.
jobs = Table(
    "jobs",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("dedup_key", Text, unique=True),  # onboarding/<cluster>, review/<cluster>/<quarter>, request/<id>
    Column("engagement_id", Text, nullable=False),
    Column("cluster_id", Text, nullable=False),
    Column("kind", Text, nullable=False),  # cost-analysis, onboarding-assessment, health-review
    Column("quarter", Text),
    Column("request_id", Text),
    Column("requested_by", Text, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),  # pending, done, failed, cancelled
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claimed_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("analysis_id", Text),
    _now("created_at"),
)

analyses = Table(
    "analyses",
    metadata,
    Column("analysis_id", Text, primary_key=True),
    Column("job_id", Text),
    Column("engagement_id", Text, nullable=False),
    Column("cluster_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("quarter", Text),
    Column("request_id", Text),
    Column("requested_by", Text, nullable=False),
    Column("usage_source", Text, nullable=False),
    Column("monthly_savings_bdt", Numeric(14, 2), nullable=False),
    Column("findings_count", Integer, nullable=False),
    Column("scores", JSONB, nullable=False),  # category -> score, for next quarter's movement
    Column("report", JSONB, nullable=False),  # the JSON report; Markdown and HTML are rendered from it
    Column("generated_at", DateTime(timezone=True), nullable=False),
)

findings = Table(
    "findings",
    metadata,
    Column("finding_id", Text, primary_key=True),
    Column("analysis_id", Text, nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("monthly_savings_bdt", Numeric(14, 2), nullable=False),
    Column("effort", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("recommended", Boolean, nullable=False),
    Column("change", JSONB, nullable=False),
    Column("recommendation_id", Text),
)

# One recommendation per (cluster, kind, target) over time: later analyses refresh it.
recommendations = Table(
    "recommendations",
    metadata,
    Column("recommendation_id", Text, primary_key=True),
    Column("engagement_id", Text, nullable=False, index=True),
    Column("cluster_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("monthly_savings_bdt", Numeric(14, 2), nullable=False),
    Column("effort", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("provider_position", Text),
    Column("provider_position_by", Text),
    Column("customer_position", Text),
    Column("customer_position_by", Text),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", Text),
    Column("decided_quarter", Text),
    Column("last_analysis_id", Text, nullable=False),
    _now("created_at"),
    _now("updated_at"),
)

recommendation_history = Table(
    "recommendation_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("recommendation_id", Text, nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),  # opened, refreshed, position, decision, resurfaced
    Column("from_status", Text),
    Column("to_status", Text),
    Column("note", Text),
)

# The latest drift measurement per cluster, from upgrade-runner's `drift.measured` (SPEC 7a: drift
# appears in the quarterly review).
cluster_drift = Table(
    "cluster_drift",
    metadata,
    Column("cluster_id", Text, primary_key=True),
    Column("engagement_id", Text, nullable=False),
    Column("measured_at", DateTime(timezone=True), nullable=False),
    Column("source", Text, nullable=False),  # baseline | git
    Column("desired_state", Text, nullable=False),
    Column("trigger", Text, nullable=False),  # check | reconcile-precheck | reconcile-postcheck
    Column("operation_id", Text),
    Column("total", Integer, nullable=False),
    Column("objects", JSONB, nullable=False),
)
