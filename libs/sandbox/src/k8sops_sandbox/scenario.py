"""Scenario files: a YAML description of one or more clusters, validated into plain models."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

SCENARIO_PACKAGE = "k8sops_sandbox.scenarios"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Timing(_Model):
    node_ready_seconds: float = 3.0
    pod_start_seconds: float = 0.5
    control_plane_upgrade_seconds: float = 2.0
    drain_timeout_seconds: float = 60.0
    # How long the platform waits for a replaced node before it fails the operation.
    node_ready_timeout_seconds: float = 60.0
    controller_interval_seconds: float = 0.1
    # How long a deleted or evicted pod's containers take to stop: it stays listed (terminating) this
    # long, or its grace period if shorter (termination.py); 0: every pod goes at once.
    pod_termination_seconds: float = 0.0


class InstanceType(_Model):
    cpu: str
    memory: str
    pods: int = 110
    price_bdt_hour_on_demand: float
    price_bdt_hour_spot: float


class NodePool(_Model):
    name: str
    instance_type: str
    count: int = Field(ge=0)
    capacity_type: Literal["on-demand", "spot"] = "on-demand"
    version: str | None = None  # defaults to the control plane version
    zones: list[str] = ["a", "b", "c"]
    labels: dict[str, str] = {}


class Container(_Model):
    name: str
    image: str
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}


class Usage(_Model):
    """Mean usage as a fraction of the request, and how much it swings over a day."""

    cpu: float = 0.5
    memory: float = 0.6
    variability: float = 0.1
    # Exact usage for hand-computed expectations: replicas alike, no memory jitter, no hourly wave.
    steady: bool = False
    # Series exist only for this many hours before "now" (a workload deployed recently); None: always.
    history_hours: float | None = None


class Workload(_Model):
    kind: Literal["Deployment", "StatefulSet", "DaemonSet"] = "Deployment"
    name: str
    namespace: str
    replicas: int = 1
    labels: dict[str, str] = {}
    containers: list[Container]
    usage: Usage = Usage()
    pdb: dict[str, Any] | None = None  # {minAvailable: 2} or {maxUnavailable: "50%"}
    hpa: dict[str, Any] | None = None  # {min, max, cpu_utilization?, memory_utilization?}
    security_context: dict[str, Any] | None = None
    host_path: str | None = None


class WorkloadSet(_Model):
    """Generates many similar workloads, for the large benchmark cluster."""

    namespaces: int
    deployments_per_namespace: int
    replicas: int
    namespace_prefix: str = "team"
    cpu_request: str = "100m"
    memory_request: str = "128Mi"
    usage: Usage = Usage()


class HelmRelease(_Model):
    name: str
    namespace: str
    chart: str
    chart_version: str
    app_version: str = "1.0.0"
    revision: int = 1
    manifest: str


class DeprecatedCall(_Model):
    group: str
    version: str
    resource: str
    count: int = 1


class Cluster(_Model):
    name: str
    environment: Literal["prod", "non-prod"] = "prod"
    paired_with: str | None = None
    version: str
    region: str = "ap-south-1"
    surge_quota: int = 3
    node_pools: list[NodePool]
    namespaces: list[dict[str, Any]] = []
    workloads: list[Workload] = []
    workload_sets: list[WorkloadSet] = []
    objects: list[dict[str, Any]] = []
    helm_releases: list[HelmRelease] = []
    deprecated_api_calls: list[DeprecatedCall] = []


class Fault(_Model):
    type: Literal[
        "node_never_ready",
        "crashloop_after_upgrade",
        "pdb_blocks_forever",
        "image_pull_fails",
        "api_error",
        "api_timeout",
    ]
    cluster: str | None = None  # None: every cluster
    node: str | None = None
    node_pool: str | None = None
    workload: str | None = None  # "namespace/name"
    pdb: str | None = None  # "namespace/name"
    image: str | None = None  # image_pull_fails: this exact image reference cannot be pulled
    status: int = 500
    delay_seconds: float = 30.0
    path_prefix: str = "/"
    methods: list[str] = []
    count: int | None = None  # None: until removed


class Scenario(_Model):
    name: str
    description: str = ""
    seed: int = 1
    created: datetime = datetime(2025, 6, 1, tzinfo=UTC)
    timing: Timing = Timing()
    instance_types: dict[str, InstanceType]
    clusters: list[Cluster]
    faults: list[Fault] = []

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        names = {cluster.name for cluster in self.clusters}
        if len(names) != len(self.clusters):
            raise ValueError("cluster names must be unique")
        for cluster in self.clusters:
            if cluster.paired_with and cluster.paired_with not in names:
                raise ValueError(f"{cluster.name}: paired_with {cluster.paired_with!r} is not in this file")
            for pool in cluster.node_pools:
                if pool.instance_type not in self.instance_types:
                    raise ValueError(f"{cluster.name}/{pool.name}: unknown instance type {pool.instance_type}")
        return self


def shipped_scenarios() -> list[str]:
    folder = resources.files(SCENARIO_PACKAGE)
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name ("healthy-small") or any YAML file by path."""
    text_name = str(name_or_path)
    if text_name.endswith((".yaml", ".yml")) or Path(text_name).exists():
        text = Path(text_name).read_text()
    else:
        entry = resources.files(SCENARIO_PACKAGE) / f"{text_name}.yaml"
        if not entry.is_file():
            raise FileNotFoundError(f"no scenario {text_name!r}: shipped ones are {', '.join(shipped_scenarios())}")
        text = entry.read_text()
    return Scenario.model_validate(yaml.safe_load(text))


def parse_version(text: str) -> tuple[int, int, int]:
    """'1.29', '1.29.4' or 'v1.29.4' -> (1, 29, 4)."""
    parts = text.lstrip("v").split(".")
    if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
        raise ValueError(f"invalid Kubernetes version {text!r}")
    return int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 0


def format_version(version: tuple[int, int, int]) -> str:
    return f"{version[0]}.{version[1]}.{version[2]}"
