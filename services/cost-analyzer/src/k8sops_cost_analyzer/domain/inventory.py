"""Kubernetes objects (plain JSON dicts, as the API returns them) into what the analysis needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .posture import ContainerSpec, RoleBinding, WorkloadSpec
from .pricing import NodeCapacity
from .quantity import parse_quantity
from .usage import ContainerSeries, HpaTarget, Samples, WorkloadUsage, summarize_container, total_over_time

Obj = Mapping[str, Any]
CAPACITY_TYPE_LABELS = ("karpenter.sh/capacity-type", "eks.amazonaws.com/capacityType", "cloud.google.com/gke-spot")
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


@dataclass(frozen=True)
class NodeInfo:
    name: str
    instance_type: str
    capacity_type: str
    ready: bool
    kubelet_version: str

    def capacity(self) -> NodeCapacity:
        return NodeCapacity(self.name, self.instance_type, self.capacity_type)


@dataclass
class Inventory:
    """One cluster as read from its API: nodes, namespaces, workloads and what selects them."""

    version: str = ""
    control_plane_ready: bool = True
    nodes: list[NodeInfo] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    workloads: dict[tuple[str, str, str], Obj] = field(default_factory=dict)  # (kind, ns, name)
    pod_owner: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)  # (ns, pod) -> workload
    pods_per_workload: dict[tuple[str, str, str], int] = field(default_factory=dict)
    hpas: dict[tuple[str, str, str], tuple[HpaTarget, ...]] = field(default_factory=dict)
    namespaces_with_policy: set[str] = field(default_factory=set)
    bindings: list[RoleBinding] = field(default_factory=list)


def node_info(node: Obj) -> NodeInfo:
    labels = node["metadata"].get("labels") or {}
    instance_type = next((labels[k] for k in INSTANCE_TYPE_LABELS if k in labels), "unknown")
    capacity = "on-demand"
    for key in CAPACITY_TYPE_LABELS:
        value = str(labels.get(key, "")).lower()
        if value in ("spot", "true", "preemptible"):
            capacity = "spot"
    conditions = node.get("status", {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    kubelet = node.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")
    return NodeInfo(node["metadata"]["name"], instance_type, capacity, ready, kubelet)


def build_inventory(
    version: str,
    nodes: Sequence[Obj],
    namespaces: Sequence[Obj],
    workloads: Sequence[Obj],
    replica_sets: Sequence[Obj],
    pods: Sequence[Obj],
    hpas: Sequence[Obj],
    network_policies: Sequence[Obj],
    cluster_role_bindings: Sequence[Obj],
) -> Inventory:
    inventory = Inventory(version=version)
    inventory.nodes = [node_info(node) for node in nodes]
    inventory.namespaces = sorted(ns["metadata"]["name"] for ns in namespaces)
    for workload in workloads:
        meta = workload["metadata"]
        inventory.workloads[(workload["kind"], meta["namespace"], meta["name"])] = workload
    deployment_of: dict[tuple[str, str], str] = {}
    for replica_set in replica_sets:
        owner = _controller(replica_set)
        if owner and owner["kind"] == "Deployment":
            deployment_of[(replica_set["metadata"]["namespace"], replica_set["metadata"]["name"])] = owner["name"]
    for pod in pods:
        if pod.get("status", {}).get("phase") not in ("Running", "Pending"):
            continue
        meta = pod["metadata"]
        owner = _controller(pod)
        key: tuple[str, str, str] | None = None
        if owner and owner["kind"] == "ReplicaSet":
            deployment = deployment_of.get((meta["namespace"], owner["name"]))
            if deployment:
                key = ("Deployment", meta["namespace"], deployment)
        elif owner and owner["kind"] in WORKLOAD_KINDS:
            key = (owner["kind"], meta["namespace"], owner["name"])
        if key is None or key not in inventory.workloads:
            continue
        inventory.pod_owner[(meta["namespace"], meta["name"])] = key
        inventory.pods_per_workload[key] = inventory.pods_per_workload.get(key, 0) + 1
    for hpa in hpas:
        ref = hpa["spec"].get("scaleTargetRef") or {}
        targets = []
        for metric in hpa["spec"].get("metrics") or []:
            resource = metric.get("resource") or {}
            target = resource.get("target") or {}
            if metric.get("type") == "Resource" and target.get("type") == "Utilization":
                targets.append(HpaTarget(resource["name"], int(target["averageUtilization"])))
        inventory.hpas[(ref.get("kind", ""), hpa["metadata"]["namespace"], ref.get("name", ""))] = tuple(targets)
    inventory.namespaces_with_policy = {p["metadata"]["namespace"] for p in network_policies}
    inventory.bindings = [
        RoleBinding(
            b["metadata"]["name"],
            (b.get("roleRef") or {}).get("name", ""),
            tuple(
                f"{s.get('kind')} {s.get('namespace', '')}/{s.get('name')}".replace(" /", " ")
                for s in b.get("subjects") or []
            ),
        )
        for b in cluster_role_bindings
    ]
    return inventory


def _controller(obj: Obj) -> Obj | None:
    for reference in obj["metadata"].get("ownerReferences") or []:
        if reference.get("controller"):
            return reference
    return None


def _pod_spec(workload: Obj) -> Obj:
    return workload["spec"]["template"]["spec"]


def workload_specs(inventory: Inventory) -> list[WorkloadSpec]:
    specs = []
    for (kind, namespace, name), workload in sorted(inventory.workloads.items()):
        pod = _pod_spec(workload)
        pod_context = pod.get("securityContext") or {}
        containers = []
        for container in pod.get("containers") or []:
            context = {**pod_context, **(container.get("securityContext") or {})}
            non_root = context.get("runAsNonRoot") is True or (context.get("runAsUser") not in (None, 0))
            limits = (container.get("resources") or {}).get("limits") or {}
            containers.append(
                ContainerSpec(
                    name=container["name"],
                    image=container.get("image", ""),
                    privileged=bool(context.get("privileged")),
                    runs_as_root=not non_root,
                    has_limits=bool(limits),
                    has_probes=bool(container.get("readinessProbe") or container.get("livenessProbe")),
                )
            )
        specs.append(
            WorkloadSpec(
                kind=kind,
                namespace=namespace,
                name=name,
                containers=tuple(containers),
                host_path=any("hostPath" in volume for volume in pod.get("volumes") or []),
                host_pid=bool(pod.get("hostPID")),
                host_ipc=bool(pod.get("hostIPC")),
                host_network=bool(pod.get("hostNetwork")),
            )
        )
    return specs


def namespace_groups(inventory: Inventory, max_pods: int) -> list[list[str]]:
    """Namespaces with pods, grouped so that one usage query covers about `max_pods` pods."""
    pods: dict[str, int] = {}
    for namespace, _ in inventory.pod_owner:
        pods[namespace] = pods.get(namespace, 0) + 1
    groups: list[list[str]] = []
    size = max_pods
    for namespace, count in sorted(pods.items()):
        if size + count > max_pods:
            groups.append([])
            size = 0
        groups[-1].append(namespace)
        size += count
    return groups


def workload_usage(
    inventory: Inventory,
    cpu: Mapping[tuple[str, str, str], Samples],
    memory: Mapping[tuple[str, str, str], Samples],
) -> list[WorkloadUsage]:
    """Joins usage series keyed (namespace, pod, container) with the workloads that own the pods."""
    cpu_by: dict[tuple[str, str, str], dict[str, dict[str, Samples]]] = {}
    memory_by: dict[tuple[str, str, str], dict[str, dict[str, Samples]]] = {}
    for source, target in ((cpu, cpu_by), (memory, memory_by)):
        for (namespace, pod, container), samples in source.items():
            owner = inventory.pod_owner.get((namespace, pod))
            if owner is not None:
                target.setdefault(owner, {}).setdefault(container, {})[pod] = samples
    result = []
    for key, workload in sorted(inventory.workloads.items()):
        kind, namespace, name = key
        spec = _pod_spec(workload)
        containers = []
        for container in spec.get("containers") or []:
            requests = (container.get("resources") or {}).get("requests") or {}
            series = ContainerSeries(
                cpu_by.get(key, {}).get(container["name"], {}), memory_by.get(key, {}).get(container["name"], {})
            )
            containers.append(
                summarize_container(
                    container["name"],
                    parse_quantity(requests.get("cpu")),
                    parse_quantity(requests.get("memory")),
                    series,
                )
            )
        replicas = (
            inventory.pods_per_workload.get(key, 0) if kind == "DaemonSet" else workload["spec"].get("replicas", 1)
        )
        mean, peak = total_over_time([s for pods in cpu_by.get(key, {}).values() for s in pods.values()])
        stateless = kind == "Deployment" and not any(
            "persistentVolumeClaim" in volume for volume in spec.get("volumes") or []
        )
        result.append(
            WorkloadUsage(
                kind=kind,
                namespace=namespace,
                name=name,
                replicas=int(replicas),
                containers=tuple(containers),
                hpa_targets=inventory.hpas.get(key, ()),
                stateless=stateless,
                cpu_total_mean=mean,
                cpu_total_peak=peak,
            )
        )
    return result
