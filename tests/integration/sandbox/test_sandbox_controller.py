"""The cluster lives: scheduling, Pending pods, node replacement, and injected faults."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from k8sops_sandbox.server import Sandbox


async def eventually(check: Callable[[], bool], within: float = 10) -> None:
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


def pending_reason(pod: dict) -> str | None:
    return next((c.get("reason") for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"), None)


async def test_pods_go_pending_when_nothing_fits(healthy: Sandbox) -> None:
    cluster = healthy.cluster()
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "huge", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "huge"}},
            "template": {
                "metadata": {"labels": {"app": "huge"}},
                "spec": {
                    "containers": [{"name": "huge", "image": "busybox", "resources": {"requests": {"cpu": "64"}}}]
                },
            },
        },
    }
    async with httpx.AsyncClient(base_url=healthy.kube_url) as http:
        created = await http.post("/apis/apps/v1/namespaces/default/deployments", json=deployment)
        assert created.status_code == 201
        await eventually(
            lambda: (
                len([p for p in cluster.store.items("pods", "default") if pending_reason(p) == "Unschedulable"]) == 2
            )
        )
        pods = (await http.get("/api/v1/namespaces/default/pods", params={"labelSelector": "app=huge"})).json()
        assert {p["status"]["phase"] for p in pods["items"]} == {"Pending"}
        assert all("nodeName" not in p["spec"] for p in pods["items"])
        events = (await http.get("/api/v1/namespaces/default/events")).json()["items"]
        assert {e["reason"] for e in events} == {"FailedScheduling"}

        # Scaling through the scale subresource is honoured too.
        scaled = await http.patch(
            "/apis/apps/v1/namespaces/default/deployments/huge/scale",
            json={"spec": {"replicas": 0}},
            headers={"content-type": "application/merge-patch+json"},
        )
        assert scaled.json()["spec"]["replicas"] == 0
        await eventually(lambda: not list(cluster.store.items("pods", "default")))


async def test_replaced_node_comes_back_ready_at_the_new_version(healthy: Sandbox) -> None:
    cluster = healthy.cluster()
    healthy.scenario.timing.node_ready_seconds = 0.5
    async with httpx.AsyncClient(base_url=healthy.platform_url) as http:
        await http.post("/v1/clusters/acme-prod/control-plane/upgrade", json={"version": "1.30"})
        await eventually(lambda: cluster.busy_operation is None)
        started = (
            await http.post(
                "/v1/clusters/acme-prod/node-pools/apps/nodes/acme-prod-apps-002/upgrade", json={"version": "1.30.0"}
            )
        ).json()
        node = cluster.store.get("nodes", "", "acme-prod-apps-002")
        assert not cluster.node_ready(node) and node["status"]["nodeInfo"]["kubeletVersion"] == "v1.30.0"
        # Its pods died with the kubelet restart; only the DaemonSet puts one back there.
        assert {p["metadata"]["labels"]["app"] for p in cluster.pods_on_node("acme-prod-apps-002")} <= {"node-exporter"}
        await eventually(lambda: cluster.node_ready(cluster.store.get("nodes", "", "acme-prod-apps-002")))
        done = (await http.get(f"/v1/operations/{started['id']}")).json()
        for _ in range(20):
            if done["done"]:
                break
            await asyncio.sleep(0.1)
            done = (await http.get(f"/v1/operations/{done['id']}")).json()
        assert done["status"] == "DONE"


async def test_node_that_never_comes_back(healthy: Sandbox) -> None:
    cluster = healthy.cluster()
    healthy.scenario.timing.node_ready_timeout_seconds = 1.0
    async with httpx.AsyncClient(base_url=healthy.platform_url) as http:
        fault = await http.post("/admin/faults", json={"type": "node_never_ready", "node": "acme-prod-apps-001"})
        assert fault.status_code == 201
        operation = (
            await http.post(
                "/v1/clusters/acme-prod/node-pools/apps/nodes/acme-prod-apps-001/upgrade", json={"version": "1.29.7"}
            )
        ).json()
        for _ in range(50):
            operation = (await http.get(f"/v1/operations/{operation['id']}")).json()
            if operation["done"]:
                break
            await asyncio.sleep(0.1)
        assert operation["status"] == "FAILED" and operation["error"]["code"] == "NODE_NOT_READY"
        assert not cluster.node_ready(cluster.store.get("nodes", "", "acme-prod-apps-001"))


async def test_pods_crashloop_after_upgrade(healthy: Sandbox) -> None:
    cluster = healthy.cluster()
    healthy.scenario.timing.node_ready_seconds = 0.2
    healthy.inject_fault({"type": "crashloop_after_upgrade", "workload": "shop/web"})
    target = "acme-prod-apps-000"
    cluster.begin_node_upgrade(target, (1, 29, 7))
    await eventually(lambda: cluster.node_ready(cluster.store.get("nodes", "", target)))
    # Leave only the upgraded node schedulable and move the web pods onto it.
    async with httpx.AsyncClient(base_url=healthy.kube_url) as http:
        for node in cluster.store.items("nodes"):
            if node["metadata"]["name"] != target:
                await http.patch(
                    f"/api/v1/nodes/{node['metadata']['name']}",
                    json={"spec": {"unschedulable": True}},
                    headers={"content-type": "application/strategic-merge-patch+json"},
                )
        pods = (await http.get("/api/v1/namespaces/shop/pods", params={"labelSelector": "app=web"})).json()
        for pod in pods["items"][:2]:
            assert (await http.delete(f"/api/v1/namespaces/shop/pods/{pod['metadata']['name']}")).status_code == 200

        def crashlooping() -> list[dict]:
            return [
                p
                for p in cluster.store.items("pods", "shop")
                if p["metadata"]["labels"]["app"] == "web"
                and p["spec"].get("nodeName") == target
                and p["status"].get("containerStatuses")
                and p["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"
            ]

        await eventually(lambda: len(crashlooping()) == 2)
        assert all(not cluster.pod_ready(p) for p in crashlooping())
        deployment = (await http.get("/apis/apps/v1/namespaces/shop/deployments/web")).json()
        await eventually(lambda: cluster.store.get("apps/deployments", "shop", "web")["status"]["readyReplicas"] == 2)
        assert deployment["spec"]["replicas"] == 4


async def test_budget_that_blocks_forever(healthy: Sandbox) -> None:
    pod = next(p for p in healthy.cluster().store.items("pods", "shop") if p["metadata"]["labels"]["app"] == "web")
    name = pod["metadata"]["name"]
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "shop"}}
    async with (
        httpx.AsyncClient(base_url=healthy.platform_url) as admin,
        httpx.AsyncClient(base_url=healthy.kube_url) as kube,
    ):
        added = (await admin.post("/admin/faults", json={"type": "pdb_blocks_forever", "pdb": "shop/web-pdb"})).json()
        refused = await kube.post(f"/api/v1/namespaces/shop/pods/{name}/eviction", json=eviction)
        assert refused.status_code == 429 and refused.json()["reason"] == "TooManyRequests"
        await asyncio.sleep(0.3)
        pdb = (await kube.get("/apis/policy/v1/namespaces/shop/poddisruptionbudgets/web-pdb")).json()
        assert pdb["status"]["disruptionsAllowed"] == 0
        assert (await admin.delete(f"/admin/faults/{added['id']}")).status_code == 204
        allowed = await kube.post(f"/api/v1/namespaces/shop/pods/{name}/eviction", json=eviction)
        assert allowed.status_code == 201


async def test_api_answers_500_then_times_out(healthy: Sandbox) -> None:
    async with (
        httpx.AsyncClient(base_url=healthy.platform_url) as admin,
        httpx.AsyncClient(base_url=healthy.kube_url) as kube,
    ):
        await admin.post(
            "/admin/faults", json={"type": "api_error", "status": 500, "path_prefix": "/api/v1/nodes", "count": 2}
        )
        for _ in range(2):
            failed = await kube.get("/api/v1/nodes")
            assert failed.status_code == 500
            assert failed.json()["kind"] == "Status" and failed.json()["reason"] == "InternalError"
        assert (await kube.get("/api/v1/nodes")).status_code == 200

        await admin.post(
            "/admin/faults", json={"type": "api_timeout", "delay_seconds": 3, "methods": ["GET"], "count": 1}
        )
        with pytest.raises(httpx.ReadTimeout):
            await kube.get("/api/v1/pods", timeout=0.5)
        assert (await kube.get("/api/v1/pods")).status_code == 200
        assert (await admin.get("/admin/faults")).json() == {"faults": []}
