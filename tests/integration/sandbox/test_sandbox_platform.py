"""The platform API over HTTP: clusters, upgrades as polled operations, rollback, quota."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx

from k8sops_sandbox.server import Sandbox


async def wait_operation(http: httpx.AsyncClient, operation: dict[str, Any], within: float = 30) -> dict[str, Any]:
    for _ in range(int(within / 0.1)):
        current = (await http.get(f"/v1/operations/{operation['id']}")).json()
        if current["done"]:
            return current
        await asyncio.sleep(0.1)
    raise AssertionError(f"operation {operation['id']} still running")


async def test_cluster_and_node_pools(healthy: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=healthy.platform_url) as http:
        clusters = (await http.get("/v1/clusters")).json()["clusters"]
        assert [c["name"] for c in clusters] == ["acme-prod", "acme-staging"]
        prod = (await http.get("/v1/clusters/acme-prod")).json()
        assert prod["control_plane"] == {"version": "1.29.6", "minor": "1.29"}
        assert prod["paired_cluster"] == "acme-staging" and prod["environment"] == "prod"
        assert prod["kubernetes_api_url"] == healthy.kube_urls["acme-prod"]
        pools = {p["name"]: p for p in prod["node_pools"]}
        assert pools["apps"]["version"] == "1.29.6" and pools["apps"]["node_count"] == 3
        assert pools["apps"]["instance"]["price_bdt_per_hour"] == 47.0
        assert (await http.get("/v1/clusters/acme-prod/quota")).json() == {
            "surge_nodes": {"limit": 3, "in_use": 0, "available": 3}
        }
        missing = await http.get("/v1/clusters/nope")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


async def test_control_plane_goes_one_minor_at_a_time(healthy: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=healthy.platform_url) as http:
        skip = await http.post("/v1/clusters/acme-prod/control-plane/upgrade", json={"version": "1.31"})
        assert skip.status_code == 422
        problem = skip.json()
        assert problem["type"].endswith("/version-skip") and "1.30" in problem["detail"]
        assert skip.headers["content-type"] == "application/problem+json"

        started = await http.post("/v1/clusters/acme-prod/control-plane/upgrade", json={"version": "1.30"})
        assert started.status_code == 202
        busy = await http.post("/v1/clusters/acme-prod/node-pools/apps/upgrade", json={"version": "1.30"})
        assert busy.status_code == 409 and busy.json()["type"].endswith("/operation-in-progress")
        done = await wait_operation(http, started.json())
        assert done["status"] == "DONE"
    async with httpx.AsyncClient(base_url=healthy.kube_url) as kube:
        assert (await kube.get("/version")).json()["minor"] == "30"


async def test_node_pool_upgrade_with_surge_then_rollback(healthy: Sandbox) -> None:
    cluster = healthy.cluster()
    healthy.scenario.timing.node_ready_seconds = 0.3
    async with httpx.AsyncClient(base_url=healthy.platform_url) as http:
        too_new = await http.post("/v1/clusters/acme-prod/node-pools/apps/upgrade", json={"version": "1.30"})
        assert too_new.status_code == 422 and too_new.json()["type"].endswith("/version-above-control-plane")
        await wait_operation(
            http, (await http.post("/v1/clusters/acme-prod/control-plane/upgrade", json={"version": "1.30.2"})).json()
        )

        no_quota = await http.post(
            "/v1/clusters/acme-prod/node-pools/apps/upgrade", json={"version": "1.30.2", "max_surge": 5}
        )
        assert no_quota.status_code == 409 and no_quota.json()["type"].endswith("/surge-quota-exceeded")

        started = await http.post(
            "/v1/clusters/acme-prod/node-pools/apps/upgrade", json={"version": "1.30.2", "max_surge": 1}
        )
        assert started.status_code == 202
        seen_surge = False
        for _ in range(300):
            op = (await http.get(f"/v1/operations/{started.json()['id']}")).json()
            seen_surge |= (await http.get("/v1/clusters/acme-prod/quota")).json()["surge_nodes"]["in_use"] == 1
            if op["done"]:
                break
            await asyncio.sleep(0.1)
        assert op["status"] == "DONE", op
        assert seen_surge and op["progress"] == {"nodes_total": 3, "nodes_done": 3}
        pool = (await http.get("/v1/clusters/acme-prod/node-pools/apps")).json()
        assert pool["version"] == "1.30.2" and pool["previous_version"] == "1.29.6"
        assert pool["node_count"] == 3
        assert all(n["ready"] and n["version"] == "1.30.2" and not n["unschedulable"] for n in pool["nodes"])
        assert (await http.get("/v1/clusters/acme-prod/quota")).json()["surge_nodes"]["in_use"] == 0
        # Pods moved off the removed surge node start again shortly after.
        for _ in range(50):
            deployments = list(cluster.store.items("apps/deployments"))
            if all(d["status"].get("readyReplicas") == d["spec"]["replicas"] for d in deployments):
                break
            await asyncio.sleep(0.1)
        assert all(d["status"].get("readyReplicas") == d["spec"]["replicas"] for d in deployments)

        rollback = await http.post("/v1/clusters/acme-prod/node-pools/apps/rollback", json={"max_surge": 1})
        assert rollback.status_code == 202
        done = await wait_operation(http, rollback.json())
        assert done["status"] == "DONE" and done["type"] == "ROLLBACK_NODE_POOL"
        pool = (await http.get("/v1/clusters/acme-prod/node-pools/apps")).json()
        assert pool["version"] == "1.29.6"
        assert {n["version"] for n in pool["nodes"]} == {"1.29.6"}


async def test_pool_upgrade_fails_when_a_budget_blocks_the_drain(blocking: Sandbox) -> None:
    blocking.scenario.timing.drain_timeout_seconds = 1.5
    blocking.scenario.timing.node_ready_seconds = 0.2
    async with httpx.AsyncClient(base_url=blocking.platform_url) as http:
        await wait_operation(
            http, (await http.post("/v1/clusters/pay-prod/control-plane/upgrade", json={"version": "1.31"})).json()
        )
        started = await http.post(
            "/v1/clusters/pay-prod/node-pools/general/upgrade", json={"version": "1.31", "max_surge": 1}
        )
        failed = await wait_operation(http, started.json())
        assert failed["status"] == "FAILED"
        assert failed["error"]["code"] == "DRAIN_TIMEOUT"
        assert "ledger-pdb needs 2 healthy pods" in failed["error"]["message"]
        pool = (await http.get("/v1/clusters/pay-prod/node-pools/general")).json()
        assert pool["status"] == "DEGRADED" and pool["version"] == "1.30.4"


async def test_a_node_replace_records_its_own_time_and_can_be_waited_on(healthy: Sandbox) -> None:
    healthy.scenario.timing.node_ready_seconds = 0.3
    healthy.scenario.timing.control_plane_upgrade_seconds = 0.1
    async with httpx.AsyncClient(base_url=healthy.platform_url, timeout=60) as http:
        await wait_operation(
            http, (await http.post("/v1/clusters/acme-prod/control-plane/upgrade", json={"version": "1.30"})).json()
        )
        nodes = sorted(n["name"] for n in (await http.get("/v1/clusters/acme-prod/node-pools/apps")).json()["nodes"])
        replace = f"/v1/clusters/acme-prod/node-pools/apps/nodes/{nodes[0]}/upgrade"
        started = (await http.post(replace, json={"version": "1.30"})).json()
        wait = f"/v1/operations/{started['id']}/wait"

        at_once = (await http.post(wait, params={"timeout_seconds": 0})).json()
        assert not at_once["done"] and at_once["ended_at"] is None
        done = (await http.post(wait, params={"timeout_seconds": 30})).json()
        assert done["status"] == "DONE"
        # The platform's own record, to the microsecond: at least the configured delay, whatever
        # the controller tick added; whole-second times could not tell 0.3 s from 0 or 1.
        took = datetime.fromisoformat(done["ended_at"]) - datetime.fromisoformat(done["started_at"])
        assert timedelta(seconds=0.3) <= took < timedelta(seconds=30)
        async with httpx.AsyncClient(base_url=healthy.kube_url) as kube:
            node = (await kube.get(f"/api/v1/nodes/{nodes[0]}")).json()
        assert any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])

        other = f"/v1/clusters/acme-prod/node-pools/apps/nodes/{nodes[1]}/upgrade"
        await wait_operation(http, (await http.post(other, json={"version": "1.30"})).json())
        listed = (await http.get("/v1/operations", params={"cluster": "acme-prod", "node": nodes[0]})).json()
        assert [op["id"] for op in listed["operations"]] == [started["id"]]

        for bad in ("61", "-1", "soon", "nan"):
            refused = await http.post(wait, params={"timeout_seconds": bad})
            assert refused.status_code == 422 and refused.json()["type"].endswith("/invalid-timeout")
            assert refused.headers["content-type"] == "application/problem+json" and bad in refused.json()["detail"]
        missing = await http.post("/v1/operations/op-99999/wait")
        assert missing.status_code == 404 and missing.json()["type"].endswith("/operation-not-found")
