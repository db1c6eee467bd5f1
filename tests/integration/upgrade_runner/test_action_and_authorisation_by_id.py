"""One authorisation and one cluster action read by the id their creation answered: by every reading
role of the engagement, and by nobody else. Another engagement's token gets the very answer an unknown
id gets (404 naming it), so the id's existence does not leak; a malformed id is a 422 naming the path."""

from __future__ import annotations

from typing import Any

import httpx

from k8sops_upgrade_runner import service

from .conftest import ADMIN, ENGAGEMENT, OPERATOR, VIEWER, Harness, acme_with_staging, bearer, fast_runner

OUTSIDER = bearer(["k8s-ops.admin"], ["eng-other"])  # a customer of another engagement
OTHER_OPERATOR = bearer(["k8s-ops.operator"], ["eng-other"])  # an operator not assigned to this one
AUDITOR = bearer(["k8s-ops.auditor"], ["eng-other"])  # reads every engagement


def not_found(response: httpx.Response, kind: str, identifier: str) -> dict[str, Any]:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["detail"] == f"No {kind} {identifier!r} in your engagements.", problem
    return {key: value for key, value in problem.items() if key != "instance"}


def malformed(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == [f"path.{field}"], response.text


async def test_one_authorisation_and_one_action_by_id(healthy: Harness) -> None:
    sandbox = healthy.sandbox
    app = await healthy.start_runner(fast_runner(sandbox))
    api = healthy.api
    assert api is not None
    # Applied as its consumer would, not sent through the broker: the reads are under test, not the inbox.
    async with app.state.context.database.unit_of_work() as session:
        await service.apply_engagement_change(session, acme_with_staging(sandbox, window_open=True))
    grant = {"engagement_id": ENGAGEMENT, "cluster_id": "acme-prod", "action": "delete-namespace", "reason": "gone"}
    target = {"kind": "Namespace", "name": "legacy-reports"}
    granted = await api.post("/v1/authorisations", json=grant | {"target": target}, headers=ADMIN)
    assert granted.status_code == 201, granted.text
    authorisation_id = granted.json()["authorisation_id"]
    async with httpx.AsyncClient(base_url=sandbox.kube_urls["acme-prod"]) as kube:
        node = (await kube.get("/api/v1/nodes")).json()["items"][0]["metadata"]["name"]
    cordon = {"action": "cordon", "target": {"kind": "Node", "name": node}}
    done = await api.post("/v1/clusters/acme-prod/actions", json=cordon, headers=OPERATOR)
    assert done.status_code == 201, done.text
    action_id = done.json()["action_id"]

    authorisation_path = f"/v1/authorisations/{authorisation_id}"
    for reader in (VIEWER, ADMIN, OPERATOR, AUDITOR):
        read = await api.get(authorisation_path, headers=reader)
        assert read.status_code == 200 and read.json() == granted.json(), read.text
    unknown = not_found(
        await api.get("/v1/authorisations/auth-unknown", headers=VIEWER), "authorisation", "auth-unknown"
    )
    for outsider in (OUTSIDER, OTHER_OPERATOR):
        hidden = not_found(await api.get(authorisation_path, headers=outsider), "authorisation", authorisation_id)
        assert hidden == unknown | {"detail": hidden["detail"]}  # alike but for the id it repeats
    malformed(await api.get("/v1/authorisations/not%20an%20id", headers=VIEWER), "authorisation_id")
    assert (await api.get(authorisation_path, headers=bearer([]))).status_code == 403  # no reading role

    action_path = f"/v1/clusters/acme-prod/actions/{action_id}"
    for reader in (VIEWER, OPERATOR, AUDITOR):
        read = await api.get(action_path, headers=reader)
        assert read.status_code == 200 and read.json() == done.json(), read.text
    not_found(await api.get("/v1/clusters/acme-prod/actions/act-unknown", headers=VIEWER), "action", "act-unknown")
    # Another cluster of the same engagement does not hold it.
    not_found(await api.get(f"/v1/clusters/acme-staging/actions/{action_id}", headers=VIEWER), "action", action_id)
    for outsider in (OUTSIDER, OTHER_OPERATOR):
        hidden = not_found(await api.get(action_path, headers=outsider), "cluster", "acme-prod")
        guessed = await api.get("/v1/clusters/acme-prod/actions/act-unknown", headers=outsider)
        assert not_found(guessed, "cluster", "acme-prod") == hidden
    malformed(await api.get("/v1/clusters/acme-prod/actions/-act", headers=VIEWER), "action_id")

    paths = app.openapi()["paths"]
    for path in ("/v1/authorisations/{authorisation_id}", "/v1/clusters/{cluster_id}/actions/{action_id}"):
        responses = paths[path]["get"]["responses"]
        assert "another engagement" in responses["404"]["description"], responses
        assert "malformed id" in responses["422"]["description"], responses
