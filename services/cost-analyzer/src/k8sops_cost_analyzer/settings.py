"""cost-analyzer's own settings, beside the shared `ServiceSettings` (same `K8SOPS_` prefix).

`K8SOPS_KUBECONFIG` and `K8SOPS_PROMETHEUS_URL` are what `k8sops run` hands every service for the
sandbox; the rest is specific to this service (prefix `K8SOPS_COST_`).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ClusterAccessSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="K8SOPS_", extra="ignore")

    kubeconfig: str | None = Field(default=None, description="kubeconfig with one context per cluster")
    prometheus_url: str | None = Field(default=None, description="Prometheus HTTP API; unset: metrics.k8s.io")


class CostSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="K8SOPS_COST_", extra="ignore")

    cluster_contexts: dict[str, str] = Field(
        default_factory=dict,
        description="cluster id -> kubeconfig context (JSON); otherwise a context named after the cluster, "
        "else the current context",
    )
    prometheus_cluster_label: str = Field(
        default="cluster", description="label naming the cluster in a shared Prometheus; empty: one per cluster"
    )
    history_days: float = Field(default=14, gt=0, description="usage history read per analysis (KRR: 14 days)")
    step_minutes: float = Field(default=120, gt=0, description="query_range resolution")
    query_concurrency: int = Field(default=2, gt=0, description="Prometheus queries in flight per analysis")
    pods_per_query: int = Field(default=2500, gt=0, description="pods one usage query covers (whole namespaces)")
    scheduler_poll_interval_s: float = Field(default=1.0, gt=0, description="idle wait between looks for due jobs")
    job_lease_minutes: float = Field(default=10, gt=0, description="a claimed job returns to the queue after this")
    job_max_attempts: int = Field(default=3, gt=0, description="tries before an analysis job is marked failed")
