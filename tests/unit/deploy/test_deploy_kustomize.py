"""`kubectl kustomize deploy/` renders, for every service, the objects the platform needs on
Kubernetes, wired to each other, probing the right endpoints, with settings the code reads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def manifests(repo_root: Path) -> list[Manifest]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl not on PATH: run the suite with `python3 dev.py test` (it puts .venv/bin first)"
    rendered = subprocess.run(
        [kubectl, "kustomize", str(repo_root / "deploy")], capture_output=True, text=True, timeout=60, check=False
    )
    assert rendered.returncode == 0, rendered.stderr
    return [document for document in yaml.safe_load_all(rendered.stdout) if document]


def _find(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _container(workload: Manifest) -> Manifest:
    containers: list[Manifest] = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _pod_labels(workload: Manifest) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def _resolved_env(manifests: list[Manifest], namespace: str, container: Manifest) -> dict[str, Any]:
    """Name -> value (a literal or the env entry's valueFrom), with envFrom ConfigMaps expanded."""
    environment: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, "only ConfigMaps may be expanded wholesale"
        config_map = _find(manifests, "ConfigMap", source["configMapRef"]["name"])
        assert config_map["metadata"]["namespace"] == namespace
        environment.update(config_map["data"])
    for variable in container.get("env", []):
        environment[variable["name"]] = variable.get("value", variable.get("valueFrom"))
    return environment


def test_service_has_all_its_objects(manifests: list[Manifest], service: str) -> None:
    name = f"k8sops-{service}"
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceAccount"):
        _find(manifests, kind, name)
    _find(manifests, "Job", f"k8sops-migrate-{service}")


def test_objects_are_wired_to_the_deployment(manifests: list[Manifest], service: str) -> None:
    name = f"k8sops-{service}"
    deployment = _find(manifests, "Deployment", name)
    pod_labels = _pod_labels(deployment)
    assert _selects(deployment["spec"]["selector"]["matchLabels"], pod_labels)
    assert _selects(_find(manifests, "Service", name)["spec"]["selector"], pod_labels)
    assert _selects(_find(manifests, "PodDisruptionBudget", name)["spec"]["selector"]["matchLabels"], pod_labels)
    hpa = _find(manifests, "HorizontalPodAutoscaler", name)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert hpa["spec"]["minReplicas"] >= 2, "one replica leaves the PDB nothing to protect"
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == name
    job = _find(manifests, "Job", f"k8sops-migrate-{service}")
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == name
    assert not _selects(deployment["spec"]["selector"]["matchLabels"], _pod_labels(job)), "Deployment adopts Job pods"


def test_probes_hit_health_endpoints_on_the_service_port(manifests: list[Manifest], service: str, port: int) -> None:
    deployment = _find(manifests, "Deployment", f"k8sops-{service}")
    container = _container(deployment)
    named_ports = {entry.get("name"): entry["containerPort"] for entry in container["ports"]}
    assert list(named_ports.values()) == [port]

    def probed(probe: str) -> tuple[str, int]:
        http_get = container[probe]["httpGet"]
        return http_get["path"], named_ports.get(http_get["port"], http_get["port"])

    assert probed("readinessProbe") == ("/readyz", port)
    assert probed("livenessProbe") == ("/healthz", port)
    (service_port,) = _find(manifests, "Service", f"k8sops-{service}")["spec"]["ports"]
    assert service_port["port"] == port
    assert named_ports.get(service_port["targetPort"], service_port["targetPort"]) == port


def test_pods_run_as_non_root_with_resources(manifests: list[Manifest], service: str) -> None:
    for workload in (
        _find(manifests, "Deployment", f"k8sops-{service}"),
        _find(manifests, "Job", f"k8sops-migrate-{service}"),
    ):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        container = _container(workload)
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]


def test_environment_names_are_settings_the_service_reads(
    manifests: list[Manifest], service: str, settings_names: frozenset[str], required_env: frozenset[str]
) -> None:
    for workload in (
        _find(manifests, "Deployment", f"k8sops-{service}"),
        _find(manifests, "Job", f"k8sops-migrate-{service}"),
    ):
        names = set(_resolved_env(manifests, workload["metadata"]["namespace"], _container(workload)))
        unknown = names - settings_names
        assert not unknown, (
            f"{workload['metadata']['name']} sets {sorted(unknown)}, which ServiceSettings does not read"
        )
        needed = required_env if workload["kind"] == "Deployment" else {"DATABASE_URL", "K8SOPS_DB_SCHEMA"}
        missing = needed - names
        assert not missing, f"{workload['metadata']['name']} lacks {sorted(missing)}"


def test_environment_values_belong_to_the_service(
    manifests: list[Manifest], service: str, port: int, module: str, schema: str
) -> None:
    deployment = _find(manifests, "Deployment", f"k8sops-{service}")
    job = _find(manifests, "Job", f"k8sops-migrate-{service}")
    assert _container(deployment)["args"] == [module, "serve"]
    assert _container(job)["args"] == [module, "migrate"]
    for workload in (deployment, job):
        environment = _resolved_env(manifests, workload["metadata"]["namespace"], _container(workload))
        assert environment["K8SOPS_SERVICE_NAME"] == service
        assert environment["K8SOPS_DB_SCHEMA"] == schema
        assert environment["K8SOPS_HTTP_PORT"] == str(port)
        assert environment["DATABASE_URL"] == {
            "secretKeyRef": {"name": f"k8sops-db-{service}", "key": "DATABASE_URL"}
        }, "each service reads its own role's URL from its own Secret"
    environment = _resolved_env(manifests, deployment["metadata"]["namespace"], _container(deployment))
    assert environment["K8SOPS_HTTP_HOST"] == "0.0.0.0"
    assert set(environment["K8SOPS_JWT_SECRET"]) == {"secretKeyRef"}


def test_no_secret_is_committed(manifests: list[Manifest]) -> None:
    assert not [m["metadata"]["name"] for m in manifests if m["kind"] == "Secret"]
    for config_map in (m for m in manifests if m["kind"] == "ConfigMap"):
        assert not {"DATABASE_URL", "K8SOPS_DATABASE_URL", "K8SOPS_JWT_SECRET"} & set(config_map["data"])


def test_network_policy_admits_the_service_port_and_its_dependencies(
    manifests: list[Manifest], service: str, port: int
) -> None:
    pod_labels = _pod_labels(_find(manifests, "Deployment", f"k8sops-{service}"))
    policies = [
        m
        for m in manifests
        if m["kind"] == "NetworkPolicy" and _selects(m["spec"]["podSelector"].get("matchLabels", {}), pod_labels)
    ]
    assert policies, f"no NetworkPolicy selects the {service} pods"
    ingress_ports = [entry for p in policies for rule in p["spec"].get("ingress", []) for entry in rule["ports"]]
    assert any(entry["port"] <= port <= entry.get("endPort", entry["port"]) for entry in ingress_ports)
    egress_ports = {entry["port"] for p in policies for rule in p["spec"].get("egress", []) for entry in rule["ports"]}
    assert {53, 5432, 9092, 4318} <= egress_ports, "DNS, PostgreSQL, Kafka and OTLP must stay reachable"
