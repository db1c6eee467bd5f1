"""A replaced node that never comes back: the run stops there and the rollback replaces every node
it had already upgraded back at its previous version, uncordoned; the report lists each one."""

from __future__ import annotations

import httpx

from .conftest import SENIOR, Harness, cluster_event, engagement_event, fast_runner


async def test_node_never_ready_rolls_the_upgraded_nodes_back(healthy: Harness) -> None:
    sandbox = healthy.sandbox
    kube = sandbox.kube_urls["acme-prod"]
    await healthy.start_runner(fast_runner(sandbox, drain_timeout_s=10))
    api = healthy.api
    assert api is not None
    await healthy.deliver(engagement_event([cluster_event(sandbox, "acme-prod", "non-prod")], None))
    async with httpx.AsyncClient() as http:
        names = sorted(node["metadata"]["name"] for node in (await http.get(f"{kube}/api/v1/nodes")).json()["items"])
        fault = {"type": "node_never_ready", "cluster": "acme-prod", "node": names[2]}
        assert (await http.post(f"{sandbox.platform_url}/admin/faults", json=fault)).status_code == 201
        # Healthy nodes are Ready in 0.1 s; the bound only has to outlast a loaded machine, since the
        # faulty node never comes back whatever it is (1 s failed a healthy node in a CI-like run).
        timing = await http.patch(f"{sandbox.platform_url}/admin/timing", json={"node_ready_timeout_seconds": 8})
        assert timing.status_code == 200, timing.text

    body = {"engagement_id": "eng-acme", "cluster_id": "acme-prod", "force": True}
    operation_id = (await api.post("/v1/operations", json=body, headers=SENIOR)).json()["operation_id"]
    done = await healthy.until_state(operation_id, "rolled_back", "completed", timeout_s=90)
    assert done["state"] == "rolled_back"
    assert f"replacing {names[2]}: NODE_NOT_READY" in done["failure"]

    nodes = {row["node"]: row for row in (await api.get(f"/v1/operations/{operation_id}/nodes", headers=SENIOR)).json()}
    assert [nodes[name]["phase"] for name in names[:2]] == ["rolled_back", "rolled_back"]
    async with httpx.AsyncClient() as http:
        live = {n["metadata"]["name"]: n for n in (await http.get(f"{kube}/api/v1/nodes")).json()["items"]}
    for name in names[:2]:
        assert live[name]["status"]["nodeInfo"]["kubeletVersion"] == f"v{nodes[name]['from_version']}"
        assert not live[name]["spec"].get("unschedulable")
        assert nodes[name]["touched"] == ["cordoned", "drained", "replaced", "uncordoned", "rolled back", "uncordoned"]
    assert [nodes[name]["phase"] for name in names[3:]] == ["pending"] * len(names[3:])

    report = (await api.get(f"/v1/operations/{operation_id}/report?format=markdown", headers=SENIOR)).text
    rollback = report.split("## Rollback", 1)[1]
    for name in names[:2]:
        assert f"{name}: replaced back at {nodes[name]['from_version']} and uncordoned" in rollback
    assert f"{names[2]}: rollback failed" in rollback  # it never comes back at any version: quarantined
