"""The real kubectl's apply (client-side and server-side), diff and explain against the sandbox.

They need the OpenAPI documents (before, `apply` failed with "failed to download openapi" unless
`--validate=false`, and `explain` answered NotFound) and strict field validation on the server.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from k8sops_sandbox.server import Sandbox

from .conftest import kubectl

ROOT = Path(__file__).resolve().parents[3]


def _hello(image: str, replicas: int, extra: str = "") -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: hello, namespace: shop}}
spec:
  replicas: {replicas}{extra}
  selector: {{matchLabels: {{app: hello}}}}
  template:
    metadata: {{labels: {{app: hello}}}}
    spec:
      containers:
      - name: hello
        image: {image}
        ports: [{{containerPort: 8080, name: http}}]
"""


async def test_apply_diff_server_side_apply_and_explain(healthy: Sandbox, tmp_path: Path) -> None:
    store = healthy.cluster().store
    manifest = tmp_path / "hello.yaml"
    manifest.write_text(_hello("nginx:1.26", 1))
    created = await kubectl(healthy, tmp_path, "apply", "-f", str(manifest))
    assert created.code == 0, created.stderr
    assert "deployment.apps/hello created" in created.stdout

    manifest.write_text(_hello("nginx:1.27", 2))
    diff = await kubectl(healthy, tmp_path, "diff", "-f", str(manifest))
    assert diff.code == 1, diff.stderr  # 1: differences found
    changed = [line.split() for line in diff.stdout.splitlines() if line[:1] in "+-" and "image:" in line]
    assert changed == [["-", "-", "image:", "nginx:1.26"], ["+", "-", "image:", "nginx:1.27"]], diff.stdout
    moved = [line for line in diff.stdout.splitlines() if line[:1] in "+-" and "resourceVersion" in line]
    assert moved == [], "a dry-run update answers with the object's current resourceVersion"
    assert store.get("apps/deployments", "shop", "hello")["spec"]["replicas"] == 1, "diff stored nothing"

    configured = await kubectl(healthy, tmp_path, "apply", "-f", str(manifest))
    assert configured.code == 0, configured.stderr
    assert "deployment.apps/hello configured" in configured.stdout
    spec = store.get("apps/deployments", "shop", "hello")["spec"]
    assert spec["replicas"] == 2
    assert [(c["name"], c["image"]) for c in spec["template"]["spec"]["containers"]] == [("hello", "nginx:1.27")]
    unchanged = await kubectl(healthy, tmp_path, "diff", "-f", str(manifest))
    assert (unchanged.code, unchanged.stdout) == (0, ""), unchanged.stdout

    manifest.write_text(_hello("nginx:1.28", 2))
    server_diff = await kubectl(healthy, tmp_path, "diff", "--server-side", "--force-conflicts", "-f", str(manifest))
    assert server_diff.code == 1 and "+      - image: nginx:1.28" in server_diff.stdout, server_diff.stderr
    applied = await kubectl(healthy, tmp_path, "apply", "--server-side", "--force-conflicts", "-f", str(manifest))
    assert applied.code == 0, applied.stderr
    assert "deployment.apps/hello serverside-applied" in applied.stdout
    stored = store.get("apps/deployments", "shop", "hello")
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert "kubectl" in {entry["manager"] for entry in stored["metadata"]["managedFields"]}

    # kubectl leaves validation to the server (fieldValidation=Strict), which names the unknown field.
    typo = tmp_path / "typo.yaml"
    typo.write_text(_hello("nginx:1.28", 1, "\n  replicaz: 3").replace("name: hello,", "name: typo,"))
    refused = await kubectl(healthy, tmp_path, "apply", "-f", str(typo))
    assert refused.code == 1
    assert 'strict decoding error: unknown field "spec.replicaz"' in refused.stderr, refused.stderr
    assert store.find("apps/deployments", "shop", "typo") is None

    explained = await kubectl(healthy, tmp_path, "explain", "pod")
    assert explained.code == 0, explained.stderr
    assert "KIND:       Pod" in explained.stdout and "VERSION:    v1" in explained.stdout
    assert "spec\t<PodSpec>" in explained.stdout and "Pod is a collection of containers" in explained.stdout
    containers = await kubectl(healthy, tmp_path, "explain", "deployment.spec.template.spec.containers")
    assert containers.code == 0, containers.stderr
    assert "<[]Container>" in containers.stdout and "image\t<string>" in containers.stdout
    # The v2 document, which kubectl reads only as gnostic protobuf.
    from_v2 = await kubectl(healthy, tmp_path, "explain", "pod", "--output=plaintext-openapiv2")
    assert from_v2.code == 0, from_v2.stderr
    assert "KIND:     Pod" in from_v2.stdout and "Pod is a collection of containers" in from_v2.stdout


async def test_server_dry_run_of_the_platform_manifests_accepts_all_and_stores_none(
    healthy: Sandbox, tmp_path: Path
) -> None:
    rendered = await kubectl(healthy, tmp_path, "kustomize", str(ROOT / "deploy"))
    assert rendered.code == 0, rendered.stderr
    objects = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    namespaces = {doc["metadata"]["name"] for doc in objects if doc["kind"] == "Namespace"}
    assert len(objects) > 30 and {doc["kind"] for doc in objects} >= {
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceAccount",
        "Job",
    }
    # As on a real cluster, namespaced objects need their namespace to exist: a dry-run namespace is not kept.
    for namespace in namespaces:
        assert (await kubectl(healthy, tmp_path, "create", "namespace", namespace)).code == 0
    store = healthy.cluster().store
    before = store.resource_version
    for mode in ((), ("--server-side",)):
        dry = await kubectl(healthy, tmp_path, "apply", *mode, "--dry-run=server", "-k", str(ROOT / "deploy"))
        assert dry.code == 0, dry.stderr
        lines = dry.stdout.strip().splitlines()
        assert len(lines) == len(objects) and all(line.endswith("(server dry run)") for line in lines), dry.stdout
    assert store.resource_version == before, "a dry run stored something"
    for namespace in namespaces:
        for key in ("apps/deployments", "configmaps", "batch/jobs", "policy/poddisruptionbudgets"):
            assert next(store.items(key, namespace), None) is None, key
