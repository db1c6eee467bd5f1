"""Pre-check findings, the health baseline and the post-check comparison (SPEC 6.1 and 6.4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .removed_apis import RemovedApiFinding
from .versions import Version, kubelet_skew_problem

_SUFFIXES: dict[str, int | Decimal] = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
}


def parse_quantity(text: str | int | float | None) -> Decimal:
    """A Kubernetes quantity ("250m", "1Gi", "4") as a number of base units."""
    if text is None:
        return Decimal(0)
    raw = str(text).strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if raw.endswith(suffix):
            return Decimal(raw[: -len(suffix)]) * Decimal(_SUFFIXES[suffix])
    return Decimal(raw)


class Severity(StrEnum):
    BLOCKING = "blocking"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    subject: str
    message: str
    evidence: str = ""
    signal: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class NodeSnapshot:
    name: str
    pool: str
    kubelet_version: str
    ready: bool
    unschedulable: bool
    allocatable_cpu: Decimal
    allocatable_memory: Decimal
    requested_cpu: Decimal  # every pod on the node
    requested_memory: Decimal
    movable_cpu: Decimal  # pods a drain would evict (not DaemonSet pods)
    movable_memory: Decimal


@dataclass(frozen=True)
class PdbSnapshot:
    ref: str
    disruptions_allowed: int
    expected_pods: int
    match_labels: Mapping[str, str]


@dataclass(frozen=True)
class WorkloadSnapshot:
    kind: str
    ref: str
    desired: int
    available: int
    pod_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterSnapshot:
    control_plane: Version
    nodes: Sequence[NodeSnapshot]
    pdbs: Sequence[PdbSnapshot]
    workloads: Sequence[WorkloadSnapshot]
    unhealthy_pods: Mapping[str, str]  # "ns/name" → reason (CrashLoopBackOff, Pending, …)
    surge_available: int


def _selects(match_labels: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(match_labels) and all(labels.get(key) == value for key, value in match_labels.items())


def blocking_pdb_findings(snapshot: ClusterSnapshot) -> list[Finding]:
    findings = [
        Finding(
            "blocking-pdb",
            Severity.BLOCKING,
            f"PodDisruptionBudget {pdb.ref}",
            f"PodDisruptionBudget {pdb.ref} allows no disruption: "
            "every drain of a node running its pods would wait forever",
            f"status.disruptionsAllowed=0 with expectedPods={pdb.expected_pods}",
        )
        for pdb in snapshot.pdbs
        if pdb.disruptions_allowed <= 0 and pdb.expected_pods > 0
    ]
    for workload in snapshot.workloads:
        if workload.kind == "DaemonSet" or workload.desired != 1:
            continue
        namespace = workload.ref.split("/", 1)[0]
        for pdb in snapshot.pdbs:
            if pdb.ref.split("/", 1)[0] == namespace and _selects(pdb.match_labels, workload.pod_labels):
                findings.append(
                    Finding(
                        "single-replica-behind-pdb",
                        Severity.BLOCKING,
                        f"{workload.kind} {workload.ref}",
                        f"{workload.kind} {workload.ref} runs one replica behind PodDisruptionBudget {pdb.ref}: "
                        "its node cannot be drained without an outage; scale it to 2 or relax the budget",
                        f"spec.replicas=1, selected by {pdb.ref}",
                    )
                )
    return findings


def skew_findings(snapshot: ClusterSnapshot, target: Version) -> list[Finding]:
    findings = []
    for node in snapshot.nodes:
        problem = kubelet_skew_problem(Version.parse(node.kubelet_version), target)
        if problem:
            findings.append(
                Finding(
                    "version-skew",
                    Severity.BLOCKING,
                    f"Node {node.name}",
                    problem,
                    f"kubeletVersion={node.kubelet_version}",
                )
            )
    return findings


def headroom_finding(snapshot: ClusterSnapshot) -> Finding | None:
    """Can the pods of the largest node fit on the others? (aggregate CPU and memory; the
    scheduler may still fragment, so this is necessary, not sufficient)."""
    schedulable = [node for node in snapshot.nodes if node.ready and not node.unschedulable]
    if not schedulable:
        return Finding("capacity-headroom", Severity.BLOCKING, "cluster", "no Ready schedulable node", "")
    largest = max(schedulable, key=lambda node: (node.movable_cpu, node.movable_memory))
    others = [node for node in schedulable if node.name != largest.name]
    free_cpu = sum((node.allocatable_cpu - node.requested_cpu for node in others), Decimal(0))
    free_memory = sum((node.allocatable_memory - node.requested_memory for node in others), Decimal(0))
    evidence = (
        f"largest node {largest.name} holds {largest.movable_cpu} CPU / {largest.movable_memory / 2**30:.1f} GiB "
        f"to move; the other nodes have {free_cpu} CPU / {free_memory / 2**30:.1f} GiB free"
    )
    if largest.movable_cpu <= free_cpu and largest.movable_memory <= free_memory:
        return Finding(
            "capacity-headroom",
            Severity.INFO,
            f"Node {largest.name}",
            "enough headroom to drain the largest node",
            evidence,
        )
    if snapshot.surge_available > 0:
        return Finding(
            "capacity-headroom",
            Severity.WARNING,
            f"Node {largest.name}",
            "not enough headroom to drain the largest node without a surge node "
            f"({snapshot.surge_available} available)",
            evidence,
        )
    return Finding(
        "capacity-headroom",
        Severity.BLOCKING,
        f"Node {largest.name}",
        "not enough headroom to drain the largest node and no platform surge quota left",
        evidence,
    )


def removed_api_finding(found: RemovedApiFinding) -> Finding:
    return Finding(
        "removed-api",
        Severity.BLOCKING,
        f"{found.kind} {found.object_ref}",
        f"{found.kind} {found.object_ref} uses {found.api_version}, removed in {found.removed_in}; "
        f"move it to {found.replacement}",
        found.evidence,
        str(found.signal),
    )


def evaluate_precheck(
    snapshot: ClusterSnapshot, target: Version, removed: Sequence[RemovedApiFinding]
) -> list[Finding]:
    findings = skew_findings(snapshot, target)
    findings += [removed_api_finding(found) for found in removed]
    findings += blocking_pdb_findings(snapshot)
    headroom = headroom_finding(snapshot)
    if headroom is not None:
        findings.append(headroom)
    findings.append(
        Finding("surge-quota", Severity.INFO, "platform", f"{snapshot.surge_available} surge node(s) available", "")
    )
    return findings


def is_blocked(findings: Sequence[Finding]) -> bool:
    return any(finding.severity is Severity.BLOCKING for finding in findings)


@dataclass(frozen=True)
class Baseline:
    nodes_ready: int
    nodes_total: int
    workloads: Mapping[str, tuple[int, int]]  # "Kind ns/name" → (desired, available)
    unhealthy_pods: Mapping[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "nodes_ready": self.nodes_ready,
            "nodes_total": self.nodes_total,
            "workloads": {key: list(value) for key, value in self.workloads.items()},
            "unhealthy_pods": dict(self.unhealthy_pods),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        return cls(
            data["nodes_ready"],
            data["nodes_total"],
            {key: (value[0], value[1]) for key, value in data["workloads"].items()},
            dict(data["unhealthy_pods"]),
        )


def baseline_of(snapshot: ClusterSnapshot) -> Baseline:
    return Baseline(
        nodes_ready=sum(node.ready for node in snapshot.nodes),
        nodes_total=len(snapshot.nodes),
        workloads={f"{w.kind} {w.ref}": (w.desired, w.available) for w in snapshot.workloads},
        unhealthy_pods=dict(snapshot.unhealthy_pods),
    )


def postcheck_problems(baseline: Baseline, after: ClusterSnapshot, target: Version) -> list[str]:
    """What is worse than before the upgrade: an empty list means the post-check is green.

    A workload below its desired availability counts only if it is also below what it had at the
    baseline; a pod unhealthy for a reason it already had before is the customer's, not ours.
    """
    problems = []
    for node in after.nodes:
        version = Version.parse(node.kubelet_version)
        if not node.ready:
            problems.append(f"Node {node.name} is not Ready")
        if (version.major, version.minor) != (target.major, target.minor):
            problems.append(f"Node {node.name} runs {node.kubelet_version}, not {target.minor_text}")
    for workload in after.workloads:
        key = f"{workload.kind} {workload.ref}"
        before_available = baseline.workloads.get(key, (workload.desired, workload.desired))[1]
        if workload.available < workload.desired and workload.available < before_available:
            problems.append(f"{key}: {workload.available}/{workload.desired} available (baseline {before_available})")
    for pod, reason in sorted(after.unhealthy_pods.items()):
        if baseline.unhealthy_pods.get(pod) != reason:
            problems.append(f"Pod {pod}: {reason}")
    return problems
