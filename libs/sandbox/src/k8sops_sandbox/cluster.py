"""One sandbox cluster: its store, versions and node pools, and the rules the API server and
kubelets enforce (scheduling fit, PodDisruptionBudgets, node replacement)."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .faults import FaultRegistry
from .objects import (
    POOL_LABEL,
    controller_of,
    helm_release_secret,
    make_hpa,
    make_node,
    make_pdb,
    make_workload,
    ready_condition,
    set_kubelet_version,
)
from .quantity import parse_quantity
from .resources import RESOURCES, by_kind
from .scenario import Cluster, Scenario, Workload, format_version, parse_version
from .selectors import match_label_selector
from .store import Obj, Store, iso
from .termination import PODS, delete_pod, terminating

NODES = "nodes"
PDBS = "policy/poddisruptionbudgets"


@dataclass
class PoolState:
    name: str
    instance_type: str
    capacity_type: str
    version: tuple[int, int, int]
    previous_version: tuple[int, int, int] | None = None
    status: str = "RUNNING"


@dataclass(frozen=True)
class EvictionRefused(Exception):
    code: int
    reason: str
    message: str
    causes: tuple[dict[str, str], ...] = ()


@dataclass
class ClusterState:
    scenario: Scenario
    spec: Cluster
    faults: FaultRegistry
    store: Store = field(init=False)
    version: tuple[int, int, int] = field(init=False)
    pools: dict[str, PoolState] = field(default_factory=dict)
    kube_url: str = ""
    # Node name -> monotonic time it turns Ready (nodes being replaced or added).
    node_ready_at: dict[str, float] = field(default_factory=dict)
    # Pod uid -> monotonic time its containers have started (set when bound to a node).
    pod_start_at: dict[str, float] = field(default_factory=dict)
    # Pod uid -> (namespace, name, monotonic time it is removed): terminating pods.
    pod_gone_at: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    upgraded_nodes: set[str] = field(default_factory=set)
    # Node name -> set once it turns Ready: what the platform's operations wait on.
    ready_events: dict[str, asyncio.Event] = field(default_factory=dict)
    # (group, version, resource, removed_release) -> request count
    deprecated_calls: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    surge_nodes_in_use: int = 0
    surge_nodes: set[str] = field(default_factory=set)  # added one by one through the platform API
    surge_quota: int = 0
    busy_operation: str | None = None
    _node_index: int = 0

    def __post_init__(self) -> None:
        self.store = Store(self.spec.name, clock=lambda: self.scenario.created)
        self.version = parse_version(self.spec.version)
        self.surge_quota = self.spec.surge_quota

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def minor(self) -> tuple[int, int]:
        return self.version[0], self.version[1]

    def now_iso(self) -> str:
        return iso(self.store.clock())

    # --- nodes -----------------------------------------------------------------------------
    def add_node(self, pool: PoolState, name: str, version: tuple[int, int, int], ready: bool) -> Obj:
        pool_spec = next(p for p in self.spec.node_pools if p.name == pool.name)
        instance = self.scenario.instance_types[pool.instance_type]
        zone = pool_spec.zones[self._node_index % len(pool_spec.zones)]
        node = make_node(
            self.spec,
            pool_spec,
            instance,
            name,
            zone,
            f"v{format_version(version)}",
            self._node_index,
            ready,
            self.now_iso(),
        )
        self._node_index += 1
        return self.store.create(NODES, node)

    def pool_nodes(self, pool_name: str) -> list[Obj]:
        return [n for n in self.store.items(NODES) if n["metadata"]["labels"].get(POOL_LABEL) == pool_name]

    def set_node_ready(self, name: str, ready: bool) -> None:
        def change(node: Obj) -> None:
            now = iso(datetime.now(UTC))
            conditions = [c for c in node["status"]["conditions"] if c["type"] != "Ready"]
            message = "kubelet is posting ready status" if ready else "kubelet is restarting for an upgrade"
            reason = "KubeletReady" if ready else "KubeletNotReady"
            conditions.append(ready_condition("True" if ready else "False", reason, message, now))
            node["status"]["conditions"] = conditions

        self.store.mutate(NODES, "", name, change)
        if ready and name in self.ready_events:
            self.ready_events.pop(name).set()

    def set_unschedulable(self, name: str, unschedulable: bool) -> None:
        def change(node: Obj) -> None:
            if unschedulable:
                node["spec"]["unschedulable"] = True
            else:
                node["spec"].pop("unschedulable", None)

        self.store.mutate(NODES, "", name, change)

    def begin_node_upgrade(self, name: str, version: tuple[int, int, int]) -> None:
        """The node restarts at a new version: its pods die, it is NotReady until the delay passes
        (forever under a node_never_ready fault)."""
        node = self.store.get(NODES, "", name)
        pool = node["metadata"]["labels"].get(POOL_LABEL, "")
        for pod in list(self.pods_on_node(name)):
            self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        self.store.mutate(NODES, "", name, lambda n: set_kubelet_version(n, f"v{format_version(version)}"))
        self.set_node_ready(name, False)
        self.upgraded_nodes.add(name)
        if self.faults.node_never_ready(self.name, name, pool):
            self.node_ready_at.pop(name, None)
        else:
            self.node_ready_at[name] = time.monotonic() + self.scenario.timing.node_ready_seconds

    def delete_node(self, name: str) -> None:
        for pod in list(self.pods_on_node(name)):
            self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        self.store.delete(NODES, "", name)
        self.node_ready_at.pop(name, None)

    @staticmethod
    def node_ready(node: Obj) -> bool:
        return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))

    def node_version(self, node: Obj) -> str:
        return str(node["status"]["nodeInfo"]["kubeletVersion"])

    def pods_on_node(self, node_name: str) -> list[Obj]:
        return self.store.pods_on_node(node_name)

    # --- pods and budgets ------------------------------------------------------------------
    @staticmethod
    def pod_requests(pod: Obj) -> tuple[float, float]:
        cpu = memory = 0.0
        for container in pod["spec"]["containers"]:
            requests = container.get("resources", {}).get("requests", {})
            cpu += parse_quantity(requests.get("cpu"))
            memory += parse_quantity(requests.get("memory"))
        return cpu, memory

    @staticmethod
    def pod_ready(pod: Obj) -> bool:
        return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))

    def workload_of(self, pod: Obj) -> tuple[str, str] | None:
        """(kind, name) of the workload that owns a pod, following ReplicaSet -> Deployment."""
        owner = controller_of(pod)
        if owner is None:
            return None
        if owner["kind"] == "ReplicaSet":
            rs = self.store.find("apps/replicasets", pod["metadata"]["namespace"], owner["name"])
            parent = controller_of(rs) if rs else None
            if parent is not None:
                return parent["kind"], parent["name"]
        return owner["kind"], owner["name"]

    def pdb_status(self, pdb: Obj) -> dict[str, int]:
        namespace = pdb["metadata"]["namespace"]
        selector = pdb["spec"].get("selector")
        # A terminating pod is neither healthy nor expected, as in the disruption controller.
        pods = [
            p
            for p in self.store.items(PODS, namespace)
            if match_label_selector(selector, p["metadata"].get("labels") or {}) and not terminating(p)
        ]
        expected = max(len(pods), self._expected_from_owners(pods))
        healthy = sum(1 for p in pods if self.pod_ready(p))
        spec = pdb["spec"]
        if "minAvailable" in spec:
            desired = _scaled(spec["minAvailable"], expected)
        elif "maxUnavailable" in spec:
            desired = max(0, expected - _scaled(spec["maxUnavailable"], expected))
        else:
            desired = expected
        allowed = max(0, healthy - desired)
        key = f"{namespace}/{pdb['metadata']['name']}"
        if self.faults.pdb_blocked(self.name, key):
            allowed = 0
        return {
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "disruptionsAllowed": allowed,
            "expectedPods": expected,
        }

    def _expected_from_owners(self, pods: list[Obj]) -> int:
        owners: dict[tuple[str, str], int] = {}
        for pod in pods:
            owner = controller_of(pod)
            if owner is None:
                continue
            key = (owner["kind"], owner["name"])
            if key in owners:
                continue
            if owner["kind"] == "DaemonSet":
                owners[key] = self.store.count(NODES)
                continue
            resource = by_kind(owner["kind"])
            obj = self.store.find(resource.key, pod["metadata"]["namespace"], owner["name"])
            owners[key] = int(obj["spec"].get("replicas", 0)) if obj else 0
        return sum(owners.values())

    def evict(self, namespace: str, name: str, grace: int | None = None) -> Obj:
        """The eviction subresource: delete the pod unless a PodDisruptionBudget forbids it (a budget
        never holds a terminating pod)."""
        pod = self.store.get(PODS, namespace, name)
        labels = pod["metadata"].get("labels") or {}
        pdbs = [p for p in self.store.items(PDBS, namespace) if match_label_selector(p["spec"].get("selector"), labels)]
        if len(pdbs) > 1:
            raise EvictionRefused(
                500,
                "InternalError",
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            )
        phase = pod["status"].get("phase")
        if pdbs and phase not in ("Pending", "Succeeded", "Failed") and not terminating(pod):
            pdb = pdbs[0]
            status = self.pdb_status(pdb)
            key = f"{namespace}/{pdb['metadata']['name']}"
            unhealthy_ok = (
                not self.pod_ready(pod)
                and not self.faults.pdb_blocked(self.name, key)
                and (
                    pdb["spec"].get("unhealthyPodEvictionPolicy") == "AlwaysAllow"
                    or status["currentHealthy"] >= status["desiredHealthy"]
                )
            )
            if status["disruptionsAllowed"] <= 0 and not unhealthy_ok:
                raise EvictionRefused(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    (
                        {
                            "reason": "DisruptionBudget",
                            "message": (
                                f"The disruption budget {pdb['metadata']['name']} needs "
                                f"{status['desiredHealthy']} healthy pods and has "
                                f"{status['currentHealthy']} currently"
                            ),
                        },
                    ),
                )
        return delete_pod(self, namespace, name, grace)

    # --- seeding ---------------------------------------------------------------------------
    def seed(self) -> None:
        """Build the scenario's objects; timestamps come from the scenario so every run matches."""
        spec, store = self.spec, self.store
        for namespace in ["default", "kube-system", *(n["name"] for n in spec.namespaces)]:
            if store.find("namespaces", "", namespace) is None:
                extra = next((n for n in spec.namespaces if n["name"] == namespace), {})
                store.create(
                    "namespaces",
                    {
                        "apiVersion": "v1",
                        "kind": "Namespace",
                        "metadata": {
                            "name": namespace,
                            "labels": {"kubernetes.io/metadata.name": namespace, **extra.get("labels", {})},
                        },
                        "spec": {"finalizers": ["kubernetes"]},
                        "status": {"phase": "Active"},
                    },
                )
        for pool_spec in spec.node_pools:
            version = parse_version(pool_spec.version or spec.version)
            pool = PoolState(pool_spec.name, pool_spec.instance_type, pool_spec.capacity_type, version)
            self.pools[pool.name] = pool
            for index in range(pool_spec.count):
                self.add_node(pool, f"{spec.name}-{pool.name}-{index:03d}", version, ready=True)
        workloads = all_workloads(spec)
        for workload in workloads:
            self._ensure_namespace(workload.namespace)
            resource = by_kind(workload.kind)
            store.create(resource.key, make_workload(workload))
            if workload.pdb:
                store.create(PDBS, make_pdb(workload))
            if workload.hpa:
                store.create("autoscaling/horizontalpodautoscalers", make_hpa(workload))
        for obj in spec.objects:
            resource = by_kind(obj["kind"])
            namespace = obj.get("metadata", {}).get("namespace", "")
            if namespace:
                self._ensure_namespace(namespace)
            # The API server stores the preferred version; the version a client applied survives
            # only in the last-applied annotation, as on a real cluster.
            store.create(resource.key, {**obj, "apiVersion": resource.api_version()})
        for release in spec.helm_releases:
            self._ensure_namespace(release.namespace)
            store.create("secrets", helm_release_secret(release, self.now_iso()))
        for call in spec.deprecated_api_calls:
            removed = self.removed_release(call.group, call.version, call.resource)
            key = (call.group, call.version, call.resource, removed)
            self.deprecated_calls[key] = self.deprecated_calls.get(key, 0) + call.count

    def _ensure_namespace(self, namespace: str) -> None:
        if self.store.find("namespaces", "", namespace) is None:
            self.store.create(
                "namespaces",
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": namespace, "labels": {"kubernetes.io/metadata.name": namespace}},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
            )

    @staticmethod
    def removed_release(group: str, version: str, resource: str) -> str:
        for candidate in RESOURCES:
            if candidate.group == group and candidate.plural == resource:
                for served in candidate.versions:
                    if served.version == version and served.removed_in:
                        return f"{served.removed_in[0]}.{served.removed_in[1]}"
        return ""


def _scaled(value: Any, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(total * int(value[:-1]) / 100)
    return int(value)


def all_workloads(spec: Cluster) -> list[Workload]:
    """The scenario's workloads plus those its workload sets generate."""
    workloads: list[Workload] = list(spec.workloads)
    for index, workload_set in enumerate(spec.workload_sets):
        for ns_index in range(workload_set.namespaces):
            namespace = f"{workload_set.namespace_prefix}-{index}-{ns_index:02d}"
            for d_index in range(workload_set.deployments_per_namespace):
                workloads.append(
                    Workload.model_validate(
                        {
                            "name": f"svc-{d_index:02d}",
                            "namespace": namespace,
                            "replicas": workload_set.replicas,
                            "containers": [
                                {
                                    "name": "app",
                                    "image": f"registry.example.com/{namespace}/svc-{d_index:02d}:1.0.0",
                                    "requests": {
                                        "cpu": workload_set.cpu_request,
                                        "memory": workload_set.memory_request,
                                    },
                                    "limits": {"memory": workload_set.memory_request},
                                }
                            ],
                            "usage": workload_set.usage.model_dump(),
                        }
                    )
                )
    return workloads
