"""kubernetes-asyncio, unchanged, against the sandbox: list, watch, patch, eviction, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from k8sops_sandbox.server import Sandbox


@pytest.fixture
async def api(healthy: Sandbox) -> AsyncIterator[client.ApiClient]:
    configuration = client.Configuration()
    await config.load_kube_config(str(healthy.kubeconfig_path), client_configuration=configuration)
    async with client.ApiClient(configuration) as api_client:
        yield api_client


async def test_list_with_label_and_field_selectors(healthy: Sandbox, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    nodes = await core.list_node()
    assert len(nodes.items) == 5
    assert {n.status.node_info.kubelet_version for n in nodes.items} == {"v1.29.6"}
    web = await core.list_namespaced_pod("shop", label_selector="app=web")
    assert len(web.items) == 4 and all(p.status.phase == "Running" for p in web.items)
    node = web.items[0].spec.node_name
    on_node = await core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}")
    assert on_node.items and all(p.spec.node_name == node for p in on_node.items)
    mixed = await core.list_pod_for_all_namespaces(label_selector="app in (web,api),app!=api")
    assert {p.metadata.labels["app"] for p in mixed.items} == {"web"}
    assert int(mixed.metadata.resource_version) > 0
    page = await core.list_pod_for_all_namespaces(limit=5)
    assert len(page.items) == 5 and page.metadata._continue
    rest = await core.list_pod_for_all_namespaces(limit=100, _continue=page.metadata._continue)
    assert len(rest.items) == 23 - 5
    deployments = await client.AppsV1Api(api).list_namespaced_deployment("shop")
    assert {d.metadata.name for d in deployments.items} == {"web", "api", "checkout"}
    pdbs = await client.PolicyV1Api(api).list_pod_disruption_budget_for_all_namespaces()
    assert {p.metadata.name for p in pdbs.items} == {"web-pdb", "api-pdb", "coredns-pdb"}


async def test_patch_node_and_watch_the_change(healthy: Sandbox, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    listed = await core.list_node()
    events: list[tuple[str, str, bool]] = []

    async def follow() -> None:
        stream = watch.Watch()
        async for event in stream.stream(
            core.list_node, resource_version=listed.metadata.resource_version, timeout_seconds=5
        ):
            node = event["object"]
            events.append((event["type"], node.metadata.name, bool(node.spec.unschedulable)))
            if node.spec.unschedulable:
                stream.stop()

    watcher = asyncio.create_task(follow())
    await asyncio.sleep(0.2)
    patched = await core.patch_node("acme-prod-apps-001", {"spec": {"unschedulable": True}})
    assert patched.spec.unschedulable is True
    labelled = await core.patch_node("acme-prod-apps-001", {"metadata": {"labels": {"upgrade": "next"}}})
    assert labelled.metadata.labels["upgrade"] == "next"
    await asyncio.wait_for(watcher, 10)
    assert ("MODIFIED", "acme-prod-apps-001", True) in events
    cleared = await core.patch_node("acme-prod-apps-001", {"spec": {"unschedulable": None}})
    assert not cleared.spec.unschedulable


async def test_watch_without_resource_version_starts_with_current_objects(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    seen: list[str] = []
    stream = watch.Watch()
    async for event in stream.stream(core.list_namespaced_pod, "shop", label_selector="app=api", timeout_seconds=1):
        assert event["type"] == "ADDED"
        seen.append(event["object"].metadata.name)
        if len(seen) == 3:
            stream.stop()
    assert len(seen) == 3


async def test_eviction_respects_the_budget(healthy: Sandbox, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    pods = (await core.list_namespaced_pod("shop", label_selector="app=api")).items
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pods[0].metadata.name, namespace="shop"))
    await core.create_namespaced_pod_eviction(pods[0].metadata.name, "shop", body)
    # api-pdb needs 2 of 3: the first eviction took the one allowed disruption.
    second = pods[1].metadata.name
    with pytest.raises(ApiException) as refused:
        await core.create_namespaced_pod_eviction(
            second, "shop", client.V1Eviction(metadata=client.V1ObjectMeta(name=second, namespace="shop"))
        )
    assert refused.value.status == 429
    status = json.loads(refused.value.body or b"{}")
    assert status["kind"] == "Status" and status["reason"] == "TooManyRequests"
    assert status["details"]["causes"][0]["reason"] == "DisruptionBudget"
    # Once the Deployment has replaced the evicted pod, the budget allows one again.
    for _ in range(50):
        ready = [
            p
            for p in (await core.list_namespaced_pod("shop", label_selector="app=api")).items
            if p.status.phase == "Running"
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)
        ]
        if len(ready) == 3:
            break
        await asyncio.sleep(0.1)
    await core.create_namespaced_pod_eviction(
        second, "shop", client.V1Eviction(metadata=client.V1ObjectMeta(name=second, namespace="shop"))
    )


async def test_errors_are_kubernetes_status_objects(healthy: Sandbox, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as missing:
        await core.read_namespaced_pod("nope", "shop")
    assert missing.value.status == 404
    body = json.loads(missing.value.body or b"{}")
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "nope", "group": "", "kind": "pods"},
    }
    async with httpx.AsyncClient(base_url=healthy.kube_url) as http:
        conflict = await http.post("/api/v1/namespaces", json={"metadata": {"name": "shop"}})
        assert conflict.status_code == 409 and conflict.json()["reason"] == "AlreadyExists"
        bad = await http.get("/api/v1/pods", params={"labelSelector": "a in (b"})
        assert bad.status_code == 400 and bad.json()["kind"] == "Status"


async def test_create_and_delete_pod_is_scheduled(healthy: Sandbox, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="debug", labels={"app": "debug"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="sh", image="busybox:1.36")]),
    )
    created = await core.create_namespaced_pod("default", pod)
    assert created.status.phase == "Pending"
    for _ in range(50):
        current = await core.read_namespaced_pod("debug", "default")
        if current.status.phase == "Running":
            break
        await asyncio.sleep(0.1)
    assert current.status.phase == "Running" and current.spec.node_name
    await core.delete_namespaced_pod("debug", "default")
    with pytest.raises(ApiException):
        await core.read_namespaced_pod("debug", "default")
