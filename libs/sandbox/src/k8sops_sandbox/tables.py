"""Server-side printing: the meta.k8s.io Table that `kubectl get` asks for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .store import Obj

Column = tuple[str, str, Callable[[Obj], Any]]


def _age(obj: Obj) -> str:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return "<unknown>"
    seconds = int((datetime.now(UTC) - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * 2:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _node_status(node: Obj) -> str:
    ready = next((c for c in node["status"].get("conditions", []) if c["type"] == "Ready"), None)
    status = "Ready" if ready and ready["status"] == "True" else "NotReady"
    return f"{status},SchedulingDisabled" if node["spec"].get("unschedulable") else status


def _node_roles(node: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = [k[len(prefix) :] for k in node["metadata"].get("labels", {}) if k.startswith(prefix)]
    return ",".join(roles) or "<none>"


def _pod_status(pod: Obj) -> str:
    for status in pod["status"].get("containerStatuses", []):
        waiting = status.get("state", {}).get("waiting")
        if waiting:
            return str(waiting.get("reason", "Waiting"))
    return str(pod["status"].get("phase", "Pending"))


def _pod_ready(pod: Obj) -> str:
    statuses = pod["status"].get("containerStatuses", [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{len(pod['spec']['containers'])}"


def _restarts(pod: Obj) -> int:
    return sum(int(s.get("restartCount", 0)) for s in pod["status"].get("containerStatuses", []))


COLUMNS: dict[str, list[Column]] = {
    "nodes": [
        ("Status", "string", _node_status),
        ("Roles", "string", _node_roles),
        ("Age", "string", _age),
        ("Version", "string", lambda n: n["status"]["nodeInfo"]["kubeletVersion"]),
    ],
    "pods": [
        ("Ready", "string", _pod_ready),
        ("Status", "string", _pod_status),
        ("Restarts", "integer", _restarts),
        ("Age", "string", _age),
    ],
    "apps/deployments": [
        ("Ready", "string", lambda d: f"{d.get('status', {}).get('readyReplicas', 0)}/{d['spec'].get('replicas', 1)}"),
        ("Up-to-date", "integer", lambda d: d.get("status", {}).get("updatedReplicas", 0)),
        ("Available", "integer", lambda d: d.get("status", {}).get("availableReplicas", 0)),
        ("Age", "string", _age),
    ],
    "policy/poddisruptionbudgets": [
        ("Min Available", "string", lambda p: str(p["spec"].get("minAvailable", "N/A"))),
        ("Max Unavailable", "string", lambda p: str(p["spec"].get("maxUnavailable", "N/A"))),
        ("Allowed Disruptions", "integer", lambda p: p.get("status", {}).get("disruptionsAllowed", 0)),
        ("Age", "string", _age),
    ],
    "namespaces": [
        ("Status", "string", lambda n: n.get("status", {}).get("phase", "Active")),
        ("Age", "string", _age),
    ],
}


def _address(node: Obj, kind: str) -> str:
    found = [a["address"] for a in node.get("status", {}).get("addresses", []) if a.get("type") == kind]
    return found[0] if found else "<none>"


def _containers(obj: Obj, field: str) -> str:
    return ",".join(str(c.get(field, "")) for c in obj["spec"]["template"]["spec"].get("containers", []))


def _selector(obj: Obj) -> str:
    labels = obj["spec"].get("selector", {}).get("matchLabels", {})
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items())) or "<none>"


# The extra columns `-o wide` shows (priority 1), as a real cluster prints them.
WIDE_COLUMNS: dict[str, list[Column]] = {
    "nodes": [
        ("Internal-IP", "string", lambda n: _address(n, "InternalIP")),
        ("External-IP", "string", lambda n: _address(n, "ExternalIP")),
        ("OS-Image", "string", lambda n: n["status"].get("nodeInfo", {}).get("osImage", "<unknown>")),
        ("Kernel-Version", "string", lambda n: n["status"].get("nodeInfo", {}).get("kernelVersion", "<unknown>")),
        (
            "Container-Runtime",
            "string",
            lambda n: n["status"].get("nodeInfo", {}).get("containerRuntimeVersion", "<unknown>"),
        ),
    ],
    "pods": [
        ("IP", "string", lambda p: p.get("status", {}).get("podIP", "<none>")),
        ("Node", "string", lambda p: p["spec"].get("nodeName", "<none>")),
        ("Nominated Node", "string", lambda p: p.get("status", {}).get("nominatedNodeName", "<none>")),
        ("Readiness Gates", "string", lambda p: "<none>"),
    ],
    "apps/deployments": [
        ("Containers", "string", lambda d: _containers(d, "name")),
        ("Images", "string", lambda d: _containers(d, "image")),
        ("Selector", "string", _selector),
    ],
}


def to_table(resource_key: str, items: list[Obj], list_meta: dict[str, Any]) -> dict[str, Any]:
    columns = [(column, 0) for column in COLUMNS.get(resource_key, [("Age", "string", _age)])]
    columns += [(column, 1) for column in WIDE_COLUMNS.get(resource_key, [])]
    definitions = [{"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0}]
    definitions += [
        {"name": name, "type": kind, "format": "", "description": "", "priority": priority}
        for (name, kind, _), priority in columns
    ]
    rows = [
        {
            "cells": [obj["metadata"]["name"], *(render(obj) for (_, _, render), _ in columns)],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            },
        }
        for obj in items
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": definitions,
        "rows": rows,
    }
