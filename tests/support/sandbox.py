"""Waiting on the sandbox cluster's own state (its store, read in-process)."""

from __future__ import annotations

import asyncio

from k8sops_sandbox.server import Sandbox


async def wait_for_running_pods(sandbox: Sandbox, cluster: str, timeout_s: float = 30.0) -> None:
    """Waits until the cluster has pods and every one of them is Running (usage series exist for
    running containers only). Fails naming the pods that are not Running, or saying there are none."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        # `items` is a generator: a list, so that "no pods" is falsy instead of passing
        pods = list(sandbox.cluster(cluster).store.items("pods"))
        waiting = [
            f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']} ({pod['status'].get('phase')})"
            for pod in pods
            if pod["status"].get("phase") != "Running"
        ]
        if pods and not waiting:
            return
        if asyncio.get_running_loop().time() > deadline:
            more = f" and {len(waiting) - 10} more" if len(waiting) > 10 else ""
            detail = f"not Running: {', '.join(waiting[:10])}{more}" if pods else "the cluster has no pods"
            raise AssertionError(f"sandbox cluster {cluster!r}: pods not all Running within {timeout_s} s; {detail}")
        await asyncio.sleep(0.1)
