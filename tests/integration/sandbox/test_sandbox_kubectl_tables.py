"""`kubectl get -o wide` shows the extra columns a real cluster shows, and `get -w` full rows for later events."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from k8sops_sandbox.server import Sandbox

from .conftest import kubectl


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
    watch = await asyncio.create_subprocess_exec(
        "kubectl",
        "--kubeconfig",
        str(healthy.kubeconfig_path),
        "get",
        "pods",
        "-n",
        "shop",
        "-w",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert watch.stdout is not None
    try:
        listed = (
            1 + store.count("pods") - sum(1 for pod in store.items("pods") if pod["metadata"]["namespace"] != "shop")
        )
        for _ in range(listed):  # the header and the initial rows
            await asyncio.wait_for(watch.stdout.readline(), 30)
        store.mutate("pods", "shop", name, lambda pod: pod["metadata"].setdefault("labels", {}).update(seen="yes"))
        later = (await asyncio.wait_for(watch.stdout.readline(), 30)).decode().split()
    finally:
        watch.kill()
        await watch.wait()
    assert later[0] == name and len(later) == 5, later  # NAME READY STATUS RESTARTS AGE
