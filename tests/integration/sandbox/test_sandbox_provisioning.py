"""Cluster create and delete through the sandbox's platform API: a created cluster serves its own
Kubernetes API with Ready nodes; a deleted one is gone from both APIs."""

from __future__ import annotations

import httpx
import pytest

from k8sops_sandbox.server import Sandbox

NEW = {
    "name": "acme-next",
    "version": "1.30.4",
    "node_pools": [{"name": "apps", "instance_type": "m5.xlarge", "count": 2}],
}


async def test_create_serves_a_new_cluster_and_delete_removes_it(healthy: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=healthy.platform_url) as platform:
        created = await platform.post("/v1/clusters", json=NEW)
        assert created.status_code == 201, created.text
        assert created.json()["control_plane"]["version"] == "1.30.4"
        kube = created.json()["kubernetes_api_url"]
        assert (await platform.post("/v1/clusters", json=NEW)).status_code == 409
        wrong = {**NEW, "name": "other", "node_pools": [{"name": "a", "instance_type": "x9.huge", "count": 1}]}
        refused = await platform.post("/v1/clusters", json=wrong)
        assert refused.status_code == 422 and "m5.xlarge" in refused.json()["detail"]

        async with httpx.AsyncClient(base_url=kube) as http:
            nodes = (await http.get("/api/v1/nodes")).json()["items"]
        assert len(nodes) == 2 and {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes} == {"v1.30.4"}

        assert (await platform.delete("/v1/clusters/acme-next")).status_code == 200
        assert (await platform.get("/v1/clusters/acme-next")).status_code == 404
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient(base_url=kube) as http:
                await http.get("/api/v1/nodes")
