"""Drift (SPEC 7a): live objects against the desired state, field by field, without the noise of
what the API server and controllers write themselves. Pure: objects in, findings out."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

Obj = dict[str, Any]

# The kinds whose drift is tracked, with their list path (all namespaces).
MANAGED_KINDS: dict[str, str] = {
    "Deployment": "/apis/apps/v1/deployments",
    "StatefulSet": "/apis/apps/v1/statefulsets",
    "DaemonSet": "/apis/apps/v1/daemonsets",
    "Service": "/api/v1/services",
    "ConfigMap": "/api/v1/configmaps",
    "NetworkPolicy": "/apis/networking.k8s.io/v1/networkpolicies",
    "PodDisruptionBudget": "/apis/policy/v1/poddisruptionbudgets",
}
API_VERSIONS = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Service": "v1",
    "ConfigMap": "v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "PodDisruptionBudget": "policy/v1",
}
# Namespaces the cluster's own machinery owns: not the customer's desired state.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
# Made by the API server in every namespace.
SERVER_MADE = frozenset({"ConfigMap kube-root-ca.crt"})
SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")
SERVER_ANNOTATIONS = ("deployment.kubernetes.io/revision", "kubectl.kubernetes.io/last-applied-configuration")
# Values the API server fills in when a manifest leaves them out: equal to the default = absent.
POD_DEFAULTS = {
    "restartPolicy": "Always",
    "dnsPolicy": "ClusterFirst",
    "schedulerName": "default-scheduler",
    "terminationGracePeriodSeconds": 30,
    "securityContext": {},
}
CONTAINER_DEFAULTS = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "resources": {},
}
WORKLOAD_DEFAULTS = {"revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}
SERVICE_ASSIGNED = ("clusterIP", "clusterIPs")  # chosen by the server: never desired
SERVICE_DEFAULTS = {
    "type": "ClusterIP",
    "sessionAffinity": "None",
    "ipFamilies": ["IPv4"],
    "ipFamilyPolicy": "SingleStack",
    "internalTrafficPolicy": "Cluster",
}


def key_of(obj: Mapping[str, Any]) -> str:
    meta = obj["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']} {where}{meta['name']}"


def _drop_defaults(values: Obj, defaults: Mapping[str, Any]) -> None:
    for name, default in defaults.items():
        if name in values and values[name] == default:
            del values[name]


def normalise(obj: Mapping[str, Any]) -> Obj:
    """The object as its owner would write it: no status, no server bookkeeping, no defaults."""
    result = copy.deepcopy(dict(obj))
    result.pop("status", None)
    meta = result.setdefault("metadata", {})
    for name in SERVER_METADATA:
        meta.pop(name, None)
    annotations = meta.get("annotations") or {}
    for name in SERVER_ANNOTATIONS:
        annotations.pop(name, None)
    if not annotations:
        meta.pop("annotations", None)
    if not meta.get("labels"):
        meta.pop("labels", None)
    spec = result.get("spec")
    if isinstance(spec, dict):
        _drop_defaults(spec, WORKLOAD_DEFAULTS if obj.get("kind") != "Service" else SERVICE_DEFAULTS)
        if obj.get("kind") == "Service":
            for name in SERVICE_ASSIGNED:
                spec.pop(name, None)
            for port in spec.get("ports") or []:
                _drop_defaults(port, {"protocol": "TCP"})
        pod = (spec.get("template") or {}).get("spec")
        if isinstance(pod, dict):
            _drop_defaults(pod, POD_DEFAULTS)
            for container in pod.get("containers") or []:
                _drop_defaults(container, CONTAINER_DEFAULTS)
                if container.get("imagePullPolicy") == _default_pull_policy(str(container.get("image", ""))):
                    del container["imagePullPolicy"]
    return result


def _default_pull_policy(image: str) -> str:
    tag = image.split("@", 1)[0].rpartition(":")[2] if ":" in image.rsplit("/", 1)[-1] else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """Path → value; list elements with a `name` are keyed by it (containers[web].image)."""
    if isinstance(value, dict) and value:
        found: dict[str, Any] = {}
        for key, child in value.items():
            found.update(_leaves(child, f"{prefix}.{key}" if prefix else key))
        return found
    if isinstance(value, list) and value and all(isinstance(item, dict) and "name" in item for item in value):
        found = {}
        for item in value:
            found.update(_leaves({k: v for k, v in item.items() if k != "name"}, f"{prefix}[{item['name']}]"))
        return found
    return {prefix: value}


@dataclass(frozen=True)
class FieldChange:
    path: str
    desired: Any
    live: Any


@dataclass(frozen=True)
class DriftFinding:
    object: str  # "Deployment shop/web"
    drift: str  # missing | extra | changed
    changes: tuple[FieldChange, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {"object": self.object, "drift": self.drift, "changes": [asdict(c) for c in self.changes]}


def diff(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[FieldChange]:
    want, have = _leaves(normalise(desired)), _leaves(normalise(live))
    return [
        FieldChange(path, want.get(path), have.get(path))
        for path in sorted(set(want) | set(have))
        if want.get(path) != have.get(path)
    ]


def drift(
    desired: Iterable[Mapping[str, Any]], live: Iterable[Mapping[str, Any]], *, report_extra: bool = True
) -> list[DriftFinding]:
    """Per object: missing from the cluster, extra in it, or changed (only the fields that differ)."""
    wanted = {key_of(obj): obj for obj in desired}
    running = {key_of(obj): obj for obj in live if is_managed(obj)}
    findings = []
    for key in sorted(set(wanted) | set(running)):
        if key not in running:
            findings.append(DriftFinding(key, "missing"))
        elif key not in wanted:
            if report_extra:
                findings.append(DriftFinding(key, "extra"))
        elif changes := diff(wanted[key], running[key]):
            findings.append(DriftFinding(key, "changed", tuple(changes)))
    return findings


def desired_object(baseline: Mapping[str, Any]) -> Obj:
    """What a reconcile applies for a baseline object: its normalised form, with its API version."""
    obj = normalise(baseline)
    obj["apiVersion"] = API_VERSIONS[obj["kind"]]
    return obj


def is_managed(obj: Mapping[str, Any]) -> bool:
    """Desired state is what people and the platform declare: not the cluster's own namespaces,
    what the server makes by itself, or what a controller made (ownerReferences)."""
    meta = obj["metadata"]
    if meta.get("namespace") in SYSTEM_NAMESPACES or f"{obj['kind']} {meta['name']}" in SERVER_MADE:
        return False
    return not any(owner.get("controller") for owner in meta.get("ownerReferences") or [])
