"""Cost findings and pricing, each number worked out by hand in the test (m5.2xlarge: 8 cores,
32 GiB, 47.0 BDT/h on demand, 17.6 spot; 65 % of a node's price pays for CPU; 730 h a month)."""

from __future__ import annotations

import pytest

from k8sops_cost_analyzer.domain.findings import (
    AnalysisConfig,
    Effort,
    FindingKind,
    analyse,
    missing_hpa,
    missing_spot_mix,
    right_size,
)
from k8sops_cost_analyzer.domain.pricing import (
    InstancePrice,
    NodeCapacity,
    UnknownInstanceType,
    cluster_rates,
)
from k8sops_cost_analyzer.domain.usage import ContainerUsage, HpaTarget, WorkloadUsage, quantile

GIB = 2.0**30
MIB = 2.0**20
CONFIG = AnalysisConfig()
PRICES = {
    "m5.2xlarge": InstancePrice("m5.2xlarge", 8, 32, 47.0, 17.6),
    "c5.2xlarge": InstancePrice("c5.2xlarge", 8, 16, 41.5, 15.9),
}
RATES = cluster_rates([NodeCapacity("n1", "m5.2xlarge", "on-demand")], PRICES, 0.65)
# 47.0 x 0.65 / 8 = 3.81875 BDT per core-hour; x 730 = 2787.6875 per core-month
CORE_MONTH = 2787.6875
# 47.0 x 0.35 / 32 = 0.5140625 BDT per GiB-hour; x 730 = 375.265625 per GiB-month
GIB_MONTH = 375.265625


def container(
    cpu_request: float,
    memory_request: float,
    cpu_p95: float,
    memory_p95: float,
    memory_max: float | None = None,
    points: int = 336,
) -> ContainerUsage:
    return ContainerUsage(
        "main", cpu_request, memory_request, cpu_p95, cpu_p95, memory_p95, memory_max or memory_p95, points
    )


def test_price_split_per_core_and_per_gib() -> None:
    assert RATES.core_month == pytest.approx(CORE_MONTH)
    assert RATES.gib_month == pytest.approx(GIB_MONTH)
    assert RATES.spot_core_month == pytest.approx(1043.9)  # 17.6 x 0.65 / 8 x 730
    assert RATES.spot_gib_month == pytest.approx(140.525)  # 17.6 x 0.35 / 32 x 730


def test_mixed_cluster_is_priced_by_capacity_weighted_blend() -> None:
    nodes = [NodeCapacity("a", "m5.2xlarge", "on-demand"), NodeCapacity("b", "c5.2xlarge", "on-demand")]
    rates = cluster_rates(nodes, PRICES, 0.65)
    # CPU: (47.0 + 41.5) x 0.65 / 16 cores = 3.5953125 per hour; memory: 88.5 x 0.35 / 48 GiB = 0.6453125
    assert rates.core_month == pytest.approx(3.5953125 * 730)
    assert rates.gib_month == pytest.approx(0.6453125 * 730)


def test_unknown_instance_type_names_the_node() -> None:
    with pytest.raises(UnknownInstanceType, match=r"z9\.huge"):
        cluster_rates([NodeCapacity("n9", "z9.huge", "on-demand")], PRICES, 0.65)


def test_over_requesting_sizes_cpu_to_p95_and_memory_to_max_with_margin() -> None:
    web = WorkloadUsage("Deployment", "shop", "web", 4, (container(1.0, 2 * GIB, 0.1, 300 * MIB, 320 * MIB),))
    finding = right_size(web, RATES, CONFIG)
    assert finding is not None and finding.kind is FindingKind.OVER_REQUESTING
    # CPU 1000m -> 100m x 1.15 = 115m; memory 2048Mi -> 320Mi x 1.15 = 368Mi
    requests = {entry["resource"]: entry["to"] for entry in finding.change["requests"]}
    assert requests == {"cpu": pytest.approx(0.115), "memory": 368 * MIB}
    # per replica: 0.885 cores x 2787.6875 + 1680/1024 GiB x 375.265625 = 2467.1034375 + 615.6701171875
    assert finding.monthly_savings_bdt == pytest.approx(round(4 * (2467.1034375 + 615.6701171875), 2))
    assert finding.monthly_savings_bdt == pytest.approx(12331.09)
    assert finding.effort is Effort.LOW and finding.recommended


def test_usage_above_a_fifth_of_the_request_is_left_alone() -> None:
    busy = WorkloadUsage("Deployment", "shop", "busy", 2, (container(1.0, 2 * GIB, 0.21, 0.5 * GIB),))
    assert right_size(busy, RATES, CONFIG) is None


def test_hpa_workload_gets_request_and_target_that_keep_the_absolute_threshold() -> None:
    api = WorkloadUsage(
        "Deployment",
        "shop",
        "api",
        3,
        (container(0.5, GIB, 0.04, 0.6 * GIB),),
        hpa_targets=(HpaTarget("cpu", 50),),
    )
    finding = right_size(api, RATES, CONFIG)
    assert finding is not None and finding.kind is FindingKind.HPA_RIGHT_SIZING
    # threshold 50 % x 500m = 250m per pod. p95 40m x 1.15 = 46m would need a 543 % target, above the
    # 90 % cap, so the request is held at 250m / 0.9 = 277.8m -> 278m and the target is 250 / 278 = 90 %.
    (entry,) = finding.change["requests"]
    assert entry["to"] == pytest.approx(0.278)
    assert entry["hpa_average_utilization"] == {"from": 50, "to": 90}
    assert "250.0m per pod kept" in finding.detail
    # 3 replicas x (0.500 - 0.278) cores x 2787.6875 = 1856.599875
    assert finding.monthly_savings_bdt == pytest.approx(1856.60)
    assert finding.effort is Effort.MEDIUM and finding.recommended


def test_hpa_target_follows_the_request_when_the_cap_is_not_reached() -> None:
    api = WorkloadUsage(
        "Deployment", "shop", "api", 2, (container(0.5, GIB, 0.1, 0.6 * GIB),), hpa_targets=(HpaTarget("cpu", 20),)
    )
    finding = right_size(api, RATES, CONFIG)
    assert finding is not None
    # threshold 20 % x 500m = 100m; new request 100m x 1.15 = 115m; target 100 / 115 = 86.96 % -> 87 %
    (entry,) = finding.change["requests"]
    assert entry["to"] == pytest.approx(0.115)
    assert entry["hpa_average_utilization"]["to"] == 87
    # 2 x 0.385 x 2787.6875 = 2146.519375
    assert finding.monthly_savings_bdt == pytest.approx(2146.52)


def test_small_savings_for_a_disruptive_change_are_not_recommended() -> None:
    api = WorkloadUsage(
        "Deployment", "shop", "api", 3, (container(0.5, GIB, 0.04, 0.6 * GIB),), hpa_targets=(HpaTarget("cpu", 70),)
    )
    finding = right_size(api, RATES, CONFIG)
    assert finding is not None
    # 350m / 0.9 -> 389m; 3 x 0.111 x 2787.6875 = 928.2999375 BDT, under 2 x 500 for a medium-effort change
    assert finding.monthly_savings_bdt == pytest.approx(928.30)
    assert not finding.recommended


def test_multi_container_pod_under_an_hpa_says_why_it_is_not_co_tuned() -> None:
    two = (
        ContainerUsage("a", 0.5, GIB, 0.01, 0.01, 0.6 * GIB, 0.6 * GIB, 336),
        ContainerUsage("b", 0.5, GIB, 0.01, 0.01, 0.6 * GIB, 0.6 * GIB, 336),
    )
    api = WorkloadUsage("Deployment", "shop", "api", 3, two, hpa_targets=(HpaTarget("cpu", 70),))
    finding = right_size(api, RATES, CONFIG)
    assert finding is not None and finding.kind is FindingKind.HPA_RIGHT_SIZING
    assert finding.monthly_savings_bdt == 0 and not finding.recommended and not finding.change
    assert "several containers" in finding.detail


def test_fixed_replicas_with_swinging_load_want_an_hpa() -> None:
    checkout = WorkloadUsage(
        "Deployment",
        "shop",
        "checkout",
        6,
        (container(0.25, 512 * MIB, 0.2, 400 * MIB),),
        cpu_total_mean=0.675,
        cpu_total_peak=1.35,
    )
    finding = missing_hpa(checkout, RATES, CONFIG)
    assert finding is not None and finding.kind is FindingKind.NO_HPA
    # peak / mean = 2: an HPA runs 6 / 2 = 3 replicas on average, half the cost of
    # 1.5 cores x 2787.6875 + 3 GiB x 375.265625 = 5307.328125
    assert finding.monthly_savings_bdt == pytest.approx(2653.66)
    assert finding.change["hpa"] == {"min_replicas": 3, "max_replicas": 6, "resource": "cpu"}


def test_steady_load_needs_no_hpa() -> None:
    steady = WorkloadUsage(
        "Deployment", "shop", "s", 6, (container(0.25, GIB, 0.2, GIB),), cpu_total_mean=1.0, cpu_total_peak=1.2
    )
    assert missing_hpa(steady, RATES, CONFIG) is None


def test_all_on_demand_with_stateless_workloads_suggests_spot() -> None:
    workloads = [
        WorkloadUsage("Deployment", "shop", "web", 4, (container(1.0, 2 * GIB, 0.5, GIB),)),
        WorkloadUsage("Deployment", "shop", "checkout", 6, (container(0.25, 512 * MIB, 0.2, 400 * MIB),)),
        WorkloadUsage("StatefulSet", "shop", "db", 1, (container(2.0, 8 * GIB, 1, 6 * GIB),), stateless=False),
        WorkloadUsage("Deployment", "kube-system", "coredns", 2, (container(0.1, 70 * MIB, 0.05, 50 * MIB),)),
    ]
    finding = missing_spot_mix("acme", 0, workloads, RATES, CONFIG)
    assert finding is not None and finding.kind is FindingKind.NO_SPOT_MIX
    # movable: 4 x 1 + 6 x 0.25 = 5.5 cores, 4 x 2 + 6 x 0.5 = 11 GiB
    # on demand 5.5 x 2787.6875 + 11 x 375.265625 = 19460.203125; spot 5.5 x 1043.9 + 11 x 140.525 = 7287.225
    # half of the difference: 6086.4890625
    assert finding.monthly_savings_bdt == pytest.approx(6086.49)
    assert finding.effort is Effort.HIGH
    assert missing_spot_mix("acme", 2, workloads, RATES, CONFIG) is None


def test_analysis_names_idle_namespace_and_short_history() -> None:
    workloads = [
        WorkloadUsage("Deployment", "legacy", "reports", 2, (container(0.5, GIB, 0.001, 40 * MIB),)),
        WorkloadUsage("Deployment", "shop", "new", 2, (container(1.0, GIB, 0.01, 40 * MIB, points=24),)),
    ]
    findings = analyse("acme", workloads, ["legacy", "shop", "empty"], 1, RATES, CONFIG)
    kinds = {(f.kind, f.target) for f in findings}
    assert kinds == {(FindingKind.UNUSED_NAMESPACE, "legacy"), (FindingKind.NOT_ENOUGH_DATA, "shop/new")}
    unused = next(f for f in findings if f.kind is FindingKind.UNUSED_NAMESPACE)
    # 2 x (0.5 x 2787.6875 + 1 x 375.265625) = 3538.21875, and the idle workload is not also "over-requested"
    assert unused.monthly_savings_bdt == pytest.approx(3538.22)
    short = next(f for f in findings if f.kind is FindingKind.NOT_ENOUGH_DATA)
    assert short.monthly_savings_bdt == 0 and not short.recommended and "24 samples" in short.detail


def test_idle_workload_beside_busy_ones_is_an_idle_pod_finding() -> None:
    workloads = [
        WorkloadUsage("Deployment", "shop", "old-cron", 1, (container(0.2, 256 * MIB, 0.001, 10 * MIB),)),
        WorkloadUsage("Deployment", "shop", "web", 1, (container(0.2, 256 * MIB, 0.15, 200 * MIB),)),
    ]
    findings = analyse("acme", workloads, ["shop"], 1, RATES, CONFIG)
    (idle,) = findings
    assert idle.kind is FindingKind.IDLE_PODS
    # 0.2 x 2787.6875 + 0.25 x 375.265625 = 557.5375 + 93.81640625
    assert idle.monthly_savings_bdt == pytest.approx(651.35)


def test_quantile_interpolates_like_prometheus() -> None:
    assert quantile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) == pytest.approx(4.8)  # rank 3.8: 4 + 0.8 x 1
