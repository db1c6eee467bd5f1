"""A `migration` request from intake (through Kafka) becomes a migration operation of the
request's cluster: the runner drafts the plan from the old cluster (same version and pools, its
Deployments and StatefulSets in order), provisions the new cluster and waits for the customer's
sign-off of the CD/CI checklist, with `upgrade.step` events naming the request."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from k8sops_common.events.catalog import RequestOpenedV1

from .conftest import ADMIN, ENGAGEMENT, OPERATOR, Harness, cluster_event, engagement_event, fast_runner


def migration_request(request_id: str, cluster_id: str | None) -> RequestOpenedV1:
    return RequestOpenedV1(
        request_id=request_id,
        engagement_id=ENGAGEMENT,
        cluster_id=cluster_id,
        category="migration",
        priority="P1",
        title="Move us to a new cluster",
        opened_at=datetime.now(UTC),
        opened_by="alice@customer.example",
    )


async def test_a_migration_request_is_planned_drafted_and_provisioned(healthy: Harness) -> None:
    sandbox = healthy.sandbox
    await healthy.start_runner(fast_runner(sandbox))
    api = healthy.api
    assert api is not None
    await healthy.deliver(engagement_event([cluster_event(sandbox, "acme-staging", environment="non-prod")], None))
    await healthy.deliver(migration_request("req-move", "acme-staging"), migration_request("req-nowhere", None))

    (operation,) = (await api.get("/v1/operations", headers=OPERATOR)).json()["items"]
    assert (operation["kind"], operation["request_id"], operation["emergency"]) == ("migration", "req-move", False)
    waiting = await healthy.until_state(operation["operation_id"], "awaiting_signoff", "precheck_failed")
    assert waiting["state"] == "awaiting_signoff", waiting["findings"]
    spec = waiting["spec"]
    new = spec["new_cluster"]
    assert new["name"].startswith("acme-staging-") and len(new["name"]) <= 40
    assert new["version"] == waiting["to_version"] and "Drafted by the runner" in spec["topology"]
    moved = [(w["kind"], w["namespace"], w["name"], w["phase"]) for w in spec["workloads"]]
    assert moved == sorted(moved, key=lambda w: (w[1], w[2], w[0])) and len(moved) >= 3
    assert ("Deployment", "shop", "web", "pending") in moved
    assert all(w[1] not in ("kube-system", "kube-public") for w in moved)
    async with httpx.AsyncClient(base_url=sandbox.platform_url) as platform:
        described = (await platform.get(f"/v1/clusters/{new['name']}")).json()
    assert [(p["name"], p["node_count"]) for p in described["node_pools"]] == [
        (p["name"], p["count"]) for p in new["node_pools"]
    ]
    # Intake moves the request along with these events (kind migration, the request's id).
    steps = [(e["kind"], e["request_id"], e["step"], e["status"]) for e in await healthy.events("upgrade.step")]
    assert steps == [
        ("migration", "req-move", "pre-check", "pending"),
        ("migration", "req-move", "pre-check", "running"),
        ("migration", "req-move", "stage", "succeeded"),
    ]
    refused = [e for e in await healthy.events("audit.event") if e["action"] == "migration.plan"]
    assert [(e["outcome"], e["details"]["reason"]) for e in refused if e["outcome"] == "failure"] == [
        ("failure", "the request names no cluster")
    ]
    cancelled = await api.post(f"/v1/operations/{operation['operation_id']}/cancel", headers=ADMIN)
    assert cancelled.status_code == 200, cancelled.text
