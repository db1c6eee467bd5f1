"""The healthy path through Kafka: intake announces the engagement and opens a `cluster-upgrade`
request; upgrade-runner plans, pre-checks, stages on the paired non-prod cluster, waits for the
customer admin's sign-off, upgrades node by node inside the window, post-checks and reports; intake
moves the request along on `upgrade.step` until it is resolved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from k8sops_common.service import create_app
from k8sops_intake.app import DEFINITION as INTAKE
from k8sops_intake.settings import WebhookSettings

from .conftest import ADMIN, ENGAGEMENT, OPERATOR, REQUESTER, SENIOR, VIEWER, Harness, fast_runner, window_around


async def start_intake(harness: Harness, isolation: Any) -> httpx.AsyncClient:
    settings = await isolation.settings("intake", "k8sops_intake.migrations")
    app: FastAPI = create_app(INTAKE, settings)
    app.state.context.extras["webhook_settings"] = WebhookSettings(allow_private_targets=True)
    await harness.stack.enter_async_context(app.router.lifespan_context(app))
    return await harness.stack.enter_async_context(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")
    )


async def test_healthy_upgrade_staged_signed_off_in_window_reported_and_resolved(
    healthy: Harness, isolation: Any
) -> None:
    sandbox = healthy.sandbox
    await healthy.start_runner(fast_runner(sandbox))
    runner = healthy.api
    assert runner is not None
    intake = await start_intake(healthy, isolation)
    window = window_around(datetime.now(UTC), open_now=True).model_dump()
    created = await intake.post(
        "/v1/engagements",
        json={
            "id": ENGAGEMENT,
            "name": "Acme",
            "tier": "k8s-247",
            "timezone": "Asia/Dhaka",
            "working_days": [6, 0, 1, 2, 3],
            "maintenance_window": window,
        },
        headers=SENIOR,
    )
    assert created.status_code == 201, created.text
    for name, environment, paired in (("acme-staging", "non-prod", None), ("acme-prod", "prod", "acme-staging")):
        body = {
            "id": name,
            "name": name,
            "environment": environment,
            "paired_cluster_id": paired,
            "api_endpoint": sandbox.kube_urls[name],
            "credentials_ref": f"vault://k8s/{name}/admin",
            "size_band": "S",
            "workload_band": "<50",
            "monthly_retainer_bdt": "60000.00",
        }
        response = await intake.post(f"/v1/engagements/{ENGAGEMENT}/clusters", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
    opened = await intake.post(
        "/v1/requests",
        json={
            "engagement_id": ENGAGEMENT,
            "cluster_id": "acme-prod",
            "category": "cluster-upgrade",
            "priority": "P3",
            "title": "Upgrade acme-prod to the next minor",
        },
        headers=REQUESTER,
    )
    assert opened.status_code == 201, opened.text
    request_id = opened.json()["id"]
    acknowledged = await intake.post(
        f"/v1/requests/{request_id}/transitions", json={"action": "acknowledge"}, headers=OPERATOR
    )
    assert acknowledged.status_code == 200, acknowledged.text

    async def plan() -> list[dict[str, Any]]:
        response = await runner.get("/v1/operations", headers=OPERATOR)
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    operation_id = (await healthy.until(plan, lambda items: len(items) == 1, 30))[0]["operation_id"]
    waiting = await healthy.until_state(operation_id, "awaiting_signoff", timeout_s=90)
    stage = waiting["stage"]
    assert (stage["cluster_name"], stage["result"], waiting["to_version"]) == ("acme-staging", "passed", "1.30")

    # Only the customer's engagement admin signs off, and only for the stage that passed.
    for headers in (REQUESTER, VIEWER, OPERATOR):
        refused = await runner.post(
            f"/v1/operations/{operation_id}/sign-off", json={"stage_ref": stage["stage_ref"]}, headers=headers
        )
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "k8s-ops.admin" in refused.json()["detail"]
    wrong = await runner.post(
        f"/v1/operations/{operation_id}/sign-off", json={"stage_ref": "stage-other"}, headers=ADMIN
    )
    assert wrong.status_code == 409 and stage["stage_ref"] in wrong.json()["detail"]
    signed = await runner.post(
        f"/v1/operations/{operation_id}/sign-off", json={"stage_ref": stage["stage_ref"]}, headers=ADMIN
    )
    assert signed.status_code == 200, signed.text

    done = await healthy.until_state(operation_id, "completed", "rolled_back", timeout_s=120)
    assert done["state"] == "completed", done["failure"]
    async with httpx.AsyncClient() as http:
        nodes = (await http.get(f"{sandbox.kube_urls['acme-prod']}/api/v1/nodes")).json()["items"]
    assert {node["status"]["nodeInfo"]["kubeletVersion"][:6] for node in nodes} == {"v1.30."}
    assert not [node for node in nodes if node["spec"].get("unschedulable")]

    report = (await runner.get(f"/v1/operations/{operation_id}/report", headers=VIEWER | {})).json()
    prod_nodes = [n for pool, rows in report["node_pools"].items() if pool.startswith("acme-prod/") for n in rows]
    assert sorted(n["node"] for n in prod_nodes) == sorted(node["metadata"]["name"] for node in nodes)
    assert {n["phase"] for n in prod_nodes} == {"done"}
    assert all(n["touched"] == ["cordoned", "drained", "replaced", "uncordoned"] for n in prod_nodes)
    assert report["signoff"]["stage_ref"] == stage["stage_ref"]
    assert [step["state"] for step in report["steps"]] == [
        "planned",
        "prechecking",
        "staging",
        "awaiting_signoff",
        "scheduled",
        "upgrading_control_plane",
        "upgrading_nodes",
        "postchecking",
        "completed",
    ]

    async def request_status() -> str:
        response = await intake.get(f"/v1/requests/{request_id}", headers=OPERATOR)
        status: str = response.json()["status"]
        return status

    assert await healthy.until(request_status, lambda status: status == "resolved", 30) == "resolved"
    comments = (await intake.get(f"/v1/requests/{request_id}/comments", headers=REQUESTER)).json()
    outcome = [c["body"] for c in comments if c["author"] == "upgrade-runner"]
    assert outcome == [
        f"Upgrade completed; the report is on the operation (operation {operation_id}): "
        "post-check green against the baseline"
    ]
    audited = {event["action"] for event in await healthy.events("audit.event")}
    assert {
        "upgrade.plan",
        "upgrade.precheck_passed",
        "upgrade.stage_passed",
        "upgrade.signed_off",
        "upgrade.window_opened",
        "upgrade.postcheck_passed",
    } <= audited
