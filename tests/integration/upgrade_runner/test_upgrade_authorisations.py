"""Customer authorisations: an emergency upgrade outside the window, and destructive actions in a
cluster, each refused without one, allowed once with one, refused on a second use or after expiry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from .conftest import (
    ADMIN,
    ENGAGEMENT,
    OPERATOR,
    REQUESTER,
    Harness,
    acme_with_staging,
    bearer,
    cluster_event,
    engagement_event,
    fast_runner,
    window_around,
)


async def test_emergency_outside_the_window_needs_the_admins_authorisation(healthy: Harness) -> None:
    sandbox = healthy.sandbox
    await healthy.start_runner(fast_runner(sandbox))
    api = healthy.api
    assert api is not None
    await healthy.deliver(acme_with_staging(sandbox, window_open=False))
    created = await api.post(
        "/v1/operations",
        json={"engagement_id": ENGAGEMENT, "cluster_id": "acme-prod", "emergency": True},
        headers=OPERATOR,
    )
    assert created.status_code == 201, created.text
    operation_id = created.json()["operation_id"]
    stage = (await healthy.until_state(operation_id, "awaiting_signoff", timeout_s=90))["stage"]
    signed = await api.post(
        f"/v1/operations/{operation_id}/sign-off", json={"stage_ref": stage["stage_ref"]}, headers=ADMIN
    )
    assert signed.status_code == 200, signed.text
    waiting = await healthy.until(
        lambda: healthy.operation(operation_id),
        lambda op: (
            op["state"] == "scheduled"
            and op["next_run_at"] is not None
            and datetime.fromisoformat(op["next_run_at"]) > datetime.now(UTC)
        ),
    )
    assert waiting["state"] == "scheduled"  # waits for next week's window

    refused = await api.post(f"/v1/operations/{operation_id}/start", json={}, headers=OPERATOR)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "emergency-upgrade on Cluster acme-prod" in refused.json()["detail"]

    grant = {
        "engagement_id": ENGAGEMENT,
        "cluster_id": "acme-prod",
        "action": "emergency-upgrade",
        "target": {"kind": "Cluster", "name": "acme-prod"},
        "reason": "CVE-2026-0001",
    }
    assert (await api.post("/v1/authorisations", json=grant, headers=REQUESTER)).status_code == 403
    authorisation = await api.post("/v1/authorisations", json=grant, headers=ADMIN)
    assert authorisation.status_code == 201, authorisation.text
    authorisation_id = authorisation.json()["authorisation_id"]
    started = await api.post(
        f"/v1/operations/{operation_id}/start", json={"authorisation_id": authorisation_id}, headers=OPERATOR
    )
    assert started.status_code == 200, started.text
    done = await healthy.until_state(operation_id, "completed", "rolled_back", timeout_s=90)
    assert done["state"] == "completed", done["failure"]
    audit = await healthy.events("audit.event")
    assert [e["outcome"] for e in audit if e["action"] == "cluster.emergency-upgrade"] == ["denied"]
    start = next(e for e in audit if e["action"] == "upgrade.start")
    assert start["authorization_ref"] == authorisation_id
    assert next(e for e in audit if e["action"] == "upgrade.window_opened")["authorization_ref"] == authorisation_id


async def act(api: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] = OPERATOR) -> httpx.Response:
    return await api.post("/v1/clusters/acme-prod/actions", json=body, headers=headers)


async def test_destructive_actions_need_an_exact_single_use_unexpired_authorisation(healthy: Harness) -> None:
    sandbox = healthy.sandbox
    await healthy.start_runner(fast_runner(sandbox))
    api = healthy.api
    assert api is not None
    await healthy.deliver(
        engagement_event([cluster_event(sandbox, "acme-prod")], window_around(datetime.now(UTC), open_now=True))
    )
    delete_ns = {"action": "delete-namespace", "target": {"kind": "Namespace", "name": "legacy-reports"}}

    # Non-destructive: allowed to the engagement's operators, audited.
    async with httpx.AsyncClient() as http:
        node = (await http.get(f"{sandbox.kube_urls['acme-prod']}/api/v1/nodes")).json()["items"][0]["metadata"]["name"]
    cordoned = await act(api, {"action": "cordon", "target": {"kind": "Node", "name": node}})
    assert cordoned.status_code == 201, cordoned.text
    assert (await act(api, {"action": "uncordon", "target": {"kind": "Node", "name": node}})).status_code == 201
    web = {"kind": "Deployment", "namespace": "shop", "name": "checkout"}
    async with httpx.AsyncClient(base_url=sandbox.kube_urls["acme-prod"]) as http:
        pods = (await http.get("/api/v1/namespaces/shop/pods", params={"labelSelector": "app=checkout"})).json()
    victim = pods["items"][0]["metadata"]["name"]
    deleted = await act(api, {"action": "delete-pod", "target": {"kind": "Pod", "namespace": "shop", "name": victim}})
    assert deleted.status_code == 201, deleted.text
    assert (await act(api, {"action": "restart-workload", "target": web})).status_code == 201
    assert (await act(api, {"action": "scale", "target": web, "replicas": 4})).status_code == 201
    async with httpx.AsyncClient(base_url=sandbox.kube_urls["acme-prod"]) as http:
        checkout = (await http.get("/apis/apps/v1/namespaces/shop/deployments/checkout")).json()
    assert checkout["spec"]["replicas"] == 4
    assert "kubectl.kubernetes.io/restartedAt" in checkout["spec"]["template"]["metadata"]["annotations"]
    drained = await act(api, {"action": "drain", "target": {"kind": "Node", "name": node}})  # inside the window
    assert drained.status_code == 201, drained.text
    assert (await act(api, {"action": "uncordon", "target": {"kind": "Node", "name": node}})).status_code == 201
    outsider = bearer(["k8s-ops.operator"], ["eng-other"])
    assert (await act(api, delete_ns, outsider)).status_code == 404
    assert (await act(api, {**delete_ns, "target": {"kind": "Pod", "name": "x"}})).status_code == 422

    without = await act(api, delete_ns)
    assert without.status_code == 403 and "authorisation for delete-namespace" in without.json()["detail"]
    scale_to_zero = {
        "action": "scale",
        "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
        "replicas": 0,
    }
    assert (await act(api, scale_to_zero)).status_code == 403

    grant = {
        "engagement_id": ENGAGEMENT,
        "cluster_id": "acme-prod",
        "action": "delete-namespace",
        "target": {"kind": "Namespace", "name": "legacy-reports"},
        "reason": "decommissioned",
    }
    authorisation_id = (await api.post("/v1/authorisations", json=grant, headers=ADMIN)).json()["authorisation_id"]
    other_target = await act(
        api, {**delete_ns, "target": {"kind": "Namespace", "name": "shop"}, "authorisation_id": authorisation_id}
    )
    assert other_target.status_code == 403 and "not delete-namespace on Namespace shop" in other_target.json()["detail"]
    done = await act(api, {**delete_ns, "authorisation_id": authorisation_id})
    assert done.status_code == 201, done.text
    assert done.json()["authorisation_id"] == authorisation_id
    async with httpx.AsyncClient() as http:
        gone = await http.get(f"{sandbox.kube_urls['acme-prod']}/api/v1/namespaces/legacy-reports")
    assert gone.status_code == 404
    again = await act(api, {**delete_ns, "authorisation_id": authorisation_id})
    assert again.status_code == 403 and "single-use" in again.json()["detail"]

    grant_pvc = {
        **grant,
        "action": "delete-pvc",
        "target": {"kind": "PersistentVolumeClaim", "namespace": "shop", "name": "data"},
    }
    expiring = (await api.post("/v1/authorisations", json=grant_pvc, headers=ADMIN)).json()["authorisation_id"]
    # An hour passes.
    await healthy.execute(
        "UPDATE authorisations SET expires_at = now() - interval '1 second' WHERE authorisation_id = :id", id=expiring
    )
    expired = await act(api, {"action": "delete-pvc", "target": grant_pvc["target"], "authorisation_id": expiring})
    assert expired.status_code == 403 and "expired" in expired.json()["detail"]

    audit = [e for e in await healthy.events("audit.event") if e["action"].startswith("cluster.")]
    outcomes = [(e["action"], e["outcome"], e["authorization_ref"]) for e in audit]
    assert ("cluster.delete-namespace", "success", authorisation_id) in outcomes
    assert outcomes.count(("cluster.delete-namespace", "denied", authorisation_id)) == 2
    assert ("cluster.delete-pvc", "denied", expiring) in outcomes
    assert ("cluster.cordon", "success", None) in outcomes
    assert ("cluster.drain", "success", None) in outcomes and ("cluster.delete-pod", "success", None) in outcomes
