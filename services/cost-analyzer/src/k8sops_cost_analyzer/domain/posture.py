"""Security and reliability posture checks over plain descriptions of a cluster's objects."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Severity(IntEnum):
    """One scale for security, reliability and cost, so a review can compare them."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class Category(StrEnum):
    SECURITY = "security"
    RELIABILITY = "reliability"
    COST = "cost"


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    privileged: bool = False
    runs_as_root: bool = True  # unless runAsNonRoot or a non-zero runAsUser says otherwise
    has_limits: bool = False
    has_probes: bool = False


@dataclass(frozen=True)
class WorkloadSpec:
    kind: str
    namespace: str
    name: str
    containers: tuple[ContainerSpec, ...]
    host_path: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    host_network: bool = False


@dataclass(frozen=True)
class RoleBinding:
    name: str
    role: str
    subjects: tuple[str, ...]


@dataclass(frozen=True)
class PostureFinding:
    check: str
    category: Category
    severity: Severity
    target: str
    detail: str


SYSTEM_PREFIXES = ("system:", "kubeadm:")
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


def uses_latest_tag(image: str) -> bool:
    if "@" in image:
        return False
    last = image.rsplit("/", 1)[-1]
    return ":" not in last or last.endswith(":latest")


def workload_checks(workload: WorkloadSpec) -> list[PostureFinding]:
    target = f"{workload.namespace}/{workload.name}"
    found: list[PostureFinding] = []

    def add(check: str, category: Category, severity: Severity, detail: str) -> None:
        found.append(PostureFinding(check, category, severity, target, detail))

    for flag, present in (("hostPID", workload.host_pid), ("hostIPC", workload.host_ipc)):
        if present:
            add(f"host-{flag[4:].lower()}", Category.SECURITY, Severity.HIGH, f"{flag} shares the node's namespace")
    if workload.host_network:
        add("host-network", Category.SECURITY, Severity.HIGH, "hostNetwork exposes the node's network stack")
    if workload.host_path:
        add("host-path", Category.SECURITY, Severity.HIGH, "mounts a hostPath volume from the node")
    for container in workload.containers:
        where = f"container {container.name}"
        if container.privileged:
            add("privileged", Category.SECURITY, Severity.CRITICAL, f"{where} runs privileged")
        if container.runs_as_root:
            add("runs-as-root", Category.SECURITY, Severity.MEDIUM, f"{where} may run as root (no runAsNonRoot)")
        if not container.has_limits:
            add("no-limits", Category.RELIABILITY, Severity.MEDIUM, f"{where} has no resource limits")
        if not container.has_probes:
            add("no-probes", Category.RELIABILITY, Severity.LOW, f"{where} has no readiness or liveness probe")
        if uses_latest_tag(container.image):
            add("latest-tag", Category.RELIABILITY, Severity.MEDIUM, f"{where} uses {container.image} (no fixed tag)")
    return found


def cluster_checks(
    workloads: list[WorkloadSpec],
    namespaces: list[str],
    namespaces_with_policy: set[str],
    bindings: list[RoleBinding],
) -> list[PostureFinding]:
    findings = [finding for workload in workloads for finding in workload_checks(workload)]
    for namespace in sorted(namespaces):
        if namespace in SYSTEM_NAMESPACES or namespace in namespaces_with_policy:
            continue
        findings.append(
            PostureFinding(
                "no-network-policy", Category.SECURITY, Severity.MEDIUM, namespace, "no NetworkPolicy selects its pods"
            )
        )
    for binding in bindings:
        if binding.role != "cluster-admin" or binding.name.startswith(SYSTEM_PREFIXES):
            continue
        subjects = ", ".join(binding.subjects)
        findings.append(
            PostureFinding(
                "cluster-admin-binding",
                Category.SECURITY,
                Severity.HIGH,
                binding.name,
                f"grants cluster-admin to {subjects}",
            )
        )
    return findings


def cost_severity(monthly_savings_bdt: float, recommended: bool) -> Severity:
    """Cost findings on the same scale: by what they cost the customer each month."""
    if not recommended:
        return Severity.INFO
    if monthly_savings_bdt >= 50_000:
        return Severity.HIGH
    if monthly_savings_bdt >= 10_000:
        return Severity.MEDIUM
    return Severity.LOW
