"""Part of `test_operator_cli_operations.py` (its services and sandbox, after its add-on install on
acme-staging): the CLI's reads of what a cluster runs and how it drifted, and recording its desired
state, first as a baseline, then from a Git path. `drift show | check` answer in the exit status as
`kubectl diff` does: 0 no drift, 1 drift found, more an error."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import yaml

from k8sops_sandbox.server import Sandbox
from tests.support.git import committed_repository

Cli = Callable[..., Awaitable[tuple[int, str, str]]]
WEB = "/apis/apps/v1/namespaces/shop/deployments/web"
EXTRA = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "debug-flags"}, "data": {"verbose": "1"}}
DECLARED = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": "shop"}}


async def cluster_state_through_the_cli(cli: Cli, sandbox: Sandbox, tmp_path: Path) -> None:
    code, output, _ = await cli("addons", "catalogue", "--json")
    assert code == 0 and {"ingress-nginx", "cert-manager"} <= {addon["name"] for addon in json.loads(output)["items"]}
    code, output, _ = await cli("addons", "catalogue")
    assert code == 0 and "ingress-nginx" in output and "1.26 to 1.30" in output  # 1.11.3's supported minors
    code, output, _ = await cli("addons", "inventory", "acme-staging", "--json")
    found = json.loads(output)
    assert code == 0 and ("ingress-nginx", "1.11.3") in [(item["addon"], item["version"]) for item in found["items"]]
    code, output, _ = await cli("addons", "inventory", "acme-staging")
    assert code == 0 and "node-exporter" in output and f"before upgrading to {found['next_minor']}" in output, output
    assert (await cli("addons", "inventory", "acme-nowhere"))[0] == 5

    code, _, errors = await cli("drift", "show", "acme-prod")  # nobody recorded its desired state
    assert code == 6 and "409" in errors and "k8sops drift baseline acme-prod" in errors, errors
    code, _, errors = await cli("drift", "baseline", "acme-staging", "-p", "customer")
    assert code == 4 and "k8s-ops.operator" in errors  # the provider's operators record it
    code, output, _ = await cli("drift", "baseline", "acme-staging", "--json")
    assert code == 0 and json.loads(output)["objects"] > 0, output
    code, output, _ = await cli("drift", "show", "acme-staging", "--json")
    assert code == 0 and json.loads(output)["findings"] == [], output  # clean: exit 0
    code, output, _ = await cli("drift", "check", "acme-staging")
    assert code == 0 and "published" in output, output

    # Outside the platform: someone scales a Deployment and adds a ConfigMap.
    token = {"Authorization": f"Bearer {sandbox.auth.issue('acme-staging')}"}
    async with httpx.AsyncClient(base_url=sandbox.kube_urls["acme-staging"], headers=token, timeout=10) as kube:
        replicas = (await kube.get(WEB)).json()["spec"]["replicas"]
        merge = {"Content-Type": "application/merge-patch+json"}
        patched = await kube.patch(WEB, json={"spec": {"replicas": replicas + 1}}, headers=merge)
        assert patched.status_code == 200, patched.text
        assert (await kube.post("/api/v1/namespaces/shop/configmaps", json=EXTRA)).status_code == 201
    code, output, _ = await cli("drift", "show", "acme-staging", "--json")
    drifted = {finding["object"]: finding for finding in json.loads(output)["findings"]}
    assert code == 1 and set(drifted) == {"ConfigMap shop/debug-flags", "Deployment shop/web"}, output
    scaled = {"path": "spec.replicas", "desired": replicas, "live": replicas + 1}
    assert drifted["Deployment shop/web"]["changes"] == [scaled]
    code, output, _ = await cli("drift", "show", "acme-staging")
    assert code == 1 and "recorded by an operator" in output
    assert f"spec.replicas: {replicas} -> {replicas + 1}" in output
    assert "ConfigMap shop/debug-flags" in output and "extra" in output, output
    code, output, _ = await cli("drift", "check", "acme-staging", "--json")
    checked = json.loads(output)
    assert code == 1 and checked["published"] == "drift.measured" and len(checked["findings"]) == 2, output

    # GitOps: the path declares one ConfigMap, which the cluster lacks; what it does not declare is not drift.
    config = yaml.safe_dump(DECLARED | {"data": {"mode": "blue"}})
    repository = committed_repository(tmp_path / "gitops", {"clusters/acme-staging/config.yaml": config})
    desired = ["drift", "desired-state", "acme-staging", "--git", repository, "--path", "clusters/acme-staging"]
    code, _, errors = await cli(*desired[:-1], "nowhere")
    assert code == 6 and "422" in errors and "'nowhere'" in errors, errors
    code, output, _ = await cli(*desired, "--json")
    assert code == 0 and json.loads(output)["objects"] == 1, output
    code, output, _ = await cli("drift", "show", "acme-staging", "--json")
    shown = json.loads(output)
    assert code == 1, output
    assert shown["baseline_reason"].startswith(f"git {repository}@main (")
    assert [(f["object"], f["drift"]) for f in shown["findings"]] == [("ConfigMap shop/web-config", "missing")]
