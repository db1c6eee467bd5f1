"""Drift end to end: a baseline recorded at onboarding; changes made in the cluster outside the
platform are reported field by field with no noise from what the server and controllers write;
a reconcile restores changed and missing objects, and deletes the extra one only when the
customer authorised it."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import ADMIN, OPERATOR, VIEWER, Harness, cluster_event, engagement_event, fast_runner

WEB = "/apis/apps/v1/namespaces/shop/deployments/web"
POLICY = "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/default-deny"
EXTRA = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "debug-flags"}, "data": {"verbose": "1"}}
MERGE = {"Content-Type": "application/merge-patch+json"}


async def reconcile(harness: Harness, **body: Any) -> httpx.Response:
    assert harness.api is not None
    payload = {"engagement_id": "eng-acme", "cluster_id": "acme-staging", **body}
    return await harness.api.post("/v1/operations/drift-reconcile", json=payload, headers=OPERATOR)


async def test_drift_names_only_the_changed_fields_and_reconcile_restores(healthy: Harness) -> None:
    sandbox = healthy.sandbox
    await healthy.start_runner(fast_runner(sandbox))
    api = healthy.api
    assert api is not None
    await healthy.deliver(engagement_event([cluster_event(sandbox, "acme-staging", environment="non-prod")], None))
    none_yet = await api.get("/v1/clusters/acme-staging/drift", headers=VIEWER)
    assert none_yet.status_code == 409 and "baseline" in none_yet.json()["detail"]
    recorded = await api.post("/v1/clusters/acme-staging/baseline", headers=OPERATOR)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["objects"] >= 8

    # Outside the platform: someone scales and re-images a Deployment, deletes a policy, adds a ConfigMap.
    async with httpx.AsyncClient(base_url=sandbox.kube_urls["acme-staging"]) as kube:
        live = (await kube.get(WEB)).json()
        containers = live["spec"]["template"]["spec"]["containers"]
        patch = {
            "spec": {"replicas": 6, "template": {"spec": {"containers": [{**containers[0], "image": "nginx:1.27.1"}]}}}
        }
        assert (await kube.patch(WEB, json=patch, headers=MERGE)).status_code == 200
        assert (await kube.delete(POLICY)).status_code == 200
        assert (await kube.post("/api/v1/namespaces/shop/configmaps", json=EXTRA)).status_code == 201

        async def rolled_out() -> dict[str, Any]:
            found: dict[str, Any] = (await kube.get(WEB)).json()
            return found

        # The controllers rewrite status, generation and ReplicaSets meanwhile: none of it is drift.
        await healthy.until(rolled_out, lambda d: d["status"].get("availableReplicas") == 6, 30)

    drift = await api.get("/v1/clusters/acme-staging/drift", headers=VIEWER)
    assert drift.status_code == 200, drift.text
    findings = {f["object"]: f for f in drift.json()["findings"]}
    assert set(findings) == {"ConfigMap shop/debug-flags", "Deployment shop/web", "NetworkPolicy shop/default-deny"}
    assert findings["ConfigMap shop/debug-flags"]["drift"] == "extra"
    assert findings["NetworkPolicy shop/default-deny"]["drift"] == "missing"
    assert findings["Deployment shop/web"]["changes"] == [
        {"path": "spec.replicas", "desired": 4, "live": 6},
        {"path": "spec.template.spec.containers[web].image", "desired": "nginx:1.27.0", "live": "nginx:1.27.1"},
    ]

    # Reconcile: changed and missing objects back; the extra one stays without authorisation.
    first = await reconcile(healthy)
    assert first.status_code == 201, first.text
    done = await healthy.until_state(first.json()["operation_id"], "completed", "rolled_back")
    assert done["state"] == "completed", (done["failure"], done["spec"])
    assert "ConfigMap shop/debug-flags: extra, left in place" in str(done["spec"]["actions"])
    async with httpx.AsyncClient(base_url=sandbox.kube_urls["acme-staging"]) as kube:
        web = (await kube.get(WEB)).json()
        assert web["spec"]["replicas"] == 4
        assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27.0"
        assert (await kube.get(POLICY)).status_code == 200
    report = (await api.get(f"/v1/operations/{done['operation_id']}/report?format=markdown", headers=OPERATOR)).text
    assert "- Deployment shop/web: changed (spec.replicas, spec.template.spec.containers[web].image)" in report
    assert "- NetworkPolicy shop/default-deny: restored (missing)" in report
    after = (await api.get("/v1/clusters/acme-staging/drift", headers=VIEWER)).json()["findings"]
    assert [(f["object"], f["drift"]) for f in after] == [("ConfigMap shop/debug-flags", "extra")]

    # Deleting extras is destructive: refused without the customer's authorisation, done with it.
    refused = await reconcile(healthy, delete_extra=True)
    assert refused.status_code == 403 and "delete-drift-extras" in refused.json()["detail"]
    grant = {
        "engagement_id": "eng-acme",
        "cluster_id": "acme-staging",
        "action": "delete-drift-extras",
        "target": {"kind": "Cluster", "name": "acme-staging"},
        "reason": "debug flags were never meant to stay",
    }
    authorisation = await api.post("/v1/authorisations", json=grant, headers=ADMIN)
    assert authorisation.status_code == 201, authorisation.text
    second = await reconcile(healthy, delete_extra=True, authorisation_id=authorisation.json()["authorisation_id"])
    assert second.status_code == 201, second.text
    cleaned = await healthy.until_state(second.json()["operation_id"], "completed", "rolled_back")
    assert cleaned["state"] == "completed", cleaned
    assert (await api.get("/v1/clusters/acme-staging/drift", headers=VIEWER)).json()["findings"] == []

    kinds = {(e["kind"], e["state"]) for e in await healthy.events("upgrade.step")}
    assert ("drift-reconcile", "applying") in kinds and ("drift-reconcile", "completed") in kinds
    audit = {e["action"] for e in await healthy.events("audit.event")}
    assert {"drift.baseline_recorded", "drift-reconcile.applied", "cluster.delete-drift-extras"} <= audit
    # Each measurement a reconcile makes is published for the quarterly review, with the step.
    measured = [(e["trigger"], e["total"], e["operation_id"]) for e in await healthy.events("drift.measured")]
    assert measured == [
        ("reconcile-precheck", 3, first.json()["operation_id"]),
        ("reconcile-postcheck", 1, first.json()["operation_id"]),
        ("reconcile-precheck", 1, second.json()["operation_id"]),
        ("reconcile-postcheck", 0, second.json()["operation_id"]),
    ]
