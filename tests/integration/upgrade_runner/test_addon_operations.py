"""Add-ons end to end: the inventory read from the cluster, an upgrade blocked at pre-check by an
add-on that does not support the target minor, an add-on rollout that fails and is rolled back,
then one that succeeds (server-side apply, rollout) and unblocks the upgrade."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import httpx

from .conftest import OPERATOR, VIEWER, Harness, cluster_event, engagement_event, fast_runner, upgrade_request

CONTROLLER = "/apis/apps/v1/namespaces/ingress-nginx/deployments/ingress-nginx-controller"


async def controller(harness: Harness) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=harness.sandbox.kube_urls["edge-dev"]) as http:
        found: dict[str, Any] = (await http.get(CONTROLLER)).json()
        return found


async def helm_records(harness: Harness, namespace: str) -> dict[int, tuple[str, str, str, str]]:
    """Revision -> (label status, body status, chart version, description), decoded as Helm does."""
    async with httpx.AsyncClient(base_url=harness.sandbox.kube_urls["edge-dev"]) as http:
        secrets = (await http.get(f"/api/v1/namespaces/{namespace}/secrets")).json()["items"]
    found = {}
    for secret in secrets:
        if secret["type"] != "helm.sh/release.v1":
            continue
        body = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secret["data"]["release"]))))
        assert secret["metadata"]["name"] == f"sh.helm.release.v1.{body['name']}.v{body['version']}"
        chart = body["chart"]["metadata"]
        found[body["version"]] = (
            secret["metadata"]["labels"]["status"],
            body["info"]["status"],
            chart["version"],
            body["info"]["description"],
        )
    return found


async def test_addon_blocks_upgrade_then_a_failed_rollout_rolls_back_and_a_good_one_unblocks(addons: Harness) -> None:
    sandbox = addons.sandbox
    # The failing rollout waits out the post-check bound; the healthy ones (0.05 s pod starts) must fit
    # in it even when the machine is loaded, so it is not tighter than this.
    await addons.start_runner(fast_runner(sandbox, postcheck_timeout_s=8))
    api = addons.api
    assert api is not None
    await addons.deliver(
        engagement_event([cluster_event(sandbox, "edge-dev", environment="non-prod")], None),
        upgrade_request("req-edge", "edge-dev"),
    )

    inventory = await api.get("/v1/clusters/edge-dev/addons", headers=VIEWER)
    assert inventory.status_code == 200, inventory.text
    found = {(i["addon"], i["version"], i["source"]) for i in inventory.json()["items"]}
    assert found == {
        ("cert-manager", "1.15.3", "workload"),
        ("external-dns", "0.14.2", "workload"),
        ("ingress-nginx", "1.10.1", "workload"),
        ("metrics-server", "0.7.1", "workload"),
        ("node-exporter", "1.8.1", "workload"),
    }
    assert inventory.json()["next_minor"] == "1.30"
    [ahead] = inventory.json()["next_minor_findings"]
    assert ahead["subject"] == "add-on ingress-nginx 1.10.1 (ingress-nginx)"

    # The upgrade to 1.30 stops at pre-check, naming the version that would do.
    upgrade_id = (await addons.rows("SELECT operation_id FROM operations"))[0]["operation_id"]
    blocked = await addons.until_state(upgrade_id, "precheck_failed")
    [finding] = [f for f in blocked["findings"] if f["severity"] == "blocking"]
    assert finding["code"] == "addon-incompatible"
    assert "ingress-nginx 1.10.1 supports Kubernetes 1.26 to 1.29, not 1.30" in finding["message"]
    assert "upgrade ingress-nginx to 1.11.3 (supports 1.26 to 1.30) first" in finding["message"]
    assert (
        "ingress-nginx/ingress-nginx-controller runs registry.k8s.io/ingress-nginx/controller:v1.10.1"
        in (finding["evidence"])
    )

    # Bad input is named, not planned.
    body = {"engagement_id": "eng-acme", "cluster_id": "edge-dev", "addon": "ingress-nginx", "version": "1.99.0"}
    unknown = await api.post("/v1/operations/addons", json=body, headers=OPERATOR)
    assert unknown.status_code == 422 and "1.11.3" in unknown.json()["detail"]

    # A rollout whose image cannot be pulled: the previous template is put back.
    fault = sandbox.inject_fault(
        {"type": "image_pull_fails", "cluster": "edge-dev", "image": "registry.k8s.io/ingress-nginx/controller:v1.11.3"}
    )
    body["version"] = "1.11.3"
    failing = await api.post("/v1/operations/addons", json=body, headers=OPERATOR)
    assert failing.status_code == 201, failing.text
    rolled_back = await addons.until_state(failing.json()["operation_id"], "rolled_back", "completed")
    assert rolled_back["state"] == "rolled_back"
    assert "0 of 2 replicas of registry.k8s.io/ingress-nginx/controller:v1.11.3 available" in rolled_back["failure"]
    assert "previous template re-applied (registry.k8s.io/ingress-nginx/controller:v1.10.1); rolled out" in str(
        rolled_back["rollback"]
    )
    live = await controller(addons)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v1.10.1")
    sandbox.remove_fault(fault)
    # Helm's record says the same: the failed revision superseded by a rollback to the original.
    assert await helm_records(addons, "ingress-nginx") == {
        2: ("superseded", "superseded", "4.10.1", "Upgrade complete"),
        3: ("superseded", "superseded", "4.11.3", "Upgrade in progress"),
        4: ("deployed", "deployed", "4.10.1", "Rollback to 2"),
    }

    # The same rollout, healthy: applied server-side by k8s-ops, rolled out.
    good = await api.post("/v1/operations/addons", json=body, headers=OPERATOR)
    assert good.status_code == 201, good.text
    done = await addons.until_state(good.json()["operation_id"], "completed", "rolled_back")
    assert done["state"] == "completed", done["failure"]
    assert (done["from_version"], done["to_version"]) == ("1.10.1", "1.11.3")
    live = await controller(addons)
    assert (
        live["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.k8s.io/ingress-nginx/controller:v1.11.3"
    )
    assert live["spec"]["selector"] == {"matchLabels": {"app": "ingress-nginx-controller"}}  # immutable, kept
    assert live["status"]["availableReplicas"] == 2
    assert [(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]] == [("k8s-ops", "Apply")]
    records = await helm_records(addons, "ingress-nginx")
    assert records[5] == ("deployed", "deployed", "4.11.3", "Upgrade complete")
    assert [status for revision, (status, *_) in sorted(records.items()) if revision < 5] == ["superseded"] * 3
    now_installed = (await api.get("/v1/clusters/edge-dev/addons", headers=VIEWER)).json()["items"]
    assert ("ingress-nginx", "1.11.3") in {(i["addon"], i["version"]) for i in now_installed}
    # The new version is the cluster's desired state now: recorded as its drift baseline.
    drift = (await api.get("/v1/clusters/edge-dev/drift", headers=VIEWER)).json()
    assert drift["baseline_reason"] == f"after operation {done['operation_id']}" and drift["findings"] == []
    report = (await api.get(f"/v1/operations/{done['operation_id']}/report?format=markdown", headers=OPERATOR)).text
    assert "Outcome: **completed**" in report

    # A fresh install (a second ExternalDNS for another zone): namespace and workload created by apply.
    fresh = {**body, "addon": "external-dns", "version": "0.15.0", "namespace": "dns-internal"}
    installed = await api.post("/v1/operations/addons", json=fresh, headers=OPERATOR)
    assert installed.status_code == 201, installed.text
    done_fresh = await addons.until_state(installed.json()["operation_id"], "completed", "rolled_back")
    assert done_fresh["state"] == "completed", done_fresh["failure"]
    assert done_fresh["from_version"] == "not installed" and done_fresh["spec"]["previous"] is None
    assert await helm_records(addons, "dns-internal") == {1: ("deployed", "deployed", "1.15.0", "Install complete")}
    unknown_addon = await api.post("/v1/operations/addons", json={**body, "addon": "istio"}, headers=OPERATOR)
    assert unknown_addon.status_code == 422 and "ingress-nginx" in unknown_addon.json()["detail"]

    # The upgrade's re-check now passes, and the upgrade runs.
    assert (await api.post(f"/v1/operations/{upgrade_id}/recheck", headers=OPERATOR)).status_code == 200
    upgraded = await addons.until_state(upgrade_id, "completed", "rolled_back", "precheck_failed", timeout_s=90)
    assert upgraded["state"] == "completed", upgraded

    steps = [
        (e["kind"], e["state"])
        for e in await addons.events("upgrade.step")
        if e["operation_id"] == done["operation_id"]
    ]
    assert steps == [
        ("addon", "planned"),
        ("addon", "prechecking"),
        ("addon", "scheduled"),
        ("addon", "applying"),
        ("addon", "postchecking"),
        ("addon", "completed"),
    ]
    audit = {e["action"] for e in await addons.events("audit.event")}
    assert {"addon.plan", "addon.applied", "addon.failed", "addon.rollback_done", "addon.postcheck_passed"} <= audit
