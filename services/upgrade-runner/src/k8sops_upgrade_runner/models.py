"""upgrade-runner's tables (schema `upgrade_runner`).

Operations are the durable unit of work on a cluster, whatever their kind; their steps, per-node
progress and the per-cluster lease are what lets a restarted runner carry on where it stopped.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from k8sops_common.bus.tables import inbox_table, outbox_table

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

# Copies of intake's engagements and clusters (from engagement.changed; no credentials).
engagements = Table(
    "engagements",
    metadata,
    Column("engagement_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("tier", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("maintenance_window", JSONB),
    Column("cluster_admin", Text),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

clusters = Table(
    "clusters",
    metadata,
    Column("cluster_id", Text, primary_key=True),
    Column("engagement_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("environment", Text, nullable=False),
    Column("paired_cluster_id", Text),
    Column("api_endpoint", Text, nullable=False),
    Column("credentials_ref", Text),  # a reference into the secret store, never the secret
    Index("clusters_engagement", "engagement_id"),
)

operations = Table(
    "operations",
    metadata,
    Column("operation_id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("engagement_id", Text, nullable=False),
    Column("cluster_id", Text, nullable=False),
    Column("request_id", Text),
    Column("state", Text, nullable=False),
    # Known once the pre-check has read the cluster (a plan from a request names no version).
    Column("from_version", Text),
    Column("to_version", Text),
    Column("emergency", Boolean, nullable=False, server_default=text("false")),
    Column("force", Boolean, nullable=False, server_default=text("false")),
    Column("created_by", Text, nullable=False),
    Column("findings", JSONB),
    Column("baseline", JSONB),
    Column("stage", JSONB),
    Column("signoff", JSONB),
    Column("emergency_authorisation_id", Text),
    Column("postcheck", JSONB),
    Column("rollback", JSONB),
    Column("failure", Text),
    # What a kind other than `upgrade` acts on (an add-on: name, namespace, version, what it replaced).
    Column("spec", JSONB),
    Column("report", JSONB),
    Column("report_markdown", Text),
    # When the runner should next look at it; NULL while it waits for a person (or is finished).
    Column("next_run_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("operations_due", "next_run_at", postgresql_where=text("next_run_at IS NOT NULL")),
    Index("operations_cluster", "cluster_id"),
    # One live operation per cluster: a second plan waits until the first is finished.
    Index(
        "operations_one_live_per_cluster",
        "cluster_id",
        unique=True,
        postgresql_where=text("state NOT IN ('completed', 'rolled_back', 'cancelled', 'precheck_failed')"),
    ),
    Index("operations_request", "request_id", unique=True, postgresql_where=text("request_id IS NOT NULL")),
)

operation_steps = Table(
    "operation_steps",
    metadata,
    Column("step_id", Integer, primary_key=True, autoincrement=True),
    Column("operation_id", Text, nullable=False),
    Column("from_state", Text),
    Column("to_state", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Index("operation_steps_operation", "operation_id", "step_id"),
)

# One row per node the operation will touch, in order; `phase` is how far it got, so a resumed
# runner skips finished nodes and redoes only the idempotent part of the one it was on.
operation_nodes = Table(
    "operation_nodes",
    metadata,
    Column("operation_id", Text, primary_key=True),
    Column("cluster_name", Text, primary_key=True),
    Column("node", Text, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("pool", Text, nullable=False),
    Column("from_version", Text, nullable=False),
    Column("to_version", Text, nullable=False),
    Column("phase", Text, nullable=False),
    Column("platform_operation", Text),
    Column("touched", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("started_at", DateTime(timezone=True)),
    # From the replace request until the node was seen Ready: the platform's part of the time.
    Column("replace_requested_at", DateTime(timezone=True)),
    Column("ready_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("detail", Text, nullable=False, server_default=""),
)

# Who may act on a cluster right now: a row per cluster, held by one runner until it expires.
cluster_leases = Table(
    "cluster_leases",
    metadata,
    Column("cluster_id", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("operation_id", Text),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

authorisations = Table(
    "authorisations",
    metadata,
    Column("authorisation_id", Text, primary_key=True),
    Column("engagement_id", Text, nullable=False),
    Column("cluster_id", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target_kind", Text, nullable=False),
    Column("target_namespace", Text),
    Column("target_name", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("granted_by", Text, nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("used_by", Text),
    Index("authorisations_engagement", "engagement_id"),
)

cluster_actions = Table(
    "cluster_actions",
    metadata,
    Column("action_id", Text, primary_key=True),
    Column("engagement_id", Text, nullable=False),
    Column("cluster_id", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target_kind", Text, nullable=False),
    Column("target_namespace", Text),
    Column("target_name", Text, nullable=False),
    Column("parameters", JSONB, nullable=False),
    Column("actor", Text, nullable=False),
    Column("authorisation_id", Text),
    Column("outcome", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("cluster_actions_cluster", "cluster_id", "at"),
)

# The desired state of each managed object of a cluster, as recorded at onboarding and after
# each operation (normalised); drift is measured against it. Created by revision 0003.
cluster_baselines = Table(
    "cluster_baselines",
    metadata,
    Column("cluster_id", Text, primary_key=True),
    Column("object_key", Text, primary_key=True),
    Column("object", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("reason", Text, nullable=False),
)

DOMAIN_TABLES = (
    engagements,
    clusters,
    operations,
    operation_steps,
    operation_nodes,
    cluster_leases,
    authorisations,
    cluster_actions,
)
