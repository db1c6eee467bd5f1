"""Desired state from a Git repository path read with the real `git`: objects the path declares
are compared (missing, changed fields), objects it does not declare are not drift, and a
reconcile brings the cluster to what Git says."""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml

from tests.support.git import committed_repository

from .conftest import OPERATOR, VIEWER, Harness, cluster_event, engagement_event, fast_runner

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
}
CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "web-config", "namespace": "shop"},
    "data": {"mode": "blue"},
}


def repository(folder: Path) -> str:
    manifests = {"clusters/acme-staging/shop.yaml": yaml.safe_dump_all([SERVICE, CONFIG])}
    return committed_repository(folder, manifests | {"README.md": "not a manifest\n"})


async def test_git_path_is_the_desired_state_and_reconcile_applies_it(healthy: Harness, tmp_path: Path) -> None:
    sandbox = healthy.sandbox
    await healthy.start_runner(fast_runner(sandbox, git_allow_local=True))
    api = healthy.api
    assert api is not None
    await healthy.deliver(engagement_event([cluster_event(sandbox, "acme-staging", environment="non-prod")], None))
    url = repository(tmp_path / "gitops")
    body = {"repository": url, "ref": "main", "path": "clusters/acme-staging"}

    wrong_path = await api.post(
        "/v1/clusters/acme-staging/desired-state", json={**body, "path": "nowhere"}, headers=OPERATOR
    )
    assert wrong_path.status_code == 422 and "no directory 'nowhere'" in wrong_path.json()["detail"]
    escape = await api.post("/v1/clusters/acme-staging/desired-state", json={**body, "path": "../x"}, headers=OPERATOR)
    assert escape.status_code == 422
    recorded = await api.post("/v1/clusters/acme-staging/desired-state", json=body, headers=OPERATOR)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["objects"] == 2 and recorded.json()["reason"].startswith(f"git {url}@main (")

    # Someone points the Service elsewhere; the ConfigMap was never applied. Nothing else is drift.
    async with httpx.AsyncClient(base_url=sandbox.kube_urls["acme-staging"]) as kube:
        patch = {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}
        merge = {"Content-Type": "application/merge-patch+json"}
        assert (await kube.patch("/api/v1/namespaces/shop/services/web", json=patch, headers=merge)).status_code == 200
    findings = (await api.get("/v1/clusters/acme-staging/drift", headers=VIEWER)).json()["findings"]
    assert findings == [
        {"object": "ConfigMap shop/web-config", "drift": "missing", "changes": []},
        {
            "object": "Service shop/web",
            "drift": "changed",
            "changes": [
                {
                    "path": "spec.ports",
                    "desired": [{"port": 80, "targetPort": 8080}],
                    "live": [{"port": 80, "targetPort": 9090}],
                }
            ],
        },
    ]

    created = await api.post(
        "/v1/operations/drift-reconcile",
        json={"engagement_id": "eng-acme", "cluster_id": "acme-staging"},
        headers=OPERATOR,
    )
    assert created.status_code == 201, created.text
    done = await healthy.until_state(created.json()["operation_id"], "completed", "rolled_back")
    assert done["state"] == "completed", done["failure"]
    assert (await api.get("/v1/clusters/acme-staging/drift", headers=VIEWER)).json()["findings"] == []
