"""One customer cluster as the runner sees it: its Kubernetes API (kubernetes-asyncio) and the
provider's platform API (httpx). The same code runs against the sandbox and real clusters."""

from __future__ import annotations

import base64
import gzip
import json
import urllib.parse
import urllib.request
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx
import yaml
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio.client.exceptions import ApiException

from ..domain.checks import ClusterSnapshot, NodeSnapshot, PdbSnapshot, WorkloadSnapshot, parse_quantity
from ..domain.drift import MANAGED_KINDS, is_managed
from ..domain.paths import object_path, plural_of
from ..domain.pods import node_is_ready, owned_by_daemonset, unhealthy_reason
from ..domain.removed_apis import HelmRelease
from ..domain.versions import Version
from ..settings import RunnerSettings
from .platform_api import platform_request

Obj = dict[str, Any]
# The stable version of each kind a removed API concerns: listing there is not itself a deprecated call.
STABLE_LIST_PATHS = {
    "PodDisruptionBudget": "/apis/policy/v1/poddisruptionbudgets",
    "CronJob": "/apis/batch/v1/cronjobs",
    "HorizontalPodAutoscaler": "/apis/autoscaling/v2/horizontalpodautoscalers",
    "FlowSchema": "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
    "PriorityLevelConfiguration": "/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations",
}


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY and NO_PROXY, as curl reads them)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


class ClusterClient:
    def __init__(
        self, name: str, api_endpoint: str, settings: RunnerSettings, http: httpx.AsyncClient, token: str | None = None
    ) -> None:
        self.name = name
        self.api_endpoint = api_endpoint.rstrip("/")
        self.platform_name: str | None = None
        self.settings = settings
        self.http = http
        configuration = k8s.Configuration(host=api_endpoint.rstrip("/"))
        if token:
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
        configuration.proxy = environment_proxy(self.api_endpoint)
        self.api = k8s.ApiClient(configuration)
        # Trusting the environment, aiohttp read ~/.netrc and the proxy variables in a worker thread
        # for every request (half a request's CPU; a queue when a drain evicts 20 pods at once): the
        # proxy is looked up once above, and a .netrc entry would only clash with the bearer token.
        self.api.rest_client.pool_manager._trust_env = False

    async def close(self) -> None:
        await self.api.close()

    # --- platform API ------------------------------------------------------------------------
    async def _platform(self, method: str, path: str, body: Mapping[str, Any] | None = None, waits_s: float = 0) -> Obj:
        return await platform_request(self.http, self.settings, method, path, body, waits_s)

    async def _path(self, suffix: str = "") -> str:
        """The cluster's path on the platform API, found by its Kubernetes API endpoint (what an
        engagement records), falling back to the engagement's name for it."""
        if self.platform_name is None:
            listed = (await self._platform("GET", "/v1/clusters"))["clusters"]
            matches = [
                c["name"] for c in listed if str(c.get("kubernetes_api_url", "")).rstrip("/") == self.api_endpoint
            ]
            self.platform_name = matches[0] if matches else self.name
        return f"/v1/clusters/{self.platform_name}{suffix}"

    async def platform_path(self) -> str:
        return await self._path()

    async def platform_cluster(self) -> Obj:
        return await self._platform("GET", await self._path())

    async def node_pools(self) -> list[Obj]:
        pools: list[Obj] = (await self._platform("GET", await self._path("/node-pools")))["node_pools"]
        return pools

    async def surge_available(self) -> int:
        quota = await self._platform("GET", await self._path("/quota"))
        return int(quota["surge_nodes"]["available"])

    async def upgrade_control_plane(self, version: Version) -> Obj:
        return await self._platform("POST", await self._path("/control-plane/upgrade"), {"version": version.minor_text})

    async def upgrade_node(self, pool: str, node: str, version: str) -> Obj:
        path = await self._path(f"/node-pools/{pool}/nodes/{node}/upgrade")
        return await self._platform("POST", path, {"version": version})

    async def add_node(self, pool: str, version: str) -> Obj:
        """A surge node at `version`; the platform operation names it (`node`)."""
        return await self._platform("POST", await self._path(f"/node-pools/{pool}/nodes"), {"version": version})

    async def remove_node(self, pool: str, node: str) -> Obj:
        return await self._platform("DELETE", await self._path(f"/node-pools/{pool}/nodes/{node}"))

    async def platform_operation(self, operation_id: str, wait_s: float = 0) -> Obj:
        """The operation; with `wait_s`, once it is done or that long passed (the platform's wait)."""
        if wait_s <= 0:
            return await self._platform("GET", f"/v1/operations/{operation_id}")
        return await self._platform(
            "POST", f"/v1/operations/{operation_id}/wait?timeout_seconds={wait_s:g}", None, wait_s
        )

    async def platform_operations(self, kind: str, *, node: str | None = None, pool: str | None = None) -> list[Obj]:
        """The platform's operations of `kind` on this cluster, for one node or one pool, whoever
        asked for them (the node filter is the platform's: the cluster's list grows with each node)."""
        query = f"cluster={(await self._path()).rsplit('/', 1)[-1]}" + (f"&node={node}" if node else "")
        listed = await self._platform("GET", f"/v1/operations?{query}")
        return [
            op
            for op in listed["operations"]
            if op["type"] == kind and node in (None, op.get("node")) and pool in (None, op.get("node_pool"))
        ]

    # --- Kubernetes API, read ----------------------------------------------------------------
    async def _get(self, path: str, query: list[tuple[str, str]] | None = None) -> Obj:
        # Raw JSON instead of typed models: a 10,000-pod list deserialises in a fraction of the time.
        response = await self.api.call_api(
            path,
            "GET",
            query_params=query or [],
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
        )
        body: Obj = json.loads(await checked(response))
        return body

    async def _list(self, path: str, query: list[tuple[str, str]] | None = None) -> list[Obj]:
        items: list[Obj] = (await self._get(path, query)).get("items") or []
        return items

    async def metrics_text(self) -> str:
        response = await self.api.call_api(
            "/metrics", "GET", auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True
        )
        text: str = await response.text()
        return text

    async def annotated_objects(self, kinds: set[str]) -> list[Obj]:
        objects = []
        for kind in sorted(kinds):
            path = STABLE_LIST_PATHS.get(kind)
            if path is None:
                continue
            try:
                objects += [{**item, "kind": kind} for item in await self._list(path)]
            except ApiException as error:
                if error.status != 404:  # the stable version is not served yet on this minor
                    raise
        return objects

    async def helm_releases(self) -> list[HelmRelease]:
        secrets = await self._list("/api/v1/secrets", [("labelSelector", "owner=helm,status=deployed")])
        releases = []
        for secret in secrets:
            encoded = (secret.get("data") or {}).get("release")
            if not encoded or not secret["metadata"]["name"].startswith("sh.helm.release.v1."):
                continue
            release = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(encoded))))
            documents = tuple(doc for doc in yaml.safe_load_all(release.get("manifest", "")) if isinstance(doc, dict))
            chart = (release.get("chart") or {}).get("metadata") or {}
            releases.append(
                HelmRelease(
                    release["name"],
                    release["namespace"],
                    int(release["version"]),
                    documents,
                    str(chart.get("name", "")),
                    str(chart.get("version", "")),
                    str(chart.get("appVersion", "")),
                )
            )
        return releases

    async def node(self, name: str) -> Obj:
        return await self._get(f"/api/v1/nodes/{name}")

    async def pods_on_node(self, node: str) -> list[Obj]:
        return await self._list("/api/v1/pods", [("fieldSelector", f"spec.nodeName={node}")])

    async def snapshot(self, control_plane: Version, surge_available: int) -> ClusterSnapshot:
        pool_of = {node["name"]: pool["name"] for pool in await self.node_pools() for node in pool["nodes"]}
        pods = await self._list("/api/v1/pods")
        per_node: dict[str, list[Decimal]] = {}
        unhealthy: dict[str, str] = {}
        for pod in pods:
            reason = unhealthy_reason(pod)
            if reason:
                unhealthy[f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"] = reason
            node_name = pod["spec"].get("nodeName")
            if not node_name or pod["status"].get("phase") in ("Succeeded", "Failed"):
                continue
            cpu, memory = pod_requests(pod)
            totals = per_node.setdefault(node_name, [Decimal(0)] * 4)
            totals[0] += cpu
            totals[1] += memory
            if not owned_by_daemonset(pod):
                totals[2] += cpu
                totals[3] += memory
        nodes = []
        for node in await self._list("/api/v1/nodes"):
            name = node["metadata"]["name"]
            totals = per_node.get(name, [Decimal(0)] * 4)
            allocatable = node["status"].get("allocatable") or {}
            nodes.append(
                NodeSnapshot(
                    name,
                    pool_of.get(name, "?"),
                    node["status"]["nodeInfo"]["kubeletVersion"],
                    node_is_ready(node),
                    bool(node["spec"].get("unschedulable")),
                    parse_quantity(allocatable.get("cpu")),
                    parse_quantity(allocatable.get("memory")),
                    *totals,
                )
            )
        pdbs = [
            PdbSnapshot(
                f"{pdb['metadata']['namespace']}/{pdb['metadata']['name']}",
                int((pdb.get("status") or {}).get("disruptionsAllowed", 0)),
                int((pdb.get("status") or {}).get("expectedPods", 0)),
                ((pdb["spec"].get("selector") or {}).get("matchLabels") or {}),
            )
            for pdb in await self._list("/apis/policy/v1/poddisruptionbudgets")
        ]
        workloads = []
        for kind, path in (
            ("Deployment", "/apis/apps/v1/deployments"),
            ("StatefulSet", "/apis/apps/v1/statefulsets"),
            ("DaemonSet", "/apis/apps/v1/daemonsets"),
        ):
            for item in await self._list(path):
                status = item.get("status") or {}
                if kind == "DaemonSet":
                    desired, available = status.get("desiredNumberScheduled", 0), status.get("numberAvailable", 0)
                else:
                    desired, available = item["spec"].get("replicas", 1), status.get("availableReplicas", 0)
                labels = ((item["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
                ref = f"{item['metadata']['namespace']}/{item['metadata']['name']}"
                workloads.append(WorkloadSnapshot(kind, ref, int(desired), int(available or 0), labels))
        return ClusterSnapshot(control_plane, nodes, pdbs, workloads, unhealthy, surge_available)

    # --- Kubernetes API, write ---------------------------------------------------------------
    async def _send(self, method: str, path: str, body: Obj, content_type: str = "application/json") -> None:
        """A write whose answer is not needed: raw, so no typed model is built either way (a
        drain sends dozens of these per node)."""
        response = await self.api.call_api(
            path,
            method,
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
        )
        await checked(response)

    async def set_unschedulable(self, node: str, unschedulable: bool) -> None:
        body = {"spec": {"unschedulable": unschedulable}}
        await self._send("PATCH", f"/api/v1/nodes/{node}", body, "application/merge-patch+json")

    async def evict(self, namespace: str, name: str) -> str | None:
        """One eviction; the reason it was refused (a PDB: 429), or None if the pod is going."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        try:
            await self._send("POST", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction", body)
        except ApiException as error:
            if error.status == 404:
                return None
            if error.status in (429, 500):
                return f"{namespace}/{name}: {eviction_message(error)}"
            raise
        return None

    async def apply(self, obj: Obj, field_manager: str) -> Obj:
        """Server-side apply of one object (created if missing); `force` takes over fields another
        manager set, as a controller that owns the object does."""
        response = await self.api.call_api(
            object_path(obj),
            "PATCH",
            query_params=[("fieldManager", field_manager), ("force", "true")],
            header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
            body=obj,  # JSON is YAML: the client sends it as JSON under the apply media type
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
        )
        applied: Obj = json.loads(await checked(response))
        return applied

    async def find(self, path: str) -> Obj | None:
        try:
            return await self._get(path)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    async def workloads(self) -> list[Obj]:
        """Every Deployment, DaemonSet and StatefulSet, with its kind."""
        found = []
        for kind in ("Deployment", "DaemonSet", "StatefulSet"):
            found += [{**item, "kind": kind} for item in await self._list(f"/apis/apps/v1/{plural_of(kind)}")]
        return found

    async def managed_objects(self) -> list[Obj]:
        """Every object whose drift is tracked, with its kind (list items carry none)."""
        found = []
        for kind, path in MANAGED_KINDS.items():
            found += [{**item, "kind": kind} for item in await self._list(path)]
        return [obj for obj in found if is_managed(obj)]

    async def delete(self, path: str) -> None:
        await self.api.call_api(path, "DELETE", auth_settings=["BearerToken"], _return_http_data_only=True)

    async def delete_if_present(self, path: str) -> None:
        """Idempotent delete, for steps a resumed runner may repeat."""
        try:
            await self.delete(path)
        except ApiException as error:
            if error.status != 404:
                raise

    async def scale(self, kind: str, namespace: str, name: str, replicas: int) -> None:
        resource = "deployments" if kind == "Deployment" else "statefulsets"
        path = f"/apis/apps/v1/namespaces/{namespace}/{resource}/{name}/scale"
        await self._send("PATCH", path, {"spec": {"replicas": replicas}}, "application/merge-patch+json")

    async def restart(self, kind: str, namespace: str, name: str, at: str) -> None:
        """What `kubectl rollout restart` does: a new template annotation, so pods roll."""
        resource = "deployments" if kind == "Deployment" else "statefulsets"
        body = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": at}}}}}
        path = f"/apis/apps/v1/namespaces/{namespace}/{resource}/{name}"
        await self._send("PATCH", path, body, "application/merge-patch+json")


async def checked(response: Any) -> bytes:
    """The body of a raw (not preloaded) response; kubernetes-asyncio raises for an error status
    only when it preloads, so an error status is raised here as the client would."""
    body: bytes = await response.read()
    if response.status >= 400:
        error = ApiException(status=response.status, reason=response.reason)
        error.body = body
        raise error
    return body


def pod_requests(pod: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    cpu = memory = Decimal(0)
    for container in pod["spec"].get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu += parse_quantity(requests.get("cpu"))
        memory += parse_quantity(requests.get("memory"))
    return cpu, memory


def eviction_message(error: ApiException) -> str:
    try:
        status = json.loads(error.body or b"")
    except (TypeError, ValueError):
        return str(error.reason)
    causes = (status.get("details") or {}).get("causes") or []
    return str(causes[0].get("message") if causes else status.get("message", error.reason))
