"""A pod created already bound to a node (spec.nodeName set by the client) skips the scheduler and
is started by that node's kubelet, as on a real cluster (it used to stay Pending forever)."""

from __future__ import annotations

import asyncio

import httpx

from k8sops_sandbox.server import Sandbox


async def test_a_pod_created_with_node_name_runs_on_that_node(healthy: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=healthy.kube_url) as http:
        node = (await http.get("/api/v1/nodes")).json()["items"][-1]["metadata"]["name"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "pinned", "namespace": "shop", "labels": {"pin": "yes"}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
        }
        assert (await http.post("/api/v1/namespaces/shop/pods", json=pod)).status_code == 201
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            found = (await http.get("/api/v1/namespaces/shop/pods/pinned")).json()
            if found["status"].get("phase") == "Running" or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert found["status"]["phase"] == "Running"
        assert found["spec"]["nodeName"] == node
