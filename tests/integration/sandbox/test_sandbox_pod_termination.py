"""Graceful pod termination (`pod_termination_seconds`): an evicted or deleted pod stays listed
with its deletionTimestamp until its grace period is over, as on a real cluster."""

from __future__ import annotations

import re
from typing import Any

import httpx

from k8sops_sandbox.server import Sandbox

from .test_sandbox_controller import eventually

SHOP = "/api/v1/namespaces/shop/pods"
EVICTIONS = re.compile(r'apiserver_request_total\{[^}]*resource="pods",subresource="eviction",verb="POST"\} (\d+)')


def eviction(name: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "shop"}}


async def test_an_evicted_pod_terminates_for_its_grace_period_and_is_replaced_at_once(healthy: Sandbox) -> None:
    store = healthy.cluster().store
    async with httpx.AsyncClient(base_url=healthy.kube_url) as http, httpx.AsyncClient() as admin:
        refused = await admin.patch(f"{healthy.platform_url}/admin/timing", json={"pod_termination_seconds": -1})
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "pod_termination_seconds" in refused.json()["detail"], refused.text
        patched = await admin.patch(f"{healthy.platform_url}/admin/timing", json={"pod_termination_seconds": 30})
        assert patched.status_code == 200 and patched.json()["pod_termination_seconds"] == 30

        web = (await http.get(SHOP, params={"labelSelector": "app=web"})).json()["items"]
        name = web[0]["metadata"]["name"]
        assert (await http.post(f"{SHOP}/{name}/eviction", json=eviction(name))).status_code == 201
        going = (await http.get(f"{SHOP}/{name}")).json()
        assert going["metadata"]["deletionTimestamp"] and going["metadata"]["deletionGracePeriodSeconds"] == 30
        # Evicting or deleting it again succeeds and changes nothing (the budget never holds it).
        assert (await http.post(f"{SHOP}/{name}/eviction", json=eviction(name))).status_code == 201
        assert (await http.delete(f"{SHOP}/{name}")).status_code == 200
        again = (await http.get(f"{SHOP}/{name}")).json()
        assert again["metadata"]["resourceVersion"] == going["metadata"]["resourceVersion"]

        def replaced() -> bool:
            pods = [p for p in store.items("pods", "shop") if p["metadata"]["labels"].get("app") == "web"]
            return len(pods) == 5 and sum(not p["metadata"].get("deletionTimestamp") for p in pods) == 4

        await eventually(replaced)  # the ReplicaSet does not count the terminating pod
        budget = "/apis/policy/v1/namespaces/shop/poddisruptionbudgets/web-pdb"

        def budget_ignores_it() -> bool:
            status = store.get("policy/poddisruptionbudgets", "shop", "web-pdb").get("status") or {}
            return status.get("expectedPods") == 4 and status.get("currentHealthy") == 4

        await eventually(budget_ignores_it)
        assert (await http.get(budget)).json()["status"]["disruptionsAllowed"] == 1

        # A short grace period runs out and the pod is gone.
        assert (
            await admin.patch(f"{healthy.platform_url}/admin/timing", json={"pod_termination_seconds": 0.2})
        ).is_success
        checkout = (await http.get(SHOP, params={"labelSelector": "app=checkout"})).json()["items"]
        other = checkout[0]["metadata"]["name"]
        assert (await http.delete(f"{SHOP}/{other}")).status_code == 200
        assert (await http.get(f"{SHOP}/{other}")).json()["metadata"]["deletionTimestamp"]
        await eventually(lambda: store.find("pods", "shop", other) is None)
        assert store.find("pods", "shop", name) is not None  # still within its own 30 s

        found = EVICTIONS.search((await http.get("/metrics")).text)
        assert found is not None and int(found.group(1)) == 2
