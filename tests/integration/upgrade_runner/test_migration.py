"""A workload migration end to end: the new cluster provisioned through the platform API, the
CD/CI checklist signed off, three workloads shifted one by one; the runner killed mid-shift is
taken over from the persisted workload phases; one workload whose image cannot be pulled on the
new cluster is moved back while the others stay moved; after a fix and a re-check it moves too;
the old cluster is decommissioned only with the customer's authorisation."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from .conftest import ADMIN, OPERATOR, Harness, cluster_event, engagement_event, fast_runner

WORKLOADS = [
    {"kind": "Deployment", "namespace": "shop", "name": "web"},
    {"kind": "Deployment", "namespace": "shop", "name": "checkout"},
    {"kind": "Deployment", "namespace": "legacy-reports", "name": "report-builder"},
]
NEW_CLUSTER = {
    "name": "acme-next",
    "version": "1.30.4",
    "node_pools": [{"name": "apps", "instance_type": "m5.2xlarge", "count": 3}],
}


# Objects of the migrated namespaces besides the workloads (the scenario has Service shop/web and
# NetworkPolicy shop/default-deny already).
SHOP = "/api/v1/namespaces/shop"
CARRIED: list[tuple[str, dict[str, Any]]] = [
    (f"{SHOP}/configmaps", {"metadata": {"name": "web-config"}, "data": {"LOG_LEVEL": "info"}}),
    (f"{SHOP}/secrets", {"metadata": {"name": "web-tls"}, "type": "Opaque", "data": {"key": "c2VjcmV0"}}),
    (f"{SHOP}/serviceaccounts", {"metadata": {"name": "web"}}),
    (
        f"{SHOP}/persistentvolumeclaims",
        {
            "metadata": {"name": "web-data", "annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "volumeName": "pv-old-cluster-0001",
            },
        },
    ),
    (
        "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers",
        {
            "metadata": {"name": "checkout"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout"},
                "minReplicas": 2,
                "maxReplicas": 8,
            },
        },
    ),
    (
        "/apis/policy/v1/namespaces/shop/poddisruptionbudgets",
        {"metadata": {"name": "web"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
    ),
    (
        "/apis/networking.k8s.io/v1/namespaces/shop/ingresses",
        {
            "metadata": {"name": "web"},
            "spec": {
                "rules": [
                    {
                        "host": "shop.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
    ),
]


async def present(kube: str) -> set[str]:
    """Which of the carried objects (and the scenario's Service and policy) exist on `kube`."""
    found = set()
    async with httpx.AsyncClient(base_url=kube) as http:
        for path, obj in [*CARRIED, (f"{SHOP}/services", {"metadata": {"name": "web"}})]:
            if (await http.get(f"{path}/{obj['metadata']['name']}")).status_code == 200:
                found.add(f"{path.rsplit('/', 1)[-1]}/{obj['metadata']['name']}")
    return found


async def replicas(kube: str) -> dict[str, Any]:
    found = {}
    async with httpx.AsyncClient(base_url=kube) as http:
        for workload in WORKLOADS:
            path = f"/apis/apps/v1/namespaces/{workload['namespace']}/deployments/{workload['name']}"
            response = await http.get(path)
            found[workload["name"]] = response.json()["spec"]["replicas"] if response.status_code == 200 else None
    return found


async def test_three_workloads_migrate_a_failing_one_moves_back_and_decommission_needs_authorisation(
    healthy: Harness,
) -> None:
    sandbox = healthy.sandbox
    await healthy.start_runner(fast_runner(sandbox, runner_id="runner-1", lease_ttl_s=5, postcheck_timeout_s=8))
    api = healthy.api
    assert api is not None
    await healthy.deliver(engagement_event([cluster_event(sandbox, "acme-staging", environment="non-prod")], None))
    async with httpx.AsyncClient(base_url=sandbox.kube_urls["acme-staging"]) as kube:
        for path, obj in CARRIED:
            assert (await kube.post(path, json=obj)).status_code == 201
    body = {
        "engagement_id": "eng-acme",
        "cluster_id": "acme-staging",
        "new_cluster": NEW_CLUSTER,
        "topology": "One regional cluster, three node pools across zones a-c; ingress via the shared LB.",
        "workloads": WORKLOADS,
    }
    assert (
        await api.post("/v1/operations/migration", json={**body, "workloads": []}, headers=OPERATOR)
    ).status_code == 422
    created = await api.post("/v1/operations/migration", json=body, headers=OPERATOR)
    assert created.status_code == 201, created.text
    operation_id = created.json()["operation_id"]

    # Provisioned through the platform API; the checklist waits for the customer.
    waiting = await healthy.until_state(operation_id, "awaiting_signoff", "precheck_failed")
    assert waiting["state"] == "awaiting_signoff", waiting["findings"]
    new_kube = waiting["spec"]["new_cluster"]["kubernetes_api_url"]
    assert len(waiting["stage"]["checklist"]) == 4
    sandbox.inject_fault(
        {"type": "image_pull_fails", "cluster": "acme-next", "image": "registry.example.com/shop/checkout:1.9.0"}
    )
    signed = await api.post(
        f"/v1/operations/{operation_id}/sign-off", json={"stage_ref": waiting["stage"]["stage_ref"]}, headers=ADMIN
    )
    assert signed.status_code == 200, signed.text

    # kill -9 while checkout waits to become ready on the new cluster: another runner takes over.
    async def phases() -> dict[str, str]:
        return {w["name"]: w["phase"] for w in (await healthy.operation(operation_id))["spec"]["workloads"]}

    mid = await healthy.until(phases, lambda p: p["checkout"] == "started", 30)
    assert mid == {"web": "moved", "checkout": "started", "report-builder": "pending"}
    doomed = [t for t in asyncio.all_tasks() if t.get_name() in (f"operation-{operation_id}", "run_runner")]
    assert {t.get_name() for t in doomed} == {f"operation-{operation_id}", "run_runner"}
    for task in doomed:
        task.cancel()
    await asyncio.gather(*doomed, return_exceptions=True)
    await healthy.start_runner(fast_runner(sandbox, runner_id="runner-2", lease_ttl_s=30, postcheck_timeout_s=8))

    # checkout cannot start on the new cluster: moved back, the others stay moved.
    blocked = await healthy.until_state(operation_id, "shift_blocked", "awaiting_decommission")
    assert blocked["state"] == "shift_blocked"
    assert await phases() == {"web": "moved", "checkout": "rolled_back", "report-builder": "moved"}
    assert await replicas(sandbox.kube_urls["acme-staging"]) == {"web": 0, "checkout": 6, "report-builder": 0}
    assert await replicas(new_kube) == {"web": 4, "checkout": None, "report-builder": 2}
    # What the pods need came first; what refers to the workloads waits until every one moved.
    objects = [(o["kind"], o["namespace"], o["name"], o["phase"]) for o in blocked["spec"]["objects"]]
    assert objects == [
        ("ServiceAccount", "shop", "web", "copied"),
        ("Secret", "shop", "web-tls", "copied"),
        ("ConfigMap", "shop", "web-config", "copied"),
        ("PersistentVolumeClaim", "shop", "web-data", "copied"),
        ("NetworkPolicy", "shop", "default-deny", "copied"),
        ("Service", "shop", "web", "copied"),
        ("HorizontalPodAutoscaler", "shop", "checkout", "pending"),
        ("PodDisruptionBudget", "shop", "web", "pending"),
        ("PodDisruptionBudget", "shop", "web-pdb", "pending"),  # the scenario's; api's stays (api does not move)
        ("Ingress", "shop", "web", "pending"),
    ]
    assert await present(new_kube) == {
        "serviceaccounts/web",
        "secrets/web-tls",
        "configmaps/web-config",
        "persistentvolumeclaims/web-data",
        "services/web",
    }
    early = await api.post(f"/v1/operations/{operation_id}/decommission", json={}, headers=OPERATOR)
    assert early.status_code == 409

    # Fixed (the image is pullable now): a re-check shifts checkout, then validation.
    sandbox.clear_faults()
    assert (await api.post(f"/v1/operations/{operation_id}/recheck", headers=OPERATOR)).status_code == 200
    validated = await healthy.until_state(operation_id, "awaiting_decommission", "shift_blocked")
    assert validated["state"] == "awaiting_decommission", validated["spec"]["workloads"]
    assert await replicas(sandbox.kube_urls["acme-staging"]) == {"web": 0, "checkout": 0, "report-builder": 0}
    assert {o["phase"] for o in validated["spec"]["objects"]} == {"copied"}
    assert len(await present(new_kube)) == len(CARRIED) + 1
    async with httpx.AsyncClient(base_url=new_kube) as kube:
        claim = (await kube.get(f"{SHOP}/persistentvolumeclaims/web-data")).json()
        assert "volumeName" not in claim["spec"] and "annotations" not in claim["metadata"]
        assert (await kube.get(f"{SHOP}/secrets/web-tls")).json()["data"] == {"key": "c2VjcmV0"}

    # Decommission is destructive: refused without the admin's authorisation.
    refused = await api.post(f"/v1/operations/{operation_id}/decommission", json={}, headers=OPERATOR)
    assert refused.status_code == 403 and "decommission-cluster" in refused.json()["detail"]
    grant = {
        "engagement_id": "eng-acme",
        "cluster_id": "acme-staging",
        "action": "decommission-cluster",
        "target": {"kind": "Cluster", "name": "acme-staging"},
        "reason": "migrated to acme-next",
    }
    authorisation = (await api.post("/v1/authorisations", json=grant, headers=ADMIN)).json()["authorisation_id"]
    go = await api.post(
        f"/v1/operations/{operation_id}/decommission", json={"authorisation_id": authorisation}, headers=OPERATOR
    )
    assert go.status_code == 200, go.text
    done = await healthy.until_state(operation_id, "completed")
    assert done["spec"]["decommission_authorisation_id"] == authorisation
    async with httpx.AsyncClient(base_url=sandbox.platform_url) as platform:
        assert (await platform.get("/v1/clusters/acme-staging")).status_code == 404
        assert (await platform.get("/v1/clusters/acme-next")).status_code == 200

    report = (await api.get(f"/v1/operations/{operation_id}/report?format=markdown", headers=OPERATOR)).text
    assert "# Migration report: acme-staging" in report and "One regional cluster" in report
    assert "| Deployment shop/checkout | moved | ready on the new cluster; scaled to 0 on the old |" in report
    states = [e["state"] for e in await healthy.events("upgrade.step") if e["operation_id"] == operation_id]
    assert states[:4] == ["planned", "prechecking", "awaiting_signoff", "scheduled"]
    assert states[-3:] == ["awaiting_decommission", "decommissioning", "completed"]
    audit = [e for e in await healthy.events("audit.event") if e["action"] == "migration.decommission"]
    assert [e["authorization_ref"] for e in audit] == [authorisation]
