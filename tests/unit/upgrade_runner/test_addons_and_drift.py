"""The add-on catalogue and compatibility rule, and the drift normaliser, without I/O."""

from __future__ import annotations

from typing import Any

import pytest

from k8sops_upgrade_runner.domain.addons import catalogue, compatibility_findings, inventory, rollout_problem
from k8sops_upgrade_runner.domain.drift import diff, drift, normalise
from k8sops_upgrade_runner.domain.removed_apis import HelmRelease
from k8sops_upgrade_runner.domain.versions import Version
from k8sops_upgrade_runner.runner.gitsource import GitSourceError, read_manifests


def deployment(image: str, name: str = "ingress-nginx-controller", namespace: str = "ingress-nginx") -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "controller", "image": image}]}}},
    }


def test_catalogue_lists_the_managed_addons_with_supported_minors() -> None:
    addons = catalogue()
    assert set(addons) == {"ingress-nginx", "cert-manager", "external-dns", "metrics-server", "node-exporter"}
    nginx = addons["ingress-nginx"]
    assert [v.version for v in nginx.versions if v.supports(Version(1, 30))] == ["1.11.3", "1.12.0"]
    assert not nginx.versions[0].supports(Version(1, 29))


def test_running_image_wins_over_a_stale_helm_record_and_helm_counts_alone() -> None:
    stale = HelmRelease("ingress-nginx", "ingress-nginx", 3, (), "ingress-nginx", "4.9.1", "1.9.6")
    certs = HelmRelease("cert-manager", "cert-manager", 1, (), "cert-manager", "v1.13.6", "v1.13.6")
    found = inventory([deployment("registry.k8s.io/ingress-nginx/controller:v1.10.1@sha256:abc")], [stale, certs])
    assert [(i.addon, i.version, i.source) for i in found] == [
        ("cert-manager", "1.13.6", "helm-release"),
        ("ingress-nginx", "1.10.1", "workload"),
    ]
    findings = compatibility_findings(found, Version(1, 30))
    assert [f.subject for f in findings] == [
        "add-on cert-manager 1.13.6 (cert-manager)",
        "add-on ingress-nginx 1.10.1 (ingress-nginx)",
    ]
    assert "upgrade cert-manager to 1.14.7" in findings[0].message
    assert "sh.helm.release.v1.cert-manager.v1" in findings[0].evidence


def test_an_uncatalogued_version_blocks_as_unknown() -> None:
    found = inventory([deployment("registry.k8s.io/ingress-nginx/controller:v1.8.0")], [])
    [finding] = compatibility_findings(found, Version(1, 29))
    assert "not in the add-on catalogue" in finding.message and "1.10.1" in finding.message


def test_rollout_waits_for_the_new_generation_and_every_replica() -> None:
    live = {**deployment("x:v1"), "metadata": {"name": "a", "namespace": "b", "generation": 2}}
    assert rollout_problem({**live, "status": {"observedGeneration": 1}}, "x:v1")
    ready = {"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 1}
    assert rollout_problem({**live, "status": ready}, "x:v1") == "1 of 2 replicas of x:v1 available"
    assert rollout_problem({**live, "status": {**ready, "availableReplicas": 2}}, "x:v1") is None


def test_normalise_drops_server_fields_and_defaults() -> None:
    live = {
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop", "uid": "u", "resourceVersion": "9", "managedFields": []},
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"port": 80, "protocol": "TCP"}],
            "clusterIP": "10.0.0.7",
            "type": "ClusterIP",
            "sessionAffinity": "None",
        },
        "status": {"loadBalancer": {}},
    }
    desired = {
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    assert normalise(live) == desired
    assert diff(desired, live) == []


def test_drift_per_object_and_only_the_changed_fields() -> None:
    desired = [deployment("nginx:1.27.0", "web", "shop"), deployment("nginx:1.27.0", "gone", "shop")]
    changed = deployment("nginx:1.27.1", "web", "shop")
    changed["status"] = {"availableReplicas": 2}
    extra = {"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "shop"}, "data": {}}
    system = {"kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": "shop"}}
    findings = [f.as_dict() for f in drift(desired, [changed, extra, system])]
    assert findings == [
        {"object": "ConfigMap shop/x", "drift": "extra", "changes": []},
        {"object": "Deployment shop/gone", "drift": "missing", "changes": []},
        {
            "object": "Deployment shop/web",
            "drift": "changed",
            "changes": [
                {
                    "path": "spec.template.spec.containers[controller].image",
                    "desired": "nginx:1.27.0",
                    "live": "nginx:1.27.1",
                }
            ],
        },
    ]


async def test_git_source_refuses_local_repositories_and_paths_outside_unless_allowed() -> None:
    with pytest.raises(GitSourceError, match="file:// repositories are not allowed"):
        await read_manifests("file:///etc", "main", ".")
    with pytest.raises(GitSourceError, match="must stay inside the repository"):
        await read_manifests("https://git.example/x.git", "main", "../../etc", allow_local=True)


def test_a_git_path_declares_objects_not_the_whole_cluster() -> None:
    extra = {"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "shop"}, "data": {}}
    assert drift([], [extra], report_extra=False) == []
