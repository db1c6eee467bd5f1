"""Pure pieces of the sandbox: selectors, patches, PromQL, usage maths, scenarios, version rules."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from k8sops_sandbox.cluster import ClusterState
from k8sops_sandbox.faults import FaultRegistry
from k8sops_sandbox.patch import PatchError, json_patch, merge_patch
from k8sops_sandbox.platform import PlatformError, PlatformService
from k8sops_sandbox.promql import Evaluator, PromQLError, Sample, Series, Value, parse, parse_duration
from k8sops_sandbox.quantity import format_cpu, format_memory, parse_quantity
from k8sops_sandbox.resources import served_resources
from k8sops_sandbox.scenario import Scenario, load_scenario
from k8sops_sandbox.selectors import SelectorError, match_label_selector, parse_field_selector, parse_label_selector
from k8sops_sandbox.server import build_sandbox
from k8sops_sandbox.usage import ContainerProfile


def test_label_selectors() -> None:
    labels = {"app": "web", "tier": "front", "track": "stable"}
    assert parse_label_selector("app=web,tier!=back")(labels)
    assert parse_label_selector("app in (web, api),track notin (canary)")(labels)
    assert parse_label_selector("tier,!missing")(labels)
    assert not parse_label_selector("app==api")(labels)
    assert not parse_label_selector("!tier")(labels)
    with pytest.raises(SelectorError):
        parse_label_selector("app in (web")
    assert match_label_selector({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}, labels)
    assert not match_label_selector({"matchLabels": {"app": "api"}}, labels)


def test_field_selectors() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
    assert parse_field_selector("spec.nodeName=n1,status.phase!=Failed")(pod)
    assert not parse_field_selector("metadata.namespace=other")(pod)
    assert parse_field_selector("spec.unschedulable!=true")({"spec": {}})


def test_patches() -> None:
    node: dict[str, Any] = {"spec": {"unschedulable": True, "podCIDR": "x"}, "metadata": {"labels": {"a": "1"}}}
    assert merge_patch(node, {"spec": {"unschedulable": None}}) == {
        "spec": {"podCIDR": "x"},
        "metadata": {"labels": {"a": "1"}},
    }
    patched = json_patch(
        node,
        [
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
            {"op": "replace", "path": "/spec/unschedulable", "value": False},
            {"op": "remove", "path": "/spec/podCIDR"},
        ],
    )
    assert patched == {"spec": {"unschedulable": False}, "metadata": {"labels": {"a": "1", "b": "2"}}}
    assert node["spec"]["podCIDR"] == "x", "patches must not modify their input"
    with pytest.raises(PatchError):
        json_patch(node, [{"op": "test", "path": "/spec/unschedulable", "value": False}])


@given(st.integers(min_value=1, max_value=64_000))
def test_cpu_quantities_round_trip(millis: int) -> None:
    assert parse_quantity(format_cpu(millis / 1000)) == pytest.approx(millis / 1000)


def test_quantities() -> None:
    assert parse_quantity("512Mi") == 512 * 2**20
    assert parse_quantity("1.5") == 1.5 and parse_quantity("2G") == 2e9
    assert format_memory(3 * 2**30) == "3Gi"
    with pytest.raises(ValueError):
        parse_quantity("12 bananas")


def test_served_versions_follow_the_cluster_version() -> None:
    assert ("policy", "v1beta1") in served_resources((1, 24))
    assert ("policy", "v1beta1") not in served_resources((1, 25))
    assert ("autoscaling", "v2beta2") in served_resources((1, 25))
    assert ("autoscaling", "v2beta2") not in served_resources((1, 26))
    assert ("flowcontrol.apiserver.k8s.io", "v1beta3") in served_resources((1, 31))
    assert ("flowcontrol.apiserver.k8s.io", "v1beta3") not in served_resources((1, 32))


def _linear(slope: float) -> Callable[[float], float]:
    return lambda moment: slope * moment


def _samples(value: Value) -> list[Sample]:
    assert isinstance(value, list)
    return [s for s in value if isinstance(s, Sample)]


def test_promql_parse_and_evaluate() -> None:
    series = [Series({"__name__": "m", "pod": f"web-{i}", "ns": "a"}, _linear(i)) for i in range(1, 4)]
    evaluator = Evaluator(series)
    rates = _samples(evaluator.eval(parse('rate(m{ns="a"}[5m])'), 3000.0))
    assert sorted(s.value for s in rates) == pytest.approx([1.0, 2.0, 3.0])
    total = _samples(evaluator.eval(parse('sum by (ns) (rate(m{pod=~"web-[12]"}[1m])) * 2'), 3000.0))
    assert [(s.labels, s.value) for s in total] == [({"ns": "a"}, pytest.approx(6.0))]
    q = _samples(evaluator.eval(parse("quantile_over_time(0.5, max(m) by (pod)[10m:1m])"), 3000.0))
    assert sorted(round(s.value) for s in q) == [2730, 5460, 8190]
    assert evaluator.eval(parse("1 + 2 * 3"), 0.0) == 7.0
    assert parse_duration("1h30m") == 5400
    for broken in ("rate(m{ns=a}[5m])", "sum(", "m[5x]", 'rate(m{ns="a"})'):
        with pytest.raises(PromQLError):
            evaluator.eval(parse(broken), 3000.0)


def test_cpu_counter_is_the_integral_of_the_rate() -> None:
    profile = ContainerProfile(0.5, 2**30, 0.6, 1.0, 2.0, 3.0, 42)
    start, end, steps = 1_750_000_000.0, 1_750_003_600.0, 3600
    numeric = sum(profile.cpu_rate(start + (i + 0.5)) for i in range(steps))
    assert profile.cpu_seconds(end) - profile.cpu_seconds(start) == pytest.approx(numeric, rel=1e-6)
    assert all(profile.cpu_rate(start + i * 600) > 0 for i in range(200))
    assert not math.isnan(profile.memory_bytes(end))


def test_same_scenario_builds_the_same_cluster() -> None:
    def snapshot() -> list[tuple[str, str, str]]:
        sandbox = build_sandbox(load_scenario("healthy-small"))
        return [
            (p["metadata"]["name"], p["metadata"]["uid"], p["spec"]["nodeName"])
            for cluster in sandbox.clusters.values()
            for p in cluster.store.items("pods")
        ]

    first = snapshot()
    assert first == snapshot() and len(first) == 44


def test_scenario_validation_names_the_problem() -> None:
    raw = {
        "name": "bad",
        "instance_types": {},
        "clusters": [{"name": "c", "version": "1.30", "node_pools": [{"name": "p", "instance_type": "x", "count": 1}]}],
    }
    with pytest.raises(ValidationError, match="unknown instance type x"):
        Scenario.model_validate(raw)
    with pytest.raises(FileNotFoundError, match="healthy-small"):
        load_scenario("no-such-scenario")


async def test_control_plane_refuses_to_skip_a_minor() -> None:
    scenario = load_scenario("healthy-small")
    cluster = ClusterState(scenario, scenario.clusters[0], FaultRegistry())
    cluster.seed()
    service = PlatformService({cluster.name: cluster}, scenario)
    with pytest.raises(PlatformError) as skipped:
        service.upgrade_control_plane(cluster.name, "1.31")
    assert skipped.value.kind == "version-skip" and "1.30" in skipped.value.detail
    with pytest.raises(PlatformError) as downgrade:
        service.upgrade_control_plane(cluster.name, "1.28")
    assert downgrade.value.kind == "version-skip"
    with pytest.raises(PlatformError) as rollback:
        service.upgrade_node_pool(cluster.name, "apps", "", rollback=True)
    assert rollback.value.kind == "no-previous-version"
