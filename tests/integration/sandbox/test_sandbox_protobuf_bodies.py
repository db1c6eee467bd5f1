"""Objects kubectl builds itself travel as Kubernetes protobuf (kubectl >= 1.35); the sandbox reads them.

For each `kubectl create <kind>` (and `autoscale`) the object the sandbox answers to `--dry-run=server`
must be the object kubectl builds (`--dry-run=client`), field for field, and nothing may be stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from k8sops_sandbox.server import Sandbox

from .conftest import kubectl

# Server-assigned fields a client-side dry run does not have.
SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp")

CREATES: list[tuple[str, ...]] = [
    ("create", "deployment", "web2", "--image=nginx:1.27", "--replicas=0", "--port=8080", "-n", "shop"),
    ("create", "configmap", "settings", "--from-literal=mode=fast", "-n", "shop"),
    ("create", "secret", "generic", "token", "--from-literal=key=s3cr3t", "-n", "shop"),
    ("create", "service", "nodeport", "edge", "--tcp=80:8080", "--node-port=30080", "-n", "shop"),
    ("create", "job", "hello-once", "--image=busybox", "-n", "shop"),
    ("create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *", "-n", "shop"),
    ("create", "namespace", "scratch"),
    ("create", "serviceaccount", "robot", "-n", "shop"),
    ("create", "poddisruptionbudget", "web-budget", "--selector=app=web", "--max-unavailable=25%", "-n", "shop"),
    ("create", "ingress", "front", "--rule=shop.example/cart*=cart:http,tls=cert", "--class=nginx", "-n", "shop"),
    ("create", "rolebinding", "readers", "--clusterrole=view", "--user=ana", "-n", "shop"),
    ("autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu=80%", "-n", "shop"),
]


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    obj.pop("status", None)
    for name in SERVER_FIELDS:
        obj["metadata"].pop(name, None)
    return obj


async def test_created_objects_read_from_protobuf_equal_what_kubectl_built(healthy: Sandbox, tmp_path: Path) -> None:
    store = healthy.cluster().store
    keys = ("apps/deployments", "configmaps", "secrets", "namespaces", "autoscaling/horizontalpodautoscalers", "pods")
    before = {key: store.count(key) for key in keys}
    for create in CREATES:
        built = await kubectl(healthy, tmp_path, *create, "--dry-run=client", "-o", "json")
        assert built.code == 0, built.stderr
        answered = await kubectl(healthy, tmp_path, *create, "--dry-run=server", "-o", "json", "-v=8")
        assert answered.code == 0, (create, answered.stderr[-2000:])
        assert "Content-Type: application/vnd.kubernetes.protobuf" in answered.stderr, create
        assert _comparable(json.loads(answered.stdout)) == _comparable(json.loads(built.stdout)), create
    assert {key: store.count(key) for key in before} == before

    created = await kubectl(healthy, tmp_path, "create", "configmap", "kept", "--from-literal=a=1", "-n", "shop")
    assert created.code == 0, created.stderr
    assert store.get("configmaps", "shop", "kept")["data"] == {"a": "1"}


async def test_protobuf_bodies_the_sandbox_cannot_read_get_a_status_naming_why(healthy: Sandbox) -> None:
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf", "Accept": "application/json"}
    # TypeMeta {apiVersion: v1, kind: LimitRange}, raw: empty.
    unknown_kind = b"k8s\x00" + b"\x0a\x10\x0a\x02v1\x12\x0aLimitRange" + b"\x12\x00"
    async with httpx.AsyncClient(base_url=healthy.kube_url) as http:
        refused = await http.post("/api/v1/namespaces/shop/limitranges", content=unknown_kind, headers=headers)
        unframed = await http.post("/api/v1/namespaces/shop/configmaps", content=b"\x0a\x00", headers=headers)
        truncated = await http.post(
            "/api/v1/namespaces/shop/configmaps", content=b"k8s\x00\x0a\x10\x0a\x02v1", headers=headers
        )
    assert refused.status_code == 404  # not a served resource at all
    assert unframed.status_code == 400 and "k8s" in unframed.json()["message"], unframed.text
    assert truncated.status_code == 400 and truncated.json()["reason"] == "BadRequest", truncated.text
    async with httpx.AsyncClient(base_url=healthy.kube_url) as http:
        limit_range = await http.post("/api/v1/namespaces/shop/configmaps", content=unknown_kind, headers=headers)
    assert limit_range.status_code == 415, limit_range.text
    assert "LimitRange" in limit_range.json()["message"] and "JSON" in limit_range.json()["message"]
