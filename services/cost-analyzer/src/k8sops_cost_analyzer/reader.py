"""Reading a cluster the way a real one is read: its Kubernetes API through kubernetes-asyncio and
its usage through the Prometheus HTTP API (`query_range`, as KRR does), or metrics.k8s.io when no
Prometheus is configured. No database work happens here: analyses read first, then write."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.kube_config import list_kube_config_contexts

from .domain.inventory import Inventory, build_inventory
from .domain.quantity import parse_quantity
from .domain.usage import Samples

SeriesKey = tuple[str, str, str]  # namespace, pod, container
CPU_QUERY = "rate(container_cpu_usage_seconds_total{{{selector}}}[5m])"
MEMORY_QUERY = "container_memory_working_set_bytes{{{selector}}}"


class ClusterUnreachable(Exception):
    """The cluster's API or its Prometheus did not answer as expected."""


@dataclass(frozen=True)
class ClusterTarget:
    kubeconfig: str
    context: str | None
    prometheus_url: str | None
    prometheus_cluster: str | None  # (label, value) selecting this cluster in a shared Prometheus
    prometheus_label: str


@dataclass
class UsageSeries:
    source: str  # "prometheus" or "metrics-server"
    cpu: dict[SeriesKey, Samples]
    memory: dict[SeriesKey, Samples]


def resolve_context(kubeconfig: str, wanted: list[str]) -> str | None:
    """The first of `wanted` that the kubeconfig has as a context, else its current context."""
    contexts, current = list_kube_config_contexts(config_file=kubeconfig)
    names = {context["name"] for context in contexts}
    return next((name for name in wanted if name in names), current["name"] if current else None)


async def _api_client(target: ClusterTarget) -> client.ApiClient:
    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=target.kubeconfig, context=target.context, client_configuration=configuration
    )
    return client.ApiClient(configuration)


async def _get(api: client.ApiClient, path: str) -> Any:
    """One GET as plain JSON: 10,000 pods as generated models would cost seconds of parsing."""
    response = await api.call_api(
        path, "GET", header_params={"Accept": "application/json"}, _preload_content=False, auth_settings=["BearerToken"]
    )
    raw = response[0] if isinstance(response, tuple) else response
    body = await raw.read()
    # Unparsed responses are not checked by the client: a Status answer must not pass for a list.
    if raw.status != 200:
        raise ClusterUnreachable(f"GET {path} answered {raw.status}: {body[:300].decode(errors='replace')}")
    return json.loads(body)


async def read_inventory(target: ClusterTarget) -> Inventory:
    try:
        api = await _api_client(target)
        async with api:
            paths = [
                "/version",
                "/api/v1/nodes",
                "/api/v1/namespaces",
                "/apis/apps/v1/deployments",
                "/apis/apps/v1/statefulsets",
                "/apis/apps/v1/daemonsets",
                "/apis/apps/v1/replicasets",
                "/api/v1/pods",
                "/apis/autoscaling/v2/horizontalpodautoscalers",
                "/apis/networking.k8s.io/v1/networkpolicies",
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            ]
            results = await asyncio.gather(*(_get(api, path) for path in paths))
            ready = await _control_plane_ready(api)
    except (client.ApiException, OSError, ValueError, config.ConfigException) as error:
        raise ClusterUnreachable(f"Kubernetes API of context {target.context or '(current)'}: {error}") from error
    version, nodes, namespaces, deployments, statefulsets, daemonsets, replica_sets, pods, hpas, policies, bindings = (
        results
    )
    workloads = []
    for kind, listing in (("Deployment", deployments), ("StatefulSet", statefulsets), ("DaemonSet", daemonsets)):
        workloads += [{**item, "kind": kind} for item in listing["items"]]
    inventory = build_inventory(
        version.get("gitVersion", ""),
        nodes["items"],
        namespaces["items"],
        workloads,
        replica_sets["items"],
        pods["items"],
        hpas["items"],
        policies["items"],
        bindings["items"],
    )
    inventory.control_plane_ready = ready
    return inventory


async def _control_plane_ready(api: client.ApiClient) -> bool:
    try:
        response = await api.call_api("/readyz", "GET", _preload_content=False, auth_settings=["BearerToken"])
    except client.ApiException:
        return False
    raw = response[0] if isinstance(response, tuple) else response
    await raw.read()
    return bool(raw.status == 200)


async def read_usage(
    target: ClusterTarget,
    namespace_groups: list[list[str]],
    end: datetime,
    history: timedelta,
    step: timedelta,
    concurrency: int,
) -> UsageSeries:
    """Two range queries (CPU rate, memory working set) per group of namespaces."""
    if target.prometheus_url is None:
        return await _read_metrics_server(target, end)
    usage = UsageSeries("prometheus", {}, {})
    limit = asyncio.Semaphore(concurrency)
    base = [f'{target.prometheus_label}="{target.prometheus_cluster}"'] if target.prometheus_cluster else []
    async with httpx.AsyncClient(base_url=target.prometheus_url.rstrip("/"), timeout=120) as http:

        async def one(namespaces: list[str], query: str, into: dict[SeriesKey, Samples]) -> None:
            # Namespace names are DNS labels: nothing in them needs escaping in a regular expression.
            selector = ",".join([*base, f'namespace=~"{"|".join(namespaces)}"', 'container!=""'])
            params = {
                "query": query.format(selector=selector),
                # Both ends count: start one step in, so 14 days at 2 h are 168 samples, whole days only.
                "start": f"{(end - history + step).timestamp():.3f}",
                "end": f"{end.timestamp():.3f}",
                "step": f"{step.total_seconds():.0f}",
            }
            async with limit:
                response = await http.get("/api/v1/query_range", params=params)
            body = response.json()
            if response.status_code != 200 or body.get("status") != "success":
                raise ClusterUnreachable(
                    f"Prometheus {target.prometheus_url}: {body.get('error', response.text)[:300]}"
                )
            # Each answer is turned into compact arrays at once, so the JSON of one group is alive at a time.
            for series in body["data"]["result"]:
                labels = series["metric"]
                key = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
                into[key] = Samples.of((float(t), float(v)) for t, v in series["values"])
            del body

        try:
            await asyncio.gather(
                *(one(group, CPU_QUERY, usage.cpu) for group in namespace_groups),
                *(one(group, MEMORY_QUERY, usage.memory) for group in namespace_groups),
            )
        except (httpx.HTTPError, ValueError) as error:
            raise ClusterUnreachable(f"Prometheus {target.prometheus_url}: {error}") from error
    return usage


async def _read_metrics_server(target: ClusterTarget, end: datetime) -> UsageSeries:
    """metrics.k8s.io knows only the present: one sample per container, so right-sizing waits."""
    usage = UsageSeries("metrics-server", {}, {})
    try:
        api = await _api_client(target)
        async with api:
            listing = await _get(api, "/apis/metrics.k8s.io/v1beta1/pods")
    except (client.ApiException, OSError, ValueError) as error:
        raise ClusterUnreachable(f"metrics.k8s.io of context {target.context or '(current)'}: {error}") from error
    moment = end.timestamp()
    for item in listing["items"]:
        meta = item["metadata"]
        for container in item.get("containers") or []:
            key = (meta["namespace"], meta["name"], container["name"])
            cpu = parse_quantity(container["usage"].get("cpu")) or 0.0
            memory = parse_quantity(container["usage"].get("memory")) or 0.0
            usage.cpu[key] = Samples.of([(moment, cpu)])
            usage.memory[key] = Samples.of([(moment, memory)])
    return usage
