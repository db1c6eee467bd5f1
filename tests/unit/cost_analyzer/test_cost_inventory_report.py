"""Kubernetes objects into workloads and posture inputs, usage samples, and the report's formats."""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

import pytest

from k8sops_cost_analyzer.domain.findings import Effort, Finding, FindingKind
from k8sops_cost_analyzer.domain.inventory import (
    build_inventory,
    namespace_groups,
    node_info,
    workload_specs,
    workload_usage,
)
from k8sops_cost_analyzer.domain.posture import Category, PostureFinding, Severity
from k8sops_cost_analyzer.domain.pricing import InstancePrice, NodeCapacity, cluster_rates
from k8sops_cost_analyzer.domain.quantity import parse_quantity
from k8sops_cost_analyzer.domain.report import build_report, render_html, render_markdown
from k8sops_cost_analyzer.domain.review import scorecard
from k8sops_cost_analyzer.domain.usage import Samples


def node(name: str, capacity: str = "on-demand", ready: str = "True") -> dict[str, Any]:
    labels = {"node.kubernetes.io/instance-type": "m5.2xlarge", "karpenter.sh/capacity-type": capacity}
    return {
        "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{"type": "Ready", "status": ready}], "nodeInfo": {"kubeletVersion": "v1.30.4"}},
    }


def meta(name: str, namespace: str = "shop", owner: tuple[str, str] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"name": name, "namespace": namespace}
    if owner:
        result["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return result


def deployment(name: str, replicas: int, container: dict[str, Any], **pod: Any) -> dict[str, Any]:
    spec = {"containers": [container], **pod}
    return {"kind": "Deployment", "metadata": meta(name), "spec": {"replicas": replicas, "template": {"spec": spec}}}


WEB = {"name": "web", "image": "nginx:1.27", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}


def inventory_of_web() -> Any:
    replica_set = {"metadata": meta("web-abc", owner=("Deployment", "web"))}
    pods = [
        {"metadata": meta(f"web-abc-{i}", owner=("ReplicaSet", "web-abc")), "status": {"phase": "Running"}}
        for i in range(2)
    ]
    hpa = {
        "metadata": meta("web"),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
                }
            ],
        },
    }
    binding = {
        "metadata": {"name": "ops"},
        "roleRef": {"name": "cluster-admin"},
        "subjects": [{"kind": "User", "name": "ops@example"}],
    }
    return build_inventory(
        "v1.30.4",
        [node("n1"), node("n2", "spot", "False")],
        [{"metadata": {"name": "shop"}}, {"metadata": {"name": "empty"}}],
        [deployment("web", 2, WEB, hostNetwork=True)],
        [replica_set],
        pods,
        [hpa],
        [{"metadata": meta("deny")}],
        [binding],
    )


def test_pods_are_traced_to_their_deployment_through_the_replica_set() -> None:
    inventory = inventory_of_web()
    assert inventory.pods_per_workload == {("Deployment", "shop", "web"): 2}
    assert inventory.namespaces_with_policy == {"shop"}
    assert inventory.bindings[0].subjects == ("User ops@example",)
    assert [(n.capacity_type, n.ready) for n in inventory.nodes] == [("on-demand", True), ("spot", False)]
    cpu = {
        ("shop", "web-abc-0", "web"): Samples.of([(0.0, 0.1), (1.0, 0.3)]),
        ("shop", "web-abc-1", "web"): Samples.of([(0.0, 0.2), (1.0, 0.2)]),
    }
    (web,) = workload_usage(inventory, cpu, {})
    assert web.replicas == 2 and web.hpa_targets[0].average_utilization == 60
    assert web.containers[0].cpu_request == 0.5 and web.containers[0].memory_request == 2.0**30
    assert web.containers[0].cpu_max == 0.3
    assert (web.cpu_total_mean, web.cpu_total_peak) == pytest.approx((0.4, 0.5))  # sums 0.3 and 0.5


def test_workload_specs_read_security_context_and_volumes() -> None:
    (spec,) = workload_specs(inventory_of_web())
    assert spec.host_network and not spec.host_path
    assert spec.containers[0].runs_as_root and not spec.containers[0].has_limits
    hardened = dict(WEB, securityContext={"runAsUser": 1000}, readinessProbe={"httpGet": {"port": 80}})
    inventory = build_inventory("v1.30.4", [], [], [deployment("api", 1, hardened)], [], [], [], [], [])
    (api,) = workload_specs(inventory)
    assert not api.containers[0].runs_as_root and api.containers[0].has_probes


def test_spot_is_read_from_the_usual_capacity_labels() -> None:
    gke = {"metadata": {"name": "g", "labels": {"cloud.google.com/gke-spot": "true"}}, "status": {}}
    assert node_info(gke).capacity_type == "spot" and node_info(gke).instance_type == "unknown"


def test_namespaces_are_grouped_by_pod_count_for_usage_queries() -> None:
    inventory = inventory_of_web()
    inventory.pod_owner.update({("a", f"p{i}"): ("Deployment", "a", "x") for i in range(3)})
    assert namespace_groups(inventory, 3) == [["a"], ["shop"]]
    assert namespace_groups(inventory, 10) == [["a", "shop"]]


def test_samples_drop_values_that_are_not_numbers() -> None:
    samples = Samples.of([(0.0, 1.0), (1.0, math.nan), (2.0, math.inf), (3.0, 2.0)])
    assert list(samples) == [(0.0, 1.0), (3.0, 2.0)] and len(samples) == 2


@pytest.mark.parametrize(
    ("text", "value"), [("500m", 0.5), ("1Gi", 2.0**30), ("250000n", 0.00025), ("2", 2.0), ("1k", 1000)]
)
def test_quantities(text: str, value: float) -> None:
    assert parse_quantity(text) == pytest.approx(value)


def test_bad_quantity_is_named() -> None:
    with pytest.raises(ValueError, match="12xb"):
        parse_quantity("12xb")


def test_report_formats_carry_the_same_figures_and_the_page_is_self_contained() -> None:
    inventory = inventory_of_web()
    rates = cluster_rates(
        [NodeCapacity("n1", "m5.2xlarge", "on-demand")],
        {"m5.2xlarge": InstancePrice("m5.2xlarge", 8, 32, 47.0, 17.6)},
        0.65,
    )
    finding = Finding(
        FindingKind.OVER_REQUESTING, "shop/web", "Requests <far> above usage", "x", 1234.5, Effort.LOW, True
    )
    posture = [PostureFinding("host-network", Category.SECURITY, Severity.HIGH, "shop/web", "hostNetwork")]
    (web,) = workload_usage(inventory, {}, {})
    header = {
        "analysis_id": "a1",
        "kind": "health-review",
        "engagement_id": "e",
        "cluster_id": "c",
        "cluster_name": "c",
        "quarter": "2026-Q4",
        "request_id": None,
        "generated_at": "2026-11-27T00:00:00+00:00",
        "usage_source": "prometheus",
    }
    trend = [{"quarter": "2026-Q3", "monthly_request_cost_bdt": 5000.0, "recommended_savings_bdt": 0.0}]
    report = build_report(
        header=header, inventory=inventory, workloads=[web], findings=[finding], posture=posture,
        scores=scorecard([(Category.SECURITY, Severity.HIGH)], {"security": 1}), rates=rates, trend=trend,
        resurfaced=[], today=date(2026, 11, 27),
    )  # fmt: skip
    # 2 replicas x (0.5 cores x 2787.6875 + 1 GiB x 375.265625) = 3538.22
    assert report["cost"]["monthly_request_cost_bdt"] == pytest.approx(3538.22)
    markdown, page = render_markdown(report), render_html(report)
    for figure in ("1,234.50 BDT", "3,538.22 BDT", "5,000.00 BDT"):
        assert figure in markdown and figure in page
    assert "| security | 3 | 1 | worse |" in markdown
    assert "&lt;far&gt;" in page and "<far>" not in page  # names from a cluster are escaped
    assert '<svg id="cost-trend"' in page and len(re.findall(r"<rect ", page)) == 4
    assert "<script" not in page and "src=" not in page and "href=" not in page
