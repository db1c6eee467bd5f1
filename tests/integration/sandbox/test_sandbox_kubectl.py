"""The real kubectl against the sandbox: get, cordon, drain (PDB-aware), uncordon."""

from __future__ import annotations

import asyncio
from pathlib import Path

from k8sops_sandbox.server import Sandbox

from .conftest import kubectl


async def test_get_nodes_and_pods(healthy: Sandbox, tmp_path: Path) -> None:
    nodes = await kubectl(healthy, tmp_path, "get", "nodes")
    assert nodes.code == 0, nodes.stderr
    lines = nodes.stdout.strip().splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert len(lines) == 6
    assert all(" Ready " in line and "v1.29.6" in line for line in lines[1:])

    pods = await kubectl(healthy, tmp_path, "get", "pods", "-A")
    assert pods.code == 0, pods.stderr
    rows = [line.split() for line in pods.stdout.strip().splitlines()[1:]]
    assert len(rows) == healthy.cluster().store.count("pods") == 23
    assert {row[0] for row in rows} >= {"shop", "kube-system", "monitoring", "legacy-reports"}
    assert all(row[3] == "Running" for row in rows)

    staging = await kubectl(healthy, tmp_path, "--context", "acme-staging", "get", "nodes", "-o", "name")
    assert staging.stdout.split() == [
        "node/acme-staging-apps-000",
        "node/acme-staging-apps-001",
        "node/acme-staging-system-000",
    ]


async def test_cordon_drain_uncordon_keeps_workloads_running(healthy: Sandbox, tmp_path: Path) -> None:
    cluster = healthy.cluster()
    node = "acme-prod-apps-000"
    before = {p["metadata"]["name"] for p in cluster.pods_on_node(node)}
    assert any(name.startswith("web-") for name in before)

    cordon = await kubectl(healthy, tmp_path, "cordon", node)
    assert cordon.code == 0, cordon.stderr
    assert cluster.store.get("nodes", "", node)["spec"]["unschedulable"] is True

    drain = await kubectl(healthy, tmp_path, "drain", node, "--ignore-daemonsets", "--timeout=60s")
    assert drain.code == 0, drain.stdout + drain.stderr
    assert f"node/{node} drained" in drain.stdout
    remaining = cluster.pods_on_node(node)
    assert [p["metadata"]["labels"]["app"] for p in remaining] == ["node-exporter"]

    # The Deployments put their evicted replicas back on other nodes.
    for _ in range(50):
        deployments = list(cluster.store.items("apps/deployments"))
        if all(d["status"].get("readyReplicas") == d["spec"]["replicas"] for d in deployments):
            break
        await asyncio.sleep(0.1)
    assert all(d["status"]["readyReplicas"] == d["spec"]["replicas"] for d in deployments)
    evicted = {name for name in before if not name.startswith("node-exporter-")}
    assert not evicted & {p["metadata"]["name"] for p in cluster.store.items("pods")}

    uncordon = await kubectl(healthy, tmp_path, "uncordon", node)
    assert uncordon.code == 0, uncordon.stderr
    listed = await kubectl(healthy, tmp_path, "get", "node", node)
    assert "SchedulingDisabled" not in listed.stdout and " Ready " in listed.stdout


async def test_drain_waits_on_a_pod_disruption_budget(blocking: Sandbox, tmp_path: Path) -> None:
    cluster = blocking.cluster()
    node = next(
        p["spec"]["nodeName"] for p in cluster.store.items("pods") if p["metadata"]["labels"]["app"] == "ledger"
    )
    drain = await kubectl(blocking, tmp_path, "drain", node, "--ignore-daemonsets", "--timeout=7s")
    output = drain.stdout + drain.stderr
    assert drain.code != 0
    # kubectl saw the 429, retried, and gave up at its timeout, as against a real cluster.
    assert "Cannot evict pod as it would violate the pod's disruption budget" in output
    assert output.count("will retry after 5s") >= 1
    ledger = [p for p in cluster.pods_on_node(node) if p["metadata"]["labels"]["app"] == "ledger"]
    assert ledger, "the protected pod must still be on the node"
    assert cluster.store.get("nodes", "", node)["spec"]["unschedulable"] is True
