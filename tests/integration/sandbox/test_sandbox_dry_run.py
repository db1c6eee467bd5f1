"""`dryRun=All` is honoured: the sandbox answers as if it stored the change and stores nothing.

Before, `kubectl create … --dry-run=server` really created the object.
"""

from __future__ import annotations

import json
from pathlib import Path

from k8sops_sandbox.server import Sandbox

from .conftest import kubectl

GHOST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: ghost, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: ghost}}
  template:
    metadata: {labels: {app: ghost}}
    spec:
      containers: [{name: ghost, image: nginx}]
"""


async def test_server_side_dry_runs_store_nothing_and_tell_no_watcher(healthy: Sandbox, tmp_path: Path) -> None:
    store = healthy.cluster().store
    pods_before = store.count("pods")

    manifest = tmp_path / "ghost.yaml"
    manifest.write_text(GHOST)
    created = await kubectl(healthy, tmp_path, "create", "-f", str(manifest), "--dry-run=server", "-o", "json")
    assert created.code == 0, created.stderr
    answer = json.loads(created.stdout)
    assert answer["metadata"]["name"] == "ghost" and answer["metadata"]["uid"], "answered as if stored"
    assert store.find("deployments", "shop", "ghost") is None

    # Built by kubectl itself, so sent as protobuf (kubectl >= 1.35).
    built = await kubectl(healthy, tmp_path, "create", "deployment", "x", "--image=y", "-n", "shop", "--dry-run=server")
    assert built.code == 0, built.stderr
    assert built.stdout.strip() == "deployment.apps/x created (server dry run)"
    assert store.find("apps/deployments", "shop", "x") is None

    [victim] = [pod["metadata"]["name"] for pod in store.items("pods", "shop")][:1]
    deleted = await kubectl(healthy, tmp_path, "delete", "pod", victim, "-n", "shop", "--dry-run=server")
    assert deleted.code == 0, deleted.stderr
    assert store.find("pods", "shop", victim) is not None

    labelled = await kubectl(healthy, tmp_path, "label", "pod", victim, "-n", "shop", "tier=ghost", "--dry-run=server")
    assert labelled.code == 0, labelled.stderr
    assert "tier" not in (store.get("pods", "shop", victim)["metadata"].get("labels") or {})

    # No resource-version check: the sandbox's controller may still be starting the scenario's pods.
    assert store.count("pods") == pods_before
