"""Per-cluster credentials and the report on the bus.

Each cluster is reached with its own credentials, resolved from its reference through the secret
store's files; the sandbox refuses (401) another cluster's token, and the refusal stops the plan at
pre-check with a finding that names it, never the token. The final state's report travels on
`upgrade.report` (Markdown and JSON) with the request it came from, for intake to attach."""

from __future__ import annotations

import json

import httpx

from .conftest import (
    SENIOR,
    Harness,
    cluster_event,
    credentials_of,
    engagement_event,
    fast_runner,
    upgrade_request,
)


async def test_each_cluster_uses_its_own_credentials_and_a_wrong_one_is_refused(healthy: Harness) -> None:
    sandbox = healthy.sandbox
    sandbox.auth.required = True
    prod_token = sandbox.auth.issue("acme-prod")
    async with httpx.AsyncClient() as http:
        staging = f"{sandbox.kube_urls['acme-staging']}/api/v1/nodes"
        assert (await http.get(staging)).status_code == 401
        assert (await http.get(staging, headers={"Authorization": f"Bearer {prod_token}"})).status_code == 401
        right = {"Authorization": f"Bearer {sandbox.auth.issue('acme-staging')}"}
        assert (await http.get(staging, headers=right)).status_code == 200

    # acme-staging's reference holds acme-prod's token: the wrong cluster's credentials.
    directory = credentials_of(sandbox, {"acme-staging": prod_token})
    await healthy.start_runner(fast_runner(sandbox, credentials_dir=directory))
    api = healthy.api
    assert api is not None
    clusters = [
        cluster_event(sandbox, name, "non-prod").model_copy(update={"credentials_ref": f"vault://k8s/{name}/admin"})
        for name in ("acme-prod", "acme-staging")
    ]
    await healthy.deliver(engagement_event(clusters, None))
    await healthy.deliver(upgrade_request("req-staging", "acme-staging"))

    body = {"engagement_id": "eng-acme", "cluster_id": "acme-prod", "force": True}
    prod = (await api.post("/v1/operations", json=body, headers=SENIOR)).json()["operation_id"]
    passed = await healthy.until_state(prod, "upgrading_control_plane", "upgrading_nodes", "postchecking", "completed")
    assert not [f for f in passed["findings"] if f["code"] == "cluster-credentials"]

    listed = (await api.get("/v1/operations?cluster_id=acme-staging", headers=SENIOR)).json()["items"]
    (staging_id,) = [op["operation_id"] for op in listed]
    blocked = await healthy.until_state(staging_id, "precheck_failed")
    (finding,) = blocked["findings"]
    assert finding["code"] == "cluster-credentials"
    assert "401" in finding["message"]

    reports = [r for r in await healthy.events("upgrade.report") if r["operation_id"] == staging_id]
    (report,) = reports
    assert report["request_id"] == "req-staging"
    assert report["outcome"] == "precheck_failed"
    assert report["report"]["findings"][0]["code"] == "cluster-credentials"
    assert "`cluster-credentials`" in report["markdown"]
    assert report["report_path"] == f"/v1/operations/{staging_id}/report"
    assert not report["truncated"]

    # The token itself is nowhere on the bus: not on a step, a report or an audit event.
    payloads = await healthy.rows("SELECT payload FROM outbox")
    assert not [row for row in payloads if prod_token in json.dumps(row["payload"])]
