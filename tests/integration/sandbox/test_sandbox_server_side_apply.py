"""Server-side apply in the sandbox, driven by the real kubectl (`apply --server-side`; the sandbox
serves no OpenAPI document, so client-side validation is off) and raw
HTTP: create through apply, managed fields per manager, conflicts, forced takeover."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml

from k8sops_sandbox.server import Sandbox

from .conftest import kubectl

CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "edge", "namespace": "shop"},
    "data": {"mode": "blue", "size": "3"},
}


async def test_kubectl_server_side_apply_creates_records_managers_and_detects_conflicts(
    healthy: Sandbox, tmp_path: Path
) -> None:
    manifest = tmp_path / "edge.yaml"
    manifest.write_text(yaml.safe_dump(CONFIG))
    created = await kubectl(
        healthy, tmp_path, "apply", "--server-side", "--validate=false", "--field-manager=team-a", "-f", str(manifest)
    )
    assert created.code == 0, created.stderr
    assert "serverside-applied" in created.stdout

    url = f"{healthy.kube_url}/api/v1/namespaces/shop/configmaps/edge"
    async with httpx.AsyncClient() as http:
        live = (await http.get(url)).json()
        assert live["data"] == {"mode": "blue", "size": "3"}
        [entry] = live["metadata"]["managedFields"]
        assert (entry["manager"], entry["operation"]) == ("team-a", "Apply")
        assert entry["fieldsV1"]["f:data"] == {"f:mode": {}, "f:size": {}}

        # Another manager changing a field team-a owns: a conflict, unless forced.
        changed = {**CONFIG, "data": {"mode": "green"}}
        apply = {"Content-Type": "application/apply-patch+yaml"}
        refused = await http.patch(
            url, params={"fieldManager": "team-b"}, content=yaml.safe_dump(changed), headers=apply
        )
        assert refused.status_code == 409 and 'conflict with "team-a": .data.mode' in refused.json()["message"]
        no_manager = await http.patch(url, content=yaml.safe_dump(changed), headers=apply)
        assert no_manager.status_code == 400 and "fieldManager is required" in no_manager.json()["message"]
        forced = await http.patch(
            url, params={"fieldManager": "team-b", "force": "true"}, content=yaml.safe_dump(changed), headers=apply
        )
        assert forced.status_code == 200, forced.text
        managers = {e["manager"]: e["fieldsV1"] for e in forced.json()["metadata"]["managedFields"]}
        assert managers == {"team-a": {"f:data": {"f:size": {}}}, "team-b": {"f:data": {"f:mode": {}}}}

        # team-a applies again without `size`: a field only it owned is removed.
        shrunk = {**CONFIG, "data": {"mode": "green"}}
        again = await http.patch(url, params={"fieldManager": "team-a"}, content=yaml.safe_dump(shrunk), headers=apply)
        assert again.status_code == 200, again.text
        assert again.json()["data"] == {"mode": "green"}


APPLY = {"Content-Type": "application/apply-patch+yaml"}
DEPLOYMENT = "/apis/apps/v1/namespaces/shop/deployments/edge"


def deployment(containers: list[dict[str, Any]], volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": containers, **({"volumes": volumes} if volumes else {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "edge", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "edge"}},
            "template": {"metadata": {"labels": {"app": "edge"}}, "spec": pod},
        },
    }


async def test_lists_merge_by_their_keys_with_ownership_per_element(healthy: Sandbox) -> None:
    """containers, volumes, env and ports merge by key as on a real API server: a sidecar another
    manager adds survives the platform's re-apply, each manager owns its elements, and an element
    is removed only by the manager that owned it alone."""
    web = {"name": "web", "image": "nginx:1.27.0", "env": [{"name": "MODE", "value": "blue"}]}
    web["ports"] = [{"containerPort": 8080}]
    sidecar = {"name": "proxy", "image": "envoy:1.31", "ports": [{"containerPort": 15001}]}

    async def apply(body: dict[str, Any], manager: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=healthy.kube_url) as http:
            return await http.patch(
                DEPLOYMENT, params={"fieldManager": manager}, content=yaml.safe_dump(body), headers=APPLY
            )

    created = await apply(deployment([web], [{"name": "config", "emptyDir": {}}]), "k8s-ops")
    assert created.status_code in (200, 201), created.text
    meshed = await apply(deployment([sidecar], [{"name": "certs", "emptyDir": {}}]), "mesh")
    assert meshed.status_code == 200, meshed.text
    pod = meshed.json()["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["web", "proxy"]
    assert [v["name"] for v in pod["volumes"]] == ["config", "certs"]
    owned = {e["manager"]: e["fieldsV1"] for e in meshed.json()["metadata"]["managedFields"]}
    mesh_containers = owned["mesh"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert set(mesh_containers) == {'k:{"name":"proxy"}'}
    assert mesh_containers['k:{"name":"proxy"}']["f:ports"] == {
        'k:{"containerPort":15001,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}
    }

    # The platform re-applies its own container (new image, env MODE replaced by TIER): the
    # sidecar and its volume stay; MODE, which only the platform owned, is gone.
    web2 = {**web, "image": "nginx:1.27.1", "env": [{"name": "TIER", "value": "gold"}]}
    again = await apply(deployment([web2], [{"name": "config", "emptyDir": {}}]), "k8s-ops")
    assert again.status_code == 200, again.text
    pod = again.json()["spec"]["template"]["spec"]
    assert [(c["name"], c["image"]) for c in pod["containers"]] == [("web", "nginx:1.27.1"), ("proxy", "envoy:1.31")]
    assert pod["containers"][0]["env"] == [{"name": "TIER", "value": "gold"}]
    assert pod["containers"][0]["ports"] == [{"containerPort": 8080}]
    assert [v["name"] for v in pod["volumes"]] == ["config", "certs"]

    # A field of another manager's element is a conflict naming the element.
    taken = await apply(deployment([{"name": "web", "image": "nginx:latest"}]), "mesh")
    assert taken.status_code == 409
    assert 'conflict with "k8s-ops": .spec.template.spec.containers[name="web"].image' in taken.json()["message"]

    # The mesh applies without its sidecar: its elements go, the platform's stay.
    dropped = await apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "edge"}}, "mesh")
    assert dropped.status_code == 200, dropped.text
    pod = dropped.json()["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["web"] and [v["name"] for v in pod["volumes"]] == ["config"]
    assert [e["manager"] for e in dropped.json()["metadata"]["managedFields"]] == ["k8s-ops"]


async def test_service_ports_merge_by_port_and_protocol(healthy: Sandbox) -> None:
    url = "/api/v1/namespaces/shop/services/edge"
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "edge", "namespace": "shop"}}
    async with httpx.AsyncClient(base_url=healthy.kube_url) as http:
        first = {**service, "spec": {"selector": {"app": "edge"}, "ports": [{"name": "http", "port": 80}]}}
        created = await http.patch(
            url, params={"fieldManager": "k8s-ops"}, content=yaml.safe_dump(first), headers=APPLY
        )
        assert created.status_code in (200, 201), created.text
        metrics = {**service, "spec": {"ports": [{"name": "metrics", "port": 9090, "protocol": "TCP"}]}}
        added = await http.patch(
            url, params={"fieldManager": "monitoring"}, content=yaml.safe_dump(metrics), headers=APPLY
        )
        assert added.status_code == 200, added.text
        assert [(p["name"], p["port"]) for p in added.json()["spec"]["ports"]] == [("http", 80), ("metrics", 9090)]
        assert added.json()["spec"]["selector"] == {"app": "edge"}
