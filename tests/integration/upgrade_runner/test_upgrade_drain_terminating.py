"""A drain evicts each pod once and then waits for it to be gone, as `kubectl drain` does: an
evicted pod stays listed while it shuts down, and evicting it again would succeed at once, so
re-evicting without a pause hammered the API server for the whole grace period of every node."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from k8sops_sandbox.server import run_sandbox
from k8sops_upgrade_runner.domain.pods import owned_by_daemonset
from k8sops_upgrade_runner.runner.cluster import ClusterClient
from k8sops_upgrade_runner.runner.credentials import open_cluster
from k8sops_upgrade_runner.runner.nodes import NodeRoller

from .conftest import fast_runner, speed_up

EVICTIONS = re.compile(r'apiserver_request_total\{[^}]*resource="pods",subresource="eviction",verb="POST"\} (\d+)')


def now() -> datetime:
    return datetime.now(UTC)


async def evictions(http: httpx.AsyncClient, kube: str) -> int:
    found = EVICTIONS.search((await http.get(f"{kube}/metrics")).text)
    return int(found.group(1)) if found else 0


async def drained_pods(client: ClusterClient, node: str) -> list[str]:
    return sorted(
        f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        for pod in await client.pods_on_node(node)
        if not owned_by_daemonset(pod)
    )


async def no_save(row: Any, values: dict[str, Any]) -> Any:
    raise AssertionError("a drain saves nothing")


async def test_a_drain_evicts_each_pod_once_and_waits_for_terminating_pods(tmp_path: Path) -> None:
    async with run_sandbox("healthy-small", kubeconfig_path=tmp_path / "kubeconfig") as sandbox:
        speed_up(sandbox)
        kube, platform = sandbox.kube_urls["acme-prod"], sandbox.platform_url
        cluster = {"name": "acme-prod", "api_endpoint": kube, "credentials_ref": "vault://k8s/acme-prod/admin"}
        async with httpx.AsyncClient() as http:
            # Without budgets no eviction is refused: every eviction call beyond one per pod is a re-eviction.
            budgets = (await http.get(f"{kube}/apis/policy/v1/poddisruptionbudgets")).json()["items"]
            for budget in budgets:
                meta = budget["metadata"]
                path = f"{kube}/apis/policy/v1/namespaces/{meta['namespace']}/poddisruptionbudgets/{meta['name']}"
                assert (await http.delete(path)).status_code == 200
            timing = await http.patch(f"{platform}/admin/timing", json={"pod_termination_seconds": 0.5})
            assert timing.status_code == 200, timing.text
            client = open_cluster(cluster, fast_runner(sandbox), http)
            try:
                roller = NodeRoller(client, no_save, now, client.settings)
                names = sorted(n["metadata"]["name"] for n in (await http.get(f"{kube}/api/v1/nodes")).json()["items"])
                first, second = names[-1], names[-2]
                await client.set_unschedulable(first, True)
                await client.set_unschedulable(second, True)

                pods = await drained_pods(client, first)
                assert pods, f"{first} runs no pod a drain moves"
                assert await roller.drain(first, now() + timedelta(seconds=30)) == []
                assert await drained_pods(client, first) == []
                # The old runner re-evicted the terminating pods flat out: 1,635 calls for these 3 pods in 0.5 s.
                assert await evictions(http, kube) == len(pods)

                # Pods that outlast the drain's deadline block it, named as still terminating.
                timing = await http.patch(f"{platform}/admin/timing", json={"pod_termination_seconds": 30})
                assert timing.status_code == 200, timing.text
                pods = await drained_pods(client, second)
                assert pods, f"{second} runs no pod a drain moves"
                blocked = await roller.drain(second, now() + timedelta(seconds=0.3))
                assert sorted(blocked) == [f"{pod}: still terminating" for pod in pods]
            finally:
                await client.close()
