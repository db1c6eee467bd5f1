"""Server-side apply in the sandbox, driven by the real kubectl (`apply --server-side`; the sandbox
serves no OpenAPI document, so client-side validation is off) and raw
HTTP: create through apply, managed fields per manager, conflicts, forced takeover."""

from __future__ import annotations

from pathlib import Path

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
