"""`kubectl get -o wide` shows the extra columns a real cluster shows, and `get -w` full rows for later events."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from k8sops_sandbox.server import Sandbox

from .conftest import KUBECTL, kubectl


async def test_wide_columns_and_full_rows_while_watching(healthy: Sandbox, tmp_path: Path) -> None:
    pods = await kubectl(healthy, tmp_path, "get", "pods", "-n", "shop", "-o", "wide")
    assert pods.code == 0, pods.stderr
    header = pods.stdout.splitlines()[0].split()
    assert header == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED",
        "NODE",
        "READINESS",
        "GATES",
    ]
    nodes = await kubectl(healthy, tmp_path, "get", "nodes", "-o", "wide")
    assert "INTERNAL-IP" in nodes.stdout and "CONTAINER-RUNTIME" in nodes.stdout, nodes.stderr
    deployments = await kubectl(healthy, tmp_path, "get", "deployments", "-n", "shop", "-o", "wide")
    assert deployments.stdout.split()[5:8] == ["CONTAINERS", "IMAGES", "SELECTOR"], deployments.stderr

    store = healthy.cluster().store
    name = next(store.items("pods", "shop"))["metadata"]["name"]
    listed = 1 + sum(1 for pod in store.items("pods", "shop"))  # the header and the initial rows
    plain = await _row_after_a_change(healthy, tmp_path, name, listed, "plain")
    assert plain[0] == name and len(plain) == 5, plain  # NAME READY STATUS RESTARTS AGE
    wide = await _row_after_a_change(healthy, tmp_path, name, listed, "wide", "-o", "wide")
    pod = store.get("pods", "shop", name)
    assert wide[0] == name and len(wide) == 9, wide  # ... IP NODE NOMINATED-NODE READINESS-GATES
    assert wide[5:7] == [pod["status"]["podIP"], pod["spec"]["nodeName"]]


async def _row_after_a_change(
    sandbox: Sandbox, home: Path, name: str, listed: int, mark: str, *flags: str
) -> list[str]:
    """The row `kubectl get pods -w` prints for a pod changed after the initial listing."""
    watch = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(sandbox.kubeconfig_path),
        "get",
        "pods",
        "-n",
        "shop",
        "-w",
        *flags,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(home)},
    )
    assert watch.stdout is not None
    try:
        for _ in range(listed):
            await asyncio.wait_for(watch.stdout.readline(), 30)
        labels = {"seen": mark}
        sandbox.cluster().store.mutate(
            "pods", "shop", name, lambda pod: pod["metadata"].setdefault("labels", {}).update(labels)
        )
        return (await asyncio.wait_for(watch.stdout.readline(), 30)).decode().split()
    finally:
        watch.kill()
        await watch.wait()
