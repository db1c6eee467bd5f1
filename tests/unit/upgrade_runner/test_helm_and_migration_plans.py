"""Helm release records as Helm writes them, what a migration drafts and carries, and the add-on
stage, without I/O."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

from k8sops_upgrade_runner.domain.helm import decode, new_revision, release_of_chart, render_manifest, secret_of
from k8sops_upgrade_runner.domain.migration import draft_plan, new_cluster_name, objects_to_carry, portable
from k8sops_upgrade_runner.domain.operation import OperationKind, State, Trigger, next_state
from k8sops_upgrade_runner.runner.baseline import clipped


def test_a_release_record_round_trips_in_helms_encoding() -> None:
    release = new_revision(
        [],
        name="ingress-nginx",
        namespace="ingress-nginx",
        chart={"name": "ingress-nginx", "version": "4.11.3", "appVersion": "1.11.3"},
        manifest=render_manifest([{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "c"}}], "x"),
        status="pending-install",
        description="Install in progress",
        now="2026-11-27T10:00:00+00:00",
    )
    secret = secret_of(release)
    assert secret["metadata"]["name"] == "sh.helm.release.v1.ingress-nginx.v1"
    assert secret["metadata"]["labels"] == {
        "name": "ingress-nginx",
        "owner": "helm",
        "status": "pending-install",
        "version": "1",
    }
    # base64 (the secret's data) of Helm's base64 of the gzipped JSON, read independently here.
    raw = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secret["data"]["release"]))))
    assert raw == release == decode(secret)
    assert "# Source: x/templates/deployment.yaml" in raw["manifest"]
    following = new_revision(
        [release], name="ingress-nginx", namespace="ingress-nginx", chart=release["chart"]["metadata"],
        manifest="", status="pending-upgrade", description="", now="2026-11-28T10:00:00+00:00",
    )  # fmt: skip
    assert following["version"] == 2 and following["info"]["first_deployed"] == "2026-11-27T10:00:00+00:00"
    assert release_of_chart([release, following], "ingress-nginx") == "ingress-nginx"
    assert release_of_chart([release], "cert-manager") is None
    assert decode({"metadata": {"name": "db-password", "labels": {}}, "data": {"release": "x"}}) is None


def workload(kind: str, namespace: str, name: str, labels: dict[str, str], **meta: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": {"template": {"metadata": {"labels": labels}}},
    }


def test_a_migration_request_drafts_the_old_clusters_shape() -> None:
    described = {
        "control_plane": {"version": "1.29.6"},
        "node_pools": [{"name": "apps", "instance_type": "m5.xlarge", "node_count": 3}],
    }
    workloads = [
        workload("Deployment", "shop", "web", {"app": "web"}),
        workload("DaemonSet", "monitoring", "node-exporter", {}),
        workload("Deployment", "kube-system", "coredns", {}),
        workload("StatefulSet", "billing", "db", {}),
        workload("Deployment", "shop", "web-7d9f", {}, ownerReferences=[{"controller": True}]),
    ]
    plan = draft_plan("acme-prod", "op-0123456789abcdef", described, workloads)
    assert plan["new_cluster"] == {
        "name": "acme-prod-01234567",
        "version": "1.29.6",
        "node_pools": [{"name": "apps", "instance_type": "m5.xlarge", "count": 3}],
    }
    assert [(w["kind"], w["namespace"], w["name"]) for w in plan["workloads"]] == [
        ("StatefulSet", "billing", "db"),
        ("Deployment", "shop", "web"),
    ]
    assert len(new_cluster_name("x" * 40, "op-0123456789abcdef")) <= 40


def named(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "shop"}}


def test_a_migration_carries_objects_in_dependency_order_and_only_what_moves() -> None:
    moved = [workload("Deployment", "shop", "web", {"app": "web", "tier": "front"})]
    listed: dict[str, list[dict[str, Any]]] = {
        "Ingress shop": [{"metadata": {"name": "web", "namespace": "shop"}}],
        "Service shop": [{"metadata": {"name": "web", "namespace": "shop"}}],
        "ServiceAccount shop": [{"metadata": {"name": "default", "namespace": "shop"}}],
        "Secret shop": [
            {"metadata": {"name": "tls", "namespace": "shop"}, "type": "Opaque"},
            {"metadata": {"name": "tok", "namespace": "shop"}, "type": "kubernetes.io/service-account-token"},
        ],
        "HorizontalPodAutoscaler shop": [
            {**named("web"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}}},
            {**named("api"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}}},
        ],
        "PodDisruptionBudget shop": [
            {**named("web"), "spec": {"selector": {"matchLabels": {"app": "web"}}}},
            {**named("api"), "spec": {"selector": {"matchLabels": {"app": "api"}}}},
        ],
    }
    carried = [(o["kind"], o["name"], o["stage"]) for o in objects_to_carry(listed, moved)]
    assert carried == [
        ("Secret", "tls", "before"),
        ("Service", "web", "before"),
        ("HorizontalPodAutoscaler", "web", "after"),
        ("PodDisruptionBudget", "web", "after"),
        ("Ingress", "web", "after"),
    ]
    bound = {"pv.kubernetes.io/bound-by-controller": "yes"}
    claim = {
        "metadata": {"name": "data", "namespace": "shop", "uid": "1", "annotations": bound},
        "spec": {"volumeName": "pv-1", "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound"},
    }
    assert portable("PersistentVolumeClaim", claim) == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "shop"},
        "spec": {"resources": {"requests": {"storage": "1Gi"}}},
    }
    service = {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"clusterIP": "10.0.0.7", "ports": [{"port": 80}]},
    }
    assert portable("Service", service)["spec"] == {"ports": [{"port": 80}]}


def test_an_addon_rollout_on_a_paired_production_cluster_is_staged_and_signed_off() -> None:
    addon = OperationKind.ADDON
    assert next_state(addon, State.PRECHECKING, Trigger.PRECHECK_PASSED, staged=True) is State.STAGING
    assert next_state(addon, State.PRECHECKING, Trigger.PRECHECK_PASSED, staged=False) is State.SCHEDULED
    assert next_state(addon, State.STAGING, Trigger.STAGE_PASSED) is State.AWAITING_SIGNOFF
    assert next_state(addon, State.STAGING, Trigger.STAGE_FAILED) is State.ROLLING_BACK
    assert next_state(addon, State.AWAITING_SIGNOFF, Trigger.SIGNED_OFF) is State.SCHEDULED
    reconcile = OperationKind.DRIFT_RECONCILE  # unchanged: nothing to stage
    assert next_state(reconcile, State.PRECHECKING, Trigger.PRECHECK_PASSED, staged=True) is State.SCHEDULED


def test_drift_values_on_the_event_are_bounded() -> None:
    assert clipped({"replicas": 3}) == {"replicas": 3}
    big = clipped("x" * 5000)
    assert isinstance(big, str) and len(big) < 1100 and big.endswith("(5002 characters)")
