"""Builders for Kubernetes-shaped objects (nodes, workloads, pods) from scenario data."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from typing import Any

from .quantity import format_memory, parse_quantity
from .scenario import Cluster, HelmRelease, InstanceType, NodePool, Workload
from .store import Obj

# The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
POOL_LABEL = "sandbox.k8sops.dev/node-pool"


def short_hash(text: str, length: int) -> str:
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    chars = []
    for _ in range(length):
        digest, index = divmod(digest, len(_ALPHABET))
        chars.append(_ALPHABET[index])
    return "".join(chars)


def owner_reference(owner: Obj, controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Obj) -> dict[str, Any] | None:
    for reference in obj["metadata"].get("ownerReferences") or []:
        if reference.get("controller"):
            return reference
    return None


def ready_condition(status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }


def make_node(
    cluster: Cluster,
    pool: NodePool,
    instance: InstanceType,
    name: str,
    zone: str,
    kubelet_version: str,
    index: int,
    ready: bool,
    now: str,
) -> Obj:
    capacity = {
        "cpu": instance.cpu,
        "memory": instance.memory,
        "pods": str(instance.pods),
        "ephemeral-storage": "100Gi",
    }
    # Like a real node, a slice of memory and CPU is reserved for the system.
    allocatable = dict(capacity)
    allocatable["cpu"] = f"{round(parse_quantity(instance.cpu) * 1000 * 0.95)}m"
    allocatable["memory"] = format_memory(parse_quantity(instance.memory) * 0.9 // 1024 * 1024)
    pressure = [
        {
            "type": kind,
            "status": "False",
            "reason": f"KubeletHas{reason}",
            "message": "",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        for kind, reason in (
            ("MemoryPressure", "SufficientMemory"),
            ("DiskPressure", "NoDiskPressure"),
            ("PIDPressure", "SufficientPID"),
        )
    ]
    condition = ready_condition(
        "True" if ready else "False",
        "KubeletReady" if ready else "KubeletNotReady",
        "kubelet is posting ready status" if ready else "container runtime is starting",
        now,
    )
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": pool.instance_type,
                "topology.kubernetes.io/region": cluster.region,
                "topology.kubernetes.io/zone": f"{cluster.region}{zone}",
                "karpenter.sh/capacity-type": pool.capacity_type,
                POOL_LABEL: pool.name,
                **pool.labels,
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {
            "podCIDR": f"10.{index // 250 % 250}.{index % 250}.0/24",
            "providerID": f"sandbox://{cluster.name}/{name}",
        },
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [*pressure, condition],
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.{index // 250 % 250}.{index % 250 + 1}"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": _node_info(kubelet_version, name),
        },
    }


def _node_info(kubelet_version: str, name: str) -> dict[str, str]:
    machine = hashlib.md5(name.encode()).hexdigest()
    return {
        "kubeletVersion": kubelet_version,
        "kubeProxyVersion": kubelet_version,
        "containerRuntimeVersion": "containerd://1.7.20",
        "osImage": "Ubuntu 22.04.4 LTS",
        "kernelVersion": "6.5.0-1020-aws",
        "operatingSystem": "linux",
        "architecture": "amd64",
        "machineID": machine,
        "systemUUID": machine,
        "bootID": machine[::-1],
    }


def set_kubelet_version(node: Obj, kubelet_version: str) -> None:
    info = node["status"]["nodeInfo"]
    info["kubeletVersion"] = info["kubeProxyVersion"] = kubelet_version


def pod_template(workload: Workload) -> dict[str, Any]:
    labels = {"app": workload.name, **workload.labels}
    containers = []
    for container in workload.containers:
        spec: dict[str, Any] = {
            "name": container.name,
            "image": container.image,
            "resources": {},
            "imagePullPolicy": "IfNotPresent",
        }
        if container.requests:
            spec["resources"]["requests"] = dict(container.requests)
        if container.limits:
            spec["resources"]["limits"] = dict(container.limits)
        if workload.security_context:
            spec["securityContext"] = dict(workload.security_context)
        if workload.host_path:
            spec["volumeMounts"] = [{"name": "host", "mountPath": workload.host_path}]
        containers.append(spec)
    pod_spec: dict[str, Any] = {
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "schedulerName": "default-scheduler",
    }
    if workload.host_path:
        pod_spec["volumes"] = [{"name": "host", "hostPath": {"path": workload.host_path}}]
    return {"metadata": {"labels": labels}, "spec": pod_spec}


def make_workload(workload: Workload) -> Obj:
    template = pod_template(workload)
    selector = {"matchLabels": {"app": workload.name}}
    spec: dict[str, Any] = {"selector": selector, "template": template}
    if workload.kind != "DaemonSet":
        spec["replicas"] = workload.replicas
    if workload.kind == "StatefulSet":
        spec["serviceName"] = workload.name
    if workload.kind == "Deployment":
        spec["strategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
        }
    return {
        "apiVersion": "apps/v1",
        "kind": workload.kind,
        "metadata": {
            "name": workload.name,
            "namespace": workload.namespace,
            "labels": {"app": workload.name, **workload.labels},
        },
        "spec": spec,
    }


def make_pdb(workload: Workload) -> Obj:
    assert workload.pdb is not None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": f"{workload.name}-pdb", "namespace": workload.namespace},
        "spec": {"selector": {"matchLabels": {"app": workload.name}}, **workload.pdb},
    }


def make_hpa(workload: Workload) -> Obj:
    assert workload.hpa is not None
    metrics = []
    for resource in ("cpu", "memory"):
        target = workload.hpa.get(f"{resource}_utilization")
        if target is not None:
            metrics.append(
                {
                    "type": "Resource",
                    "resource": {
                        "name": resource,
                        "target": {"type": "Utilization", "averageUtilization": int(target)},
                    },
                }
            )
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": workload.name, "namespace": workload.namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": workload.kind, "name": workload.name},
            "minReplicas": int(workload.hpa.get("min", 1)),
            "maxReplicas": int(workload.hpa.get("max", workload.replicas)),
            "metrics": metrics,
        },
    }


def make_pod(owner: Obj, name: str, template: dict[str, Any], node_name: str | None) -> Obj:
    spec = json.loads(json.dumps(template["spec"]))
    if node_name:
        spec["nodeName"] = node_name
    requests = [c.get("resources", {}) for c in spec["containers"]]
    if all(r.get("requests") and r.get("requests") == r.get("limits") for r in requests):
        qos = "Guaranteed"
    elif any(r.get("requests") or r.get("limits") for r in requests):
        qos = "Burstable"
    else:
        qos = "BestEffort"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": owner["metadata"]["namespace"],
            "labels": dict(template["metadata"].get("labels") or {}),
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": qos},
    }


def helm_release_secret(release: HelmRelease, deployed_at: str) -> Obj:
    """A release stored as Helm 3 does: JSON, gzipped, base64 (then base64 again as Secret data)."""
    body = {
        "name": release.name,
        "namespace": release.namespace,
        "version": release.revision,
        "info": {
            "first_deployed": deployed_at,
            "last_deployed": deployed_at,
            "status": "deployed",
            "description": "Upgrade complete" if release.revision > 1 else "Install complete",
        },
        "chart": {
            "metadata": {
                "name": release.chart,
                "version": release.chart_version,
                "appVersion": release.app_version,
                "apiVersion": "v2",
            }
        },
        "config": {},
        "manifest": release.manifest,
    }
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(body).encode(), mtime=0))
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": f"sh.helm.release.v1.{release.name}.v{release.revision}",
            "namespace": release.namespace,
            "labels": {
                "name": release.name,
                "owner": "helm",
                "status": "deployed",
                "version": str(release.revision),
            },
        },
        "data": {"release": base64.b64encode(helm_encoded).decode()},
    }
