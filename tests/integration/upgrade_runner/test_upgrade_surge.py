"""Surge nodes: with surge quota, each pool gets a node at the target version (through the platform
API) before its first node is drained, removed after its last; a rollback removes the surge nodes
it added; without quota the pool is replaced in place. The report says which, per pool."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import SENIOR, Harness, cluster_event, engagement_event, fast_runner


async def test_surge_where_the_quota_allows_in_place_otherwise_and_rollback_removes_surge_nodes(
    healthy: Harness,
) -> None:
    sandbox = healthy.sandbox
    platform = sandbox.platform_url
    async with httpx.AsyncClient(base_url=platform) as http:
        pools = {p["name"]: p for p in (await http.get("/v1/clusters/acme-prod/node-pools")).json()["node_pools"]}
        failing = sorted(node["name"] for node in pools["system"]["nodes"])[0]
        fault = {"type": "node_never_ready", "cluster": "acme-prod", "node": failing}
        assert (await http.post("/admin/faults", json=fault)).status_code == 201
        assert (await http.patch("/admin/timing", json={"node_ready_timeout_seconds": 8})).status_code == 200
        assert (await http.put("/admin/clusters/acme-staging/quota", json={"surge_nodes": 0})).status_code == 200
    await healthy.start_runner(fast_runner(sandbox, drain_timeout_s=10))
    api = healthy.api
    assert api is not None
    clusters = [cluster_event(sandbox, name, "non-prod") for name in ("acme-prod", "acme-staging")]
    await healthy.deliver(engagement_event(clusters, None))

    ids = {}
    for cluster in ("acme-prod", "acme-staging"):
        body = {"engagement_id": "eng-acme", "cluster_id": cluster, "force": True}
        ids[cluster] = (await api.post("/v1/operations", json=body, headers=SENIOR)).json()["operation_id"]
    prod = await healthy.until_state(ids["acme-prod"], "rolled_back", "completed", timeout_s=120)
    staging = await healthy.until_state(ids["acme-staging"], "rolled_back", "completed", timeout_s=120)

    async def report(operation_id: str) -> tuple[dict[str, Any], str]:
        path = f"/v1/operations/{operation_id}/report"
        document = (await api.get(path, headers=SENIOR)).json()
        return document, (await api.get(f"{path}?format=markdown", headers=SENIOR)).text

    # acme-staging had no quota: replaced in place, and the report says so.
    assert staging["state"] == "completed"
    document, markdown = await report(ids["acme-staging"])
    for pool in ("apps", "system"):
        entry = document["spec"]["surge"][f"acme-staging/{pool}"]
        assert (entry["mode"], entry["nodes"], entry["reason"]) == ("in-place", [], "no surge quota on the platform")
        assert f"- acme-staging/{pool}: in-place (no surge quota on the platform)" in markdown

    # acme-prod: a surge node for apps (removed after its last node), one for system (removed by
    # the rollback when system's first node never came back).
    assert prod["state"] == "rolled_back"
    document, markdown = await report(ids["acme-prod"])
    surge = document["spec"]["surge"]
    assert [(surge[k]["mode"], surge[k]["state"], len(surge[k]["nodes"])) for k in sorted(surge)] == [
        ("surge", "removed", 1),
        ("surge", "removed", 1),
    ]
    apps_surge, system_surge = (
        surge["acme-prod/apps"]["nodes"][0]["name"],
        surge["acme-prod/system"]["nodes"][0]["name"],
    )
    assert (
        f"- acme-prod/apps: surge (1 surge node(s) at {surge['acme-prod/apps']['version']}: {apps_surge})" in markdown
    )
    assert f"surge node {system_surge} drained and removed" in markdown.split("## Rollback", 1)[1]
    assert f"surge node {apps_surge}" not in markdown.split("## Rollback", 1)[1]  # gone before the failure

    async with httpx.AsyncClient(base_url=platform) as http:
        operations = (await http.get("/v1/operations", params={"cluster": "acme-prod"})).json()["operations"]
        quota = (await http.get("/v1/clusters/acme-prod/quota")).json()["surge_nodes"]
        kube = (await http.get(f"{sandbox.kube_urls['acme-prod']}/api/v1/nodes")).json()["items"]
    created = sorted(op["node"] for op in operations if op["type"] == "CREATE_NODE")
    removed = sorted(op["node"] for op in operations if op["type"] == "DELETE_NODE")
    assert created == removed == sorted([apps_surge, system_surge])
    assert quota["in_use"] == 0
    assert not [node for node in kube if node["metadata"]["name"] in created]
