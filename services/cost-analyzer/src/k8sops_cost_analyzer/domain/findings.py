"""Cost findings: each a pure function of workload usage, cluster rates and the configuration.

Savings are BDT per month against today's requests; an effort (low/medium/high) stands for the
disruption the change brings (restarts, new nodes). A finding is *recommended* only when its
savings reach the threshold scaled by that disruption, so tiny savings never cause churn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .pricing import GIB, ResourceRates
from .usage import HpaTarget, WorkloadUsage

MIB = 2.0**20
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


class FindingKind(StrEnum):
    OVER_REQUESTING = "over-requesting"
    HPA_RIGHT_SIZING = "hpa-right-sizing"
    NO_HPA = "no-hpa"
    NO_SPOT_MIX = "no-spot-mix"
    UNUSED_NAMESPACE = "unused-namespace"
    IDLE_PODS = "idle-pods"
    NOT_ENOUGH_DATA = "not-enough-data"


class Effort(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


DISRUPTION_WEIGHT = {Effort.LOW: 1, Effort.MEDIUM: 2, Effort.HIGH: 4}


@dataclass(frozen=True)
class AnalysisConfig:
    over_request_ratio: float = 0.20  # p95 at or under this share of the request is over-requesting
    cpu_margin: float = 1.15  # new CPU request = p95 x margin
    memory_margin: float = 1.15  # new memory request = max x margin
    min_points: int = 100  # fewer samples than this: "not enough data"
    max_hpa_target: int = 90  # highest averageUtilization we propose when co-tuning an HPA
    load_swing_ratio: float = 1.5  # peak / mean of the workload's load that calls for an HPA
    spot_share: float = 0.5  # share of the stateless capacity proposed for spot nodes
    idle_cpu_ratio: float = 0.02  # p95 under this share of the request: the workload does nothing
    min_savings_bdt: float = 500.0  # per month, for a low-effort change; x 2 medium, x 4 high
    cpu_share: float = 0.65  # share of a node's price that pays for its CPU (the rest: memory)


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    target: str  # "namespace/name", "namespace" or the cluster
    title: str
    detail: str  # the arithmetic, in words a customer can check
    monthly_savings_bdt: float
    effort: Effort
    recommended: bool
    change: dict[str, Any] = field(default_factory=dict)


def is_recommended(savings: float, effort: Effort, config: AnalysisConfig) -> bool:
    return savings > 0 and savings >= config.min_savings_bdt * DISRUPTION_WEIGHT[effort]


def _finding(
    kind: FindingKind,
    target: str,
    title: str,
    detail: str,
    savings: float,
    effort: Effort,
    config: AnalysisConfig,
    change: dict[str, Any] | None = None,
) -> Finding:
    rounded = round(savings, 2)
    return Finding(kind, target, title, detail, rounded, effort, is_recommended(rounded, effort, config), change or {})


def not_enough_data(workload: WorkloadUsage, config: AnalysisConfig) -> Finding | None:
    if workload.points >= config.min_points:
        return None
    detail = (
        f"{workload.points} samples of usage, fewer than the {config.min_points} needed for a p95 we would act on; "
        "no recommendation until more history exists"
    )
    return _finding(FindingKind.NOT_ENOUGH_DATA, workload.key, "Not enough data", detail, 0.0, Effort.LOW, config)


def is_idle(workload: WorkloadUsage, config: AnalysisConfig) -> bool:
    """Every container's CPU p95 under the idle share of its request."""
    return bool(workload.containers) and all(
        c.cpu_request is not None and c.cpu_p95 <= config.idle_cpu_ratio * c.cpu_request for c in workload.containers
    )


def ceil_millicores(cores: float) -> float:
    return math.ceil(round(cores * 1000, 6)) / 1000


def ceil_mebibytes(size: float) -> float:
    return math.ceil(round(size / MIB, 6)) * MIB


def right_size(workload: WorkloadUsage, rates: ResourceRates, config: AnalysisConfig) -> Finding | None:
    """Over-requesting, HPA-aware: requests an HPA scales on move together with its target."""
    hpa = {target.resource: target for target in workload.hpa_targets}
    single = len(workload.containers) == 1
    changes: dict[str, Any] = {}
    lines: list[str] = []
    saved_cpu = saved_memory = 0.0
    co_tuned = False
    for container in workload.containers:
        for resource in ("cpu", "memory"):
            request = container.cpu_request if resource == "cpu" else container.memory_request
            p95 = container.cpu_p95 if resource == "cpu" else container.memory_p95
            if not request or p95 > config.over_request_ratio * request:
                continue
            if resource == "cpu":
                proposed = ceil_millicores(container.cpu_p95 * config.cpu_margin)
                basis = f"p95 {container.cpu_p95 * 1000:.1f}m x {config.cpu_margin}"
            else:
                proposed = ceil_mebibytes(container.memory_max * config.memory_margin)
                basis = f"max {container.memory_max / MIB:.1f}Mi x {config.memory_margin}"
            target = hpa.get(resource)
            entry: dict[str, Any] = {"container": container.name, "resource": resource, "from": request}
            if target is not None and not single:
                lines.append(
                    f"{container.name} {resource}: left alone: the HPA scales on the pod's total {resource} request "
                    "across several containers, so one container's request cannot be co-tuned with its target"
                )
                continue
            if target is not None:
                proposed, target_line = co_tune(request, proposed, target, config, resource)
                entry["hpa_average_utilization"] = {
                    "from": target.average_utilization,
                    "to": round(target_line[0]),
                }
                basis += f"; {target_line[1]}"
                co_tuned = True
            if proposed >= request:
                continue
            entry["to"] = proposed
            changes.setdefault("requests", []).append(entry)
            change_text = f"{_quantity(resource, request)} -> {_quantity(resource, proposed)}"
            lines.append(f"{container.name} {resource}: {change_text} ({basis})")
            if resource == "cpu":
                saved_cpu += (request - proposed) * workload.replicas
            else:
                saved_memory += (request - proposed) * workload.replicas
    if not changes:
        if not lines:
            return None
        # Over-requested, but the HPA rules out a change: say why instead of staying silent.
        title = "Over-requested, but not co-tunable with its HPA"
        return _finding(FindingKind.HPA_RIGHT_SIZING, workload.key, title, "; ".join(lines), 0.0, Effort.MEDIUM, config)
    savings = saved_cpu * rates.core_month + saved_memory / GIB * rates.gib_month
    lines.append(
        f"savings: {workload.replicas} replicas x ({saved_cpu / workload.replicas:.3f} cores"
        f" x {rates.core_month:.2f} BDT"
        f" + {saved_memory / workload.replicas / GIB:.4f} GiB x {rates.gib_month:.2f} BDT) per month"
    )
    kind = FindingKind.HPA_RIGHT_SIZING if co_tuned else FindingKind.OVER_REQUESTING
    title = "Right-size requests and HPA target together" if co_tuned else "Requests far above usage"
    # Every replica restarts; a single replica means a moment without the workload.
    effort = Effort.MEDIUM if co_tuned or workload.replicas == 1 else Effort.LOW
    return _finding(kind, workload.key, title, "; ".join(lines), savings, effort, config, changes)


def co_tune(
    request: float, proposed: float, target: HpaTarget, config: AnalysisConfig, resource: str
) -> tuple[float, tuple[float, str]]:
    """The new request and the HPA target that keep the same absolute scaling threshold.

    The HPA scales when average usage per pod passes target % x request; shrinking the request
    alone would make it scale out far earlier. So the threshold T = target x request is kept and
    the new target is T / new request; a target above `max_hpa_target` would leave pods running
    far beyond what they reserve, so the request is then raised to T / max_hpa_target instead.
    """
    threshold = target.average_utilization / 100 * request
    floor = threshold / (config.max_hpa_target / 100)
    floor = ceil_millicores(floor) if resource == "cpu" else ceil_mebibytes(floor)
    new_request = max(proposed, floor)
    new_target = threshold / new_request * 100
    kept = round(new_target) / 100 * new_request
    explanation = (
        f"HPA {resource} threshold {target.average_utilization} % x {_quantity(resource, request)} = "
        f"{_quantity(resource, threshold)} per pod kept: new averageUtilization {_quantity(resource, threshold)} / "
        f"{_quantity(resource, new_request)} = {round(new_target)} % (threshold then {_quantity(resource, kept)})"
    )
    if new_request > proposed:
        explanation += (
            f"; request held at {_quantity(resource, new_request)} so the target stays ≤ {config.max_hpa_target} %"
        )
    return new_request, (new_target, explanation)


def _quantity(resource: str, value: float) -> str:
    return f"{value * 1000:.1f}m" if resource == "cpu" else f"{value / MIB:.1f}Mi"


def missing_hpa(workload: WorkloadUsage, rates: ResourceRates, config: AnalysisConfig) -> Finding | None:
    """Replicas fixed by hand while the load swings: sized for the peak all day long."""
    if workload.has_hpa or workload.kind != "Deployment" or workload.replicas < 2 or workload.cpu_total_mean <= 0:
        return None
    swing = workload.cpu_total_peak / workload.cpu_total_mean
    if swing < config.load_swing_ratio:
        return None
    cpu, memory = workload.requested()
    average_replicas = workload.replicas / swing
    savings = (1 - 1 / swing) * rates.monthly_cost(cpu, memory)
    minimum = max(2, math.ceil(average_replicas))
    detail = (
        f"{workload.replicas} replicas all the time while load peaks at {swing:.2f} x its mean: an HPA would run "
        f"{average_replicas:.2f} on average; savings (1 - 1/{swing:.2f}) x {rates.monthly_cost(cpu, memory):.2f} BDT "
        f"(requests of all replicas) per month"
    )
    change = {"hpa": {"min_replicas": minimum, "max_replicas": workload.replicas, "resource": "cpu"}}
    return _finding(
        FindingKind.NO_HPA, workload.key, "Load varies, replicas do not", detail, savings, Effort.MEDIUM, config, change
    )


def missing_spot_mix(
    cluster: str, spot_nodes: int, workloads: list[WorkloadUsage], rates: ResourceRates, config: AnalysisConfig
) -> Finding | None:
    """Every node on demand while stateless workloads could run on spot capacity."""
    movable = [w for w in workloads if w.stateless and w.kind == "Deployment" and w.namespace not in SYSTEM_NAMESPACES]
    if spot_nodes or not movable:
        return None
    cpu = sum(w.requested()[0] for w in movable)
    memory = sum(w.requested()[1] for w in movable)
    on_demand, spot = rates.monthly_cost(cpu, memory), rates.monthly_spot_cost(cpu, memory)
    savings = config.spot_share * (on_demand - spot)
    detail = (
        f"{len(movable)} stateless Deployments request {cpu:.3f} cores and {memory / GIB:.2f} GiB "
        f"({on_demand:.2f} BDT per month on demand, {spot:.2f} on spot); moving {config.spot_share:.0%} of them to a "
        f"spot pool saves {config.spot_share} x ({on_demand:.2f} - {spot:.2f})"
    )
    change = {"workloads": sorted(w.key for w in movable)}
    return _finding(FindingKind.NO_SPOT_MIX, cluster, "No spot capacity", detail, savings, Effort.HIGH, config, change)


def idle_findings(
    workloads: list[WorkloadUsage], namespaces: list[str], rates: ResourceRates, config: AnalysisConfig
) -> list[Finding]:
    """Namespaces where nothing works are unused; idle workloads elsewhere are idle pods."""
    by_namespace: dict[str, list[WorkloadUsage]] = {name: [] for name in namespaces}
    for workload in workloads:
        by_namespace.setdefault(workload.namespace, []).append(workload)
    findings = []
    for namespace, members in sorted(by_namespace.items()):
        if namespace in SYSTEM_NAMESPACES or namespace == "default":
            continue
        idle = [w for w in members if is_idle(w, config)]
        if not idle:
            continue
        cost = sum(rates.monthly_cost(*w.requested()) for w in idle)
        names = ", ".join(w.name for w in idle)
        if len(idle) == len(members):
            detail = (
                f"every workload in {namespace} ({names}) uses under {config.idle_cpu_ratio:.0%} of its CPU "
                f"request; their requests cost {cost:.2f} BDT per month"
            )
            findings.append(
                _finding(
                    FindingKind.UNUSED_NAMESPACE,
                    namespace,
                    "Unused namespace",
                    detail,
                    cost,
                    Effort.MEDIUM,
                    config,
                    {"namespace": namespace, "workloads": [w.name for w in idle]},
                )
            )
        else:
            detail = (
                f"{names} in {namespace} use under {config.idle_cpu_ratio:.0%} of their CPU request; "
                f"their requests cost {cost:.2f} BDT per month"
            )
            findings.append(
                _finding(
                    FindingKind.IDLE_PODS,
                    namespace,
                    "Idle pods",
                    detail,
                    cost,
                    Effort.LOW,
                    config,
                    {"workloads": [w.key for w in idle]},
                )
            )
    return findings


def analyse(
    cluster: str,
    workloads: list[WorkloadUsage],
    namespaces: list[str],
    spot_nodes: int,
    rates: ResourceRates,
    config: AnalysisConfig,
) -> list[Finding]:
    """Every finding of one cluster; workloads with too little history get only "not enough data"."""
    findings: list[Finding] = []
    known: list[WorkloadUsage] = []
    for workload in workloads:
        short = not_enough_data(workload, config)
        if short is not None:
            findings.append(short)
            continue
        known.append(workload)
    idle = idle_findings(known, namespaces, rates, config)
    findings.extend(idle)
    for workload in known:
        if is_idle(workload, config):
            continue
        for finding in (right_size(workload, rates, config), missing_hpa(workload, rates, config)):
            if finding is not None:
                findings.append(finding)
    # Spot capacity is priced on requests, so short history does not matter; idle workloads should go instead.
    movable = [w for w in workloads if not (w in known and is_idle(w, config))]
    spot = missing_spot_mix(cluster, spot_nodes, movable, rates, config)
    if spot is not None:
        findings.append(spot)
    return findings
