"""Removed-API signals, pre-check findings, post-check against the baseline, the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from k8sops_upgrade_runner.domain.checks import (
    Baseline,
    ClusterSnapshot,
    NodeSnapshot,
    PdbSnapshot,
    Severity,
    WorkloadSnapshot,
    baseline_of,
    evaluate_precheck,
    is_blocked,
    parse_quantity,
    postcheck_problems,
)
from k8sops_upgrade_runner.domain.removed_apis import (
    HelmRelease,
    Signal,
    from_helm,
    from_last_applied,
    from_metrics,
)
from k8sops_upgrade_runner.domain.report import build_report, render_markdown
from k8sops_upgrade_runner.domain.versions import Version

METRICS = """# HELP apiserver_requested_deprecated_apis Gauge of deprecated APIs that have been requested
apiserver_requested_deprecated_apis{group="policy",removed_release="1.25",\
resource="poddisruptionbudgets",subresource="",version="v1beta1"} 1
apiserver_requested_deprecated_apis{group="autoscaling",removed_release="1.26",\
resource="horizontalpodautoscalers",subresource="",version="v2beta2"} 1
apiserver_request_total{code="200"} 12
"""


def applied(api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
    annotation = json.dumps(
        {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}}
    )
    return {
        # What the API server returns: always the version the client listed at.
        "apiVersion": "policy/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": annotation},
        },
    }


def test_metric_signal_flags_only_what_the_target_removes() -> None:
    at_125 = from_metrics(METRICS, Version(1, 25))
    assert [(f.kind, f.signal) for f in at_125] == [("PodDisruptionBudget", Signal.METRIC)]
    assert "removed_release='1.25'" in at_125[0].evidence
    assert {f.kind for f in from_metrics(METRICS, Version(1, 26))} == {"PodDisruptionBudget", "HorizontalPodAutoscaler"}


def test_last_applied_reads_the_annotation_never_the_listed_version() -> None:
    objects: list[dict[str, Any]] = [
        applied("policy/v1beta1", "PodDisruptionBudget", "billing", "old"),
        applied("policy/v1", "PodDisruptionBudget", "billing", "new"),
        {
            "apiVersion": "policy/v1beta1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "listed", "namespace": "x"},
        },
    ]
    findings = from_last_applied(objects, Version(1, 25))
    assert [(f.object_ref, f.signal) for f in findings] == [("billing/old", Signal.LAST_APPLIED)]


def test_helm_uses_the_latest_revision_only() -> None:
    old_doc = {"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "job"}}
    new_doc = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "job"}}
    releases = [HelmRelease("app", "ns", 1, (old_doc,)), HelmRelease("app", "ns", 2, (new_doc,))]
    assert from_helm(releases, Version(1, 25)) == []
    findings = from_helm([HelmRelease("app", "ns", 3, (old_doc,)), *releases], Version(1, 25))
    assert [(f.object_ref, f.signal) for f in findings] == [("ns/job", Signal.HELM)]
    assert "sh.helm.release.v1.app.v3" in findings[0].evidence


GI = Decimal(2**30)


def node(name: str, movable_cpu: str = "1", requested_cpu: str = "2", version: str = "v1.29.6") -> NodeSnapshot:
    return NodeSnapshot(
        name,
        "apps",
        version,
        True,
        False,
        Decimal(4),
        16 * GI,
        Decimal(requested_cpu),
        4 * GI,
        Decimal(movable_cpu),
        2 * GI,
    )


def snapshot(nodes: list[NodeSnapshot], **overrides: object) -> ClusterSnapshot:
    values: dict[str, object] = {
        "control_plane": Version(1, 29, 6),
        "nodes": nodes,
        "pdbs": [],
        "workloads": [],
        "unhealthy_pods": {},
        "surge_available": 1,
    }
    values.update(overrides)
    return ClusterSnapshot(**values)  # type: ignore[arg-type]


def test_precheck_green_cluster_is_not_blocked() -> None:
    findings = evaluate_precheck(snapshot([node("a"), node("b")]), Version(1, 30), [])
    assert not is_blocked(findings)
    assert {f.code for f in findings} == {"capacity-headroom", "surge-quota"}


def test_precheck_blocking_pdb_and_single_replica() -> None:
    pdbs = [
        PdbSnapshot("payments/ledger-pdb", 0, 2, {"app": "ledger"}),
        PdbSnapshot("shop/db-pdb", 1, 1, {"app": "db"}),
    ]
    workloads = [WorkloadSnapshot("StatefulSet", "shop/db", 1, 1, {"app": "db"})]
    findings = evaluate_precheck(snapshot([node("a"), node("b")], pdbs=pdbs, workloads=workloads), Version(1, 30), [])
    blocking = {(f.code, f.subject) for f in findings if f.severity is Severity.BLOCKING}
    assert blocking == {
        ("blocking-pdb", "PodDisruptionBudget payments/ledger-pdb"),
        ("single-replica-behind-pdb", "StatefulSet shop/db"),
    }


def test_precheck_skew_and_headroom() -> None:
    crowded = [node("a", movable_cpu="3", requested_cpu="4", version="v1.26.1"), node("b", requested_cpu="4")]
    findings = evaluate_precheck(snapshot(crowded, surge_available=0), Version(1, 30), [])
    assert {(f.code, f.severity) for f in findings if f.severity is not Severity.INFO} == {
        ("version-skew", Severity.BLOCKING),
        ("capacity-headroom", Severity.BLOCKING),
    }
    with_surge = evaluate_precheck(snapshot(crowded[1:] + crowded[:1], surge_available=2), Version(1, 30), [])
    assert ("capacity-headroom", Severity.WARNING) in {(f.code, f.severity) for f in with_surge}


def test_postcheck_compares_with_the_baseline() -> None:
    before = snapshot(
        [node("a")],
        workloads=[
            WorkloadSnapshot("Deployment", "shop/web", 3, 3),
            WorkloadSnapshot("Deployment", "shop/flaky", 2, 1),
        ],
        unhealthy_pods={"shop/flaky-x": "CrashLoopBackOff"},
    )
    baseline = Baseline.from_dict(baseline_of(before).as_dict())
    good = snapshot(
        [node("a", version="v1.30.0")],
        workloads=[
            WorkloadSnapshot("Deployment", "shop/web", 3, 3),
            WorkloadSnapshot("Deployment", "shop/flaky", 2, 1),
        ],
        unhealthy_pods={"shop/flaky-x": "CrashLoopBackOff"},
    )
    assert postcheck_problems(baseline, good, Version(1, 30)) == []
    bad = snapshot(
        [node("a", version="v1.29.6")],
        workloads=[WorkloadSnapshot("Deployment", "shop/web", 3, 2)],
        unhealthy_pods={"shop/web-y": "CrashLoopBackOff"},
    )
    assert postcheck_problems(baseline, bad, Version(1, 30)) == [
        "Node a runs v1.29.6, not 1.30",
        "Deployment shop/web: 2/3 available (baseline 3)",
        "Pod shop/web-y: CrashLoopBackOff",
    ]


def test_quantities() -> None:
    assert parse_quantity("250m") == Decimal("0.25")
    assert parse_quantity("1Gi") == GI
    assert parse_quantity("4") == 4
    assert parse_quantity(None) == 0


def test_report_lists_steps_findings_and_nodes() -> None:
    start = datetime(2026, 1, 9, 20, tzinfo=UTC)
    operation = {
        "operation_id": "op-1", "kind": "upgrade", "engagement_id": "eng", "cluster_id": "c1", "cluster_name": "prod",
        "from_version": "1.29.6", "to_version": "1.30", "state": "completed", "emergency": False,
        "stage": {"stage_ref": "stg-1", "cluster_name": "staging", "result": "passed"},
        "signoff": {"signed_by": "admin@c", "at": "2026-01-09T19:00:00+00:00", "stage_ref": "stg-1"},
        "findings": [{"code": "surge-quota", "severity": "info", "subject": "platform", "message": "1 available", "evidence": "", "signal": None}],  # noqa: E501
        "postcheck": {"problems": []}, "rollback": None, "failure": None,
    }  # fmt: skip
    steps = [
        {"from_state": "scheduled", "to_state": "upgrading_nodes", "at": start, "actor": "system", "detail": ""},
        {"from_state": "upgrading_nodes", "to_state": "completed", "at": start + timedelta(seconds=90), "actor": "system", "detail": ""},  # noqa: E501
    ]  # fmt: skip
    nodes = [
        {"cluster_name": "prod", "pool": "apps", "node": "n1", "phase": "done", "from_version": "1.29.6",
         "to_version": "1.30.0", "started_at": start, "finished_at": start, "touched": ["cordon", "uncordon"], "detail": ""},  # noqa: E501
    ]  # fmt: skip
    report = build_report(operation, steps, nodes)
    assert report["steps"][0]["seconds"] == 90.0
    assert report["node_pools"]["prod/apps"][0]["node"] == "n1"
    markdown = render_markdown(report)
    assert "# Upgrade report: prod 1.29.6 → 1.30" in markdown
    assert "| n1 | done | 1.29.6 | 1.30.0 |" in markdown
    assert "Signed off by admin@c" in markdown
