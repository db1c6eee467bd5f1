"""A pod DELETE's `gracePeriodSeconds` (query or DeleteOptions body), as kubernetes-asyncio and
`kubectl delete --grace-period` send it, with graceful termination on (`pod_termination_seconds`,
here how long the sandbox's containers take to stop): the API server's rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from k8sops_sandbox.server import Sandbox

from .conftest import kubectl
from .test_sandbox_controller import eventually

SHOP = "/api/v1/namespaces/shop/pods"


@pytest.fixture
async def core(healthy: Sandbox) -> AsyncIterator[client.CoreV1Api]:
    configuration = client.Configuration()
    await config.load_kube_config(str(healthy.kubeconfig_path), client_configuration=configuration)
    async with client.ApiClient(configuration) as api_client:
        yield client.CoreV1Api(api_client)


async def containers_stop_after(sandbox: Sandbox, seconds: float) -> None:
    async with httpx.AsyncClient() as admin:
        timing = await admin.patch(f"{sandbox.platform_url}/admin/timing", json={"pod_termination_seconds": seconds})
        assert timing.status_code == 200, timing.text


def pods_of(sandbox: Sandbox, app: str) -> list[str]:
    pods = sandbox.cluster().store.items("pods", "shop")
    return sorted(p["metadata"]["name"] for p in pods if p["metadata"]["labels"].get("app") == app)


async def test_the_grace_period_comes_from_the_delete_else_the_pod_and_may_only_shorten(
    healthy: Sandbox, core: client.CoreV1Api
) -> None:
    await containers_stop_after(healthy, 20)
    store = healthy.cluster().store
    web, api = pods_of(healthy, "web"), pods_of(healthy, "api")

    before = datetime.now(UTC)
    going = (await core.delete_namespaced_pod(web[0], "shop", grace_period_seconds=5)).metadata
    after = datetime.now(UTC)
    assert going.deletion_grace_period_seconds == 5
    # The timestamp has whole seconds: now + 5 s, cut to the second.
    assert before + timedelta(seconds=4) <= going.deletion_timestamp <= after + timedelta(seconds=5)
    assert (await core.read_namespaced_pod(web[0], "shop")).metadata.deletion_timestamp == going.deletion_timestamp

    # A second DELETE may shorten the period (the deadline moves back with it), never lengthen it.
    body = client.V1DeleteOptions(grace_period_seconds=2)
    shorter = (await core.delete_namespaced_pod(web[0], "shop", body=body)).metadata
    assert shorter.deletion_grace_period_seconds == 2
    assert shorter.deletion_timestamp == going.deletion_timestamp - timedelta(seconds=3)
    same = (await core.delete_namespaced_pod(web[0], "shop", grace_period_seconds=10)).metadata
    assert same.resource_version == shorter.resource_version and same.deletion_grace_period_seconds == 2
    # Its containers would take 20 s; the kubelet kills them at the deadline and the pod goes.
    await eventually(lambda: store.find("pods", "shop", web[0]) is None, within=30)

    # No value: the pod's own spec.terminationGracePeriodSeconds (30 in the scenario), not the 20 s.
    own = (await core.delete_namespaced_pod(api[0], "shop")).metadata
    assert own.deletion_grace_period_seconds == 30

    # 0 removes the pod at once, and so does any DELETE of a pod that was never scheduled.
    await core.delete_namespaced_pod(web[1], "shop", body=client.V1DeleteOptions(grace_period_seconds=0))
    huge = client.V1ResourceRequirements(requests={"cpu": "64"})  # more than any node has: Pending, on no node
    container = client.V1Container(name="c", image="busybox", resources=huge)
    pending = client.V1Pod(metadata=client.V1ObjectMeta(name="unplaced"), spec=client.V1PodSpec(containers=[container]))
    await core.create_namespaced_pod("shop", pending)
    await core.delete_namespaced_pod("unplaced", "shop")
    for gone in (web[1], "unplaced"):
        with pytest.raises(ApiException) as missing:
            await core.read_namespaced_pod(gone, "shop")
        assert missing.value.status == 404

    # An eviction's deleteOptions count as a DELETE's (checkout has no PodDisruptionBudget).
    checkout = pods_of(healthy, "checkout")[0]
    options = client.V1DeleteOptions(grace_period_seconds=4)
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=checkout), delete_options=options)
    await core.create_namespaced_pod_eviction(checkout, "shop", eviction)
    assert (await core.read_namespaced_pod(checkout, "shop")).metadata.deletion_grace_period_seconds == 4

    async with httpx.AsyncClient(base_url=healthy.kube_url) as http:
        for bad in (http.delete(f"{SHOP}/{api[1]}", params={"gracePeriodSeconds": "soon"}),
                    http.request("DELETE", f"{SHOP}/{api[1]}", json={"gracePeriodSeconds": "5s"})):  # fmt: skip
            refused = await bad
            assert refused.status_code == 400, refused.text
            assert refused.json()["reason"] == "BadRequest" and "gracePeriodSeconds" in refused.json()["message"]
        assert not (await http.get(f"{SHOP}/{api[1]}")).json()["metadata"].get("deletionTimestamp")
        # DeleteOptions as protobuf (client-go's typed clients): {gracePeriodSeconds: 7} in a v1 envelope.
        protobuf = b"k8s\x00\x0a\x13\x0a\x02v1\x12\x0dDeleteOptions\x12\x02\x08\x07"
        headers = {"content-type": "application/vnd.kubernetes.protobuf"}
        deleted = await http.request("DELETE", f"{SHOP}/{api[2]}", content=protobuf, headers=headers)
        assert deleted.status_code == 200 and deleted.json()["metadata"]["deletionGracePeriodSeconds"] == 7


async def test_kubectl_delete_grace_period_and_force(healthy: Sandbox, tmp_path: Path) -> None:
    store = healthy.cluster().store
    web = pods_of(healthy, "web")
    # Off (the default): a pod goes at once whatever the grace period, as the sandbox always did.
    deleted = await kubectl(
        healthy, tmp_path, "delete", "pod", web[0], "-n", "shop", "--grace-period=30", "--wait=false"
    )
    assert deleted.code == 0, deleted.stderr
    assert store.find("pods", "shop", web[0]) is None

    await containers_stop_after(healthy, 120)
    # kubectl waits until the pod is gone: after the 1 s asked for, not the containers' 120 s.
    deleted = await kubectl(
        healthy, tmp_path, "delete", "pod", web[1], "-n", "shop", "--grace-period=1", "--timeout=30s"
    )
    assert deleted.code == 0, deleted.stderr
    assert store.find("pods", "shop", web[1]) is None
    # A drain's evictions carry its grace period too: it returns once the pods are gone, after 1 s.
    checkout = store.get("pods", "shop", pods_of(healthy, "checkout")[0])
    node, evicted = checkout["spec"]["nodeName"], checkout["metadata"]["name"]
    drained = await kubectl(
        healthy, tmp_path, "drain", node, "--pod-selector=app=checkout", "--grace-period=1", "--timeout=30s"
    )
    assert drained.code == 0, drained.stderr
    assert store.find("pods", "shop", evicted) is None
    forced = await kubectl(healthy, tmp_path, "delete", "pod", web[2], "-n", "shop", "--grace-period=0", "--force")
    assert forced.code == 0 and "force deleted" in forced.stdout, forced.stderr
    assert store.find("pods", "shop", web[2]) is None
