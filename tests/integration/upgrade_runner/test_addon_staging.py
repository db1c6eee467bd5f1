"""An add-on rollout on a production cluster follows the upgrade's rules: it is rolled out on the
paired non-prod cluster first, waits for an engagement admin's sign-off of that stage, and only
then runs on production inside the window. A stage that fails is put back on the pair and leaves
production untouched."""

from __future__ import annotations

import httpx

from .conftest import ADMIN, OPERATOR, VIEWER, Harness, acme_with_staging, fast_runner

DNS = "/apis/apps/v1/namespaces/external-dns/deployments/external-dns"
IMAGE = "registry.k8s.io/external-dns/external-dns"


async def image_on(harness: Harness, cluster: str) -> str | None:
    async with httpx.AsyncClient(base_url=harness.sandbox.kube_urls[cluster]) as http:
        response = await http.get(DNS)
    return (
        None
        if response.status_code == 404
        else str(response.json()["spec"]["template"]["spec"]["containers"][0]["image"])
    )


async def test_a_production_addon_rollout_is_staged_and_signed_off_first(healthy: Harness) -> None:
    sandbox = healthy.sandbox
    await healthy.start_runner(fast_runner(sandbox, postcheck_timeout_s=3))
    api = healthy.api
    assert api is not None
    await healthy.deliver(acme_with_staging(sandbox, window_open=True))
    body = {"engagement_id": "eng-acme", "cluster_id": "acme-prod", "addon": "external-dns", "version": "0.14.2"}

    # A stage that fails (the image cannot be pulled on the pair): put back there, production untouched.
    fault = sandbox.inject_fault({"type": "image_pull_fails", "cluster": "acme-staging", "image": f"{IMAGE}:v0.14.2"})
    failing = await api.post("/v1/operations/addons", json=body, headers=OPERATOR)
    assert failing.status_code == 201, failing.text
    failed = await healthy.until_state(failing.json()["operation_id"], "rolled_back", "completed", "awaiting_signoff")
    assert failed["state"] == "rolled_back" and failed["stage"]["result"] == "failed"
    assert failed["failure"].startswith("stage on acme-staging: 0 of 1 replicas")
    assert "production not touched" in str(failed["rollback"]) and "fresh install removed" in str(failed["rollback"])
    assert await image_on(healthy, "acme-staging") is None and await image_on(healthy, "acme-prod") is None
    sandbox.remove_fault(fault)

    # A good stage: rolled out on the pair, then the operation waits for the customer.
    created = await api.post("/v1/operations/addons", json=body, headers=OPERATOR)
    assert created.status_code == 201, created.text
    operation_id = created.json()["operation_id"]
    waiting = await healthy.until_state(operation_id, "awaiting_signoff", "rolled_back")
    assert waiting["state"] == "awaiting_signoff", waiting["failure"]
    stage = waiting["stage"]
    assert (stage["result"], stage["cluster_name"]) == ("passed", "acme-staging")
    assert await image_on(healthy, "acme-staging") == f"{IMAGE}:v0.14.2"
    assert await image_on(healthy, "acme-prod") is None

    # Only an engagement admin signs off, and only the stage that passed.
    url = f"/v1/operations/{operation_id}/sign-off"
    assert (await api.post(url, json={"stage_ref": stage["stage_ref"]}, headers=OPERATOR)).status_code == 403
    assert (await api.post(url, json={"stage_ref": "stage-000000000000"}, headers=ADMIN)).status_code == 409
    signed = await api.post(url, json={"stage_ref": stage["stage_ref"]}, headers=ADMIN)
    assert signed.status_code == 200, signed.text
    done = await healthy.until_state(operation_id, "completed", "rolled_back")
    assert done["state"] == "completed", done["failure"]
    assert done["signoff"]["signed_by"] == "rahim@customer.example"
    assert await image_on(healthy, "acme-prod") == f"{IMAGE}:v0.14.2"
    states = [e["state"] for e in await healthy.events("upgrade.step") if e["operation_id"] == operation_id]
    assert states == [
        "planned",
        "prechecking",
        "staging",
        "awaiting_signoff",
        "scheduled",
        "applying",
        "postchecking",
        "completed",
    ]
    report = (await api.get(f"/v1/operations/{operation_id}/report?format=markdown", headers=VIEWER)).text
    assert stage["stage_ref"] in report
