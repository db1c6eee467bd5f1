"""A PodDisruptionBudget that allows no disruption: named at pre-check; forced anyway, the drain
gives up at its bound, the node is uncordoned, what was upgraded is rolled back, and the report
says exactly what was touched."""

from __future__ import annotations

import httpx

from .conftest import OPERATOR, SENIOR, Harness, cluster_event, engagement_event, fast_runner, upgrade_request


async def test_blocking_pdb_found_at_precheck_then_forced_drain_times_out_and_rolls_back(blocking: Harness) -> None:
    sandbox = blocking.sandbox
    await blocking.start_runner(fast_runner(sandbox, drain_timeout_s=1.5))
    api = blocking.api
    assert api is not None
    await blocking.deliver(
        engagement_event([cluster_event(sandbox, "pay-prod", environment="non-prod")], None),
        upgrade_request("req-pay", "pay-prod"),
    )
    first = (await blocking.rows("SELECT operation_id FROM operations"))[0]["operation_id"]
    failed = await blocking.until_state(first, "precheck_failed")
    blocking_findings = [(f["code"], f["subject"]) for f in failed["findings"] if f["severity"] == "blocking"]
    assert blocking_findings == [("blocking-pdb", "PodDisruptionBudget payments/ledger-pdb")]
    step = (await blocking.events("upgrade.step"))[-1]
    assert (step["step"], step["status"]) == ("pre-check", "failed") and "payments/ledger-pdb" in step["detail"]

    # The request has its (failed) operation and the cluster none live: the refusal names the request's rule.
    again = {"engagement_id": "eng-acme", "cluster_id": "pay-prod", "request_id": "req-pay"}
    refused = await api.post("/v1/operations", json=again, headers=OPERATOR)
    assert refused.status_code == 409 and refused.json()["type"].endswith("/request-has-operation"), refused.text
    assert f"'req-pay' already has operation {first} (upgrade, precheck_failed)" in refused.json()["detail"]

    # An operator may not force; a senior may, and the run fails where the pre-check said it would.
    body = {"engagement_id": "eng-acme", "cluster_id": "pay-prod", "force": True}
    assert (await api.post("/v1/operations", json=body, headers=OPERATOR)).status_code == 403
    forced = await api.post("/v1/operations", json=body, headers=SENIOR)
    assert forced.status_code == 201, forced.text
    operation_id = forced.json()["operation_id"]
    recheck = await api.post(f"/v1/operations/{first}/recheck", headers=OPERATOR)
    assert recheck.status_code == 409 and f"another live operation {operation_id}" in recheck.json()["detail"]
    refused = await api.post("/v1/operations", json=body | {"request_id": "req-other"}, headers=SENIOR)
    assert refused.status_code == 409 and refused.json()["type"].endswith("/operation-in-progress"), refused.text
    assert f"'pay-prod' already has live operation {operation_id} (upgrade," in refused.json()["detail"]
    done = await blocking.until_state(operation_id, "rolled_back", "completed", timeout_s=90)
    assert done["state"] == "rolled_back"
    assert "timed out after 1.5s" in done["failure"] and "payments/ledger" in done["failure"]

    nodes = (await api.get(f"/v1/operations/{operation_id}/nodes", headers=OPERATOR)).json()
    timed_out = [node for node in nodes if node["phase"] == "restored" and "timed out" in node["detail"]]
    assert len(timed_out) == 1
    assert timed_out[0]["touched"] == ["cordoned", "uncordoned"]
    assert not [node for node in nodes if node["phase"] in ("cordoned", "drained", "upgrading", "ready")]
    async with httpx.AsyncClient() as http:
        live = (await http.get(f"{sandbox.kube_urls['pay-prod']}/api/v1/nodes")).json()["items"]
    assert not [node for node in live if node["spec"].get("unschedulable")]
    versions = {node["metadata"]["name"]: node["status"]["nodeInfo"]["kubeletVersion"] for node in live}
    for node in nodes:
        if node["phase"] == "rolled_back" or node is timed_out[0]:
            assert versions[node["node"]] == f"v{node['from_version']}", node

    report = (await api.get(f"/v1/operations/{operation_id}/report?format=markdown", headers=OPERATOR)).text
    assert "Outcome: **rolled_back**" in report
    assert f"| {timed_out[0]['node']} | restored |" in report
    assert "## Rollback" in report and "control plane of pay-prod left at 1.31" in report
    # The blocked node was the first: the pool was never changed, the others never touched.
    assert [node["phase"] for node in nodes] == ["restored", "pending", "pending"]
    assert {versions[node["node"]] for node in nodes} == {"v1.30.4"}
    rollback = report.split("## Rollback", 1)[1]
    assert f"drain of {timed_out[0]['node']} timed out" in rollback and "node uncordoned, not replaced" in rollback
